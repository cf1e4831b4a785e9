/* dgampi C ABI: the chunked message primitives, checked value by value on
 * every rank. Runs at any number of ranks (1 included) and with any process-
 * wide limit (DGAMPI_MAX_MESSAGE_BYTES=3 forces the chunked paths). */
#include "arrays.h"

#ifndef DGAMPI_EXPECTED_VERSION
#error "DGAMPI_EXPECTED_VERSION must be defined (the version find_package(dgampi) found)"
#endif

static int rank, nranks, next_rank, prev_rank;

/* When the process-wide limit comes from the environment, the run may be
 * under the PMPI checker, which enforces that limit on every message: explicit
 * limits are then capped at it. */
static size_t env_limit;
static size_t lim(size_t explicit_limit) {
    return env_limit && explicit_limit > env_limit ? env_limit : explicit_limit;
}

/* ------------------------------------------------------------------ local API */

static void test_version(void) {
    check_section = "version";
    const char *v = NULL;
    CHECK_OK(dgampi_version(&v));
    CHECK(v != NULL && strcmp(v, DGAMPI_EXPECTED_VERSION) == 0, "version '%s', expected '%s'", v ? v : "(null)",
          DGAMPI_EXPECTED_VERSION);
}

static size_t limit_from_env(void) {
    const char *s = getenv("DGAMPI_MAX_MESSAGE_BYTES");
    return s ? (size_t)strtoull(s, NULL, 10) : (size_t)DGAMPI_DEFAULT_MAX_MESSAGE_BYTES;
}

static void test_limit(void) {
    check_section = "limit";
    size_t initial = 0, now = 0;
    CHECK_OK(dgampi_max_message_bytes(&initial));
    CHECK(initial == limit_from_env(), "initial limit %zu, expected %zu", initial, limit_from_env());
    CHECK((size_t)DGAMPI_DEFAULT_MAX_MESSAGE_BYTES == 2147483647u, "default limit %zu", (size_t)DGAMPI_DEFAULT_MAX_MESSAGE_BYTES);
    CHECK_OK(dgampi_set_max_message_bytes(1000));
    CHECK_OK(dgampi_max_message_bytes(&now));
    CHECK(now == 1000, "limit %zu after setting 1000", now);
    CHECK_OK(dgampi_set_max_message_bytes(1));
    CHECK_OK(dgampi_max_message_bytes(&now));
    CHECK(now == 1, "limit %zu after setting 1", now);
    CHECK_OK(dgampi_set_max_message_bytes((size_t)DGAMPI_DEFAULT_MAX_MESSAGE_BYTES));
    CHECK_OK(dgampi_max_message_bytes(&now));
    CHECK(now == (size_t)DGAMPI_DEFAULT_MAX_MESSAGE_BYTES, "limit %zu after setting the maximum", now);
    /* limit 0 in a call means the process-wide value */
    size_t rows = 0;
    CHECK_OK(dgampi_chunk_step(1, 0, &rows));
    CHECK(rows == (size_t)DGAMPI_DEFAULT_MAX_MESSAGE_BYTES, "chunk_step(1, 0) = %zu", rows);
    CHECK_OK(dgampi_set_max_message_bytes(48));
    CHECK_OK(dgampi_chunk_step(16, 0, &rows));
    CHECK(rows == 3, "chunk_step(16, 0) = %zu under a process-wide limit of 48", rows);
    CHECK_OK(dgampi_set_max_message_bytes(initial));
    CHECK_OK(dgampi_max_message_bytes(&now));
    CHECK(now == initial, "limit %zu after restoring %zu", now, initial);
}

static void expect_chunk(size_t nrows, size_t row_bytes, size_t limit, size_t index, size_t want_count,
                         size_t rs, size_t re, size_t off, size_t len) {
    size_t count = 0;
    dgampi_chunk c;
    memset(&c, 0xab, sizeof c);
    CHECK_OK(dgampi_row_chunks(nrows, row_bytes, limit, index, &count, &c));
    CHECK(count == want_count, "row_chunks(%zu, %zu, %zu): count %zu, expected %zu", nrows, row_bytes, limit, count, want_count);
    CHECK(c.row_start == rs && c.row_stop == re && c.byte_offset == off && c.byte_len == len,
          "row_chunks(%zu, %zu, %zu) chunk %zu = {%zu, %zu, %zu, %zu}, expected {%zu, %zu, %zu, %zu}", nrows, row_bytes,
          limit, index, c.row_start, c.row_stop, c.byte_offset, c.byte_len, rs, re, off, len);
}

