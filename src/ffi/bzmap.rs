//! C entry points of the Brillouin-zone maps and the frequency re-layout (see
//! [`crate::bzmap`] and [`crate::freq`]).

use crate::bzmap::{exchange_and_map_irrbz_fullbz_raw, map_irrbz_fullbz_raw};
use crate::bzmap::MapPlan;
use crate::bzplan::PlanObject;
use crate::distributor::Distributor;
use crate::element::DType;
use crate::error::{Error, Result};
use crate::ffi::array::{dgampi_array, dgampi_owned_array, out_from_c, raw_from_c, shape_from_c};
use crate::ffi::core::{guard, non_null, LiveHandles};
use crate::ffi::record::{self, Extensible};
use crate::ffi::distributor::{collective, dgampi_distributor, handle_ref, into_owned};
use crate::freq::{VslicePlan, gather_full_ibz_for_vslice_raw, node_aware_split, node_aware_split_by, node_aware_split_with_nodes, FreqSplit, NodeOrder};
use crate::orbital::OwnedTransform;
use crate::collective::Destination;
use crate::Status;
use num_complex::Complex64;
use std::os::raw::{c_int, c_void};

/// The optional per-k orbital transform of the maps: `u` holds `n` complex128
/// matrices of `nb x nb` (row-major), `sigma` `n` signs (±1) and `conj` `n`
/// flags (nonzero = conjugate the representative's data), for this rank's
/// full-BZ points or for all of them. `axes` (2 or 4) is the number of
/// orbital axes right after q. An extensible record: initialize it with
/// `dgampi_orbital_transform_init(&t, sizeof t)` (which sets `struct_size`
/// and zeroes the rest), then set every field. Later releases only append
/// fields (0 = their default); see "Extensible records" at the top.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy)]
pub struct dgampi_orbital_transform {
    /// `sizeof(dgampi_orbital_transform)` as the caller compiled it (set by
    /// `dgampi_orbital_transform_init`).
    pub struct_size: usize,
    /// `n * nb * nb` complex128 values (pairs of doubles).
    pub u: *const c_void,
    /// Number of k-points covered.
    pub n: i64,
    /// Orbital dimension.
    pub nb: i64,
    /// Orbital axes right after q: 2 or 4.
    pub axes: i32,
    /// `n` signs.
    pub sigma: *const f64,
    /// `n` conjugation flags.
    pub conj: *const u8,
}

/// Size of the first layout of `dgampi_orbital_transform` with
/// `struct_size` (dgampi 0.2), the smallest `struct_size` accepted.
pub const DGAMPI_ORBITAL_TRANSFORM_MIN_SIZE: usize = 56;
const _: () = assert!(std::mem::size_of::<dgampi_orbital_transform>() >= DGAMPI_ORBITAL_TRANSFORM_MIN_SIZE);

// SAFETY: repr(C), `struct_size: usize` first, integers and raw pointers.
unsafe impl Extensible for dgampi_orbital_transform {
    const NAME: &'static str = "dgampi_orbital_transform";
    const MIN_SIZE: usize = DGAMPI_ORBITAL_TRANSFORM_MIN_SIZE;
    fn defaults() -> dgampi_orbital_transform {
        dgampi_orbital_transform {
            struct_size: std::mem::size_of::<dgampi_orbital_transform>(),
            u: std::ptr::null(),
            n: 0,
            nb: 0,
            axes: 0,
            sigma: std::ptr::null(),
            conj: std::ptr::null(),
        }
    }
}

/// Initializes the caller's record `t` of `struct_size` bytes (pass
/// `sizeof *t`): zeroes it and stores `struct_size`; then set `u`, `n`,
/// `nb`, `axes`, `sigma` and `conj`. A `struct_size` below
/// `DGAMPI_ORBITAL_TRANSFORM_MIN_SIZE`, above `DGAMPI_MAX_RECORD_BYTES` or
/// not a multiple of 8 is `DGAMPI_STATUS_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_orbital_transform_init(t: *mut dgampi_orbital_transform, struct_size: usize) -> Status {
    guard("dgampi_orbital_transform_init", || record::init(t, struct_size))
}

