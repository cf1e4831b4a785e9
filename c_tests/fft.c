/* dgampi C ABI: the distributed 3-D FFT (dgampi_fft_*,
 * dgampi_fft_execute_once, dgampi_fft_pencil_indices, wisdom), checked
 * on every rank against a direct separable DFT computed here in plain C on
 * the whole array (every rank builds the same deterministic input).
 *
 *   fft        all checks (any number of ranks, any process-wide limit)
 *   fft CASE   one reproducer of a library bug (see main)
 *
 * Covered: every strategy (auto, batch transpose, slab, pencil) on the grids
 * 2x3x2, 4x4x4, 13x7x5, 1x1x8, 8x1x1 and 1x1x2 (fewer points than ranks),
 * batches none, (3) and (2,2,5), in complex128 (relative error < 1e-12) and
 * complex64 (< 1e-5), forward then backward back to the input; the flat
 * split from dgampi_fft_plan_local; the strategy reported; unaligned blocks;
 * plan reuse; every normalization in both directions; the one-shot and the
 * _f twins; sub-communicators; explicit and creation-time message limits;
 * the pencil indices of every layout; wisdom export / import. Transposed
 * layouts (dgampi_fft_options.transposition, dgampi_fft_plan_execute_into,
 * _layout, _indices): every strategy, out and in, forward and backward, both
 * dtypes, on the grids 2x3x2, 4x3x5, 1x1x2 and 7x2x1 (at 3 ranks the
 * x-slabs of a transposed-in slab plan's last phase coincide with the flat
 * split on rank 0 only: it lands on the output there, the others move
 * their data home) with every batch (4x3x5: none and (3)), against the
 * reference at the rows and batch columns the plan reports (the layout of
 * each strategy checked, and that the ranks' parts tile the grid or the
 * batch); forward-out then backward-in returns the input; a natural plan's
 * sides are the flat split. (Misuse: fft_bad_input.c.) */
#include "fft_ref.h"

static int rank, nranks, last;

/* Under DGAMPI_MAX_MESSAGE_BYTES the run may be under the PMPI checker, which
 * enforces that limit on every message: explicit limits are capped at it. */
static size_t env_limit;
static size_t lim(size_t explicit_limit) {
    return env_limit && explicit_limit > env_limit ? env_limit : explicit_limit;
}

static const int64_t GRIDS[][3] = {{2, 3, 2}, {4, 4, 4}, {13, 7, 5}, {1, 1, 8}, {8, 1, 1}, {1, 1, 2}};
#define N_GRIDS ((int)(sizeof GRIDS / sizeof GRIDS[0]))

struct batch {
    int ndim;
    int64_t shape[3];
    const char *name;
};
static const struct batch BATCHES[] = {{0, {0, 0, 0}, "none"}, {1, {3, 0, 0}, "(3)"}, {3, {2, 2, 5}, "(2,2,5)"}};
#define N_BATCHES ((int)(sizeof BATCHES / sizeof BATCHES[0]))

static const int STRATEGIES[] = {DGAMPI_FFT_STRATEGY_AUTO, DGAMPI_FFT_STRATEGY_BATCH_TRANSPOSE, DGAMPI_FFT_STRATEGY_SLAB,
                                 DGAMPI_FFT_STRATEGY_PENCIL};
#define N_STRATEGIES 4

/* Wisdom lengths before any plan (see test_wisdom). */
static size_t wisdom0[2];

/* ------------------------------------------------------------------ plans */

/* Creates a plan on comm (through the _f twin when use_f) and checks its
 * strategy and its local block; returns NULL (after a failed check) on error. */
static dgampi_fft_plan *plan_new(MPI_Comm comm, const int64_t nq[3], const struct batch *b, int32_t dtype,
                                 const dgampi_fft_options *o, int use_f, const char *what) {
    dgampi_fft_plan *p = NULL;
    if (use_f)
        CHECK_OK(dgampi_fft_plan_create_f(MPI_Comm_c2f(comm), nq, b->ndim, b->ndim ? b->shape : NULL, dtype, o, &p));
    else
        CHECK_OK(dgampi_fft_plan_create(comm, nq, b->ndim, b->ndim ? b->shape : NULL, dtype, o, &p));
    if (!p) {
        check_fail(__FILE__, __LINE__, "%s: no plan", what);
        return NULL;
    }
    int32_t s = -7;
    CHECK_OK(dgampi_fft_plan_strategy(p, &s));
    int want = o ? o->strategy : DGAMPI_FFT_STRATEGY_AUTO;
    if (want == DGAMPI_FFT_STRATEGY_AUTO)
        CHECK(s == DGAMPI_FFT_STRATEGY_BATCH_TRANSPOSE || s == DGAMPI_FFT_STRATEGY_SLAB || s == DGAMPI_FFT_STRATEGY_PENCIL,
              "%s: auto resolved to strategy %d", what, (int)s);
    else
        CHECK(s == want, "%s: strategy %d (%s), forced %d (%s)", what, (int)s, strategy_name(s), want, strategy_name(want));
    int crank, csize;
    MPI_Comm_rank(comm, &crank);
    MPI_Comm_size(comm, &csize);
    int64_t sizes[MAX_RANKS], offs[MAX_RANKS], my_q = -1, off = -1;
    block_layout(grid_points(nq), csize, sizes, offs);
    CHECK_OK(dgampi_fft_plan_local(p, &my_q, &off));
    CHECK(my_q == sizes[crank] && off == offs[crank], "%s: plan_local gave my_q %lld offset %lld, the flat split %lld at %lld",
          what, (long long)my_q, (long long)off, (long long)sizes[crank], (long long)offs[crank]);
    return p;
}

static void plan_free(dgampi_fft_plan **p) {
    if (!*p) return;
    CHECK_OK(dgampi_fft_plan_destroy(p));
    CHECK(*p == NULL, "dgampi_fft_plan_destroy left the handle non-NULL");
}

/* One case on comm: forward of a fresh input matches the reference DFT, then
 * a backward plan returns the input (default normalization: 1/N backward). */
static void transform_case(MPI_Comm comm, const int64_t nq[3], const struct batch *b, int32_t dtype, int strategy,
                           size_t misalign, int use_f, int seed) {
    int crank, csize;
    MPI_Comm_rank(comm, &crank);
    MPI_Comm_size(comm, &csize);
    static char what[200];
    snprintf(what, sizeof what, "%lldx%lldx%lld batch %s %s %s%s%s on %d rank(s)", (long long)nq[0], (long long)nq[1],
             (long long)nq[2], b->name, dtype_name(dtype), strategy_name(strategy), misalign ? " unaligned" : "",
             use_f ? " (_f)" : "", csize);
    check_section = what;
    int64_t N = grid_points(nq), sizes[MAX_RANKS], offs[MAX_RANKS];
    size_t W = batch_width(b->ndim, b->shape);
    block_layout(N, csize, sizes, offs);
    cplx *x = input_new((size_t)N * W, seed, dtype);
    cplx *ref = dft3_new(x, nq, W, -1, 1.0);
    dgampi_fft_options fo = make_options(FWD, DGAMPI_FFT_NORMALIZATION_BACKWARD, strategy);
    dgampi_fft_options bo = make_options(BWD, DGAMPI_FFT_NORMALIZATION_BACKWARD, strategy);
    dgampi_fft_plan *fp = plan_new(comm, nq, b, dtype, &fo, use_f, what);
    dgampi_fft_plan *bp = plan_new(comm, nq, b, dtype, &bo, use_f, what);
    struct block blk;
    block_init(&blk, dtype, x, offs[crank], sizes[crank], b->ndim, b->shape, misalign, 1);
    if (fp && bp) {
        char w2[260];
        CHECK_OK(dgampi_fft_plan_execute(fp, &blk.a));
        snprintf(w2, sizeof w2, "%s: forward", what);
        CHECK_CLOSE(&blk, ref, offs[crank], W, max_abs(ref, (size_t)N * W), tolerance(dtype), w2);
        CHECK_OK(dgampi_fft_plan_execute(bp, &blk.a));
        snprintf(w2, sizeof w2, "%s: backward of the forward", what);
        CHECK_CLOSE(&blk, x, offs[crank], W, max_abs(x, (size_t)N * W), tolerance(dtype), w2);
    }
    plan_free(&fp);
    plan_free(&bp);
    block_free(&blk);
    free(x);
    free(ref);
}

