# cmake -DINSTALL_DIR=... -DWORK_DIR=... -DSOURCE_DIR=... [-DGENERATOR=...] -P relocate.cmake
# Copies the installed dgampi tree to WORK_DIR/prefix, then configures and
# builds SOURCE_DIR (relocated/CMakeLists.txt) against the copy only.
foreach(v INSTALL_DIR WORK_DIR SOURCE_DIR)
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
  message(FATAL_ERROR "configuring against the relocated package failed")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${WORK_DIR}/build" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building against the relocated package failed")
endif()
message(STATUS "relocated package: OK")
