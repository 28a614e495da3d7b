#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "util/units.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

namespace mcdnn::rt {

namespace {

double ratio(double a, double b) { return b > 0 ? a / b : 0; }

nlohmann::json dropped_by_json(const Totals& t) {
  nlohmann::json j = nlohmann::json::object();
  for (size_t r = 1; r < kDropReasons; ++r) j[drop_reason_key(static_cast<DropReason>(r))] = t.dropped_by[r];
  return j;
}

// 108000 -> "108,000"
std::string count(int64_t n) {
  std::string d = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < d.size(); ++i) {
    if (i > 0 && (d.size() - i) % 3 == 0) out += ',';
    out += d[i];
  }
  return (n < 0 ? "-" : "") + out;
}

std::string pct(double f) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f%%", 100 * f);
  return b;
}

bool fixed_policy(const std::string& p) { return p == "original" || p == "best"; }

// Why `policy` dropped requests of `app` for reason r, in words.
std::string reason_words(const Scenario& s, const App& app, const std::string& policy, DropReason r) {
  const bool fixed = fixed_policy(policy);
  const VariantCost& v = app.variants[static_cast<size_t>(policy == "original" ? app.original : app.knee)];
  const std::string what = (policy == "original" ? "its base model " : "its knee variant ") + v.id;
  const std::string least = app.min_accuracy > 0 ? " at least " + pct(app.min_accuracy) + " accurate" : "";
  const std::string limit = format_quantity(s.device.latency_limit_s, Quantity::Time);
  switch (r) {
    case DropReason::Cache: {
      const std::string cache = format_quantity(s.device.cache_bytes, Quantity::Bytes);
      if (!fixed) return "no variant" + least + " fits the " + cache + " cache";
      const double trunk = app.trunk >= 0 ? static_cast<double>(app.trunk_cost.bytes) : 0;
      return what + " (" + format_quantity(static_cast<double>(v.bytes) + trunk, Quantity::Bytes) + (trunk > 0 ? " with its trunk" : "") +
             ") does not fit the " + cache + " cache";
    }
    case DropReason::LatencyLimit:
      if (fixed)
        return what + " does not finish within the " + limit + " latency limit (loading takes " + format_quantity(v.load_s, Quantity::Time) +
               ", running " + format_quantity(v.exec_s, Quantity::Time) + ", after waiting for the device)";
      return "nothing" + least + " could finish within the " + limit + " latency limit";
    case DropReason::EnergyLeft:
      return "the energy budget (" + format_quantity(s.device.energy_j, Quantity::Energy) + ") was spent";
    case DropReason::EnergyBudget:
      return "its share of the energy budget did not pay for any variant" + least;
    case DropReason::MinAccuracy:
      if (fixed) return what + " (" + pct(v.accuracy) + ") is below the app's minimum accuracy (" + pct(app.min_accuracy) + ")";
      return "only variants below its minimum accuracy (" + pct(app.min_accuracy) + ") could have answered";
    case DropReason::CloudBudget:
      return "the cloud's dollars (" + format_quantity(s.cloud.budget_usd, Quantity::Money) + ") were spent and nothing" + least +
             " could run on the device";
    case DropReason::None:
      break;
  }
  return "no reason recorded";
}

nlohmann::json totals_json(const Totals& t) {
  return {{"requests", t.requests},
          {"served_device", t.device},
          {"served_cloud", t.cloud},
          {"dropped", t.dropped},
          {"correct", t.correct},
          {"served_fraction", ratio(static_cast<double>(t.served()), static_cast<double>(t.requests))},
          {"accuracy", ratio(static_cast<double>(t.correct), static_cast<double>(t.requests))},
          {"expected_accuracy", ratio(t.expected, static_cast<double>(t.requests))},
          {"accuracy_per_served", ratio(t.expected, static_cast<double>(t.served()))},
          {"energy_j", t.energy_j},
          {"load_energy_j", t.load_j},
          {"energy_per_request_j", ratio(t.energy_j, static_cast<double>(t.requests))},
          {"dollars", t.usd},
          {"served_specialized", t.specialized},
          {"fell_through", t.fell_through},
          {"trunk_runs", t.trunk_runs},
          {"trunk_shared", t.trunk_shared},
          {"mean_latency_s", ratio(t.latency_s, static_cast<double>(t.served()))},
          {"cache_hits", t.hits},
          {"loads", t.loads},
          {"evictions", t.evictions},
          {"fallbacks", t.fallbacks},
          {"dropped_by", dropped_by_json(t)}};
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

}  // namespace

