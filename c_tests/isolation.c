/* dgampi C ABI: every exchange isolated and failure-safe (issue "Every
 * exchange isolated and failure-safe"). Each case proves a failure absent:
 *
 *   isolation user_traffic    user N-point traffic on the distributor's
 *                             communicator, interleaved with every collective
 *                             and map, at many base tags (the exchange map at
 *                             every base tag 0..999): right results on both
 *   isolation aliasing        in-place idioms work (MPI_IN_PLACE / skipped
 *                             copy), any other overlap or a stride-0 output
 *                             is INVALID_ARGUMENT agreed on every rank
 *   isolation roots_differ    a root that differs between ranks is MISMATCH
 *                             on every rank (scatter, gather, bcasts, bcast_rows)
 *   isolation args_differ     n_nu of the node-aware split differing, and the
 *                             two distributors of a map swapped on one rank
 *   isolation recv_shape      a receive buffer with fewer/more rows or fewer
 *                             columns: MISMATCH and the transfer drained
 *   isolation fault_wait      an injected failure of the engine's wait on
 *                             rank 0: that rank errs, the object is poisoned,
 *                             every later call fails on every rank, no hang
 *   isolation fault_post      an injected failure of a post on rank 0: the job
 *                             aborts with a message instead of hanging
 *   isolation alloc_fail      whole-array allocations that cannot succeed
 *                             (address-space limit on the root, an 8 TiB
 *                             broadcast) are ALLOCATION_FAILED on some rank and
 *                             REMOTE_ERROR elsewhere, never an abort or a hang
 *
 * Without a case name every case except fault_post runs. */
#define _GNU_SOURCE
#include "arrays.h"
#include <sys/resource.h>

static int rank, nranks, last;
static int under_valgrind; /* DGAMPI_VALGRIND: fewer iterations, no address-space limit */

#define S_OK DGAMPI_STATUS_OK
#define S_INVALID DGAMPI_STATUS_INVALID_ARGUMENT
#define S_MISMATCH DGAMPI_STATUS_MISMATCH
#define S_REMOTE DGAMPI_STATUS_REMOTE_ERROR
#define S_MPI DGAMPI_STATUS_MPI_ERROR
#define S_ALLOC DGAMPI_STATUS_ALLOCATION_FAILED
#define S_POISONED DGAMPI_STATUS_POISONED

#define MAX_RANKS 64

/* every rank gets `local` or REMOTE_ERROR, and at least one gets `local` */
static void check_some_rank_at(const char *file, int line, const char *expr, int s, int local) {
    if (s != local && s != S_REMOTE)
        check_fail(file, line, "%s returned %d (%s), expected %s or REMOTE_ERROR: %s", expr, s, status_name(s),
                   status_name(local), last_error());
    unsigned char mine = s == local, any = 0;
    MPI_Allreduce(&mine, &any, 1, MPI_UNSIGNED_CHAR, MPI_MAX, MPI_COMM_WORLD);
    if (!any) check_fail(file, line, "%s: no rank returned %s", expr, status_name(local));
}
#define CHECK_SOME_RANK(call, local) check_some_rank_at(__FILE__, __LINE__, #call, (call), (local))

/* every rank gets exactly `expected` */
#define CHECK_EVERY_RANK(call, expected)                                                                  \
    do {                                                                                                  \
        int s_ = (call);                                                                                  \
        if (s_ != (expected))                                                                             \
            check_fail(__FILE__, __LINE__, "%s returned %s, expected %s: %s", #call, status_name(s_),     \
                       status_name(expected), last_error());                                              \
    } while (0)

static void block_layout(int64_t ntasks, int p, int64_t *sizes, int64_t *offsets) {
    int64_t base = ntasks / p, extra = ntasks % p, off = 0;
    for (int r = 0; r < p; r++) {
        sizes[r] = base + (r >= p - extra ? 1 : 0);
        offsets[r] = off;
        off += sizes[r];
    }
}

/* The 2x2 square lattice map and a 4x4 one (WORKLOADS.md). */
static const int64_t INV4[4] = {0, 1, 1, 2};
#define N_IRR4 3
#define ROW 2 /* doubles per q */

/* ------------------------------------------------------------------ user traffic */

/* Rank 0 sends an N-point object to rank 1 on the distributor's communicator
 * at base tag `tag` and then joins collective `k`; rank 1 joins it first and
 * receives afterwards. Both the collective's result and the object must be
 * right. Returns 0 when every check passed. */
