//! Strided array descriptors of the C ABI.

use crate::buffer::{RawArray, MAX_NDIM};
use crate::element::DType;
use crate::error::{Error, Result};
use crate::ffi::core::non_null;
use std::os::raw::c_void;

/// Largest `ndim` of an array descriptor.
pub const DGAMPI_MAX_NDIM: usize = 32;
const _: () = assert!(DGAMPI_MAX_NDIM == MAX_NDIM);

/// A borrowed array: `data` with `ndim` axes of lengths `shape[k]`, element
/// type `dtype` (a `dgampi_dtype` code) and byte `strides[k]` (NULL strides =
/// C-contiguous). Axis 0 is the row (distributed) axis. `data` may be NULL
/// only for an empty array.
#[allow(non_camel_case_types)]
#[repr(C)]
pub struct dgampi_array {
    /// First element.
    pub data: *mut c_void,
    /// Element type code (`dgampi_dtype`).
    pub dtype: i32,
    /// Number of axes (1 ..= DGAMPI_MAX_NDIM).
    pub ndim: i32,
    /// Axis lengths, `ndim` entries.
    pub shape: *const i64,
    /// Byte strides, `ndim` entries, or NULL for C-contiguous.
    pub strides: *const i64,
}

/// An array allocated by the library for the caller: release `data` with
/// `dgampi_free`. `data` is NULL when the array is empty.
#[allow(non_camel_case_types)]
#[repr(C)]
pub struct dgampi_owned_array {
    /// First element (malloc'ed, C-contiguous), or NULL if empty.
    pub data: *mut c_void,
    /// Element type code (`dgampi_dtype`).
    pub dtype: i32,
    /// Number of axes.
    pub ndim: i32,
    /// Axis lengths; entries past `ndim` are 0.
    pub shape: [i64; DGAMPI_MAX_NDIM],
}

/// Validates and converts a shape given as `ndim` int64 values.
pub(crate) unsafe fn shape_from_c(ndim: i32, shape: *const i64) -> Result<Vec<usize>> {
    if ndim < 1 || ndim as usize > MAX_NDIM {
        return Err(Error::invalid(format!("ndim = {ndim} is outside 1..={MAX_NDIM}")));
    }
    non_null(shape, "shape")?;
    let dims = std::slice::from_raw_parts(shape, ndim as usize);
    dims.iter()
        .enumerate()
        .map(|(k, &n)| usize::try_from(n).map_err(|_| Error::invalid(format!("shape[{k}] = {n} is negative"))))
        .collect()
}

/// Converts a descriptor pointer into a [`RawArray`], validating every field.
pub(crate) unsafe fn raw_from_c(a: *const dgampi_array, what: &str) -> Result<RawArray> {
    non_null(a, what)?;
    let a = &*a;
    let dtype = DType::from_code(a.dtype)?;
    let shape = shape_from_c(a.ndim, a.shape)?;
    let strides = if a.strides.is_null() {
        None
    } else {
        let strides = std::slice::from_raw_parts(a.strides, shape.len()).iter().enumerate().map(|(k, &s)| {
            isize::try_from(s).map_err(|_| Error::out_of_range(format!("{what}: strides[{k}] = {s} does not fit the address space")))
        });
        Some(strides.collect::<Result<Vec<isize>>>()?)
    };
    RawArray::new(a.data as *mut u8, dtype, shape, strides)
        .map_err(|e| Error::new(e.status, format!("{what}: {}", e.message)))
}

/// Converts an output descriptor: [`raw_from_c`], then
/// [`crate::primitives::check_output`] (no two elements may share memory).
pub(crate) unsafe fn out_from_c(a: *const dgampi_array, what: &str) -> Result<RawArray> {
    let out = raw_from_c(a, what)?;
    crate::primitives::check_output(&out, what)?;
    Ok(out)
}

/// Fills an owned-array record.
pub(crate) fn fill_owned(out: &mut dgampi_owned_array, data: *mut u8, dtype: DType, shape: &[usize]) {
    out.data = data as *mut c_void;
    out.dtype = dtype as i32;
    out.ndim = shape.len() as i32;
    out.shape = [0; DGAMPI_MAX_NDIM];
    for (k, n) in shape.iter().enumerate() {
        out.shape[k] = *n as i64;
    }
}

/// Bytes of a C-contiguous array described by a header (checked product:
/// the header may come from another rank).
pub(crate) fn header_bytes(h: &crate::collective::ArrayHeader) -> Result<usize> {
    h.shape
        .iter()
        .try_fold(h.dtype.size(), |acc, &n| acc.checked_mul(n))
        .filter(|&b| b <= isize::MAX as usize)
        .ok_or_else(|| Error::out_of_range(format!("a {:?} {} array is too large to address", h.shape, h.dtype.name())))
}

/// Library-allocated output arrays handed to the caller as `dgampi_owned_array`.
///
/// `alloc` mallocs storage for a header (the `Destination::Alloc` callback);
/// `finish` hands it over; dropping it unfinished (an error path) frees it.
#[derive(Default)]
pub(crate) struct OwnedAlloc {
    data: *mut u8,
    header: Option<(DType, Vec<usize>)>,
}

impl OwnedAlloc {
    /// Allocates C-contiguous storage for `h` and describes it.
    pub(crate) fn alloc(&mut self, h: &crate::collective::ArrayHeader) -> Result<RawArray> {
        let bytes = header_bytes(h)?;
        self.release();
        self.data = crate::ffi::core::malloc_for_caller(bytes)?;
        self.header = Some((h.dtype, h.shape.clone()));
        // SAFETY: data holds `bytes` bytes (or is null for an empty array).
        unsafe { RawArray::new(self.data, h.dtype, h.shape.clone(), None) }
    }

    /// Writes the allocation into `out` (an empty record when nothing was allocated).
    pub(crate) fn finish(mut self, out: &mut dgampi_owned_array) {
        match self.header.take() {
            Some((dtype, shape)) => fill_owned(out, self.data, dtype, &shape),
            None => {
                out.data = std::ptr::null_mut();
                out.dtype = 0;
                out.ndim = 0;
                out.shape = [0; DGAMPI_MAX_NDIM];
            }
        }
        self.data = std::ptr::null_mut();
    }

    /// Like [`OwnedAlloc::finish`], for a broadcast: a rank that allocated
    /// nothing (the root) gets the broadcast's `header` with `data` NULL,
    /// owning nothing (the convention of every broadcast of the C ABI).
    pub(crate) fn finish_bcast(mut self, out: &mut dgampi_owned_array, header: &crate::collective::ArrayHeader) {
        match self.header.take() {
            Some((dtype, shape)) => fill_owned(out, self.data, dtype, &shape),
            None => fill_owned(out, std::ptr::null_mut(), header.dtype, &header.shape),
        }
        self.data = std::ptr::null_mut();
    }

    fn release(&mut self) {
        // SAFETY: data came from malloc_for_caller (or is null).
        unsafe { libc::free(self.data as *mut c_void) };
        self.data = std::ptr::null_mut();
    }
}

impl Drop for OwnedAlloc {
    fn drop(&mut self) {
        self.release();
    }
}
