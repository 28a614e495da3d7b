#include "break_even.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <random>
#include <tuple>
#include <vector>

#include "matrix.hpp"

namespace mcdnn::exec {

namespace {

// A random sparse matrix in `storage` with each weight kept with probability `density`.
Matrix synthetic(const std::string& storage, int64_t rows, int64_t cols, double density, std::mt19937& rng) {
  Matrix m;
  m.rows = rows;
  m.cols = cols;
  m.storage = storage;
  m.sparse = true;
  m.bits = codebook_bits(storage);
  std::uniform_real_distribution<float> u(-1, 1), keep(0, 1);
  std::vector<unsigned> codes;
  m.start.push_back(0);
  for (int64_t r = 0; r < rows; ++r) {
    int64_t prev = -1;
    for (int64_t c = 0; c < cols; ++c) {
      if (keep(rng) >= density) continue;
      while (c - prev - 1 > 255) {  // filler
        m.gaps.push_back(255);
        prev += 256;
        if (m.bits) codes.push_back(0);
        else if (storage == "f32") m.f32.push_back(0);
        else if (storage == "f16") m.f16.push_back(0);
        else m.i8.push_back(0);
      }
      m.gaps.push_back(static_cast<uint8_t>(c - prev - 1));
      prev = c;
      const float v = u(rng);
      if (m.bits) codes.push_back(1 + static_cast<unsigned>(keep(rng) * ((1u << m.bits) - 1)) % ((1u << m.bits) - 1));
      else if (storage == "f32") m.f32.push_back(v);
      else if (storage == "f16") m.f16.push_back(f32_to_f16(v));
      else m.i8.push_back(static_cast<int8_t>(v * 127));
    }
    m.start.push_back(static_cast<uint32_t>(m.gaps.size()));
  }
  if (storage == "int8") m.scale.assign(static_cast<size_t>(rows), 0.01f);
  if (m.bits) {
    m.table.assign(std::max<size_t>(size_t(1) << m.bits, 16), 0.0f);
    for (unsigned c = 1; c < (1u << m.bits); ++c) m.table[c] = u(rng);
    m.codes.assign((codes.size() * static_cast<size_t>(m.bits) + 7) / 8, 0);
    for (size_t i = 0; i < codes.size(); ++i)
      m.codes[i * m.bits / 8] |= static_cast<uint8_t>(codes[i] << ((i * m.bits) % 8));
  }
  return m;
}

double time_of(const Matrix& w, const std::vector<float>& x, int64_t p, std::vector<float>& y, Scratch& s, const Kernels& k,
               Int8Mode mode = Int8Mode::Integer) {
  double best = 1e30;
  for (int rep = 0; rep < 6; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    matmul(w, x.data(), p, y.data(), s, k, mode);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (rep > 0) best = std::min(best, dt);  // the first run warms caches
  }
  return best;
}

}  // namespace

BreakEven break_even(const std::string& storage, int64_t rows, int64_t cols, int64_t p, const Kernels& k) {
  static std::mutex mu;
  static std::map<std::tuple<std::string, int64_t, int64_t, int64_t, int>, BreakEven> cache;
  rows = std::min<int64_t>(rows, 512);
  const auto key = std::make_tuple(storage, rows, cols, p, static_cast<int>(k.isa));
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(key); it != cache.end()) return it->second;

  std::mt19937 rng(12345);
  std::vector<float> x(static_cast<size_t>(cols * p)), y(static_cast<size_t>(rows * p));
  std::uniform_real_distribution<float> u(0, 1);
  for (auto& v : x) v = u(rng);
  Scratch s;
  const double densities[] = {0.02, 0.05, 0.1, 0.2, 0.35, 0.6};
  BreakEven be;
  double prev_d = 0, prev_ratio = 0;
  bool first = true, found = false;
  for (double d : densities) {
    const Matrix sp = synthetic(storage, rows, cols, d, rng);
    Matrix dn;
    if (!densify(sp, &dn)) break;
    if (first) be.dense_seconds = time_of(dn, x, p, y, s, k);
    const double ratio = time_of(sp, x, p, y, s, k) / be.dense_seconds;  // < 1: sparse wins
    if (ratio >= 1) {
      // Interpolate log(ratio) linearly in density between the last win and this loss.
      be.density = first ? 0.0 : prev_d + (d - prev_d) * (0 - std::log(prev_ratio)) / (std::log(ratio) - std::log(prev_ratio));
      found = true;
      break;
    }
    prev_d = d;
    prev_ratio = ratio;
    first = false;
  }
  if (!found) be.density = first ? 0.0 : prev_d;  // sparse still wins at the densest point measured
  cache[key] = be;
  return be;
}

bool int8_integer_pays(int64_t rows, int64_t cols, int64_t p, const Kernels& k) {
  static std::mutex mu;
  static std::map<std::tuple<int64_t, int64_t, int64_t, int>, bool> cache;
  rows = std::min<int64_t>(rows, 512);
  const auto key = std::make_tuple(rows, cols, p, static_cast<int>(k.isa));
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  std::mt19937 rng(54321);
  Matrix dn;
  if (!densify(synthetic("int8", rows, cols, 1.0, rng), &dn)) return true;
  std::vector<float> x(static_cast<size_t>(cols * p)), y(static_cast<size_t>(rows * p));
  std::uniform_real_distribution<float> u(0, 1);
  for (auto& v : x) v = u(rng);
  Scratch s;
  const bool pays = time_of(dn, x, p, y, s, k, Int8Mode::Integer) < time_of(dn, x, p, y, s, k, Int8Mode::Float);
  cache[key] = pays;
  return pays;
}

}  // namespace mcdnn::exec