static void send_object(dgampi_distributor *d, int tag) {
    char meta[32];
    snprintf(meta, sizeof meta, "object-%d", tag);
    int64_t shape[1] = {5};
    double *x = pattern_new(DGAMPI_DTYPE_F64, 5, tag);
    dgampi_array a = make_array(x, DGAMPI_DTYPE_F64, 1, shape, NULL);
    CHECK_OK(dgampi_distributor_send_to_rank(d, meta, strlen(meta), &a, 1, tag, 0));
    free(x);
}

static void recv_object(dgampi_distributor *d, int tag) {
    void *meta = NULL;
    size_t len = 0;
    dgampi_owned_array mat;
    CHECK_OK(dgampi_distributor_recv_from_rank(d, 0, tag, &meta, &len, &mat));
    char expected[32];
    snprintf(expected, sizeof expected, "object-%d", tag);
    CHECK(len == strlen(expected) && meta && memcmp(meta, expected, len) == 0, "tag %d: wrong metadata", tag);
    CHECK(mat.ndim == 1 && mat.shape[0] == 5, "tag %d: wrong array shape", tag);
    if (mat.data && mat.shape[0] == 5) CHECK_PATTERN(DGAMPI_DTYPE_F64, mat.data, 5, tag, "the user's object");
    dgampi_free(meta);
    dgampi_free(mat.data);
}

enum { C_EXCHANGE, C_MAP, C_SCATTER, C_GATHER, C_ALLGATHER, C_ALLREDUCE, C_BCAST, C_BCAST_BYTES, C_BCAST_NPOINT, C_VSLICE, N_COLLECTIVES };
static const char *COLLECTIVE_NAMES[N_COLLECTIVES] = {"exchange_and_map", "map", "scatter", "gather", "allgather",
                                                      "allreduce", "bcast_chunked", "bcast_bytes", "bcast_npoint", "vslice"};