Headline headline(const std::vector<RunResult>& traces) {
  Headline h;
  const double n = static_cast<double>(traces.size());
  if (traces.empty()) return h;
  std::vector<double> served, acc;
  for (const auto& r : traces) {
    const Totals& t = r.all;
    const double req = static_cast<double>(t.requests);
    h.bound_only = r.bound_only;
    h.requests += req / n;
    h.expected += ratio(t.expected, req) / n;
    if (r.bound_only) continue;
    served.push_back(ratio(static_cast<double>(t.served()), req));
    acc.push_back(ratio(static_cast<double>(t.correct), req));
    h.served += served.back() / n;
    h.cloud += ratio(static_cast<double>(t.cloud), req) / n;
    h.accuracy += acc.back() / n;
    h.per_served += ratio(t.expected, static_cast<double>(t.served())) / n;
    h.energy_per_request_j += ratio(t.energy_j, req) / n;
    h.usd += t.usd / n;
    h.hits += static_cast<double>(t.hits) / n;
    h.loads += static_cast<double>(t.loads) / n;
    h.evictions += static_cast<double>(t.evictions) / n;
  }
  auto sd = [](const std::vector<double>& x, double mean) {
    if (x.size() < 2) return 0.0;
    double s = 0;
    for (double v : x) s += (v - mean) * (v - mean);
    return std::sqrt(s / static_cast<double>(x.size() - 1));
  };
  h.served_sd = sd(served, h.served);
  h.accuracy_sd = sd(acc, h.accuracy);
  return h;
}

