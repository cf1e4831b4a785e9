//! Type-erased strided arrays: the one representation every transfer works on.
//!
//! A `RawArray` (crate-internal) is a data pointer, a dtype, a shape and byte
//! strides. Rows are axis-0 slices. A C-contiguous array is sent and received
//! in place; any other layout is packed/unpacked one chunk at a time through a
//! staging buffer no larger than one message.
//!
//! The public API never hands out a `RawArray`: callers lend arrays through
//! [`ArrayRef`] (read) and [`ArrayMut`] (write), views whose lifetime ties
//! them to the borrowed memory, so safe code cannot write through a view of a
//! dropped or shared array.

use crate::element::{DType, Element};
use crate::error::{Error, Result, Status};
use ndarray::{ArrayBase, Data, DataMut, Dimension};
use std::marker::PhantomData;

/// Largest number of dimensions accepted (numpy's historical limit).
pub const MAX_NDIM: usize = 32;

/// Largest staging buffer a local strided copy uses (16 MiB).
const STAGING_CAP: usize = 1 << 24;

/// A type-erased, possibly strided array descriptor with no lifetime: the
/// crate-internal form every transfer works on. Whoever builds one vouches
/// that its memory stays valid (and, for outputs, exclusively writable) while
/// it is used; the public entry points build them only from [`ArrayRef`] and
/// [`ArrayMut`], whose borrows guarantee that for the length of the call.
#[derive(Clone, Debug)]
pub(crate) struct RawArray {
    ptr: *mut u8,
    dtype: DType,
    shape: Vec<usize>,
    /// Byte strides, one per axis.
    strides: Vec<isize>,
}

impl RawArray {
    /// Builds a descriptor after validating ndim, sizes and the null-pointer rule.
    ///
    /// # Safety
    /// `ptr` with `shape` and `strides` must describe memory valid for reads
    /// (and for writes if the array is written to) for the descriptor's lifetime.
    pub unsafe fn new(ptr: *mut u8, dtype: DType, shape: Vec<usize>, strides: Option<Vec<isize>>) -> Result<RawArray> {
        if shape.is_empty() || shape.len() > MAX_NDIM {
            return Err(Error::invalid(format!("ndim = {} is outside 1..={MAX_NDIM}", shape.len())));
        }
        let mut total = dtype.size();
        for &n in &shape {
            total = total.checked_mul(n).filter(|t| *t <= isize::MAX as usize).ok_or_else(|| {
                Error::out_of_range(format!("shape {shape:?} is too large to address"))
            })?;
        }
        if ptr.is_null() && total != 0 {
            return Err(Error::null(format!("data is null for a non-empty array of shape {shape:?}")));
        }
        let strides = match strides {
            Some(s) => {
                if s.len() != shape.len() {
                    return Err(Error::invalid("strides and shape have different lengths"));
                }
                s
            }
            None => contiguous_strides(&shape, dtype.size()),
        };
        let a = RawArray { ptr, dtype, shape, strides };
        a.byte_extent()?;
        Ok(a)
    }

    /// The byte offsets `(lowest, highest + 1)` relative to the data pointer
    /// that the array touches (`(0, 0)` when empty), in checked arithmetic:
    /// strides whose extent overflows the address space are an error.
    pub fn byte_extent(&self) -> Result<(isize, isize)> {
        if self.shape.contains(&0) {
            return Ok((0, 0));
        }
        let overflow = || Error::out_of_range(format!("strides {:?} of a {:?} array overflow the address space", self.strides, self.shape));
        let (mut lo, mut hi) = (0isize, 0isize);
        for (&n, &s) in self.shape.iter().zip(&self.strides) {
            let last = isize::try_from(n - 1).ok().and_then(|m| m.checked_mul(s)).ok_or_else(overflow)?;
            if last < 0 {
                lo = lo.checked_add(last).ok_or_else(overflow)?;
            } else {
                hi = hi.checked_add(last).ok_or_else(overflow)?;
            }
        }
        let end = hi.checked_add(self.dtype.size() as isize).ok_or_else(overflow)?;
        // The touched addresses must exist: ptr + lo and ptr + end must not wrap.
        let base = self.ptr as usize;
        let low_ok = if lo < 0 { base.checked_sub(lo.unsigned_abs()).is_some() } else { true };
        if !low_ok || base.checked_add(end as usize).is_none() {
            return Err(overflow());
        }
        Ok((lo, end))
    }

