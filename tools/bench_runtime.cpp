// bench_runtime: how fast mcdnn-run's scheduler is, against the fixed-variant baseline in the
// same process.
//
//   build/bench_runtime [SCENARIO] [--repeats N] [--real-requests N]
//
// SCENARIO (default scenarios/fig11-energy.yaml, first sweep point) is loaded once; one trace
// (its seed) is generated and timed. Then, simulated, each policy serves the whole trace N times
// (default 5) and the median is reported: requests per second, and the scheduler's time per
// request next to `original`'s (a fixed variant: the least work a scheduler can do). The oracle's
// bound is timed too. Last, real mode on the first --real-requests requests (default 20,000):
// the executor loads and runs the variants mcdnn picks, and the scheduler's share of the time
// spent loading and classifying is printed (target: under 1%). Single-threaded throughout.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench_main.hpp"
#include "app.hpp"
#include "oracle.hpp"
#include "run.hpp"
#include "scenario.hpp"
#include "trace.hpp"
#include "util/error.hpp"

using namespace mcdnn;
using namespace mcdnn::rt;
using Clock = std::chrono::steady_clock;

static double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

const char kUsage[] = "bench_runtime [SCENARIO] [--repeats N] [--real-requests N]\n"
    "  how fast mcdnn-run's scheduler is (default scenario scenarios/fig11-energy.yaml)";

int run_bench(int argc, char** argv) {
  std::string path = "scenarios/fig11-energy.yaml";
  int repeats = 5;
  size_t real_requests = 20000;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--repeats") && i + 1 < argc) repeats = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--real-requests") && i + 1 < argc) real_requests = static_cast<size_t>(std::max(0, std::atoi(argv[++i])));
    else {
      reject_flag(argv[i]);
      path = argv[i];
    }
  }
  try {
    Scenario s = parse_scenario_file(path);
    if (!s.sweep.parameter.empty()) s = with_parameter(s, s.sweep.parameter, s.sweep.values[0]);
    const std::vector<App> apps = load_apps(s);
    auto t0 = Clock::now();
    const std::vector<Request> trace = make_trace(s, s.seed);
    const double gen_s = since(t0);
    std::printf("bench_runtime: %s%s, %zu apps, %zu requests over %.0f s (trace generated in %.1f ms)\n", s.name.c_str(),
                s.sweep.parameter.empty() ? "" : (" at " + s.sweep.parameter + " = first value").c_str(), apps.size(), trace.size(),
                s.horizon_s, gen_s * 1e3);
    std::printf("\n%-13s %12s %14s %16s %10s\n", "policy", "run (ms)", "requests/s", "schedule ns/req", "vs fixed");
    double fixed_ns = 0;
    std::vector<std::string> policies = {"original", "best", "mcdnn", "mcdnn-paper"};
    if (s.cloud.present) policies.push_back("server-first");
    for (const auto& p : policies) {
      std::vector<double> wall, sched;
      for (int r = 0; r < repeats; ++r) {
        SimulatedBackend b(s, apps, trace, s.seed);
        const RunResult res = run_policy(s, apps, trace, p, b);
        wall.push_back(res.wall_s);
        sched.push_back(res.schedule_s);
      }
      std::sort(wall.begin(), wall.end());
      std::sort(sched.begin(), sched.end());
      const double w = wall[wall.size() / 2], ns = sched[sched.size() / 2] / static_cast<double>(trace.size()) * 1e9;
      if (p == "original") fixed_ns = ns;
      std::printf("%-13s %12.1f %14.0f %16.0f %9.2fx\n", p.c_str(), w * 1e3, static_cast<double>(trace.size()) / w, ns, ns / fixed_ns);
    }
    std::vector<double> ow;
    OracleResult o;
    for (int r = 0; r < repeats; ++r) {
      const auto t = Clock::now();
      o = oracle_bound(s, apps, trace);
      ow.push_back(since(t));
    }
    std::sort(ow.begin(), ow.end());
    std::printf("%-13s %12.1f %14s %16s %10s  (bound %.2f%%, %lld dual evaluations)\n", "oracle", ow[ow.size() / 2] * 1e3, "-", "-", "-",
                100 * o.bound / std::max<double>(1, static_cast<double>(trace.size())), static_cast<long long>(o.evaluations));

    if (real_requests > 0) {
      bool have_data = true;
      for (const auto& a : s.apps) have_data = have_data && (!a.data.schema.empty() || !a.data.images.empty());
      if (!have_data) {
        std::printf("\nreal mode: skipped (the scenario's apps have no `data`; try scenarios/real-hour.yaml)\n");
        return 0;
      }
      std::vector<Request> head(trace.begin(), trace.begin() + static_cast<std::ptrdiff_t>(std::min(real_requests, trace.size())));
      auto backend = make_real_backend(s, apps);
      backend->prepare(s, head, s.seed);
      const RunResult r = run_policy(s, apps, head, "mcdnn", *backend);
      std::printf("\nreal mode, mcdnn, %zu requests: scheduling %.1f ms = %.2f%% of the %.1f ms spent loading and classifying "
                  "(%.1f us per request); accuracy %.2f%%\n",
                  head.size(), r.schedule_s * 1e3, 100 * r.schedule_s / std::max(r.inference_s, 1e-12), r.inference_s * 1e3,
                  r.inference_s / static_cast<double>(std::max<int64_t>(1, r.all.served())) * 1e6,
                  100.0 * static_cast<double>(r.all.correct) / static_cast<double>(std::max<int64_t>(1, r.all.requests)));
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_runtime: error: %s\n", e.what());
    return e.exit_code();
  }
  return 0;
}

int main(int argc, char** argv) { return bench_main("bench_runtime", kUsage, argc, argv, run_bench); }
