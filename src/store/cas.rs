//! What a compare-and-swap write's row count means, for both stores: one
//! row changed, or another writer moved the row on and nothing changed.

use super::StoreError;

/// A write to a running try changed exactly one row, or the try moved on.
pub(super) fn running_try(rows: u64, ti_id: i64, try_number: u32) -> Result<(), StoreError> {
    expect_one(
        rows,
        || format!("TaskInstance #{ti_id} try {try_number}"),
        "running",
    )
}

/// One row changed, or [`StoreError::Conflict`] naming `what` and the
/// state it was `expected` in.
pub(super) fn expect_one(
    rows: u64,
    what: impl FnOnce() -> String,
    expected: &str,
) -> Result<(), StoreError> {
    if rows == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict {
            what: what(),
            expected: expected.to_string(),
        })
    }
}
