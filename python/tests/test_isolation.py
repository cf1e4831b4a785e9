"""Every exchange isolated and failure-safe, seen from Python.

Each test is named for the failure it proves absent: user traffic on the
distributor's communicator meeting the library's own messages, in-place
idioms handing MPI overlapping buffers, roots or frequency counts that
differ between ranks, receive buffers of the wrong shape leaving chunks
queued, and ``MAX_MPI_BYTES`` disagreeing with the library's limit.
References are computed here with numpy.
"""

import numpy as np
import pytest
from mpi4py import MPI

import dgampi
from dgampi import MpiDistributor
from helpers import NPoint

WORLD = MPI.COMM_WORLD
IRRK_INV = np.array([0, 1, 1, 2], dtype=np.int64)  # the 2x2 square lattice


@pytest.fixture(scope="module")
def dists():
    irr = MpiDistributor(3, WORLD)
    full = MpiDistributor(4, WORLD)
    yield irr, full
    irr.close()
    full.close()


def _irr_all(seed):
    return np.arange(3 * 2, dtype=np.complex128).reshape(3, 2) * (1 + 1j) + seed


def test_user_objects_never_match_the_map_at_any_base_tag(dists):
    """Rank 0 sends an object to rank 1 on ``full.comm`` and then joins the
    map; rank 1 joins the map first and receives afterwards. Before the
    library had its own communicator, the map's receive matched the user's
    message at small base tags (garbage with status OK)."""
    irr, full = dists
    if WORLD.Get_size() < 2:
        pytest.skip("needs 2 ranks")
    rank = WORLD.Get_rank()
    for tag in range(1000):
        irr_all = _irr_all(tag)
        if rank == 0:
            full.send_to_rank(NPoint(np.full(5, float(tag)), name=f"object-{tag}"), 1, base_tag=tag)
        got = dgampi.exchange_and_map_irrbz_fullbz(irr_all[irr.my_slice], IRRK_INV, irr, full)
        np.testing.assert_array_equal(got, irr_all[IRRK_INV][full.my_slice])
        if rank == 1:
            obj = full.recv_from_rank(0, base_tag=tag)
            assert obj.name == f"object-{tag}" and np.array_equal(obj.mat, np.full(5, float(tag)))


@pytest.mark.parametrize("collective", ["allgather", "gather", "scatter", "allreduce", "bcast_chunked", "map"])
def test_user_objects_never_match_collectives(dists, collective):
    irr, full = dists
    if WORLD.Get_size() < 2:
        pytest.skip("needs 2 ranks")
    rank = WORLD.Get_rank()
    for tag in range(0, 60, 3):
        irr_all = _irr_all(tag)
        if rank == 0:
            irr.send_to_rank(NPoint(np.full(3, float(tag))), 1, base_tag=tag)
        mine = irr_all[irr.my_slice]
        if collective == "allgather":
            np.testing.assert_array_equal(irr.allgather(mine), irr_all)
        elif collective == "gather":
            got = irr.gather(mine)
            if irr.is_root:
                np.testing.assert_array_equal(got, irr_all)
        elif collective == "scatter":
            np.testing.assert_array_equal(irr.scatter(irr_all if irr.is_root else None), mine)
        elif collective == "allreduce":
            np.testing.assert_array_equal(irr.allreduce(irr_all.copy()), irr_all * WORLD.Get_size())
        elif collective == "bcast_chunked":
            got = irr.bcast_chunked(irr_all if irr.is_root else None)
            np.testing.assert_array_equal(got if got is not None else irr_all, irr_all)
        else:
            np.testing.assert_array_equal(dgampi.map_irrbz_fullbz(mine, IRRK_INV, irr, full), irr_all[IRRK_INV][full.my_slice])
        if rank == 1:
            assert np.array_equal(irr.recv_from_rank(0, base_tag=tag).mat, np.full(3, float(tag)))


