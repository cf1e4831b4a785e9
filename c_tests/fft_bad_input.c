/* dgampi C ABI: bad input to the distributed FFT (dgampi_fft_*,
 * dgampi_fft_execute_once). Every call below must return the
 * documented dgampi_status on every rank (never crash, never hang: an error
 * found on one rank of a collective gives that rank its own status and
 * DGAMPI_STATUS_REMOTE_ERROR on the others), leave a message naming the
 * function, move nothing and leave no handle; after each error a valid plan
 * still transforms correctly. Transposed plans: execute on a transposed
 * plan and execute_into on a natural one, wrong, NULL and overlapping
 * arrays, bad sides, too little room for the indices, bad handles.
 *
 *   fft_bad_input          all checks (any number of ranks)
 *   fft_bad_input CASE     one reproducer of a library bug (see main) */
#include "fft_ref.h"
#include <limits.h>

static int rank, nranks, last;

/* CHECK_ON(bad, call, local, fname): `local` on the ranks where `bad` holds,
 * REMOTE_ERROR on the others. */
#define CHECK_ON(bad, call, local, fname) CHECK_STATUS(call, (bad) ? (local) : S_REMOTE, fname)

/* CHECK_SOME_RANK(call, local, fname): every rank returns `local` or
 * REMOTE_ERROR, at least one `local` (collective over MPI_COMM_WORLD). */
#define CHECK_SOME_RANK(call, local, fname) check_some_rank_at(__FILE__, __LINE__, #call, (call), (local), (fname))
static void check_some_rank_at(const char *file, int line, const char *expr, int s, int local, const char *fname) {
    const char *m = last_error();
    if (s != local && s != S_REMOTE)
        check_fail(file, line, "%s returned %d (%s), expected %s or REMOTE_ERROR; message: '%s'", expr, s,
                   status_name(s), status_name(local), m);
    else if (m[0] == '\0' || strstr(m, fname) == NULL)
        check_fail(file, line, "%s: error message '%s' does not name %s", expr, m, fname);
    unsigned char mine = s == local, any = 0; /* one byte: obeys a 1-byte limit under the PMPI checker */
    MPI_Allreduce(&mine, &any, 1, MPI_UNSIGNED_CHAR, MPI_MAX, MPI_COMM_WORLD);
    if (!any) check_fail(file, line, "%s: no rank returned %s", expr, status_name(local));
}

/* ------------------------------------------------------------------ fixture */

/* The valid plan: 5x3x2 complex128 with batch (2), forward, and its data. */
static const int64_t NQ[3] = {5, 3, 2};
static const int64_t BATCH[1] = {2};
#define W 2
static int64_t N, sizes[MAX_RANKS], offs[MAX_RANKS], my_q, my_off;
static cplx *X, *REF;
static dgampi_fft_plan *P;

/* The valid plan still transforms correctly (every rank). */
static void good_execute(const char *after) {
    static char what[200];
    snprintf(what, sizeof what, "valid execute after %s", after);
    struct block b;
    block_init(&b, C128, X, my_off, my_q, 1, BATCH, 0, 0);
    CHECK_OK(dgampi_fft_plan_execute(P, &b.a));
    CHECK_CLOSE(&b, REF, my_off, W, max_abs(REF, (size_t)N * W), 1e-12, what);
    block_free(&b);
}

/* ------------------------------------------------------------------ plan creation */

static void create_nq(const char *section, int bad, const int64_t *nq, int local) {
    check_section = section;
    dgampi_fft_plan *p = NULL;
    CHECK_ON(bad, dgampi_fft_plan_create(MPI_COMM_WORLD, bad ? nq : NQ, 1, BATCH, C128, NULL, &p), local,
             "dgampi_fft_plan_create");
    CHECK(p == NULL, "a failed create returned a plan");
    CHECK_ON(bad, dgampi_fft_plan_create_f(MPI_Comm_c2f(MPI_COMM_WORLD), bad ? nq : NQ, 1, BATCH, C128, NULL, &p), local,
             "dgampi_fft_plan_create_f");
    CHECK(p == NULL, "a failed create_f returned a plan");
    if (p) dgampi_fft_plan_destroy(&p);
}

/* Options with one field changed on the `bad` ranks. */
static void create_opts(const char *section, int bad, int field, int value, int local) {
    check_section = section;
    dgampi_fft_options o = make_options(FWD, DGAMPI_FFT_NORMALIZATION_BACKWARD, DGAMPI_FFT_STRATEGY_AUTO);
    if (bad) {
        if (field == 0) o.direction = value;
        if (field == 1) o.normalization = value;
        if (field == 2) o.strategy = value;
        if (field == 3) o.rigor = value;
        if (field == 4) o.transposition = value;
    }
    dgampi_fft_plan *p = NULL;
    CHECK_ON(bad, dgampi_fft_plan_create(MPI_COMM_WORLD, NQ, 1, BATCH, C128, &o, &p), local, "dgampi_fft_plan_create");
    CHECK(p == NULL, "a failed create returned a plan");
    if (p) dgampi_fft_plan_destroy(&p);
}

/* Executes the plan *p of NQ with `naxes` batch axes of 1 on a fresh input,
 * checks it against the reference and destroys it. */
static void many_batch_axes(dgampi_fft_plan **p, int naxes) {
    if (!*p) return;
    int64_t shape[DGAMPI_MAX_NDIM];
    shape[0] = my_q;
    for (int k = 1; k <= naxes; k++) shape[k] = 1;
    cplx *x = input_new((size_t)N, 31, C128), *ref = dft3_new(x, NQ, 1, -1, 1.0);
    struct block b;
    block_init(&b, C128, x, my_off, my_q, 0, NULL, 0, 0);
    b.a = make_array(b.data, C128, 1 + naxes, shape, NULL);
    CHECK_OK(dgampi_fft_plan_execute(*p, &b.a));
    CHECK_CLOSE(&b, ref, my_off, 1, max_abs(ref, (size_t)N), 1e-12, "a batch of many axes of 1");
    block_free(&b);
    free(x);
    free(ref);
    CHECK_OK(dgampi_fft_plan_destroy(p));
}

