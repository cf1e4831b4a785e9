/* dgampi C ABI: the Brillouin-zone maps (dgampi_exchange_and_map_irrbz_fullbz,
 * dgampi_map_irrbz_fullbz and their _into forms, with and without the orbital
 * transform), the node-aware frequency split (dgampi_node_aware_split,
 * dgampi_node_aware_split_nodes), dgampi_gather_full_ibz_for_vslice and the
 * reusable plans of both (dgampi_map_plan_*, dgampi_vslice_plan_*), checked on every rank against serial references computed here, and their
 * bad input (a clear status on every rank, never a hang).
 *
 *   bzmap          all checks (any number of ranks, any process-wide limit)
 *   bzmap CASE     one reproducer of a library bug (see main)
 *
 * The irreducible array [n_irr, ...] is a pattern (arrays.h) that every rank
 * can build; a rank's block is the slice its distributor layout (excess to the
 * LAST ranks, computed here) selects, and its expected full-BZ block is
 * full[q] = irr[irrk_inv[q]] for its own q, transformed by the definition of
 * the orbital transform where one is given. The maps are the square-lattice
 * maps of WORKLOADS.md (2x2, 4x4, 16x16), one irreducible row feeding every
 * full row, the identity, and maps with fewer irreducible (or full) points
 * than ranks. DGAMPI_MAX_MESSAGE_BYTES=3 forces every chunked path. */
#include "arrays.h"
#include <complex.h>

typedef double complex cplx;

static int rank, nranks, last;

/* Under DGAMPI_MAX_MESSAGE_BYTES the run may be under the PMPI checker, which
 * enforces that limit on every message: explicit limits are capped at it. */
static size_t env_limit;
static size_t lim(size_t explicit_limit) {
    return env_limit && explicit_limit > env_limit ? env_limit : explicit_limit;
}

#define S_OK DGAMPI_STATUS_OK
#define S_NULL DGAMPI_STATUS_NULL_ARGUMENT
#define S_INVALID DGAMPI_STATUS_INVALID_ARGUMENT
#define S_MISMATCH DGAMPI_STATUS_MISMATCH
#define S_RANGE DGAMPI_STATUS_OUT_OF_RANGE
#define S_REMOTE DGAMPI_STATUS_REMOTE_ERROR
#define S_HANDLE DGAMPI_STATUS_INVALID_HANDLE

#define MAX_RANKS 64
#define MAX_FULL 256

/* The block rule: ntasks / p each, the remainder one each to the LAST ranks. */
static void block_layout(int64_t ntasks, int p, int64_t *sizes, int64_t *offsets) {
    int64_t base = ntasks / p, extra = ntasks % p, off = 0;
    for (int r = 0; r < p; r++) {
        sizes[r] = base + (r >= p - extra ? 1 : 0);
        offsets[r] = off;
        off += sizes[r];
    }
}

/* ------------------------------------------------------------------ maps */

struct bzmap {
    char name[40];
    int64_t n_full, n_irr;
    int64_t inv[MAX_FULL];
};

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

/* The representative lo*n + hi of q = i*n + j on the n x n x 1 lattice. */
static int square_rep(int n, int q) {
    int i = q / n, j = q % n;
    int a = imin(i, (n - i) % n), b = imin(j, (n - j) % n);
    return imin(a, b) * n + imax(a, b);
}

/* WORKLOADS.md's square-lattice map: representatives numbered in increasing lo*n + hi. */
static void square_lattice_map(int n, struct bzmap *m) {
    int present[MAX_FULL] = {0}, number[MAX_FULL];
    snprintf(m->name, sizeof m->name, "square %dx%d", n, n);
    for (int q = 0; q < n * n; q++) present[square_rep(n, q)] = 1;
    int count = 0;
    for (int r = 0; r < n * n; r++) {
        number[r] = count;
        count += present[r];
    }
    m->n_full = n * n;
    m->n_irr = count;
    for (int q = 0; q < n * n; q++) m->inv[q] = number[square_rep(n, q)];
}

static void list_map(const char *name, const int64_t *inv, int64_t n_full, struct bzmap *m) {
    snprintf(m->name, sizeof m->name, "%s", name);
    m->n_full = n_full;
    m->n_irr = 0;
    for (int64_t q = 0; q < n_full; q++) {
        m->inv[q] = inv[q];
        if (inv[q] + 1 > m->n_irr) m->n_irr = inv[q] + 1;
    }
}

#define N_MAPS 7
static struct bzmap MAPS[N_MAPS];

static void build_maps(void) {
    square_lattice_map(2, &MAPS[0]);
    square_lattice_map(4, &MAPS[1]);
    square_lattice_map(16, &MAPS[2]);
    int64_t zeros[11] = {0};
    list_map("one row feeds all", zeros, 11, &MAPS[3]);
    int64_t ident[9];
    for (int q = 0; q < 9; q++) ident[q] = q;
    list_map("identity", ident, 9, &MAPS[4]);
    int64_t two[7] = {1, 0, 1, 1, 0, 0, 1};
    list_map("two irreducible", two, 7, &MAPS[5]);
    int64_t three[3] = {1, 0, 1}; /* fewer full points than ranks at 4 */
    list_map("three full points", three, 3, &MAPS[6]);

    /* the reference maps themselves (WORKLOADS.md) */
    check_section = "square-lattice maps";
    const int64_t want2[4] = {0, 1, 1, 2};
    CHECK(MAPS[0].n_irr == 3 && memcmp(MAPS[0].inv, want2, sizeof want2) == 0,
          "2x2 map [%lld, %lld, %lld, %lld], expected [0, 1, 1, 2]", (long long)MAPS[0].inv[0],
          (long long)MAPS[0].inv[1], (long long)MAPS[0].inv[2], (long long)MAPS[0].inv[3]);
    CHECK(MAPS[1].n_irr == 6, "4x4 map has %lld irreducible points, expected 6", (long long)MAPS[1].n_irr);
    CHECK(MAPS[2].n_irr == 45, "16x16 map has %lld irreducible points, expected 45", (long long)MAPS[2].n_irr);
}

/* The two distributors of a map, on MPI_COMM_WORLD, with their expected layouts. */
struct dists {
    dgampi_distributor *irr, *full;
    int64_t isz, ioff, fsz, foff;
};

static int dists_create(const struct bzmap *m, struct dists *d) {
    int64_t s[MAX_RANKS], o[MAX_RANKS];
    d->irr = d->full = NULL;
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, m->n_irr, "irr", NULL, &d->irr));
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, m->n_full, "full", NULL, &d->full));
    block_layout(m->n_irr, nranks, s, o);
    d->isz = s[rank];
    d->ioff = o[rank];
    block_layout(m->n_full, nranks, s, o);
    d->fsz = s[rank];
    d->foff = o[rank];
    /* the library's layout is the one computed here */
    int64_t v = -1;
    if (d->full) {
        CHECK_OK(dgampi_distributor_my_size(d->full, &v));
        CHECK(v == d->fsz, "%s: full my_size %lld, expected %lld", m->name, (long long)v, (long long)d->fsz);
    }
    return d->irr != NULL && d->full != NULL;
}

static void dists_destroy(struct dists *d) {
    CHECK_OK(dgampi_distributor_destroy(&d->irr));
    CHECK_OK(dgampi_distributor_destroy(&d->full));
}

/* ------------------------------------------------------------------ calling the maps */

enum { FN_EXCHANGE, FN_EXCHANGE_INTO, FN_MAP, FN_MAP_INTO, N_FN };
static const char *const FN_NAME[N_FN] = {"dgampi_exchange_and_map_irrbz_fullbz",
                                          "dgampi_exchange_and_map_irrbz_fullbz_into", "dgampi_map_irrbz_fullbz",
                                          "dgampi_map_irrbz_fullbz_into"};
static int fn_is_into(int fn) { return fn == FN_EXCHANGE_INTO || fn == FN_MAP_INTO; }

static int call_map(int fn, dgampi_distributor *irr, dgampi_distributor *full, const int64_t *inv, size_t n_full,
                    const dgampi_array *block, const dgampi_orbital_transform *t, size_t limit,
                    dgampi_owned_array *owned, const dgampi_array *into) {
    switch (fn) {
    case FN_EXCHANGE: return dgampi_exchange_and_map_irrbz_fullbz(irr, full, inv, n_full, block, t, limit, owned);
    case FN_EXCHANGE_INTO: return dgampi_exchange_and_map_irrbz_fullbz_into(irr, full, inv, n_full, block, t, limit, into);
    case FN_MAP: return dgampi_map_irrbz_fullbz(irr, full, inv, n_full, block, t, limit, owned);
    default: return dgampi_map_irrbz_fullbz_into(irr, full, inv, n_full, block, t, limit, into);
    }
}

/* Checks an owned array record: dtype, ndim, shape (zeros past ndim) and data
 * NULL exactly when empty. Returns whether the record is usable. */
static int check_owned_record(const dgampi_owned_array *o, int32_t dt, int ndim, const int64_t *shape, const char *what) {
    int ok = o->dtype == dt && o->ndim == ndim;
    for (int k = 0; k < DGAMPI_MAX_NDIM; k++) ok &= o->shape[k] == (k < ndim ? shape[k] : 0);
    CHECK(ok, "%s: record dtype %d ndim %d shape [%lld, %lld, %lld, %lld, %lld, %lld], expected dtype %d ndim %d shape "
              "[%lld, %lld, %lld, %lld, %lld, %lld]",
          what, o->dtype, o->ndim, (long long)o->shape[0], (long long)o->shape[1], (long long)o->shape[2],
          (long long)o->shape[3], (long long)o->shape[4], (long long)o->shape[5], dt, ndim, (long long)shape[0],
          (long long)(ndim > 1 ? shape[1] : 0), (long long)(ndim > 2 ? shape[2] : 0),
          (long long)(ndim > 3 ? shape[3] : 0), (long long)(ndim > 4 ? shape[4] : 0),
          (long long)(ndim > 5 ? shape[5] : 0));
    size_t n = shape_count(ndim, shape);
    if (n == 0)
        CHECK(o->data == NULL, "%s: empty result with data %p", what, o->data);
    else
        CHECK(o->data != NULL, "%s: NULL data for %zu elements", what, n);
    return ok && (n == 0 || o->data != NULL);
}

/* Compares n elements bitwise; reports the first difference and the count. */
#define CHECK_ELEMS(dt, got, want, n, what) check_elems_at(__FILE__, __LINE__, (dt), (got), (want), (n), (what))
static int check_elems_at(const char *file, int line, int32_t dt, const void *got, const void *want, size_t n,
                          const char *what) {
    size_t es = dtype_size(dt), bad = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        if (memcmp((const unsigned char *)got + i * es, (const unsigned char *)want + i * es, es) != 0) {
            if (bad == 0) first = i;
            bad++;
        }
    if (bad) {
        char g[96], w[96];
        format_elem(dt, (const unsigned char *)got + first * es, g, sizeof g);
        format_elem(dt, (const unsigned char *)want + first * es, w, sizeof w);
        check_fail(file, line, "%s (%s, %zu elements): %zu differ; first at %zu: got %s, expected %s", what,
                   dtype_name(dt), n, bad, first, g, w);
    }
    return bad == 0;
}

/* The expected full-BZ block: rows foff .. foff+fsz of full[q] = irr[inv[q]],
 * where irr is pattern `seed` with `row` elements per row. */
static void *unfold_expected(const struct bzmap *m, int32_t dt, size_t row, int64_t foff, int64_t fsz, int seed) {
    size_t es = dtype_size(dt);
    unsigned char *buf = malloc((size_t)fsz * row * es + 1);
    for (int64_t i = 0; i < fsz; i++)
        for (size_t e = 0; e < row; e++)
            pattern_elem(dt, (size_t)m->inv[foff + i] * row + e, seed, buf + ((size_t)i * row + e) * es);
    return buf;
}

/* ------------------------------------------------------------------ plain maps */

#define N_TRAILS 3
static const int TRAIL_NDIM[N_TRAILS] = {0, 1, 2}; /* [n], [n, 3], [n, 2, 2] */
static const int64_t TRAILS[N_TRAILS][2] = {{0, 0}, {3, 0}, {2, 2}};
static const int32_t MAP_DTYPES[3] = {DGAMPI_DTYPE_F64, DGAMPI_DTYPE_COMPLEX128, DGAMPI_DTYPE_I32};

