//! A spill file's claim: a descriptor of dgampi's own on the file that holds
//! an advisory lock for as long as the file is open (exclusive to write,
//! shared to read) and reserves disk space before HDF5 writes.
//!
//! The lock is an open-file-description lock (`F_OFD_SETLK`) on Linux and a
//! `flock` on other Unix systems. Either conflicts between two opens of one
//! file in the same process as between processes, and is released when the
//! process dies. The Linux lock does not meet the `flock` HDF5 takes itself
//! when `HDF5_USE_FILE_LOCKING` forces HDF5's own locking on. On a file system
//! without lock support the file is used unlocked.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::Path;

/// Why a claim could not be taken.
#[derive(Debug)]
pub(crate) enum ClaimError {
    /// Another open handle, in this process or another, holds a conflicting lock.
    Busy,
    /// The file could not be opened.
    Io(io::Error),
}

/// An open, locked descriptor of a spill file (closed and unlocked on drop).
#[derive(Debug)]
pub(crate) struct Claim {
    file: File,
    exclusive: bool,
}

impl Claim {
    /// Opens `path` and locks it: read/write (created when absent) with an
    /// exclusive lock if `write`, read-only with a shared lock otherwise.
    pub(crate) fn acquire(path: &Path, write: bool) -> Result<Claim, ClaimError> {
        // The path can be unlinked or replaced between our open and our lock;
        // the lock only counts when the path still names the locked file.
        for _ in 0..16 {
            let mut options = OpenOptions::new();
            options.read(true);
            if write {
                options.write(true).create(true).mode(0o666);
            }
            let file = options.open(path).map_err(ClaimError::Io)?;
            if !try_lock(&file, write).map_err(ClaimError::Io)? {
                return Err(ClaimError::Busy);
            }
            let ours = file.metadata().map_err(ClaimError::Io)?;
            match std::fs::metadata(path) {
                Ok(now) if now.dev() == ours.dev() && now.ino() == ours.ino() => {
                    return Ok(Claim { file, exclusive: write });
                }
                Err(e) if !write => return Err(ClaimError::Io(e)),
                _ => {}
            }
        }
        Err(ClaimError::Busy)
    }

    /// True for a write claim (exclusive lock).
    pub(crate) fn is_exclusive(&self) -> bool {
        self.exclusive
    }

    /// The file's current size in bytes.
    pub(crate) fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    /// Allocates `bytes` more bytes on disk past the file's current end, so
    /// that HDF5's writes into them cannot fail for lack of space (or because of
    /// a file-size limit, which the allocation checks too). On failure the file
    /// keeps its size and nothing else changes.
    pub(crate) fn reserve(&self, bytes: u64) -> io::Result<()> {
        if bytes == 0 {
            return Ok(());
        }
        let len = self.len()?;
        let too_big = || io::Error::new(io::ErrorKind::InvalidInput, format!("{bytes} bytes past {len}"));
        let start = libc::off_t::try_from(len).map_err(|_| too_big())?;
        let count = libc::off_t::try_from(bytes).map_err(|_| too_big())?;
        start.checked_add(count).ok_or_else(too_big)?;
        // SAFETY: a valid descriptor; posix_fallocate returns an errno value.
        let r = unsafe { libc::posix_fallocate(self.file.as_raw_fd(), start, count) };
        if r != 0 {
            // Give back whatever part was allocated.
            let _ = self.file.set_len(len);
            return Err(io::Error::from_raw_os_error(r));
        }
        Ok(())
    }

    /// Cuts the file back to `len` bytes when it is longer (returns the unused
    /// part of a reservation).
    pub(crate) fn trim(&self, len: u64) -> io::Result<()> {
        if self.len()? > len {
            self.file.set_len(len)?;
        }
        Ok(())
    }
}

/// Takes the lock without waiting: Ok(false) when another handle holds a
/// conflicting one; Ok(true) also when the file system has no lock support.
#[cfg(target_os = "linux")]
fn try_lock(file: &File, exclusive: bool) -> io::Result<bool> {
    // SAFETY: a zeroed flock is valid (l_start = l_len = 0: the whole file;
    // l_pid must be 0 for OFD locks).
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = if exclusive { libc::F_WRLCK } else { libc::F_RDLCK } as _;
    lock.l_whence = libc::SEEK_SET as _;
    // SAFETY: a valid descriptor and a valid flock.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &lock) } == 0 {
        return Ok(true);
    }
    lock_outcome(io::Error::last_os_error())
}

/// See the Linux variant.
#[cfg(not(target_os = "linux"))]
fn try_lock(file: &File, exclusive: bool) -> io::Result<bool> {
    let op = if exclusive { libc::LOCK_EX } else { libc::LOCK_SH };
    // SAFETY: a valid descriptor.
    if unsafe { libc::flock(file.as_raw_fd(), op | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    lock_outcome(io::Error::last_os_error())
}

/// Maps a failed lock call: held elsewhere, unsupported, or a real error.
fn lock_outcome(e: io::Error) -> io::Result<bool> {
    match e.raw_os_error() {
        Some(c) if c == libc::EAGAIN || c == libc::EACCES || c == libc::EWOULDBLOCK => Ok(false),
        Some(c) if c == libc::ENOLCK || c == libc::EINVAL || c == libc::EOPNOTSUPP || c == libc::ENOSYS => Ok(true),
        _ => Err(e),
    }
}
