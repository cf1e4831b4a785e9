/* dgampi C ABI without an initialized MPI: every MPI entry point must return
 * DGAMPI_STATUS_MPI_NOT_INITIALIZED (never abort, never call MPI_Init itself),
 * while the MPI-free helpers keep working.
 *
 *   no_mpi_init              MPI is never initialized (run without mpirun)
 *   no_mpi_init --finalize   also after MPI_Init + MPI_Finalize (1 rank),
 *                            including every call on a distributor or FFT
 *                            plan created before MPI_Finalize (these used to
 *                            abort the job inside MPI); the calls that need no
 *                            MPI (accessors, destroy) keep working
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
    dgampi_last_error_message(msg, sizeof msg, NULL);
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

/* Every entry point that reaches MPI through a handle (`d` and `full` are
 * distributors, `p` an FFT plan; NULL before MPI_Init) returns `S`. */
static void handle_entry_points(dgampi_distributor *d, dgampi_distributor *full, dgampi_fft_plan *p) {
    const int S = DGAMPI_STATUS_MPI_NOT_INITIALIZED;
    int64_t shape[1] = {4}, shape3[3] = {2, 1, 1}, irrk_inv[4] = {0, 1, 1, 0}, sizes[4], offsets[4];
    double x[16] = {0};
    char meta[4] = "abc";
    dgampi_array a = make_array(x, DGAMPI_DTYPE_F64, 1, shape, NULL);
    dgampi_array m = make_array(x, DGAMPI_DTYPE_COMPLEX128, 3, shape3, NULL);
    dgampi_array z = make_array(x, DGAMPI_DTYPE_COMPLEX128, 1, shape, NULL);
    dgampi_owned_array out;
    void *data = NULL;
    size_t len = 0;
    int32_t has = 0;
    MPI_Fint f = 0;
    CHECK_STATUS(dgampi_distributor_barrier(d), S, "dgampi_distributor_barrier");
    CHECK_STATUS(dgampi_distributor_scatter(d, &a, 0, 0, &out), S, "dgampi_distributor_scatter");
    CHECK_STATUS(dgampi_distributor_scatter_into(d, &a, &a, 0, 0), S, "dgampi_distributor_scatter_into");
    CHECK_STATUS(dgampi_distributor_gather(d, &a, 0, 0, &out), S, "dgampi_distributor_gather");
    CHECK_STATUS(dgampi_distributor_gather_into(d, &a, &a, 0, 0), S, "dgampi_distributor_gather_into");
    CHECK_STATUS(dgampi_distributor_allgather(d, &a, 0, &out), S, "dgampi_distributor_allgather");
    CHECK_STATUS(dgampi_distributor_allgather_into(d, &a, &a, 0), S, "dgampi_distributor_allgather_into");
    CHECK_STATUS(dgampi_distributor_allreduce(d, &a, 0), S, "dgampi_distributor_allreduce");
    CHECK_STATUS(dgampi_distributor_bcast_bytes(d, meta, 3, 0, 0, &data, &len), S, "dgampi_distributor_bcast_bytes");
    CHECK_STATUS(dgampi_distributor_bcast_chunked(d, &a, 0, 0, &out), S, "dgampi_distributor_bcast_chunked");
    CHECK_STATUS(dgampi_distributor_bcast_chunked_into(d, &a, 0, 0), S, "dgampi_distributor_bcast_chunked_into");
    CHECK_STATUS(dgampi_distributor_bcast_npoint(d, meta, 3, &a, 0, 0, &data, &len, &out), S,
                 "dgampi_distributor_bcast_npoint");
    CHECK_STATUS(dgampi_distributor_send_to_rank(d, meta, 3, &a, 1, 0, 0), S, "dgampi_distributor_send_to_rank");
    CHECK_STATUS(dgampi_distributor_recv_from_rank(d, 1, 0, &data, &len, &out), S, "dgampi_distributor_recv_from_rank");
    CHECK_STATUS(dgampi_distributor_recv_from_rank_into(d, 1, 0, &data, &len, &a), S,
                 "dgampi_distributor_recv_from_rank_into");
    CHECK_STATUS(dgampi_distributor_comm_f(d, &f), S, "dgampi_distributor_comm_f");
    CHECK_STATUS(dgampi_exchange_and_map_irrbz_fullbz(d, full, irrk_inv, 4, &m, NULL, 0, &out), S,
                 "dgampi_exchange_and_map_irrbz_fullbz");
    CHECK_STATUS(dgampi_exchange_and_map_irrbz_fullbz_into(d, full, irrk_inv, 4, &m, NULL, 0, &m), S,
                 "dgampi_exchange_and_map_irrbz_fullbz_into");
    CHECK_STATUS(dgampi_map_irrbz_fullbz(d, full, irrk_inv, 4, &m, NULL, 0, &out), S, "dgampi_map_irrbz_fullbz");
    CHECK_STATUS(dgampi_map_irrbz_fullbz_into(d, full, irrk_inv, 4, &m, NULL, 0, &m), S, "dgampi_map_irrbz_fullbz_into");
    CHECK_STATUS(dgampi_node_aware_split(d, 4, sizes, offsets, 4), S, "dgampi_node_aware_split");
    sizes[0] = 4;
    offsets[0] = 0;
    CHECK_STATUS(dgampi_gather_full_ibz_for_vslice(d, full, irrk_inv, 4, sizes, offsets, &m, NULL, 0, &out, &has), S,
                 "dgampi_gather_full_ibz_for_vslice");
    CHECK_STATUS(dgampi_fft_plan_execute(p, &z), S, "dgampi_fft_plan_execute");
    CHECK(data == NULL && len == 0, "a refused call wrote its outputs");
}