static void map_case(const struct bzmap *m, const struct dists *d, int32_t dt, int t, int fn, size_t limit, int seed) {
    char ctx[200];
    snprintf(ctx, sizeof ctx, "%s: %s %s trail #%d limit %zu", FN_NAME[fn], m->name, dtype_name(dt), t, limit);
    check_section = ctx;
    int ndim = 1 + TRAIL_NDIM[t];
    size_t row = 1;
    int64_t bshape[3], fshape[3];
    bshape[0] = d->isz;
    fshape[0] = d->fsz;
    for (int k = 0; k < TRAIL_NDIM[t]; k++) {
        bshape[k + 1] = fshape[k + 1] = TRAILS[t][k];
        row *= (size_t)TRAILS[t][k];
    }
    void *in = pattern_range_new(dt, (size_t)d->ioff * row, (size_t)d->isz * row, seed);
    /* an empty block: data NULL for the allocating forms, a valid pointer for _into */
    dgampi_array block = make_array(d->isz == 0 && !fn_is_into(fn) ? NULL : in, dt, ndim, bshape, NULL);
    void *want = unfold_expected(m, dt, row, d->foff, d->fsz, seed);
    size_t n = (size_t)d->fsz * row, es = dtype_size(dt);
    if (fn_is_into(fn)) {
        unsigned char *out = malloc(n * es + 1);
        memset(out, 0xa5, n * es + 1);
        dgampi_array o = make_array(out, dt, ndim, fshape, NULL);
        CHECK_OK(call_map(fn, d->irr, d->full, m->inv, (size_t)m->n_full, &block, NULL, limit, NULL, &o));
        CHECK_ELEMS(dt, out, want, n, "unfolded block");
        CHECK(out[n * es] == 0xa5, "wrote past the output block");
        free(out);
    } else {
        dgampi_owned_array o;
        memset(&o, 0x5a, sizeof o);
        CHECK_OK(call_map(fn, d->irr, d->full, m->inv, (size_t)m->n_full, &block, NULL, limit, &o, NULL));
        if (check_owned_record(&o, dt, ndim, fshape, "result record") && n) CHECK_ELEMS(dt, o.data, want, n, "unfolded block");
        if (o.ndim == ndim) CHECK_OK(dgampi_free(o.data));
    }
    free(in);
    free(want);
}

static void test_maps(void) {
    size_t limits[2] = {0, lim(50)};
    int seed = 1;
    for (int mi = 0; mi < N_MAPS; mi++) {
        const struct bzmap *m = &MAPS[mi];
        struct dists d;
        if (!dists_create(m, &d)) continue;
        for (int k = 0; k < 3; k++)
            for (int t = 0; t < N_TRAILS; t++)
                for (int fn = 0; fn < N_FN; fn++) {
                    map_case(m, &d, MAP_DTYPES[k], t, fn, limits[(fn + t) % 2], seed++);
                }
        dists_destroy(&d);
    }
}

/* Strided blocks: the input is every other column of a wider array, the _into
 * output every other column (from column 1) of a wider array, or a
 * column-major (Fortran-order) array; nothing outside the view changes. */
static void test_strided(void) {
    const struct bzmap *m = &MAPS[1];
    struct dists d;
    if (!dists_create(m, &d)) return;
    const int32_t dt = DGAMPI_DTYPE_COMPLEX128;
    const size_t es = 16, cols = 3;
    for (int fn = FN_EXCHANGE_INTO; fn <= FN_MAP_INTO; fn += 2)
        for (int layout = 0; layout < 2; layout++) {
            char ctx[160];
            snprintf(ctx, sizeof ctx, "%s: strided (%s output)", FN_NAME[fn], layout ? "column-major" : "every other column");
            check_section = ctx;
            /* input: columns 0, 2, 4 of [isz, 6], pattern 21 in the view, pattern 22 elsewhere */
            unsigned char *wide_in = pattern_new(dt, (size_t)d.isz * 6, 22);
            for (int64_t i = 0; i < d.isz; i++)
                for (size_t j = 0; j < cols; j++)
                    pattern_elem(dt, (size_t)(d.ioff + i) * cols + j, 21, wide_in + ((size_t)i * 6 + 2 * j) * es);
            int64_t bshape[2] = {d.isz, (int64_t)cols}, bstrides[2] = {(int64_t)(6 * es), (int64_t)(2 * es)};
            dgampi_array block = make_array(wide_in, dt, 2, bshape, bstrides);
            /* output */
            size_t pcols = layout ? cols : 7, total = (size_t)d.fsz * pcols;
            unsigned char *wide_out = pattern_new(dt, total, 23);
            int64_t oshape[2] = {d.fsz, (int64_t)cols}, ostrides[2];
            unsigned char *base = wide_out;
            if (layout == 0) {
                ostrides[0] = (int64_t)(7 * es);
                ostrides[1] = (int64_t)(2 * es);
                base = wide_out + es;
            } else {
                ostrides[0] = (int64_t)es;
                ostrides[1] = (int64_t)((size_t)d.fsz * es);
            }
            dgampi_array o = make_array(base, dt, 2, oshape, ostrides);
            CHECK_OK(call_map(fn, d.irr, d.full, m->inv, (size_t)m->n_full, &block, NULL, lim(40), NULL, &o));
            size_t bad = 0, bad_outside = 0;
            unsigned char want[16];
            for (size_t p = 0; p < total; p++) {
                int inside;
                size_t i, j;
                if (layout == 0) {
                    i = p / 7;
                    j = (p % 7 - 1) / 2;
                    inside = p % 7 % 2 == 1 && p % 7 < 7;
                } else {
                    j = p / (size_t)d.fsz;
                    i = p % (size_t)d.fsz;
                    inside = 1;
                }
                if (inside)
                    pattern_elem(dt, (size_t)m->inv[d.foff + (int64_t)i] * cols + j, 21, want);
                else
                    pattern_elem(dt, p, 23, want);
                if (memcmp(wide_out + p * es, want, es) != 0) {
                    if (inside) bad++;
                    else bad_outside++;
                }
            }
            CHECK(bad == 0 && bad_outside == 0, "%zu element(s) of the strided output differ, %zu outside the view changed",
                  bad, bad_outside);
            /* the input is untouched */
            size_t changed = 0;
            for (int64_t i = 0; i < d.isz; i++)
                for (size_t k = 0; k < 6; k++) {
                    if (k % 2 == 0) pattern_elem(dt, (size_t)(d.ioff + i) * cols + k / 2, 21, want);
                    else pattern_elem(dt, (size_t)i * 6 + k, 22, want);
                    changed += memcmp(wide_in + ((size_t)i * 6 + k) * es, want, es) != 0;
                }
            CHECK(changed == 0, "%zu element(s) of the strided input changed", changed);
            free(wide_in);
            free(wide_out);
        }
    dists_destroy(&d);
}

/* A block on a user's duplicate of MPI_COMM_WORLD for one distributor
 * (congruent communicators): accepted. */
static void test_congruent_comms(void) {
    check_section = "distributors on congruent communicators";
    const struct bzmap *m = &MAPS[0];
    MPI_Comm dup;
    MPI_Comm_dup(MPI_COMM_WORLD, &dup);
    dgampi_distributor *irr = NULL, *full = NULL;
    CHECK_OK(dgampi_distributor_create(dup, m->n_irr, NULL, NULL, &irr));
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, m->n_full, NULL, NULL, &full));
    int64_t s[MAX_RANKS], o[MAX_RANKS];
    block_layout(m->n_irr, nranks, s, o);
    int64_t isz = s[rank], ioff = o[rank];
    block_layout(m->n_full, nranks, s, o);
    int64_t fsz = s[rank], foff = o[rank];
    void *in = pattern_range_new(DGAMPI_DTYPE_I32, (size_t)ioff, (size_t)isz, 31);
    int64_t bs[1] = {isz}, fs[1] = {fsz};
    dgampi_array b = make_array(in, DGAMPI_DTYPE_I32, 1, bs, NULL);
    int32_t out[MAX_FULL];
    dgampi_array oa = make_array(out, DGAMPI_DTYPE_I32, 1, fs, NULL);
    void *want = unfold_expected(m, DGAMPI_DTYPE_I32, 1, foff, fsz, 31);
    for (int fn = FN_EXCHANGE_INTO; fn <= FN_MAP_INTO; fn += 2) {
        memset(out, 0, sizeof out);
        CHECK_OK(call_map(fn, irr, full, m->inv, (size_t)m->n_full, &b, NULL, 0, NULL, &oa));
        CHECK_ELEMS(DGAMPI_DTYPE_I32, out, want, (size_t)fsz, FN_NAME[fn]);
    }
    free(in);
    free(want);
    CHECK_OK(dgampi_distributor_destroy(&irr));
    CHECK_OK(dgampi_distributor_destroy(&full));
    MPI_Comm_free(&dup);
}

/* Edge cases: one distributor as both irr and full (the identity), rows of
 * zero elements, an empty full BZ, and a strided vertex block. */
static void test_edges(void) {
    const int32_t dt = DGAMPI_DTYPE_F64;
    int64_t s[MAX_RANKS], o[MAX_RANKS];
    /* the same handle for both distributors */
    {
        const struct bzmap *m = &MAPS[4];
        dgampi_distributor *d = NULL;
        CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, m->n_full, NULL, NULL, &d));
        block_layout(m->n_full, nranks, s, o);
        int64_t shape[2] = {s[rank], 3};
        void *in = pattern_range_new(dt, (size_t)o[rank] * 3, (size_t)s[rank] * 3, 51);
        dgampi_array b = make_array(in, dt, 2, shape, NULL);
        for (int fn = 0; fn < N_FN; fn++) {
            char ctx[160];
            snprintf(ctx, sizeof ctx, "%s: one distributor as irr and full", FN_NAME[fn]);
            check_section = ctx;
            double out[64];
            dgampi_array oa = make_array(out, dt, 2, shape, NULL);
            dgampi_owned_array owned;
            memset(&owned, 0, sizeof owned);
            CHECK_OK(call_map(fn, d, d, m->inv, (size_t)m->n_full, &b, NULL, lim(20), &owned, &oa));
            const void *got = fn_is_into(fn) ? (const void *)out : owned.data;
            if (fn_is_into(fn) || check_owned_record(&owned, dt, 2, shape, "result record"))
                if (s[rank]) CHECK_PATTERN_RANGE(dt, got, (size_t)o[rank] * 3, (size_t)s[rank] * 3, 51, "identity map");
            CHECK_OK(dgampi_free(owned.data));
        }
        free(in);
        CHECK_OK(dgampi_distributor_destroy(&d));
    }
    /* rows of zero elements: [n, 0] */
    {
        const struct bzmap *m = &MAPS[1];
        struct dists d;
        if (dists_create(m, &d)) {
            int64_t bs[2] = {d.isz, 0}, fs[2] = {d.fsz, 0};
            double dummy[1];
            dgampi_array b = make_array(dummy, dt, 2, bs, NULL), oa = make_array(dummy, dt, 2, fs, NULL);
            for (int fn = 0; fn < N_FN; fn++) {
                char ctx[160];
                snprintf(ctx, sizeof ctx, "%s: rows of zero elements", FN_NAME[fn]);
                check_section = ctx;
                dgampi_owned_array owned;
                memset(&owned, 0, sizeof owned);
                CHECK_OK(call_map(fn, d.irr, d.full, m->inv, (size_t)m->n_full, &b, NULL, 0, &owned, &oa));
                if (!fn_is_into(fn)) check_owned_record(&owned, dt, 2, fs, "result record");
            }
            dists_destroy(&d);
        }
    }
    /* an empty full BZ: irrk_inv NULL with n_full 0 */
    {
        dgampi_distributor *irr = NULL, *full = NULL;
        CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, 3, NULL, NULL, &irr));
        CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, 0, NULL, NULL, &full));
        block_layout(3, nranks, s, o);
        int64_t bs[2] = {s[rank], 2}, fs[2] = {0, 2};
        void *in = pattern_range_new(dt, (size_t)o[rank] * 2, (size_t)s[rank] * 2, 52);
        double dummy[1];
        dgampi_array b = make_array(in, dt, 2, bs, NULL), oa = make_array(dummy, dt, 2, fs, NULL);
        for (int fn = 0; fn < N_FN; fn++) {
            char ctx[160];
            snprintf(ctx, sizeof ctx, "%s: empty full BZ", FN_NAME[fn]);
            check_section = ctx;
            dgampi_owned_array owned;
            memset(&owned, 0, sizeof owned);
            CHECK_OK(call_map(fn, irr, full, NULL, 0, &b, NULL, 0, &owned, &oa));
            if (!fn_is_into(fn)) check_owned_record(&owned, dt, 2, fs, "result record");
        }
        free(in);
        CHECK_OK(dgampi_distributor_destroy(&irr));
        CHECK_OK(dgampi_distributor_destroy(&full));
    }
    /* a strided vertex block: every other element of the last axis (nu') */
    {
        check_section = "dgampi_gather_full_ibz_for_vslice: strided block";
        const struct bzmap *m = &MAPS[1];
        struct dists d;
        if (dists_create(m, &d)) {
            const int32_t ct = DGAMPI_DTYPE_COMPLEX128;
            const int64_t n_nu = 5, nup = 2, row = 2 * 2 * n_nu * nup;
            unsigned char *wide = pattern_new(ct, (size_t)(d.isz * row * 2), 53);
            for (int64_t e = 0; e < d.isz * row; e++)
                pattern_elem(ct, (size_t)(d.ioff * row + e), 54, wide + (size_t)e * 2 * 16);
            int64_t bs[5] = {d.isz, 2, 2, n_nu, nup};
            int64_t st[5] = {row * 2 * 16, 2 * n_nu * nup * 2 * 16, n_nu * nup * 2 * 16, nup * 2 * 16, 2 * 16};
            dgampi_array b = make_array(wide, ct, 5, bs, st);
            int64_t nodes[MAX_RANKS], ssz[MAX_RANKS], soff[MAX_RANKS];
            for (int r = 0; r < nranks; r++) nodes[r] = r % 2;
            CHECK_OK(dgampi_node_aware_split_nodes(n_nu, nodes, (size_t)nranks, ssz, soff));
            dgampi_owned_array owned;
            memset(&owned, 0, sizeof owned);
            int has = -1;
            CHECK_OK(dgampi_gather_full_ibz_for_vslice(d.irr, d.full, m->inv, (size_t)m->n_full, ssz, soff, &b, NULL,
                                                       lim(30), &owned, &has));
            int64_t os[5] = {m->n_full, 2, 2, ssz[rank], nup};
            size_t n = shape_count(5, os);
            if (check_owned_record(&owned, ct, 5, os, "vslice record") && n) {
                unsigned char *want = malloc(n * 16);
                size_t i = 0;
                for (int64_t q = 0; q < m->n_full; q++)
                    for (int64_t ab = 0; ab < 4; ab++)
                        for (int64_t j = 0; j < ssz[rank]; j++)
                            for (int64_t t = 0; t < nup; t++, i++)
                                pattern_elem(ct, (size_t)(((m->inv[q] * 4 + ab) * n_nu + soff[rank] + j) * nup + t), 54,
                                             want + i * 16);
                CHECK_ELEMS(ct, owned.data, want, n, "vslice of a strided block");
                free(want);
            }
            CHECK(has == (ssz[rank] > 0), "has_slice %d", has);
            CHECK_OK(dgampi_free(owned.data));
            free(wide);
            dists_destroy(&d);
        }
    }
}