static void test_matrix(void) {
    int seed = 100;
    for (int g = 0; g < N_GRIDS; g++)
        for (int bi = 0; bi < N_BATCHES; bi++)
            for (int s = 0; s < N_STRATEGIES; s++) {
                transform_case(MPI_COMM_WORLD, GRIDS[g], &BATCHES[bi], C128, STRATEGIES[s], 0, 0, seed++);
                /* complex64: every grid with batches none and (3) */
                if (bi < 2) transform_case(MPI_COMM_WORLD, GRIDS[g], &BATCHES[bi], C64, STRATEGIES[s], 0, 0, seed++);
            }
}

/* Blocks that are not 16-byte aligned (FFTW's SIMD alignment) in either
 * dtype (still element-aligned), for every strategy; through the _f twin. */
static void test_unaligned(void) {
    static const int64_t nq[3] = {3, 4, 2};
    for (int s = 0; s < N_STRATEGIES; s++) {
        transform_case(MPI_COMM_WORLD, nq, &BATCHES[1], C128, STRATEGIES[s], 8, 0, 300 + s);
        transform_case(MPI_COMM_WORLD, nq, &BATCHES[0], C64, STRATEGIES[s], 4, 1, 310 + s);
        transform_case(MPI_COMM_WORLD, GRIDS[2], &BATCHES[1], C64, STRATEGIES[s], 4, 0, 320 + s);
    }
}

/* ------------------------------------------------------------------ reuse */

/* One forward and one backward plan executed on three inputs each, in fresh
 * buffers (one unaligned), in both dtypes. */
static void test_reuse(void) {
    static const int64_t nq[3] = {4, 3, 5};
    const struct batch *b = &BATCHES[1];
    int64_t N = grid_points(nq), sizes[MAX_RANKS], offs[MAX_RANKS];
    size_t W = batch_width(b->ndim, b->shape);
    block_layout(N, nranks, sizes, offs);
    for (int d = 0; d < 2; d++) {
        int32_t dtype = d ? C64 : C128;
        for (int s = 0; s < N_STRATEGIES; s++) {
            static char what[160];
            snprintf(what, sizeof what, "plan reuse %s %s", dtype_name(dtype), strategy_name(STRATEGIES[s]));
            check_section = what;
            dgampi_fft_options fo = make_options(FWD, DGAMPI_FFT_NORMALIZATION_BACKWARD, STRATEGIES[s]);
            dgampi_fft_options bo = make_options(BWD, DGAMPI_FFT_NORMALIZATION_BACKWARD, STRATEGIES[s]);
            dgampi_fft_plan *fp = plan_new(MPI_COMM_WORLD, nq, b, dtype, &fo, 0, what);
            dgampi_fft_plan *bp = plan_new(MPI_COMM_WORLD, nq, b, dtype, &bo, 0, what);
            if (!fp || !bp) {
                plan_free(&fp);
                plan_free(&bp);
                continue;
            }
            cplx *x[3], *ref[3];
            struct block blk[3];
            for (int k = 0; k < 3; k++) {
                x[k] = input_new((size_t)N * W, 400 + 10 * s + k, dtype);
                ref[k] = dft3_new(x[k], nq, W, -1, 1.0);
                block_init(&blk[k], dtype, x[k], offs[rank], sizes[rank], b->ndim, b->shape, k == 2 ? (d ? 4 : 8) : 0, 0);
            }
            for (int k = 0; k < 3; k++) {
                char w2[200];
                CHECK_OK(dgampi_fft_plan_execute(fp, &blk[k].a));
                snprintf(w2, sizeof w2, "%s: forward of input %d", what, k);
                CHECK_CLOSE(&blk[k], ref[k], offs[rank], W, max_abs(ref[k], (size_t)N * W), tolerance(dtype), w2);
            }
            for (int k = 0; k < 3; k++) {
                char w2[200];
                CHECK_OK(dgampi_fft_plan_execute(bp, &blk[k].a));
                snprintf(w2, sizeof w2, "%s: backward of input %d", what, k);
                CHECK_CLOSE(&blk[k], x[k], offs[rank], W, max_abs(x[k], (size_t)N * W), tolerance(dtype), w2);
            }
            /* the same buffer again through the same plan */
            CHECK_OK(dgampi_fft_plan_execute(fp, &blk[0].a));
            CHECK_OK(dgampi_fft_plan_execute(fp, &blk[0].a));
            cplx *twice = dft3_new(ref[0], nq, W, -1, 1.0);
            CHECK_CLOSE(&blk[0], twice, offs[rank], W, max_abs(twice, (size_t)N * W), tolerance(dtype),
                        "forward twice in the same buffer");
            free(twice);
            for (int k = 0; k < 3; k++) {
                block_free(&blk[k]);
                free(x[k]);
                free(ref[k]);
            }
            plan_free(&fp);
            plan_free(&bp);
        }
    }
}

/* ------------------------------------------------------------------ normalization */

/* Every normalization in both directions against the reference times its
 * factor; ortho forward then ortho backward returns the input. */
/* threads = 2 gives the threads = 1 result to rounding (backward, so the
 * scaling runs too); a negative thread count is refused on every rank. */
static void test_threads(void) {
    static const int64_t nq[3] = {3, 4, 5};
    const struct batch *b = &BATCHES[1];
    int64_t N = grid_points(nq), sizes[MAX_RANKS], offs[MAX_RANKS];
    size_t W = batch_width(b->ndim, b->shape);
    block_layout(N, nranks, sizes, offs);
    for (int s = 0; s < N_STRATEGIES; s++) {
        static char what[160];
        snprintf(what, sizeof what, "threads 1 and 2, %s", strategy_name(STRATEGIES[s]));
        check_section = what;
        cplx *x = input_new((size_t)N * W, 700 + s, C128);
        cplx *one = NULL;
        for (int threads = 1; threads <= 2; threads++) {
            dgampi_fft_options o = make_options(BWD, DGAMPI_FFT_NORMALIZATION_BACKWARD, STRATEGIES[s]);
            o.threads = threads;
            dgampi_fft_plan *p = plan_new(MPI_COMM_WORLD, nq, b, C128, &o, 0, what);
            struct block blk;
            block_init(&blk, C128, x, offs[rank], sizes[rank], b->ndim, b->shape, 0, 0);
            if (p) {
                CHECK_OK(dgampi_fft_plan_execute(p, &blk.a));
                if (threads == 1) {
                    one = input_new((size_t)N * W, 0, C128);
                    memcpy(one + offs[rank] * (int64_t)W, blk.a.data, (size_t)sizes[rank] * W * sizeof(cplx));
                } else if (one) {
                    CHECK_CLOSE(&blk, one, offs[rank], W, max_abs(one + offs[rank] * (int64_t)W, (size_t)sizes[rank] * W) + 1e-300,
                                1e-14, what);
                }
            }
            plan_free(&p);
            block_free(&blk);
        }
        free(one);
        free(x);
    }
    check_section = "threads = -1";
    dgampi_fft_options o = make_options(FWD, DGAMPI_FFT_NORMALIZATION_BACKWARD, DGAMPI_FFT_STRATEGY_AUTO);
    o.threads = rank == nranks - 1 ? -1 : 1;
    dgampi_fft_plan *p = NULL;
    CHECK_STATUS(dgampi_fft_plan_create(MPI_COMM_WORLD, nq, b->ndim, b->shape, C128, &o, &p),
                 rank == nranks - 1 ? DGAMPI_STATUS_INVALID_ARGUMENT : DGAMPI_STATUS_REMOTE_ERROR, "dgampi_fft_plan_create");
    CHECK(p == NULL, "a refused plan was created");
}

