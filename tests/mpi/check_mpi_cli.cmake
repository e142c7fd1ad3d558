# dr3 train --mpi under mpirun -np 2: collect a gridworld dataset, train data-parallel with a
# checkpoint and metrics (rank 0 prints once and writes both), then resume from the
# checkpoint on 2 ranks again.
function(run expect_rc)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL expect_rc)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "'${cmd}' exited ${rc}, expected ${expect_rc}\n${out}\n${err}")
  endif()
  set(OUT "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
run(0 ${DR3} collect --env gridworld --transitions 2000 --epsilon 0.3 --out ${WORK}/grid)
set(train ${DR3} train --data ${WORK}/grid --backup sarsa --dr3 0.1 --width 32 --batch 32
    --checkpoint ${WORK}/g.ckpt --metrics ${WORK}/g.csv --mpi)
run(0 ${MPIRUN} -np 2 ${train} --steps 100)
string(REGEX MATCHALL "done: 100 steps" done "${OUT}")
list(LENGTH done n)
if(NOT n EQUAL 1 OR NOT OUT MATCHES "data-parallel: 2 ranks x 32 rows per step")
  message(FATAL_ERROR "expected one report from rank 0 of 2 ranks:\n${OUT}")
endif()
if(NOT EXISTS ${WORK}/g.ckpt)
  message(FATAL_ERROR "no checkpoint written")
endif()
run(0 ${MPIRUN} -np 2 ${train} --steps 150)
if(NOT OUT MATCHES "resumed from .* at step 100" OR NOT OUT MATCHES "done: 150 steps")
  message(FATAL_ERROR "the second data-parallel train did not resume:\n${OUT}")
endif()
file(STRINGS ${WORK}/g.csv lines)
list(LENGTH lines nlines)
if(NOT nlines EQUAL 151)
  message(FATAL_ERROR "g.csv has ${nlines} lines, expected 151 (header + 150 steps, rank 0)")
endif()
message(STATUS "dr3 train --mpi: 2 ranks, checkpoint, resume, metrics from rank 0")

# --shard: each rank samples its own part of the dataset; refused without --mpi
run(0 ${MPIRUN} -np 2 ${DR3} train --data ${WORK}/grid --backup sarsa --width 32 --batch 32
    --steps 50 --mpi --shard)
if(NOT OUT MATCHES "each rank on its own shard of the data" OR NOT OUT MATCHES "done: 50 steps")
  message(FATAL_ERROR "dr3 train --mpi --shard did not train on shards:\n${OUT}")
endif()
run(2 ${DR3} train --data ${WORK}/grid --steps 5 --shard)
message(STATUS "dr3 train --mpi --shard: 2 ranks on disjoint shards")

# continuous actions: the actor-critic learner data-parallel (CQL + DR3), with --shard,
# checkpoint by rank 0 and resume on 2 ranks
run(0 ${DR3} collect --env pendulum --algo sac --steps 300 --start-steps 100 --eval-every 100
    --transitions 250 --level replay --format npy --out ${WORK}/pend --width 32 --batch 32
    --seed 1)
set(ctrain ${DR3} train --data ${WORK}/pend --algo cql --dr3 0.1 --width 32 --batch 32
    --cql-actions 4 --checkpoint ${WORK}/c.ckpt --metrics ${WORK}/c.csv --mpi --shard)
run(0 ${MPIRUN} -np 2 ${ctrain} --steps 40)
string(REGEX MATCHALL "done: 40 steps" done "${OUT}")
list(LENGTH done n)
if(NOT n EQUAL 1 OR NOT OUT MATCHES "data-parallel: 2 ranks x 32 rows per step, each rank on")
  message(FATAL_ERROR "expected one report from rank 0 of 2 ranks on shards:\n${OUT}")
endif()
run(0 ${MPIRUN} -np 2 ${ctrain} --steps 60)
if(NOT OUT MATCHES "resumed from .* at step 40" OR NOT OUT MATCHES "done: 60 steps")
  message(FATAL_ERROR "the continuous data-parallel train did not resume:\n${OUT}")
endif()
file(STRINGS ${WORK}/c.csv lines)
list(LENGTH lines nlines)
if(NOT nlines EQUAL 61)
  message(FATAL_ERROR "c.csv has ${nlines} lines, expected 61 (header + 60 steps, rank 0)")
endif()
message(STATUS "dr3 train --algo cql --mpi --shard: 2 ranks, checkpoint, resume")
