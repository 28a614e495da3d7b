// bench_codebook: what codebook fine-tuning (training the k-means centroids, codes fixed)
// recovers. Loads a trained base model from a catalog, quantizes all weights to 4- and 2-bit
// codebooks, and evaluates each as stored [baseline] and after one epoch of centroid training.
//   bench_codebook CATALOG_DIR [schema] [--threads T]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "bench_main.hpp"
#include "catalog/catalog.hpp"
#include "data/dataset.hpp"
#include "passes/passes.hpp"
#include "train/finetune.hpp"

using namespace mcdnn;

const char kUsage[] = "bench_codebook CATALOG_DIR [schema] [--threads T]\n"
    "  4- and 2-bit codebooks of a catalog's base model, as stored and after centroid training";

int run_bench(int argc, char** argv) {
  if (argc < 2) throw BadFlag("CATALOG_DIR is required");
  reject_flag(argv[1]);
  std::string cat = argv[1], path = "schemas/fashion-mnist.yaml";
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  for (int i = 2; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) threads = std::atoi(argv[++i]);
    else {
      reject_flag(argv[i]);
      path = argv[i];
    }
  }
  torch::set_num_threads(threads);
  tune_runtime();
  Schema s = parse_schema_file(path);
  Dataset tr, va;
  load_data(s, &tr, &va);
  Variant base = read_variant(cat + "/base.h5");
  auto trd = to_tensors(tr, torch::kCPU), vad = to_tensors(va, torch::kCPU);
  int64_t sub = std::min<int64_t>(s.catalog.finetune.examples, tr.n);
  FeatureCache cache(base.net, TensorData{trd.x.slice(0, 0, sub), trd.y.slice(0, 0, sub)}, vad, 0);
  std::printf("bench_codebook: %s base %.2f%%; centroid training: %lld epoch(s) on %lld examples, Adam lr %g\n",
              cat.c_str(), 100 * evaluate(base.net, vad, 1000), static_cast<long long>(s.catalog.finetune.epochs),
              static_cast<long long>(sub), s.catalog.finetune.lr);
  for (const char* fmt : {"cb4", "cb2"}) {
    Variant q = quantize_weights(base, fmt, {});
    auto t0 = std::chrono::steady_clock::now();
    auto r = finetune(q, 0, cache, s.catalog.finetune, true, 1);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("  all weights %s: as stored [baseline] %6.2f%%  after centroid training %6.2f%%  (%+.2f points, %.1f s)\n",
                fmt, 100 * r.accuracy_before, 100 * r.accuracy_after, 100 * (r.accuracy_after - r.accuracy_before), secs);
  }
  return 0;
}

int main(int argc, char** argv) { return bench_main("bench_codebook", kUsage, argc, argv, run_bench); }
