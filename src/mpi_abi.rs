//! Which MPI this library was compiled for.
//!
//! An MPI's ABI (handle types, constants, symbol semantics) is fixed by its
//! `mpi.h`: a library built for Open MPI cannot run in a process that loaded
//! MPICH, and the reverse. The family is read from `mpi.h`'s macros at build
//! time (`src/mpi_shim.c`), so asking for it calls no MPI function: a
//! binding can check it against the MPI its process loaded before any call
//! that would misbehave (the Python package does so at import).

use std::ffi::CStr;
use std::os::raw::{c_char, c_int};

/// An MPI ABI family. Exported to C as `dgampi_mpi_family`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum MpiFamily {
    /// Neither of the two below (the MPI's `mpi.h` defines neither macro).
    Other = 0,
    /// Open MPI (`OPEN_MPI` defined).
    OpenMpi = 1,
    /// MPICH and the MPIs built on its ABI: Intel MPI, MVAPICH, Cray MPICH
    /// (`MPICH_VERSION` defined).
    Mpich = 2,
}

impl MpiFamily {
    /// The family's name as MPI libraries spell it in
    /// `MPI_Get_library_version` ("Open MPI", "MPICH"; "other").
    pub fn name(self) -> &'static str {
        match self {
            MpiFamily::OpenMpi => "Open MPI",
            MpiFamily::Mpich => "MPICH",
            MpiFamily::Other => "other",
        }
    }

    /// The family of the MPI whose `MPI_Get_library_version` text is
    /// `library_version` ("Open MPI v4.1.4, ...", "MPICH Version: 4.0.2 ...",
    /// "Intel(R) MPI Library ...", "MVAPICH2 Version ...", "CRAY MPICH ...");
    /// `Other` when the text names none of them.
    pub fn of_library_version(library_version: &str) -> MpiFamily {
        if library_version.contains("Open MPI") {
            MpiFamily::OpenMpi
        } else if ["MPICH", "MVAPICH", "Intel(R) MPI"].iter().any(|k| library_version.contains(k)) {
            MpiFamily::Mpich
        } else {
            MpiFamily::Other
        }
    }
}

/// The MPI dgampi was compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MpiBuild {
    /// Its ABI family.
    pub family: MpiFamily,
    /// The implementation and version its `mpi.h` declares, e.g.
    /// "Open MPI 4.1.4" or "MPICH 4.0.2".
    pub version: &'static str,
}

extern "C" {
    fn rsdgampi_mpi_family() -> c_int;
    fn rsdgampi_mpi_header_version() -> *const c_char;
}

/// The MPI this library was compiled for. Calls no MPI function (valid
/// before `MPI_Init`, after `MPI_Finalize`, and beside another MPI).
pub fn mpi_build() -> MpiBuild {
    // SAFETY: the shim returns a constant read from mpi.h's macros.
    let family = match unsafe { rsdgampi_mpi_family() } {
        1 => MpiFamily::OpenMpi,
        2 => MpiFamily::Mpich,
        _ => MpiFamily::Other,
    };
    let version = header_version().to_str().unwrap_or("unknown MPI");
    MpiBuild { family, version }
}

/// [`MpiBuild::version`] as the C string the shim holds (for the C ABI).
pub(crate) fn header_version() -> &'static CStr {
    // SAFETY: the shim returns a pointer to a static NUL-terminated literal.
    unsafe { CStr::from_ptr(rsdgampi_mpi_header_version()) }
}

/// Checks that this library can run in a process whose MPI reports
/// `library_version` (its `MPI_Get_library_version` text, e.g. what mpi4py's
/// `MPI.Get_library_version()` returns): `Mismatch` when that MPI is of the
/// other ABI family than the one dgampi was compiled for, with a message
/// naming both. A text naming no known family is accepted (nothing to
/// compare). Calls no MPI function.
pub fn check_mpi_library(library_version: &str) -> crate::Result<()> {
    let built = mpi_build();
    let running = MpiFamily::of_library_version(library_version);
    if built.family == MpiFamily::Other || running == MpiFamily::Other || built.family == running {
        return Ok(());
    }
    let first_line = library_version.lines().next().unwrap_or("").trim();
    Err(crate::Error::new(
        crate::Status::Mismatch,
        format!(
            "libdgampi was compiled for {} ({} ABI) but this process runs {} ({}); an MPI library cannot be swapped for \
             one of another ABI family: build dgampi with the MPI the process uses (MPICC=<its mpicc>), or run with the \
             MPI dgampi was built for",
            built.version,
            built.family.name(),
            first_line,
            running.name()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_names_its_family_in_its_version() {
        let b = mpi_build();
        assert_ne!(b.family, MpiFamily::Other, "{b:?}");
        // Open MPI's header says "Open MPI x.y.z", MPICH-family ones name MPICH or a derivative.
        match b.family {
            MpiFamily::OpenMpi => assert!(b.version.starts_with("Open MPI "), "{b:?}"),
            _ => assert!(!b.version.contains("Open MPI"), "{b:?}"),
        }
        // It is the MPI this process runs (the test binary links the same libmpi).
        let running = mpi::environment::library_version().unwrap_or_default();
        assert_eq!(MpiFamily::of_library_version(&running), b.family, "built for {b:?}, running {running}");
        check_mpi_library(&running).unwrap();
    }

    #[test]
    fn library_version_texts_name_their_family() {
        for (text, family) in [
            ("Open MPI v4.1.4, package: Debian OpenMPI, ident: 4.1.4, repo rev: v4.1.4, May 26, 2022", MpiFamily::OpenMpi),
            ("MPICH Version:\t4.0.2\nMPICH Release date:\tThu Apr  7 12:34:45 CDT 2022", MpiFamily::Mpich),
            ("Intel(R) MPI Library 2021.10 for Linux* OS", MpiFamily::Mpich),
            ("MVAPICH2 Version      :\t2.3.7", MpiFamily::Mpich),
            ("CRAY MPICH version 8.1.27.1 (ANL base 3.4a2)", MpiFamily::Mpich),
            ("Microsoft MPI 10.1", MpiFamily::Other),
            ("", MpiFamily::Other),
        ] {
            assert_eq!(MpiFamily::of_library_version(text), family, "{text}");
        }
    }

    #[test]
    fn the_other_family_is_refused_with_both_names() {
        let b = mpi_build();
        let other = match b.family {
            MpiFamily::OpenMpi => "MPICH Version:\t4.0.2\nMPICH Release date: ...",
            _ => "Open MPI v4.1.4, package: Debian OpenMPI",
        };
        let e = check_mpi_library(other).unwrap_err();
        assert_eq!(e.status, crate::Status::Mismatch);
        assert!(e.message.contains(b.version) && e.message.contains(other.lines().next().unwrap()), "{}", e.message);
        check_mpi_library("Microsoft MPI 10.1").unwrap();
    }
}