static void test_bounds(void) {
    check_section = "bounds";
    struct { size_t row_bytes, limit, rows; } steps[] = {
        {8, 64, 8}, {24, 100, 4}, {100, 64, 1}, {64, 64, 1}, {1, 1, 1}, {65536, 2147483647u, 32767}, {3, 2147483647u, 715827882},
    };
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        size_t rows = 0;
        CHECK_OK(dgampi_chunk_step(steps[k].row_bytes, steps[k].limit, &rows));
        CHECK(rows == steps[k].rows, "chunk_step(%zu, %zu) = %zu, expected %zu", steps[k].row_bytes, steps[k].limit,
              rows, steps[k].rows);
    }
    /* hand-computed schedules: {nrows, row_bytes, limit, index, count, row_start, row_stop, offset, len} */
    expect_chunk(10, 8, 24, 0, 4, 0, 3, 0, 24);
    expect_chunk(10, 8, 24, 3, 4, 9, 10, 72, 8);
    expect_chunk(1, 5, 5, 0, 1, 0, 1, 0, 5);
    /* rows larger than the limit are split at byte level */
    expect_chunk(2, 10, 4, 0, 6, 0, 1, 0, 4);
    expect_chunk(2, 10, 4, 2, 6, 0, 1, 8, 2);
    expect_chunk(2, 10, 4, 3, 6, 1, 2, 10, 4);
    expect_chunk(7, 40, 39, 1, 14, 0, 1, 39, 1);
    expect_chunk(7, 40, 39, 13, 14, 6, 7, 279, 1);
    expect_chunk(3, 5000, 1024, 9, 15, 1, 2, 9096, 904);
    /* count only (chunk NULL), and empty schedules */
    size_t count = 99;
    CHECK_OK(dgampi_row_chunks(10, 8, 24, 0, &count, NULL));
    CHECK(count == 4, "count %zu", count);
    CHECK_OK(dgampi_row_chunks(0, 8, 8, 0, &count, NULL));
    CHECK(count == 0, "0 rows: count %zu", count);
    CHECK_OK(dgampi_row_chunks(5, 0, 8, 0, &count, NULL));
    CHECK(count == 0, "0-byte rows: count %zu", count);

    /* every schedule covers each byte exactly once, in order, within the limit */
    size_t nrows_s[] = {0, 1, 2, 7, 10}, rb_s[] = {0, 1, 3, 8, 40}, lim_s[] = {1, 3, 8, 24, 39, 40, 41, 1000};
    for (size_t a = 0; a < 5; a++)
        for (size_t b = 0; b < 5; b++)
            for (size_t l = 0; l < 8; l++) {
                size_t nr = nrows_s[a], rb = rb_s[b], lim = lim_s[l], n = 0, next = 0, want;
                CHECK_OK(dgampi_row_chunks(nr, rb, lim, 0, &n, NULL));
                if (nr == 0 || rb == 0) want = 0;
                else if (rb <= lim) want = (nr + lim / rb - 1) / (lim / rb);
                else want = nr * ((rb + lim - 1) / lim);
                CHECK(n == want, "row_chunks(%zu, %zu, %zu): %zu chunks, expected %zu", nr, rb, lim, n, want);
                for (size_t i = 0; i < n; i++) {
                    dgampi_chunk c;
                    CHECK_OK(dgampi_row_chunks(nr, rb, lim, i, &n, &c));
                    int ok = c.byte_offset == next && c.byte_len >= 1 && c.byte_len <= lim &&
                             c.row_start == c.byte_offset / rb && c.row_stop == (c.byte_offset + c.byte_len + rb - 1) / rb;
                    CHECK(ok, "row_chunks(%zu, %zu, %zu) chunk %zu = {%zu, %zu, %zu, %zu} (next byte %zu)", nr, rb, lim, i,
                          c.row_start, c.row_stop, c.byte_offset, c.byte_len, next);
                    if (!ok) break;
                    next += c.byte_len;
                }
                CHECK(next == nr * rb, "row_chunks(%zu, %zu, %zu) covers %zu of %zu bytes", nr, rb, lim, next, nr * rb);
            }
}

