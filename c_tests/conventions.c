/* The ABI conventions of dgampi 0.2 (run at 1..4 ranks):
 *
 *   version        DGAMPI_VERSION_* macros, dgampi_version_numbers and
 *                  dgampi_check_version / DGAMPI_CHECK_VERSION();
 *   fft_options    the extensible record: _init with sizeof, with the first
 *                  layout's size (an older caller) and with a larger record
 *                  (a newer caller); 0, garbage, too small and misaligned
 *                  struct_size refused; fields past struct_size never read
 *                  (transposition, appended to the first layout, defaults
 *                  to 0: natural);
 *   bcast_root     every broadcast gives the root the broadcast's shape (or
 *                  length) with data NULL, owning nothing;
 *   aliases        the deprecated 0.1 names forward to the new ones;
 *   mpi_build      dgampi_mpi_build names the MPI of mpi.h, which is the one
 *                  running; dgampi_check_mpi_library accepts it and refuses
 *                  the other ABI family's MPI_Get_library_version text;
 *   fint           the _f twins take mpi.h's MPI_Fint (a compile-time check).
 */
#define DGAMPI_NO_DEPRECATION_WARNINGS /* the aliases are called on purpose */
#include "check.h"
#include <stddef.h>
#include <stdlib.h>
#include <stdint.h>

#define S_INVALID DGAMPI_STATUS_INVALID_ARGUMENT
#define S_NULL DGAMPI_STATUS_NULL_ARGUMENT

static int rank, nranks;

/* The _f twins take MPI_Fint exactly as mpi.h declares it: these
 * initializations only compile when the header's types are mpi.h's. */
static dgampi_status (*const send_rows_f_ptr)(MPI_Fint, const dgampi_array *, int, int, size_t) = dgampi_send_rows_f;
static dgampi_status (*const comm_f_ptr)(dgampi_distributor *, MPI_Fint *) = dgampi_distributor_comm_f;

static void test_version(void) {
    check_section = "version";
    CHECK(DGAMPI_VERSION_MAJOR == 0 && DGAMPI_VERSION_MINOR == 2, "header version %d.%d", DGAMPI_VERSION_MAJOR,
          DGAMPI_VERSION_MINOR);
#if DGAMPI_VERSION_NUMBER < 200 || DGAMPI_VERSION_NUMBER >= 300
#error "DGAMPI_VERSION_NUMBER is not 0.2.x"
#endif
    CHECK(strcmp(DGAMPI_SONAME, "libdgampi.so.0.2") == 0, "DGAMPI_SONAME %s", DGAMPI_SONAME);
    /* the CMake package's version (find_package) is the header's: both from Cargo.toml */
    CHECK(strcmp(DGAMPI_EXPECTED_VERSION, DGAMPI_VERSION) == 0, "package %s, header %s", DGAMPI_EXPECTED_VERSION,
          DGAMPI_VERSION);
    int major = -1, minor = -1, patch = -1;
    CHECK_OK(dgampi_version_numbers(&major, &minor, &patch));
    CHECK(major == DGAMPI_VERSION_MAJOR && minor == DGAMPI_VERSION_MINOR && patch == DGAMPI_VERSION_PATCH,
          "library %d.%d.%d, header %s", major, minor, patch, DGAMPI_VERSION);
    CHECK_OK(dgampi_version_numbers(NULL, &minor, NULL));
    const char *v = NULL;
    CHECK_OK(dgampi_version(&v));
    CHECK(v && strcmp(v, DGAMPI_VERSION) == 0, "dgampi_version '%s', DGAMPI_VERSION '%s'", v, DGAMPI_VERSION);
    CHECK_OK(DGAMPI_CHECK_VERSION());
    CHECK_OK(dgampi_check_version(0, 2));
    /* an older or newer 0.x header, another major: refused, naming both versions */
    const int bad[][2] = {{0, 1}, {0, 3}, {1, 2}, {-1, 0}};
    for (int k = 0; k < 4; k++) {
        CHECK_STATUS(dgampi_check_version(bad[k][0], bad[k][1]), DGAMPI_STATUS_MISMATCH, "dgampi_check_version");
        char header[32];
        snprintf(header, sizeof header, "%d.%d", bad[k][0], bad[k][1]);
        CHECK(strstr(last_error(), header) && strstr(last_error(), DGAMPI_VERSION) && strstr(last_error(), DGAMPI_SONAME),
              "the message '%s' does not name %s, %s and %s", last_error(), header, DGAMPI_VERSION, DGAMPI_SONAME);
    }
    /* dgampi_free (which cannot fail) leaves the last message alone: a
     * deallocation between a failing call and the read of its message (a
     * garbage collector freeing a result) must not erase it */
    CHECK_STATUS(dgampi_check_version(0, 1), DGAMPI_STATUS_MISMATCH, "dgampi_check_version");
    CHECK(dgampi_free(NULL) == DGAMPI_STATUS_OK, "dgampi_free(NULL) failed");
    CHECK(dgampi_free(malloc(16)) == DGAMPI_STATUS_OK, "dgampi_free failed");
    CHECK(strstr(last_error(), "0.1") != NULL, "dgampi_free changed the last message to '%s'", last_error());
    CHECK_OK(dgampi_check_version(0, 2)); /* and a success clears the message */
}