/// The transform's inputs, copied out of the C record (NULL: none).
unsafe fn transform_from_c(t: *const dgampi_orbital_transform) -> Result<Option<OwnedTransform>> {
    if t.is_null() {
        return Ok(None);
    }
    let t = &record::read(t)?;
    let n = usize::try_from(t.n).map_err(|_| Error::invalid(format!("transform n = {} is negative", t.n)))?;
    let nb = usize::try_from(t.nb).map_err(|_| Error::invalid(format!("transform nb = {} is negative", t.nb)))?;
    let axes = usize::try_from(t.axes).map_err(|_| Error::invalid(format!("transform axes = {} is negative", t.axes)))?;
    // Every size below is a product of caller values: checked, and each
    // array must fit the address space before a slice is formed over it.
    let too_large = || Error::out_of_range(format!("transform n = {n} with nb = {nb}: U (n * nb * nb complex128 values) is too large to address"));
    let count = nb.checked_mul(nb).and_then(|m| m.checked_mul(n)).ok_or_else(too_large)?;
    let doubles = count.checked_mul(2).filter(|d| d.checked_mul(8).is_some_and(|b| b <= isize::MAX as usize)).ok_or_else(too_large)?;
    if n.checked_mul(8).is_none_or(|b| b > isize::MAX as usize) {
        return Err(Error::out_of_range(format!("transform n = {n}: sigma (n doubles) is too large to address")));
    }
    if n > 0 {
        non_null(t.u, "transform u")?;
        non_null(t.sigma, "transform sigma")?;
        non_null(t.conj, "transform conj")?;
    }
    let slice = |p: *const f64, len: usize| if len == 0 { &[][..] } else { std::slice::from_raw_parts(p, len) };
    let u = slice(t.u as *const f64, doubles).chunks_exact(2).map(|z| Complex64::new(z[0], z[1])).collect();
    let sigma = slice(t.sigma, n).to_vec();
    let conj = if n == 0 { Vec::new() } else { std::slice::from_raw_parts(t.conj, n).iter().map(|&c| c != 0).collect() };
    Ok(Some(OwnedTransform::new(u, nb, axes, sigma, conj)))
}

/// Converts `irrk_inv` (n_full int64 values, each >= 0).
unsafe fn map_from_c(irrk_inv: *const i64, n_full: usize) -> Result<Vec<usize>> {
    if n_full == 0 {
        return Ok(Vec::new());
    }
    if n_full > isize::MAX as usize / 8 {
        return Err(Error::out_of_range(format!("n_full = {n_full}: irrk_inv (n_full int64 values) is too large to address")));
    }
    non_null(irrk_inv, "irrk_inv")?;
    std::slice::from_raw_parts(irrk_inv, n_full)
        .iter()
        .enumerate()
        .map(|(q, &k)| usize::try_from(k).map_err(|_| Error::out_of_range(format!("irrk_inv[{q}] = {k} is negative"))))
        .collect()
}

/// Which map to run.
#[derive(Clone, Copy)]
enum MapKind {
    Exchange,
    ThroughRoot,
}

/// The distributor whose communicator carries a map's opening agreement (see
/// `bzmap::coordinator`); `full` when the irreducible handle is unusable here
/// (then every rank must have passed the same unusable handle for the others
/// to hear of it, as documented for handles).
fn map_coordinator<'a>(irr: &Result<&'a Distributor>, full: &'a Distributor) -> &'a Distributor {
    match irr {
        Ok(irr) => crate::bzmap::coordinator(irr, full),
        Err(_) => full,
    }
}