/* ------------------------------------------------------------------ point to point */

static const int64_t SHAPES[][3] = {{7, 0, 0}, {5, 3, 0}, {4, 2, 3}, {0, 3, 0}, {3, 0, 0}, {1, 9, 0}};
static const int32_t SHAPE_NDIM[] = {1, 2, 3, 2, 2, 2};
#define N_SHAPES 6

/* Ring exchange of one array through send_rows / recv_rows_into (C or Fortran handle). */
static void ring_rows(MPI_Comm comm, int use_f, int32_t dtype, int32_t ndim, const int64_t *shape, int tag,
                      size_t limit, const char *what) {
    int r, n;
    if (ring_to_self_blocks(comm)) return;
    MPI_Comm_rank(comm, &r);
    MPI_Comm_size(comm, &n);
    int next = (r + 1) % n, prev = (r + n - 1) % n;
    size_t count = shape_count(ndim, shape);
    void *mine = pattern_new(dtype, count, r);
    void *got = zeros_new(dtype, count);
    dgampi_array a = make_array(count ? mine : NULL, dtype, ndim, shape, NULL);
    dgampi_array b = make_array(count ? got : NULL, dtype, ndim, shape, NULL);
    MPI_Fint f = MPI_Comm_c2f(comm);
    if (use_f)
        RING_EXCHANGE(r, CHECK_OK(dgampi_send_rows_f(f, &a, next, tag, limit)),
                      CHECK_OK(dgampi_recv_rows_into_f(f, &b, prev, tag, limit)));
    else
        RING_EXCHANGE(r, CHECK_OK(dgampi_send_rows(comm, &a, next, tag, limit)),
                      CHECK_OK(dgampi_recv_rows_into(comm, &b, prev, tag, limit)));
    CHECK_PATTERN(dtype, got, count, prev, what);
    free(mine);
    free(got);
}

static void test_ring_all_dtypes(void) {
    check_section = "ring_all_dtypes";
    for (int d = 0; d < N_DTYPES; d++)
        for (int s = 0; s < N_SHAPES; s++) {
            char what[128];
            snprintf(what, sizeof what, "ring shape #%d from rank %d", s, prev_rank);
            ring_rows(MPI_COMM_WORLD, 0, ALL_DTYPES[d], SHAPE_NDIM[s], SHAPES[s], 100 + 2000 * d + 300 * s, 0, what);
        }
}

static void test_explicit_limits(void) {
    check_section = "explicit_limits";
    /* rows of 40 bytes under a 16-byte limit: each row split in 3 pieces */
    int64_t s1[2] = {3, 5};
    ring_rows(MPI_COMM_WORLD, 0, DGAMPI_DTYPE_F64, 2, s1, 20000, lim(16), "rows larger than the limit");
    /* one-byte messages */
    int64_t s2[1] = {6};
    ring_rows(MPI_COMM_WORLD, 0, DGAMPI_DTYPE_I32, 1, s2, 20100, lim(1), "1-byte limit");
    /* a limit that is not a multiple of the element size */
    int64_t s3[3] = {2, 3, 2};
    ring_rows(MPI_COMM_WORLD, 0, DGAMPI_DTYPE_COMPLEX128, 3, s3, 20200, lim(23), "23-byte limit");
    /* limit larger than the array: one message */
    ring_rows(MPI_COMM_WORLD, 0, DGAMPI_DTYPE_COMPLEX128, 3, s3, 20300, lim(100000), "one-message limit");
}

static void test_other_communicator(void) {
    check_section = "other_communicator";
    /* ranks in reverse order: the library must use the communicator's ranks */
    MPI_Comm rev;
    MPI_Comm_split(MPI_COMM_WORLD, 0, nranks - 1 - rank, &rev);
    int64_t s[2] = {4, 3};
    ring_rows(rev, 0, DGAMPI_DTYPE_F64, 2, s, 7, 0, "ring on a reversed communicator");
    ring_rows(rev, 1, DGAMPI_DTYPE_I64, 2, s, 8, 0, "ring on a reversed communicator (Fortran handle)");
    MPI_Comm_free(&rev);
}

