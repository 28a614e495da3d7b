// What mcdnn-compile is asked to do: the options its flags set (cli/compile_flags.hpp).
#pragma once
#include <cstdint>
#include <string>

namespace mcdnn {

struct CompileOptions {
  std::string schema_path;
  std::string out_dir;          // "" = "<schema name>-catalog" in the working directory
  int threads = 0;              // > 0: fixed; 0 = default_threads(), adapted to the load (util/thread_policy.hpp)
  std::string device = "auto";  // auto | cpu | cuda
  bool profile_only = false;    // print the per-layer cost table; touch no data
  bool check = false;           // validate everything short of training and list the variants (schema/check.hpp)
  bool json = false;            // --profile-only / --check: machine-readable output
  std::string sort = "order";   // the summary table's order (catalog/variant_table.hpp)
  int64_t epochs = 0;           // > 0 overrides training.epochs
  int64_t limit = 0;            // > 0 caps train and validation examples
  bool progress_bar = false;    // per-batch bar (the CLI enables it on a terminal)
  bool force = false;           // rebuild even when the catalog at out_dir is up to date
  bool restart = false;         // discard an interrupted build's checkpoint instead of resuming
  // A build split into jobs (catalog/build_plan.hpp): --plan DIR trains the base model and
  // writes the plan; with --job K (or A-B) builds those jobs into DIR; --merge DIR writes the
  // catalog from a plan whose jobs all finished.
  std::string plan_dir, job, merge_dir;
  // --specialize CATALOG: add variants of CATALOG retargeted to `classes` (names or indices,
  // comma-separated) + "other" (compiler/specialize/specialize_catalog.hpp).
  std::string specialize_dir, classes, specialize_variants;
  int64_t retrain_layers = 0;  // 0: the schema's specialize.retrain_layers (default 1)
  // Executor measurement of every variant (executor/measure.hpp): seconds of batch-1 runs per
  // variant (0 = do not measure), and the device energy profile (executor/energy.hpp).
  double measure_seconds = 0.25;
  std::string device_profile = "epyc-zen4-core";
};

}  // namespace mcdnn
