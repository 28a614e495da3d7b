// The build's measurement phase: every finished variant file in the build directory is run
// with the executor (executor/measure.hpp) and its record gets the measured costs.
#pragma once
#include <ostream>
#include <vector>

#include "catalog/output_dir.hpp"
#include "compile.hpp"
#include "measure.hpp"

namespace mcdnn {

ExecutorInfo measure_variants(BuildDir& build, std::vector<VariantRecord>& records, const CompileOptions& opt,
                                    std::ostream& out);

// A fragment catalog's trunk (schema.trunk): its prefix of the trunk variant, measured the same way.
MeasuredCost measure_trunk(const Schema& schema, const CompileOptions& opt, std::ostream& out);

// exec::measure_file() run in fresh processes (mcdnn-measure), as mcdnn-infer and the runtime
// run a variant: not in this long-lived process, whose heap places a model's buffers
// differently (a sparse layer ran 10-20% faster here than in any fresh process). Three
// processes when `mo.seconds` >= 0.1 (the one with the median latency is kept: placement moves a
// process's figure by a few percent), one below. mcdnn-measure is looked for in $MCDNN_MEASURE,
// next to this program, in ../libexec/mcdnn/ and in the build tree; without it the measurement
// runs in this process, with a warning on `out`.
MeasuredCost measure_fresh(const std::string& file, double flops, const exec::MeasureOptions& mo, std::ostream& out);

}  // namespace mcdnn