static void test_recv_alloc(void) {
    check_section = "recv_rows_alloc";
    if (ring_to_self_blocks(MPI_COMM_WORLD)) return;
    int64_t shape[3] = {6, 2, 2};
    size_t n = shape_count(3, shape);
    for (int use_f = 0; use_f < 2; use_f++) {
        int32_t dt = use_f ? DGAMPI_DTYPE_F32 : DGAMPI_DTYPE_COMPLEX128;
        void *mine = pattern_new(dt, n, rank + 3);
        dgampi_array a = make_array(mine, dt, 3, shape, NULL);
        void *got = NULL;
        int tag = 30000 + use_f * 1000;
        if (use_f) {
            MPI_Fint f = MPI_Comm_c2f(MPI_COMM_WORLD);
            RING_EXCHANGE(rank, CHECK_OK(dgampi_send_rows_f(f, &a, next_rank, tag, 0)),
                          CHECK_OK(dgampi_recv_rows_alloc_f(f, dt, 3, shape, prev_rank, tag, 0, &got)));
        } else {
            RING_EXCHANGE(rank, CHECK_OK(dgampi_send_rows(MPI_COMM_WORLD, &a, next_rank, tag, 0)),
                          CHECK_OK(dgampi_recv_rows_alloc(MPI_COMM_WORLD, dt, 3, shape, prev_rank, tag, 0, &got)));
        }
        CHECK(got != NULL, "recv_rows_alloc%s returned NULL data", use_f ? "_f" : "");
        if (got) CHECK_PATTERN(dt, got, n, prev_rank + 3, use_f ? "recv_rows_alloc_f" : "recv_rows_alloc");
        CHECK(dgampi_free(got) == DGAMPI_STATUS_OK, "dgampi_free failed");
        free(mine);
    }
    /* empty array: NULL data */
    int64_t empty[2] = {0, 4};
    dgampi_array e = make_array(NULL, DGAMPI_DTYPE_F64, 2, empty, NULL);
    void *got = (void *)&got;
    RING_EXCHANGE(rank, CHECK_OK(dgampi_send_rows(MPI_COMM_WORLD, &e, next_rank, 32000, 0)),
                  CHECK_OK(dgampi_recv_rows_alloc(MPI_COMM_WORLD, DGAMPI_DTYPE_F64, 2, empty, prev_rank, 32000, 0, &got)));
    CHECK(got == NULL, "recv_rows_alloc of an empty array returned %p, expected NULL", got);
    CHECK(dgampi_free(NULL) == DGAMPI_STATUS_OK, "dgampi_free(NULL) failed");
}

static void test_bytes(void) {
    check_section = "bytes";
    if (ring_to_self_blocks(MPI_COMM_WORLD)) return;
    for (int use_f = 0; use_f < 2; use_f++) {
        for (int variant = 0; variant < 3; variant++) {
            /* lengths differ per sender; variant 2 sends an empty blob */
            size_t len_of[2];
            len_of[0] = variant == 2 ? 0 : (size_t)(37 + 5 * rank + 200 * variant);
            len_of[1] = variant == 2 ? 0 : (size_t)(37 + 5 * prev_rank + 200 * variant);
            unsigned char *mine = malloc(len_of[0] + 1);
            for (size_t i = 0; i < len_of[0]; i++) mine[i] = (unsigned char)((i * 31 + rank) & 0xff);
            size_t limit = variant == 1 ? lim(7) : 0;
            int tag = 40000 + 1000 * variant + 5000 * use_f;
            void *got = (void *)&got;
            size_t len = 12345;
            MPI_Fint f = MPI_Comm_c2f(MPI_COMM_WORLD);
            const void *src = len_of[0] ? mine : NULL;
            if (use_f)
                RING_EXCHANGE(rank, CHECK_OK(dgampi_send_bytes_f(f, src, len_of[0], next_rank, tag, limit)),
                              CHECK_OK(dgampi_recv_bytes_f(f, prev_rank, tag, &got, &len)));
            else
                RING_EXCHANGE(rank, CHECK_OK(dgampi_send_bytes(MPI_COMM_WORLD, src, len_of[0], next_rank, tag, limit)),
                              CHECK_OK(dgampi_recv_bytes(MPI_COMM_WORLD, prev_rank, tag, &got, &len)));
            CHECK(len == len_of[1], "recv_bytes%s: length %zu, expected %zu", use_f ? "_f" : "", len, len_of[1]);
            if (len_of[1] == 0) {
                CHECK(got == NULL, "empty blob: data %p, expected NULL", got);
            } else if (len == len_of[1] && got != NULL && got != (void *)&got) {
                size_t bad = 0, first = 0;
                for (size_t i = 0; i < len; i++)
                    if (((unsigned char *)got)[i] != (unsigned char)((i * 31 + prev_rank) & 0xff)) {
                        if (!bad) first = i;
                        bad++;
                    }
                CHECK(bad == 0, "blob of %zu bytes from rank %d: %zu bytes differ, first at %zu", len, prev_rank, bad, first);
            }
            if (got != (void *)&got) dgampi_free(got);
            free(mine);
        }
    }
}

