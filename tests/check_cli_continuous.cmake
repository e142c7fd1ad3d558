# The dr3 command with continuous actions (issue #13) as a user meets it: usage errors exit 2
# with one line; collect (online SAC) writes D4RL-layout datasets of each level; train with
# every algorithm on them writes the metrics CSV and a checkpoint, resumes from it, and eval
# runs the checkpoint's policy. Sizes are tiny: this checks the plumbing, not the learning.
function(run expect_rc)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL expect_rc)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "'${cmd}' exited ${rc}, expected ${expect_rc}\n${out}\n${err}")
  endif()
  set(OUT "${out}" PARENT_SCOPE)
  set(ERR "${err}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
set(SMALL --batch 16 --width 16)

# usage errors: one line, exit 2
run(2 ${DR3} collect --env pendulum --algo td3 --steps 100 --out ${WORK}/x)
run(2 ${DR3} collect --env pendulum --steps 100 --level bogus --out ${WORK}/x)
run(2 ${DR3} collect --env pendulum --steps 10 --out ${WORK}/x) # not more than the start
string(REGEX MATCHALL "\n" lines "${ERR}")
list(LENGTH lines nl)
if(NOT nl EQUAL 1)
  message(FATAL_ERROR "a usage error should print one line, got:\n${ERR}")
endif()
run(2 ${DR3} train --data ${WORK}/x --algo ddpg)
run(2 ${DR3} train --data ${WORK}/x --algo cql --eval-every 5)
run(0 ${DR3} collect --env pendulum --help)
if(NOT OUT MATCHES "usage: dr3 collect --env E \\(--algo sac --steps N \\| --agent controller")
  message(FATAL_ERROR "dr3 collect --env pendulum --help printed no continuous usage:\n${OUT}")
endif()
if(EXISTS ${WORK}/x)
  message(FATAL_ERROR "a refused command created its output")
endif()

run(0 ${DR3} info)
if(OUT MATCHES "HDF5 datasets \\(D4RL/Minari\\): yes")
  set(EXT .hdf5)
else()
  set(EXT "")
endif()

# collect: all three levels of one SAC run (D4RL HDF5 when available, else .npy dirs)
run(0 ${DR3} collect --env pendulum --algo sac --steps 300 --start-steps 100 --eval-every 100
    --transitions 250 --level medium,replay,expert --out ${WORK}/pend ${SMALL} --seed 1)
foreach(level medium replay expert)
  if(NOT EXISTS ${WORK}/pend/${level}${EXT})
    message(FATAL_ERROR "dr3 collect did not write ${level}${EXT}:\n${OUT}")
  endif()
endforeach()
foreach(pat "uniform random actions: mean return -[0-9.]+" "wrote replay: 300 transitions"
            "wrote expert: 250 transitions" "wrote medium: 250 transitions of the policy at step")
  if(NOT OUT MATCHES "${pat}")
    message(FATAL_ERROR "dr3 collect output lacks '${pat}':\n${OUT}")
  endif()
endforeach()
file(GLOB left ${WORK}/pend/*.tmp-*)
if(left)
  message(FATAL_ERROR "temporary files left: ${left}")
endif()
# a single level as a .npy directory
run(0 ${DR3} collect --env pointmaze --algo sac --steps 150 --start-steps 100 --level replay
    --out ${WORK}/maze ${SMALL})
foreach(f observations actions rewards terminals timeouts next_observations)
  if(NOT EXISTS ${WORK}/maze/${f}.npy)
    message(FATAL_ERROR "dr3 collect --out DIR did not write ${f}.npy")
  endif()
endforeach()

# train: CQL + DR3 with metrics, checkpoint every 10 steps, then resume to 30
set(DATA ${WORK}/pend/replay${EXT})
run(0 ${DR3} train --data ${DATA} --algo cql --dr3 0.1 --steps 20 --save-every 10
    --checkpoint ${WORK}/cql.ck --metrics ${WORK}/cql.csv --env pendulum --eval-every 10
    --eval-episodes 2 --eval-csv ${WORK}/eval.csv ${SMALL})
if(NOT OUT MATCHES "dataset .*: [0-9]+ transitions, 3 observations, 1 actions in \\[-2, 2\\]; cql \\+ DR3")
  message(FATAL_ERROR "train did not describe the dataset:\n${OUT}")
endif()
if(NOT OUT MATCHES "eval at step 20: policy return -?[0-9.]+ over 2 episodes, mean Q\\(s,a\\) -?[0-9.]+ vs the data's discounted return -?[0-9.]+ \\(300 rows\\)")
  message(FATAL_ERROR "train did not evaluate:\n${OUT}")
endif()
run(0 ${DR3} train --data ${DATA} --algo cql --dr3 0.1 --steps 30 --checkpoint ${WORK}/cql.ck
    --metrics ${WORK}/cql.csv ${SMALL})
if(NOT OUT MATCHES "resumed from .*cql.ck at step 20" OR NOT OUT MATCHES "done: 30 steps")
  message(FATAL_ERROR "train did not resume:\n${OUT}")
endif()
file(STRINGS ${WORK}/cql.csv csv)
list(GET csv 0 header)
if(NOT header STREQUAL "step,critic_loss,td_loss,actor_loss,alpha,entropy,mean_q,mean_target,feature_dot,feature_cos,feature_norm,dr3_loss,cql_term,cql_alpha,grad_norm")
  message(FATAL_ERROR "unexpected CSV header: ${header}")
endif()
list(LENGTH csv rows)
if(NOT rows EQUAL 31)
  message(FATAL_ERROR "cql.csv has ${rows} lines, expected 31 (header + 30 steps)")
endif()
foreach(row ${csv})
  if(row MATCHES "nan|inf")
    message(FATAL_ERROR "non-finite value in cql.csv: ${row}")
  endif()
endforeach()
file(STRINGS ${WORK}/eval.csv ev)
list(LENGTH ev rows)
if(NOT rows EQUAL 3)
  message(FATAL_ERROR "eval.csv has ${rows} lines, expected 3:\n${ev}")
endif()
run(0 ${DR3} eval --env pendulum --checkpoint ${WORK}/cql.ck --episodes 2)
if(NOT OUT MATCHES "pendulum: mean return -?[0-9.]+ over 2 deterministic episodes \\(cql checkpoint at step 30\\)")
  message(FATAL_ERROR "eval output:\n${OUT}")
endif()
# a checkpoint for another environment is refused
run(1 ${DR3} eval --env pointmaze --checkpoint ${WORK}/cql.ck --episodes 1)

# the other algorithms, on the .npy directory (bounds from the data)
foreach(algo sac td3bc sarsa)
  run(0 ${DR3} train --data ${WORK}/maze --algo ${algo} --steps 6 --checkpoint ${WORK}/${algo}.ck ${SMALL})
  if(NOT OUT MATCHES "done: 6 steps")
    message(FATAL_ERROR "train --algo ${algo}:\n${OUT}")
  endif()
endforeach()
run(0 ${DR3} eval --env pointmaze --checkpoint ${WORK}/td3bc.ck --episodes 1)
run(1 ${DR3} eval --env pointmaze --checkpoint ${WORK}/sarsa.ck --episodes 1)
if(NOT ERR MATCHES "SARSA checkpoint has critics only")
  message(FATAL_ERROR "a SARSA checkpoint should be refused by eval:\n${ERR}")
endif()
# a checkpoint of another algorithm does not resume silently
run(1 ${DR3} train --data ${WORK}/maze --algo sac --steps 8 --checkpoint ${WORK}/td3bc.ck ${SMALL})
# continuous data without --algo goes to the actor-critic learner
run(0 ${DR3} train --data ${WORK}/maze --steps 4 ${SMALL})
if(NOT ERR MATCHES "continuous actions: training the actor-critic learner" OR
   NOT OUT MATCHES "done: 4 steps")
  message(FATAL_ERROR "continuous data without --algo:\n${OUT}\n${ERR}")
endif()
# a Minari dataset directory (tests/data/minari, written with h5py by
# tests/reference/gen_minari_fixture.py): train CQL on it, then evaluate the checkpoint
if(EXT STREQUAL ".hdf5")
  set(MINARI ${CMAKE_CURRENT_LIST_DIR}/data/minari/pointmaze-tiny-v0)
  run(0 ${DR3} train --data ${MINARI} --algo cql --steps 12 --checkpoint ${WORK}/minari.ck
      --env pointmaze --eval-every 12 --eval-episodes 1 ${SMALL})
  if(NOT OUT MATCHES "dataset .*: 64 transitions, 4 observations, 2 actions" OR
     NOT OUT MATCHES "done: 12 steps")
    message(FATAL_ERROR "train on the Minari directory:\n${OUT}")
  endif()
  run(0 ${DR3} eval --env pointmaze --checkpoint ${WORK}/minari.ck --episodes 1)
  if(NOT OUT MATCHES "pointmaze: mean return -?[0-9.]+ over 1 deterministic episodes \\(cql checkpoint at step 12\\)")
    message(FATAL_ERROR "eval of the Minari-trained checkpoint:\n${OUT}")
  endif()
endif()

# the waypoint controller's datasets (D4RL maze2d's recipe): every level, the returns said
run(0 ${DR3} collect --env pointmaze --agent controller --transitions 600 --eval-episodes 2
    --level medium,replay,expert --out ${WORK}/ctl)
foreach(pat "controller without noise: mean return [0-9.]+" "wrote medium: 600 transitions"
            "wrote replay: 600 transitions \\(thirds: uniform random" "wrote expert: 600 transitions")
  if(NOT OUT MATCHES "${pat}")
    message(FATAL_ERROR "dr3 collect --agent controller output lacks '${pat}':\n${OUT}")
  endif()
endforeach()
foreach(level medium replay expert)
  if(NOT EXISTS ${WORK}/ctl/${level}${EXT})
    message(FATAL_ERROR "dr3 collect --agent controller did not write ${level}${EXT}")
  endif()
endforeach()
run(2 ${DR3} collect --env pointmaze --agent robot --transitions 600 --out ${WORK}/ctl2)
run(2 ${DR3} collect --env pointmaze --agent controller --random-prob 2 --transitions 600
    --out ${WORK}/ctl2)
file(REMOVE_RECURSE ${WORK})
