# dgampi_mpi_family(<out-var> <include-dir>...): the ABI family of the first
# mpi.h found in the include directories, from its macros: "Open MPI"
# (OPEN_MPI), "MPICH" (MPICH_VERSION or MPICH_NAME: MPICH and the MPIs built
# on its ABI, Intel MPI, MVAPICH, Cray MPICH), or "" for neither. Reads the
# header only (FindMPI's MPI_C_LIBRARY_VERSION_STRING needs a run of a test
# program and is empty unless MPI_DETERMINE_LIBRARY_VERSION is set). Used by
# dgampi's build and by its installed package configuration.
function(dgampi_mpi_family out)
  set(_family "")
  foreach(_dir IN LISTS ARGN)
    if(EXISTS "${_dir}/mpi.h")
      file(STRINGS "${_dir}/mpi.h" _defs REGEX "^#[ \t]*define[ \t]+(OPEN_MPI|MPICH_VERSION|MPICH_NAME)[ \t]")
      if(_defs MATCHES "OPEN_MPI")
        set(_family "Open MPI")
      elseif(_defs MATCHES "MPICH")
        set(_family "MPICH")
      endif()
      break()
    endif()
  endforeach()
  set(${out} "${_family}" PARENT_SCOPE)
endfunction()