/* Runs collective k on the 2x2 map's distributors and checks its result. */
static void run_collective(int k, dgampi_distributor *irr, dgampi_distributor *full, int seed) {
    int64_t is[MAX_RANKS], io[MAX_RANKS], fs[MAX_RANKS], fo[MAX_RANKS];
    block_layout(N_IRR4, nranks, is, io);
    block_layout(4, nranks, fs, fo);
    double *irr_all = pattern_new(DGAMPI_DTYPE_F64, N_IRR4 * ROW, seed);
    int64_t bshape[2] = {is[rank], ROW}, fshape[2] = {fs[rank], ROW}, ishape[2] = {N_IRR4, ROW};
    dgampi_array block = make_array(irr_all + io[rank] * ROW, DGAMPI_DTYPE_F64, 2, bshape, NULL);
    double out[4 * ROW], all[N_IRR4 * ROW];
    memset(out, 0, sizeof out);
    memset(all, 0, sizeof all);
    dgampi_array outa = make_array(out, DGAMPI_DTYPE_F64, 2, fshape, NULL);
    dgampi_array alla = make_array(all, DGAMPI_DTYPE_F64, 2, ishape, NULL);
    dgampi_array fulla = make_array(irr_all, DGAMPI_DTYPE_F64, 2, ishape, NULL);
    switch (k) {
    case C_EXCHANGE:
    case C_MAP:
        if (k == C_EXCHANGE)
            CHECK_OK(dgampi_exchange_and_map_irrbz_fullbz_into(irr, full, INV4, 4, &block, NULL, 0, &outa));
        else
            CHECK_OK(dgampi_map_irrbz_fullbz_into(irr, full, INV4, 4, &block, NULL, 0, &outa));
        for (int64_t q = 0; q < fs[rank]; q++)
            for (int c = 0; c < ROW; c++)
                CHECK(out[q * ROW + c] == irr_all[INV4[fo[rank] + q] * ROW + c], "%s: full q %lld",
                      COLLECTIVE_NAMES[k], (long long)(fo[rank] + q));
        break;
    case C_SCATTER: {
        int64_t sshape[2] = {is[rank], ROW};
        dgampi_array mine = make_array(out, DGAMPI_DTYPE_F64, 2, sshape, NULL);
        CHECK_OK(dgampi_distributor_scatter_into(irr, rank == 0 ? &fulla : NULL, &mine, 0, 0));
        CHECK(memcmp(out, irr_all + io[rank] * ROW, (size_t)is[rank] * ROW * sizeof(double)) == 0, "scatter");
        break;
    }
    case C_GATHER:
        CHECK_OK(dgampi_distributor_gather_into(irr, &block, rank == 0 ? &alla : NULL, 0, 0));
        if (rank == 0) CHECK(memcmp(all, irr_all, sizeof all) == 0, "gather");
        break;
    case C_ALLGATHER:
        CHECK_OK(dgampi_distributor_allgather_into(irr, &block, &alla, 0));
        CHECK(memcmp(all, irr_all, sizeof all) == 0, "allgather");
        break;
    case C_ALLREDUCE: {
        memcpy(all, irr_all, sizeof all);
        CHECK_OK(dgampi_distributor_allreduce(irr, &alla, 0));
        for (int i = 0; i < N_IRR4 * ROW; i++) CHECK(all[i] == nranks * irr_all[i], "allreduce element %d", i);
        break;
    }
    case C_BCAST:
        if (rank == 0) memcpy(all, irr_all, sizeof all);
        CHECK_OK(dgampi_distributor_bcast_chunked_into(irr, &alla, 0, 0));
        CHECK(memcmp(all, irr_all, sizeof all) == 0, "bcast_chunked_into");
        break;
    case C_BCAST_BYTES: {
        void *got = NULL;
        size_t len = 0;
        CHECK_OK(dgampi_distributor_bcast_bytes(irr, irr_all, sizeof all, 0, 0, &got, &len));
        if (rank != 0) CHECK(len == sizeof all && got && memcmp(got, irr_all, len) == 0, "bcast_bytes");
        dgampi_free(got);
        break;
    }
    case C_BCAST_NPOINT: {
        void *meta = NULL;
        size_t len = 0;
        dgampi_owned_array mat;
        CHECK_OK(dgampi_distributor_bcast_npoint(irr, "m", 1, rank == 0 ? &fulla : NULL, 0, 0, &meta, &len, &mat));
        if (rank != 0) CHECK(len == 1 && mat.data && memcmp(mat.data, irr_all, sizeof all) == 0, "bcast_npoint");
        dgampi_free(meta);
        dgampi_free(mat.data);
        break;
    }
    case C_VSLICE: {
        /* a vertex [q_irr, nu, nu'] = [3, 2, 1]: every rank gets all 4 full q for its nu slice */
        int64_t sizes[MAX_RANKS], offsets[MAX_RANKS], vshape[3] = {is[rank], 2, 1};
        for (int r = 0; r < nranks; r++) sizes[r] = offsets[r] = 0;
        sizes[0] = 2;
        if (nranks > 1) sizes[0] = sizes[nranks - 1] = 1, offsets[nranks - 1] = 1;
        dgampi_array v = make_array(irr_all + io[rank] * 2, DGAMPI_DTYPE_F64, 3, vshape, NULL);
        dgampi_owned_array got;
        int has = 0;
        CHECK_OK(dgampi_gather_full_ibz_for_vslice(irr, full, INV4, 4, sizes, offsets, &v, NULL, 0, &got, &has));
        for (int q = 0; q < 4 && has; q++)
            for (int64_t j = 0; j < sizes[rank]; j++)
                CHECK(((double *)got.data)[q * sizes[rank] + j] == irr_all[INV4[q] * 2 + offsets[rank] + j], "vslice q %d", q);
        dgampi_free(got.data);
        break;
    }
    }
    free(irr_all);
}

static void test_user_traffic(void) {
    check_section = "user traffic interleaved with collectives";
    dgampi_distributor *irr = NULL, *full = NULL;
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, N_IRR4, NULL, NULL, &irr));
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, 4, NULL, NULL, &full));
    if (!irr || !full || nranks < 2) goto done;
    for (int k = 0; k < N_COLLECTIVES; k++) {
        int ntags = under_valgrind ? 3 : k == C_EXCHANGE ? 1000 : 40;
        for (int tag = 0; tag < ntags; tag++) {
            if (rank == 0) send_object(full, tag);
            run_collective(k, irr, full, tag + 1);
            if (rank == 1) recv_object(full, tag);
            if (check_failures) {
                fprintf(stderr, "rank %d: failed at %s, base tag %d\n", rank, COLLECTIVE_NAMES[k], tag);
                goto done;
            }
        }
    }
done:
    if (irr) dgampi_distributor_destroy(&irr);
    if (full) dgampi_distributor_destroy(&full);
}

/* ------------------------------------------------------------------ aliasing */

