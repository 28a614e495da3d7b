// Executor kernels against a double-precision reference: every storage, dense and sparse (0%,
// 50%, 97% zeros, runs over 255 columns that need fillers), awkward shapes (1 row, 1 column,
// odd sizes, tails past every SIMD width), one and several columns, every instruction set this
// CPU has (scalar always). Seeded.
#include <cmath>
#include <random>

#include "catch.hpp"
#include "fixtures.hpp"
#include "matrix.hpp"
#include "break_even.hpp"
#include "energy.hpp"

using namespace mcdnn;
using mcdnn::test::random_weights;
using namespace mcdnn::exec;

namespace {


std::vector<Isa> isas() {
  std::vector<Isa> v{Isa::Scalar};
  if (isa_supported(Isa::Avx2)) v.push_back(Isa::Avx2);
  if (isa_supported(Isa::Avx512)) v.push_back(Isa::Avx512);
  return v;
}

}  // namespace

TEST_CASE("executor products match the reference for every storage, sparsity, shape and ISA", "[executor][kernels]") {
  const int64_t shapes[][2] = {{1, 1}, {1, 9}, {7, 1}, {5, 31}, {33, 100}, {4, 300}, {17, 577}};
  int checked = 0;
  for (Isa isa : isas()) {
    const Kernels& k = kernels(isa);
    for (const char* fmt : {"f32", "f16", "int8", "cb8", "cb4", "cb2"})
      for (double sparsity : {0.0, 0.5, 0.97})
        for (bool sparse : {false, true})
          for (const auto& sh : shapes)
            for (int64_t p : {1, 3, 17}) {
              if (!sparse && sparsity > 0.5) continue;
              const int64_t rows = sh[0], cols = sh[1];
              INFO(isa_name(isa) << " " << fmt << (sparse ? " sparse " : " dense ") << sparsity << " " << rows << "x" << cols
                                 << " p=" << p);
              const auto w = random_weights(rows * cols, sparsity, static_cast<uint32_t>(rows * 1000 + cols));
              const EncodedTensor e = encode_tensor(w.data(), {rows, cols}, fmt, sparse);
              const Matrix m = make_matrix(e);
              REQUIRE(m.rows == rows);
              REQUIRE(m.cols == cols);
              std::mt19937 rng(7);
              std::uniform_real_distribution<float> u(-1, 2);  // signed inputs exercise the int8 zero point
              std::vector<float> x(static_cast<size_t>(cols * p));
              for (auto& v : x) v = u(rng);
              std::vector<float> ref(static_cast<size_t>(rows * p)), y(ref.size());
              matmul_reference(m, x.data(), p, ref.data());
              // The reference equals a product with decode_tensor()'s weights.
              const auto dec = decode_tensor(e);
              for (int64_t r = 0; r < rows; ++r)
                for (int64_t j = 0; j < p; ++j) {
                  double s = 0;
                  for (int64_t c = 0; c < cols; ++c) s += static_cast<double>(dec[static_cast<size_t>(r * cols + c)]) * x[static_cast<size_t>(c * p + j)];
                  REQUIRE(std::fabs(s - ref[static_cast<size_t>(r * p + j)]) <= 1e-5 * (1 + std::fabs(s)));
                }
              for (Int8Mode mode : {Int8Mode::Float, Int8Mode::Integer}) {
                if (mode == Int8Mode::Integer && std::string(fmt) != "int8") continue;
                Scratch s;
                matmul(m, x.data(), p, y.data(), s, k, mode);
                for (int64_t r = 0; r < rows; ++r)
                  for (int64_t j = 0; j < p; ++j) {
                    // Float kernels: 1e-5 of sum |w x| (summation order). Integer int8: each
                    // activation is off by at most half a step s_x = range_j / 255, so the
                    // error is at most s_x / 2 * sum |w| (plus the float part).
                    double mag = 0, wsum = 0, lo = 0, hi = 0;
                    for (int64_t c = 0; c < cols; ++c) {
                      const double xv = x[static_cast<size_t>(c * p + j)];
                      mag += std::fabs(dec[static_cast<size_t>(r * cols + c)] * xv);
                      wsum += std::fabs(dec[static_cast<size_t>(r * cols + c)]);
                      lo = std::min(lo, xv), hi = std::max(hi, xv);
                    }
                    double tol = 1e-5 * (1 + mag);
                    if (mode == Int8Mode::Integer && !sparse) tol += 0.5 * (hi - lo) / 255 * wsum * 1.001;
                    const float got = y[static_cast<size_t>(r * p + j)], want = ref[static_cast<size_t>(r * p + j)];
                    if (!(std::fabs(got - want) <= tol)) FAIL("row " << r << " col " << j << ": " << got << " vs " << want << " (tol " << tol << ")");
                  }
                ++checked;
              }
            }
  }
  CHECK(checked > 500);
}

