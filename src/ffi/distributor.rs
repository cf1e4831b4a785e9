//! C entry points of the work distributor (see [`crate::distributor`]).
//!
//! A `dgampi_distributor *` is an opaque handle from
//! `dgampi_distributor_create` (collective). Every call validates the handle
//! against the set of live handles, so a NULL, destroyed or foreign pointer
//! gives `DGAMPI_STATUS_INVALID_HANDLE` instead of a crash.
//! `dgampi_distributor_destroy` takes the address of the handle and sets it
//! to NULL; destroying a NULL handle is a no-op, so destroying twice through
//! the same variable is safe.

use crate::buffer::RawArray;
use crate::distributor::{Distributor, Split};
use crate::element::DType;
use crate::error::{Error, Result, Status};
use crate::ffi::array::{dgampi_array, dgampi_owned_array, out_from_c, raw_from_c, OwnedAlloc, DGAMPI_MAX_NDIM};
use crate::ffi::core::{guard, malloc_for_caller, non_null, write_text, LiveHandles};
use crate::ffi::{CommArg, MPI_Fint};
use crate::collective::{ArrayHeader, Destination};
use mpi::ffi::MPI_Comm;
use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_void};
use std::path::Path;

/// Opaque distributor handle.
#[allow(non_camel_case_types)]
pub struct dgampi_distributor {
    inner: Distributor,
}

/// The live handles.
static LIVE: LiveHandles = LiveHandles::new();

/// The distributor behind a live handle, for calls that reach MPI: fails with
/// `DGAMPI_STATUS_MPI_NOT_INITIALIZED` once MPI is finalized (before looking
/// at the handle), so no call on a distributor reaches a finalized MPI.
pub(crate) unsafe fn handle<'a>(h: *mut dgampi_distributor) -> Result<&'a mut Distributor> {
    crate::comm::ensure_initialized()?;
    local_handle(h)
}

/// The distributor behind a live handle, for calls that never reach MPI
/// (accessors, spill file), which keep working after `MPI_Finalize`.
unsafe fn local_handle<'a>(h: *mut dgampi_distributor) -> Result<&'a mut Distributor> {
    Ok(&mut (*LIVE.get(h, "distributor")?).inner)
}

/// Shared access to the distributor behind a live handle (for calls taking
/// two handles, which may be the same); checks MPI like [`handle`].
pub(crate) unsafe fn handle_ref<'a>(h: *mut dgampi_distributor) -> Result<&'a Distributor> {
    handle(h).map(|d| &*d)
}

unsafe fn opt_str<'a>(s: *const c_char, what: &str) -> Result<Option<&'a str>> {
    if s.is_null() {
        return Ok(None);
    }
    CStr::from_ptr(s).to_str().map(Some).map_err(|_| Error::invalid(format!("{what} is not valid UTF-8")))
}

unsafe fn name_arg<'a>(s: *const c_char) -> Result<&'a str> {
    opt_str(s, "name")?.ok_or_else(|| Error::null("name is NULL"))
}

/// A byte blob argument: `len` bytes at `data` (NULL allowed when `len` is 0);
/// a length no object can have (above `PTRDIFF_MAX`) is `OutOfRange`.
pub(crate) unsafe fn bytes_arg<'a>(data: *const c_void, len: usize, what: &str) -> Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if len > isize::MAX as usize {
        return Err(Error::out_of_range(format!("{what} has {len} bytes, more than any object can hold (PTRDIFF_MAX)")));
    }
    non_null(data, what)?;
    Ok(std::slice::from_raw_parts(data as *const u8, len))
}

/// A copy of a byte blob argument, allocated fallibly (`AllocationFailed`
/// instead of an abort).
unsafe fn bytes_copy(data: *const c_void, len: usize, what: &str) -> Result<Vec<u8>> {
    let bytes = bytes_arg(data, len, what)?;
    let mut copy = Vec::new();
    copy.try_reserve_exact(bytes.len())
        .map_err(|_| Error::new(Status::AllocationFailed, format!("cannot allocate {len} bytes to copy {what}")))?;
    copy.extend_from_slice(bytes);
    Ok(copy)
}

/// Hands `bytes` to the caller as a malloc'ed buffer (NULL when empty).
unsafe fn give_bytes(bytes: &[u8], data: *mut *mut c_void, len: *mut usize) -> Result<()> {
    let p = malloc_for_caller(bytes.len())?;
    if !bytes.is_empty() {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
    }
    *data = p as *mut c_void;
    *len = bytes.len();
    Ok(())
}

