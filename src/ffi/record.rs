//! Extensible records of the C ABI (`dgampi_fft_options`,
//! `dgampi_orbital_transform`): one pattern for every options record.
//!
//! The first field is `size_t struct_size`, the size of the record as the
//! caller compiled it (`sizeof`), set by the record's `*_init` function. A
//! later release may append fields; it never moves, removes or retypes one.
//! The library
//! - accepts any `struct_size` from the record's first layout (its
//!   `*_MIN_SIZE`, the 0.2 layout) up to [`MAX_RECORD_BYTES`], a multiple of
//!   the record's alignment (8); zero, smaller, larger or misaligned values
//!   are `DGAMPI_STATUS_INVALID_ARGUMENT` naming the record;
//! - reads only the fields that fit in `struct_size` (an older caller's
//!   record) and gives every later field its default (fields appended later
//!   have 0 as their default, so a zeroed tail means "defaults");
//! - accepts a newer caller's larger record when every byte past the layout
//!   it knows is zero, and refuses it (`DGAMPI_STATUS_INVALID_ARGUMENT`)
//!   when the caller set an option this library does not know.

use crate::error::{Error, Result};
use crate::ffi::core::non_null;

/// Largest `struct_size` accepted: a bound that catches an uninitialized
/// (garbage) `struct_size` before the library reads that many bytes.
pub const DGAMPI_MAX_RECORD_BYTES: usize = 4096;
use DGAMPI_MAX_RECORD_BYTES as MAX_RECORD_BYTES;

/// A `#[repr(C)]` record whose first field is `struct_size: usize`.
///
/// # Safety
/// Implementors are `#[repr(C)]`, start with a `usize` field, hold only
/// plain data (any bit pattern of a prefix, defaults elsewhere, is a value).
pub(crate) unsafe trait Extensible: Copy {
    /// C name, for messages.
    const NAME: &'static str;
    /// Size of the first layout that had `struct_size` (the smallest accepted).
    const MIN_SIZE: usize;
    /// The record with every field at its default (`struct_size` included).
    fn defaults() -> Self;
}

/// Checks a caller's `struct_size` for record `T`.
fn check_size<T: Extensible>(size: usize) -> Result<()> {
    let align = std::mem::align_of::<T>();
    if size == 0 {
        return Err(Error::invalid(format!(
            "{}.struct_size is 0; initialize the record with {}_init(&record, sizeof record)",
            T::NAME,
            T::NAME
        )));
    }
    if size < T::MIN_SIZE || size > MAX_RECORD_BYTES || !size.is_multiple_of(align) {
        return Err(Error::invalid(format!(
            "{}.struct_size = {size} is not the size of a {} record (from {} to {MAX_RECORD_BYTES} bytes, a multiple of \
             {align}); initialize the record with {}_init(&record, sizeof record)",
            T::NAME,
            T::NAME,
            T::MIN_SIZE,
            T::NAME
        )));
    }
    Ok(())
}

/// Reads the caller's record `p` (NULL = defaults): its fields that fit in
/// its `struct_size`, defaults for the rest; see the module documentation.
pub(crate) unsafe fn read<T: Extensible>(p: *const T) -> Result<T> {
    let mut record = T::defaults();
    if p.is_null() {
        return Ok(record);
    }
    let size = std::ptr::read_unaligned(p as *const usize);
    check_size::<T>(size)?;
    let known = std::mem::size_of::<T>();
    let bytes = std::slice::from_raw_parts(p as *const u8, size);
    if let Some(k) = bytes.iter().skip(known).position(|&b| b != 0) {
        return Err(Error::invalid(format!(
            "{}.struct_size = {size} and byte {} is not zero: the caller set a field that dgampi {} (whose {} has {known} \
             bytes) does not know; leave later fields zero or use a newer library",
            T::NAME,
            known + k,
            env!("CARGO_PKG_VERSION"),
            T::NAME
        )));
    }
    let n = size.min(known);
    std::ptr::copy_nonoverlapping(bytes.as_ptr(), &mut record as *mut T as *mut u8, n);
    Ok(record)
}

/// `*_init`: zeroes the caller's `struct_size` bytes at `p`, then writes the
/// defaults of the fields that fit and `struct_size` itself.
pub(crate) unsafe fn init<T: Extensible>(p: *mut T, size: usize) -> Result<()> {
    non_null(p, T::NAME)?;
    check_size::<T>(size)?;
    std::ptr::write_bytes(p as *mut u8, 0, size);
    let defaults = T::defaults();
    let n = size.min(std::mem::size_of::<T>());
    std::ptr::copy_nonoverlapping(&defaults as *const T as *const u8, p as *mut u8, n);
    std::ptr::write_unaligned(p as *mut usize, size);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A first layout ...
    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq)]
    struct V1 {
        struct_size: usize,
        a: i32,
        b: i32,
    }
    /// ... and the same record after a release appended `c` (default 7).
    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq)]
    struct V2 {
        struct_size: usize,
        a: i32,
        b: i32,
        c: u64,
    }
    // SAFETY: repr(C), struct_size first, plain integers valid for any bits.
    unsafe impl Extensible for V2 {
        const NAME: &'static str = "v2";
        const MIN_SIZE: usize = std::mem::size_of::<V1>();
        fn defaults() -> V2 {
            V2 { struct_size: std::mem::size_of::<V2>(), a: 1, b: 2, c: 7 }
        }
    }

    #[test]
    fn an_older_caller_gets_the_defaults_of_later_fields() {
        let old = V1 { struct_size: std::mem::size_of::<V1>(), a: 10, b: 20 };
        // SAFETY: `old` holds struct_size = size_of::<V1>() readable bytes.
        let r = unsafe { read::<V2>(&old as *const V1 as *const V2) }.unwrap();
        assert_eq!((r.a, r.b, r.c), (10, 20, 7));
    }

    #[test]
    fn a_newer_caller_is_accepted_with_a_zero_tail_only() {
        #[repr(C)]
        #[derive(Clone, Copy)]
        struct V3 {
            v2: V2,
            d: u64,
        }
        let mut new = V3 { v2: V2 { struct_size: std::mem::size_of::<V3>(), a: 3, b: 4, c: 5 }, d: 0 };
        // SAFETY: `new` holds struct_size readable bytes.
        let r = unsafe { read::<V2>(&new as *const V3 as *const V2) }.unwrap();
        assert_eq!((r.a, r.b, r.c), (3, 4, 5));
        new.d = 1;
        // SAFETY: as above.
        assert!(unsafe { read::<V2>(&new as *const V3 as *const V2) }.is_err());
    }

    #[test]
    fn bad_sizes_are_refused_and_init_fills_only_the_callers_bytes() {
        for size in [0, 8, 12, MAX_RECORD_BYTES + 8] {
            let mut r = V2::defaults();
            r.struct_size = size;
            // SAFETY: r is a whole V2; bad sizes are refused before any read past it.
            assert!(unsafe { read::<V2>(&r) }.is_err(), "size {size}");
        }
        let mut buf = [0xffu8; 32];
        // SAFETY: buf has room for the 16 bytes init writes.
        unsafe { init::<V2>(buf.as_mut_ptr() as *mut V2, std::mem::size_of::<V1>()) }.unwrap();
        // SAFETY: buf holds 32 initialized bytes.
        let old: V1 = unsafe { std::ptr::read_unaligned(buf.as_ptr() as *const V1) };
        assert_eq!(old, V1 { struct_size: 16, a: 1, b: 2 });
        assert!(buf[16..].iter().all(|&b| b == 0xff));
    }
}