    /// The address range the array touches (empty for an empty array).
    pub fn address_range(&self) -> std::ops::Range<usize> {
        let (lo, hi) = self.byte_extent().unwrap_or((0, 0));
        let base = self.ptr as usize;
        base.wrapping_add_signed(lo)..base.wrapping_add_signed(hi)
    }

    /// True when the two arrays may share a byte (their address ranges intersect).
    pub fn overlaps(&self, other: &RawArray) -> bool {
        let (a, b) = (self.address_range(), other.address_range());
        !a.is_empty() && !b.is_empty() && a.start < b.end && b.start < a.end
    }

    /// True when the two arrays describe exactly the same elements (pointer,
    /// dtype, shape and strides of the non-trivial axes agree).
    pub fn same_elements(&self, other: &RawArray) -> bool {
        self.ptr == other.ptr
            && self.dtype == other.dtype
            && self.shape == other.shape
            && self.shape.iter().zip(self.strides.iter().zip(&other.strides)).all(|(&n, (a, b))| n <= 1 || a == b)
    }

    /// True unless the layout provably gives every element its own bytes:
    /// sorted by stride, each axis of length > 1 must step past the whole
    /// extent of the axes inside it. Stride-0 rows and overlapping rows fail;
    /// so do interleaved axes (possible only with hand-made strides), which
    /// outputs must not use.
    pub fn has_aliased_elements(&self) -> bool {
        // Sort the non-trivial axes by |stride|; each must clear the extent of the ones inside it.
        let mut axes: Vec<(usize, usize)> =
            self.shape.iter().zip(&self.strides).filter(|(&n, _)| n > 1).map(|(&n, &s)| (s.unsigned_abs(), n)).collect();
        if self.shape.contains(&0) {
            return false;
        }
        axes.sort_unstable();
        let mut inner = self.dtype.size();
        for (stride, n) in axes {
            if stride < inner {
                return true;
            }
            inner = stride.saturating_mul(n - 1).saturating_add(inner);
        }
        false
    }

    /// Describes an ndarray view (read-only use).
    pub fn from_ndarray<T: Element, S: Data<Elem = T>, D: Dimension>(a: &ArrayBase<S, D>) -> Result<RawArray> {
        let strides = a.strides().iter().map(|s| s * std::mem::size_of::<T>() as isize).collect();
        // SAFETY: the view's pointer, shape and strides describe valid memory.
        unsafe { RawArray::new(a.as_ptr() as *mut u8, T::DTYPE, a.shape().to_vec(), Some(strides)) }
    }

    /// Describes a mutable ndarray view.
    pub fn from_ndarray_mut<T: Element, S: DataMut<Elem = T>, D: Dimension>(a: &mut ArrayBase<S, D>) -> Result<RawArray> {
        let strides = a.strides().iter().map(|s| s * std::mem::size_of::<T>() as isize).collect();
        // SAFETY: the view's pointer, shape and strides describe valid, writable memory.
        unsafe { RawArray::new(a.as_mut_ptr() as *mut u8, T::DTYPE, a.shape().to_vec(), Some(strides)) }
    }

    /// Element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }
    /// Shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    /// Number of rows (length of axis 0).
    pub fn nrows(&self) -> usize {
        self.shape[0]
    }
    /// Bytes in one row.
    pub fn row_bytes(&self) -> usize {
        self.shape[1..].iter().product::<usize>() * self.dtype.size()
    }
    /// Bytes in the whole array.
    pub fn total_bytes(&self) -> usize {
        self.nrows() * self.row_bytes()
    }
    /// Trailing (per-row) shape.
    pub fn row_shape(&self) -> &[usize] {
        &self.shape[1..]
    }