fn to_i64(n: usize) -> i64 {
    n as i64
}

// ---------------------------------------------------------------- lifetime

/// How the C caller split the tasks.
enum SplitArg {
    /// `ntasks` in even blocks.
    Even(i64),
    /// `sizes[0..nsizes]` tasks per rank.
    Sizes(*const i64, usize),
}

unsafe fn create(comm: CommArg, split: SplitArg, name: *const c_char, output_path: *const c_char, out: *mut *mut dgampi_distributor) -> Result<()> {
    let comm = comm.resolve_intra()?;
    let count = |n: i64, what: &str| usize::try_from(n).map_err(|_| Error::invalid(format!("{what} = {n} is negative")));
    let sizes = match split {
        SplitArg::Even(_) => None,
        SplitArg::Sizes(ptr, n) => Some((|| {
            if n > isize::MAX as usize / 8 {
                return Err(Error::out_of_range(format!("nsizes = {n} is too large to address")));
            }
            if n == 0 {
                return Ok(Vec::new());
            }
            non_null(ptr, "sizes")?;
            std::slice::from_raw_parts(ptr, n).iter().enumerate().map(|(r, &k)| count(k, &format!("sizes[{r}]"))).collect::<Result<Vec<_>>>()
        })()),
    };
    // Argument errors travel through the collective creation, so no rank waits.
    let args = (|| {
        non_null(out, "out")?;
        *out = std::ptr::null_mut();
        let split = match (&split, &sizes) {
            (SplitArg::Even(ntasks), _) => Split::Even(count(*ntasks, "ntasks")?),
            (_, Some(Ok(sizes))) => Split::Sizes(sizes),
            (_, Some(Err(e))) => return Err(e.clone()),
            (_, None) => unreachable!("sizes are converted for SplitArg::Sizes"),
        };
        let name = opt_str(name, "name")?.unwrap_or("");
        let path = opt_str(output_path, "output_path")?.map(Path::new);
        // An invalid DGAMPI_MAX_MESSAGE_BYTES is reported here, on every rank.
        crate::limit::resolve_limit(0)?;
        Ok((split, name, path))
    })();
    let inner = Distributor::create_split(comm, args)?;
    *out = LIVE.insert(Box::new(dgampi_distributor { inner }));
    Ok(())
}

/// Collective: creates a distributor of `ntasks` tasks over a duplicate of
/// `comm` and stores its handle in `*out`. `name` (may be NULL = "") and
/// `output_path` (NULL = no spill file) name the rank's spill file
/// `{output_path}/{name}_Rank{rank:05d}.hdf5`, created if absent (opened
/// read-only if it exists but cannot be written). `comm` must be an
/// intracommunicator (an intercommunicator is `DGAMPI_STATUS_INVALID_ARGUMENT`
/// on every rank). When another distributor (on any communicator, in this
/// process or another) has that file open, every rank gets
/// `DGAMPI_STATUS_INVALID_ARGUMENT` (or `DGAMPI_STATUS_REMOTE_ERROR`) naming it.
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_create(
    comm: MPI_Comm,
    ntasks: i64,
    name: *const c_char,
    output_path: *const c_char,
    out: *mut *mut dgampi_distributor,
) -> Status {
    guard("dgampi_distributor_create", || create(CommArg::C(comm), SplitArg::Even(ntasks), name, output_path, out))
}

/// Fortran-handle twin of `dgampi_distributor_create`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_create_f(
    comm: MPI_Fint,
    ntasks: i64,
    name: *const c_char,
    output_path: *const c_char,
    out: *mut *mut dgampi_distributor,
) -> Status {
    guard("dgampi_distributor_create_f", || create(CommArg::F(comm), SplitArg::Even(ntasks), name, output_path, out))
}

/// Collective: like `dgampi_distributor_create`, with rank `r` owning
/// `sizes[r]` tasks (`nsizes` must be the communicator's size; ranks may own
/// none; `ntasks` is the sum). For splits other than the even one: the
/// node-aware frequency split (`dgampi_node_aware_split`), or the caller's
/// own. Every rank must pass the same sizes (checked: `DGAMPI_STATUS_MISMATCH`
/// on every rank otherwise).
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_create_with_sizes(
    comm: MPI_Comm,
    sizes: *const i64,
    nsizes: usize,
    name: *const c_char,
    output_path: *const c_char,
    out: *mut *mut dgampi_distributor,
) -> Status {
    guard("dgampi_distributor_create_with_sizes", || create(CommArg::C(comm), SplitArg::Sizes(sizes, nsizes), name, output_path, out))
}