static void test_create(void) {
    static const int64_t zero0[3] = {0, 3, 2}, zero2[3] = {5, 3, 0}, neg[3] = {5, -3, 2}, negbig[3] = {INT64_MIN, 1, 1};
    static const int64_t huge[3] = {(int64_t)1 << 40, (int64_t)1 << 40, (int64_t)1 << 40};
    int everyone = 1, on_last = rank == last, on_first = rank == 0;
    /* nq with a zero / negative extent: on every rank, on the last, on rank 0 */
    create_nq("create: nq with a zero on every rank", everyone, zero0, S_INVALID);
    create_nq("create: nq with a zero on the last rank", on_last, zero2, S_INVALID);
    create_nq("create: nq with a zero on rank 0", on_first, zero0, S_INVALID);
    create_nq("create: negative nq on every rank", everyone, neg, S_INVALID);
    create_nq("create: negative nq on the last rank", on_last, neg, S_INVALID);
    create_nq("create: INT64_MIN nq on rank 0", on_first, negbig, S_INVALID);
    create_nq("create: a grid too large to address on every rank", everyone, huge, S_RANGE);
    create_nq("create: a grid too large to address on the last rank", on_last, huge, S_RANGE);
    create_nq("create: NULL nq on the last rank", on_last, NULL, S_NULL);

    /* dtypes: real, integer, unknown; on every rank and on one */
    check_section = "create: bad dtype";
    int32_t bad_dtypes[] = {DGAMPI_DTYPE_F64, DGAMPI_DTYPE_F32, DGAMPI_DTYPE_I64, 0, 99};
    for (int k = 0; k < 5; k++) {
        dgampi_fft_plan *p = NULL;
        CHECK_STATUS(dgampi_fft_plan_create(MPI_COMM_WORLD, NQ, 1, BATCH, bad_dtypes[k], NULL, &p), S_INVALID,
                     "dgampi_fft_plan_create");
        CHECK(p == NULL, "a failed create returned a plan");
        CHECK_ON(on_last, dgampi_fft_plan_create(MPI_COMM_WORLD, NQ, 1, BATCH, on_last ? bad_dtypes[k] : C128, NULL, &p),
                 S_INVALID, "dgampi_fft_plan_create");
        CHECK(p == NULL, "a failed create returned a plan");
    }

    /* unknown option codes on one rank (and every rank) */
    static const struct { int field, value; const char *name; } BAD_OPTS[] = {
        {0, 0, "direction 0"},       {0, 2, "direction 2"},       {0, -2, "direction -2"},
        {1, 4, "normalization 4"},   {1, -1, "normalization -1"}, {2, 4, "strategy 4"},
        {2, -1, "strategy -1"},      {3, 3, "rigor 3"},           {3, -1, "rigor -1"},
        {4, 3, "transposition 3"},   {4, -1, "transposition -1"}};
    for (int k = 0; k < (int)(sizeof BAD_OPTS / sizeof BAD_OPTS[0]); k++) {
        static char what[160];
        snprintf(what, sizeof what, "create: unknown %s on the last rank", BAD_OPTS[k].name);
        create_opts(what, on_last, BAD_OPTS[k].field, BAD_OPTS[k].value, S_INVALID);
        snprintf(what, sizeof what, "create: unknown %s on every rank", BAD_OPTS[k].name);
        create_opts(what, everyone, BAD_OPTS[k].field, BAD_OPTS[k].value, S_INVALID);
    }
    /* a limit beyond 2^31-1 bytes on one rank */
    check_section = "create: limit out of range on rank 0";
    {
        dgampi_fft_options o = make_options(FWD, DGAMPI_FFT_NORMALIZATION_BACKWARD, DGAMPI_FFT_STRATEGY_AUTO);
        if (on_first) o.limit = (size_t)INT_MAX + 1;
        dgampi_fft_plan *p = NULL;
        CHECK_ON(on_first, dgampi_fft_plan_create(MPI_COMM_WORLD, NQ, 1, BATCH, C128, &o, &p), S_RANGE,
                 "dgampi_fft_plan_create");
        CHECK(p == NULL, "a failed create returned a plan");
    }

    /* NULL out on one rank */
    check_section = "create: NULL out on the last rank";
    {
        dgampi_fft_plan *p = NULL;
        CHECK_ON(on_last, dgampi_fft_plan_create(MPI_COMM_WORLD, NQ, 1, BATCH, C128, NULL, on_last ? NULL : &p), S_NULL,
                 "dgampi_fft_plan_create");
        CHECK(p == NULL, "a failed create returned a plan");
        CHECK_ON(on_first, dgampi_fft_plan_create_f(MPI_Comm_c2f(MPI_COMM_WORLD), NQ, 1, BATCH, C128, NULL, on_first ? NULL : &p),
                 S_NULL, "dgampi_fft_plan_create_f");
        CHECK(p == NULL, "a failed create returned a plan");
    }

    /* bad batch descriptions on one rank */
    check_section = "create: bad batch";
    {
        dgampi_fft_plan *p = NULL;
        static const int64_t negb[2] = {2, -1};
        int64_t ones[40];
        for (int k = 0; k < 40; k++) ones[k] = 1;
        CHECK_ON(on_last, dgampi_fft_plan_create(MPI_COMM_WORLD, NQ, on_last ? -1 : 1, BATCH, C128, NULL, &p), S_INVALID,
                 "dgampi_fft_plan_create");
        CHECK_ON(on_last, dgampi_fft_plan_create(MPI_COMM_WORLD, NQ, 1, on_last ? NULL : BATCH, C128, NULL, &p), S_NULL,
                 "dgampi_fft_plan_create");
        CHECK_ON(on_last, dgampi_fft_plan_create(MPI_COMM_WORLD, NQ, on_last ? 2 : 1, on_last ? negb : BATCH, C128, NULL, &p),
                 S_INVALID, "dgampi_fft_plan_create");
        /* 32 batch axes: 33 in all, above DGAMPI_MAX_NDIM; and 33 batch axes */
        CHECK_STATUS(dgampi_fft_plan_create(MPI_COMM_WORLD, NQ, DGAMPI_MAX_NDIM, ones, C128, NULL, &p), S_INVALID,
                     "dgampi_fft_plan_create");
        CHECK_STATUS(dgampi_fft_plan_create(MPI_COMM_WORLD, NQ, DGAMPI_MAX_NDIM + 1, ones, C128, NULL, &p), S_INVALID,
                     "dgampi_fft_plan_create");
        /* a batch too large to address */
        static const int64_t hugeb[2] = {(int64_t)1 << 31, (int64_t)1 << 31};
        CHECK_ON(on_last, dgampi_fft_plan_create(MPI_COMM_WORLD, NQ, on_last ? 2 : 1, on_last ? hugeb : BATCH, C128, NULL, &p),
                 S_RANGE, "dgampi_fft_plan_create");
        CHECK(p == NULL, "a failed create returned a plan");
        /* 29 batch axes of 1 (32 axes with the grid's three) work */
        CHECK_OK(dgampi_fft_plan_create(MPI_COMM_WORLD, NQ, DGAMPI_MAX_NDIM - 3, ones, C128, NULL, &p));
        many_batch_axes(&p, DGAMPI_MAX_NDIM - 3);
    }

    /* MPI_COMM_NULL, as a C and as a Fortran handle (every rank) */
    check_section = "create: MPI_COMM_NULL";
    {
        dgampi_fft_plan *p = NULL;
        CHECK_STATUS(dgampi_fft_plan_create(MPI_COMM_NULL, NQ, 1, BATCH, C128, NULL, &p), S_INVALID, "dgampi_fft_plan_create");
        CHECK_STATUS(dgampi_fft_plan_create_f(MPI_Comm_c2f(MPI_COMM_NULL), NQ, 1, BATCH, C128, NULL, &p), S_INVALID,
                     "dgampi_fft_plan_create_f");
        /* and with a bad argument as well */
        CHECK_STATUS(dgampi_fft_plan_create(MPI_COMM_NULL, NULL, 1, BATCH, C128, NULL, &p), S_NULL, "dgampi_fft_plan_create");
        CHECK(p == NULL, "a failed create returned a plan");
    }

    /* valid but different arguments on different ranks: MISMATCH */
    if (nranks > 1) {
        check_section = "create: arguments differ between ranks";
        static const int64_t other_nq[3] = {5, 2, 3}, other_batch[2] = {1, 2};
        dgampi_fft_plan *p = NULL;
        CHECK_SOME_RANK(dgampi_fft_plan_create(MPI_COMM_WORLD, on_last ? other_nq : NQ, 1, BATCH, C128, NULL, &p), S_MISMATCH,
                        "dgampi_fft_plan_create");
        CHECK(p == NULL, "a failed create returned a plan");
        CHECK_SOME_RANK(dgampi_fft_plan_create(MPI_COMM_WORLD, NQ, on_last ? 2 : 1, on_last ? other_batch : BATCH, C128, NULL, &p),
                        S_MISMATCH, "dgampi_fft_plan_create");
        CHECK_SOME_RANK(dgampi_fft_plan_create(MPI_COMM_WORLD, NQ, on_first ? 0 : 1, BATCH, C128, NULL, &p), S_MISMATCH,
                        "dgampi_fft_plan_create");
        CHECK_SOME_RANK(dgampi_fft_plan_create(MPI_COMM_WORLD, NQ, 1, BATCH, on_last ? C64 : C128, NULL, &p), S_MISMATCH,
                        "dgampi_fft_plan_create");
        for (int field = 0; field < 5; field++) {
            dgampi_fft_options o = make_options(FWD, DGAMPI_FFT_NORMALIZATION_BACKWARD, DGAMPI_FFT_STRATEGY_AUTO);
            if (on_last) {
                if (field == 0) o.direction = BWD;
                if (field == 1) o.normalization = DGAMPI_FFT_NORMALIZATION_ORTHO;
                if (field == 2) o.strategy = DGAMPI_FFT_STRATEGY_PENCIL;
                if (field == 3) o.transposition = T_OUT;
            }
            if (field == 4) o.transposition = on_last ? T_IN : T_OUT; /* transposed on every rank, not alike */
            CHECK_SOME_RANK(dgampi_fft_plan_create(MPI_COMM_WORLD, NQ, 1, BATCH, C128, &o, &p), S_MISMATCH,
                            "dgampi_fft_plan_create");
            CHECK(p == NULL, "a failed create returned a plan");
        }
        /* process-wide limits that differ (set on the last rank only; both at
         * most 3 bytes or the environment's limit: obeys the PMPI checker) */
        size_t before = 0;
        CHECK_OK(dgampi_max_message_bytes(&before));
        if (on_last) CHECK_OK(dgampi_set_max_message_bytes(before > 2 ? 2 : 1));
        if (before > 1)
            CHECK_SOME_RANK(dgampi_fft_plan_create(MPI_COMM_WORLD, NQ, 1, BATCH, C128, NULL, &p), S_MISMATCH,
                            "dgampi_fft_plan_create");
        CHECK(p == NULL, "a failed create returned a plan");
        CHECK_OK(dgampi_set_max_message_bytes(before));
        /* explicit limits that differ (both at most 3: obeys the PMPI checker) */
        dgampi_fft_options o = make_options(FWD, DGAMPI_FFT_NORMALIZATION_BACKWARD, DGAMPI_FFT_STRATEGY_AUTO);
        o.limit = on_last ? 2 : 3;
        CHECK_SOME_RANK(dgampi_fft_plan_create(MPI_COMM_WORLD, NQ, 1, BATCH, C128, &o, &p), S_MISMATCH,
                        "dgampi_fft_plan_create");
        CHECK(p == NULL, "a failed create returned a plan");
    }
    good_execute("plan creation errors");
}

