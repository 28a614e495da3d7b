// The build's measurement phase: every finished variant file in the build directory is run
// with the executor (executor/measure.hpp) and its record gets the measured costs. The
// measuring runs in mcdnn-measure, a fresh LibTorch-free process: the conditions of the fresh
// mcdnn-infer or mcdnn-run process a user starts, not those of a process that has just trained.
#pragma once
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "catalog/output_dir.hpp"
#include "compile.hpp"
#include "measure.hpp"

namespace mcdnn {

// exec::measure_files() run in mcdnn-measure (found next to this program; when it is missing,
// in this process, said on `out`): `round` gets its progress lines, `done` each file's figures.
struct FreshProgress {
  std::function<void(const std::string& line)> round;
  std::function<void(size_t file, const MeasuredCost& m)> done;
};
std::vector<MeasuredCost> measure_files_fresh(const std::vector<std::string>& paths, const std::vector<double>& flops,
                                              const exec::MeasureOptions& mo, const FreshProgress& progress, std::ostream& out);

ExecutorInfo measure_variants(BuildDir& build, std::vector<VariantRecord>& records, const CompileOptions& opt,
                                    std::ostream& out);

// A fragment catalog's trunk (schema.trunk): its prefix of the trunk variant, measured the same way.
MeasuredCost measure_trunk(const Schema& schema, const CompileOptions& opt, std::ostream& out);

}  // namespace mcdnn
