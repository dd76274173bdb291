//! Where the state lives: a SQLite file (the default, embedded) or a
//! PostgreSQL database (`postgres://…`, shared by several `serve` peers).
//! Parsed once from the `database` setting; shown in messages with any
//! password replaced by `***`.

use std::fmt;
use std::path::{Path, PathBuf};

/// Connections to a PostgreSQL database per process, unless configured.
pub const DEFAULT_POOL_SIZE: u32 = 10;

/// A state database's address.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file (`./airless.db`, `sqlite://path` or `sqlite:path`).
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (`postgres://` or `postgresql://`),
    /// with its `sslmode` and other parameters, and how many connections
    /// this process keeps to it at most.
    Postgres { url: String, pool_size: u32 },
}

impl Location {
    /// Reads a `database` setting: a PostgreSQL URL, a `sqlite:` URL, or a
    /// file path.
    pub fn parse(text: &str) -> Location {
        let text = text.trim();
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Location::Postgres {
                url: text.to_string(),
                pool_size: DEFAULT_POOL_SIZE,
            };
        }
        let path = text
            .strip_prefix("sqlite://")
            .or_else(|| text.strip_prefix("sqlite:"))
            .unwrap_or(text);
        Location::Sqlite(PathBuf::from(path))
    }

    /// Whether several schedulers may share this database.
    pub fn is_shared(&self) -> bool {
        matches!(self, Location::Postgres { .. })
    }

    /// The same place with at most `size` connections (PostgreSQL only).
    pub fn with_pool_size(self, size: u32) -> Location {
        match self {
            Location::Postgres { url, .. } => Location::Postgres {
                url,
                pool_size: size.max(1),
            },
            sqlite => sqlite,
        }
    }

    /// The SQLite file, if this is one.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Location::Sqlite(path) => Some(path),
            Location::Postgres { .. } => None,
        }
    }
}

impl From<&Path> for Location {
    fn from(path: &Path) -> Self {
        Location::Sqlite(path.to_path_buf())
    }
}

impl From<PathBuf> for Location {
    fn from(path: PathBuf) -> Self {
        Location::Sqlite(path)
    }
}

impl From<&Location> for Location {
    fn from(location: &Location) -> Self {
        location.clone()
    }
}

impl From<&PathBuf> for Location {
    fn from(path: &PathBuf) -> Self {
        Location::Sqlite(path.clone())
    }
}

/// The URL without its password (`postgres://user:***@host/db`).
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "{}", path.display()),
            Location::Postgres { url, .. } => f.write_str(&redacted(url)),
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_paths_are_told_apart() {
        assert_eq!(
            Location::parse("airless.db"),
            Location::Sqlite("airless.db".into())
        );
        assert_eq!(
            Location::parse("sqlite:///var/lib/airless/airless.db"),
            Location::Sqlite("/var/lib/airless/airless.db".into())
        );
        assert!(Location::parse("postgres://u@h/db").is_shared());
        assert!(Location::parse("postgresql://u@h/db?sslmode=require").is_shared());
    }

    #[test]
    fn a_password_never_shows() {
        let location =
            Location::parse("postgres://airless:s3cret@db.internal:5432/airless?sslmode=require");
        assert_eq!(
            location.to_string(),
            "postgres://airless:***@db.internal:5432/airless?sslmode=require"
        );
        assert!(!format!("{location:?}").contains("s3cret"));
        assert_eq!(
            Location::parse("postgres://airless@h/db").to_string(),
            "postgres://airless@h/db"
        );
    }
}
