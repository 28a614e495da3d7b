// mcdnn-run SCENARIO: serve a scenario's request streams with the MCDNN scheduler and the
// baselines, simulated or with the executor, and report (docs/runtime.md, scenarios/README.md).
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app.hpp"
#include "report.hpp"
#include "run.hpp"
#include "scenario.hpp"
#include "trace.hpp"
#include "util/units.hpp"
#include "util/cli_main.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "version.hpp"

using namespace mcdnn;
using namespace mcdnn::rt;

namespace {

struct Flags {
  std::string scenario, out, policy, mode;
  int traces = 0;
  int64_t explain = -1;
  bool quiet = false;
};

// The files mcdnn-run (and tools/plot_run.py) write into an output directory; anything else
// there means the directory is not ours.
const char* const kOwnFiles[] = {"report.json", "summary.csv", "timeline.csv", "timeline.png", "policies.png", "sweep.png"};

void check_output_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  if (!fs::is_directory(dir, ec)) fail(ErrorClass::Output, dir + ": exists and is not a directory; choose another -o");
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    bool own = false;
    for (const char* f : kOwnFiles) own = own || name == f;
    if (!own)
      fail(ErrorClass::Output, dir + ": holds '" + name + "', which mcdnn-run did not write; choose another -o (mcdnn-run only replaces its own reports)");
  }
  const fs::path report = fs::path(dir) / "report.json";
  if (fs::exists(report, ec)) {
    bool ours = false;
    try {
      auto j = nlohmann::json::parse(read_file(report, static_cast<int>(ErrorClass::Output)));
      ours = j.is_object() && j.value("format", "") == "mcdnn-run-report/1";
    } catch (const std::exception&) {
    }
    if (!ours) fail(ErrorClass::Output, report.string() + ": not a report mcdnn-run wrote; choose another -o");
  }
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> v;
  size_t b = 0;
  while (b <= s.size()) {
    size_t e = s.find(',', b);
    if (e == std::string::npos) e = s.size();
    if (e > b) v.push_back(s.substr(b, e - b));
    b = e + 1;
  }
  return v;
}

std::string known_policies() {
  std::string k;
  for (const auto& p : policy_names()) k += (k.empty() ? "" : ", ") + p;
  return k;
}

