/* dgampi C ABI: the work distributor (dgampi_distributor_*), checked value by
 * value on every rank against serial references computed here. The full
 * [ntasks, ...] array of every collective is a pattern (arrays.h) that each
 * rank can build, so a rank's block is the slice its expected offset and size
 * (excess on the LAST ranks, computed here) select.
 *
 *   distributor SPILL_DIR
 *
 * Runs at any number of ranks (1 included) and any process-wide limit
 * (DGAMPI_MAX_MESSAGE_BYTES=3 forces every chunked path). SPILL_DIR receives
 * this run's spill files (one per rank; removed again at the end). */
#define _POSIX_C_SOURCE 200809L
#include "arrays.h"
#include <unistd.h>

static int rank, nranks, next_rank, prev_rank;

/* Under DGAMPI_MAX_MESSAGE_BYTES the run may be under the PMPI checker, which
 * enforces that limit on every message: explicit limits are capped at it. */
static size_t env_limit;
static size_t lim(size_t explicit_limit) {
    return env_limit && explicit_limit > env_limit ? env_limit : explicit_limit;
}

#define MAX_RANKS 64

/* The block rule: ntasks / p each, the remainder one each to the LAST ranks. */
static void block_layout(int64_t ntasks, int p, int64_t *sizes, int64_t *offsets) {
    int64_t base = ntasks / p, extra = ntasks % p, off = 0;
    for (int r = 0; r < p; r++) {
        sizes[r] = base + (r >= p - extra ? 1 : 0);
        offsets[r] = off;
        off += sizes[r];
    }
}

static dgampi_distributor *create_dist(int64_t ntasks, int use_f) {
    dgampi_distributor *d = NULL;
    if (use_f)
        CHECK_OK(dgampi_distributor_create_f(MPI_Comm_c2f(MPI_COMM_WORLD), ntasks, "unused", NULL, &d));
    else
        CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, ntasks, NULL, NULL, &d));
    CHECK(d != NULL, "create%s(ntasks %lld) gave a NULL handle", use_f ? "_f" : "", (long long)ntasks);
    return d;
}

static void destroy_dist(dgampi_distributor **d) {
    CHECK_OK(dgampi_distributor_destroy(d));
    CHECK(*d == NULL, "destroy did not set the handle to NULL");
}

/* ------------------------------------------------------------------ lifetime and accessors */

static void check_accessors(dgampi_distributor *d, int64_t ntasks) {
    int64_t want_sizes[MAX_RANKS], want_offs[MAX_RANKS];
    block_layout(ntasks, nranks, want_sizes, want_offs);
    int64_t v = -1;
    int iv = -1;
    CHECK_OK(dgampi_distributor_ntasks(d, &v));
    CHECK(v == ntasks, "ntasks %lld, expected %lld", (long long)v, (long long)ntasks);
    CHECK_OK(dgampi_distributor_mpi_size(d, &iv));
    CHECK(iv == nranks, "mpi_size %d, expected %d", iv, nranks);
    CHECK_OK(dgampi_distributor_my_rank(d, &iv));
    CHECK(iv == rank, "my_rank %d, expected %d", iv, rank);
    CHECK_OK(dgampi_distributor_is_root(d, &iv));
    CHECK(iv == (rank == 0), "is_root %d on rank %d", iv, rank);
    CHECK_OK(dgampi_distributor_my_size(d, &v));
    CHECK(v == want_sizes[rank], "my_size %lld, expected %lld", (long long)v, (long long)want_sizes[rank]);
    CHECK_OK(dgampi_distributor_my_offset(d, &v));
    CHECK(v == want_offs[rank], "my_offset %lld, expected %lld", (long long)v, (long long)want_offs[rank]);

    /* sizes / offsets: exactly mpi_size entries written, room beyond untouched */
    int64_t got[MAX_RANKS + 2];
    for (int pass = 0; pass < 2; pass++) {
        const char *what = pass ? "offsets" : "sizes";
        const int64_t *want = pass ? want_offs : want_sizes;
        for (int r = 0; r < nranks + 2; r++) got[r] = -7;
        if (pass)
            CHECK_OK(dgampi_distributor_offsets(d, got, (size_t)nranks + 2));
        else
            CHECK_OK(dgampi_distributor_sizes(d, got, (size_t)nranks + 2));
        for (int r = 0; r < nranks; r++)
            CHECK(got[r] == want[r], "%s[%d] = %lld, expected %lld (ntasks %lld)", what, r, (long long)got[r],
                  (long long)want[r], (long long)ntasks);
        CHECK(got[nranks] == -7 && got[nranks + 1] == -7, "%s wrote past mpi_size entries", what);
        /* exactly mpi_size entries of room is enough */
        if (pass)
            CHECK_OK(dgampi_distributor_offsets(d, got, (size_t)nranks));
        else
            CHECK_OK(dgampi_distributor_sizes(d, got, (size_t)nranks));
        /* one entry too few */
        for (int r = 0; r < nranks + 2; r++) got[r] = -7;
        if (pass)
            CHECK_STATUS(dgampi_distributor_offsets(d, got, (size_t)nranks - 1), DGAMPI_STATUS_OUT_OF_RANGE,
                         "dgampi_distributor_offsets");
        else
            CHECK_STATUS(dgampi_distributor_sizes(d, got, (size_t)nranks - 1), DGAMPI_STATUS_OUT_OF_RANGE,
                         "dgampi_distributor_sizes");
        CHECK(got[0] == -7, "%s wrote into a buffer it rejected as too small", what);
    }
    /* the sums agree with ntasks */
    int64_t total = 0;
    for (int r = 0; r < nranks; r++) total += want_sizes[r];
    CHECK(total == ntasks, "internal: the expected layout sums to %lld", (long long)total);

    /* the private communicator: a duplicate of MPI_COMM_WORLD */
    MPI_Comm c = MPI_COMM_NULL;
    CHECK_OK(dgampi_distributor_comm(d, &c));
    int res = -1;
    if (c != MPI_COMM_NULL) {
        MPI_Comm_compare(c, MPI_COMM_WORLD, &res);
        CHECK(res == MPI_CONGRUENT, "MPI_Comm_compare(comm, MPI_COMM_WORLD) = %d, expected MPI_CONGRUENT (%d)", res,
              MPI_CONGRUENT);
        int r = -1, s = -1;
        MPI_Comm_rank(c, &r);
        MPI_Comm_size(c, &s);
        CHECK(r == rank && s == nranks, "the distributor's comm has rank %d size %d", r, s);
    } else {
        CHECK(0, "dgampi_distributor_comm gave MPI_COMM_NULL");
    }
    MPI_Fint f = 0;
    CHECK_OK(dgampi_distributor_comm_f(d, &f));
    CHECK(f == MPI_Comm_c2f(c), "comm_f %d, expected MPI_Comm_c2f(comm) = %d", (int)f, (int)MPI_Comm_c2f(c));
    MPI_Comm cf = MPI_Comm_f2c(f);
    if (cf != MPI_COMM_NULL && c != MPI_COMM_NULL) {
        MPI_Comm_compare(cf, c, &res);
        CHECK(res == MPI_IDENT, "MPI_Comm_f2c(comm_f) vs comm: %d, expected MPI_IDENT", res);
    }
    CHECK_OK(dgampi_distributor_barrier(d));
}

