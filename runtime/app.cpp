#include "app.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <limits>

#include "catalog/trunk.hpp"
#include "energy.hpp"
#include "util/error.hpp"

namespace mcdnn::rt {

void pick_fixed_variants(App& app) {
  const auto& v = app.variants;
  app.original = 0;
  const auto& recs = app.catalog.records;
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i].record < recs.size() && recs[v[i].record].parent.empty()) {
      app.original = static_cast<int>(i);
      break;
    }
  app.knee = -1;
  for (size_t i = 0; i < v.size() && app.knee < 0; ++i)
    if (v[i].record < recs.size() && recs[v[i].record].knee_energy) app.knee = static_cast<int>(i);
  for (size_t i = 0; i < v.size() && app.knee < 0; ++i)
    if (v[i].record < recs.size() && recs[v[i].record].knee_bytes) app.knee = static_cast<int>(i);
  if (app.knee < 0) app.knee = 0;
}

double default_min_accuracy(const App& app, std::string* rule) {
  const int64_t classes = app.catalog.input.num_classes;
  const double chance = classes >= 2 ? 1.0 / static_cast<double>(classes) : 0;
  double best = 0;
  std::string best_id;
  for (const VariantCost& v : app.variants)
    if (best_id.empty() || v.accuracy > best) best = v.accuracy, best_id = v.id;
  const double m = chance + std::max(0.0, best - chance) / 2;
  if (rule) {
    char b[256];
    std::snprintf(b, sizeof b, "default: chance %.2f%% (1/%lld classes) + half the way to %s's %.2f%%", 100 * chance,
                  static_cast<long long>(classes), best_id.c_str(), 100 * best);
    *rule = classes >= 2 ? b : "default: half of " + best_id + "'s accuracy (the catalog gives no class count)";
  }
  return m;
}

void set_min_accuracy(App& app, const AppSpec& spec) {
  if (spec.min_accuracy < 0) {
    app.min_accuracy = default_min_accuracy(app, &app.min_accuracy_rule);
  } else {
    app.min_accuracy = spec.min_accuracy;
    app.min_accuracy_rule = spec.min_accuracy > 0 ? "set in the scenario" : "none (min_accuracy: 0)";
    // A minimum above every variant would drop every request: a mistake, said before running.
    // Generic variants only: a specialized cascade's in-set accuracy holds only while the
    // stream is skewed, so it cannot be what keeps the app served.
    const VariantCost* top = nullptr;
    for (const VariantCost& v : app.variants)
      if (!top || v.accuracy > top->accuracy) top = &v;
    if (top && spec.min_accuracy > top->accuracy) {
      char pct[32], best[32];
      std::snprintf(pct, sizeof pct, "%.2f%%", 100 * spec.min_accuracy);
      std::snprintf(best, sizeof best, "%.2f%%", 100 * top->accuracy);
      fail(ErrorClass::Scenario, (spec.min_accuracy_where.empty() ? spec.where : spec.min_accuracy_where) + ": " + pct +
                                     " is above every variant of catalog " + spec.catalog + " (its most accurate, " + top->id + ", has " +
                                     best + "): every request of app '" + spec.name +
                                     "' would be dropped; lower it, or set 0 for no minimum");
    }
  }
}

