/* dgampi C ABI: bad input to the distributor (dgampi_distributor_*). Every
 * call below must return the documented dgampi_status on every rank involved
 * (never crash, never hang: a collective that fails on one rank fails on all)
 * and leave a message naming the function; after each error the same
 * distributor still works, and a final allgather checks that nothing was left
 * behind.
 *
 *   distributor_bad_input          all checks (any number of ranks)
 *   distributor_bad_input CASE     one reproducer of a library bug (see main)
 */
#include "arrays.h"
#include <limits.h>

static int rank, nranks, next_rank, prev_rank, last, tag_ub;

#define S_OK DGAMPI_STATUS_OK
#define S_NULL DGAMPI_STATUS_NULL_ARGUMENT
#define S_INVALID DGAMPI_STATUS_INVALID_ARGUMENT
#define S_MISMATCH DGAMPI_STATUS_MISMATCH
#define S_RANGE DGAMPI_STATUS_OUT_OF_RANGE
#define S_REMOTE DGAMPI_STATUS_REMOTE_ERROR
#define S_HANDLE DGAMPI_STATUS_INVALID_HANDLE

#define NTASKS 7
#define MAX_RANKS 64
static int64_t sizes[MAX_RANKS], offs[MAX_RANKS], my_size, my_off;

/* The block rule: ntasks / p each, the remainder one each to the LAST ranks. */
static void block_layout(int64_t ntasks, int p, int64_t *s, int64_t *o) {
    int64_t base = ntasks / p, extra = ntasks % p, off = 0;
    for (int r = 0; r < p; r++) {
        s[r] = base + (r >= p - extra ? 1 : 0);
        o[r] = off;
        off += s[r];
    }
}

/* CHECK_SOME_RANK(call, local, fname): a collective error that some rank(s)
 * detect: every rank returns `local` or REMOTE_ERROR with a message naming
 * `fname`, and at least one rank returns `local`. Collective (MPI_COMM_WORLD). */
#define CHECK_SOME_RANK(call, local, fname) check_some_rank_at(__FILE__, __LINE__, #call, (call), (local), (fname))
static void check_some_rank_at(const char *file, int line, const char *expr, int s, int local, const char *fname) {
    const char *m = last_error();
    if (s != local && s != S_REMOTE)
        check_fail(file, line, "%s returned %d (%s), expected %s or REMOTE_ERROR; message: '%s'", expr, s,
                   status_name(s), status_name(local), m);
    else if (m[0] == '\0' || strstr(m, fname) == NULL)
        check_fail(file, line, "%s: error message '%s' does not name %s", expr, m, fname);
    /* one byte: obeys even a 1-byte limit under the PMPI checker */
    unsigned char mine = s == local, any = 0;
    MPI_Allreduce(&mine, &any, 1, MPI_UNSIGNED_CHAR, MPI_MAX, MPI_COMM_WORLD);
    if (!any) check_fail(file, line, "%s: no rank returned %s", expr, status_name(local));
}

/* ------------------------------------------------------------------ valid calls after errors */

/* A valid allgather: every rank's block is its slice of pattern 77. */
static void good_allgather(dgampi_distributor *d, const char *after) {
    int64_t bs[2] = {my_size, 2}, fs[2] = {NTASKS, 2};
    void *mine = pattern_range_new(DGAMPI_DTYPE_F64, (size_t)my_off * 2, (size_t)my_size * 2, 77);
    dgampi_array a = make_array(my_size ? mine : NULL, DGAMPI_DTYPE_F64, 2, bs, NULL);
    void *full = zeros_new(DGAMPI_DTYPE_F64, 2 * NTASKS);
    dgampi_array f = make_array(full, DGAMPI_DTYPE_F64, 2, fs, NULL);
    CHECK_OK(dgampi_distributor_allgather_into(d, &a, &f, 0));
    char what[160];
    snprintf(what, sizeof what, "valid allgather after %s", after);
    CHECK_PATTERN(DGAMPI_DTYPE_F64, full, 2 * NTASKS, 77, what);
    free(mine);
    free(full);
}

/* A valid N-point exchange around the ring at `tag` (nothing with 1 rank). */
static void good_ring(dgampi_distributor *d, int tag, const char *after) {
    if (nranks < 2) return;
    int64_t shape[2] = {3, 2};
    void *arr = pattern_new(DGAMPI_DTYPE_I32, 6, 500 + rank);
    dgampi_array a = make_array(arr, DGAMPI_DTYPE_I32, 2, shape, NULL);
    int32_t got[6] = {0};
    dgampi_array b = make_array(got, DGAMPI_DTYPE_I32, 2, shape, NULL);
    unsigned char meta[4] = {(unsigned char)rank, 1, 2, 3};
    void *m = NULL;
    size_t ml = 0;
    RING_EXCHANGE(rank, CHECK_OK(dgampi_distributor_send_to_rank(d, meta, 4, &a, next_rank, tag, 0)),
                  CHECK_OK(dgampi_distributor_recv_from_rank_into(d, prev_rank, tag, &m, &ml, &b)));
    char what[160];
    snprintf(what, sizeof what, "valid N-point exchange after %s", after);
    CHECK_PATTERN(DGAMPI_DTYPE_I32, got, 6, 500 + prev_rank, what);
    CHECK(ml == 4 && m != NULL && ((unsigned char *)m)[0] == (unsigned char)prev_rank, "%s: meta of %zu bytes", what, ml);
    dgampi_free(m);
    free(arr);
}