/// Fortran-handle twin of `dgampi_distributor_create_with_sizes`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_create_with_sizes_f(
    comm: MPI_Fint,
    sizes: *const i64,
    nsizes: usize,
    name: *const c_char,
    output_path: *const c_char,
    out: *mut *mut dgampi_distributor,
) -> Status {
    guard("dgampi_distributor_create_with_sizes_f", || create(CommArg::F(comm), SplitArg::Sizes(sizes, nsizes), name, output_path, out))
}

/// Collective: destroys the distributor `*handle` (closing its spill file and
/// freeing its communicators) and sets `*handle` to NULL. Every rank of the
/// distributor must call it (`MPI_Comm_free` is collective). A NULL `*handle` is a
/// no-op; a stale one gives `DGAMPI_STATUS_INVALID_HANDLE`. Works after
/// `MPI_Finalize` too (the communicator is then left to MPI).
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_destroy(handle: *mut *mut dgampi_distributor) -> Status {
    guard("dgampi_distributor_destroy", || {
        non_null(handle, "handle")?;
        let h = *handle;
        if h.is_null() {
            return Ok(());
        }
        drop(LIVE.remove(h, "distributor")?);
        *handle = std::ptr::null_mut();
        Ok(())
    })
}

// ---------------------------------------------------------------- accessors

/// Runs an accessor: validates the handle and `out`, stores `value(d)`.
unsafe fn access<T>(h: *mut dgampi_distributor, out: *mut T, value: impl FnOnce(&Distributor) -> T) -> Result<()> {
    let d = local_handle(h)?;
    non_null(out, "out")?;
    *out = value(d);
    Ok(())
}

/// Stores the number of tasks in `*out`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_ntasks(h: *mut dgampi_distributor, out: *mut i64) -> Status {
    guard("dgampi_distributor_ntasks", || access(h, out, |d| to_i64(d.ntasks())))
}

/// Stores the number of ranks in `*out`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_mpi_size(h: *mut dgampi_distributor, out: *mut c_int) -> Status {
    guard("dgampi_distributor_mpi_size", || access(h, out, |d| d.mpi_size() as c_int))
}

/// Stores this process's rank in `*out`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_my_rank(h: *mut dgampi_distributor, out: *mut c_int) -> Status {
    guard("dgampi_distributor_my_rank", || access(h, out, |d| d.my_rank() as c_int))
}

/// Stores 1 in `*out` on rank 0, else 0.
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_is_root(h: *mut dgampi_distributor, out: *mut c_int) -> Status {
    guard("dgampi_distributor_is_root", || access(h, out, |d| c_int::from(d.is_root())))
}

/// Stores this rank's number of tasks in `*out`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_my_size(h: *mut dgampi_distributor, out: *mut i64) -> Status {
    guard("dgampi_distributor_my_size", || access(h, out, |d| to_i64(d.my_size())))
}

/// Stores this rank's first task in `*out` (its tasks are
/// `my_offset .. my_offset + my_size`).
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_my_offset(h: *mut dgampi_distributor, out: *mut i64) -> Status {
    guard("dgampi_distributor_my_offset", || access(h, out, |d| to_i64(d.my_offset())))
}

/// Stores the distributor's private communicator in `*out` (borrowed:
/// do not free it; valid until the distributor is destroyed).
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_comm(h: *mut dgampi_distributor, out: *mut MPI_Comm) -> Status {
    guard("dgampi_distributor_comm", || access(h, out, |d| d.raw_comm()))
}

/// Fortran-handle form of `dgampi_distributor_comm`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_comm_f(h: *mut dgampi_distributor, out: *mut MPI_Fint) -> Status {
    guard("dgampi_distributor_comm_f", || {
        crate::comm::ensure_initialized()?;
        access(h, out, |d| crate::comm::comm_to_fortran(d.raw_comm()))
    })
}

unsafe fn per_rank(h: *mut dgampi_distributor, out: *mut i64, len: usize, pick: fn(&Distributor) -> &[usize]) -> Result<()> {
    let d = local_handle(h)?;
    non_null(out, "out")?;
    let values = pick(d);
    if len < values.len() {
        return Err(Error::out_of_range(format!("out has room for {len} values but there are {} ranks", values.len())));
    }
    for (k, v) in values.iter().enumerate() {
        *out.add(k) = to_i64(*v);
    }
    Ok(())
}

