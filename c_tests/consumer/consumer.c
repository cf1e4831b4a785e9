/* A minimal dgampi consumer, built outside CMake (pkg-config) and against the
 * static library: version, then a ring exchange of a small array. */
#include <dgampi.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    int rank, size, failed = 0;
    const char *version = NULL;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (dgampi_version(&version) != DGAMPI_STATUS_OK || version == NULL || strcmp(version, DGAMPI_VERSION) != 0) {
        fprintf(stderr, "rank %d: dgampi_version failed or differs from the header's %s\n", rank, DGAMPI_VERSION);
        failed = 1;
    }
    /* the header's version macros, and the loaded library against them */
#if !defined(DGAMPI_VERSION_MAJOR) || DGAMPI_VERSION_MAJOR != 0 || DGAMPI_VERSION_MINOR != 2
#error "dgampi.h is not version 0.2"
#endif
    if (DGAMPI_CHECK_VERSION() != DGAMPI_STATUS_OK) {
        char msg[512];
        dgampi_last_error_message(msg, sizeof msg, NULL);
        fprintf(stderr, "rank %d: DGAMPI_CHECK_VERSION: %s\n", rank, msg);
        failed = 1;
    }
    int next = (rank + 1) % size, prev = (rank + size - 1) % size;
    int64_t shape[2] = {3, 4};
    double mine[12], got[12];
    for (int i = 0; i < 12; i++) mine[i] = rank * 100.0 + i;
    memset(got, 0, sizeof got);
    dgampi_array a = {mine, DGAMPI_DTYPE_F64, 2, shape, NULL};
    dgampi_array b = {got, DGAMPI_DTYPE_F64, 2, shape, NULL};
    int s1, s2;
    if (rank % 2 == 0) {
        s1 = dgampi_send_rows(MPI_COMM_WORLD, &a, next, 0, 0);
        s2 = dgampi_recv_rows_into(MPI_COMM_WORLD, &b, prev, 0, 0);
    } else {
        s2 = dgampi_recv_rows_into(MPI_COMM_WORLD, &b, prev, 0, 0);
        s1 = dgampi_send_rows(MPI_COMM_WORLD, &a, next, 0, 0);
    }
    if (s1 != DGAMPI_STATUS_OK || s2 != DGAMPI_STATUS_OK) {
        char msg[256];
        dgampi_last_error_message(msg, sizeof msg, NULL);
        fprintf(stderr, "rank %d: exchange failed (%d, %d): %s\n", rank, s1, s2, msg);
        failed = 1;
    }
    for (int i = 0; i < 12; i++)
        if (got[i] != prev * 100.0 + i) {
            fprintf(stderr, "rank %d: got[%d] = %g, expected %g\n", rank, i, got[i], prev * 100.0 + i);
            failed = 1;
            break;
        }
    if (rank == 0 && !failed) printf("consumer: dgampi %s OK on %d rank(s)\n", version, size);
    MPI_Finalize();
    return failed;
}
