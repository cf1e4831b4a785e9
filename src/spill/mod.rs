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
//! # One open handle per file
//! The file is private to its handle: HDF5's own file locking is off
//! (`H5Pset_file_locking(fapl, false, true)`), and dgampi holds an advisory
//! lock of its own while the file is open (`claim.rs`): exclusive when open
//! read/write, shared when open read-only. A second handle on the same file —
//! two distributors with the same name and output path on different
//! communicators (`MPI_COMM_WORLD` and `MPI_COMM_SELF`), in one process or
//! two — is refused with [`Status::InvalidArgument`] naming the file, and
//! [`SpillFile::delete`] never unlinks a file another handle has open for
//! writing. The lock dies with its process, so a crashed run never blocks the
//! next one.
//!
//! # Guarantees on failure
//! - Opening never truncates: an existing file is opened read/write, and a file
//!   that is not HDF5 is left untouched (the open fails with
//!   [`Status::Hdf5Error`], naming the file and suggesting `delete`). An empty
//!   file is a spill file whose creator died before writing anything, and is
//!   created afresh.
//! - A new file is flushed at once, so a process killed right after creating
//!   it leaves a valid, empty spill file.
//! - Full disk: before HDF5 writes anything, the space it needs (the data plus
//!   a reserve for HDF5's metadata of [`DEFAULT_RESERVE_BYTES`] or 1/1024 of the
//!   file, whichever is more; see [`SpillFile::set_reserve_bytes`]) is
//!   allocated on disk (`posix_fallocate`). When that fails (`ENOSPC`,
//!   `EDQUOT`, a file-size limit), the write returns [`Status::Hdf5Error`]
//!   naming the file and the dataset, nothing was written, and the handle stays
//!   usable. Once HDF5 has placed the new dataset, the space up to its end of
//!   allocation is made sure of again, before the data is written and before
//!   the flush (which writes metadata in place first and would leave a damaged
//!   file if it ran out of space half-way).
//! - A write or removal that fails inside HDF5 (space not covered by the
//!   reserve, an I/O error) leaves nothing of itself on disk: HDF5's descriptor
//!   is diverted to an anonymous scratch file, HDF5's handle is closed, and the
//!   file is reopened read-only as it is on disk — with every dataset
//!   acknowledged before. Every later write returns [`Status::Hdf5Error`]
//!   naming the first failure, reads keep working, and closing and reopening
//!   the file makes it writable again.
//! - Replacing a dataset writes the new data under a temporary sibling name
//!   first; the old dataset is unlinked and the new one renamed only once the
//!   new data is completely written. If the write fails, the old dataset is
//!   still there, unchanged. The swap reaches the disk with the flush that
//!   ends the write, so a process that dies during a replacement leaves the
//!   old dataset. (A temporary left over by an interrupted replacement ends
//!   in [`TEMP_SUFFIX`], is not listed, and is removed by the next write of
//!   that name.)
//! - Other datasets are never touched by a write, read or removal.
//! - After every successful `write` and `remove` the file is flushed, so the
//!   file on disk holds every acknowledged dataset even if the process dies
//!   later.
//! - A file that cannot be opened for writing (read-only file system, no
//!   write permission) but exists is opened read-only by [`SpillFile::open`];
//!   [`SpillFile::open_read_only`] asks for that explicitly. Writes to a
//!   read-only handle return [`Status::InvalidArgument`] saying why.
//!
//! # The host program's HDF5
//! dgampi never changes the host's HDF5 error printing or at-exit behaviour
//! (see `host.rs`): its own HDF5 calls run with error printing off (failures
//! come back as statuses carrying HDF5's message) and the calling thread's
//! handler is restored afterwards, and HDF5 keeps closing the host's open
//! files at exit even when dgampi is the first to use HDF5.
//!
//! # Limitations
//! - HDF5 does not shrink files: space of removed or replaced datasets is
//!   reused for later datasets while the file stays open, but is not returned
//!   to the file system (run `h5repack` to compact a file that is kept).
//! - Dataset names must be valid UTF-8 paths of non-empty components without
//!   `.` / `..` components and without NUL; a leading `/` is accepted and
//!   ignored. Names ending in [`TEMP_SUFFIX`] are reserved.
//! - Unix only (POSIX descriptors, `posix_fallocate`, advisory locks). On a
//!   file system without lock support a second handle is not detected. On one
//!   without native `fallocate` (NFSv3, for one) the C library reserves space
//!   by writing a byte per block, which costs about one more pass over each
//!   dataset's blocks.
//! - An I/O error in the middle of HDF5's metadata flush (not a full disk,
//!   which the reservation catches first) can still leave the file damaged;
//!   HDF5 has no transactional update.
//! - Under a file-size limit (`RLIMIT_FSIZE`, not a full disk) the scratch
//!   file of a failed write obeys the limit too: when HDF5's metadata would
//!   reach past it, HDF5 cannot close the failed handle cleanly, and HDF5 1.10
//!   may then crash at exit. The metadata reserve makes this need a reserve
//!   lowered below what HDF5 uses.

