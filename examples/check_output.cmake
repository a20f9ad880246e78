# cmake -DPROGRAM=<exe> -DEXPECTED=<file> [-DACTUAL=<file>] [-DLAUNCHER=<a|b|c>] -P check_output.cmake
#
# Runs PROGRAM (through LAUNCHER, a "|"-separated command such as mpirun and its flags, if given)
# and compares its standard output with the file EXPECTED exactly. Fails when the
# program exits non-zero or when any byte differs, printing a unified diff (expected -> actual).

cmake_minimum_required(VERSION 3.25)

foreach(var PROGRAM EXPECTED)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_output.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT EXISTS "${EXPECTED}")
  message(FATAL_ERROR "check_output.cmake: expected output ${EXPECTED} does not exist")
endif()

string(REPLACE "|" ";" launcher "${LAUNCHER}")
execute_process(COMMAND ${launcher} "${PROGRAM}"
                RESULT_VARIABLE rc
                OUTPUT_VARIABLE actual
                ERROR_VARIABLE errors)
file(READ "${EXPECTED}" expected)

if(NOT rc STREQUAL "0")
  # NOTICE prints text as is; FATAL_ERROR would re-wrap it.
  message(NOTICE "--- stdout ---\n${actual}--- stderr ---\n${errors}")
  message(FATAL_ERROR "${PROGRAM} failed (exit status: ${rc})")
endif()

if(NOT actual STREQUAL expected)
  if(NOT DEFINED ACTUAL)
    get_filename_component(stem "${EXPECTED}" NAME_WE)
    set(ACTUAL "${CMAKE_CURRENT_BINARY_DIR}/${stem}.actual.txt")
  endif()
  file(WRITE "${ACTUAL}" "${actual}")
  find_program(DIFF diff)
  if(DIFF)
    execute_process(COMMAND "${DIFF}" -u --label expected --label actual "${EXPECTED}" "${ACTUAL}"
                    OUTPUT_VARIABLE difference)
  else()
    set(difference "--- expected ---\n${expected}--- actual ---\n${actual}")
  endif()
  message(NOTICE "${difference}--- stderr ---\n${errors}")
  message(FATAL_ERROR "${PROGRAM}: output differs from ${EXPECTED} (diff above; actual output saved "
                      "in ${ACTUAL})")
endif()

if(NOT errors STREQUAL "")
  message(NOTICE "stderr (not checked):\n${errors}")
endif()