static void test_normalization(void) {
    static const int64_t nq[3] = {3, 4, 5};
    const struct batch *b = &BATCHES[1];
    int64_t N = grid_points(nq), sizes[MAX_RANKS], offs[MAX_RANKS];
    size_t W = batch_width(b->ndim, b->shape);
    block_layout(N, nranks, sizes, offs);
    static const char *NORM[] = {"backward", "none", "ortho", "forward"};
    cplx *x = input_new((size_t)N * W, 500, C128);
    for (int norm = 0; norm < 4; norm++)
        for (int dir = -1; dir <= 1; dir += 2)
            for (int d = 0; d < 2; d++) {
                int32_t dtype = d ? C64 : C128;
                static char what[160];
                snprintf(what, sizeof what, "normalization %s, %s, %s", NORM[norm], dir == FWD ? "forward" : "backward",
                         dtype_name(dtype));
                check_section = what;
                cplx *xin = input_new((size_t)N * W, 500, dtype);
                cplx *ref = dft3_new(xin, nq, W, dir, norm_factor(norm, dir, N));
                dgampi_fft_options o = make_options(dir, norm, DGAMPI_FFT_STRATEGY_AUTO);
                dgampi_fft_plan *p = plan_new(MPI_COMM_WORLD, nq, b, dtype, &o, 0, what);
                struct block blk;
                block_init(&blk, dtype, xin, offs[rank], sizes[rank], b->ndim, b->shape, 0, 0);
                if (p) {
                    CHECK_OK(dgampi_fft_plan_execute(p, &blk.a));
                    CHECK_CLOSE(&blk, ref, offs[rank], W, max_abs(ref, (size_t)N * W), tolerance(dtype), what);
                }
                plan_free(&p);
                block_free(&blk);
                free(xin);
                free(ref);
            }
    /* ortho round trip, each strategy */
    for (int s = 0; s < N_STRATEGIES; s++) {
        static char what[160];
        snprintf(what, sizeof what, "ortho round trip %s", strategy_name(STRATEGIES[s]));
        check_section = what;
        dgampi_fft_options fo = make_options(FWD, DGAMPI_FFT_NORMALIZATION_ORTHO, STRATEGIES[s]);
        dgampi_fft_options bo = make_options(BWD, DGAMPI_FFT_NORMALIZATION_ORTHO, STRATEGIES[s]);
        dgampi_fft_plan *fp = plan_new(MPI_COMM_WORLD, nq, b, C128, &fo, 0, what);
        dgampi_fft_plan *bp = plan_new(MPI_COMM_WORLD, nq, b, C128, &bo, 0, what);
        struct block blk;
        block_init(&blk, C128, x, offs[rank], sizes[rank], b->ndim, b->shape, 0, 0);
        cplx *ref = dft3_new(x, nq, W, -1, 1.0 / sqrt((double)N));
        if (fp && bp) {
            CHECK_OK(dgampi_fft_plan_execute(fp, &blk.a));
            CHECK_CLOSE(&blk, ref, offs[rank], W, max_abs(ref, (size_t)N * W), 1e-12, "ortho forward");
            CHECK_OK(dgampi_fft_plan_execute(bp, &blk.a));
            CHECK_CLOSE(&blk, x, offs[rank], W, max_abs(x, (size_t)N * W), 1e-12, "ortho backward of the forward");
        }
        plan_free(&fp);
        plan_free(&bp);
        block_free(&blk);
        free(ref);
    }
    free(x);
}

/* ------------------------------------------------------------------ one-shot, _f, options */

static void test_options_default(void) {
    check_section = "dgampi_fft_options_init";
    dgampi_fft_options o;
    memset(&o, 0x5a, sizeof o);
    CHECK_OK(dgampi_fft_options_init(&o, sizeof o));
    CHECK(o.direction == DGAMPI_FFT_DIRECTION_FORWARD && o.normalization == DGAMPI_FFT_NORMALIZATION_BACKWARD &&
              o.strategy == DGAMPI_FFT_STRATEGY_AUTO && o.rigor == DGAMPI_FFT_RIGOR_ESTIMATE && o.limit == 0 &&
              o.transposition == DGAMPI_FFT_TRANSPOSITION_NATURAL,
          "defaults: direction %d normalization %d strategy %d rigor %d limit %zu transposition %d", (int)o.direction,
          (int)o.normalization, (int)o.strategy, (int)o.rigor, o.limit, (int)o.transposition);
}

/* The one-shot (C and _f) with NULL options (forward), backward options,
 * forced strategies and ortho; and plans with NULL options. */
static void test_one_shot(void) {
    static const int64_t nq[3] = {3, 5, 2};
    MPI_Fint fworld = MPI_Comm_c2f(MPI_COMM_WORLD);
    for (int bi = 0; bi < N_BATCHES; bi++) {
        const struct batch *b = &BATCHES[bi];
        int64_t N = grid_points(nq), sizes[MAX_RANKS], offs[MAX_RANKS];
        size_t W = batch_width(b->ndim, b->shape);
        block_layout(N, nranks, sizes, offs);
        for (int d = 0; d < 2; d++) {
            int32_t dtype = d ? C64 : C128;
            static char what[160];
            snprintf(what, sizeof what, "one-shot batch %s %s", b->name, dtype_name(dtype));
            check_section = what;
            cplx *x = input_new((size_t)N * W, 600 + bi, dtype);
            cplx *ref = dft3_new(x, nq, W, -1, 1.0);
            double sx = max_abs(x, (size_t)N * W), sr = max_abs(ref, (size_t)N * W);
            struct block blk;
            block_init(&blk, dtype, x, offs[rank], sizes[rank], b->ndim, b->shape, 0, 1);
            /* NULL options: forward, unnormalized */
            CHECK_OK(dgampi_fft_execute_once(MPI_COMM_WORLD, nq, &blk.a, NULL));
            CHECK_CLOSE(&blk, ref, offs[rank], W, sr, tolerance(dtype), "one-shot, NULL options (forward)");
            dgampi_fft_options bo = make_options(BWD, DGAMPI_FFT_NORMALIZATION_BACKWARD, DGAMPI_FFT_STRATEGY_AUTO);
            CHECK_OK(dgampi_fft_execute_once_f(fworld, nq, &blk.a, &bo));
            CHECK_CLOSE(&blk, x, offs[rank], W, sx, tolerance(dtype), "one-shot _f backward of the forward");
            for (int s = 1; s < N_STRATEGIES; s++) {
                dgampi_fft_options fo = make_options(FWD, DGAMPI_FFT_NORMALIZATION_ORTHO, STRATEGIES[s]);
                bo = make_options(BWD, DGAMPI_FFT_NORMALIZATION_ORTHO, STRATEGIES[s]);
                char w2[200];
                snprintf(w2, sizeof w2, "one-shot ortho %s forward", strategy_name(STRATEGIES[s]));
                cplx *oref = dft3_new(x, nq, W, -1, 1.0 / sqrt((double)N));
                if (s % 2)
                    CHECK_OK(dgampi_fft_execute_once(MPI_COMM_WORLD, nq, &blk.a, &fo));
                else
                    CHECK_OK(dgampi_fft_execute_once_f(fworld, nq, &blk.a, &fo));
                CHECK_CLOSE(&blk, oref, offs[rank], W, max_abs(oref, (size_t)N * W), tolerance(dtype), w2);
                snprintf(w2, sizeof w2, "one-shot ortho %s backward", strategy_name(STRATEGIES[s]));
                CHECK_OK(dgampi_fft_execute_once(MPI_COMM_WORLD, nq, &blk.a, &bo));
                CHECK_CLOSE(&blk, x, offs[rank], W, sx, tolerance(dtype), w2);
                free(oref);
            }
            /* measuring rigors time FFTs on scratch memory, never on the caller's block */
            for (int r = DGAMPI_FFT_RIGOR_MEASURE; r <= DGAMPI_FFT_RIGOR_PATIENT; r++) {
                dgampi_fft_options mo = make_options(FWD, DGAMPI_FFT_NORMALIZATION_NONE, STRATEGIES[r]);
                mo.rigor = r;
                CHECK_OK(dgampi_fft_execute_once(MPI_COMM_WORLD, nq, &blk.a, &mo));
                CHECK_CLOSE(&blk, ref, offs[rank], W, sr, tolerance(dtype), "one-shot with a measuring rigor");
                mo.direction = BWD;
                mo.normalization = DGAMPI_FFT_NORMALIZATION_BACKWARD;
                CHECK_OK(dgampi_fft_execute_once_f(fworld, nq, &blk.a, &mo));
                CHECK_CLOSE(&blk, x, offs[rank], W, sx, tolerance(dtype), "one-shot backward with a measuring rigor");
            }
            /* a plan with NULL options is forward with the defaults */
            dgampi_fft_plan *p = plan_new(MPI_COMM_WORLD, nq, b, dtype, NULL, d, "plan with NULL options");
            if (p) {
                CHECK_OK(dgampi_fft_plan_execute(p, &blk.a));
                CHECK_CLOSE(&blk, ref, offs[rank], W, sr, tolerance(dtype), "plan with NULL options (forward)");
            }
            plan_free(&p);
            block_free(&blk);
            free(x);
            free(ref);
        }
    }
}