static void test_aliasing(void) {
    check_section = "aliased inputs and outputs";
    dgampi_distributor *d = NULL, *full = NULL;
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, N_IRR4, NULL, NULL, &d));
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, 4, NULL, NULL, &full));
    if (!d || !full) return;
    int64_t is[MAX_RANKS], io[MAX_RANKS];
    block_layout(N_IRR4, nranks, is, io);
    double *ref = pattern_new(DGAMPI_DTYPE_F64, N_IRR4 * ROW, 3);
    double buf[(N_IRR4 + 1) * ROW];
    int64_t ishape[2] = {N_IRR4, ROW}, bshape[2] = {is[rank], ROW};
    dgampi_array whole = make_array(buf, DGAMPI_DTYPE_F64, 2, ishape, NULL);

    /* allgather(out[my_slice], out=out): in place */
    memset(buf, 0, sizeof buf);
    memcpy(buf + io[rank] * ROW, ref + io[rank] * ROW, (size_t)is[rank] * ROW * sizeof(double));
    dgampi_array own = make_array(buf + io[rank] * ROW, DGAMPI_DTYPE_F64, 2, bshape, NULL);
    CHECK_OK(dgampi_distributor_allgather_into(d, &own, &whole, 0));
    CHECK(memcmp(buf, ref, N_IRR4 * ROW * sizeof(double)) == 0, "in-place allgather");

    /* gather into the root's whole array from its own slot */
    memset(buf, 0, sizeof buf);
    memcpy(buf + io[rank] * ROW, ref + io[rank] * ROW, (size_t)is[rank] * ROW * sizeof(double));
    CHECK_OK(dgampi_distributor_gather_into(d, &own, rank == 0 ? &whole : NULL, 0, 0));
    if (rank == 0) CHECK(memcmp(buf, ref, N_IRR4 * ROW * sizeof(double)) == 0, "in-place gather");

    /* scatter from the root's whole array into its own slot */
    memset(buf, 0, sizeof buf);
    if (rank == 0) memcpy(buf, ref, N_IRR4 * ROW * sizeof(double));
    CHECK_OK(dgampi_distributor_scatter_into(d, rank == 0 ? &whole : NULL, rank == 0 ? &own : &own, 0, 0));
    CHECK(memcmp(buf + io[rank] * ROW, ref + io[rank] * ROW, (size_t)is[rank] * ROW * sizeof(double)) == 0, "in-place scatter");

    /* a block that overlaps the output one element away from its own slot, on the last rank */
    memcpy(buf, ref, N_IRR4 * ROW * sizeof(double));
    double other[N_IRR4 * ROW];
    memset(other, 0, sizeof other);
    dgampi_array shifted = make_array(rank == last ? buf + io[rank] * ROW + 1 : other, DGAMPI_DTYPE_F64, 2, bshape, NULL);
    CHECK_SOME_RANK(dgampi_distributor_allgather_into(d, &shifted, &whole, 0), S_INVALID);

    /* a stride-0 output (every row the same memory) */
    int64_t zero_strides[2] = {0, 8};
    dgampi_array aliased = make_array(buf, DGAMPI_DTYPE_F64, 2, ishape, rank == last ? zero_strides : NULL);
    dgampi_array good = make_array(ref + io[rank] * ROW, DGAMPI_DTYPE_F64, 2, bshape, NULL);
    CHECK_SOME_RANK(dgampi_distributor_allgather_into(d, &good, &aliased, 0), S_INVALID);
    CHECK_SOME_RANK(dgampi_distributor_allreduce(d, &aliased, 0), S_INVALID);

    /* a map whose output overlaps its input */
    int64_t fs[MAX_RANKS], fo[MAX_RANKS];
    block_layout(4, nranks, fs, fo);
    double mapbuf[8 * ROW];
    memcpy(mapbuf, ref + io[rank] * ROW, (size_t)is[rank] * ROW * sizeof(double));
    int64_t fshape[2] = {fs[rank], ROW};
    dgampi_array in = make_array(mapbuf, DGAMPI_DTYPE_F64, 2, bshape, NULL);
    double separate[4 * ROW];
    dgampi_array out = make_array(rank == last ? mapbuf : separate, DGAMPI_DTYPE_F64, 2, fshape, NULL);
    if (is[last] > 0 && fs[last] > 0) {
        CHECK_SOME_RANK(dgampi_exchange_and_map_irrbz_fullbz_into(d, full, INV4, 4, &in, NULL, 0, &out), S_INVALID);
        CHECK_SOME_RANK(dgampi_map_irrbz_fullbz_into(d, full, INV4, 4, &in, NULL, 0, &out), S_INVALID);
    }
    /* the distributor still works */
    CHECK_OK(dgampi_distributor_allgather_into(d, &good, &whole, 0));
    CHECK(memcmp(buf, ref, N_IRR4 * ROW * sizeof(double)) == 0, "allgather after the rejected calls");
    free(ref);
    dgampi_distributor_destroy(&d);
    dgampi_distributor_destroy(&full);
}

