//! `airless db copy`: a whole state database into an empty one (a single
//! box's SQLite file into PostgreSQL, or back), ids kept, in batches inside
//! one destination transaction. Store-internal: it opens its own pools on
//! each side, and [`TABLES`] declares once every column it copies and how
//! it is decoded, so values convert between SQLite's text times and
//! PostgreSQL's TIMESTAMPTZ. Depends on `model` only.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::{Connection, Postgres, QueryBuilder, Row, Sqlite, Transaction};
use tokio_stream::StreamExt;

use super::{Location, StoreError};

/// Rows per INSERT.
const BATCH: usize = 500;

/// A `serve` owner that heartbeat this recently is taken to be running.
const LIVE_HEARTBEAT: chrono::Duration = chrono::Duration::seconds(15);

/// Why a copy was refused or failed; nothing is written in either case.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("--from and --to are the same database ({0}): copy into another one")]
    Same(String),
    #[error("the source database {0} does not exist")]
    MissingSource(String),
    #[error("cannot open {database}: {message}")]
    Open { database: String, message: String },
    #[error(
        "{database} is not an up-to-date airless state database (it lacks {missing}): run `airless db migrate` on it first"
    )]
    Incomplete { database: String, missing: String },
    #[error("{database} is in use: stop airless serve first (pid {pid} on {host})")]
    SourceRunning {
        database: String,
        pid: i64,
        host: String,
    },
    #[error("{database} already holds airless state ({held}): copy into an empty database")]
    NotEmpty { database: String, held: String },
    #[error("cannot read {table}.{column} of {database}: {message}")]
    Decode {
        database: String,
        table: &'static str,
        column: &'static str,
        message: String,
    },
    #[error("cannot copy {table} into {database}: {message}")]
    Write {
        database: String,
        table: &'static str,
        message: String,
    },
    #[error("cannot commit the copy into {database}: {message}")]
    Commit { database: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a copy moved, table by table, and how long it took.
#[derive(Debug, Clone)]
pub struct Copied {
    /// Rows copied per table, in the order they were copied.
    pub tables: Vec<(&'static str, u64)>,
    pub elapsed: Duration,
}

/// How a column's values are read and written on either side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Integer,
    Bool,
    /// SQLite: RFC 3339 text; PostgreSQL: TIMESTAMPTZ (microseconds).
    Timestamp,
}

#[derive(Debug)]
struct Column {
    name: &'static str,
    kind: Kind,
    nullable: bool,
}

const fn col(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        nullable: false,
    }
}

const fn opt(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        nullable: true,
    }
}

#[derive(Debug)]
struct Table {
    name: &'static str,
    /// The primary key's columns (the read order).
    key: &'static [&'static str],
    /// Whether `id` is an identity column whose sequence (PostgreSQL)
    /// must continue after the copied ids.
    identity: bool,
    columns: &'static [Column],
}

use Kind::{Bool, Integer, Text, Timestamp};

