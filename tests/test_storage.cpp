// Weight storage: every format round-trips bit for bit, sparse rows with long zero runs,
// codebook sizes, int8 error bounds, half conversions against LibTorch.
#include <cmath>
#include <cstring>
#include <random>
#include <set>

#include "catch.hpp"
#include "fixtures.hpp"
#include "nn/storage.hpp"
#include <torch/torch.h>

using namespace mcdnn;
using mcdnn::test::random_weights;

TEST_CASE("every storage format decodes to what re-encoding reproduces, dense and sparse", "[storage]") {
  const std::vector<int64_t> shape = {7, 3, 5, 5};  // 7 rows x 75
  for (const char* fmt : {"f32", "f16", "int8", "cb8", "cb4", "cb2"})
    for (bool sparse : {false, true}) {
      INFO(fmt << (sparse ? " sparse" : " dense"));
      auto w = random_weights(7 * 75, sparse ? 0.8 : 0.0, 5);
      EncodedTensor e = encode_tensor(w.data(), shape, fmt, sparse);
      std::vector<float> d = decode_tensor(e);
      REQUIRE(d.size() == w.size());
      // Zeros stay zeros under sparse storage.
      if (sparse)
        for (size_t i = 0; i < w.size(); ++i)
          if (w[i] == 0.f) REQUIRE(d[i] == 0.f);
      // The decoded weights are a fixed point: encoding them again decodes to the same bits.
      EncodedTensor e2 = encode_tensor(d.data(), shape, fmt, sparse);
      std::vector<float> d2 = decode_tensor(e2);
      // (int8 re-derives its scale from the decoded maximum, exact up to one rounding.)
      for (size_t i = 0; i < d.size(); ++i) {
        if (std::string(fmt) == "int8") REQUIRE(std::fabs(d[i] - d2[i]) <= 1e-6f * std::fabs(d[i]));
        else REQUIRE(std::memcmp(&d[i], &d2[i], 4) == 0);
      }
      if (std::string(fmt) == "f32") REQUIRE(d == w);
      int bits = codebook_bits(fmt);
      if (bits) {
        std::set<float> distinct(d.begin(), d.end());
        distinct.erase(0.f);
        CHECK(static_cast<int>(distinct.size()) <= (1 << bits) - (sparse ? 1 : 0));
      }
    }
}

TEST_CASE("byte accounting of each format is exact", "[storage]") {
  const int64_t rows = 4, cols = 100;
  auto w = random_weights(rows * cols, 0.0, 9);
  auto bytes = [&](const char* f, bool sp) { return encode_tensor(w.data(), {rows, cols}, f, sp).bytes(); };
  CHECK(bytes("f32", false) == 4 * 400);
  CHECK(bytes("f16", false) == 2 * 400);
  CHECK(bytes("int8", false) == 400 + 4 * rows);  // values + per-row scales
  CHECK(bytes("cb4", false) == 200 + 4 * 16);     // 4-bit codes + 16 centroids
  CHECK(bytes("cb2", false) == 100 + 4 * 4);
  // Sparse: keep 10 per row at known columns -> 40 entries: uint16 row counts + uint8 gaps + values.
  std::vector<float> s(static_cast<size_t>(rows * cols), 0.f);
  for (int r = 0; r < rows; ++r)
    for (int k = 0; k < 10; ++k) s[static_cast<size_t>(r * cols + k * 9)] = 1.f + k;
  auto e = encode_tensor(s.data(), {rows, cols}, "f32", true);
  CHECK(e.entries == 40);
  CHECK(e.bytes() == 2 * rows + 40 + 4 * 40);
}

TEST_CASE("sparse rows bridge gaps over 255 with zero fillers", "[storage]") {
  const int64_t cols = 1000;
  std::vector<float> w(static_cast<size_t>(2 * cols), 0.f);
  w[999] = 0.5f;         // row 0: one weight at the far end: gap 999 = 3 fillers (768) + 231
  w[cols + 0] = -1.f;    // row 1: first and last column
  w[cols + 999] = 2.f;
  for (const char* fmt : {"f32", "int8", "cb2"}) {
    INFO(fmt);
    auto e = encode_tensor(w.data(), {2, cols}, fmt, true);
    CHECK(e.entries == 4 + 2 + 3);  // row 0: 3 fillers + 1; row 1: 1 + 3 fillers + 1
    auto d = decode_tensor(e);
    for (size_t i = 0; i < w.size(); ++i) {
      INFO(i);
      if (w[i] == 0.f) REQUIRE(d[i] == 0.f);
      else REQUIRE(d[i] != 0.f);
    }
  }
  auto d = decode_tensor(encode_tensor(w.data(), {2, cols}, "f32", true));
  CHECK(d == w);
}

TEST_CASE("int8 error is at most half a step per row", "[storage]") {
  auto w = random_weights(6 * 50, 0.0, 3);
  auto d = decode_tensor(encode_tensor(w.data(), {6, 50}, "int8", false));
  for (int r = 0; r < 6; ++r) {
    float mx = 0;
    for (int c = 0; c < 50; ++c) mx = std::max(mx, std::fabs(w[static_cast<size_t>(r * 50 + c)]));
    for (int c = 0; c < 50; ++c) {
      size_t i = static_cast<size_t>(r * 50 + c);
      REQUIRE(std::fabs(d[i] - w[i]) <= mx / 127 / 2 * 1.0001f);
    }
  }
}

TEST_CASE("half conversion matches LibTorch's, subnormals and rounding included", "[storage]") {
  std::mt19937 rng(1);
  std::vector<float> v = {0.f, -0.f, 1.f, 65504.f, 70000.f, 6e-8f, 3e-8f, 1e-9f, 1.00048828125f, 1.000732421875f};
  std::uniform_real_distribution<float> u(-8, 8);
  for (int i = 0; i < 2000; ++i) v.push_back(std::ldexp(u(rng), static_cast<int>(rng() % 40) - 30));
  auto t = torch::from_blob(v.data(), {static_cast<int64_t>(v.size())}, torch::kFloat32).to(torch::kHalf).to(torch::kFloat32);
  for (size_t i = 0; i < v.size(); ++i) {
    INFO(v[i]);
    float ours = f16_to_f32(f32_to_f16(v[i]));
    float ref = t[static_cast<int64_t>(i)].item<float>();
    REQUIRE(std::memcmp(&ours, &ref, 4) == 0);
  }
}

TEST_CASE("1-D k-means finds separated clusters", "[storage]") {
  std::vector<float> v;
  for (int i = 0; i < 30; ++i) v.push_back(-1.f + 0.001f * static_cast<float>(i % 3));
  for (int i = 0; i < 30; ++i) v.push_back(2.f + 0.001f * static_cast<float>(i % 3));
  auto c = kmeans_1d(v, 2);
  REQUIRE(c.size() == 2);
  CHECK(c[0] == Approx(-0.999f));
  CHECK(c[1] == Approx(2.001f));
}