mod claim;
mod host;

use crate::buffer::{ArrayMut, ArrayRef, RawArray};
use crate::element::{DType, Element};
use crate::error::{Error, Result, Status};
use claim::{Claim, ClaimError};
use hdf5::types::{FloatSize, IntSize, TypeDescriptor};
use hdf5::{Dataset, File, Hyperslab, LocationType, SliceOrIndex};
use ndarray::{ArrayViewD, IxDyn};
use num_complex::{Complex32, Complex64};
use std::path::{Path, PathBuf};

/// Default bound, in bytes, on the staging buffer used for strided arrays (64 MiB).
pub const DEFAULT_STAGING_BYTES: usize = 64 << 20;

/// Default disk space, in bytes, reserved for HDF5's metadata beyond the data
/// of each write (1 MiB; at least 1/1024 of the file is reserved in any case).
pub const DEFAULT_RESERVE_BYTES: u64 = 1 << 20;

/// Suffix of the temporary name a replacement is written under before the swap.
pub const TEMP_SUFFIX: &str = ".dgampi-tmp";

/// A per-rank HDF5 spill file. Opening is lazy: [`SpillFile::new`] touches
/// nothing, and `write` opens (creating directory and file) on first use.
#[derive(Debug)]
pub struct SpillFile {
    path: PathBuf,
    open: Option<Open>,
    staging_bytes: usize,
    reserve_bytes: u64,
}

/// An open spill file: HDF5's handle and dgampi's claim (descriptor + lock).
#[derive(Debug)]
struct Open {
    file: File,
    claim: Claim,
    mode: Mode,
}

/// How an open spill file may be used.
#[derive(Debug)]
enum Mode {
    ReadWrite,
    /// Read-only: asked for (`None`), or because writing is impossible (why).
    ReadOnly(Option<String>),
    /// A write failed inside HDF5; the file takes no more writes (the failure).
    Failed(Error),
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
        SpillFile { path, open: None, staging_bytes: DEFAULT_STAGING_BYTES, reserve_bytes: DEFAULT_RESERVE_BYTES }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True while the HDF5 file is open.
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// True while the file is open but takes no writes: opened read-only, or
    /// after a write failed inside HDF5.
    pub fn is_read_only(&self) -> bool {
        self.open.as_ref().is_some_and(|o| !matches!(o.mode, Mode::ReadWrite))
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

    /// The disk space reserved for HDF5's metadata beyond each write's data.
    pub fn reserve_bytes(&self) -> u64 {
        self.reserve_bytes
    }

    /// Sets the metadata reserve (default [`DEFAULT_RESERVE_BYTES`]; 1/1024 of
    /// the file is reserved when that is more). Tests lower it to let a full
    /// disk reach HDF5 itself.
    pub fn set_reserve_bytes(&mut self, bytes: u64) {
        self.reserve_bytes = bytes;
    }

    /// Opens the file read/write, creating its directory and the file when
    /// absent; an existing file is never truncated. A file that exists but
    /// cannot be opened for writing (read-only file system, no permission) is
    /// opened read-only instead ([`SpillFile::is_read_only`]). No-op when
    /// already open. [`Status::InvalidArgument`] when another handle has the
    /// file open.
    pub fn open(&mut self) -> Result<()> {
        host::scoped(|| self.open_rw())
    }

    /// Opens the existing file read-only (reopening it when it is open
    /// read/write); [`Status::NotFound`] when it does not exist. Writes then
    /// fail with [`Status::InvalidArgument`]; other read-only handles may
    /// read the file at the same time.
    pub fn open_read_only(&mut self) -> Result<()> {
        host::scoped(|| {
            if self.open.as_ref().is_some_and(|o| matches!(o.mode, Mode::ReadWrite)) {
                self.close_inner()?;
            }
            if self.open.is_some() {
                return Ok(());
            }
            self.open_ro(None)
        })
    }

    /// Flushes and closes the file. Safe when already closed or when the file
    /// does not exist. After a failed write (the handle is read-only then,
    /// and the file holds everything acknowledged before the failure) this
    /// closes it and returns `Ok`: the failure was reported by the write.
    pub fn close(&mut self) -> Result<()> {
        host::scoped(|| self.close_inner())
    }

    /// Closes the file, then removes it. Safe when the file does not exist.
    /// The file is removed even when closing reports an error; that error is
    /// returned afterwards. [`Status::InvalidArgument`] (and nothing removed)
    /// when another handle has the file open for writing.
    pub fn delete(&mut self) -> Result<()> {
        host::scoped(|| {
            let mut closed = Ok(());
            if let Some(open) = self.open.take() {
                let (result, claim) = self.shut(open);
                closed = result;
                if claim.is_exclusive() {
                    // Unlinked while the lock is still ours: no handle slips in between.
                    return self.unlink().and(closed);
                }
            }
            let claim = match Claim::acquire(&self.path, false) {
                Ok(claim) => Some(claim),
                Err(ClaimError::Busy) => return Err(self.busy("delete")),
                // Absent, or a path component is not a directory: nothing to remove.
                Err(ClaimError::Io(e))
                    if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) =>
                {
                    return closed
                }
                // Unreadable, so not lockable by us: removed without the lock.
                Err(ClaimError::Io(e)) if e.kind() == std::io::ErrorKind::PermissionDenied => None,
                Err(ClaimError::Io(e)) => return Err(self.io_error("cannot remove", e)),
            };
            let removed = self.unlink();
            drop(claim);
            removed.and(closed)
        })
    }

