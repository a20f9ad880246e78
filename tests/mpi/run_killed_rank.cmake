# Runs killed_rank (PROGRAM: "path|mode") under mpirun: a rank killed by SIGKILL must end the whole job with a failure,
# promptly (within TIMEOUT seconds), never hang.
string(REPLACE "|" ";" mpirun "${MPIRUN}")
string(REPLACE "|" ";" program "${PROGRAM}")
string(TIMESTAMP start "%s")
execute_process(COMMAND ${mpirun} ${program} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                TIMEOUT ${TIMEOUT})
string(TIMESTAMP stop "%s")
math(EXPR took "${stop} - ${start}")
if(rc MATCHES "timeout")
  message(FATAL_ERROR "the job still ran after ${TIMEOUT} s: a killed rank made it hang\n${out}\n${err}")
endif()
if(rc EQUAL 0)
  message(FATAL_ERROR "the job succeeded although a rank was killed\n${out}\n${err}")
endif()
if(NOT "${out}${err}" MATCHES "signal 9")
  message(FATAL_ERROR "the job failed, but mpirun did not report a rank killed by signal 9:\n${out}\n${err}")
endif()
message(STATUS "mpirun ended with status ${rc} after ${took} s:\n${err}")
