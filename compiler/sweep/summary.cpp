#include "sweep/summary.hpp"

#include <algorithm>
#include <cstdio>

namespace mcdnn {

std::string format_summary(const std::vector<VariantRecord>& records) {
  const VariantRecord& b = records.front();
  const bool measured = b.measured.present;
  std::string o;
  char buf[640];
  std::snprintf(buf, sizeof buf, "  %-40s %8s %8s %11s %7s %11s %7s", "variant", "accuracy", "before", "bytes", "bytes x",
                "FLOPs eff.", "FLOPs x");
  o += buf;
  if (measured) {
    std::snprintf(buf, sizeof buf, " %9s %7s %8s", "latency", "speed x", "energy");
    o += buf;
  }
  std::snprintf(buf, sizeof buf, " %-8s %6s\n", "fronts", "s");
  o += buf;
  if (measured) {
    std::snprintf(buf, sizeof buf, "  %-40s %8s %8s %11s %7s %11s %7s %9s %7s %8s\n", "", "", "", "", "", "", "", "ms", "", "mJ");
    o += buf;
  }
  for (const auto& r : records) {
    std::string before = r.accuracy_before_finetune >= 0 ? std::to_string(100 * r.accuracy_before_finetune).substr(0, 5) + "%" : "-";
    auto mark = [](bool on, bool knee, char c) { return on ? std::string(1, knee ? static_cast<char>(c - 'A' + 'a') : c) : std::string(); };
    std::string marks = mark(r.pareto_bytes, r.knee_bytes, 'B') + mark(r.pareto_flops, r.knee_flops, 'F') +
                        mark(r.pareto_latency, r.knee_latency, 'L') + mark(r.pareto_energy, r.knee_energy, 'E');
    std::snprintf(buf, sizeof buf, "  %-40s %7.2f%% %8s %11lld %6.1fx %11lld %6.1fx", r.id.c_str(), 100 * r.accuracy, before.c_str(),
                  static_cast<long long>(r.profile.bytes), static_cast<double>(b.profile.bytes) / static_cast<double>(r.profile.bytes),
                  static_cast<long long>(r.profile.flops_effective),
                  static_cast<double>(b.profile.flops_effective) / static_cast<double>(std::max<int64_t>(r.profile.flops_effective, 1)));
    o += buf;
    if (measured) {
      std::snprintf(buf, sizeof buf, " %9.4f %6.2fx %8.4f", r.measured.latency_ms, b.measured.latency_ms / std::max(r.measured.latency_ms, 1e-12),
                    r.measured.exec_mj);
      o += buf;
    }
    std::snprintf(buf, sizeof buf, " %-8s %6.1f\n", marks.c_str(), r.id == "base" ? r.train_seconds : r.build_seconds);
    o += buf;
  }
  o += "  fronts: B = accuracy/bytes, F = accuracy/effective FLOPs";
  if (measured) o += ", L = accuracy/measured batch-1 latency, E = accuracy/execution energy";
  o += "; lower case = the front's knee\n";
  return o;
}

}  // namespace mcdnn