TEST_CASE("densify keeps the product and the storage, and sparse codebooks keep code 0 as zero", "[executor][kernels]") {
  for (const char* fmt : {"f32", "f16", "int8", "cb8", "cb4", "cb2"}) {
    INFO(fmt);
    const auto w = random_weights(9 * 700, 0.9, 3);
    const Matrix sp = make_matrix(encode_tensor(w.data(), {9, 700}, fmt, true));
    Matrix dn;
    REQUIRE(densify(sp, &dn));
    CHECK_FALSE(dn.sparse);
    CHECK(dn.storage == fmt);
    std::vector<float> x(700, 0.5f), a(9), b(9);
    matmul_reference(sp, x.data(), 1, a.data());
    matmul_reference(dn, x.data(), 1, b.data());
    for (int r = 0; r < 9; ++r) CHECK(a[static_cast<size_t>(r)] == Approx(b[static_cast<size_t>(r)]).margin(1e-6));
  }
}

TEST_CASE("the sparse/dense break-even density is measured and cached", "[executor][kernels]") {
  const Kernels& k = kernels(detected_isa());
  const BreakEven be = break_even("f32", 128, 1024, 1, k);
  CHECK(be.dense_seconds > 0);
  CHECK(be.density >= 0);
  CHECK(be.density <= 0.6);
  const BreakEven again = break_even("f32", 128, 1024, 1, k);
  CHECK(again.density == be.density);  // cached, not re-measured
}

TEST_CASE("MCDNN_ISA narrows the instruction set and rejects unknown values", "[executor]") {
  setenv("MCDNN_ISA", "scalar", 1);
  CHECK(active_isa() == Isa::Scalar);
  setenv("MCDNN_ISA", "sse9", 1);
  CHECK_THROWS_WITH(active_isa(), Catch::Contains("expected scalar, avx2 or avx512"));
  unsetenv("MCDNN_ISA");
  CHECK(active_isa() == detected_isa());
}

TEST_CASE("the energy model: formula, profiles, and unknown profile names", "[executor][energy]") {
  const DeviceProfile& d = device_profile("epyc-zen4-core");
  // 1 ms at 5.6 W plus 1 MB read from DRAM at 160 pJ/B; load: 2 ms at 5.6 W plus 1 MB at 1.7 nJ/B.
  const Energy e = estimate_energy(d, 1e-3, 1e6, 1000000, 2e-3, 1000000);
  CHECK(e.exec_j == Approx(5.6e-3 + 160e-12 * 1e6).epsilon(1e-12));
  CHECK(e.load_j == Approx(5.6 * 2e-3 + 1.7e-9 * 1e6).epsilon(1e-12));
  // The paper's fit: 1 GFLOP and 1 MB execute in 1.27 J + 6 mJ; a 1 MB load costs 3.6 J + 28.9 mJ.
  const Energy tk1 = estimate_energy(device_profile("jetson-tk1-mcdnn"), 123.0, 1e9, 1000000, 45.0, 1000000);
  CHECK(tk1.exec_j == Approx(1.27 + 0.006));
  CHECK(tk1.load_j == Approx(3.6 + 0.0289));
  CHECK(energy_formula(d).find("mcdnn-energy/1") == 0);
  CHECK_THROWS_WITH(device_profile("pixel"), Catch::Contains("known: epyc-zen4-core, jetson-tk1-mcdnn"));
}
