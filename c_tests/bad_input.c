/* dgampi C ABI: bad input. Every call below must return the documented
 * dgampi_status on every rank involved (never crash, never hang) and leave a
 * message naming the function; after each error the next valid call works. */
#include "arrays.h"
#include <limits.h>

static int rank, nranks, next_rank, prev_rank, tag_ub;
static MPI_Fint fworld;

#define S_OK DGAMPI_STATUS_OK
#define S_NULL DGAMPI_STATUS_NULL_ARGUMENT
#define S_INVALID DGAMPI_STATUS_INVALID_ARGUMENT
#define S_MISMATCH DGAMPI_STATUS_MISMATCH
#define S_RANGE DGAMPI_STATUS_OUT_OF_RANGE
#define S_REMOTE DGAMPI_STATUS_REMOTE_ERROR

/* A valid exchange on the ring after an error: proves nothing was left behind. */
static void good_ring(int tag, const char *after) {
    if (ring_to_self_blocks(MPI_COMM_WORLD)) return;
    int64_t shape[2] = {4, 3};
    double *mine = pattern_new(DGAMPI_DTYPE_F64, 12, rank), got[12];
    memset(got, 0, sizeof got);
    dgampi_array a = make_array(mine, DGAMPI_DTYPE_F64, 2, shape, NULL);
    dgampi_array b = make_array(got, DGAMPI_DTYPE_F64, 2, shape, NULL);
    RING_EXCHANGE(rank, CHECK_OK(dgampi_send_rows(MPI_COMM_WORLD, &a, next_rank, tag, 0)),
                  CHECK_OK(dgampi_recv_rows_into(MPI_COMM_WORLD, &b, prev_rank, tag, 0)));
    char what[128];
    snprintf(what, sizeof what, "valid exchange after %s", after);
    CHECK_PATTERN(DGAMPI_DTYPE_F64, got, 12, prev_rank, what);
    free(mine);
}

/* A valid broadcast after an error. */
static void good_bcast(const char *after) {
    int64_t shape[2] = {3, 2};
    void *buf = rank == 0 ? pattern_new(DGAMPI_DTYPE_I32, 6, 99) : zeros_new(DGAMPI_DTYPE_I32, 6);
    dgampi_array a = make_array(buf, DGAMPI_DTYPE_I32, 2, shape, NULL);
    CHECK_OK(dgampi_bcast_rows_into(MPI_COMM_WORLD, &a, 0, 0));
    char what[128];
    snprintf(what, sizeof what, "valid broadcast after %s", after);
    CHECK_PATTERN(DGAMPI_DTYPE_I32, buf, 6, 99, what);
    free(buf);
}

/* ------------------------------------------------------------------ local calls */

static void test_error_message(void) {
    check_section = "error_message";
    char buf[16];
    size_t needed = 0;
    CHECK(dgampi_last_error_message(NULL, 10, NULL) == S_NULL, "NULL buffer and NULL needed accepted");
    CHECK_STATUS(dgampi_version(NULL), S_NULL, "dgampi_version");
    /* the size-query convention: needed = strlen + 1, NULL buf = query */
    char full[512], small[8];
    CHECK(dgampi_last_error_message(full, sizeof full, &needed) == S_OK, "copy into 512 bytes failed");
    size_t n = strlen(full);
    CHECK(n > 7 && needed == n + 1, "needed = %zu for a message of %zu bytes", needed, n);
    needed = 0;
    CHECK(dgampi_last_error_message(NULL, 0, &needed) == S_OK && needed == n + 1, "size query gave %zu", needed);
    CHECK(dgampi_last_error_message(buf, 0, &needed) == S_RANGE && needed == n + 1, "zero-length buffer accepted");
    /* truncation: len-1 characters and a NUL, OUT_OF_RANGE, needed still set */
    memset(small, 'x', sizeof small);
    needed = 0;
    CHECK(dgampi_last_error_message(small, sizeof small, &needed) == S_RANGE, "a truncated copy is not OUT_OF_RANGE");
    CHECK(small[7] == '\0' && strncmp(small, full, 7) == 0, "truncated message '%.8s' of '%s'", small, full);
    CHECK(needed == n + 1, "needed = %zu after a truncated copy, want %zu", needed, n + 1);
    /* an exact buffer, and the query never changes the stored message */
    char *exact = malloc(n + 1);
    CHECK(dgampi_last_error_message(exact, n + 1, NULL) == S_OK && strcmp(exact, full) == 0, "exact-size copy '%s'", exact);
    free(exact);
    /* a success clears the message */
    const char *v;
    CHECK_OK(dgampi_version(&v));
}