/* ------------------------------------------------------------------ communicators */

/* Plans on sub-communicators (halves of different grids at once) and on
 * MPI_COMM_WORLD in reverse order: the flat split follows the plan's ranks. */
static void test_comms(void) {
    MPI_Comm half, reversed;
    MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &half);
    MPI_Comm_split(MPI_COMM_WORLD, 0, -rank, &reversed);
    const int64_t *nq = rank % 2 ? GRIDS[2] : GRIDS[0];
    for (int s = 0; s < N_STRATEGIES; s++) {
        transform_case(half, nq, &BATCHES[1], C128, STRATEGIES[s], 0, s % 2, 700 + s);
        transform_case(reversed, GRIDS[1], &BATCHES[0], C128, STRATEGIES[s], 0, s % 2, 710 + s);
    }
    /* two plans on different communicators alive and executed interleaved */
    check_section = "interleaved plans on two communicators";
    const struct batch *b = &BATCHES[1];
    int hr, hs;
    MPI_Comm_rank(half, &hr);
    MPI_Comm_size(half, &hs);
    size_t W = batch_width(b->ndim, b->shape);
    int64_t Nh = grid_points(nq), Nw = grid_points(GRIDS[1]);
    int64_t hsz[MAX_RANKS], hof[MAX_RANKS], wsz[MAX_RANKS], wof[MAX_RANKS];
    block_layout(Nh, hs, hsz, hof);
    block_layout(Nw, nranks, wsz, wof);
    dgampi_fft_plan *ph = plan_new(half, nq, b, C128, NULL, 0, check_section);
    dgampi_fft_plan *pw = plan_new(MPI_COMM_WORLD, GRIDS[1], b, C128, NULL, 1, check_section);
    cplx *xh = input_new((size_t)Nh * W, 720, C128), *xw = input_new((size_t)Nw * W, 721, C128);
    cplx *rh = dft3_new(xh, nq, W, -1, 1.0), *rw = dft3_new(xw, GRIDS[1], W, -1, 1.0);
    struct block bh, bw;
    block_init(&bh, C128, xh, hof[hr], hsz[hr], b->ndim, b->shape, 0, 0);
    block_init(&bw, C128, xw, wof[rank], wsz[rank], b->ndim, b->shape, 0, 0);
    if (ph && pw) {
        CHECK_OK(dgampi_fft_plan_execute(pw, &bw.a));
        CHECK_OK(dgampi_fft_plan_execute(ph, &bh.a));
        CHECK_CLOSE(&bh, rh, hof[hr], W, max_abs(rh, (size_t)Nh * W), 1e-12, "the half's plan");
        CHECK_CLOSE(&bw, rw, wof[rank], W, max_abs(rw, (size_t)Nw * W), 1e-12, "the world's plan");
    }
    plan_free(&pw);
    /* the plan holds its own communicator: it outlives the caller's */
    check_section = "a plan outliving its communicator";
    MPI_Comm dup;
    MPI_Comm_dup(half, &dup);
    dgampi_fft_plan *pd = plan_new(dup, nq, b, C128, NULL, 0, check_section);
    MPI_Comm_free(&dup);
    block_free(&bh);
    block_init(&bh, C128, xh, hof[hr], hsz[hr], b->ndim, b->shape, 0, 0);
    if (pd) {
        CHECK_OK(dgampi_fft_plan_execute(pd, &bh.a));
        CHECK_CLOSE(&bh, rh, hof[hr], W, max_abs(rh, (size_t)Nh * W), 1e-12, "after MPI_Comm_free of its communicator");
    }
    plan_free(&pd);
    plan_free(&ph);
    block_free(&bh);
    block_free(&bw);
    free(xh);
    free(xw);
    free(rh);
    free(rw);
    MPI_Comm_free(&half);
    MPI_Comm_free(&reversed);
}

/* ------------------------------------------------------------------ edges */

/* A batch with a zero extent: nothing to transform; empty blocks (NULL data)
 * on every rank. And a one-shot on a grid with fewer points than ranks. */
static void test_edges(void) {
    static const int64_t nq[3] = {3, 2, 2};
    static const struct batch zero_batch = {2, {4, 0, 0}, "(4,0)"};
    int64_t sizes[MAX_RANKS], offs[MAX_RANKS];
    block_layout(grid_points(nq), nranks, sizes, offs);
    for (int s = 0; s < N_STRATEGIES; s++) {
        static char what[160];
        snprintf(what, sizeof what, "a batch with a zero extent, %s", strategy_name(STRATEGIES[s]));
        check_section = what;
        dgampi_fft_options o = make_options(FWD, DGAMPI_FFT_NORMALIZATION_ORTHO, STRATEGIES[s]);
        dgampi_fft_plan *p = plan_new(MPI_COMM_WORLD, nq, &zero_batch, C128, &o, 0, what);
        int64_t shape[3] = {sizes[rank], 4, 0};
        dgampi_array a = make_array(NULL, C128, 3, shape, NULL);
        if (p) CHECK_OK(dgampi_fft_plan_execute(p, &a));
        plan_free(&p);
        CHECK_OK(dgampi_fft_execute_once(MPI_COMM_WORLD, nq, &a, &o));
    }
    /* one-shot where some ranks own no q (NULL data there) */
    static const int64_t tiny[3] = {1, 2, 1};
    for (int bi = 0; bi < N_BATCHES; bi++) {
        static char what[160];
        snprintf(what, sizeof what, "one-shot on a 1x2x1 grid, batch %s", BATCHES[bi].name);
        check_section = what;
        const struct batch *b = &BATCHES[bi];
        size_t W = batch_width(b->ndim, b->shape);
        block_layout(2, nranks, sizes, offs);
        cplx *x = input_new(2 * W, 1000 + bi, C128), *ref = dft3_new(x, tiny, W, -1, 1.0);
        struct block blk;
        block_init(&blk, C128, x, offs[rank], sizes[rank], b->ndim, b->shape, 0, 1);
        CHECK_OK(dgampi_fft_execute_once(MPI_COMM_WORLD, tiny, &blk.a, NULL));
        CHECK_CLOSE(&blk, ref, offs[rank], W, max_abs(ref, 2 * W), 1e-12, what);
        block_free(&blk);
        free(x);
        free(ref);
    }
}

/* ------------------------------------------------------------------ limits, rigor */

/* Explicit limits in the options, and a plan keeping the limit in force at
 * its creation when the process-wide limit changes afterwards (under the
 * PMPI checker, a larger message would abort the run). */