/* ------------------------------------------------------------------ arguments that must match */

static void test_roots_differ(void) {
    check_section = "a root that differs between ranks";
    if (nranks < 2) return;
    dgampi_distributor *d = NULL;
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, N_IRR4, NULL, NULL, &d));
    if (!d) return;
    int root = rank == last ? 1 : 0;
    int64_t is[MAX_RANKS], io[MAX_RANKS];
    block_layout(N_IRR4, nranks, is, io);
    double *ref = pattern_new(DGAMPI_DTYPE_F64, N_IRR4 * ROW, 5), all[N_IRR4 * ROW], mine[N_IRR4 * ROW];
    memcpy(all, ref, sizeof all);
    int64_t ishape[2] = {N_IRR4, ROW}, bshape[2] = {is[rank], ROW};
    dgampi_array whole = make_array(all, DGAMPI_DTYPE_F64, 2, ishape, NULL);
    dgampi_array block = make_array(mine, DGAMPI_DTYPE_F64, 2, bshape, NULL);
    void *p = NULL;
    size_t len = 0;
    dgampi_owned_array o;
    CHECK_EVERY_RANK(dgampi_distributor_scatter_into(d, &whole, &block, root, 0), S_MISMATCH);
    CHECK_EVERY_RANK(dgampi_distributor_gather_into(d, &block, &whole, root, 0), S_MISMATCH);
    CHECK_EVERY_RANK(dgampi_distributor_bcast_chunked_into(d, &whole, root, 0), S_MISMATCH);
    CHECK_EVERY_RANK(dgampi_distributor_bcast_chunked(d, &whole, root, 0, &o), S_MISMATCH);
    CHECK_EVERY_RANK(dgampi_distributor_bcast_bytes(d, all, 8, root, 0, &p, &len), S_MISMATCH);
    CHECK_EVERY_RANK(dgampi_distributor_bcast_npoint(d, "x", 1, &whole, root, 0, &p, &len, &o), S_MISMATCH);
    CHECK_EVERY_RANK(dgampi_bcast_rows_into(MPI_COMM_WORLD, &whole, root, 0), S_MISMATCH);
    CHECK_EVERY_RANK(dgampi_bcast_rows(MPI_COMM_WORLD, &whole, root, 0, &o), S_MISMATCH);
    /* the distributor and the communicator still work */
    CHECK_OK(dgampi_distributor_bcast_chunked_into(d, &whole, 0, 0));
    CHECK(memcmp(all, ref, sizeof all) == 0, "bcast after the mismatches");
    free(ref);
    dgampi_distributor_destroy(&d);
}

static void test_args_differ(void) {
    check_section = "n_nu and map arguments that differ between ranks";
    dgampi_distributor *irr = NULL, *full = NULL;
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, N_IRR4, NULL, NULL, &irr));
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, 4, NULL, NULL, &full));
    if (!irr || !full) return;
    int64_t sizes[MAX_RANKS], offsets[MAX_RANKS];
    if (nranks > 1)
        CHECK_EVERY_RANK(dgampi_node_aware_split(irr, rank == last ? 12 : 10, sizes, offsets, nranks), S_MISMATCH);
    CHECK_OK(dgampi_node_aware_split(irr, 10, sizes, offsets, nranks));
    if (nranks > 1) {
        /* the last rank passes (full, irr): a mismatch on every rank, not a hang */
        int64_t is[MAX_RANKS], io[MAX_RANKS];
        block_layout(N_IRR4, nranks, is, io);
        double blk[4 * ROW], out[4 * ROW];
        memset(blk, 0, sizeof blk);
        int64_t bshape[2] = {is[rank], ROW};
        dgampi_array b = make_array(blk, DGAMPI_DTYPE_F64, 2, bshape, NULL);
        dgampi_owned_array o;
        int swapped = rank == last;
        CHECK_SOME_RANK(dgampi_exchange_and_map_irrbz_fullbz(swapped ? full : irr, swapped ? irr : full, INV4, 4, &b, NULL, 0, &o),
                        S_MISMATCH);
        CHECK_SOME_RANK(dgampi_map_irrbz_fullbz(swapped ? full : irr, swapped ? irr : full, INV4, 4, &b, NULL, 0, &o), S_MISMATCH);
        (void)out;
    }
    dgampi_distributor_destroy(&irr);
    dgampi_distributor_destroy(&full);
}

