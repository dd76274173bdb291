//! Where `emulate` reads posts: the built-in demo tables, or a MySQL / SQLite
//! database through sqlx (`SELECT * FROM t LIMIT k, 1`, as the original
//! script does). Rows become JSON as the script sends them: column names as
//! keys, datetimes as `YYYY-MM-DD HH:MM:SS`.

use serde_json::{Map, Value};
use sqlx::{Column, MySqlPool, Row, SqlitePool, TypeInfo};

use super::demo;
use crate::kinds::TaskError;

/// An open source of posts.
pub enum Source {
    Demo,
    MySql(MySqlPool),
    Sqlite(SqlitePool),
}

/// `url` with any password replaced by `***`, for messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

impl Source {
    /// Connects to `url` (`demo`, `mysql://…`, `sqlite://…`).
    pub async fn open(url: &str) -> Result<Source, TaskError> {
        let shown = redact(url);
        let connect_error = |err: sqlx::Error| {
            TaskError::transient(format!(
                "cannot connect to the source database {shown}: {}",
                database_message(&err)
            ))
        };
        if url == "demo" {
            Ok(Source::Demo)
        } else if url.starts_with("mysql://") {
            let pool = sqlx::mysql::MySqlPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(std::time::Duration::from_secs(10))
                .connect(url)
                .await
                .map_err(connect_error)?;
            Ok(Source::MySql(pool))
        } else if url.starts_with("sqlite:") {
            let options: sqlx::sqlite::SqliteConnectOptions = url.parse().map_err(connect_error)?;
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options.read_only(true))
                .await
                .map_err(connect_error)?;
            Ok(Source::Sqlite(pool))
        } else {
            Err(TaskError::transient(format!(
                "unknown source `{shown}`: use demo, mysql://… or sqlite://…"
            )))
        }
    }

    /// Fails when `table` does not exist, before anything is sent.
    pub async fn check_table(&self, table: &str) -> Result<(), TaskError> {
        self.row(table, 0).await.map(|_| ())
    }

    /// The row at `offset` of `table` (a plain name, checked when the DAG
    /// loaded), or `None` when the table has fewer rows.
    pub async fn row(
        &self,
        table: &str,
        offset: u64,
    ) -> Result<Option<Map<String, Value>>, TaskError> {
        let sql = format!("SELECT * FROM `{table}` LIMIT {offset}, 1");
        let query_error = |err: sqlx::Error| match &err {
            sqlx::Error::Database(db) if is_missing_table(db.as_ref()) => TaskError::transient(
                format!("table `{table}` does not exist in the source database"),
            ),
            _ => TaskError::transient(format!(
                "reading `{table}` failed: {}",
                database_message(&err)
            )),
        };
        match self {
            Source::Demo => {
                let Some(table) = demo::Table::ALL.into_iter().find(|t| t.name() == table) else {
                    return Err(TaskError::transient(format!(
                        "the demo source has no table `{table}`"
                    )));
                };
                Ok(demo::row(table, offset))
            }
            Source::MySql(pool) => {
                // the text protocol, as pymysql: a prepared statement per
                // offset would fill sqlx's cache, and each eviction's
                // COM_STMT_CLOSE (no reply) then waits ~40 ms on Nagle's
                // algorithm and the server's delayed ACK
                let row = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .fetch_optional(pool)
                    .await
                    .map_err(query_error)?;
                row.map(|r| mysql_json(&r)).transpose()
            }
            Source::Sqlite(pool) => {
                let sql = format!("SELECT * FROM \"{table}\" LIMIT 1 OFFSET {offset}");
                let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_optional(pool)
                    .await
                    .map_err(query_error)?;
                row.map(|r| sqlite_json(&r)).transpose()
            }
        }
    }
}

fn is_missing_table(db: &dyn sqlx::error::DatabaseError) -> bool {
    // MySQL/MariaDB ER_NO_SUCH_TABLE (1146, SQLSTATE 42S02); SQLite "no such table"
    db.code().is_some_and(|c| c == "42S02" || c == "1146") || db.message().contains("no such table")
}

