// A catalog build split into jobs (catalog/build_plan.hpp): make the plan, build jobs, merge.
// Each builds the same variants a whole build makes (sweep/sweep.hpp run_sweep() on plan
// positions), so the merged catalog equals a single-machine catalog in everything but timings.
#pragma once
#include <torch/torch.h>

#include <ostream>
#include <string>

#include "cli/compile_options.hpp"
#include "schema/schema.hpp"

namespace mcdnn {

struct JobContext {
  const CompileOptions& opt;
  Schema& schema;
  int threads;
  torch::Device device;
  const std::string& build_key;
  std::ostream& out;
};

// --plan DIR: trains the base model (or keeps the plan's, when DIR holds a plan of the same
// build) and writes DIR/base.h5 and DIR/plan.json. Returns the exit code.
int make_plan(const JobContext& c);
// --plan DIR --job K|A-B: builds those jobs' variants into DIR, each recorded in DIR/job-K.json
// when it completes. A job whose file exists and verifies is kept (--force rebuilds it).
int build_jobs(const JobContext& c);
// --merge DIR: checks every job finished, measures the variants (--measure-seconds) and writes
// the catalog to -o through the same atomic rename as a whole build.
int merge_jobs(const JobContext& c);

}  // namespace mcdnn