    /// True when the array is C-contiguous (axes of length 1 and empty arrays ignore strides).
    pub fn is_contiguous(&self) -> bool {
        if self.shape.contains(&0) {
            return true;
        }
        let mut expected = self.dtype.size() as isize;
        for (n, s) in self.shape.iter().zip(&self.strides).rev() {
            if *n != 1 && *s != expected {
                return false;
            }
            expected *= *n as isize;
        }
        true
    }

    /// Pointer to logical byte `offset` when contiguous.
    pub fn contiguous_ptr(&self, offset: usize) -> Option<*mut u8> {
        if self.is_contiguous() {
            // SAFETY: offset <= total_bytes for every caller (chunk schedules).
            Some(unsafe { self.ptr.add(offset) })
        } else {
            None
        }
    }

    /// Pointer to row `r` when every row is one contiguous run (the trailing
    /// axes are C-contiguous, e.g. a column window of a 2-D array).
    pub fn row_ptr(&self, r: usize) -> Option<*mut u8> {
        let (run, outer) = self.runs();
        if outer > 1 || (outer == 1 && run != self.row_bytes()) || r >= self.nrows() {
            return None;
        }
        // SAFETY: r < nrows, so the row starts inside the array.
        Some(unsafe { self.ptr.offset(r as isize * self.strides[0]) })
    }

    /// Byte strides, one per axis.
    pub fn byte_strides(&self) -> &[isize] {
        &self.strides
    }

    /// Byte distance between consecutive rows.
    pub fn row_stride(&self) -> isize {
        self.strides[0]
    }

    /// Length in bytes of the innermost contiguous run and the axes outside it.
    fn runs(&self) -> (usize, usize) {
        let mut run = self.dtype.size();
        let mut outer_axes = self.shape.len();
        for k in (0..self.shape.len()).rev() {
            if self.strides[k] == run as isize || self.shape[k] == 1 {
                run *= self.shape[k];
                outer_axes = k;
            } else {
                break;
            }
        }
        (run, outer_axes)
    }

    /// Visits the memory backing logical bytes `[offset, offset + len)` in order.
    fn for_each_span(&self, offset: usize, len: usize, mut f: impl FnMut(*mut u8, usize, usize)) {
        let (run, outer) = self.runs();
        if run == 0 {
            return;
        }
        let mut done = 0;
        while done < len {
            let pos = offset + done;
            let (mut run_index, within) = (pos / run, pos % run);
            let mut addr = within as isize;
            for k in (0..outer).rev() {
                let i = run_index % self.shape[k];
                run_index /= self.shape[k];
                addr += i as isize * self.strides[k];
            }
            let n = (run - within).min(len - done);
            // SAFETY: addr is inside the described array (index < shape on every axis).
            f(unsafe { self.ptr.offset(addr) }, done, n);
            done += n;
        }
    }

    /// Copies logical bytes `[offset, offset + dst.len())` into `dst`.
    pub fn pack(&self, offset: usize, dst: &mut [u8]) {
        let base = dst.as_mut_ptr();
        self.for_each_span(offset, dst.len(), |src, at, n| {
            // SAFETY: src spans n readable bytes; dst has room at `at`.
            unsafe { std::ptr::copy_nonoverlapping(src, base.add(at), n) }
        });
    }

    /// Sub-view of rows `start..stop` (axis 0), sharing this array's memory.
    pub fn rows(&self, start: usize, stop: usize) -> RawArray {
        assert!(start <= stop && stop <= self.nrows(), "rows {start}..{stop} outside 0..{}", self.nrows());
        let mut shape = self.shape.clone();
        shape[0] = stop - start;
        // SAFETY: start <= nrows, so the offset stays inside (or one past) the array.
        let ptr = if start == stop { self.ptr } else { unsafe { self.ptr.offset(start as isize * self.strides[0]) } };
        RawArray { ptr, dtype: self.dtype, shape, strides: self.strides.clone() }
    }