/* ------------------------------------------------------------------ scatter */

static void test_scatter(dgampi_distributor *d) {
    check_section = "scatter wrong leading length";
    int roots[2] = {0, last};
    int64_t bs[2] = {my_size, 3};
    double blk[64];
    dgampi_array out_a = make_array(blk, DGAMPI_DTYPE_F64, 2, bs, NULL);
    dgampi_owned_array out;
    for (int ri = 0; ri < 2; ri++) {
        int root = roots[ri];
        int64_t lens[2] = {NTASKS + 1, NTASKS - 1};
        for (int k = 0; k < 2; k++) {
            int64_t fs[2] = {lens[k], 3};
            double *full = pattern_new(DGAMPI_DTYPE_F64, (size_t)lens[k] * 3, 1);
            dgampi_array fa = make_array(full, DGAMPI_DTYPE_F64, 2, fs, NULL);
            int want = rank == root ? S_INVALID : S_REMOTE;
            memset(&out, 0x5a, sizeof out);
            CHECK_STATUS(dgampi_distributor_scatter(d, rank == root ? &fa : NULL, root, 0, &out), want,
                         "dgampi_distributor_scatter");
            CHECK_STATUS(dgampi_distributor_scatter_into(d, rank == root ? &fa : NULL, &out_a, root, 0), want,
                         "dgampi_distributor_scatter_into");
            free(full);
        }
        /* the root gives no array */
        CHECK_STATUS(dgampi_distributor_scatter(d, NULL, root, 0, &out), rank == root ? S_NULL : S_REMOTE,
                     "dgampi_distributor_scatter");
        CHECK_STATUS(dgampi_distributor_scatter_into(d, NULL, &out_a, root, 0), rank == root ? S_NULL : S_REMOTE,
                     "dgampi_distributor_scatter_into");
    }
    good_allgather(d, "scatter errors");

    /* the output of one rank has the wrong shape or dtype */
    check_section = "scatter_into wrong out on one rank";
    int64_t fs[2] = {NTASKS, 3};
    double *full = pattern_new(DGAMPI_DTYPE_F64, NTASKS * 3, 2);
    dgampi_array fa = make_array(full, DGAMPI_DTYPE_F64, 2, fs, NULL);
    int64_t wrong_rows[2] = {my_size + 1, 3}, wrong_cols[2] = {my_size, 2};
    dgampi_array wrongs[3] = {make_array(blk, DGAMPI_DTYPE_F64, 2, wrong_rows, NULL),
                              make_array(blk, DGAMPI_DTYPE_F64, 2, wrong_cols, NULL),
                              make_array(blk, DGAMPI_DTYPE_I64, 2, bs, NULL)};
    for (int k = 0; k < 3; k++)
        CHECK_SOME_RANK(dgampi_distributor_scatter_into(d, rank == 0 ? &fa : NULL, rank == last ? &wrongs[k] : &out_a, 0, 0),
                        S_MISMATCH, "dgampi_distributor_scatter_into");
    free(full);
    good_allgather(d, "a wrong scatter_into output");
}

/* ------------------------------------------------------------------ mismatches between ranks */