    /// Writes `a` as dataset `name` (a path such as `"gamma/q0"`; intermediate
    /// groups are created). An existing dataset of that name is replaced, and
    /// kept intact if the new write fails. Opens the file if needed.
    pub fn write(&mut self, name: &str, a: ArrayRef<'_>) -> Result<()> {
        self.write_raw(name, a.raw())
    }

    /// [`SpillFile::write`] on a descriptor.
    pub(crate) fn write_raw(&mut self, name: &str, a: &RawArray) -> Result<()> {
        host::scoped(|| self.write_inner(name, a))
    }

    /// Reads dataset `name` into `a`, whose dtype and shape must equal the
    /// stored ones ([`Status::Mismatch`] otherwise). `a` may be strided.
    pub fn read_into(&mut self, name: &str, a: ArrayMut<'_>) -> Result<()> {
        self.read_into_raw(name, a.raw())
    }

    /// [`SpillFile::read_into`] on a descriptor.
    pub(crate) fn read_into_raw(&mut self, name: &str, a: &RawArray) -> Result<()> {
        host::scoped(|| {
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
        })
    }

    /// The dtype and shape of dataset `name`.
    pub fn shape(&mut self, name: &str) -> Result<(DType, Vec<usize>)> {
        host::scoped(|| {
            let name = normalize_name(name)?;
            let ds = self.dataset(&name)?;
            self.describe(&name, &ds)
        })
    }

    /// The full path of every dataset in the file (e.g. `"gamma/q0"`),
    /// recursively, sorted. An absent file has no datasets (and is not created).
    pub fn list(&mut self) -> Result<Vec<String>> {
        host::scoped(|| {
            if !self.open_existing()? {
                return Ok(Vec::new());
            }
            let file = &self.open.as_ref().expect("opened above").file;
            let mut out = Vec::new();
            let mut seen = Vec::new();
            collect_datasets(file, "", &mut out, &mut seen).map_err(|e| {
                Error::new(Status::Hdf5Error, format!("HDF5 error listing spill file {}: {e}", self.path.display()))
            })?;
            out.sort();
            Ok(out)
        })
    }

