# Installs the build into STAGE and builds the examples as an outside program would:
# (1) CMake find_package(dr3 CONFIG) and (2) pkg-config dr3. Runs them and checks with ldd
# that they load libdr3.so from the staging prefix (shared, not static).
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "failed (${rc}): ${cmd}\n${out}\n${err}")
  endif()
  set(LAST_OUTPUT "${out}" PARENT_SCOPE)
endfunction()

function(check_uses_shared exe)
  run(ldd ${exe})
  if(NOT LAST_OUTPUT MATCHES "libdr3\\.so\\.[0-9]+ => ${STAGE}/")
    message(FATAL_ERROR "${exe} does not load libdr3.so from ${STAGE}:\n${LAST_OUTPUT}")
  endif()
endfunction()

file(REMOVE_RECURSE ${STAGE} ${STAGE}-cmake ${STAGE}-pc)
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${STAGE})

# (1) find_package
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples -B ${STAGE}-cmake -DCMAKE_PREFIX_PATH=${STAGE}
    -DCMAKE_C_COMPILER=${CMAKE_C_COMPILER} -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}
    -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${STAGE}-cmake)
file(GLOB exes ${STAGE}-cmake/custom_loop ${STAGE}-cmake/cpp_consumer)
list(LENGTH exes n)
if(n LESS 2)
  message(FATAL_ERROR "examples were not built: ${exes}")
endif()
foreach(exe ${exes})
  check_uses_shared(${exe})
  run(${exe} --quick)
  message(STATUS "find_package: ${exe} ran")
endforeach()

# (2) pkg-config, compiled by hand like a Makefile user would
find_program(PKG_CONFIG pkg-config REQUIRED)
file(GLOB_RECURSE pcfile ${STAGE}/*/dr3.pc)
get_filename_component(pcdir "${pcfile}" DIRECTORY)
set(ENV{PKG_CONFIG_PATH} ${pcdir})
run(${PKG_CONFIG} --cflags dr3)
string(STRIP "${LAST_OUTPUT}" cflags)
separate_arguments(cflags UNIX_COMMAND "${cflags}")
run(${PKG_CONFIG} --libs dr3)
string(STRIP "${LAST_OUTPUT}" libs)
separate_arguments(libs UNIX_COMMAND "${libs}")
run(${PKG_CONFIG} --variable=libdir dr3)
string(STRIP "${LAST_OUTPUT}" libdir)
file(MAKE_DIRECTORY ${STAGE}-pc)
run(${CMAKE_C_COMPILER} -std=c11 -O2 ${cflags} ${SOURCE_DIR}/examples/custom_loop.c
    -o ${STAGE}-pc/custom_loop ${libs} -lm -Wl,-rpath,${libdir})
run(${CMAKE_CXX_COMPILER} -std=c++11 -O2 ${cflags} ${SOURCE_DIR}/examples/cpp_consumer.cpp
    -o ${STAGE}-pc/cpp_consumer ${libs} -Wl,-rpath,${libdir})
foreach(exe ${STAGE}-pc/custom_loop ${STAGE}-pc/cpp_consumer)
  check_uses_shared(${exe})
  run(${exe} --quick)
  message(STATUS "pkg-config: ${exe} ran")
endforeach()
