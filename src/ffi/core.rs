//! Status plumbing, version, memory release and the process-wide limit.

use crate::bounds::{chunk_step, Chunk, RowChunks};
use crate::error::{Error, Result, Status};
use crate::limit::{resolve_limit, set_max_message_bytes};
use std::cell::RefCell;
use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_void};
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

/// The size-query convention of every function that returns text in a
/// caller buffer (`buf`, `len`, `needed`): stores the bytes the text needs,
/// NUL included, in `*needed` (when not NULL) on success and on
/// `OUT_OF_RANGE`; `buf` NULL is a pure size query (`needed` is then
/// required); otherwise copies the longest prefix that fits in `len - 1`
/// bytes, cut at a UTF-8 character boundary, NUL-terminated, and fails with
/// `OUT_OF_RANGE` when the text was cut (`len` 0: nothing written).
pub(crate) unsafe fn write_text(text: &str, buf: *mut c_char, len: usize, needed: *mut usize, what: &str) -> Result<()> {
    let need = text.len() + 1;
    if !needed.is_null() {
        *needed = need;
    }
    if buf.is_null() {
        if needed.is_null() {
            return Err(Error::null("buf and needed are both NULL (pass needed to query the size)"));
        }
        return Ok(());
    }
    if len == 0 {
        return Err(Error::out_of_range(format!("buf has 0 bytes but {what} needs {need}")));
    }
    // Cut at a character boundary, so the copy is valid UTF-8.
    let mut n = text.len().min(len - 1);
    while !text.is_char_boundary(n) {
        n -= 1;
    }
    std::ptr::copy_nonoverlapping(text.as_ptr() as *const c_char, buf, n);
    *buf.add(n) = 0;
    if n < text.len() {
        return Err(Error::out_of_range(format!("buf has {len} bytes but {what} needs {need}")));
    }
    Ok(())
}

/// Copies the calling thread's last error message (empty after a success)
/// into `buf`, following the size-query convention (see the header's
/// conventions): `*needed` (may be NULL) receives the bytes the whole
/// message needs, NUL included; `buf` NULL queries that size; a shorter
/// `buf` receives the message cut at a UTF-8 character boundary and
/// NUL-terminated, and the call returns `DGAMPI_STATUS_OUT_OF_RANGE`. Never
/// changes the stored message (it is not itself an error of the thread).
#[no_mangle]
pub unsafe extern "C" fn dgampi_last_error_message(buf: *mut c_char, len: usize, needed: *mut usize) -> Status {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        LAST_ERROR.with(|last| write_text(&last.borrow(), buf, len, needed, "the message"))
    }));
    match outcome {
        Ok(Ok(())) => Status::Ok,
        Ok(Err(e)) => e.status,
        Err(_) => Status::Internal,
    }
}

static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// Stores a pointer to the library version string (static, NUL-terminated,
/// e.g. "0.2.0") in `*version`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_version(version: *mut *const c_char) -> Status {
    guard("dgampi_version", || {
        non_null(version, "version")?;
        *version = VERSION.as_ptr() as *const c_char;
        Ok(())
    })
}

/// The library's version numbers (major, minor, patch).
fn version_numbers() -> (c_int, c_int, c_int) {
    let part = |s: &str| s.parse::<c_int>().unwrap_or(0);
    (part(env!("CARGO_PKG_VERSION_MAJOR")), part(env!("CARGO_PKG_VERSION_MINOR")), part(env!("CARGO_PKG_VERSION_PATCH")))
}

/// Stores the loaded library's version numbers in `*major`, `*minor` and
/// `*patch` (each may be NULL). Compare with the header's
/// `DGAMPI_VERSION_MAJOR` / `_MINOR` / `_PATCH`, or call
/// `DGAMPI_CHECK_VERSION()`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_version_numbers(major: *mut c_int, minor: *mut c_int, patch: *mut c_int) -> Status {
    guard("dgampi_version_numbers", || {
        let (ma, mi, pa) = version_numbers();
        for (p, v) in [(major, ma), (minor, mi), (patch, pa)] {
            if !p.is_null() {
                *p = v;
            }
        }
        Ok(())
    })
}