/* ------------------------------------------------------------------ the orbital transform */

/* A deterministic unitary 2x2 matrix per k: a global phase times an SU(2)
 * element, from rational parametrizations of cos/sin (no libm needed). */
static cplx unit_phase(double p) { return ((1 - p * p) + 2 * p * I) / (1 + p * p); }
static void unitary2(int64_t k, int variant, cplx u[4]) {
    double s = 0.15 + 0.37 * (double)k + 0.11 * variant;
    double c = (1 - s * s) / (1 + s * s), sn = 2 * s / (1 + s * s);
    cplx e1 = unit_phase(0.3 - 0.21 * (double)k), e2 = unit_phase(0.7 + 0.13 * (double)k + 0.05 * variant);
    cplx ph = unit_phase(-0.4 + 0.09 * (double)k);
    u[0] = ph * c * e1;
    u[1] = ph * sn * e2;
    u[2] = -ph * sn * conj(e2);
    u[3] = ph * c * conj(e1);
}

struct transform_inputs {
    cplx u[MAX_FULL * 4];
    double sigma[MAX_FULL];
    uint8_t conj[MAX_FULL];
};

static void make_inputs(int64_t n_full, int variant, struct transform_inputs *in) {
    for (int64_t k = 0; k < n_full; k++) {
        unitary2(k, variant, in->u + 4 * k);
        in->sigma[k] = (k + variant) % 3 == 0 ? -1.0 : 1.0;
        in->conj[k] = (uint8_t)((k + variant) % 2 == 1 ? 1 + k % 3 : 0); /* any nonzero value means "conjugate" */
    }
}

/* The C record for rows first .. first+n of the inputs. */
static dgampi_orbital_transform transform_record(const struct transform_inputs *in, int64_t first, int64_t n, int axes) {
    dgampi_orbital_transform t;
    CHECK_OK(dgampi_orbital_transform_init(&t, sizeof t));
    t.u = in->u + 4 * first;
    t.n = n;
    t.nb = 2;
    t.axes = axes;
    t.sigma = in->sigma + first;
    t.conj = in->conj + first;
    return t;
}

/* The transform by its definition, one output element at a time: rows of
 * nb^axes orbital elements times `trail` trailing ones;
 * out[o, t] = s * sum_o2 prod_k W_k[o_k, o2_k] x'[o2, t], W_k = U on even axes
 * (1, 3) and conj(U) on odd ones (2, 4), x' = conj(x) when cj, s = sigma for 2
 * axes and sigma^2 = 1 for 4. */
static void transform_ref(const cplx *x, cplx *out, const cplx *u, int nb, int axes, size_t trail, double sigma, int cj) {
    size_t norb = 1;
    for (int k = 0; k < axes; k++) norb *= (size_t)nb;
    for (size_t o = 0; o < norb; o++)
        for (size_t t = 0; t < trail; t++) {
            cplx acc = 0;
            for (size_t o2 = 0; o2 < norb; o2++) {
                cplx coef = 1;
                size_t a = o, b = o2;
                for (int k = axes - 1; k >= 0; k--) {
                    cplx f = u[(a % (size_t)nb) * (size_t)nb + b % (size_t)nb];
                    coef *= k % 2 == 0 ? f : conj(f);
                    a /= (size_t)nb;
                    b /= (size_t)nb;
                }
                cplx xv = x[o2 * trail + t];
                acc += coef * (cj ? conj(xv) : xv);
            }
            out[o * trail + t] = (axes == 2 ? sigma : 1.0) * acc;
        }
}

static double abs2(cplx z) { return creal(z) * creal(z) + cimag(z) * cimag(z); }

/* Row by row: max |got - want| <= tol * max(1, max |want|) (tol 0: bitwise equal). */
#define CHECK_CLOSE(got, want, nrows, row, tol, what) check_close_at(__FILE__, __LINE__, (got), (want), (nrows), (row), (tol), (what))
static void check_close_at(const char *file, int line, const cplx *got, const cplx *want, size_t nrows, size_t row,
                           double tol, const char *what) {
    size_t bad = 0, first_row = 0;
    double first_diff2 = 0, first_scale2 = 0;
    for (size_t i = 0; i < nrows; i++) {
        double scale2 = 1, diff2 = 0;
        for (size_t e = 0; e < row; e++) {
            double w = abs2(want[i * row + e]), d = abs2(got[i * row + e] - want[i * row + e]);
            if (w > scale2) scale2 = w;
            if (d > diff2 || d != d) diff2 = d != d ? 1e300 : d;
        }
        if (diff2 > tol * tol * scale2) {
            if (bad == 0) {
                first_row = i;
                first_diff2 = diff2;
                first_scale2 = scale2;
            }
            bad++;
        }
    }
    if (bad)
        check_fail(file, line, "%s: %zu of %zu rows differ; first: row %zu, |difference|^2 %.3e, scale^2 %.3e (tolerance %g relative)",
                   what, bad, nrows, first_row, first_diff2, first_scale2, tol);
}

/* One map of complex128 rows [orb..., trailing...] with the transform. */
static void transform_case(const struct bzmap *m, const struct dists *d, const struct transform_inputs *in, int axes,
                           int row_ndim, const int64_t *row_shape, int fn, int local_inputs, size_t limit) {
    char ctx[200];
    snprintf(ctx, sizeof ctx, "%s: %s transform, %d axes, row ndim %d, %s inputs, limit %zu", FN_NAME[fn], m->name, axes,
             row_ndim, local_inputs ? "local" : "all", limit);
    check_section = ctx;
    const int32_t dt = DGAMPI_DTYPE_COMPLEX128;
    size_t row = shape_count(row_ndim, row_shape), trail = row >> axes; /* nb = 2 */
    int64_t bshape[8], fshape[8];
    bshape[0] = d->isz;
    fshape[0] = d->fsz;
    for (int k = 0; k < row_ndim; k++) bshape[k + 1] = fshape[k + 1] = row_shape[k];
    cplx *block_data = pattern_range_new(dt, (size_t)d->ioff * row, (size_t)d->isz * row, 7);
    dgampi_array block = make_array(block_data, dt, 1 + row_ndim, bshape, NULL);
    dgampi_orbital_transform t = local_inputs ? transform_record(in, d->foff, d->fsz, axes)
                                              : transform_record(in, 0, m->n_full, axes);
    /* the reference */
    size_t n = (size_t)d->fsz * row;
    cplx *want = malloc(n * sizeof(cplx) + 1);
    cplx *x = pattern_new(dt, row, 0);
    for (int64_t i = 0; i < d->fsz; i++) {
        int64_t q = d->foff + i;
        for (size_t e = 0; e < row; e++) pattern_elem(dt, (size_t)m->inv[q] * row + e, 7, x + e);
        transform_ref(x, want + (size_t)i * row, in->u + 4 * q, 2, axes, trail, in->sigma[q], in->conj[q] != 0);
    }
    if (fn_is_into(fn)) {
        cplx *out = zeros_new(dt, n);
        dgampi_array o = make_array(out, dt, 1 + row_ndim, fshape, NULL);
        CHECK_OK(call_map(fn, d->irr, d->full, m->inv, (size_t)m->n_full, &block, &t, limit, NULL, &o));
        CHECK_CLOSE(out, want, (size_t)d->fsz, row, 1e-12, "transformed block");
        free(out);
    } else {
        dgampi_owned_array o;
        memset(&o, 0, sizeof o);
        CHECK_OK(call_map(fn, d->irr, d->full, m->inv, (size_t)m->n_full, &block, &t, limit, &o, NULL));
        if (check_owned_record(&o, dt, 1 + row_ndim, fshape, "result record") && n)
            CHECK_CLOSE(o.data, want, (size_t)d->fsz, row, 1e-12, "transformed block");
        CHECK_OK(dgampi_free(o.data));
    }
    /* the input block is untouched */
    CHECK_PATTERN_RANGE(dt, block_data, (size_t)d->ioff * row, (size_t)d->isz * row, 7, "input block after the map");
    free(block_data);
    free(want);
    free(x);
}

static void test_transform(void) {
    static struct transform_inputs in;
    const int map_ids[3] = {0, 1, 6}; /* 2x2, 4x4, three full points (empty full blocks at 4 ranks) */
    const int64_t r223[3] = {2, 2, 3}, r2222[4] = {2, 2, 2, 2}, r22223[5] = {2, 2, 2, 2, 3};
    struct { int axes, ndim; const int64_t *shape; } rows[4] = {{2, 3, r223}, {2, 4, r2222}, {4, 4, r2222}, {4, 5, r22223}};
    int c = 0;
    for (int mi = 0; mi < 3; mi++) {
        const struct bzmap *m = &MAPS[map_ids[mi]];
        struct dists d;
        if (!dists_create(m, &d)) continue;
        make_inputs(m->n_full, mi, &in);
        for (int r = 0; r < 4; r++)
            for (int fn = 0; fn < N_FN; fn++)
                for (int local = 0; local < 2; local++, c++)
                    transform_case(m, &d, &in, rows[r].axes, rows[r].ndim, rows[r].shape, fn, local, c % 3 ? 0 : lim(100));
        dists_destroy(&d);
    }
}

/* ------------------------------------------------------------------ node-aware split */

/* The rule: equally over the nodes in sorted label order (extra to the first
 * nodes), then over each node's ranks in rank order (extra to the first). */
