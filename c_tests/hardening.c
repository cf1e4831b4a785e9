/* Hardening of the C ABI against bad input: each case is a failure found by
 * feeding the library what a careless or unlucky caller would, and states the
 * status every rank must now get (no crash, no hang, no silent success).
 *
 *   hardening CASE [ARG]
 *
 * Cases (rank counts in CMakeLists.txt):
 *   stale_handle_reuse       a destroyed handle stays INVALID_HANDLE even when
 *                            the new object of the next create gets its address
 *   invalid_fortran_handle   _f entry points given 123456, -1 or the Fortran
 *                            MPI_COMM_NULL return INVALID_ARGUMENT, no abort
 *   intercommunicator        collectives reject an intercommunicator up front
 *                            (INVALID_ARGUMENT on every rank, no hang);
 *                            point-to-point primitives keep working on it
 *   size_max_lengths         byte lengths above PTRDIFF_MAX (SIZE_MAX) are
 *                            OUT_OF_RANGE, agreed on every rank in collectives
 *   overflowing_strides      strides whose extent overflows are OUT_OF_RANGE in
 *                            send, recv, spill write, allreduce, scatter, FFT
 *   size_products            products of caller sizes (orbital transform nb*nb,
 *                            n*nb*nb*16, n_full*8, nranks*8) are checked
 *   fft_misaligned_block     an FFT block at an address that is not a multiple
 *                            of its element alignment is INVALID_ARGUMENT
 *   aliased_outputs          outputs with stride-0 rows are INVALID_ARGUMENT in
 *                            recv_rows_into (the transfer is drained), and in
 *                            allreduce and the other collectives' outputs
 *                            (agreed on every rank), and in spill reads
 *   error_message_utf8       dgampi_last_error_message truncates at a UTF-8
 *                            character boundary
 *   bad_limit_env STATUS     run with an invalid DGAMPI_MAX_MESSAGE_BYTES: every
 *                            call using the process-wide limit returns STATUS
 *                            (a dgampi_status code) until a valid limit is set
 */
#include "arrays.h"

#include <stddef.h>

static int rank, nranks;

#define S_OK DGAMPI_STATUS_OK
#define S_INVALID DGAMPI_STATUS_INVALID_ARGUMENT
#define S_RANGE DGAMPI_STATUS_OUT_OF_RANGE
#define S_REMOTE DGAMPI_STATUS_REMOTE_ERROR
#define S_HANDLE DGAMPI_STATUS_INVALID_HANDLE

/* The status a collective returns on this rank when only rank `bad` passed an
 * argument that fails with `status`. */
static int on_bad_rank(int bad, int status) {
    return rank == bad ? status : S_REMOTE;
}

/* ---------------------------------------------------------------- handles */

/* A distributor handle is destroyed and a new distributor created: the
 * allocator hands the new object the freed address, which the old registry
 * (keyed by address) took for the stale handle. */
static void stale_handle_reuse(void) {
    int64_t v = 0;
    int32_t iv = 0;
    int reused = 0;
    for (int round = 0; round < 20; round++) {
        dgampi_distributor *d = NULL, *fresh = NULL;
        CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, 8, NULL, NULL, &d));
        dgampi_distributor *stale = d;
        CHECK_OK(dgampi_distributor_destroy(&d));
        CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, 5, NULL, NULL, &fresh));
        reused += fresh == stale;
        CHECK_STATUS(dgampi_distributor_ntasks(stale, &v), S_HANDLE, "dgampi_distributor_ntasks");
        CHECK_STATUS(dgampi_distributor_my_rank(stale, &iv), S_HANDLE, "dgampi_distributor_my_rank");
        CHECK_STATUS(dgampi_distributor_barrier(stale), S_HANDLE, "dgampi_distributor_barrier");
        CHECK_STATUS(dgampi_distributor_destroy(&stale), S_HANDLE, "dgampi_distributor_destroy");
        CHECK(stale != NULL, "a failed destroy changed the stale handle");
        /* the new distributor is untouched by the calls on the stale handle */
        CHECK_OK(dgampi_distributor_ntasks(fresh, &v));
        CHECK(v == 5, "the new distributor has %lld tasks, expected 5", (long long)v);
        CHECK_OK(dgampi_distributor_barrier(fresh));
        CHECK_OK(dgampi_distributor_destroy(&fresh));
    }
    CHECK(reused == 0, "a new distributor got a destroyed one's handle value %d time(s) in 20", reused);

    /* FFT plans (create is collective, destroy is local) */
    int64_t nq[3] = {2, 2, 2}, my_q = 0, off = 0;
    int32_t strategy = 0;
    reused = 0;
    for (int round = 0; round < 20; round++) {
        dgampi_fft_plan *p = NULL, *fresh = NULL;
        CHECK_OK(dgampi_fft_plan_create(MPI_COMM_WORLD, nq, 0, NULL, DGAMPI_DTYPE_COMPLEX128, NULL, &p));
        dgampi_fft_plan *stale = p;
        CHECK_OK(dgampi_fft_plan_destroy(&p));
        CHECK_OK(dgampi_fft_plan_create(MPI_COMM_WORLD, nq, 0, NULL, DGAMPI_DTYPE_COMPLEX128, NULL, &fresh));
        reused += fresh == stale;
        CHECK_OK(dgampi_fft_plan_local(fresh, &my_q, &off));
        double *x = calloc((size_t)(2 * my_q + 2), sizeof(double));
        int64_t shape[1] = {my_q};
        dgampi_array block = make_array(x, DGAMPI_DTYPE_COMPLEX128, 1, shape, NULL);
        CHECK_STATUS(dgampi_fft_plan_strategy(stale, &strategy), S_HANDLE, "dgampi_fft_plan_strategy");
        CHECK_STATUS(dgampi_fft_plan_execute(stale, &block), S_HANDLE, "dgampi_fft_plan_execute");
        CHECK_STATUS(dgampi_fft_plan_destroy(&stale), S_HANDLE, "dgampi_fft_plan_destroy");
        CHECK(stale != NULL, "a failed destroy changed the stale plan handle");
        /* a plan handle is not a distributor handle */
        CHECK_STATUS(dgampi_distributor_ntasks((dgampi_distributor *)(void *)fresh, &v), S_HANDLE,
                     "dgampi_distributor_ntasks");
        CHECK_OK(dgampi_fft_plan_execute(fresh, &block));
        CHECK_OK(dgampi_fft_plan_destroy(&fresh));
        free(x);
    }
    CHECK(reused == 0, "a new FFT plan got a destroyed one's handle value %d time(s) in 20", reused);
}