std::string drop_words(const Scenario& point, const App& app, const std::string& policy, const Totals& t) {
  std::vector<std::pair<int64_t, size_t>> by;
  for (size_t r = 1; r < kDropReasons; ++r)
    if (t.dropped_by[r] > 0) by.push_back({t.dropped_by[r], r});
  std::stable_sort(by.begin(), by.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
  std::string out;
  for (const auto& [n, r] : by) {
    const std::string w = reason_words(point, app, policy, static_cast<DropReason>(r));
    out += out.empty() ? "" : "; ";
    out += by.size() == 1 ? w : count(n) + " because " + w;
  }
  return out;
}

std::string drop_summary(const Scenario& s, const std::vector<App>& apps, const PointResult& p) {
  const Scenario point = p.parameter.empty() ? s : with_parameter(s, p.parameter, p.value);
  std::string out;
  for (const auto& traces : p.runs) {
    if (traces.empty() || traces[0].bound_only) continue;
    for (size_t i = 0; i < apps.size(); ++i) {
      Totals t;
      for (const auto& r : traces) t.add(r.apps[i]);
      if (t.dropped == 0) continue;
      out += "    " + traces[0].policy + ": app " + apps[i].name + " dropped " + count(t.dropped) + " of " + count(t.requests) + " requests" +
             (traces.size() > 1 ? " over " + std::to_string(traces.size()) + " traces" : "") + ": " + drop_words(point, apps[i], traces[0].policy, t) +
             "\n";
    }
  }
  return out.empty() ? "" : "  dropped requests, and why:\n" + out;
}

std::vector<std::string> scenario_notes(const Scenario& s, const std::vector<App>& apps) {
  std::vector<std::string> notes;
  for (const App& a : apps) {
    std::vector<const VariantCost*> below;
    for (const VariantCost& v : a.variants)
      if (v.accuracy < a.min_accuracy) below.push_back(&v);
    if (below.empty()) continue;
    std::stable_sort(below.begin(), below.end(), [](const VariantCost* x, const VariantCost* y) { return x->accuracy < y->accuracy; });
    std::string ids;
    for (size_t k = 0; k < below.size() && k < 3; ++k) ids += (k ? ", " : "") + below[k]->id + " " + pct(below[k]->accuracy);
    if (below.size() > 3) ids += ", ...";
    notes.push_back("app " + a.name + ": " + std::to_string(below.size()) + " of " + std::to_string(a.variants.size()) +
                    " variants are below its minimum accuracy " + pct(a.min_accuracy) + " (" + a.min_accuracy_rule +
                    ") and are never run (" + ids + ")");
  }
  if (!s.cloud.present) return notes;
  // The latency limits the run uses, and per app those at which no variant finishes in the cloud.
  std::vector<double> limits = {s.device.latency_limit_s};
  if (s.sweep.parameter == "device.latency_limit") limits = s.sweep.values;
  std::vector<std::vector<double>> out(apps.size());
  std::vector<double> fastest(apps.size(), std::numeric_limits<double>::infinity());
  for (size_t i = 0; i < apps.size(); ++i) {
    for (const VariantCost& v : apps[i].variants) fastest[i] = std::min(fastest[i], v.cloud_s);
    for (double l : limits)
      if (!(s.cloud.round_trip_s + fastest[i] <= l)) out[i].push_back(l);
  }
  auto list = [](const std::vector<double>& v) {
    std::string t;
    for (double x : v) t += (t.empty() ? "" : ", ") + format_quantity(x, Quantity::Time);
    return t;
  };
  const bool sweep = limits.size() > 1 || s.sweep.parameter == "device.latency_limit";
  bool same = !apps.empty();
  for (size_t i = 0; i < apps.size(); ++i) same = same && out[i] == out[0];
  const std::string rt = format_quantity(s.cloud.round_trip_s, Quantity::Time);
  if (same && !out[0].empty()) {
    const double rt_alone = s.cloud.round_trip_s;
    bool alone = true;
    for (double l : out[0]) alone = alone && rt_alone >= l;
    notes.push_back(std::string("the cloud is out of reach: ") +
                    (alone ? "its " + rt + " round trip alone" : "its " + rt + " round trip plus any variant's server time") + " exceeds the " +
                    (sweep ? "latency limit at " + list(out[0]) : list(out[0]) + " latency limit") + "; no request runs in the cloud" +
                    (sweep ? " at those points" : ""));
    return notes;
  }
  for (size_t i = 0; i < apps.size(); ++i)
    if (!out[i].empty())
      notes.push_back("app " + apps[i].name + ": the cloud is out of reach: " + rt + " round trip + " +
                      format_quantity(fastest[i], Quantity::Time) + " on the server (its fastest variant) exceeds the " +
                      (sweep ? "latency limit at " + list(out[i]) : list(out[i]) + " latency limit") + "; its requests stay on the device");
  return notes;
}

std::string summary_table(const Scenario& s, const PointResult& p) {
  std::string out;
  char b[512];
  if (!p.parameter.empty()) {
    const bool rate = p.parameter == "rate_scale";
    Quantity q = Quantity::Energy;
    if (p.parameter == "device.cache") q = Quantity::Bytes;
    else if (p.parameter == "device.latency_limit") q = Quantity::Time;
    else if (p.parameter == "cloud.budget") q = Quantity::Money;
    std::snprintf(b, sizeof b, "%s = %s\n", p.parameter.c_str(), rate ? fmt("%g", p.value).c_str() : format_quantity(p.value, q).c_str());
    out += b;
  }
  std::snprintf(b, sizeof b, "  %-13s %9s %8s %9s %9s %9s %11s %9s %9s %9s\n", "policy", "requests", "served", "accuracy", "expected",
                "per-served", "energy/req", "dollars", "loads", "evictions");
  out += b;
  for (size_t i = 0; i < p.runs.size(); ++i) {
    const Headline h = headline(p.runs[i]);
    const std::string& name = p.runs[i].empty() ? s.policies[i] : p.runs[i][0].policy;
    if (h.bound_only) {
      std::snprintf(b, sizeof b, "  %-13s %9.0f %8s %9s %8.2f%% %9s %11s %9s %9s %9s   (upper bound)\n", name.c_str(), h.requests, "-", "-",
                    h.expected * 100, "-", "-", "-", "-", "-");
    } else {
      std::snprintf(b, sizeof b, "  %-13s %9.0f %7.2f%% %8.2f%% %8.2f%% %8.2f%% %11s %9s %9.0f %9.0f\n", name.c_str(), h.requests,
                    h.served * 100, h.accuracy * 100, h.expected * 100, h.per_served * 100,
                    format_quantity(h.energy_per_request_j, Quantity::Energy).c_str(), format_quantity(h.usd, Quantity::Money).c_str(),
                    h.loads, h.evictions);
    }
    out += b;
  }
  return out;
}

void write_outputs(const std::string& dir, const Scenario& s, const std::vector<App>& apps, const std::vector<PointResult>& points,
                   const std::string& timing_note) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail(ErrorClass::Output, dir + ": cannot create the output directory: " + ec.message());

  nlohmann::json j;
  j["format"] = "mcdnn-run-report/1";
  j["scenario"] = {{"name", s.name},     {"file", s.path},     {"mode", s.mode},   {"seed", s.seed},
                   {"traces", s.traces}, {"horizon_s", s.horizon_s}, {"policies", s.policies}};
  j["device"] = {{"cache_bytes", s.device.cache_bytes},
                 {"energy_j", s.device.energy_j},
                 {"latency_limit_s", s.device.latency_limit_s},
                 {"profile", apps.empty() ? "" : apps[0].device_profile}};
  j["cloud"] = s.cloud.present ? nlohmann::json{{"round_trip_s", s.cloud.round_trip_s},
                                                {"usd_per_ms", s.cloud.usd_per_ms},
                                                {"transmission_j", s.cloud.transmission_j},
                                                {"budget_usd", s.cloud.budget_usd},
                                                {"latency_factor", s.cloud.latency_factor}}
                               : nlohmann::json(nullptr);
  j["apps"] = nlohmann::json::array();
  for (size_t i = 0; i < apps.size(); ++i) {
    const App& a = apps[i];
    j["apps"].push_back({{"name", a.name},
                         {"catalog", s.apps[i].catalog},
                         {"variants", a.variants.size()},
                         {"original", a.variants[static_cast<size_t>(a.original)].id},
                         {"knee", a.variants[static_cast<size_t>(a.knee)].id},
                         {"min_accuracy", a.min_accuracy},
                         {"min_accuracy_rule", a.min_accuracy_rule}});
  }
  j["notes"] = scenario_notes(s, apps);
  j["timing"] = timing_note;
  j["points"] = nlohmann::json::array();
  std::string csv =
      "parameter,value,policy,app,traces,requests,served_fraction,accuracy,expected_accuracy,accuracy_per_served,"
      "energy_per_request_j,dollars,cache_hits,loads,evictions,fallbacks,dropped,dropped_energy_left,dropped_energy_budget,"
      "dropped_cache,dropped_latency_limit,dropped_min_accuracy,dropped_cloud_budget\n";
  for (const auto& p : points) {
    nlohmann::json pj;
    pj["parameter"] = p.parameter.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.parameter);
    pj["value"] = p.value;
    pj["policies"] = nlohmann::json::array();
    for (const auto& traces : p.runs) {
      if (traces.empty()) continue;
      const Headline h = headline(traces);
      nlohmann::json polj;
      polj["policy"] = traces[0].policy;
      polj["mean"] = {{"requests", h.requests},     {"served_fraction", h.served},   {"served_fraction_sd", h.served_sd},
                      {"cloud_fraction", h.cloud},
                      {"accuracy", h.accuracy},     {"accuracy_sd", h.accuracy_sd},  {"expected_accuracy", h.expected},
                      {"accuracy_per_served", h.per_served}, {"energy_per_request_j", h.energy_per_request_j},
                      {"dollars", h.usd},           {"loads", h.loads},              {"evictions", h.evictions}};
      polj["upper_bound"] = h.bound_only;
      polj["traces"] = nlohmann::json::array();
      // Per app, summed over traces.
      std::vector<Totals> per_app(apps.size());
      Totals all;
      for (const auto& r : traces) {
        nlohmann::json tj;
        if (r.bound_only) {
          tj = {{"requests", r.all.requests}, {"bound_correct", r.oracle.bound},
                {"bound_accuracy", ratio(r.oracle.bound, static_cast<double>(r.all.requests))},
                {"prices", {{"energy_per_j", r.oracle.lambda}, {"dollars_per_usd", r.oracle.mu}, {"memory_per_byte_s", r.oracle.nu}}},
                {"option_shares", {{"resident", r.oracle.share_resident}, {"paged", r.oracle.share_paged},
                                   {"cloud", r.oracle.share_cloud}, {"drop", r.oracle.share_drop}}},
                {"evaluations", r.oracle.evaluations}, {"seconds", r.oracle.seconds}};
        } else {
          tj = totals_json(r.all);
          tj["wall_s"] = r.wall_s;
          tj["schedule_s"] = r.schedule_s;
          tj["inference_s"] = r.inference_s;
          nlohmann::json aj = nlohmann::json::array();
          for (size_t i = 0; i < apps.size(); ++i) {
            nlohmann::json x = totals_json(r.apps[i]);
            x["app"] = apps[i].name;
            nlohmann::json uses = nlohmann::json::object();
            for (const auto& [v, n] : r.uses[i]) uses[apps[i].at(v).id] = n;
            x["variants_used"] = uses;
            aj.push_back(x);
            per_app[i].add(r.apps[i]);
          }
          tj["apps"] = aj;
          all.add(r.all);
        }
        polj["traces"].push_back(tj);
      }
      if (!h.bound_only) {
        // Per app, summed over traces: what was dropped and why, in words too.
        const Scenario point = p.parameter.empty() ? s : with_parameter(s, p.parameter, p.value);
        nlohmann::json drops = nlohmann::json::array();
        for (size_t i = 0; i < apps.size(); ++i)
          drops.push_back({{"app", apps[i].name},
                           {"requests", per_app[i].requests},
                           {"dropped", per_app[i].dropped},
                           {"dropped_by", dropped_by_json(per_app[i])},
                           {"said", drop_words(point, apps[i], traces[0].policy, per_app[i])}});
        polj["drops"] = drops;
      }
      pj["policies"].push_back(polj);
      auto row = [&](const std::string& app, const Totals& t) {
        const double req = static_cast<double>(t.requests);
        csv += p.parameter + "," + fmt("%.9g", p.value) + "," + traces[0].policy + "," + app + "," + std::to_string(traces.size()) + "," +
               std::to_string(t.requests) + "," + fmt("%.6f", ratio(static_cast<double>(t.served()), req)) + "," +
               fmt("%.6f", ratio(static_cast<double>(t.correct), req)) + "," + fmt("%.6f", ratio(t.expected, req)) + "," +
               fmt("%.6f", ratio(t.expected, static_cast<double>(t.served()))) + "," + fmt("%.6g", ratio(t.energy_j, req)) + "," +
               fmt("%.6g", t.usd) + "," + std::to_string(t.hits) + "," + std::to_string(t.loads) + "," +
               std::to_string(t.evictions) + "," + std::to_string(t.fallbacks) + "," + std::to_string(t.dropped);
        for (size_t k = 1; k < kDropReasons; ++k) csv += "," + std::to_string(t.dropped_by[k]);
        csv += "\n";
      };
      if (h.bound_only) {
        csv += p.parameter + "," + fmt("%.9g", p.value) + "," + traces[0].policy + ",all," + std::to_string(traces.size()) + "," +
               fmt("%.0f", h.requests * static_cast<double>(traces.size())) + ",,," + fmt("%.6f", h.expected) + ",,,,,,,,,,,,,,\n";
      } else {
        row("all", all);
        for (size_t i = 0; i < apps.size(); ++i) row(apps[i].name, per_app[i]);
      }
    }
    j["points"].push_back(pj);
  }
  write_file_atomic(fs::path(dir) / "report.json", j.dump(1) + "\n");
  write_file_atomic(fs::path(dir) / "summary.csv", csv);

  std::string tl = "policy,t_s,app,variant,place,hit,correct,energy_left_j,dollars_left,budget_j\n";
  if (!points.empty())
    for (const auto& traces : points[0].runs) {
      if (traces.empty() || traces[0].timeline.empty()) continue;
      const auto& rows = traces[0].timeline;  // already at most ~20,000 rows (run.cpp)
      for (size_t k = 0; k < rows.size(); ++k) {
        const TimelineRow& r = rows[k];
        const App& a = apps[static_cast<size_t>(r.app)];
        char b[256];
        std::snprintf(b, sizeof b, "%s,%.3f,%s,%s,%s,%d,%d,%.6g,%.6g,%.6g\n", traces[0].policy.c_str(), r.t, a.name.c_str(),
                      r.variant >= 0 ? a.at(r.variant).id.c_str() : "",
                      place_name(static_cast<Place>(r.place)), r.hit ? 1 : 0, r.correct ? 1 : 0, r.energy_left, r.usd_left, r.budget_j);
        tl += b;
      }
    }
  write_file_atomic(fs::path(dir) / "timeline.csv", tl);
}

}  // namespace mcdnn::rt