static void test_limits_and_bounds(void) {
    check_section = "limits_and_bounds";
    size_t before = 0, after = 0, out = 0, count = 0;
    dgampi_chunk c;
    CHECK_OK(dgampi_max_message_bytes(&before));
    CHECK_STATUS(dgampi_set_max_message_bytes(0), S_RANGE, "dgampi_set_max_message_bytes");
    CHECK_STATUS(dgampi_set_max_message_bytes((size_t)INT32_MAX + 1), S_RANGE, "dgampi_set_max_message_bytes");
    CHECK_STATUS(dgampi_set_max_message_bytes(SIZE_MAX), S_RANGE, "dgampi_set_max_message_bytes");
    CHECK_OK(dgampi_max_message_bytes(&after));
    CHECK(after == before, "a rejected limit changed the limit from %zu to %zu", before, after);
    CHECK_STATUS(dgampi_max_message_bytes(NULL), S_NULL, "dgampi_max_message_bytes");
    CHECK_STATUS(dgampi_chunk_step(8, 64, NULL), S_NULL, "dgampi_chunk_step");
    CHECK_STATUS(dgampi_chunk_step(8, (size_t)INT32_MAX + 1, &out), S_RANGE, "dgampi_chunk_step");
    CHECK_STATUS(dgampi_row_chunks(10, 8, 24, 0, NULL, &c), S_NULL, "dgampi_row_chunks");
    CHECK_STATUS(dgampi_row_chunks(10, 8, 24, 4, &count, &c), S_RANGE, "dgampi_row_chunks");
    CHECK_STATUS(dgampi_row_chunks(0, 8, 24, 0, &count, &c), S_RANGE, "dgampi_row_chunks");
    CHECK_STATUS(dgampi_row_chunks(SIZE_MAX, 2, 24, 0, &count, NULL), S_RANGE, "dgampi_row_chunks");
    CHECK_STATUS(dgampi_row_chunks(10, 8, (size_t)INT32_MAX + 1, 0, &count, NULL), S_RANGE, "dgampi_row_chunks");
}

/* ------------------------------------------------------------------ descriptors */

struct bad_desc {
    dgampi_array a;
    int status;
    const char *what;
};

static double xbuf[64];
static const int64_t shape32[2] = {3, 2};
static const int64_t negshape[2] = {3, -2};
static const int64_t negrows[2] = {-1, 2};

static int make_bad_descs(struct bad_desc *d) {
    int n = 0;
    d[n++] = (struct bad_desc){make_array(NULL, DGAMPI_DTYPE_F64, 2, shape32, NULL), S_NULL, "null data, 3x2 shape"};
    d[n++] = (struct bad_desc){make_array(xbuf, DGAMPI_DTYPE_F64, 2, NULL, NULL), S_NULL, "null shape, ndim 2"};
    d[n++] = (struct bad_desc){make_array(xbuf, 99, 2, shape32, NULL), S_INVALID, "dtype 99"};
    d[n++] = (struct bad_desc){make_array(xbuf, 0, 2, shape32, NULL), S_INVALID, "dtype 0"};
    d[n++] = (struct bad_desc){make_array(xbuf, -3, 2, shape32, NULL), S_INVALID, "dtype -3"};
    d[n++] = (struct bad_desc){make_array(xbuf, DGAMPI_DTYPE_F64, -1, shape32, NULL), S_INVALID, "ndim -1"};
    d[n++] = (struct bad_desc){make_array(xbuf, DGAMPI_DTYPE_F64, 0, shape32, NULL), S_INVALID, "ndim 0"};
    d[n++] = (struct bad_desc){make_array(xbuf, DGAMPI_DTYPE_F64, DGAMPI_MAX_NDIM + 1, shape32, NULL), S_INVALID, "ndim 33"};
    d[n++] = (struct bad_desc){make_array(xbuf, DGAMPI_DTYPE_F64, 2, negshape, NULL), S_INVALID, "negative shape[1]"};
    d[n++] = (struct bad_desc){make_array(xbuf, DGAMPI_DTYPE_F64, 2, negrows, NULL), S_INVALID, "negative shape[0]"};
    return n;
}

