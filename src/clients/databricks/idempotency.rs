//! The `idempotency_token` of a submit or run-now: derived from the task
//! instance, so a retry of the same try (or a crash between submit and
//! record) can never start a second Databricks run.

use sha2::{Digest, Sha256};

/// The prefix marks tokens airless made; the rest is hex of SHA-256.
const PREFIX: &str = "airless-";
/// Hex digits kept: 192 bits, and 56 characters in all (Databricks allows 64).
const HEX_DIGITS: usize = 48;

/// A deterministic token (≤ 64 chars) for one try of one task instance.
///
/// Each field is length-prefixed before hashing, so `("a-b", "c")` and
/// `("a", "b-c")` differ. The same inputs always give the same token.
pub fn idempotency_token(dag_id: &str, run_id: &str, task_id: &str, try_number: u32) -> String {
    let mut hasher = Sha256::new();
    for field in [dag_id, run_id, task_id, &try_number.to_string()] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    let digest = hasher.finalize();
    let mut token = String::with_capacity(PREFIX.len() + HEX_DIGITS);
    token.push_str(PREFIX);
    for byte in digest.iter().take(HEX_DIGITS / 2) {
        token.push_str(&format!("{byte:02x}"));
    }
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_try_gives_the_same_token() {
        let a = idempotency_token("pins", "scheduled__2026-01-01T00:00:00+00:00", "clean", 1);
        let b = idempotency_token("pins", "scheduled__2026-01-01T00:00:00+00:00", "clean", 1);
        assert_eq!(a, b);
        assert!(a.starts_with("airless-"));
        assert_eq!(a.len(), 56);
        assert!(a.len() <= 64);
        assert!(a[8..].chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn any_changed_field_gives_another_token() {
        let base = idempotency_token("pins", "run", "clean", 1);
        assert_ne!(base, idempotency_token("pins", "run", "clean", 2));
        assert_ne!(base, idempotency_token("pins", "run2", "clean", 1));
        assert_ne!(base, idempotency_token("pins2", "run", "clean", 1));
        assert_ne!(base, idempotency_token("pins", "run", "analyse", 1));
    }

    #[test]
    fn field_boundaries_matter() {
        assert_ne!(
            idempotency_token("a-b", "c", "t", 1),
            idempotency_token("a", "b-c", "t", 1)
        );
    }

    #[test]
    fn the_token_is_stable_across_releases() {
        // Changing the derivation would make a daemon upgraded mid-run
        // submit a running task's job a second time.
        assert_eq!(
            idempotency_token("d", "r", "t", 1),
            "airless-5abec5c6adc19baa86ea88ce66f86a3be71801595c15aee9"
        );
    }
}
