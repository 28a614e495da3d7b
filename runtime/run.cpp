#include "run.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "util/units.hpp"
#include "util/error.hpp"

namespace mcdnn::rt {

using Clock = std::chrono::steady_clock;

void Totals::add(const Totals& o) {
  requests += o.requests, device += o.device, cloud += o.cloud, dropped += o.dropped, correct += o.correct;
  expected += o.expected, energy_j += o.energy_j, load_j += o.load_j, usd += o.usd, latency_s += o.latency_s;
  hits += o.hits, loads += o.loads, evictions += o.evictions, fallbacks += o.fallbacks;
  trunk_runs += o.trunk_runs, trunk_shared += o.trunk_shared;
  specialized += o.specialized, fell_through += o.fell_through;
  for (size_t i = 0; i < kDropReasons; ++i) dropped_by[i] += o.dropped_by[i];
}

void SimulatedBackend::prepare(const Scenario&, const std::vector<Request>& trace, uint64_t seed) {
  draw_.resize(trace.size());
  draw2_.resize(trace.size());
  Rng rng(seed ^ 0xC0FFEE1234567ull), rng2(seed ^ 0x5ECD0D4A11ull);
  for (auto& d : draw_) d = rng.uniform();
  for (auto& d : draw2_) d = rng2.uniform();
}

namespace {
// A class other than `label` of `count`, from a uniform draw u.
int other_class(int label, int64_t count, double u) {
  if (count < 2) return label;
  return static_cast<int>((label + 1 + static_cast<int64_t>(u * static_cast<double>(count - 1)) % (count - 1)) % count);
}
}  // namespace

Backend::Served SimulatedBackend::serve(size_t index, const Request& r, const Decision& d) {
  Served out;
  const App& app = apps_[static_cast<size_t>(r.app)];
  const VariantCost& v = app.at(d.variant);
  const int64_t count = app.catalog.input.num_classes;
  const double u = draw_[index], u2 = draw2_[index];
  out.latency_s = d.latency_s;
  out.energy_j = d.energy_j;
  out.usd = d.usd;
  out.load_s = d.load_s;
  out.load_j = d.load_j;
  if (v.set < 0) {
    out.correct = u < v.accuracy;
    if (r.label >= 0) out.predicted = out.correct ? r.label : other_class(r.label, count, u2);
    return out;
  }
  const auto& set = app.sets[static_cast<size_t>(v.set)];
  const VariantCost& fb = app.variants[static_cast<size_t>(v.fallback)];
  const auto pos = std::find(set.begin(), set.end(), static_cast<int64_t>(r.label));
  const bool in = r.label >= 0 && pos != set.end();
  if (in && u < v.in_set_accuracy) {
    out.correct = true;
  } else if (in ? u < v.in_set_accuracy + v.in_set_other : u < v.other_recall) {
    out.fell_through = true;
    out.correct = u2 < (in ? v.fallback_in : v.fallback_out);
  }
  if (r.label >= 0) {
    if (out.correct) out.predicted = r.label;
    else if (out.fell_through) {  // u2 decided the fallback was wrong: u2 >= acc; rescaled, it picks the class
      const double acc = in ? v.fallback_in : v.fallback_out;
      out.predicted = other_class(r.label, count, acc < 1 ? (u2 - acc) / (1 - acc) : 0);
    }
    else if (in) out.predicted = set.size() > 1 ? static_cast<int>(set[static_cast<size_t>((pos - set.begin()) + 1) % set.size()]) : r.label;
    else out.predicted = static_cast<int>(set[std::min(set.size() - 1, static_cast<size_t>(u2 * static_cast<double>(set.size())))]);
  }
  // d's costs are the scheduler's expectation: pay the specialized variant, the fallback when it ran.
  out.energy_j = v.exec_j + (out.fell_through ? fb.exec_j : 0) + d.trunk_j + d.load_j;
  out.latency_s = d.latency_s - (out.fell_through ? 0 : fb.exec_s);
  return out;
}

std::vector<double> reference_segments(const Scenario& s, size_t max_segments) {
  std::vector<double> b{0};
  for (const auto& a : s.apps) {
    const auto& ph = a.stream.phases;
    if (ph.size() < 2 || !a.stream.trace.empty()) continue;  // a constant rate (or a trace file): no change
    double cycle = 0;
    for (const auto& p : ph) cycle += p.duration_s;
    if (!(cycle > 0)) continue;
    double last = 0;  // boundaries under 1 s apart are merged as they come (a 1 ms phase
                      // over a day would otherwise make millions)
    for (double t0 = 0; t0 < s.horizon_s; t0 += cycle) {
      double t = t0;
      for (const auto& p : ph) {
        t += p.duration_s;
        if (t < s.horizon_s && t - last >= 1) b.push_back(t), last = t;
      }
    }
  }
  std::sort(b.begin(), b.end());
  std::vector<double> out;
  for (double t : b)
    if (out.empty() || t - out.back() >= 1) out.push_back(t);
  // At most max_segments: every k-th boundary.
  if (out.size() > max_segments) {
    const size_t k = (out.size() + max_segments - 1) / max_segments;
    std::vector<double> fewer;
    for (size_t i = 0; i < out.size(); i += k) fewer.push_back(out[i]);
    out = std::move(fewer);
  }
  return out;
}

RunResult run_policy(const Scenario& s, const std::vector<App>& apps, const std::vector<Request>& trace,
                     const std::string& policy, Backend& backend, const RunOptions& opt) {
  RunResult res;
  res.policy = policy;
  res.apps.resize(apps.size());
  res.uses.resize(apps.size());
  const auto start = Clock::now();
  if (policy == "oracle") {
    res.bound_only = true;
    res.oracle = oracle_bound(s, apps, trace);
    res.all.requests = static_cast<int64_t>(trace.size());
    res.all.expected = res.oracle.bound;
    for (const auto& r : trace) res.apps[static_cast<size_t>(r.app)].requests++;
    res.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
    return res;
  }
  backend.reset();
  Scheduler sched(s, apps, policy_from_name(policy));
  if (s.mode == "real") sched.enable_calibration();  // measured costs: price executions as they run
  if (policy == "reference") {  // the offline reference knows the trace: its segments and counts
    std::vector<double> starts = reference_segments(s);
    std::vector<std::vector<double>> n(starts.size(), std::vector<double>(apps.size(), 0.0));
    size_t g = 0;
    for (const auto& r : trace) {
      while (g + 1 < starts.size() && r.t >= starts[g + 1]) ++g;
      n[g][static_cast<size_t>(r.app)] += 1;
    }
    sched.set_reference(std::move(starts), std::move(n));
  }
  // At most about 20,000 timeline rows, evenly spaced, whatever the trace's length.
  const size_t stride = std::max<size_t>(1, (trace.size() + 19999) / 20000);
  if (opt.timeline) res.timeline.reserve(trace.size() / stride + 1);
  // The scheduler's time is sampled: every kSample-th decision is timed and the sum scaled, so
  // that reading the clock (20-30 ns here) does not inflate what it measures.
  constexpr size_t kSample = 8;
  double sched_s = 0;
  size_t timed = 0;
  for (size_t k = 0; k < trace.size(); ++k) {
    const Request& r = trace[k];
    Explanation why;
    const bool explain = static_cast<int64_t>(k) == opt.explain;
    Decision d;
    if (k % kSample == 0 && !explain) {
      const auto t0 = Clock::now();
      d = sched.decide(r, nullptr);
      sched_s += std::chrono::duration<double>(Clock::now() - t0).count();
      ++timed;
    } else {
      d = sched.decide(r, explain ? &why : nullptr);
    }
    if (explain && opt.explain_out) std::fputs(explain_text(s, sched.view(), why, policy, k).c_str(), opt.explain_out);
    Totals& a = res.apps[static_cast<size_t>(r.app)];
    a.requests++;
    bool correct = false;
    if (d.place == Place::Drop) {
      a.dropped++;
      a.dropped_by[static_cast<size_t>(d.drop)]++;
    } else {
      const Backend::Served sv = backend.serve(k, r, d);
      res.inference_s += sv.inference_s;
      sched.charge(sv.energy_j, sv.usd, d.place == Place::Device ? r.t + sv.latency_s : 0);
      if (d.place == Place::Device) sched.calibrate(r.app, d.exec_j_catalog, sv.energy_j - sv.load_j);
      correct = sv.correct;
      a.correct += sv.correct;
      a.expected += sched.view()[static_cast<size_t>(r.app)].variants[static_cast<size_t>(d.variant)].accuracy;
      sched.observe(r.app, sv.predicted);
      if (d.variant >= static_cast<int>(apps[static_cast<size_t>(r.app)].variants.size())) {
        a.specialized++;
        a.fell_through += sv.fell_through;
      }
      a.energy_j += sv.energy_j;
      a.load_j += sv.load_j;
      a.usd += sv.usd;
      a.latency_s += sv.latency_s;
      a.fallbacks += d.fallback;
      if (d.place == Place::Device) {
        a.device++;
        if (d.hit) a.hits++;
        else a.loads++;
        a.evictions += static_cast<int64_t>(d.evicted.size());
        if (apps[static_cast<size_t>(r.app)].trunk >= 0) (d.trunk_runs ? a.trunk_runs : a.trunk_shared)++;
      } else {
        a.cloud++;
      }
      res.uses[static_cast<size_t>(r.app)][d.variant]++;
    }
    if (opt.timeline && k % stride == 0)
      res.timeline.push_back({static_cast<float>(r.t), static_cast<int16_t>(r.app), static_cast<int16_t>(d.variant),
                              static_cast<int8_t>(d.place), d.hit, correct, static_cast<float>(sched.energy_left()),
                              static_cast<float>(sched.usd_left()), static_cast<float>(sched.last_budget_j())});
  }
  for (const auto& a : res.apps) res.all.add(a);
  res.schedule_s = timed ? sched_s * static_cast<double>(trace.size()) / static_cast<double>(timed) : 0;
  res.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  return res;
}

std::string explain_text(const Scenario& s, const std::vector<App>& apps, const Explanation& e, const std::string& policy,
                         size_t index) {
  std::string out;
  char b[512];
  const App& app = apps[static_cast<size_t>(e.request.app)];
  std::snprintf(b, sizeof b, "request %zu (policy %s): app %s at t = %.3f s, %s of the horizon left\n", index, policy.c_str(),
                app.name.c_str(), e.request.t, format_quantity(e.remaining_s, Quantity::Time).c_str());
  out += b;
  std::snprintf(b, sizeof b, "  energy left %s, dollars left %s; f(app) = %.4g/s, sum f^2 on the device %.4g, in the cloud %.4g\n",
                format_quantity(e.energy_left, Quantity::Energy).c_str(), format_quantity(e.usd_left, Quantity::Money).c_str(),
                e.f_app, e.sum_f2_device, e.sum_f2_cloud);
  out += b;
  if (e.skew_set >= 0) {
    std::string cls;
    for (int64_t c : app.sets[static_cast<size_t>(e.skew_set)]) cls += (cls.empty() ? "" : ",") + std::to_string(c);
    std::snprintf(b, sizeof b, "  skew: classes {%s} are %.1f%% of the app's recent requests: its specialized cascades compete\n",
                  cls.c_str(), 100 * e.skew_share);
    out += b;
  }
  if (e.floor_first) {
    std::snprintf(b, sizeof b, "  floor-first split: this app's floor %s per request; all active apps need %s/s, the energy left gives %s/s\n",
                  format_quantity(e.floor_j, Quantity::Energy).c_str(), format_quantity(e.need_w, Quantity::Energy).c_str(),
                  format_quantity(e.energy_left / std::max(e.remaining_s, 1e-9), Quantity::Energy).c_str());
    out += b;
  }
  std::snprintf(b, sizeof b, "  per-request budget: %s of energy (before any reload penalty), %s in the cloud; saved credit %s\n",
                format_quantity(e.device_budget_j, Quantity::Energy).c_str(),
                format_quantity(e.cloud_budget_usd, Quantity::Money).c_str(), format_quantity(e.credit_j, Quantity::Energy).c_str());
  out += b;
  if (e.cost_scale != 1) {
    std::snprintf(b, sizeof b, "  executions priced at %.3fx the catalog's energy (this app's measured / predicted, recent requests)\n", e.cost_scale);
    out += b;
  }
  out += e.plan;
  if (app.min_accuracy > 0) {
    std::snprintf(b, sizeof b, "  minimum accuracy %.2f%% (%s): a less accurate variant is never run\n", 100 * app.min_accuracy,
                  app.min_accuracy_rule.c_str());
    out += b;
  }
  // energy: what the request would spend (load included); load: of which loading. The budget
  // rule holds the execution alone to the budget (loads are priced by the reload penalty).
  std::snprintf(b, sizeof b, "  %-6s %-44s %7s %6s %10s %10s %10s %10s %10s %10s  %s\n", "place", "variant", "acc", "cached", "latency",
                "energy", "load", "dollars", "penalty", "budget", "verdict");
  out += b;
  for (const auto& c : e.candidates) {
    const VariantCost& v = app.variants[static_cast<size_t>(c.variant)];
    const bool money = c.place == Place::Cloud;
    std::string verdict = c.ok ? "ok" : c.why;
    if (c.below_min) {
      std::snprintf(b, sizeof b, " (%.2f%%)", 100 * app.min_accuracy);
      verdict += b;
    } else if (c.ok && !money && c.budget > 0 && c.energy_j > c.budget) {
      // Within the rule, which holds the execution to the budget, yet the request spends more.
      const bool trunk = c.energy_j - c.load_j > c.budgeted_j * (1 + 1e-12);
      std::snprintf(b, sizeof b, "over budget with %s: allowed (execution %s within budget; %s)",
                    c.load_j > 0 && trunk ? "its load and the trunk's run" : c.load_j > 0 ? "its load" : "the trunk's run",
                    format_quantity(c.budgeted_j, Quantity::Energy).c_str(),
                    c.load_j > 0 ? (c.penalty_j > 0 ? "the load is priced by the reload penalty" : "an app's first load is not budgeted")
                                 : "a fragment counts its share of the trunk's run");
      verdict = b;
    }
    std::snprintf(b, sizeof b, "  %-6s %-44s %6.2f%% %6s %10s %10s %10s %10s %10s %10s  %s\n", place_name(c.place), v.id.c_str(),
                  v.accuracy * 100, c.place == Place::Cloud ? "-" : c.cached ? "yes" : "no",
                  format_quantity(c.latency_s, Quantity::Time).c_str(), format_quantity(c.energy_j, Quantity::Energy).c_str(),
                  !money && c.load_j > 0 ? format_quantity(c.load_j, Quantity::Energy).c_str() : "-",
                  money ? format_quantity(c.usd, Quantity::Money).c_str() : "-",
                  c.penalty_j > 0 ? format_quantity(c.penalty_j, Quantity::Energy).c_str() : "-",
                  c.budget > 0 ? format_quantity(c.budget, money ? Quantity::Money : Quantity::Energy).c_str() : "-",
                  verdict.c_str());
    out += b;
  }
  const Decision& d = e.decision;
  if (d.place == Place::Drop) {
    std::snprintf(b, sizeof b, "  decision: drop (%s; counted as %s)\n", d.reason, drop_reason_key(d.drop));
  } else {
    std::string ev;
    for (const auto& k : d.evicted) {
      std::string name;
      if (k.app < 0) {  // a trunk (Scheduler::trunk_key)
        for (const auto& x : apps)
          if (x.trunk == -1 - k.app) name = "trunk " + x.trunk_cost.variant + "@" + x.trunk_cost.layer;
      } else {
        name = apps[static_cast<size_t>(k.app)].name + "/" + apps[static_cast<size_t>(k.app)].at(k.variant).id;
      }
      ev += (ev.empty() ? "" : ", ") + name;
    }
    std::snprintf(b, sizeof b, "  decision: %s %s%s (%s)%s%s\n", place_name(d.place), app.variants[static_cast<size_t>(d.variant)].id.c_str(),
                  d.place == Place::Device ? (d.hit ? ", cached" : ", loaded") : "", d.reason, ev.empty() ? "" : "; evicted ",
                  ev.c_str());
  }
  out += b;
  (void)s;
  return out;
}

}  // namespace mcdnn::rt