    /// Sub-view of columns `range` of a 2-D array (axis 1), sharing its memory.
    pub fn columns(&self, range: std::ops::Range<usize>) -> RawArray {
        assert!(self.shape.len() == 2 && range.start <= range.end && range.end <= self.shape[1], "columns {range:?} of {:?}", self.shape);
        let mut shape = self.shape.clone();
        shape[1] = range.len();
        // SAFETY: start <= ncols, so the offset stays inside (or one past) every row.
        let ptr = if range.is_empty() { self.ptr } else { unsafe { self.ptr.offset(range.start as isize * self.strides[1]) } };
        RawArray { ptr, dtype: self.dtype, shape, strides: self.strides.clone() }
    }

    /// The same memory seen with another shape (C-contiguous arrays only,
    /// same element count).
    pub fn reshaped(&self, shape: Vec<usize>) -> Result<RawArray> {
        if !self.is_contiguous() || shape.iter().product::<usize>() != self.shape.iter().product::<usize>() {
            return Err(Error::invalid(format!("cannot view a {:?} array as {shape:?}", self.shape)));
        }
        // SAFETY: same memory and element count, C-contiguous.
        unsafe { RawArray::new(self.ptr, self.dtype, shape, None) }
    }

    /// The data pointer (first element).
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// A contiguous 1-D byte array over `len` bytes at `ptr`.
    ///
    /// # Safety
    /// `ptr` must be valid for `len` bytes (it may be null when `len` is 0).
    pub unsafe fn bytes(ptr: *mut u8, len: usize) -> RawArray {
        RawArray { ptr, dtype: DType::U8, shape: vec![len], strides: vec![1] }
    }

    /// Copies every element of `src` (same dtype and shape) into this array,
    /// through a staging buffer of at most `limit` bytes when either is strided.
    pub fn copy_from(&self, src: &RawArray, limit: usize) -> Result<()> {
        if src.dtype != self.dtype || src.shape != self.shape {
            return Err(Error::mismatch(format!(
                "cannot copy a {:?} {} array into a {:?} {} array",
                src.shape, src.dtype.name(), self.shape, self.dtype.name()
            )));
        }
        let total = self.total_bytes();
        match (src.contiguous_ptr(0), self.contiguous_ptr(0)) {
            (Some(from), Some(to)) => {
                if total > 0 && from != to {
                    // SAFETY: both spans hold `total` bytes; distinct arrays do not overlap.
                    unsafe { std::ptr::copy(from, to, total) }
                }
            }
            _ => {
                let mut staging = vec![0u8; limit.min(STAGING_CAP).clamp(1, total.max(1))];
                let mut off = 0;
                while off < total {
                    let n = staging.len().min(total - off);
                    src.pack(off, &mut staging[..n]);
                    self.unpack(off, &staging[..n]);
                    off += n;
                }
            }
        }
        Ok(())
    }

    /// Copies `src` into logical bytes `[offset, offset + src.len())`.
    pub fn unpack(&self, offset: usize, src: &[u8]) {
        self.for_each_span(offset, src.len(), |dst, at, n| {
            // SAFETY: dst spans n writable bytes; src holds n bytes at `at`.
            unsafe { std::ptr::copy_nonoverlapping(src.as_ptr().add(at), dst, n) }
        });
    }
}

/// A read-only view of an array lent to dgampi for `'a`: element type, shape
/// and byte strides of memory the caller keeps alive and unchanged while the
/// view exists. Built safely from an ndarray (or a slice), or unsafely from
/// raw parts. Axis 0 is the row (distributed) axis.
///
/// The borrow is what makes the view sound: the array cannot be dropped or
/// written while a view of it lives.
///
/// ```compile_fail
/// let a = ndarray::Array2::<f64>::zeros((4, 3));
/// let view = dgampi::ArrayRef::new(&a).unwrap();
/// drop(a); // error[E0505]: cannot move out of `a` because it is borrowed
/// let _ = view.shape();
/// ```
#[derive(Clone, Debug)]
pub struct ArrayRef<'a> {
    raw: RawArray,
    _borrow: PhantomData<&'a [u8]>,
}

