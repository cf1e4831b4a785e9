# Build step of the dgampi CMake project (script mode, run by the dgampi_cargo
# target on every build; cargo decides what is out of date):
#
#   cmake -DCARGO=... -DSOURCE_DIR=... -DTARGET_DIR=... -DOUT_DIR=... [-DCARGO_ARGS=a|b] [-DMPICC=...]
#         -P cargo_build.cmake
#
# 1. runs `cargo build --release --lib` (CARGO_TARGET_DIR=TARGET_DIR),
# 2. collects the native libraries the static library needs from cargo's
#    build-script messages (what `--print native-static-libs` reports, without
#    rebuilding the crate), and writes
#      OUT_DIR/dgampiNativeDeps.cmake  (installed next to dgampiConfig.cmake)
#      OUT_DIR/dgampi.pc               (from OUT_DIR/dgampi.pc.tmpl)
foreach(v CARGO SOURCE_DIR TARGET_DIR OUT_DIR SONAME)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "cargo_build.cmake: ${v} is required")
  endif()
endforeach()
set(_args)
if(DEFINED CARGO_ARGS AND NOT CARGO_ARGS STREQUAL "")
  string(REPLACE "|" ";" _args "${CARGO_ARGS}")
endif()

set(ENV{CARGO_TARGET_DIR} "${TARGET_DIR}")
# The MPI wrapper the crate is built with (rsmpi and build.rs read $MPICC).
if(DEFINED MPICC AND NOT MPICC STREQUAL "")
  set(ENV{MPICC} "${MPICC}")
endif()
set(_messages "${OUT_DIR}/cargo-messages.json")
execute_process(
  COMMAND "${CARGO}" build --release --lib --message-format=json-render-diagnostics ${_args}
  WORKING_DIRECTORY "${SOURCE_DIR}"
  OUTPUT_FILE "${_messages}"
  RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "cargo build failed (${_rc})")
endif()

# The library must carry the soname this configuration installs it under (both
# come from the crate version; a mismatch means Cargo.toml's version changed
# since cmake ran: re-run cmake).
find_program(_readelf NAMES readelf objdump)
if(_readelf)
  if(_readelf MATCHES "objdump$")
    execute_process(COMMAND "${_readelf}" -p "${TARGET_DIR}/release/libdgampi.so" OUTPUT_VARIABLE _dyn ERROR_QUIET)
  else()
    execute_process(COMMAND "${_readelf}" -d "${TARGET_DIR}/release/libdgampi.so" OUTPUT_VARIABLE _dyn ERROR_QUIET)
  endif()
  if(NOT _dyn MATCHES "SONAME[^\n]*${SONAME}")
    message(FATAL_ERROR "${TARGET_DIR}/release/libdgampi.so does not have the soname ${SONAME} this build was configured "
                        "with (the crate version changed since cmake ran?): re-run cmake")
  endif()
endif()

# Libraries every Rust staticlib needs on Linux (std), as printed by
#   cargo rustc --release --lib --crate-type staticlib -- --print native-static-libs
set(_libs)
set(_dirs)
file(STRINGS "${_messages}" _lines REGEX "\"reason\":\"build-script-executed\"")
foreach(_line IN LISTS _lines)
  if(_line MATCHES "\"linked_libs\":\\[([^]]*)\\]")
    string(REGEX MATCHALL "\"[^\"]+\"" _entries "${CMAKE_MATCH_1}")
    foreach(_e IN LISTS _entries)
      string(REPLACE "\"" "" _e "${_e}")
      # KIND[:MODIFIERS]=NAME[:RENAME] or NAME; static libraries are bundled
      # into libdgampi.a unless built with -bundle.
      set(_kind "dylib")
      if(_e MATCHES "^([^=]+)=(.*)$")
        set(_kind "${CMAKE_MATCH_1}")
        set(_e "${CMAKE_MATCH_2}")
      endif()
      string(REGEX REPLACE ":.*$" "" _e "${_e}")
      if(_kind MATCHES "^static" AND NOT _kind MATCHES "-bundle")
        continue()
      endif()
      list(APPEND _libs "${_e}")
    endforeach()
  endif()
  if(_line MATCHES "\"linked_paths\":\\[([^]]*)\\]")
    string(REGEX MATCHALL "\"[^\"]+\"" _entries "${CMAKE_MATCH_1}")
    foreach(_e IN LISTS _entries)
      string(REPLACE "\"" "" _e "${_e}")
      if(_e MATCHES "^(native|all)=(.*)$")
        set(_e "${CMAKE_MATCH_2}")
      elseif(_e MATCHES "^[a-z]+=")
        continue()
      endif()
      # build-script OUT_DIRs only hold bundled static libraries
      string(FIND "${_e}" "${TARGET_DIR}/" _in_target)
      if(NOT _in_target EQUAL 0)
        list(APPEND _dirs "${_e}")
      endif()
    endforeach()
  endif()
endforeach()
# fftw-sys links FFTW through #[link] attributes, which build scripts do not report.
list(APPEND _libs fftw3_threads fftw3f_threads fftw3 fftw3f gcc_s util rt pthread m dl c)
list(REMOVE_DUPLICATES _libs)
list(REMOVE_DUPLICATES _dirs)

set(_deps "${OUT_DIR}/dgampiNativeDeps.cmake")
set(_text "# Native link dependencies of libdgampi.a (generated from cargo's build-script\n# messages by cargo_build.cmake).\nset(dgampi_NATIVE_LIBS \"${_libs}\")\nset(dgampi_NATIVE_LIBRARY_DIRS \"${_dirs}\")\n")
set(_old "")
if(EXISTS "${_deps}")
  file(READ "${_deps}" _old)
endif()
if(NOT _old STREQUAL _text)
  file(WRITE "${_deps}" "${_text}")
endif()

set(DGAMPI_PC_LIBS_PRIVATE "")
foreach(_d IN LISTS _dirs)
  string(APPEND DGAMPI_PC_LIBS_PRIVATE "-L${_d} ")
endforeach()
foreach(_l IN LISTS _libs)
  string(APPEND DGAMPI_PC_LIBS_PRIVATE "-l${_l} ")
endforeach()
string(STRIP "${DGAMPI_PC_LIBS_PRIVATE}" DGAMPI_PC_LIBS_PRIVATE)
configure_file("${OUT_DIR}/dgampi.pc.tmpl" "${OUT_DIR}/dgampi.pc" @ONLY)
