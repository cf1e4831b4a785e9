/* The measurement behind yield_when_idle.c (not part of the test suites):
 * 2000 rounds of a one-byte ring exchange and a one-byte allreduce.
 *
 *   mpicc.mpich -O2 ring.c -o ring
 *   mpiexec.mpich -n 4 ./ring                                   # busy-polling ranks
 *   LD_PRELOAD=$PWD/libdgampi_yield_when_idle.so mpiexec.mpich -n 4 ./ring
 *
 * (the library as scripts/mpi_env builds it: target/mpich/yield_when_idle/).
 * On a 2-core machine: 42.7 s without, 0.32 s with. */
#include <mpi.h>
#include <stdio.h>

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int r, n;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    double t = MPI_Wtime();
    char b = 0, c;
    for (int i = 0; i < 2000; i++) {
        MPI_Sendrecv(&b, 1, MPI_CHAR, (r + 1) % n, 0, &c, 1, MPI_CHAR, (r + n - 1) % n, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Allreduce(&b, &c, 1, MPI_CHAR, MPI_MAX, MPI_COMM_WORLD);
    }
    if (r == 0) printf("%d ranks: %.3f s\n", n, MPI_Wtime() - t);
    MPI_Finalize();
    return 0;
}
