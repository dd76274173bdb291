//! PostgreSQL for the tests that need it: the database `.ci/run` made for
//! this run (`AIRLESS_TEST_POSTGRES`), or the machine's `postgres` database
//! when one answers on 127.0.0.1:5432; each test gets its own schema,
//! dropped when it ends. Without PostgreSQL those tests print why and skip.

use sqlx::Connection;

/// One test's schema in the test database, and the URL that selects it.
pub struct Schema {
    admin: String,
    name: String,
    /// The URL to give airless: the test database with this schema first
    /// on the search path.
    pub url: String,
}

/// A fresh schema, or `None` (having printed why) when PostgreSQL is not
/// reachable and `AIRLESS_TEST_POSTGRES` is not set. When it is set, an
/// unreachable database fails the test: CI must not skip silently.
pub async fn schema(test: &str) -> Option<Schema> {
    let (admin, required) = match std::env::var("AIRLESS_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => (url, true),
        _ => (
            "postgres://postgres@127.0.0.1:5432/postgres".to_string(),
            false,
        ),
    };
    let mut connection = match sqlx::PgConnection::connect(&admin).await {
        Ok(connection) => connection,
        Err(err) if !required => {
            eprintln!(
                "skipped {test}: PostgreSQL is not reachable on 127.0.0.1:5432 ({err}); .ci/run starts it"
            );
            return None;
        }
        Err(err) => panic!("AIRLESS_TEST_POSTGRES is set but does not answer: {err}"),
    };
    let name = format!("t_{}_{}", std::process::id(), rand_suffix());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
        .execute(&mut connection)
        .await
        .unwrap();
    let _ = connection.close().await;
    let separator = if admin.contains('?') { '&' } else { '?' };
    let url = format!("{admin}{separator}options=-c%20search_path%3D{name}");
    Some(Schema { admin, name, url })
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    hasher.finish() % 1_000_000_000
}

impl Drop for Schema {
    fn drop(&mut self) {
        // best effort, synchronously: the test's runtime may be gone
        let _ = std::process::Command::new("psql")
            .arg(&self.admin)
            .args(["-q", "-c"])
            .arg(format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}