/// Stores the number of tasks of every rank in `out[0 .. mpi_size]` (`len`
/// is the room in `out`).
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_sizes(h: *mut dgampi_distributor, out: *mut i64, len: usize) -> Status {
    guard("dgampi_distributor_sizes", || per_rank(h, out, len, Distributor::sizes))
}

/// Stores the first task of every rank in `out[0 .. mpi_size]`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_offsets(h: *mut dgampi_distributor, out: *mut i64, len: usize) -> Status {
    guard("dgampi_distributor_offsets", || per_rank(h, out, len, Distributor::offsets))
}

/// Collective: blocks until every rank arrives.
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_barrier(h: *mut dgampi_distributor) -> Status {
    guard("dgampi_distributor_barrier", || handle(h)?.barrier())
}

// ---------------------------------------------------------------- collectives

/// Runs a collective that writes into library-allocated storage and hands it
/// over in `*out` (freed again on error).
pub(crate) unsafe fn into_owned(out: *mut dgampi_owned_array, op: impl FnOnce(&mut OwnedAlloc) -> Result<()>) -> Result<()> {
    let mut owned = OwnedAlloc::default();
    op(&mut owned)?;
    if !out.is_null() {
        owned.finish(&mut *out);
    }
    Ok(())
}

/// Runs collective `op` on locally validated `args`; when validation failed,
/// joins the collective's opening status agreement with the error instead, so
/// the other ranks return `DGAMPI_STATUS_REMOTE_ERROR` rather than wait.
pub(crate) fn collective<A>(d: &Distributor, args: Result<A>, op: impl FnOnce(A) -> Result<()>) -> Result<()> {
    match args {
        Ok(a) => op(a),
        Err(e) => {
            Err(crate::collective::join_with_error(d.lib_comm(), e))
        }
    }
}

/// The root's array argument: required on the root, ignored elsewhere.
unsafe fn root_array(d: &Distributor, a: *const dgampi_array, root: c_int, what: &str) -> Result<Option<RawArray>> {
    if d.my_rank() as c_int == root {
        raw_from_c(a, what).map(Some)
    } else {
        Ok(None)
    }
}

/// The root's output argument ([`out_from_c`] on the root, ignored elsewhere).
unsafe fn root_output(d: &Distributor, a: *const dgampi_array, root: c_int, what: &str) -> Result<Option<RawArray>> {
    if d.my_rank() as c_int == root {
        out_from_c(a, what).map(Some)
    } else {
        Ok(None)
    }
}

/// Collective: scatters the root's `[ntasks, ...]` array `send` (ignored on
/// other ranks, may be NULL there) into a new `[my_size, ...]` array `*out` on
/// every rank (release `out->data` with `dgampi_free`). Non-root ranks learn
/// dtype and trailing shape from the root. A wrong leading length fails on
/// every rank.
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_scatter(
    h: *mut dgampi_distributor,
    send: *const dgampi_array,
    root: c_int,
    limit: usize,
    out: *mut dgampi_owned_array,
) -> Status {
    guard("dgampi_distributor_scatter", || {
        let d = handle(h)?;
        let args = non_null(out, "out").and_then(|()| root_array(d, send, root, "send"));
        collective(d, args, |send| {
            into_owned(out, |owned| {
                d.scatter_raw(send.as_ref(), Destination::Alloc(&mut |hd| owned.alloc(hd)), root, limit).map(|_| ())
            })
        })
    })
}

/// Collective: like `dgampi_distributor_scatter`, into the caller's
/// `[my_size, ...]` array `out`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_scatter_into(
    h: *mut dgampi_distributor,
    send: *const dgampi_array,
    out: *const dgampi_array,
    root: c_int,
    limit: usize,
) -> Status {
    guard("dgampi_distributor_scatter_into", || {
        let d = handle(h)?;
        let args = root_array(d, send, root, "send").and_then(|send| Ok((send, out_from_c(out, "out")?)));
        collective(d, args, |(send, out)| d.scatter_raw(send.as_ref(), Destination::Into(&out), root, limit).map(|_| ()))
    })
}