static void test_bad_descriptors(void) {
    check_section = "bad_descriptors";
    struct bad_desc d[16];
    int n = make_bad_descs(d);
    for (int k = 0; k < n; k++) {
        check_section = d[k].what;
        const dgampi_array *a = &d[k].a;
        int st = d[k].status;
        CHECK_STATUS(dgampi_send_rows(MPI_COMM_WORLD, a, next_rank, 1, 0), st, "dgampi_send_rows");
        CHECK_STATUS(dgampi_send_rows_f(fworld, a, next_rank, 1, 0), st, "dgampi_send_rows_f");
        CHECK_STATUS(dgampi_recv_rows_into(MPI_COMM_WORLD, a, prev_rank, 1, 0), st, "dgampi_recv_rows_into");
        CHECK_STATUS(dgampi_recv_rows_into_f(fworld, a, prev_rank, 1, 0), st, "dgampi_recv_rows_into_f");
        /* collective, same bad input everywhere: the local status on every rank */
        CHECK_STATUS(dgampi_bcast_rows_into(MPI_COMM_WORLD, a, 0, 0), st, "dgampi_bcast_rows_into");
        CHECK_STATUS(dgampi_bcast_rows_into_f(fworld, a, 0, 0), st, "dgampi_bcast_rows_into_f");
        /* bcast_rows reads the array on the root only */
        dgampi_owned_array out;
        CHECK_STATUS(dgampi_bcast_rows(MPI_COMM_WORLD, a, 0, 0, &out), rank == 0 ? st : S_REMOTE, "dgampi_bcast_rows");
        CHECK_STATUS(dgampi_bcast_rows_f(fworld, a, 0, 0, &out), rank == 0 ? st : S_REMOTE, "dgampi_bcast_rows_f");
        if (a->data != NULL) { /* recv_rows_alloc takes dtype, ndim and shape only */
            void *data = (void *)&data;
            CHECK_STATUS(dgampi_recv_rows_alloc(MPI_COMM_WORLD, a->dtype, a->ndim, a->shape, prev_rank, 1, 0, &data),
                         st, "dgampi_recv_rows_alloc");
            CHECK_STATUS(dgampi_recv_rows_alloc_f(fworld, a->dtype, a->ndim, a->shape, prev_rank, 1, 0, &data), st,
                         "dgampi_recv_rows_alloc_f");
            CHECK(data == (void *)&data, "recv_rows_alloc wrote *data on failure");
        }
    }
    check_section = "null descriptor";
    dgampi_owned_array out;
    CHECK_STATUS(dgampi_send_rows(MPI_COMM_WORLD, NULL, next_rank, 1, 0), S_NULL, "dgampi_send_rows");
    CHECK_STATUS(dgampi_recv_rows_into(MPI_COMM_WORLD, NULL, prev_rank, 1, 0), S_NULL, "dgampi_recv_rows_into");
    CHECK_STATUS(dgampi_bcast_rows_into(MPI_COMM_WORLD, NULL, 0, 0), S_NULL, "dgampi_bcast_rows_into");
    CHECK_STATUS(dgampi_bcast_rows(MPI_COMM_WORLD, NULL, 0, 0, &out), rank == 0 ? S_NULL : S_REMOTE, "dgampi_bcast_rows");
    check_section = "send_bytes null data";
    CHECK_STATUS(dgampi_send_bytes(MPI_COMM_WORLD, NULL, 5, next_rank, 1, 0), S_NULL, "dgampi_send_bytes");
    CHECK_STATUS(dgampi_send_bytes_f(fworld, NULL, 5, next_rank, 1, 0), S_NULL, "dgampi_send_bytes_f");
    good_ring(2, "bad descriptors");
    good_bcast("bad descriptors");
}