/// Every table copied, in an order the foreign keys accept (`dags`'
/// `latest_version` points forward at `dag_versions`: deferred). Not
/// copied: `scheduler_lock` (a running process's, not history) and the
/// migrations table.
const TABLES: &[Table] = &[
    Table {
        name: "owners",
        key: &["id"],
        identity: false,
        columns: &[
            col("id", Text),
            col("kind", Text),
            col("host", Text),
            col("pid", Integer),
            col("pid_start", Integer),
            col("boot_id", Text),
            col("started_at", Timestamp),
            col("heartbeat_at", Timestamp),
            opt("stopped_at", Timestamp),
        ],
    },
    Table {
        name: "dags",
        key: &["dag_id"],
        identity: false,
        columns: &[
            col("dag_id", Text),
            col("is_paused", Bool),
            col("fileloc", Text),
            opt("last_parsed_at", Timestamp),
            opt("latest_version", Integer),
        ],
    },
    Table {
        name: "dag_versions",
        key: &["id"],
        identity: true,
        columns: &[
            col("id", Integer),
            col("dag_id", Text),
            col("version_number", Integer),
            col("hash", Text),
            col("source", Text),
            col("fileloc", Text),
            col("created_at", Timestamp),
        ],
    },
    Table {
        name: "dag_runs",
        key: &["id"],
        identity: true,
        columns: &[
            col("id", Integer),
            col("dag_id", Text),
            col("run_id", Text),
            col("run_type", Text),
            col("state", Text),
            col("logical_date", Timestamp),
            col("data_interval_start", Timestamp),
            col("data_interval_end", Timestamp),
            col("conf", Text),
            col("queued_at", Timestamp),
            opt("start_date", Timestamp),
            opt("end_date", Timestamp),
            opt("dag_version", Integer),
            opt("lease_owner", Text),
            opt("lease_expires_at", Timestamp),
        ],
    },
    Table {
        name: "task_instances",
        key: &["id"],
        identity: true,
        columns: &[
            col("id", Integer),
            col("dag_run_id", Integer),
            col("task_id", Text),
            col("state", Text),
            col("try_number", Integer),
            col("max_tries", Integer),
            opt("start_date", Timestamp),
            opt("end_date", Timestamp),
            opt("next_retry_at", Timestamp),
            opt("output", Text),
            opt("error", Text),
            opt("external_id", Text),
            opt("external_url", Text),
            opt("log_path", Text),
            opt("pgid", Integer),
            opt("pg_owner", Text),
            opt("pg_boot_id", Text),
        ],
    },
    Table {
        name: "task_tries",
        key: &["id"],
        identity: true,
        columns: &[
            col("id", Integer),
            col("task_instance_id", Integer),
            col("try_number", Integer),
            col("state", Text),
            col("start_date", Timestamp),
            opt("end_date", Timestamp),
            col("log_path", Text),
            opt("error", Text),
        ],
    },
    Table {
        name: "alert_routes",
        key: &["dag_id", "task_id", "event", "channel"],
        identity: false,
        columns: &[
            col("dag_id", Text),
            col("task_id", Text),
            col("event", Text),
            col("channel", Text),
        ],
    },
    Table {
        name: "alerts",
        key: &["id"],
        identity: true,
        columns: &[
            col("id", Integer),
            col("channel", Text),
            col("event", Text),
            col("dag_id", Text),
            opt("dag_run_id", Integer),
            opt("task_instance_id", Integer),
            opt("task_id", Text),
            opt("try_number", Integer),
            opt("state", Text),
            opt("error", Text),
            col("created_at", Timestamp),
            col("status", Text),
            col("attempts", Integer),
            col("next_attempt_at", Timestamp),
            opt("last_error", Text),
            opt("delivered_at", Timestamp),
        ],
    },
];

/// One column's value, as read from either side.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum Value {
    Null,
    Text(String),
    Integer(i64),
    Bool(bool),
    Timestamp(DateTime<Utc>),
}

/// Copies every table of `from` into `to`, which must hold no airless
/// state (it is created and migrated first). Refused, with nothing
/// written, when both are the same database, when `from` does not exist or
/// lacks a column, and while an `airless serve` runs on `from`. The copy is
/// one transaction on `to`: it lands whole or not at all.
pub async fn copy(from: &Location, to: &Location) -> Result<Copied, CopyError> {
    let started = Instant::now();
    if same_database(from, to) {
        return Err(CopyError::Same(from.to_string()));
    }
    let source = Pool::open(from, false).await?;
    let result = copy_from(&source, from, to, started).await;
    source.close().await;
    result
}

async fn copy_from(
    source: &Pool,
    from: &Location,
    to: &Location,
    started: Instant,
) -> Result<Copied, CopyError> {
    // one snapshot of the source for every table
    let mut read = source.begin_read().await.map_err(open_error(from))?;
    for table in TABLES {
        let present = read.columns(table.name).await.map_err(open_error(from))?;
        if let Some(missing) = table
            .columns
            .iter()
            .find(|c| !present.iter().any(|p| p == c.name))
        {
            return Err(CopyError::Incomplete {
                database: from.to_string(),
                missing: if present.is_empty() {
                    format!("the table {}", table.name)
                } else {
                    format!("{}.{}", table.name, missing.name)
                },
            });
        }
    }
    if let Some((pid, host)) = read
        .live_serve(Utc::now() - LIVE_HEARTBEAT)
        .await
        .map_err(open_error(from))?
    {
        return Err(CopyError::SourceRunning {
            database: from.to_string(),
            pid,
            host,
        });
    }

    // refused before anything is written to the destination, migrations
    // included
    if let Some(existing) = Pool::open_existing(to).await? {
        let held = async {
            let mut tx = existing.begin_read().await?;
            let held = tx.held().await;
            tx.rollback().await?;
            held
        }
        .await;
        existing.close().await;
        refuse_held(to, held.map_err(open_error(to))?)?;
    }
    super::migrate(to).await?;
    let destination = Pool::open(to, true).await?;
    let result = async {
        let mut write = destination.begin_write().await.map_err(open_error(to))?;
        // a process that started on it since the look above
        refuse_held(to, write.held().await.map_err(open_error(to))?)?;
        let mut tables = Vec::with_capacity(TABLES.len());
        for table in TABLES {
            let rows = copy_table(&mut read, &mut write, table, from, to).await?;
            tables.push((table.name, rows));
        }
        write.finish().await.map_err(|err| CopyError::Commit {
            database: to.to_string(),
            message: err.to_string(),
        })?;
        Ok(Copied {
            tables,
            elapsed: started.elapsed(),
        })
    }
    .await;
    destination.close().await;
    result
}