/// Collective: gathers every rank's `[my_size, ...]` `block` into a new
/// `[ntasks, ...]` array `*out` on the root, in task order; other ranks get an
/// empty record (`data` NULL, `ndim` 0).
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_gather(
    h: *mut dgampi_distributor,
    block: *const dgampi_array,
    root: c_int,
    limit: usize,
    out: *mut dgampi_owned_array,
) -> Status {
    guard("dgampi_distributor_gather", || {
        let d = handle(h)?;
        let args = non_null(out, "out").and_then(|()| raw_from_c(block, "block"));
        collective(d, args, |block| {
            into_owned(out, |owned| d.gather_raw(&block, Destination::Alloc(&mut |hd| owned.alloc(hd)), root, limit).map(|_| ()))
        })
    })
}

/// Collective: like `dgampi_distributor_gather`, into the root's
/// `[ntasks, ...]` array `out` (ignored on other ranks, may be NULL there).
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_gather_into(
    h: *mut dgampi_distributor,
    block: *const dgampi_array,
    out: *const dgampi_array,
    root: c_int,
    limit: usize,
) -> Status {
    guard("dgampi_distributor_gather_into", || {
        let d = handle(h)?;
        let args = raw_from_c(block, "block").and_then(|b| Ok((b, root_output(d, out, root, "out")?)));
        collective(d, args, |(block, out)| match out {
            Some(o) => d.gather_raw(&block, Destination::Into(&o), root, limit).map(|_| ()),
            None => {
                // Only the root resolves its output: there a NULL `out` is an error.
                let mut missing = |_: &ArrayHeader| -> Result<RawArray> { Err(Error::null("out is NULL on the root")) };
                d.gather_raw(&block, Destination::Alloc(&mut missing), root, limit).map(|_| ())
            }
        })
    })
}

/// Collective: gathers every rank's `block` into a new `[ntasks, ...]` array
/// `*out` on every rank.
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_allgather(
    h: *mut dgampi_distributor,
    block: *const dgampi_array,
    limit: usize,
    out: *mut dgampi_owned_array,
) -> Status {
    guard("dgampi_distributor_allgather", || {
        let d = handle(h)?;
        let args = non_null(out, "out").and_then(|()| raw_from_c(block, "block"));
        collective(d, args, |block| {
            into_owned(out, |owned| d.allgather_raw(&block, Destination::Alloc(&mut |hd| owned.alloc(hd)), limit).map(|_| ()))
        })
    })
}

/// Collective: gathers every rank's `block` into the caller's `[ntasks, ...]`
/// array `out` on every rank.
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_allgather_into(
    h: *mut dgampi_distributor,
    block: *const dgampi_array,
    out: *const dgampi_array,
    limit: usize,
) -> Status {
    guard("dgampi_distributor_allgather_into", || {
        let d = handle(h)?;
        let args = raw_from_c(block, "block").and_then(|b| Ok((b, out_from_c(out, "out")?)));
        collective(d, args, |(block, out)| d.allgather_raw(&block, Destination::Into(&out), limit).map(|_| ()))
    })
}

/// Collective: sums `a` element-wise over all ranks, in place, in chunks below
/// the limit. Shape and dtype must be equal on every rank.
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_allreduce(h: *mut dgampi_distributor, a: *const dgampi_array, limit: usize) -> Status {
    guard("dgampi_distributor_allreduce", || {
        let d = handle(h)?;
        collective(d, out_from_c(a, "a"), |a| d.allreduce_raw(&a, limit))
    })
}

/// Collective: broadcasts the root's `len` bytes at `data` (ignored
/// elsewhere). Non-root ranks receive a new buffer `*out` of `*out_len` bytes
/// (release with `dgampi_free`; NULL when empty); on the root, as for every
/// broadcast, `*out` is NULL (nothing allocated) and `*out_len` is `len`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_bcast_bytes(
    h: *mut dgampi_distributor,
    data: *const c_void,
    len: usize,
    root: c_int,
    limit: usize,
    out: *mut *mut c_void,
    out_len: *mut usize,
) -> Status {
    guard("dgampi_distributor_bcast_bytes", || {
        let d = handle(h)?;
        let is_root = d.my_rank() as c_int == root;
        let args = (|| {
            non_null(out, "out")?;
            non_null(out_len, "out_len")?;
            Ok(if is_root { bytes_copy(data, len, "data")? } else { Vec::new() })
        })();
        let mut blob = Vec::new();
        collective(d, args, |mut mine| {
            d.bcast_bytes(&mut mine, root, limit)?;
            blob = mine;
            Ok(())
        })?;
        if is_root {
            *out = std::ptr::null_mut();
            *out_len = len;
            Ok(())
        } else {
            give_bytes(&blob, out, out_len)
        }
    })
}