    /// Removes dataset `name` ([`Status::NotFound`] if absent). Groups that
    /// become empty are kept.
    pub fn remove(&mut self, name: &str) -> Result<()> {
        host::scoped(|| {
            let name = normalize_name(name)?;
            drop(self.dataset(&name)?);
            self.writable(&format!("remove dataset '{name}' from"))?;
            self.reserve(0, &format!("removing dataset '{name}' from"))?;
            let file = &self.open.as_ref().expect("opened by dataset()").file;
            let h5err = |e: hdf5::Error| {
                format!("HDF5 error removing dataset '{name}' in spill file {}: {e}", self.path.display())
            };
            let removed = file
                .unlink(&name)
                .map_err(h5err)
                .and_then(|()| self.cover_eoa(&format!("removing dataset '{name}' from")))
                .and_then(|()| file.flush().map_err(h5err));
            match removed {
                Ok(()) => {
                    self.settle();
                    Ok(())
                }
                Err(message) => Err(self.fail(&message, None)),
            }
        })
    }

    // ------------------------------------------------------------ internals

    /// [`SpillFile::open`] inside the HDF5 scope.
    fn open_rw(&mut self) -> Result<()> {
        if self.open.is_some() {
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
        match Claim::acquire(&self.path, true) {
            Ok(claim) => self.open_claimed(claim, Mode::ReadWrite),
            Err(ClaimError::Busy) => Err(self.busy("open")),
            Err(ClaimError::Io(e)) if cannot_write(&e) && self.path.is_file() => {
                self.open_ro(Some(format!("it cannot be opened for writing: {e}")))
            }
            Err(ClaimError::Io(e)) => Err(self.io_error("cannot open or create", e)),
        }
    }

    /// Opens the existing file read-only; `reason` says why, when not asked for.
    fn open_ro(&mut self, reason: Option<String>) -> Result<()> {
        match Claim::acquire(&self.path, false) {
            Ok(claim) => self.open_claimed(claim, Mode::ReadOnly(reason)),
            Err(ClaimError::Busy) => Err(self.busy("open")),
            Err(ClaimError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::new(
                Status::NotFound,
                format!("cannot open spill file {} read-only: it does not exist", self.path.display()),
            )),
            Err(ClaimError::Io(e)) => Err(self.io_error("cannot open", e)),
        }
    }

    /// Opens the claimed file with HDF5; an empty file is created afresh.
    fn open_claimed(&mut self, claim: Claim, mode: Mode) -> Result<()> {
        let write = matches!(mode, Mode::ReadWrite);
        let len = claim.len().map_err(|e| self.io_error("cannot open", e))?;
        let file = if write && len == 0 {
            self.create_hdf5(&claim)?
        } else {
            let builder = file_options();
            let opened = if write { builder.open_rw(&self.path) } else { builder.open(&self.path) };
            opened.map_err(|e| {
                Error::new(
                    Status::Hdf5Error,
                    format!(
                        "cannot open spill file {}: {e} (dgampi never overwrites an existing file; if this is a \
                         damaged spill file, e.g. left by a process that died while writing it, delete it)",
                        self.path.display()
                    ),
                )
            })?
        };
        set_cloexec(&file);
        self.open = Some(Open { file, claim, mode });
        Ok(())
    }

    /// Creates the HDF5 file over the empty, exclusively claimed file and
    /// flushes it at once; on failure the file is left empty again.
    fn create_hdf5(&self, claim: &Claim) -> Result<File> {
        let fail = |what: String| {
            Error::new(Status::Hdf5Error, format!("cannot create spill file {}: {what}", self.path.display()))
        };
        // Truncating is safe: the file is empty and no other handle can open it.
        let file = file_options().create(&self.path).map_err(|e| fail(e.to_string()))?;
        let made = claim
            .reserve(self.reserve_bytes)
            .map_err(|e| fail(format!("no room on disk for it: {e}")))
            .and_then(|()| file.flush().map_err(|e| fail(e.to_string())));
        match made {
            Ok(()) => {
                trim_to_eoa(&file, claim);
                Ok(file)
            }
            Err(e) => {
                divert(&file);
                let _ = file.close();
                let _ = claim.trim(0);
                Err(e)
            }
        }
    }

    /// Closes HDF5's handle (flushing it unless the file takes no writes) and
    /// returns the outcome with the claim, which still holds the lock.
    fn shut(&self, open: Open) -> (Result<()>, Claim) {
        let Open { file, claim, mode } = open;
        let result = match mode {
            Mode::ReadWrite => {
                let flushed = file.flush();
                trim_to_eoa(&file, &claim);
                flushed.and(file.close())
            }
            Mode::ReadOnly(_) => file.close(),
            // Reopened read-only after the failure, which was reported already.
            Mode::Failed(_) => {
                let _ = file.close();
                Ok(())
            }
        };
        let result = result.map_err(|e| {
            Error::new(Status::Hdf5Error, format!("cannot close spill file {}: {e}", self.path.display()))
        });
        (result, claim)
    }

    /// [`SpillFile::close`] inside the HDF5 scope.
    fn close_inner(&mut self) -> Result<()> {
        match self.open.take() {
            Some(open) => self.shut(open).0,
            None => Ok(()),
        }
    }

    /// Removes the file's directory entry (absent is fine).
    fn unlink(&self) -> Result<()> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => Ok(()),
            Err(e) => Err(self.io_error("cannot remove", e)),
        }
    }

    /// [`SpillFile::write`] inside the HDF5 scope.
    fn write_inner(&mut self, name: &str, a: &RawArray) -> Result<()> {
        let name = normalize_name(name)?;
        self.open_rw()?;
        self.writable(&format!("write dataset '{name}' to"))?;
        let staging = self.staging_bytes;
        let path = self.path.clone();
        let file = &self.open.as_ref().expect("opened above").file;

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
        self.reserve(a.total_bytes() as u64, &format!("writing dataset '{name}' ({} bytes) to", a.total_bytes()))?;

        let file = &self.open.as_ref().expect("opened above").file;
        let target = if exists { format!("{name}{TEMP_SUFFIX}") } else { name.clone() };
        let h5err = |what: &str, e: hdf5::Error| {
            format!("HDF5 error {what} dataset '{name}' in spill file {}: {e}", path.display())
        };
        let written = (|| -> std::result::Result<(), String> {
            if exists && file.link_exists(&target) {
                // Left over from an interrupted replacement: it was never the live copy.
                file.unlink(&target).map_err(|e| h5err("removing a stale temporary of", e))?;
            }
            let ds = with_dtype!(a.dtype(), T => create_typed::<T>(file, &target, a))
                .map_err(|e| h5err("creating", e))?;
            // The data's space is allocated now: make sure the disk holds it
            // before HDF5 writes a byte of it.
            self.cover_eoa(&format!("writing dataset '{name}' to"))?;
            with_dtype!(a.dtype(), T => write_typed::<T>(&ds, a, staging)).map_err(|e| h5err("writing", e))?;
            drop(ds);
            if exists {
                file.unlink(&name).map_err(|e| h5err("unlinking the replaced", e))?;
                file.relink(&target, &name).map_err(|e| h5err("renaming the replacement of", e))?;
            }
            self.cover_eoa(&format!("writing dataset '{name}' to"))?;
            file.flush().map_err(|e| h5err("flushing after writing", e))
        })();
        match written {
            Ok(()) => {
                self.settle();
                Ok(())
            }
            Err(message) => Err(self.fail(&message, Some(&target))),
        }
    }

    /// Fails unless the open file takes writes.
    fn writable(&self, doing: &str) -> Result<()> {
        let path = self.path.display();
        match &self.open.as_ref().expect("callers open the file first").mode {
            Mode::ReadWrite => Ok(()),
            Mode::ReadOnly(None) => Err(Error::invalid(format!(
                "cannot {doing} spill file {path}: it is open read-only (close it and open it read/write to write)"
            ))),
            Mode::ReadOnly(Some(why)) => Err(Error::invalid(format!(
                "cannot {doing} spill file {path}: it is open read-only because {why}"
            ))),
            Mode::Failed(first) => Err(Error::new(
                Status::Hdf5Error,
                format!(
                    "cannot {doing} spill file {path}: it takes no more writes since an earlier write failed \
                     (close and reopen it to write again; everything written before that failure is kept): {}",
                    first.message
                ),
            )),
        }
    }

    /// Reserves disk space for `data` bytes plus the metadata reserve; on
    /// failure nothing was written and the handle stays usable.
    fn reserve(&self, data: u64, doing: &str) -> Result<()> {
        let claim = &self.open.as_ref().expect("callers open the file first").claim;
        let len = claim.len().map_err(|e| self.io_error("cannot size", e))?;
        let need = data.saturating_add(self.reserve_bytes.max(len / 1024));
        claim.reserve(need).map_err(|e| {
            Error::new(
                Status::Hdf5Error,
                format!(
                    "no room on disk for {doing} spill file {} ({need} bytes with HDF5's metadata reserve): {e}; \
                     nothing was written and the file is unchanged",
                    self.path.display()
                ),
            )
        })
    }

    /// Before a flush: makes sure the disk holds every byte up to HDF5's end
    /// of allocation, so that the flush cannot run out of space half-way
    /// (it writes metadata in place first and would leave the file damaged).
    fn cover_eoa(&self, doing: &str) -> std::result::Result<(), String> {
        let open = self.open.as_ref().expect("callers open the file first");
        let eoa = eoa(&open.file).ok_or_else(|| format!("HDF5 cannot tell the end of spill file {}", self.path.display()))?;
        let len = open.claim.len().map_err(|e| format!("cannot size spill file {}: {e}", self.path.display()))?;
        if eoa <= len {
            return Ok(());
        }
        open.claim.reserve(eoa - len).map_err(|e| {
            format!(
                "no room on disk for {doing} spill file {} (HDF5 needs {} bytes more than reserved): {e}",
                self.path.display(),
                eoa - len
            )
        })
    }

    /// Returns the unused part of the reservation after a successful write.
    fn settle(&self) {
        if let Some(open) = &self.open {
            trim_to_eoa(&open.file, &open.claim);
        }
    }

    /// Puts the open file into the failed state after an HDF5 error in a
    /// write: HDF5's descriptor is diverted to a scratch file, so nothing of
    /// the failed write reaches the disk, HDF5's handle is closed (cleanly, as
    /// its writes now succeed), and the file is reopened read-only as it is on
    /// disk: as of the last acknowledged write. The claim (lock) is kept.
    /// `target`, a dataset the failed write created, is unlinked first, which
    /// gives its space back to HDF5 (the close then needs no more than the
    /// file had).
    fn fail(&mut self, message: &str, target: Option<&str>) -> Error {
        let mut error = Error::new(
            Status::Hdf5Error,
            format!(
                "{message}; the file takes no more writes until it is closed (everything written before is kept)"
            ),
        );
        if let Some(Open { file, claim, .. }) = self.open.take() {
            if let Some(target) = target {
                if file.link_exists(target) {
                    let _ = file.unlink(target);
                }
            }
            divert(&file);
            let _ = file.close();
            match file_options().open(&self.path) {
                Ok(file) => {
                    set_cloexec(&file);
                    self.open = Some(Open { file, claim, mode: Mode::Failed(error.clone()) });
                }
                Err(e) => {
                    error.message.push_str(&format!(" (reopening it read-only failed: {e})"));
                }
            }
        }
        error
    }

    /// The error for a file another handle holds.
    fn busy(&self, doing: &str) -> Error {
        Error::invalid(format!(
            "cannot {doing} spill file {}: another open handle is using it (another distributor with the same \
             name and output_path, in this process or another); use another name or output_path, or close the \
             other one first",
            self.path.display()
        ))
    }

    /// An I/O error on the file, as [`Status::Hdf5Error`] naming it.
    fn io_error(&self, doing: &str, e: std::io::Error) -> Error {
        Error::new(Status::Hdf5Error, format!("{doing} spill file {}: {e}", self.path.display()))
    }

    /// Opens the file if it exists; returns whether it is open now. Never creates it.
    fn open_existing(&mut self) -> Result<bool> {
        if self.open.is_none() {
            if !self.path.exists() {
                return Ok(false);
            }
            self.open_rw()?;
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
        let file = &self.open.as_ref().expect("opened above").file;
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
        host::scoped(|| {
            let _ = self.close_inner();
        })
    }
}