/* The collectives' constructors (C and Fortran handles). */
static void constructors(void) {
    const int S = DGAMPI_STATUS_MPI_NOT_INITIALIZED;
    int64_t shape[1] = {4}, nq[3] = {2, 2, 1};
    double x[8] = {0};
    dgampi_array z = make_array(x, DGAMPI_DTYPE_COMPLEX128, 1, shape, NULL);
    dgampi_distributor *d = NULL;
    dgampi_fft_plan *p = NULL;
    CHECK_STATUS(dgampi_distributor_create(MPI_COMM_WORLD, 4, NULL, NULL, &d), S, "dgampi_distributor_create");
    CHECK_STATUS(dgampi_distributor_create_f(0, 4, NULL, NULL, &d), S, "dgampi_distributor_create_f");
    CHECK_STATUS(dgampi_fft_plan_create(MPI_COMM_WORLD, nq, 0, NULL, DGAMPI_DTYPE_COMPLEX128, NULL, &p), S,
                 "dgampi_fft_plan_create");
    CHECK_STATUS(dgampi_fft_plan_create_f(0, nq, 0, NULL, DGAMPI_DTYPE_COMPLEX128, NULL, &p), S,
                 "dgampi_fft_plan_create_f");
    CHECK_STATUS(dgampi_fft_execute_once(MPI_COMM_WORLD, nq, &z, NULL), S, "dgampi_fft_execute_once");
    CHECK_STATUS(dgampi_fft_execute_once_f(0, nq, &z, NULL), S, "dgampi_fft_execute_once_f");
    CHECK(d == NULL && p == NULL, "a refused create stored a handle");
}

int main(int argc, char **argv) {
    int initialized = 1;
    MPI_Initialized(&initialized);
    CHECK(!initialized, "MPI is initialized before MPI_Init");
    all_entry_points("before MPI_Init");
    handle_entry_points(NULL, NULL, NULL);
    constructors();
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
        /* objects that outlive MPI */
        dgampi_distributor *d = NULL, *full = NULL;
        dgampi_fft_plan *p = NULL;
        int64_t nq[3] = {2, 2, 1};
        CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, 2, NULL, NULL, &d));
        CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, 4, NULL, NULL, &full));
        CHECK_OK(dgampi_fft_plan_create(MPI_COMM_WORLD, nq, 0, NULL, DGAMPI_DTYPE_COMPLEX128, NULL, &p));
        MPI_Finalize();
        all_entry_points("after MPI_Finalize");
        constructors();
        check_section = "handles after MPI_Finalize";
        handle_entry_points(d, full, p);
        /* what needs no MPI still works, and the objects can be released */
        int64_t n = 0, my_q = 0, off = 0;
        CHECK_OK(dgampi_distributor_ntasks(d, &n));
        CHECK(n == 2, "ntasks %lld after MPI_Finalize", (long long)n);
        CHECK_OK(dgampi_fft_plan_local(p, &my_q, &off));
        CHECK(my_q == 4, "plan has %lld points after MPI_Finalize", (long long)my_q);
        CHECK_OK(dgampi_distributor_destroy(&d));
        CHECK_OK(dgampi_distributor_destroy(&full));
        CHECK_OK(dgampi_fft_plan_destroy(&p));
        CHECK(d == NULL && full == NULL && p == NULL, "destroy did not clear the handles");
        int finalized = 0;
        MPI_Finalized(&finalized);
        CHECK(finalized, "MPI_Finalized is false after MPI_Finalize");
    }
    return finish();
}
