//! Status plumbing, version, memory release and the process-wide limit.

use crate::bounds::{chunk_step, Chunk, RowChunks};
use crate::error::{Error, Result, Status};
use crate::limit::{max_message_bytes, resolve_limit, set_max_message_bytes};
use std::cell::RefCell;
use std::os::raw::{c_char, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The addresses of the live handles of one opaque type, so that a stale or
/// foreign pointer is reported as `DGAMPI_STATUS_INVALID_HANDLE` instead of
/// being dereferenced.
pub(crate) struct LiveHandles(std::sync::Mutex<Option<std::collections::HashSet<usize>>>);

impl LiveHandles {
    /// An empty set.
    pub(crate) const fn new() -> LiveHandles {
        LiveHandles(std::sync::Mutex::new(None))
    }

    fn set(&self) -> std::sync::MutexGuard<'_, Option<std::collections::HashSet<usize>>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a new handle.
    pub(crate) fn insert<T>(&self, h: *mut T) {
        self.set().get_or_insert_with(Default::default).insert(h as usize);
    }

    /// Forgets a handle.
    pub(crate) fn remove<T>(&self, h: *mut T) {
        if let Some(set) = self.set().as_mut() {
            set.remove(&(h as usize));
        }
    }

    /// Fails unless `h` is live; `kind` names the handle type in the message.
    pub(crate) fn check<T>(&self, h: *mut T, kind: &str) -> Result<()> {
        if h.is_null() {
            return Err(Error::new(Status::InvalidHandle, format!("the {kind} handle is NULL")));
        }
        if !self.set().as_ref().is_some_and(|set| set.contains(&(h as usize))) {
            return Err(Error::new(Status::InvalidHandle, format!("{h:p} is not a live {kind} (destroyed, or never created)")));
        }
        Ok(())
    }
}

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Runs an entry point: records its error (prefixed by `name`) and turns panics
/// into `Status::Internal`.
pub(crate) fn guard(name: &str, body: impl FnOnce() -> Result<()>) -> Status {
    let outcome = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(Error::new(Status::Internal, format!("internal error (panic: {what})")))
    });
    LAST_ERROR.with(|last| {
        let mut last = last.borrow_mut();
        last.clear();
        match outcome {
            Ok(()) => Status::Ok,
            Err(e) => {
                last.push_str(&format!("{name}: {}", e.message));
                e.status
            }
        }
    })
}

/// Fails with a null-argument error naming `what` when `p` is null.
pub(crate) fn non_null<T>(p: *const T, what: &str) -> Result<()> {
    if p.is_null() {
        Err(Error::null(format!("{what} is NULL")))
    } else {
        Ok(())
    }
}

/// Copies the calling thread's last error message (empty after a success) into
/// `buf` (`len` bytes, always NUL-terminated, truncated if needed).
#[no_mangle]
pub unsafe extern "C" fn dgampi_last_error_message(buf: *mut c_char, len: usize) -> Status {
    if buf.is_null() || len == 0 {
        return Status::NullArgument;
    }
    LAST_ERROR.with(|last| {
        let last = last.borrow();
        let n = last.len().min(len - 1);
        std::ptr::copy_nonoverlapping(last.as_ptr() as *const c_char, buf, n);
        *buf.add(n) = 0;
    });
    Status::Ok
}

static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// Stores a pointer to the library version string (static, NUL-terminated) in `*version`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_version(version: *mut *const c_char) -> Status {
    guard("dgampi_version", || {
        non_null(version, "version")?;
        *version = VERSION.as_ptr() as *const c_char;
        Ok(())
    })
}

/// Releases memory the library allocated for the caller (NULL is ignored).
#[no_mangle]
pub unsafe extern "C" fn dgampi_free(ptr: *mut c_void) -> Status {
    guard("dgampi_free", || {
        libc::free(ptr);
        Ok(())
    })
}

/// Allocates `bytes` with malloc for a buffer handed to the caller (NULL for 0 bytes).
pub(crate) fn malloc_for_caller(bytes: usize) -> Result<*mut u8> {
    if bytes == 0 {
        return Ok(std::ptr::null_mut());
    }
    // SAFETY: plain malloc; released by dgampi_free.
    let p = unsafe { libc::malloc(bytes) } as *mut u8;
    if p.is_null() {
        return Err(Error::new(Status::AllocationFailed, format!("cannot allocate {bytes} bytes")));
    }
    crate::buffer::advise_huge_pages(p, bytes);
    Ok(p)
}

/// Sets the process-wide message limit in bytes (1 ..= 2147483647).
#[no_mangle]
pub extern "C" fn dgampi_set_max_message_bytes(bytes: usize) -> Status {
    guard("dgampi_set_max_message_bytes", || set_max_message_bytes(bytes))
}

/// Stores the process-wide message limit in `*bytes`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_max_message_bytes(bytes: *mut usize) -> Status {
    guard("dgampi_max_message_bytes", || {
        non_null(bytes, "bytes")?;
        *bytes = max_message_bytes();
        Ok(())
    })
}

/// Stores in `*rows` how many whole rows of `row_bytes` fit one message under
/// `limit` (0 = process-wide limit); at least 1.
#[no_mangle]
pub unsafe extern "C" fn dgampi_chunk_step(row_bytes: usize, limit: usize, rows: *mut usize) -> Status {
    guard("dgampi_chunk_step", || {
        non_null(rows, "rows")?;
        *rows = chunk_step(row_bytes, resolve_limit(limit)?);
        Ok(())
    })
}

/// Stores in `*count` the number of messages for `nrows` rows of `row_bytes`
/// bytes under `limit` (0 = process-wide), and, when `chunk` is not NULL, the
/// bounds of message `index` in `*chunk`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_row_chunks(
    nrows: usize,
    row_bytes: usize,
    limit: usize,
    index: usize,
    count: *mut usize,
    chunk: *mut Chunk,
) -> Status {
    guard("dgampi_row_chunks", || {
        non_null(count, "count")?;
        let plan = RowChunks::new(nrows, row_bytes, resolve_limit(limit)?)?;
        *count = plan.count();
        if !chunk.is_null() {
            if index >= plan.count() {
                return Err(Error::out_of_range(format!("chunk index {index} is outside 0..{}", plan.count())));
            }
            *chunk = plan.get(index);
        }
        Ok(())
    })
}
