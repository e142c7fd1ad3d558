# A rank that dies makes the job end: runs `MPIRUN ... -np 2 PROGRAM die`, in which rank 1
# kills itself (SIGKILL) after the first step while rank 0 keeps stepping (it would wait in
# the next allreduce forever). Passes when mpirun returns non-zero within LIMIT seconds and
# rank 0 never finished on its own.
string(TIMESTAMP t0 "%s")
execute_process(COMMAND ${MPIRUN} -np 2 ${PROGRAM} die
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                TIMEOUT ${LIMIT})
string(TIMESTAMP t1 "%s")
math(EXPR secs "${t1} - ${t0}")
if(rc MATCHES "timeout|Process terminated due to timeout")
  message(FATAL_ERROR "mpirun still running after ${LIMIT} s: the job hung after a rank died")
endif()
if(rc EQUAL 0)
  message(FATAL_ERROR "mpirun returned 0 after a rank died:\n${out}\n${err}")
endif()
if(out MATCHES "finished stepping")
  message(FATAL_ERROR "a surviving rank finished on its own instead of being ended:\n${out}")
endif()
if(NOT err MATCHES "dying now")
  message(FATAL_ERROR "rank 1 never reached the point of dying:\n${out}\n${err}")
endif()
message(STATUS "rank 1 killed; mpirun returned '${rc}' after ${secs} s (limit ${LIMIT} s)")