/* ---------------------------------------------------------------- communicators */

/* Every entry point taking a communicator, called with `c` (C handle) or `f`
 * (Fortran handle); each must return `want` without touching MPI's error
 * handler. */
static void every_comm_entry_point(MPI_Comm c, MPI_Fint f, int use_f, int want) {
    int64_t shape[1] = {4}, nq[3] = {2, 1, 1};
    double x[8] = {0};
    dgampi_array a = make_array(x, DGAMPI_DTYPE_F64, 1, shape, NULL);
    dgampi_array z = make_array(x, DGAMPI_DTYPE_COMPLEX128, 1, shape, NULL);
    dgampi_owned_array out;
    dgampi_distributor *d = NULL;
    dgampi_fft_plan *p = NULL;
    void *data = NULL;
    size_t len = 0;
    if (use_f) {
        CHECK_STATUS(dgampi_distributor_create_f(f, 4, NULL, NULL, &d), want, "dgampi_distributor_create_f");
        CHECK(d == NULL, "a failed create stored a handle");
        CHECK_STATUS(dgampi_fft_plan_create_f(f, nq, 0, NULL, DGAMPI_DTYPE_COMPLEX128, NULL, &p), want,
                     "dgampi_fft_plan_create_f");
        CHECK(p == NULL, "a failed plan create stored a handle");
        CHECK_STATUS(dgampi_fft_execute_once_f(f, nq, &z, NULL), want, "dgampi_fft_execute_once_f");
        CHECK_STATUS(dgampi_send_rows_f(f, &a, 0, 0, 0), want, "dgampi_send_rows_f");
        CHECK_STATUS(dgampi_recv_rows_into_f(f, &a, 0, 0, 0), want, "dgampi_recv_rows_into_f");
        CHECK_STATUS(dgampi_recv_rows_alloc_f(f, DGAMPI_DTYPE_F64, 1, shape, 0, 0, 0, &data), want,
                     "dgampi_recv_rows_alloc_f");
        CHECK_STATUS(dgampi_bcast_rows_into_f(f, &a, 0, 0), want, "dgampi_bcast_rows_into_f");
        CHECK_STATUS(dgampi_bcast_rows_f(f, &a, 0, 0, &out), want, "dgampi_bcast_rows_f");
        CHECK_STATUS(dgampi_send_bytes_f(f, x, 8, 0, 0, 0), want, "dgampi_send_bytes_f");
        CHECK_STATUS(dgampi_recv_bytes_f(f, 0, 0, &data, &len), want, "dgampi_recv_bytes_f");
    } else {
        CHECK_STATUS(dgampi_distributor_create(c, 4, NULL, NULL, &d), want, "dgampi_distributor_create");
        CHECK(d == NULL, "a failed create stored a handle");
        CHECK_STATUS(dgampi_fft_plan_create(c, nq, 0, NULL, DGAMPI_DTYPE_COMPLEX128, NULL, &p), want,
                     "dgampi_fft_plan_create");
        CHECK(p == NULL, "a failed plan create stored a handle");
        CHECK_STATUS(dgampi_fft_execute_once(c, nq, &z, NULL), want, "dgampi_fft_execute_once");
        CHECK_STATUS(dgampi_send_rows(c, &a, 0, 0, 0), want, "dgampi_send_rows");
        CHECK_STATUS(dgampi_recv_rows_into(c, &a, 0, 0, 0), want, "dgampi_recv_rows_into");
        CHECK_STATUS(dgampi_recv_rows_alloc(c, DGAMPI_DTYPE_F64, 1, shape, 0, 0, 0, &data), want,
                     "dgampi_recv_rows_alloc");
        CHECK_STATUS(dgampi_bcast_rows_into(c, &a, 0, 0), want, "dgampi_bcast_rows_into");
        CHECK_STATUS(dgampi_bcast_rows(c, &a, 0, 0, &out), want, "dgampi_bcast_rows");
        CHECK_STATUS(dgampi_send_bytes(c, x, 8, 0, 0, 0), want, "dgampi_send_bytes");
        CHECK_STATUS(dgampi_recv_bytes(c, 0, 0, &data, &len), want, "dgampi_recv_bytes");
    }
    CHECK(data == NULL && len == 0, "a failed receive wrote its outputs");
}

/* Fortran handles that name no communicator abort the job with MPI_ERR_COMM
 * under the default error handler: they must be rejected before MPI sees them. */
