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

# pkg-config: shared by default; `pkg-config --static dr3` adds what libdr3.a needs.
set(DR3_PC_REQUIRES_PRIVATE "")
set(DR3_PC_LIBS_PRIVATE "-lblis -lm -pthread")
if(DR3_HAVE_ZLIB)
  set(DR3_PC_REQUIRES_PRIVATE "zlib")
endif()
if(DR3_HAVE_HDF5)
  foreach(lib ${HDF5_C_LIBRARIES})
    string(APPEND DR3_PC_LIBS_PRIVATE " ${lib}")
  endforeach()
endif()
# Relocatable: paths are relative to the .pc file, so a staged or DESTDIR install works.
file(RELATIVE_PATH DR3_PC_UP ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" DR3_PC_UP "${DR3_PC_UP}")
set(DR3_PC_PREFIX "\${pcfiledir}/${DR3_PC_UP}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/dr3.pc.in ${PROJECT_BINARY_DIR}/dr3.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/dr3.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

# Debian wants a copyright file and a changelog in each package's doc directory.
set(DR3_DEB_CHANGELOG ${PROJECT_BINARY_DIR}/changelog.gz)
file(WRITE ${PROJECT_BINARY_DIR}/changelog
"libdr3 (${PROJECT_VERSION}) unstable; urgency=medium\n\n  * Release ${PROJECT_VERSION}.\n\n -- libdr3 maintainers <maintainers@libdr3.invalid>  Tue, 24 Nov 2026 00:00:00 +0000\n")
find_program(GZIP_EXECUTABLE gzip)
if(GZIP_EXECUTABLE)
  execute_process(COMMAND ${GZIP_EXECUTABLE} -9 -n -f -k ${PROJECT_BINARY_DIR}/changelog)
endif()
foreach(comp_pkg "runtime;libdr3-${DR3_SOVERSION}" "dev;libdr3-dev" "tools;dr3-tools")
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
        FILES_MATCHING PATTERN "*.md")
