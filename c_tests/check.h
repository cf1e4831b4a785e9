/* Shared helpers of dgampi's C consumer tests.
 *
 * Every rank checks its own results. A failed CHECK prints the rank, the
 * location and what differed, counts the failure and goes on (so one run
 * reports every problem); test_finish() makes the exit status nonzero on any
 * rank that failed. Status checks also verify dgampi_last_error_message. */
#ifndef DGAMPI_C_TESTS_CHECK_H
#define DGAMPI_C_TESTS_CHECK_H

#include <dgampi.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_rank = -1;    /* -1 before MPI_Init / without MPI */
static int check_failures = 0;
static const char *check_section = "";

static void check_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    char text[1024];
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    fprintf(stderr, "rank %d: %s:%d: [%s] %s\n", check_rank, file, line, check_section, text);
    fflush(stderr);
    check_failures++;
}

/* CHECK(cond, fmt, ...): fails with the formatted explanation when !cond. */
#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) check_fail(__FILE__, __LINE__, "CHECK(" #cond ") failed: " __VA_ARGS__); \
    } while (0)

static const char *status_name(int s) {
    switch (s) {
    case DGAMPI_STATUS_OK: return "OK";
    case DGAMPI_STATUS_NULL_ARGUMENT: return "NULL_ARGUMENT";
    case DGAMPI_STATUS_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case DGAMPI_STATUS_MISMATCH: return "MISMATCH";
    case DGAMPI_STATUS_OUT_OF_RANGE: return "OUT_OF_RANGE";
    case DGAMPI_STATUS_MPI_NOT_INITIALIZED: return "MPI_NOT_INITIALIZED";
    case DGAMPI_STATUS_MPI_ERROR: return "MPI_ERROR";
    case DGAMPI_STATUS_INTERNAL: return "INTERNAL";
    case DGAMPI_STATUS_ALLOCATION_FAILED: return "ALLOCATION_FAILED";
    case DGAMPI_STATUS_REMOTE_ERROR: return "REMOTE_ERROR";
    case DGAMPI_STATUS_HDF5_ERROR: return "HDF5_ERROR";
    case DGAMPI_STATUS_NOT_FOUND: return "NOT_FOUND";
    case DGAMPI_STATUS_INVALID_HANDLE: return "INVALID_HANDLE";
    case DGAMPI_STATUS_POISONED: return "POISONED";
    default: return "(other status)";
    }
}

static const char *last_error(void) {
    static char buf[2048];
    if (dgampi_last_error_message(buf, sizeof buf, NULL) != DGAMPI_STATUS_OK) return "(dgampi_last_error_message failed)";
    return buf;
}

/* CHECK_OK(call): the call must return DGAMPI_STATUS_OK and leave an empty error message. */
#define CHECK_OK(call)                                                                   \
    do {                                                                                 \
        int check_s_ = (call);                                                           \
        if (check_s_ != DGAMPI_STATUS_OK)                                                \
            check_fail(__FILE__, __LINE__, "%s returned %d (%s): %s", #call, check_s_,   \
                       status_name(check_s_), last_error());                             \
        else if (last_error()[0] != '\0')                                                \
            check_fail(__FILE__, __LINE__, "%s succeeded but left the error message '%s'", \
                       #call, last_error());                                             \
    } while (0)

/* CHECK_STATUS(call, expected, fname): the call must return `expected` and the
 * error message must be non-empty and name the function `fname`. */
#define CHECK_STATUS(call, expected, fname)                                              \
    do {                                                                                 \
        int check_s_ = (call);                                                           \
        const char *check_m_ = last_error();                                             \
        if (check_s_ != (expected))                                                      \
            check_fail(__FILE__, __LINE__, "%s returned %d (%s), expected %d (%s); message: '%s'", \
                       #call, check_s_, status_name(check_s_), (int)(expected),          \
                       status_name(expected), check_m_);                                 \
        else if (check_m_[0] == '\0' || strstr(check_m_, (fname)) == NULL)              \
            check_fail(__FILE__, __LINE__, "%s: error message '%s' does not name %s",    \
                       #call, check_m_, (fname));                                        \
    } while (0)

/* Ends an MPI test: reports the total over all ranks on rank 0, finalizes MPI
 * and returns the process exit status (nonzero on a rank that failed). */
static int test_finish(const char *name) {
    /* one byte, so that even this message obeys a 1-byte limit under the PMPI checker */
    unsigned char mine = check_failures ? 1 : 0, any = 0;
    MPI_Allreduce(&mine, &any, 1, MPI_UNSIGNED_CHAR, MPI_MAX, MPI_COMM_WORLD);
    if (check_rank == 0) {
        int size = 0;
        MPI_Comm_size(MPI_COMM_WORLD, &size);
        if (!any)
            printf("%s: all checks passed on %d rank(s)\n", name, size);
        else
            printf("%s: checks failed (see the rank messages above) on %d rank(s)\n", name, size);
        fflush(stdout);
    }
    MPI_Finalize();
    return check_failures ? 1 : 0;
}

/* Even ranks send first, odd ranks receive first: no cycle of blocked sends in a ring. */
/* Whether a blocking send to self completes before its receive is posted.
 * Open MPI buffers small messages to self; MPICH (ch4) completes a send to
 * self only when the receive matches it, as the MPI standard allows, so a
 * one-rank ring (send to self, then receive) never returns there. Probed once
 * with a 1-byte MPI_Isend to self on a duplicate of MPI_COMM_SELF. */
static int self_send_buffered(void) {
    static int known = -1;
    if (known < 0) {
        MPI_Comm c;
        MPI_Comm_dup(MPI_COMM_SELF, &c);
        char byte = 1, got = 0;
        int done = 0;
        MPI_Request rq;
        MPI_Isend(&byte, 1, MPI_CHAR, 0, 0, c, &rq);
        for (int i = 0; i < 1000 && !done; i++) MPI_Test(&rq, &done, MPI_STATUS_IGNORE);
        MPI_Recv(&got, 1, MPI_CHAR, 0, 0, c, MPI_STATUS_IGNORE);
        if (!done) MPI_Wait(&rq, MPI_STATUS_IGNORE);
        MPI_Comm_free(&c);
        known = done;
    }
    return known;
}

/* True, after a note on stdout, when a ring over `comm` is a send to self
 * (one rank) that this MPI does not buffer: the caller skips the exchange
 * (it runs at 2, 3 and 4 ranks). */
static int ring_to_self_blocks(MPI_Comm comm) {
    int n = 0;
    MPI_Comm_size(comm, &n);
    if (n != 1 || self_send_buffered()) return 0;
    printf("note: [%s] skipped at 1 rank: the ring is a blocking send to self, which this MPI completes "
           "only once the receive is posted (MPICH; Open MPI buffers it); it runs at 2, 3 and 4 ranks\n",
           check_section);
    fflush(stdout);
    return 1;
}

#define RING_EXCHANGE(rank, do_send, do_recv) \
    do {                                      \
        if ((rank) % 2 == 0) { do_send; do_recv; } else { do_recv; do_send; } \
    } while (0)

#endif