/// Collective: broadcasts the root's array `a` (ignored elsewhere); dtype and
/// shape travel first and every non-root rank receives a new array in `*out`
/// (release `out->data` with `dgampi_free`). On the root `*out` describes
/// the array (dtype, ndim, shape) with `data` NULL, owning nothing, as for
/// every broadcast.
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_bcast_chunked(
    h: *mut dgampi_distributor,
    a: *const dgampi_array,
    root: c_int,
    limit: usize,
    out: *mut dgampi_owned_array,
) -> Status {
    guard("dgampi_distributor_bcast_chunked", || {
        let d = handle(h)?;
        let args = non_null(out, "out").and_then(|()| root_array(d, a, root, "a"));
        collective(d, args, |a| {
            let mut owned = OwnedAlloc::default();
            let header = d.bcast_chunked_raw(a.as_ref(), root, limit, &mut |hd| owned.alloc(hd))?;
            owned.finish_bcast(&mut *out, &header);
            Ok(())
        })
    })
}

/// Collective: broadcasts the root's `a` into `a` on every rank (dtype and
/// shape must match the root's everywhere).
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_bcast_chunked_into(h: *mut dgampi_distributor, a: *const dgampi_array, root: c_int, limit: usize) -> Status {
    guard("dgampi_distributor_bcast_chunked_into", || {
        let d = handle(h)?;
        d.bcast_chunked_into_raw(out_from_c(a, "a").as_ref().map_err(Clone::clone), root, limit)
    })
}

/// Collective: broadcasts an N-point object, the root's `meta_len`-byte
/// metadata blob and its array `mat` (sent as raw chunks, never inside the
/// blob). Non-root ranks receive new buffers `*out_meta` / `*out_meta_len`
/// and `*out_mat` (release `*out_meta` and `out_mat->data` with
/// `dgampi_free`). On the root, as for every broadcast, nothing is
/// allocated: `*out_meta` is NULL with `*out_meta_len` = `meta_len`, and
/// `*out_mat` describes `mat` (dtype, ndim, shape) with `data` NULL.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn dgampi_distributor_bcast_npoint(
    h: *mut dgampi_distributor,
    meta: *const c_void,
    meta_len: usize,
    mat: *const dgampi_array,
    root: c_int,
    limit: usize,
    out_meta: *mut *mut c_void,
    out_meta_len: *mut usize,
    out_mat: *mut dgampi_owned_array,
) -> Status {
    guard("dgampi_distributor_bcast_npoint", || {
        let d = handle(h)?;
        let is_root = d.my_rank() as c_int == root;
        let args = (|| {
            non_null(out_meta, "out_meta")?;
            non_null(out_meta_len, "out_meta_len")?;
            non_null(out_mat, "out_mat")?;
            let blob = if is_root { bytes_copy(meta, meta_len, "meta")? } else { Vec::new() };
            Ok((blob, root_array(d, mat, root, "mat")?))
        })();
        let mut meta_out = Vec::new();
        collective(d, args, |(mut blob, mat)| {
            let mut owned = OwnedAlloc::default();
            let header = d.bcast_npoint_raw(&mut blob, mat.as_ref(), root, limit, &mut |hd| owned.alloc(hd))?;
            owned.finish_bcast(&mut *out_mat, &header);
            meta_out = blob;
            Ok(())
        })?;
        if is_root {
            *out_meta = std::ptr::null_mut();
            *out_meta_len = meta_len;
            Ok(())
        } else {
            give_bytes(&meta_out, out_meta, out_meta_len)
        }
    })
}

/// Sends an N-point object to `dest`: the `meta_len`-byte metadata blob (with
/// the array's dtype and shape) at `base_tag`, then `mat` as a row transfer
/// at `base_tag + 500` (see `dgampi_send_rows`). Both tag ranges are checked before anything is sent;
/// `dest` must be another rank (`DGAMPI_STATUS_INVALID_ARGUMENT` otherwise).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn dgampi_distributor_send_to_rank(
    h: *mut dgampi_distributor,
    meta: *const c_void,
    meta_len: usize,
    mat: *const dgampi_array,
    dest: c_int,
    base_tag: c_int,
    limit: usize,
) -> Status {
    guard("dgampi_distributor_send_to_rank", || {
        let d = handle(h)?;
        d.send_to_rank_raw(bytes_arg(meta, meta_len, "meta")?, &raw_from_c(mat, "mat")?, dest, base_tag, limit)
    })
}

