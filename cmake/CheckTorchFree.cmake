# Fails when a source file under ROOT/core, ROOT/executor or ROOT/runtime includes a LibTorch header (torch/, ATen/, c10/):
# mcdnn_core, the executor and the runtime must build and run without LibTorch.
#   cmake -DROOT=<source dir> -P CheckTorchFree.cmake
set(bad "")
foreach(dir ${ROOT}/core ${ROOT}/executor ${ROOT}/runtime)
  file(GLOB_RECURSE files ${dir}/*.cpp ${dir}/*.hpp ${dir}/*.h ${dir}/*.in)
  foreach(f IN LISTS files)
    file(STRINGS ${f} hits REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"](torch|ATen|c10|caffe2)/")
    if(hits)
      list(APPEND bad "${f}: ${hits}")
    endif()
  endforeach()
endforeach()
if(bad)
  string(REPLACE ";" "\n  " bad "${bad}")
  message(FATAL_ERROR "mcdnn: LibTorch included where it must not be (core/, executor/ and runtime/ are LibTorch-free):\n  ${bad}")
endif()