static void test_mismatches(dgampi_distributor *d) {
    int64_t bs[2] = {my_size, 3}, fs[2] = {NTASKS, 3};
    double blk[64], full[NTASKS * 4];
    memset(blk, 0, sizeof blk);
    dgampi_array good_blk = make_array(blk, DGAMPI_DTYPE_F64, 2, bs, NULL);
    dgampi_array good_full = make_array(full, DGAMPI_DTYPE_F64, 2, fs, NULL);
    dgampi_owned_array out;

    if (nranks > 1) {
        /* allgather: the last rank's block has another trailing shape / leading length / dtype */
        check_section = "allgather mismatch";
        int64_t other_trail[2] = {my_size, 4}, other_rows[2] = {my_size + 1, 3};
        int64_t one_d[1] = {my_size * 3};
        dgampi_array bad_blks[4] = {make_array(blk, DGAMPI_DTYPE_F64, 2, other_trail, NULL),
                                    make_array(blk, DGAMPI_DTYPE_F64, 2, other_rows, NULL),
                                    make_array(blk, DGAMPI_DTYPE_I64, 2, bs, NULL),
                                    make_array(blk, DGAMPI_DTYPE_F64, 1, one_d, NULL)};
        for (int k = 0; k < 4; k++) {
            const dgampi_array *b = rank == last ? &bad_blks[k] : &good_blk;
            memset(&out, 0x5a, sizeof out);
            CHECK_SOME_RANK(dgampi_distributor_allgather(d, b, 0, &out), S_MISMATCH, "dgampi_distributor_allgather");
            CHECK_SOME_RANK(dgampi_distributor_allgather_into(d, b, &good_full, 0), S_MISMATCH,
                            "dgampi_distributor_allgather_into");
            CHECK_SOME_RANK(dgampi_distributor_gather(d, b, 0, 0, &out), S_MISMATCH, "dgampi_distributor_gather");
            CHECK_SOME_RANK(dgampi_distributor_gather_into(d, b, rank == 0 ? &good_full : NULL, 0, 0), S_MISMATCH,
                            "dgampi_distributor_gather_into");
        }
        good_allgather(d, "allgather/gather mismatches");

        /* allreduce: another shape / dtype on the last rank */
        check_section = "allreduce mismatch";
        int64_t s1[2] = {4, 3}, s2[2] = {3, 4}, s3[1] = {12}, s4[2] = {5, 3};
        double x[16] = {0};
        dgampi_array mine = make_array(x, DGAMPI_DTYPE_F64, 2, s1, NULL);
        dgampi_array others[4] = {make_array(x, DGAMPI_DTYPE_F64, 2, s2, NULL), make_array(x, DGAMPI_DTYPE_F64, 1, s3, NULL),
                                  make_array(x, DGAMPI_DTYPE_F64, 2, s4, NULL), make_array(x, DGAMPI_DTYPE_I64, 2, s1, NULL)};
        for (int k = 0; k < 4; k++)
            CHECK_SOME_RANK(dgampi_distributor_allreduce(d, rank == last ? &others[k] : &mine, 0), S_MISMATCH,
                            "dgampi_distributor_allreduce");
        /* the data was not touched */
        int untouched = 1;
        for (int i = 0; i < 16; i++) untouched &= x[i] == 0.0;
        CHECK(untouched, "a failed allreduce changed its array");

        /* bcast_chunked_into: another shape on the last rank */
        check_section = "bcast_chunked_into mismatch";
        CHECK_SOME_RANK(dgampi_distributor_bcast_chunked_into(d, rank == last ? &others[0] : &mine, 0, 0), S_MISMATCH,
                        "dgampi_distributor_bcast_chunked_into");

        /* explicit limits that differ between ranks (both valid, both <= 3 for the PMPI checker) */
        check_section = "limits differ";
        size_t my_limit = rank == last ? 1 : 2;
        double *src = pattern_new(DGAMPI_DTYPE_F64, NTASKS * 3, 3);
        dgampi_array sa = make_array(src, DGAMPI_DTYPE_F64, 2, fs, NULL);
        CHECK_SOME_RANK(dgampi_distributor_scatter(d, rank == 0 ? &sa : NULL, 0, my_limit, &out), S_MISMATCH,
                        "dgampi_distributor_scatter");
        CHECK_SOME_RANK(dgampi_distributor_allgather(d, &good_blk, my_limit, &out), S_MISMATCH,
                        "dgampi_distributor_allgather");
        CHECK_SOME_RANK(dgampi_distributor_gather(d, &good_blk, last, my_limit, &out), S_MISMATCH,
                        "dgampi_distributor_gather");
        CHECK_SOME_RANK(dgampi_distributor_allreduce(d, &mine, my_limit), S_MISMATCH, "dgampi_distributor_allreduce");
        CHECK_SOME_RANK(dgampi_distributor_bcast_chunked_into(d, &mine, 0, my_limit), S_MISMATCH,
                        "dgampi_distributor_bcast_chunked_into");
        free(src);
        good_allgather(d, "limits that differ");
    }

    /* gather_into: the root's output has the wrong shape */
    check_section = "gather_into wrong root out";
    int64_t wrong_fs[2] = {NTASKS + 1, 3};
    dgampi_array wrong_full = make_array(full, DGAMPI_DTYPE_F64, 2, wrong_fs, NULL);
    CHECK_SOME_RANK(dgampi_distributor_gather_into(d, &good_blk, rank == last ? &wrong_full : NULL, last, 0), S_MISMATCH,
                    "dgampi_distributor_gather_into");
    CHECK_SOME_RANK(dgampi_distributor_allgather_into(d, &good_blk, rank == last ? &wrong_full : &good_full, 0),
                    S_MISMATCH, "dgampi_distributor_allgather_into");
    good_allgather(d, "wrong outputs");

    /* a limit above the maximum on one rank: OUT_OF_RANGE there, REMOTE_ERROR elsewhere */
    check_section = "limit out of range on one rank";
    size_t too_big = (size_t)INT32_MAX + 1;
    size_t lim_of = 0;
    int want = rank == last ? S_RANGE : S_REMOTE;
    lim_of = rank == last ? too_big : 0;
    CHECK_STATUS(dgampi_distributor_allgather(d, &good_blk, lim_of, &out), want, "dgampi_distributor_allgather");
    CHECK_STATUS(dgampi_distributor_allreduce(d, &good_blk, lim_of), want, "dgampi_distributor_allreduce");
    CHECK_STATUS(dgampi_distributor_gather(d, &good_blk, 0, lim_of, &out), want, "dgampi_distributor_gather");
    void *bo = NULL;
    size_t bl = 0;
    CHECK_STATUS(dgampi_distributor_bcast_bytes(d, "abc", 3, 0, lim_of, &bo, &bl), want, "dgampi_distributor_bcast_bytes");
    good_allgather(d, "a limit out of range");
}

