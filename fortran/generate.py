#!/usr/bin/env python3
"""Generates the per-type, per-rank procedures of the Fortran module `dgampi`.

Fortran generics dispatch on type, kind and rank at compile time, so every
array routine needs one specific procedure for each of the 6 element types
(real(4), real(8), complex(4), complex(8), integer(4), integer(8); the FFT
only the two complex ones) and each rank 1..7 (and, for the Brillouin-zone
routines, each kind of irrk_inv: integer(4) and integer(8); for the one-shot
FFT, each kind of nq; the plans' execute forms only by type and rank; the
FFT's execute_into by type and the ranks of its two arrays). They
are all the same few lines: describe the array (`view_<t>_<r>`: data
address, shape and byte strides, reversed to C order) and call the
hand-written routine of src/dgampi.F90 that takes the description. This script writes them:

  src/generated/dgampi_generic.inc    generic interface blocks (specification part)
  src/generated/dgampi_specific.inc   the specific procedures (after `contains`)

Both files are committed; the build needs no Python. After editing this
script run it again (python3 fortran/generate.py); `--check` (used by
scripts/fortran_tests) exits with 1 when the committed files are stale.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "src", "generated")
MAX_RANK = 7

# (suffix, Fortran type, dtype code constant)
TYPES = [
    ("r4", "real(c_float)", "DGAMPI_DTYPE_F32"),
    ("r8", "real(c_double)", "DGAMPI_DTYPE_F64"),
    ("c4", "complex(c_float_complex)", "DGAMPI_DTYPE_COMPLEX64"),
    ("c8", "complex(c_double_complex)", "DGAMPI_DTYPE_COMPLEX128"),
    ("i4", "integer(c_int32_t)", "DGAMPI_DTYPE_I32"),
    ("i8", "integer(c_int64_t)", "DGAMPI_DTYPE_I64"),
]

# Communicator flavours of the free-standing primitives: suffix, declaration,
# expression giving the Fortran handle (an integer), and the cpp guard.
COMMS = [
    ("i", "integer, intent(in) :: comm", "comm", None),
    ("m", "type(MPI_Comm), intent(in) :: comm", "comm%MPI_VAL", "DGAMPI_HAVE_MPI_F08"),
]

# Kinds of the irrk_inv map of the Brillouin-zone routines: suffix, the
# declaration ({IRRK_DECL}) and the int64 expression passed on ({IRRK}).
IRRK = [
    ("k4", "integer(c_int32_t), intent(in) :: irrk_inv(:)", "int(irrk_inv, c_int64_t)"),
    ("k8", "integer(c_int64_t), intent(in) :: irrk_inv(:)", "irrk_inv"),
]

# Kinds of the grid extents nq(3) of the one-shot FFT: suffix, the
# declaration ({NQ_DECL}) and the int64 expression passed on ({NQ}).
NQ = [
    ("n4", "integer(c_int32_t), intent(in) :: nq(:)", "int(nq, c_int64_t)"),
    ("n8", "integer(c_int64_t), intent(in) :: nq(:)", "nq"),
]

# Element types of the FFT (complex only).
COMPLEX = ["c4", "c8"]

DIST = "type(dgampi_distributor), intent(in) :: dist"
IRR_FULL = "type(dgampi_distributor), intent(in) :: irr, full"
LIMIT = "integer(c_size_t), intent(in), optional :: limit"
IERR = "integer, intent(out), optional :: ierr"
TRANSFORM = "type(dgampi_orbital_transform), intent(in), optional :: transform"
FFT_PLAN = "type(dgampi_fft_plan), intent(in) :: plan"
MAP_PLAN = "type(dgampi_map_plan), intent(in) :: plan"
VSLICE_PLAN = "type(dgampi_vslice_plan), intent(in) :: plan"
FFT_OPTIONS = "integer, intent(in), optional :: direction, normalization, strategy, rigor"

# Array operations. generic: the public name; name: prefix of the specifics
# (<name>[_i|_m]_<type>_<rank>); args and decls: the dummy arguments, where
# {T} is the element type, {D} the assumed shape "(:,:)", {COMM} the
# communicator declaration and {HANDLE} its integer handle; views: the array
# dummies described by view_<type>_<rank> (as v<name>); body: the call of
# the hand-written routine of src/dgampi.F90; alloc: an allocating form
# (body from alloc_body); comm: generated for both communicator kinds;
# irrk: generated for both kinds of irrk_inv ({IRRK_DECL}, {IRRK}); nq:
# generated for both kinds of nq ({NQ_DECL}, {NQ}); types: the element
# types (suffixes; default all six); min_rank: the lowest array rank
# (default 1); rank2: the last array dummy has its own rank, 1..7
# independently ({D2}; specifics <name>_<type>_<rank>_<rank2>); locals:
# extra declarations; aliases: further generic names of the same specifics
# (the deprecated names of renamed routines).
OPS = [
    dict(generic="dgampi_send_rows", name="send_rows", comm=True,
         args="comm, a, dest, base_tag, limit, ierr",
         decls=["{COMM}", "{T}, intent(in), target :: a{D}", "integer, intent(in) :: dest, base_tag", LIMIT, IERR],
         views=["a"], body="call send_rows_v({HANDLE}, va, dest, base_tag, limit, ierr)"),
    dict(generic="dgampi_recv_rows_into", name="recv_rows_into", comm=True,
         args="comm, a, source, base_tag, limit, ierr",
         decls=["{COMM}", "{T}, intent(inout), target :: a{D}", "integer, intent(in) :: source, base_tag", LIMIT, IERR],
         views=["a"], body="call recv_rows_into_v({HANDLE}, va, source, base_tag, limit, ierr)"),
    dict(generic="dgampi_bcast_rows_into", name="bcast_rows_into", comm=True,
         args="comm, a, root, limit, ierr",
         decls=["{COMM}", "{T}, intent(inout), target :: a{D}", "integer, intent(in) :: root", LIMIT, IERR],
         views=["a"], body="call bcast_rows_into_v({HANDLE}, va, root, limit, ierr)"),
    dict(generic="dgampi_distributor_scatter_into", name="scatter_into",
         args="dist, send, out, root, limit, ierr",
         decls=[DIST, "{T}, intent(in), target :: send{D}", "{T}, intent(inout), target :: out{D}",
                "integer, intent(in) :: root", LIMIT, IERR],
         views=["send", "out"], body="call scatter_into_v(dist, vsend, vout, root, limit, ierr)"),
    dict(generic="dgampi_distributor_gather_into", name="gather_into",
         args="dist, block, out, root, limit, ierr",
         decls=[DIST, "{T}, intent(in), target :: block{D}", "{T}, intent(inout), target :: out{D}",
                "integer, intent(in) :: root", LIMIT, IERR],
         views=["block", "out"], body="call gather_into_v(dist, vblock, vout, root, limit, ierr)"),
    dict(generic="dgampi_distributor_gather", name="gather", alloc="gather",
         args="dist, block, out, root, limit, ierr",
         decls=[DIST, "{T}, intent(in), target :: block{D}", "{T}, allocatable, intent(out), target :: out{D}",
                "integer, intent(in) :: root", LIMIT, IERR],
         views=["block"]),
    dict(generic="dgampi_distributor_allgather_into", name="allgather_into",
         args="dist, block, out, limit, ierr",
         decls=[DIST, "{T}, intent(in), target :: block{D}", "{T}, intent(inout), target :: out{D}", LIMIT, IERR],
         views=["block", "out"], body="call allgather_into_v(dist, vblock, vout, limit, ierr)"),
    dict(generic="dgampi_distributor_allgather", name="allgather", alloc="allgather",
         args="dist, block, out, limit, ierr",
         decls=[DIST, "{T}, intent(in), target :: block{D}", "{T}, allocatable, intent(out), target :: out{D}",
                LIMIT, IERR],
         views=["block"]),
    dict(generic="dgampi_distributor_allreduce", name="allreduce",
         args="dist, a, limit, ierr",
         decls=[DIST, "{T}, intent(inout), target :: a{D}", LIMIT, IERR],
         views=["a"], body="call allreduce_v(dist, va, limit, ierr)"),
    dict(generic="dgampi_distributor_bcast_chunked_into", name="bcast_chunked_into",
         args="dist, a, root, limit, ierr",
         decls=[DIST, "{T}, intent(inout), target :: a{D}", "integer, intent(in) :: root", LIMIT, IERR],
         views=["a"], body="call bcast_chunked_into_v(dist, va, root, limit, ierr)"),
    dict(generic="dgampi_distributor_send_to_rank", name="send_to_rank",
         args="dist, meta, mat, dest, base_tag, limit, ierr",
         decls=[DIST, "character(len=*), intent(in) :: meta", "{T}, intent(in), target :: mat{D}",
                "integer, intent(in) :: dest, base_tag", LIMIT, IERR],
         views=["mat"], body="call send_to_rank_v(dist, meta, vmat, dest, base_tag, limit, ierr)"),
    dict(generic="dgampi_distributor_recv_from_rank_into", name="recv_from_rank_into",
         args="dist, source, base_tag, meta, mat, ierr",
         decls=[DIST, "integer, intent(in) :: source, base_tag",
                "character(len=:), allocatable, intent(out) :: meta", "{T}, intent(inout), target :: mat{D}", IERR],
         views=["mat"], body="call recv_from_rank_into_v(dist, source, base_tag, meta, vmat, ierr)"),
    dict(generic="dgampi_distributor_spill_write", name="spill_write",
         args="dist, name, a, ierr",
         decls=[DIST, "character(len=*), intent(in) :: name", "{T}, intent(in), target :: a{D}", IERR],
         views=["a"], body="call spill_write_v(dist, name, va, ierr)"),
    dict(generic="dgampi_distributor_spill_read_into", name="spill_read_into",
         args="dist, name, a, ierr",
         decls=[DIST, "character(len=*), intent(in) :: name", "{T}, intent(inout), target :: a{D}", IERR],
         views=["a"], body="call spill_read_into_v(dist, name, va, ierr)"),
    dict(generic="dgampi_distributor_spill_read", name="spill_read", alloc="spill_read",
         args="dist, name, a, ierr",
         decls=[DIST, "character(len=*), intent(in) :: name", "{T}, allocatable, intent(out), target :: a{D}", IERR],
         views=[]),
    # Brillouin-zone maps: irrk_inv holds the 0-based irreducible index of
    # every full-BZ point (integer(4) or integer(8)).
    dict(generic="dgampi_exchange_and_map_irrbz_fullbz_into", name="xmap_into", irrk=True,
         args="irr, full, irrk_inv, block, out, transform, limit, ierr",
         decls=[IRR_FULL, "{IRRK_DECL}", "{T}, intent(in), target :: block{D}", "{T}, intent(inout), target :: out{D}",
                TRANSFORM, LIMIT, IERR],
         views=["block", "out"],
         body="call map_v(MAP_EXCHANGE, irr, full, {IRRK}, vblock, vout, transform, limit, ierr)"),
    dict(generic="dgampi_exchange_and_map_irrbz_fullbz", name="xmap", irrk=True, alloc="xmap",
         args="irr, full, irrk_inv, block, out, transform, limit, ierr",
         decls=[IRR_FULL, "{IRRK_DECL}", "{T}, intent(in), target :: block{D}",
                "{T}, allocatable, intent(out), target :: out{D}", TRANSFORM, LIMIT, IERR],
         views=["block"]),
    dict(generic="dgampi_map_irrbz_fullbz_into", name="rmap_into", irrk=True,
         args="irr, full, irrk_inv, block, out, transform, limit, ierr",
         decls=[IRR_FULL, "{IRRK_DECL}", "{T}, intent(in), target :: block{D}", "{T}, intent(inout), target :: out{D}",
                TRANSFORM, LIMIT, IERR],
         views=["block", "out"],
         body="call map_v(MAP_THROUGH_ROOT, irr, full, {IRRK}, vblock, vout, transform, limit, ierr)"),
    dict(generic="dgampi_map_irrbz_fullbz", name="rmap", irrk=True, alloc="rmap",
         args="irr, full, irrk_inv, block, out, transform, limit, ierr",
         decls=[IRR_FULL, "{IRRK_DECL}", "{T}, intent(in), target :: block{D}",
                "{T}, allocatable, intent(out), target :: out{D}", TRANSFORM, LIMIT, IERR],
         views=["block"]),
    # The vertex has at least the axes (nu', nu, q): ranks 3..7.
    dict(generic="dgampi_gather_full_ibz_for_vslice", name="vslice", irrk=True, alloc="vslice", min_rank=3,
         args="irr, full, irrk_inv, split_sizes, split_offsets, block, out, has_slice, transform, limit, ierr",
         decls=[IRR_FULL, "{IRRK_DECL}", "integer(c_int64_t), intent(in) :: split_sizes(:), split_offsets(:)",
                "{T}, intent(in), target :: block{D}", "{T}, allocatable, intent(out), target :: out{D}",
                "logical, intent(out), optional :: has_slice", TRANSFORM, LIMIT, IERR],
         views=["block"], locals=["type(c_owned_array) :: owned"]),
    # The reusable plans of the two: this rank's block(row..., my_irr) into
    # the caller's out (row..., my_full), resp. the vertex block(nu', nu,
    # orb..., my_irr) into out(nu', my_nu, orb..., n_full) (ranks 3..7).
    dict(generic="dgampi_map_plan_execute", name="map_plan_execute",
         args="plan, block, out, ierr",
         decls=[MAP_PLAN, "{T}, intent(in), target :: block{D}", "{T}, intent(inout), target :: out{D}", IERR],
         views=["block", "out"], body="call map_plan_execute_v(plan, vblock, vout, ierr)"),
    dict(generic="dgampi_vslice_plan_execute", name="vslice_plan_execute", min_rank=3,
         args="plan, block, out, ierr",
         decls=[VSLICE_PLAN, "{T}, intent(in), target :: block{D}", "{T}, intent(inout), target :: out{D}", IERR],
         views=["block", "out"], body="call vslice_plan_execute_v(plan, vblock, vout, ierr)"),
    # The distributed FFT: this rank's block a(batch..., my_q) in place
    # (complex only; a non-contiguous section is described by its strides
    # and rejected by the library on every rank, never copied).
    dict(generic="dgampi_fft_plan_execute", aliases=["dgampi_fft_execute"], name="fft_execute", types=COMPLEX,
         args="plan, a, ierr",
         decls=[FFT_PLAN, "{T}, intent(inout), target :: a{D}", IERR],
         views=["a"], body="call fft_execute_v(plan, va, ierr)"),
    # A transposed plan, out of place: input and output each a flat side
    # a(batch..., my_q) or a transposed side t(batch_len, count) (or
    # t(batch..., count) holding the whole batch), so of independent ranks.
    # The input is work space (clobbered): intent(inout).
    dict(generic="dgampi_fft_plan_execute_into", name="fft_execute_into", types=COMPLEX, rank2=True,
         args="plan, input, output, ierr",
         decls=[FFT_PLAN, "{T}, intent(inout), target :: input{D}", "{T}, intent(inout), target :: output{D2}", IERR],
         views=["input", "output"], body="call fft_execute_into_v(plan, vinput, voutput, ierr)"),
    dict(generic="dgampi_fft_execute_once", aliases=["dgampi_execute_distributed_fft"], name="fft_once", comm=True,
         nq=True, types=COMPLEX,
         args="comm, nq, a, direction, normalization, strategy, rigor, limit, ierr",
         decls=["{COMM}", "{NQ_DECL}", "{T}, intent(inout), target :: a{D}", FFT_OPTIONS, LIMIT, IERR],
         views=["a"],
         body="call fft_once_v({HANDLE}, {NQ}, va, direction, normalization, strategy, rigor, limit, ierr)"),
]


def colons(r):
    return "(" + ",".join([":"] * r) + ")"


def dims(r, var="n"):
    return ", ".join(f"{var}({k})" for k in range(1, r + 1))


def variants(op):
    """(suffix, cpp guard, placeholder values) of the flavours of `op`: the
    product of its communicator, irrk_inv and nq flavours."""
    axes = []
    if op.get("comm"):
        axes.append([(c[0], c[3], dict(COMM=c[1], HANDLE=c[2])) for c in COMMS])
    if op.get("irrk"):
        axes.append([(k[0], None, dict(IRRK_DECL=k[1], IRRK=k[2])) for k in IRRK])
    if op.get("nq"):
        axes.append([(k[0], None, dict(NQ_DECL=k[1], NQ=k[2])) for k in NQ])
    out = [(None, None, {})]
    for axis in axes:
        out = [("_".join(x for x in (s, s2) if x) or None, g or g2, {**v, **v2})
               for s, g, v in out for s2, g2, v2 in axis]
    return out


def specifics(op):
    """(cpp guard, specific name, placeholder values, type, rank, rank of the
    last array or None) for every specific of `op`."""
    types = op.get("types", [t for t, _, _ in TYPES])
    for suffix, guard, values in variants(op):
        for t, _, _ in TYPES:
            if t not in types:
                continue
            for r in range(op.get("min_rank", 1), MAX_RANK + 1):
                prefix = op["name"] + (f"_{suffix}" if suffix else "")
                if op.get("rank2"):
                    for r2 in range(1, MAX_RANK + 1):
                        yield guard, f"{prefix}_{t}_{r}_{r2}", values, t, r, r2
                else:
                    yield guard, f"{prefix}_{t}_{r}", values, t, r, None


def view_proc(t, ftype, code, r):
    ones = ",".join(["1"] * r)
    nexts = []
    for k in range(1, r + 1):
        idx = ",".join(f"min(2_c_int64_t, n({k}))" if j == k else "1" for j in range(1, r + 1))
        nexts.append(f"c_loc(a({idx}))")
    lines = [
        f"  subroutine view_{t}_{r}(v, a)",
        "    type(array_view), intent(out) :: v",
        f"    {ftype}, intent(in), target :: a{colons(r)}",
        f"    integer(c_int64_t) :: n({r})",
        "    n = shape(a, c_int64_t)",
        "    if (size(a, kind=c_int64_t) == 0) then",
        f"      call view_empty(v, {code}, n)",
        "    else",
        f"      call view_set(v, {code}, n, c_loc(a({ones})), [ &",
    ]
    for k, e in enumerate(nexts):
        lines.append(f"        {e}" + (", &" if k + 1 < len(nexts) else "])"))
    lines += ["    end if", f"  end subroutine view_{t}_{r}", ""]
    return lines


def alloc_body(kind, t, r):
    """Body of an allocating form: the Fortran side allocates, then calls *_into."""
    if kind == "gather":
        return [
            "if (.not. gathered_shape(dist, vblock, n, 'dgampi_distributor_gather', ierr)) return",
            "if (is_rank(dist, root)) then",
            f"  allocate(out({dims(r)}))",
            f"  call view_{t}_{r}(vout, out)",
            "end if",
            "call gather_into_v(dist, vblock, vout, root, limit, ierr)",
        ]
    if kind == "allgather":
        return [
            "if (.not. gathered_shape(dist, vblock, n, 'dgampi_distributor_allgather', ierr)) return",
            f"allocate(out({dims(r)}))",
            f"call view_{t}_{r}(vout, out)",
            "call allgather_into_v(dist, vblock, vout, limit, ierr)",
        ]
    if kind in ("xmap", "rmap"):
        which, cname = dict(xmap=("MAP_EXCHANGE", "dgampi_exchange_and_map_irrbz_fullbz"),
                            rmap=("MAP_THROUGH_ROOT", "dgampi_map_irrbz_fullbz"))[kind]
        return [
            f"if (.not. mapped_shape(full, vblock, n, '{cname}', ierr)) return",
            f"allocate(out({dims(r)}))",
            f"call view_{t}_{r}(vout, out)",
            f"call map_v({which}, irr, full, {{IRRK}}, vblock, vout, transform, limit, st)",
            "if (st /= DGAMPI_STATUS_OK) deallocate(out)",
            "call report(st, ierr)",
        ]
    if kind == "vslice":
        return [
            "if (.not. vslice_v(irr, full, {IRRK}, split_sizes, split_offsets, vblock, transform, limit, &",
            "  owned, n, has_slice, ierr)) return",
            f"allocate(out({dims(r)}))",
            f"call view_{t}_{r}(vout, out)",
            "call take_owned(owned, vout)",
        ]
    if kind == "spill_read":
        code = dict((s, c) for s, _, c in TYPES)[t]
        return [
            f"if (.not. stored_shape(dist, name, {code}, n, ierr)) return",
            f"allocate(a({dims(r)}))",
            f"call view_{t}_{r}(va, a)",
            "call spill_read_into_v(dist, name, va, ierr)",
        ]
    raise ValueError(kind)


def op_proc(op, spec, ftype):
    guard, name, values, t, r, r2 = spec
    fmt = dict(T=ftype, D=colons(r), D2=colons(r2 or r), **values)
    lines = [f"  subroutine {name}({op['args']})"]
    lines += ["    " + d.format(**fmt) for d in op["decls"]]
    alloc = op.get("alloc")
    views = {"gather": ["block", "out"], "allgather": ["block", "out"], "spill_read": ["a"],
             "xmap": ["block", "out"], "rmap": ["block", "out"], "vslice": ["block", "out"]}.get(alloc, op["views"])
    lines.append("    type(array_view), target :: " + ", ".join("v" + a for a in views))
    lines += ["    " + d for d in op.get("locals", [])]
    if alloc:
        lines.append(f"    integer(c_int64_t) :: n({r})")
    if alloc in ("xmap", "rmap"):
        lines.append("    integer :: st")
    for k, a in enumerate(op["views"]):
        rank = r2 if r2 and k == len(op["views"]) - 1 else r
        lines.append(f"    call view_{t}_{rank}(v{a}, {a})")
    body = alloc_body(alloc, t, r) if alloc else [op["body"]]
    lines += ["    " + b.format(**fmt) for b in body]
    lines += [f"  end subroutine {name}", ""]
    return lines


def guarded(lines, guard):
    if not guard:
        return lines
    return [f"#ifdef {guard}"] + lines + [f"#endif"]


def generate():
    head = [
        "! Generated by fortran/generate.py -- do not edit; run the script instead.",
        "",
    ]
    generic = list(head)
    specific = list(head)
    specific.append("  ! ---------------------------------------------------------------- array views")
    for t, ftype, code in TYPES:
        for r in range(1, MAX_RANK + 1):
            specific += view_proc(t, ftype, code, r)
    for op in OPS:
        by_guard = {}
        for spec in specifics(op):
            by_guard.setdefault(spec[0], []).append(spec[1])
        for k, gname in enumerate([op["generic"]] + op.get("aliases", [])):
            if k:
                generic.append(f"  ! Deprecated 0.1 name of {op['generic']}.")
            generic.append(f"  interface {gname}")
            for guard, names in by_guard.items():
                block = []
                for i in range(0, len(names), 3):
                    block.append("    module procedure " + ", ".join(names[i:i + 3]))
                generic += guarded(block, guard)
            generic += [f"  end interface {gname}", ""]

        specific.append(f"  ! ---------------------------------------------------------------- {op['generic']}")
        groups = {}
        for spec in specifics(op):
            ftype = dict((s, f) for s, f, _ in TYPES)[spec[3]]
            groups.setdefault(spec[0], []).extend(op_proc(op, spec, ftype))
        for guard, lines in groups.items():
            specific += guarded(lines, guard)
    return {
        "dgampi_generic.inc": "\n".join(generic).rstrip() + "\n",
        "dgampi_specific.inc": "\n".join(specific).rstrip() + "\n",
    }


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for name, text in generate().items():
        path = os.path.join(OUT_DIR, name)
        try:
            with open(path) as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current == text:
            continue
        if check:
            stale.append(path)
        else:
            os.makedirs(OUT_DIR, exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
            print(f"wrote {os.path.relpath(path)}")
    if stale:
        print("stale (run python3 fortran/generate.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
