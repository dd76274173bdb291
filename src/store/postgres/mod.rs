//! The PostgreSQL store, shared by several `serve` peers: migrations in
//! `migrations/postgres` (the SQLite tables, column for column), the same
//! compare-and-swap writes and trigger-recorded tries and alerts, claims of
//! a DAG's runs serialised by a row lock on the DAG, and `LISTEN`/`NOTIFY`
//! between peers on a channel per schema. Nothing PostgreSQL-specific
//! leaves this module; `listen` spawns the one background task.

mod events;
mod reads;
mod rows;
mod writes;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

use super::{Access, Location, Reader, StoreError, Writer};

/// How long a statement waits for a connection before it fails: long
/// enough to ride out a managed PostgreSQL's failover (RDS Multi-AZ: 30 to
/// 60 s), while the pool reconnects to the new primary.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(60);

/// A handle on one PostgreSQL database (one schema of it); cheap to clone.
#[derive(Clone)]
pub(super) struct PgStore {
    pool: PgPool,
    /// How to connect again (the listener's own connection).
    options: PgConnectOptions,
    /// The `NOTIFY` channel of this schema's peers.
    channel: String,
    /// The database as messages show it (no password).
    location: String,
}

impl std::fmt::Debug for PgStore {
    // the connect options hold the password: never print them
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("location", &self.location)
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

/// Opens the database at `url` (a schema of it, by its `search_path`):
/// read-write ones are checked to be airless's (or empty) and migrated;
/// read-only ones are never written (every transaction is read-only) and
/// must hold airless's tables already.
pub(super) async fn open(
    url: &str,
    access: Access,
    pool_size: u32,
) -> Result<(Reader, Writer), StoreError> {
    let store = Arc::new(PgStore::open(url, access, pool_size).await?);
    Ok((store.clone(), store))
}

/// Applies the migrations the database at `url` lacks; returns the versions
/// applied now.
pub(super) async fn migrate(url: &str) -> Result<Vec<i64>, StoreError> {
    let (options, location) = connect_options(url, Access::ReadWrite)?;
    let mut conn = connect(&options, Access::ReadWrite, &location).await?;
    let applied = prepare(&mut conn, Access::ReadWrite, &location).await;
    let _ = conn.close().await;
    applied
}

impl PgStore {
    async fn open(url: &str, access: Access, pool_size: u32) -> Result<PgStore, StoreError> {
        let (options, location) = connect_options(url, access)?;
        // one connection first: its error (refused, authentication, no
        // such database) is the one to show, where a pool would only time out
        let mut conn = connect(&options, access, &location).await?;
        prepare(&mut conn, access, &location).await?;
        let schema: Option<String> = sqlx::query_scalar("SELECT current_schema()::text")
            .fetch_one(&mut conn)
            .await
            .map_err(|err| open_error(&location, &err))?;
        let _ = conn.close().await;
        // a connection broken by a PostgreSQL restart is found by the test
        // and replaced on the next acquire
        let pool = PgPoolOptions::new()
            .max_connections(pool_size.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(true)
            .connect_lazy_with(options.clone());
        Ok(PgStore {
            pool,
            options,
            channel: events::channel(schema.as_deref().unwrap_or("public")),
            location,
        })
    }
}

fn open_error(location: &str, err: &sqlx::Error) -> StoreError {
    StoreError::Open {
        path: location.to_string(),
        message: err.to_string(),
    }
}

/// How to connect to `url`, and the database as messages show it.
fn connect_options(url: &str, access: Access) -> Result<(PgConnectOptions, String), StoreError> {
    let location = Location::parse(url).to_string();
    let mut options = PgConnectOptions::from_str(url).map_err(|err| open_error(&location, &err))?;
    if access == Access::ReadOnly {
        // read-only commands cannot write even by mistake
        options = options.options([("default_transaction_read_only", "on")]);
    }
    Ok((options, location))
}

async fn connect(
    options: &PgConnectOptions,
    access: Access,
    location: &str,
) -> Result<PgConnection, StoreError> {
    let connecting = tokio::time::timeout(ACQUIRE_TIMEOUT, options.connect()).await;
    match connecting {
        Ok(Ok(conn)) => Ok(conn),
        // invalid_catalog_name: the database itself does not exist
        Ok(Err(sqlx::Error::Database(db)))
            if access == Access::ReadOnly && db.code().as_deref() == Some("3D000") =>
        {
            Err(StoreError::Missing(location.to_string()))
        }
        Ok(Err(err)) => Err(open_error(location, &err)),
        Err(_) => Err(StoreError::Open {
            path: location.to_string(),
            message: format!("no answer within {} s", ACQUIRE_TIMEOUT.as_secs()),
        }),
    }
}

/// Checks the schema and (read-write) migrates it; returns the migrations
/// applied now.
async fn prepare(
    conn: &mut PgConnection,
    access: Access,
    location: &str,
) -> Result<Vec<i64>, StoreError> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = current_schema() ORDER BY table_name",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|err| open_error(location, &err))?;
    let ours =
        tables.iter().any(|t| t == "_sqlx_migrations") && tables.iter().any(|t| t == "dag_runs");
    match access {
        Access::ReadOnly if ours => Ok(Vec::new()),
        Access::ReadOnly => Err(StoreError::Missing(location.to_string())),
        Access::ReadWrite => {
            if !tables.is_empty() && !ours {
                let mut listed: Vec<String> = tables.into_iter().take(5).collect();
                if listed.len() == 5 {
                    listed.push("…".into());
                }
                return Err(StoreError::Foreign {
                    path: location.to_string(),
                    tables: listed.join(", "),
                });
            }
            let before = if ours {
                applied_versions(conn).await?
            } else {
                Vec::new()
            };
            // sqlx takes an advisory lock: peers starting together migrate once
            sqlx::migrate!("./migrations/postgres")
                .run(&mut *conn)
                .await
                .map_err(|err| StoreError::Migrate {
                    path: location.to_string(),
                    message: err.to_string(),
                })?;
            let after = applied_versions(conn).await?;
            Ok(after.into_iter().filter(|v| !before.contains(v)).collect())
        }
    }
}

async fn applied_versions(conn: &mut PgConnection) -> Result<Vec<i64>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(conn)
            .await?,
    )
}