/* ------------------------------------------------------------------ a bad dtype on one rank */

static void test_bad_dtype_on_one_rank(dgampi_distributor *d) {
    check_section = "dtype 99 on one rank";
    int64_t bs[2] = {my_size, 3}, fs[2] = {NTASKS, 3};
    double blk[64], full[NTASKS * 3], src[NTASKS * 3];
    memset(blk, 0, sizeof blk);
    memset(src, 0, sizeof src);
    int me = rank == last;
    /* the last rank's descriptor has dtype 99; the root is 0 unless the bad array is the root's */
    dgampi_array b = make_array(blk, me ? 99 : DGAMPI_DTYPE_F64, 2, bs, NULL);
    dgampi_array f = make_array(full, me ? 99 : DGAMPI_DTYPE_F64, 2, fs, NULL);
    dgampi_array s = make_array(src, me ? 99 : DGAMPI_DTYPE_F64, 2, fs, NULL);
    dgampi_array good_f = make_array(full, DGAMPI_DTYPE_F64, 2, fs, NULL);
    dgampi_array good_b = make_array(blk, DGAMPI_DTYPE_F64, 2, bs, NULL);
    dgampi_owned_array out;
    void *m = NULL;
    size_t ml = 0;
    int want = me ? S_INVALID : S_REMOTE;
    CHECK_STATUS(dgampi_distributor_scatter_into(d, rank == 0 ? &good_f : NULL, &b, 0, 0), want,
                 "dgampi_distributor_scatter_into");
    CHECK_STATUS(dgampi_distributor_scatter(d, rank == last ? &s : NULL, last, 0, &out), want,
                 "dgampi_distributor_scatter");
    CHECK_STATUS(dgampi_distributor_gather(d, &b, 0, 0, &out), want, "dgampi_distributor_gather");
    CHECK_STATUS(dgampi_distributor_gather_into(d, &b, rank == 0 ? &good_f : NULL, 0, 0), want,
                 "dgampi_distributor_gather_into");
    CHECK_STATUS(dgampi_distributor_gather_into(d, &good_b, rank == last ? &f : NULL, last, 0), want,
                 "dgampi_distributor_gather_into");
    CHECK_STATUS(dgampi_distributor_allgather(d, &b, 0, &out), want, "dgampi_distributor_allgather");
    CHECK_STATUS(dgampi_distributor_allgather_into(d, &b, &good_f, 0), want, "dgampi_distributor_allgather_into");
    CHECK_STATUS(dgampi_distributor_allgather_into(d, &good_b, &f, 0), want, "dgampi_distributor_allgather_into");
    CHECK_STATUS(dgampi_distributor_allreduce(d, &f, 0), want, "dgampi_distributor_allreduce");
    CHECK_STATUS(dgampi_distributor_bcast_chunked_into(d, &f, 0, 0), want, "dgampi_distributor_bcast_chunked_into");
    CHECK_STATUS(dgampi_distributor_bcast_chunked(d, rank == last ? &s : NULL, last, 0, &out), want,
                 "dgampi_distributor_bcast_chunked");
    CHECK_STATUS(dgampi_distributor_bcast_npoint(d, "xy", rank == last ? 2 : 0, rank == last ? &s : NULL, last, 0, &m, &ml,
                                                 &out),
                 want, "dgampi_distributor_bcast_npoint");
    good_allgather(d, "a bad dtype on one rank");
}

/* ------------------------------------------------------------------ roots */