/* A one-shot FFT of a [1 x 1 x nranks] grid with one element per q, with the
 * options record `o`: the status on this rank. */
static int one_shot(const dgampi_fft_options *o) {
    const int64_t nq[3] = {1, 1, nranks}, shape[1] = {1};
    double x[2] = {1.0, 0.0};
    dgampi_array a = {x, DGAMPI_DTYPE_COMPLEX128, 1, shape, NULL};
    return dgampi_fft_execute_once(MPI_COMM_WORLD, nq, &a, o);
}

static void test_fft_options(void) {
    check_section = "fft_options: init";
    /* _init fills the defaults and struct_size, whatever the memory held */
    dgampi_fft_options o;
    memset(&o, 0xa5, sizeof o);
    CHECK_OK(dgampi_fft_options_init(&o, sizeof o));
    CHECK(o.struct_size == sizeof o && o.direction == DGAMPI_FFT_DIRECTION_FORWARD &&
              o.normalization == DGAMPI_FFT_NORMALIZATION_BACKWARD && o.strategy == DGAMPI_FFT_STRATEGY_AUTO &&
              o.rigor == DGAMPI_FFT_RIGOR_ESTIMATE && o.limit == 0 &&
              o.transposition == DGAMPI_FFT_TRANSPOSITION_NATURAL,
          "after init: struct_size %zu direction %d transposition %d", o.struct_size, (int)o.direction,
          (int)o.transposition);
    CHECK(sizeof o >= DGAMPI_FFT_OPTIONS_MIN_SIZE, "sizeof %zu < DGAMPI_FFT_OPTIONS_MIN_SIZE", sizeof o);
    /* transposition is appended to the first layout: it starts where that layout ends */
    CHECK(offsetof(dgampi_fft_options, transposition) == DGAMPI_FFT_OPTIONS_MIN_SIZE && sizeof o % 8 == 0,
          "transposition at offset %zu (first layout %d bytes), sizeof %zu", offsetof(dgampi_fft_options, transposition),
          (int)DGAMPI_FFT_OPTIONS_MIN_SIZE, sizeof o);
    /* a field inside struct_size is read: an unknown transposition code is refused */
    o.transposition = 5;
    CHECK_STATUS(one_shot(&o), S_INVALID, "dgampi_fft_execute_once");
    CHECK(strstr(last_error(), "transposition") != NULL, "message '%s' does not name the transposition", last_error());
    CHECK_OK(dgampi_fft_options_init(&o, sizeof o));
    CHECK_STATUS(dgampi_fft_options_init(NULL, sizeof o), S_NULL, "dgampi_fft_options_init");
    const size_t bad_sizes[] = {0, 8, DGAMPI_FFT_OPTIONS_MIN_SIZE - 8, DGAMPI_FFT_OPTIONS_MIN_SIZE + 4,
                                DGAMPI_MAX_RECORD_BYTES + 8, (size_t)0xa5a5a5a5a5a5a5a5ull};
    for (size_t k = 0; k < sizeof bad_sizes / sizeof bad_sizes[0]; k++)
        CHECK_STATUS(dgampi_fft_options_init(&o, bad_sizes[k]), S_INVALID, "dgampi_fft_options_init");

    /* The oldest accepted caller: struct_size = the first layout's size, and
     * the bytes after it (memory the caller does not own) are never read:
     * here they are garbage that would be an invalid option. */
    check_section = "fft_options: the first layout (an older caller)";
    union {
        dgampi_fft_options o;
        unsigned char bytes[DGAMPI_FFT_OPTIONS_MIN_SIZE + 64];
    } old;
    memset(&old, 0xff, sizeof old);
    CHECK_OK(dgampi_fft_options_init(&old.o, DGAMPI_FFT_OPTIONS_MIN_SIZE));
    CHECK(old.o.struct_size == DGAMPI_FFT_OPTIONS_MIN_SIZE && old.bytes[DGAMPI_FFT_OPTIONS_MIN_SIZE] == 0xff,
          "init wrote past the caller's struct_size");
    CHECK_OK(one_shot(&old.o)); /* the 0xff bytes of transposition (code -1) are past struct_size: not read */
    old.o.rigor = 99; /* inside the first layout: read, and refused */
    CHECK_STATUS(one_shot(&old.o), S_INVALID, "dgampi_fft_execute_once");

    /* A newer caller: a larger record, unknown fields zero = accepted;
     * an unknown field set = refused (the library cannot honour it). */
    check_section = "fft_options: a larger record (a newer caller)";
    struct {
        dgampi_fft_options o;
        uint64_t future[3];
    } newer;
    memset(&newer, 0xff, sizeof newer);
    CHECK_OK(dgampi_fft_options_init(&newer.o, sizeof newer));
    CHECK(newer.future[0] == 0 && newer.future[2] == 0 && newer.o.struct_size == sizeof newer &&
              newer.o.transposition == DGAMPI_FFT_TRANSPOSITION_NATURAL,
          "init left the unknown fields of a larger record nonzero (or transposition %d)", (int)newer.o.transposition);
    CHECK_OK(one_shot(&newer.o));
    newer.future[2] = 1;
    CHECK_STATUS(one_shot(&newer.o), S_INVALID, "dgampi_fft_execute_once");
    CHECK(strstr(last_error(), "does not know") != NULL, "message '%s'", last_error());

    /* uninitialized records: 0, garbage, too small, misaligned struct_size */
    check_section = "fft_options: bad struct_size";
    for (size_t k = 0; k < sizeof bad_sizes / sizeof bad_sizes[0]; k++) {
        dgampi_fft_options b;
        CHECK_OK(dgampi_fft_options_init(&b, sizeof b));
        b.struct_size = bad_sizes[k];
        CHECK_STATUS(one_shot(&b), S_INVALID, "dgampi_fft_execute_once");
        CHECK(strstr(last_error(), "struct_size") != NULL, "message '%s' does not name struct_size", last_error());
        dgampi_fft_plan *p = NULL;
        const int64_t nq[3] = {1, 1, 2};
        CHECK_STATUS(dgampi_fft_plan_create(MPI_COMM_WORLD, nq, 0, NULL, DGAMPI_DTYPE_COMPLEX128, &b, &p), S_INVALID,
                     "dgampi_fft_plan_create");
        CHECK(p == NULL, "a refused plan was created");
    }
    /* NULL options = the defaults */
    CHECK_OK(one_shot(NULL));
}