/* ------------------------------------------------------------------ receives into the wrong shape */

static void test_recv_shape(void) {
    check_section = "receive into the wrong shape";
    if (nranks < 2) return;
    /* one 24-byte row per message: a buffer with fewer rows matches a prefix
     * of the sender's messages (the case that once returned OK and left the
     * rest queued) */
    const size_t row_limit = 24;
    int64_t sent[2] = {4, 3}, wrong[3][2] = {{3, 3}, {5, 3}, {4, 2}};
    for (int w = 0; w < 3; w++) {
        for (int alloc = 0; alloc < 2; alloc++) {
            if (rank == 0) {
                double *x = pattern_new(DGAMPI_DTYPE_F64, 12, 1), *y = pattern_new(DGAMPI_DTYPE_F64, 12, 2);
                dgampi_array a = make_array(x, DGAMPI_DTYPE_F64, 2, sent, NULL), b = make_array(y, DGAMPI_DTYPE_F64, 2, sent, NULL);
                CHECK_OK(dgampi_send_rows(MPI_COMM_WORLD, &a, 1, 40, row_limit));
                CHECK_OK(dgampi_send_rows(MPI_COMM_WORLD, &b, 1, 40, row_limit));
                free(x);
                free(y);
            } else if (rank == 1) {
                double buf[15], good[12];
                dgampi_array a = make_array(buf, DGAMPI_DTYPE_F64, 2, wrong[w], NULL);
                void *data = NULL;
                if (alloc)
                    CHECK_STATUS(dgampi_recv_rows_alloc(MPI_COMM_WORLD, DGAMPI_DTYPE_F64, 2, wrong[w], 0, 40, row_limit, &data), S_MISMATCH,
                                 "dgampi_recv_rows_alloc");
                else
                    CHECK_STATUS(dgampi_recv_rows_into(MPI_COMM_WORLD, &a, 0, 40, row_limit), S_MISMATCH, "dgampi_recv_rows_into");
                CHECK(data == NULL, "no buffer is handed out on a mismatch");
                dgampi_array g = make_array(good, DGAMPI_DTYPE_F64, 2, sent, NULL);
                CHECK_OK(dgampi_recv_rows_into(MPI_COMM_WORLD, &g, 0, 40, row_limit));
                CHECK_PATTERN(DGAMPI_DTYPE_F64, good, 12, 2, "the transfer after a drained one");
            }
        }
    }
    /* nothing is left queued */
    MPI_Barrier(MPI_COMM_WORLD);
    int flag = 0;
    MPI_Status st;
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
    CHECK(!flag, "a message from rank %d (tag %d) is left queued", st.MPI_SOURCE, st.MPI_TAG);
}

/* ------------------------------------------------------------------ faults after the agreement */

/* The first rank that receives a row from another rank in the 2x2 map (so it
 * posts and waits in the engine), or -1 on one rank. */
static int receiving_rank(void) {
    int64_t is[MAX_RANKS], io[MAX_RANKS], fs[MAX_RANKS], fo[MAX_RANKS];
    block_layout(N_IRR4, nranks, is, io);
    block_layout(4, nranks, fs, fo);
    for (int r = 0; r < nranks; r++)
        for (int64_t q = fo[r]; q < fo[r] + fs[r]; q++)
            if (INV4[q] < io[r] || INV4[q] >= io[r] + is[r]) return r;
    return -1;
}

/* The 2x2 map's distributors and this rank's block and output (the fault
 * tests); `b` and `o` point into the struct, which stays where it is. */
struct fault_map {
    dgampi_distributor *irr, *full;
    double *ref, out[4 * ROW];
    int64_t bshape[2], fshape[2];
    dgampi_array b, o;
};

/* Creates the distributors (collective) and the arrays; 0 if a distributor is missing. */
static int fault_map_open(struct fault_map *m) {
    m->irr = m->full = NULL;
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, N_IRR4, NULL, NULL, &m->irr));
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, 4, NULL, NULL, &m->full));
    int64_t is[MAX_RANKS], io[MAX_RANKS], fs[MAX_RANKS], fo[MAX_RANKS];
    block_layout(N_IRR4, nranks, is, io);
    block_layout(4, nranks, fs, fo);
    m->ref = pattern_new(DGAMPI_DTYPE_F64, N_IRR4 * ROW, 9);
    m->bshape[0] = is[rank], m->bshape[1] = ROW;
    m->fshape[0] = fs[rank], m->fshape[1] = ROW;
    m->b = make_array(m->ref + io[rank] * ROW, DGAMPI_DTYPE_F64, 2, m->bshape, NULL);
    m->o = make_array(m->out, DGAMPI_DTYPE_F64, 2, m->fshape, NULL);
    return m->irr != NULL && m->full != NULL;
}