static void test_roots(dgampi_distributor *d) {
    check_section = "root out of range";
    int64_t bs[2] = {my_size, 3}, fs[2] = {NTASKS, 3};
    double blk[64] = {0}, full[NTASKS * 3] = {0};
    dgampi_array b = make_array(blk, DGAMPI_DTYPE_F64, 2, bs, NULL);
    dgampi_array f = make_array(full, DGAMPI_DTYPE_F64, 2, fs, NULL);
    dgampi_owned_array out;
    void *m = NULL;
    size_t ml = 0;
    int bad_roots[3] = {-1, nranks, INT_MAX};
    for (int k = 0; k < 3; k++) {
        int r = bad_roots[k];
        CHECK_STATUS(dgampi_distributor_scatter(d, &f, r, 0, &out), S_RANGE, "dgampi_distributor_scatter");
        CHECK_STATUS(dgampi_distributor_scatter_into(d, &f, &b, r, 0), S_RANGE, "dgampi_distributor_scatter_into");
        CHECK_STATUS(dgampi_distributor_gather(d, &b, r, 0, &out), S_RANGE, "dgampi_distributor_gather");
        CHECK_STATUS(dgampi_distributor_gather_into(d, &b, &f, r, 0), S_RANGE, "dgampi_distributor_gather_into");
        CHECK_STATUS(dgampi_distributor_bcast_bytes(d, "abc", 3, r, 0, &m, &ml), S_RANGE, "dgampi_distributor_bcast_bytes");
        CHECK_STATUS(dgampi_distributor_bcast_chunked(d, &f, r, 0, &out), S_RANGE, "dgampi_distributor_bcast_chunked");
        CHECK_STATUS(dgampi_distributor_bcast_chunked_into(d, &f, r, 0), S_RANGE, "dgampi_distributor_bcast_chunked_into");
        CHECK_STATUS(dgampi_distributor_bcast_npoint(d, "abc", 3, &f, r, 0, &m, &ml, &out), S_RANGE,
                     "dgampi_distributor_bcast_npoint");
    }
    good_allgather(d, "roots out of range");

    /* out of range on one rank only */
    check_section = "root out of range on one rank";
    int root = rank == last ? nranks : 0;
    int want = rank == last ? S_RANGE : S_REMOTE;
    if (nranks > 1) {
        CHECK_STATUS(dgampi_distributor_scatter(d, &f, root, 0, &out), want, "dgampi_distributor_scatter");
        CHECK_STATUS(dgampi_distributor_gather(d, &b, root, 0, &out), want, "dgampi_distributor_gather");
        CHECK_STATUS(dgampi_distributor_bcast_bytes(d, "abc", 3, root, 0, &m, &ml), want, "dgampi_distributor_bcast_bytes");
        CHECK_STATUS(dgampi_distributor_bcast_chunked_into(d, &f, root, 0), want, "dgampi_distributor_bcast_chunked_into");
        good_allgather(d, "a root out of range on one rank");
    }
}

/* ------------------------------------------------------------------ NULL pointers */

