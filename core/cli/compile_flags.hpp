// mcdnn-compile's options and the one table of its flags, shared by the two programs that
// parse them: mcdnn-compile (LibTorch-free: --help, --version, --check and --profile-only answer
// at once) and mcdnn-compile-torch (the LibTorch half that trains, which mcdnn-compile execs for
// everything else, with the same arguments). Header-only, for programs that link CLI11.
#pragma once
#include <CLI/CLI.hpp>

#include <string>

#include "catalog/variant_table.hpp"
#include "cli/compile_options.hpp"
#include "util/cli_main.hpp"
#include "util/error.hpp"
#include "version.hpp"

namespace mcdnn {

inline const char* kCompileFooter =
    "Exit codes: 0 success, 1 internal error, 2 bad flags, 3 schema error, 4 data error,\n"
    "            5 output not writable or not safe to replace, 6 training diverged,\n"
    "            7 catalog unreadable (--merge: jobs unfinished or damaged),\n"
    "            130 interrupted (rerun the same command to resume).";

// Flag combinations CLI11 cannot express; throws Error(Usage).
inline void check_compile_flags(const CompileOptions& opt) {
  if (opt.check && opt.profile_only) fail(ErrorClass::Usage, "--check and --profile-only: give one of them");
  if (opt.json && !opt.check && !opt.profile_only) fail(ErrorClass::Usage, "--json applies to --check and --profile-only only");
  const bool jobs = !opt.plan_dir.empty() || !opt.merge_dir.empty();
  if (jobs && (opt.check || opt.profile_only))
    fail(ErrorClass::Usage, std::string(opt.check ? "--check" : "--profile-only") + " and " + (opt.merge_dir.empty() ? "--plan" : "--merge") +
                                ": give one of them");
  if (!opt.job.empty() && opt.plan_dir.empty()) fail(ErrorClass::Usage, "--job needs --plan DIR, the plan it belongs to");
  if (!opt.specialize_dir.empty() && (jobs || opt.check || opt.profile_only || opt.force || opt.restart || !opt.out_dir.empty()))
    fail(ErrorClass::Usage, "--specialize adds variants to the catalog it names; it takes no -o, --plan, --merge, --check, --profile-only, "
                            "--force or --restart");
  if (opt.specialize_dir.empty() && (!opt.classes.empty() || !opt.specialize_variants.empty() || opt.retrain_layers > 0))
    fail(ErrorClass::Usage, "--classes, --variants and --retrain-layers go with --specialize CATALOG");
  if (!opt.specialize_dir.empty() && opt.classes.empty())
    fail(ErrorClass::Usage, "--specialize needs --classes, the dominant classes (names or indices, comma-separated)");
  if (!opt.merge_dir.empty() && !opt.plan_dir.empty())
    fail(ErrorClass::Usage, "--merge DIR names the plan directory itself; drop --plan");
}

inline void add_compile_flags(CLI::App& app, CompileOptions& opt) {
  app.set_version_flag("--version", std::string("mcdnn-compile ") + kVersion);
  app.add_option("schema", opt.schema_path, "model schema (YAML; see schemas/README.md)")->required();
  app.add_option("-o,--output", opt.out_dir, "catalog directory (default: <schema name>-catalog)");
  app.add_flag("--check", opt.check,
               "validate the schema, every catalog step, the data files and the output directory, and list the variants "
               "with estimated sizes; trains nothing, writes nothing");
  app.add_flag("--profile-only", opt.profile_only, "print per-layer parameters, FLOPs and bytes; no data, no training");
  app.add_flag("--json", opt.json, "with --check or --profile-only: machine-readable output");
  app.add_option("--threads", opt.threads,
                 "CPU threads, fixed (default: 1 for networks under 0.1 GFLOP per batch, else all cores, fewer while other "
                 "processes keep cores busy)")
      ->check(at_least(1));
  app.add_option("--device", opt.device, "auto, cpu or cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  app.add_option("--epochs", opt.epochs, "override training.epochs")->check(at_least(1));
  app.add_option("--limit", opt.limit, "use at most N training and N validation examples")->check(at_least(1));
  app.add_flag("--force", opt.force, "rebuild even if the catalog is up to date with the schema and data");
  app.add_flag("--restart", opt.restart, "discard an interrupted build's checkpoint (DIR.partial) instead of resuming it");
  app.add_option("--plan", opt.plan_dir,
                 "split the build into jobs for many machines: train the base model and write DIR/plan.json (with --job: "
                 "the plan directory the job builds into)");
  app.add_option("--job", opt.job, "with --plan DIR: build job K of the plan, or jobs A-B, into DIR (a job already built is kept)");
  app.add_option("--merge", opt.merge_dir, "check that every job of the plan in DIR finished and write the catalog (-o) atomically");
  app.add_option("--specialize", opt.specialize_dir,
                 "add specialized variants to the catalog in DIR (built from SCHEMA): its variants (--variants) with the "
                 "last layer(s) retrained for --classes + \"other\" on pre-forwarded features (read from DIR when it keeps them, "
                 "else forwarded once and kept), measured like the others");
  app.add_option("--classes", opt.classes, "with --specialize: the dominant classes, names or indices, comma-separated (\"trouser,sneaker\")");
  app.add_option("--variants", opt.specialize_variants, "with --specialize: the catalog variants to retarget, comma-separated (default: base)");
  app.add_option("--retrain-layers", opt.retrain_layers, "with --specialize: weight layers retrained, from the end (default: the schema's, else 1)")
      ->check(at_least(1));
  app.add_option("--measure-seconds", opt.measure_seconds, "batch-1 timing per variant with the executor, in 5 rounds over all variants in a fresh mcdnn-measure process (0: do not measure)")
      ->check(number_in(0, 60));
  app.add_option("--device-profile", opt.device_profile, "energy model device profile: epyc-zen4-core or jetson-tk1-mcdnn")
      ->check(CLI::IsMember({"epyc-zen4-core", "jetson-tk1-mcdnn"}));
  app.add_option("--sort", opt.sort, "order of the closing summary table: order, accuracy (most first), bytes, flops, latency, energy")
      ->check(CLI::IsMember(sort_key_names()));
  app.footer(kCompileFooter);
}

}  // namespace mcdnn