fn open_error(location: &Location) -> impl Fn(sqlx::Error) -> CopyError + '_ {
    move |err| CopyError::Open {
        database: location.to_string(),
        message: err.to_string(),
    }
}

fn refuse_held(to: &Location, held: Vec<(&'static str, i64)>) -> Result<(), CopyError> {
    let held: Vec<String> = held
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(table, n)| {
            let (one, many) = rows_named(table);
            format!("{n} {}", if n == 1 { one } else { many })
        })
        .collect();
    if held.is_empty() {
        return Ok(());
    }
    Err(CopyError::NotEmpty {
        database: to.to_string(),
        held: held.join(", "),
    })
}

/// The copied tables in the order a refusal names what they hold, each
/// with its rows' name, singular and plural.
const HELD: [(&str, &str, &str); 8] = [
    ("dag_runs", "DAG run", "DAG runs"),
    ("dags", "DAG", "DAGs"),
    ("dag_versions", "DAG version", "DAG versions"),
    ("task_instances", "task instance", "task instances"),
    ("task_tries", "task try", "task tries"),
    ("alerts", "alert", "alerts"),
    ("alert_routes", "alert route", "alert routes"),
    ("owners", "owner", "owners"),
];

fn rows_named(table: &str) -> (&'static str, &'static str) {
    HELD.iter()
        .find(|(name, _, _)| *name == table)
        .map(|(_, one, many)| (*one, *many))
        .unwrap_or(("row", "rows"))
}

/// Whether two locations name the same database (the same file, or the
/// same PostgreSQL database and options on the same server).
fn same_database(a: &Location, b: &Location) -> bool {
    match (a, b) {
        (Location::Sqlite(a), Location::Sqlite(b)) => {
            a == b || matches!((canonical(a), canonical(b)), (Some(a), Some(b)) if a == b)
        }
        (Location::Postgres { url: a, .. }, Location::Postgres { url: b, .. }) => {
            if a == b {
                return true;
            }
            match (PgConnectOptions::from_str(a), PgConnectOptions::from_str(b)) {
                (Ok(a), Ok(b)) => {
                    a.get_host() == b.get_host()
                        && a.get_port() == b.get_port()
                        && a.get_database() == b.get_database()
                        && a.get_options() == b.get_options()
                }
                _ => false,
            }
        }
        _ => false,
    }
}

/// The file's absolute path, resolving links (its folder's, when the file
/// does not exist yet).
fn canonical(path: &Path) -> Option<PathBuf> {
    if let Ok(path) = path.canonicalize() {
        return Some(path);
    }
    let name = path.file_name()?;
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    Some(parent.canonicalize().ok()?.join(name))
}

/// Copies one table in batches; returns its row count.
async fn copy_table(
    read: &mut Tx,
    write: &mut Tx,
    table: &'static Table,
    from: &Location,
    to: &Location,
) -> Result<u64, CopyError> {
    let sql = read.select_sql(table);
    let mut batch: Vec<Vec<Value>> = Vec::with_capacity(BATCH);
    let mut copied = 0u64;
    macro_rules! drain {
        ($tx:expr, $decode:ident) => {{
            let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch(&mut **$tx);
            while let Some(row) = rows.next().await {
                let row = row.map_err(open_error(from))?;
                batch.push($decode(&row, table).map_err(|(column, message)| {
                    CopyError::Decode {
                        database: from.to_string(),
                        table: table.name,
                        column,
                        message,
                    }
                })?);
                if batch.len() == BATCH {
                    copied += write.insert(table, &batch, to).await?;
                    batch.clear();
                }
            }
        }};
    }
    match read {
        Tx::Sqlite(tx) => drain!(tx, decode_sqlite),
        Tx::Postgres(tx) => drain!(tx, decode_postgres),
    }
    if !batch.is_empty() {
        copied += write.insert(table, &batch, to).await?;
    }
    Ok(copied)
}

type DecodeError = (&'static str, String);

fn decode_sqlite(row: &SqliteRow, table: &Table) -> Result<Vec<Value>, DecodeError> {
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            let value = match column.kind {
                Text => row
                    .try_get::<Option<String>, _>(i)
                    .map(|v| v.map(Value::Text)),
                Integer => row
                    .try_get::<Option<i64>, _>(i)
                    .map(|v| v.map(Value::Integer)),
                Bool => row
                    .try_get::<Option<bool>, _>(i)
                    .map(|v| v.map(Value::Bool)),
                Timestamp => row
                    .try_get::<Option<DateTime<Utc>>, _>(i)
                    .map(|v| v.map(Value::Timestamp)),
            };
            checked(column, value)
        })
        .collect()
}