static void test_null_pointers(dgampi_distributor *d) {
    check_section = "null outputs on every rank";
    int64_t bs[2] = {my_size, 3}, fs[2] = {NTASKS, 3};
    double blk[64] = {0}, full[NTASKS * 3] = {0};
    dgampi_array b = make_array(blk, DGAMPI_DTYPE_F64, 2, bs, NULL);
    dgampi_array f = make_array(full, DGAMPI_DTYPE_F64, 2, fs, NULL);
    dgampi_owned_array out;
    void *m = NULL;
    size_t ml = 0;
    CHECK_STATUS(dgampi_distributor_scatter(d, &f, 0, 0, NULL), S_NULL, "dgampi_distributor_scatter");
    CHECK_STATUS(dgampi_distributor_scatter_into(d, &f, NULL, 0, 0), S_NULL, "dgampi_distributor_scatter_into");
    CHECK_STATUS(dgampi_distributor_gather(d, &b, 0, 0, NULL), S_NULL, "dgampi_distributor_gather");
    CHECK_STATUS(dgampi_distributor_gather(d, NULL, 0, 0, &out), S_NULL, "dgampi_distributor_gather");
    CHECK_STATUS(dgampi_distributor_allgather(d, &b, 0, NULL), S_NULL, "dgampi_distributor_allgather");
    CHECK_STATUS(dgampi_distributor_allgather(d, NULL, 0, &out), S_NULL, "dgampi_distributor_allgather");
    CHECK_STATUS(dgampi_distributor_allgather_into(d, &b, NULL, 0), S_NULL, "dgampi_distributor_allgather_into");
    CHECK_STATUS(dgampi_distributor_allreduce(d, NULL, 0), S_NULL, "dgampi_distributor_allreduce");
    CHECK_STATUS(dgampi_distributor_bcast_bytes(d, "abc", 3, 0, 0, NULL, &ml), S_NULL, "dgampi_distributor_bcast_bytes");
    CHECK_STATUS(dgampi_distributor_bcast_bytes(d, "abc", 3, 0, 0, &m, NULL), S_NULL, "dgampi_distributor_bcast_bytes");
    CHECK_STATUS(dgampi_distributor_bcast_chunked(d, &f, 0, 0, NULL), S_NULL, "dgampi_distributor_bcast_chunked");
    CHECK_STATUS(dgampi_distributor_bcast_chunked_into(d, NULL, 0, 0), S_NULL, "dgampi_distributor_bcast_chunked_into");
    CHECK_STATUS(dgampi_distributor_bcast_npoint(d, "abc", 3, &f, 0, 0, NULL, &ml, &out), S_NULL,
                 "dgampi_distributor_bcast_npoint");
    CHECK_STATUS(dgampi_distributor_bcast_npoint(d, "abc", 3, &f, 0, 0, &m, NULL, &out), S_NULL,
                 "dgampi_distributor_bcast_npoint");
    CHECK_STATUS(dgampi_distributor_bcast_npoint(d, "abc", 3, &f, 0, 0, &m, &ml, NULL), S_NULL,
                 "dgampi_distributor_bcast_npoint");
    good_allgather(d, "NULL outputs");

    check_section = "null pointers on one rank";
    int root = 0, want = rank == last ? S_NULL : S_REMOTE;
    CHECK_STATUS(dgampi_distributor_scatter(d, &f, root, 0, rank == last ? NULL : &out), want, "dgampi_distributor_scatter");
    CHECK_STATUS(dgampi_distributor_allgather(d, rank == last ? NULL : &b, 0, &out), want, "dgampi_distributor_allgather");
    CHECK_STATUS(dgampi_distributor_allreduce(d, rank == last ? NULL : &f, 0), want, "dgampi_distributor_allreduce");
    CHECK_STATUS(dgampi_distributor_bcast_bytes(d, "abc", 3, 0, 0, rank == last ? NULL : &m, &ml), want,
                 "dgampi_distributor_bcast_bytes");
    /* the root's input is missing: NULL there, REMOTE_ERROR elsewhere */
    want = rank == last ? S_NULL : S_REMOTE;
    CHECK_STATUS(dgampi_distributor_gather_into(d, &b, NULL, last, 0), want, "dgampi_distributor_gather_into");
    CHECK_STATUS(dgampi_distributor_bcast_chunked(d, NULL, last, 0, &out), want, "dgampi_distributor_bcast_chunked");
    CHECK_STATUS(dgampi_distributor_bcast_bytes(d, NULL, 5, last, 0, &m, &ml), want, "dgampi_distributor_bcast_bytes");
    CHECK_STATUS(dgampi_distributor_bcast_npoint(d, NULL, 5, &f, last, 0, &m, &ml, &out), want,
                 "dgampi_distributor_bcast_npoint");
    CHECK_STATUS(dgampi_distributor_bcast_npoint(d, "abc", 3, NULL, last, 0, &m, &ml, &out), want,
                 "dgampi_distributor_bcast_npoint");
    good_allgather(d, "NULL pointers on one rank");

    /* point to point: rejected before any message moves */
    check_section = "null pointers point to point";
    int64_t s[1] = {4};
    double x[4] = {1, 2, 3, 4};
    dgampi_array a = make_array(x, DGAMPI_DTYPE_F64, 1, s, NULL);
    CHECK_STATUS(dgampi_distributor_send_to_rank(d, "ab", 2, NULL, next_rank, 9, 0), S_NULL,
                 "dgampi_distributor_send_to_rank");
    CHECK_STATUS(dgampi_distributor_send_to_rank(d, NULL, 2, &a, next_rank, 9, 0), S_NULL,
                 "dgampi_distributor_send_to_rank");
    CHECK_STATUS(dgampi_distributor_recv_from_rank(d, prev_rank, 9, NULL, &ml, &out), S_NULL,
                 "dgampi_distributor_recv_from_rank");
    CHECK_STATUS(dgampi_distributor_recv_from_rank(d, prev_rank, 9, &m, NULL, &out), S_NULL,
                 "dgampi_distributor_recv_from_rank");
    CHECK_STATUS(dgampi_distributor_recv_from_rank(d, prev_rank, 9, &m, &ml, NULL), S_NULL,
                 "dgampi_distributor_recv_from_rank");
    CHECK_STATUS(dgampi_distributor_recv_from_rank_into(d, prev_rank, 9, &m, &ml, NULL), S_NULL,
                 "dgampi_distributor_recv_from_rank_into");
    CHECK_STATUS(dgampi_distributor_recv_from_rank_into(d, prev_rank, 9, NULL, &ml, &a), S_NULL,
                 "dgampi_distributor_recv_from_rank_into");
    good_ring(d, 3000, "NULL pointers point to point");
}

/* ------------------------------------------------------------------ point to point */