/// Shared body of the four map entry points.
#[allow(clippy::too_many_arguments)]
unsafe fn run_map(
    kind: MapKind,
    irr: *mut dgampi_distributor,
    full: *mut dgampi_distributor,
    irrk_inv: *const i64,
    n_full: usize,
    block: *const dgampi_array,
    transform: *const dgampi_orbital_transform,
    limit: usize,
    out_into: *const dgampi_array,
    out_owned: *mut dgampi_owned_array,
) -> Result<()> {
    // Everything but the `full` handle is checked inside the map's opening
    // agreement, so a bad argument on one rank fails everywhere.
    let full = handle_ref(full)?;
    let irr = handle_ref(irr);
    let coord = map_coordinator(&irr, full);
    let args = (|| {
        let irr = irr?;
        if out_into.is_null() {
            non_null(out_owned, "out")?;
        }
        let map = map_from_c(irrk_inv, n_full)?;
        let block = raw_from_c(block, "block")?;
        let t = transform_from_c(transform)?;
        let into = if out_into.is_null() { None } else { Some(out_from_c(out_into, "out")?) };
        Ok((irr, map, block, t, into))
    })();
    collective(coord, args, |(irr, map, block, t, into)| {
        let f = match kind {
            MapKind::Exchange => exchange_and_map_irrbz_fullbz_raw,
            MapKind::ThroughRoot => map_irrbz_fullbz_raw,
        };
        let view = t.as_ref().map(OwnedTransform::view);
        match into {
            Some(o) => f(irr, full, &map, &block, Destination::Into(&o), view.as_ref(), limit).map(|_| ()),
            None => into_owned(out_owned, |owned| {
                f(irr, full, &map, &block, Destination::Alloc(&mut |h| owned.alloc(h)), view.as_ref(), limit).map(|_| ())
            }),
        }
    })
}

/// Collective: unfolds this rank's `[my_irr, ...]` `block` to its
/// `[my_full, ...]` block of the full BZ, `full[q] = irr[irrk_inv[q]]`, peer
/// to peer (each needed irreducible row crosses the network once per
/// destination rank; no rank holds more than its blocks plus bounded
/// buffers). `irrk_inv` has `n_full` entries, equal on all ranks (checked);
/// `transform` may be NULL. The result is a new array in `*out` (release with
/// `dgampi_free`).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn dgampi_exchange_and_map_irrbz_fullbz(
    irr: *mut dgampi_distributor,
    full: *mut dgampi_distributor,
    irrk_inv: *const i64,
    n_full: usize,
    block: *const dgampi_array,
    transform: *const dgampi_orbital_transform,
    limit: usize,
    out: *mut dgampi_owned_array,
) -> Status {
    guard("dgampi_exchange_and_map_irrbz_fullbz", || {
        run_map(MapKind::Exchange, irr, full, irrk_inv, n_full, block, transform, limit, std::ptr::null(), out)
    })
}

/// Like `dgampi_exchange_and_map_irrbz_fullbz`, into the caller's
/// `[my_full, ...]` array `out`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn dgampi_exchange_and_map_irrbz_fullbz_into(
    irr: *mut dgampi_distributor,
    full: *mut dgampi_distributor,
    irrk_inv: *const i64,
    n_full: usize,
    block: *const dgampi_array,
    transform: *const dgampi_orbital_transform,
    limit: usize,
    out: *const dgampi_array,
) -> Status {
    guard("dgampi_exchange_and_map_irrbz_fullbz_into", || {
        run_map(MapKind::Exchange, irr, full, irrk_inv, n_full, block, transform, limit, out, std::ptr::null_mut())
    })
}

/// Collective: the same unfolding through the root (gather, unfold there,
/// scatter); simple, but the root holds both whole arrays.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn dgampi_map_irrbz_fullbz(
    irr: *mut dgampi_distributor,
    full: *mut dgampi_distributor,
    irrk_inv: *const i64,
    n_full: usize,
    block: *const dgampi_array,
    transform: *const dgampi_orbital_transform,
    limit: usize,
    out: *mut dgampi_owned_array,
) -> Status {
    guard("dgampi_map_irrbz_fullbz", || {
        run_map(MapKind::ThroughRoot, irr, full, irrk_inv, n_full, block, transform, limit, std::ptr::null(), out)
    })
}