static void invalid_fortran_handle(void) {
    const MPI_Fint bad[] = {123456, -1, 1 << 30, MPI_Comm_c2f(MPI_COMM_NULL)};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) every_comm_entry_point(MPI_COMM_NULL, bad[k], 1, S_INVALID);
    /* and the C twins with MPI_COMM_NULL, and with a zero handle (a NULL
     * pointer in Open MPI, an invalid handle kind in MPICH) */
    every_comm_entry_point(MPI_COMM_NULL, 0, 0, S_INVALID);
    every_comm_entry_point((MPI_Comm)0, 0, 0, S_INVALID);
    /* the world's error handler is still the caller's (not changed behind its back) */
    MPI_Errhandler eh;
    MPI_Comm_get_errhandler(MPI_COMM_WORLD, &eh);
    CHECK(eh == MPI_ERRORS_ARE_FATAL, "the library changed MPI_COMM_WORLD's error handler");
    MPI_Errhandler_free(&eh);
    /* valid Fortran handles still work */
    int64_t shape[1] = {3};
    double *x = rank == 0 ? pattern_new(DGAMPI_DTYPE_F64, 3, 4) : zeros_new(DGAMPI_DTYPE_F64, 3);
    dgampi_array a = make_array(x, DGAMPI_DTYPE_F64, 1, shape, NULL);
    CHECK_OK(dgampi_bcast_rows_into_f(MPI_Comm_c2f(MPI_COMM_WORLD), &a, 0, 0));
    CHECK_PATTERN(DGAMPI_DTYPE_F64, x, 3, 4, "broadcast over the Fortran MPI_COMM_WORLD");
    free(x);
    dgampi_distributor *d = NULL;
    CHECK_OK(dgampi_distributor_create_f(MPI_Comm_c2f(MPI_COMM_SELF), 2, NULL, NULL, &d));
    CHECK_OK(dgampi_distributor_destroy(&d));
}

/* Two groups (even and odd world ranks) joined by an intercommunicator: the
 * collectives used to hang (the agreement on an intercommunicator reduces
 * across the groups); now every rank gets INVALID_ARGUMENT at once. */
static void intercommunicator(void) {
    int color = rank % 2, lrank = 0, lsize = 0, is_inter = 0;
    MPI_Comm local, inter;
    MPI_Comm_split(MPI_COMM_WORLD, color, rank, &local);
    MPI_Intercomm_create(local, 0, MPI_COMM_WORLD, color == 0 ? 1 : 0, 77, &inter);
    MPI_Comm_test_inter(inter, &is_inter);
    CHECK(is_inter, "MPI_Intercomm_create did not give an intercommunicator");
    MPI_Comm_rank(local, &lrank);
    MPI_Comm_size(local, &lsize);

    int64_t shape[1] = {4}, nq[3] = {2, 1, 1};
    double x[8] = {0};
    dgampi_array a = make_array(x, DGAMPI_DTYPE_F64, 1, shape, NULL);
    dgampi_array z = make_array(x, DGAMPI_DTYPE_COMPLEX128, 1, shape, NULL);
    dgampi_owned_array out;
    dgampi_distributor *d = NULL;
    dgampi_fft_plan *p = NULL;
    MPI_Fint f = MPI_Comm_c2f(inter);
    CHECK_STATUS(dgampi_distributor_create(inter, 4, NULL, NULL, &d), S_INVALID, "dgampi_distributor_create");
    CHECK_STATUS(dgampi_distributor_create_f(f, 4, NULL, NULL, &d), S_INVALID, "dgampi_distributor_create_f");
    CHECK(d == NULL, "a failed create stored a handle");
    CHECK_STATUS(dgampi_fft_plan_create(inter, nq, 0, NULL, DGAMPI_DTYPE_COMPLEX128, NULL, &p), S_INVALID,
                 "dgampi_fft_plan_create");
    CHECK_STATUS(dgampi_fft_plan_create_f(f, nq, 0, NULL, DGAMPI_DTYPE_COMPLEX128, NULL, &p), S_INVALID,
                 "dgampi_fft_plan_create_f");
    CHECK(p == NULL, "a failed plan create stored a handle");
    CHECK_STATUS(dgampi_fft_execute_once(inter, nq, &z, NULL), S_INVALID, "dgampi_fft_execute_once");
    CHECK_STATUS(dgampi_fft_execute_once_f(f, nq, &z, NULL), S_INVALID, "dgampi_fft_execute_once_f");
    CHECK_STATUS(dgampi_bcast_rows_into(inter, &a, 0, 0), S_INVALID, "dgampi_bcast_rows_into");
    CHECK_STATUS(dgampi_bcast_rows_into_f(f, &a, 0, 0), S_INVALID, "dgampi_bcast_rows_into_f");
    CHECK_STATUS(dgampi_bcast_rows(inter, &a, 0, 0, &out), S_INVALID, "dgampi_bcast_rows");
    CHECK_STATUS(dgampi_bcast_rows_f(f, &a, 0, 0, &out), S_INVALID, "dgampi_bcast_rows_f");
    {
        char msg[512];
        dgampi_bcast_rows_into(inter, &a, 0, 0);
        dgampi_last_error_message(msg, sizeof msg, NULL);
        CHECK(strstr(msg, "intercommunicator") != NULL, "message '%s' does not say why", msg);
    }

    /* point to point still works: rank i of the even group sends to rank i of
     * the odd group (ranks are those of the remote group) */
    int partner_exists = color == 0 ? rank + 1 < nranks : 1;
    CHECK(lsize >= 1, "empty group");
    if (partner_exists) {
        int64_t rshape[2] = {5, 3};
        if (color == 0) {
            double *y = pattern_new(DGAMPI_DTYPE_F64, 15, 10 + lrank);
            dgampi_array s = make_array(y, DGAMPI_DTYPE_F64, 2, rshape, NULL);
            CHECK_OK(dgampi_send_rows(inter, &s, lrank, 5, 16));
            free(y);
        } else {
            double *y = zeros_new(DGAMPI_DTYPE_F64, 15);
            dgampi_array r = make_array(y, DGAMPI_DTYPE_F64, 2, rshape, NULL);
            CHECK_OK(dgampi_recv_rows_into(inter, &r, lrank, 5, 16));
            CHECK_PATTERN(DGAMPI_DTYPE_F64, y, 15, 10 + lrank, "rows received over the intercommunicator");
            free(y);
        }
    }
    MPI_Comm_free(&inter);
    MPI_Comm_free(&local);
}

/* ---------------------------------------------------------------- sizes */

/* A byte length of SIZE_MAX made the root panic copying the blob (INTERNAL)
 * while the other ranks waited in the agreement forever. */