/* Every broadcast gives the root the same kind of record: the broadcast's
 * shape (or length), data NULL, nothing to free. */
static void check_root_record(const dgampi_owned_array *out, int32_t dtype, int ndim, const int64_t *shape,
                              const char *what) {
    CHECK(out->data == NULL, "%s: the root's record owns %p", what, out->data);
    CHECK(out->dtype == dtype && out->ndim == ndim, "%s: the root's record has dtype %d ndim %d", what, (int)out->dtype,
          (int)out->ndim);
    for (int k = 0; k < ndim && out->ndim == ndim; k++)
        CHECK(out->shape[k] == shape[k], "%s: shape[%d] = %lld", what, k, (long long)out->shape[k]);
}

static void test_bcast_root(void) {
    const int root = nranks - 1;
    int64_t shape[2] = {3, 2};
    double x[6] = {1, 2, 3, 4, 5, 6};
    dgampi_array a = {x, DGAMPI_DTYPE_F64, 2, shape, NULL};
    dgampi_owned_array out;

    check_section = "bcast_root: dgampi_bcast_rows";
    memset(&out, 0x5a, sizeof out);
    CHECK_OK(dgampi_bcast_rows(MPI_COMM_WORLD, rank == root ? &a : NULL, root, 0, &out));
    if (rank == root)
        check_root_record(&out, DGAMPI_DTYPE_F64, 2, shape, "bcast_rows");
    else
        CHECK(out.data && memcmp(out.data, x, sizeof x) == 0, "bcast_rows: wrong data");
    CHECK_OK(dgampi_free(out.data));

    dgampi_distributor *d = NULL;
    CHECK_OK(dgampi_distributor_create(MPI_COMM_WORLD, 4, "conventions", NULL, &d));
    check_section = "bcast_root: dgampi_distributor_bcast_chunked";
    memset(&out, 0x5a, sizeof out);
    CHECK_OK(dgampi_distributor_bcast_chunked(d, rank == root ? &a : NULL, root, 0, &out));
    if (rank == root)
        check_root_record(&out, DGAMPI_DTYPE_F64, 2, shape, "bcast_chunked");
    else
        CHECK(out.data && out.ndim == 2 && memcmp(out.data, x, sizeof x) == 0, "bcast_chunked: wrong data");
    CHECK_OK(dgampi_free(out.data));

    check_section = "bcast_root: dgampi_distributor_bcast_npoint";
    const char meta[] = "npoint-meta";
    void *m = (void *)1;
    size_t ml = 0;
    memset(&out, 0x5a, sizeof out);
    CHECK_OK(dgampi_distributor_bcast_npoint(d, rank == root ? meta : NULL, rank == root ? sizeof meta : 0,
                                             rank == root ? &a : NULL, root, 0, &m, &ml, &out));
    CHECK(ml == sizeof meta, "bcast_npoint: meta_len %zu", ml);
    if (rank == root) {
        check_root_record(&out, DGAMPI_DTYPE_F64, 2, shape, "bcast_npoint");
        CHECK(m == NULL, "bcast_npoint: the root's meta %p", m);
    } else {
        CHECK(m && memcmp(m, meta, sizeof meta) == 0, "bcast_npoint: wrong meta");
        CHECK(out.data && memcmp(out.data, x, sizeof x) == 0, "bcast_npoint: wrong data");
    }
    CHECK_OK(dgampi_free(m));
    CHECK_OK(dgampi_free(out.data));

    check_section = "bcast_root: dgampi_distributor_bcast_bytes";
    void *b = (void *)1;
    size_t bl = 0;
    CHECK_OK(dgampi_distributor_bcast_bytes(d, rank == root ? meta : NULL, rank == root ? sizeof meta : 0, root, 0, &b, &bl));
    CHECK(bl == sizeof meta, "bcast_bytes: len %zu", bl);
    CHECK(rank == root ? b == NULL : (b && memcmp(b, meta, sizeof meta) == 0), "bcast_bytes: data %p", b);
    CHECK_OK(dgampi_free(b));
    CHECK_OK(dgampi_distributor_destroy(&d));
}

