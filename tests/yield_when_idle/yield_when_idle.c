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
 * The real ucp_worker_progress is the next definition after this one
 * (RTLD_NEXT) when libucp is in the global scope (a program linked with
 * MPI), else the one of the loaded libucp (a Python process whose mpi4py
 * loaded MPI with dlopen). Processes that never load UCX never call it. If
 * it cannot be found the process aborts with a message rather than spin.
 * Opt out with DGAMPI_YIELD_WHEN_IDLE=0 (scripts/mpi_env then does not
 * preload it). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

typedef unsigned (*progress_fn)(void *);

static progress_fn find_real(void) {
    progress_fn f = (progress_fn)dlsym(RTLD_NEXT, "ucp_worker_progress");
    static const char *const names[] = {"libucp.so.0", "libucp.so"};
    for (unsigned i = 0; !f && i < sizeof names / sizeof names[0]; i++) {
        void *lib = dlopen(names[i], RTLD_LAZY | RTLD_NOLOAD);
        if (lib) f = (progress_fn)dlsym(lib, "ucp_worker_progress");
    }
    if (!f) {
        fprintf(stderr, "yield_when_idle: ucp_worker_progress of the loaded libucp not found; "
                        "run with DGAMPI_YIELD_WHEN_IDLE=0\n");
        abort();
    }
    return f;
}

unsigned ucp_worker_progress(void *worker) {
    static progress_fn real;
    if (!real) real = find_real();
    unsigned events = real(worker);
    if (events == 0) sched_yield();
    return events;
}