static void split_ref(int64_t n, const int64_t *nodes, int p, int64_t *sizes, int64_t *offs) {
    int64_t labels[MAX_RANKS];
    int nl = 0;
    for (int r = 0; r < p; r++) {
        int seen = 0;
        for (int i = 0; i < nl; i++) seen |= labels[i] == nodes[r];
        if (!seen) labels[nl++] = nodes[r];
    }
    for (int i = 1; i < nl; i++)
        for (int j = i; j > 0 && labels[j - 1] > labels[j]; j--) {
            int64_t tmp = labels[j];
            labels[j] = labels[j - 1];
            labels[j - 1] = tmp;
        }
    int64_t next = 0;
    for (int i = 0; i < nl; i++) {
        int64_t node_n = n / nl + (i < n % nl ? 1 : 0), nr = 0, j = 0;
        for (int r = 0; r < p; r++) nr += nodes[r] == labels[i];
        for (int r = 0; r < p; r++)
            if (nodes[r] == labels[i]) {
                sizes[r] = node_n / nr + (j < node_n % nr ? 1 : 0);
                offs[r] = next;
                next += sizes[r];
                j++;
            }
    }
}

/* Checks a split of n over p ranks against want_sizes / want_offs; an empty
 * slice's offset is only required to lie in 0..=n. The slices must tile 0..n. */
static void check_split(const int64_t *sizes, const int64_t *offs, const int64_t *want_sizes, const int64_t *want_offs,
                        int p, int64_t n, const char *what) {
    int ok = 1;
    int64_t total = 0;
    unsigned char covered[64] = {0};
    for (int r = 0; r < p; r++) {
        ok &= sizes[r] == want_sizes[r];
        ok &= sizes[r] == 0 ? offs[r] >= 0 && offs[r] <= n : offs[r] == want_offs[r];
        total += sizes[r];
        for (int64_t f = offs[r]; sizes[r] > 0 && f < offs[r] + sizes[r] && f >= 0 && f < 64; f++) covered[f]++;
    }
    for (int64_t f = 0; f < n && f < 64; f++) ok &= covered[f] == 1;
    if (!ok || total != n) {
        char g[512] = "", w[512] = "";
        size_t gl = 0, wl = 0;
        for (int r = 0; r < p && gl < 400 && wl < 400; r++) {
            gl += (size_t)snprintf(g + gl, sizeof g - gl, " %lld@%lld", (long long)sizes[r], (long long)offs[r]);
            wl += (size_t)snprintf(w + wl, sizeof w - wl, " %lld@%lld", (long long)want_sizes[r], (long long)want_offs[r]);
        }
        CHECK(0, "%s: split of %lld (size@offset per rank):%s, expected:%s", what, (long long)n, g, w);
    }
}

static void split_nodes_example(int64_t n, const int64_t *nodes, int p, const int64_t *want_sizes,
                                const int64_t *want_offs, const char *what) {
    int64_t sizes[MAX_RANKS + 1], offs[MAX_RANKS + 1];
    for (int r = 0; r <= p; r++) sizes[r] = offs[r] = -7;
    CHECK_OK(dgampi_node_aware_split_nodes(n, nodes, (size_t)p, sizes, offs));
    check_split(sizes, offs, want_sizes, want_offs, p, n, what);
    CHECK(sizes[p] == -7 && offs[p] == -7, "%s: wrote past nranks entries", what);
}

static void test_split_nodes(void) {
    check_section = "dgampi_node_aware_split_nodes";
    /* the examples: 6 over nodes [0, 1, 0, 1]: 3 per node, then 2 + 1 on each */
    {
        const int64_t nodes[4] = {0, 1, 0, 1}, s[4] = {2, 2, 1, 1}, o[4] = {0, 3, 2, 5};
        split_nodes_example(6, nodes, 4, s, o, "6 over [0, 1, 0, 1]");
    }
    { /* 5 over nodes [10, 11, 12, 10]: node 10 gets 2 (1 + 1), 11 gets 2, 12 gets 1 */
        const int64_t nodes[4] = {10, 11, 12, 10}, s[4] = {1, 2, 1, 1}, o[4] = {0, 2, 4, 1};
        split_nodes_example(5, nodes, 4, s, o, "5 over [10, 11, 12, 10]");
    }
    { /* more ranks than frequencies, one node */
        const int64_t nodes[4] = {0, 0, 0, 0}, s[4] = {1, 1, 0, 0}, o[4] = {0, 1, 2, 2};
        split_nodes_example(2, nodes, 4, s, o, "2 over [0, 0, 0, 0]");
    }
    { /* more ranks than frequencies, labels out of order: node 3 (ranks 1, 3) then 5 (ranks 0, 2), 9 gets none */
        const int64_t nodes[5] = {5, 3, 5, 3, 9}, s[5] = {1, 1, 0, 0, 0}, o[5] = {1, 0, 2, 1, 2};
        split_nodes_example(2, nodes, 5, s, o, "2 over [5, 3, 5, 3, 9]");
    }
    { /* no frequencies */
        const int64_t nodes[3] = {1, 0, 1}, s[3] = {0, 0, 0}, o[3] = {0, 0, 0};
        split_nodes_example(0, nodes, 3, s, o, "0 over [1, 0, 1]");
    }
    /* a sweep against the reference */
    const int64_t counts[7] = {0, 1, 2, 5, 6, 7, 13};
    for (int p = 1; p <= 6; p++)
        for (int layout = 0; layout < 5; layout++) {
            int64_t nodes[MAX_RANKS];
            for (int r = 0; r < p; r++) {
                switch (layout) {
                case 0: nodes[r] = 0; break;
                case 1: nodes[r] = r % 2; break;
                case 2: nodes[r] = -(int64_t)(r % 3); break;            /* negative labels, reversed order */
                case 3: nodes[r] = r < p / 2 ? INT64_MAX : INT64_MIN; break; /* extreme labels */
                default: nodes[r] = r; break;                          /* one rank per node */
                }
            }
            for (int c = 0; c < 7; c++) {
                int64_t ws[MAX_RANKS], wo[MAX_RANKS];
                split_ref(counts[c], nodes, p, ws, wo);
                char what[96];
                snprintf(what, sizeof what, "%d ranks, node layout #%d", p, layout);
                split_nodes_example(counts[c], nodes, p, ws, wo, what);
            }
        }
    /* bad input: local errors */
    const int64_t nodes[2] = {0, 1};
    int64_t s[3] = {-7, -7, -7}, o[3] = {-7, -7, -7};
    const char *fname = "dgampi_node_aware_split_nodes";
    CHECK_STATUS(dgampi_node_aware_split_nodes(4, nodes, 0, s, o), S_INVALID, fname);
    CHECK_STATUS(dgampi_node_aware_split_nodes(-1, nodes, 2, s, o), S_INVALID, fname);
    CHECK_STATUS(dgampi_node_aware_split_nodes(4, NULL, 2, s, o), S_NULL, fname);
    CHECK_STATUS(dgampi_node_aware_split_nodes(4, nodes, 2, NULL, o), S_NULL, fname);
    CHECK_STATUS(dgampi_node_aware_split_nodes(4, nodes, 2, s, NULL), S_NULL, fname);
    CHECK(s[0] == -7 && o[0] == -7, "a failed split wrote its outputs");
    /* a success after the errors clears the message */
    CHECK_OK(dgampi_node_aware_split_nodes(4, nodes, 2, s, o));
}

/* The real nodes: every rank of these tests runs on this machine, so the split
 * is the plain one with the extra frequencies to the first ranks. */
static void test_split_real(void) {
    check_section = "dgampi_node_aware_split";
    dgampi_distributor *d = NULL;
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, 5, NULL, NULL, &d));
    if (!d) return;
    const int64_t counts[6] = {0, 1, 5, 6, 7, 2 * (int64_t)nranks + 1};
    for (int c = 0; c < 6; c++) {
        int64_t n = counts[c], s[MAX_RANKS + 2], o[MAX_RANKS + 2], ws[MAX_RANKS], wo[MAX_RANKS], off = 0;
        for (int r = 0; r < nranks; r++) {
            ws[r] = n / nranks + (r < n % nranks ? 1 : 0);
            wo[r] = off;
            off += ws[r];
        }
        for (int r = 0; r < nranks + 2; r++) s[r] = o[r] = -7;
        CHECK_OK(dgampi_node_aware_split(d, n, s, o, (size_t)nranks + 2));
        char what[64];
        snprintf(what, sizeof what, "this machine, %lld frequencies", (long long)n);
        check_split(s, o, ws, wo, nranks, n, what);
        CHECK(s[nranks] == -7 && o[nranks] == -7, "%s: wrote past mpi_size entries", what);
        /* exactly mpi_size entries of room */
        CHECK_OK(dgampi_node_aware_split(d, n, s, o, (size_t)nranks));
        /* both node orders find the one node of this machine */
        for (int32_t order = DGAMPI_NODE_ORDER_SHARED_MEMORY; order <= DGAMPI_NODE_ORDER_HOST_NAME; order++) {
            for (int r = 0; r < nranks; r++) s[r] = o[r] = -7;
            CHECK_OK(dgampi_node_aware_split_ordered(d, n, order, s, o, (size_t)nranks));
            snprintf(what, sizeof what, "this machine, %lld frequencies, node order %d", (long long)n, (int)order);
            check_split(s, o, ws, wo, nranks, n, what);
        }
    }
    {
        /* a bad order on every rank; different orders on different ranks */
        int64_t s[MAX_RANKS], o[MAX_RANKS];
        const char *fname = "dgampi_node_aware_split_ordered";
        CHECK_STATUS(dgampi_node_aware_split_ordered(d, 4, 2, s, o, (size_t)nranks), S_INVALID, fname);
        if (nranks > 1)
            CHECK_STATUS(dgampi_node_aware_split_ordered(d, 4, rank == last ? DGAMPI_NODE_ORDER_HOST_NAME : DGAMPI_NODE_ORDER_SHARED_MEMORY,
                                                         s, o, (size_t)nranks),
                         DGAMPI_STATUS_MISMATCH, fname);
    }
    /* bad input: the same on every rank, so a clear status everywhere */
    int64_t s[MAX_RANKS], o[MAX_RANKS];
    const char *fname = "dgampi_node_aware_split";
    CHECK_STATUS(dgampi_node_aware_split(d, 4, s, o, (size_t)nranks - 1), S_RANGE, fname);
    CHECK_STATUS(dgampi_node_aware_split(d, -1, s, o, (size_t)nranks), S_INVALID, fname);
    CHECK_STATUS(dgampi_node_aware_split(d, 4, NULL, o, (size_t)nranks), S_NULL, fname);
    CHECK_STATUS(dgampi_node_aware_split(d, 4, s, NULL, (size_t)nranks), S_NULL, fname);
    CHECK_STATUS(dgampi_node_aware_split(NULL, 4, s, o, (size_t)nranks), S_HANDLE, fname);
    dgampi_distributor *stale = d;
    CHECK_OK(dgampi_distributor_destroy(&d));
    CHECK_STATUS(dgampi_node_aware_split(stale, 4, s, o, (size_t)nranks), S_HANDLE, fname);
}

/* ------------------------------------------------------------------ gather_full_ibz_for_vslice */

/* The expected vslice output for pattern `seed`: all q, this rank's nu
 * (my_nu from my_off), transformed when `in` is given. */
static cplx *vslice_expected(const struct bzmap *m, const struct transform_inputs *in, int64_t nb, int64_t n_nu,
                             int64_t nup, int64_t my_nu, int64_t my_off, int seed) {
    size_t orow = (size_t)(nb * nb * my_nu * nup);
    cplx *want = malloc((size_t)m->n_full * orow * sizeof(cplx) + 1), *x = malloc(orow * sizeof(cplx) + 1);
    for (int64_t q = 0; q < m->n_full; q++) {
        for (int64_t ab = 0; ab < nb * nb; ab++)
            for (int64_t j = 0; j < my_nu; j++)
                for (int64_t tt = 0; tt < nup; tt++)
                    pattern_elem(DGAMPI_DTYPE_COMPLEX128, (size_t)(((m->inv[q] * nb * nb + ab) * n_nu + my_off + j) * nup + tt),
                                 seed, x + (size_t)((ab * my_nu + j) * nup + tt));
        if (in)
            transform_ref(x, want + (size_t)q * orow, in->u + 4 * q, 2, 2, (size_t)(my_nu * nup), in->sigma[q], in->conj[q] != 0);
        else
            memcpy(want + (size_t)q * orow, x, orow * sizeof(cplx));
    }
    free(x);
    return want;
}

