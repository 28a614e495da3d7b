// The catalog: a directory with catalog.json (the index) and one HDF5 file per variant.
// docs/catalog-format.md documents both layouts, with a Python reader.
#pragma once
#include <string>
#include <vector>

#include "nn/net.hpp"
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
  int64_t validation_examples = 0;
  double train_seconds = 0;
  int64_t epochs = 0;
  double eval_images_per_s = 0;
};

// Writes one variant (layer description + weights) to an HDF5 file at `path` (directly; the
// catalog writer makes the directory atomic).
void write_variant(const std::string& path, const VariantRecord& rec, const InputInfo& info, Net& net);

// Reads a variant file back into a Net (CPU) and its input info. Throws Error(Catalog).
Net read_variant(const std::string& path, InputInfo* info = nullptr);

// Writes the whole catalog atomically: everything goes to a temporary sibling directory that
// is renamed over `dir` at the end, so a failure leaves no half catalog (and an existing
// catalog at `dir` intact until the new one is complete).
// `build_key` fingerprints everything the catalog was built from (see compile.cpp); it is
// stored in catalog.json so an unchanged rebuild can be skipped.
void write_catalog(const std::string& dir, const Schema& schema, const std::vector<VariantRecord>& records,
                   const std::vector<Net*>& nets, const std::string& build_key = "");

// The build_key recorded in DIR/catalog.json, or "" when there is no readable catalog there.
std::string existing_build_key(const std::string& dir);

// Checks, before any work, that a catalog could be written at `dir`: the nearest existing
// ancestor must be a writable directory, and `dir` itself, if it exists, a directory.
// Throws Error(Output) naming the path otherwise.
void check_output_dir(const std::string& dir);

// catalog.json text for the given records.
std::string catalog_json(const Schema& schema, const std::vector<VariantRecord>& records,
                         const std::string& build_key = "");

}  // namespace mcdnn
