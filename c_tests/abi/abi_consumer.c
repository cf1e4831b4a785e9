/* A consumer compiled against the BASELINE header (dgampi-0.2.h, the last
 * release with this soname) and run against the freshly built library: it
 * must link (every symbol it uses still exported) and work (records and
 * constants still mean what they meant). Registered as abi_consumer_np2. */
#include "dgampi-0.2.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failed = 0, rank = 0, size = 1;

#define EXPECT(cond, ...)                                      \
    do {                                                       \
        if (!(cond)) {                                         \
            fprintf(stderr, "rank %d: abi_consumer: ", rank);  \
            fprintf(stderr, __VA_ARGS__);                      \
            fprintf(stderr, "\n");                             \
            failed = 1;                                        \
        }                                                      \
    } while (0)

static const char *message(void) {
    static char buf[1024];
    size_t needed = 0;
    dgampi_last_error_message(buf, sizeof buf, &needed);
    return buf;
}

#define OK(call) EXPECT((call) == DGAMPI_STATUS_OK, "%s failed: %s", #call, message())

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    OK(DGAMPI_CHECK_VERSION());

    /* an extensible record of the baseline layout, a plan, an execution */
    dgampi_fft_options o;
    OK(dgampi_fft_options_init(&o, sizeof o));
    o.direction = DGAMPI_FFT_DIRECTION_BACKWARD;
    o.normalization = DGAMPI_FFT_NORMALIZATION_NONE;
    const int64_t nq[3] = {2, 2, 2};
    dgampi_fft_plan *p = NULL;
    OK(dgampi_fft_plan_create(MPI_COMM_WORLD, nq, 0, NULL, DGAMPI_DTYPE_COMPLEX128, &o, &p));
    int64_t my_q = 0, off = 0;
    OK(dgampi_fft_plan_local(p, &my_q, &off));
    double x[16];
    memset(x, 0, sizeof x);
    if (off == 0 && my_q > 0) x[0] = 1.0; /* a delta: every output is 1 */
    int64_t shape[1] = {my_q};
    dgampi_array a = {x, DGAMPI_DTYPE_COMPLEX128, 1, shape, NULL};
    OK(dgampi_fft_plan_execute(p, &a));
    for (int64_t i = 0; i < my_q; i++) EXPECT(x[2 * i] == 1.0 && x[2 * i + 1] == 0.0, "FFT of a delta: x[%lld] = %g", (long long)i, x[2 * i]);
    OK(dgampi_fft_plan_destroy(&p));

    /* a broadcast into an owned record */
    int64_t bshape[2] = {2, 3};
    double b[6] = {1, 2, 3, 4, 5, 6};
    dgampi_array ba = {b, DGAMPI_DTYPE_F64, 2, bshape, NULL};
    dgampi_owned_array out;
    OK(dgampi_bcast_rows(MPI_COMM_WORLD, rank == 0 ? &ba : NULL, 0, 0, &out));
    EXPECT(out.ndim == 2 && out.shape[0] == 2 && out.shape[1] == 3, "bcast_rows: ndim %d", (int)out.ndim);
    if (rank != 0) EXPECT(out.data && memcmp(out.data, b, sizeof b) == 0, "bcast_rows: wrong data");
    OK(dgampi_free(out.data));

    /* a distributor and an orbital transform record */
    dgampi_distributor *d = NULL;
    OK(dgampi_distributor_create(MPI_COMM_WORLD, 3, "abi", NULL, &d));
    dgampi_orbital_transform t;
    OK(dgampi_orbital_transform_init(&t, sizeof t));
    EXPECT(t.struct_size == sizeof t && t.u == NULL && t.n == 0, "orbital_transform_init");
    OK(dgampi_distributor_destroy(&d));

    /* an error, its message with the size query */
    size_t needed = 0;
    EXPECT(dgampi_check_version(DGAMPI_VERSION_MAJOR, DGAMPI_VERSION_MINOR + 1) == DGAMPI_STATUS_MISMATCH, "check_version");
    EXPECT(dgampi_last_error_message(NULL, 0, &needed) == DGAMPI_STATUS_OK && needed > 1, "size query: %zu", needed);

    int any = 0;
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0 && !any) printf("abi_consumer: built against dgampi %s (%s), OK on %d ranks\n", DGAMPI_VERSION, DGAMPI_SONAME, size);
    MPI_Finalize();
    return failed;
}
