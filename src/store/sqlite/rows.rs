//! SQLite's rows hand their columns to the shared decoders
//! (`store::records`).

use sqlx::sqlite::SqliteRow;

crate::store::records::columns!(SqliteRow);
