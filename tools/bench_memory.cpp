// bench_memory: peak resident memory of a catalog build against the number of variants. The
// same sweep of a 5.8 M-parameter MLP (23 MB of fp32 weights) is run for a 5- and a 30-variant
// catalog, each in a fresh process, with mcdnn's store (every finished variant written to the
// build directory and dropped from memory unless a later step derives from it) and with every
// variant kept in memory until the end [baseline: what the compiler did before]. Reports the
// process's peak RSS (VmHWM) and the most variants resident at once.
//   bench_memory
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "bench_child.hpp"
#include "bench_main.hpp"
#include "catalog/catalog.hpp"
#include "checkpoint_store.hpp"
#include "sweep/sweep.hpp"
#include "schema/schema.hpp"
#include "train/finetune.hpp"

using namespace mcdnn;

namespace {

std::string schema_text(int variants) {
  std::string steps = variants == 5 ? "    - quantize: {formats: [cb8]}\n"
                                      "    - prune: {layers: all, sparsity: [0.5], then: [{quantize: {formats: [int8, cb4, f16]}}]}\n"
                                    : "    - quantize: {formats: [cb8, f16]}\n"
                                      "    - prune: {layers: all, sparsity: [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], iterative: true,\n"
                                      "              then: [{quantize: {formats: [int8, cb4, f16]}}]}\n";
  return "format: mcdnn-schema/1\nname: wide\ninput: {channels: 1, height: 28, width: 28}\nclasses: 10\nnetwork:\n"
         "  - flatten\n  - linear: {out: 2048}\n  - relu\n  - linear: {out: 2048}\n  - relu\n  - linear: {out: 10}\n"
         "catalog:\n  finetune: {examples: 256, epochs: 0}\n  variants:\n" +
         steps;
}

long peak_rss_kb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// Child: one sweep; prints "variants peak_resident peak_rss_kb".
int child(int variants, bool files) {
  torch::set_num_threads(1);
  tune_runtime();
  Schema s = parse_schema_string(schema_text(variants), "wide.yaml", "");
  torch::manual_seed(1);
  Variant base;
  base.id = "base";
  base.net = Net(s.layers);
  base.net->eval();
  TensorData tr{torch::randn({256, 1, 28, 28}), torch::randint(0, 10, {256}, torch::kInt64)};
  TensorData va{torch::randn({256, 1, 28, 28}), torch::randint(0, 10, {256}, torch::kInt64)};
  FeatureCache cache(base.net, tr, va, 0);
  VariantRecord rec;
  rec.id = "base";
  rec.file = "base.h5";
  rec.profile = profile_variant(base);
  std::ostringstream log;
  SweepResult sw;
  if (files) {
    char dir[] = "/tmp/mcdnn-bench-memory-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    std::string out = std::string(dir) + "/cat";
    {
      BuildDir b(out, "bench", true, log);
      write_variant(b.file(rec.file), rec, input_info(s), base);
      b.commit(rec, CheckpointEntry{s.layers.size(), {}}, s);
      CheckpointStore store(b, s);
      sw = run_sweep(s, base, rec, cache, store, log);
    }
    std::filesystem::remove_all(dir);
  } else {
    MemoryStore store;  // keeps every variant, as the compiler did before
    sw = run_sweep(s, base, rec, cache, store, log);
    sw.peak_resident = sw.records.size();
  }
  std::printf("%zu %zu %ld\n", sw.records.size() - 1, sw.peak_resident, peak_rss_kb());
  return 0;
}

}  // namespace

const char kUsage[] = "bench_memory\n"
    "  peak resident memory of a 5- and a 30-variant catalog build, with and without mcdnn's store";

int run_bench(int argc, char** argv) {
  if (argc == 4 && !std::strcmp(argv[1], "--child")) return child(std::atoi(argv[2]), std::atoi(argv[3]) != 0);
  if (argc > 1) {
    reject_flag(argv[1]);
    throw BadFlag(std::string("takes no arguments, got '") + argv[1] + "'");
  }
  std::printf("bench_memory: 784-2048-2048-10 MLP (5.8 M parameters, 23 MB fp32), no fine-tuning; each run a fresh process\n");
  std::printf("  %-44s %9s %14s %14s\n", "store", "variants", "held at once", "peak RSS");
  for (int files : {0, 1})
    for (int n : {5, 30}) {
      std::string out = run_self(argv[0], {"--child", std::to_string(n), std::to_string(files)});
      size_t v = 0, held = 0;
      long kb = 0;
      std::sscanf(out.c_str(), "%zu %zu %ld", &v, &held, &kb);
      std::printf("  %-44s %9zu %14zu %11.0f MB\n",
                  files ? "mcdnn: written as finished, chain kept" : "every variant kept in memory [baseline]", v, held,
                  static_cast<double>(kb) / 1024.0);
      std::fflush(stdout);
    }
  return 0;
}

int main(int argc, char** argv) { return bench_main("bench_memory", kUsage, argc, argv, run_bench); }
