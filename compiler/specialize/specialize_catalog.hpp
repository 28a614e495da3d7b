// Specialized variants in catalogs: made from catalog variants by specialize(), profiled and
// recorded like any other variant plus their `specialized` figures (in-set accuracy, "other"
// recall). Two ways in:
//   * ahead of time, with the build: the schema's `specialize` section (every listed variant
//     retargeted to every class set), built after the sweep and before measuring;
//   * on demand, for a catalog that exists: `mcdnn-compile SCHEMA --specialize CATALOG
//     --classes a,b,c` (what a runtime calls when it observes a skew). The new variants' files
//     are written under temporary names, measured like the catalog's others, renamed into the
//     catalog, and catalog.json and report.html are rewritten atomically last; the catalog's
//     own variants are not touched. A variant of the same id is replaced.
// Each source variant's frozen layers are run over the data once (pre-forwarding) and the
// features serve every class set; they are kept in the catalog (catalog.json "features"), and a
// later --specialize of the same variant reads them instead of running the frozen layers.
#pragma once
#include <ostream>
#include <string>
#include <vector>

#include "catalog/output_dir.hpp"
#include "cli/compile_options.hpp"
#include "data/dataset.hpp"
#include "nn/variant.hpp"
#include "schema/schema.hpp"
#include "specialize/specialize.hpp"

namespace mcdnn {

struct SpecializedVariant {
  Variant variant;
  VariantRecord record;  // profile, accuracies and timings; sha256 and measured not yet filled
  InputInfo info;        // the file's classes: the kept ones, then "other"
};

// The SpecializeSpec the schema's section asks for, for one class set.
SpecializeSpec specialize_spec(const SpecializeSchema& s, const std::vector<int64_t>& classes, uint64_t seed);

// Retargets `source` (a catalog variant whose pre-forwarded data `data` is) and fills the record.
SpecializedVariant make_specialized(const Schema& schema, const Variant& source, const PreForwarded& data, const SpecializeSpec& spec);

// The build's part: every class set of schema.specialize for every listed variant (`base` is
// the base model, the others are read from the build directory), committed to `build` as they
// finish (a resumed build keeps the finished ones) and appended to `records`. Each listed
// variant's pre-forwarded features are written to the build directory and appended to
// `features` (unless the schema says store_features: false).
void build_specialized(BuildDir& build, const Schema& schema, const Variant& base, std::vector<VariantRecord>& records,
                       std::vector<FeatureRecord>& features, const TensorData& train, const TensorData& val, std::ostream& out);

// `mcdnn-compile SCHEMA --specialize CATALOG --classes ...`: returns the exit code.
int specialize_catalog(const CompileOptions& opt, Schema& schema, torch::Device device, std::ostream& out);

}  // namespace mcdnn
