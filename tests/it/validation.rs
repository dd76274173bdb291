//! DAG files with mistakes: every message, with its position, asserted.
