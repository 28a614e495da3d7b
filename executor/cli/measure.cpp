// mcdnn-measure: the build's measurement phase in a fresh, LibTorch-free process.
//   mcdnn-measure [--seconds S] [--rounds R] [--device-profile NAME] [--layers L] FILE FLOPS [FILE FLOPS ...]
// mcdnn-compile runs it on the variant files it built (compiler/measure_variants.hpp), so that a
// catalog's figures are measured in the conditions of the fresh mcdnn-infer or mcdnn-run
// process a user starts, not in a process that has just trained (its heap, its threads).
// Measures the files together by
// executor/measure.hpp's protocol (measure_files: rounds over all files in turn) and prints, on
// stdout, one line per round before the last ("round K of R: N files in X s") and one per file
// as its figures are finished: "measured I {catalog.json's measured object}" (I from 0, in the
// order given). Errors as every mcdnn tool: one line on stderr, its exit code.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "catalog/catalog_index.hpp"
#include "energy.hpp"
#include "measure.hpp"
#include "util/cli_main.hpp"
#include "util/error.hpp"
#include "version.hpp"

using namespace mcdnn;

namespace {

int measure(const exec::MeasureOptions& mo, const std::vector<std::string>& args) {
  if (args.empty() || args.size() % 2) fail(ErrorClass::Usage, "expected pairs of FILE FLOPS, got " + std::to_string(args.size()) + " arguments");
  std::vector<std::string> paths;
  std::vector<double> flops;
  for (size_t i = 0; i < args.size(); i += 2) {
    paths.push_back(args[i]);
    char* end = nullptr;
    const double f = std::strtod(args[i + 1].c_str(), &end);
    if (end == args[i + 1].c_str() || *end || !(f >= 0))
      fail(ErrorClass::Usage, "FLOPS of " + args[i] + ": expected a number >= 0, got '" + args[i + 1] + "'");
    flops.push_back(f);
  }
  auto start = std::chrono::steady_clock::now();
  exec::measure_files(paths, flops, mo, [&](int round, size_t i, const MeasuredCost* done) {
    if (done) {
      std::printf("measured %zu %s\n", i, measured_line(*done).c_str());
    } else if (i + 1 == paths.size()) {
      const auto now = std::chrono::steady_clock::now();
      std::printf("round %d of %d: %s %zu files in %.1f s\n", round, mo.rounds,
                  round == 1 ? "loads, memory, per-layer times, throughput and batch-1 runs of" : "batch-1 runs of", paths.size(),
                  std::chrono::duration<double>(now - start).count());
      start = now;
    }
    std::fflush(stdout);
  });
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  exec::MeasureOptions mo;
  std::vector<std::string> args;
  CLI::App app{"mcdnn-measure: measure variant files with the executor in a fresh process (what mcdnn-compile runs; no LibTorch)",
               "mcdnn-measure"};
  app.set_version_flag("--version", std::string("mcdnn-measure ") + kVersion);
  app.add_option("--seconds", mo.seconds, "batch-1 timing per file, over all rounds")->check(CLI::Range(0.0, 60.0));
  app.add_option("--rounds", mo.rounds, "rounds over all files in turn")->check(CLI::Range(1, 100));
  app.add_option("--device-profile", mo.device, "energy model device profile");
  app.add_option("--layers", mo.model.layers, "only each file's first L layers (a trunk)")->check(CLI::Range(int64_t(0), int64_t(1) << 30));
  app.add_option("files", args, "FILE FLOPS pairs: a variant file and its effective FLOPs")->required();
  app.footer("Exit codes: 0 success, 2 bad flags, 7 a variant file unreadable or damaged.");
  return parse_and_run(app, argc, argv, [&] {
    (void)exec::device_profile(mo.device);  // an unknown profile is refused before anything is measured
    return measure(mo, args);
  });
}
