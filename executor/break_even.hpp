// The measured density below which a sparse matrix runs faster from its compressed rows than
// from the dense matrix of the same storage, for one shape, storage and column count (batch x
// output positions). Measured once per process per key, on synthetic matrices: random
// columns at densities 2..60%, random values of the storage, the same kernels the executor
// runs (min of 5 timed runs each). Matrices with more than 512 rows are measured on 512 rows
// (both kernels' time is linear in the rows). Costs 10-100 ms the first time for a key.
#pragma once
#include <cstdint>
#include <string>

#include "kernels.hpp"

namespace mcdnn::exec {

struct BreakEven {
  double density = 0;      // run sparse when the matrix's density is below this
  double dense_seconds = 0;  // the dense kernel's time for the measured shape
};

BreakEven break_even(const std::string& storage, int64_t rows, int64_t cols, int64_t p, const Kernels& k);

// Whether a dense int8 matrix of this shape runs faster in integer arithmetic (activations
// quantized to uint8, VNNI/AVX2 dot products) than in float (weights decoded in registers or
// tiles): measured the same way, once per key. Small layers (a 3x3 conv on one channel: 9
// columns) lose the quantization and packing cost.
bool int8_integer_pays(int64_t rows, int64_t cols, int64_t p, const Kernels& k);

}  // namespace mcdnn::exec