impl<'a> ArrayRef<'a> {
    /// Views an ndarray (any memory order and strides).
    pub fn new<T: Element, S: Data<Elem = T>, D: Dimension>(a: &'a ArrayBase<S, D>) -> Result<ArrayRef<'a>> {
        Ok(ArrayRef { raw: RawArray::from_ndarray(a)?, _borrow: PhantomData })
    }

    /// Views a slice as a 1-D array (one element per row).
    pub fn from_slice<T: Element>(s: &'a [T]) -> ArrayRef<'a> {
        // SAFETY: the slice is valid for reads of s.len() elements for 'a.
        let raw = unsafe { RawArray::new(s.as_ptr() as *mut u8, T::DTYPE, vec![s.len()], None) };
        ArrayRef { raw: raw.expect("a slice is addressable"), _borrow: PhantomData }
    }

    /// Views `shape` elements of `dtype` at `ptr` with byte `strides` (`None`:
    /// C-contiguous). Validates ndim, sizes, address arithmetic and the rule
    /// that only an empty array may have a null pointer.
    ///
    /// # Safety
    /// Every element the shape and strides reach must be valid for reads, and
    /// must not be written by anyone, for all of `'a`.
    pub unsafe fn from_raw_parts(ptr: *const u8, dtype: DType, shape: &[usize], strides: Option<&[isize]>) -> Result<ArrayRef<'a>> {
        // SAFETY: forwarded to the caller's contract.
        let raw = unsafe { RawArray::new(ptr as *mut u8, dtype, shape.to_vec(), strides.map(<[isize]>::to_vec))? };
        Ok(ArrayRef { raw, _borrow: PhantomData })
    }

    /// Element type.
    pub fn dtype(&self) -> DType {
        self.raw.dtype()
    }

    /// Shape (axis 0 = rows).
    pub fn shape(&self) -> &[usize] {
        self.raw.shape()
    }

    /// Byte strides, one per axis.
    pub fn byte_strides(&self) -> &[isize] {
        self.raw.byte_strides()
    }

    /// The crate-internal descriptor (valid while `self` lives).
    pub(crate) fn raw(&self) -> &RawArray {
        &self.raw
    }
}

/// A writable view of an array lent to dgampi for `'a`, exclusively: nobody
/// else reads or writes the memory while the view exists. Built safely from
/// a mutable ndarray (or slice), or unsafely from raw parts. Not `Clone`:
/// use [`ArrayMut::reborrow`] to lend it to one call and keep it.
///
/// ```compile_fail
/// let mut a = ndarray::Array2::<f64>::zeros((4, 3));
/// let out = dgampi::ArrayMut::new(&mut a).unwrap();
/// let reader = dgampi::ArrayRef::new(&a).unwrap(); // error[E0502]: `a` is also borrowed as mutable
/// let _ = (out.shape(), reader.shape());
/// ```
#[derive(Debug)]
pub struct ArrayMut<'a> {
    raw: RawArray,
    _borrow: PhantomData<&'a mut [u8]>,
}

impl<'a> ArrayMut<'a> {
    /// Views a mutable ndarray (any memory order and strides).
    pub fn new<T: Element, S: DataMut<Elem = T>, D: Dimension>(a: &'a mut ArrayBase<S, D>) -> Result<ArrayMut<'a>> {
        Ok(ArrayMut { raw: RawArray::from_ndarray_mut(a)?, _borrow: PhantomData })
    }

    /// Views a mutable slice as a 1-D array.
    pub fn from_slice<T: Element>(s: &'a mut [T]) -> ArrayMut<'a> {
        // SAFETY: the slice is valid for exclusive reads and writes for 'a.
        let raw = unsafe { RawArray::new(s.as_mut_ptr() as *mut u8, T::DTYPE, vec![s.len()], None) };
        ArrayMut { raw: raw.expect("a slice is addressable"), _borrow: PhantomData }
    }

    /// Views `shape` elements of `dtype` at `ptr` with byte `strides` (`None`:
    /// C-contiguous), validated as [`ArrayRef::from_raw_parts`] does.
    ///
    /// # Safety
    /// Every element the shape and strides reach must be valid for reads and
    /// writes, and must not be accessed through any other pointer, for all of
    /// `'a`.
    pub unsafe fn from_raw_parts(ptr: *mut u8, dtype: DType, shape: &[usize], strides: Option<&[isize]>) -> Result<ArrayMut<'a>> {
        // SAFETY: forwarded to the caller's contract.
        let raw = unsafe { RawArray::new(ptr, dtype, shape.to_vec(), strides.map(<[isize]>::to_vec))? };
        Ok(ArrayMut { raw, _borrow: PhantomData })
    }

    /// A shorter-lived writable view of the same memory.
    pub fn reborrow(&mut self) -> ArrayMut<'_> {
        ArrayMut { raw: self.raw.clone(), _borrow: PhantomData }
    }