static void size_max_lengths(void) {
    const size_t huge[] = {SIZE_MAX, (size_t)PTRDIFF_MAX + 1};
    char blob[16] = "fifteen bytes..";
    dgampi_distributor *d = NULL;
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, 4, NULL, NULL, &d));
    int64_t shape[1] = {4};
    double x[4] = {1, 2, 3, 4};
    dgampi_array mat = make_array(x, DGAMPI_DTYPE_F64, 1, shape, NULL);
    for (size_t k = 0; k < 2; k++) {
        void *got = NULL;
        size_t got_len = 7;
        dgampi_owned_array om;
        int root = (int)k % nranks;
        CHECK_STATUS(dgampi_distributor_bcast_bytes(d, blob, huge[k], root, 0, &got, &got_len), on_bad_rank(root, S_RANGE),
                     "dgampi_distributor_bcast_bytes");
        CHECK(got == NULL, "a failed bcast_bytes handed out a buffer");
        CHECK_STATUS(dgampi_distributor_bcast_npoint(d, blob, huge[k], &mat, root, 0, &got, &got_len, &om),
                     on_bad_rank(root, S_RANGE), "dgampi_distributor_bcast_npoint");
        /* point to point: refused before anything is sent */
        CHECK_STATUS(dgampi_distributor_send_to_rank(d, blob, huge[k], &mat, (rank + 1) % nranks, 3, 0), S_RANGE,
                     "dgampi_distributor_send_to_rank");
        CHECK_STATUS(dgampi_send_bytes(MPI_COMM_WORLD, blob, huge[k], (rank + 1) % nranks, 3, 0), S_RANGE,
                     "dgampi_send_bytes");
    }
    /* nothing was left behind: a valid broadcast delivers the root's blob */
    void *got = NULL;
    size_t got_len = 0;
    CHECK_OK(dgampi_distributor_bcast_bytes(d, blob, 15, 0, 0, &got, &got_len));
    if (rank != 0) {
        CHECK(got_len == 15 && got != NULL && memcmp(got, blob, 15) == 0, "the blob after the failures is wrong");
        dgampi_free(got);
    }
    CHECK_OK(dgampi_distributor_destroy(&d));
}

/* Strides whose extent overflows the address space: the span walks of the
 * transfers used to compute wrapped addresses and crash with SIGSEGV. */
static void overflowing_strides(void) {
    const int64_t bad_strides[] = {INT64_MIN, INT64_MAX, (int64_t)1 << 62, -((int64_t)1 << 62)};
    dgampi_distributor *d = NULL;
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, 4 * (int64_t)nranks, "hardening_strides", ".", &d));
    double *x = zeros_new(DGAMPI_DTYPE_COMPLEX128, 64);
    int peer = (rank + 1) % nranks, bad = nranks - 1;
    for (size_t k = 0; k < sizeof bad_strides / sizeof bad_strides[0]; k++) {
        int64_t shape[1] = {4}, strides[1] = {bad_strides[k]};
        int64_t shape2[2] = {4, 4}, strides2[2] = {16, bad_strides[k]};
        dgampi_array a = make_array(x, DGAMPI_DTYPE_F64, 1, shape, strides);
        dgampi_array a2 = make_array(x, DGAMPI_DTYPE_F64, 2, shape2, strides2);
        dgampi_array good = make_array(x, DGAMPI_DTYPE_F64, 1, shape, NULL);
        dgampi_owned_array out;
        CHECK_STATUS(dgampi_send_rows(MPI_COMM_WORLD, &a, peer, 1, 0), S_RANGE, "dgampi_send_rows");
        CHECK_STATUS(dgampi_send_rows(MPI_COMM_WORLD, &a2, peer, 1, 0), S_RANGE, "dgampi_send_rows");
        CHECK_STATUS(dgampi_recv_rows_into(MPI_COMM_WORLD, &a, peer, 1, 0), S_RANGE, "dgampi_recv_rows_into");
        CHECK_STATUS(dgampi_recv_rows_into(MPI_COMM_WORLD, &a2, peer, 1, 0), S_RANGE, "dgampi_recv_rows_into");
        CHECK_STATUS(dgampi_distributor_spill_write(d, "strided", &a), S_RANGE, "dgampi_distributor_spill_write");
        CHECK_STATUS(dgampi_distributor_spill_write(d, "strided", &a2), S_RANGE, "dgampi_distributor_spill_write");
        CHECK_STATUS(dgampi_distributor_allreduce(d, &a, 0), S_RANGE, "dgampi_distributor_allreduce");
        CHECK_STATUS(dgampi_distributor_allreduce(d, rank == bad ? &a2 : &good, 0), on_bad_rank(bad, S_RANGE),
                     "dgampi_distributor_allreduce");
        /* scatter: the root's array; scatter_into: one rank's output */
        int64_t sshape[1] = {4 * (int64_t)nranks}, oshape[1] = {4};
        dgampi_array send = make_array(x, DGAMPI_DTYPE_F64, 1, sshape, strides);
        dgampi_array mine = make_array(x + 32, DGAMPI_DTYPE_F64, 1, oshape, rank == bad ? strides : NULL);
        CHECK_STATUS(dgampi_distributor_scatter(d, &send, 0, 0, &out), on_bad_rank(0, S_RANGE), "dgampi_distributor_scatter");
        dgampi_array gsend = make_array(x, DGAMPI_DTYPE_F64, 1, sshape, NULL);
        CHECK_STATUS(dgampi_distributor_scatter_into(d, &gsend, &mine, 0, 0), on_bad_rank(bad, S_RANGE),
                     "dgampi_distributor_scatter_into");
        /* FFT: a 4x2x2 grid gives every rank (up to 4) at least 4 points */
        int64_t nq[3] = {4, 2, 2}, my_q = 0, off = 0;
        dgampi_fft_plan *p = NULL;
        CHECK_OK(dgampi_fft_plan_create(MPI_COMM_WORLD, nq, 0, NULL, DGAMPI_DTYPE_COMPLEX128, NULL, &p));
        CHECK_OK(dgampi_fft_plan_local(p, &my_q, &off));
        int64_t qshape[1] = {my_q};
        dgampi_array block = make_array(x, DGAMPI_DTYPE_COMPLEX128, 1, qshape, strides);
        dgampi_array gblock = make_array(x, DGAMPI_DTYPE_COMPLEX128, 1, qshape, NULL);
        CHECK_STATUS(dgampi_fft_plan_execute(p, &block), S_RANGE, "dgampi_fft_plan_execute");
        CHECK_STATUS(dgampi_fft_plan_execute(p, rank == bad ? &block : &gblock), on_bad_rank(bad, S_RANGE), "dgampi_fft_plan_execute");
        CHECK_STATUS(dgampi_fft_execute_once(MPI_COMM_WORLD, nq, &block, NULL), S_RANGE,
                     "dgampi_fft_execute_once");
        CHECK_OK(dgampi_fft_plan_destroy(&p));
    }
    /* the collectives still work afterwards */
    int64_t shape[1] = {3};
    double y[3] = {1.0, 2.0, (double)rank};
    dgampi_array good = make_array(y, DGAMPI_DTYPE_F64, 1, shape, NULL);
    CHECK_OK(dgampi_distributor_allreduce(d, &good, 0));
    CHECK(y[0] == nranks && y[1] == 2.0 * nranks && y[2] == nranks * (nranks - 1) / 2.0, "allreduce after the failures");
    CHECK_OK(dgampi_distributor_delete_file(d));
    CHECK_OK(dgampi_distributor_destroy(&d));
    free(x);
}