static void vslice_case(const struct bzmap *m, const struct dists *d, const struct transform_inputs *in,
                        const int64_t *ssz, const int64_t *soff, int64_t n_nu, int with_t, size_t limit, const char *layout) {
    char ctx[200];
    snprintf(ctx, sizeof ctx, "dgampi_gather_full_ibz_for_vslice: %s, nodes %s, n_nu %lld, %s, limit %zu", m->name,
             layout, (long long)n_nu, with_t ? "transform" : "no transform", limit);
    check_section = ctx;
    const int32_t dt = DGAMPI_DTYPE_COMPLEX128;
    const int64_t nb = 2, nup = 3;
    size_t row = (size_t)(nb * nb * n_nu * nup);
    cplx *blk = pattern_range_new(dt, (size_t)d->ioff * row, (size_t)d->isz * row, 3);
    int64_t bshape[5] = {d->isz, nb, nb, n_nu, nup};
    dgampi_array block = make_array(blk, dt, 5, bshape, NULL);
    dgampi_orbital_transform t = transform_record(in, 0, m->n_full, 2);
    int64_t my_nu = ssz[rank], my_off = soff[rank];
    int64_t oshape[5] = {m->n_full, nb, nb, my_nu, nup};
    dgampi_owned_array o;
    memset(&o, 0x5a, sizeof o);
    int has = -1;
    CHECK_OK(dgampi_gather_full_ibz_for_vslice(d->irr, d->full, m->inv, (size_t)m->n_full, ssz, soff, &block,
                                               with_t ? &t : NULL, limit, &o, &has));
    CHECK(has == (my_nu > 0), "has_slice %d with %lld frequencies", has, (long long)my_nu);
    /* the reference: all q, this rank's nu, transformed by the definition */
    size_t orow = (size_t)(nb * nb * my_nu * nup), n = (size_t)m->n_full * orow;
    cplx *want = vslice_expected(m, with_t ? in : NULL, nb, n_nu, nup, my_nu, my_off, 3);
    if (check_owned_record(&o, dt, 5, oshape, "vslice record") && n)
        CHECK_CLOSE(o.data, want, (size_t)m->n_full, orow, with_t ? 1e-12 : 0.0, "vslice");
    if (o.ndim == 5) CHECK_OK(dgampi_free(o.data));
    free(blk);
    free(want);
}

static void test_vslice(void) {
    static struct transform_inputs in;
    const struct bzmap *m = &MAPS[1];
    struct dists d;
    if (!dists_create(m, &d)) return;
    make_inputs(m->n_full, 5, &in);
    const int64_t counts[3] = {6, 5, 1};
    int c = 0;
    for (int layout = 0; layout < 3; layout++) {
        int64_t nodes[MAX_RANKS];
        const char *lname = layout == 0 ? "rank%2" : layout == 1 ? "all on one" : "this machine";
        for (int r = 0; r < nranks; r++) nodes[r] = layout == 0 ? r % 2 : 0;
        for (int k = 0; k < 3; k++) {
            int64_t ssz[MAX_RANKS], soff[MAX_RANKS];
            if (layout < 2)
                CHECK_OK(dgampi_node_aware_split_nodes(counts[k], nodes, (size_t)nranks, ssz, soff));
            else
                CHECK_OK(dgampi_node_aware_split(d.full, counts[k], ssz, soff, (size_t)nranks));
            /* the machine's split is the one-node split */
            if (layout == 2 && k == 0) {
                int64_t ws[MAX_RANKS], wo[MAX_RANKS];
                split_ref(counts[k], nodes, nranks, ws, wo);
                check_split(ssz, soff, ws, wo, nranks, counts[k], "this machine");
            }
            for (int with_t = 0; with_t < 2; with_t++, c++)
                vslice_case(m, &d, &in, ssz, soff, counts[k], with_t, c % 3 == 1 ? lim(64) : 0, lname);
        }
    }
    dists_destroy(&d);
}

/* ------------------------------------------------------------------ bad input */

/* CHECK_SOME_RANK(call, local, fname): every rank returns `local` or
 * REMOTE_ERROR with a message naming `fname`, and some rank returns `local`.
 * Collective over MPI_COMM_WORLD. */
#define CHECK_SOME_RANK(call, local, fname) check_some_rank_at(__FILE__, __LINE__, #call, (call), (local), (fname), MPI_COMM_WORLD)
#define CHECK_SOME_RANK_IN(comm, call, local, fname) check_some_rank_at(__FILE__, __LINE__, #call, (call), (local), (fname), (comm))
static void check_some_rank_at(const char *file, int line, const char *expr, int s, int local, const char *fname, MPI_Comm comm) {
    const char *msg = last_error();
    if (s != local && s != S_REMOTE)
        check_fail(file, line, "%s returned %d (%s), expected %s or REMOTE_ERROR; message: '%s'", expr, s,
                   status_name(s), status_name(local), msg);
    else if (msg[0] == '\0' || strstr(msg, fname) == NULL)
        check_fail(file, line, "%s: error message '%s' does not name %s", expr, msg, fname);
    unsigned char mine = s == local, any = 0; /* one byte: obeys a 1-byte limit under the PMPI checker */
    MPI_Allreduce(&mine, &any, 1, MPI_UNSIGNED_CHAR, MPI_MAX, comm);
    if (!any) check_fail(file, line, "%s: no rank returned %s", expr, status_name(local));
}

/* CHECK_ONE_RANK(call, bad, local, fname): rank `bad` returns `local`, every
 * other rank REMOTE_ERROR (all with a message naming `fname`). */
#define CHECK_ONE_RANK(call, bad, local, fname) CHECK_STATUS(call, rank == (bad) ? (local) : S_REMOTE, fname)

/* The bad-input fixture: the 2x2 map, f64 [n, 2] and complex128 [n, 2, 2] blocks. */
static struct {
    const struct bzmap *m;
    struct dists d;
    double *in, *out;
    cplx *cin, *cout;
    int64_t bshape[3], fshape[3];
    dgampi_array block, o, cblock, co;
} F;

/* A valid exchange and map after an error: nothing was left behind. */
static void good_map(const char *after) {
    char what[160];
    snprintf(what, sizeof what, "valid map after %s", after);
    void *want = unfold_expected(F.m, DGAMPI_DTYPE_F64, 2, F.d.foff, F.d.fsz, 41);
    for (int fn = FN_EXCHANGE_INTO; fn <= FN_MAP_INTO; fn += 2) {
        memset(F.out, 0, (size_t)F.d.fsz * 2 * sizeof(double) + 1);
        CHECK_OK(call_map(fn, F.d.irr, F.d.full, F.m->inv, 4, &F.block, NULL, 0, NULL, &F.o));
        CHECK_ELEMS(DGAMPI_DTYPE_F64, F.out, want, (size_t)F.d.fsz * 2, what);
    }
    free(want);
}

static void fixture_setup(void) {
    F.m = &MAPS[0];
    dists_create(F.m, &F.d);
    F.in = pattern_range_new(DGAMPI_DTYPE_F64, (size_t)F.d.ioff * 2, (size_t)F.d.isz * 2, 41);
    F.out = zeros_new(DGAMPI_DTYPE_F64, (size_t)F.d.fsz * 2 + 1);
    F.cin = pattern_range_new(DGAMPI_DTYPE_COMPLEX128, (size_t)F.d.ioff * 4, (size_t)F.d.isz * 4, 42);
    F.cout = zeros_new(DGAMPI_DTYPE_COMPLEX128, (size_t)F.d.fsz * 4);
    F.bshape[0] = F.d.isz;
    F.fshape[0] = F.d.fsz;
    F.bshape[1] = F.bshape[2] = F.fshape[1] = F.fshape[2] = 2;
    F.block = make_array(F.in, DGAMPI_DTYPE_F64, 2, F.bshape, NULL);
    F.o = make_array(F.out, DGAMPI_DTYPE_F64, 2, F.fshape, NULL);
    F.cblock = make_array(F.cin, DGAMPI_DTYPE_COMPLEX128, 3, F.bshape, NULL);
    F.co = make_array(F.cout, DGAMPI_DTYPE_COMPLEX128, 3, F.fshape, NULL);
}

static void fixture_teardown(void) {
    dists_destroy(&F.d);
    free(F.in);
    free(F.out);
    free(F.cin);
    free(F.cout);
}

/* Every map function with `inv` of n_full entries: the status on every rank. */
static void bad_map_all_fns(const int64_t *inv, size_t n_full, int expected, int exact, const char *what) {
    for (int fn = 0; fn < N_FN; fn++) {
        char ctx[160];
        snprintf(ctx, sizeof ctx, "bad input: %s (%s)", what, FN_NAME[fn]);
        check_section = ctx;
        dgampi_owned_array owned;
        memset(&owned, 0, sizeof owned);
        int s = call_map(fn, F.d.irr, F.d.full, inv, n_full, &F.block, NULL, 0, &owned, &F.o);
        if (exact) {
            CHECK_STATUS(s, expected, FN_NAME[fn]);
        } else {
            CHECK_SOME_RANK(s, expected, FN_NAME[fn]);
        }
        CHECK(owned.data == NULL, "a failed call allocated a result");
        good_map(ctx);
    }
}

static void test_bad_maps(void) {
    check_section = "bad input: maps";
    const int64_t too_big[4] = {0, 1, 3, 2}, negative[4] = {0, -1, 1, 2}, ok[5] = {0, 1, 1, 2, 0};
    bad_map_all_fns(too_big, 4, S_RANGE, 0, "irrk_inv value >= n_irr");
    bad_map_all_fns(negative, 4, S_RANGE, 1, "negative irrk_inv value");
    bad_map_all_fns(ok, 3, S_MISMATCH, 0, "n_full < the full distributor's ntasks");
    bad_map_all_fns(ok, 5, S_MISMATCH, 0, "n_full > the full distributor's ntasks");
    bad_map_all_fns(NULL, 4, S_NULL, 1, "NULL irrk_inv");
    /* a negative value on one rank only: OUT_OF_RANGE there, REMOTE_ERROR elsewhere */
    const int64_t *mine = rank == last ? negative : F.m->inv;
    for (int fn = 0; fn < N_FN; fn++) {
        char ctx[160];
        snprintf(ctx, sizeof ctx, "bad input: negative irrk_inv value on rank %d only (%s)", last, FN_NAME[fn]);
        check_section = ctx;
        dgampi_owned_array owned;
        CHECK_ONE_RANK(call_map(fn, F.d.irr, F.d.full, mine, 4, &F.block, NULL, 0, &owned, &F.o), last, S_RANGE,
                       FN_NAME[fn]);
        good_map(ctx);
    }
}

static void test_bad_blocks(void) {
    double big[64] = {0};
    for (int bad = 0; bad < nranks; bad += (nranks > 1 ? last : 1)) { /* the root, then the last rank */
        int64_t wrong_rows[2] = {F.d.isz + 1, 2}, wrong_trail[2] = {F.d.isz, 3}, wrong_out[2] = {F.d.fsz + 1, 2};
        dgampi_array rows_block = make_array(big, DGAMPI_DTYPE_F64, 2, rank == bad ? wrong_rows : F.bshape, NULL);
        dgampi_array trail_block = make_array(big, DGAMPI_DTYPE_F64, 2, rank == bad ? wrong_trail : F.bshape, NULL);
        dgampi_array dtype_block = make_array(F.in, rank == bad ? DGAMPI_DTYPE_I64 : DGAMPI_DTYPE_F64, 2, F.bshape, NULL);
        dgampi_array out_rows = make_array(big, DGAMPI_DTYPE_F64, 2, rank == bad ? wrong_out : F.fshape, NULL);
        dgampi_array out_dtype = make_array(F.out, rank == bad ? DGAMPI_DTYPE_I64 : DGAMPI_DTYPE_F64, 2, F.fshape, NULL);
        for (int fn = 0; fn < N_FN; fn++) {
            char ctx[160];
            snprintf(ctx, sizeof ctx, "bad input on rank %d only (%s)", bad, FN_NAME[fn]);
            check_section = ctx;
            dgampi_owned_array owned;
            memset(&owned, 0, sizeof owned);
            /* a wrong leading length: MISMATCH there, REMOTE_ERROR elsewhere */
            CHECK_ONE_RANK(call_map(fn, F.d.irr, F.d.full, F.m->inv, 4, &rows_block, NULL, 0, &owned, &F.o), bad,
                           S_MISMATCH, FN_NAME[fn]);
            good_map(ctx);
            /* a wrong trailing shape or dtype: the root's header is the reference, so
             * if the root is the odd one the others find the mismatch (with one
             * rank, the root alone defines the shape: nothing is wrong) */
            if (nranks > 1) {
                CHECK_SOME_RANK(call_map(fn, F.d.irr, F.d.full, F.m->inv, 4, &trail_block, NULL, 0, &owned, &F.o),
                                S_MISMATCH, FN_NAME[fn]);
                CHECK_SOME_RANK(call_map(fn, F.d.irr, F.d.full, F.m->inv, 4, &dtype_block, NULL, 0, &owned, &F.o),
                                S_MISMATCH, FN_NAME[fn]);
                CHECK(owned.data == NULL, "a failed call allocated a result");
                good_map(ctx);
            }
            if (fn_is_into(fn)) {
                CHECK_ONE_RANK(call_map(fn, F.d.irr, F.d.full, F.m->inv, 4, &F.block, NULL, 0, NULL, &out_rows), bad,
                               S_MISMATCH, FN_NAME[fn]);
                CHECK_ONE_RANK(call_map(fn, F.d.irr, F.d.full, F.m->inv, 4, &F.block, NULL, 0, NULL, &out_dtype), bad,
                               S_MISMATCH, FN_NAME[fn]);
            } else {
                /* the allocating forms: NULL out on one rank */
                CHECK_ONE_RANK(call_map(fn, F.d.irr, F.d.full, F.m->inv, 4, &F.block, NULL, 0,
                                        rank == bad ? NULL : &owned, NULL),
                               bad, S_NULL, FN_NAME[fn]);
                CHECK(owned.data == NULL, "a failed call allocated a result");
                /* a limit that differs on one rank (both at most 3: the PMPI checker's limit) */
                if (nranks > 1) {
                    CHECK_SOME_RANK(call_map(fn, F.d.irr, F.d.full, F.m->inv, 4, &F.block, NULL, rank == bad ? 2 : 3,
                                             &owned, NULL),
                                    S_MISMATCH, FN_NAME[fn]);
                    CHECK(owned.data == NULL, "a failed call allocated a result");
                }
            }
            good_map(ctx);
        }
        if (nranks == 1) break;
    }
}