App load_app(const AppSpec& spec, const Scenario& s) {
  App app;
  app.name = spec.name;
  try {
    app.catalog = read_catalog_index(spec.catalog);
  } catch (const Error& e) {
    fail(ErrorClass::Catalog, "app '" + spec.name + "' (" + spec.where + "): " + e.what());
  }
  const CatalogIndex& c = app.catalog;
  if (c.records.empty())
    fail(ErrorClass::Catalog, "app '" + spec.name + "': catalog " + spec.catalog + " has no variants; build it with mcdnn-compile");
  if (!c.measured)
    fail(ErrorClass::Catalog, "app '" + spec.name + "': catalog " + spec.catalog +
                                  " has no measured costs (built with --measure-seconds 0); rebuild it with mcdnn-compile "
                                  "--measure-seconds 0.25 so the scheduler knows latency, load time and energy");
  if (spec.stream.classes.count > 0 && spec.stream.classes.count != c.input.num_classes)
    fail(ErrorClass::Scenario, spec.stream.classes.where + ": count " + std::to_string(spec.stream.classes.count) + ", but app '" +
                                   spec.name + "''s catalog " + spec.catalog + " has " + std::to_string(c.input.num_classes) + " classes");
  app.device_profile = s.device.profile.empty() ? c.executor.device_profile : s.device.profile;
  const exec::DeviceProfile& dev = exec::device_profile(app.device_profile);
  const bool recompute = app.device_profile != c.executor.device_profile;
  std::vector<VariantCost> specialized;
  for (size_t i = 0; i < c.records.size(); ++i) {
    const VariantRecord& r = c.records[i];
    const MeasuredCost& m = r.measured;
    VariantCost v;
    v.id = r.id;
    v.record = i;
    v.accuracy = r.accuracy;
    v.bytes = m.resident_bytes;
    std::error_code ec;
    const auto fb = std::filesystem::file_size(std::filesystem::path(c.dir) / r.file, ec);
    v.file_bytes = ec ? r.profile.bytes : static_cast<int64_t>(fb);
    v.flops = static_cast<double>(r.profile.flops_effective);
    v.load_s = m.load_cold_ms / 1e3;
    v.exec_s = m.latency_ms / 1e3;
    if (recompute) {
      const exec::Energy e = exec::estimate_energy(dev, v.exec_s, v.flops, v.bytes, v.load_s, v.file_bytes);
      v.exec_j = e.exec_j;
      v.load_j = e.load_j;
    } else {
      v.exec_j = m.exec_mj / 1e3;
      v.load_j = m.load_mj / 1e3;
    }
    v.cloud_s = v.exec_s * s.cloud.latency_factor;
    v.cloud_usd = v.cloud_s * 1e3 * s.cloud.usd_per_ms;
    if (r.specialized.present) specialized.push_back(v);
    else app.variants.push_back(v);
  }
  // Cascades: a specialized variant whose generic source is in the catalog.
  for (VariantCost v : specialized) {
    const VariantRecord& r = c.records[v.record];
    const Specialization& sp = r.specialized;
    int fb = -1;
    for (size_t i = 0; i < app.variants.size(); ++i)
      if (app.variants[i].id == r.parent) fb = static_cast<int>(i);
    if (fb < 0)
      fail(ErrorClass::Catalog, "app '" + spec.name + "': catalog " + spec.catalog + ": specialized variant " + r.id + " comes from '" +
                                    r.parent + "', which is not a generic variant of the catalog");
    const VariantCost& g = app.variants[static_cast<size_t>(fb)];
    size_t set = 0;
    while (set < app.sets.size() && app.sets[set] != sp.classes) ++set;
    if (set == app.sets.size()) app.sets.push_back(sp.classes);
    v.set = static_cast<int>(set);
    v.fallback = fb;
    v.in_set_accuracy = sp.in_set_accuracy;
    v.in_set_other = sp.in_set_other;
    v.other_recall = sp.other_recall;
    // The fallback's accuracy on the kept classes is measured; on the others it follows from
    // its overall accuracy, taking the validation set's classes as equally frequent.
    const double q = static_cast<double>(sp.classes.size()) / static_cast<double>(c.input.num_classes);
    v.fallback_in = sp.source_in_set_accuracy;
    v.fallback_out = std::clamp((g.accuracy - q * v.fallback_in) / (1 - q), 0.0, 1.0);
    v.accuracy = sp.in_set_accuracy;
    v.cloud_s = v.cloud_usd = std::numeric_limits<double>::infinity();  // cascades run on the device
    app.cascades.push_back(v);
  }
  pick_fixed_variants(app);
  set_min_accuracy(app, spec);
  return app;
}

