// The catalog: a directory with catalog.json (the index) and one HDF5 file per variant.
// docs/catalog-format.md documents both layouts, with a Python reader.
#pragma once
#include <string>
#include <vector>

#include "nn/net.hpp"
#include "nn/variant.hpp"
#include "profile/profile.hpp"
#include "schema/schema.hpp"
#include "train/train.hpp"

namespace mcdnn {

constexpr const char* kCatalogFormat = "mcdnn-catalog";
constexpr int kCatalogVersion = 1;
constexpr const char* kVariantFormat = "mcdnn-variant";
constexpr int kVariantVersion = 1;

// What a consumer needs to feed a variant: input shape, classes and preprocessing.
struct InputInfo {
  Shape input;
  std::vector<std::string> class_names;  // may be empty
  int64_t num_classes = 0;
  std::vector<double> mean, std;  // empty when not normalized
};
InputInfo input_info(const Schema& s);

struct VariantRecord {
  std::string id;
  std::string parent;                   // "" for the base
  std::vector<std::string> transforms;  // empty for the base
  std::string file;                     // relative to the catalog directory
  Profile profile;
  double accuracy = 0;           // validation top-1 in [0, 1]
  double accuracy_before_finetune = -1;  // < 0: not fine-tuned
  int64_t validation_examples = 0;
  double train_seconds = 0;      // training (base) or fine-tuning (variants)
  double build_seconds = 0;      // everything spent making this variant: pass, fine-tune, evaluation
  int64_t epochs = 0;
  double eval_images_per_s = 0;
  // Set by mark_pareto(): on the accuracy-vs-bytes / accuracy-vs-effective-FLOPs front, and the knee.
  bool pareto_bytes = false, pareto_flops = false, knee_bytes = false, knee_flops = false;
};

// Marks the Pareto-optimal records for accuracy versus bytes and versus effective FLOPs and
// the knee of each front. A record is on a front when no other has less-or-equal resource and
// greater-or-equal accuracy with one of them strict. Knee (Kneedle, Satopaa et al. 2011, on the
// front in log-resource space): normalize x = log(resource) and y = accuracy over the front to
// [0, 1]; the knee is the front point with the largest y - x, i.e. farthest above the chord from
// the cheapest to the most accurate point. Fronts of fewer than 3 points have no knee.
void mark_pareto(std::vector<VariantRecord>& records);

// Writes one variant (layer description + weights) to an HDF5 file at `path` (directly; the
// catalog writer makes the directory atomic).
void write_variant(const std::string& path, const VariantRecord& rec, const InputInfo& info, const Variant& v);

// Reads a variant file back (CPU): layer specs, decoded weights, stored encodings.
// Throws Error(Catalog).
Variant read_variant(const std::string& path, InputInfo* info = nullptr);

// Writes the whole catalog atomically: everything goes to a temporary sibling directory that
// is renamed over `dir` at the end, so a failure leaves no half catalog (and an existing
// catalog at `dir` intact until the new one is complete).
// `build_key` fingerprints everything the catalog was built from (see compile.cpp); it is
// stored in catalog.json so an unchanged rebuild can be skipped.
void write_catalog(const std::string& dir, const Schema& schema, const std::vector<VariantRecord>& records,
                   const std::vector<const Variant*>& variants, const std::string& build_key = "",
                   const std::vector<std::string>& notes = {});

// The build_key recorded in DIR/catalog.json, or "" when there is no readable catalog there.
std::string existing_build_key(const std::string& dir);

// Checks, before any work, that a catalog could be written at `dir`: the nearest existing
// ancestor must be a writable directory, and `dir` itself, if it exists, a directory.
// Throws Error(Output) naming the path otherwise.
void check_output_dir(const std::string& dir);

// catalog.json text for the given records.
std::string catalog_json(const Schema& schema, const std::vector<VariantRecord>& records,
                         const std::string& build_key = "", const std::vector<std::string>& notes = {});

}  // namespace mcdnn