/* The deprecated 0.1 names are real exported functions forwarding to the new ones. */
static void test_aliases(void) {
    check_section = "aliases";
    const int64_t nq[3] = {2, 3, 2};
    size_t n_old = 0, n_new = 0;
    int64_t old_idx[12], new_idx[12];
    CHECK_OK(dgampi_fft_pencil_indices(rank, nranks, nq, DGAMPI_LAYOUT_Y_PENCIL, new_idx, 12, &n_new));
    CHECK_OK(dgampi_get_pencil_indices(rank, nranks, nq, DGAMPI_LAYOUT_Y_PENCIL, old_idx, 12, &n_old));
    CHECK(n_old == n_new && memcmp(old_idx, new_idx, n_new * sizeof(int64_t)) == 0, "get_pencil_indices differs");
    CHECK_STATUS(dgampi_get_pencil_indices(rank, nranks, nq, 99, NULL, 0, &n_old), S_INVALID, "dgampi_get_pencil_indices");

    dgampi_fft_options o;
    memset(&o, 0x5a, sizeof o);
    CHECK_OK(dgampi_fft_options_default(&o));
    CHECK(o.struct_size == DGAMPI_FFT_OPTIONS_MIN_SIZE && o.direction == DGAMPI_FFT_DIRECTION_FORWARD && o.limit == 0,
          "dgampi_fft_options_default: struct_size %zu", o.struct_size);

    /* one plan executed under both names, one-shot under both names (C and
     * _f): the same transform of the same input */
    const int64_t shape[2] = {0, 2};
    dgampi_fft_plan *p = NULL;
    int64_t batch[1] = {2}, my_q = 0, off = 0;
    CHECK_OK(dgampi_fft_plan_create(MPI_COMM_WORLD, nq, 1, batch, DGAMPI_DTYPE_COMPLEX128, &o, &p));
    CHECK_OK(dgampi_fft_plan_local(p, &my_q, &off));
    double *x[5];
    for (int k = 0; k < 5; k++) {
        x[k] = calloc((size_t)my_q * 4 + 1, sizeof(double));
        for (int64_t i = 0; i < my_q * 4; i++) x[k][i] = (double)((off * 4 + i) % 7) - 2.5;
    }
    int64_t s[2] = {my_q, shape[1]};
    dgampi_array a[5];
    for (int k = 0; k < 5; k++) a[k] = (dgampi_array){x[k], DGAMPI_DTYPE_COMPLEX128, 2, s, NULL};
    MPI_Fint fworld = MPI_Comm_c2f(MPI_COMM_WORLD);
    CHECK_OK(dgampi_fft_plan_execute(p, &a[0]));
    CHECK_OK(dgampi_fft_execute(p, &a[1]));
    CHECK_OK(dgampi_fft_execute_once(MPI_COMM_WORLD, nq, &a[2], &o));
    CHECK_OK(dgampi_execute_distributed_fft(MPI_COMM_WORLD, nq, &a[3], &o));
    CHECK_OK(dgampi_execute_distributed_fft_f(fworld, nq, &a[4], &o));
    for (int k = 1; k < 5; k++)
        CHECK(memcmp(x[0], x[k], (size_t)my_q * 4 * sizeof(double)) == 0, "result %d differs from plan_execute", k);
    CHECK_STATUS(dgampi_fft_execute(NULL, &a[0]), DGAMPI_STATUS_INVALID_HANDLE, "dgampi_fft_execute");
    CHECK_OK(dgampi_fft_plan_destroy(&p));
    for (int k = 0; k < 5; k++) free(x[k]);
}