/* ------------------------------------------------------------------ execute */

static void test_execute(void) {
    int on_last = rank == last, on_first = rank == 0;
    cplx *x = input_new((size_t)N * W, 7, C128);
    struct block good;
    block_init(&good, C128, x, my_off, my_q, 1, BATCH, 0, 0);
    double buf64[2 * 64 * W + 8];
    memset(buf64, 0, sizeof buf64);

    /* a wrong leading length on one rank (longer on the last, shorter on rank 0 where possible) */
    check_section = "execute: wrong leading length on one rank";
    int64_t longer[2] = {my_q + 1, W}, shorter[2] = {my_q > 0 ? my_q - 1 : my_q + 2, W};
    double *room = calloc((size_t)(my_q + 3) * W * 2, sizeof(double));
    memcpy(room, good.data, good.n * 16);
    dgampi_array a_long = make_array(room, C128, 2, longer, NULL), a_short = make_array(room, C128, 2, shorter, NULL);
    CHECK_ON(on_last, dgampi_fft_plan_execute(P, on_last ? &a_long : &good.a), S_MISMATCH, "dgampi_fft_plan_execute");
    CHECK_UNTOUCHED(&good, x, my_off, W, "after a wrong leading length on the last rank");
    CHECK_ON(on_first, dgampi_fft_plan_execute(P, on_first ? &a_short : &good.a), S_MISMATCH, "dgampi_fft_plan_execute");
    CHECK_UNTOUCHED(&good, x, my_off, W, "after a wrong leading length on rank 0");
    /* the whole grid instead of the block (every rank) */
    if (nranks > 1) {
        int64_t whole[2] = {N, W};
        double *all = calloc((size_t)N * W * 2 + 2, sizeof(double));
        dgampi_array a_all = make_array(all, C128, 2, whole, NULL);
        CHECK_SOME_RANK(dgampi_fft_plan_execute(P, &a_all), S_MISMATCH, "dgampi_fft_plan_execute");
        free(all);
    }
    good_execute("a wrong leading length");

    /* a wrong batch shape / number of axes on one rank */
    check_section = "execute: wrong batch on one rank";
    int64_t wide[2] = {my_q, W + 1}, narrow[2] = {my_q, 1}, three[3] = {my_q, W, 1}, split[3] = {my_q, 1, W};
    dgampi_array wrongs[5] = {make_array(room, C128, 2, wide, NULL), make_array(room, C128, 2, narrow, NULL),
                              make_array(room, C128, 3, three, NULL), make_array(room, C128, 3, split, NULL),
                              make_array(room, C128, 1, wide, NULL)};
    for (int k = 0; k < 5; k++) {
        CHECK_ON(on_last, dgampi_fft_plan_execute(P, on_last ? &wrongs[k] : &good.a), S_MISMATCH, "dgampi_fft_plan_execute");
        CHECK_UNTOUCHED(&good, x, my_off, W, "after a wrong batch on the last rank");
    }

    /* a wrong dtype on one rank: complex64, f64 of the same shape, f64 of twice the width */
    check_section = "execute: wrong dtype on one rank";
    int64_t twice[2] = {my_q, 2 * W};
    dgampi_array bad_types[3] = {make_array(room, C64, 2, good.shape, NULL), make_array(room, DGAMPI_DTYPE_F64, 2, good.shape, NULL),
                                 make_array(room, DGAMPI_DTYPE_F64, 2, twice, NULL)};
    for (int k = 0; k < 3; k++) {
        CHECK_ON(on_last, dgampi_fft_plan_execute(P, on_last ? &bad_types[k] : &good.a), S_MISMATCH, "dgampi_fft_plan_execute");
        CHECK_UNTOUCHED(&good, x, my_off, W, "after a wrong dtype on the last rank");
        CHECK_ON(on_first, dgampi_fft_plan_execute(P, on_first ? &bad_types[k] : &good.a), S_MISMATCH, "dgampi_fft_plan_execute");
        CHECK_UNTOUCHED(&good, x, my_off, W, "after a wrong dtype on rank 0");
    }
    /* complex64 blocks on every rank for a complex128 plan */
    {
        cplx *x64 = input_new((size_t)N * W, 7, C64);
        struct block b64;
        block_init(&b64, C64, x64, my_off, my_q, 1, BATCH, 0, 0);
        CHECK_SOME_RANK(dgampi_fft_plan_execute(P, &b64.a), S_MISMATCH, "dgampi_fft_plan_execute");
        CHECK_UNTOUCHED(&b64, x64, my_off, W, "a complex64 block after the failed execute");
        block_free(&b64);
        free(x64);
    }
    good_execute("a wrong dtype");

    /* malformed descriptors on one rank */
    check_section = "execute: malformed block on one rank";
    {
        dgampi_array nodata = make_array(NULL, C128, 2, longer, NULL); /* never empty: my_q + 1 >= 1 rows */
        dgampi_array unknown = make_array(room, 99, 2, good.shape, NULL);
        dgampi_array ndim0 = make_array(room, C128, 0, good.shape, NULL);
        dgampi_array ndim_big = make_array(room, C128, DGAMPI_MAX_NDIM + 1, good.shape, NULL);
        dgampi_array noshape = make_array(room, C128, 2, NULL, NULL);
        int64_t negshape[2] = {-1, W};
        dgampi_array neg = make_array(room, C128, 2, negshape, NULL);
        CHECK_ON(on_last, dgampi_fft_plan_execute(P, on_last ? NULL : &good.a), S_NULL, "dgampi_fft_plan_execute");
        CHECK_ON(on_last, dgampi_fft_plan_execute(P, on_last ? &nodata : &good.a), S_NULL, "dgampi_fft_plan_execute");
        CHECK_ON(on_last, dgampi_fft_plan_execute(P, on_last ? &noshape : &good.a), S_NULL, "dgampi_fft_plan_execute");
        CHECK_ON(on_last, dgampi_fft_plan_execute(P, on_last ? &unknown : &good.a), S_INVALID, "dgampi_fft_plan_execute");
        CHECK_ON(on_last, dgampi_fft_plan_execute(P, on_last ? &ndim0 : &good.a), S_INVALID, "dgampi_fft_plan_execute");
        CHECK_ON(on_last, dgampi_fft_plan_execute(P, on_last ? &ndim_big : &good.a), S_INVALID, "dgampi_fft_plan_execute");
        CHECK_ON(on_first, dgampi_fft_plan_execute(P, on_first ? &neg : &good.a), S_INVALID, "dgampi_fft_plan_execute");
        CHECK_UNTOUCHED(&good, x, my_off, W, "after malformed blocks");
    }
    /* a strided (not C-contiguous) block on one rank; explicit C-contiguous strides are fine */
    check_section = "execute: strided block on one rank";
    {
        int64_t gap[2] = {2 * W * 16, 16}; /* every other row of room */
        double *spaced = calloc((size_t)(2 * my_q + 2) * W * 2, sizeof(double));
        dgampi_array strided = make_array(spaced, C128, 2, good.shape, gap);
        int64_t cstrides[2] = {W * 16, 16};
        struct block c;
        block_init(&c, C128, x, my_off, my_q, 1, BATCH, 0, 0);
        c.a.strides = cstrides;
        /* the last rank passes every other row of a larger buffer (a block of 0 or 1
         * rows is contiguous whatever its strides); the others the contiguous c */
        if (sizes[last] > 1)
            CHECK_ON(on_last, dgampi_fft_plan_execute(P, on_last ? &strided : &c.a), S_INVALID, "dgampi_fft_plan_execute");
        CHECK_UNTOUCHED(&c, x, my_off, W, "after a strided block");
        CHECK_OK(dgampi_fft_plan_execute(P, &c.a));
        cplx *ref = dft3_new(x, NQ, W, -1, 1.0);
        CHECK_CLOSE(&c, ref, my_off, W, max_abs(ref, (size_t)N * W), 1e-12, "explicit C-contiguous strides");
        free(ref);
        block_free(&c);
        free(spaced);
    }
    good_execute("malformed blocks");

    /* NULL, never-created and destroyed plans: INVALID_HANDLE, local (called on every rank) */
    check_section = "execute: bad handles";
    {
        int32_t s;
        int64_t mq, mo;
        CHECK_STATUS(dgampi_fft_plan_execute(NULL, &good.a), S_HANDLE, "dgampi_fft_plan_execute");
        CHECK_STATUS(dgampi_fft_plan_strategy(NULL, &s), S_HANDLE, "dgampi_fft_plan_strategy");
        CHECK_STATUS(dgampi_fft_plan_local(NULL, &mq, &mo), S_HANDLE, "dgampi_fft_plan_local");
        double junk[16] = {0};
        dgampi_fft_plan *fake = (dgampi_fft_plan *)(void *)junk;
        CHECK_STATUS(dgampi_fft_plan_execute(fake, &good.a), S_HANDLE, "dgampi_fft_plan_execute");
        CHECK_STATUS(dgampi_fft_plan_destroy(&fake), S_HANDLE, "dgampi_fft_plan_destroy");
        CHECK(fake == (dgampi_fft_plan *)(void *)junk, "a failed destroy changed the handle");
        /* a distributor is not a plan, and a plan is not a distributor */
        dgampi_distributor *d = NULL;
        CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, 4, NULL, NULL, &d));
        dgampi_fft_plan *as_plan = (dgampi_fft_plan *)(void *)d;
        CHECK_STATUS(dgampi_fft_plan_execute(as_plan, &good.a), S_HANDLE, "dgampi_fft_plan_execute");
        CHECK_STATUS(dgampi_fft_plan_strategy(as_plan, &s), S_HANDLE, "dgampi_fft_plan_strategy");
        int64_t ntasks = 0;
        dgampi_distributor *as_dist = (dgampi_distributor *)(void *)P;
        CHECK_STATUS(dgampi_distributor_ntasks(as_dist, &ntasks), S_HANDLE, "dgampi_distributor_ntasks");
        CHECK_OK(dgampi_distributor_destroy(&d));

        dgampi_fft_plan *p = NULL, *copy = NULL;
        CHECK_OK(dgampi_fft_plan_create(MPI_COMM_WORLD, NQ, 1, BATCH, C128, NULL, &p));
        copy = p;
        CHECK_OK(dgampi_fft_plan_destroy(&p));
        CHECK(p == NULL, "destroy did not set the handle to NULL");
        /* destroy twice through the same variable: a no-op */
        CHECK_OK(dgampi_fft_plan_destroy(&p));
        CHECK(p == NULL, "a second destroy set the handle to %p", (void *)p);
        /* the stale copy */
        CHECK_STATUS(dgampi_fft_plan_execute(copy, &good.a), S_HANDLE, "dgampi_fft_plan_execute");
        CHECK_STATUS(dgampi_fft_plan_strategy(copy, &s), S_HANDLE, "dgampi_fft_plan_strategy");
        CHECK_STATUS(dgampi_fft_plan_local(copy, &mq, &mo), S_HANDLE, "dgampi_fft_plan_local");
        CHECK_STATUS(dgampi_fft_plan_destroy(&copy), S_HANDLE, "dgampi_fft_plan_destroy");
        CHECK_STATUS(dgampi_fft_plan_destroy(NULL), S_NULL, "dgampi_fft_plan_destroy");
        /* NULL outputs of the queries */
        CHECK_STATUS(dgampi_fft_plan_strategy(P, NULL), S_NULL, "dgampi_fft_plan_strategy");
        CHECK_STATUS(dgampi_fft_plan_local(P, NULL, &mo), S_NULL, "dgampi_fft_plan_local");
        CHECK_STATUS(dgampi_fft_plan_local(P, &mq, NULL), S_NULL, "dgampi_fft_plan_local");
        CHECK_STATUS(dgampi_fft_options_init(NULL, sizeof(dgampi_fft_options)), S_NULL, "dgampi_fft_options_init");
        CHECK_UNTOUCHED(&good, x, my_off, W, "after bad handles");
    }
    good_execute("bad handles");
    block_free(&good);
    free(room);
    free(x);
}