/* Non-contiguous descriptors: strided views on both sides, negative strides,
 * a transposed (column-major) view. Elements outside the views stay untouched. */
static void test_strided(void) {
    check_section = "strided";
    if (ring_to_self_blocks(MPI_COMM_WORLD)) return;
    /* sender: rows 1,3,5 and columns 0,3,6 of a 6x8 f64 array */
    double src[6][8], *src_prev = pattern_new(DGAMPI_DTYPE_F64, 48, prev_rank);
    void *p = pattern_new(DGAMPI_DTYPE_F64, 48, rank);
    memcpy(src, p, sizeof src);
    free(p);
    int64_t shape[2] = {3, 3};
    int64_t sstr[2] = {2 * 8 * 8, 3 * 8};
    dgampi_array a = make_array(&src[1][0], DGAMPI_DTYPE_F64, 2, shape, sstr);
    /* receiver: columns 1,3,5 of a 3x7 array filled with -1 */
    double dst[3][7];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 7; j++) dst[i][j] = -1.0;
    int64_t dstr[2] = {7 * 8, 2 * 8};
    dgampi_array b = make_array(&dst[0][1], DGAMPI_DTYPE_F64, 2, shape, dstr);
    RING_EXCHANGE(rank, CHECK_OK(dgampi_send_rows(MPI_COMM_WORLD, &a, next_rank, 50000, 0)),
                  CHECK_OK(dgampi_recv_rows_into(MPI_COMM_WORLD, &b, prev_rank, 50000, 0)));
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 7; j++) {
            double want = (j % 2 == 1) ? src_prev[(1 + 2 * i) * 8 + 3 * (j / 2)] : -1.0;
            CHECK(dst[i][j] == want, "strided receive: dst[%d][%d] = %.17g, expected %.17g", i, j, dst[i][j], want);
        }

    /* negative row stride: rows sent in reverse order */
    int32_t srcr[4][3];
    p = pattern_new(DGAMPI_DTYPE_I32, 12, rank);
    memcpy(srcr, p, sizeof srcr);
    free(p);
    int64_t shr[2] = {4, 3}, strr[2] = {-3 * 4, 4};
    dgampi_array ar = make_array(&srcr[3][0], DGAMPI_DTYPE_I32, 2, shr, strr);
    int32_t gotr[4][3];
    memset(gotr, 0, sizeof gotr);
    dgampi_array br = make_array(gotr, DGAMPI_DTYPE_I32, 2, shr, NULL);
    RING_EXCHANGE(rank, CHECK_OK(dgampi_send_rows(MPI_COMM_WORLD, &ar, next_rank, 50100, 0)),
                  CHECK_OK(dgampi_recv_rows_into(MPI_COMM_WORLD, &br, prev_rank, 50100, 0)));
    int32_t *pr = pattern_new(DGAMPI_DTYPE_I32, 12, prev_rank);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++)
            CHECK(gotr[i][j] == pr[(3 - i) * 3 + j], "reversed rows: got[%d][%d] = %d, expected %d", i, j,
                  (int)gotr[i][j], (int)pr[(3 - i) * 3 + j]);
    free(pr);

    /* transposed view of a 3x4 complex64 array: shape [4,3], strides [8, 32] */
    float srct[3][4][2];
    p = pattern_new(DGAMPI_DTYPE_COMPLEX64, 12, rank);
    memcpy(srct, p, sizeof srct);
    free(p);
    int64_t sht[2] = {4, 3}, strt[2] = {8, 4 * 8};
    dgampi_array at = make_array(srct, DGAMPI_DTYPE_COMPLEX64, 2, sht, strt);
    float gott[4][3][2];
    memset(gott, 0, sizeof gott);
    dgampi_array bt = make_array(gott, DGAMPI_DTYPE_COMPLEX64, 2, sht, NULL);
    RING_EXCHANGE(rank, CHECK_OK(dgampi_send_rows(MPI_COMM_WORLD, &at, next_rank, 50200, 0)),
                  CHECK_OK(dgampi_recv_rows_into(MPI_COMM_WORLD, &bt, prev_rank, 50200, 0)));
    float *pt = pattern_new(DGAMPI_DTYPE_COMPLEX64, 12, prev_rank);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++)
            CHECK(gott[i][j][0] == pt[2 * (j * 4 + i)] && gott[i][j][1] == pt[2 * (j * 4 + i) + 1],
                  "transposed: got[%d][%d] = (%g,%g), expected (%g,%g)", i, j, gott[i][j][0], gott[i][j][1],
                  pt[2 * (j * 4 + i)], pt[2 * (j * 4 + i) + 1]);
    free(pt);
    free(src_prev);
}

