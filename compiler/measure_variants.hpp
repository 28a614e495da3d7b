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

}  // namespace mcdnn
