// A variant file: one HDF5 file holding a variant's layer descriptions and its weights in their
// stored (compressed) form. Torch-free: the compiler writes it, and anything that runs a
// variant (the executor, the Python reader, tests) reads it. docs/catalog-format.md documents
// the layout:
//   /            attrs format, format_version, id, parent, transforms (';'-joined), input [c,h,w],
//                num_classes, class_names (';'-joined), mean, std
//   /layers/NNN  one group per layer in order (NNN = zero-padded index), attrs kind, name, repr,
//                rank, storage, sparse, in_shape, out_shape, and the kind's hyper-parameters;
//                version 2: `from` (int64 list of earlier layer indices, -1 = the input) on a
//                layer that does not read the layer before it, `groups` and `dilation` on conv2d.
//                A tensor stored as dense f32 is a float32 dataset named as tensors_of() names
//                it; any other stored form is a group of that name holding its blobs
//                (nn/storage.hpp) with attrs storage, sparse, shape, entries.
// Files are written without object timestamps, so the same variant gives the same bytes.
#pragma once
#include <string>
#include <vector>

#include "nn/layer.hpp"
#include "nn/storage.hpp"

namespace mcdnn {

constexpr const char* kVariantFormat = "mcdnn-variant";
// Version 1: chains. Version 2 adds graphs: the graph kinds, a layer's `from` and a conv2d's
// `groups` and `dilation`. A chain is still written as version 1 (readers of version 1 keep
// reading every chain); a file is version 2 only when its network uses a graph feature.
constexpr int kVariantVersion = 2;
constexpr int kVariantChainVersion = 1;

// What a consumer needs to feed a variant: input shape, classes and preprocessing.
struct InputInfo {
  Shape input;
  std::vector<std::string> class_names;  // may be empty
  int64_t num_classes = 0;
  std::vector<double> mean, std;  // empty when not normalized
};

struct VariantFile {
  std::string id, parent;
  std::vector<std::string> transforms;
  InputInfo input;
  std::vector<LayerSpec> layers;                    // shapes inferred from input
  std::vector<std::vector<EncodedTensor>> tensors;  // per layer, in tensors_of() order
};

// Writes `v` to `path` (truncating). Throws std::runtime_error on an HDF5 failure.
void write_variant_file(const std::string& path, const VariantFile& v);

// Reads and validates a variant file, trusting nothing in it: format and version first, then
// every attribute's type and range, layer hyper-parameters, shapes re-inferred from the input
// and compared with the stored ones, unique layer names, the network ending in num_classes
// logits, every tensor present with its layer's shape, every encoding well-formed
// (check_encoding()) and no dataset claiming more bytes than the file has. Decodes nothing.
// Throws Error(Catalog) naming the file, the object (/layers/NNN/tensor) and what is wrong.
VariantFile read_variant_file(const std::string& path);

}  // namespace mcdnn
