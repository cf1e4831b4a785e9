//! The process-wide message-size limit: the single source every routine reads.
//!
//! Default 2^31-1 bytes (MPI's `int` count limit). Overridden by the environment
//! variable `DGAMPI_MAX_MESSAGE_BYTES` (read at first use) or by
//! [`set_max_message_bytes`]. Primitives also take an explicit `limit`, where 0
//! means "the process-wide value". An invalid environment value ("0", "1e3")
//! is an error that every routine needing the process-wide value returns
//! ([`resolve_limit`], [`process_limit`]) until a valid limit is set, never a
//! silent fallback.

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Default and largest allowed limit: `i32::MAX` bytes.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = i32::MAX as usize;
/// Name of the environment variable read at first use.
pub const LIMIT_ENV_VAR: &str = "DGAMPI_MAX_MESSAGE_BYTES";

/// The limit set by [`set_max_message_bytes`]; 0 = never set (use the environment's).
static LIMIT: AtomicUsize = AtomicUsize::new(0);
/// The environment's value (the default when unset), or why it is invalid; read once.
static ENV_LIMIT: OnceLock<Result<usize>> = OnceLock::new();

fn parse_limit(text: &str) -> Result<usize> {
    let value: usize = text.trim().parse().map_err(|_| {
        Error::invalid(format!("{LIMIT_ENV_VAR}={text:?} is not a positive integer; set a valid limit (bytes, 1..={DEFAULT_MAX_MESSAGE_BYTES}) or unset it"))
    })?;
    validate(value).map_err(|e| Error::new(e.status, format!("{LIMIT_ENV_VAR}={text:?}: {}", e.message)))
}

fn validate(bytes: usize) -> Result<usize> {
    if bytes == 0 || bytes > DEFAULT_MAX_MESSAGE_BYTES {
        return Err(Error::out_of_range(format!(
            "message limit {bytes} bytes is outside 1..={DEFAULT_MAX_MESSAGE_BYTES}"
        )));
    }
    Ok(bytes)
}

fn env_limit() -> &'static Result<usize> {
    ENV_LIMIT.get_or_init(|| match std::env::var(LIMIT_ENV_VAR) {
        Ok(text) => parse_limit(&text),
        Err(std::env::VarError::NotPresent) => Ok(DEFAULT_MAX_MESSAGE_BYTES),
        Err(std::env::VarError::NotUnicode(_)) => Err(Error::invalid(format!("{LIMIT_ENV_VAR} is not valid UTF-8"))),
    })
}

/// The process-wide limit in bytes: the value set last by
/// [`set_max_message_bytes`], else the environment's, else the default. An
/// invalid environment value is an error (`InvalidArgument` for text that is
/// not an integer, `OutOfRange` for 0 or above 2^31-1).
pub fn process_limit() -> Result<usize> {
    match LIMIT.load(Ordering::Relaxed) {
        0 => env_limit().clone(),
        set => Ok(set),
    }
}

/// The process-wide limit for display (benchmarks, logs): like
/// [`process_limit`], with the default standing in for an invalid
/// environment value, which every transfer reports as an error.
pub fn max_message_bytes() -> usize {
    process_limit().unwrap_or(DEFAULT_MAX_MESSAGE_BYTES)
}

/// Sets the process-wide limit (1 ..= 2^31-1 bytes); it replaces the
/// environment's value, valid or not.
pub fn set_max_message_bytes(bytes: usize) -> Result<()> {
    LIMIT.store(validate(bytes)?, Ordering::Relaxed);
    Ok(())
}

/// Resolves an explicit `limit` argument: 0 means the process-wide value
/// ([`process_limit`], an error while the environment's value is invalid).
pub fn resolve_limit(limit: usize) -> Result<usize> {
    if limit == 0 {
        process_limit()
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
        assert_eq!(parse_limit("0").unwrap_err().status, crate::Status::OutOfRange);
        assert_eq!(parse_limit("1e3").unwrap_err().status, crate::Status::InvalidArgument);
        assert!(parse_limit("1e3").unwrap_err().message.contains(LIMIT_ENV_VAR));
        assert_eq!(resolve_limit(7).unwrap(), 7);
        assert!(resolve_limit(usize::MAX).is_err());
    }
}
