// What a variant takes deployed in another format than the catalog's own file: the initializer
// payload of tools/mcdnn_export_onnx.py's two ONNX forms, computed from the variant file's layers
// and encodings by the exporter's rules (docs/catalog-format.md, "Deployable sizes"):
//   compressed  int8 as int8 (+ per-row float scales and int8 zero points), a codebook as one
//               uint8 code per weight (ONNX has no 4- or 2-bit type) + the float codebook, f16 as
//               float16, f32 as float32; a batchnorm after a conv2d/linear folded (f16/codebook
//               weights gain a per-row float scale), elsewhere four float vectors; biases float32
//   float       every weight decoded to float32
// ONNX has no sparse weights that runtimes execute: pruned positions are stored as zeros, so a
// pruned variant's ONNX file is as large as its unpruned parent's. The file adds its graph,
// names and metadata (a few KB) to these payloads.
#pragma once
#include <cstdint>

#include "catalog/variant_file.hpp"

namespace mcdnn {

struct ExportSizes {
  int64_t onnx_compressed = 0;  // initializer bytes of `--form compressed`
  int64_t onnx_float = 0;       // initializer bytes of `--form float`
};

ExportSizes export_sizes(const VariantFile& v);

}  // namespace mcdnn
