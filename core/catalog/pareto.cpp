#include <algorithm>
#include <cmath>

#include "catalog/catalog_index.hpp"

namespace mcdnn {

void mark_pareto(std::vector<VariantRecord>& records) {
  auto front = [&](auto resource, bool VariantRecord::*on, bool VariantRecord::*knee) {
    std::vector<size_t> f;
    for (size_t i = 0; i < records.size(); ++i) {
      records[i].*on = records[i].*knee = false;
      if (records[i].specialized.present) continue;
      bool dominated = false;
      for (size_t j = 0; j < records.size() && !dominated; ++j) {
        if (records[j].specialized.present) continue;
        double ri = resource(records[i]), rj = resource(records[j]);
        double ai = records[i].accuracy, aj = records[j].accuracy;
        dominated = j != i && rj <= ri && aj >= ai && (rj < ri || aj > ai);
      }
      if (!dominated) f.push_back(i);
    }
    for (size_t i : f) records[i].*on = true;
    std::stable_sort(f.begin(), f.end(), [&](size_t a, size_t b) { return resource(records[a]) < resource(records[b]); });
    if (f.size() < 3) return;
    double x0 = std::log(std::max(resource(records[f.front()]), 1.0)), x1 = std::log(std::max(resource(records[f.back()]), 1.0));
    double y0 = records[f.front()].accuracy, y1 = records[f.back()].accuracy;
    if (x1 <= x0 || y1 <= y0) return;
    size_t best = f.front();
    double best_d = -1;
    for (size_t i : f) {
      double x = (std::log(std::max(resource(records[i]), 1.0)) - x0) / (x1 - x0), y = (records[i].accuracy - y0) / (y1 - y0);
      if (y - x > best_d) best_d = y - x, best = i;
    }
    records[best].*knee = true;
  };
  front([](const VariantRecord& r) { return static_cast<double>(r.profile.bytes); }, &VariantRecord::pareto_bytes,
        &VariantRecord::knee_bytes);
  front([](const VariantRecord& r) { return static_cast<double>(r.profile.flops_effective); }, &VariantRecord::pareto_flops,
        &VariantRecord::knee_flops);
  // Measured fronts, in microseconds and microjoules (values above 1, like bytes and FLOPs).
  bool measured = !records.empty();
  for (const auto& r : records) measured &= r.measured.present;
  if (!measured) return;
  front([](const VariantRecord& r) { return r.measured.latency_ms * 1e3; }, &VariantRecord::pareto_latency,
        &VariantRecord::knee_latency);
  front([](const VariantRecord& r) { return r.measured.exec_mj * 1e3; }, &VariantRecord::pareto_energy,
        &VariantRecord::knee_energy);
}

}  // namespace mcdnn