/* Products of caller-given sizes: the orbital transform's nb*nb and
 * n*nb*nb*16 (nb = 2^32 made nb*nb wrap to 0 and the transform look empty),
 * n_full*8 of irrk_inv, nranks*8 of the node labels. */
static void size_products(void) {
    dgampi_distributor *irr = NULL, *full = NULL;
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, 2, NULL, NULL, &irr));
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, 4, NULL, NULL, &full));
    int64_t my_irr = 0, irrk_inv[4] = {0, 1, 1, 0};
    CHECK_OK(dgampi_distributor_my_size(irr, &my_irr));
    double *x = zeros_new(DGAMPI_DTYPE_COMPLEX128, 16);
    int64_t shape[3] = {my_irr, 2, 2};
    dgampi_array block = make_array(x, DGAMPI_DTYPE_COMPLEX128, 3, shape, NULL);
    double u[32] = {0}, sigma[4] = {1, 1, 1, 1};
    for (int k = 0; k < 4; k++) u[8 * k] = u[8 * k + 6] = 1.0; /* four 2x2 identities */
    uint8_t conj[4] = {0};
    const int64_t sizes[][2] = {
        {1, (int64_t)1 << 32},          /* nb*nb = 2^64 */
        {4, (int64_t)3037000500},       /* nb*nb fits, n*nb*nb does not */
        {(int64_t)1 << 36, (int64_t)1 << 12}, /* n*nb*nb fits, its 16 bytes each do not */
        {(int64_t)1 << 62, 1},          /* n*16 bytes of U */
    };
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        dgampi_orbital_transform t;
        CHECK_OK(dgampi_orbital_transform_init(&t, sizeof t));
        t.u = u, t.n = sizes[k][0], t.nb = sizes[k][1], t.axes = 2, t.sigma = sigma, t.conj = conj;
        dgampi_owned_array out;
        CHECK_STATUS(dgampi_exchange_and_map_irrbz_fullbz(irr, full, irrk_inv, 4, &block, &t, 0, &out), S_RANGE,
                     "dgampi_exchange_and_map_irrbz_fullbz");
        CHECK_STATUS(dgampi_map_irrbz_fullbz(irr, full, irrk_inv, 4, &block, &t, 0, &out), S_RANGE,
                     "dgampi_map_irrbz_fullbz");
    }
    dgampi_owned_array out;
    CHECK_STATUS(dgampi_exchange_and_map_irrbz_fullbz(irr, full, irrk_inv, SIZE_MAX, &block, NULL, 0, &out), S_RANGE,
                 "dgampi_exchange_and_map_irrbz_fullbz");
    CHECK_STATUS(dgampi_exchange_and_map_irrbz_fullbz(irr, full, irrk_inv, (size_t)1 << 61, &block, NULL, 0, &out),
                 S_RANGE, "dgampi_exchange_and_map_irrbz_fullbz");
    int64_t nodes[2] = {0, 0}, ssz[2], soff[2];
    CHECK_STATUS(dgampi_node_aware_split_nodes(8, nodes, SIZE_MAX, ssz, soff), S_RANGE, "dgampi_node_aware_split_nodes");
    CHECK_STATUS(dgampi_node_aware_split_nodes(8, nodes, (size_t)1 << 61, ssz, soff), S_RANGE,
                 "dgampi_node_aware_split_nodes");
    /* the maps still work afterwards (a valid identity transform) */
    dgampi_orbital_transform t;
    CHECK_OK(dgampi_orbital_transform_init(&t, sizeof t));
    t.u = u, t.n = 4, t.nb = 2, t.axes = 2, t.sigma = sigma, t.conj = conj;
    CHECK_OK(dgampi_exchange_and_map_irrbz_fullbz(irr, full, irrk_inv, 4, &block, &t, 0, &out));
    dgampi_free(out.data);
    CHECK_OK(dgampi_distributor_destroy(&irr));
    CHECK_OK(dgampi_distributor_destroy(&full));
    free(x);
}

/* ---------------------------------------------------------------- alignment */

/* The FFT forms a typed slice over the caller's block (scaling, FFTW): a
 * block at an odd address is undefined behaviour there. */