/// Like `dgampi_map_irrbz_fullbz`, into the caller's `[my_full, ...]` array `out`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn dgampi_map_irrbz_fullbz_into(
    irr: *mut dgampi_distributor,
    full: *mut dgampi_distributor,
    irrk_inv: *const i64,
    n_full: usize,
    block: *const dgampi_array,
    transform: *const dgampi_orbital_transform,
    limit: usize,
    out: *const dgampi_array,
) -> Status {
    guard("dgampi_map_irrbz_fullbz_into", || {
        run_map(MapKind::ThroughRoot, irr, full, irrk_inv, n_full, block, transform, limit, out, std::ptr::null_mut())
    })
}

/// Writes a split into two caller arrays of room `len` (at least the rank count).
unsafe fn write_split(split: &FreqSplit, sizes: *mut i64, offsets: *mut i64, len: usize) -> Result<()> {
    non_null(sizes, "sizes")?;
    non_null(offsets, "offsets")?;
    if len < split.sizes.len() {
        return Err(Error::out_of_range(format!("sizes/offsets have room for {len} ranks, need {}", split.sizes.len())));
    }
    for r in 0..split.sizes.len() {
        *sizes.add(r) = split.sizes[r] as i64;
        *offsets.add(r) = split.offsets[r] as i64;
    }
    Ok(())
}

/// Collective: the node-aware split of `n_nu` frequencies over the ranks of
/// `d` (nodes from `MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)`): equal over the
/// nodes in order (extra to the first nodes), then over each node's ranks
/// (extra to its first ranks). Writes every rank's size and offset into
/// `sizes[0..mpi_size]` and `offsets[0..mpi_size]` (`len` = their room).
#[no_mangle]
pub unsafe extern "C" fn dgampi_node_aware_split(d: *mut dgampi_distributor, n_nu: i64, sizes: *mut i64, offsets: *mut i64, len: usize) -> Status {
    guard("dgampi_node_aware_split", || {
        let d = handle_ref(d)?;
        let args = (|| {
            non_null(sizes, "sizes")?;
            non_null(offsets, "offsets")?;
            if len < d.mpi_size() {
                return Err(Error::out_of_range(format!("sizes/offsets have room for {len} ranks, need {}", d.mpi_size())));
            }
            usize::try_from(n_nu).map_err(|_| Error::invalid(format!("n_nu = {n_nu} is negative")))
        })();
        collective(d, args, |n| write_split(&node_aware_split(d, n)?, sizes, offsets, len))
    })
}

/// Collective: `dgampi_node_aware_split` with the nodes found and ordered
/// as `order` (a `dgampi_node_order`) says: `DGAMPI_NODE_ORDER_SHARED_MEMORY`
/// (the default of `dgampi_node_aware_split`: ranks sharing memory form a
/// node, nodes ordered by their lowest rank) or `DGAMPI_NODE_ORDER_HOST_NAME`
/// (ranks with the same `MPI_Get_processor_name` form a node, nodes ordered
/// by host name, slices in rank order: the original Python module's split).
/// `order` must be equal on every rank.
#[no_mangle]
pub unsafe extern "C" fn dgampi_node_aware_split_ordered(
    d: *mut dgampi_distributor,
    n_nu: i64,
    order: i32,
    sizes: *mut i64,
    offsets: *mut i64,
    len: usize,
) -> Status {
    guard("dgampi_node_aware_split_ordered", || {
        let d = handle_ref(d)?;
        let args = (|| {
            non_null(sizes, "sizes")?;
            non_null(offsets, "offsets")?;
            if len < d.mpi_size() {
                return Err(Error::out_of_range(format!("sizes/offsets have room for {len} ranks, need {}", d.mpi_size())));
            }
            let order = NodeOrder::from_code(order)?;
            Ok((usize::try_from(n_nu).map_err(|_| Error::invalid(format!("n_nu = {n_nu} is negative")))?, order))
        })();
        collective(d, args, |(n, order)| write_split(&node_aware_split_by(d, n, order)?, sizes, offsets, len))
    })
}

