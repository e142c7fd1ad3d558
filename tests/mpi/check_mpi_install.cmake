# The installed libdr3-mpi, used as an outside program would: tests/mpi/consumer.c built
# (1) with find_package(dr3 COMPONENTS mpi) -> dr3::mpi and (2) with pkg-config dr3-mpi,
# each run under mpirun -np 2 and checked (ldd) to load libdr3-mpi.so and libdr3.so from
# the staging prefix.
cmake_policy(VERSION 3.25)
include(${SOURCE_DIR}/tests/cmake_run.cmake)

function(check_loads exe)
  run(ldd ${exe})
  foreach(lib libdr3-mpi libdr3)
    if(NOT LAST_OUTPUT MATCHES "${lib}\\.so\\.[0-9]+ => ${STAGE}/")
      message(FATAL_ERROR "${exe} does not load ${lib}.so from ${STAGE}:\n${LAST_OUTPUT}")
    endif()
  endforeach()
endfunction()

function(run_ranks exe)
  run(${MPIRUN} -np 2 ${exe})
  string(REGEX MATCHALL "consumer rank [01] of 2: identical" ok "${LAST_OUTPUT}")
  list(LENGTH ok n)
  if(NOT n EQUAL 2)
    message(FATAL_ERROR "${exe} under mpirun -np 2:\n${LAST_OUTPUT}")
  endif()
endfunction()

file(REMOVE_RECURSE ${STAGE} ${STAGE}-cmake ${STAGE}-pc)
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${STAGE})

# (1) find_package(dr3 COMPONENTS mpi)
file(WRITE ${STAGE}-cmake/src/CMakeLists.txt "cmake_minimum_required(VERSION 3.25)
project(mpi_consumer C)
find_package(dr3 CONFIG REQUIRED COMPONENTS mpi)
add_executable(consumer ${SOURCE_DIR}/tests/mpi/consumer.c)
target_link_libraries(consumer PRIVATE dr3::mpi)
")
run(${CMAKE_COMMAND} -S ${STAGE}-cmake/src -B ${STAGE}-cmake/build -DCMAKE_PREFIX_PATH=${STAGE}
    -DCMAKE_C_COMPILER=${CMAKE_C_COMPILER} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${STAGE}-cmake/build)
check_loads(${STAGE}-cmake/build/consumer)
run_ranks(${STAGE}-cmake/build/consumer)
message(STATUS "find_package(dr3 COMPONENTS mpi): consumer ran on 2 ranks")

# a component that does not exist is refused
file(WRITE ${STAGE}-cmake/bad/CMakeLists.txt "cmake_minimum_required(VERSION 3.25)
project(bad_consumer C)
find_package(dr3 CONFIG REQUIRED COMPONENTS nosuch)
")
execute_process(COMMAND ${CMAKE_COMMAND} -S ${STAGE}-cmake/bad -B ${STAGE}-cmake/bad/build
                        -DCMAKE_PREFIX_PATH=${STAGE} -DCMAKE_C_COMPILER=${CMAKE_C_COMPILER}
                RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
if(rc EQUAL 0)
  message(FATAL_ERROR "find_package(dr3 COMPONENTS nosuch) succeeded")
endif()

# (2) pkg-config dr3-mpi, compiled by hand
find_program(PKG_CONFIG pkg-config REQUIRED)
file(GLOB_RECURSE pcfile ${STAGE}/*/dr3-mpi.pc)
if(NOT pcfile)
  message(FATAL_ERROR "dr3-mpi.pc is not installed")
endif()
get_filename_component(pcdir "${pcfile}" DIRECTORY)
set(ENV{PKG_CONFIG_PATH} ${pcdir})
run(${PKG_CONFIG} --cflags dr3-mpi)
string(STRIP "${LAST_OUTPUT}" cflags)
separate_arguments(cflags UNIX_COMMAND "${cflags}")
run(${PKG_CONFIG} --libs dr3-mpi)
string(STRIP "${LAST_OUTPUT}" libs)
separate_arguments(libs UNIX_COMMAND "${libs}")
run(${PKG_CONFIG} --variable=libdir dr3-mpi)
string(STRIP "${LAST_OUTPUT}" libdir)
file(MAKE_DIRECTORY ${STAGE}-pc)
run(${CMAKE_C_COMPILER} -std=c11 -O2 ${cflags} ${SOURCE_DIR}/tests/mpi/consumer.c
    -o ${STAGE}-pc/consumer ${libs} -Wl,-rpath,${libdir})
check_loads(${STAGE}-pc/consumer)
run_ranks(${STAGE}-pc/consumer)
message(STATUS "pkg-config dr3-mpi: consumer ran on 2 ranks")