static void test_lifetime(void) {
    check_section = "lifetime";
    const int64_t counts[4] = {0, 1, 7, 10};
    for (int k = 0; k < 4; k++)
        for (int use_f = 0; use_f < 2; use_f++) {
            dgampi_distributor *d = create_dist(counts[k], use_f);
            if (!d) continue;
            check_accessors(d, counts[k]);
            destroy_dist(&d);
        }

    /* the rule itself, on known cases (7 tasks on 3 ranks: sizes 2,2,3) */
    int64_t s[3], o[3];
    block_layout(7, 3, s, o);
    CHECK(s[0] == 2 && s[1] == 2 && s[2] == 3 && o[0] == 0 && o[1] == 2 && o[2] == 4, "internal: block_layout(7, 3)");
    block_layout(1, 3, s, o);
    CHECK(s[0] == 0 && s[1] == 0 && s[2] == 1 && o[2] == 0, "internal: block_layout(1, 3)");

    /* destroy: handle set to NULL; NULL again is a no-op; a copy is stale */
    check_section = "destroy";
    dgampi_distributor *d = create_dist(7, 0);
    dgampi_distributor *copy = d;
    destroy_dist(&d);
    CHECK_OK(dgampi_distributor_destroy(&d));
    CHECK(d == NULL, "destroying NULL changed the handle");
    int64_t v = 0;
    int iv = 0;
    MPI_Comm c;
    CHECK_STATUS(dgampi_distributor_destroy(&copy), DGAMPI_STATUS_INVALID_HANDLE, "dgampi_distributor_destroy");
    CHECK(copy != NULL, "a failed destroy changed the stale handle");
    CHECK_STATUS(dgampi_distributor_ntasks(copy, &v), DGAMPI_STATUS_INVALID_HANDLE, "dgampi_distributor_ntasks");
    CHECK_STATUS(dgampi_distributor_my_rank(copy, &iv), DGAMPI_STATUS_INVALID_HANDLE, "dgampi_distributor_my_rank");
    CHECK_STATUS(dgampi_distributor_barrier(copy), DGAMPI_STATUS_INVALID_HANDLE, "dgampi_distributor_barrier");
    int64_t sz[MAX_RANKS];
    CHECK_STATUS(dgampi_distributor_sizes(copy, sz, MAX_RANKS), DGAMPI_STATUS_INVALID_HANDLE, "dgampi_distributor_sizes");

    /* NULL handle to every accessor */
    check_section = "null handle";
    MPI_Fint f;
    CHECK_STATUS(dgampi_distributor_ntasks(NULL, &v), DGAMPI_STATUS_INVALID_HANDLE, "dgampi_distributor_ntasks");
    CHECK_STATUS(dgampi_distributor_mpi_size(NULL, &iv), DGAMPI_STATUS_INVALID_HANDLE, "dgampi_distributor_mpi_size");
    CHECK_STATUS(dgampi_distributor_my_rank(NULL, &iv), DGAMPI_STATUS_INVALID_HANDLE, "dgampi_distributor_my_rank");
    CHECK_STATUS(dgampi_distributor_is_root(NULL, &iv), DGAMPI_STATUS_INVALID_HANDLE, "dgampi_distributor_is_root");
    CHECK_STATUS(dgampi_distributor_my_size(NULL, &v), DGAMPI_STATUS_INVALID_HANDLE, "dgampi_distributor_my_size");
    CHECK_STATUS(dgampi_distributor_my_offset(NULL, &v), DGAMPI_STATUS_INVALID_HANDLE, "dgampi_distributor_my_offset");
    CHECK_STATUS(dgampi_distributor_comm(NULL, &c), DGAMPI_STATUS_INVALID_HANDLE, "dgampi_distributor_comm");
    CHECK_STATUS(dgampi_distributor_comm_f(NULL, &f), DGAMPI_STATUS_INVALID_HANDLE, "dgampi_distributor_comm_f");
    CHECK_STATUS(dgampi_distributor_sizes(NULL, sz, MAX_RANKS), DGAMPI_STATUS_INVALID_HANDLE, "dgampi_distributor_sizes");
    CHECK_STATUS(dgampi_distributor_offsets(NULL, sz, MAX_RANKS), DGAMPI_STATUS_INVALID_HANDLE, "dgampi_distributor_offsets");
    CHECK_STATUS(dgampi_distributor_barrier(NULL), DGAMPI_STATUS_INVALID_HANDLE, "dgampi_distributor_barrier");
    CHECK_STATUS(dgampi_distributor_destroy(NULL), DGAMPI_STATUS_NULL_ARGUMENT, "dgampi_distributor_destroy");

    /* NULL out pointers of the accessors */
    check_section = "null accessor outputs";
    d = create_dist(7, 1);
    CHECK_STATUS(dgampi_distributor_ntasks(d, NULL), DGAMPI_STATUS_NULL_ARGUMENT, "dgampi_distributor_ntasks");
    CHECK_STATUS(dgampi_distributor_is_root(d, NULL), DGAMPI_STATUS_NULL_ARGUMENT, "dgampi_distributor_is_root");
    CHECK_STATUS(dgampi_distributor_comm(d, NULL), DGAMPI_STATUS_NULL_ARGUMENT, "dgampi_distributor_comm");
    CHECK_STATUS(dgampi_distributor_sizes(d, NULL, MAX_RANKS), DGAMPI_STATUS_NULL_ARGUMENT, "dgampi_distributor_sizes");
    check_accessors(d, 7); /* still fine */
    destroy_dist(&d);

    /* creation errors (the same on every rank: no rank is left waiting) */
    check_section = "create errors";
    d = (dgampi_distributor *)&v; /* not NULL: a failed create must store NULL */
    CHECK_STATUS(dgampi_distributor_create(MPI_COMM_WORLD, -1, "x", NULL, &d), DGAMPI_STATUS_INVALID_ARGUMENT,
                 "dgampi_distributor_create");
    CHECK(d == NULL, "a failed create left the handle %p", (void *)d);
    d = (dgampi_distributor *)&v;
    CHECK_STATUS(dgampi_distributor_create_f(MPI_Comm_c2f(MPI_COMM_WORLD), INT64_MIN, NULL, NULL, &d),
                 DGAMPI_STATUS_INVALID_ARGUMENT, "dgampi_distributor_create_f");
    CHECK(d == NULL, "a failed create_f left the handle %p", (void *)d);
    CHECK_STATUS(dgampi_distributor_create(MPI_COMM_WORLD, 7, NULL, NULL, NULL), DGAMPI_STATUS_NULL_ARGUMENT,
                 "dgampi_distributor_create");
    CHECK_STATUS(dgampi_distributor_create(MPI_COMM_NULL, 7, NULL, NULL, &d), DGAMPI_STATUS_INVALID_ARGUMENT,
                 "dgampi_distributor_create");
    CHECK_STATUS(dgampi_distributor_create_f(MPI_Comm_c2f(MPI_COMM_NULL), 7, NULL, NULL, &d),
                 DGAMPI_STATUS_INVALID_ARGUMENT, "dgampi_distributor_create_f");

    /* a distributor over another communicator uses that communicator's ranks */
    check_section = "reversed communicator";
    MPI_Comm rev;
    MPI_Comm_split(MPI_COMM_WORLD, 0, nranks - 1 - rank, &rev);
    d = NULL;
    CHECK_OK(dgampi_distributor_create(rev, 10, NULL, NULL, &d));
    MPI_Comm_free(&rev); /* the distributor holds its own duplicate */
    if (d) {
        int64_t ws[MAX_RANKS], wo[MAX_RANKS];
        block_layout(10, nranks, ws, wo);
        int rr = nranks - 1 - rank;
        CHECK_OK(dgampi_distributor_my_rank(d, &iv));
        CHECK(iv == rr, "my_rank %d on a reversed communicator, expected %d", iv, rr);
        CHECK_OK(dgampi_distributor_my_size(d, &v));
        CHECK(v == ws[rr], "my_size %lld on a reversed communicator, expected %lld", (long long)v, (long long)ws[rr]);
        CHECK_OK(dgampi_distributor_barrier(d));
        destroy_dist(&d);
    }
}

/* ------------------------------------------------------------------ collectives */

static const int32_t COLL_DTYPES[] = {DGAMPI_DTYPE_F64, DGAMPI_DTYPE_COMPLEX128, DGAMPI_DTYPE_I32, DGAMPI_DTYPE_U8};
#define N_COLL_DTYPES 4
/* trailing shapes: 1-D [n], [n,3], [n,2,2] */
static const int64_t TRAILS[3][2] = {{0, 0}, {3, 0}, {2, 2}};
static const int TRAIL_NDIM[3] = {0, 1, 2};

/* Element i of rank r's allreduce input (u8 values stay small: a 4-rank sum < 256). */
static void reduce_input(int32_t dt, size_t i, int r, void *p) {
    if (dt == DGAMPI_DTYPE_U8) {
        uint8_t v = (uint8_t)((i + 3 * (size_t)r) % 60);
        memcpy(p, &v, 1);
    } else {
        pattern_elem(dt, i, 40 + r, p);
    }
}

/* acc += x for one element (every value is exact: dyadic, small). */
static void elem_add(int32_t dt, void *acc, const void *x) {
    switch (dt) {
    case DGAMPI_DTYPE_F64: { double a, b; memcpy(&a, acc, 8); memcpy(&b, x, 8); a += b; memcpy(acc, &a, 8); break; }
    case DGAMPI_DTYPE_COMPLEX128: {
        double a[2], b[2];
        memcpy(a, acc, 16);
        memcpy(b, x, 16);
        a[0] += b[0];
        a[1] += b[1];
        memcpy(acc, a, 16);
        break;
    }
    case DGAMPI_DTYPE_I32: { int32_t a, b; memcpy(&a, acc, 4); memcpy(&b, x, 4); a += b; memcpy(acc, &a, 4); break; }
    case DGAMPI_DTYPE_U8: { uint8_t a, b; memcpy(&a, acc, 1); memcpy(&b, x, 1); a = (uint8_t)(a + b); memcpy(acc, &a, 1); break; }
    default: break;
    }
}

/* Checks an owned array record: dtype, ndim, shape (zeros past ndim), data
 * NULL exactly when empty, and elements start.. of pattern `seed`. */
static void check_owned(const dgampi_owned_array *o, int32_t dt, int ndim, const int64_t *shape, size_t start, int seed,
                        const char *what) {
    CHECK(o->dtype == dt && o->ndim == ndim, "%s: dtype %d ndim %d, expected %d and %d", what, o->dtype, o->ndim, dt,
          ndim);
    int ok = 1;
    for (int k = 0; k < DGAMPI_MAX_NDIM; k++) ok &= o->shape[k] == (k < ndim ? shape[k] : 0);
    CHECK(ok, "%s: shape [%lld, %lld, %lld, %lld], expected [%lld, %lld, %lld, 0...]", what, (long long)o->shape[0],
          (long long)o->shape[1], (long long)o->shape[2], (long long)o->shape[3], (long long)shape[0],
          (long long)(ndim > 1 ? shape[1] : 0), (long long)(ndim > 2 ? shape[2] : 0));
    size_t n = shape_count(ndim, shape);
    if (n == 0) {
        CHECK(o->data == NULL, "%s: empty array with data %p", what, o->data);
    } else {
        CHECK(o->data != NULL, "%s: NULL data for %zu elements", what, n);
        if (o->data && ok) check_pattern_range_at(__FILE__, __LINE__, dt, o->data, start, n, seed, what);
    }
}

static void check_empty_record(const dgampi_owned_array *o, const char *what) {
    int ok = o->data == NULL && o->ndim == 0;
    for (int k = 0; k < DGAMPI_MAX_NDIM; k++) ok &= o->shape[k] == 0;
    CHECK(ok, "%s: expected an empty record, got data %p ndim %d shape[0] %lld", what, o->data, o->ndim,
          (long long)o->shape[0]);
}

/* The root's record of every broadcast: its own shape, dtype and ndim,
 * data NULL (nothing to free). (Before 0.2 bcast_chunked and bcast_npoint
 * gave an empty record and bcast_rows the shape.) */
static void check_root_record(const dgampi_owned_array *o, int32_t dt, int ndim, const int64_t *shape, const char *what) {
    int ok = o->data == NULL && o->dtype == dt && o->ndim == ndim;
    for (int k = 0; k < DGAMPI_MAX_NDIM; k++) ok &= o->shape[k] == (k < ndim ? shape[k] : 0);
    CHECK(ok, "%s: expected the root's shape with data NULL, got data %p dtype %d ndim %d shape[0] %lld", what, o->data,
          (int)o->dtype, o->ndim, (long long)o->shape[0]);
    CHECK_OK(dgampi_free(o->data)); /* a no-op */
}