int run(const Flags& f) {
  Scenario s = parse_scenario_file(f.scenario);
  if (!f.policy.empty()) {
    s.policies.clear();
    for (const auto& p : split(f.policy)) {
      bool known = false;
      for (const auto& k : policy_names()) known = known || k == p;
      if (!known) fail(ErrorClass::Usage, "--policy: unknown policy '" + p + "' (known: " + known_policies() + ")");
      if (p == "server-first" && !s.cloud.present) fail(ErrorClass::Usage, "--policy server-first: the scenario has no `cloud` section");
      for (const auto& have : s.policies)
        if (have == p) fail(ErrorClass::Usage, "--policy: '" + p + "' is listed twice");
      s.policies.push_back(p);
    }
    if (s.policies.empty()) fail(ErrorClass::Usage, "--policy: no policy named (known: " + known_policies() + ")");
  }
  if (!f.mode.empty()) {
    s.mode = f.mode;
    if (s.mode == "real")
      for (const auto& a : s.apps)
        if (a.data.schema.empty() && a.data.images.empty())
          fail(ErrorClass::Usage, "--mode real: app '" + a.name + "' (" + a.where + ") has no `data` to classify");
  }
  if (f.traces > 0) s.traces = f.traces;
  const std::string out = f.out.empty() ? s.name + "-run" : f.out;
  check_output_dir(out);

  const std::vector<App> apps = load_apps(s);
  if (!f.quiet) {
    std::printf("scenario %s: %zu apps, %s horizon, %s mode, %d trace%s; cache %s, energy %s, latency limit %s%s\n", s.name.c_str(),
                apps.size(), format_quantity(s.horizon_s, Quantity::Time).c_str(), s.mode.c_str(), s.traces, s.traces == 1 ? "" : "s",
                format_quantity(s.device.cache_bytes, Quantity::Bytes).c_str(), format_quantity(s.device.energy_j, Quantity::Energy).c_str(),
                format_quantity(s.device.latency_limit_s, Quantity::Time).c_str(),
                s.cloud.present ? (", cloud budget " + format_quantity(s.cloud.budget_usd, Quantity::Money)).c_str() : ", no cloud");
    for (const auto& a : apps) {
      char min[64] = "none";
      if (a.min_accuracy > 0)
        std::snprintf(min, sizeof min, "%.2f%% (%s)", 100 * a.min_accuracy, a.min_accuracy_rule.rfind("default", 0) == 0 ? "default" : "set");
      std::printf("  app %-12s %3zu variants; original %s (%.2f%%, %s), knee %s (%.2f%%, %s); minimum accuracy %s\n", a.name.c_str(),
                  a.variants.size(), a.variants[static_cast<size_t>(a.original)].id.c_str(),
                  a.variants[static_cast<size_t>(a.original)].accuracy * 100,
                  format_quantity(static_cast<double>(a.variants[static_cast<size_t>(a.original)].bytes), Quantity::Bytes).c_str(),
                  a.variants[static_cast<size_t>(a.knee)].id.c_str(), a.variants[static_cast<size_t>(a.knee)].accuracy * 100,
                  format_quantity(static_cast<double>(a.variants[static_cast<size_t>(a.knee)].bytes), Quantity::Bytes).c_str(),
                  min);
    }
    for (const auto& n : scenario_notes(s, apps)) std::printf("  note: %s\n", n.c_str());
  }

  std::vector<double> values = s.sweep.parameter.empty() ? std::vector<double>{0} : s.sweep.values;
  // One backend for the whole run: real mode loads the images and verifies the files once.
  bool serving = false;
  for (const auto& p : s.policies) serving = serving || p != "oracle";
  std::unique_ptr<Backend> backend;
  if (s.mode == "real" && serving) backend = make_real_backend(s, apps);
  else backend = std::make_unique<SimulatedBackend>(apps);
  std::vector<PointResult> points;
  double sim_requests = 0, sim_seconds = 0, sched_s = 0, infer_s = 0;
  for (size_t pi = 0; pi < values.size(); ++pi) {
    const Scenario sp = s.sweep.parameter.empty() ? s : with_parameter(s, s.sweep.parameter, values[pi]);
    PointResult p;
    p.parameter = s.sweep.parameter;
    p.value = values[pi];
    p.runs.resize(sp.policies.size());
    for (int t = 0; t < sp.traces; ++t) {
      const uint64_t seed = sp.seed + static_cast<uint64_t>(t);
      const std::vector<Request> trace = make_trace(sp, seed);
      backend->prepare(sp, trace, seed);
      for (size_t k = 0; k < sp.policies.size(); ++k) {
        RunOptions ro;
        ro.timeline = pi == 0 && t == 0;
        if (pi == 0 && t == 0 && f.explain >= 0) {
          if (f.explain >= static_cast<int64_t>(trace.size()))
            fail(ErrorClass::Usage, "--explain " + std::to_string(f.explain) + ": the first trace has " + std::to_string(trace.size()) +
                                        " requests (0 to " + std::to_string(static_cast<int64_t>(trace.size()) - 1) + ")");
          ro.explain = f.explain;
          ro.explain_out = stdout;
        }
        RunResult r = run_policy(sp, apps, trace, sp.policies[k], *backend, ro);
        if (!r.bound_only) {
          if (sp.mode == "simulated") sim_requests += static_cast<double>(trace.size()), sim_seconds += r.wall_s;
          sched_s += r.schedule_s, infer_s += r.inference_s;
        }
        if (!f.quiet) {
          char where[96] = "";
          if (values.size() > 1) std::snprintf(where, sizeof where, "point %zu/%zu, ", pi + 1, values.size());
          if (r.bound_only)
            std::printf("[%strace %d/%d] %-12s upper bound %.2f%% of %zu requests (%.2f s)\n", where, t + 1, sp.traces, r.policy.c_str(),
                        100 * r.all.expected / std::max<double>(1, static_cast<double>(trace.size())), trace.size(), r.wall_s);
          else
            std::printf("[%strace %d/%d] %-12s served %6.2f%%  accuracy %6.2f%%  energy %s  %s  %lld loads  (%.2f s)\n", where, t + 1,
                        sp.traces, r.policy.c_str(), 100.0 * static_cast<double>(r.all.served()) / std::max<double>(1, static_cast<double>(r.all.requests)),
                        100.0 * static_cast<double>(r.all.correct) / std::max<double>(1, static_cast<double>(r.all.requests)),
                        format_quantity(r.all.energy_j, Quantity::Energy).c_str(), format_quantity(r.all.usd, Quantity::Money).c_str(),
                        static_cast<long long>(r.all.loads), r.wall_s);
          std::fflush(stdout);
        }
        p.runs[k].push_back(std::move(r));
      }
    }
    points.push_back(std::move(p));
  }

  std::string timing;
  char b[256];
  if (sim_seconds > 0) {
    std::snprintf(b, sizeof b, "simulated %.0f requests in %.3f s (%.0f requests/s per policy run)", sim_requests, sim_seconds,
                  sim_requests / sim_seconds);
    timing = b;
  }
  if (infer_s > 0) {
    std::snprintf(b, sizeof b, "real mode: scheduling %.3f s = %.2f%% of the %.3f s of loading and inference", sched_s, 100 * sched_s / infer_s, infer_s);
    timing += (timing.empty() ? "" : "; ") + std::string(b);
  }
  std::printf("\n");
  for (const auto& p : points) std::printf("%s%s", summary_table(s, p).c_str(), drop_summary(s, apps, p).c_str());
  if (!timing.empty()) std::printf("%s\n", timing.c_str());
  write_outputs(out, s, apps, points, timing);
  std::printf("wrote %s/report.json, summary.csv, timeline.csv (plot: python3 tools/plot_run.py %s)\n", out.c_str(), out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{"mcdnn-run: serve a scenario's request streams from mcdnn catalogs with the MCDNN scheduler and baselines", "mcdnn-run"};
  app.set_version_flag("--version", std::string("mcdnn-run ") + kVersion);
  app.add_option("scenario", f.scenario, "scenario file (scenarios/README.md)")->required();
  app.add_option("-o,--out", f.out, "output directory for report.json, summary.csv, timeline.csv (default <scenario name>-run)");
  app.add_option("--policy", f.policy, "policies to run, comma-separated: " + known_policies() + " (overrides the scenario)");
  app.add_option("--mode", f.mode, "simulated (catalog accuracy and costs) or real (the executor classifies images)")
      ->check(CLI::IsMember({"simulated", "real"}));
  app.add_option("--traces", f.traces, "independent traces per point (overrides the scenario)")->check(CLI::Range(1, 1000));
  app.add_option("--explain", f.explain, "print the budgets and every candidate for request N of the first trace")
      ->check(mcdnn::at_least(0));
  app.add_flag("-q,--quiet", f.quiet, "print only the summary");
  app.footer("Exit codes: 0 success, 2 bad flags, 4 unreadable images (real mode), 5 output directory not writable\n"
             "            or not mcdnn-run's, 7 catalog unreadable, unmeasured or damaged, 8 scenario or trace invalid.");
  return parse_and_run(app, argc, argv, [&] { return run(f); });
}