/* ------------------------------------------------------------------ broadcasts */

static void test_bcast_into(void) {
    check_section = "bcast_rows_into";
    int64_t shape[2] = {5, 3};
    size_t n = 15;
    int32_t dts[3] = {DGAMPI_DTYPE_F64, DGAMPI_DTYPE_COMPLEX64, DGAMPI_DTYPE_U8};
    for (int root = 0; root < nranks; root++)
        for (int d = 0; d < 3; d++)
            for (int use_f = 0; use_f < 2; use_f++) {
                int32_t dt = dts[d];
                void *buf = rank == root ? pattern_new(dt, n, 10 + root) : zeros_new(dt, n);
                dgampi_array a = make_array(buf, dt, 2, shape, NULL);
                if (use_f)
                    CHECK_OK(dgampi_bcast_rows_into_f(MPI_Comm_c2f(MPI_COMM_WORLD), &a, root, 0));
                else
                    CHECK_OK(dgampi_bcast_rows_into(MPI_COMM_WORLD, &a, root, 0));
                char what[96];
                snprintf(what, sizeof what, "bcast_rows_into%s from root %d", use_f ? "_f" : "", root);
                CHECK_PATTERN(dt, buf, n, 10 + root, what);
                free(buf);
            }
    /* strided destination on the non-root ranks, strided source on the root */
    int root = nranks - 1;
    double big[5][6];
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 6; j++) big[i][j] = -1.0;
    double *pat = pattern_new(DGAMPI_DTYPE_F64, n, 77);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 3; j++)
            if (rank == root) big[i][2 * j] = pat[i * 3 + j];
    int64_t str[2] = {6 * 8, 2 * 8};
    dgampi_array a = make_array(big, DGAMPI_DTYPE_F64, 2, shape, str);
    CHECK_OK(dgampi_bcast_rows_into(MPI_COMM_WORLD, &a, root, 0));
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 6; j++) {
            double want = j % 2 == 0 ? pat[i * 3 + j / 2] : -1.0;
            CHECK(big[i][j] == want, "strided bcast: big[%d][%d] = %.17g, expected %.17g", i, j, big[i][j], want);
        }
    free(pat);
    /* an explicit limit (the same on every rank) and an empty array */
    int64_t shape3[3] = {3, 2, 5};
    void *buf = rank == 0 ? pattern_new(DGAMPI_DTYPE_I64, 30, 5) : zeros_new(DGAMPI_DTYPE_I64, 30);
    a = make_array(buf, DGAMPI_DTYPE_I64, 3, shape3, NULL);
    CHECK_OK(dgampi_bcast_rows_into(MPI_COMM_WORLD, &a, 0, lim(13)));
    CHECK_PATTERN(DGAMPI_DTYPE_I64, buf, 30, 5, "bcast_rows_into with limit 13");
    free(buf);
    int64_t empty[2] = {0, 3};
    a = make_array(NULL, DGAMPI_DTYPE_F32, 2, empty, NULL);
    CHECK_OK(dgampi_bcast_rows_into(MPI_COMM_WORLD, &a, 0, 0));
}