/* One run of every collective for (dtype, trailing shape, root, limit) on a distributor of `ntasks`. */
static void collectives_case(dgampi_distributor *d, int64_t ntasks, int32_t dt, int t, int root, size_t limit) {
    char ctx[160];
    snprintf(ctx, sizeof ctx, "%s ntasks %lld trail #%d root %d limit %zu", dtype_name(dt), (long long)ntasks, t, root,
             limit);
    check_section = ctx;
    int64_t sizes[MAX_RANKS], offs[MAX_RANKS];
    block_layout(ntasks, nranks, sizes, offs);
    size_t row = shape_count(TRAIL_NDIM[t], TRAILS[t]);
    int ndim = 1 + TRAIL_NDIM[t];
    int64_t full_shape[3] = {ntasks, TRAILS[t][0], TRAILS[t][1]};
    int64_t blk_shape[3] = {sizes[rank], TRAILS[t][0], TRAILS[t][1]};
    size_t nfull = (size_t)ntasks * row, nblk = (size_t)sizes[rank] * row, start = (size_t)offs[rank] * row;
    size_t es = dtype_size(dt);
    int seed = 10 + root + 7 * t;
    char what[256];

    /* scatter (library-allocated) */
    void *full = rank == root ? pattern_new(dt, nfull, seed) : NULL;
    dgampi_array fa = make_array(nfull ? full : NULL, dt, ndim, full_shape, NULL);
    dgampi_owned_array out;
    memset(&out, 0x5a, sizeof out);
    CHECK_OK(dgampi_distributor_scatter(d, rank == root ? &fa : NULL, root, limit, &out));
    snprintf(what, sizeof what, "scatter [%s]", ctx);
    check_owned(&out, dt, ndim, blk_shape, start, seed, what);
    CHECK_OK(dgampi_free(out.data));

    /* scatter_into */
    void *blk = zeros_new(dt, nblk);
    dgampi_array ba = make_array(nblk ? blk : NULL, dt, ndim, blk_shape, NULL);
    CHECK_OK(dgampi_distributor_scatter_into(d, rank == root ? &fa : NULL, &ba, root, limit));
    snprintf(what, sizeof what, "scatter_into [%s]", ctx);
    CHECK_PATTERN_RANGE(dt, blk, start, nblk, seed, what);
    free(blk);
    free(full);

    /* gather: every rank's block is its slice of pattern seed+1 */
    void *mine = pattern_range_new(dt, start, nblk, seed + 1);
    dgampi_array ma = make_array(nblk ? mine : NULL, dt, ndim, blk_shape, NULL);
    memset(&out, 0x5a, sizeof out);
    CHECK_OK(dgampi_distributor_gather(d, &ma, root, limit, &out));
    snprintf(what, sizeof what, "gather [%s]", ctx);
    if (rank == root) {
        check_owned(&out, dt, ndim, full_shape, 0, seed + 1, what);
        CHECK_OK(dgampi_free(out.data));
    } else {
        check_empty_record(&out, what);
    }

    /* gather_into: non-root ranks pass a NULL out */
    full = rank == root ? zeros_new(dt, nfull) : NULL;
    fa = make_array(nfull ? full : NULL, dt, ndim, full_shape, NULL);
    CHECK_OK(dgampi_distributor_gather_into(d, &ma, rank == root ? &fa : NULL, root, limit));
    snprintf(what, sizeof what, "gather_into [%s]", ctx);
    if (rank == root) CHECK_PATTERN(dt, full, nfull, seed + 1, what);
    free(full);

    /* allgather / allgather_into */
    memset(&out, 0x5a, sizeof out);
    CHECK_OK(dgampi_distributor_allgather(d, &ma, limit, &out));
    snprintf(what, sizeof what, "allgather [%s]", ctx);
    check_owned(&out, dt, ndim, full_shape, 0, seed + 1, what);
    CHECK_OK(dgampi_free(out.data));
    full = zeros_new(dt, nfull);
    fa = make_array(nfull ? full : NULL, dt, ndim, full_shape, NULL);
    CHECK_OK(dgampi_distributor_allgather_into(d, &ma, &fa, limit));
    snprintf(what, sizeof what, "allgather_into [%s]", ctx);
    CHECK_PATTERN(dt, full, nfull, seed + 1, what);
    free(full);
    free(mine);

    /* allreduce (in place) of the full shape: expected = serial sum over the ranks */
    unsigned char *acc = zeros_new(dt, nfull), *want = zeros_new(dt, nfull), tmp[16];
    for (size_t i = 0; i < nfull; i++) {
        reduce_input(dt, i, rank, acc + i * es);
        for (int r = 0; r < nranks; r++) {
            reduce_input(dt, i, r, tmp);
            elem_add(dt, want + i * es, tmp);
        }
    }
    fa = make_array(nfull ? acc : NULL, dt, ndim, full_shape, NULL);
    CHECK_OK(dgampi_distributor_allreduce(d, &fa, limit));
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < nfull; i++)
        if (memcmp(acc + i * es, want + i * es, es) != 0 && bad++ == 0) first = i;
    if (bad) {
        char g[96], w[96];
        format_elem(dt, acc + first * es, g, sizeof g);
        format_elem(dt, want + first * es, w, sizeof w);
        CHECK(0, "allreduce: %zu of %zu elements differ; first at %zu: got %s, expected %s", bad, nfull, first, g, w);
    }
    free(acc);
    free(want);

    /* bcast_chunked: the root passes its array, others NULL; the root gets its shape, data NULL */
    full = rank == root ? pattern_new(dt, nfull, seed + 2) : NULL;
    fa = make_array(nfull ? full : NULL, dt, ndim, full_shape, NULL);
    memset(&out, 0x5a, sizeof out);
    CHECK_OK(dgampi_distributor_bcast_chunked(d, rank == root ? &fa : NULL, root, limit, &out));
    snprintf(what, sizeof what, "bcast_chunked [%s]", ctx);
    if (rank == root) {
        check_root_record(&out, dt, ndim, full_shape, what);
    } else {
        check_owned(&out, dt, ndim, full_shape, 0, seed + 2, what);
        CHECK_OK(dgampi_free(out.data));
    }
    free(full);

    /* bcast_chunked_into */
    full = rank == root ? pattern_new(dt, nfull, seed + 3) : zeros_new(dt, nfull);
    fa = make_array(nfull ? full : NULL, dt, ndim, full_shape, NULL);
    CHECK_OK(dgampi_distributor_bcast_chunked_into(d, &fa, root, limit));
    snprintf(what, sizeof what, "bcast_chunked_into [%s]", ctx);
    CHECK_PATTERN(dt, full, nfull, seed + 3, what);
    free(full);

    /* bcast_npoint: a metadata blob (empty for some cases) and an array */
    size_t meta_len = (t == 1) ? 0 : (size_t)(29 + 5 * root + t);
    unsigned char *meta = malloc(meta_len + 1);
    for (size_t i = 0; i < meta_len; i++) meta[i] = (unsigned char)((i * 13 + (size_t)root * 7 + 1) & 0xff);
    full = rank == root ? pattern_new(dt, nfull, seed + 4) : NULL;
    fa = make_array(nfull ? full : NULL, dt, ndim, full_shape, NULL);
    void *got_meta = (void *)&got_meta;
    size_t got_len = 12345;
    memset(&out, 0x5a, sizeof out);
    CHECK_OK(dgampi_distributor_bcast_npoint(d, rank == root ? meta : NULL, rank == root ? meta_len : 0,
                                             rank == root ? &fa : NULL, root, limit, &got_meta, &got_len, &out));
    snprintf(what, sizeof what, "bcast_npoint [%s]", ctx);
    if (rank == root) {
        CHECK(got_meta == NULL && got_len == meta_len, "%s: the root got meta %p of %zu bytes (want NULL, %zu)", what,
              got_meta, got_len, meta_len);
        check_root_record(&out, dt, ndim, full_shape, what);
    } else {
        CHECK(got_len == meta_len, "%s: meta of %zu bytes, expected %zu", what, got_len, meta_len);
        if (meta_len == 0)
            CHECK(got_meta == NULL, "%s: empty meta with data %p", what, got_meta);
        else if (got_len == meta_len && got_meta != NULL && got_meta != (void *)&got_meta)
            CHECK(memcmp(got_meta, meta, meta_len) == 0, "%s: meta bytes differ", what);
        if (got_meta != (void *)&got_meta) CHECK_OK(dgampi_free(got_meta));
        check_owned(&out, dt, ndim, full_shape, 0, seed + 4, what);
        CHECK_OK(dgampi_free(out.data));
    }
    free(full);
    free(meta);
}

/* N-point objects around the ring: send_to_rank, recv_from_rank and recv_from_rank_into. */
static void npoint_ring(dgampi_distributor *d, int32_t dt, int t, size_t limit, int base_tag) {
    char ctx[160];
    snprintf(ctx, sizeof ctx, "ring %s trail #%d limit %zu", dtype_name(dt), t, limit);
    check_section = ctx;
    int ndim = 1 + TRAIL_NDIM[t];
    int64_t shape[3] = {3 + t, TRAILS[t][0], TRAILS[t][1]};
    size_t n = shape_count(ndim, shape);
    for (int into = 0; into < 2; into++) {
        int tag = base_tag + 1000 * into; /* one exchange uses fewer than 1000 tags */
        /* meta length depends on the sender; empty for one variant */
        size_t my_len = t == 2 ? 0 : (size_t)(11 + 3 * rank + 40 * into);
        size_t prev_len = t == 2 ? 0 : (size_t)(11 + 3 * prev_rank + 40 * into);
        unsigned char *meta = malloc(my_len + 1);
        for (size_t i = 0; i < my_len; i++) meta[i] = (unsigned char)((i * 5 + (size_t)rank) & 0xff);
        void *arr = pattern_new(dt, n, 200 + rank + into);
        dgampi_array a = make_array(arr, dt, ndim, shape, NULL);
        void *got_meta = (void *)&got_meta;
        size_t got_len = 12345;
        dgampi_owned_array out;
        memset(&out, 0x5a, sizeof out);
        void *buf = zeros_new(dt, n);
        dgampi_array b = make_array(buf, dt, ndim, shape, NULL);
        if (into)
            RING_EXCHANGE(rank, CHECK_OK(dgampi_distributor_send_to_rank(d, my_len ? meta : NULL, my_len, &a, next_rank, tag, limit)),
                          CHECK_OK(dgampi_distributor_recv_from_rank_into(d, prev_rank, tag, &got_meta, &got_len, &b)));
        else
            RING_EXCHANGE(rank, CHECK_OK(dgampi_distributor_send_to_rank(d, my_len ? meta : NULL, my_len, &a, next_rank, tag, limit)),
                          CHECK_OK(dgampi_distributor_recv_from_rank(d, prev_rank, tag, &got_meta, &got_len, &out)));
        char what[200];
        snprintf(what, sizeof what, "%s from rank %d [%s]", into ? "recv_from_rank_into" : "recv_from_rank", prev_rank, ctx);
        CHECK(got_len == prev_len, "%s: meta of %zu bytes, expected %zu", what, got_len, prev_len);
        if (prev_len == 0) {
            CHECK(got_meta == NULL, "%s: empty meta with data %p", what, got_meta);
        } else if (got_len == prev_len && got_meta && got_meta != (void *)&got_meta) {
            size_t bad = 0;
            for (size_t i = 0; i < prev_len; i++)
                bad += ((unsigned char *)got_meta)[i] != (unsigned char)((i * 5 + (size_t)prev_rank) & 0xff);
            CHECK(bad == 0, "%s: %zu meta bytes differ", what, bad);
        }
        if (got_meta != (void *)&got_meta) CHECK_OK(dgampi_free(got_meta));
        if (into) {
            CHECK_PATTERN(dt, buf, n, 200 + prev_rank + into, what);
        } else {
            check_owned(&out, dt, ndim, shape, 0, 200 + prev_rank + into, what);
            CHECK_OK(dgampi_free(out.data));
        }
        free(buf);
        free(arr);
        free(meta);
    }
}