/// HDF5 options of every spill file: the POSIX (sec2) driver, so that the
/// file handle is known to be a descriptor; HDF5's own locking off (the file
/// is private; dgampi's claim locks it); and no sieve buffer, so that raw data
/// is written by the write call itself (where a failure is reported cleanly)
/// rather than later when HDF5 closes the dataset.
fn file_options() -> hdf5::FileBuilder {
    let mut builder = File::with_options();
    builder.with_fapl(|p| p.sec2().file_locking(false).sieve_buf_size(0));
    builder
}

/// True for the errors of opening an existing file for writing where reading
/// may still work: read-only file system, no write permission.
fn cannot_write(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(c) if c == libc::EACCES || c == libc::EROFS || c == libc::EPERM)
}

/// HDF5's POSIX descriptor of an open file (the sec2 driver is set in [`file_options`]).
fn hdf5_fd(file: &File) -> Option<std::os::raw::c_int> {
    let mut handle: *mut std::os::raw::c_void = std::ptr::null_mut();
    // SAFETY: a valid open file id; with the sec2 driver the handle points to
    // the POSIX descriptor, an int. H5P_DEFAULT is 0.
    unsafe {
        if hdf5_sys::h5f::H5Fget_vfd_handle(file.id(), 0, &mut handle) >= 0 && !handle.is_null() {
            Some(*(handle as *const std::os::raw::c_int))
        } else {
            None
        }
    }
}