static void fft_misaligned_block(void) {
    const int32_t dtypes[2] = {DGAMPI_DTYPE_COMPLEX128, DGAMPI_DTYPE_COMPLEX64};
    int64_t nq[3] = {2, 2, 2}, my_q = 0, off = 0;
    for (int t = 0; t < 2; t++) {
        size_t es = dtype_size(dtypes[t]);
        dgampi_fft_plan *p = NULL;
        CHECK_OK(dgampi_fft_plan_create(MPI_COMM_WORLD, nq, 0, NULL, dtypes[t], NULL, &p));
        CHECK_OK(dgampi_fft_plan_local(p, &my_q, &off));
        CHECK(my_q > 0, "rank %d has no grid point", rank);
        unsigned char *raw = calloc((size_t)my_q * es + 32, 1);
        unsigned char *aligned = raw + 16 - ((uintptr_t)raw % 16);
        int64_t shape[1] = {my_q};
        dgampi_array odd = make_array(aligned + 1, dtypes[t], 1, shape, NULL);
        dgampi_array half = make_array(aligned + es / 4, dtypes[t], 1, shape, NULL); /* 4 or 2 bytes off */
        dgampi_array good = make_array(aligned, dtypes[t], 1, shape, NULL);
        CHECK_STATUS(dgampi_fft_plan_execute(p, &odd), S_INVALID, "dgampi_fft_plan_execute");
        {
            char msg[512];
            dgampi_fft_plan_execute(p, &odd);
            dgampi_last_error_message(msg, sizeof msg, NULL);
            CHECK(strstr(msg, "align") != NULL, "message '%s' does not name the alignment", msg);
        }
        CHECK_STATUS(dgampi_fft_plan_execute(p, &half), S_INVALID, "dgampi_fft_plan_execute");
        CHECK_STATUS(dgampi_fft_plan_execute(p, rank == 0 ? &odd : &good), on_bad_rank(0, S_INVALID), "dgampi_fft_plan_execute");
        CHECK_STATUS(dgampi_fft_execute_once(MPI_COMM_WORLD, nq, &odd, NULL), S_INVALID,
                     "dgampi_fft_execute_once");
        /* element alignment is enough (FFTW's unaligned plan serves it) */
        dgampi_array elem = make_array(aligned + es / 2, dtypes[t], 1, shape, NULL);
        CHECK_OK(dgampi_fft_plan_execute(p, &elem));
        CHECK_OK(dgampi_fft_plan_execute(p, &good));
        CHECK_OK(dgampi_fft_plan_destroy(&p));
        free(raw);
    }
}

/* ---------------------------------------------------------------- low severity */

/* Outputs whose rows alias (stride 0) were accepted: every row landed on the
 * same bytes and the call returned OK. */