/* An N-point object whose metadata blob needs more chunk tags than the
 * 500-tag gap before the array's tags (blob chunks at base+1+i, array chunks
 * at base+500+i): correct as long as messages of one (source, tag) match in order. */
static void test_long_meta(void) {
    if (nranks < 2) return;
    check_section = "npoint with a long metadata blob";
    dgampi_distributor *d = create_dist(4, 0);
    if (!d) return;
    size_t len = 2000;
    unsigned char *meta = malloc(len);
    for (size_t i = 0; i < len; i++) meta[i] = (unsigned char)((i * 3 + (size_t)rank) & 0xff);
    int64_t shape[2] = {5, 3};
    void *arr = pattern_new(DGAMPI_DTYPE_F64, 15, 600 + rank);
    dgampi_array a = make_array(arr, DGAMPI_DTYPE_F64, 2, shape, NULL);
    double got[15] = {0};
    dgampi_array b = make_array(got, DGAMPI_DTYPE_F64, 2, shape, NULL);
    void *m = NULL;
    size_t ml = 0;
    RING_EXCHANGE(rank, CHECK_OK(dgampi_distributor_send_to_rank(d, meta, len, &a, next_rank, 100, lim(1))),
                  CHECK_OK(dgampi_distributor_recv_from_rank_into(d, prev_rank, 100, &m, &ml, &b)));
    CHECK_PATTERN(DGAMPI_DTYPE_F64, got, 15, 600 + prev_rank, "array of an N-point object with a long blob");
    size_t bad = ml == len ? 0 : len;
    for (size_t i = 0; m && i < ml && i < len; i++) bad += ((unsigned char *)m)[i] != (unsigned char)((i * 3 + (size_t)prev_rank) & 0xff);
    CHECK(bad == 0 && ml == len, "long blob: %zu bytes (expected %zu), %zu differ", ml, len, bad);
    dgampi_free(m);
    /* the same with the broadcast */
    m = NULL;
    ml = 0;
    dgampi_owned_array out;
    CHECK_OK(dgampi_distributor_bcast_npoint(d, meta, rank == 0 ? len : 0, rank == 0 ? &a : NULL, 0, lim(1), &m, &ml, &out));
    if (rank != 0) {
        CHECK(ml == len && m != NULL, "bcast_npoint long blob: %zu bytes", ml);
        bad = 0;
        for (size_t i = 0; m && i < ml && i < len; i++) bad += ((unsigned char *)m)[i] != (unsigned char)((i * 3) & 0xff);
        CHECK(bad == 0, "bcast_npoint long blob: %zu bytes differ", bad);
        int64_t want_shape[2] = {5, 3};
        check_owned(&out, DGAMPI_DTYPE_F64, 2, want_shape, 0, 600, "bcast_npoint array with a long blob");
        dgampi_free(out.data);
        dgampi_free(m);
    }
    free(arr);
    free(meta);
    destroy_dist(&d);
}

static void test_collectives(void) {
    check_section = "collectives";
    size_t limits[2] = {0, lim(20)};
    int roots[2] = {0, nranks - 1};
    int nroots = nranks > 1 ? 2 : 1;
    dgampi_distributor *d = create_dist(7, 0);
    if (!d) return;
    for (int di = 0; di < N_COLL_DTYPES; di++)
        for (int t = 0; t < 3; t++)
            for (int l = 0; l < 2; l++) {
                for (int ri = 0; ri < nroots; ri++) collectives_case(d, 7, COLL_DTYPES[di], t, roots[ri], limits[l]);
                if (nranks > 1) npoint_ring(d, COLL_DTYPES[di], t, limits[l], 1000 + 2000 * (di * 6 + t * 2 + l));
            }
    destroy_dist(&d);

    /* other task counts: none, one (empty ranks), ten; with the Fortran-handle create */
    const int64_t others[3] = {0, 1, 10};
    for (int k = 0; k < 3; k++) {
        d = create_dist(others[k], 1);
        if (!d) continue;
        for (int ri = 0; ri < nroots; ri++) {
            collectives_case(d, others[k], DGAMPI_DTYPE_F64, 1, roots[ri], 0);
            collectives_case(d, others[k], DGAMPI_DTYPE_U8, 0, roots[ri], lim(5));
            collectives_case(d, others[k], DGAMPI_DTYPE_COMPLEX128, 2, roots[ri], lim(24));
        }
        destroy_dist(&d);
    }
}

/* A distributor over given sizes (odd ranks own nothing), C and Fortran
 * handles: its accessors, an allgather against the serial reference, and
 * sizes that differ between ranks or have the wrong length. */
static void test_given_sizes(void) {
    check_section = "dgampi_distributor_create_with_sizes";
    const char *fname = "dgampi_distributor_create_with_sizes";
    int64_t sizes[MAX_RANKS], offs[MAX_RANKS], ntasks = 0;
    for (int r = 0; r < nranks; r++) {
        sizes[r] = r % 2 ? 0 : r + 2;
        offs[r] = ntasks;
        ntasks += sizes[r];
    }
    for (int use_f = 0; use_f < 2; use_f++) {
        dgampi_distributor *d = NULL;
        if (use_f)
            CHECK_OK(dgampi_distributor_create_with_sizes_f(MPI_Comm_c2f(MPI_COMM_WORLD), sizes, (size_t)nranks, NULL, NULL, &d));
        else
            CHECK_OK(dgampi_distributor_create_with_sizes(MPI_COMM_WORLD, sizes, (size_t)nranks, NULL, NULL, &d));
        if (!d) return;
        int64_t v = -1, got[MAX_RANKS];
        CHECK_OK(dgampi_distributor_ntasks(d, &v));
        CHECK(v == ntasks, "ntasks %lld, expected %lld", (long long)v, (long long)ntasks);
        CHECK_OK(dgampi_distributor_my_offset(d, &v));
        CHECK(v == offs[rank], "my_offset %lld, expected %lld", (long long)v, (long long)offs[rank]);
        CHECK_OK(dgampi_distributor_sizes(d, got, (size_t)nranks));
        for (int r = 0; r < nranks; r++) CHECK(got[r] == sizes[r], "sizes[%d] = %lld, expected %lld", r, (long long)got[r], (long long)sizes[r]);
        /* allgather of the global task indices */
        double mine[MAX_RANKS + 2], *all = malloc(sizeof(double) * (size_t)(ntasks > 0 ? ntasks : 1));
        for (int64_t i = 0; i < sizes[rank]; i++) mine[i] = (double)(offs[rank] + i);
        int64_t bshape[1] = {sizes[rank]}, ashape[1] = {ntasks};
        dgampi_array b = make_array(mine, DGAMPI_DTYPE_F64, 1, bshape, NULL), a = make_array(all, DGAMPI_DTYPE_F64, 1, ashape, NULL);
        CHECK_OK(dgampi_distributor_allgather_into(d, &b, &a, lim(8)));
        for (int64_t i = 0; i < ntasks; i++) CHECK(all[i] == (double)i, "allgather[%lld] = %g", (long long)i, all[i]);
        free(all);
        destroy_dist(&d);
    }
    dgampi_distributor *d = NULL;
    if (nranks > 1) {
        int64_t other[MAX_RANKS];
        for (int r = 0; r < nranks; r++) other[r] = sizes[r] + (rank == nranks - 1 && r == 0 ? 1 : 0);
        int s = dgampi_distributor_create_with_sizes(MPI_COMM_WORLD, other, (size_t)nranks, NULL, NULL, &d);
        CHECK(s == DGAMPI_STATUS_MISMATCH, "sizes differing on the last rank gave %d (%s)", s, status_name(s));
        CHECK(d == NULL, "a failed create returned a handle");
    }
    CHECK_STATUS(dgampi_distributor_create_with_sizes(MPI_COMM_WORLD, sizes, (size_t)nranks + 1, NULL, NULL, &d), DGAMPI_STATUS_INVALID_ARGUMENT, fname);
    int64_t negative[MAX_RANKS];
    for (int r = 0; r < nranks; r++) negative[r] = -1;
    CHECK_STATUS(dgampi_distributor_create_with_sizes(MPI_COMM_WORLD, negative, (size_t)nranks, NULL, NULL, &d), DGAMPI_STATUS_INVALID_ARGUMENT, fname);
    CHECK_STATUS(dgampi_distributor_create_with_sizes(MPI_COMM_WORLD, NULL, (size_t)nranks, NULL, NULL, &d), DGAMPI_STATUS_NULL_ARGUMENT, fname);
}

/* allreduce of arrays larger than one chunk: many MPI_Allreduce chunks, and
 * the byte-wise path (elements larger than the limit) over several 16 KiB blocks. */
