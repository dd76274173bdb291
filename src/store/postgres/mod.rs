//! The PostgreSQL store (shared by several `serve` peers). Being written.

use super::{Access, Reader, StoreError, Writer};

/// Opens the database at `url`.
pub(super) async fn open(
    url: &str,
    _access: Access,
    _pool_size: u32,
) -> Result<(Reader, Writer), StoreError> {
    Err(StoreError::Open {
        path: super::Location::parse(url).to_string(),
        message: "not built yet".into(),
    })
}

pub(super) async fn migrate(url: &str) -> Result<Vec<i64>, StoreError> {
    Err(StoreError::Open {
        path: super::Location::parse(url).to_string(),
        message: "not built yet".into(),
    })
}