fn decode_postgres(row: &PgRow, table: &Table) -> Result<Vec<Value>, DecodeError> {
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            let value = match column.kind {
                Text => row
                    .try_get::<Option<String>, _>(i)
                    .map(|v| v.map(Value::Text)),
                Integer => row
                    .try_get::<Option<i64>, _>(i)
                    .map(|v| v.map(Value::Integer)),
                Bool => row
                    .try_get::<Option<bool>, _>(i)
                    .map(|v| v.map(Value::Bool)),
                Timestamp => row
                    .try_get::<Option<DateTime<Utc>>, _>(i)
                    .map(|v| v.map(Value::Timestamp)),
            };
            checked(column, value)
        })
        .collect()
}

/// A decoded value, NULL only where the column allows it.
fn checked(
    column: &Column,
    value: Result<Option<Value>, sqlx::Error>,
) -> Result<Value, DecodeError> {
    match value {
        Ok(Some(value)) => Ok(value),
        Ok(None) if column.nullable => Ok(Value::Null),
        Ok(None) => Err((column.name, "NULL in a NOT NULL column".into())),
        Err(err) => Err((column.name, err.to_string())),
    }
}

/// Appends one row's values as bind parameters, NULLs typed by their column.
fn push_row<DB>(
    mut row: sqlx::query_builder::Separated<'_, DB, &'static str>,
    table: &Table,
    values: &[Value],
) where
    DB: sqlx::Database,
    for<'t> Option<String>: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> Option<i64>: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> Option<bool>: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> Option<DateTime<Utc>>: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    for (column, value) in table.columns.iter().zip(values) {
        match (column.kind, value) {
            (_, Value::Text(v)) => row.push_bind(Some(v.clone())),
            (_, Value::Integer(v)) => row.push_bind(Some(*v)),
            (_, Value::Bool(v)) => row.push_bind(Some(*v)),
            (_, Value::Timestamp(v)) => row.push_bind(Some(*v)),
            (Text, Value::Null) => row.push_bind(None::<String>),
            (Integer, Value::Null) => row.push_bind(None::<i64>),
            (Bool, Value::Null) => row.push_bind(None::<bool>),
            (Timestamp, Value::Null) => row.push_bind(None::<DateTime<Utc>>),
        };
    }
}

/// `"a", "b", "c"`.
fn column_list(table: &Table) -> String {
    table
        .columns
        .iter()
        .map(|c| format!("\"{}\"", c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A pool on one side of the copy.
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Pool {
    /// Opens the database at `location`: the source (it must exist) or the
    /// destination (already migrated).
    async fn open(location: &Location, write: bool) -> Result<Pool, CopyError> {
        match location {
            Location::Sqlite(path) => {
                if !path.exists() {
                    return Err(if write {
                        StoreError::Missing(location.to_string()).into()
                    } else {
                        CopyError::MissingSource(location.to_string())
                    });
                }
                // the source too is opened for writing (it is only read):
                // closed last, its connection folds the WAL back into the
                // file and removes it, where a read-only one would leave
                // it behind
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true);
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await
                    .map_err(open_error(location))?;
                Ok(Pool::Sqlite(pool))
            }
            Location::Postgres { url, .. } => {
                let options = PgConnectOptions::from_str(url).map_err(open_error(location))?;
                // one connection first: a pool that cannot connect only
                // says it timed out, this says why
                let probe = PgConnection::connect_with(&options)
                    .await
                    .map_err(open_error(location))?;
                let _ = probe.close().await;
                let pool = PgPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await
                    .map_err(open_error(location))?;
                Ok(Pool::Postgres(pool))
            }
        }
    }

    /// The destination as it is before the copy touches it, if it exists
    /// (a SQLite file not yet created does not).
    async fn open_existing(location: &Location) -> Result<Option<Pool>, CopyError> {
        match location {
            Location::Sqlite(path) if !path.exists() => Ok(None),
            _ => Pool::open(location, false).await.map(Some),
        }
    }

    /// A transaction that sees one snapshot of the whole database.
    async fn begin_read(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Pool::Sqlite(pool) => Tx::Sqlite(pool.begin().await?),
            Pool::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut *tx)
                    .await?;
                Tx::Postgres(tx)
            }
        })
    }

    /// The copy's one write transaction, foreign keys checked at commit.
    async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Pool::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("PRAGMA defer_foreign_keys = ON")
                    .execute(&mut *tx)
                    .await?;
                Tx::Sqlite(tx)
            }
            Pool::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SET CONSTRAINTS ALL DEFERRED")
                    .execute(&mut *tx)
                    .await?;
                Tx::Postgres(tx)
            }
        })
    }

    async fn close(&self) {
        match self {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }
}