static void test_large_allreduce(void) {
    check_section = "large allreduce";
    dgampi_distributor *d = create_dist(5, 0);
    if (!d) return;
    struct { int32_t dt; int64_t n; size_t limit; } cases[3] = {
        {DGAMPI_DTYPE_COMPLEX128, 1100, 8},  /* 16-byte elements over an 8-byte limit: byte-wise, 2 blocks */
        {DGAMPI_DTYPE_F64, 3000, 100},       /* 240 chunks of 96 bytes (byte-wise at limit 3) */
        {DGAMPI_DTYPE_I32, 5000, 0},
    };
    for (int k = 0; k < 3; k++) {
        int32_t dt = cases[k].dt;
        size_t n = (size_t)cases[k].n, es = dtype_size(dt);
        unsigned char *x = zeros_new(dt, n), *want = zeros_new(dt, n), tmp[16];
        for (size_t i = 0; i < n; i++) {
            reduce_input(dt, i, rank, x + i * es);
            for (int r = 0; r < nranks; r++) {
                reduce_input(dt, i, r, tmp);
                elem_add(dt, want + i * es, tmp);
            }
        }
        dgampi_array a = make_array(x, dt, 1, &cases[k].n, NULL);
        CHECK_OK(dgampi_distributor_allreduce(d, &a, lim(cases[k].limit)));
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) bad += memcmp(x + i * es, want + i * es, es) != 0;
        CHECK(bad == 0, "allreduce of %zu %s elements, limit %zu: %zu differ", n, dtype_name(dt), lim(cases[k].limit), bad);
        free(x);
        free(want);
    }
    destroy_dist(&d);
}

/* A distributor N-point send to oneself would deadlock: refused. */
static void test_send_to_self(void) {
    check_section = "send_to_self";
    dgampi_distributor *d = create_dist(4, 0);
    if (!d) return;
    int64_t shape[1] = {4};
    double x[4] = {1, 2, 3, 4};
    dgampi_array a = make_array(x, DGAMPI_DTYPE_F64, 1, shape, NULL);
    unsigned char meta[3] = {1, 2, 3};
    void *m = NULL;
    size_t ml = 0;
    dgampi_owned_array out;
    CHECK_STATUS(dgampi_distributor_send_to_rank(d, meta, 3, &a, rank, 5, 0), DGAMPI_STATUS_INVALID_ARGUMENT,
                 "dgampi_distributor_send_to_rank");
    CHECK_STATUS(dgampi_distributor_recv_from_rank(d, rank, 5, &m, &ml, &out), DGAMPI_STATUS_INVALID_ARGUMENT,
                 "dgampi_distributor_recv_from_rank");
    CHECK_STATUS(dgampi_distributor_recv_from_rank_into(d, rank, 5, &m, &ml, &a), DGAMPI_STATUS_INVALID_ARGUMENT,
                 "dgampi_distributor_recv_from_rank_into");
    /* and the distributor still works */
    CHECK_OK(dgampi_distributor_barrier(d));
    destroy_dist(&d);
}

/* bcast_bytes: lengths 0, 1, 1000 from the first and the last rank. */
static void test_bcast_bytes(void) {
    check_section = "bcast_bytes";
    dgampi_distributor *d = create_dist(3, 0);
    if (!d) return;
    size_t lens[3] = {0, 1, 1000}, limits[2] = {0, lim(7)};
    int roots[2] = {0, nranks - 1};
    for (int ri = 0; ri < (nranks > 1 ? 2 : 1); ri++)
        for (int k = 0; k < 3; k++)
            for (int l = 0; l < 2; l++) {
                int root = roots[ri];
                size_t len = lens[k];
                unsigned char *src = malloc(len + 1);
                for (size_t i = 0; i < len; i++) src[i] = (unsigned char)((i * 37 + (size_t)root + 5) & 0xff);
                void *out = (void *)&out;
                size_t out_len = 12345;
                CHECK_OK(dgampi_distributor_bcast_bytes(d, rank == root && len ? src : NULL, rank == root ? len : 0, root,
                                                        limits[l], &out, &out_len));
                CHECK(out_len == len, "bcast_bytes root %d: length %zu, expected %zu", root, out_len, len);
                if (rank == root || len == 0) {
                    CHECK(out == NULL, "bcast_bytes root %d len %zu: out %p, expected NULL on %s", root, len, out,
                          rank == root ? "the root" : "an empty blob");
                } else if (out != NULL && out != (void *)&out && out_len == len) {
                    CHECK(memcmp(out, src, len) == 0, "bcast_bytes root %d: %zu bytes differ from the root's", root, len);
                } else {
                    CHECK(0, "bcast_bytes root %d len %zu: no data (%p)", root, len, out);
                }
                if (out != (void *)&out) CHECK_OK(dgampi_free(out));
                free(src);
            }
    destroy_dist(&d);
}

/* ------------------------------------------------------------------ strided descriptors */

/* A view of `cols` columns (every `step`-th from column `c0`) of a rows x pcols
 * parent buffer of dtype `dt`; the parent starts filled with pattern `fill`. */
struct view {
    unsigned char *parent;
    int64_t shape[2], strides[2];
    size_t pcols, c0, step;
    dgampi_array a;
};

static void view_new(struct view *v, int32_t dt, int64_t rows, size_t cols, size_t pcols, size_t c0, size_t step, int fill) {
    size_t es = dtype_size(dt);
    v->parent = pattern_new(dt, (size_t)rows * pcols, fill);
    v->shape[0] = rows;
    v->shape[1] = (int64_t)cols;
    v->strides[0] = (int64_t)(pcols * es);
    v->strides[1] = (int64_t)(step * es);
    v->pcols = pcols;
    v->c0 = c0;
    v->step = step;
    v->a = make_array(rows ? v->parent + c0 * es : NULL, dt, 2, v->shape, v->strides);
}

/* Element (i, j) of the view should be element (first_row + i) * cols + j of
 * pattern `seed` (or `want_fn` when given); every element outside still holds `fill`. */
static void view_check(const struct view *v, int32_t dt, int64_t first_row, int seed, int fill, const unsigned char *want_buf,
                       const char *what) {
    size_t es = dtype_size(dt), bad = 0, bad_outside = 0;
    unsigned char want[16];
    size_t cols = (size_t)v->shape[1];
    for (int64_t i = 0; i < v->shape[0]; i++)
        for (size_t k = 0; k < v->pcols; k++) {
            const unsigned char *p = v->parent + ((size_t)i * v->pcols + k) * es;
            int inside = k >= v->c0 && (k - v->c0) % v->step == 0 && (k - v->c0) / v->step < cols;
            if (inside) {
                size_t j = (k - v->c0) / v->step, idx = (size_t)(first_row + i) * cols + j;
                if (want_buf)
                    memcpy(want, want_buf + ((size_t)i * cols + j) * es, es);
                else
                    pattern_elem(dt, idx, seed, want);
                bad += memcmp(p, want, es) != 0;
            } else {
                pattern_elem(dt, (size_t)i * v->pcols + k, fill, want);
                bad_outside += memcmp(p, want, es) != 0;
            }
        }
    CHECK(bad == 0 && bad_outside == 0, "%s (%s): %zu element(s) of the view differ, %zu outside it changed", what,
          dtype_name(dt), bad, bad_outside);
}

static void strided_cases(int64_t ntasks) {
    dgampi_distributor *d = create_dist(ntasks, 0);
    if (!d) return;
    int64_t sizes[MAX_RANKS], offs[MAX_RANKS];
    block_layout(ntasks, nranks, sizes, offs);
    int root = nranks - 1;
    int32_t dts[2] = {DGAMPI_DTYPE_F64, DGAMPI_DTYPE_COMPLEX128};
    size_t limits[2] = {0, lim(40)};
    for (int k = 0; k < 2; k++)
        for (int l = 0; l < 2; l++) {
            int32_t dt = dts[k];
            size_t limit = limits[l];
            size_t es = dtype_size(dt);
            char ctx[96];
            snprintf(ctx, sizeof ctx, "strided %s ntasks %lld limit %zu", dtype_name(dt), (long long)ntasks, limit);
            check_section = ctx;
            struct view v, src;

            /* scatter_into a strided out (every other column of [my_size, 6]); contiguous root array */
            int64_t full_shape[2] = {ntasks, 3};
            void *full = rank == 0 ? pattern_new(dt, (size_t)ntasks * 3, 60) : NULL;
            dgampi_array fa = make_array(full, dt, 2, full_shape, NULL);
            view_new(&v, dt, sizes[rank], 3, 6, 0, 2, 900);
            CHECK_OK(dgampi_distributor_scatter_into(d, rank == 0 ? &fa : NULL, &v.a, 0, limit));
            view_check(&v, dt, offs[rank], 60, 900, NULL, "scatter_into a strided out");
            free(v.parent);
            free(full);

            /* scatter from a strided root array (columns 1,3,5 of [ntasks, 7]) */
            view_new(&src, dt, ntasks, 3, 7, 1, 2, 61);
            dgampi_owned_array out;
            CHECK_OK(dgampi_distributor_scatter(d, rank == root ? &src.a : NULL, root, limit, &out));
            int64_t blk[2] = {sizes[rank], 3};
            {
                /* expected: rows offs..offs+size of the view */
                unsigned char *want = malloc((size_t)sizes[rank] * 3 * es + 1);
                for (int64_t i = 0; i < sizes[rank]; i++)
                    for (int j = 0; j < 3; j++)
                        memcpy(want + ((size_t)i * 3 + j) * es, src.parent + ((size_t)(offs[rank] + i) * 7 + 1 + 2 * j) * es, es);
                CHECK(out.dtype == dt && out.ndim == 2 && out.shape[0] == blk[0] && out.shape[1] == 3,
                      "scatter of a strided root array: dtype %d ndim %d shape [%lld, %lld]", out.dtype, out.ndim,
                      (long long)out.shape[0], (long long)out.shape[1]);
                if (out.data && sizes[rank])
                    CHECK(memcmp(out.data, want, (size_t)sizes[rank] * 3 * es) == 0,
                          "scatter of a strided root array: the block differs");
                free(want);
            }
            dgampi_free(out.data);

            /* allgather_into: strided block (columns 1,3,5 of [my_size, 6]) into a strided out
             * (columns 0,2,4 of [ntasks, 7]) */
            struct view b;
            view_new(&b, dt, sizes[rank], 3, 6, 1, 2, 70 + rank);
            /* the block's view holds the rank's slice of pattern 62 */
            for (int64_t i = 0; i < sizes[rank]; i++)
                for (int j = 0; j < 3; j++)
                    pattern_elem(dt, (size_t)(offs[rank] + i) * 3 + j, 62, b.parent + ((size_t)i * 6 + 1 + 2 * j) * es);
            view_new(&v, dt, ntasks, 3, 7, 0, 2, 901);
            CHECK_OK(dgampi_distributor_allgather_into(d, &b.a, &v.a, limit));
            view_check(&v, dt, 0, 62, 901, NULL, "allgather_into a strided out from strided blocks");
            free(v.parent);

            /* allgather_into with a strided out on the last rank only (the others contiguous) */
            {
                int strided_here = rank == nranks - 1;
                view_new(&v, dt, ntasks, 3, strided_here ? 5 : 3, strided_here ? 1 : 0, 1, 905);
                CHECK_OK(dgampi_distributor_allgather_into(d, &b.a, &v.a, limit));
                view_check(&v, dt, 0, 62, 905, NULL, "allgather_into, strided out on one rank only");
                free(v.parent);
            }

            /* gather_into a strided root out */
            view_new(&v, dt, ntasks, 3, 5, 2, 1, 902);
            CHECK_OK(dgampi_distributor_gather_into(d, &b.a, rank == root ? &v.a : NULL, root, limit));
            if (rank == root) view_check(&v, dt, 0, 62, 902, NULL, "gather_into a strided root out");
            free(v.parent);
            free(b.parent);

            /* allreduce in place on columns 1,3 of [5, 5] */
            view_new(&v, dt, 5, 2, 5, 1, 2, 903);
            unsigned char *want = calloc(10 * es + 1, 1), tmp[16];
            for (size_t i = 0; i < 5; i++)
                for (size_t j = 0; j < 2; j++) {
                    reduce_input(dt, i * 2 + j, rank, v.parent + (i * 5 + 1 + 2 * j) * es);
                    for (int r = 0; r < nranks; r++) {
                        reduce_input(dt, i * 2 + j, r, tmp);
                        elem_add(dt, want + (i * 2 + j) * es, tmp);
                    }
                }
            /* the parent outside the view keeps pattern 903 */
            CHECK_OK(dgampi_distributor_allreduce(d, &v.a, limit));
            view_check(&v, dt, 0, 0, 903, want, "allreduce on a strided view");
            free(want);
            free(v.parent);

            /* bcast_chunked_into a strided array: column 3 of [4, 4] on every rank */
            view_new(&v, dt, 4, 1, 4, 3, 1, 904);
            if (rank == root)
                for (size_t i = 0; i < 4; i++) pattern_elem(dt, i, 63, v.parent + (i * 4 + 3) * es);
            CHECK_OK(dgampi_distributor_bcast_chunked_into(d, &v.a, root, limit));
            view_check(&v, dt, 0, 63, 904, NULL, "bcast_chunked_into a strided column");
            free(v.parent);
            free(src.parent);
        }
    destroy_dist(&d);
}