static void test_mpi_build(void) {
    check_section = "mpi_build";
    int family = -1;
    const char *version = NULL;
    CHECK_OK(dgampi_mpi_build(&family, &version));
    CHECK_OK(dgampi_mpi_build(NULL, NULL));
    char running[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(running, &len);
#if defined(OPEN_MPI)
    CHECK(family == DGAMPI_MPI_FAMILY_OPEN_MPI, "family %d, mpi.h is Open MPI's", family);
    CHECK(version && strncmp(version, "Open MPI ", 9) == 0, "version '%s'", version ? version : "(null)");
    const char *other = "MPICH Version:\t4.0.2\nMPICH Release date:\tThu Apr  7 12:34:45 CDT 2022";
#else
    CHECK(family == DGAMPI_MPI_FAMILY_MPICH, "family %d, mpi.h is MPICH's", family);
    CHECK(version && strstr(version, "Open MPI") == NULL, "version '%s'", version ? version : "(null)");
    const char *other = "Open MPI v4.1.4, package: Debian OpenMPI, ident: 4.1.4";
#endif
    CHECK_OK(dgampi_check_mpi_library(running));
    CHECK_STATUS(dgampi_check_mpi_library(other), DGAMPI_STATUS_MISMATCH, "dgampi_check_mpi_library");
    CHECK(version && strstr(last_error(), version), "the message '%s' does not name '%s'", last_error(), version);
    CHECK_OK(dgampi_check_mpi_library("Microsoft MPI 10.1")); /* no known family: nothing to compare */
    CHECK_STATUS(dgampi_check_mpi_library(NULL), S_NULL, "dgampi_check_mpi_library");
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    check_rank = rank;
    (void)send_rows_f_ptr;
    (void)comm_f_ptr;
    test_version();
    test_fft_options();
    test_bcast_root();
    test_aliases();
    test_mpi_build();
    return test_finish("conventions");
}
