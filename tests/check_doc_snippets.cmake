# The dr3_net + DR3 snippet shown in README.md and docs/tutorial-custom-loop.md compiles
# against the public headers (C11, warnings as errors): each page's block is the ```c block
# that starts with the "obs2: 2n x S" comment, wrapped in a function declaring its names.
foreach(page README.md docs/tutorial-custom-loop.md)
  file(READ ${SOURCE_DIR}/${page} text)
  string(FIND "${text}" "```c\n/* obs2: 2n x S" start)
  if(start EQUAL -1)
    message(FATAL_ERROR "${page}: no dr3_net snippet")
  endif()
  string(SUBSTRING "${text}" ${start} -1 rest)
  string(LENGTH "```c\n" skip)
  string(SUBSTRING "${rest}" ${skip} -1 rest)
  string(FIND "${rest}" "\n```" stop)
  string(SUBSTRING "${rest}" 0 ${stop} code)
  file(WRITE ${WORK}/snippet.c "#include <dr3/dr3.h>\n#include <string.h>\n"
    "dr3_status snippet(dr3_net *online, dr3_optim *opt, size_t n, size_t S, size_t A,\n"
    "                   size_t d, const float *obs2, float *q, float *q_taken,\n"
    "                   const int32_t *a, const float *y, float *gq, float *gout, float *gphi);\n"
    "dr3_status snippet(dr3_net *online, dr3_optim *opt, size_t n, size_t S, size_t A,\n"
    "                   size_t d, const float *obs2, float *q, float *q_taken,\n"
    "                   const int32_t *a, const float *y, float *gq, float *gout, float *gphi) {\n"
    "float td, reg;\n${code}\nreturn td + reg > 0 ? DR3_OK : DR3_OK;\n}\n")
  execute_process(COMMAND ${CC} -std=c11 -Wall -Wextra -Wpedantic -Werror -fsyntax-only
                          -I${SOURCE_DIR}/include -I${GEN_INCLUDE} ${WORK}/snippet.c
                  RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${page}: the dr3_net snippet does not compile:\n${err}")
  endif()
endforeach()