/// The node-aware split of `n_nu` frequencies over `nranks` ranks whose node
/// labels are `nodes[0..nranks]` (any integers; for tests and for callers that
/// know their placement). Local, no MPI.
#[no_mangle]
pub unsafe extern "C" fn dgampi_node_aware_split_nodes(n_nu: i64, nodes: *const i64, nranks: usize, sizes: *mut i64, offsets: *mut i64) -> Status {
    guard("dgampi_node_aware_split_nodes", || {
        let n = usize::try_from(n_nu).map_err(|_| Error::invalid(format!("n_nu = {n_nu} is negative")))?;
        if nranks == 0 {
            return Err(Error::invalid("nranks is 0"));
        }
        if nranks > isize::MAX as usize / 8 {
            return Err(Error::out_of_range(format!("nranks = {nranks}: nodes (nranks int64 values) is too large to address")));
        }
        non_null(nodes, "nodes")?;
        let split = node_aware_split_with_nodes(n, std::slice::from_raw_parts(nodes, nranks))?;
        write_split(&split, sizes, offsets, nranks)
    })
}

/// Collective: regroups a vertex `[q_irr_local, orb..., nu, nu']` distributed
/// over irreducible q into `[n_full, orb..., my_nu, nu']` on every rank (all q
/// unfolded through `irrk_inv`, this rank's slice of nu), where the slices are
/// `split_sizes` / `split_offsets` (mpi_size entries each, the same on every
/// rank, tiling `0..n_nu`, e.g. from `dgampi_node_aware_split`). `irrk_inv`
/// and the split must be equal on every rank (checked with a fingerprint). The result is a new array in
/// `*out`; a rank with an empty slice gets a zero-size array (`data` NULL) and
/// `*has_slice` = 0. `transform` may be NULL.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn dgampi_gather_full_ibz_for_vslice(
    irr: *mut dgampi_distributor,
    full: *mut dgampi_distributor,
    irrk_inv: *const i64,
    n_full: usize,
    split_sizes: *const i64,
    split_offsets: *const i64,
    block: *const dgampi_array,
    transform: *const dgampi_orbital_transform,
    limit: usize,
    out: *mut dgampi_owned_array,
    has_slice: *mut c_int,
) -> Status {
    guard("dgampi_gather_full_ibz_for_vslice", || {
        let full = handle_ref(full)?;
        let irr = handle_ref(irr);
        let coord = map_coordinator(&irr, full);
        let args = (|| {
            let irr = irr?;
            non_null(out, "out")?;
            non_null(has_slice, "has_slice")?;
            let split = split_from_c(full, split_sizes, split_offsets)?;
            Ok((irr, map_from_c(irrk_inv, n_full)?, split, raw_from_c(block, "block")?, transform_from_c(transform)?))
        })();
        collective(coord, args, |(irr, map, split, block, t)| {
            let mine = split.sizes[full.my_rank()];
            let view = t.as_ref().map(OwnedTransform::view);
            into_owned(out, |owned| {
                gather_full_ibz_for_vslice_raw(irr, full, &map, &split, &block, Destination::Alloc(&mut |h| owned.alloc(h)), view.as_ref(), limit)
                    .map(|_| ())
            })?;
            *has_slice = c_int::from(mine > 0);
            Ok(())
        })
    })
}

unsafe fn split_from_c(d: &Distributor, sizes: *const i64, offsets: *const i64) -> Result<FreqSplit> {
    non_null(sizes, "split_sizes")?;
    non_null(offsets, "split_offsets")?;
    let conv = |p: *const i64, what: &str| -> Result<Vec<usize>> {
        std::slice::from_raw_parts(p, d.mpi_size())
            .iter()
            .map(|&v| usize::try_from(v).map_err(|_| Error::invalid(format!("{what} has a negative entry {v}"))))
            .collect()
    };
    Ok(FreqSplit { sizes: conv(sizes, "split_sizes")?, offsets: conv(offsets, "split_offsets")? })
}

// ---------------------------------------------------------------- plans

/// Opaque handle of a planned IBZ → full-BZ map (`dgampi_map_plan_create`).
#[allow(non_camel_case_types)]
pub struct dgampi_map_plan {
    inner: MapPlan,
}

