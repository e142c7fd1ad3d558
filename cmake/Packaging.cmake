# Debian packages through CPack: `cmake --workflow --preset deb` (configures for /usr with
# the multiarch library directory, builds, runs cpack -G DEB in build/deb):
#   libdr3-<soversion>  the shared library          (component runtime)
#   libdr3-dev          headers, static library, pkg-config, CMake package, docs (dev)
#   dr3-tools           the dr3 command             (tools)
# and, when MPI was found (libdr3-mpi is built):
#   libdr3-mpi<soversion>   libdr3-mpi.so             (mpi)
#   libdr3-mpi-dev          its header, dr3-mpi.pc, CMake targets (mpi_dev)
set(CPACK_PACKAGE_NAME libdr3)
set(CPACK_PACKAGE_VENDOR "The libdr3 authors")
set(CPACK_PACKAGE_CONTACT "libdr3 maintainers <maintainers@libdr3.invalid>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "value-based deep RL with DR3 explicit regularization")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev tools)
if(DR3_HAVE_MPI)
  list(APPEND CPACK_COMPONENTS_ALL mpi mpi_dev)
endif()
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
# what `pkg-config --static dr3` / dr3::dr3_static link besides libdr3.a (see Install.cmake)
set(DR3_DEB_DEV_DEPENDS "${DR3_DEB_RUNTIME} (= ${PROJECT_VERSION}), libblis-dev")
if(DR3_HAVE_ZLIB)
  string(APPEND DR3_DEB_DEV_DEPENDS ", zlib1g-dev")
endif()
if(DR3_HAVE_HDF5)
  string(APPEND DR3_DEB_DEV_DEPENDS ", libhdf5-dev")
endif()
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${DR3_DEB_DEV_DEPENDS}")
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

if(DR3_HAVE_MPI)
  # Debian names a library package after its SONAME: libdr3-mpi.so.1 -> libdr3-mpi1 (a
  # hyphen only after a digit, as in libdr3-1)
  set(DR3_DEB_MPI libdr3-mpi${DR3_SOVERSION})
  file(WRITE ${PROJECT_BINARY_DIR}/deb-mpi/shlibs
       "libdr3-mpi ${DR3_SOVERSION} ${DR3_DEB_MPI} (>= ${PROJECT_VERSION})\n")
  file(WRITE ${PROJECT_BINARY_DIR}/deb-mpi/triggers "activate-noawait ldconfig\n")
  set(CPACK_DEBIAN_MPI_PACKAGE_NAME ${DR3_DEB_MPI})
  set(CPACK_DEBIAN_MPI_PACKAGE_SECTION libs)
  set(CPACK_DEBIAN_MPI_PACKAGE_DEPENDS "${DR3_DEB_RUNTIME} (= ${PROJECT_VERSION})")
  set(CPACK_DEBIAN_MPI_PACKAGE_CONTROL_EXTRA
      ${PROJECT_BINARY_DIR}/deb-mpi/shlibs ${PROJECT_BINARY_DIR}/deb-mpi/triggers)
  set(CPACK_DEBIAN_MPI_PACKAGE_CONTROL_STRICT_PERMISSION ON)
  set(CPACK_COMPONENT_MPI_DESCRIPTION
"libdr3 data-parallel training on MPI (shared library; experimental)
libdr3-mpi implements libdr3's collective interface on an MPI communicator,
so that one learner trains as N replicas across processes and machines with
one gradient allreduce per step.
.
This package contains the shared library.")
  set(CPACK_DEBIAN_MPI_DEV_PACKAGE_NAME libdr3-mpi-dev)
  set(CPACK_DEBIAN_MPI_DEV_PACKAGE_SECTION libdevel)
  set(CPACK_DEBIAN_MPI_DEV_PACKAGE_DEPENDS
      "${DR3_DEB_MPI} (= ${PROJECT_VERSION}), libdr3-dev (= ${PROJECT_VERSION}), mpi-default-dev")
  set(CPACK_COMPONENT_MPI_DEV_DESCRIPTION
"libdr3 data-parallel training on MPI (development files; experimental)
libdr3-mpi implements libdr3's collective interface on an MPI communicator.
.
This package contains the header dr3/mpi.h, the pkg-config file dr3-mpi.pc
and the CMake targets of find_package(dr3 COMPONENTS mpi).")
  # dr3 train --mpi: the tool links libdr3-mpi (tools/CMakeLists.txt)
  if(NOT DR3_SANITIZE)
    string(APPEND CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS ", ${DR3_DEB_MPI} (= ${PROJECT_VERSION})")
  endif()
  # dpkg-shlibdeps finds libdr3.so.N of this build for libdr3-mpi too
  list(APPEND CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR}/mpi)
endif()

# A package is only right when the build was configured for /usr: then GNUInstallDirs puts
# the libraries, dr3.pc and the CMake package under the multiarch directory
# (lib/<triplet>) and the tools carry no RUNPATH. Any other build (the default /usr/local
# prefix of build/release, say) would produce a package that installs into /usr/lib, which
# lintian rejects (pkg-config-multi-arch-wrong-dir): cpack stops with the way to do it.
set(DR3_DEB_LIBDIR lib)
if(CMAKE_LIBRARY_ARCHITECTURE)
  set(DR3_DEB_LIBDIR lib/${CMAKE_LIBRARY_ARCHITECTURE})
endif()
set(DR3_CPACK_CHECK ${PROJECT_BINARY_DIR}/CPackCheckPrefix.cmake)
if(CMAKE_INSTALL_PREFIX MATCHES "^/usr/?$" AND CMAKE_INSTALL_LIBDIR STREQUAL DR3_DEB_LIBDIR)
  file(WRITE ${DR3_CPACK_CHECK} "# configured for /usr: Debian packages are fine\n")
else()
  file(WRITE ${DR3_CPACK_CHECK} "
if(CPACK_GENERATOR STREQUAL \"DEB\")
  message(FATAL_ERROR \"this build (${PROJECT_BINARY_DIR}) was configured with \"
    \"CMAKE_INSTALL_PREFIX=${CMAKE_INSTALL_PREFIX} and CMAKE_INSTALL_LIBDIR=${CMAKE_INSTALL_LIBDIR}; \"
    \"Debian packages need /usr and ${DR3_DEB_LIBDIR}. Build them with:  \"
    \"cmake --workflow --preset deb   (packages in build/deb)\")
endif()
")
endif()
set(CPACK_PROJECT_CONFIG_FILE ${DR3_CPACK_CHECK})

include(CPack)