/// Stores the MPI ABI family this library was compiled for (a
/// `dgampi_mpi_family`) in `*family` and a pointer to the implementation and
/// version its `mpi.h` declares ("Open MPI 4.1.4", "MPICH 4.0.2"; static,
/// NUL-terminated) in `*version`; either may be NULL. Calls no MPI function.
#[no_mangle]
pub unsafe extern "C" fn dgampi_mpi_build(family: *mut c_int, version: *mut *const c_char) -> Status {
    guard("dgampi_mpi_build", || {
        let build = crate::mpi_abi::mpi_build();
        if !family.is_null() {
            *family = build.family as c_int;
        }
        if !version.is_null() {
            *version = crate::mpi_abi::header_version().as_ptr();
        }
        Ok(())
    })
}

/// Checks that this library can run beside the MPI whose
/// `MPI_Get_library_version` text is `library_version` (NUL-terminated):
/// `DGAMPI_STATUS_MISMATCH`, with a message naming both, when that MPI is of
/// the other ABI family (Open MPI against the MPICH family: MPICH, Intel MPI,
/// MVAPICH, Cray MPICH). A text naming no known family passes. Calls no MPI
/// function: a binding whose process loaded its MPI some other way (Python's
/// mpi4py) calls it before anything else.
#[no_mangle]
pub unsafe extern "C" fn dgampi_check_mpi_library(library_version: *const c_char) -> Status {
    guard("dgampi_check_mpi_library", || {
        non_null(library_version, "library_version")?;
        let text = CStr::from_ptr(library_version).to_string_lossy();
        crate::mpi_abi::check_mpi_library(&text)
    })
}

/// Checks that the loaded library serves a caller compiled against the
/// header of version `major.minor` (pass `DGAMPI_VERSION_MAJOR` and
/// `DGAMPI_VERSION_MINOR`, or use `DGAMPI_CHECK_VERSION()`): for 0.x the
/// major and minor versions must be equal (every 0.x minor release may
/// change the ABI; the soname is `libdgampi.so.0.MINOR`); from 1.0 the
/// majors must be equal and the library's minor at least the header's.
/// Otherwise `DGAMPI_STATUS_MISMATCH` with a message naming both versions.
#[no_mangle]
pub extern "C" fn dgampi_check_version(major: c_int, minor: c_int) -> Status {
    guard("dgampi_check_version", || {
        let (ma, mi, _) = version_numbers();
        let ok = major == ma && if ma == 0 { minor == mi } else { minor <= mi };
        if ok {
            return Ok(());
        }
        let rule = if ma == 0 { "0.x releases are compatible only within the same minor version" } else { "the major versions must be equal and the library's minor version at least the header's" };
        Err(Error::new(
            Status::Mismatch,
            format!(
                "the caller was compiled against dgampi {major}.{minor} (dgampi.h) but the loaded library is {} ({}); {rule}: \
                 rebuild against the installed header or load the matching library",
                env!("CARGO_PKG_VERSION"),
                env!("DGAMPI_SONAME")
            ),
        ))
    })
}

/// Releases memory the library allocated for the caller (NULL is ignored).
/// Like `free` it cannot fail, and it leaves the thread's last error
/// message as it was: a deallocation between a failing call and the read of
/// its message (a garbage collector freeing a result) cannot erase it.
#[no_mangle]
pub unsafe extern "C" fn dgampi_free(ptr: *mut c_void) -> Status {
    libc::free(ptr);
    Status::Ok
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

/// Sets the process-wide exchange path (`dgampi_exchange_path`: auto,
/// point-to-point or collective) that plans created afterwards use; it
/// replaces the environment's `DGAMPI_EXCHANGE_PATH`. Every rank must use
/// the same setting (a plan's creation checks it).
#[no_mangle]
pub extern "C" fn dgampi_set_exchange_path(path: i32) -> Status {
    guard("dgampi_set_exchange_path", || {
        crate::route::set_exchange_path(crate::route::ExchangePath::from_code(path)?);
        Ok(())
    })
}

/// Stores the process-wide exchange path (`dgampi_exchange_path`) in
/// `*path`. Fails with `DGAMPI_STATUS_INVALID_ARGUMENT` while the
/// environment's `DGAMPI_EXCHANGE_PATH` is invalid and no path was set.
#[no_mangle]
pub unsafe extern "C" fn dgampi_get_exchange_path(path: *mut i32) -> Status {
    guard("dgampi_get_exchange_path", || {
        non_null(path, "path")?;
        *path = crate::route::exchange_path()? as i32;
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
