# cmake -DCOMMAND="mpiexec;...;errors;abort" -DEXPECT=<regex> -P abort_check.cmake
# Runs COMMAND, which must FAIL (nonzero exit) with output matching EXPECT
# and without the line NOT ABORTED: an error without `ierr` must abort.
execute_process(COMMAND ${COMMAND} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
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