static void test_limits_and_rigor(void) {
    static const int64_t nq[3] = {4, 2, 3};
    const struct batch *b = &BATCHES[1];
    int64_t N = grid_points(nq), sizes[MAX_RANKS], offs[MAX_RANKS];
    size_t W = batch_width(b->ndim, b->shape);
    block_layout(N, nranks, sizes, offs);
    cplx *x = input_new((size_t)N * W, 800, C128);
    cplx *ref = dft3_new(x, nq, W, -1, 1.0);
    double sr = max_abs(ref, (size_t)N * W);
    static const size_t LIMITS[] = {1, 2, 16, 17, 1000};
    for (int li = 0; li < 5; li++)
        for (int s = 0; s < N_STRATEGIES; s++) {
            static char what[160];
            snprintf(what, sizeof what, "explicit limit %zu, %s", lim(LIMITS[li]), strategy_name(STRATEGIES[s]));
            check_section = what;
            dgampi_fft_options o = make_options(FWD, DGAMPI_FFT_NORMALIZATION_BACKWARD, STRATEGIES[s]);
            o.limit = lim(LIMITS[li]);
            dgampi_fft_plan *p = plan_new(MPI_COMM_WORLD, nq, b, C128, &o, 0, what);
            struct block blk;
            block_init(&blk, C128, x, offs[rank], sizes[rank], b->ndim, b->shape, 0, 0);
            if (p) {
                CHECK_OK(dgampi_fft_plan_execute(p, &blk.a));
                CHECK_CLOSE(&blk, ref, offs[rank], W, sr, 1e-12, what);
            }
            plan_free(&p);
            block_free(&blk);
        }
    /* the limit at creation stays with the plan */
    size_t before = 0;
    CHECK_OK(dgampi_max_message_bytes(&before));
    for (int s = 0; s < N_STRATEGIES; s++) {
        static char what[160];
        snprintf(what, sizeof what, "limit at creation (%zu bytes), %s", before, strategy_name(STRATEGIES[s]));
        check_section = what;
        dgampi_fft_options o = make_options(FWD, DGAMPI_FFT_NORMALIZATION_BACKWARD, STRATEGIES[s]);
        dgampi_fft_plan *p = plan_new(MPI_COMM_WORLD, nq, b, C128, &o, 0, what);
        CHECK_OK(dgampi_set_max_message_bytes(1 << 30));
        struct block blk;
        block_init(&blk, C128, x, offs[rank], sizes[rank], b->ndim, b->shape, 0, 0);
        if (p) {
            CHECK_OK(dgampi_fft_plan_execute(p, &blk.a));
            CHECK_CLOSE(&blk, ref, offs[rank], W, sr, 1e-12, what);
        }
        CHECK_OK(dgampi_set_max_message_bytes(before));
        plan_free(&p);
        block_free(&blk);
    }
    /* measure and patient rigor give the same transform */
    for (int r = DGAMPI_FFT_RIGOR_MEASURE; r <= DGAMPI_FFT_RIGOR_PATIENT; r++)
        for (int d = 0; d < 2; d++) {
            int32_t dtype = d ? C64 : C128;
            static char what[160];
            snprintf(what, sizeof what, "rigor %d %s", r, dtype_name(dtype));
            check_section = what;
            cplx *xin = input_new((size_t)N * W, 810, dtype);
            cplx *rin = dft3_new(xin, nq, W, -1, 1.0);
            dgampi_fft_options o = make_options(FWD, DGAMPI_FFT_NORMALIZATION_BACKWARD, DGAMPI_FFT_STRATEGY_AUTO);
            o.rigor = r;
            dgampi_fft_plan *p = plan_new(MPI_COMM_WORLD, nq, b, dtype, &o, 0, what);
            struct block blk;
            block_init(&blk, dtype, xin, offs[rank], sizes[rank], b->ndim, b->shape, 0, 0);
            if (p) {
                CHECK_OK(dgampi_fft_plan_execute(p, &blk.a));
                CHECK_CLOSE(&blk, rin, offs[rank], W, max_abs(rin, (size_t)N * W), tolerance(dtype), what);
            }
            plan_free(&p);
            block_free(&blk);
            free(xin);
            free(rin);
        }
    free(x);
    free(ref);
}

/* ------------------------------------------------------------------ pencil indices */

/* The documented layouts, computed here: rank r of p in `layout`. */
static size_t expected_indices(int r, int p, const int64_t nq[3], int layout, int64_t *out) {
    size_t n = 0;
    if (layout == DGAMPI_LAYOUT_FLAT) {
        int64_t sizes[MAX_RANKS], offs[MAX_RANKS];
        block_layout(grid_points(nq), p, sizes, offs);
        for (int64_t q = offs[r]; q < offs[r] + sizes[r]; q++) out[n++] = q;
        return n;
    }
    int axis = layout == DGAMPI_LAYOUT_Z_PENCIL ? 2 : layout == DGAMPI_LAYOUT_Y_PENCIL ? 1 : 0;
    int a = axis == 0 ? 1 : 0, b = axis == 2 ? 1 : 2; /* the other two axes, increasing */
    int64_t lines = nq[a] * nq[b];
    /* lines split with the excess on the FIRST ranks */
    int64_t base = lines / p, extra = lines % p;
    int64_t first = r * base + (r < extra ? r : extra), count = base + (r < extra ? 1 : 0);
    for (int64_t l = first; l < first + count; l++)
        for (int64_t pos = 0; pos < nq[axis]; pos++) {
            int64_t c[3];
            c[a] = l / nq[b];
            c[b] = l % nq[b];
            c[axis] = pos;
            out[n++] = (c[0] * nq[1] + c[1]) * nq[2] + c[2];
        }
    return n;
}

static void test_pencil_indices(void) {
    static const int64_t more[][3] = {{2, 3, 4}, {5, 1, 3}, {1, 1, 1}};
    static const char *LNAME[] = {"flat", "z_pencil", "y_pencil", "x_pencil"};
    enum { MAXN = 512 };
    int64_t got[MAXN + 1], want[MAXN];
    int seen[MAXN];
    for (int g = 0; g < N_GRIDS + 3; g++) {
        const int64_t *nq = g < N_GRIDS ? GRIDS[g] : more[g - N_GRIDS];
        int64_t N = grid_points(nq);
        for (int layout = 0; layout < 4; layout++)
            for (int p = 1; p <= 6; p++) {
                static char what[160];
                snprintf(what, sizeof what, "pencil indices %lldx%lldx%lld %s on %d rank(s)", (long long)nq[0],
                         (long long)nq[1], (long long)nq[2], LNAME[layout], p);
                check_section = what;
                memset(seen, 0, sizeof seen);
                for (int r = 0; r < p; r++) {
                    size_t count = 12345, count2 = 54321;
                    CHECK_OK(dgampi_fft_pencil_indices(r, p, nq, layout, NULL, 0, &count));
                    size_t nw = expected_indices(r, p, nq, layout, want);
                    CHECK(count == nw, "rank %d: count %zu, expected %zu", r, count, nw);
                    if (count != nw || count > MAXN) continue;
                    for (int k = 0; k <= MAXN; k++) got[k] = -99;
                    CHECK_OK(dgampi_fft_pencil_indices(r, p, nq, layout, got, count, &count2));
                    CHECK(count2 == count, "rank %d: count %zu with out, %zu without", r, count2, count);
                    CHECK(got[count] == -99, "rank %d: wrote past the count", r);
                    for (size_t k = 0; k < count; k++) {
                        if (got[k] < 0 || got[k] >= N) {
                            check_fail(__FILE__, __LINE__, "rank %d: index %lld out of the grid", r, (long long)got[k]);
                            break;
                        }
                        seen[got[k]]++;
                        if (got[k] != want[k]) {
                            check_fail(__FILE__, __LINE__, "rank %d: index %zu is %lld, expected %lld", r, k,
                                       (long long)got[k], (long long)want[k]);
                            break;
                        }
                    }
                    /* more room than needed is fine; too little is OUT_OF_RANGE */
                    CHECK_OK(dgampi_fft_pencil_indices(r, p, nq, layout, got, MAXN, &count2));
                    if (count > 0)
                        CHECK_STATUS(dgampi_fft_pencil_indices(r, p, nq, layout, got, count - 1, &count2), S_RANGE,
                                     "dgampi_fft_pencil_indices");
                }
                /* the union over the ranks tiles the grid */
                for (int64_t q = 0; q < N; q++)
                    if (seen[q] != 1) {
                        check_fail(__FILE__, __LINE__, "q %lld is owned %d times", (long long)q, seen[q]);
                        break;
                    }
            }
    }
    check_section = "pencil indices: bad arguments";
    static const int64_t nq[3] = {2, 3, 2}, zero[3] = {2, 0, 2}, neg[3] = {2, -3, 2};
    size_t count = 0;
    int64_t out[16];
    int bad_layouts[] = {4, -1, 99};
    for (int k = 0; k < 3; k++) {
        CHECK_STATUS(dgampi_fft_pencil_indices(0, 2, nq, bad_layouts[k], NULL, 0, &count), S_INVALID,
                     "dgampi_fft_pencil_indices");
        CHECK_STATUS(dgampi_fft_pencil_indices(0, 2, nq, bad_layouts[k], out, 16, &count), S_INVALID,
                     "dgampi_fft_pencil_indices");
    }
    CHECK_STATUS(dgampi_fft_pencil_indices(0, 1, nq, DGAMPI_LAYOUT_FLAT, out, 11, &count), S_RANGE,
                 "dgampi_fft_pencil_indices");
    CHECK_STATUS(dgampi_fft_pencil_indices(0, 1, nq, DGAMPI_LAYOUT_X_PENCIL, out, 0, &count), S_RANGE,
                 "dgampi_fft_pencil_indices");
    CHECK_STATUS(dgampi_fft_pencil_indices(0, 2, nq, DGAMPI_LAYOUT_Z_PENCIL, NULL, 0, NULL), S_NULL,
                 "dgampi_fft_pencil_indices");
    CHECK_STATUS(dgampi_fft_pencil_indices(0, 2, NULL, DGAMPI_LAYOUT_Z_PENCIL, NULL, 0, &count), S_NULL,
                 "dgampi_fft_pencil_indices");
    CHECK_STATUS(dgampi_fft_pencil_indices(0, 2, zero, DGAMPI_LAYOUT_Z_PENCIL, NULL, 0, &count), S_INVALID,
                 "dgampi_fft_pencil_indices");
    CHECK_STATUS(dgampi_fft_pencil_indices(0, 2, neg, DGAMPI_LAYOUT_Z_PENCIL, NULL, 0, &count), S_INVALID,
                 "dgampi_fft_pencil_indices");
    CHECK_STATUS(dgampi_fft_pencil_indices(-1, 2, nq, DGAMPI_LAYOUT_FLAT, NULL, 0, &count), S_INVALID,
                 "dgampi_fft_pencil_indices");
    CHECK_STATUS(dgampi_fft_pencil_indices(0, 0, nq, DGAMPI_LAYOUT_FLAT, NULL, 0, &count), S_INVALID,
                 "dgampi_fft_pencil_indices");
    CHECK_STATUS(dgampi_fft_pencil_indices(0, -2, nq, DGAMPI_LAYOUT_FLAT, NULL, 0, &count), S_INVALID,
                 "dgampi_fft_pencil_indices");
    CHECK_STATUS(dgampi_fft_pencil_indices(2, 2, nq, DGAMPI_LAYOUT_FLAT, NULL, 0, &count), S_RANGE,
                 "dgampi_fft_pencil_indices");
    /* after the errors, a good call leaves no message */
    CHECK_OK(dgampi_fft_pencil_indices(1, 2, nq, DGAMPI_LAYOUT_Y_PENCIL, out, 16, &count));
    CHECK(count == 6, "y-pencils of 2x3x2 on rank 1 of 2: %zu indices", count);
}

