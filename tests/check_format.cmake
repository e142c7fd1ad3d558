# Fails if any C/C++ source in the tree differs from what clang-format would write.
file(GLOB_RECURSE files
  ${SOURCE_DIR}/include/*.h ${SOURCE_DIR}/src/*.c ${SOURCE_DIR}/src/*.h
  ${SOURCE_DIR}/tests/*.c ${SOURCE_DIR}/tests/*.h ${SOURCE_DIR}/examples/*.c
  ${SOURCE_DIR}/examples/*.h ${SOURCE_DIR}/examples/*.cpp ${SOURCE_DIR}/tools/*.c
  ${SOURCE_DIR}/tools/*.h ${SOURCE_DIR}/bench/*.c ${SOURCE_DIR}/bench/*.h ${SOURCE_DIR}/mpi/*.c
  ${SOURCE_DIR}/mpi/*.h)
set(bad "")
foreach(f ${files})
  execute_process(COMMAND ${CLANG_FORMAT} --dry-run --Werror ${f}
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  if(NOT rc EQUAL 0)
    list(APPEND bad ${f})
  endif()
endforeach()
if(bad)
  string(REPLACE ";" "\n  " list "${bad}")
  message(FATAL_ERROR "not clang-formatted (run tools/format.sh):\n  ${list}")
endif()
