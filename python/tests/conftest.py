"""pytest setup for running the dgampi tests under ``mpirun -n N python3 -m pytest``.

* ``--max-mpi-bytes L`` (or env ``DGAMPI_TEST_MAX_MPI_BYTES``) sets
  ``dgampi.MAX_MPI_BYTES`` for every test, forcing the chunked paths; without
  it the value ``dgampi`` initialized itself with (``DGAMPI_MAX_MESSAGE_BYTES``
  or 2**31-1) is kept.
* Outcomes are synchronized: after each test the ranks agree (a 4-byte
  Allreduce) on whether any rank failed; a test that failed elsewhere fails
  here too, naming the ranks, so every rank sees the same result and later
  tests do not start out of step. Each rank prints its own failures at once
  on its stderr (besides pytest's report at the end).
* A per-test watchdog (``--test-timeout``, default 60 s, env
  ``DGAMPI_TEST_TIMEOUT``) dumps every thread's traceback and exits the rank
  with status 1 if a test hangs, so mpirun ends the job instead of waiting.
* ``--results FILE`` (rank 0 only) writes one ``nodeid<TAB>outcome`` line per
  test, flushed as it goes (used by scripts/python_tests).
* The infrastructure's own MPI messages stay tiny (so a PMPI size checker with
  a 16-byte limit can run under the tests); larger test data travels through
  dgampi's chunked calls.
"""

import faulthandler
import os
import shutil
import sys
import tempfile

import numpy as np
import pytest
from mpi4py import MPI

import dgampi

WORLD = MPI.COMM_WORLD


def pytest_addoption(parser):
    group = parser.getgroup("dgampi")
    group.addoption("--max-mpi-bytes", type=int, default=None, help="value of dgampi.MAX_MPI_BYTES for every test")
    group.addoption("--test-timeout", type=float, default=None, help="per-test watchdog in seconds (default 60)")
    group.addoption("--results", default=None, help="rank 0 writes 'nodeid<TAB>outcome' lines here")


def _limit_option(config):
    value = config.getoption("--max-mpi-bytes")
    if value is None and os.environ.get("DGAMPI_TEST_MAX_MPI_BYTES"):
        value = int(os.environ["DGAMPI_TEST_MAX_MPI_BYTES"])
    return value


_STATE = {}


def pytest_configure(config):
    _STATE["config"] = config
    config._dgampi_limit = _limit_option(config)
    timeout = config.getoption("--test-timeout")
    if timeout is None:
        timeout = float(os.environ.get("DGAMPI_TEST_TIMEOUT", "60"))
    config._dgampi_timeout = timeout
    config._dgampi_results = None
    path = config.getoption("--results")
    if path and WORLD.Get_rank() == 0:
        config._dgampi_results = open(path, "w", buffering=1)
    config._dgampi_outcomes = {}
    config._dgampi_watchdog_file = _real_stderr(config)


def _real_stderr(config):
    """A file on the process's real stderr: pytest captures fd 2 during a test,
    and the watchdog exits the process before captured output is shown."""
    try:
        capman = config.pluginmanager.getplugin("capturemanager")
        fd = capman._global_capturing.err.targetfd_save  # pytest's saved copy of fd 2
        return os.fdopen(os.dup(fd), "w")
    except Exception:
        return sys.__stderr__


def pytest_unconfigure(config):
    if getattr(config, "_dgampi_results", None):
        config._dgampi_results.close()


def pytest_report_header(config):
    return (
        f"dgampi: {dgampi.LIBRARY_PATH}, ranks {WORLD.Get_size()}, "
        f"MAX_MPI_BYTES {config._dgampi_limit or dgampi.MAX_MPI_BYTES}"
    )


# ---------------------------------------------------------------- outcome sync


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        item._dgampi_failed = True


def _any_failed_ranks(failed):
    """Every rank's failure flag (one 1-int Allgather: 4 bytes per rank)."""
    mine = np.array([1 if failed else 0], dtype=np.int32)
    every = np.zeros(WORLD.Get_size(), dtype=np.int32)
    WORLD.Allgather(mine, every)
    return [r for r, f in enumerate(every) if f]


@pytest.fixture(autouse=True)
def _mpi_sync(request):
    """Watchdog, limit, and the end-of-test agreement on failures."""
    config = request.config
    faulthandler.dump_traceback_later(config._dgampi_timeout, exit=True, file=config._dgampi_watchdog_file)
    saved = dgampi.MAX_MPI_BYTES
    if config._dgampi_limit is not None:
        dgampi.MAX_MPI_BYTES = config._dgampi_limit
    try:
        yield
    finally:
        dgampi.MAX_MPI_BYTES = saved
    failed_here = getattr(request.node, "_dgampi_failed", False)
    failed = _any_failed_ranks(failed_here)
    faulthandler.cancel_dump_traceback_later()
    if failed and not failed_here:
        pytest.fail(f"failed on rank(s) {failed} (see their output)", pytrace=False)


def pytest_runtest_logreport(report):
    config = _STATE.get("config")
    if config is None:
        return
    if report.failed:
        # at once, on the real stderr: a later hang or abort would lose pytest's end-of-session report
        err = config._dgampi_watchdog_file
        err.write(f"rank {WORLD.Get_rank()}: FAILED {report.nodeid} ({report.when})\n{report.longreprtext}\n\n")
        err.flush()
    if config._dgampi_results is None:
        return
    outcomes = config._dgampi_outcomes
    previous = outcomes.get(report.nodeid, "passed")
    if report.failed:
        outcome = "failed"
    elif report.skipped and previous != "failed":
        outcome = "skipped"
    else:
        outcome = previous
    outcomes[report.nodeid] = outcome
    if report.when == "teardown":
        config._dgampi_results.write(f"{report.nodeid}\t{outcome}\n")


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def comm():
    """A private duplicate of COMM_WORLD per test, so a test that failed
    half-way can leave no message behind for the next one."""
    c = WORLD.Dup()
    yield c
    c.Free()


@pytest.fixture(scope="session")
def shared_dir():
    """A directory every rank sees (rank 0 creates it; the path travels
    through dgampi's chunked broadcast)."""
    rank = WORLD.Get_rank()
    path = tempfile.mkdtemp(prefix="dgampi_pytest_") if rank == 0 else None
    blob = np.frombuffer(path.encode(), dtype=np.uint8) if rank == 0 else None
    path = dgampi.bcast_rows(WORLD, blob, 0, limit=16).tobytes().decode()
    yield path
    WORLD.Barrier()
    if rank == 0:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def limit():
    """The message limit in force for this test (what dgampi passes)."""
    return dgampi.MAX_MPI_BYTES