    /// A read-only view of the same memory, valid while it is not written.
    pub fn as_ref(&self) -> ArrayRef<'_> {
        ArrayRef { raw: self.raw.clone(), _borrow: PhantomData }
    }

    /// Element type.
    pub fn dtype(&self) -> DType {
        self.raw.dtype()
    }

    /// Shape (axis 0 = rows).
    pub fn shape(&self) -> &[usize] {
        self.raw.shape()
    }

    /// Byte strides, one per axis.
    pub fn byte_strides(&self) -> &[isize] {
        self.raw.byte_strides()
    }

    /// The crate-internal descriptor (valid, and exclusively writable, while `self` lives).
    pub(crate) fn raw(&self) -> &RawArray {
        &self.raw
    }
}

/// Asks for transparent huge pages on a fresh buffer of at least 4 MiB, so
/// that its first touch (by MPI, writing a received array) takes hundreds of
/// times fewer page faults. Advice only: failures are ignored.
pub(crate) fn advise_huge_pages(ptr: *mut u8, bytes: usize) {
    const MIN_BYTES: usize = 4 << 20;
    const PAGE: usize = 4096;
    if bytes < MIN_BYTES {
        return;
    }
    let start = (ptr as usize).div_ceil(PAGE) * PAGE;
    let end = (ptr as usize + bytes) / PAGE * PAGE;
    if end > start {
        // SAFETY: the page-aligned range lies inside the caller's allocation.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
    }
}

/// `n` zero elements whose memory is not written here (calloc-style zeroed
/// pages, with huge-page advice): a destination that MPI fills anyway.
/// Failing allocations are `AllocationFailed`, never an abort.
pub(crate) fn zeroed_vec<T: Element>(n: usize) -> Result<Vec<T>> {
    if n == 0 || std::mem::size_of::<T>() == 0 {
        return Ok(Vec::new());
    }
    let too_big = || Error::new(Status::AllocationFailed, format!("cannot allocate {n} elements of {}", T::DTYPE.name()));
    let layout = std::alloc::Layout::array::<T>(n).map_err(|_| too_big())?;
    // SAFETY: non-zero layout; Element types are valid when all bits are zero.
    unsafe {
        let p = std::alloc::alloc_zeroed(layout) as *mut T;
        if p.is_null() {
            return Err(too_big());
        }
        advise_huge_pages(p as *mut u8, layout.size());
        Ok(Vec::from_raw_parts(p, n, n))
    }
}

/// Total bytes of a batch of row copies from which they are written with
/// non-temporal stores (8 MiB): a destination that large does not stay in
/// cache, and a plain copy first reads every destination line it writes
/// (twice the memory traffic of the write alone).
pub(crate) const STREAMING_MIN_BYTES: usize = 8 << 20;

/// Copies `n` bytes from `src` to `dst` with non-temporal stores where the
/// target has them (SSE2 on x86_64; a plain copy elsewhere and for short
/// spans). [`store_fence`] must follow before another thread or process
/// reads the data.
///
/// # Safety
/// As `std::ptr::copy_nonoverlapping`: both spans valid, not overlapping.
pub(crate) unsafe fn copy_streaming(src: *const u8, dst: *mut u8, n: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_stream_si128};
        const LANE: usize = 16;
        let head = (dst as usize).wrapping_neg() % LANE;
        if n >= head + 4 * LANE {
            let body = (n - head) / LANE * LANE;
            std::ptr::copy_nonoverlapping(src, dst, head);
            for i in (head..head + body).step_by(LANE) {
                // SSE2 is part of x86_64; dst + i is 16-byte aligned and
                // both 16-byte spans lie inside the caller's spans.
                _mm_stream_si128(dst.add(i) as *mut __m128i, _mm_loadu_si128(src.add(i) as *const __m128i));
            }
            std::ptr::copy_nonoverlapping(src.add(head + body), dst.add(head + body), n - head - body);
            return;
        }
    }
    std::ptr::copy_nonoverlapping(src, dst, n);
}