static void test_bad_nulls(void) {
    check_section = "bad input: NULL arguments and a limit out of range on every rank";
    for (int fn = 0; fn < N_FN; fn++) {
        dgampi_owned_array owned;
        CHECK_STATUS(call_map(fn, F.d.irr, F.d.full, F.m->inv, 4, &F.block, NULL, 0, NULL, NULL), S_NULL, FN_NAME[fn]);
        CHECK_STATUS(call_map(fn, F.d.irr, F.d.full, F.m->inv, 4, NULL, NULL, 0, &owned, &F.o), S_NULL, FN_NAME[fn]);
        /* an empty block may have data NULL, a non-empty one may not */
        dgampi_array nodata = make_array(NULL, DGAMPI_DTYPE_F64, 2, F.bshape, NULL);
        CHECK_SOME_RANK(call_map(fn, F.d.irr, F.d.full, F.m->inv, 4, &nodata, NULL, 0, &owned, &F.o), S_NULL,
                        FN_NAME[fn]);
        good_map("NULL arguments");
        /* a limit above the largest allowed (2^31 - 1 bytes) */
        CHECK_SOME_RANK(call_map(fn, F.d.irr, F.d.full, F.m->inv, 4, &F.block, NULL, (size_t)INT32_MAX + 1, &owned, &F.o),
                        S_RANGE, FN_NAME[fn]);
        good_map("a limit out of range");
    }
}

/* Distributors on different communicators. */
static void test_bad_comms(void) {
    if (nranks < 2) return;
    check_section = "bad input: distributors on different communicators";
    MPI_Comm half, reversed;
    MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &half);
    MPI_Comm_split(MPI_COMM_WORLD, 0, -rank, &reversed); /* the same ranks in another order */
    dgampi_distributor *h_irr = NULL, *h_full = NULL, *r_full = NULL;
    CHECK_OK(dgampi_distributor_create(half, F.m->n_irr, NULL, NULL, &h_irr));
    CHECK_OK(dgampi_distributor_create(half, F.m->n_full, NULL, NULL, &h_full));
    CHECK_OK(dgampi_distributor_create(reversed, F.m->n_full, NULL, NULL, &r_full));
    /* this rank's blocks under each distributor */
    int hs, hr, rr;
    MPI_Comm_size(half, &hs);
    MPI_Comm_rank(half, &hr);
    MPI_Comm_rank(reversed, &rr);
    int64_t s[MAX_RANKS], o[MAX_RANKS];
    block_layout(F.m->n_irr, hs, s, o);
    int64_t hb_shape[2] = {s[hr], 2};
    block_layout(F.m->n_full, hs, s, o);
    int64_t hshape[2] = {s[hr], 2};
    block_layout(F.m->n_full, nranks, s, o);
    int64_t rshape[2] = {s[rr], 2};
    double hbuf[16] = {0}, hobuf[16], rbuf[16];
    dgampi_array hblock = make_array(hbuf, DGAMPI_DTYPE_F64, 2, hb_shape, NULL);
    dgampi_array hout = make_array(hobuf, DGAMPI_DTYPE_F64, 2, hshape, NULL);
    dgampi_array rout = make_array(rbuf, DGAMPI_DTYPE_F64, 2, rshape, NULL);
    for (int fn = 0; fn < N_FN; fn++) {
        dgampi_owned_array owned;
        memset(&owned, 0, sizeof owned);
        /* irreducible on MPI_COMM_WORLD, full on half of it: collective over the full one */
        CHECK_SOME_RANK_IN(half, call_map(fn, F.d.irr, h_full, F.m->inv, 4, &F.block, NULL, 0, &owned, &hout),
                           S_MISMATCH, FN_NAME[fn]);
        /* irreducible on half, full on MPI_COMM_WORLD */
        CHECK_SOME_RANK(call_map(fn, h_irr, F.d.full, F.m->inv, 4, &hblock, NULL, 0, &owned, &F.o), S_MISMATCH,
                        FN_NAME[fn]);
        /* the same ranks in another order (MPI_SIMILAR): the layouts differ */
        CHECK_SOME_RANK(call_map(fn, F.d.irr, r_full, F.m->inv, 4, &F.block, NULL, 0, &owned, &rout), S_MISMATCH,
                        FN_NAME[fn]);
        CHECK(owned.data == NULL, "a failed call allocated a result");
        good_map("distributors on different communicators");
    }
    /* gather_full_ibz_for_vslice as well */
    int64_t ssz[MAX_RANKS] = {0}, soff[MAX_RANKS] = {0};
    int64_t vshape[5] = {F.d.isz, 1, 1, 0, 1};
    dgampi_array vblock = make_array(F.in, DGAMPI_DTYPE_F64, 5, vshape, NULL);
    dgampi_owned_array vo;
    int has;
    CHECK_SOME_RANK(dgampi_gather_full_ibz_for_vslice(h_irr, F.d.full, F.m->inv, 4, ssz, soff, &vblock, NULL, 0, &vo, &has),
                    S_MISMATCH, "dgampi_gather_full_ibz_for_vslice");
    CHECK_OK(dgampi_distributor_destroy(&h_irr));
    CHECK_OK(dgampi_distributor_destroy(&h_full));
    CHECK_OK(dgampi_distributor_destroy(&r_full));
    MPI_Comm_free(&half);
    MPI_Comm_free(&reversed);
}

static void test_bad_transform(void) {
    static struct transform_inputs in;
    make_inputs(F.m->n_full, 0, &in);
    dgampi_orbital_transform good = transform_record(&in, F.d.foff, F.d.fsz, 2);
    struct {
        const char *what;
        int64_t n, nb;
        int axes, null_u, on_one_rank, status;
    } cases[] = {
        {"n neither this rank's points nor all", 3, 2, 2, 0, 0, S_MISMATCH},
        {"n above all points", 5, 2, 2, 0, 0, S_MISMATCH},
        {"n wrong on one rank", 3, 2, 2, 0, 1, S_MISMATCH},
        {"negative n", -1, 2, 2, 0, 0, S_INVALID},
        {"negative nb", 4, -2, 2, 0, 0, S_INVALID},
        {"3 axes", 4, 2, 3, 0, 0, S_INVALID},
        {"nb 3 on rows of 2", 4, 3, 2, 0, 0, S_MISMATCH},
        {"more axes than the rows have", 4, 2, 4, 0, 0, S_MISMATCH},
        {"NULL u", 4, 2, 2, 1, 0, S_NULL},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int fn = 0; fn < N_FN; fn++) {
            char ctx[160];
            snprintf(ctx, sizeof ctx, "bad transform: %s (%s)", cases[c].what, FN_NAME[fn]);
            check_section = ctx;
            dgampi_orbital_transform t = transform_record(&in, 0, cases[c].n, cases[c].axes);
            t.nb = cases[c].nb;
            if (cases[c].null_u) t.u = NULL;
            if (cases[c].on_one_rank && rank != last) t = good;
            dgampi_owned_array owned;
            memset(&owned, 0, sizeof owned);
            int s = call_map(fn, F.d.irr, F.d.full, F.m->inv, 4, &F.cblock, &t, 0, &owned, &F.co);
            if (cases[c].on_one_rank)
                CHECK_ONE_RANK(s, last, cases[c].status, FN_NAME[fn]);
            else
                CHECK_SOME_RANK(s, cases[c].status, FN_NAME[fn]);
            CHECK(owned.data == NULL, "a failed call allocated a result");
        }
    /* the extensible record: struct_size 0, too small, garbage, misaligned,
     * and a newer caller's record with a nonzero unknown field are refused on
     * every rank; a newer record whose unknown fields are zero is accepted */
    struct {
        dgampi_orbital_transform t;
        uint64_t future[2];
    } newer;
    const size_t sizes[] = {0, DGAMPI_ORBITAL_TRANSFORM_MIN_SIZE - 8, DGAMPI_ORBITAL_TRANSFORM_MIN_SIZE + 4,
                            (size_t)0x5a5a5a5a5a5a5a5aull, sizeof newer};
    for (size_t c = 0; c < sizeof sizes / sizeof sizes[0]; c++)
        for (int fn = 0; fn < N_FN; fn++) {
            char ctx[160];
            snprintf(ctx, sizeof ctx, "bad transform: struct_size %zu%s (%s)", sizes[c], c == 4 ? " unknown field set" : "",
                     FN_NAME[fn]);
            check_section = ctx;
            memset(&newer, 0, sizeof newer);
            newer.t = good;
            newer.t.struct_size = sizes[c];
            if (c == 4) newer.future[1] = 1;
            dgampi_owned_array owned;
            memset(&owned, 0, sizeof owned);
            int s = call_map(fn, F.d.irr, F.d.full, F.m->inv, 4, &F.cblock, &newer.t, 0, &owned, &F.co);
            CHECK_SOME_RANK(s, S_INVALID, FN_NAME[fn]);
            CHECK(strstr(last_error(), "struct_size") != NULL || s == S_REMOTE, "the message '%s' does not name struct_size",
                  last_error());
            CHECK(owned.data == NULL, "a failed call allocated a result");
        }
    for (int fn = 0; fn < N_FN; fn++) {
        check_section = "transform: a newer caller's larger record with zero unknown fields";
        memset(&newer, 0, sizeof newer);
        newer.t = good;
        newer.t.struct_size = sizeof newer;
        dgampi_owned_array owned;
        memset(&owned, 0, sizeof owned);
        CHECK_OK(call_map(fn, F.d.irr, F.d.full, F.m->inv, 4, &F.cblock, &newer.t, 0, &owned, &F.co));
        dgampi_free(owned.data);
    }
    CHECK_STATUS(dgampi_orbital_transform_init(NULL, sizeof good), S_NULL, "dgampi_orbital_transform_init");
    CHECK_STATUS(dgampi_orbital_transform_init(&good, 0), S_INVALID, "dgampi_orbital_transform_init");
    CHECK_STATUS(dgampi_orbital_transform_init(&good, 12), S_INVALID, "dgampi_orbital_transform_init");
    /* the transform needs complex data */
    check_section = "bad transform: real data";
    dgampi_orbital_transform t = transform_record(&in, 0, F.m->n_full, 2);
    int64_t rshape[3] = {F.d.isz, 2, 2}, rfshape[3] = {F.d.fsz, 2, 2};
    double rin[64] = {0}, rout[64];
    dgampi_array rb = make_array(rin, DGAMPI_DTYPE_F64, 3, rshape, NULL), ro = make_array(rout, DGAMPI_DTYPE_F64, 3, rfshape, NULL);
    for (int fn = 0; fn < N_FN; fn++) {
        dgampi_owned_array owned;
        memset(&owned, 0, sizeof owned);
        CHECK_SOME_RANK(call_map(fn, F.d.irr, F.d.full, F.m->inv, 4, &rb, &t, 0, &owned, &ro), S_INVALID, FN_NAME[fn]);
    }
    good_map("bad transforms");
}

