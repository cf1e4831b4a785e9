//! The per-rank HDF5 spill file: named datasets that let intermediate results
//! leave memory without write conflicts between ranks.
//!
//! Each rank owns one file, `{output_path}/{name}_Rank{rank:05d}.hdf5`
//! ([`SpillFile::path_for`]), so no two processes ever write the same file and
//! no parallel HDF5 is needed. Datasets are plain HDF5 datasets with native
//! types; complex numbers use the compound type h5py uses (fields `r` and `i`),
//! so the files open in h5py (as complex64 / complex128) and in `h5dump`.
//!
//! # Memory
//! A C-contiguous, element-aligned array is written and read in place: HDF5
//! transfers straight between the caller's buffer and the file, with no copy.
//! Any other layout goes through a staging buffer of at most
//! [`DEFAULT_STAGING_BYTES`] (settable per file with
//! [`SpillFile::set_staging_bytes`]), one hyperslab block at a time; rows
//! larger than the staging bound are split further along the inner axes, so the
//! bound holds for every shape.
//!
//! # Guarantees on failure
//! - Opening never truncates: an existing file is opened read/write, and a file
//!   that is not HDF5 is left untouched (the open fails with
//!   [`Status::Hdf5Error`]).
//! - A new dataset that fails to write is unlinked again, so it never shows up
//!   half-written under its name.
//! - Replacing a dataset writes the new data under a temporary sibling name
//!   first; the old dataset is unlinked and the new one renamed only once the
//!   new data is completely written. If the write fails, the old dataset is
//!   still there, unchanged. (The swap itself is two metadata operations; were
//!   the rename to fail after the unlink, the data stays under the temporary
//!   name, which ends in [`TEMP_SUFFIX`].)
//! - Other datasets are never touched by a write, read or removal.
//! - After every successful `write` and `remove` the file is flushed, so the
//!   file on disk is consistent at that point even if the process dies later.
//!
//! # Limitations
//! - HDF5 does not shrink files: space of removed or replaced datasets is
//!   reused for later datasets while the file stays open, but is not returned
//!   to the file system (run `h5repack` to compact a file that is kept).
//! - Dataset names must be valid UTF-8 paths of non-empty components without
//!   `.` / `..` components and without NUL; a leading `/` is accepted and
//!   ignored. Names ending in [`TEMP_SUFFIX`] are reserved.
//! - HDF5 (1.10 on Debian) uses advisory file locks; on file systems without
//!   lock support set `HDF5_USE_FILE_LOCKING=FALSE` in the environment.

use crate::buffer::RawArray;
use crate::element::{DType, Element};
use crate::error::{Error, Result, Status};
use hdf5::types::{FloatSize, IntSize, TypeDescriptor};
use hdf5::{Dataset, File, Hyperslab, LocationType, SliceOrIndex};
use ndarray::{ArrayViewD, IxDyn};
use num_complex::{Complex32, Complex64};
use std::path::{Path, PathBuf};

/// Default bound, in bytes, on the staging buffer used for strided arrays (64 MiB).
pub const DEFAULT_STAGING_BYTES: usize = 64 << 20;

/// Suffix of the temporary name a replacement is written under before the swap.
pub const TEMP_SUFFIX: &str = ".dgampi-tmp";

/// A per-rank HDF5 spill file. Opening is lazy: [`SpillFile::new`] touches
/// nothing, and `write` opens (creating directory and file) on first use.
#[derive(Debug)]
pub struct SpillFile {
    path: PathBuf,
    file: Option<File>,
    staging_bytes: usize,
}

/// Runs `$body` with `$T` bound to the Rust element type of `$dtype`.
macro_rules! with_dtype {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            DType::F32 => {
                type $T = f32;
                $body
            }
            DType::F64 => {
                type $T = f64;
                $body
            }
            DType::Complex64 => {
                type $T = Complex32;
                $body
            }
            DType::Complex128 => {
                type $T = Complex64;
                $body
            }
            DType::I32 => {
                type $T = i32;
                $body
            }
            DType::I64 => {
                type $T = i64;
                $body
            }
            DType::U8 => {
                type $T = u8;
                $body
            }
        }
    };
}

impl SpillFile {
    /// The spill file path of `rank`: `{output_path}/{name}_Rank{rank:05d}.hdf5`.
    pub fn path_for(output_path: &Path, name: &str, rank: i32) -> PathBuf {
        output_path.join(format!("{name}_Rank{rank:05}.hdf5"))
    }

