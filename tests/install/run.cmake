# Installs the already-built parlab into a temporary prefix, then builds and runs a consumer
# project against it twice: once through find_package(parlab), once through pkg-config.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGV}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} --component Unspecified)
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install/consumer -B ${WORK_DIR}/cmake-build
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/cmake-build)
run(${WORK_DIR}/cmake-build/consumer)
if(NOT last_output MATCHES "squares: 0 1 4 9 16\ncubes: 0 1 8 27 64\ngathered: 2 4 6\nurl: http://example.test/v1\\?by_state=new%20york")
  message(FATAL_ERROR "find_package consumer printed the wrong result:\n${last_output}")
endif()

# pkg-config: compile the same program with the flags parlab.pc gives.
file(GLOB_RECURSE pc_file ${prefix}/parlab.pc)
if(NOT pc_file)
  message(FATAL_ERROR "the install has no parlab.pc")
endif()
get_filename_component(pc_dir "${pc_file}" DIRECTORY)
set(ENV{PKG_CONFIG_PATH} ${pc_dir})
execute_process(COMMAND pkg-config --cflags --libs parlab OUTPUT_VARIABLE pc_flags RESULT_VARIABLE rc
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config does not know parlab")
endif()
separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
execute_process(COMMAND pkg-config --variable=libdir parlab OUTPUT_VARIABLE pc_libdir
                OUTPUT_STRIP_TRAILING_WHITESPACE)
run(c++ ${SOURCE_DIR}/tests/install/consumer/main.cpp ${pc_flags} -Wl,-rpath,${pc_libdir}
    -o ${WORK_DIR}/consumer-pc)
run(${WORK_DIR}/consumer-pc)
if(NOT last_output MATCHES "squares: 0 1 4 9 16\ncubes: 0 1 8 27 64\ngathered: 2 4 6\nurl: http://example.test/v1\\?by_state=new%20york")
  message(FATAL_ERROR "pkg-config consumer printed the wrong result:\n${last_output}")
endif()
# MpiPool through find_package (parlab::mpi) and pkg-config (parlab-mpi), run under mpirun.
if(MPIRUN)
  string(REPLACE "|" ";" mpirun "${MPIRUN}")
  if(NOT EXISTS ${WORK_DIR}/cmake-build/mpi_consumer)
    message(FATAL_ERROR "this parlab was built with MPI, but find_package(parlab) gave no parlab::mpi")
  endif()
  run(${mpirun} -np 2 ${WORK_DIR}/cmake-build/mpi_consumer)
  if(NOT last_output MATCHES "tripled: 3 6 9")
    message(FATAL_ERROR "find_package MpiPool consumer printed the wrong result:\n${last_output}")
  endif()
  execute_process(COMMAND pkg-config --cflags --libs parlab-mpi OUTPUT_VARIABLE pc_mpi_flags RESULT_VARIABLE rc
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config does not know parlab-mpi")
  endif()
  separate_arguments(pc_mpi_flags UNIX_COMMAND "${pc_mpi_flags}")
  run(c++ ${SOURCE_DIR}/tests/install/consumer/mpi_main.cpp ${pc_mpi_flags} -Wl,-rpath,${pc_libdir}
      -o ${WORK_DIR}/mpi-consumer-pc)
  run(${mpirun} -np 2 ${WORK_DIR}/mpi-consumer-pc)
  if(NOT last_output MATCHES "tripled: 3 6 9")
    message(FATAL_ERROR "pkg-config MpiPool consumer printed the wrong result:\n${last_output}")
  endif()
endif()
message(STATUS "install consumer: find_package and pkg-config builds both ran")