static void test_bad_vslice(void) {
    check_section = "bad input: dgampi_gather_full_ibz_for_vslice";
    const char *fname = "dgampi_gather_full_ibz_for_vslice";
    const int64_t n_nu = 2;
    int64_t nodes[MAX_RANKS] = {0}, ssz[MAX_RANKS], soff[MAX_RANKS];
    CHECK_OK(dgampi_node_aware_split_nodes(n_nu, nodes, (size_t)nranks, ssz, soff));
    int64_t vshape[5] = {F.d.isz, 2, 2, n_nu, 1};
    cplx vbuf[64];
    memset(vbuf, 0, sizeof vbuf);
    dgampi_array vblock = make_array(vbuf, DGAMPI_DTYPE_COMPLEX128, 5, vshape, NULL);
    dgampi_owned_array o;
    int has = 7;
    /* valid first */
    CHECK_OK(dgampi_gather_full_ibz_for_vslice(F.d.irr, F.d.full, F.m->inv, 4, ssz, soff, &vblock, NULL, 0, &o, &has));
    CHECK(has == (ssz[rank] > 0), "has_slice %d", has);
    CHECK_OK(dgampi_free(o.data));
    const int64_t too_big[4] = {0, 1, 3, 2}, negative[4] = {0, -1, 1, 2};
    int64_t short_sizes[MAX_RANKS], neg_sizes[MAX_RANKS], far_offs[MAX_RANKS];
    for (int r = 0; r < nranks; r++) {
        short_sizes[r] = ssz[r];
        neg_sizes[r] = ssz[r];
        far_offs[r] = soff[r];
    }
    short_sizes[0] -= 1;   /* covers n_nu - 1 frequencies */
    neg_sizes[last] = -1;
    far_offs[0] = n_nu;    /* rank 0's slice (at least 1 frequency) leaves 0..n_nu */
    CHECK_SOME_RANK(dgampi_gather_full_ibz_for_vslice(F.d.irr, F.d.full, too_big, 4, ssz, soff, &vblock, NULL, 0, &o, &has), S_RANGE, fname);
    CHECK_STATUS(dgampi_gather_full_ibz_for_vslice(F.d.irr, F.d.full, negative, 4, ssz, soff, &vblock, NULL, 0, &o, &has), S_RANGE, fname);
    CHECK_SOME_RANK(dgampi_gather_full_ibz_for_vslice(F.d.irr, F.d.full, F.m->inv, 3, ssz, soff, &vblock, NULL, 0, &o, &has), S_MISMATCH, fname);
    CHECK_SOME_RANK(dgampi_gather_full_ibz_for_vslice(F.d.irr, F.d.full, F.m->inv, 4, short_sizes, soff, &vblock, NULL, 0, &o, &has), S_MISMATCH, fname);
    CHECK_STATUS(dgampi_gather_full_ibz_for_vslice(F.d.irr, F.d.full, F.m->inv, 4, neg_sizes, soff, &vblock, NULL, 0, &o, &has), S_INVALID, fname);
    CHECK_SOME_RANK(dgampi_gather_full_ibz_for_vslice(F.d.irr, F.d.full, F.m->inv, 4, ssz, far_offs, &vblock, NULL, 0, &o, &has), S_RANGE, fname);
    CHECK_STATUS(dgampi_gather_full_ibz_for_vslice(F.d.irr, F.d.full, F.m->inv, 4, NULL, soff, &vblock, NULL, 0, &o, &has), S_NULL, fname);
    CHECK_STATUS(dgampi_gather_full_ibz_for_vslice(F.d.irr, F.d.full, F.m->inv, 4, ssz, NULL, &vblock, NULL, 0, &o, &has), S_NULL, fname);
    CHECK_STATUS(dgampi_gather_full_ibz_for_vslice(F.d.irr, F.d.full, F.m->inv, 4, ssz, soff, NULL, NULL, 0, &o, &has), S_NULL, fname);
    CHECK_STATUS(dgampi_gather_full_ibz_for_vslice(F.d.irr, F.d.full, F.m->inv, 4, ssz, soff, &vblock, NULL, 0, NULL, &has), S_NULL, fname);
    CHECK_STATUS(dgampi_gather_full_ibz_for_vslice(F.d.irr, F.d.full, F.m->inv, 4, ssz, soff, &vblock, NULL, 0, &o, NULL), S_NULL, fname);
    /* NULL out on one rank only */
    CHECK_ONE_RANK(dgampi_gather_full_ibz_for_vslice(F.d.irr, F.d.full, F.m->inv, 4, ssz, soff, &vblock, NULL, 0,
                                                     rank == last ? NULL : &o, &has),
                   last, S_NULL, fname);
    /* a block of fewer than 3 axes */
    dgampi_array flat = make_array(F.in, DGAMPI_DTYPE_F64, 2, F.bshape, NULL);
    CHECK_SOME_RANK(dgampi_gather_full_ibz_for_vslice(F.d.irr, F.d.full, F.m->inv, 4, ssz, soff, &flat, NULL, 0, &o, &has), S_INVALID, fname);
    /* a wrong leading length on one rank */
    int64_t wrong[5] = {F.d.isz + 1, 2, 2, n_nu, 1};
    cplx wbuf[64];
    dgampi_array wblock = make_array(wbuf, DGAMPI_DTYPE_COMPLEX128, 5, rank == last ? wrong : vshape, NULL);
    CHECK_ONE_RANK(dgampi_gather_full_ibz_for_vslice(F.d.irr, F.d.full, F.m->inv, 4, ssz, soff, &wblock, NULL, 0, &o, &has), last, S_MISMATCH, fname);
    /* the transform: wrong number of k-points (a vslice holds every q: n must be n_full) */
    static struct transform_inputs in;
    make_inputs(4, 1, &in);
    dgampi_orbital_transform t3 = transform_record(&in, 0, 3, 2), ta = transform_record(&in, 0, 4, 3);
    CHECK_SOME_RANK(dgampi_gather_full_ibz_for_vslice(F.d.irr, F.d.full, F.m->inv, 4, ssz, soff, &vblock, &t3, 0, &o, &has), S_MISMATCH, fname);
    CHECK_SOME_RANK(dgampi_gather_full_ibz_for_vslice(F.d.irr, F.d.full, F.m->inv, 4, ssz, soff, &vblock, &ta, 0, &o, &has), S_INVALID, fname);
    /* valid again: nothing was left behind */
    has = 7;
    CHECK_OK(dgampi_gather_full_ibz_for_vslice(F.d.irr, F.d.full, F.m->inv, 4, ssz, soff, &vblock, NULL, 0, &o, &has));
    CHECK(has == (ssz[rank] > 0), "has_slice %d", has);
    CHECK_OK(dgampi_free(o.data));
    good_map("bad vslice input");
}

/* Stale and NULL handles, the same on every rank: a local error everywhere. */
static void test_bad_handles(void) {
    check_section = "bad input: stale handles";
    dgampi_distributor *d = NULL;
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, 4, NULL, NULL, &d));
    dgampi_distributor *stale = d;
    CHECK_OK(dgampi_distributor_destroy(&d));
    for (int fn = 0; fn < N_FN; fn++) {
        dgampi_owned_array owned;
        CHECK_STATUS(call_map(fn, stale, F.d.full, F.m->inv, 4, &F.block, NULL, 0, &owned, &F.o), S_HANDLE, FN_NAME[fn]);
        CHECK_STATUS(call_map(fn, F.d.irr, stale, F.m->inv, 4, &F.block, NULL, 0, &owned, &F.o), S_HANDLE, FN_NAME[fn]);
        CHECK_STATUS(call_map(fn, NULL, F.d.full, F.m->inv, 4, &F.block, NULL, 0, &owned, &F.o), S_HANDLE, FN_NAME[fn]);
        CHECK_STATUS(call_map(fn, F.d.irr, NULL, F.m->inv, 4, &F.block, NULL, 0, &owned, &F.o), S_HANDLE, FN_NAME[fn]);
    }
    int64_t ssz[MAX_RANKS] = {0}, soff[MAX_RANKS] = {0};
    dgampi_owned_array o;
    int has;
    const char *fname = "dgampi_gather_full_ibz_for_vslice";
    CHECK_STATUS(dgampi_gather_full_ibz_for_vslice(stale, F.d.full, F.m->inv, 4, ssz, soff, &F.block, NULL, 0, &o, &has), S_HANDLE, fname);
    CHECK_STATUS(dgampi_gather_full_ibz_for_vslice(F.d.irr, stale, F.m->inv, 4, ssz, soff, &F.block, NULL, 0, &o, &has), S_HANDLE, fname);
    good_map("stale handles");
}

/* ------------------------------------------------------------------ reproducers */

/* Bug: the _into map entry points check `out` for NULL before the collective
 * agreement (non_null(out) in dgampi_*_irrbz_fullbz_into, ahead of run_map),
 * so a rank passing NULL returns NULL_ARGUMENT at once while the other ranks
 * wait in the agreement forever (collective errors must be collective:
 * REMOTE_ERROR on the others, as the allocating forms and
 * dgampi_gather_full_ibz_for_vslice do). Hangs until the ctest timeout. */
static void into_null_out_on_one_rank(void) {
    fixture_setup();
    for (int fn = FN_EXCHANGE_INTO; fn <= FN_MAP_INTO; fn += 2) {
        check_section = FN_NAME[fn];
        CHECK_ONE_RANK(call_map(fn, F.d.irr, F.d.full, F.m->inv, 4, &F.block, NULL, 0, NULL, rank == last ? NULL : &F.o),
                       last, S_NULL, FN_NAME[fn]);
        good_map("NULL out on one rank");
    }
    fixture_teardown();
}

/* Gap: irrk_inv must be replicated on all ranks, but nothing checks that it
 * is: here the last rank's map is a different valid map, under which rank 0
 * needs no row from it while rank 0's own map makes it wait for one (the
 * plans of the two ranks disagree), so rank 0 waits forever (or, when the
 * row counts happen to agree, receives the wrong rows silently). A checksum
 * of irrk_inv in the initial agreement would turn this into MISMATCH on some
 * rank and REMOTE_ERROR on the others, which is what this case expects. */
static void irrk_inv_differs_on_one_rank(void) {
    if (nranks < 2) return;
    fixture_setup();
    /* the 2x2 map is [0, 1, 1, 2]; rank 0 holds irr {0} (and more at 2 ranks), q {0, ...} */
    int64_t other[4];
    for (int q = 0; q < 4; q++) other[q] = 0; /* every full point from irr 0: the others need nothing from rank last */
    const int64_t *mine = rank == last ? other : F.m->inv;
    for (int fn = FN_EXCHANGE_INTO; fn <= FN_MAP_INTO; fn += 2) {
        check_section = FN_NAME[fn];
        CHECK_SOME_RANK(call_map(fn, F.d.irr, F.d.full, mine, 4, &F.block, NULL, 0, NULL, &F.o), S_MISMATCH, FN_NAME[fn]);
        good_map("irrk_inv differing on one rank");
    }
    fixture_teardown();
}

/* ------------------------------------------------------------------ plans */

/* A map plan per map: created once, executed with new data twice after its
 * distributors are destroyed, refusing a wrong block on rank 0 everywhere
 * and still usable after it; then a stale handle. */
