// Pre-forwarded features kept with a catalog (catalog.json "features", format 6). Specializing
// a variant retrains only its last layer(s), on the outputs of the frozen layers before them;
// those outputs do not depend on the class set, so they are computed once per variant and kept.
// A later specialization (a runtime calling `mcdnn-compile --specialize` when it observes a
// skew) reads them instead of running the frozen layers over the data: the paper's "pre-forward:
// store the output of the second-last layer" (Table 3's last column).
//
// The file (HDF5, docs/catalog-format.md "Stored features"):
//   /          attrs format "mcdnn-features", format_version 1, variant, variant_sha256,
//              retrained_layers, cut
//   /train_x   float32 [N, feature shape...]    /train_y  int32 [N] (the source classes)
//   /val_x     float32 [M, feature shape...]    /val_y    int32 [M]
// catalog.json holds the file's SHA-256; it is checked before the file is opened.
#pragma once
#include <string>

#include "catalog/catalog_index.hpp"
#include "specialize/specialize.hpp"

namespace mcdnn {

constexpr const char* kFeaturesFormat = "mcdnn-features";
constexpr int kFeaturesVersion = 1;

// The file name for `variant`'s features at `retrained_layers`: "<variant>.features-last<k>.h5".
std::string features_file_name(const std::string& variant, int64_t retrained_layers);

// Writes `data` (pre-forwarded: data.preforwarded()) to `path` and returns its record, with
// `file` as the name catalog.json will list and the file's SHA-256. Throws Error(Output).
FeatureRecord write_features(const std::string& path, const std::string& file, const VariantRecord& source, int64_t retrained_layers,
                             const PreForwarded& data);

// Reads `rec`'s file from catalog `c` onto `device`: the checksum first, then every attribute and
// shape against the record. Throws Error(Catalog) naming the file and what differs; a caller
// that can compute the features again may do so instead.
PreForwarded read_features(const CatalogIndex& c, const FeatureRecord& rec, torch::Device device);

}  // namespace mcdnn
