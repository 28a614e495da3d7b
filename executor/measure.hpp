// Measuring what a variant costs when the executor runs it (catalog.json "measured"):
//   load     read_variant_file() + Model::from_file(), once cold (the file's pages dropped from
//            the page cache with posix_fadvise(DONTNEED) first) and the median of `load_runs`
//            warm loads; SHA-256 verification is not included, nor the per-process kernel
//            measurements (break_even.hpp), which an untimed first load makes
//   latency  batch 1, by the protocol mcdnn-infer uses too (time_batch1): the model loaded for
//            batch 1, `warmup` untimed runs, then timed runs over a cycle of distinct inputs
//            (here 64 seeded normal images; mcdnn-infer: its images) until `seconds` have
//            passed (at least min_runs, at most max_runs); median and 95th percentile
//   layers   mean time per executor step over 1/4 as many runs, timed step by step
//   batched  images per second at batch `batch` over about seconds/2
//   memory   the bytes the loaded model holds (Model::resident_bytes(), exact) and its batch-1
//            activation buffers
//   energy   the device energy model (energy.hpp) on those figures
// Single-threaded (the executor and OpenBLAS run on one core).
#pragma once
#include <functional>
#include <string>

#include "catalog/catalog_index.hpp"
#include "energy.hpp"
#include "model.hpp"

namespace mcdnn::exec {

struct MeasureOptions {
  double seconds = 0.25;
  int warmup = 10, min_runs = 20, max_runs = 5000;
  int64_t batch = 64;
  int load_runs = 3;
  std::string device = kDefaultDeviceProfile;
  Options model;
};

// Batch-1 latency by the protocol above: `run(x, y)` classifies one input x into y; the inputs
// are `count` images of `per` floats, cycled. The one timing loop behind catalog.json's
// latency_ms / latency_p95_ms and mcdnn-infer's "latency batch 1".
struct Latency {
  double median_ms = 0, p95_ms = 0;
  int64_t runs = 0;
};
Latency time_batch1(const std::function<void(const float*, float*)>& run, const float* inputs, int64_t count, int64_t per,
                    int64_t outputs, const MeasureOptions& opt);

// Measures the variant file at `path` (already validated or not: it is read with
// read_variant_file(), which validates). `flops` is its effective FLOPs (for the energy model).
MeasuredCost measure_file(const std::string& path, double flops, const MeasureOptions& opt = {});

// This machine and model, for catalog.json.
ExecutorInfo executor_info(const MeasureOptions& opt = {});

// One thread for OpenBLAS (called by Model::from_file).
void single_threaded_blas();

}  // namespace mcdnn::exec