/* ------------------------------------------------------------------ transposed plans */

/* Misuse of transposed plans (dgampi_fft_plan_execute_into, _layout,
 * _indices) with the forward-out and backward-in pencil plans of NQ: the
 * wrong entry point, wrong or overlapping arrays, bad sides, too little
 * room for the indices, bad handles. Then both plans still work. */
static void test_transposed(void) {
    int on_last = rank == last, on_first = rank == 0;
    check_section = "transposed: setup";
    dgampi_fft_options oo = make_transposed(FWD, DGAMPI_FFT_STRATEGY_PENCIL, T_OUT);
    dgampi_fft_options io = make_transposed(BWD, DGAMPI_FFT_STRATEGY_PENCIL, T_IN);
    dgampi_fft_plan *TO = NULL, *TI = NULL;
    CHECK_OK(dgampi_fft_plan_create(MPI_COMM_WORLD, NQ, 1, BATCH, C128, &oo, &TO));
    CHECK_OK(dgampi_fft_plan_create(MPI_COMM_WORLD, NQ, 1, BATCH, C128, &io, &TI));
    if (!TO || !TI) {
        if (TO) dgampi_fft_plan_destroy(&TO);
        if (TI) dgampi_fft_plan_destroy(&TI);
        return;
    }
    struct side in, out, tin;
    side_get(TO, SIDE_IN, N, W, &in);
    side_get(TO, SIDE_OUT, N, W, &out);
    side_get(TI, SIDE_IN, N, W, &tin);
    CHECK(in.flat == 1 && out.flat == 0 && side_equal(&out, &tin), "the pencil plans' layouts");
    struct block bin, bout;
    side_block_init(&bin, C128, X, &in, W, 1, BATCH, 0, 0, 0);
    side_block_init(&bout, C128, NULL, &out, W, 1, BATCH, 0, 0, 0);
    cplx *zeros = calloc(bout.n + 1, sizeof *zeros);
#define UNTOUCHED(after)                                                       \
    do {                                                                       \
        CHECK_UNTOUCHED(&bin, X, my_off, W, "the input after " after);        \
        CHECK_UNTOUCHED(&bout, zeros, 0, (size_t)out.batch_len, "the output after " after); \
    } while (0)

    check_section = "transposed: the wrong entry point";
    CHECK_STATUS(dgampi_fft_plan_execute(TO, &bin.a), S_INVALID, "dgampi_fft_plan_execute");
    CHECK(strstr(last_error(), "execute_into") != NULL, "the message '%s' does not point to execute_into", last_error());
    CHECK_STATUS(dgampi_fft_plan_execute(TI, &bin.a), S_INVALID, "dgampi_fft_plan_execute");
    CHECK_STATUS(dgampi_fft_plan_execute_into(P, &bin.a, &bout.a), S_INVALID, "dgampi_fft_plan_execute_into");
    /* the one-shot transforms in place: a transposition is refused */
    CHECK_STATUS(dgampi_fft_execute_once(MPI_COMM_WORLD, NQ, &bin.a, &oo), S_INVALID, "dgampi_fft_execute_once");
    CHECK_STATUS(dgampi_fft_execute_once(MPI_COMM_WORLD, NQ, &bin.a, &io), S_INVALID, "dgampi_fft_execute_once");
    UNTOUCHED("the wrong entry point");
    good_execute("execute_into on a natural plan");

    check_section = "transposed: a wrong array on one rank";
    {
        double *room = calloc((size_t)(out.count + my_q + 2) * (W + 1) * 2 + 2, sizeof(double));
        int64_t longer[2] = {out.count + 1, out.batch_len}, wider[2] = {out.count, out.batch_len + 1};
        int64_t flat_in[2] = {my_q + 1, W}, three[3] = {out.count, out.batch_len, 1};
        dgampi_array a_long = make_array(room, C128, 2, longer, NULL), a_wide = make_array(room, C128, 2, wider, NULL);
        dgampi_array a_three = make_array(room, C128, 3, three, NULL), a_in = make_array(room, C128, 2, flat_in, NULL);
        dgampi_array a_c64 = make_array(room, C64, 2, bout.shape, NULL);
        CHECK_ON(on_last, dgampi_fft_plan_execute_into(TO, &bin.a, on_last ? &a_long : &bout.a), S_MISMATCH,
                 "dgampi_fft_plan_execute_into");
        CHECK_ON(on_first, dgampi_fft_plan_execute_into(TO, &bin.a, on_first ? &a_wide : &bout.a), S_MISMATCH,
                 "dgampi_fft_plan_execute_into");
        CHECK_ON(on_last, dgampi_fft_plan_execute_into(TO, &bin.a, on_last ? &a_three : &bout.a), S_MISMATCH,
                 "dgampi_fft_plan_execute_into");
        CHECK_ON(on_first, dgampi_fft_plan_execute_into(TO, &bin.a, on_first ? &a_c64 : &bout.a), S_MISMATCH,
                 "dgampi_fft_plan_execute_into");
        CHECK_ON(on_last, dgampi_fft_plan_execute_into(TO, on_last ? &a_in : &bin.a, &bout.a), S_MISMATCH,
                 "dgampi_fft_plan_execute_into");
        /* the transposed input of the backward-in plan: one column more on the last rank */
        CHECK_ON(on_last, dgampi_fft_plan_execute_into(TI, on_last ? &a_wide : &bout.a, &bin.a), S_MISMATCH,
                 "dgampi_fft_plan_execute_into");
        UNTOUCHED("a wrong array on one rank");
        /* NULL arrays on one rank */
        CHECK_ON(on_last, dgampi_fft_plan_execute_into(TO, on_last ? NULL : &bin.a, &bout.a), S_NULL,
                 "dgampi_fft_plan_execute_into");
        CHECK_ON(on_first, dgampi_fft_plan_execute_into(TO, &bin.a, on_first ? NULL : &bout.a), S_NULL,
                 "dgampi_fft_plan_execute_into");
        UNTOUCHED("a NULL array on one rank");
        free(room);
    }

    check_section = "transposed: overlapping arrays";
    {
        /* input and output in one buffer, sharing one element (every rank
         * where both are non-empty), or starting at the same address (last rank) */
        size_t ni = bin.n, no = bout.n;
        unsigned char mine = ni > 0 && no > 0, any = 0;
        MPI_Allreduce(&mine, &any, 1, MPI_UNSIGNED_CHAR, MPI_MAX, MPI_COMM_WORLD);
        double *shared = calloc((ni + no) * 2 + 2, sizeof(double));
        memcpy(shared, bin.data, ni * 16);
        double *saved = malloc(((ni + no) * 2 + 2) * sizeof(double));
        memcpy(saved, shared, ((ni + no) * 2 + 2) * sizeof(double));
        dgampi_array si = make_array(shared, C128, bin.ndim, bin.shape, NULL);
        dgampi_array so = make_array(shared + 2 * (ni ? ni - 1 : 0), C128, bout.ndim, bout.shape, NULL);
        dgampi_array same = make_array(shared, C128, bout.ndim, bout.shape, NULL);
        if (any) {
            CHECK_ON(mine, dgampi_fft_plan_execute_into(TO, mine ? &si : &bin.a, mine ? &so : &bout.a), S_INVALID,
                     "dgampi_fft_plan_execute_into");
            CHECK(memcmp(shared, saved, ((ni + no) * 2 + 2) * sizeof(double)) == 0, "overlapping arrays changed");
        }
        unsigned char last_can = (unsigned char)(on_last && mine), can = 0;
        MPI_Allreduce(&last_can, &can, 1, MPI_UNSIGNED_CHAR, MPI_MAX, MPI_COMM_WORLD);
        if (can) {
            CHECK_ON(on_last, dgampi_fft_plan_execute_into(TO, on_last ? &si : &bin.a, on_last ? &same : &bout.a),
                     S_INVALID, "dgampi_fft_plan_execute_into");
            CHECK(memcmp(shared, saved, ((ni + no) * 2 + 2) * sizeof(double)) == 0, "overlapping arrays changed");
        }
        UNTOUCHED("overlapping arrays");
        free(shared);
        free(saved);
    }

    check_section = "transposed: layout and indices (local)";
    {
        int64_t c = -5, bs = -5, bl = -5;
        int32_t fl = -5;
        size_t n = 777;
        int64_t buf[64 + 1];
        static const int32_t BAD_SIDES[] = {2, -1, 99};
        for (int k = 0; k < 3; k++) {
            CHECK_STATUS(dgampi_fft_plan_layout(TO, BAD_SIDES[k], &c, &bs, &bl, &fl), S_INVALID, "dgampi_fft_plan_layout");
            CHECK_STATUS(dgampi_fft_plan_indices(TO, BAD_SIDES[k], NULL, 0, &n), S_INVALID, "dgampi_fft_plan_indices");
            CHECK_STATUS(dgampi_fft_plan_indices(TO, BAD_SIDES[k], buf, 64, &n), S_INVALID, "dgampi_fft_plan_indices");
        }
        CHECK(c == -5 && bs == -5 && bl == -5 && fl == -5, "a bad side wrote the layout");
        /* too little room: OUT_OF_RANGE, the count stored, nothing written */
        if (out.count > 0 && out.count <= 64) {
            for (int k = 0; k <= 64; k++) buf[k] = -7;
            CHECK_STATUS(dgampi_fft_plan_indices(TO, SIDE_OUT, buf, (size_t)out.count - 1, &n), S_RANGE,
                         "dgampi_fft_plan_indices");
            CHECK(n == (size_t)out.count, "too little room: count %zu, expected %lld", n, (long long)out.count);
            CHECK_STATUS(dgampi_fft_plan_indices(TO, SIDE_OUT, buf, 0, &n), S_RANGE, "dgampi_fft_plan_indices");
            int clean = 1;
            for (int k = 0; k <= 64; k++) clean &= buf[k] == -7;
            CHECK(clean, "too little room: indices were written");
            /* more room than needed is fine */
            CHECK_OK(dgampi_fft_plan_indices(TO, SIDE_OUT, buf, 64, &n));
            CHECK(n == (size_t)out.count && buf[0] == out.idx[0] && buf[n] == -7, "with room to spare");
        }
        CHECK_STATUS(dgampi_fft_plan_indices(TO, SIDE_OUT, NULL, 0, NULL), S_NULL, "dgampi_fft_plan_indices");
        CHECK_STATUS(dgampi_fft_plan_indices(TO, SIDE_IN, buf, 64, NULL), S_NULL, "dgampi_fft_plan_indices");
        /* NULL, fake and stale handles */
        double junk[16] = {0};
        dgampi_fft_plan *fake = (dgampi_fft_plan *)(void *)junk;
        CHECK_STATUS(dgampi_fft_plan_layout(NULL, SIDE_IN, &c, &bs, &bl, &fl), S_HANDLE, "dgampi_fft_plan_layout");
        CHECK_STATUS(dgampi_fft_plan_indices(NULL, SIDE_IN, NULL, 0, &n), S_HANDLE, "dgampi_fft_plan_indices");
        CHECK_STATUS(dgampi_fft_plan_execute_into(NULL, &bin.a, &bout.a), S_HANDLE, "dgampi_fft_plan_execute_into");
        CHECK_STATUS(dgampi_fft_plan_layout(fake, SIDE_IN, &c, NULL, NULL, NULL), S_HANDLE, "dgampi_fft_plan_layout");
        CHECK_STATUS(dgampi_fft_plan_execute_into(fake, &bin.a, &bout.a), S_HANDLE, "dgampi_fft_plan_execute_into");
        dgampi_fft_plan *p = NULL, *copy;
        CHECK_OK(dgampi_fft_plan_create(MPI_COMM_WORLD, NQ, 1, BATCH, C128, &oo, &p));
        copy = p;
        CHECK_OK(dgampi_fft_plan_destroy(&p));
        CHECK_STATUS(dgampi_fft_plan_layout(copy, SIDE_OUT, &c, NULL, NULL, NULL), S_HANDLE, "dgampi_fft_plan_layout");
        CHECK_STATUS(dgampi_fft_plan_indices(copy, SIDE_OUT, NULL, 0, &n), S_HANDLE, "dgampi_fft_plan_indices");
        CHECK_STATUS(dgampi_fft_plan_execute_into(copy, &bin.a, &bout.a), S_HANDLE, "dgampi_fft_plan_execute_into");
        UNTOUCHED("bad sides and handles");
    }

    /* after every error: forward-out matches the reference, backward-in returns X */
    check_section = "transposed: valid executions after the errors";
    {
        cplx *want = side_values_new(REF, &out, W);
        CHECK_OK(dgampi_fft_plan_execute_into(TO, &bin.a, &bout.a));
        CHECK_CLOSE(&bout, want, 0, (size_t)out.batch_len, max_abs(REF, (size_t)N * W), 1e-12, "forward-out");
        struct block back;
        side_block_init(&back, C128, NULL, &in, W, 1, BATCH, 0, 0, 0);
        CHECK_OK(dgampi_fft_plan_execute_into(TI, &bout.a, &back.a));
        CHECK_CLOSE(&back, X, my_off, W, max_abs(X, (size_t)N * W), 1e-12, "backward-in of the forward-out");
        block_free(&back);
        free(want);
    }
#undef UNTOUCHED
    block_free(&bin);
    block_free(&bout);
    free(zeros);
    side_free(&in);
    side_free(&out);
    side_free(&tin);
    CHECK_OK(dgampi_fft_plan_destroy(&TO));
    CHECK_OK(dgampi_fft_plan_destroy(&TI));
    good_execute("the transposed plans' errors");
}

