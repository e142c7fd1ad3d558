# Installs the build into STAGE and builds the examples as an outside program would:
# (1) CMake find_package(dr3 CONFIG) and (2) pkg-config dr3. Runs them and checks with ldd
# that they load libdr3.so from the staging prefix (shared, not static); (1b) a program
# linking dr3::dr3_static builds and runs without libdr3.so.
# (3) The C++ consumer is compiled as C++11, C++17 and C++20 with every C++ compiler at hand
# (the configured one, g++, clang++), warnings as errors: the public headers must be valid,
# warning-free C++ in each (no C++ keywords as names, extern "C" linkage).
cmake_policy(VERSION 3.25)
include(${CMAKE_CURRENT_LIST_DIR}/cmake_run.cmake)

function(check_uses_shared exe)
  run(ldd ${exe})
  if(NOT LAST_OUTPUT MATCHES "libdr3\\.so\\.[0-9]+ => ${STAGE}/")
    message(FATAL_ERROR "${exe} does not load libdr3.so from ${STAGE}:\n${LAST_OUTPUT}")
  endif()
endfunction()

file(REMOVE_RECURSE ${STAGE} ${STAGE}-cmake ${STAGE}-pc ${STAGE}-static)
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

# (1b) find_package, static: dr3::dr3_static links libdr3.a and only what it needs
file(REMOVE_RECURSE ${STAGE}-static)
file(WRITE ${STAGE}-static/src/CMakeLists.txt "cmake_minimum_required(VERSION 3.25)
project(static_consumer C)
find_package(dr3 CONFIG REQUIRED)
add_executable(custom_loop_static ${SOURCE_DIR}/examples/custom_loop.c)
target_link_libraries(custom_loop_static PRIVATE dr3::dr3_static m)
")
run(${CMAKE_COMMAND} -S ${STAGE}-static/src -B ${STAGE}-static/build -DCMAKE_PREFIX_PATH=${STAGE}
    -DCMAKE_C_COMPILER=${CMAKE_C_COMPILER} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${STAGE}-static/build)
run(ldd ${STAGE}-static/build/custom_loop_static)
if(LAST_OUTPUT MATCHES "libdr3\\.so")
  message(FATAL_ERROR "dr3::dr3_static still loads libdr3.so:\n${LAST_OUTPUT}")
endif()
run(${STAGE}-static/build/custom_loop_static --quick)
message(STATUS "find_package: dr3::dr3_static consumer ran")

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

# (3) C++ standards x compilers, against the installed headers only
set(cxx_compilers ${CMAKE_CXX_COMPILER})
foreach(name g++ clang++)
  find_program(cxx_${name} ${name})
  if(cxx_${name})
    list(APPEND cxx_compilers ${cxx_${name}})
  endif()
endforeach()
set(seen "")
foreach(cxx ${cxx_compilers})  # c++ is usually g++ under another name: test it once
  file(REAL_PATH ${cxx} real)
  if(NOT real IN_LIST seen)
    list(APPEND seen ${real})
  else()
    list(REMOVE_ITEM cxx_compilers ${cxx})
  endif()
endforeach()
set(cxx_failures "")
set(n 0)
foreach(cxx ${cxx_compilers})
  foreach(std 11 17 20)
    math(EXPR n "${n} + 1")
    set(exe ${STAGE}-pc/cpp_consumer_${n}_cxx${std})
    execute_process(COMMAND ${cxx} -std=c++${std} -Wall -Wextra -Wpedantic -Werror -O1
                            ${cflags} ${SOURCE_DIR}/examples/cpp_consumer.cpp -o ${exe}
                            ${libs} -Wl,-rpath,${libdir}
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
      string(APPEND cxx_failures "${cxx} -std=c++${std}: does not compile:\n${out}${err}\n")
      continue()
    endif()
    execute_process(COMMAND ${exe} --quick RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
      string(APPEND cxx_failures "${cxx} -std=c++${std}: the program failed (${rc}): ${err}\n")
      continue()
    endif()
    message(STATUS "C++: ${cxx} -std=c++${std} built and ran cpp_consumer")
  endforeach()
endforeach()
if(cxx_failures)
  message(FATAL_ERROR "the installed headers fail as C++:\n${cxx_failures}")
endif()
