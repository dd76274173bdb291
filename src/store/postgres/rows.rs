//! PostgreSQL's rows hand their columns to the shared decoders
//! (`store::records`); `COUNT(*)`s come back as BIGINT.

use sqlx::postgres::PgRow;

use crate::store::records::decode_error;

crate::store::records::columns!(PgRow);

/// A `BIGINT` count (`COUNT(*)`) as the store's readers take it.
pub(super) fn count_u32(value: i64) -> Result<u32, sqlx::Error> {
    u32::try_from(value).map_err(|_| decode_error("count", &value.to_string()))
}