/// Marks the file's descriptor close-on-exec (best effort), so that a child
/// process started while the file is open does not keep it open.
fn set_cloexec(file: &File) {
    if let Some(fd) = hdf5_fd(file) {
        // SAFETY: fcntl on a descriptor HDF5 owns; only the FD_CLOEXEC flag changes.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
}

/// Points HDF5's descriptor of `file` at an anonymous scratch file (memory
/// on Linux): whatever HDF5 writes from now on (the rest of a failed write,
/// the flush at close) succeeds without reaching the spill file, so HDF5
/// closes the handle cleanly. (HDF5 1.10 crashes at exit on a file whose close
/// failed, so a handle that cannot write is no option.)
fn divert(file: &File) {
    let Some(fd) = hdf5_fd(file) else { return };
    if let Some(sink) = scratch_fd() {
        // SAFETY: dup2 atomically replaces HDF5's descriptor number with the
        // scratch file; then our own descriptor of it is closed.
        unsafe {
            libc::dup2(sink, fd);
            libc::close(sink);
        }
        set_cloexec(file);
    }
}

/// A descriptor of a new anonymous file.
#[cfg(target_os = "linux")]
fn scratch_fd() -> Option<std::os::raw::c_int> {
    // SAFETY: a valid C string; returns a new descriptor or -1.
    let fd = unsafe { libc::memfd_create(c"dgampi-spill-diverted".as_ptr(), libc::MFD_CLOEXEC) };
    (fd >= 0).then_some(fd)
}

/// A descriptor of a new anonymous file.
#[cfg(not(target_os = "linux"))]
fn scratch_fd() -> Option<std::os::raw::c_int> {
    use std::os::unix::io::IntoRawFd;
    let path = std::env::temp_dir().join(format!("dgampi-spill-diverted-{}", std::process::id()));
    let file = std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&path).ok()?;
    let _ = std::fs::remove_file(&path);
    Some(file.into_raw_fd())
}

