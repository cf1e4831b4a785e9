//! Status plumbing, version, memory release and the process-wide limit.

use crate::bounds::{chunk_step, Chunk, RowChunks};
use crate::error::{Error, Result, Status};
use crate::limit::{resolve_limit, set_max_message_bytes};
use std::cell::RefCell;
use std::os::raw::{c_char, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Source of handle values, shared by every handle type: each object handed
/// to C gets a number never given out before, so a destroyed handle stays
/// invalid even when the allocator reuses its object's address, and a handle
/// of one type is never a live handle of another.
static NEXT_HANDLE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

/// The live handles of one opaque type: the value C holds is an id from a
/// monotonic counter, mapped here to the boxed object, so a NULL, stale or
/// foreign value is reported as `DGAMPI_STATUS_INVALID_HANDLE` instead of
/// being dereferenced.
pub(crate) struct LiveHandles(std::sync::Mutex<Option<std::collections::HashMap<usize, usize>>>);

impl LiveHandles {
    /// An empty registry.
    pub(crate) const fn new() -> LiveHandles {
        LiveHandles(std::sync::Mutex::new(None))
    }

    fn map(&self) -> std::sync::MutexGuard<'_, Option<std::collections::HashMap<usize, usize>>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes ownership of `object` and returns the new handle value for C.
    pub(crate) fn insert<T>(&self, object: Box<T>) -> *mut T {
        let id = NEXT_HANDLE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.map().get_or_insert_with(Default::default).insert(id, Box::into_raw(object) as usize);
        id as *mut T
    }

    /// The object behind handle `h`; `kind` names the handle type in the message.
    pub(crate) fn get<T>(&self, h: *mut T, kind: &str) -> Result<*mut T> {
        if h.is_null() {
            return Err(Error::new(Status::InvalidHandle, format!("the {kind} handle is NULL")));
        }
        match self.map().as_ref().and_then(|m| m.get(&(h as usize))) {
            Some(&object) => Ok(object as *mut T),
            None => Err(Error::new(Status::InvalidHandle, format!("{h:p} is not a live {kind} (destroyed, or never created)"))),
        }
    }

    /// Forgets handle `h` and gives its object back (to be dropped).
    pub(crate) fn remove<T>(&self, h: *mut T, kind: &str) -> Result<Box<T>> {
        if h.is_null() {
            return Err(Error::new(Status::InvalidHandle, format!("the {kind} handle is NULL")));
        }
        let object = self.map().as_mut().and_then(|m| m.remove(&(h as usize))).ok_or_else(|| {
            Error::new(Status::InvalidHandle, format!("{h:p} is not a live {kind} (destroyed, or never created)"))
        })?;
        // SAFETY: `object` came from Box::into_raw in `insert` and was just unregistered.
        Ok(unsafe { Box::from_raw(object as *mut T) })
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
/// `buf` (`len` bytes, always NUL-terminated; a longer message is truncated at
/// a UTF-8 character boundary).
#[no_mangle]
pub unsafe extern "C" fn dgampi_last_error_message(buf: *mut c_char, len: usize) -> Status {
    if buf.is_null() || len == 0 {
        return Status::NullArgument;
    }
    LAST_ERROR.with(|last| {
        let last = last.borrow();
        // Cut at a character boundary, so the copy is valid UTF-8.
        let mut n = last.len().min(len - 1);
        while !last.is_char_boundary(n) {
            n -= 1;
        }
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

/// Stores the process-wide message limit in `*bytes`. Fails (with the status
/// of the value: `DGAMPI_STATUS_INVALID_ARGUMENT` for text that is not an
/// integer, `DGAMPI_STATUS_OUT_OF_RANGE` for 0 or above 2^31-1) while the
/// environment's `DGAMPI_MAX_MESSAGE_BYTES` is invalid and no limit was set,
/// like every call that uses the process-wide limit.
#[no_mangle]
pub unsafe extern "C" fn dgampi_max_message_bytes(bytes: *mut usize) -> Status {
    guard("dgampi_max_message_bytes", || {
        non_null(bytes, "bytes")?;
        *bytes = resolve_limit(0)?;
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
