#include "measure_variants.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "catalog/variant_table.hpp"
#include "profile/profile.hpp"
#include "util/error.hpp"
#include "util/interrupt.hpp"

extern char** environ;

namespace mcdnn {

namespace {

std::string format_flops(double f) {
  char b[40];
  std::snprintf(b, sizeof b, "%.17g", f);
  return b;
}

// mcdnn-measure next to this executable (the build directory, or libexec/mcdnn when installed);
// empty when it is not there.
std::string measure_tool() {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  const std::filesystem::path p = self.parent_path() / "mcdnn-measure";
  return std::filesystem::exists(p, ec) ? p.string() : "";
}

// Kills and reaps the child if the reading ends early (an interrupt, a bad line).
struct Child {
  pid_t pid = -1;
  FILE* out = nullptr;
  ~Child() {
    if (out) std::fclose(out);
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      while (::waitpid(pid, nullptr, 0) == -1 && errno == EINTR) {
      }
    }
  }
};

}  // namespace

std::vector<MeasuredCost> measure_files_fresh(const std::vector<std::string>& paths, const std::vector<double>& flops,
                                              const exec::MeasureOptions& mo, const FreshProgress& progress, std::ostream& out) {
  if (paths.empty()) return {};
  const std::string tool = measure_tool();
  if (tool.empty()) {
    out << "  (mcdnn-measure is not next to this program: measuring in the compiling process, not in a fresh "
           "process as a user runs a variant)\n";
    return exec::measure_files(paths, flops, mo, [&](int round, size_t i, const MeasuredCost* done) {
      check_interrupted();
      if (done) progress.done(i, *done);
      else if (i + 1 == paths.size()) progress.round("round " + std::to_string(round) + " of " + std::to_string(mo.rounds) + " done");
    });
  }
  std::vector<std::string> args{tool, "--seconds", format_flops(mo.seconds), "--rounds", std::to_string(mo.rounds),
                                "--device-profile", mo.device, "--layers", std::to_string(mo.model.layers), "--"};
  for (size_t i = 0; i < paths.size(); ++i) args.push_back(paths[i]), args.push_back(format_flops(flops[i]));
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fd[2];
  if (::pipe2(fd, O_CLOEXEC) != 0) fail(ErrorClass::Internal, std::string("cannot make a pipe for mcdnn-measure: ") + std::strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fd[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&fa, fd[0]);
  posix_spawn_file_actions_addclose(&fa, fd[1]);
  Child child;
  const int rc = ::posix_spawn(&child.pid, tool.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fd[1]);
  if (rc != 0) {
    ::close(fd[0]);
    child.pid = -1;
    fail(ErrorClass::Internal, "cannot start " + tool + ": " + std::strerror(rc));
  }
  child.out = ::fdopen(fd[0], "r");
  if (!child.out) {
    ::close(fd[0]);
    fail(ErrorClass::Internal, std::string("cannot read mcdnn-measure's output: ") + std::strerror(errno));
  }
  std::vector<MeasuredCost> got(paths.size());
  std::vector<bool> have(paths.size(), false);
  char* line = nullptr;
  size_t cap = 0;
  ssize_t n;
  while ((n = ::getline(&line, &cap, child.out)) > 0) {
    std::string l(line, static_cast<size_t>(n));
    while (!l.empty() && l.back() == '\n') l.pop_back();
    if (l.rfind("measured ", 0) == 0) {
      const size_t sp = l.find(' ', 9);
      char* end = nullptr;
      size_t i = sp == std::string::npos ? paths.size() : std::strtoul(l.c_str() + 9, &end, 10);
      if (sp != std::string::npos && end != l.c_str() + sp) i = paths.size();
      if (i >= paths.size()) {
        std::free(line);
        fail(ErrorClass::Internal, "mcdnn-measure printed an unexpected line: " + l.substr(0, 80));
      }
      got[i] = parse_measured_line(l.substr(sp + 1), "mcdnn-measure's figures for " + paths[i]);
      have[i] = true;
      progress.done(i, got[i]);
    } else {
      progress.round(l);
    }
    check_interrupted();
  }
  std::free(line);
  check_interrupted();  // an interrupt reaches mcdnn-measure too: say that, not that it failed
  int status = 0;
  while (::waitpid(child.pid, &status, 0) == -1) {
    if (errno != EINTR) fail(ErrorClass::Internal, std::string("waiting for mcdnn-measure: ") + std::strerror(errno));
    check_interrupted();
  }
  child.pid = -1;
  // A variant file it could not read (exit 7) is the catalog's error, as when measured here.
  if (WIFEXITED(status) && WEXITSTATUS(status) == static_cast<int>(ErrorClass::Catalog))
    fail(ErrorClass::Catalog, tool + " could not read a variant file (its message is above)");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail(ErrorClass::Internal, tool + " failed (" + (WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status)) : "killed by signal " + std::to_string(WTERMSIG(status))) +
                                   "; its message is above)");
  for (size_t i = 0; i < paths.size(); ++i)
    if (!have[i]) fail(ErrorClass::Internal, tool + " gave no figures for " + paths[i]);
  return got;
}

ExecutorInfo measure_variants(BuildDir& build, std::vector<VariantRecord>& records, const CompileOptions& opt,
                                    std::ostream& out) {
  exec::MeasureOptions mo;
  mo.seconds = opt.measure_seconds;
  mo.device = opt.device_profile;
  const ExecutorInfo info = exec::executor_info(mo);
  out << "\nmeasuring " << records.size() << " variants with the executor (" << info.isa << ", 1 thread, "
      << mo.seconds << " s of batch-1 runs each in " << mo.rounds << " rounds over all variants in turn; energy: "
      << info.device_profile << ")\n";
  const auto t0 = std::chrono::steady_clock::now();
  size_t id_width = 0;  // the longest id: the numbers stay in columns
  for (const auto& r : records) id_width = std::max(id_width, r.id.size());
  std::vector<std::string> paths;
  std::vector<double> flops;
  for (const auto& r : records) {
    paths.push_back(build.file(r.file));
    flops.push_back(static_cast<double>(r.profile.flops_effective));
  }
  FreshProgress progress;
  progress.round = [&](const std::string& line) { out << "  " << line << "\n" << std::flush; };
  progress.done = [&](size_t i, const MeasuredCost& m) {
    VariantRecord& r = records[i];
    r.measured = m;
    out << measured_row(r, i + 1, records.size(), id_width) << std::flush;
  };
  measure_files_fresh(paths, flops, mo, progress, out);
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
  FreshProgress quiet{[](const std::string&) {}, [](size_t, const MeasuredCost&) {}};
  MeasuredCost m = measure_files_fresh({(std::filesystem::path(t.catalog_dir) / t.file).string()}, {static_cast<double>(t.flops)}, mo, quiet, out).front();
  char buf[320];
  std::snprintf(buf, sizeof buf, "trunk (%s %s up to %s): %.3f ms (p95 %.3f)  load %.2f ms  %s  %.3f mJ, paid once per input by every fragment on it\n",
                t.catalog.c_str(), t.variant.c_str(), t.layer.c_str(), m.latency_ms, m.latency_p95_ms, m.load_cold_ms,
                human(static_cast<double>(m.resident_bytes), "B").c_str(), m.exec_mj);
  out << buf;
  return m;
}

}  // namespace mcdnn