/// HDF5's end of allocation of an open file: every byte it may write lies below.
fn eoa(file: &File) -> Option<u64> {
    extern "C" {
        // herr_t H5Fget_eoa(hid_t file_id, haddr_t *eoa); HDF5 >= 1.10.2.
        fn H5Fget_eoa(file_id: i64, eoa: *mut u64) -> std::os::raw::c_int;
    }
    let mut eoa = 0u64;
    // SAFETY: a valid open file id and out pointer.
    (unsafe { H5Fget_eoa(file.id(), &mut eoa) } >= 0 && eoa > 0).then_some(eoa)
}

/// Gives back the disk space reserved past HDF5's end of allocation.
fn trim_to_eoa(file: &File, claim: &Claim) {
    if let Some(eoa) = eoa(file) {
        let _ = claim.trim(eoa);
    }
}

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

/// Creates dataset `target` with `a`'s shape, its space allocated at once
/// (so that HDF5's end of allocation covers the data before it is written)
/// and never filled.
fn create_typed<T: Element + hdf5::H5Type>(file: &File, target: &str, a: &RawArray) -> hdf5::Result<Dataset> {
    file.new_dataset::<T>()
        .shape(a.shape().to_vec())
        .alloc_time(Some(hdf5::plist::dataset_create::AllocTime::Early))
        .fill_time(hdf5::plist::dataset_create::FillTime::Never)
        .create(target)
}

/// Writes `a` into dataset `ds` of `a`'s shape.
fn write_typed<T: Element + hdf5::H5Type>(ds: &Dataset, a: &RawArray, staging: usize) -> hdf5::Result<()> {
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
