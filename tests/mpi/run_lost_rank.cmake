# Runs lost_rank (PROGRAM: "path|mode") under mpirun with recovery (MPIRUN: "|"-separated), in a
# fresh WORKDIR it is given as its folder: the job must end within TIMEOUT seconds, print its
# PASS line, and rank 0 must say at exit which rank it lost.
string(REPLACE "|" ";" mpirun "${MPIRUN}")
string(REPLACE "|" ";" program "${PROGRAM}")
file(REMOVE_RECURSE "${WORKDIR}")
file(MAKE_DIRECTORY "${WORKDIR}")
execute_process(COMMAND ${mpirun} ${program} "${WORKDIR}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                TIMEOUT ${TIMEOUT})
if(rc MATCHES "timeout")
  message(FATAL_ERROR "the job still ran after ${TIMEOUT} s\n${out}\n${err}")
endif()
if(NOT out MATCHES "lost_rank [a-z-]+: PASS" OR out MATCHES "FAIL")
  message(FATAL_ERROR "the job did not pass (mpirun status ${rc}):\n${out}\n${err}")
endif()
if(NOT err MATCHES "parlab: MpiPool: rank [0-9]+ \\(pid [0-9]+\\) was lost")
  message(FATAL_ERROR "rank 0 did not report the lost rank on its stderr:\n${out}\n${err}")
endif()
if(err MATCHES "without --enable-recovery")
  message(FATAL_ERROR "MpiPool warned of no recovery in a job started with it:\n${err}")
endif()
message(STATUS "${out}\n${err}")