static void test_null_outputs(void) {
    check_section = "null_outputs";
    int64_t shape[1] = {4};
    size_t len;
    void *data;
    CHECK_STATUS(dgampi_recv_rows_alloc(MPI_COMM_WORLD, DGAMPI_DTYPE_F64, 1, shape, prev_rank, 3, 0, NULL), S_NULL,
                 "dgampi_recv_rows_alloc");
    CHECK_STATUS(dgampi_recv_rows_alloc_f(fworld, DGAMPI_DTYPE_F64, 1, shape, prev_rank, 3, 0, NULL), S_NULL,
                 "dgampi_recv_rows_alloc_f");
    CHECK_STATUS(dgampi_recv_bytes(MPI_COMM_WORLD, prev_rank, 3, NULL, &len), S_NULL, "dgampi_recv_bytes");
    CHECK_STATUS(dgampi_recv_bytes(MPI_COMM_WORLD, prev_rank, 3, &data, NULL), S_NULL, "dgampi_recv_bytes");
    CHECK_STATUS(dgampi_recv_bytes_f(fworld, prev_rank, 3, NULL, &len), S_NULL, "dgampi_recv_bytes_f");
    /* collective with the null output on every rank */
    double x[4] = {1, 2, 3, 4};
    dgampi_array a = make_array(x, DGAMPI_DTYPE_F64, 1, shape, NULL);
    CHECK_STATUS(dgampi_bcast_rows(MPI_COMM_WORLD, &a, 0, 0, NULL), S_NULL, "dgampi_bcast_rows");
    CHECK_STATUS(dgampi_bcast_rows_f(fworld, &a, 0, 0, NULL), S_NULL, "dgampi_bcast_rows_f");
    good_bcast("null outputs");
}

static void test_sizes(void) {
    check_section = "sizes";
    /* shape whose byte size overflows: rejected before any receive */
    int64_t huge[2] = {(int64_t)1 << 62, (int64_t)1 << 62};
    void *data = (void *)&data;
    CHECK_STATUS(dgampi_recv_rows_alloc(MPI_COMM_WORLD, DGAMPI_DTYPE_F64, 2, huge, prev_rank, 4, 0, &data), S_RANGE,
                 "dgampi_recv_rows_alloc");
    /* 2^50 bytes: larger than the address space, the allocation fails cleanly */
    int64_t big[2] = {(int64_t)1 << 40, 1024};
    CHECK_STATUS(dgampi_recv_rows_alloc(MPI_COMM_WORLD, DGAMPI_DTYPE_U8, 2, big, prev_rank, 4, 0, &data),
                 DGAMPI_STATUS_ALLOCATION_FAILED, "dgampi_recv_rows_alloc");
    CHECK(data == (void *)&data, "recv_rows_alloc wrote *data on failure");
    /* explicit limit above the maximum */
    int64_t shape[1] = {4};
    double x[4] = {0};
    dgampi_array a = make_array(x, DGAMPI_DTYPE_F64, 1, shape, NULL);
    size_t too_big = (size_t)INT32_MAX + 1;
    CHECK_STATUS(dgampi_send_rows(MPI_COMM_WORLD, &a, next_rank, 4, too_big), S_RANGE, "dgampi_send_rows");
    CHECK_STATUS(dgampi_recv_rows_into(MPI_COMM_WORLD, &a, prev_rank, 4, too_big), S_RANGE, "dgampi_recv_rows_into");
    CHECK_STATUS(dgampi_send_bytes(MPI_COMM_WORLD, x, 8, next_rank, 4, too_big), S_RANGE, "dgampi_send_bytes");
    CHECK_STATUS(dgampi_bcast_rows_into(MPI_COMM_WORLD, &a, 0, too_big), S_RANGE, "dgampi_bcast_rows_into");
    good_ring(5, "size errors");
}