/// Receives an N-point object sent by `dgampi_distributor_send_to_rank`: the
/// metadata in a new buffer `*meta` / `*meta_len` and the array in `*mat`
/// (release with `dgampi_free`).
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_recv_from_rank(
    h: *mut dgampi_distributor,
    source: c_int,
    base_tag: c_int,
    meta: *mut *mut c_void,
    meta_len: *mut usize,
    mat: *mut dgampi_owned_array,
) -> Status {
    guard("dgampi_distributor_recv_from_rank", || {
        let d = handle(h)?;
        non_null(meta, "meta")?;
        non_null(meta_len, "meta_len")?;
        non_null(mat, "mat")?;
        let mut blob = Vec::new();
        into_owned(mat, |owned| {
            blob = d.recv_from_rank_raw(source, base_tag, Destination::Alloc(&mut |hd| owned.alloc(hd)))?.0;
            Ok(())
        })?;
        give_bytes(&blob, meta, meta_len)
    })
}

/// Like `dgampi_distributor_recv_from_rank`, with the array received into the
/// caller's `mat`, whose dtype and shape must match the sender's and whose
/// elements must not alias (a mismatch or an aliased `mat` is reported after
/// the object is drained).
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_recv_from_rank_into(
    h: *mut dgampi_distributor,
    source: c_int,
    base_tag: c_int,
    meta: *mut *mut c_void,
    meta_len: *mut usize,
    mat: *const dgampi_array,
) -> Status {
    guard("dgampi_distributor_recv_from_rank_into", || {
        let d = handle(h)?;
        non_null(meta, "meta")?;
        non_null(meta_len, "meta_len")?;
        let mat = raw_from_c(mat, "mat")?;
        // An output whose elements alias refuses the object, which is then drained.
        let (blob, _) = d.recv_from_rank_raw(source, base_tag, Destination::Into(&mat))?;
        give_bytes(&blob, meta, meta_len)
    })
}

// ---------------------------------------------------------------- spill file

/// Opens (creating if absent, never truncating) this rank's spill file; no-op
/// when open. An existing file that cannot be written (read-only file system,
/// no permission) is opened read-only (see `dgampi_distributor_spill_read_only`).
/// `DGAMPI_STATUS_INVALID_ARGUMENT` when another open handle (another
/// distributor with the same name and output path, in this process or
/// another) has the file.
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_open_file(h: *mut dgampi_distributor) -> Status {
    guard("dgampi_distributor_open_file", || local_handle(h)?.spill()?.open())
}

/// Opens this rank's existing spill file read-only (reopening it when it is
/// open read/write): reads work, writes fail with
/// `DGAMPI_STATUS_INVALID_ARGUMENT`, and other read-only handles may read the
/// file too. `DGAMPI_STATUS_NOT_FOUND` when the file does not exist.
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_open_file_read_only(h: *mut dgampi_distributor) -> Status {
    guard("dgampi_distributor_open_file_read_only", || local_handle(h)?.spill()?.open_read_only())
}

/// Stores 1 in `*read_only` while this rank's spill file is open but takes no
/// writes (opened read-only, by request or because the file cannot be
/// written, or after a write failed inside HDF5), 0 otherwise.
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_spill_read_only(h: *mut dgampi_distributor, read_only: *mut i32) -> Status {
    guard("dgampi_distributor_spill_read_only", || {
        let d = local_handle(h)?;
        non_null(read_only, "read_only")?;
        *read_only = i32::from(d.spill()?.is_read_only());
        Ok(())
    })
}

/// Closes this rank's spill file (safe when closed or absent).
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_close_file(h: *mut dgampi_distributor) -> Status {
    guard("dgampi_distributor_close_file", || local_handle(h)?.spill()?.close())
}

/// Closes and deletes this rank's spill file (safe when absent).
/// `DGAMPI_STATUS_INVALID_ARGUMENT`, and nothing deleted, when another open
/// handle (another distributor with the same name and output path) writes it.
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_delete_file(h: *mut dgampi_distributor) -> Status {
    guard("dgampi_distributor_delete_file", || local_handle(h)?.spill()?.delete())
}

/// Writes `a` as dataset `name` (group paths like "gamma/q0" allowed; an
/// existing dataset is replaced) in this rank's spill file.
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_spill_write(h: *mut dgampi_distributor, name: *const c_char, a: *const dgampi_array) -> Status {
    guard("dgampi_distributor_spill_write", || {
        let d = local_handle(h)?;
        let (name, a) = (name_arg(name)?, raw_from_c(a, "a")?);
        d.spill()?.write_raw(name, &a)
    })
}