/// Opaque handle of a planned frequency re-layout (`dgampi_vslice_plan_create`).
#[allow(non_camel_case_types)]
pub struct dgampi_vslice_plan {
    inner: VslicePlan,
}

/// The live plans of each kind.
static LIVE_MAP_PLANS: LiveHandles = LiveHandles::new();
static LIVE_VSLICE_PLANS: LiveHandles = LiveHandles::new();

/// A row shape from C: `ndim` (0 = rows of one element) int64 values.
unsafe fn row_shape_from_c(ndim: i32, shape: *const i64) -> Result<Vec<usize>> {
    match ndim {
        0 => Ok(Vec::new()),
        n if n < 0 || n as usize >= crate::buffer::MAX_NDIM => {
            Err(Error::invalid(format!("row_ndim = {n} is outside 0..{}", crate::buffer::MAX_NDIM)))
        }
        n => shape_from_c(n, shape),
    }
}

/// Plan creation's shared body: converts the arguments with `convert` and
/// creates with `create`; an argument error joins the creation's collective
/// steps (the communicator duplicate and its agreement) so every rank fails.
unsafe fn create_plan<A, P>(
    irr: *mut dgampi_distributor,
    full: *mut dgampi_distributor,
    out: *mut *mut P,
    live: &LiveHandles,
    convert: impl FnOnce(&Distributor) -> Result<A>,
    create: impl FnOnce(&Distributor, &Distributor, A) -> Result<P>,
) -> Result<()> {
    let full = handle_ref(full)?;
    let irr = handle_ref(irr);
    let coord = map_coordinator(&irr, full);
    let args = (|| {
        non_null(out, "out")?;
        *out = std::ptr::null_mut();
        Ok((irr?, convert(full)?))
    })();
    let plan = match args {
        Ok((irr, a)) => create(irr, full, a)?,
        Err(e) => return Err(crate::collective::join_after_dup(coord.lib_comm(), e)),
    };
    *out = live.insert(Box::new(plan));
    Ok(())
}

/// Destroys the plan `*plan` of registry `live` and sets `*plan` to NULL.
unsafe fn destroy_plan<P>(plan: *mut *mut P, live: &LiveHandles, kind: &str) -> Result<()> {
    non_null(plan, "plan")?;
    let h = *plan;
    if h.is_null() {
        return Ok(());
    }
    drop(live.remove(h, kind)?);
    *plan = std::ptr::null_mut();
    Ok(())
}

/// A plan's execution from C: converts the descriptors; a bad one joins the
/// execution's agreement so every rank fails.
unsafe fn execute_plan(plan: &mut dyn PlanObject, block: *const dgampi_array, out: *const dgampi_array) -> Result<()> {
    match raw_from_c(block, "block").and_then(|b| Ok((b, out_from_c(out, "out")?))) {
        Ok((b, o)) => plan.execute_raw(&b, &o),
        Err(e) => Err(plan.fail_execute(e)),
    }
}

/// Writes a plan's block and output shapes (`ndim` entries each, which must
/// be the plan's number of axes).
unsafe fn write_shapes(plan: &dyn PlanObject, ndim: i32, block_shape: *mut i64, out_shape: *mut i64) -> Result<()> {
    let (block, out) = plan.shapes();
    if usize::try_from(ndim).ok() != Some(block.len()) {
        return Err(Error::mismatch(format!("the plan's arrays have {} axes, not ndim = {ndim}", block.len())));
    }
    for (shape, dst, what) in [(block, block_shape, "block_shape"), (out, out_shape, "out_shape")] {
        non_null(dst, what)?;
        for (k, &n) in shape.iter().enumerate() {
            *dst.add(k) = n as i64;
        }
    }
    Ok(())
}

/// Writes the plan's route into `*route`.
unsafe fn write_route(plan: &dyn PlanObject, route: *mut i32) -> Result<()> {
    non_null(route, "route")?;
    *route = plan.route() as i32;
    Ok(())
}

