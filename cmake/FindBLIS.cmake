# Finds BLIS (https://github.com/flame/blis). Defines BLIS::BLIS, BLIS_FOUND,
# BLIS_INCLUDE_DIRS, BLIS_LIBRARIES.
# 1. pkg-config module "blis" (installed by upstream BLIS builds);
# 2. a search for blis.h and libblis (Debian ships no .pc file and puts blis.h under the
#    multiarch include directory, e.g. /usr/include/x86_64-linux-gnu/blis.h).
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(PC_BLIS QUIET blis)
endif()

find_path(BLIS_INCLUDE_DIR blis.h
  HINTS ${PC_BLIS_INCLUDE_DIRS}
  PATH_SUFFIXES blis ${CMAKE_LIBRARY_ARCHITECTURE} ${CMAKE_LIBRARY_ARCHITECTURE}/blis)
find_library(BLIS_LIBRARY NAMES blis blis-mt HINTS ${PC_BLIS_LIBRARY_DIRS})

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(BLIS
  REQUIRED_VARS BLIS_LIBRARY BLIS_INCLUDE_DIR
  FAIL_MESSAGE "BLIS was not found. On Debian/Ubuntu install it with:\n    sudo apt-get install libblis-dev\n(or set BLIS_INCLUDE_DIR and BLIS_LIBRARY)")

if(BLIS_FOUND)
  set(BLIS_INCLUDE_DIRS ${BLIS_INCLUDE_DIR})
  set(BLIS_LIBRARIES ${BLIS_LIBRARY})
  if(NOT TARGET BLIS::BLIS)
    add_library(BLIS::BLIS UNKNOWN IMPORTED)
    set_target_properties(BLIS::BLIS PROPERTIES
      IMPORTED_LOCATION ${BLIS_LIBRARY}
      INTERFACE_INCLUDE_DIRECTORIES ${BLIS_INCLUDE_DIR})
  endif()
endif()
mark_as_advanced(BLIS_INCLUDE_DIR BLIS_LIBRARY)
