"""Python part of the main demo (scripts/demo runs it under mpirun -n 2).

The same pipeline through the ctypes package: a distributor splits q-points,
scatter -> local work -> allgather, a spill-file round trip, and a 512 MiB
send_rows/recv_rows_into next to mpi4py's own Send/Recv of the same buffer.
"""
import os
import sys
import tempfile
import time

import numpy as np
from mpi4py import MPI

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import dgampi  # noqa: E402


def timed(comm, f):
    comm.Barrier()
    t0 = MPI.Wtime()
    out = f()
    comm.Barrier()
    return out, MPI.Wtime() - t0


def main():
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    ok = True
    rows = []

    nq, per_q = 4099, 2048  # 128 MiB of complex128, uneven split
    spill_dir = tempfile.gettempdir() + "/dgampi_demo_py"
    dist = dgampi.MpiDistributor.create_distributor(nq, comm=comm, name="demo_py", output_path=spill_dir)
    full = None
    if dist.is_root:
        q = np.arange(nq, dtype=np.float64)[:, None]
        full = q + 1j * (np.arange(per_q) / 8.0)[None, :]
    block, t = timed(comm, lambda: dist.scatter(full))
    rows.append(("scatter", t))
    offset = dist.my_slice.start
    _, t = timed(comm, lambda: block.__imul__((1.0 + np.arange(offset, offset + dist.my_size))[:, None]))
    rows.append(("local work (scale rows)", t))
    gathered, t = timed(comm, lambda: dist.allgather(block))
    rows.append(("allgather", t))
    q = np.arange(nq, dtype=np.float64)[:, None]
    ok &= np.array_equal(gathered, (q + 1j * (np.arange(per_q) / 8.0)[None, :]) * (1.0 + q))
    _, t = timed(comm, lambda: dist.spill_write("demo/block", block))
    back, t2 = timed(comm, lambda: dist.spill_read("demo/block"))
    rows.append(("spill write + read", t + t2))
    ok &= np.array_equal(back, block)
    path = dist.spill_path
    dist.delete_file()
    dist.close()

    # FFT over a 16x16x16 BZ of each rank's flat block, forward then backward.
    fft_nq, fft_batch = (16, 16, 16), (8, 32)
    with dgampi.FftPlan(comm, fft_nq, fft_batch) as fwd, dgampi.FftPlan(comm, fft_nq, fft_batch, direction="backward") as bwd:
        rng = np.random.default_rng(fwd.offset)
        x = rng.standard_normal((fwd.my_q, *fft_batch)) + 1j * rng.standard_normal((fwd.my_q, *fft_batch))
        y = x.copy()
        _, t = timed(comm, lambda: fwd.execute(y))
        rows.append((f"FFT forward 16^3 x 256 ({fwd.strategy})", t))
        _, t = timed(comm, lambda: bwd.execute(y))
        rows.append(("FFT backward (1/N)", t))
        ok &= bool(np.allclose(y, x, rtol=0, atol=1e-12))

    # A convolution in the transposed layouts: forward (output transposed), a
    # product point by point over the q this rank holds there, backward (input
    # transposed); one all-to-all pass fewer each. The kernel shifts x by 3.
    shift, (nx, ny, nz) = 3, fft_nq
    with dgampi.FftPlan(comm, fft_nq, fft_batch, output_layout="transposed") as fwd, \
            dgampi.FftPlan(comm, fft_nq, fft_batch, direction="backward", input_layout="transposed") as bwd:
        def value(q):  # the input at flat points q, every batch element
            return np.cos(0.1 * q)[:, None, None] + 1j * np.arange(np.prod(fft_batch)).reshape(1, *fft_batch) / 7.0
        mine = np.arange(fwd.offset, fwd.offset + fwd.my_q)
        kx = fwd.output_indices() // (ny * nz)
        kernel = np.exp(-2j * np.pi * kx * shift / nx).reshape(-1, *([1] * (len(fwd.output_shape) - 1)))
        x = value(mine)  # the forward plan clobbers its input
        y, t = timed(comm, lambda: bwd.execute(fwd.execute(x) * kernel))
        rows.append((f"FFT convolution, transposed ({fwd.strategy})", t))
        source = ((mine // (ny * nz) - shift) % nx) * (ny * nz) + mine % (ny * nz)
        ok &= bool(np.allclose(y, value(source), rtol=0, atol=1e-12))

    # Point to point: 512 MiB rank 0 -> 1, dgampi against mpi4py's Send/Recv.
    n = 512 * 2**20 // 16
    a = np.arange(n, dtype=np.float64).astype(np.complex128).reshape(-1, 4096) if rank == 0 else np.zeros((n // 4096, 4096), np.complex128)
    p2p = {}
    for name, send, recv in [
        ("dgampi send_rows/recv_rows_into", lambda: dgampi.send_rows(comm, a, 1, 0), lambda: dgampi.recv_rows_into(comm, a, 0, 0)),
        ("mpi4py Send/Recv (same buffer)", lambda: comm.Send(a, dest=1, tag=9), lambda: comm.Recv(a, source=0, tag=9)),
    ]:
        if rank == 1:
            a[:] = 0
        _, t = timed(comm, lambda: send() if rank == 0 else (recv() if rank == 1 else None))
        if rank == 1:
            ok &= bool(a[-1, -1] == n - 1 and a[1, 0] == 4096)
        p2p[name] = t

    all_ok = comm.allreduce(0 if ok else 1, op=MPI.MAX) == 0
    if rank == 0:
        print()
        print(f"python (dgampi package): {nq} q-points x {per_q} complex128 over {size} ranks, sizes {[int(s) for s in dist.sizes]}")
        print(f"{'step':<36} {'seconds':>10}")
        for name, t in rows:
            print(f"{name:<36} {t:>10.4f}")
        print(f"spill file of rank 0: {path} (written, read back, deleted)")
        gb = n * 16 / 1e9
        for name, t in p2p.items():
            print(f"{name:<36} {t:>10.4f}   {gb / t:6.2f} GB/s")
        print("every rank verified the python pipeline and the transfers:", "OK" if all_ok else "MISMATCH")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