    /// A handle for the file at `path`; opens nothing and creates nothing.
    pub fn new(path: PathBuf) -> SpillFile {
        SpillFile { path, file: None, staging_bytes: DEFAULT_STAGING_BYTES }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True while the HDF5 file is open.
    pub fn is_open(&self) -> bool {
        self.file.is_some()
    }

    /// The bound on the staging buffer for strided or unaligned arrays, in bytes.
    pub fn staging_bytes(&self) -> usize {
        self.staging_bytes
    }

    /// Sets the staging bound (default [`DEFAULT_STAGING_BYTES`]); values below
    /// one element are raised to one element. Tests lower it to force the
    /// blocked paths.
    pub fn set_staging_bytes(&mut self, bytes: usize) {
        self.staging_bytes = bytes.max(1);
    }

    /// Opens the file read/write, creating its directory and the file when
    /// absent. An existing file is never truncated. No-op when already open.
    pub fn open(&mut self) -> Result<()> {
        if self.file.is_some() {
            return Ok(());
        }
        if let Some(dir) = self.path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    Error::new(
                        Status::Hdf5Error,
                        format!(
                            "cannot create the directory {} of spill file {}: {e}",
                            dir.display(),
                            self.path.display()
                        ),
                    )
                })?;
            }
        }
        // Append: open read/write if the file exists, create it exclusively
        // otherwise (never H5F_ACC_TRUNC). The sec2 driver is named explicitly
        // so that the file handle is known to be a POSIX descriptor.
        let file = File::with_options().with_fapl(|p| p.sec2()).append(&self.path).map_err(|e| {
            Error::new(Status::Hdf5Error, format!("cannot open or create spill file {}: {e}", self.path.display()))
        })?;
        set_cloexec(&file);
        self.file = Some(file);
        Ok(())
    }

    /// Flushes and closes the file. Safe when already closed or when the file
    /// does not exist.
    pub fn close(&mut self) -> Result<()> {
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        let flushed = file.flush();
        let closed = file.close();
        flushed.and(closed).map_err(|e| {
            Error::new(Status::Hdf5Error, format!("cannot close spill file {}: {e}", self.path.display()))
        })
    }

    /// Closes the file, then removes it. Safe when the file does not exist.
    /// The file is removed even when closing reports an error; that error is
    /// returned afterwards.
    pub fn delete(&mut self) -> Result<()> {
        let closed = self.close();
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            // Absent, or a path component is not a directory: nothing to remove.
            Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => {}
            Err(e) => {
                return Err(Error::new(
                    Status::Hdf5Error,
                    format!("cannot remove spill file {}: {e}", self.path.display()),
                ))
            }
        }
        closed
    }

    /// Writes `a` as dataset `name` (a path such as `"gamma/q0"`; intermediate
    /// groups are created). An existing dataset of that name is replaced, and
    /// kept intact if the new write fails. Opens the file if needed.
    pub fn write(&mut self, name: &str, a: &RawArray) -> Result<()> {
        let name = normalize_name(name)?;
        self.open()?;
        let staging = self.staging_bytes;
        let path = self.path.clone();
        let file = self.file.as_ref().expect("opened above");
        let h5err = |what: &str, e: hdf5::Error| {
            Error::new(
                Status::Hdf5Error,
                format!("HDF5 error {what} dataset '{name}' in spill file {}: {e}", path.display()),
            )
        };

        let exists = match lookup(file, &name) {
            Lookup::Missing => false,
            Lookup::Dataset => true,
            Lookup::Group => {
                return Err(Error::invalid(format!(
                    "'{name}' in spill file {} is a group, not a dataset",
                    path.display()
                )))
            }
            Lookup::Other => {
                return Err(Error::invalid(format!(
                    "'{name}' in spill file {} exists and is not a dataset",
                    path.display()
                )))
            }
            Lookup::BlockedBy(prefix) => {
                return Err(Error::invalid(format!(
                    "cannot write '{name}' in spill file {}: '{prefix}' is not a group",
                    path.display()
                )))
            }
        };

        let target = if exists { format!("{name}{TEMP_SUFFIX}") } else { name.clone() };
        if exists && file.link_exists(&target) {
            // Left over from an interrupted replacement: it was never the live copy.
            file.unlink(&target).map_err(|e| h5err("removing a stale temporary of", e))?;
        }

        let written =
            with_dtype!(a.dtype(), T => write_typed::<T>(file, &target, a, staging)).map_err(|e| h5err("writing", e));
        if let Err(err) = written {
            if file.link_exists(&target) {
                let _ = file.unlink(&target);
            }
            return Err(err);
        }
        if exists {
            file.unlink(&name).map_err(|e| h5err("unlinking the replaced", e))?;
            file.relink(&target, &name).map_err(|e| h5err("renaming the replacement of", e))?;
        }
        file.flush().map_err(|e| h5err("flushing after writing", e))
    }

    /// Reads dataset `name` into `a`, whose dtype and shape must equal the
    /// stored ones ([`Status::Mismatch`] otherwise). `a` may be strided.
    pub fn read_into(&mut self, name: &str, a: &RawArray) -> Result<()> {
        let name = normalize_name(name)?;
        let ds = self.dataset(&name)?;
        let (dtype, shape) = self.describe(&name, &ds)?;
        if dtype != a.dtype() || shape.as_slice() != a.shape() {
            return Err(Error::mismatch(format!(
                "dataset '{name}' in spill file {} is {} {:?}, the destination is {} {:?}",
                self.path.display(),
                dtype.name(),
                shape,
                a.dtype().name(),
                a.shape()
            )));
        }
        let staging = self.staging_bytes;
        with_dtype!(dtype, T => read_typed::<T>(&ds, a, staging)).map_err(|e| {
            Error::new(
                Status::Hdf5Error,
                format!("HDF5 error reading dataset '{name}' in spill file {}: {e}", self.path.display()),
            )
        })
    }

    /// The dtype and shape of dataset `name`.
    pub fn shape(&mut self, name: &str) -> Result<(DType, Vec<usize>)> {
        let name = normalize_name(name)?;
        let ds = self.dataset(&name)?;
        self.describe(&name, &ds)
    }

    /// The full path of every dataset in the file (e.g. `"gamma/q0"`),
    /// recursively, sorted. An absent file has no datasets (and is not created).
    pub fn list(&mut self) -> Result<Vec<String>> {
        if !self.open_existing()? {
            return Ok(Vec::new());
        }
        let file = self.file.as_ref().expect("opened above");
        let mut out = Vec::new();
        let mut seen = Vec::new();
        collect_datasets(file, "", &mut out, &mut seen).map_err(|e| {
            Error::new(Status::Hdf5Error, format!("HDF5 error listing spill file {}: {e}", self.path.display()))
        })?;
        out.sort();
        Ok(out)
    }

    /// Removes dataset `name` ([`Status::NotFound`] if absent). Groups that
    /// become empty are kept.
    pub fn remove(&mut self, name: &str) -> Result<()> {
        let name = normalize_name(name)?;
        drop(self.dataset(&name)?);
        let file = self.file.as_ref().expect("opened by dataset()");
        file.unlink(&name).and_then(|_| file.flush()).map_err(|e| {
            Error::new(
                Status::Hdf5Error,
                format!("HDF5 error removing dataset '{name}' in spill file {}: {e}", self.path.display()),
            )
        })
    }

    /// Opens the file if it exists; returns whether it is open now. Never creates it.
    fn open_existing(&mut self) -> Result<bool> {
        if self.file.is_none() {
            if !self.path.exists() {
                return Ok(false);
            }
            self.open()?;
        }
        Ok(true)
    }

    /// Opens dataset `name` (normalized), mapping absence to `NotFound`.
    fn dataset(&mut self, name: &str) -> Result<Dataset> {
        if !self.open_existing()? {
            return Err(Error::new(
                Status::NotFound,
                format!("no dataset '{name}': spill file {} does not exist", self.path.display()),
            ));
        }
        let file = self.file.as_ref().expect("opened above");
        match lookup(file, name) {
            Lookup::Dataset => file.dataset(name).map_err(|e| {
                Error::new(
                    Status::Hdf5Error,
                    format!("HDF5 error opening dataset '{name}' in spill file {}: {e}", self.path.display()),
                )
            }),
            Lookup::Group | Lookup::Other => Err(Error::invalid(format!(
                "'{name}' in spill file {} is not a dataset",
                self.path.display()
            ))),
            Lookup::Missing | Lookup::BlockedBy(_) => Err(Error::new(
                Status::NotFound,
                format!("no dataset '{name}' in spill file {}", self.path.display()),
            )),
        }
    }

    /// Stored dtype and shape of an open dataset.
    fn describe(&self, name: &str, ds: &Dataset) -> Result<(DType, Vec<usize>)> {
        let desc = ds.dtype().and_then(|t| t.to_descriptor()).map_err(|e| {
            Error::new(
                Status::Hdf5Error,
                format!("HDF5 error reading the type of dataset '{name}' in spill file {}: {e}", self.path.display()),
            )
        })?;
        let dtype = dtype_of(&desc).ok_or_else(|| {
            Error::mismatch(format!(
                "dataset '{name}' in spill file {} has type {desc}, which dgampi does not support",
                self.path.display()
            ))
        })?;
        Ok((dtype, ds.shape()))
    }
}