/// Orders this thread's non-temporal stores before its later stores (and
/// before another thread or an MPI call reads them).
pub(crate) fn store_fence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE2 is part of x86_64.
    unsafe {
        std::arch::x86_64::_mm_sfence()
    };
}

/// A zeroed byte vector of `n` bytes, or `AllocationFailed`.
pub(crate) fn try_bytes(n: usize, what: &str) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| Error::new(Status::AllocationFailed, format!("cannot allocate {n} bytes for {what}")))?;
    v.resize(n, 0);
    Ok(v)
}

/// C-order byte strides of `shape` with elements of `elem` bytes.
pub(crate) fn contiguous_strides(shape: &[usize], elem: usize) -> Vec<isize> {
    let mut strides = vec![0isize; shape.len()];
    let mut acc = elem as isize;
    for k in (0..shape.len()).rev() {
        strides[k] = acc;
        acc *= shape[k].max(1) as isize;
    }
    strides
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{s, Array3};

    #[test]
    fn streaming_copies_every_byte_at_any_alignment_and_length() {
        let src: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        for from in 0..17 {
            for to in 0..17 {
                for n in [0, 1, 15, 16, 63, 64, 65, 79, 80, 81, 200, 983 - from.max(to)] {
                    let mut dst = vec![0xEEu8; 1000];
                    // SAFETY: both spans lie inside their vectors, which are distinct.
                    unsafe { copy_streaming(src.as_ptr().add(from), dst.as_mut_ptr().add(to), n) };
                    store_fence();
                    assert_eq!(&dst[to..to + n], &src[from..from + n], "from {from} to {to} n {n}");
                    assert!(dst[..to].iter().chain(&dst[to + n..]).all(|&b| b == 0xEE), "from {from} to {to} n {n}: wrote outside");
                }
            }
        }
    }

    #[test]
    fn pack_unpack_strided_view_matches_iteration_order() {
        let a = Array3::from_shape_fn((4, 5, 6), |(i, j, k)| (i * 100 + j * 10 + k) as f64);
        let view = a.slice(s![..;2, 1..4, ..;3]);
        let raw = RawArray::from_ndarray(&view).unwrap();
        assert!(!raw.is_contiguous());
        let expected: Vec<f64> = view.iter().copied().collect();
        let mut bytes = vec![0u8; raw.total_bytes()];
        // pack in awkward pieces (mid-element cuts) and compare
        let mut off = 0;
        while off < bytes.len() {
            let n = 5.min(bytes.len() - off);
            raw.pack(off, &mut bytes[off..off + n]);
            off += n;
        }
        let got: Vec<f64> = bytes.chunks(8).map(|c| f64::from_ne_bytes(c.try_into().unwrap())).collect();
        assert_eq!(got, expected);

        let mut b = Array3::<f64>::zeros((4, 5, 6));
        let mut target = b.slice_mut(s![..;2, 1..4, ..;3]);
        let raw_t = RawArray::from_ndarray_mut(&mut target).unwrap();
        raw_t.unpack(0, &bytes[..7]);
        raw_t.unpack(7, &bytes[7..]);
        assert_eq!(target.iter().copied().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn contiguity_and_validation() {
        let a = Array3::<f32>::zeros((2, 3, 4));
        assert!(RawArray::from_ndarray(&a).unwrap().is_contiguous());
        assert!(!RawArray::from_ndarray(&a.t()).unwrap().is_contiguous());
        // SAFETY: the descriptors are validated and never dereferenced.
        unsafe {
            assert!(RawArray::new(std::ptr::null_mut(), DType::F64, vec![3], None).is_err());
            assert!(RawArray::new(std::ptr::null_mut(), DType::F64, vec![0, 3], None).is_ok());
            assert!(RawArray::new(std::ptr::null_mut(), DType::F64, vec![], None).is_err());
        }
    }
}