static void test_peers_and_communicators(void) {
    check_section = "peers_and_communicators";
    int64_t shape[1] = {4};
    double x[4] = {0};
    dgampi_array a = make_array(x, DGAMPI_DTYPE_F64, 1, shape, NULL);
    void *data;
    size_t len;
    dgampi_owned_array out;
    int bad_peers[3] = {nranks, -1, INT_MAX};
    for (int k = 0; k < 3; k++) {
        int p = bad_peers[k];
        CHECK_STATUS(dgampi_send_rows(MPI_COMM_WORLD, &a, p, 6, 0), S_RANGE, "dgampi_send_rows");
        CHECK_STATUS(dgampi_recv_rows_into(MPI_COMM_WORLD, &a, p, 6, 0), S_RANGE, "dgampi_recv_rows_into");
        CHECK_STATUS(dgampi_recv_rows_alloc(MPI_COMM_WORLD, DGAMPI_DTYPE_F64, 1, shape, p, 6, 0, &data), S_RANGE,
                     "dgampi_recv_rows_alloc");
        CHECK_STATUS(dgampi_send_bytes(MPI_COMM_WORLD, x, 8, p, 6, 0), S_RANGE, "dgampi_send_bytes");
        CHECK_STATUS(dgampi_recv_bytes(MPI_COMM_WORLD, p, 6, &data, &len), S_RANGE, "dgampi_recv_bytes");
        CHECK_STATUS(dgampi_bcast_rows_into(MPI_COMM_WORLD, &a, p, 0), S_RANGE, "dgampi_bcast_rows_into");
        CHECK_STATUS(dgampi_bcast_rows(MPI_COMM_WORLD, &a, p, 0, &out), S_RANGE, "dgampi_bcast_rows");
    }
    /* MPI_COMM_NULL, as a C and as a Fortran handle */
    MPI_Fint fnull = MPI_Comm_c2f(MPI_COMM_NULL);
    CHECK_STATUS(dgampi_send_rows(MPI_COMM_NULL, &a, 0, 6, 0), S_INVALID, "dgampi_send_rows");
    CHECK_STATUS(dgampi_send_rows_f(fnull, &a, 0, 6, 0), S_INVALID, "dgampi_send_rows_f");
    CHECK_STATUS(dgampi_recv_rows_into(MPI_COMM_NULL, &a, 0, 6, 0), S_INVALID, "dgampi_recv_rows_into");
    CHECK_STATUS(dgampi_recv_rows_alloc_f(fnull, DGAMPI_DTYPE_F64, 1, shape, 0, 6, 0, &data), S_INVALID,
                 "dgampi_recv_rows_alloc_f");
    CHECK_STATUS(dgampi_bcast_rows_into(MPI_COMM_NULL, &a, 0, 0), S_INVALID, "dgampi_bcast_rows_into");
    CHECK_STATUS(dgampi_bcast_rows_f(fnull, &a, 0, 0, &out), S_INVALID, "dgampi_bcast_rows_f");
    CHECK_STATUS(dgampi_send_bytes(MPI_COMM_NULL, x, 8, 0, 6, 0), S_INVALID, "dgampi_send_bytes");
    CHECK_STATUS(dgampi_recv_bytes_f(fnull, 0, 6, &data, &len), S_INVALID, "dgampi_recv_bytes_f");
    good_ring(7, "bad peers and communicators");
    good_bcast("bad peers and communicators");
}

