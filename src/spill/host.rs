//! The host program's HDF5 state: every HDF5 call dgampi makes runs inside
//! [`scoped`], which leaves the calling thread's error printing as it found it
//! and keeps HDF5's at-exit cleanup switched on.
//!
//! `hdf5-metno` changes both on first use: it calls `H5dont_atexit` before
//! initializing the library (so HDF5 would not close the host's open files at
//! exit) and switches off the error printing of every thread it runs in
//! (`H5Eset_auto2(H5E_DEFAULT, NULL, NULL)`, for good). [`scoped`] initializes
//! HDF5 itself first (`H5open`, so HDF5 registers its at-exit cleanup as it
//! would for the host; `H5dont_atexit` afterwards has no effect), and saves the
//! thread's error handler, silences it for dgampi's own calls (their failures
//! come back as statuses with HDF5's message) and restores it afterwards.

use hdf5_sys::h5e::{H5E_auto2_t, H5Eget_auto2, H5Eset_auto2, H5E_DEFAULT};
use std::os::raw::c_void;

/// Restores a thread's saved error handler when dropped.
struct Restore(Option<(H5E_auto2_t, *mut c_void)>);

impl Drop for Restore {
    fn drop(&mut self) {
        if let Some((func, data)) = self.0 {
            // SAFETY: puts back the handler and client data HDF5 gave us.
            unsafe { H5Eset_auto2(H5E_DEFAULT, func, data) };
        }
    }
}

/// Runs `f` (which may call HDF5 through `hdf5-metno`) with HDF5 initialized
/// the default way, under the library lock, with error printing off, and puts
/// the thread's error handler back afterwards, also when `f` panics.
pub(crate) fn scoped<R>(f: impl FnOnce() -> R) -> R {
    let _lock = hdf5_sys::LOCK.lock();
    // SAFETY: HDF5 C calls with valid out pointers, serialized by the lock.
    let saved = unsafe {
        hdf5_sys::h5::H5open();
        let mut func: H5E_auto2_t = None;
        let mut data: *mut c_void = std::ptr::null_mut();
        let got = H5Eget_auto2(H5E_DEFAULT, &mut func, &mut data) >= 0;
        H5Eset_auto2(H5E_DEFAULT, None, std::ptr::null_mut());
        got.then_some((func, data))
    };
    // Declared after the lock, so dropped (restored) before it is released.
    let _restore = Restore(saved);
    f()
}