/// A transaction on one side of the copy.
enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    /// The columns `table` has (none when it does not exist).
    async fn columns(&mut self, table: &str) -> Result<Vec<String>, sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => {
                sqlx::query_scalar("SELECT name FROM pragma_table_info(?1)")
                    .bind(table)
                    .fetch_all(&mut **tx)
                    .await
            }
            Tx::Postgres(tx) => {
                sqlx::query_scalar(
                    "SELECT column_name::text FROM information_schema.columns
                     WHERE table_schema = current_schema() AND table_name = $1",
                )
                .bind(table)
                .fetch_all(&mut **tx)
                .await
            }
        }
    }

    /// The pid and host of a `serve` owner that has not stopped and
    /// heartbeat after `since`.
    async fn live_serve(
        &mut self,
        since: DateTime<Utc>,
    ) -> Result<Option<(i64, String)>, sqlx::Error> {
        let sql = "SELECT CAST(pid AS BIGINT), host, heartbeat_at FROM owners
                   WHERE kind = 'serve' AND stopped_at IS NULL";
        let owners: Vec<(i64, String, DateTime<Utc>)> = match self {
            Tx::Sqlite(tx) => sqlx::query_as(sql).fetch_all(&mut **tx).await?,
            Tx::Postgres(tx) => sqlx::query_as(sql).fetch_all(&mut **tx).await?,
        };
        Ok(owners
            .into_iter()
            .filter(|(_, _, heartbeat)| *heartbeat > since)
            .max_by_key(|(_, _, heartbeat)| *heartbeat)
            .map(|(pid, host, _)| (pid, host)))
    }

    /// How many rows each copied table holds (tables that do not exist yet
    /// hold none), the DAG runs and DAGs first.
    async fn held(&mut self) -> Result<Vec<(&'static str, i64)>, sqlx::Error> {
        let mut order: Vec<&Table> = TABLES.iter().collect();
        order.sort_by_key(|t| HELD.iter().position(|(name, _, _)| *name == t.name));
        let mut held = Vec::new();
        for table in order {
            if self.columns(table.name).await?.is_empty() {
                continue;
            }
            let sql = format!("SELECT COUNT(*) FROM \"{}\"", table.name);
            let n: i64 = match self {
                Tx::Sqlite(tx) => {
                    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                        .fetch_one(&mut **tx)
                        .await?
                }
                Tx::Postgres(tx) => {
                    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                        .fetch_one(&mut **tx)
                        .await?
                }
            };
            held.push((table.name, n));
        }
        Ok(held)
    }

    /// Reads every column of `table` by its kind, in key order
    /// (PostgreSQL casts, so an INTEGER column reads as BIGINT).
    fn select_sql(&self, table: &Table) -> String {
        let columns = match self {
            Tx::Sqlite(_) => column_list(table),
            Tx::Postgres(_) => table
                .columns
                .iter()
                .map(|c| {
                    let cast = match c.kind {
                        Text => "text",
                        Integer => "bigint",
                        Bool => "boolean",
                        Timestamp => "timestamptz",
                    };
                    format!("\"{0}\"::{cast} AS \"{0}\"", c.name)
                })
                .collect::<Vec<_>>()
                .join(", "),
        };
        let key = table
            .key
            .iter()
            .map(|k| format!("\"{k}\""))
            .collect::<Vec<_>>()
            .join(", ");
        format!("SELECT {columns} FROM \"{}\" ORDER BY {key}", table.name)
    }

    /// Inserts one batch of `table`'s rows, ids and all.
    async fn insert(
        &mut self,
        table: &'static Table,
        rows: &[Vec<Value>],
        to: &Location,
    ) -> Result<u64, CopyError> {
        let write_error = |err: sqlx::Error| CopyError::Write {
            database: to.to_string(),
            table: table.name,
            message: err.to_string(),
        };
        let head = format!("INSERT INTO \"{}\" ({})", table.name, column_list(table));
        let done = match self {
            Tx::Sqlite(tx) => {
                let mut query = QueryBuilder::<Sqlite>::new(head + " ");
                query.push_values(rows, |row, values| push_row(row, table, values));
                query
                    .build()
                    .execute(&mut **tx)
                    .await
                    .map(|done| done.rows_affected())
            }
            Tx::Postgres(tx) => {
                // explicit ids even where the column is GENERATED ALWAYS
                let overriding = if table.identity {
                    " OVERRIDING SYSTEM VALUE "
                } else {
                    " "
                };
                let mut query = QueryBuilder::<Postgres>::new(head + overriding);
                query.push_values(rows, |row, values| push_row(row, table, values));
                query
                    .build()
                    .execute(&mut **tx)
                    .await
                    .map(|done| done.rows_affected())
            }
        };
        done.map_err(write_error)
    }

    /// Commits the copy; on PostgreSQL every identity sequence first
    /// continues after the copied ids (SQLite's rowids do by themselves).
    async fn finish(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(mut tx) => {
                for table in TABLES.iter().filter(|t| t.identity) {
                    let sql = format!(
                        "SELECT setval(pg_get_serial_sequence('{0}', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM \"{0}\"",
                        table.name
                    );
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await
            }
        }
    }

    async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await,
            Tx::Postgres(tx) => tx.rollback().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DagId, Owner, OwnerKind, RunId, RunState, RunType, TaskId, TaskState};
    use crate::store::{NewDagRun, NewDagVersion, Reader, TryEnd, Writer};
    use chrono::TimeZone;

    fn at(day: u32, secs: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 3, day, 6, 0, secs).unwrap()
    }

    fn owner(id: &str, kind: OwnerKind, heartbeat_at: DateTime<Utc>) -> Owner {
        Owner {
            id: id.into(),
            kind,
            host: "box".into(),
            pid: 4242,
            pid_start: 99,
            boot_id: "boot".into(),
            started_at: at(1, 0),
            heartbeat_at,
            stopped_at: None,
        }
    }

    /// Creates a running run of `dag` with tasks `a` (two tries) and `b`
    /// at logical date `n`; returns its id.
    async fn run(w: &Writer, dag: &DagId, n: u32, version: i64) -> i64 {
        let (a, b) = (TaskId::new("a"), TaskId::new("b"));
        let run_id = RunId::new(format!("scheduled__{n}"));
        let conf = serde_json::json!({ "n": n });
        let run = w
            .create_dag_run(&NewDagRun {
                dag_id: dag,
                run_id: &run_id,
                run_type: RunType::Scheduled,
                logical_date: at(n, 0),
                data_interval: (at(n, 0), at(n + 1, 0)),
                conf: &conf,
                tasks: vec![(&a, 2), (&b, 1)],
                dag_version: Some(version),
                lease: None,
                now: at(n, 1),
            })
            .await
            .unwrap();
        w.set_run_state(run.id, RunState::Queued, RunState::Running, at(n, 2), None)
            .await
            .unwrap();
        run.id
    }

    async fn task_a(r: &Reader, run: i64) -> crate::model::TaskInstance {
        let tis = r.task_instances(run).await.unwrap();
        tis.into_iter().find(|t| t.task_id.as_str() == "a").unwrap()
    }

    /// A history with rows in every copied table, written as the engine
    /// writes them (the triggers record tries and alerts).
    async fn history(path: &Path) -> (Reader, Writer) {
        let (r, w) = super::super::open(path).await.unwrap();
        let mut stopped = owner("serve-box-1", OwnerKind::Serve, at(1, 5));
        // nanoseconds: PostgreSQL keeps microseconds
        stopped.heartbeat_at += chrono::Duration::nanoseconds(123_456_789);
        w.insert_owner(&stopped).await.unwrap();
        w.stop_owner(&stopped.id, at(1, 6)).await.unwrap();
        w.insert_owner(&owner("dags_test-box-2", OwnerKind::DagsTest, at(2, 0)))
            .await
            .unwrap();
        let dag = DagId::new("nightly");
        let routes = || {
            vec![
                ("a".to_string(), "failure", "team".to_string()),
                (String::new(), "recovery", "team".to_string()),
            ]
        };
        let version = |source: &'static str, hash: &'static str| NewDagVersion {
            dag_id: &dag,
            fileloc: "dags/nightly.yaml".into(),
            is_paused_upon_creation: false,
            hash,
            source,
            alert_routes: routes(),
        };
        w.register_dags(&[version("dag_id: nightly # 1", "h1")], at(1, 0))
            .await
            .unwrap();
        let v2 = w
            .register_dags(&[version("dag_id: nightly # 2", "h2")], at(2, 0))
            .await
            .unwrap()[0];
        w.set_paused(&dag, true).await.unwrap();
        for (n, end) in [(1, TaskState::Failed), (2, TaskState::Success)] {
            let id = run(&w, &dag, n, v2).await;
            let a = task_a(&r, id).await;
            w.start_try(
                a.id,
                TaskState::None,
                1,
                &format!("logs/{n}/a/1.log"),
                at(n, 3),
                None,
            )
            .await
            .unwrap();
            let error = (end == TaskState::Failed).then_some("exit 1");
            w.finish_try(
                a.id,
                1,
                &TryEnd {
                    state: end,
                    output: Some(&serde_json::json!("out")),
                    error,
                    next_retry_at: None,
                    now: at(n, 4),
                },
                None,
            )
            .await
            .unwrap();
            let finished = if end == TaskState::Failed {
                RunState::Failed
            } else {
                RunState::Success
            };
            w.set_run_state(id, RunState::Running, finished, at(n, 5), None)
                .await
                .unwrap();
        }
        // one still running, its try with a process group and a remote run
        let id = run(&w, &dag, 3, v2).await;
        let a = task_a(&r, id).await;
        w.start_try(a.id, TaskState::None, 1, "logs/3/a/1.log", at(3, 3), None)
            .await
            .unwrap();
        w.set_external(a.id, 1, "run-77", Some("https://db/run/77"), None)
            .await
            .unwrap();
        w.insert_import_error_alert(
            "dags/broken.yaml",
            "line 1: oops",
            &["team".into()],
            at(3, 9),
        )
        .await
        .unwrap();
        let pending: Vec<i64> = r
            .pending_alerts(100)
            .await
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect();
        assert!(pending.len() >= 2, "{pending:?}");
        w.alerts_delivered(&pending[..1], at(3, 10)).await.unwrap();
        (r, w)
    }

    /// Every copied table's rows, sorted, with times to the microsecond
    /// (all PostgreSQL keeps) when `micros`.
    async fn dump(location: &Location, micros: bool) -> Vec<(&'static str, Vec<Vec<Value>>)> {
        let pool = Pool::open(location, false).await.unwrap();
        let mut tx = pool.begin_read().await.unwrap();
        let mut tables = Vec::new();
        for table in TABLES {
            let sql = tx.select_sql(table);
            let mut rows: Vec<Vec<Value>> = match &mut tx {
                Tx::Sqlite(tx) => sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&mut **tx)
                    .await
                    .unwrap()
                    .iter()
                    .map(|row| decode_sqlite(row, table).unwrap())
                    .collect(),
                Tx::Postgres(tx) => sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&mut **tx)
                    .await
                    .unwrap()
                    .iter()
                    .map(|row| decode_postgres(row, table).unwrap())
                    .collect(),
            };
            if micros {
                for value in rows.iter_mut().flatten() {
                    if let Value::Timestamp(t) = value {
                        *t = chrono::SubsecRound::trunc_subsecs(*t, 6);
                    }
                }
            }
            rows.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
            tables.push((table.name, rows));
        }
        tx.rollback().await.unwrap();
        pool.close().await;
        tables
    }

    fn ids(dump: &[(&'static str, Vec<Vec<Value>>)], table: &str) -> Vec<i64> {
        let rows = &dump.iter().find(|(t, _)| *t == table).unwrap().1;
        rows.iter()
            .map(|row| match &row[0] {
                Value::Integer(id) => *id,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn every_copied_table_has_a_name_for_its_rows() {
        let mut named: Vec<&str> = HELD.iter().map(|(table, _, _)| *table).collect();
        let mut copied: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
        named.sort();
        copied.sort();
        assert_eq!(named, copied);
    }

    /// A migration that adds a table or a column fails this until the
    /// copy knows it too.
    #[tokio::test]
    async fn the_copy_knows_every_table_and_column_of_the_schema() {
        let dir = tempfile::tempdir().unwrap();
        let location = Location::parse(&dir.path().join("a.db").display().to_string());
        super::super::migrate(&location).await.unwrap();
        let pool = Pool::open(&location, false).await.unwrap();
        let Pool::Sqlite(sqlite) = &pool else {
            panic!("a file")
        };
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
               AND name NOT IN ('_sqlx_migrations', 'scheduler_lock') ORDER BY name",
        )
        .fetch_all(sqlite)
        .await
        .unwrap();
        let mut copied: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
        copied.sort();
        assert_eq!(tables, copied);
        let mut tx = pool.begin_read().await.unwrap();
        for table in TABLES {
            let mut columns = tx.columns(table.name).await.unwrap();
            let mut known: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
            columns.sort();
            known.sort();
            assert_eq!(columns, known, "{}", table.name);
        }
    }

    #[tokio::test]
    async fn a_sqlite_copy_holds_every_row_with_its_id_and_keeps_working() {
        let dir = tempfile::tempdir().unwrap();
        let from = Location::parse(&dir.path().join("a.db").display().to_string());
        let to = Location::parse(&format!("sqlite://{}", dir.path().join("b.db").display()));
        let (_, w) = history(from.sqlite_path().unwrap()).await;
        // the first run cleaned away: the copy keeps the gap in the ids
        assert_eq!(w.clean(at(1, 10), false).await.unwrap().dag_runs, 1);
        drop(w);

        let copied = copy(&from, &to).await.unwrap();
        let before = dump(&from, false).await;
        let after = dump(&to, false).await;
        assert_eq!(before, after);
        let counted: Vec<(&str, u64)> = before
            .iter()
            .map(|(t, rows)| (*t, rows.len() as u64))
            .collect();
        assert_eq!(copied.tables, counted);
        for (table, rows) in &before {
            assert!(!rows.is_empty(), "{table} has rows to copy");
        }
        assert_eq!(ids(&after, "dag_runs"), [2, 3]);

        // the copy goes on from the highest id, and its triggers still fire
        let (r, w) = super::super::open(to.sqlite_path().unwrap()).await.unwrap();
        let max_run = *ids(&after, "dag_runs").iter().max().unwrap();
        let fresh = run(&w, &DagId::new("nightly"), 5, 2).await;
        assert_eq!(fresh, max_run + 1);
        let a = task_a(&r, fresh).await;
        assert!(a.id > *ids(&after, "task_instances").iter().max().unwrap());
        w.start_try(a.id, TaskState::None, 1, "logs/5/a/1.log", at(5, 3), None)
            .await
            .unwrap();
        w.finish_try(
            a.id,
            1,
            &TryEnd {
                state: TaskState::Failed,
                output: None,
                error: Some("boom"),
                next_retry_at: None,
                now: at(5, 4),
            },
            None,
        )
        .await
        .unwrap();
        let tries = r.task_tries(a.id).await.unwrap();
        assert_eq!(tries.len(), 1, "the try trigger recorded it");
        assert_eq!(tries[0].state, TaskState::Failed);
        let alerts = r.pending_alerts(100).await.unwrap();
        assert!(
            alerts
                .iter()
                .any(|alert| alert.run_id.as_deref() == Some("scheduled__5")
                    && alert.event == "failure"),
            "the alert trigger fired: {alerts:?}"
        );
        let later = dump(&to, false).await;
        for table in ["task_tries", "alerts"] {
            let (old, new) = (ids(&after, table), ids(&later, table));
            assert_eq!(new.len(), old.len() + 1, "{table}");
            assert!(new.iter().max() > old.iter().max(), "{table}: a fresh id");
        }
    }

    /// A fresh schema on the test PostgreSQL server, dropped by `finish`.
    struct Scratch {
        admin: PgPool,
        schema: String,
        url: String,
    }

    impl Scratch {
        /// `None` (and a line saying why) when no server answers.
        async fn new() -> Option<Scratch> {
            let base = std::env::var("AIRLESS_TEST_POSTGRES")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
            // one connection first: its error says why (a pool's only that
            // it timed out)
            let probe = tokio::time::timeout(Duration::from_secs(3), PgConnection::connect(&base))
                .await
                .unwrap_or_else(|_| Err(sqlx::Error::PoolTimedOut));
            if let Err(err) = probe {
                let server = PgConnectOptions::from_str(&base)
                    .map(|o| format!("{}:{}", o.get_host(), o.get_port()))
                    .unwrap_or(base.clone());
                println!(
                    "skipped: PostgreSQL is not reachable on {server} ({err}); .ci/run starts it"
                );
                return None;
            }
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .connect(&base)
                .await
                .unwrap();
            let mut bytes = [0u8; 6];
            getrandom::fill(&mut bytes).unwrap();
            let schema = format!(
                "t_{}",
                bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
            );
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(&admin)
                .await
                .unwrap();
            let joiner = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{joiner}options=-c%20search_path%3D{schema}");
            Some(Scratch { admin, schema, url })
        }

        async fn finish(self) {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA {} CASCADE",
                self.schema
            )))
            .execute(&self.admin)
            .await
            .unwrap();
            self.admin.close().await;
        }
    }

    #[tokio::test]
    async fn a_history_goes_to_postgres_and_back_unchanged() {
        let Some(scratch) = Scratch::new().await else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let from = Location::parse(&dir.path().join("a.db").display().to_string());
        let back = Location::parse(&dir.path().join("b.db").display().to_string());
        let postgres = Location::parse(&scratch.url);
        // a failure leaves the schema behind (CI drops its whole database)
        {
            drop(history(from.sqlite_path().unwrap()).await);
            copy(&from, &postgres).await.unwrap();
            let original = dump(&from, true).await;
            assert_eq!(dump(&postgres, true).await, original);
            copy(&postgres, &back).await.unwrap();
            assert_eq!(dump(&back, true).await, original);
            // the sequences go on after the copied ids
            let (r, w) = super::super::open(&postgres).await.unwrap();
            let fresh = run(&w, &DagId::new("nightly"), 5, 2).await;
            assert_eq!(fresh, ids(&original, "dag_runs").iter().max().unwrap() + 1);
            assert!(!r.task_instances(fresh).await.unwrap().is_empty());
        }
        scratch.finish().await;
    }
}