/// The database's own words, without sqlx's wrapping.
fn database_message(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Database(db) => db.message().to_string(),
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::PoolTimedOut => "timed out connecting".to_string(),
        other => other.to_string(),
    }
}

fn decode_error(column: &str, err: sqlx::Error) -> TaskError {
    TaskError::transient(format!("cannot read column `{column}`: {err}"))
}

fn mysql_json(row: &sqlx::mysql::MySqlRow) -> Result<Map<String, Value>, TaskError> {
    let mut out = Map::new();
    for column in row.columns() {
        let name = column.name();
        let i = column.ordinal();
        let type_name = column.type_info().name().to_ascii_uppercase();
        let value = if type_name.contains("INT") || type_name == "YEAR" {
            if type_name.contains("UNSIGNED") {
                row.try_get::<Option<u64>, _>(i).map(|v| v.map(Value::from))
            } else {
                row.try_get::<Option<i64>, _>(i).map(|v| v.map(Value::from))
            }
        } else if type_name == "FLOAT" || type_name == "DOUBLE" {
            row.try_get::<Option<f64>, _>(i).map(|v| v.map(Value::from))
        } else if type_name == "DECIMAL" {
            row.try_get::<Option<rust_decimal::Decimal>, _>(i)
                .map(|v| v.map(decimal_json))
        } else if type_name == "DATETIME" || type_name == "TIMESTAMP" {
            row.try_get::<Option<chrono::NaiveDateTime>, _>(i)
                .map(|v| v.map(python_datetime))
        } else if type_name == "DATE" {
            row.try_get::<Option<chrono::NaiveDate>, _>(i)
                .map(|v| v.map(|d| Value::String(d.to_string())))
        } else if type_name == "BOOLEAN" {
            row.try_get::<Option<bool>, _>(i)
                .map(|v| v.map(Value::from))
        } else {
            row.try_get::<Option<String>, _>(i)
                .map(|v| v.map(Value::from))
        }
        .map_err(|e| decode_error(name, e))?;
        out.insert(name.to_string(), value.unwrap_or(Value::Null));
    }
    Ok(out)
}

fn sqlite_json(row: &sqlx::sqlite::SqliteRow) -> Result<Map<String, Value>, TaskError> {
    let mut out = Map::new();
    for column in row.columns() {
        let name = column.name();
        let i = column.ordinal();
        // SQLite types values, not columns: try the storage classes in turn
        let value = if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
            v.map(Value::from)
        } else if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
            v.map(Value::from)
        } else {
            row.try_get::<Option<String>, _>(i)
                .map_err(|e| decode_error(name, e))?
                .map(Value::from)
        };
        out.insert(name.to_string(), value.unwrap_or(Value::Null));
    }
    Ok(out)
}

/// Python's `str()` of a datetime: `2018-06-26 02:39:25` (microseconds only when set).
fn python_datetime(t: chrono::NaiveDateTime) -> Value {
    let format = if t.and_utc().timestamp_subsec_micros() == 0 {
        "%Y-%m-%d %H:%M:%S"
    } else {
        "%Y-%m-%d %H:%M:%S%.6f"
    };
    Value::String(t.format(format).to_string())
}

fn decimal_json(d: rust_decimal::Decimal) -> Value {
    use rust_decimal::prelude::ToPrimitive;
    d.to_f64()
        .map(Value::from)
        .unwrap_or_else(|| Value::String(d.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_a_database_url_is_never_shown() {
        assert_eq!(
            redact("mysql://admin:s3cret@db.example:3306/pinterest"),
            "mysql://admin:***@db.example:3306/pinterest"
        );
        assert_eq!(redact("mysql://admin@db/p"), "mysql://admin@db/p");
        assert_eq!(redact("demo"), "demo");
    }

    #[test]
    fn datetimes_print_as_python_str_does() {
        let t = chrono::NaiveDate::from_ymd_opt(2018, 6, 26)
            .unwrap()
            .and_hms_opt(2, 39, 25)
            .unwrap();
        assert_eq!(
            python_datetime(t),
            Value::String("2018-06-26 02:39:25".into())
        );
    }
}
