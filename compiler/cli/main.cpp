// mcdnn-compile: parses flags into CompileOptions and calls the library.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "compile.hpp"
#include "util/cli_main.hpp"
#include "util/error.hpp"
#include "version.hpp"

int main(int argc, char** argv) {
  mcdnn::CompileOptions opt;
  CLI::App app{"mcdnn-compile: train a model from a schema and write its catalog of variants", "mcdnn-compile"};
  app.set_version_flag("--version", std::string("mcdnn-compile ") + mcdnn::kVersion);
  app.add_option("schema", opt.schema_path, "model schema (YAML; see schemas/README.md)")->required();
  app.add_option("-o,--output", opt.out_dir, "catalog directory (default: <schema name>-catalog)");
  app.add_option("--threads", opt.threads, "CPU threads, fixed (default: 1 for networks under 0.1 GFLOP per batch, else all cores, fewer while other processes keep cores busy)")
      ->check(CLI::Range(1, 4096));
  app.add_option("--device", opt.device, "auto, cpu or cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  app.add_flag("--profile-only", opt.profile_only, "print per-layer parameters, FLOPs and bytes; no data, no training");
  app.add_option("--epochs", opt.epochs, "override training.epochs")->check(mcdnn::at_least(1));
  app.add_flag("--force", opt.force, "rebuild even if the catalog is up to date with the schema and data");
  app.add_flag("--restart", opt.restart, "discard an interrupted build's checkpoint (DIR.partial) instead of resuming it");
  app.add_option("--measure-seconds", opt.measure_seconds, "batch-1 timing per variant with the executor (0: do not measure)")
      ->check(CLI::Range(0.0, 60.0));
  app.add_option("--device-profile", opt.device_profile, "energy model device profile: epyc-zen4-core or jetson-tk1-mcdnn")
      ->check(CLI::IsMember({"epyc-zen4-core", "jetson-tk1-mcdnn"}));
  app.add_option("--limit", opt.limit, "use at most N training and N validation examples")->check(mcdnn::at_least(1));
  app.footer(
      "Exit codes: 0 success, 1 internal error, 2 bad flags, 3 schema error, 4 data error,\n"
      "            5 output not writable or not safe to replace, 6 training diverged, 7 catalog unreadable,\n"
      "            130 interrupted (rerun the same command to resume).");
  return mcdnn::parse_and_run(app, argc, argv, [&] {
    opt.progress_bar = ::isatty(STDOUT_FILENO) != 0;
    return mcdnn::compile(opt, std::cout, std::cerr);
  });
}