/* ------------------------------------------------------------------ one-shot */

static void test_one_shot(void) {
    int on_last = rank == last, on_first = rank == 0;
    MPI_Fint fworld = MPI_Comm_c2f(MPI_COMM_WORLD);
    cplx *x = input_new((size_t)N * W, 8, C128);
    struct block good;
    block_init(&good, C128, x, my_off, my_q, 1, BATCH, 0, 0);
    static const int64_t neg[3] = {5, -3, 2}, zero[3] = {5, 3, 0}, other_nq[3] = {3, 5, 2};

    check_section = "one-shot: bad arguments on one rank";
    CHECK_ON(on_last, dgampi_fft_execute_once(MPI_COMM_WORLD, NQ, on_last ? NULL : &good.a, NULL), S_NULL,
             "dgampi_fft_execute_once");
    CHECK_ON(on_first, dgampi_fft_execute_once_f(fworld, NQ, on_first ? NULL : &good.a, NULL), S_NULL,
             "dgampi_fft_execute_once_f");
    CHECK_ON(on_last, dgampi_fft_execute_once(MPI_COMM_WORLD, on_last ? NULL : NQ, &good.a, NULL), S_NULL,
             "dgampi_fft_execute_once");
    CHECK_ON(on_last, dgampi_fft_execute_once(MPI_COMM_WORLD, on_last ? neg : NQ, &good.a, NULL), S_INVALID,
             "dgampi_fft_execute_once");
    CHECK_ON(on_last, dgampi_fft_execute_once_f(fworld, on_last ? zero : NQ, &good.a, NULL), S_INVALID,
             "dgampi_fft_execute_once_f");
    CHECK_UNTOUCHED(&good, x, my_off, W, "after bad one-shot arguments");
    for (int field = 0; field < 4; field++) {
        dgampi_fft_options o = make_options(FWD, DGAMPI_FFT_NORMALIZATION_BACKWARD, DGAMPI_FFT_STRATEGY_AUTO);
        if (on_last) {
            if (field == 0) o.direction = 0;
            if (field == 1) o.normalization = 7;
            if (field == 2) o.strategy = 9;
            if (field == 3) o.rigor = -3;
        }
        CHECK_ON(on_last, dgampi_fft_execute_once(MPI_COMM_WORLD, NQ, &good.a, &o), S_INVALID,
                 "dgampi_fft_execute_once");
    }
    CHECK_UNTOUCHED(&good, x, my_off, W, "after bad one-shot options");

    check_section = "one-shot: bad block on one rank";
    int64_t longer[2] = {my_q + 1, W}, wide[2] = {my_q, W + 1};
    double *room = calloc((size_t)(my_q + 2) * (W + 1) * 2, sizeof(double));
    dgampi_array a_long = make_array(room, C128, 2, longer, NULL);
    dgampi_array a_wide = make_array(room, C128, 2, wide, NULL);
    dgampi_array a_real = make_array(room, DGAMPI_DTYPE_F64, 2, good.shape, NULL);
    CHECK_ON(on_last, dgampi_fft_execute_once(MPI_COMM_WORLD, NQ, on_last ? &a_long : &good.a, NULL), S_MISMATCH,
             "dgampi_fft_execute_once");
    if (nranks > 1) {
        /* the trailing shape or the dtype differs: the ranks plan different transforms */
        CHECK_SOME_RANK(dgampi_fft_execute_once(MPI_COMM_WORLD, NQ, on_last ? &a_wide : &good.a, NULL), S_MISMATCH,
                        "dgampi_fft_execute_once");
        cplx *x64 = input_new((size_t)N * W, 8, C64);
        struct block b64;
        block_init(&b64, C64, x64, my_off, my_q, 1, BATCH, 0, 0);
        CHECK_SOME_RANK(dgampi_fft_execute_once(MPI_COMM_WORLD, NQ, on_last ? &b64.a : &good.a, NULL), S_MISMATCH,
                        "dgampi_fft_execute_once");
        CHECK_UNTOUCHED(&b64, x64, my_off, W, "the complex64 block after the failed one-shot");
        block_free(&b64);
        free(x64);
        /* a different grid on one rank */
        CHECK_SOME_RANK(dgampi_fft_execute_once(MPI_COMM_WORLD, on_last ? other_nq : NQ, &good.a, NULL), S_MISMATCH,
                        "dgampi_fft_execute_once");
    }
    CHECK_ON(on_last, dgampi_fft_execute_once(MPI_COMM_WORLD, NQ, on_last ? &a_real : &good.a, NULL), S_INVALID,
             "dgampi_fft_execute_once");
    /* real blocks on every rank */
    CHECK_STATUS(dgampi_fft_execute_once(MPI_COMM_WORLD, NQ, &a_real, NULL), S_INVALID,
                 "dgampi_fft_execute_once");
    CHECK_UNTOUCHED(&good, x, my_off, W, "after bad one-shot blocks");

    check_section = "one-shot: MPI_COMM_NULL";
    CHECK_STATUS(dgampi_fft_execute_once(MPI_COMM_NULL, NQ, &good.a, NULL), S_INVALID,
                 "dgampi_fft_execute_once");
    CHECK_STATUS(dgampi_fft_execute_once_f(MPI_Comm_c2f(MPI_COMM_NULL), NQ, &good.a, NULL), S_INVALID,
                 "dgampi_fft_execute_once_f");
    CHECK_UNTOUCHED(&good, x, my_off, W, "after MPI_COMM_NULL");

    /* after the errors the one-shot works */
    check_section = "one-shot after errors";
    cplx *ref = dft3_new(x, NQ, W, -1, 1.0);
    CHECK_OK(dgampi_fft_execute_once_f(fworld, NQ, &good.a, NULL));
    CHECK_CLOSE(&good, ref, my_off, W, max_abs(ref, (size_t)N * W), 1e-12, "one-shot after errors");
    free(ref);
    free(room);
    block_free(&good);
    free(x);
    good_execute("one-shot errors");
}

