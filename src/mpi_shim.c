/* Constants of the MPI library dgampi is built against, read from its own
 * mpi.h (mpi-sys does not export them): compiled by build.rs with $MPICC. */
#include <mpi.h>

void *rsdgampi_mpi_in_place(void) { return MPI_IN_PLACE; }
