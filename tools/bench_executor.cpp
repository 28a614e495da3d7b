// bench_executor: the executor against LibTorch and against its own dense kernel, one
// invocation, one thread everywhere, on this machine.
//   bench_executor [CATALOG]   (default out/fashion-mnist, the default schema's catalog)
// Prints:
//   1. the base model at batch 1: executor vs LibTorch (NoGradGuard, eval mode)        target >= 2x
//   2. fc1 (512 x 3136) at batch 1, each representation vs the executor's dense f32:
//      90% sparse >= 3x, rank n/8 >= 4x, int8 >= 2x, 4-bit codebook >= 2x
//   3. end to end: the bytes-knee and FLOPs-knee variants' latency vs the base, next to their
//      FLOP ratio
//   4. resident memory: bytes the loaded model holds and the RSS growth of a fresh process
//      loading it (after a first, small load), base vs the 2-bit variant and the smallest
// Latencies are medians of timed runs after warm-up; the machine should be idle.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>

#include "bench_child.hpp"
#include "bench_main.hpp"
#include "catalog/catalog.hpp"
#include "measure.hpp"
#include "model.hpp"

using namespace mcdnn;
using Clock = std::chrono::steady_clock;

namespace {

template <class F>
double median_seconds(F&& f, double budget = 0.5) {
  for (int i = 0; i < 20; ++i) f();
  std::vector<double> t;
  const auto start = Clock::now();
  while (t.size() < 30 || (std::chrono::duration<double>(Clock::now() - start).count() < budget && t.size() < 200000)) {
    const auto t0 = Clock::now();
    f();
    t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

long rss_kb() {
  std::ifstream in("/proc/self/statm");
  long size = 0, resident = 0;
  in >> size >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

// Child: load `warm` first (HDF5, OpenBLAS and the kernel measurements pay their one-time
// memory there), then `file`; print "resident_bytes rss_growth_kb" of the second load.
int child(const std::string& warm, const std::string& file) {
  exec::single_threaded_blas();
  auto load = [](const std::string& path) {
    VariantFile f = read_variant_file(path);
    return exec::Model::from_file(f);
  };
  exec::Model first = load(warm);
  const long before = rss_kb();
  exec::Model m = load(file);
  std::printf("%lld %ld\n", static_cast<long long>(m.resident_bytes()), rss_kb() - before);
  return 0;
}

exec::Matrix matrix_of(const std::vector<float>& w, int64_t rows, int64_t cols, const char* storage, bool sparse) {
  return exec::make_matrix(encode_tensor(w.data(), {rows, cols}, storage, sparse));
}

}  // namespace

const char kUsage[] = "bench_executor [CATALOG]\n"
    "  the executor against LibTorch and against its own dense kernel, on a catalog (default out/fashion-mnist)";

int run_bench(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--child") return child(argv[2], argv[3]);
  if (argc > 1) reject_flag(argv[1]);
  if (argc > 2) throw BadFlag(std::string("one CATALOG at most, got '") + argv[2] + "' too");
  const std::string dir = argc > 1 ? argv[1] : "out/fashion-mnist";
  torch::set_num_threads(1);
  exec::single_threaded_blas();
  const CatalogIndex index = read_catalog_index(dir);
  const VariantRecord& base_rec = index.records.front();
  const VariantFile base_file = load_variant(index, base_rec);
  const exec::Isa isa = exec::active_isa();
  std::printf("bench_executor: %s, %s, 1 thread, catalog %s (%zu variants)\n\n", exec::cpu_model().c_str(),
              exec::isa_name(isa), dir.c_str(), index.records.size());

  // 1. Base model, batch 1.
  exec::Model base = exec::Model::from_file(base_file);
  Variant tv = variant_from_file(base_file);
  tv.net->eval();
  const Shape in = index.input.input;
  std::mt19937 rng(1);
  std::normal_distribution<float> g(0, 1);
  std::vector<float> x(static_cast<size_t>(in.numel())), y(static_cast<size_t>(base.num_classes()));
  for (auto& v : x) v = g(rng);
  torch::Tensor xt = torch::from_blob(x.data(), {1, in.c, in.h, in.w}, torch::kFloat);
  const double t_torch = median_seconds([&] {
    torch::NoGradGuard ng;
    auto out = tv.net->forward(xt);
    (void)out.data_ptr<float>();
  });
  const double t_exec = median_seconds([&] { base.run(x.data(), 1, y.data()); });
  std::printf("1. base model, batch 1          LibTorch %8.3f ms   executor %8.3f ms   %5.2fx  (target >= 2x)\n\n",
              t_torch * 1e3, t_exec * 1e3, t_torch / t_exec);

  // 2. fc1 at batch 1: the trained weights in every representation.
  size_t fc = 0;
  for (size_t i = 0; i < base_file.layers.size(); ++i)
    if (base_file.layers[i].kind == LayerKind::Linear) {
      fc = i;
      break;
    }
  const LayerSpec& l = base_file.layers[fc];
  const auto w = decode_tensor(base_file.tensors[fc][0]);
  const int64_t rows = l.out, cols = l.in.numel();
  std::vector<float> xf(static_cast<size_t>(cols)), yf(static_cast<size_t>(rows)), mid(static_cast<size_t>(rows));
  for (auto& v : xf) v = std::max(0.0f, g(rng));  // post-ReLU activations
  const exec::Kernels& k = exec::kernels(isa);
  exec::Scratch s;
  auto time_matrix = [&](const exec::Matrix& m) {
    return median_seconds([&] { exec::matmul(m, xf.data(), 1, yf.data(), s, k); }, 0.3);
  };
  const exec::Matrix dense = matrix_of(w, rows, cols, "f32", false);
  const double t_dense = time_matrix(dense);
  // Magnitude pruning to 90% zeros.
  std::vector<float> pruned = w, mags(w.size());
  for (size_t i = 0; i < w.size(); ++i) mags[i] = std::fabs(w[i]);
  std::nth_element(mags.begin(), mags.begin() + static_cast<long>(mags.size() * 9 / 10), mags.end());
  const float cut = mags[mags.size() * 9 / 10];
  for (auto& v : pruned)
    if (std::fabs(v) < cut) v = 0;
  // Rank n/8 factors (n = the smaller dimension, 512 -> 64): timing does not depend on the values.
  const int64_t rank = std::min(rows, cols) / 8;
  std::vector<float> fa(static_cast<size_t>(rank * cols)), fb(static_cast<size_t>(rows * rank));
  for (auto& v : fa) v = g(rng) * 0.01f;
  for (auto& v : fb) v = g(rng) * 0.01f;
  const exec::Matrix a = matrix_of(fa, rank, cols, "f32", false), b = matrix_of(fb, rows, rank, "f32", false);
  const double t_lowrank = median_seconds([&] {
    exec::matmul(a, xf.data(), 1, mid.data(), s, k);
    exec::matmul(b, mid.data(), 1, yf.data(), s, k);
  }, 0.3);
  struct Row {
    const char* what;
    double t;
    double target;
  };
  std::vector<Row> rows_out = {
      {"90% sparse f32 (8-bit relative indices)", time_matrix(matrix_of(pruned, rows, cols, "f32", true)), 3},
      {"90% sparse int8", time_matrix(matrix_of(pruned, rows, cols, "int8", true)), 0},
      {"90% sparse cb4", time_matrix(matrix_of(pruned, rows, cols, "cb4", true)), 0},
      {"rank n/8 (two products)", t_lowrank, 4},
      {"int8 (integer, per-row scales)", time_matrix(matrix_of(w, rows, cols, "int8", false)), 2},
      {"f16", time_matrix(matrix_of(w, rows, cols, "f16", false)), 0},
      {"codebook 8-bit", time_matrix(matrix_of(w, rows, cols, "cb8", false)), 0},
      {"codebook 4-bit", time_matrix(matrix_of(w, rows, cols, "cb4", false)), 2},
      {"codebook 2-bit", time_matrix(matrix_of(w, rows, cols, "cb2", false)), 0},
  };
  std::printf("2. %s (%lld x %lld), batch 1, vs the executor's dense f32 kernel (%.3f ms)\n", l.name.c_str(),
              static_cast<long long>(rows), static_cast<long long>(cols), t_dense * 1e3);
  for (const auto& r : rows_out) {
    char target[32] = "";
    if (r.target > 0) std::snprintf(target, sizeof target, "(target >= %.0fx)", r.target);
    std::printf("   %-42s %8.4f ms  %6.2fx  %s\n", r.what, r.t * 1e3, t_dense / r.t, target);
  }

  // 3. End to end: the knees.
  std::printf("\n3. end to end, batch 1 (executor)            latency    vs base   FLOP ratio   bytes ratio\n");
  auto e2e = [&](const VariantRecord& r, const char* label) {
    const VariantFile f = load_variant(index, r);
    exec::Model m = exec::Model::from_file(f);
    const double t = median_seconds([&] { m.run(x.data(), 1, y.data()); });
    std::printf("   %-12s %-28s %7.4f ms  %6.2fx   %6.2fx      %6.1fx\n", label, r.id.substr(0, 28).c_str(), t * 1e3,
                t_exec / t, static_cast<double>(base_rec.profile.flops_effective) / static_cast<double>(std::max<int64_t>(1, r.profile.flops_effective)),
                static_cast<double>(base_rec.profile.bytes) / static_cast<double>(std::max<int64_t>(1, r.profile.bytes)));
    if (r.id.size() > 28) std::printf("                (%s)\n", r.id.c_str());
    // Where the time goes: each executor step, mean over 2000 timed runs.
    std::vector<double> steps;
    for (int i = 0; i < 2000; ++i) m.run_timed(x.data(), 1, y.data(), &steps);
    for (size_t i = 0; i < steps.size(); ++i)
      std::printf("                  %-28s %-34s %7.4f ms\n", m.steps()[i].name.c_str(), m.steps()[i].describe().c_str(),
                  steps[i] / 2000 * 1e3);
  };
  e2e(base_rec, "base");
  const VariantRecord* smallest = &base_rec;
  for (const auto& r : index.records) {
    if (r.knee_bytes) e2e(r, "bytes knee");
    if (r.knee_flops) e2e(r, "FLOPs knee");
    if (r.profile.bytes < smallest->profile.bytes) smallest = &r;
  }

  // 4. Memory in a fresh process (after loading the smallest variant once, so that the libraries'
  // one-time allocations are not counted).
  const VariantRecord* cb2 = index.find("quant-cb2-ft");
  std::printf("\n4. loaded in a fresh process          stored bytes   resident bytes   RSS growth   vs base\n");
  long base_rss = 0;
  for (const VariantRecord* r : {&base_rec, cb2, smallest}) {
    if (!r) continue;
    const std::string out = run_self(argv[0], {"--child", dir + "/" + smallest->file, dir + "/" + r->file});
    long long resident = 0;
    long rss = 0;
    std::sscanf(out.c_str(), "%lld %ld", &resident, &rss);
    if (r == &base_rec) base_rss = rss;
    std::printf("   %-34s %12lld   %14lld   %8ld KB   %5.1fx\n", r->id.substr(0, 34).c_str(), static_cast<long long>(r->profile.bytes),
                resident, rss, static_cast<double>(base_rss) / static_cast<double>(std::max(rss, 1L)));
  }
  return 0;
}

int main(int argc, char** argv) { return bench_main("bench_executor", kUsage, argc, argv, run_bench); }
