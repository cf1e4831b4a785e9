/* Shared helpers of the distributed-FFT C tests (fft.c, fft_bad_input.c):
 * deterministic complex inputs that every rank can build for the whole grid,
 * a direct separable DFT in plain C (the reference), the flat split of the
 * q axis, rank blocks in complex64 or complex128, and the comparison.
 *
 * Data are [q, batch...] with q = (ix*ny + iy)*nz + iz and the batch
 * flattened to W elements per q; element (q, b) of the whole array is at
 * q*W + b. The flat split gives rank r the contiguous q-block of
 * block_layout (N/P each, the remainder one each to the LAST ranks). */
#ifndef DGAMPI_C_TESTS_FFT_REF_H
#define DGAMPI_C_TESTS_FFT_REF_H

#include "arrays.h"
#include <complex.h>
#include <math.h>

typedef double complex cplx;

#define S_OK DGAMPI_STATUS_OK
#define S_NULL DGAMPI_STATUS_NULL_ARGUMENT
#define S_INVALID DGAMPI_STATUS_INVALID_ARGUMENT
#define S_MISMATCH DGAMPI_STATUS_MISMATCH
#define S_RANGE DGAMPI_STATUS_OUT_OF_RANGE
#define S_REMOTE DGAMPI_STATUS_REMOTE_ERROR
#define S_HANDLE DGAMPI_STATUS_INVALID_HANDLE

#define C64 DGAMPI_DTYPE_COMPLEX64
#define C128 DGAMPI_DTYPE_COMPLEX128
#define FWD DGAMPI_FFT_DIRECTION_FORWARD
#define BWD DGAMPI_FFT_DIRECTION_BACKWARD

#define MAX_RANKS 64

/* The flat split: ntasks / p each, the remainder one each to the LAST ranks. */
static void block_layout(int64_t ntasks, int p, int64_t *sizes, int64_t *offsets) {
    int64_t base = ntasks / p, extra = ntasks % p, off = 0;
    for (int r = 0; r < p; r++) {
        sizes[r] = base + (r >= p - extra ? 1 : 0);
        offsets[r] = off;
        off += sizes[r];
    }
}

static int64_t grid_points(const int64_t nq[3]) { return nq[0] * nq[1] * nq[2]; }

static size_t batch_width(int ndim, const int64_t *shape) {
    size_t w = 1;
    for (int k = 0; k < ndim; k++) w *= (size_t)shape[k];
    return w;
}

/* A uniform value in [-1, 1) from (i, seed) (splitmix64). */
static double unit_value(uint64_t i, int seed) {
    uint64_t z = i * 0x9E3779B97F4A7C15ULL + (uint64_t)(seed + 1) * 0xD1B54A32D192ED03ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0;
}

/* The whole input array (n elements) of `seed`; rounded to float precision
 * for complex64 so that the block holds exactly these values. */
static cplx *input_new(size_t n, int seed, int32_t dtype) {
    cplx *x = malloc((n + 1) * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        double re = unit_value(2 * i, seed), im = unit_value(2 * i + 1, seed);
        if (dtype == C64) {
            re = (double)(float)re;
            im = (double)(float)im;
        }
        x[i] = re + I * im;
    }
    return x;
}

static cplx *cplx_copy(const cplx *x, size_t n) {
    cplx *y = malloc((n + 1) * sizeof *y);
    memcpy(y, x, n * sizeof *y);
    return y;
}

/* In place: the unnormalized 1-D DFT with exp(sign * 2 pi i k j / n) along
 * `axis` of the whole [nx*ny*nz, W] array a. */
static void dft_axis(cplx *a, const int64_t nq[3], size_t W, int axis, int sign) {
    size_t len = (size_t)nq[axis];
    if (len == 1) return;
    size_t stride = W * (axis == 2 ? 1 : axis == 1 ? (size_t)nq[2] : (size_t)(nq[1] * nq[2]));
    const double two_pi = 2.0 * acos(-1.0);
    cplx *tw = malloc(len * sizeof *tw), *tmp = malloc(len * sizeof *tmp);
    for (size_t m = 0; m < len; m++) {
        double ang = (double)sign * two_pi * (double)m / (double)len;
        tw[m] = cos(ang) + I * sin(ang);
    }
    size_t n = (size_t)grid_points(nq);
    for (size_t q = 0; q < n; q++) {
        size_t c[3] = {q / (size_t)(nq[1] * nq[2]), (q / (size_t)nq[2]) % (size_t)nq[1], q % (size_t)nq[2]};
        if (c[axis] != 0) continue; /* q is the start of a line along axis */
        for (size_t b = 0; b < W; b++) {
            cplx *line = a + q * W + b;
            for (size_t k = 0; k < len; k++) {
                cplx s = 0;
                for (size_t j = 0; j < len; j++) s += line[j * stride] * tw[(k * j) % len];
                tmp[k] = s;
            }
            for (size_t k = 0; k < len; k++) line[k * stride] = tmp[k];
        }
    }
    free(tw);
    free(tmp);
}