/* ------------------------------------------------------------------ reproducers */

/* Regression: the header that checks the ranks agree holds the grid's 3
 * extents plus the batch in DGAMPI_MAX_NDIM slots. 30 or 31 batch axes once
 * panicked on rank 0 while the others hung; now at most DGAMPI_MAX_NDIM - 3
 * axes are accepted and more fail cleanly on every rank. */
static void create_with_31_batch_axes(void) {
    int64_t ones[DGAMPI_MAX_NDIM];
    for (int k = 0; k < DGAMPI_MAX_NDIM; k++) ones[k] = 1;
    dgampi_fft_plan *p = NULL;
    CHECK_OK(dgampi_fft_plan_create(MPI_COMM_WORLD, NQ, DGAMPI_MAX_NDIM - 3, ones, C128, NULL, &p));
    many_batch_axes(&p, DGAMPI_MAX_NDIM - 3);
    for (int naxes = DGAMPI_MAX_NDIM - 2; naxes <= DGAMPI_MAX_NDIM - 1; naxes++) {
        p = NULL;
        CHECK_STATUS(dgampi_fft_plan_create(MPI_COMM_WORLD, NQ, naxes, ones, C128, NULL, &p), DGAMPI_STATUS_INVALID_ARGUMENT, "dgampi_fft_plan_create");
        CHECK(p == NULL, "a failed create left a handle");
    }
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    check_rank = rank;
    last = nranks - 1;
    if (nranks > MAX_RANKS) {
        MPI_Finalize();
        return 2;
    }
    N = grid_points(NQ);
    block_layout(N, nranks, sizes, offs);
    my_q = sizes[rank];
    my_off = offs[rank];
    X = input_new((size_t)N * W, 1, C128);
    REF = dft3_new(X, NQ, W, -1, 1.0);

    if (argc > 1) {
        const char *which = argv[1];
        check_section = which;
        if (strcmp(which, "create_with_31_batch_axes") == 0) create_with_31_batch_axes();
        else {
            if (rank == 0) fprintf(stderr, "unknown case '%s'\n", which);
            MPI_Finalize();
            return 2;
        }
        return test_finish(which);
    }

    check_section = "setup";
    CHECK_OK(dgampi_fft_plan_create(MPI_COMM_WORLD, NQ, 1, BATCH, C128, NULL, &P));
    if (!P) return test_finish("fft_bad_input");
    good_execute("nothing");
    test_create();
    test_execute();
    test_transposed();
    test_one_shot();
    check_section = "final";
    good_execute("every error");
    CHECK_OK(dgampi_fft_plan_destroy(&P));
    CHECK(P == NULL, "destroy did not set the handle to NULL");
    free(X);
    free(REF);
    return test_finish("fft_bad_input");
}
