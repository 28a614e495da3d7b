#include "app.hpp"

#include <filesystem>

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
  app.device_profile = s.device.profile.empty() ? c.executor.device_profile : s.device.profile;
  const exec::DeviceProfile& dev = exec::device_profile(app.device_profile);
  const bool recompute = app.device_profile != c.executor.device_profile;
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
    app.variants.push_back(v);
  }
  pick_fixed_variants(app);
  return app;
}

std::vector<App> load_apps(const Scenario& s) {
  std::vector<App> apps;
  for (const auto& a : s.apps) apps.push_back(load_app(a, s));
  return apps;
}

}  // namespace mcdnn::rt