/// Reads dataset `name` into `a`, whose dtype and shape must match the stored ones.
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_spill_read_into(h: *mut dgampi_distributor, name: *const c_char, a: *const dgampi_array) -> Status {
    guard("dgampi_distributor_spill_read_into", || {
        let d = local_handle(h)?;
        let (name, a) = (name_arg(name)?, out_from_c(a, "a")?);
        d.spill()?.read_into_raw(name, &a)
    })
}

/// Reads dataset `name` into a new array `*out` (release with `dgampi_free`).
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_spill_read(h: *mut dgampi_distributor, name: *const c_char, out: *mut dgampi_owned_array) -> Status {
    guard("dgampi_distributor_spill_read", || {
        let d = local_handle(h)?;
        let name = name_arg(name)?;
        non_null(out, "out")?;
        let file = d.spill()?;
        let (dtype, shape) = file.shape(name)?;
        into_owned(out, |owned| {
            let a = owned.alloc(&ArrayHeader { dtype, shape, limit: 0, flags: 0 })?;
            file.read_into_raw(name, &a)
        })
    })
}

/// Stores the dtype code, ndim and shape (`shape` has room for
/// DGAMPI_MAX_NDIM entries) of dataset `name`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_spill_shape(
    h: *mut dgampi_distributor,
    name: *const c_char,
    dtype: *mut i32,
    ndim: *mut i32,
    shape: *mut i64,
) -> Status {
    guard("dgampi_distributor_spill_shape", || {
        let d = local_handle(h)?;
        let name = name_arg(name)?;
        non_null(dtype, "dtype")?;
        non_null(ndim, "ndim")?;
        non_null(shape, "shape")?;
        let (t, dims): (DType, Vec<usize>) = d.spill()?.shape(name)?;
        *dtype = t as i32;
        *ndim = dims.len() as i32;
        for k in 0..DGAMPI_MAX_NDIM {
            *shape.add(k) = dims.get(k).map_or(0, |&n| to_i64(n));
        }
        Ok(())
    })
}

/// Lists the datasets of the spill file: `*names` receives a new buffer of
/// `*count` NUL-terminated paths, one after the other, sorted (release with
/// `dgampi_free`; NULL when there are none).
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_spill_list(h: *mut dgampi_distributor, names: *mut *mut c_char, count: *mut usize) -> Status {
    guard("dgampi_distributor_spill_list", || {
        let d = local_handle(h)?;
        non_null(names, "names")?;
        non_null(count, "count")?;
        let list = d.spill()?.list()?;
        let mut blob = Vec::new();
        for n in &list {
            blob.extend_from_slice(n.as_bytes());
            blob.push(0);
        }
        let mut len = 0usize;
        give_bytes(&blob, names as *mut *mut c_void, &mut len)?;
        *count = list.len();
        Ok(())
    })
}

/// Removes dataset `name` (`DGAMPI_STATUS_NOT_FOUND` if absent).
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_spill_remove(h: *mut dgampi_distributor, name: *const c_char) -> Status {
    guard("dgampi_distributor_spill_remove", || {
        let d = local_handle(h)?;
        let name = name_arg(name)?;
        d.spill()?.remove(name)
    })
}

/// Copies the spill file's path (NUL-terminated) into `buf` of `len` bytes,
/// with the size-query convention (see the header's conventions):
/// `*needed` (may be NULL) receives the bytes the path needs, NUL included;
/// `buf` NULL queries that size; a shorter `buf` gets
/// `DGAMPI_STATUS_OUT_OF_RANGE`. `DGAMPI_STATUS_INVALID_ARGUMENT` when the
/// distributor has no output path.
#[no_mangle]
pub unsafe extern "C" fn dgampi_distributor_spill_path(h: *mut dgampi_distributor, buf: *mut c_char, len: usize, needed: *mut usize) -> Status {
    guard("dgampi_distributor_spill_path", || {
        let d = local_handle(h)?;
        let path = d
            .spill_path()
            .ok_or_else(|| Error::invalid("this distributor has no output_path, so it has no spill file"))?;
        let text = path.to_str().ok_or_else(|| Error::invalid("the spill path is not valid UTF-8"))?;
        write_text(text, buf, len, needed, "the path")
    })
}
