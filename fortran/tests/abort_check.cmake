# cmake -DCOMMAND="mpiexec;...;errors;abort" -DEXPECT=<regex> -P abort_check.cmake
# Runs COMMAND, which must FAIL (nonzero exit) with output matching EXPECT
# and without the line NOT ABORTED: an error without `ierr` must abort.
#
# MPICH's hydra sometimes loses every rank's output when a rank calls
# MPI_Abort while other jobs load the machine (about one run in four with
# other tests beside it): a run that failed with no output at all is the
# launcher's, not the program's, and is tried again (three runs at most).
foreach(attempt 1 2 3)
  execute_process(COMMAND ${COMMAND} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
  string(STRIP "${out}${err}" _all)
  if(NOT rc EQUAL 0 AND _all STREQUAL "")
    message("attempt ${attempt}: exit ${rc} with no output (the launcher lost it); trying again")
  else()
    break()
  endif()
endforeach()
message("${out}${err}")
if(rc EQUAL 0)
  message(FATAL_ERROR "the command exited with 0; an error without ierr must abort")
endif()
if("${out}${err}" MATCHES "NOT ABORTED")
  message(FATAL_ERROR "the program went on after the error")
endif()
if(NOT "${out}${err}" MATCHES "${EXPECT}")
  message(FATAL_ERROR "the output does not match '${EXPECT}'")
endif()
message(STATUS "aborted as expected (exit ${rc})")