static void test_strided(void) {
    strided_cases(7);
    strided_cases(1); /* ranks with empty blocks (NULL data) */
}

/* ------------------------------------------------------------------ spill file */

static void check_list(dgampi_distributor *d, const char *const *want, size_t nwant, const char *when) {
    char *names = (char *)&names;
    size_t count = 999;
    CHECK_OK(dgampi_distributor_spill_list(d, &names, &count));
    CHECK(count == nwant, "spill_list %s: %zu names, expected %zu", when, count, nwant);
    if (nwant == 0) {
        CHECK(names == NULL, "spill_list %s: no names but data %p", when, (void *)names);
    } else if (names != NULL && names != (char *)&names && count == nwant) {
        const char *p = names;
        for (size_t k = 0; k < nwant; k++) {
            CHECK(strcmp(p, want[k]) == 0, "spill_list %s: name %zu is '%s', expected '%s'", when, k, p, want[k]);
            p += strlen(p) + 1;
        }
    }
    if (names != (char *)&names) CHECK_OK(dgampi_free(names));
}

static void check_shape(dgampi_distributor *d, const char *name, int32_t dt, int ndim, const int64_t *shape) {
    int32_t gdt = -1, gnd = -1;
    int64_t gs[DGAMPI_MAX_NDIM];
    for (int k = 0; k < DGAMPI_MAX_NDIM; k++) gs[k] = -5;
    CHECK_OK(dgampi_distributor_spill_shape(d, name, &gdt, &gnd, gs));
    int ok = gdt == dt && gnd == ndim;
    for (int k = 0; k < DGAMPI_MAX_NDIM; k++) ok &= gs[k] == (k < ndim ? shape[k] : 0);
    CHECK(ok, "spill_shape('%s') = %s ndim %d [%lld, %lld, %lld], expected %s ndim %d", name, dtype_name(gdt), gnd,
          (long long)gs[0], (long long)gs[1], (long long)gs[2], dtype_name(dt), ndim);
}