static void fault_map_close(struct fault_map *m) {
    free(m->ref);
    dgampi_distributor_destroy(&m->irr);
    dgampi_distributor_destroy(&m->full);
}

static void test_fault_wait(void) {
    check_section = "an injected wait failure";
    /* only the faulty rank's process fails its first engine wait (the map
     * takes the engine on every rank: the collective route has no waits) */
    CHECK_OK(dgampi_set_exchange_path(DGAMPI_EXCHANGE_PATH_POINT_TO_POINT));
    int faulty = receiving_rank();
    if (rank == faulty) setenv("DGAMPI_FAULT_INJECT", "wait:1", 1);
    struct fault_map m;
    if (!fault_map_open(&m)) {
        fault_map_close(&m);
        return;
    }
    dgampi_distributor *irr = m.irr, *full = m.full;
    dgampi_array b = m.b, o = m.o;
    int s = dgampi_exchange_and_map_irrbz_fullbz_into(irr, full, INV4, 4, &b, NULL, 0, &o);
    if (nranks == 1) {
        /* one rank moves nothing through MPI: no wait, no fault */
        CHECK(s == S_OK, "one rank: %s", status_name(s));
    } else {
        CHECK(rank == faulty ? s == S_MPI : s == S_OK, "the faulty call returned %s: %s", status_name(s), last_error());
        if (rank == faulty) CHECK(strstr(last_error(), "injected") != NULL, "message: %s", last_error());
        /* every later call of the poisoned object fails on every rank */
        s = dgampi_exchange_and_map_irrbz_fullbz_into(irr, full, INV4, 4, &b, NULL, 0, &o);
        CHECK(s == (rank == faulty ? S_POISONED : S_REMOTE), "next map: %s: %s", status_name(s), last_error());
        if (rank == faulty) CHECK(strstr(last_error(), "injected") != NULL, "the poisoned error names the first failure: %s", last_error());
        int64_t ishape[2] = {N_IRR4, ROW};
        double all[N_IRR4 * ROW];
        dgampi_array a = make_array(all, DGAMPI_DTYPE_F64, 2, ishape, NULL);
        /* the map ran on the older distributor's communicator, so that one is poisoned */
        s = dgampi_distributor_allgather_into(irr, &b, &a, 0);
        CHECK(s == (rank == faulty ? S_POISONED : S_REMOTE), "allgather after: %s", status_name(s));
    }
    fault_map_close(&m);
}

static void test_fault_post(void) {
    check_section = "an injected post failure";
    CHECK_OK(dgampi_set_exchange_path(DGAMPI_EXCHANGE_PATH_POINT_TO_POINT));
    if (rank == receiving_rank()) setenv("DGAMPI_FAULT_INJECT", "post:1", 1);
    struct fault_map m;
    fault_map_open(&m);
    /* that rank cannot post what its peers wait for: the job aborts (ctest checks the message) */
    dgampi_exchange_and_map_irrbz_fullbz_into(m.irr, m.full, INV4, 4, &m.b, NULL, 0, &m.o);
    check_fail(__FILE__, __LINE__, "the job was not aborted");
}

/* A rank that fails just before the collective route's MPI_Alltoallw, which
 * its peers have entered: it cannot tell them, so the job aborts. */
static void test_fault_collective(void) {
    check_section = "an injected collective failure";
    CHECK_OK(dgampi_set_exchange_path(DGAMPI_EXCHANGE_PATH_COLLECTIVE));
    if (rank == receiving_rank()) setenv("DGAMPI_FAULT_INJECT", "collective:1", 1);
    struct fault_map m;
    fault_map_open(&m);
    dgampi_map_plan *plan = NULL;
    CHECK_OK(dgampi_map_plan_create(m.irr, m.full, INV4, 4, DGAMPI_DTYPE_F64, 1, (int64_t[]){ROW}, NULL, 0, &plan));
    int32_t route = -1;
    CHECK_OK(dgampi_map_plan_route(plan, &route));
    CHECK(route != DGAMPI_EXCHANGE_ROUTE_POINT_TO_POINT, "the plan takes a collective route (got %d)", (int)route);
    dgampi_map_plan_execute(plan, &m.b, &m.o);
    check_fail(__FILE__, __LINE__, "the job was not aborted");
}

/* ------------------------------------------------------------------ allocation failures */