std::vector<VariantCost> options_under_skew(const App& app, int set, double p) {
  std::vector<VariantCost> out = app.variants;
  for (const VariantCost& c : app.cascades) {
    VariantCost live = c;
    if (set < 0 || c.set != set) {
      live.accuracy = -1;
      live.exec_j = std::numeric_limits<double>::infinity();
    } else {
      VariantCost& fb = out[static_cast<size_t>(c.fallback)];
      const double p_other = p * c.in_set_other + (1 - p) * c.other_recall;
      live.accuracy = p * (c.in_set_accuracy + c.in_set_other * c.fallback_in) + (1 - p) * c.other_recall * c.fallback_out;
      live.exec_j = c.exec_j + p_other * fb.exec_j;
      live.exec_s = c.exec_s + fb.exec_s;
      fb.accuracy = p * c.fallback_in + (1 - p) * c.fallback_out;
    }
    out.push_back(live);
  }
  return out;
}

namespace {

TrunkCost trunk_cost(const App& app, const Scenario& s) {
  const CatalogIndex& c = app.catalog;
  const TrunkRef& t = c.trunk;
  // The dependency must hold now: a missing or changed trunk is an error before anything runs.
  try {
    open_trunk(c);
  } catch (const Error& e) {
    fail(ErrorClass::Catalog, "app '" + app.name + "': " + e.what());
  }
  TrunkCost tc;
  std::error_code ec;
  const auto dir = std::filesystem::weakly_canonical(t.catalog_dir, ec);
  tc.catalog_dir = t.catalog_dir;
  tc.variant = t.variant;
  tc.layer = t.layer;
  tc.layers = t.layers;
  tc.key = (ec ? t.catalog_dir : dir.string()) + "|" + t.variant + "|" + std::to_string(t.layers) + "|" + t.sha256;
  const MeasuredCost& m = c.trunk_measured;
  tc.bytes = m.resident_bytes;
  const auto fb = std::filesystem::file_size(std::filesystem::path(t.catalog_dir) / t.file, ec);
  tc.file_bytes = ec ? t.bytes : static_cast<int64_t>(fb);
  tc.flops = static_cast<double>(t.flops);
  tc.load_s = m.load_cold_ms / 1e3;
  tc.exec_s = m.latency_ms / 1e3;
  if (app.device_profile != c.executor.device_profile) {
    const exec::Energy e = exec::estimate_energy(exec::device_profile(app.device_profile), tc.exec_s, tc.flops, tc.bytes, tc.load_s, tc.file_bytes);
    tc.exec_j = e.exec_j;
    tc.load_j = e.load_j;
  } else {
    tc.exec_j = m.exec_mj / 1e3;
    tc.load_j = m.load_mj / 1e3;
  }
  (void)s;
  return tc;
}

}  // namespace

std::vector<App> load_apps(const Scenario& s) {
  std::vector<App> apps;
  for (const auto& a : s.apps) apps.push_back(load_app(a, s));
  std::vector<TrunkCost> trunks;  // one per distinct trunk: its costs from the first catalog naming it
  for (App& app : apps) {
    if (!app.catalog.trunk.present) continue;
    const TrunkCost tc = trunk_cost(app, s);
    size_t k = 0;
    while (k < trunks.size() && trunks[k].key != tc.key) ++k;
    if (k == trunks.size()) trunks.push_back(tc);
    app.trunk = static_cast<int>(k);
    app.trunk_cost = trunks[k];
    // The server runs the trunk too, for each request (it shares nothing across devices).
    for (auto* list : {&app.variants, &app.cascades})
      for (VariantCost& v : *list) {
        v.cloud_s += tc.exec_s * s.cloud.latency_factor;
        v.cloud_usd = v.cloud_s * 1e3 * s.cloud.usd_per_ms;
      }
  }
  // The apps that share a trunk's runs: on it and on the same frames (one stream, same_as).
  auto source = [&](size_t i) { return s.apps[i].stream.same_as_app >= 0 ? static_cast<size_t>(s.apps[i].stream.same_as_app) : i; };
  for (size_t i = 0; i < apps.size(); ++i)
    for (size_t j = 0; j < apps.size(); ++j)
      if (apps[i].trunk >= 0 && apps[i].trunk == apps[j].trunk) {
        apps[i].trunk_cost.on_trunk += 1;
        apps[i].trunk_cost.sharers += source(i) == source(j);
      }
  return apps;
}

}  // namespace mcdnn::rt