def test_in_place_allgather_idiom(dists):
    """``d.allgather(out[d.my_slice], out=out)`` runs in place (MPI_IN_PLACE)."""
    irr, _ = dists
    ref = _irr_all(7)
    out = np.zeros_like(ref)
    out[irr.my_slice] = ref[irr.my_slice]
    irr.allgather(out[irr.my_slice], out=out)
    np.testing.assert_array_equal(out, ref)


def test_overlapping_output_is_rejected_on_every_rank(dists):
    irr, _ = dists
    ref = _irr_all(8)
    buf = np.zeros(ref.size + 1, dtype=ref.dtype)
    out = buf[:-1].reshape(ref.shape)
    last = WORLD.Get_size() - 1
    if WORLD.Get_rank() == last:
        # the block starts one element past this rank's slot of `out`
        start = irr.my_slice.start * 2 + 1
        block = buf[start : start + irr.my_size * 2].reshape(irr.my_size, 2)
    else:
        block = ref[irr.my_slice].copy()
    with pytest.raises(dgampi.DgampiError) as err:
        irr.allgather(block, out=out)
    expected = "INVALID_ARGUMENT" if WORLD.Get_rank() == last else "REMOTE_ERROR"
    assert err.value.status_name == expected, err.value


def test_root_that_differs_is_a_mismatch_everywhere(dists):
    irr, _ = dists
    if WORLD.Get_size() < 2:
        pytest.skip("needs 2 ranks")
    root = 1 if WORLD.Get_rank() == WORLD.Get_size() - 1 else 0
    ref = _irr_all(9)
    for call in (
        lambda: irr.scatter(ref, root=root),
        lambda: irr.gather(ref[irr.my_slice], root=root),
        lambda: irr.bcast_chunked(ref, root=root),
        lambda: irr.bcast(b"abc", root=root),
    ):
        with pytest.raises(dgampi.DgampiError) as err:
            call()
        assert err.value.status_name == "MISMATCH", err.value
    np.testing.assert_array_equal(irr.allgather(ref[irr.my_slice]), ref)  # still usable


def test_n_nu_that_differs_is_a_mismatch_everywhere():
    if WORLD.Get_size() < 2:
        pytest.skip("needs 2 ranks")
    n_nu = 12 if WORLD.Get_rank() == WORLD.Get_size() - 1 else 10
    with pytest.raises(dgampi.DgampiError) as err:
        dgampi.get_node_aware_v_dist(n_nu, WORLD)
    assert err.value.status_name == "MISMATCH", err.value


@pytest.mark.parametrize("wrong", [(3, 3), (5, 3), (4, 2)], ids=["fewer_rows", "more_rows", "fewer_columns"])
def test_receive_of_the_wrong_shape_drains_the_transfer(comm, wrong):
    if comm.Get_size() < 2:
        pytest.skip("needs 2 ranks")
    rank = comm.Get_rank()
    first, second = np.arange(12.0).reshape(4, 3), np.arange(12.0).reshape(4, 3) + 100
    if rank == 0:
        dgampi.send_rows(comm, first, 1, base_tag=5)
        dgampi.send_rows(comm, second, 1, base_tag=5)
    elif rank == 1:
        with pytest.raises(dgampi.DgampiError) as err:
            dgampi.recv_rows_into(comm, np.zeros(wrong), 0, base_tag=5)
        assert err.value.status_name == "MISMATCH"
        got = np.zeros((4, 3))
        dgampi.recv_rows_into(comm, got, 0, base_tag=5)
        np.testing.assert_array_equal(got, second)
    comm.Barrier()
    assert not comm.Iprobe(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG), "a chunk was left queued"


def test_max_mpi_bytes_is_the_library_limit():
    saved = dgampi.MAX_MPI_BYTES
    try:
        dgampi.MAX_MPI_BYTES = 123
        assert dgampi.max_message_bytes() == 123
        dgampi.set_max_message_bytes(456)
        assert dgampi.MAX_MPI_BYTES == 456
        with pytest.raises(ValueError):
            dgampi.MAX_MPI_BYTES = 0
        assert dgampi.MAX_MPI_BYTES == 456
    finally:
        dgampi.MAX_MPI_BYTES = saved