static void test_point_to_point(dgampi_distributor *d) {
    check_section = "peers";
    int64_t s[2] = {4, 3};
    double *x = pattern_new(DGAMPI_DTYPE_F64, 12, rank);
    dgampi_array a = make_array(x, DGAMPI_DTYPE_F64, 2, s, NULL);
    dgampi_owned_array out;
    void *m = NULL;
    size_t ml = 0;
    int bad_peers[3] = {-1, nranks, INT_MAX};
    for (int k = 0; k < 3; k++) {
        CHECK_STATUS(dgampi_distributor_send_to_rank(d, "ab", 2, &a, bad_peers[k], 10, 0), S_RANGE,
                     "dgampi_distributor_send_to_rank");
        CHECK_STATUS(dgampi_distributor_recv_from_rank(d, bad_peers[k], 10, &m, &ml, &out), S_RANGE,
                     "dgampi_distributor_recv_from_rank");
        CHECK_STATUS(dgampi_distributor_recv_from_rank_into(d, bad_peers[k], 10, &m, &ml, &a), S_RANGE,
                     "dgampi_distributor_recv_from_rank_into");
    }
    CHECK_STATUS(dgampi_distributor_send_to_rank(d, "ab", 2, &a, rank, 10, 0), S_INVALID, "dgampi_distributor_send_to_rank");
    CHECK_STATUS(dgampi_distributor_recv_from_rank(d, rank, 10, &m, &ml, &out), S_INVALID,
                 "dgampi_distributor_recv_from_rank");

    check_section = "tags";
    /* negative base tags, and base tags whose array tags (base + 500 + i) overflow */
    int bad_tags[3] = {-1, INT_MIN, INT_MAX - 100};
    for (int k = 0; k < 3; k++) {
        CHECK_STATUS(dgampi_distributor_send_to_rank(d, "ab", 2, &a, next_rank, bad_tags[k], 0), nranks > 1 ? S_RANGE : S_INVALID,
                     "dgampi_distributor_send_to_rank");
        CHECK_STATUS(dgampi_distributor_recv_from_rank(d, prev_rank, bad_tags[k], &m, &ml, &out),
                     nranks > 1 ? S_RANGE : S_INVALID, "dgampi_distributor_recv_from_rank");
    }
    /* the descriptor itself is bad */
    dgampi_array bad = make_array(x, 99, 2, s, NULL);
    CHECK_STATUS(dgampi_distributor_send_to_rank(d, "ab", 2, &bad, next_rank, 10, 0), S_INVALID,
                 "dgampi_distributor_send_to_rank");
    CHECK_STATUS(dgampi_distributor_recv_from_rank_into(d, prev_rank, 10, &m, &ml, &bad), S_INVALID,
                 "dgampi_distributor_recv_from_rank_into");
    good_ring(d, 5000, "bad peers and tags");

    /* recv_from_rank_into a buffer of the wrong shape or dtype: MISMATCH after the
     * chunks are drained; the same tags then work again */
    if (nranks > 1) {
        int64_t fewer[2] = {3, 3}, other[2] = {4, 2}, flat[1] = {12};
        struct { int32_t dt; int nd; const int64_t *shape; const char *what; } wrong[4] = {
            {DGAMPI_DTYPE_F64, 2, fewer, "fewer rows"},
            {DGAMPI_DTYPE_F64, 2, other, "other trailing shape"},
            {DGAMPI_DTYPE_F64, 1, flat, "1-D buffer of the same size"},
            {DGAMPI_DTYPE_I64, 2, s, "other dtype of the same size"},
        };
        for (int k = 0; k < 4; k++) {
            check_section = wrong[k].what;
            int tag = 20000 + 2000 * k;
            double buf[16] = {0};
            dgampi_array b = make_array(buf, wrong[k].dt, wrong[k].nd, wrong[k].shape, NULL);
            m = (void *)&m;
            RING_EXCHANGE(rank, CHECK_OK(dgampi_distributor_send_to_rank(d, "meta", 4, &a, next_rank, tag, 0)),
                          CHECK_STATUS(dgampi_distributor_recv_from_rank_into(d, prev_rank, tag, &m, &ml, &b), S_MISMATCH,
                                       "dgampi_distributor_recv_from_rank_into"));
            CHECK(m == (void *)&m, "a failed recv_from_rank_into wrote *meta");
            good_ring(d, tag, wrong[k].what);
        }
    }
    free(x);
    good_allgather(d, "point-to-point errors");
}

/* ------------------------------------------------------------------ handles */

static void test_handles(void) {
    check_section = "stale handle in collectives";
    dgampi_distributor *d = NULL;
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, NTASKS, NULL, NULL, &d));
    dgampi_distributor *stale = d;
    CHECK_OK(dgampi_distributor_destroy(&d));
    int64_t bs[2] = {my_size, 3};
    double blk[64] = {0};
    dgampi_array b = make_array(blk, DGAMPI_DTYPE_F64, 2, bs, NULL);
    dgampi_owned_array out;
    void *m;
    size_t ml;
    /* the same stale handle on every rank: a local error everywhere, nobody waits */
    CHECK_STATUS(dgampi_distributor_allgather(stale, &b, 0, &out), S_HANDLE, "dgampi_distributor_allgather");
    CHECK_STATUS(dgampi_distributor_allreduce(stale, &b, 0), S_HANDLE, "dgampi_distributor_allreduce");
    CHECK_STATUS(dgampi_distributor_scatter(stale, &b, 0, 0, &out), S_HANDLE, "dgampi_distributor_scatter");
    CHECK_STATUS(dgampi_distributor_bcast_bytes(NULL, "a", 1, 0, 0, &m, &ml), S_HANDLE, "dgampi_distributor_bcast_bytes");
    CHECK_STATUS(dgampi_distributor_send_to_rank(stale, "a", 1, &b, next_rank, 1, 0), S_HANDLE,
                 "dgampi_distributor_send_to_rank");
    CHECK_STATUS(dgampi_distributor_spill_write(stale, "x", &b), S_HANDLE, "dgampi_distributor_spill_write");
    /* a pointer that never was a distributor */
    dgampi_distributor *foreign = (dgampi_distributor *)(void *)blk;
    CHECK_STATUS(dgampi_distributor_barrier(foreign), S_HANDLE, "dgampi_distributor_barrier");
    CHECK_STATUS(dgampi_distributor_destroy(&foreign), S_HANDLE, "dgampi_distributor_destroy");
}

/* ------------------------------------------------------------------ reproducers */