static void test_map_plans(void) {
    const int32_t dt = DGAMPI_DTYPE_F64;
    const int64_t trail[1] = {3};
    for (int mi = 0; mi < N_MAPS; mi++) {
        const struct bzmap *m = &MAPS[mi];
        char ctx[160];
        snprintf(ctx, sizeof ctx, "dgampi_map_plan: %s", m->name);
        check_section = ctx;
        struct dists d;
        if (!dists_create(m, &d)) continue;
        dgampi_map_plan *plan = NULL;
        CHECK_OK(dgampi_map_plan_create(d.irr, d.full, m->inv, (size_t)m->n_full, dt, 1, trail, NULL, lim(40), &plan));
        int64_t isz = d.isz, ioff = d.ioff, fsz = d.fsz, foff = d.foff;
        dists_destroy(&d); /* the plan keeps its own communicator */
        if (!plan) continue;
        int64_t bshape[2], oshape[2];
        CHECK_OK(dgampi_map_plan_shapes(plan, 2, bshape, oshape));
        CHECK(bshape[0] == isz && bshape[1] == 3 && oshape[0] == fsz && oshape[1] == 3, "plan shapes [%lld, %lld] [%lld, %lld]",
              (long long)bshape[0], (long long)bshape[1], (long long)oshape[0], (long long)oshape[1]);
        CHECK_STATUS(dgampi_map_plan_shapes(plan, 3, bshape, oshape), S_MISMATCH, "dgampi_map_plan_shapes");
        size_t n = (size_t)fsz * 3;
        double *out = malloc(n * sizeof(double) + 1);
        dgampi_array o = make_array(out, dt, 2, oshape, NULL);
        for (int seed = 1; seed <= 3; seed++) {
            void *in = pattern_range_new(dt, (size_t)ioff * 3, (size_t)isz * 3, seed);
            dgampi_array block = make_array(in, dt, 2, bshape, NULL);
            if (seed == 2) {
                /* a wrong block on rank 0: every rank fails, nothing moves */
                int64_t wrong[2] = {isz + (rank == 0), 3};
                void *big = pattern_range_new(dt, 0, (size_t)(isz + 1) * 3, seed);
                dgampi_array bad = make_array(big, dt, 2, wrong, NULL);
                CHECK_SOME_RANK(dgampi_map_plan_execute(plan, &bad, &o), S_MISMATCH, "dgampi_map_plan_execute");
                free(big);
            }
            CHECK_OK(dgampi_map_plan_execute(plan, &block, &o));
            void *want = unfold_expected(m, dt, 3, foff, fsz, seed);
            CHECK_ELEMS(dt, out, want, n, "planned map");
            free(want);
            free(in);
        }
        dgampi_map_plan *stale = plan;
        CHECK_OK(dgampi_map_plan_destroy(&plan));
        CHECK(plan == NULL, "destroy left the handle set");
        CHECK_OK(dgampi_map_plan_destroy(&plan));
        CHECK_STATUS(dgampi_map_plan_execute(stale, NULL, &o), S_HANDLE, "dgampi_map_plan_execute");
        free(out);
    }
}

/* A vslice plan with the transform, created once and executed twice with new
 * data, at every node layout of test_vslice's first two (ranks with empty
 * slices at 5 frequencies on 4 ranks of one node). */
static void test_vslice_plans(void) {
    static struct transform_inputs in;
    const struct bzmap *m = &MAPS[1];
    struct dists d;
    if (!dists_create(m, &d)) return;
    make_inputs(m->n_full, 9, &in);
    const int32_t dt = DGAMPI_DTYPE_COMPLEX128;
    const int64_t nb = 2, nup = 3;
    for (int layout = 0; layout < 2; layout++) {
        for (int64_t n_nu = 2; n_nu <= 5; n_nu += 3) {
            char ctx[160];
            snprintf(ctx, sizeof ctx, "dgampi_vslice_plan: nodes %s, n_nu %lld", layout ? "all on one" : "rank%2", (long long)n_nu);
            check_section = ctx;
            int64_t nodes[MAX_RANKS], ssz[MAX_RANKS], soff[MAX_RANKS];
            for (int r = 0; r < nranks; r++) nodes[r] = layout == 0 ? r % 2 : 0;
            CHECK_OK(dgampi_node_aware_split_nodes(n_nu, nodes, (size_t)nranks, ssz, soff));
            int64_t row[4] = {nb, nb, n_nu, nup};
            dgampi_orbital_transform t = transform_record(&in, 0, m->n_full, 2);
            dgampi_vslice_plan *plan = NULL;
            CHECK_OK(dgampi_vslice_plan_create(d.irr, d.full, m->inv, (size_t)m->n_full, ssz, soff, dt, 4, row, &t, lim(64), &plan));
            if (!plan) continue;
            int64_t bshape[5], oshape[5];
            CHECK_OK(dgampi_vslice_plan_shapes(plan, 5, bshape, oshape));
            CHECK(bshape[0] == d.isz && oshape[0] == m->n_full && oshape[3] == ssz[rank] && oshape[4] == nup, "plan shapes");
            size_t n = (size_t)m->n_full * (size_t)(nb * nb * ssz[rank] * nup);
            cplx *out = malloc(n * sizeof(cplx) + 1);
            dgampi_array o = make_array(n ? out : NULL, dt, 5, oshape, NULL);
            size_t brow = (size_t)(nb * nb * n_nu * nup);
            for (int seed = 4; seed <= 5; seed++) {
                cplx *blk = pattern_range_new(dt, (size_t)d.ioff * brow, (size_t)d.isz * brow, seed);
                dgampi_array block = make_array(blk, dt, 5, bshape, NULL);
                CHECK_OK(dgampi_vslice_plan_execute(plan, &block, &o));
                cplx *want = vslice_expected(m, &in, nb, n_nu, nup, ssz[rank], soff[rank], seed);
                if (n) CHECK_CLOSE(out, want, (size_t)m->n_full, n / (size_t)m->n_full, 1e-12, "planned vslice");
                free(want);
                free(blk);
            }
            CHECK_OK(dgampi_vslice_plan_destroy(&plan));
            free(out);
        }
    }
    dists_destroy(&d);
}

/* The exchange-path setting: every setting moves the same data; the plans
 * report the route the rule gives (the engine when asked, at one rank, or
 * under a lowered limit a block exceeds; a collective for these dense
 * movements otherwise); a setting that differs between ranks is a MISMATCH
 * on every rank; an unknown setting is refused locally. */
static void test_exchange_paths(void) {
    static struct transform_inputs in;
    check_section = "exchange paths";
    int32_t path = -1;
    CHECK_STATUS(dgampi_set_exchange_path(7), S_INVALID, "dgampi_set_exchange_path");
    CHECK_OK(dgampi_get_exchange_path(&path));
    CHECK(path == DGAMPI_EXCHANGE_PATH_AUTO, "the path is %d before any setting", (int)path);
    CHECK_STATUS(dgampi_get_exchange_path(NULL), S_NULL, "dgampi_get_exchange_path");
    const struct bzmap *m = &MAPS[1]; /* 4x4: every rank has peers at 2..4 ranks */
    struct dists d;
    if (!dists_create(m, &d)) return;
    make_inputs(m->n_full, 3, &in);
    const int32_t paths[3] = {DGAMPI_EXCHANGE_PATH_POINT_TO_POINT, DGAMPI_EXCHANGE_PATH_COLLECTIVE, DGAMPI_EXCHANGE_PATH_AUTO};
    for (int k = 0; k < 3; k++) {
        CHECK_OK(dgampi_set_exchange_path(paths[k]));
        CHECK_OK(dgampi_get_exchange_path(&path));
        CHECK(path == paths[k], "get gave %d after set %d", (int)path, (int)paths[k]);
        /* Blocks here are 24 bytes to a few KiB: a limit of at most 20 bytes
         * (the test matrix's) sends them through the engine, the default
         * never; other limits are not checked. */
        int engine = paths[k] == DGAMPI_EXCHANGE_PATH_POINT_TO_POINT || nranks == 1 || (env_limit && env_limit <= 20);
        int known = engine || !env_limit;
        const int64_t trail[1] = {3};
        dgampi_map_plan *plan = NULL;
        CHECK_OK(dgampi_map_plan_create(d.irr, d.full, m->inv, (size_t)m->n_full, DGAMPI_DTYPE_F64, 1, trail, NULL, 0, &plan));
        int32_t route = -1;
        CHECK_OK(dgampi_map_plan_route(plan, &route));
        CHECK(!known || (engine ? route == DGAMPI_EXCHANGE_ROUTE_POINT_TO_POINT : route == DGAMPI_EXCHANGE_ROUTE_ALLTOALLW),
              "map plan route %d under path %d", (int)route, (int)paths[k]);
        int64_t bshape[2] = {d.isz, 3}, oshape[2] = {d.fsz, 3};
        double *out = malloc((size_t)d.fsz * 3 * sizeof(double) + 1);
        dgampi_array o = make_array(out, DGAMPI_DTYPE_F64, 2, oshape, NULL);
        for (int seed = 1; seed <= 2; seed++) {
            void *blk = pattern_range_new(DGAMPI_DTYPE_F64, (size_t)d.ioff * 3, (size_t)d.isz * 3, seed);
            dgampi_array block = make_array(blk, DGAMPI_DTYPE_F64, 2, bshape, NULL);
            CHECK_OK(dgampi_map_plan_execute(plan, &block, &o));
            void *want = unfold_expected(m, DGAMPI_DTYPE_F64, 3, d.foff, d.fsz, seed);
            CHECK_ELEMS(DGAMPI_DTYPE_F64, out, want, (size_t)d.fsz * 3, "map plan under each exchange path");
            free(want);
            free(blk);
        }
        CHECK_OK(dgampi_map_plan_destroy(&plan));
        free(out);
        /* the frequency re-layout: every receiving rank gets every q */
        int64_t nodes[MAX_RANKS], ssz[MAX_RANKS], soff[MAX_RANKS];
        for (int r = 0; r < nranks; r++) nodes[r] = 0;
        CHECK_OK(dgampi_node_aware_split_nodes(4, nodes, (size_t)nranks, ssz, soff));
        const int64_t nb = 2, n_nu = 4, nup = 3, row[4] = {nb, nb, n_nu, nup};
        dgampi_vslice_plan *vplan = NULL;
        CHECK_OK(dgampi_vslice_plan_create(d.irr, d.full, m->inv, (size_t)m->n_full, ssz, soff, DGAMPI_DTYPE_COMPLEX128, 4, row, NULL, 0, &vplan));
        CHECK_OK(dgampi_vslice_plan_route(vplan, &route));
        CHECK(!known || (engine ? route == DGAMPI_EXCHANGE_ROUTE_POINT_TO_POINT : route == DGAMPI_EXCHANGE_ROUTE_ALLTOALLW),
              "vslice plan route %d under path %d", (int)route, (int)paths[k]);
        int64_t vb[5], vo[5];
        CHECK_OK(dgampi_vslice_plan_shapes(vplan, 5, vb, vo));
        size_t n = (size_t)m->n_full * (size_t)(nb * nb * ssz[rank] * nup), brow = (size_t)(nb * nb * n_nu * nup);
        cplx *vout = malloc(n * sizeof(cplx) + 1);
        dgampi_array vo_arr = make_array(n ? vout : NULL, DGAMPI_DTYPE_COMPLEX128, 5, vo, NULL);
        cplx *blk = pattern_range_new(DGAMPI_DTYPE_COMPLEX128, (size_t)d.ioff * brow, (size_t)d.isz * brow, 6);
        dgampi_array block = make_array(blk, DGAMPI_DTYPE_COMPLEX128, 5, vb, NULL);
        CHECK_OK(dgampi_vslice_plan_execute(vplan, &block, &vo_arr));
        cplx *want = vslice_expected(m, NULL, nb, n_nu, nup, ssz[rank], soff[rank], 6);
        if (n) CHECK_CLOSE(vout, want, (size_t)m->n_full, n / (size_t)m->n_full, 0, "vslice plan under each exchange path");
        free(want);
        free(blk);
        free(vout);
        CHECK_OK(dgampi_vslice_plan_destroy(&vplan));
    }
    if (nranks > 1) {
        /* rank 0 alone asks for the engine: no plan, an error on every rank */
        CHECK_OK(dgampi_set_exchange_path(rank == 0 ? DGAMPI_EXCHANGE_PATH_POINT_TO_POINT : DGAMPI_EXCHANGE_PATH_AUTO));
        const int64_t trail[1] = {3};
        dgampi_map_plan *plan = NULL;
        CHECK_STATUS(dgampi_map_plan_create(d.irr, d.full, m->inv, (size_t)m->n_full, DGAMPI_DTYPE_F64, 1, trail, NULL, 0, &plan), S_MISMATCH,
                     "dgampi_map_plan_create");
        CHECK(plan == NULL, "a failed creation left a plan");
    }
    CHECK_OK(dgampi_set_exchange_path(DGAMPI_EXCHANGE_PATH_AUTO));
    dists_destroy(&d);
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
    build_maps();

    if (argc > 1) {
        const char *which = argv[1];
        check_section = which;
        if (strcmp(which, "into_null_out_on_one_rank") == 0) into_null_out_on_one_rank();
        else if (strcmp(which, "irrk_inv_differs_on_one_rank") == 0) irrk_inv_differs_on_one_rank();
        else {
            if (rank == 0) fprintf(stderr, "unknown case '%s'\n", which);
            MPI_Finalize();
            return 2;
        }
        return test_finish(which);
    }

    test_maps();
    test_strided();
    test_congruent_comms();
    test_edges();
    test_transform();
    test_split_nodes();
    test_split_real();
    test_vslice();
    test_map_plans();
    test_vslice_plans();
    test_exchange_paths();
    fixture_setup();
    test_bad_maps();
    test_bad_blocks();
    test_bad_nulls();
    test_bad_comms();
    test_bad_transform();
    test_bad_vslice();
    test_bad_handles();
    fixture_teardown();
    return test_finish("bzmap");
}
