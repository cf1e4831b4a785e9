# cmake -DINSTALL_DIR=... -DWORK_DIR=... -DSOURCE_DIR=... [-DGENERATOR=...] -DRUN="mpiexec;-n;2" -P relocate.cmake
# Copies the installed dgampi tree to WORK_DIR/prefix, builds the Fortran
# consumer in SOURCE_DIR against the copy only, and runs it with RUN.
foreach(v INSTALL_DIR WORK_DIR SOURCE_DIR RUN)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "${v} is required")
  endif()
endforeach()
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
file(COPY "${INSTALL_DIR}/" DESTINATION "${WORK_DIR}/prefix")
set(_gen)
if(DEFINED GENERATOR AND NOT GENERATOR STREQUAL "")
  set(_gen -G "${GENERATOR}")
endif()
execute_process(
  COMMAND "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${WORK_DIR}/build" ${_gen}
          "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix" "-DEXPECTED_PREFIX=${WORK_DIR}/prefix"
          -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the Fortran consumer against the relocated package failed")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${WORK_DIR}/build" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the Fortran consumer against the relocated package failed")
endif()
execute_process(COMMAND ${RUN} "${WORK_DIR}/build/consumer" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
message("${out}${err}")
if(NOT rc EQUAL 0 OR NOT out MATCHES "consumer: OK")
  message(FATAL_ERROR "the Fortran consumer failed (exit ${rc})")
endif()
message(STATUS "relocated Fortran package: OK")