/* A new array: the unnormalized 3-D DFT (sign -1 forward, +1 backward) of
 * the whole [N, W] array x, times `factor`. */
static cplx *dft3_new(const cplx *x, const int64_t nq[3], size_t W, int sign, double factor) {
    size_t n = (size_t)grid_points(nq) * W;
    cplx *y = cplx_copy(x, n);
    for (int axis = 0; axis < 3; axis++) dft_axis(y, nq, W, axis, sign);
    if (factor != 1.0)
        for (size_t i = 0; i < n; i++) y[i] *= factor;
    return y;
}

/* The factor a transform applies (numpy's norm names). */
static double norm_factor(int normalization, int direction, int64_t n) {
    switch (normalization) {
    case DGAMPI_FFT_NORMALIZATION_ORTHO: return 1.0 / sqrt((double)n);
    case DGAMPI_FFT_NORMALIZATION_BACKWARD: return direction == BWD ? 1.0 / (double)n : 1.0;
    case DGAMPI_FFT_NORMALIZATION_FORWARD: return direction == FWD ? 1.0 / (double)n : 1.0;
    default: return 1.0;
    }
}

static double max_abs(const cplx *x, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (cabs(x[i]) > m) m = cabs(x[i]);
    return m;
}

/* A rank's block [my_q, batch...] of a plan's dtype, its memory starting
 * `misalign` bytes into an allocation (to test unaligned arrays). data is
 * NULL when the block is empty and null_if_empty is set. */
struct block {
    unsigned char *mem;
    void *data;
    int32_t dtype;
    size_t n; /* elements */
    int64_t shape[DGAMPI_MAX_NDIM];
    int ndim;
    dgampi_array a;
};

/* Fills b with rows [off, off+rows) of the whole array x ([N, W], batch shape bshape). */
static void block_init(struct block *b, int32_t dtype, const cplx *x, int64_t off, int64_t rows, int bndim,
                       const int64_t *bshape, size_t misalign, int null_if_empty) {
    size_t W = batch_width(bndim, bshape), es = dtype_size(dtype);
    b->dtype = dtype;
    b->n = (size_t)rows * W;
    b->ndim = 1 + bndim;
    b->shape[0] = rows;
    for (int k = 0; k < bndim; k++) b->shape[1 + k] = bshape[k];
    b->mem = malloc(b->n * es + misalign + 16);
    b->data = b->mem + misalign;
    for (size_t i = 0; i < b->n; i++) {
        cplx v = x ? x[(size_t)off * W + i] : 0;
        if (dtype == C64) {
            float f[2] = {(float)creal(v), (float)cimag(v)};
            memcpy((unsigned char *)b->data + i * 8, f, 8);
        } else {
            double d[2] = {creal(v), cimag(v)};
            memcpy((unsigned char *)b->data + i * 16, d, 16);
        }
    }
    b->a = make_array(b->n == 0 && null_if_empty ? NULL : b->data, dtype, b->ndim, b->shape, NULL);
}

static void block_free(struct block *b) {
    free(b->mem);
    b->mem = NULL;
    b->data = NULL;
}

static cplx block_get(const struct block *b, size_t i) {
    if (b->dtype == C64) {
        float f[2];
        memcpy(f, (const unsigned char *)b->data + i * 8, 8);
        return (double)f[0] + I * (double)f[1];
    }
    double d[2];
    memcpy(d, (const unsigned char *)b->data + i * 16, 16);
    return d[0] + I * d[1];
}

/* Checks max_i |block[i] - want[off*W + i]| <= tol * scale (scale: the
 * largest magnitude of the whole expected array, at least 1e-300). */
#define CHECK_CLOSE(b, want, off, W, scale, tol, what) \
    check_close_at(__FILE__, __LINE__, (b), (want), (off), (W), (scale), (tol), (what))
static int check_close_at(const char *file, int line, const struct block *b, const cplx *want, int64_t off, size_t W,
                          double scale, double tol, const char *what) {
    double worst = 0;
    size_t at = 0;
    if (scale < 1e-300) scale = 1e-300;
    for (size_t i = 0; i < b->n; i++) {
        double e = cabs(block_get(b, i) - want[(size_t)off * W + i]) / scale;
        if (!(e <= worst)) { /* also catches NaN */
            worst = e;
            at = i;
            if (isnan(e)) break;
        }
    }
    if (!(worst <= tol)) {
        cplx g = block_get(b, at), w = want[(size_t)off * W + at];
        check_fail(file, line, "%s: relative error %.3g > %.1g; worst at local element %zu (q %lld): got (%.17g,%.17g), expected (%.17g,%.17g)",
                   what, worst, tol, at, (long long)(off + (int64_t)(at / (W ? W : 1))), creal(g), cimag(g), creal(w),
                   cimag(w));
        return 0;
    }
    return 1;
}

