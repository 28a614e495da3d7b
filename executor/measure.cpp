#include "measure.hpp"

#include <cblas.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <random>
#include <stdexcept>

namespace mcdnn::exec {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void drop_from_page_cache(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ::fdatasync(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double at = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(at);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (at - static_cast<double>(lo));
}

}  // namespace

void single_threaded_blas() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

void time_window(const std::function<void(const float*, float*)>& run, const float* inputs, int64_t count, int64_t per,
                 int64_t outputs, const Window& w, std::vector<double>* samples) {
  std::vector<float> y(static_cast<size_t>(std::max<int64_t>(1, outputs)));
  count = std::max<int64_t>(1, count);
  int64_t next = 0;
  const auto input = [&] {
    const float* x = inputs + next * per;
    next = (next + 1) % count;
    return x;
  };
  for (int i = 0; i < w.warmup; ++i) run(input(), y.data());
  const int max_runs = std::max(1, w.max_runs);
  samples->reserve(samples->size() + static_cast<size_t>(max_runs));
  int done = 0;
  const auto start = Clock::now();
  while (done < max_runs && (done < w.min_runs || since(start) < w.seconds)) {
    const float* x = input();
    const auto t0 = Clock::now();
    run(x, y.data());
    samples->push_back(since(t0));
    ++done;
  }
}

Latency summarize(const std::vector<double>& samples) {
  if (samples.empty()) return {};
  return {quantile(samples, 0.5) * 1e3, quantile(samples, 0.95) * 1e3, static_cast<int64_t>(samples.size())};
}

Latency time_batch1(const std::function<void(const float*, float*)>& run, const float* inputs, int64_t count, int64_t per,
                    int64_t outputs, const MeasureOptions& opt) {
  std::vector<double> t;
  time_window(run, inputs, count, per, outputs, Window{opt.seconds, opt.warmup, opt.min_runs, opt.max_runs}, &t);
  return summarize(t);
}

namespace {

Model load_model(const std::string& path, const MeasureOptions& opt) {
  const VariantFile f = read_variant_file(path);
  return Model::from_file(f, opt.model);
}

// A cycle of distinct inputs, as a stream of frames (or mcdnn-infer's images) gives them: `n`
// seeded normal images of `per` floats.
std::vector<float> seeded_inputs(int64_t per, int64_t n) {
  std::mt19937 rng(1);
  std::normal_distribution<float> g(0, 1);
  std::vector<float> x(static_cast<size_t>(per * n));
  for (auto& v : x) v = g(rng);
  return x;
}
constexpr int64_t kInputs = 64;

// Round r's share of the batch-1 timing: the time and run counts split evenly over the rounds
// (at least 3 runs a window, so that a slow variant's window still has a median).
Window round_window(const MeasureOptions& opt) {
  const int r = std::max(1, opt.rounds);
  return Window{opt.seconds / r, opt.warmup, std::max(3, (opt.min_runs + r - 1) / r), std::max(3, (opt.max_runs + r - 1) / r)};
}

// Everything but the pooled latency: loads, memory, the first window, per-step times, throughput.
MeasuredCost first_round(const std::string& path, const MeasureOptions& opt, std::vector<double>* samples) {
  MeasuredCost m;
  m.present = true;
  // The per-shape kernel measurements (break_even.hpp) are made once per process: an untimed
  // load makes them here, so load times are loads, not calibrations.
  { Model calibrate = load_model(path, opt); }
  drop_from_page_cache(path);
  auto t0 = Clock::now();
  Model model = load_model(path, opt);
  m.load_cold_ms = since(t0) * 1e3;
  std::vector<double> warm;
  for (int i = 0; i < std::max(1, opt.load_runs); ++i) {
    t0 = Clock::now();
    Model again = load_model(path, opt);
    warm.push_back(since(t0));
  }
  m.load_warm_ms = quantile(warm, 0.5) * 1e3;
  m.resident_bytes = model.resident_bytes();
  m.activation_bytes = model.activation_bytes(1);

  const int64_t per = model.input().input.numel();
  const int64_t batch = std::max<int64_t>(1, opt.batch);
  std::vector<float> x = seeded_inputs(per, std::max(batch, kInputs)), y(static_cast<size_t>(model.output_size() * batch));
  const size_t before = samples->size();
  time_window([&](const float* xi, float* yi) { model.run(xi, 1, yi); }, x.data(), kInputs, per, model.output_size(),
              round_window(opt), samples);

  std::vector<double> steps;
  const int step_runs = std::max(5, static_cast<int>(samples->size() - before) / 4);
  for (int i = 0; i < step_runs; ++i) model.run_timed(x.data(), 1, y.data(), &steps);
  for (size_t i = 0; i < steps.size(); ++i)
    m.layers.push_back({model.steps()[i].name, model.steps()[i].describe(), steps[i] / step_runs * 1e3});

  model.run(x.data(), batch, y.data());  // warm the batch-sized buffers
  int64_t images = 0;
  const auto bstart = Clock::now();
  do {
    model.run(x.data(), batch, y.data());
    images += batch;
  } while (since(bstart) < opt.seconds / 2 && images < 100000);
  m.batch = batch;
  m.throughput = static_cast<double>(images) / since(bstart);
  return m;
}

// A later round's window: the file loaded afresh (the heap places it anew, as in a new process).
void later_round(const std::string& path, const MeasureOptions& opt, std::vector<double>* samples) {
  Model model = load_model(path, opt);
  const int64_t per = model.input().input.numel();
  const std::vector<float> x = seeded_inputs(per, kInputs);
  time_window([&](const float* xi, float* yi) { model.run(xi, 1, yi); }, x.data(), kInputs, per, model.output_size(),
              round_window(opt), samples);
}

}  // namespace

std::vector<MeasuredCost> measure_files(const std::vector<std::string>& paths, const std::vector<double>& flops,
                                        const MeasureOptions& opt, const Progress& progress) {
  if (flops.size() != paths.size())
    throw std::invalid_argument("measure_files: " + std::to_string(paths.size()) + " files but " + std::to_string(flops.size()) + " FLOP counts");
  std::vector<MeasuredCost> out;
  std::vector<std::vector<double>> samples(paths.size());
  const int rounds = std::max(1, opt.rounds);
  // File i's figures once its last window is in: the pooled latency, and the energy from it.
  const auto finish = [&](size_t i) {
    MeasuredCost& m = out[i];
    const Latency lat = summarize(samples[i]);
    m.runs = lat.runs;
    m.latency_ms = lat.median_ms;
    m.latency_p95_ms = lat.p95_ms;
    std::error_code ec;
    const auto file_bytes = static_cast<int64_t>(std::filesystem::file_size(paths[i], ec));
    const Energy e = estimate_energy(device_profile(opt.device), m.latency_ms / 1e3, flops[i], m.resident_bytes,
                                     m.load_cold_ms / 1e3, ec ? 0 : file_bytes);
    m.exec_mj = e.exec_j * 1e3;
    m.load_mj = e.load_j * 1e3;
  };
  for (size_t i = 0; i < paths.size(); ++i) {
    out.push_back(first_round(paths[i], opt, &samples[i]));
    if (rounds == 1) finish(i);
    if (progress) progress(1, i, rounds == 1 ? &out[i] : nullptr);
  }
  for (int r = 2; r <= rounds; ++r)
    for (size_t i = 0; i < paths.size(); ++i) {
      later_round(paths[i], opt, &samples[i]);
      if (r == rounds) finish(i);
      if (progress) progress(r, i, r == rounds ? &out[i] : nullptr);
    }
  return out;
}

MeasuredCost measure_file(const std::string& path, double flops, const MeasureOptions& opt) {
  return measure_files({path}, {flops}, opt).front();
}

ExecutorInfo executor_info(const MeasureOptions& opt) {
  ExecutorInfo i;
  i.cpu = cpu_model();
  i.isa = isa_name(active_isa());
  i.threads = 1;
  i.energy_model = kEnergyModel;
  i.device_profile = device_profile(opt.device).name;
  i.energy_formula = energy_formula(device_profile(opt.device));
  return i;
}

}  // namespace mcdnn::exec
