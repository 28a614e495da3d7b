#include "measure_variants.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "catalog/variant_table.hpp"
#include "profile/profile.hpp"
#include "util/error.hpp"
#include "util/interrupt.hpp"

extern char** environ;

namespace mcdnn {

namespace {

namespace fs = std::filesystem;

std::string find_measure_helper() {
  if (const char* e = std::getenv("MCDNN_MEASURE"); e && *e) return e;
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> where;
  if (!ec) where = {self.parent_path() / "mcdnn-measure", self.parent_path().parent_path() / "libexec/mcdnn/mcdnn-measure"};
#ifdef MCDNN_MEASURE_BUILD_PATH
  where.emplace_back(MCDNN_MEASURE_BUILD_PATH);
#endif
  for (const auto& p : where)
    if (::access(p.c_str(), X_OK) == 0) return p.string();
  return "";
}

// One mcdnn-measure run: its stdout parsed.
MeasuredCost measure_child(const std::string& helper, const std::string& file, double flops, const exec::MeasureOptions& mo) {
  int fd[2];
  if (::pipe(fd) != 0) fail(ErrorClass::Internal, std::string("cannot create a pipe to mcdnn-measure: ") + std::strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
  posix_spawn_file_actions_addclose(&fa, fd[0]);
  char num[3][64];
  std::snprintf(num[0], sizeof num[0], "%.17g", flops);
  std::snprintf(num[1], sizeof num[1], "%.17g", mo.seconds);
  std::snprintf(num[2], sizeof num[2], "%lld", static_cast<long long>(mo.model.layers));
  std::vector<char*> argv = {const_cast<char*>(helper.c_str()), const_cast<char*>(file.c_str()), num[0], num[1],
                             const_cast<char*>(mo.device.c_str()), num[2], nullptr};
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, helper.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fd[1]);
  if (rc != 0) {
    ::close(fd[0]);
    fail(ErrorClass::Internal, "cannot run " + helper + ": " + std::strerror(rc));
  }
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    check_interrupted();  // a Ctrl-C reached the child too: report the interruption
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    fail(code == static_cast<int>(ErrorClass::Catalog) ? ErrorClass::Catalog : ErrorClass::Internal,
         helper + " " + file + ": " + (WIFEXITED(status) ? "exited " + std::to_string(code) : "killed by a signal") +
             " (its message is above)");
  }
  return parse_measured_cost(text, helper + " " + file);
}

}  // namespace

MeasuredCost measure_fresh(const std::string& file, double flops, const exec::MeasureOptions& mo, std::ostream& out) {
  static const std::string helper = find_measure_helper();
  if (helper.empty()) {
    static bool warned = false;
    if (!warned)
      out << "warning: mcdnn-measure was not found (next to this program, in ../libexec/mcdnn/ or $MCDNN_MEASURE): measuring in "
             "this process, whose figures for sparse layers may differ from what mcdnn-infer sees by 10-20%\n";
    warned = true;
    return exec::measure_file(file, flops, mo);
  }
  const int runs = mo.seconds >= 0.1 ? 3 : 1;
  std::vector<MeasuredCost> m;
  for (int i = 0; i < runs; ++i) m.push_back(measure_child(helper, file, flops, mo));
  std::sort(m.begin(), m.end(), [](const MeasuredCost& a, const MeasuredCost& b) { return a.latency_ms < b.latency_ms; });
  return m[m.size() / 2];
}

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
    r.measured = measure_fresh(build.file(r.file), static_cast<double>(r.profile.flops_effective), mo, out);
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
  MeasuredCost m = measure_fresh((std::filesystem::path(t.catalog_dir) / t.file).string(), static_cast<double>(t.flops), mo, out);
  char buf[320];
  std::snprintf(buf, sizeof buf, "trunk (%s %s up to %s): %.3f ms (p95 %.3f)  load %.2f ms  %s  %.3f mJ, paid once per input by every fragment on it\n",
                t.catalog.c_str(), t.variant.c_str(), t.layer.c_str(), m.latency_ms, m.latency_p95_ms, m.load_cold_ms,
                human(static_cast<double>(m.resident_bytes), "B").c_str(), m.exec_mj);
  out << buf;
  return m;
}

}  // namespace mcdnn