static void test_tags(void) {
    check_section = "tags";
    /* 3 rows of 8 bytes under an explicit 8-byte limit: 3 chunks, tags base..base+2 */
    int64_t shape[2] = {3, 1};
    double *mine = pattern_new(DGAMPI_DTYPE_F64, 3, rank), got[3];
    dgampi_array a = make_array(mine, DGAMPI_DTYPE_F64, 2, shape, NULL);
    dgampi_array b = make_array(got, DGAMPI_DTYPE_F64, 2, shape, NULL);
    void *data;
    size_t len;
    int over[2] = {tag_ub - 1, tag_ub};
    for (int k = 0; k < 2; k++) {
        int t = over[k];
        CHECK_STATUS(dgampi_send_rows(MPI_COMM_WORLD, &a, next_rank, t, 8), S_RANGE, "dgampi_send_rows");
        CHECK_STATUS(dgampi_send_rows_f(fworld, &a, next_rank, t, 8), S_RANGE, "dgampi_send_rows_f");
        CHECK_STATUS(dgampi_recv_rows_into(MPI_COMM_WORLD, &b, prev_rank, t, 8), S_RANGE, "dgampi_recv_rows_into");
        CHECK_STATUS(dgampi_recv_rows_into_f(fworld, &b, prev_rank, t, 8), S_RANGE, "dgampi_recv_rows_into_f");
        CHECK_STATUS(dgampi_recv_rows_alloc(MPI_COMM_WORLD, DGAMPI_DTYPE_F64, 2, shape, prev_rank, t, 8, &data), S_RANGE,
                     "dgampi_recv_rows_alloc");
        /* 16 bytes in 8-byte chunks: length message + 2 chunks = 3 tags */
        CHECK_STATUS(dgampi_send_bytes(MPI_COMM_WORLD, mine, 16, next_rank, t, 8), S_RANGE, "dgampi_send_bytes");
        CHECK_STATUS(dgampi_send_bytes_f(fworld, mine, 16, next_rank, t, 8), S_RANGE, "dgampi_send_bytes_f");
    }
    /* negative base tags */
    CHECK_STATUS(dgampi_send_rows(MPI_COMM_WORLD, &a, next_rank, -1, 0), S_RANGE, "dgampi_send_rows");
    CHECK_STATUS(dgampi_recv_rows_into(MPI_COMM_WORLD, &b, prev_rank, -5, 0), S_RANGE, "dgampi_recv_rows_into");
    CHECK_STATUS(dgampi_send_bytes(MPI_COMM_WORLD, mine, 8, next_rank, -1, 0), S_RANGE, "dgampi_send_bytes");
    CHECK_STATUS(dgampi_recv_bytes(MPI_COMM_WORLD, prev_rank, INT_MIN, &data, &len), S_RANGE, "dgampi_recv_bytes");
    /* rows: a header at base_tag and 3 chunks need 4 tags; the range starting
     * at tag_ub - 2 is refused by the sender and by the receiver */
    CHECK_STATUS(dgampi_send_rows(MPI_COMM_WORLD, &a, next_rank, tag_ub - 2, 8), S_RANGE, "dgampi_send_rows");
    CHECK_STATUS(dgampi_recv_rows_into(MPI_COMM_WORLD, &b, prev_rank, tag_ub - 2, 8), S_RANGE, "dgampi_recv_rows_into");
    /* the last valid range works: tags tag_ub-3 ..= tag_ub */
    if (!ring_to_self_blocks(MPI_COMM_WORLD)) {
        memset(got, 0, sizeof got);
        RING_EXCHANGE(rank, CHECK_OK(dgampi_send_rows(MPI_COMM_WORLD, &a, next_rank, tag_ub - 3, 8)),
                      CHECK_OK(dgampi_recv_rows_into(MPI_COMM_WORLD, &b, prev_rank, tag_ub - 3, 8)));
        CHECK_PATTERN(DGAMPI_DTYPE_F64, got, 3, prev_rank, "rows at the top of the tag range");
        data = NULL;
        RING_EXCHANGE(rank, CHECK_OK(dgampi_send_bytes(MPI_COMM_WORLD, mine, 16, next_rank, tag_ub - 2, 8)),
                      CHECK_OK(dgampi_recv_bytes(MPI_COMM_WORLD, prev_rank, tag_ub - 2, &data, &len)));
        CHECK(len == 16 && data != NULL, "bytes at the top of the tag range: len %zu", len);
        if (len == 16 && data) CHECK_PATTERN(DGAMPI_DTYPE_F64, data, 2, prev_rank, "bytes at the top of the tag range");
        dgampi_free(data);
    }
    free(mine);
    good_ring(8, "tag errors");
}

