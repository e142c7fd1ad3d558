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

install(FILES ${PROJECT_SOURCE_DIR}/LICENSE ${PROJECT_SOURCE_DIR}/README.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT dev)
