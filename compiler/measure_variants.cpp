#include "measure_variants.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "catalog/variant_table.hpp"
#include "profile/profile.hpp"
#include "util/interrupt.hpp"

namespace mcdnn {

ExecutorInfo measure_variants(BuildDir& build, std::vector<VariantRecord>& records, const CompileOptions& opt,
                                    std::ostream& out) {
  exec::MeasureOptions mo;
  mo.seconds = opt.measure_seconds;
  mo.device = opt.device_profile;
  const ExecutorInfo info = exec::executor_info(mo);
  out << "\nmeasuring " << records.size() << " variants with the executor (" << info.isa << ", 1 thread, "
      << mo.seconds << " s of batch-1 runs each; energy: " << info.device_profile << ")\n";
  const auto t0 = std::chrono::steady_clock::now();
  size_t id_width = 0;  // the longest id: the numbers stay in columns
  for (const auto& r : records) id_width = std::max(id_width, r.id.size());
  for (size_t i = 0; i < records.size(); ++i) {
    check_interrupted();
    VariantRecord& r = records[i];
    r.measured = exec::measure_file(build.file(r.file), static_cast<double>(r.profile.flops_effective), mo);
    out << measured_row(r, i + 1, records.size(), id_width) << std::flush;
  }
  char buf[128];
  std::snprintf(buf, sizeof buf, "measured %zu variants in %.1f s\n", records.size(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  out << buf;
  return info;
}

MeasuredCost measure_trunk(const Schema& schema, const CompileOptions& opt, std::ostream& out) {
  const TrunkRef& t = schema.trunk;
  exec::MeasureOptions mo;
  mo.seconds = opt.measure_seconds;
  mo.device = opt.device_profile;
  mo.model.layers = t.layers;
  MeasuredCost m = exec::measure_file((std::filesystem::path(t.catalog_dir) / t.file).string(), static_cast<double>(t.flops), mo);
  char buf[320];
  std::snprintf(buf, sizeof buf, "trunk (%s %s up to %s): %.3f ms (p95 %.3f)  load %.2f ms  %s  %.3f mJ, paid once per input by every fragment on it\n",
                t.catalog.c_str(), t.variant.c_str(), t.layer.c_str(), m.latency_ms, m.latency_p95_ms, m.load_cold_ms,
                human(static_cast<double>(m.resident_bytes), "B").c_str(), m.exec_mj);
  out << buf;
  return m;
}

}  // namespace mcdnn
