// What mcdnn-compile answers without LibTorch and without training: --profile-only (the base
// model's per-layer costs) and --check (everything that can be validated before training, and
// the list of variants the build will make, with estimated sizes). Both write nothing.
#pragma once
#include <ostream>

#include "cli/compile_options.hpp"

namespace mcdnn {

// --profile-only: the per-layer table, or JSON with opt.json. Returns the exit code (0).
int run_profile_only(const CompileOptions& opt, std::ostream& out);

// --check: parses the schema (chain order and every pass parameter are checked then), reads
// both data sources in full as the build would (headers, shapes, counts, the labels file,
// labels in range after relabelling, finite values), checks that the output directory may be
// written, and lists every planned variant (schema/plan.hpp) with its estimated stored bytes
// and effective FLOPs (profile_planned()). Throws mcdnn::Error as the build would for the
// same mistake; returns 0 when everything passes.
int run_check(const CompileOptions& opt, std::ostream& out);

}  // namespace mcdnn
