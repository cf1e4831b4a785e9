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
//! thread's error handler (installed through `H5Eset_auto2` or the older
//! `H5Eset_auto1`), silences it for dgampi's own calls (their failures come
//! back as statuses with HDF5's message) and restores it afterwards.

#![allow(deprecated)] // H5E_auto1_t, H5Eget_auto1, H5Eset_auto1: a host may use them.

use hdf5_sys::h5e::{
    H5E_auto1_t, H5E_auto2_t, H5Eauto_is_v2, H5Eget_auto1, H5Eget_auto2, H5Eset_auto1, H5Eset_auto2,
    H5E_DEFAULT,
};
use std::os::raw::c_void;

/// A thread's error handler, as installed by the host.
enum Saved {
    V2(H5E_auto2_t, *mut c_void),
    V1(H5E_auto1_t, *mut c_void),
}

/// Restores a thread's saved error handler when dropped.
struct Restore(Option<Saved>);

impl Drop for Restore {
    fn drop(&mut self) {
        // SAFETY: puts back the handler and client data HDF5 gave us.
        unsafe {
            match self.0 {
                Some(Saved::V2(func, data)) => {
                    H5Eset_auto2(H5E_DEFAULT, func, data);
                }
                Some(Saved::V1(func, data)) => {
                    H5Eset_auto1(func, data);
                }
                None => {}
            }
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
        let mut data: *mut c_void = std::ptr::null_mut();
        let mut v2: H5E_auto2_t = None;
        let mut v1: H5E_auto1_t = None;
        // Asked first: the getter of the wrong version fails, and its failure
        // would be reported through the host's handler.
        let mut is_v2: std::os::raw::c_uint = 1;
        H5Eauto_is_v2(H5E_DEFAULT, &mut is_v2);
        let saved = if is_v2 != 0 {
            (H5Eget_auto2(H5E_DEFAULT, &mut v2, &mut data) >= 0).then_some(Saved::V2(v2, data))
        } else {
            (H5Eget_auto1(&mut v1, &mut data) >= 0).then_some(Saved::V1(v1, data))
        };
        if saved.is_some() {
            H5Eset_auto2(H5E_DEFAULT, None, std::ptr::null_mut());
        }
        saved
    };
    // Declared after the lock, so dropped (restored) before it is released.
    let _restore = Restore(saved);
    f()
}
