# Every dependency is found here, once. A missing one stops configuration with the
# Debian package that provides it (tools/setup.sh installs them all).

macro(mcdnn_require found what package)
  if(NOT ${found})
    message(FATAL_ERROR
      "mcdnn: ${what} not found. Install it with: apt-get install ${package}  "
      "(or run tools/setup.sh, which installs every dependency).")
  endif()
endmacro()

# MCDNN_FUZZ builds only the Torch-free mcdnn_core and fuzz/: LibTorch, CLI11, Eigen and
# Catch2 are not looked up.
if(NOT MCDNN_FUZZ)
  find_package(Torch QUIET)
  mcdnn_require(Torch_FOUND "LibTorch (TorchConfig.cmake)" "libtorch-dev")
  if(Torch_VERSION VERSION_LESS 1.13)
    message(FATAL_ERROR "mcdnn: LibTorch ${Torch_VERSION} is too old; need >= 1.13 (Debian 12's libtorch-dev or a 2.x build).")
  endif()
  message(STATUS "mcdnn: LibTorch ${Torch_VERSION}")
endif()

find_package(yaml-cpp QUIET)
mcdnn_require(yaml-cpp_FOUND "yaml-cpp" "libyaml-cpp-dev")
if(TARGET yaml-cpp::yaml-cpp)
  set(MCDNN_YAML_TARGET yaml-cpp::yaml-cpp)
else()
  set(MCDNN_YAML_TARGET yaml-cpp)
endif()

if(NOT MCDNN_FUZZ)
  find_package(CLI11 QUIET CONFIG)
  mcdnn_require(CLI11_FOUND "CLI11" "libcli11-dev")

  find_package(Eigen3 QUIET NO_MODULE)
  mcdnn_require(Eigen3_FOUND "Eigen3" "libeigen3-dev")
endif()

find_package(HDF5 QUIET COMPONENTS C)
mcdnn_require(HDF5_FOUND "HDF5 (C library)" "libhdf5-dev")

find_package(nlohmann_json 3 QUIET)
mcdnn_require(nlohmann_json_FOUND "nlohmann-json (catalog.json reader)" "nlohmann-json3-dev")

# The executor's dense products (runtime-dispatched kernels for every x86-64).
find_path(OPENBLAS_INCLUDE_DIR cblas.h PATHS /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/openblas
          NO_DEFAULT_PATH)
find_path(OPENBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas openblas-pthread)
find_library(OPENBLAS_LIBRARY NAMES openblas)
if(NOT OPENBLAS_INCLUDE_DIR OR NOT OPENBLAS_LIBRARY)
  set(OPENBLAS_FOUND OFF)
else()
  set(OPENBLAS_FOUND ON)
endif()
mcdnn_require(OPENBLAS_FOUND "OpenBLAS (cblas.h, libopenblas)" "libopenblas-dev")

find_package(ZLIB QUIET)
mcdnn_require(ZLIB_FOUND "zlib (for .gz IDX files)" "zlib1g-dev")

if(MCDNN_BUILD_TESTS AND NOT MCDNN_FUZZ)
  find_package(Catch2 QUIET)
  mcdnn_require(Catch2_FOUND "Catch2" "catch2")
  message(STATUS "mcdnn: Catch2 ${Catch2_VERSION}")
endif()
