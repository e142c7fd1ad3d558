# Install rules: headers, both libraries, pkg-config file, CMake package (dr3::dr3).
include(CMakePackageConfigHelpers)

set(DR3_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/dr3)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/dr3
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev
        FILES_MATCHING PATTERN "*.h")
install(FILES ${DR3_GENERATED_INCLUDE}/dr3/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/dr3 COMPONENT dev)

install(TARGETS dr3_shared EXPORT dr3Targets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime
                NAMELINK_COMPONENT dev
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
install(TARGETS dr3_static EXPORT dr3Targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(EXPORT dr3Targets NAMESPACE dr3:: DESTINATION ${DR3_CMAKE_DIR} COMPONENT dev)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/dr3Config.cmake.in
  ${PROJECT_BINARY_DIR}/dr3Config.cmake INSTALL_DESTINATION ${DR3_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/dr3ConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/dr3Config.cmake ${PROJECT_BINARY_DIR}/dr3ConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/FindBLIS.cmake
        DESTINATION ${DR3_CMAKE_DIR} COMPONENT dev)

# pkg-config: shared by default; `pkg-config --static dr3` adds what libdr3.a needs: -l flags
# for the libraries libdr3 itself links (never absolute .so paths, nor what those libraries
# link in turn), with -L only for directories the linker does not search anyway.
function(dr3_pc_flags out)
  set(flags "")
  foreach(lib ${ARGN})
    if(lib MATCHES "^-")
      list(APPEND flags "${lib}")
    elseif(IS_ABSOLUTE "${lib}")
      get_filename_component(dir "${lib}" DIRECTORY)
      get_filename_component(name "${lib}" NAME)
      string(REGEX REPLACE "^lib" "" name "${name}")
      string(REGEX REPLACE "\\.(so|a)(\\..*)?$" "" name "${name}")
      list(FIND CMAKE_C_IMPLICIT_LINK_DIRECTORIES "${dir}" implicit)
      if(implicit EQUAL -1)
        list(APPEND flags "-L${dir}")
      endif()
      list(APPEND flags "-l${name}")
    else()
      list(APPEND flags "-l${lib}")
    endif()
  endforeach()
  list(REMOVE_DUPLICATES flags)
  string(REPLACE ";" " " flags "${flags}")
  set(${out} "${flags}" PARENT_SCOPE)
endfunction()
set(dr3_pc_libs ${BLIS_LIBRARIES})
if(DR3_HAVE_ZLIB)
  list(APPEND dr3_pc_libs ${ZLIB_LIBRARIES})
endif()
if(DR3_HAVE_HDF5)
  # libhdf5 alone when it is shared (narrowed in the top-level CMakeLists.txt)
  list(APPEND dr3_pc_libs ${HDF5_C_LIBRARIES})
endif()
list(APPEND dr3_pc_libs -lm -pthread)
dr3_pc_flags(DR3_PC_LIBS_PRIVATE ${dr3_pc_libs})
# Written at install time for the prefix really installed into (see WritePkgConfig.cmake).
install(CODE "
  set(DR3_PC_IN \"${PROJECT_SOURCE_DIR}/cmake/dr3.pc.in\")
  set(DR3_PC_NAME dr3.pc)
  set(DR3_PC_WORK \"${PROJECT_BINARY_DIR}/pkgconfig\")
  set(DR3_PC_LIBDIR_REL \"${CMAKE_INSTALL_LIBDIR}\")
  set(DR3_PC_INCLUDEDIR_REL \"${CMAKE_INSTALL_INCLUDEDIR}\")
  set(DR3_PC_LIBS_PRIVATE \"${DR3_PC_LIBS_PRIVATE}\")
  set(PROJECT_DESCRIPTION \"${PROJECT_DESCRIPTION}\")
  set(PROJECT_HOMEPAGE_URL \"${PROJECT_HOMEPAGE_URL}\")
  set(PROJECT_VERSION \"${PROJECT_VERSION}\")
  include(\"${PROJECT_SOURCE_DIR}/cmake/WritePkgConfig.cmake\")
  " COMPONENT dev)

# libdr3-mpi (when built): the library (component mpi), its header, CMake targets
# (find_package(dr3 COMPONENTS mpi) -> dr3::mpi) and dr3-mpi.pc (component mpi_dev).
if(DR3_HAVE_MPI)
  install(TARGETS dr3_mpi EXPORT dr3-mpiTargets
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT mpi NAMELINK_COMPONENT mpi_dev)
  install(FILES ${PROJECT_SOURCE_DIR}/mpi/include/dr3/mpi.h
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/dr3 COMPONENT mpi_dev)
  if(DR3_MAN_OUT AND DR3_BUILD_DOCS) # man 3 dr3_mpi_create etc. (Doxygen reads dr3/mpi.h)
    install(DIRECTORY ${DR3_MAN_OUT}/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man3
            COMPONENT mpi_dev FILES_MATCHING PATTERN "dr3_mpi*.3.gz" PATTERN "DR3_MPI*.3.gz")
  endif()
  install(EXPORT dr3-mpiTargets NAMESPACE dr3:: DESTINATION ${DR3_CMAKE_DIR}
          COMPONENT mpi_dev)
  # the program includes <mpi.h> through dr3/mpi.h and calls MPI itself: MPI's flags are
  # public (Cflags and Libs, not Libs.private)
  set(dr3_mpi_cflags "")
  foreach(dir ${MPI_C_INCLUDE_DIRS})
    list(APPEND dr3_mpi_cflags "-I${dir}")
  endforeach()
  string(REPLACE ";" " " dr3_mpi_cflags "${dr3_mpi_cflags}")
  dr3_pc_flags(DR3_PC_MPI_LIBS ${MPI_C_LIBRARIES})
  install(CODE "
    set(DR3_PC_IN \"${PROJECT_SOURCE_DIR}/mpi/dr3-mpi.pc.in\")
    set(DR3_PC_NAME dr3-mpi.pc)
    set(DR3_PC_WORK \"${PROJECT_BINARY_DIR}/pkgconfig\")
    set(DR3_PC_LIBDIR_REL \"${CMAKE_INSTALL_LIBDIR}\")
    set(DR3_PC_INCLUDEDIR_REL \"${CMAKE_INSTALL_INCLUDEDIR}\")
    set(DR3_PC_MPI_LIBS \"${DR3_PC_MPI_LIBS}\")
    set(DR3_PC_MPI_CFLAGS \"${dr3_mpi_cflags}\")
    set(PROJECT_HOMEPAGE_URL \"${PROJECT_HOMEPAGE_URL}\")
    set(PROJECT_VERSION \"${PROJECT_VERSION}\")
    include(\"${PROJECT_SOURCE_DIR}/cmake/WritePkgConfig.cmake\")
    " COMPONENT mpi_dev)
endif()

# Debian wants a copyright file and a changelog in each package's doc directory.
set(DR3_DEB_CHANGELOG ${PROJECT_BINARY_DIR}/changelog.gz)
file(WRITE ${PROJECT_BINARY_DIR}/changelog
"libdr3 (${PROJECT_VERSION}) unstable; urgency=medium\n\n  * Release ${PROJECT_VERSION}.\n\n -- libdr3 maintainers <maintainers@libdr3.invalid>  Tue, 24 Nov 2026 00:00:00 +0000\n")
find_program(GZIP_EXECUTABLE gzip)
if(GZIP_EXECUTABLE)
  execute_process(COMMAND ${GZIP_EXECUTABLE} -9 -n -f -k ${PROJECT_BINARY_DIR}/changelog)
endif()
set(dr3_comp_pkgs "runtime:libdr3-${DR3_SOVERSION}" "dev:libdr3-dev" "tools:dr3-tools")
if(DR3_HAVE_MPI)
  list(APPEND dr3_comp_pkgs "mpi:libdr3-mpi${DR3_SOVERSION}" "mpi_dev:libdr3-mpi-dev")
endif()
foreach(pair ${dr3_comp_pkgs})
  string(REPLACE ":" ";" comp_pkg "${pair}")
  list(GET comp_pkg 0 comp)
  list(GET comp_pkg 1 pkg)
  install(FILES ${PROJECT_SOURCE_DIR}/LICENSE RENAME copyright
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${pkg} COMPONENT ${comp})
  if(EXISTS ${DR3_DEB_CHANGELOG})
    install(FILES ${DR3_DEB_CHANGELOG}
            DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${pkg} COMPONENT ${comp})
  endif()
endforeach()
install(FILES ${PROJECT_SOURCE_DIR}/README.md
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/libdr3-dev COMPONENT dev)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/libdr3-dev/guide COMPONENT dev
        FILES_MATCHING PATTERN "*.md" PATTERN "*.svg" PATTERN "*.csv" PATTERN "*.txt")