/* ------------------------------------------------------------------ transposed layouts */

/* 7x2x1 at 3 ranks: x-slabs of 4, 4, 6 points, flat blocks of 4, 5, 5 */
static const int64_t TGRIDS[][3] = {{2, 3, 2}, {4, 3, 5}, {1, 1, 2}, {7, 2, 1}};
#define N_TGRIDS ((int)(sizeof TGRIDS / sizeof TGRIDS[0]))

/* Each of the n items (q-points or batch columns) is held by exactly one
 * rank of comm (mine[i]: this rank holds item i). Collective; one-byte
 * sums, so that it obeys a 1-byte limit under the PMPI checker. */
static void check_tiling(MPI_Comm comm, const unsigned char *mine, size_t n, const char *items) {
    for (size_t i = 0; i < n; i++) {
        unsigned char sum = 0;
        MPI_Allreduce(&mine[i], &sum, 1, MPI_UNSIGNED_CHAR, MPI_SUM, comm);
        if (sum != 1) { /* the same sum on every rank: all stop here */
            check_fail(__FILE__, __LINE__, "%s %zu is held by %d ranks", items, i, (int)sum);
            return;
        }
    }
}

/* Checks side s of a plan of `strategy` (resolved) on comm: the flat split
 * (`flat`), else the strategy's transposed layout: batch transpose every q
 * in order for a slice of the batch; slab whole y-planes (x and z whole) in
 * grid order; pencil the x-pencils of dgampi_fft_pencil_indices; all with
 * the whole batch. With `tiling` (collective: the same on every rank) the
 * ranks' parts must tile the grid, or the batch for the batch transpose. */
static void check_side(MPI_Comm comm, const struct side *s, int flat, int strategy, const int64_t nq[3], size_t W,
                       int tiling, const char *which) {
    int crank, csize;
    MPI_Comm_rank(comm, &crank);
    MPI_Comm_size(comm, &csize);
    int64_t N = grid_points(nq), sizes[MAX_RANKS], offs[MAX_RANKS];
    block_layout(N, csize, sizes, offs);
    int bt = strategy == DGAMPI_FFT_STRATEGY_BATCH_TRANSPOSE;
    CHECK(s->flat == flat, "%s: flat %d, expected %d", which, (int)s->flat, flat);
    if (flat || !bt)
        CHECK(s->batch_start == 0 && s->batch_len == (int64_t)W, "%s: batch columns %lld + %lld, expected the whole %zu",
              which, (long long)s->batch_start, (long long)s->batch_len, W);
    if (flat) {
        CHECK(s->count == sizes[crank], "%s: %lld rows, the flat split has %lld", which, (long long)s->count,
              (long long)sizes[crank]);
        for (int64_t k = 0; k < s->count; k++)
            if (s->idx[k] != offs[crank] + k) {
                check_fail(__FILE__, __LINE__, "%s: row %lld is q %lld, the flat split's is %lld", which, (long long)k,
                           (long long)s->idx[k], (long long)(offs[crank] + k));
                break;
            }
        return;
    }
    if (bt) {
        CHECK(s->count == N, "%s: %lld rows, the batch transpose holds all %lld", which, (long long)s->count, (long long)N);
        for (int64_t k = 0; k < s->count; k++)
            if (s->idx[k] != k) {
                check_fail(__FILE__, __LINE__, "%s: row %lld is q %lld", which, (long long)k, (long long)s->idx[k]);
                break;
            }
    } else if (strategy == DGAMPI_FFT_STRATEGY_SLAB) {
        int64_t ylo = nq[1], yhi = -1;
        for (int64_t k = 0; k < s->count; k++) {
            int64_t iy = (s->idx[k] / nq[2]) % nq[1];
            if (iy < ylo) ylo = iy;
            if (iy > yhi) yhi = iy;
            if (k > 0 && s->idx[k] <= s->idx[k - 1]) {
                check_fail(__FILE__, __LINE__, "%s: y-slab rows not in grid order at row %lld", which, (long long)k);
                break;
            }
        }
        int64_t planes = yhi >= ylo ? yhi - ylo + 1 : 0;
        CHECK(s->count == planes * nq[0] * nq[2], "%s: %lld rows with y in %lld..%lld: not whole y-planes", which,
              (long long)s->count, (long long)ylo, (long long)yhi);
    } else {
        size_t n = 0;
        CHECK_OK(dgampi_fft_pencil_indices(crank, csize, nq, DGAMPI_LAYOUT_X_PENCIL, NULL, 0, &n));
        int64_t *want = malloc((n + 1) * sizeof *want);
        CHECK_OK(dgampi_fft_pencil_indices(crank, csize, nq, DGAMPI_LAYOUT_X_PENCIL, want, n, &n));
        int same = (int64_t)n == s->count;
        for (size_t k = 0; same && k < n; k++) same = want[k] == s->idx[k];
        CHECK(same, "%s: not the x-pencils of dgampi_fft_pencil_indices (%lld rows, %zu expected)", which,
              (long long)s->count, n);
        free(want);
    }
    if (!tiling) return;
    size_t items = bt ? W : (size_t)N;
    unsigned char *mine = calloc(items + 1, 1);
    if (bt)
        for (int64_t j = 0; j < s->batch_len; j++) mine[s->batch_start + j] = 1;
    else
        for (int64_t k = 0; k < s->count; k++) mine[s->idx[k]] = 1;
    check_tiling(comm, mine, items, bt ? "batch column" : "q");
    free(mine);
}

/* Case flags of transposed_case. */
enum { TC_USE_F = 1, TC_BATCH_SHAPED = 2, TC_MISALIGN_IN = 4, TC_MISALIGN_OUT = 8, TC_TILING = 16 };

/* One transposed plan on comm: the input (flat or in the plan's transposed
 * layout, as dgampi_fft_plan_layout and _indices say) transformed into the
 * output matches the reference there; twice, on fresh inputs (the input is
 * work space). */
