// A weight matrix held in its stored (compressed) representation, and the product with it.
//
// W is rows x cols (a linear weight out x in; a conv weight out x in*kh*kw, PyTorch order).
// Held as the variant file stores it (nn/storage.hpp), re-laid out only where the kernels need
// it: every row starts at a byte (codes), sparse row counts become row offsets, int8 rows carry
// their sums. resident_bytes() is what it occupies.
//
// Representations and their kernels (docs/executor.md):
//   f32 dense     OpenBLAS sgemv (one column) / sgemm
//   f16, cbB, and int8 in float mode, dense
//                 one column: fused decode + dot per row (F16C; VPERMPS/gather table lookup);
//                 several: a tile of rows decoded into an L2-sized buffer, then sgemm
//   int8 dense    activations quantized per column to uint8 (asymmetric, 8 bits), integer dot
//                 products (VPDPBUSD / 16-bit madd / scalar), y = s_w[row] s_x[col] (acc - z_x rowsum)
//   sparse        compressed rows with 8-bit relative indices, values in their storage:
//                 y[r] = sum over the row's entries of value * x[col] (int8: times the row's scale)
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels.hpp"
#include "nn/storage.hpp"

namespace mcdnn::exec {

enum class Int8Mode { Integer, Float };

struct Matrix {
  int64_t rows = 0, cols = 0;
  std::string storage = "f32";
  bool sparse = false;
  int bits = 0;  // codebook bits

  // dense values (one of, by storage); codes: row r at codes[r * row_bytes]
  std::vector<float> f32;
  std::vector<uint16_t> f16;
  std::vector<int8_t> i8;       // dense int8: row r at i8[r * ld()], rows padded to 4 bytes
  std::vector<uint8_t> codes;
  int64_t row_bytes = 0;
  std::vector<float> scale;     // int8: per row
  std::vector<int32_t> rowsum;  // int8 dense: sum of each row's codes
  bool integer = true;          // int8 dense: integer arithmetic (else float) under Int8Mode::Integer
  std::vector<float> table;     // codebook: 256 entries for 8 bits (unused 0), 16 for 4 bits (unused
                                // 0), 16 for 2 bits repeating the 4 (entry i = codebook[i & 3])

  // sparse: entries of row r are [start[r], start[r+1]); gaps[e] = column - previous column - 1;
  // the value of entry e is in f32 / f16 / i8 / codes (code e at bit e * bits) by storage.
  std::vector<uint32_t> start;
  std::vector<uint8_t> gaps;

  // Row stride of dense int8 weights (a multiple of 4 for the integer GEMM), else cols.
  int64_t ld() const { return storage == "int8" && !sparse ? (cols + 3) / 4 * 4 : cols; }
  int64_t entries() const { return sparse ? static_cast<int64_t>(gaps.size()) : rows * cols; }
  // Stored entries over rows*cols (fillers included; 1 when dense).
  double density() const { return static_cast<double>(entries()) / static_cast<double>(rows * cols); }
  int64_t resident_bytes() const;
  std::string describe() const;  // "int8 sparse 9.8%"
};

// From a validated encoding (check_encoding() holds) of a tensor whose first dimension is the
// rows and the rest the columns.
Matrix make_matrix(const EncodedTensor& e);

// The dense matrix of the same storage (fillers and dropped weights as explicit zeros); false
// when the storage cannot express a zero exactly (a codebook without a 0 code).
bool densify(const Matrix& sparse, Matrix* dense);

// Reusable buffers for products (quantized activations, decoded tiles, transposes).
struct Scratch {
  std::vector<float> f;
  std::vector<uint8_t> u8;
  std::vector<float> colscale, colzero, xp;
  std::vector<int32_t> acc;
  float* floats(size_t n) {
    if (f.size() < n) f.resize(n);
    return f.data();
  }
};

// Y (rows x p, row-major) = W X, X being cols x p (row-major). Y is overwritten.
void matmul(const Matrix& w, const float* x, int64_t p, float* y, Scratch& s, const Kernels& k,
            Int8Mode mode = Int8Mode::Integer);

// The same product from the decoded weights, in double: the reference the tests compare to.
void matmul_reference(const Matrix& w, const float* x, int64_t p, float* y);

}  // namespace mcdnn::exec
