// bench_svd: the large-layer costs of the catalog passes, before and after, in one invocation.
//   * SVD of an m x n weight matrix: Eigen's BDCSVD (the compiler's method before; recomputed for
//     every rank) [baseline] against LAPACK's divide-and-conquer gesdd through LibTorch/OpenBLAS
//     (now; computed once per layer and reused for every rank);
//   * k-means codebooks (8, 4, 2 bits) over N weights: one O(N) pass per Lloyd iteration [baseline]
//     against prefix sums over the sorted values (now), with the centroids compared.
//   bench_svd [--m 4096] [--n 3072] [--ranks 4] [--weights 29000000] [--skip-baseline-svd] [--threads T]
#include <Eigen/Dense>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>

#include "bench_main.hpp"
#include "nn/storage.hpp"
#include "passes/passes.hpp"

using namespace mcdnn;
using Clock = std::chrono::steady_clock;

namespace {
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The k-means of mcdnn before this change: one pass over all values per iteration.
std::vector<float> kmeans_linear(const std::vector<float>& v, int k, int iters = 30) {
  std::vector<float> c(static_cast<size_t>(k), 0.f);
  auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  for (int i = 0; i < k; ++i) c[i] = *lo + (*hi - *lo) * static_cast<float>(i) / (k - 1);
  std::vector<float> sorted(v);
  std::sort(sorted.begin(), sorted.end());
  for (int it = 0; it < iters; ++it) {
    std::vector<double> sum(c.size(), 0.0);
    std::vector<int64_t> cnt(c.size(), 0);
    size_t j = 0;
    for (float x : sorted) {
      while (j + 1 < c.size() && x > 0.5f * (c[j] + c[j + 1])) ++j;
      sum[j] += x;
      ++cnt[j];
    }
    bool moved = false;
    for (size_t i = 0; i < c.size(); ++i)
      if (cnt[i] > 0) {
        float nc = static_cast<float>(sum[i] / static_cast<double>(cnt[i]));
        moved = moved || nc != c[i];
        c[i] = nc;
      }
    std::sort(c.begin(), c.end());
    if (!moved) break;
  }
  return c;
}
}  // namespace

const char kUsage[] = "bench_svd [--m 4096] [--n 3072] [--ranks 4] [--weights 29000000] [--skip-baseline-svd] [--threads T]\n"
    "  SVD and k-means codebook costs of large layers, before and after";

int run_bench(int argc, char** argv) {
  int64_t m = 4096, n = 3072, ranks = 4, weights = 29000000;
  bool skip_baseline_svd = false;
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  for (int i = 1; i < argc; ++i) {
    auto next = [&] {  // a positive integer
      const long long v = i + 1 < argc ? std::atoll(argv[i + 1]) : 0;
      if (v < 1) throw BadFlag(std::string(argv[i]) + ": expected a positive integer");
      return static_cast<int64_t>(std::atoll(argv[++i]));
    };
    if (!std::strcmp(argv[i], "--m")) m = next();
    else if (!std::strcmp(argv[i], "--n")) n = next();
    else if (!std::strcmp(argv[i], "--ranks")) ranks = next();
    else if (!std::strcmp(argv[i], "--weights")) weights = next();
    else if (!std::strcmp(argv[i], "--threads")) threads = static_cast<int>(next());
    else if (!std::strcmp(argv[i], "--skip-baseline-svd")) skip_baseline_svd = true;
    else throw BadFlag(std::string("unknown option '") + argv[i] + "'");
  }
  torch::set_num_threads(threads);
  Eigen::setNbThreads(threads);
  std::printf("bench_svd: %lld x %lld matrix, %lld ranks; k-means over %lld weights; %d threads\n", static_cast<long long>(m),
              static_cast<long long>(n), static_cast<long long>(ranks), static_cast<long long>(weights), threads);
  torch::manual_seed(1);
  // A trained-like spectrum: random, with decaying singular values.
  auto w = torch::randn({m, n}, torch::kFloat64) / std::sqrt(static_cast<double>(n));
  double t_new = 0, t_old = -1;
  {
    auto t0 = Clock::now();
    auto usv = torch::linalg_svd(w, false);
    t_new = since(t0);
    auto s = std::get<1>(usv);
    std::printf("  gesdd (LibTorch/OpenBLAS, float64): %.2f s per layer; s[0] %.4f\n", t_new, s[0].item<double>());
    if (!skip_baseline_svd) {
      using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
      auto wc = w.contiguous();
      Mat e = Eigen::Map<const Mat>(wc.data_ptr<double>(), m, n);
      auto t1 = Clock::now();
      Eigen::BDCSVD<Mat> svd(e, Eigen::ComputeThinU | Eigen::ComputeThinV);
      t_old = since(t1);
      const double ds = (svd.singularValues().head(5) - Eigen::Map<const Eigen::VectorXd>(s.contiguous().data_ptr<double>(), 5)).cwiseAbs().maxCoeff();
      std::printf("  BDCSVD (Eigen, float64) [baseline]: %.2f s per rank; top singular values agree within %.2g\n", t_old, ds);
    }
  }
  if (t_old > 0)
    std::printf("  %lld ranks of one layer: %.1f s before (one BDCSVD per rank), %.1f s now (one gesdd): %.1fx\n",
                static_cast<long long>(ranks), ranks * t_old, t_new, ranks * t_old / t_new);
  else
    std::printf("  %lld ranks of one layer: %.1f s now (one gesdd)\n", static_cast<long long>(ranks), t_new);

  std::mt19937 rng(3);
  std::normal_distribution<float> g(0.f, 0.02f);
  std::vector<float> v(static_cast<size_t>(weights));
  for (auto& x : v) x = g(rng);
  for (int bits : {8, 4, 2}) {
    const int k = 1 << bits;
    auto t0 = Clock::now();
    auto before = kmeans_linear(v, k);
    const double tb = since(t0);
    auto t1 = Clock::now();
    auto now = kmeans_1d(v, k);
    const double tn = since(t1);
    double dc = 0;
    for (size_t i = 0; i < now.size(); ++i) dc = std::max(dc, static_cast<double>(std::fabs(now[i] - before[i])));
    std::printf("  k-means %d centroids: %.2f s [baseline: one pass per iteration] -> %.2f s (prefix sums): %.1fx; "
                "max centroid difference %.2g\n",
                k, tb, tn, tb / tn, dc);
  }
  return 0;
}

int main(int argc, char** argv) { return bench_main("bench_svd", kUsage, argc, argv, run_bench); }