static void aliased_outputs(void) {
    /* recv_rows_into: a 1 MiB transfer the sender can only complete once it is
     * received, so the rejected receive must drain it */
    enum { ROWS = 1 << 16 };
    int64_t shape[2] = {ROWS, 2}, alias[2] = {0, 8};
    if (rank % 2 == 0 && rank + 1 < nranks) {
        for (int k = 0; k < 2; k++) {
            double *x = pattern_new(DGAMPI_DTYPE_F64, 2 * ROWS, 20 + k);
            dgampi_array a = make_array(x, DGAMPI_DTYPE_F64, 2, shape, NULL);
            CHECK_OK(dgampi_send_rows(MPI_COMM_WORLD, &a, rank + 1, 40, 0));
            free(x);
        }
    } else if (rank % 2 == 1) {
        double row[2] = {0, 0};
        dgampi_array a = make_array(row, DGAMPI_DTYPE_F64, 2, shape, alias);
        CHECK_STATUS(dgampi_recv_rows_into(MPI_COMM_WORLD, &a, rank - 1, 40, 0), S_INVALID, "dgampi_recv_rows_into");
        double *y = zeros_new(DGAMPI_DTYPE_F64, 2 * ROWS);
        dgampi_array b = make_array(y, DGAMPI_DTYPE_F64, 2, shape, NULL);
        CHECK_OK(dgampi_recv_rows_into(MPI_COMM_WORLD, &b, rank - 1, 40, 0));
        CHECK_PATTERN(DGAMPI_DTYPE_F64, y, 2 * ROWS, 21, "the transfer after the rejected one");
        free(y);
    }

    /* allreduce: on every rank, then on one rank only */
    dgampi_distributor *d = NULL;
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, 4, NULL, NULL, &d));
    int64_t ashape[2] = {3, 2};
    double row[2] = {1, 2}, x[6] = {1, 2, 3, 4, 5, 6};
    dgampi_array aliased = make_array(row, DGAMPI_DTYPE_F64, 2, ashape, alias);
    dgampi_array good = make_array(x, DGAMPI_DTYPE_F64, 2, ashape, NULL);
    int bad = nranks - 1;
    CHECK_STATUS(dgampi_distributor_allreduce(d, &aliased, 0), S_INVALID, "dgampi_distributor_allreduce");
    CHECK_STATUS(dgampi_distributor_allreduce(d, rank == bad ? &aliased : &good, 0), on_bad_rank(bad, S_INVALID),
                 "dgampi_distributor_allreduce");
    CHECK(row[0] == 1 && row[1] == 2, "a rejected allreduce wrote its array");
    CHECK_OK(dgampi_distributor_allreduce(d, &good, 0));
    for (int i = 0; i < 6; i++) CHECK(x[i] == (i + 1.0) * nranks, "allreduce x[%d] = %g", i, x[i]);
    CHECK_OK(dgampi_distributor_destroy(&d));

    /* the outputs of the other collectives, aliased on one rank (the root's
     * output for gather_into), and of a spill read */
    const int32_t F = DGAMPI_DTYPE_F64;
    int64_t nt = 4 * (int64_t)nranks, full_shape[2] = {nt, 2}, block_shape[2] = {4, 2};
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, nt, "hardening_alias", ".", &d));
    double *all = pattern_new(F, (size_t)nt * 2, 3), *blk = pattern_new(F, 8, 5 + rank);
    double *full_buf = zeros_new(F, (size_t)nt * 2), *block_buf = zeros_new(F, 8);
    dgampi_array full_in = make_array(all, F, 2, full_shape, NULL);
    dgampi_array full_out = make_array(full_buf, F, 2, full_shape, NULL);
    dgampi_array full_alias = make_array(row, F, 2, full_shape, alias);
    dgampi_array block_in = make_array(blk, F, 2, block_shape, NULL);
    dgampi_array block_out = make_array(block_buf, F, 2, block_shape, NULL);
    dgampi_array block_alias = make_array(row, F, 2, block_shape, alias);
    CHECK_STATUS(dgampi_distributor_scatter_into(d, &full_in, rank == bad ? &block_alias : &block_out, 0, 0),
                 on_bad_rank(bad, S_INVALID), "dgampi_distributor_scatter_into");
    CHECK_STATUS(dgampi_distributor_gather_into(d, &block_in, rank == 0 ? &full_alias : NULL, 0, 0),
                 on_bad_rank(0, S_INVALID), "dgampi_distributor_gather_into");
    CHECK_STATUS(dgampi_distributor_allgather_into(d, &block_in, rank == bad ? &full_alias : &full_out, 0),
                 on_bad_rank(bad, S_INVALID), "dgampi_distributor_allgather_into");
    CHECK_STATUS(dgampi_distributor_bcast_chunked_into(d, rank == bad ? &full_alias : &full_out, 0, 0),
                 on_bad_rank(bad, S_INVALID), "dgampi_distributor_bcast_chunked_into");
    CHECK_STATUS(dgampi_bcast_rows_into(MPI_COMM_WORLD, rank == bad ? &full_alias : &full_out, 0, 0),
                 on_bad_rank(bad, S_INVALID), "dgampi_bcast_rows_into");
    CHECK_OK(dgampi_distributor_spill_write(d, "block", &block_in));
    CHECK_STATUS(dgampi_distributor_spill_read_into(d, "block", &block_alias), S_INVALID,
                 "dgampi_distributor_spill_read_into");
    CHECK(row[0] == 1 && row[1] == 2, "a rejected call wrote an aliased output");
    /* recv_from_rank_into: the refused object is drained, the next one arrives */
    if (rank % 2 == 0 && rank + 1 < nranks) {
        CHECK_OK(dgampi_distributor_send_to_rank(d, "first", 6, &block_in, rank + 1, 60, 0));
        CHECK_OK(dgampi_distributor_send_to_rank(d, "second", 7, &block_in, rank + 1, 60, 0));
    } else if (rank % 2 == 1) {
        void *meta = NULL;
        size_t meta_len = 0;
        CHECK_STATUS(dgampi_distributor_recv_from_rank_into(d, rank - 1, 60, &meta, &meta_len, &block_alias), S_INVALID,
                     "dgampi_distributor_recv_from_rank_into");
        CHECK(meta == NULL, "a refused receive handed out its metadata");
        CHECK_OK(dgampi_distributor_recv_from_rank_into(d, rank - 1, 60, &meta, &meta_len, &block_out));
        CHECK(meta_len == 7 && meta != NULL && strcmp(meta, "second") == 0, "the object after the refused one");
        CHECK_PATTERN(F, block_buf, 8, 5 + rank - 1, "the array after the refused one");
        dgampi_free(meta);
    }
    /* the maps' _into outputs: irr = one task per rank, full = four per rank */
    dgampi_distributor *irr = NULL;
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, nranks, NULL, NULL, &irr));
    int64_t *irrk_inv = malloc((size_t)nt * sizeof *irrk_inv), irr_shape[2] = {1, 2};
    for (int64_t q = 0; q < nt; q++) irrk_inv[q] = q % nranks;
    dgampi_array irr_block = make_array(blk, F, 2, irr_shape, NULL);
    CHECK_STATUS(dgampi_exchange_and_map_irrbz_fullbz_into(irr, d, irrk_inv, (size_t)nt, &irr_block, NULL, 0,
                                                           rank == bad ? &block_alias : &block_out),
                 on_bad_rank(bad, S_INVALID), "dgampi_exchange_and_map_irrbz_fullbz_into");
    CHECK_STATUS(dgampi_map_irrbz_fullbz_into(irr, d, irrk_inv, (size_t)nt, &irr_block, NULL, 0,
                                              rank == bad ? &block_alias : &block_out),
                 on_bad_rank(bad, S_INVALID), "dgampi_map_irrbz_fullbz_into");
    /* and the same calls work with proper outputs */
    CHECK_OK(dgampi_exchange_and_map_irrbz_fullbz_into(irr, d, irrk_inv, (size_t)nt, &irr_block, NULL, 0, &block_out));
    CHECK_OK(dgampi_distributor_allgather_into(d, &block_in, &full_out, 0));
    for (int r = 0; r < nranks; r++) CHECK_PATTERN(F, full_buf + 8 * r, 8, 5 + r, "allgather_into after the rejections");
    CHECK_OK(dgampi_distributor_delete_file(d));
    CHECK_OK(dgampi_distributor_destroy(&irr));
    CHECK_OK(dgampi_distributor_destroy(&d));
    free(irrk_inv);
    free(all);
    free(blk);
    free(full_buf);
    free(block_buf);
}

/* True when the n bytes at s are well-formed UTF-8 (no sequence cut short). */
static int utf8_ok(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t len = s[i] < 0x80 ? 1 : (s[i] >> 5) == 6 ? 2 : (s[i] >> 4) == 14 ? 3 : (s[i] >> 3) == 30 ? 4 : 0;
        if (len == 0 || i + len > n) return 0;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] >> 6) != 2) return 0;
        i += len;
    }
    return 1;
}

/* An error message quoting a non-ASCII dataset name, copied into buffers of
 * every size: each copy must be a prefix of the message ending on a
 * character boundary. */
