// How a weight tensor is stored in a variant file, and the exact bytes that costs.
// Torch-free. Encoding is also how weights are quantized: a pass encodes, then runs the
// network on decode(encode(w)), so the stored form reproduces the evaluated weights bit for bit.
//
// Storage formats (`storage`):
//   f32    float32 values
//   f16    IEEE half values (uint16 bit patterns), round to nearest even
//   int8   int8 values q with one float32 scale per row (output channel): w = q * scale[row],
//          scale = max|w_row| / 127 (symmetric, q in [-127, 127])
//   cbB    B = 8, 4, 2: a codebook of at most 2^B float32 centroids (1-D k-means, linear init,
//          Deep Compression) and B-bit codes packed LSB-first; sparse tensors reserve code 0
//          for the value 0 so relative-index fillers decode to zero.
// Layout: a tensor of shape (rows, ...) is seen as rows x cols, cols = the product of the rest.
//   dense:  values for all rows*cols entries, row-major;
//   sparse: compressed rows with relative indices (Deep Compression): per row, the entries in
//           column order, each with an 8-bit gap = column - previous column - 1 (previous = -1 at
//           the row start); a gap over 255 is bridged by filler entries of value 0 and gap 255.
//           `row_counts` (uint16, or uint32 when a row needs more) holds entries per row.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mcdnn {

enum class BlobType { F32, U8, I8, U16, U32 };
const char* blob_type_name(BlobType t);  // "float32", "uint8", ...
int blob_type_size(BlobType t);

struct Blob {
  std::string name;  // "values", "scale", "codebook", "codes", "row_counts", "gaps"
  BlobType type = BlobType::F32;
  std::vector<uint8_t> data;  // little-endian elements
  int64_t count() const { return static_cast<int64_t>(data.size()) / blob_type_size(type); }
};

struct EncodedTensor {
  std::string storage = "f32";
  bool sparse = false;
  std::vector<int64_t> shape;
  int64_t entries = 0;  // stored value entries (numel when dense; nonzeros + fillers when sparse)
  std::vector<Blob> blobs;
  int64_t bytes() const;  // the exact payload: sum of blob sizes
};

// Valid storage names, for messages: "f32, f16, int8, cb8, cb4, cb2".
const char* storage_names();
bool valid_storage(const std::string& s);
int codebook_bits(const std::string& storage);  // 8/4/2 for cbB, 0 otherwise

// Encodes `w` (row-major, `shape`). Sparse drops exact zeros. Lossy for f16/int8/cbB.
EncodedTensor encode_tensor(const float* w, const std::vector<int64_t>& shape, const std::string& storage, bool sparse);

// Checks that `e` is a well-formed encoding of a tensor of e.shape, before anything is decoded
// (a variant file is untrusted input): known storage; exactly the blobs its layout needs, each
// of its element type and exact size (values = entries, scale = rows, codes = ceil(entries *
// bits / 8) bytes, row_counts = rows, gaps = entries); a codebook of 1..2^B finite values and
// every code below its size; row counts summing to `entries`; every sparse column inside its
// row; finite float values. Returns "" when valid, else what is wrong.
std::string check_encoding(const EncodedTensor& e);

// The weights an encoding stands for (numel floats). Throws std::invalid_argument with
// check_encoding()'s reason for a malformed encoding.
std::vector<float> decode_tensor(const EncodedTensor& e);

// IEEE 754 binary16 conversions (round to nearest even).
uint16_t f32_to_f16(float f);
float f16_to_f32(uint16_t h);

// 1-D k-means with `k` centroids, linear initialization between min and max, `iters` Lloyd
// iterations; returns sorted centroids.
std::vector<float> kmeans_1d(const std::vector<float>& v, int k, int iters = 30);

}  // namespace mcdnn
