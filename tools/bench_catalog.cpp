// bench_catalog: what pre-forwarding (cached activations of the frozen prefix) buys when
// building a catalog. Trains a base model on a subset of the schema's data, then runs the same
// sweep twice: with the FeatureCache (mcdnn's default) and with caching disabled (every
// fine-tuning step runs the frozen prefix forward again: the baseline). Prints the sweep times and ratio.
//   bench_catalog [schema] [--limit N] [--epochs E] [--threads T]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <thread>

#include "bench_main.hpp"
#include "data/dataset.hpp"
#include "sweep/sweep.hpp"
#include "profile/profile.hpp"
#include "train/finetune.hpp"

using namespace mcdnn;

const char kUsage[] = "bench_catalog [schema] [--limit N] [--epochs E] [--threads T]\n"
    "  a catalog sweep with and without cached activations of the frozen prefix (default schema schemas/fashion-mnist.yaml)";

int run_bench(int argc, char** argv) {
  std::string path = "schemas/fashion-mnist.yaml";
  int64_t limit = 10000, epochs = 2;
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--limit") && i + 1 < argc) limit = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--epochs") && i + 1 < argc) epochs = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) threads = std::atoi(argv[++i]);
    else {
      reject_flag(argv[i]);
      path = argv[i];
    }
  }
  torch::set_num_threads(threads);
  tune_runtime();
  Schema s = parse_schema_file(path);
  s.data.limit_train = s.data.limit_validation = limit;
  s.training.epochs = epochs;
  Dataset tr, va;
  load_data(s, &tr, &va);
  torch::manual_seed(1);
  Variant base;
  base.id = "base";
  base.net = Net(s.layers);
  auto trd = to_tensors(tr, torch::kCPU), vad = to_tensors(va, torch::kCPU);
  auto res = train(base.net, trd, vad, s.training, TrainOptions{});
  VariantRecord rec;
  rec.id = "base";
  rec.profile = profile_variant(base);
  rec.accuracy = res.val_accuracy;
  std::printf("bench_catalog: %s, %lld train / %lld validation examples, base %lld epochs: %.1f s, %.2f%%\n",
              s.name.c_str(), static_cast<long long>(tr.n), static_cast<long long>(va.n),
              static_cast<long long>(epochs), res.total_seconds, 100 * res.val_accuracy);
  int64_t sub = std::min<int64_t>(s.catalog.finetune.examples, tr.n);
  double t[2] = {0, 0};
  size_t n = 0;
  for (int cached = 1; cached >= 0; --cached) {
    FeatureCache cache(base.net, TensorData{trd.x.slice(0, 0, sub), trd.y.slice(0, 0, sub)}, vad,
                       cached ? s.catalog.finetune.cache_mb << 20 : 0);
    std::ostringstream log;
    MemoryStore store;
    auto sw = run_sweep(s, base, rec, cache, store, log);
    t[cached] = sw.seconds;
    n = sw.records.size() - 1;
    std::printf("  %-46s %3zu variants %8.1f s  (%.2fx the base training)\n",
                cached ? "pre-forwarded prefix cache (mcdnn)" : "no cache: prefix run every step [baseline]", n, sw.seconds,
                sw.seconds / res.total_seconds);
  }
  std::printf("  speed-up from caching: %.2fx\n", t[0] / t[1]);
  return 0;
}

int main(int argc, char** argv) { return bench_main("bench_catalog", kUsage, argc, argv, run_bench); }