/// Collective: plans the peer-to-peer unfolding `full[q] = irr[irrk_inv[q]]`
/// (as `dgampi_exchange_and_map_irrbz_fullbz` does it) for rows of
/// `row_shape` (`row_ndim` int64 values; 0 axes = one element per q) of
/// `dtype`, with the optional `transform` (NULL = none; copied, so its
/// arrays may be freed after the call). Every rank passes the same
/// `irrk_inv`, `dtype`, row shape and `limit` (checked); a bad argument on
/// any rank fails on every rank. The plan keeps its own duplicate of the
/// distributors' communicator: the distributors may be destroyed first.
/// Stores the handle in `*out` (release with `dgampi_map_plan_destroy`).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn dgampi_map_plan_create(
    irr: *mut dgampi_distributor,
    full: *mut dgampi_distributor,
    irrk_inv: *const i64,
    n_full: usize,
    dtype: i32,
    row_ndim: i32,
    row_shape: *const i64,
    transform: *const dgampi_orbital_transform,
    limit: usize,
    out: *mut *mut dgampi_map_plan,
) -> Status {
    guard("dgampi_map_plan_create", || {
        create_plan(
            irr,
            full,
            out,
            &LIVE_MAP_PLANS,
            |_| Ok((map_from_c(irrk_inv, n_full)?, DType::from_code(dtype)?, row_shape_from_c(row_ndim, row_shape)?, transform_from_c(transform)?)),
            |irr, full, (map, dtype, row, t)| {
                let inner = MapPlan::new(irr, full, &map, dtype, &row, t.as_ref().map(OwnedTransform::view).as_ref(), limit)?;
                Ok(dgampi_map_plan { inner })
            },
        )
    })
}

/// Collective: unfolds this rank's `block` (`[my_irr, row...]`) into `out`
/// (`[my_full, row...]`, not overlapping `block`; strided arrays are
/// accepted), applying the plan's transform. A wrong buffer on any rank
/// fails on every rank and nothing moves; the plan stays usable.
#[no_mangle]
pub unsafe extern "C" fn dgampi_map_plan_execute(plan: *mut dgampi_map_plan, block: *const dgampi_array, out: *const dgampi_array) -> Status {
    guard("dgampi_map_plan_execute", || {
        crate::comm::ensure_initialized()?;
        execute_plan(&mut (*LIVE_MAP_PLANS.get(plan, "map plan")?).inner, block, out)
    })
}

/// Writes this rank's block shape (`[my_irr, row...]`) and output shape
/// (`[my_full, row...]`) into `block_shape[0..ndim]` and `out_shape[0..ndim]`;
/// `ndim` must be the plan's number of axes (`row_ndim + 1`). Local.
#[no_mangle]
pub unsafe extern "C" fn dgampi_map_plan_shapes(plan: *mut dgampi_map_plan, ndim: i32, block_shape: *mut i64, out_shape: *mut i64) -> Status {
    guard("dgampi_map_plan_shapes", || {
        write_shapes(&(*LIVE_MAP_PLANS.get(plan, "map plan")?).inner, ndim, block_shape, out_shape)
    })
}

/// Stores the route the plan chose at creation (`dgampi_exchange_route`) in
/// `*route`. Local.
#[no_mangle]
pub unsafe extern "C" fn dgampi_map_plan_route(plan: *mut dgampi_map_plan, route: *mut i32) -> Status {
    guard("dgampi_map_plan_route", || write_route(&(*LIVE_MAP_PLANS.get(plan, "map plan")?).inner, route))
}

/// Collective: destroys the plan `*plan` and sets `*plan` to NULL. Every
/// rank of the plan must call it (it frees the plan's duplicate of the
/// communicator). A NULL `*plan` is a no-op; a stale one gives
/// `DGAMPI_STATUS_INVALID_HANDLE`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_map_plan_destroy(plan: *mut *mut dgampi_map_plan) -> Status {
    guard("dgampi_map_plan_destroy", || destroy_plan(plan, &LIVE_MAP_PLANS, "map plan"))
}