impl Drop for SpillFile {
    /// Closes the file, ignoring errors.
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// Marks the file's descriptor close-on-exec (best effort).
///
/// HDF5 opens files without `O_CLOEXEC` and locks them with `flock`; a child
/// process started while the file is open would inherit the descriptor and
/// hold the lock after we close the file, so reopening it would fail with
/// "unable to lock file" until the child exits.
#[cfg(unix)]
fn set_cloexec(file: &File) {
    use std::os::raw::{c_int, c_void};
    extern "C" {
        // herr_t H5Fget_vfd_handle(hid_t file_id, hid_t fapl, void **file_handle);
        // hid_t is 64-bit since HDF5 1.10 (the oldest version dgampi supports).
        fn H5Fget_vfd_handle(file_id: i64, fapl: i64, file_handle: *mut *mut c_void) -> c_int;
    }
    hdf5::sync::sync(|| {
        let mut handle: *mut c_void = std::ptr::null_mut();
        // SAFETY: a valid open file id; with the sec2 driver (set in `open`) the
        // handle points to the POSIX descriptor, an int. H5P_DEFAULT is 0.
        unsafe {
            if H5Fget_vfd_handle(file.id(), 0, &mut handle) >= 0 && !handle.is_null() {
                let fd = *(handle as *const c_int);
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags >= 0 {
                    libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
                }
            }
        }
    });
}

#[cfg(not(unix))]
fn set_cloexec(_file: &File) {}

/// Checks a dataset name and returns it without a leading `/`.
fn normalize_name(name: &str) -> Result<String> {
    let trimmed = name.strip_prefix('/').unwrap_or(name);
    if trimmed.is_empty() {
        return Err(Error::invalid("a spill dataset name must not be empty"));
    }
    if trimmed.contains('\0') {
        return Err(Error::invalid(format!("spill dataset name {name:?} contains a NUL character")));
    }
    for part in trimmed.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Err(Error::invalid(format!(
                "spill dataset name {name:?} has an empty, '.' or '..' component"
            )));
        }
        if part.ends_with(TEMP_SUFFIX) {
            return Err(Error::invalid(format!("spill dataset name {name:?} uses the reserved suffix {TEMP_SUFFIX}")));
        }
    }
    Ok(trimmed.to_string())
}