static void test_spill(const char *dir) {
    check_section = "spill";
    char want_path[4096];
    snprintf(want_path, sizeof want_path, "%s/ctest_Rank%05d.hdf5", dir, rank);
    unlink(want_path); /* a file left by an earlier, interrupted run */
    dgampi_distributor *d = NULL;
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, 5, "ctest", dir, &d));
    if (!d) return;
    CHECK(access(want_path, F_OK) == 0, "create did not create the spill file %s", want_path);

    /* spill_path: the exact string; needed size; too-small buffers */
    check_section = "spill_path";
    size_t plen = strlen(want_path), needed = 0;
    char buf[4096];
    CHECK_OK(dgampi_distributor_spill_path(d, buf, sizeof buf, &needed));
    CHECK(strcmp(buf, want_path) == 0, "spill_path '%s', expected '%s'", buf, want_path);
    CHECK(needed == plen + 1, "needed %zu, expected %zu", needed, plen + 1);
    memset(buf, 0, sizeof buf);
    CHECK_OK(dgampi_distributor_spill_path(d, buf, plen + 1, NULL));
    CHECK(strcmp(buf, want_path) == 0, "spill_path with an exact buffer: '%s'", buf);
    memset(buf, 'x', sizeof buf);
    needed = 0;
    CHECK_STATUS(dgampi_distributor_spill_path(d, buf, plen, &needed), DGAMPI_STATUS_OUT_OF_RANGE,
                 "dgampi_distributor_spill_path");
    CHECK(needed == plen + 1, "needed %zu after a too-small buffer, expected %zu", needed, plen + 1);
    /* the size-query convention: a short buffer holds the path cut to len-1 bytes, NUL-terminated */
    CHECK(buf[plen - 1] == '\0' && strncmp(buf, want_path, plen - 1) == 0,
          "a too-small buffer holds '%.*s', not the cut path", (int)plen, buf);
    /* NULL buffer and NULL needed: nothing to do */
    CHECK_STATUS(dgampi_distributor_spill_path(d, NULL, 0, NULL), DGAMPI_STATUS_NULL_ARGUMENT,
                 "dgampi_distributor_spill_path");
    needed = 0;
    CHECK_STATUS(dgampi_distributor_spill_path(d, buf, 8, &needed), DGAMPI_STATUS_OUT_OF_RANGE,
                 "dgampi_distributor_spill_path");
    CHECK(needed == plen + 1, "needed %zu after an 8-byte buffer, expected %zu", needed, plen + 1);
    /* a size query (NULL buffer, length 0) succeeds and reports the size */
    needed = 0;
    CHECK_OK(dgampi_distributor_spill_path(d, NULL, 0, &needed));
    CHECK(needed == plen + 1, "needed %zu from a size query, expected %zu", needed, plen + 1);

    /* writes: f64 [4,3], complex128 [2,2] in a group, a strided complex128 view, i32, an empty f64 */
    check_section = "spill_write";
    int64_t s_sigma[2] = {4, 3}, s_q[2] = {2, 2}, s_counts[1] = {5}, s_empty[2] = {0, 3};
    int seed = 300 + rank;
    double *sigma = pattern_new(DGAMPI_DTYPE_F64, 12, seed);
    void *q0 = pattern_new(DGAMPI_DTYPE_COMPLEX128, 4, seed + 1);
    void *q1p = pattern_new(DGAMPI_DTYPE_COMPLEX128, 8, seed + 2); /* [2,4] parent; view columns 0 and 2 */
    int64_t q1_strides[2] = {4 * 16, 2 * 16};
    int32_t *counts = pattern_new(DGAMPI_DTYPE_I32, 5, seed + 3);
    dgampi_array a_sigma = make_array(sigma, DGAMPI_DTYPE_F64, 2, s_sigma, NULL);
    dgampi_array a_q0 = make_array(q0, DGAMPI_DTYPE_COMPLEX128, 2, s_q, NULL);
    dgampi_array a_q1 = make_array(q1p, DGAMPI_DTYPE_COMPLEX128, 2, s_q, q1_strides);
    dgampi_array a_counts = make_array(counts, DGAMPI_DTYPE_I32, 1, s_counts, NULL);
    dgampi_array a_empty = make_array(NULL, DGAMPI_DTYPE_F64, 2, s_empty, NULL);
    CHECK_OK(dgampi_distributor_spill_write(d, "sigma", &a_sigma));
    CHECK_OK(dgampi_distributor_spill_write(d, "gamma/q0", &a_q0));
    CHECK_OK(dgampi_distributor_spill_write(d, "gamma/q1", &a_q1));
    CHECK_OK(dgampi_distributor_spill_write(d, "counts", &a_counts));
    CHECK_OK(dgampi_distributor_spill_write(d, "empty", &a_empty));
    const char *all[5] = {"counts", "empty", "gamma/q0", "gamma/q1", "sigma"};
    check_list(d, all, 5, "after 5 writes");

    check_section = "spill_shape";
    check_shape(d, "sigma", DGAMPI_DTYPE_F64, 2, s_sigma);
    check_shape(d, "gamma/q0", DGAMPI_DTYPE_COMPLEX128, 2, s_q);
    check_shape(d, "gamma/q1", DGAMPI_DTYPE_COMPLEX128, 2, s_q);
    check_shape(d, "counts", DGAMPI_DTYPE_I32, 1, s_counts);
    check_shape(d, "empty", DGAMPI_DTYPE_F64, 2, s_empty);

    /* read_into: contiguous, and a strided destination */
    check_section = "spill_read_into";
    double g_sigma[12];
    memset(g_sigma, 0, sizeof g_sigma);
    dgampi_array r_sigma = make_array(g_sigma, DGAMPI_DTYPE_F64, 2, s_sigma, NULL);
    CHECK_OK(dgampi_distributor_spill_read_into(d, "sigma", &r_sigma));
    CHECK_PATTERN(DGAMPI_DTYPE_F64, g_sigma, 12, seed, "spill_read_into sigma");
    double wide[4][7];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 7; j++) wide[i][j] = -1.0;
    int64_t wide_str[2] = {7 * 8, 2 * 8};
    dgampi_array r_wide = make_array(&wide[0][1], DGAMPI_DTYPE_F64, 2, s_sigma, wide_str);
    CHECK_OK(dgampi_distributor_spill_read_into(d, "sigma", &r_wide));
    {
        size_t bad = 0;
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 7; j++) {
                double w = (j % 2 == 1 && j < 7) ? sigma[i * 3 + j / 2] : -1.0;
                bad += wide[i][j] != w;
            }
        CHECK(bad == 0, "spill_read_into a strided destination: %zu element(s) differ", bad);
    }
    unsigned char g_q[64];
    dgampi_array r_q = make_array(g_q, DGAMPI_DTYPE_COMPLEX128, 2, s_q, NULL);
    CHECK_OK(dgampi_distributor_spill_read_into(d, "gamma/q0", &r_q));
    CHECK_PATTERN(DGAMPI_DTYPE_COMPLEX128, g_q, 4, seed + 1, "spill_read_into gamma/q0");
    CHECK_OK(dgampi_distributor_spill_read_into(d, "gamma/q1", &r_q));
    {
        /* the strided view held parent elements (i, 2j) of pattern seed+2 */
        unsigned char w[16];
        size_t bad = 0;
        for (size_t i = 0; i < 2; i++)
            for (size_t j = 0; j < 2; j++) {
                pattern_elem(DGAMPI_DTYPE_COMPLEX128, i * 4 + 2 * j, seed + 2, w);
                bad += memcmp(g_q + (i * 2 + j) * 16, w, 16) != 0;
            }
        CHECK(bad == 0, "gamma/q1 (written from a strided view): %zu element(s) differ", bad);
    }
    /* wrong shape or dtype: MISMATCH; absent: NOT_FOUND */
    int64_t s_bad[2] = {3, 4};
    dgampi_array r_bad = make_array(g_sigma, DGAMPI_DTYPE_F64, 2, s_bad, NULL);
    CHECK_STATUS(dgampi_distributor_spill_read_into(d, "sigma", &r_bad), DGAMPI_STATUS_MISMATCH,
                 "dgampi_distributor_spill_read_into");
    dgampi_array r_badt = make_array(g_q, DGAMPI_DTYPE_F64, 2, s_q, NULL);
    CHECK_STATUS(dgampi_distributor_spill_read_into(d, "gamma/q0", &r_badt), DGAMPI_STATUS_MISMATCH,
                 "dgampi_distributor_spill_read_into");
    CHECK_STATUS(dgampi_distributor_spill_read_into(d, "nope", &r_sigma), DGAMPI_STATUS_NOT_FOUND,
                 "dgampi_distributor_spill_read_into");

    /* read (allocating) */
    check_section = "spill_read";
    dgampi_owned_array out;
    memset(&out, 0x5a, sizeof out);
    CHECK_OK(dgampi_distributor_spill_read(d, "sigma", &out));
    check_owned(&out, DGAMPI_DTYPE_F64, 2, s_sigma, 0, seed, "spill_read sigma");
    CHECK_OK(dgampi_free(out.data));
    memset(&out, 0x5a, sizeof out);
    CHECK_OK(dgampi_distributor_spill_read(d, "counts", &out));
    check_owned(&out, DGAMPI_DTYPE_I32, 1, s_counts, 0, seed + 3, "spill_read counts");
    CHECK_OK(dgampi_free(out.data));
    memset(&out, 0x5a, sizeof out);
    CHECK_OK(dgampi_distributor_spill_read(d, "empty", &out));
    check_owned(&out, DGAMPI_DTYPE_F64, 2, s_empty, 0, 0, "spill_read empty");
    CHECK_OK(dgampi_free(out.data));
    CHECK_STATUS(dgampi_distributor_spill_read(d, "gamma/q9", &out), DGAMPI_STATUS_NOT_FOUND,
                 "dgampi_distributor_spill_read");
    int32_t gdt;
    int32_t gnd;
    int64_t gs[DGAMPI_MAX_NDIM];
    CHECK_STATUS(dgampi_distributor_spill_shape(d, "nope", &gdt, &gnd, gs), DGAMPI_STATUS_NOT_FOUND,
                 "dgampi_distributor_spill_shape");

    /* replacing a dataset changes its shape and data */
    check_section = "spill replace";
    int64_t s_small[2] = {2, 2};
    double *sigma2 = pattern_new(DGAMPI_DTYPE_F64, 4, seed + 10);
    dgampi_array a_sigma2 = make_array(sigma2, DGAMPI_DTYPE_F64, 2, s_small, NULL);
    CHECK_OK(dgampi_distributor_spill_write(d, "sigma", &a_sigma2));
    check_shape(d, "sigma", DGAMPI_DTYPE_F64, 2, s_small);
    memset(&out, 0x5a, sizeof out);
    CHECK_OK(dgampi_distributor_spill_read(d, "sigma", &out));
    check_owned(&out, DGAMPI_DTYPE_F64, 2, s_small, 0, seed + 10, "spill_read of a replaced dataset");
    CHECK_OK(dgampi_free(out.data));
    check_list(d, all, 5, "after a replacement");

    /* remove, twice */
    check_section = "spill_remove";
    CHECK_OK(dgampi_distributor_spill_remove(d, "gamma/q1"));
    CHECK_STATUS(dgampi_distributor_spill_remove(d, "gamma/q1"), DGAMPI_STATUS_NOT_FOUND,
                 "dgampi_distributor_spill_remove");
    const char *four[4] = {"counts", "empty", "gamma/q0", "sigma"};
    check_list(d, four, 4, "after a removal");

    /* close, close again, open, open again: the data survives */
    check_section = "close and reopen";
    CHECK_OK(dgampi_distributor_close_file(d));
    CHECK_OK(dgampi_distributor_close_file(d));
    CHECK(access(want_path, F_OK) == 0, "close removed the file");
    CHECK_OK(dgampi_distributor_open_file(d));
    CHECK_OK(dgampi_distributor_open_file(d));
    check_list(d, four, 4, "after close and open");
    memset(g_q, 0, sizeof g_q);
    CHECK_OK(dgampi_distributor_spill_read_into(d, "gamma/q0", &r_q));
    CHECK_PATTERN(DGAMPI_DTYPE_COMPLEX128, g_q, 4, seed + 1, "gamma/q0 after close and open");
    memset(&out, 0x5a, sizeof out);
    CHECK_OK(dgampi_distributor_spill_read(d, "sigma", &out));
    check_owned(&out, DGAMPI_DTYPE_F64, 2, s_small, 0, seed + 10, "sigma after close and open");
    CHECK_OK(dgampi_free(out.data));

    /* explicit read-only open: reads work, writes and removals are refused */
    check_section = "open_file_read_only";
    int32_t ro = -1;
    CHECK_OK(dgampi_distributor_spill_read_only(d, &ro));
    CHECK(ro == 0, "spill_read_only of a read/write file: %d", ro);
    CHECK_OK(dgampi_distributor_open_file_read_only(d));
    CHECK_OK(dgampi_distributor_spill_read_only(d, &ro));
    CHECK(ro == 1, "spill_read_only after open_file_read_only: %d", ro);
    CHECK_STATUS(dgampi_distributor_spill_read_only(d, NULL), DGAMPI_STATUS_NULL_ARGUMENT,
                 "dgampi_distributor_spill_read_only");
    CHECK_STATUS(dgampi_distributor_spill_read_only(NULL, &ro), DGAMPI_STATUS_INVALID_HANDLE,
                 "dgampi_distributor_spill_read_only");
    CHECK_STATUS(dgampi_distributor_open_file_read_only(NULL), DGAMPI_STATUS_INVALID_HANDLE,
                 "dgampi_distributor_open_file_read_only");
    check_list(d, four, 4, "read-only");
    memset(g_q, 0, sizeof g_q);
    CHECK_OK(dgampi_distributor_spill_read_into(d, "gamma/q0", &r_q));
    CHECK_PATTERN(DGAMPI_DTYPE_COMPLEX128, g_q, 4, seed + 1, "gamma/q0 read-only");
    CHECK_STATUS(dgampi_distributor_spill_write(d, "more", &a_counts), DGAMPI_STATUS_INVALID_ARGUMENT,
                 "dgampi_distributor_spill_write");
    CHECK(strstr(last_error(), "read-only") != NULL, "write to a read-only file: '%s'",
          last_error());
    CHECK_STATUS(dgampi_distributor_spill_remove(d, "sigma"), DGAMPI_STATUS_INVALID_ARGUMENT,
                 "dgampi_distributor_spill_remove");
    check_list(d, four, 4, "after refused writes");
    /* a second distributor with the same name and path: refused on every rank,
     * on the same communicator and on MPI_COMM_SELF (whose rank-0 file is this
     * rank's or one another process has open) */
    check_section = "same spill file twice";
    CHECK_OK(dgampi_distributor_open_file(d)); /* no-op: stays read-only */
    CHECK_OK(dgampi_distributor_close_file(d));
    CHECK_OK(dgampi_distributor_open_file(d));
    CHECK_OK(dgampi_distributor_spill_read_only(d, &ro));
    CHECK(ro == 0, "spill_read_only after close and open_file: %d", ro);
    dgampi_distributor *twin = NULL;
    int twin_s = dgampi_distributor_create(MPI_COMM_WORLD, 6, "ctest", dir, &twin);
    CHECK(twin_s == DGAMPI_STATUS_INVALID_ARGUMENT || twin_s == DGAMPI_STATUS_REMOTE_ERROR,
          "a second distributor on the same spill files: status %d (%s)", twin_s, status_name(twin_s));
    CHECK(twin == NULL, "a refused create returned a handle");
    CHECK(twin_s != DGAMPI_STATUS_INVALID_ARGUMENT || strstr(last_error(), want_path) != NULL,
          "the refusal does not name %s: '%s'", want_path, last_error());
    MPI_Barrier(MPI_COMM_WORLD);
    CHECK_STATUS(dgampi_distributor_create(MPI_COMM_SELF, 6, "ctest", dir, &twin), DGAMPI_STATUS_INVALID_ARGUMENT,
                 "dgampi_distributor_create");
    CHECK(strstr(last_error(), "ctest_Rank00000.hdf5") != NULL, "refusal on MPI_COMM_SELF: '%s'",
          last_error());
    MPI_Barrier(MPI_COMM_WORLD);
    check_list(d, four, 4, "after the refused distributors");

    /* delete, delete again; listing an absent file neither fails nor creates it */
    check_section = "delete_file";
    CHECK_OK(dgampi_distributor_delete_file(d));
    CHECK(access(want_path, F_OK) != 0, "delete_file left %s", want_path);
    CHECK_OK(dgampi_distributor_delete_file(d));
    check_list(d, NULL, 0, "after delete_file");
    CHECK(access(want_path, F_OK) != 0, "spill_list re-created %s", want_path);
    CHECK_STATUS(dgampi_distributor_spill_read(d, "sigma", &out), DGAMPI_STATUS_NOT_FOUND,
                 "dgampi_distributor_spill_read");
    CHECK_STATUS(dgampi_distributor_spill_remove(d, "sigma"), DGAMPI_STATUS_NOT_FOUND, "dgampi_distributor_spill_remove");
    /* a write after the delete starts a new file */
    CHECK_OK(dgampi_distributor_spill_write(d, "counts", &a_counts));
    const char *one[1] = {"counts"};
    check_list(d, one, 1, "after a write into a deleted file");
    CHECK_OK(dgampi_distributor_delete_file(d));
    CHECK(access(want_path, F_OK) != 0, "the second delete_file left %s", want_path);

    /* bad names */
    check_section = "spill names";
    CHECK_STATUS(dgampi_distributor_spill_write(d, NULL, &a_counts), DGAMPI_STATUS_NULL_ARGUMENT,
                 "dgampi_distributor_spill_write");
    CHECK_STATUS(dgampi_distributor_spill_write(d, "counts", NULL), DGAMPI_STATUS_NULL_ARGUMENT,
                 "dgampi_distributor_spill_write");
    CHECK_STATUS(dgampi_distributor_spill_list(d, NULL, &needed), DGAMPI_STATUS_NULL_ARGUMENT,
                 "dgampi_distributor_spill_list");
    /* names: invalid components and reserved suffix; groups vs datasets */
    CHECK_OK(dgampi_distributor_spill_write(d, "/abs/x", &a_counts)); /* a leading '/' is ignored */
    CHECK_STATUS(dgampi_distributor_spill_write(d, "", &a_counts), DGAMPI_STATUS_INVALID_ARGUMENT,
                 "dgampi_distributor_spill_write");
    CHECK_STATUS(dgampi_distributor_spill_write(d, "a/../b", &a_counts), DGAMPI_STATUS_INVALID_ARGUMENT,
                 "dgampi_distributor_spill_write");
    CHECK_STATUS(dgampi_distributor_spill_write(d, "a//b", &a_counts), DGAMPI_STATUS_INVALID_ARGUMENT,
                 "dgampi_distributor_spill_write");
    CHECK_STATUS(dgampi_distributor_spill_write(d, "x.dgampi-tmp", &a_counts), DGAMPI_STATUS_INVALID_ARGUMENT,
                 "dgampi_distributor_spill_write");
    CHECK_STATUS(dgampi_distributor_spill_write(d, "abs", &a_counts), DGAMPI_STATUS_INVALID_ARGUMENT,
                 "dgampi_distributor_spill_write"); /* "abs" is a group */
    CHECK_STATUS(dgampi_distributor_spill_write(d, "abs/x/y", &a_counts), DGAMPI_STATUS_INVALID_ARGUMENT,
                 "dgampi_distributor_spill_write"); /* "abs/x" is a dataset */
    CHECK_STATUS(dgampi_distributor_spill_read(d, "abs", &out), DGAMPI_STATUS_INVALID_ARGUMENT,
                 "dgampi_distributor_spill_read");
    const char *absx[1] = {"abs/x"};
    check_list(d, absx, 1, "after the name checks");

    /* destroy closes the file; a new distributor on the same path reopens it without truncating */
    check_section = "reopen after destroy";
    destroy_dist(&d);
    CHECK(access(want_path, F_OK) == 0, "destroy removed %s", want_path);
    CHECK_OK(dgampi_distributor_create_f(MPI_Comm_c2f(MPI_COMM_WORLD), 5, "ctest", dir, &d));
    if (!d) return;
    check_list(d, absx, 1, "in a new distributor on the same file");
    memset(&out, 0x5a, sizeof out);
    CHECK_OK(dgampi_distributor_spill_read(d, "abs/x", &out));
    check_owned(&out, DGAMPI_DTYPE_I32, 1, s_counts, 0, seed + 3, "a dataset written by an earlier distributor");
    CHECK_OK(dgampi_free(out.data));
    CHECK_OK(dgampi_distributor_delete_file(d));
    destroy_dist(&d);
    CHECK(access(want_path, F_OK) != 0, "destroy re-created %s", want_path);

    /* a spill file that cannot be created on one rank: create fails there with
     * HDF5_ERROR and with REMOTE_ERROR on the others, and no handle is returned */
    check_section = "create with an unusable output_path on one rank";
    char blocker[4200], bad_dir[4300], other_path[4300];
    snprintf(blocker, sizeof blocker, "%s/blocker", dir);
    snprintf(bad_dir, sizeof bad_dir, "%s/sub", blocker);
    snprintf(other_path, sizeof other_path, "%s/ctest_fail_Rank%05d.hdf5", dir, rank);
    if (rank == 0) {
        FILE *fp = fopen(blocker, "w");
        CHECK(fp != NULL, "cannot create %s", blocker);
        if (fp) fclose(fp);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    d = (dgampi_distributor *)&needed;
    CHECK_STATUS(dgampi_distributor_create(MPI_COMM_WORLD, 5, "ctest_fail", rank == nranks - 1 ? bad_dir : dir, &d),
                 rank == nranks - 1 ? DGAMPI_STATUS_HDF5_ERROR : DGAMPI_STATUS_REMOTE_ERROR, "dgampi_distributor_create");
    CHECK(d == NULL, "a failed create left the handle %p", (void *)d);
    unlink(other_path);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) unlink(blocker);

    /* a distributor without output_path has no spill file */
    check_section = "no output_path";
    d = create_dist(5, 0);
    if (d) {
        char *names = NULL;
        size_t count = 0;
        CHECK_STATUS(dgampi_distributor_spill_path(d, buf, sizeof buf, &needed), DGAMPI_STATUS_INVALID_ARGUMENT,
                     "dgampi_distributor_spill_path");
        CHECK_STATUS(dgampi_distributor_open_file(d), DGAMPI_STATUS_INVALID_ARGUMENT, "dgampi_distributor_open_file");
        CHECK_STATUS(dgampi_distributor_close_file(d), DGAMPI_STATUS_INVALID_ARGUMENT, "dgampi_distributor_close_file");
        CHECK_STATUS(dgampi_distributor_delete_file(d), DGAMPI_STATUS_INVALID_ARGUMENT, "dgampi_distributor_delete_file");
        CHECK_STATUS(dgampi_distributor_spill_write(d, "x", &a_counts), DGAMPI_STATUS_INVALID_ARGUMENT,
                     "dgampi_distributor_spill_write");
        CHECK_STATUS(dgampi_distributor_spill_read_into(d, "x", &a_counts), DGAMPI_STATUS_INVALID_ARGUMENT,
                     "dgampi_distributor_spill_read_into");
        CHECK_STATUS(dgampi_distributor_spill_read(d, "x", &out), DGAMPI_STATUS_INVALID_ARGUMENT,
                     "dgampi_distributor_spill_read");
        CHECK_STATUS(dgampi_distributor_spill_shape(d, "x", &gdt, &gnd, gs), DGAMPI_STATUS_INVALID_ARGUMENT,
                     "dgampi_distributor_spill_shape");
        CHECK_STATUS(dgampi_distributor_spill_list(d, &names, &count), DGAMPI_STATUS_INVALID_ARGUMENT,
                     "dgampi_distributor_spill_list");
        CHECK_STATUS(dgampi_distributor_spill_remove(d, "x"), DGAMPI_STATUS_INVALID_ARGUMENT,
                     "dgampi_distributor_spill_remove");
        destroy_dist(&d);
    }
    /* spill calls on a NULL handle */
    CHECK_STATUS(dgampi_distributor_spill_path(NULL, buf, sizeof buf, &needed), DGAMPI_STATUS_INVALID_HANDLE,
                 "dgampi_distributor_spill_path");
    CHECK_STATUS(dgampi_distributor_open_file(NULL), DGAMPI_STATUS_INVALID_HANDLE, "dgampi_distributor_open_file");
    free(sigma);
    free(sigma2);
    free(q0);
    free(q1p);
    free(counts);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    check_rank = rank;
    const char *env = getenv("DGAMPI_MAX_MESSAGE_BYTES");
    env_limit = env ? (size_t)strtoull(env, NULL, 10) : 0;
    next_rank = (rank + 1) % nranks;
    prev_rank = (rank + nranks - 1) % nranks;
    if (argc < 2 || nranks > MAX_RANKS) {
        if (rank == 0) fprintf(stderr, "usage: distributor SPILL_DIR (at most %d ranks)\n", MAX_RANKS);
        MPI_Finalize();
        return 2;
    }

    test_lifetime();
    test_collectives();
    test_given_sizes();
    test_large_allreduce();
    test_long_meta();
    test_send_to_self();
    test_bcast_bytes();
    test_strided();
    test_spill(argv[1]);
    return test_finish("distributor");
}