/* ------------------------------------------------------------------ mismatches between ranks */

static void test_receive_mismatch(void) {
    check_section = "receive_mismatch";
    if (ring_to_self_blocks(MPI_COMM_WORLD)) return;
    /* the sender always sends a 4x3 f64 array in one message (explicit limit);
     * the receiver's buffer disagrees, then the same tag is used again correctly */
    int64_t sent[2] = {4, 3};
    struct { int32_t dtype; int32_t ndim; int64_t shape[2]; const char *what; } wrong[] = {
        {DGAMPI_DTYPE_F64, 2, {4, 2}, "fewer columns"},
        {DGAMPI_DTYPE_F64, 2, {5, 3}, "more rows"},
        {DGAMPI_DTYPE_F64, 1, {4, 0}, "fewer bytes, ndim 1"},
        {DGAMPI_DTYPE_F32, 2, {4, 3}, "smaller dtype"},
        {DGAMPI_DTYPE_COMPLEX128, 2, {4, 3}, "larger dtype"},
    };
    double *mine = pattern_new(DGAMPI_DTYPE_F64, 12, rank);
    dgampi_array a = make_array(mine, DGAMPI_DTYPE_F64, 2, sent, NULL);
    for (size_t k = 0; k < sizeof wrong / sizeof wrong[0]; k++) {
        check_section = wrong[k].what;
        int tag = 60000 + 10 * (int)k;
        size_t n = shape_count(wrong[k].ndim, wrong[k].shape);
        void *buf = zeros_new(wrong[k].dtype, n);
        dgampi_array b = make_array(buf, wrong[k].dtype, wrong[k].ndim, wrong[k].shape, NULL);
        /* use the Fortran twins for odd k */
        if (k % 2)
            RING_EXCHANGE(rank, CHECK_OK(dgampi_send_rows_f(fworld, &a, next_rank, tag, 4096)),
                          CHECK_STATUS(dgampi_recv_rows_into_f(fworld, &b, prev_rank, tag, 4096), S_MISMATCH,
                                       "dgampi_recv_rows_into_f"));
        else
            RING_EXCHANGE(rank, CHECK_OK(dgampi_send_rows(MPI_COMM_WORLD, &a, next_rank, tag, 4096)),
                          CHECK_STATUS(dgampi_recv_rows_into(MPI_COMM_WORLD, &b, prev_rank, tag, 4096), S_MISMATCH,
                                       "dgampi_recv_rows_into"));
        free(buf);
        /* recv_rows_alloc with the wrong shape */
        void *data = (void *)&data;
        RING_EXCHANGE(rank, CHECK_OK(dgampi_send_rows(MPI_COMM_WORLD, &a, next_rank, tag + 1, 4096)),
                      CHECK_STATUS(dgampi_recv_rows_alloc(MPI_COMM_WORLD, wrong[k].dtype, wrong[k].ndim, wrong[k].shape,
                                                          prev_rank, tag + 1, 4096, &data),
                                   S_MISMATCH, "dgampi_recv_rows_alloc"));
        CHECK(data == (void *)&data, "recv_rows_alloc wrote *data after a mismatch");
        /* the same tags again, now matching */
        good_ring(tag, wrong[k].what);
        good_ring(tag + 1, wrong[k].what);
    }
    free(mine);
}