static void transposed_case(MPI_Comm comm, const int64_t nq[3], const struct batch *b, int32_t dtype, int strategy,
                            int t, int dir, int flags, int seed) {
    int csize;
    MPI_Comm_size(comm, &csize);
    static char what[240];
    snprintf(what, sizeof what, "%s %s %lldx%lldx%lld batch %s %s %s%s%s%s on %d rank(s)", transposition_name(t),
             dir == FWD ? "forward" : "backward", (long long)nq[0], (long long)nq[1], (long long)nq[2], b->name,
             dtype_name(dtype), strategy_name(strategy), flags & TC_USE_F ? " (_f)" : "",
             flags & TC_BATCH_SHAPED ? " batch-shaped" : "", flags & (TC_MISALIGN_IN | TC_MISALIGN_OUT) ? " unaligned" : "",
             csize);
    check_section = what;
    int64_t N = grid_points(nq);
    size_t W = batch_width(b->ndim, b->shape);
    dgampi_fft_options o = make_transposed(dir, strategy, t);
    dgampi_fft_plan *p = plan_new(comm, nq, b, dtype, &o, flags & TC_USE_F, what);
    if (!p) return;
    int32_t used = -1;
    CHECK_OK(dgampi_fft_plan_strategy(p, &used));
    struct side in, out;
    side_get(p, SIDE_IN, N, W, &in);
    side_get(p, SIDE_OUT, N, W, &out);
    check_side(comm, &in, t != T_IN, used, nq, W, flags & TC_TILING, "input side");
    check_side(comm, &out, t != T_OUT, used, nq, W, flags & TC_TILING, "output side");
    size_t mis = dtype == C128 ? 8 : 4; /* element-aligned, not 16-byte aligned */
    for (int rep = 0; rep < 2; rep++) {
        cplx *x = input_new((size_t)N * W, seed + rep, dtype);
        cplx *ref = dft3_new(x, nq, W, dir, norm_factor(DGAMPI_FFT_NORMALIZATION_BACKWARD, dir, N));
        cplx *want = side_values_new(ref, &out, W);
        struct block bi, bo;
        side_block_init(&bi, dtype, x, &in, W, b->ndim, b->shape, flags & TC_BATCH_SHAPED,
                        flags & TC_MISALIGN_IN ? mis : 0, 1);
        side_block_init(&bo, dtype, NULL, &out, W, b->ndim, b->shape, flags & TC_BATCH_SHAPED,
                        flags & TC_MISALIGN_OUT ? mis : 0, 1);
        CHECK_OK(dgampi_fft_plan_execute_into(p, &bi.a, &bo.a));
        char w2[300];
        snprintf(w2, sizeof w2, "%s: execution %d", what, rep + 1);
        CHECK_CLOSE(&bo, want, 0, (size_t)out.batch_len, max_abs(ref, (size_t)N * W), tolerance(dtype), w2);
        block_free(&bi);
        block_free(&bo);
        free(x);
        free(ref);
        free(want);
    }
    side_free(&in);
    side_free(&out);
    plan_free(&p);
}

/* Forward with the output transposed, then backward with the input
 * transposed, returns the input: the two plans agree on the layout. */
static void round_trip_case(MPI_Comm comm, const int64_t nq[3], const struct batch *b, int32_t dtype, int strategy,
                            int seed) {
    int csize;
    MPI_Comm_size(comm, &csize);
    static char what[200];
    snprintf(what, sizeof what, "round trip forward-out, backward-in %lldx%lldx%lld batch %s %s %s on %d rank(s)",
             (long long)nq[0], (long long)nq[1], (long long)nq[2], b->name, dtype_name(dtype), strategy_name(strategy),
             csize);
    check_section = what;
    int64_t N = grid_points(nq);
    size_t W = batch_width(b->ndim, b->shape);
    dgampi_fft_options fo = make_transposed(FWD, strategy, T_OUT), bo = make_transposed(BWD, strategy, T_IN);
    dgampi_fft_plan *fp = plan_new(comm, nq, b, dtype, &fo, 0, what), *bp = plan_new(comm, nq, b, dtype, &bo, 1, what);
    if (fp && bp) {
        int32_t sf = -1, sb = -2;
        CHECK_OK(dgampi_fft_plan_strategy(fp, &sf));
        CHECK_OK(dgampi_fft_plan_strategy(bp, &sb));
        CHECK(sf == sb, "the forward-out plan uses %s, the backward-in plan %s", strategy_name(sf), strategy_name(sb));
        struct side fin, fout, bin, bout;
        side_get(fp, SIDE_IN, N, W, &fin);
        side_get(fp, SIDE_OUT, N, W, &fout);
        side_get(bp, SIDE_IN, N, W, &bin);
        side_get(bp, SIDE_OUT, N, W, &bout);
        CHECK(side_equal(&fout, &bin), "the forward plan's output layout is not the backward plan's input layout");
        CHECK(side_equal(&fin, &bout) && fin.flat == 1, "the forward plan's input is not the backward plan's output");
        if (side_equal(&fout, &bin))
            for (int rep = 0; rep < 2; rep++) {
                cplx *x = input_new((size_t)N * W, seed + rep, dtype);
                cplx *ref = dft3_new(x, nq, W, FWD, 1.0);
                cplx *want = side_values_new(ref, &fout, W);
                struct block bx, mid, back;
                side_block_init(&bx, dtype, x, &fin, W, b->ndim, b->shape, 0, 0, rep);
                side_block_init(&mid, dtype, NULL, &fout, W, b->ndim, b->shape, rep, 0, rep);
                side_block_init(&back, dtype, NULL, &bout, W, b->ndim, b->shape, 0, 0, rep);
                CHECK_OK(dgampi_fft_plan_execute_into(fp, &bx.a, &mid.a));
                CHECK_CLOSE(&mid, want, 0, (size_t)fout.batch_len, max_abs(ref, (size_t)N * W), tolerance(dtype),
                            "the forward-out transform");
                CHECK_OK(dgampi_fft_plan_execute_into(bp, &mid.a, &back.a));
                cplx *mine = side_values_new(x, &bout, W);
                CHECK_CLOSE(&back, mine, 0, (size_t)bout.batch_len, max_abs(x, (size_t)N * W), tolerance(dtype),
                            "backward-in of the forward-out");
                free(mine);
                block_free(&bx);
                block_free(&mid);
                block_free(&back);
                free(x);
                free(ref);
                free(want);
            }
        side_free(&fin);
        side_free(&fout);
        side_free(&bin);
        side_free(&bout);
    }
    plan_free(&fp);
    plan_free(&bp);
}

/* A natural plan: both sides are the flat split, and the default
 * transposition is natural (options with transposition 0 explicitly too). */
static void natural_layout_case(void) {
    static const int64_t nq[3] = {4, 3, 5};
    const struct batch *b = &BATCHES[2];
    size_t W = batch_width(b->ndim, b->shape);
    for (int k = 0; k < 2; k++) {
        check_section = k ? "natural plan: layout (options, transposition 0)" : "natural plan: layout (NULL options)";
        dgampi_fft_options o = make_transposed(FWD, DGAMPI_FFT_STRATEGY_PENCIL, T_NATURAL);
        dgampi_fft_plan *p = plan_new(MPI_COMM_WORLD, nq, b, C128, k ? &o : NULL, 0, check_section);
        if (!p) continue;
        struct side in, out;
        side_get(p, SIDE_IN, grid_points(nq), W, &in);
        side_get(p, SIDE_OUT, grid_points(nq), W, &out);
        check_side(MPI_COMM_WORLD, &in, 1, DGAMPI_FFT_STRATEGY_PENCIL, nq, W, 0, "input side");
        check_side(MPI_COMM_WORLD, &out, 1, DGAMPI_FFT_STRATEGY_PENCIL, nq, W, 0, "output side");
        side_free(&in);
        side_free(&out);
        plan_free(&p);
    }
}

static void test_transposed(void) {
    natural_layout_case();
    int seed = 2000, k = 0;
    static const int TRANS[2] = {T_OUT, T_IN};
    for (int g = 0; g < N_TGRIDS; g++)
        for (int bi = 0; bi < N_BATCHES; bi++)
            for (int s = 0; s < N_STRATEGIES; s++) {
                if (g == 1 && bi == 2) continue; /* 4x3x5 x (2,2,5): slow under a 3-byte limit, nothing new */
                for (int ti = 0; ti < 2; ti++)
                    for (int dir = FWD; dir <= BWD; dir += 2)
                        for (int d = 0; d < 2; d++, k++) {
                            int32_t dtype = d ? C64 : C128;
                            /* vary the entry point, the array shapes and alignment; check
                             * the tiling once per (grid, batch, strategy, transposition) */
                            int flags = (k % 3 == 0 ? TC_USE_F : 0) | ((k / 3) % 2 ? TC_BATCH_SHAPED : 0) |
                                        (k % 5 == 1 ? TC_MISALIGN_IN : 0) | (k % 7 == 2 ? TC_MISALIGN_OUT : 0) |
                                        (dir == FWD && d == 0 ? TC_TILING : 0);
                            transposed_case(MPI_COMM_WORLD, TGRIDS[g], &BATCHES[bi], dtype, STRATEGIES[s], TRANS[ti], dir,
                                            flags, seed);
                            seed += 2;
                        }
                for (int d = 0; d < 2; d++, seed += 2)
                    round_trip_case(MPI_COMM_WORLD, TGRIDS[g], &BATCHES[bi], d ? C64 : C128, STRATEGIES[s], seed);
            }
    /* on sub-communicators: the layouts follow the plan's ranks */
    MPI_Comm half;
    MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &half);
    for (int s = 1; s < N_STRATEGIES; s++) {
        transposed_case(half, TGRIDS[1], &BATCHES[1], C128, STRATEGIES[s], T_OUT, FWD, TC_TILING, 3000 + s);
        round_trip_case(half, TGRIDS[rank % 2], &BATCHES[1], C128, STRATEGIES[s], 3010 + 2 * s);
    }
    MPI_Comm_free(&half);
}

