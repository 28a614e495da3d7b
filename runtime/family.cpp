#include "family.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "oracle.hpp"
#include "trace.hpp"

namespace mcdnn::rt {

namespace {

double log_uniform(Rng& r, double lo, double hi) { return lo * std::pow(hi / lo, r.uniform()); }

// The energy front's knee of a synthetic catalog: on the front of (execution energy, accuracy),
// the point furthest above the chord between its ends.
int knee_of(const std::vector<VariantCost>& v) {
  std::vector<int> idx(v.size());
  for (size_t i = 0; i < v.size(); ++i) idx[i] = static_cast<int>(i);
  std::sort(idx.begin(), idx.end(), [&](int a, int b) { return v[static_cast<size_t>(a)].exec_j < v[static_cast<size_t>(b)].exec_j; });
  std::vector<int> front;
  for (int i : idx)
    if (front.empty() || v[static_cast<size_t>(i)].accuracy > v[static_cast<size_t>(front.back())].accuracy) front.push_back(i);
  if (front.size() < 3) return front.empty() ? 0 : front.back();
  const VariantCost &a = v[static_cast<size_t>(front.front())], &b = v[static_cast<size_t>(front.back())];
  int best = front.back();
  double far = -1;
  for (int i : front) {
    const VariantCost& x = v[static_cast<size_t>(i)];
    const double u = (x.exec_j - a.exec_j) / std::max(b.exec_j - a.exec_j, 1e-12);
    const double w = (x.accuracy - a.accuracy) / std::max(b.accuracy - a.accuracy, 1e-12);
    if (w - u > far) far = w - u, best = i;
  }
  return best;
}

}  // namespace

PoolEntry pool_catalog(const std::string& dir) {
  Scenario s;
  s.cloud.usd_per_ms = 1;
  s.cloud.latency_factor = 1;
  AppSpec spec;
  spec.name = dir;
  spec.catalog = dir;
  spec.where = dir;
  PoolEntry e;
  e.name = dir;
  e.app = load_app(spec, s);
  e.app.cascades.clear();  // generic variants only: the family has no class skew
  e.app.sets.clear();
  pick_fixed_variants(e.app);
  return e;
}

PoolEntry synthetic_catalog(uint64_t seed) {
  Rng r(seed * 0x9E3779B97F4A7C15ull + 17);
  PoolEntry e;
  e.name = "synthetic-" + std::to_string(seed);
  App& a = e.app;
  a.name = e.name;
  const int classes = 3 + static_cast<int>(r.uniform() * 8);
  a.catalog.input.num_classes = classes;
  const double chance = 1.0 / classes;
  const double base_bytes = log_uniform(r, 1e5, 8e6), base_j = log_uniform(r, 5e-4, 8e-3), base_s = log_uniform(r, 2e-4, 1.5e-3);
  const double base_acc = 0.6 + 0.37 * r.uniform();
  const int n = 10 + static_cast<int>(r.uniform() * 31);
  for (int i = 0; i < n; ++i) {
    VariantCost v;
    v.id = i == 0 ? "base" : "v" + std::to_string(i);
    const double bf = i == 0 ? 1 : log_uniform(r, 0.01, 1), ef = i == 0 ? 1 : 0.25 + 0.75 * std::pow(r.uniform(), 0.7);
    // Accuracy falls with compression, with noise; one variant in six far (toward chance).
    const double squeeze = -std::log10(bf) / 2 + (1 - ef);  // 0 (base) .. about 1.75
    double drop = 0.02 * squeeze * squeeze + 0.01 * r.uniform();
    if (i > 0 && r.uniform() < 1.0 / 6) drop += (base_acc - chance) * (0.3 + 0.7 * r.uniform());
    v.accuracy = i == 0 ? base_acc : std::clamp(base_acc - drop + 0.003 * (r.uniform() - 0.5), chance * 0.9, 1.0);
    v.bytes = static_cast<int64_t>(base_bytes * bf);
    v.file_bytes = v.bytes;
    v.exec_j = base_j * ef;
    v.exec_s = base_s * ef;
    v.load_j = 0.010 + 0.010 * static_cast<double>(v.bytes) / 1e6;
    v.load_s = 0.002 + 0.002 * static_cast<double>(v.bytes) / 1e6;
    v.cloud_s = v.exec_s;
    v.cloud_usd = v.cloud_s * 1e3;
    v.record = static_cast<size_t>(i);
    a.variants.push_back(v);
  }
  a.original = 0;
  a.knee = knee_of(a.variants);
  return e;
}

FamilyCase make_case(const std::vector<PoolEntry>& pool, uint64_t seed, int index) {
  FamilyCase c;
  Rng r(seed * 0x2545F4914F6CDD1Dull + static_cast<uint64_t>(index) * 0x9E3779B97F4A7C15ull + 1);
  for (int i = 0; i < 4; ++i) r.next();
  Scenario& s = c.scenario;
  s.name = "family-" + std::to_string(seed) + "-" + std::to_string(index);
  s.path = s.name;
  s.seed = r.next() % 1000000 + 1;
  s.horizon_s = 3600;
  s.policies.clear();
  s.device.cache_bytes = std::round(log_uniform(r, 300e3, 8e6));
  s.device.energy_j = log_uniform(r, 2, 50);
  s.device.latency_limit_s = log_uniform(r, 0.05, 1);
  s.cloud.present = r.uniform() < 0.5;
  if (s.cloud.present) {
    s.cloud.round_trip_s = log_uniform(r, 0.03, 0.3);
    s.cloud.latency_factor = 0.2 + 0.8 * r.uniform();
    s.cloud.transmission_j = log_uniform(r, 1e-3, 1e-2);
    s.cloud.usd_per_ms = log_uniform(r, 1.8e-7, 1.8e-4);
    s.cloud.budget_usd = log_uniform(r, 5e-4, 5e-2);
  }
  const double slow = log_uniform(r, 0.5, 3);
  const int napps = 2 + (r.uniform() < 0.5 ? 1 : 0);
  char b[256];
  std::snprintf(b, sizeof b, "cache %.0f KB, %.1f J, limit %.0f ms, device x%.2f, %s", s.device.cache_bytes / 1e3, s.device.energy_j,
                s.device.latency_limit_s * 1e3, slow, s.cloud.present ? "cloud" : "no cloud");
  c.summary = b;
  if (s.cloud.present) {
    std::snprintf(b, sizeof b, " (rt %.0f ms, $%.2g/ms, $%.2g)", s.cloud.round_trip_s * 1e3, s.cloud.usd_per_ms, s.cloud.budget_usd);
    c.summary += b;
  }
  for (int i = 0; i < napps; ++i) {
    const PoolEntry& e = pool[static_cast<size_t>(r.next() % pool.size())];
    AppSpec spec;
    spec.name = "app" + std::to_string(i);
    spec.catalog = e.name;
    spec.where = s.name + ": apps[" + std::to_string(i) + "]";
    spec.stream.where = spec.where + ".stream";
    std::string stream;
    if (r.uniform() < 0.5) {
      const double rate = log_uniform(r, 0.05, 5);
      spec.stream.phases.push_back({0, rate});
      std::snprintf(b, sizeof b, "%.2g/s", rate);
      stream = b;
    } else {
      const int np = 2 + (r.uniform() < 0.5 ? 1 : 0);
      for (int k = 0; k < np; ++k) {
        const double d = 60 * (5 + 15 * r.uniform());
        const double rate = r.uniform() < 0.25 ? 0.01 : log_uniform(r, 0.01, 5);
        spec.stream.phases.push_back({d, rate});
        std::snprintf(b, sizeof b, "%s%.2g/s x %.0f min", k ? ", " : "", rate, d / 60);
        stream += b;
      }
    }
    s.apps.push_back(spec);
    App a = e.app;
    a.name = spec.name;
    for (VariantCost& v : a.variants) {
      v.cloud_s = v.exec_s * s.cloud.latency_factor;  // the server: the catalog's machine, scaled
      v.cloud_usd = v.cloud_s * 1e3 * s.cloud.usd_per_ms;
      v.exec_s *= slow, v.exec_j *= slow, v.load_s *= slow, v.load_j *= slow;
    }
    set_min_accuracy(a, spec);
    c.apps.push_back(std::move(a));
    c.summary += "; " + spec.name + " " + e.name.substr(e.name.find_last_of('/') + 1) + " " + stream;
  }
  return c;
}

const PolicyOutcome* CaseOutcome::find(const std::string& p) const {
  for (const auto& x : policies)
    if (x.policy == p) return &x;
  return nullptr;
}

CaseOutcome run_case(const FamilyCase& c, const std::vector<std::string>& policies) {
  CaseOutcome out;
  const Scenario& s = c.scenario;
  const std::vector<Request> trace = make_trace(s, s.seed);
  out.requests = static_cast<int64_t>(trace.size());
  const double n = std::max<double>(1, static_cast<double>(trace.size()));
  const double hours = s.horizon_s / 3600;
  SimulatedBackend backend(s, c.apps, trace, s.seed);
  out.bound_points = 100 * oracle_bound(s, c.apps, trace).bound / n;
  for (const std::string& p : policies) {
    const RunResult res = run_policy(s, c.apps, trace, p, backend);
    PolicyOutcome o;
    o.policy = p;
    o.points = 100 * res.all.expected / n;
    o.served = static_cast<double>(res.all.served()) / n;
    o.loads_per_hour = static_cast<double>(res.all.loads) / hours;
    o.energy_j = res.all.energy_j;
    o.schedule_ns = 1e9 * res.schedule_s / n;
    if (p == "reference") out.reference_points = o.points, out.reference_loads_per_hour = o.loads_per_hour;
    out.policies.push_back(o);
  }
  return out;
}

}  // namespace mcdnn::rt