/* Bug: dgampi_distributor_create checks ntasks before the collective
 * MPI_Comm_dup, so a rank with a negative ntasks returns INVALID_ARGUMENT
 * while the other ranks wait in MPI_Comm_dup forever (collective errors must
 * be collective: REMOTE_ERROR on the others). Hangs until the ctest timeout. */
static void create_negative_ntasks_on_one_rank(void) {
    dgampi_distributor *d = NULL;
    CHECK_STATUS(dgampi_distributor_create(MPI_COMM_WORLD, rank == last ? -1 : NTASKS, NULL, NULL, &d),
                 rank == last ? S_INVALID : S_REMOTE, "dgampi_distributor_create");
    if (d) dgampi_distributor_destroy(&d);
}

/* Bug: dgampi_distributor_create does not check that ntasks is the same on
 * every rank: each rank silently builds its own (inconsistent) layout, and
 * later collectives move the wrong rows or fail obscurely. Expected: MISMATCH
 * on some rank, MISMATCH or REMOTE_ERROR on all. */
static void create_ntasks_differ(void) {
    dgampi_distributor *d = NULL;
    CHECK_SOME_RANK(dgampi_distributor_create(MPI_COMM_WORLD, rank == last ? NTASKS + 2 : NTASKS, NULL, NULL, &d),
                    S_MISMATCH, "dgampi_distributor_create");
    if (d) dgampi_distributor_destroy(&d);
}

/* Bug: dgampi_distributor_send_to_rank checks the tag range of the array
 * chunks (base_tag + 500 + i <= MPI_TAG_UB) only after it has sent the
 * metadata blob, so a send that fails with OUT_OF_RANGE leaves the blob's
 * messages in flight on the distributor's communicator, where a later receive
 * can match them. Expected: nothing is sent when the call fails. (Rank 1
 * counts and drains what arrived.) */
static void send_to_rank_tag_overflow_sends_nothing(void) {
    dgampi_distributor *d = NULL;
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, NTASKS, NULL, NULL, &d));
    if (!d) return;
    MPI_Comm c = MPI_COMM_NULL;
    CHECK_OK(dgampi_distributor_comm(d, &c));
    int64_t shape[1] = {40};
    unsigned char x[40] = {0};
    dgampi_array a = make_array(x, DGAMPI_DTYPE_U8, 1, shape, NULL);
    /* limit 1: the blob's ~300 chunks fit below MPI_TAG_UB, the array's 40 chunks do not */
    if (rank == 0)
        CHECK_STATUS(dgampi_distributor_send_to_rank(d, "ab", 2, &a, 1, tag_ub - 520, 1), S_RANGE,
                     "dgampi_distributor_send_to_rank");
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 1) {
        int flag = 0, n = 0;
        MPI_Status st;
        for (int k = 0; k < 1000 && !flag; k++) MPI_Iprobe(0, MPI_ANY_TAG, c, &flag, &st);
        while (flag) {
            unsigned char b[64];
            MPI_Recv(b, (int)sizeof b, MPI_BYTE, 0, st.MPI_TAG, c, MPI_STATUS_IGNORE);
            n++;
            MPI_Iprobe(0, MPI_ANY_TAG, c, &flag, &st);
        }
        CHECK(n == 0, "the failed send_to_rank left %d message(s) in flight", n);
    }
    CHECK_OK(dgampi_distributor_destroy(&d));
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    check_rank = rank;
    next_rank = (rank + 1) % nranks;
    prev_rank = (rank + nranks - 1) % nranks;
    last = nranks - 1;
    int *ub = NULL, flag = 0;
    MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &ub, &flag);
    tag_ub = flag && ub ? *ub : 32767;
    if (nranks > MAX_RANKS) {
        MPI_Finalize();
        return 2;
    }
    block_layout(NTASKS, nranks, sizes, offs);
    my_size = sizes[rank];
    my_off = offs[rank];

    if (argc > 1) {
        const char *which = argv[1];
        check_section = which;
        if (strcmp(which, "create_negative_ntasks_on_one_rank") == 0) create_negative_ntasks_on_one_rank();
        else if (strcmp(which, "create_ntasks_differ") == 0) create_ntasks_differ();
        else if (strcmp(which, "send_to_rank_tag_overflow_sends_nothing") == 0) send_to_rank_tag_overflow_sends_nothing();
        else {
            if (rank == 0) fprintf(stderr, "unknown case '%s'\n", which);
            MPI_Finalize();
            return 2;
        }
        return test_finish(which);
    }

    dgampi_distributor *d = NULL;
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, NTASKS, "bad_input", NULL, &d));
    if (!d) return test_finish("distributor_bad_input");
    test_scatter(d);
    test_mismatches(d);
    test_bad_dtype_on_one_rank(d);
    test_roots(d);
    test_null_pointers(d);
    test_point_to_point(d);
    test_handles();
    /* after every error above, the distributor still works */
    check_section = "final";
    good_allgather(d, "every error");
    good_ring(d, 30000, "every error");
    CHECK_OK(dgampi_distributor_destroy(&d));
    return test_finish("distributor_bad_input");
}
