# Debian packages through CPack (cpack -G DEB in the build directory):
#   libdr3-<soversion>  the shared library          (component runtime)
#   libdr3-dev          headers, static library, pkg-config, CMake package, docs (dev)
#   dr3-tools           the dr3 command             (tools)
set(CPACK_PACKAGE_NAME libdr3)
set(CPACK_PACKAGE_VENDOR "The libdr3 authors")
set(CPACK_PACKAGE_CONTACT "libdr3 maintainers <maintainers@libdr3.invalid>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "value-based deep RL with DR3 explicit regularization")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev tools)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# dr3-tools links libdr3.so.N from this build, which is not installed on the build machine
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR}/src)
set(CPACK_STRIP_FILES ON)
# shlibs and an ldconfig trigger (what lintian expects) instead of CPack's ldconfig scripts
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
file(WRITE ${PROJECT_BINARY_DIR}/deb/shlibs
     "libdr3 ${DR3_SOVERSION} libdr3-${DR3_SOVERSION} (>= ${PROJECT_VERSION})\n")
file(WRITE ${PROJECT_BINARY_DIR}/deb/triggers "activate-noawait ldconfig\n")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA
    ${PROJECT_BINARY_DIR}/deb/shlibs ${PROJECT_BINARY_DIR}/deb/triggers)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE ${PROJECT_HOMEPAGE_URL})

set(DR3_DEB_RUNTIME libdr3-${DR3_SOVERSION})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME ${DR3_DEB_RUNTIME})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
"value-based deep RL with DR3 explicit regularization (shared library)
libdr3 is a C library for value-based deep reinforcement learning: Q-networks,
replay buffers and offline datasets, TD backups, optimizers and the DR3
regularizer (Kumar et al., ICLR 2022) that keeps TD learning stable.
.
This package contains the shared library.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libdr3-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${DR3_DEB_RUNTIME} (= ${PROJECT_VERSION}), libblis-dev")
set(CPACK_COMPONENT_DEV_DESCRIPTION
"value-based deep RL with DR3 explicit regularization (development files)
libdr3 is a C library for value-based deep reinforcement learning with the
DR3 regularizer.
.
This package contains the headers, the static library, the pkg-config file,
the CMake package (find_package(dr3)) and the reference documentation.")

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME dr3-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION science)
set(CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS "${DR3_DEB_RUNTIME} (= ${PROJECT_VERSION})")
set(CPACK_COMPONENT_TOOLS_DESCRIPTION
"command-line trainer and DR3 demonstration for libdr3
The dr3 command collects offline datasets from built-in environments, trains
value-based agents with or without DR3 on any supported dataset format,
evaluates them and reproduces the DR3 feature co-adaptation experiment.")

include(CPack)
