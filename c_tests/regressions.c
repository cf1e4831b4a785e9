/* Regression tests of library bugs found while writing the C tests. Each
 * case states the documented behaviour; before the fix it failed or hung.
 *
 *   regressions CASE      (2 ranks)
 */
#include "arrays.h"

static int rank, nranks;

/* Collective errors are collective: a NULL `out` on one rank only must give
 * NULL_ARGUMENT there and REMOTE_ERROR elsewhere, not leave the others waiting. */
static void bcast_rows_null_out_on_one_rank(void) {
    int64_t shape[1] = {4};
    double x[4] = {1, 2, 3, 4};
    dgampi_array a = make_array(x, DGAMPI_DTYPE_F64, 1, shape, NULL);
    dgampi_owned_array out;
    int bad = nranks - 1;
    CHECK_STATUS(dgampi_bcast_rows(MPI_COMM_WORLD, &a, 0, 0, rank == bad ? NULL : &out),
                 rank == bad ? DGAMPI_STATUS_NULL_ARGUMENT : DGAMPI_STATUS_REMOTE_ERROR, "dgampi_bcast_rows");
}

/* Ranks passing different explicit limits to a broadcast must get MISMATCH.
 * The header itself was once broadcast in pieces of each rank's OWN limit, so
 * the MPI_Bcast calls did not match: the error was detected by luck and the
 * root's surplus header pieces stayed queued, where they corrupted (or hung)
 * the following broadcasts. The limit is now part of the opening agreement,
 * so every rank reports the mismatch before anything is broadcast. */
static void bcast_limit_differs_on_one_rank(void) {
    int64_t shape[1] = {10};
    void *buf = rank == 0 ? pattern_new(DGAMPI_DTYPE_F64, 10, 1) : zeros_new(DGAMPI_DTYPE_F64, 10);
    dgampi_array a = make_array(buf, DGAMPI_DTYPE_F64, 1, shape, NULL);
    int bad = nranks - 1;
    CHECK_STATUS(dgampi_bcast_rows_into(MPI_COMM_WORLD, &a, 0, rank == bad ? 32 : 16), DGAMPI_STATUS_MISMATCH,
                 "dgampi_bcast_rows_into");
    free(buf);
    /* and nothing is left behind: the next broadcasts deliver the root's data */
    for (int k = 0; k < 3; k++) {
        buf = rank == 0 ? pattern_new(DGAMPI_DTYPE_F64, 10, 2 + k) : zeros_new(DGAMPI_DTYPE_F64, 10);
        a = make_array(buf, DGAMPI_DTYPE_F64, 1, shape, NULL);
        CHECK_OK(dgampi_bcast_rows_into(MPI_COMM_WORLD, &a, 0, 16));
        CHECK_PATTERN(DGAMPI_DTYPE_F64, buf, 10, 2 + k, "a broadcast after the limit mismatch");
        free(buf);
    }
}

/* recv_bytes fed a message that send_bytes did not send must receive (drain)
 * the message it matched: here a plain 1 MiB MPI_Send, which the sender can
 * only complete once it is received. */
static void recv_bytes_drains_foreign_message(void) {
    const int tag = 200;
    int64_t shape[1] = {1 << 17};
    if (rank == 0) {
        double *x = pattern_new(DGAMPI_DTYPE_F64, (size_t)shape[0], 0);
        CHECK(MPI_Send(x, (int)shape[0], MPI_DOUBLE, 1, tag, MPI_COMM_WORLD) == MPI_SUCCESS, "MPI_Send");
        free(x);
    } else if (rank == 1) {
        void *data = NULL;
        size_t len = 0;
        CHECK_STATUS(dgampi_recv_bytes(MPI_COMM_WORLD, 0, tag, &data, &len), DGAMPI_STATUS_MISMATCH, "dgampi_recv_bytes");
    }
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    check_rank = rank;
    const char *which = argc > 1 ? argv[1] : "";
    check_section = which;
    if (nranks < 2) {
        if (rank == 0) fprintf(stderr, "regressions needs at least 2 ranks\n");
        MPI_Finalize();
        return 2;
    }
    if (strcmp(which, "bcast_rows_null_out_on_one_rank") == 0) bcast_rows_null_out_on_one_rank();
    else if (strcmp(which, "bcast_limit_differs_on_one_rank") == 0) bcast_limit_differs_on_one_rank();
    else if (strcmp(which, "recv_bytes_drains_foreign_message") == 0) recv_bytes_drains_foreign_message();
    else {
        if (rank == 0) fprintf(stderr, "unknown case '%s'\n", which);
        MPI_Finalize();
        return 2;
    }
    return test_finish(which);
}
