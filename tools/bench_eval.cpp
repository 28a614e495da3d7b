// bench_eval: evaluation throughput of the default network on random data, by batch size and
// allocator setting, against training throughput measured in the same run.
//   bench_eval [schema] [--threads N]
// Prints images/s per configuration and the ratio to the baseline (batch 1000, default malloc).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "bench_main.hpp"
#include "nn/net.hpp"
#include "schema/schema.hpp"

using Clock = std::chrono::steady_clock;

static double eval_ips(mcdnn::Net& net, const torch::Tensor& x, int64_t batch, int reps) {
  mcdnn::InferenceGuard g;
  net->eval();
  net->forward(x.slice(0, 0, batch));  // warm-up
  auto t0 = Clock::now();
  for (int r = 0; r < reps; ++r)
    for (int64_t i = 0; i < x.size(0); i += batch) net->forward(x.slice(0, i, std::min(i + batch, x.size(0))));
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  return reps * x.size(0) / s;
}

static double train_ips(mcdnn::Net& net, const torch::Tensor& x, const torch::Tensor& y, int64_t batch) {
  net->train();
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-3));
  auto t0 = Clock::now();
  for (int64_t i = 0; i < x.size(0); i += batch) {
    auto xb = x.slice(0, i, std::min(i + batch, x.size(0)));
    auto yb = y.slice(0, i, std::min(i + batch, x.size(0)));
    opt.zero_grad();
    auto loss = torch::nn::functional::cross_entropy(net->forward(xb), yb);
    loss.backward();
    opt.step();
  }
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  return x.size(0) / s;
}

const char kUsage[] = "bench_eval [schema] [--threads N]\n"
    "  evaluation and training throughput of the schema's network on random data, by setting";

int run_bench(int argc, char** argv) {
  std::string schema_path = "schemas/fashion-mnist.yaml";
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) threads = std::atoi(argv[++i]);
    else {
      reject_flag(argv[i]);
      schema_path = argv[i];
    }
  }
  torch::set_num_threads(threads);
  auto schema = mcdnn::parse_schema_file(schema_path);
  torch::manual_seed(1);
  mcdnn::Net net(schema.layers);
  const int64_t n = 10000;
  auto x = torch::randn({n, schema.input.c, schema.input.h, schema.input.w});
  auto y = torch::randint(0, schema.num_classes, {n}, torch::kInt64);
  std::printf("bench_eval: %s, %d threads, %lld random images; settings apply cumulatively\n",
              schema.name.c_str(), threads, static_cast<long long>(n));
  std::printf("  %-34s %12s %14s %14s %8s\n", "setting", "train img/s", "eval b=1000", "eval b=128", "eval/train");
  double base_tr = 0, base_ev = 0;
  auto row = [&](const char* name) {
    double tr = train_ips(net, x, y, 128);
    double e1 = eval_ips(net, x, 1000, 2), e2 = eval_ips(net, x, 128, 2);
    if (base_tr == 0) base_tr = tr, base_ev = e1;
    std::printf("  %-34s %6.0f %5.2fx %8.0f %5.2fx %8.0f %5.2fx %7.2fx\n", name, tr, tr / base_tr, e1, e1 / base_ev, e2,
                e2 / base_ev, e1 / tr);
  };
  mcdnn::RuntimeTuning none;
  none.single_threaded_blas = false;
  none.keep_heap = false;
  row("LibTorch defaults [baseline]");
  mcdnn::RuntimeTuning blas = none;
  blas.single_threaded_blas = true;
  mcdnn::tune_runtime(blas);
  row("+ OpenBLAS 1 thread");
  mcdnn::tune_runtime(mcdnn::RuntimeTuning{});
  row("+ no mmap/munmap per batch (mcdnn)");
  return 0;
}

int main(int argc, char** argv) { return bench_main("bench_eval", kUsage, argc, argv, run_bench); }
