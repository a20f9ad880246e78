# Installs the already-built parlab into a temporary prefix, then builds and runs a consumer
# project against it twice: once through find_package(parlab), once through pkg-config. With the
# lab built, it then moves the prefix elsewhere and checks that the installed `parlab` finds the
# Open Brewery DB data it installed (share/parlab/breweries.csv) beside itself, nowhere else.
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

# One version everywhere: the installed headers' (parlab/version.hpp), the CMake package's and,
# below, the .pc file's and the parlab command's.
if(NOT last_output MATCHES "\nversion: ([0-9.]+)\n")
  message(FATAL_ERROR "the consumer printed no parlab::version:\n${last_output}")
endif()
set(header_version "${CMAKE_MATCH_1}")
file(GLOB_RECURSE config_version_file ${prefix}/parlabConfigVersion.cmake)
file(READ "${config_version_file}" config_version_text)
string(REGEX MATCH "PACKAGE_VERSION \"([0-9.]+)\"" _ "${config_version_text}")
if(NOT header_version STREQUAL CMAKE_MATCH_1)
  message(FATAL_ERROR "parlab::version ${header_version} but the CMake package says ${CMAKE_MATCH_1}")
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
execute_process(COMMAND pkg-config --modversion parlab OUTPUT_VARIABLE pc_version OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT pc_version STREQUAL header_version)
  message(FATAL_ERROR "parlab.pc says version '${pc_version}', the headers ${header_version}")
endif()
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

# The parlab command from a moved prefix: `parlab brewery --api embedded` must read the prefix's
# own share/parlab/breweries.csv, with no PARLAB_BREWERY_CSV, no breweries.csv in the current
# folder and empty user and system data folders (the build's copy, last in the search, would
# otherwise be found).
load_cache(${BUILD_DIR} READ_WITH_PREFIX built_ PARLAB_BUILD_LAB CMAKE_INSTALL_BINDIR CMAKE_INSTALL_DATADIR
           CMAKE_INSTALL_DATAROOTDIR)
if(NOT built_CMAKE_INSTALL_DATADIR)  # GNUInstallDirs: DATADIR defaults to DATAROOTDIR
  set(built_CMAKE_INSTALL_DATADIR "${built_CMAKE_INSTALL_DATAROOTDIR}")
endif()
if(built_PARLAB_BUILD_LAB AND NOT IS_ABSOLUTE "${built_CMAKE_INSTALL_BINDIR}"
   AND NOT IS_ABSOLUTE "${built_CMAKE_INSTALL_DATADIR}")
  foreach(file breweries.csv LICENSE SOURCE.txt)
    if(NOT EXISTS ${prefix}/${built_CMAKE_INSTALL_DATADIR}/parlab/${file})
      message(FATAL_ERROR "the install has no ${built_CMAKE_INSTALL_DATADIR}/parlab/${file}")
    endif()
  endforeach()
  file(SHA256 ${prefix}/${built_CMAKE_INSTALL_DATADIR}/parlab/breweries.csv installed_sha)
  file(SHA256 ${SOURCE_DIR}/data/openbrewerydb/breweries.csv project_sha)
  if(NOT installed_sha STREQUAL project_sha)
    message(FATAL_ERROR "the installed breweries.csv is not the project's data/openbrewerydb/breweries.csv")
  endif()
  set(moved ${WORK_DIR}/moved/prefix)
  file(MAKE_DIRECTORY ${WORK_DIR}/moved ${WORK_DIR}/empty/cwd ${WORK_DIR}/empty/home ${WORK_DIR}/empty/xdg
       ${WORK_DIR}/empty/dirs)
  file(RENAME ${prefix} ${moved})
  file(REAL_PATH ${moved} moved)  # as /proc/self/exe names it
  unset(ENV{PARLAB_BREWERY_CSV})
  set(ENV{HOME} ${WORK_DIR}/empty/home)
  set(ENV{XDG_DATA_HOME} ${WORK_DIR}/empty/xdg)
  set(ENV{XDG_DATA_DIRS} ${WORK_DIR}/empty/dirs)
  execute_process(COMMAND ${moved}/${built_CMAKE_INSTALL_BINDIR}/parlab brewery --api embedded
                          --states district_of_columbia --modes serial --out ${WORK_DIR}/empty/cwd
                  WORKING_DIRECTORY ${WORK_DIR}/empty/cwd
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "the moved prefix's parlab brewery --api embedded failed (${rc}):\n${out}\n${err}")
  endif()
  run(${moved}/${built_CMAKE_INSTALL_BINDIR}/parlab --version)
  if(NOT last_output STREQUAL "parlab ${header_version}\n")
    message(FATAL_ERROR "the installed parlab --version printed '${last_output}', the headers say ${header_version}")
  endif()
  set(expected_csv ${moved}/${built_CMAKE_INSTALL_DATADIR}/parlab/breweries.csv)
  string(FIND "${out}" "(11822 breweries from ${expected_csv};" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the moved prefix's parlab did not read ${expected_csv}:\n${out}")
  endif()
  if(NOT out MATCHES "\ndistrict_of_columbia +22")
    message(FATAL_ERROR "the moved prefix's parlab counted the wrong number of breweries:\n${out}")
  endif()
  message(STATUS "install consumer: the moved prefix's parlab read ${expected_csv}")
elseif(built_PARLAB_BUILD_LAB)
  message(STATUS "install consumer: an absolute CMAKE_INSTALL_BINDIR or DATADIR; the moved-prefix check is skipped")
endif()
message(STATUS "install consumer: find_package and pkg-config builds both ran")