static void test_bcast_alloc(void) {
    check_section = "bcast_rows";
    int64_t shape[3] = {4, 3, 2};
    size_t n = 24;
    for (int use_f = 0; use_f < 2; use_f++)
        for (int root = 0; root < nranks; root++) {
            int32_t dt = use_f ? DGAMPI_DTYPE_I32 : DGAMPI_DTYPE_COMPLEX128;
            void *src = rank == root ? pattern_new(dt, n, 20 + root) : NULL;
            dgampi_array a = make_array(src, dt, 3, shape, NULL);
            dgampi_owned_array out;
            memset(&out, 0x5a, sizeof out);
            if (use_f)
                CHECK_OK(dgampi_bcast_rows_f(MPI_Comm_c2f(MPI_COMM_WORLD), rank == root ? &a : NULL, root, 0, &out));
            else
                CHECK_OK(dgampi_bcast_rows(MPI_COMM_WORLD, rank == root ? &a : NULL, root, 0, &out));
            CHECK(out.dtype == dt && out.ndim == 3, "bcast_rows: out.dtype %d ndim %d, expected %d and 3", out.dtype,
                  out.ndim, dt);
            int shape_ok = 1;
            for (int k = 0; k < DGAMPI_MAX_NDIM; k++) shape_ok &= out.shape[k] == (k < 3 ? shape[k] : 0);
            CHECK(shape_ok, "bcast_rows: out.shape = [%lld, %lld, %lld, %lld, ...], expected [4, 3, 2, 0, ...]",
                  (long long)out.shape[0], (long long)out.shape[1], (long long)out.shape[2], (long long)out.shape[3]);
            if (rank == root) {
                CHECK(out.data == NULL, "bcast_rows: the root got data %p, expected NULL", out.data);
            } else {
                CHECK(out.data != NULL, "bcast_rows: NULL data on a non-root rank");
                char what[64];
                snprintf(what, sizeof what, "bcast_rows%s from root %d", use_f ? "_f" : "", root);
                if (out.data) CHECK_PATTERN(dt, out.data, n, 20 + root, what);
                CHECK(dgampi_free(out.data) == DGAMPI_STATUS_OK, "dgampi_free failed");
            }
            free(src);
        }
    /* strided source on the root */
    double big[4][5];
    double *pat = pattern_new(DGAMPI_DTYPE_F64, 8, 3);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 5; j++) big[i][j] = (j == 1 || j == 3) ? pat[i * 2 + j / 2] : -7.0;
    int64_t sh[2] = {4, 2}, st[2] = {5 * 8, 2 * 8};
    dgampi_array a = make_array(&big[0][1], DGAMPI_DTYPE_F64, 2, sh, st);
    dgampi_owned_array out;
    CHECK_OK(dgampi_bcast_rows(MPI_COMM_WORLD, rank == 0 ? &a : NULL, 0, 0, &out));
    if (rank != 0 && out.data) {
        CHECK_PATTERN(DGAMPI_DTYPE_F64, out.data, 8, 3, "bcast_rows of a strided root array");
        dgampi_free(out.data);
    }
    free(pat);
}

int main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    check_rank = rank;
    const char *env = getenv("DGAMPI_MAX_MESSAGE_BYTES");
    env_limit = env ? (size_t)strtoull(env, NULL, 10) : 0;
    next_rank = (rank + 1) % nranks;
    prev_rank = (rank + nranks - 1) % nranks;

    test_version();
    test_limit();
    test_bounds();
    test_ring_all_dtypes();
    test_explicit_limits();
    test_other_communicator();
    test_recv_alloc();
    test_bytes();
    test_strided();
    test_bcast_into();
    test_bcast_alloc();
    return test_finish("primitives");
}