/* ------------------------------------------------------------------ wisdom */

static void wisdom_lengths(size_t out[2]) {
    for (int d = 0; d < 2; d++) {
        out[d] = 0;
        CHECK_OK(dgampi_fft_export_wisdom(d ? C64 : C128, NULL, 0, &out[d]));
    }
}

static void test_wisdom(void) {
    for (int d = 0; d < 2; d++) {
        int32_t dtype = d ? C64 : C128;
        static char what[160];
        snprintf(what, sizeof what, "wisdom %s", dtype_name(dtype));
        check_section = what;
        /* a measured plan of a size not planned before adds wisdom */
        static const int64_t nq[3] = {6, 1, 10};
        dgampi_fft_options o = make_options(FWD, DGAMPI_FFT_NORMALIZATION_BACKWARD, DGAMPI_FFT_STRATEGY_AUTO);
        o.rigor = DGAMPI_FFT_RIGOR_MEASURE;
        dgampi_fft_plan *p = plan_new(MPI_COMM_WORLD, nq, &BATCHES[0], dtype, &o, 0, what);
        plan_free(&p);
        size_t needed = 0, needed2 = 0;
        CHECK_OK(dgampi_fft_export_wisdom(dtype, NULL, 0, &needed));
        CHECK(needed > wisdom0[d], "the wisdom did not grow after measured plans: %zu bytes before, %zu after",
              wisdom0[d], needed);
        char *buf = malloc(needed + 8);
        memset(buf, 'X', needed + 8);
        CHECK_OK(dgampi_fft_export_wisdom(dtype, buf, needed, &needed2));
        CHECK(needed2 == needed, "needed %zu then %zu", needed, needed2);
        CHECK(buf[needed - 1] == '\0' && strlen(buf) + 1 == needed && buf[needed] == 'X',
              "the text is not NUL-terminated at needed - 1 = %zu (strlen %zu)", needed - 1, strlen(buf));
        CHECK(strstr(buf, d ? "fftwf_wisdom" : "fftw_wisdom") != NULL, "not FFTW %s wisdom: '%.80s'",
              d ? "single" : "double", buf);
        /* too little room */
        CHECK_STATUS(dgampi_fft_export_wisdom(dtype, buf, needed - 1, &needed2), S_RANGE, "dgampi_fft_export_wisdom");
        CHECK(buf[needed - 2] == '\0' && strlen(buf) == needed - 2, "a short buffer does not hold the cut text");
        CHECK_OK(dgampi_fft_export_wisdom(dtype, buf, needed, NULL)); /* the whole text again */
        CHECK_STATUS(dgampi_fft_export_wisdom(dtype, buf, 0, &needed2), S_RANGE, "dgampi_fft_export_wisdom");
        CHECK(needed2 == needed, "too little room: needed %zu, expected %zu", needed2, needed);
        /* more room than needed */
        char *big = malloc(needed + 100);
        CHECK_OK(dgampi_fft_export_wisdom(dtype, big, needed + 100, &needed2));
        CHECK(strcmp(big, buf) == 0, "a second export differs");
        free(big);
        /* round trip: import what was exported, then export the same */
        CHECK_OK(dgampi_fft_import_wisdom(dtype, buf));
        CHECK_OK(dgampi_fft_export_wisdom(dtype, NULL, 0, &needed2));
        CHECK(needed2 == needed, "the wisdom changed length on re-import: %zu, was %zu", needed2, needed);
        /* the other precision's wisdom, garbage and an empty text fail */
        size_t on = 0;
        CHECK_OK(dgampi_fft_export_wisdom(d ? C128 : C64, NULL, 0, &on));
        char *other = malloc(on);
        CHECK_OK(dgampi_fft_export_wisdom(d ? C128 : C64, other, on, &on));
        CHECK_STATUS(dgampi_fft_import_wisdom(dtype, other), S_INVALID, "dgampi_fft_import_wisdom");
        free(other);
        CHECK_STATUS(dgampi_fft_import_wisdom(dtype, "this is not wisdom"), S_INVALID, "dgampi_fft_import_wisdom");
        CHECK_STATUS(dgampi_fft_import_wisdom(dtype, "(fftw-3.3.10 fftw_wisdom #x1 #x2"), S_INVALID,
                     "dgampi_fft_import_wisdom");
        CHECK_STATUS(dgampi_fft_import_wisdom(dtype, NULL), S_NULL, "dgampi_fft_import_wisdom");
        /* needed may be NULL (the size-query convention); buf and needed both NULL is an error */
        CHECK_OK(dgampi_fft_export_wisdom(dtype, buf, needed, NULL));
        CHECK_STATUS(dgampi_fft_export_wisdom(dtype, NULL, 0, NULL), S_NULL, "dgampi_fft_export_wisdom");
        /* after the failures the wisdom is intact and plans still work */
        CHECK_OK(dgampi_fft_export_wisdom(dtype, NULL, 0, &needed2));
        CHECK(needed2 == needed, "the wisdom changed after failed imports: %zu bytes, was %zu", needed2, needed);
        free(buf);
        transform_case(MPI_COMM_WORLD, nq, &BATCHES[0], dtype, DGAMPI_FFT_STRATEGY_AUTO, 0, 0, 900 + d);
    }
    check_section = "wisdom: real and unknown dtypes";
    size_t n = 0;
    int32_t bad[] = {DGAMPI_DTYPE_F64, DGAMPI_DTYPE_F32, DGAMPI_DTYPE_I32, 0, 99};
    for (int k = 0; k < 5; k++) {
        CHECK_STATUS(dgampi_fft_export_wisdom(bad[k], NULL, 0, &n), S_INVALID, "dgampi_fft_export_wisdom");
        CHECK_STATUS(dgampi_fft_import_wisdom(bad[k], "x"), S_INVALID, "dgampi_fft_import_wisdom");
    }
}

/* ------------------------------------------------------------------ reproducers */

/* Regression: dgampi_fft_pencil_indices once built the whole index list to
 * answer a count query (out NULL): {2^20, 2^20, 2^20} on one rank failed with
 * INTERNAL (capacity overflow). The count is now O(1) in time and memory. */
static void pencil_count_of_a_large_grid(void) {
    static const int64_t nq[3] = {(int64_t)1 << 20, (int64_t)1 << 20, (int64_t)1 << 20};
    size_t count = 0;
    CHECK_OK(dgampi_fft_pencil_indices(0, 1, nq, DGAMPI_LAYOUT_FLAT, NULL, 0, &count));
    CHECK(count == (size_t)1 << 60, "count %zu", count);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    check_rank = rank;
    last = nranks - 1;
    const char *env = getenv("DGAMPI_MAX_MESSAGE_BYTES");
    env_limit = env ? (size_t)strtoull(env, NULL, 10) : 0;
    if (nranks > MAX_RANKS) {
        MPI_Finalize();
        return 2;
    }
    if (argc > 1) {
        const char *which = argv[1];
        check_section = which;
        if (strcmp(which, "pencil_count_of_a_large_grid") == 0) pencil_count_of_a_large_grid();
        else {
            if (rank == 0) fprintf(stderr, "unknown case '%s'\n", which);
            MPI_Finalize();
            return 2;
        }
        return test_finish(which);
    }
    wisdom_lengths(wisdom0);
    test_options_default();
    test_matrix();
    test_unaligned();
    test_reuse();
    test_normalization();
    test_threads();
    test_one_shot();
    test_comms();
    test_edges();
    test_limits_and_rigor();
    test_pencil_indices();
    test_transposed();
    test_wisdom();
    return test_finish("fft");
}
