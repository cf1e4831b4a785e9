/* Constants of the MPI library dgampi is built against, read from its own
 * mpi.h (mpi-sys does not export them): compiled by build.rs with $MPICC. */
#include <mpi.h>

void *rsdgampi_mpi_in_place(void) { return MPI_IN_PLACE; }
void *rsdgampi_mpi_bottom(void) { return MPI_BOTTOM; }

#define RSDGAMPI_STR2(x) #x
#define RSDGAMPI_STR(x) RSDGAMPI_STR2(x)

/* The ABI family of this mpi.h: 1 Open MPI, 2 MPICH (MPICH and the MPIs
 * built on its ABI: Intel MPI, MVAPICH, Cray MPICH), 0 another. Read from
 * the header's macros only: callable before MPI_Init and whichever MPI the
 * process has loaded. */
int rsdgampi_mpi_family(void) {
#if defined(OPEN_MPI)
    return 1;
#elif defined(MPICH) || defined(MPICH_VERSION) || defined(MPICH_NAME)
    return 2;
#else
    return 0;
#endif
}

/* The implementation and version this mpi.h declares, e.g. "Open MPI 4.1.4"
 * or "MPICH 4.0.2" (static, NUL-terminated). */
const char *rsdgampi_mpi_header_version(void) {
#if defined(OPEN_MPI) && defined(OMPI_MAJOR_VERSION)
    return "Open MPI " RSDGAMPI_STR(OMPI_MAJOR_VERSION) "." RSDGAMPI_STR(OMPI_MINOR_VERSION) "." RSDGAMPI_STR(OMPI_RELEASE_VERSION);
#elif defined(I_MPI_VERSION)
    return "Intel MPI " I_MPI_VERSION;
#elif defined(MVAPICH2_VERSION)
    return "MVAPICH2 " MVAPICH2_VERSION;
#elif defined(MPICH_VERSION)
    return "MPICH " MPICH_VERSION;
#else
    return "MPI " RSDGAMPI_STR(MPI_VERSION) "." RSDGAMPI_STR(MPI_SUBVERSION);
#endif
}
