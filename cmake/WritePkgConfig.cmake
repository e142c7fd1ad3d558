# Run at install time (included by an install(CODE) rule in Install.cmake): writes dr3.pc
# for the prefix actually installed into, so `cmake --install <dir> --prefix <p>` and CPack
# both get correct absolute paths without `..` components. DESTDIR is honoured and not
# written into the file. Inputs: DR3_PC_IN, DR3_PC_WORK, DR3_PC_LIBDIR_REL,
# DR3_PC_INCLUDEDIR_REL, DR3_PC_LIBS_PRIVATE and the PROJECT_* values dr3.pc.in uses;
# DR3_PC_NAME (default dr3.pc) names the file written (dr3-mpi.pc, from mpi/dr3-mpi.pc.in).
# `cmake --install --prefix rel` installs relative to the working directory: spell it out
get_filename_component(DR3_PC_PREFIX "${CMAKE_INSTALL_PREFIX}" ABSOLUTE)
string(REGEX REPLACE "(.)/+$" "\\1" DR3_PC_PREFIX "${DR3_PC_PREFIX}")
foreach(kind LIBDIR INCLUDEDIR)
  set(rel "${DR3_PC_${kind}_REL}")
  if(IS_ABSOLUTE "${rel}")
    # an absolute CMAKE_INSTALL_<dir>: keep it, but spell it from ${prefix} when inside
    string(FIND "${rel}/" "${DR3_PC_PREFIX}/" at)
    if(at EQUAL 0 AND NOT DR3_PC_PREFIX STREQUAL "/")
      string(LENGTH "${DR3_PC_PREFIX}" n)
      string(SUBSTRING "${rel}" ${n} -1 tail)
      set(DR3_PC_${kind} "\${prefix}${tail}")
    else()
      set(DR3_PC_${kind} "${rel}")
    endif()
  else()
    set(DR3_PC_${kind} "\${prefix}/${rel}")
  endif()
endforeach()
set(dest "${DR3_PC_PREFIX}/${DR3_PC_LIBDIR_REL}/pkgconfig")
if(IS_ABSOLUTE "${DR3_PC_LIBDIR_REL}")
  set(dest "${DR3_PC_LIBDIR_REL}/pkgconfig")
endif()
# configured in the build tree (one file per prefix), then installed like any other file
string(MD5 key "${dest}")
if(NOT DR3_PC_NAME)
  set(DR3_PC_NAME dr3.pc)
endif()
set(tmp "${DR3_PC_WORK}/${key}/${DR3_PC_NAME}")
configure_file("${DR3_PC_IN}" "${tmp}" @ONLY)
file(INSTALL DESTINATION "${dest}" TYPE FILE FILES "${tmp}")