static void test_alloc_fail(void) {
    check_section = "allocations that cannot succeed";
    dgampi_distributor *irr = NULL, *full = NULL;
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, N_IRR4, NULL, NULL, &irr));
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, 4, NULL, NULL, &full));
    if (!irr || !full) return;
    int64_t is[MAX_RANKS], io[MAX_RANKS], fs[MAX_RANKS], fo[MAX_RANKS];
    block_layout(N_IRR4, nranks, is, io);
    block_layout(4, nranks, fs, fo);

    /* an 8 TiB broadcast (the root's array is one element seen with stride 0) */
    double one = 1.0;
    int64_t huge[1] = {(int64_t)1 << 40}, zero[1] = {0};
    dgampi_array h = make_array(&one, DGAMPI_DTYPE_F64, 1, huge, zero);
    dgampi_owned_array o;
    if (nranks > 1) CHECK_SOME_RANK(dgampi_distributor_bcast_chunked(irr, &h, 0, 0, &o), S_ALLOC);

    /* map_irrbz_fullbz: the root needs both whole arrays (7 rows of 1 GiB); its
     * address space is limited to what it uses now plus 3 GiB, so the caller's
     * own 2-row output fits and the root's arrays do not */
    int64_t wide = (int64_t)1 << 27; /* doubles per q: 1 GiB rows */
    int64_t bshape[2] = {is[rank], wide}, bstrides[2] = {0, 0}, fshape[2] = {fs[rank], wide};
    dgampi_array b = make_array(&one, DGAMPI_DTYPE_F64, 2, bshape, bstrides);
    void *outbuf = calloc((size_t)(fs[rank] > 0 ? fs[rank] : 1), (size_t)wide * sizeof(double));
    CHECK(outbuf != NULL, "the test's own output could not be allocated");
    if (rank == 0) {
        struct rlimit lim;
        getrlimit(RLIMIT_AS, &lim);
        FILE *f = fopen("/proc/self/statm", "r");
        unsigned long pages = 0;
        if (f) {
            if (fscanf(f, "%lu", &pages) != 1) pages = 0;
            fclose(f);
        }
        lim.rlim_cur = (rlim_t)pages * 4096 + ((rlim_t)3 << 30);
        setrlimit(RLIMIT_AS, &lim);
    }
    dgampi_array out = make_array(outbuf, DGAMPI_DTYPE_F64, 2, fshape, NULL);
    if (outbuf) CHECK_SOME_RANK(dgampi_map_irrbz_fullbz_into(irr, full, INV4, 4, &b, NULL, 0, &out), S_ALLOC);
    free(outbuf);
    if (rank == 0) {
        struct rlimit lim;
        getrlimit(RLIMIT_AS, &lim);
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_AS, &lim);
    }
    /* the distributors are still usable: the failure was agreed before any data moved */
    double small[4 * ROW];
    int64_t sshape[2] = {fs[rank], ROW}, ishape[2] = {is[rank], ROW};
    double *ref = pattern_new(DGAMPI_DTYPE_F64, N_IRR4 * ROW, 4);
    dgampi_array sb = make_array(ref + io[rank] * ROW, DGAMPI_DTYPE_F64, 2, ishape, NULL);
    dgampi_array so = make_array(small, DGAMPI_DTYPE_F64, 2, sshape, NULL);
    CHECK_OK(dgampi_map_irrbz_fullbz_into(irr, full, INV4, 4, &sb, NULL, 0, &so));
    for (int64_t q = 0; q < fs[rank]; q++) CHECK(small[q * ROW] == ref[INV4[fo[rank] + q] * ROW], "map after the failure, q %lld", (long long)q);
    free(ref);
    dgampi_distributor_destroy(&irr);
    dgampi_distributor_destroy(&full);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    check_rank = rank;
    last = nranks - 1;
    under_valgrind = getenv("DGAMPI_VALGRIND") != NULL;
    const char *only = argc > 1 ? argv[1] : NULL;
#define RUN(name)                                           \
    if (!only || strcmp(only, #name) == 0) test_##name()
    if (only && strcmp(only, "fault_post") == 0) test_fault_post();
    if (only && strcmp(only, "fault_collective") == 0) test_fault_collective();
    RUN(user_traffic);
    RUN(aliasing);
    RUN(roots_differ);
    RUN(args_differ);
    RUN(recv_shape);
    if (!under_valgrind) RUN(alloc_fail);
    if (only && strcmp(only, "fault_wait") == 0) test_fault_wait();
    return test_finish("isolation");
}