/* Checks that the block still holds exactly rows [off, ...) of x (nothing moved). */
#define CHECK_UNTOUCHED(b, x, off, W, what) check_untouched_at(__FILE__, __LINE__, (b), (x), (off), (W), (what))
static void check_untouched_at(const char *file, int line, const struct block *b, const cplx *x, int64_t off, size_t W,
                               const char *what) {
    for (size_t i = 0; i < b->n; i++) {
        cplx g = block_get(b, i), w = x[(size_t)off * W + i];
        if (creal(g) != creal(w) || cimag(g) != cimag(w)) {
            check_fail(file, line, "%s: the block changed at local element %zu: (%.17g,%.17g), was (%.17g,%.17g)", what, i,
                       creal(g), cimag(g), creal(w), cimag(w));
            return;
        }
    }
}

static const char *strategy_name(int s) {
    switch (s) {
    case DGAMPI_FFT_STRATEGY_AUTO: return "auto";
    case DGAMPI_FFT_STRATEGY_BATCH_TRANSPOSE: return "batch_transpose";
    case DGAMPI_FFT_STRATEGY_SLAB: return "slab";
    case DGAMPI_FFT_STRATEGY_PENCIL: return "pencil";
    default: return "?";
    }
}

static dgampi_fft_options make_options(int direction, int normalization, int strategy) {
    dgampi_fft_options o;
    memset(&o, 0, sizeof o);
    CHECK_OK(dgampi_fft_options_init(&o, sizeof o));
    o.direction = direction;
    o.normalization = normalization;
    o.strategy = strategy;
    return o;
}

static double tolerance(int32_t dtype) { return dtype == C64 ? 1e-5 : 1e-12; }

/* ------------------------------------------------------------------ transposed layouts */

#define T_NATURAL DGAMPI_FFT_TRANSPOSITION_NATURAL
#define T_OUT DGAMPI_FFT_TRANSPOSITION_OUT
#define T_IN DGAMPI_FFT_TRANSPOSITION_IN
#define SIDE_IN DGAMPI_FFT_SIDE_INPUT
#define SIDE_OUT DGAMPI_FFT_SIDE_OUTPUT

static const char *transposition_name(int t) {
    switch (t) {
    case T_NATURAL: return "natural";
    case T_OUT: return "transposed out";
    case T_IN: return "transposed in";
    default: return "?";
    }
}

/* What this rank holds of one side of a plan: dgampi_fft_plan_layout and
 * the grid index of each row (dgampi_fft_plan_indices). */
struct side {
    int64_t count, batch_start, batch_len;
    int32_t flat;
    int64_t *idx; /* count values, then a -99 sentinel */
};

/* Reads side `which` of plan p of N points of W batch elements (the
 * layout, with every output and with NULL ones; the indices by the size
 * query, then into exactly enough room); returns 0 after a failed check.
 * Whatever the library said, s then describes rows and columns inside the
 * [N, W] array (count 0 when the indices were wrong, batch range clipped). */
