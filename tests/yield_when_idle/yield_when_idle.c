/* Yield-when-idle for MPICH's ch4:ucx device, preloaded into every process
 * scripts/mpi_env starts for DGAMPI_MPI=mpich (LD_PRELOAD).
 *
 * MPICH's ch4 progress loop polls UCX without ever giving up the processor
 * (MPIR_CVAR_POLLS_BEFORE_YIELD applies to ch3 only), so with more ranks
 * than cores (3 and 4 ranks on a 2-core CI machine) a rank waiting for a
 * message spins through its whole time slice while the rank that would send
 * it waits for the CPU: a ring of 2000 one-byte exchanges at 4 ranks on 2
 * cores took 42.7 s. Open MPI yields when it runs oversubscribed
 * (mpi_yield_when_idle); this does the same for MPICH: when a call of
 * ucp_worker_progress finds nothing to do, the rank yields (sched_yield).
 * The same ring then takes 0.3 s. A rank with a core of its own returns
 * from sched_yield at once, so runs with a core per rank are unchanged.
 *
 * Processes that never load UCX never call it. Opt out with
 * DGAMPI_YIELD_WHEN_IDLE=0 (scripts/mpi_env then does not preload it). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sched.h>

typedef unsigned (*progress_fn)(void *);

unsigned ucp_worker_progress(void *worker) {
    static progress_fn real;
    if (!real) real = (progress_fn)dlsym(RTLD_NEXT, "ucp_worker_progress");
    if (!real) return 0;
    unsigned events = real(worker);
    if (events == 0) sched_yield();
    return events;
}
