// bench_contention: training and evaluation throughput on an idle machine and with one competing
// CPU-bound process, for LibTorch's default thread policy (one thread per core, fixed) and
// mcdnn's (one thread below 0.1 GFLOP per batch, and the worker count following the cores other
// processes leave free: util/thread_policy.hpp), for the default schema's network and a tiny
// MLP, in one invocation; optionally also OpenMP's passive waiting and GOMP spin counts
// (MCDNN_BENCH_WAIT="passive,10000"). Each measurement runs in a fresh child process (the OpenMP
// wait policy is fixed at process start); the competitor is a forked busy loop.
//   bench_contention [schema] [--train N] [--eval N]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench_child.hpp"
#include "bench_main.hpp"
#include "nn/net.hpp"
#include "profile/profile.hpp"
#include "schema/schema.hpp"
#include "train/train.hpp"
#include "util/thread_policy.hpp"

using namespace mcdnn;

namespace {

const char* kTinyMlp =
    "format: mcdnn-schema/1\nname: tiny-mlp\ninput: {channels: 1, height: 28, width: 28}\nclasses: 10\n"
    "network:\n  - flatten\n  - linear: {out: 32}\n  - relu\n  - linear: {out: 10}\n"
    "training: {epochs: 1, batch_size: 64}\n";

// Child: trains one epoch on random data and evaluates; prints "train_img_s eval_img_s".
int child(const std::string& schema_path, int threads, bool adaptive, int64_t n_train, int64_t n_eval) {
  Schema s = schema_path == "tiny" ? parse_schema_string(kTinyMlp, "tiny-mlp", "") : parse_schema_file(schema_path);
  s.training.epochs = 1;
  use_thread_policy(threads, adaptive);
  tune_runtime();
  torch::manual_seed(1);
  Net net(s.layers);
  auto mk = [&](int64_t n) {
    return TensorData{torch::randn({n, s.input.c, s.input.h, s.input.w}), torch::randint(0, s.num_classes, {n}, torch::kInt64)};
  };
  TensorData tr = mk(n_train), va = mk(n_eval);
  TrainOptions o;
  auto r = train(net, tr, va, s.training, o);
  std::printf("%.1f %.1f\n", r.epochs[0].train_images_per_s, r.epochs[0].eval_images_per_s);
  return 0;
}

struct Result {
  double train = 0, eval = 0;
};

// Runs this program in child mode with the given policy; `loaded` adds a busy-loop process.
// `spin`: "" = LibTorch's default (OMP_WAIT_POLICY unset), "passive", or a GOMP_SPINCOUNT value.
Result measure(const char* self, const std::string& schema, const std::string& spin, int threads, bool adaptive, bool loaded,
               int64_t n_train, int64_t n_eval) {
  pid_t hog = -1;
  if (loaded) {
    hog = fork();
    if (hog == 0) {
      volatile uint64_t x = 0;
      for (;;) x = x + 1;
    }
    usleep(200000);
  }
  std::string out = run_self(self, {"--child", schema, std::to_string(threads), adaptive ? "1" : "0", std::to_string(n_train),
                                    std::to_string(n_eval)},
                             [&] {
    unsetenv("OMP_WAIT_POLICY");
    unsetenv("GOMP_SPINCOUNT");
    if (spin == "passive") setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    else if (!spin.empty()) setenv("GOMP_SPINCOUNT", spin.c_str(), 1);
  });
  if (hog > 0) {
    kill(hog, SIGKILL);
    waitpid(hog, nullptr, 0);
  }
  Result r;
  std::sscanf(out.c_str(), "%lf %lf", &r.train, &r.eval);
  return r;
}

}  // namespace

const char kUsage[] = "bench_contention [schema] [--train N] [--eval N]\n"
    "  training and evaluation throughput, idle and beside a busy process, for two thread policies";

int run_bench(int argc, char** argv) {
  if (argc == 7 && !std::strcmp(argv[1], "--child"))
    return child(argv[2], std::atoi(argv[3]), std::atoi(argv[4]) != 0, std::atoll(argv[5]), std::atoll(argv[6]));
  std::string schema = "schemas/fashion-mnist.yaml";
  int64_t n_train = 4000, n_eval = 5000;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--train") && i + 1 < argc) n_train = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--eval") && i + 1 < argc) n_eval = std::atoll(argv[++i]);
    else {
      reject_flag(argv[i]);
      schema = argv[i];
    }
  }
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::printf("bench_contention: %d cores; each row idle, then with one competing busy-loop process\n", cores);
  std::printf("  %-12s %-34s %10s %10s %6s  %10s %10s %6s\n", "network", "thread policy", "train idle", "loaded", "loss",
              "eval idle", "loaded", "loss");
  for (const std::string net : {schema, std::string("tiny")}) {
    Schema s = net == "tiny" ? parse_schema_string(kTinyMlp, "tiny-mlp", "") : parse_schema_file(net);
    int64_t nt = net == "tiny" ? 10 * n_train : n_train, ne = net == "tiny" ? 10 * n_eval : n_eval;
    int mine = default_threads(static_cast<double>(profile_layers(s.layers).flops) * static_cast<double>(s.training.batch_size));
    struct Policy {
      std::string name, spin;
      int threads;
      bool adaptive;
    };
    std::vector<Policy> policies = {{"LibTorch default: " + std::to_string(cores) + " threads [baseline]", "", cores, false}};
    const char* extra = std::getenv("MCDNN_BENCH_WAIT");  // e.g. "passive,10000": OpenMP wait policies too
    for (std::string rest = extra ? extra : ""; !rest.empty();) {
      std::string v = rest.substr(0, rest.find(','));
      rest = rest.find(',') == std::string::npos ? "" : rest.substr(rest.find(',') + 1);
      policies.push_back({(v == "passive" ? "OMP_WAIT_POLICY=passive, " : "GOMP_SPINCOUNT=" + v + ", ") + std::to_string(cores) + " threads",
                          v, cores, false});
    }
    policies.push_back({"mcdnn: up to " + std::to_string(mine) + " thread" + (mine > 1 ? "s, adaptive" : ""), "", mine, true});
    for (const Policy& p : policies) {
      Result idle = measure(argv[0], net, p.spin, p.threads, p.adaptive, false, nt, ne);
      Result busy = measure(argv[0], net, p.spin, p.threads, p.adaptive, true, nt, ne);
      std::printf("  %-12s %-34s %10.0f %10.0f %5.1fx  %10.0f %10.0f %5.1fx\n", s.name.c_str(), p.name.c_str(), idle.train,
                  busy.train, idle.train / std::max(busy.train, 1e-9), idle.eval, busy.eval, idle.eval / std::max(busy.eval, 1e-9));
      std::fflush(stdout);
    }
  }
  std::printf("  (images/s; loss = idle / loaded throughput)\n");
  return 0;
}

int main(int argc, char** argv) { return bench_main("bench_contention", kUsage, argc, argv, run_bench); }