static int side_get(dgampi_fft_plan *p, int32_t which, int64_t N, size_t W, struct side *s) {
    int before = check_failures;
    s->count = s->batch_start = s->batch_len = -1;
    s->flat = -1;
    CHECK_OK(dgampi_fft_plan_layout(p, which, &s->count, &s->batch_start, &s->batch_len, &s->flat));
    int64_t c2 = -1, bl2 = -1;
    CHECK_OK(dgampi_fft_plan_layout(p, which, &c2, NULL, &bl2, NULL));
    CHECK_OK(dgampi_fft_plan_layout(p, which, NULL, NULL, NULL, NULL));
    CHECK(c2 == s->count && bl2 == s->batch_len, "layout with NULL outputs: count %lld batch_len %lld, was %lld %lld",
          (long long)c2, (long long)bl2, (long long)s->count, (long long)s->batch_len);
    CHECK(s->count >= 0 && s->batch_start >= 0 && s->batch_len >= 0 && (s->flat == 0 || s->flat == 1),
          "layout: count %lld batch %lld+%lld flat %d", (long long)s->count, (long long)s->batch_start,
          (long long)s->batch_len, (int)s->flat);
    size_t n = 12345, n2 = 54321;
    CHECK_OK(dgampi_fft_plan_indices(p, which, NULL, 0, &n));
    CHECK(s->count >= 0 && n == (size_t)s->count, "the indices' count %zu, the layout's %lld", n, (long long)s->count);
    if (s->count < 0 || n != (size_t)s->count) n = 0;
    s->idx = malloc((n + 1) * sizeof *s->idx);
    for (size_t k = 0; k <= n; k++) s->idx[k] = -99;
    CHECK_OK(dgampi_fft_plan_indices(p, which, s->idx, n, &n2));
    CHECK(n2 == n && s->idx[n] == -99, "the indices: count %zu with out (%zu without), or written past the count", n2, n);
    if (n != (size_t)s->count) s->count = (int64_t)n;
    for (size_t k = 0; k < n; k++)
        if (s->idx[k] < 0 || s->idx[k] >= N) {
            check_fail(__FILE__, __LINE__, "index %zu is %lld, outside the grid of %lld points", k, (long long)s->idx[k],
                       (long long)N);
            s->count = 0;
            break;
        }
    if (s->batch_start < 0 || s->batch_len < 0 || (size_t)(s->batch_start + s->batch_len) > W) {
        check_fail(__FILE__, __LINE__, "batch columns %lld + %lld outside the batch of %zu", (long long)s->batch_start,
                   (long long)s->batch_len, W);
        s->batch_start = 0;
        s->batch_len = 0;
    }
    return check_failures == before;
}

static void side_free(struct side *s) {
    free(s->idx);
    s->idx = NULL;
}

static int side_equal(const struct side *a, const struct side *b) {
    if (a->count != b->count || a->batch_start != b->batch_start || a->batch_len != b->batch_len || a->flat != b->flat)
        return 0;
    for (int64_t k = 0; k < a->count; k++)
        if (a->idx[k] != b->idx[k]) return 0;
    return 1;
}

static void block_put(struct block *b, size_t i, cplx v) {
    if (b->dtype == C64) {
        float f[2] = {(float)creal(v), (float)cimag(v)};
        memcpy((unsigned char *)b->data + i * 8, f, 8);
    } else {
        double d[2] = {creal(v), cimag(v)};
        memcpy((unsigned char *)b->data + i * 16, d, 16);
    }
}

/* A block of side s holding, at row k and column j, element (idx[k],
 * batch_start + j) of the whole [N, W] array x (zeros when x is NULL).
 * Shaped [count, batch...] on a flat side; [count, batch_len] on a
 * transposed one, or [count, batch...] there when `batch_shaped` and it
 * holds the whole batch. Its memory starts `misalign` bytes into the
 * allocation; data is NULL when it is empty and null_if_empty is set. */
static void side_block_init(struct block *b, int32_t dtype, const cplx *x, const struct side *s, size_t W, int bndim,
                            const int64_t *bshape, int batch_shaped, size_t misalign, int null_if_empty) {
    size_t es = dtype_size(dtype), cols = (size_t)s->batch_len;
    b->dtype = dtype;
    b->n = (size_t)s->count * cols;
    b->shape[0] = s->count;
    if (s->flat || (batch_shaped && cols == W && s->batch_start == 0)) {
        b->ndim = 1 + bndim;
        for (int k = 0; k < bndim; k++) b->shape[1 + k] = bshape[k];
    } else {
        b->ndim = 2;
        b->shape[1] = s->batch_len;
    }
    b->mem = malloc(b->n * es + misalign + 16);
    b->data = b->mem + misalign;
    for (size_t k = 0; k < (size_t)s->count; k++)
        for (size_t j = 0; j < cols; j++)
            block_put(b, k * cols + j, x ? x[(size_t)s->idx[k] * W + (size_t)s->batch_start + j] : 0);
    b->a = make_array(b->n == 0 && null_if_empty ? NULL : b->data, dtype, b->ndim, b->shape, NULL);
}

/* A new array of side s's values of the whole [N, W] array ref, row by
 * row (batch_len per row): compare with CHECK_CLOSE(b, want, 0, batch_len, ...). */
static cplx *side_values_new(const cplx *ref, const struct side *s, size_t W) {
    size_t cols = (size_t)s->batch_len, n = (size_t)s->count * cols;
    cplx *v = malloc((n + 1) * sizeof *v);
    for (size_t k = 0; k < (size_t)s->count; k++)
        for (size_t j = 0; j < cols; j++) v[k * cols + j] = ref[(size_t)s->idx[k] * W + (size_t)s->batch_start + j];
    return v;
}

static dgampi_fft_options make_transposed(int direction, int strategy, int transposition) {
    dgampi_fft_options o = make_options(direction, DGAMPI_FFT_NORMALIZATION_BACKWARD, strategy);
    o.transposition = transposition;
    return o;
}

#endif