static void test_collective_mismatch(void) {
    check_section = "collective_mismatch";
    int bad = nranks - 1; /* the odd one out; the root is 0 */
    int64_t shape[2] = {3, 2}, other[2] = {3, 3};
    double buf[9] = {0};
    dgampi_owned_array out;
    struct { int32_t dtype; const int64_t *shape; int null_desc; int status; const char *what; } cases[] = {
        {99, shape, 0, S_INVALID, "bad dtype on one rank"},
        {DGAMPI_DTYPE_F64, NULL, 0, S_NULL, "null shape on one rank"},
        {DGAMPI_DTYPE_F64, shape, 1, S_NULL, "null descriptor on one rank"},
        {DGAMPI_DTYPE_F64, other, 0, S_MISMATCH, "other shape on one rank"},
        {DGAMPI_DTYPE_I64, shape, 0, S_MISMATCH, "other dtype on one rank"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        check_section = cases[k].what;
        if (cases[k].status == S_MISMATCH && nranks == 1) continue; /* nothing to disagree with */
        for (int use_f = 0; use_f < 2; use_f++) {
            int me_bad = rank == bad;
            dgampi_array a = make_array(buf, me_bad ? cases[k].dtype : DGAMPI_DTYPE_F64, 2, me_bad ? cases[k].shape : shape, NULL);
            const dgampi_array *pa = me_bad && cases[k].null_desc ? NULL : &a;
            /* a dtype or shape that differs meets the others' in the opening
               agreement: MISMATCH on every rank; a local error: REMOTE_ERROR elsewhere */
            int want = me_bad || cases[k].status == S_MISMATCH ? cases[k].status : S_REMOTE;
            if (use_f)
                CHECK_STATUS(dgampi_bcast_rows_into_f(fworld, pa, 0, 0), want, "dgampi_bcast_rows_into_f");
            else
                CHECK_STATUS(dgampi_bcast_rows_into(MPI_COMM_WORLD, pa, 0, 0), want, "dgampi_bcast_rows_into");
            good_bcast(cases[k].what);
        }
    }
    /* bcast_rows: the root's array is bad; every other rank gets REMOTE_ERROR */
    check_section = "bcast_rows root errors";
    int64_t neg[2] = {3, -1};
    dgampi_array bad_root[3] = {make_array(buf, 42, 2, shape, NULL), make_array(buf, DGAMPI_DTYPE_F64, 2, neg, NULL),
                                make_array(NULL, DGAMPI_DTYPE_F64, 2, shape, NULL)};
    int bad_status[3] = {S_INVALID, S_INVALID, S_NULL};
    for (int k = 0; k < 3; k++) {
        int root = nranks - 1;
        CHECK_STATUS(dgampi_bcast_rows(MPI_COMM_WORLD, rank == root ? &bad_root[k] : NULL, root, 0, &out),
                     rank == root ? bad_status[k] : S_REMOTE, "dgampi_bcast_rows");
        good_bcast("a bad bcast_rows root array");
    }
    /* the root has no array at all */
    CHECK_STATUS(dgampi_bcast_rows(MPI_COMM_WORLD, NULL, 0, 0, &out), rank == 0 ? S_NULL : S_REMOTE, "dgampi_bcast_rows");
    good_bcast("a missing bcast_rows root array");
    /* root out of range on every rank */
    dgampi_array a = make_array(buf, DGAMPI_DTYPE_F64, 2, shape, NULL);
    CHECK_STATUS(dgampi_bcast_rows_into(MPI_COMM_WORLD, &a, -1, 0), S_RANGE, "dgampi_bcast_rows_into");
    CHECK_STATUS(dgampi_bcast_rows_f(fworld, &a, nranks, 0, &out), S_RANGE, "dgampi_bcast_rows_f");
    good_bcast("a bad root");
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    check_rank = rank;
    next_rank = (rank + 1) % nranks;
    prev_rank = (rank + nranks - 1) % nranks;
    fworld = MPI_Comm_c2f(MPI_COMM_WORLD);
    int *ub = NULL, flag = 0;
    MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &ub, &flag);
    tag_ub = flag && ub ? *ub : 32767;

    test_error_message();
    test_limits_and_bounds();
    test_bad_descriptors();
    test_null_outputs();
    test_sizes();
    test_peers_and_communicators();
    test_tags();
    test_receive_mismatch();
    test_collective_mismatch();
    return test_finish("bad_input");
}