/// Collective: plans the frequency re-layout of
/// `dgampi_gather_full_ibz_for_vslice` for a vertex whose rows after q have
/// shape `row_shape = [orb..., n_nu, n_nu']` (`row_ndim` >= 2 int64 values)
/// of `dtype`, with the slices `split_sizes` / `split_offsets` (mpi_size
/// entries each, tiling `0..n_nu`) and the optional `transform` (covering
/// all full-BZ q; copied). Every rank passes the same arguments (checked);
/// a bad argument on any rank fails on every rank. Stores the handle in
/// `*out` (release with `dgampi_vslice_plan_destroy`).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn dgampi_vslice_plan_create(
    irr: *mut dgampi_distributor,
    full: *mut dgampi_distributor,
    irrk_inv: *const i64,
    n_full: usize,
    split_sizes: *const i64,
    split_offsets: *const i64,
    dtype: i32,
    row_ndim: i32,
    row_shape: *const i64,
    transform: *const dgampi_orbital_transform,
    limit: usize,
    out: *mut *mut dgampi_vslice_plan,
) -> Status {
    guard("dgampi_vslice_plan_create", || {
        create_plan(
            irr,
            full,
            out,
            &LIVE_VSLICE_PLANS,
            |full| {
                let split = split_from_c(full, split_sizes, split_offsets)?;
                Ok((map_from_c(irrk_inv, n_full)?, split, DType::from_code(dtype)?, row_shape_from_c(row_ndim, row_shape)?, transform_from_c(transform)?))
            },
            |irr, full, (map, split, dtype, row, t)| {
                let inner = VslicePlan::new(irr, full, &map, &split, dtype, &row, t.as_ref().map(OwnedTransform::view).as_ref(), limit)?;
                Ok(dgampi_vslice_plan { inner })
            },
        )
    })
}

/// Collective: re-lays this rank's vertex `block` (`[my_irr, orb..., n_nu,
/// n_nu']`) out into `out` (`[n_full, orb..., my_nu, n_nu']`, not overlapping
/// `block`; a rank with an empty slice passes a zero-size array, `data` may
/// be NULL). A wrong buffer on any rank fails on every rank and nothing
/// moves; the plan stays usable.
#[no_mangle]
pub unsafe extern "C" fn dgampi_vslice_plan_execute(plan: *mut dgampi_vslice_plan, block: *const dgampi_array, out: *const dgampi_array) -> Status {
    guard("dgampi_vslice_plan_execute", || {
        crate::comm::ensure_initialized()?;
        execute_plan(&mut (*LIVE_VSLICE_PLANS.get(plan, "vslice plan")?).inner, block, out)
    })
}

/// Writes this rank's block shape and output shape (`ndim` = `row_ndim + 1`
/// entries each) into `block_shape` and `out_shape`. Local.
#[no_mangle]
pub unsafe extern "C" fn dgampi_vslice_plan_shapes(plan: *mut dgampi_vslice_plan, ndim: i32, block_shape: *mut i64, out_shape: *mut i64) -> Status {
    guard("dgampi_vslice_plan_shapes", || {
        write_shapes(&(*LIVE_VSLICE_PLANS.get(plan, "vslice plan")?).inner, ndim, block_shape, out_shape)
    })
}

/// Stores the route the plan chose at creation (`dgampi_exchange_route`) in
/// `*route`. Local.
#[no_mangle]
pub unsafe extern "C" fn dgampi_vslice_plan_route(plan: *mut dgampi_vslice_plan, route: *mut i32) -> Status {
    guard("dgampi_vslice_plan_route", || write_route(&(*LIVE_VSLICE_PLANS.get(plan, "vslice plan")?).inner, route))
}

/// Collective: destroys the plan `*plan` and sets `*plan` to NULL (every
/// rank of the plan must call it). A NULL `*plan` is a no-op; a stale one
/// gives `DGAMPI_STATUS_INVALID_HANDLE`.
#[no_mangle]
pub unsafe extern "C" fn dgampi_vslice_plan_destroy(plan: *mut *mut dgampi_vslice_plan) -> Status {
    guard("dgampi_vslice_plan_destroy", || destroy_plan(plan, &LIVE_VSLICE_PLANS, "vslice plan"))
}
