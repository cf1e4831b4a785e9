/* dgampi C ABI without an initialized MPI: every MPI entry point must return
 * DGAMPI_STATUS_MPI_NOT_INITIALIZED (never abort, never call MPI_Init itself),
 * while the MPI-free helpers keep working.
 *
 *   no_mpi_init              MPI is never initialized (run without mpirun)
 *   no_mpi_init --finalize   also after MPI_Init + MPI_Finalize (1 rank)
 */
#include "arrays.h"

static void all_entry_points(const char *when) {
    check_section = when;
    int64_t shape[2] = {2, 2};
    double x[4] = {1, 2, 3, 4};
    dgampi_array a = make_array(x, DGAMPI_DTYPE_F64, 2, shape, NULL);
    dgampi_owned_array out;
    void *data = (void *)&data;
    size_t len = 7;
    /* any integer works as a Fortran handle: it must not be converted before the check */
    MPI_Fint f = 0;
    const int S = DGAMPI_STATUS_MPI_NOT_INITIALIZED;
    CHECK_STATUS(dgampi_send_rows(MPI_COMM_WORLD, &a, 0, 0, 0), S, "dgampi_send_rows");
    CHECK_STATUS(dgampi_send_rows_f(f, &a, 0, 0, 0), S, "dgampi_send_rows_f");
    CHECK_STATUS(dgampi_recv_rows_into(MPI_COMM_WORLD, &a, 0, 0, 0), S, "dgampi_recv_rows_into");
    CHECK_STATUS(dgampi_recv_rows_into_f(f, &a, 0, 0, 0), S, "dgampi_recv_rows_into_f");
    CHECK_STATUS(dgampi_recv_rows_alloc(MPI_COMM_WORLD, DGAMPI_DTYPE_F64, 2, shape, 0, 0, 0, &data), S,
                 "dgampi_recv_rows_alloc");
    CHECK_STATUS(dgampi_recv_rows_alloc_f(f, DGAMPI_DTYPE_F64, 2, shape, 0, 0, 0, &data), S, "dgampi_recv_rows_alloc_f");
    CHECK(data == (void *)&data, "recv_rows_alloc wrote *data");
    CHECK_STATUS(dgampi_bcast_rows_into(MPI_COMM_WORLD, &a, 0, 0), S, "dgampi_bcast_rows_into");
    CHECK_STATUS(dgampi_bcast_rows_into_f(f, &a, 0, 0), S, "dgampi_bcast_rows_into_f");
    CHECK_STATUS(dgampi_bcast_rows(MPI_COMM_WORLD, &a, 0, 0, &out), S, "dgampi_bcast_rows");
    CHECK_STATUS(dgampi_bcast_rows_f(f, &a, 0, 0, &out), S, "dgampi_bcast_rows_f");
    CHECK_STATUS(dgampi_send_bytes(MPI_COMM_WORLD, x, 8, 0, 0, 0), S, "dgampi_send_bytes");
    CHECK_STATUS(dgampi_send_bytes_f(f, x, 8, 0, 0, 0), S, "dgampi_send_bytes_f");
    CHECK_STATUS(dgampi_recv_bytes(MPI_COMM_WORLD, 0, 0, &data, &len), S, "dgampi_recv_bytes");
    CHECK_STATUS(dgampi_recv_bytes_f(f, 0, 0, &data, &len), S, "dgampi_recv_bytes_f");
    CHECK(data == (void *)&data && len == 7, "recv_bytes wrote its outputs");
    /* the message says what to do */
    char msg[512];
    CHECK_STATUS(dgampi_send_rows(MPI_COMM_WORLD, &a, 0, 0, 0), S, "dgampi_send_rows");
    dgampi_last_error_message(msg, sizeof msg);
    CHECK(strstr(msg, "MPI") != NULL, "message '%s' does not mention MPI", msg);

    /* MPI-free helpers */
    const char *v = NULL;
    size_t limit = 0, rows = 0, count = 0;
    CHECK_OK(dgampi_version(&v));
    CHECK_OK(dgampi_max_message_bytes(&limit));
    CHECK_OK(dgampi_chunk_step(8, 64, &rows));
    CHECK(rows == 8, "chunk_step(8, 64) = %zu", rows);
    CHECK_OK(dgampi_row_chunks(10, 8, 24, 0, &count, NULL));
    CHECK(count == 4, "row_chunks(10, 8, 24) count %zu", count);
    CHECK_OK(dgampi_set_max_message_bytes(limit));
}

static int finish(void) {
    if (check_failures == 0)
        printf("no_mpi_init: all checks passed\n");
    else
        printf("no_mpi_init: %d check(s) failed\n", check_failures);
    return check_failures ? 1 : 0;
}

int main(int argc, char **argv) {
    int initialized = 1;
    MPI_Initialized(&initialized);
    CHECK(!initialized, "MPI is initialized before MPI_Init");
    all_entry_points("before MPI_Init");
    MPI_Initialized(&initialized);
    CHECK(!initialized, "the library initialized MPI");

    if (argc > 1 && strcmp(argv[1], "--finalize") == 0) {
        MPI_Init(&argc, &argv);
        MPI_Comm_rank(MPI_COMM_WORLD, &check_rank);
        /* a valid call works once MPI is up */
        check_section = "after MPI_Init";
        int64_t shape[1] = {3};
        double x[3] = {1.5, 2.5, 3.5};
        dgampi_array a = make_array(x, DGAMPI_DTYPE_F64, 1, shape, NULL);
        CHECK_OK(dgampi_bcast_rows_into(MPI_COMM_WORLD, &a, 0, 0));
        MPI_Finalize();
        all_entry_points("after MPI_Finalize");
        int finalized = 0;
        MPI_Finalized(&finalized);
        CHECK(finalized, "MPI_Finalized is false after MPI_Finalize");
    }
    return finish();
}