/// What a path names inside the file.
enum Lookup {
    Missing,
    Dataset,
    Group,
    Other,
    /// A proper prefix of the path exists but is not a group.
    BlockedBy(String),
}

/// Walks `name` component by component (H5Lexists needs every prefix to exist).
fn lookup(file: &File, name: &str) -> Lookup {
    let parts: Vec<&str> = name.split('/').collect();
    let mut prefix = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            prefix.push('/');
        }
        prefix.push_str(part);
        if !file.link_exists(&prefix) {
            return Lookup::Missing;
        }
        let kind = match file.loc_type_by_name(&prefix) {
            Ok(k) => k,
            // A dangling soft link or an unreadable object: not usable as either.
            Err(_) => return if i + 1 == parts.len() { Lookup::Other } else { Lookup::BlockedBy(prefix) },
        };
        if i + 1 == parts.len() {
            return match kind {
                LocationType::Dataset => Lookup::Dataset,
                LocationType::Group => Lookup::Group,
                _ => Lookup::Other,
            };
        }
        if kind != LocationType::Group {
            return Lookup::BlockedBy(prefix);
        }
    }
    Lookup::Missing
}

/// Recursively collects dataset paths below group `prefix` ("" = root).
fn collect_datasets(
    file: &File,
    prefix: &str,
    out: &mut Vec<String>,
    seen: &mut Vec<hdf5::LocationToken>,
) -> hdf5::Result<()> {
    let group = if prefix.is_empty() { file.group("/")? } else { file.group(prefix)? };
    for member in group.member_names()? {
        let full = if prefix.is_empty() { member.clone() } else { format!("{prefix}/{member}") };
        let Ok(info) = file.loc_info_by_name(&full) else {
            continue; // dangling soft link
        };
        match info.loc_type {
            LocationType::Dataset if !member.ends_with(TEMP_SUFFIX) => out.push(full),
            // Hard links can make cycles; visit each group once.
            LocationType::Group if !seen.contains(&info.token) => {
                seen.push(info.token);
                collect_datasets(file, &full, out, seen)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Maps a stored HDF5 type to a dgampi dtype (complex = h5py's `r`/`i` compound).
fn dtype_of(desc: &TypeDescriptor) -> Option<DType> {
    match desc {
        TypeDescriptor::Float(FloatSize::U4) => Some(DType::F32),
        TypeDescriptor::Float(FloatSize::U8) => Some(DType::F64),
        TypeDescriptor::Integer(IntSize::U4) => Some(DType::I32),
        TypeDescriptor::Integer(IntSize::U8) => Some(DType::I64),
        TypeDescriptor::Unsigned(IntSize::U1) => Some(DType::U8),
        TypeDescriptor::Compound(c) if c.fields.len() == 2 => {
            let (r, i) = (&c.fields[0], &c.fields[1]);
            if r.name != "r" || i.name != "i" || r.ty != i.ty {
                return None;
            }
            let (dtype, half) = match r.ty {
                TypeDescriptor::Float(FloatSize::U4) => (DType::Complex64, 4),
                TypeDescriptor::Float(FloatSize::U8) => (DType::Complex128, 8),
                _ => return None,
            };
            (r.offset == 0 && i.offset == half && c.size == 2 * half).then_some(dtype)
        }
        _ => None,
    }
}

/// Blocks of at most `budget` bytes covering an array in C order.
///
/// Axis `k` is the outermost axis whose one-index slab fits the budget; a
/// block is a single index on every axis before `k`, a range of up to `per`
/// indices on axis `k`, and everything after it.
struct Blocks {
    shape: Vec<usize>,
    k: usize,
    inner: usize,
    per: usize,
}

/// One block: its first logical element and its hyperslab.
struct Block {
    elem_offset: usize,
    len: usize,
    shape: Vec<usize>,
    slab: Hyperslab,
}

impl Blocks {
    fn new(shape: &[usize], elem: usize, budget: usize) -> Blocks {
        let ndim = shape.len();
        let mut k = 0;
        while k + 1 < ndim && shape[k + 1..].iter().product::<usize>().saturating_mul(elem) > budget {
            k += 1;
        }
        let inner: usize = shape[k + 1..].iter().product();
        let per = (budget / (inner * elem).max(1)).max(1);
        Blocks { shape: shape.to_vec(), k, inner, per }
    }

    /// Calls `f` for every block, in C order; stops at the first error.
    fn for_each<E>(&self, mut f: impl FnMut(Block) -> std::result::Result<(), E>) -> std::result::Result<(), E> {
        let (k, n_k) = (self.k, self.shape[self.k]);
        let outer: usize = self.shape[..k].iter().product();
        for o in 0..outer {
            // Multi-index of `o` over axes 0..k.
            let mut idx = vec![0usize; k];
            let mut rest = o;
            for ax in (0..k).rev() {
                idx[ax] = rest % self.shape[ax];
                rest /= self.shape[ax];
            }
            let mut j0 = 0;
            while j0 < n_k {
                let cnt = self.per.min(n_k - j0);
                let mut slab: Vec<SliceOrIndex> = idx.iter().map(|&i| SliceOrIndex::from(i..i + 1)).collect();
                slab.push(SliceOrIndex::from(j0..j0 + cnt));
                slab.extend(self.shape[k + 1..].iter().map(|_| SliceOrIndex::from(..)));
                let mut shape = vec![1usize; k];
                shape.push(cnt);
                shape.extend_from_slice(&self.shape[k + 1..]);
                f(Block {
                    elem_offset: (o * n_k + j0) * self.inner,
                    len: cnt * self.inner,
                    shape,
                    slab: Hyperslab::from(slab),
                })?;
                j0 += cnt;
            }
        }
        Ok(())
    }
}

/// True when `a` can be handed to HDF5 as a `[T]` in place.
fn in_place<T>(a: &RawArray) -> Option<*mut T> {
    a.contiguous_ptr(0).filter(|p| (*p as usize).is_multiple_of(std::mem::align_of::<T>())).map(|p| p.cast())
}

/// Creates dataset `target` with `a`'s shape and writes `a` into it.
fn write_typed<T: Element + hdf5::H5Type>(
    file: &File,
    target: &str,
    a: &RawArray,
    staging: usize,
) -> hdf5::Result<()> {
    let ds = file.new_dataset::<T>().shape(a.shape().to_vec()).create(target)?;
    let n: usize = a.shape().iter().product();
    if n == 0 {
        return Ok(());
    }
    if let Some(ptr) = in_place::<T>(a) {
        // SAFETY: a contiguous, aligned array of n elements of T (the RawArray contract).
        let data = unsafe { std::slice::from_raw_parts(ptr as *const T, n) };
        return ds.write_raw(data);
    }
    let elem = std::mem::size_of::<T>();
    let blocks = Blocks::new(a.shape(), elem, staging);
    let mut buf: Vec<T> = vec![T::default(); (blocks.per * blocks.inner).min(n)];
    blocks.for_each(|b| {
        let chunk = &mut buf[..b.len];
        // SAFETY: T is plain old data (Element contract); the byte view covers `chunk` exactly.
        let bytes = unsafe { std::slice::from_raw_parts_mut(chunk.as_mut_ptr().cast::<u8>(), b.len * elem) };
        a.pack(b.elem_offset * elem, bytes);
        let view = ArrayViewD::from_shape(IxDyn(&b.shape), &*chunk)?;
        ds.write_slice(view, b.slab)
    })
}

/// Reads dataset `ds` (dtype and shape already checked) into `a`.
fn read_typed<T: Element + hdf5::H5Type>(ds: &Dataset, a: &RawArray, staging: usize) -> hdf5::Result<()> {
    let n: usize = a.shape().iter().product();
    if n == 0 {
        return Ok(());
    }
    if let Some(ptr) = in_place::<T>(a) {
        // SAFETY: a contiguous, aligned, writable array of n elements of T.
        let data = unsafe { std::slice::from_raw_parts_mut(ptr, n) };
        ds.read_into_raw(data)?;
        return Ok(());
    }
    let elem = std::mem::size_of::<T>();
    let blocks = Blocks::new(a.shape(), elem, staging);
    blocks.for_each(|b| {
        let block: ndarray::ArrayD<T> = ds.read_slice(b.slab)?;
        let data = block.as_slice().ok_or("HDF5 returned a non-contiguous block")?;
        // SAFETY: T is plain old data; the byte view covers `data` exactly.
        let bytes = unsafe { std::slice::from_raw_parts(data.as_ptr().cast::<u8>(), std::mem::size_of_val(data)) };
        a.unpack(b.elem_offset * elem, bytes);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_and_names() {
        assert_eq!(
            SpillFile::path_for(Path::new("/tmp/out"), "gamma", 7),
            PathBuf::from("/tmp/out/gamma_Rank00007.hdf5")
        );
        assert_eq!(normalize_name("/a/b").unwrap(), "a/b");
        for bad in ["", "/", "a//b", "a/", "./a", "a/../b", "a\0b", "x.dgampi-tmp"] {
            assert_eq!(normalize_name(bad).unwrap_err().status, Status::InvalidArgument, "{bad:?}");
        }
    }

    #[test]
    fn blocks_cover_the_array_in_order_within_budget() {
        for (shape, budget) in [
            (vec![10usize, 3, 4], 8 * 12 * 3),
            (vec![10, 3, 4], 8 * 5),
            (vec![2, 3, 4], 8),
            (vec![7], 8 * 3),
        ] {
            let b = Blocks::new(&shape, 8, budget);
            let mut next = 0;
            b.for_each(|blk| {
                assert_eq!(blk.elem_offset, next);
                assert_eq!(blk.len, blk.shape.iter().product::<usize>());
                assert!(blk.len * 8 <= budget);
                next += blk.len;
                Ok::<(), ()>(())
            })
            .unwrap();
            assert_eq!(next, shape.iter().product::<usize>());
        }
    }
}