static void error_message_utf8(void) {
    const char *name = "\xc3\xa9t\xc3\xa9_\xe2\x82\xac\xe2\x82\xac_\xf0\x9d\x84\x9e"; /* "été_€€_𝄞" */
    dgampi_distributor *d = NULL;
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, 2, "hardening_utf8", ".", &d));
    int32_t dtype, ndim;
    int64_t shape[DGAMPI_MAX_NDIM];
    CHECK_STATUS(dgampi_distributor_spill_shape(d, name, &dtype, &ndim, shape), DGAMPI_STATUS_NOT_FOUND,
                 "dgampi_distributor_spill_shape");
    char full[1024];
    dgampi_last_error_message(full, sizeof full, NULL);
    CHECK(strstr(full, name) != NULL, "the message '%s' does not quote the name", full);
    size_t n = strlen(full);
    CHECK(utf8_ok((const unsigned char *)full, n), "the full message is not UTF-8");
    for (size_t len = 1; len <= n + 1; len++) {
        char buf[1024];
        memset(buf, 'x', sizeof buf);
        size_t needed = 0;
        int s = dgampi_last_error_message(buf, len, &needed);
        int want = len > n ? DGAMPI_STATUS_OK : DGAMPI_STATUS_OUT_OF_RANGE;
        CHECK(s == want, "dgampi_last_error_message(buf, %zu, &needed) returned %d, want %d", len, s, want);
        CHECK(needed == n + 1, "needed = %zu for a message of %zu bytes", needed, n);
        size_t got = 0;
        while (got < len && buf[got] != '\0') got++;
        CHECK(got < len, "no NUL within %zu bytes", len);
        CHECK(memcmp(buf, full, got) == 0, "the copy into %zu bytes is not a prefix of the message", len);
        CHECK(utf8_ok((const unsigned char *)buf, got), "the copy into %zu bytes ends inside a character: '%s'", len, buf);
        CHECK(got + 3 >= len - 1 || got == n, "the copy into %zu bytes dropped more than a character (%zu bytes)", len, got);
    }
    CHECK_OK(dgampi_distributor_delete_file(d));
    CHECK_OK(dgampi_distributor_destroy(&d));
}

/* Run with an invalid DGAMPI_MAX_MESSAGE_BYTES ("0", "1e3"): the library used
 * to warn on stderr and fall back to 2^31-1, so a typo silently changed the
 * chunking. Every call that needs the process-wide limit must fail with
 * `want` (on every rank) until a valid limit is set. */
static void bad_limit_env(int want) {
    const char *var = "DGAMPI_MAX_MESSAGE_BYTES";
    size_t v = 0, rows = 0;
    CHECK(getenv(var) != NULL, "%s is not set", var);
    CHECK_STATUS(dgampi_max_message_bytes(&v), want, "dgampi_max_message_bytes");
    CHECK(strstr(last_error(), var) != NULL, "the message '%s' does not name %s", last_error(), var);
    CHECK_STATUS(dgampi_chunk_step(8, 0, &rows), want, "dgampi_chunk_step");
    CHECK_STATUS(dgampi_max_message_bytes(&v), want, "dgampi_max_message_bytes");
    int64_t shape[1] = {5};
    double *x = rank == 0 ? pattern_new(DGAMPI_DTYPE_F64, 5, 7) : zeros_new(DGAMPI_DTYPE_F64, 5);
    dgampi_array a = make_array(x, DGAMPI_DTYPE_F64, 1, shape, NULL);
    CHECK_STATUS(dgampi_bcast_rows_into(MPI_COMM_WORLD, &a, 0, 0), want, "dgampi_bcast_rows_into");
    dgampi_distributor *d = NULL;
    CHECK_STATUS(dgampi_distributor_create(MPI_COMM_WORLD, 4, NULL, NULL, &d), want, "dgampi_distributor_create");
    /* an explicit limit needs no process-wide value */
    CHECK_OK(dgampi_chunk_step(8, 64, &rows));
    CHECK_OK(dgampi_bcast_rows_into(MPI_COMM_WORLD, &a, 0, 16));
    CHECK_PATTERN(DGAMPI_DTYPE_F64, x, 5, 7, "broadcast with an explicit limit");
    /* setting a valid limit replaces the environment's value */
    CHECK_OK(dgampi_set_max_message_bytes(24));
    CHECK_OK(dgampi_max_message_bytes(&v));
    CHECK(v == 24, "limit %zu after setting 24", v);
    CHECK_OK(dgampi_bcast_rows_into(MPI_COMM_WORLD, &a, 0, 0));
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, 4, NULL, NULL, &d));
    CHECK_OK(dgampi_distributor_destroy(&d));
    free(x);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    check_rank = rank;
    const char *which = argc > 1 ? argv[1] : "";
    check_section = which;
    if (strcmp(which, "stale_handle_reuse") == 0) stale_handle_reuse();
    else if (strcmp(which, "invalid_fortran_handle") == 0) invalid_fortran_handle();
    else if (strcmp(which, "intercommunicator") == 0 && nranks >= 2) intercommunicator();
    else if (strcmp(which, "size_max_lengths") == 0) size_max_lengths();
    else if (strcmp(which, "overflowing_strides") == 0) overflowing_strides();
    else if (strcmp(which, "size_products") == 0) size_products();
    else if (strcmp(which, "fft_misaligned_block") == 0) fft_misaligned_block();
    else if (strcmp(which, "aliased_outputs") == 0 && nranks >= 2) aliased_outputs();
    else if (strcmp(which, "error_message_utf8") == 0) error_message_utf8();
    else if (strcmp(which, "bad_limit_env") == 0 && argc > 2) bad_limit_env(atoi(argv[2]));
    else {
        if (rank == 0) fprintf(stderr, "unknown case '%s' (or too few ranks or arguments)\n", which);
        MPI_Finalize();
        return 2;
    }
    return test_finish(which);
}
