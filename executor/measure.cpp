#include "measure.hpp"

#include <cblas.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <random>

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

Latency time_batch1(const std::function<void(const float*, float*)>& run, const float* inputs, int64_t count, int64_t per,
                    int64_t outputs, const MeasureOptions& opt) {
  std::vector<float> y(static_cast<size_t>(std::max<int64_t>(1, outputs)));
  count = std::max<int64_t>(1, count);
  int64_t next = 0;
  const auto input = [&] {
    const float* x = inputs + next * per;
    next = (next + 1) % count;
    return x;
  };
  for (int i = 0; i < opt.warmup; ++i) run(input(), y.data());
  std::vector<double> t;
  t.reserve(static_cast<size_t>(std::max(1, opt.max_runs)));
  const auto start = Clock::now();
  while (static_cast<int>(t.size()) < std::max(1, opt.max_runs) &&
         (static_cast<int>(t.size()) < opt.min_runs || since(start) < opt.seconds)) {
    const float* x = input();
    const auto t0 = Clock::now();
    run(x, y.data());
    t.push_back(since(t0));
  }
  return {quantile(t, 0.5) * 1e3, quantile(t, 0.95) * 1e3, static_cast<int64_t>(t.size())};
}

MeasuredCost measure_file(const std::string& path, double flops, const MeasureOptions& opt) {
  MeasuredCost m;
  m.present = true;
  auto load = [&] {
    const VariantFile f = read_variant_file(path);
    return Model::from_file(f, opt.model);
  };
  // The per-shape kernel measurements (break_even.hpp) are made once per process: an untimed
  // load makes them here, so load times are loads, not calibrations.
  { Model calibrate = load(); }
  drop_from_page_cache(path);
  auto t0 = Clock::now();
  Model model = load();
  const double cold = since(t0);
  std::vector<double> warm;
  for (int i = 0; i < std::max(1, opt.load_runs); ++i) {
    t0 = Clock::now();
    Model again = load();
    warm.push_back(since(t0));
  }
  m.load_cold_ms = cold * 1e3;
  m.load_warm_ms = quantile(warm, 0.5) * 1e3;
  m.resident_bytes = model.resident_bytes();
  m.activation_bytes = model.activation_bytes(1);

  const Shape& in = model.input().input;
  std::mt19937 rng(1);
  std::normal_distribution<float> g(0, 1);
  const int64_t batch = std::max<int64_t>(1, opt.batch);
  // A cycle of distinct inputs, as a stream of frames (or mcdnn-infer's images) gives them.
  constexpr int64_t kInputs = 64;
  std::vector<float> x(static_cast<size_t>(in.numel() * std::max(batch, kInputs))), y(static_cast<size_t>(model.output_size() * batch));
  for (auto& v : x) v = g(rng);

  const Latency lat = time_batch1([&](const float* xi, float* yi) { model.run(xi, 1, yi); }, x.data(), kInputs, in.numel(),
                                  model.output_size(), opt);
  m.runs = lat.runs;
  m.latency_ms = lat.median_ms;
  m.latency_p95_ms = lat.p95_ms;

  std::vector<double> steps;
  const int step_runs = std::max(5, static_cast<int>(lat.runs) / 4);
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

  std::error_code ec;
  const auto file_bytes = static_cast<int64_t>(std::filesystem::file_size(path, ec));
  const Energy e = estimate_energy(device_profile(opt.device), m.latency_ms / 1e3, flops, m.resident_bytes, cold,
                                   ec ? 0 : file_bytes);
  m.exec_mj = e.exec_j * 1e3;
  m.load_mj = e.load_j * 1e3;
  return m;
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
