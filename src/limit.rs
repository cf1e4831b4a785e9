//! The process-wide message-size limit: the single source every routine reads.
//!
//! Default 2^31-1 bytes (MPI's `int` count limit). Overridden by the environment
//! variable `DGAMPI_MAX_MESSAGE_BYTES` (read at first use) or by
//! [`set_max_message_bytes`]. Primitives also take an explicit `limit`, where 0
//! means "the process-wide value".

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Default and largest allowed limit: `i32::MAX` bytes.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = i32::MAX as usize;
/// Name of the environment variable read at first use.
pub const LIMIT_ENV_VAR: &str = "DGAMPI_MAX_MESSAGE_BYTES";

/// 0 means "not yet initialised from the environment".
static LIMIT: AtomicUsize = AtomicUsize::new(0);

fn parse_limit(text: &str) -> Result<usize> {
    let value: usize = text.trim().parse().map_err(|_| {
        Error::invalid(format!("{LIMIT_ENV_VAR}={text:?} is not a positive integer"))
    })?;
    validate(value)
}

fn validate(bytes: usize) -> Result<usize> {
    if bytes == 0 || bytes > DEFAULT_MAX_MESSAGE_BYTES {
        return Err(Error::out_of_range(format!(
            "message limit {bytes} bytes is outside 1..={DEFAULT_MAX_MESSAGE_BYTES}"
        )));
    }
    Ok(bytes)
}

/// The process-wide limit in bytes (environment value on first use, else the default).
pub fn max_message_bytes() -> usize {
    let current = LIMIT.load(Ordering::Relaxed);
    if current != 0 {
        return current;
    }
    let initial = match std::env::var(LIMIT_ENV_VAR) {
        Ok(text) => parse_limit(&text).unwrap_or_else(|err| {
            eprintln!("dgampi: ignoring {}; using {DEFAULT_MAX_MESSAGE_BYTES}", err.message);
            DEFAULT_MAX_MESSAGE_BYTES
        }),
        Err(_) => DEFAULT_MAX_MESSAGE_BYTES,
    };
    match LIMIT.compare_exchange(0, initial, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => initial,
        Err(set_meanwhile) => set_meanwhile,
    }
}

/// Sets the process-wide limit (1 ..= 2^31-1 bytes).
pub fn set_max_message_bytes(bytes: usize) -> Result<()> {
    LIMIT.store(validate(bytes)?, Ordering::Relaxed);
    Ok(())
}

/// Resolves an explicit `limit` argument: 0 means the process-wide value.
pub fn resolve_limit(limit: usize) -> Result<usize> {
    if limit == 0 {
        Ok(max_message_bytes())
    } else {
        validate(limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_validate() {
        assert_eq!(parse_limit("64").unwrap(), 64);
        assert!(parse_limit("0").is_err());
        assert!(parse_limit("-3").is_err());
        assert!(parse_limit("abc").is_err());
        assert!(parse_limit("2147483648").is_err());
        assert_eq!(resolve_limit(7).unwrap(), 7);
        assert!(resolve_limit(usize::MAX).is_err());
    }
}
