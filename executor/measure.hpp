// Measuring what a variant costs when the executor runs it (catalog.json "measured"):
//   load     read_variant_file() + Model::from_file(), once cold (the file's pages dropped from
//            the page cache with posix_fadvise(DONTNEED) first) and the median of `load_runs`
//            warm loads; SHA-256 verification is not included, nor the per-process kernel
//            measurements (break_even.hpp), which an untimed first load makes
//   latency  batch 1, by the protocol mcdnn-infer uses too (time_batch1): the model loaded for
//            batch 1, `warmup` untimed runs, then timed runs over a cycle of distinct inputs
//            (here 64 seeded normal images; mcdnn-infer: its images) until `seconds` have
//            passed (at least min_runs, at most max_runs); median and 95th percentile.
//            measure_files() splits that time into `rounds` windows taken over all the files
//            in turn, each file loaded afresh for each window, and pools the windows' runs:
//            the machine's slow drift (5-10% over seconds on a shared VM) and where a
//            process's heap places the model then weigh on every variant alike, as they do
//            on the fresh processes a user starts (docs/executor.md, "Measuring")
//   layers   mean time per executor step over 1/4 as many runs as the first window, timed
//            step by step
//   batched  images per second at batch `batch` over about seconds/2
//   memory   the bytes the loaded model holds (Model::resident_bytes(), exact) and its batch-1
//            activation buffers
//   energy   the device energy model (energy.hpp) on those figures
// Single-threaded (the executor and OpenBLAS run on one core).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "catalog/catalog_index.hpp"
#include "energy.hpp"
#include "model.hpp"

namespace mcdnn::exec {

struct MeasureOptions {
  double seconds = 0.25;  // batch-1 timing per variant (in all, over the rounds)
  int rounds = 5;         // measure_files: windows per variant, the files taken in turn
  int warmup = 10, min_runs = 20, max_runs = 5000;
  int64_t batch = 64;
  int load_runs = 3;
  std::string device = kDefaultDeviceProfile;
  Options model;
};

// Batch-1 latency by the protocol above: `run(x, y)` classifies one input x into y; the inputs
// are `count` images of `per` floats, cycled. The one timing loop behind catalog.json's
// latency_ms / latency_p95_ms and mcdnn-infer's "latency batch 1". time_window() is one
// window (`seconds`, at least `min_runs`, at most `max_runs` timed runs after `warmup`),
// appending each run's seconds to `samples`; time_batch1() is one window of opt's figures.
struct Latency {
  double median_ms = 0, p95_ms = 0;
  int64_t runs = 0;
};
struct Window {
  double seconds = 0.25;
  int warmup = 10, min_runs = 20, max_runs = 5000;
};
void time_window(const std::function<void(const float*, float*)>& run, const float* inputs, int64_t count, int64_t per,
                 int64_t outputs, const Window& w, std::vector<double>* samples);
Latency summarize(const std::vector<double>& samples);
Latency time_batch1(const std::function<void(const float*, float*)>& run, const float* inputs, int64_t count, int64_t per,
                    int64_t outputs, const MeasureOptions& opt);

// Measures the variant files at `paths` (already validated or not: each is read with
// read_variant_file(), which validates). `flops[i]` is file i's effective FLOPs (for the energy
// model). First each file in turn: loads, memory, per-step times, throughput and its first
// latency window; then rounds 2..opt.rounds, each a window of every file in turn. `progress`
// (optional) is called after each file's window of each round with the round (from 1), the
// file's index and, in the last round, its finished figures (else null).
using Progress = std::function<void(int round, size_t file, const MeasuredCost* done)>;
MeasuredCost measure_file(const std::string& path, double flops, const MeasureOptions& opt = {});
std::vector<MeasuredCost> measure_files(const std::vector<std::string>& paths, const std::vector<double>& flops,
                                        const MeasureOptions& opt = {}, const Progress& progress = nullptr);

// This machine and model, for catalog.json.
ExecutorInfo executor_info(const MeasureOptions& opt = {});

// One thread for OpenBLAS (called by Model::from_file).
void single_threaded_blas();

}  // namespace mcdnn::exec
