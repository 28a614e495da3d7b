// The bridge between a LibTorch Variant (nn/variant.hpp) and the torch-free catalog files:
// a variant file (catalog/variant_file.hpp) written from a Variant or read back into one, and a
// whole catalog written in one call. catalog.json lives in catalog/catalog_index.hpp and the
// output directory rules in catalog/output_dir.hpp.
#pragma once
#include <string>
#include <vector>

#include "catalog/catalog_index.hpp"
#include "catalog/output_dir.hpp"
#include "catalog/variant_file.hpp"
#include "nn/variant.hpp"

namespace mcdnn {

// Writes one variant (layer description + weights in their stored form) to `path`.
void write_variant(const std::string& path, const VariantRecord& rec, const InputInfo& info, const Variant& v);

// A Variant (CPU) from a validated variant file: layer specs, decoded weights, the encodings of
// lossy weights. Pruning masks are rebuilt from the stored zeros (sparse layers), except at
// `unmasked_zeros` (CheckpointEntry).
Variant variant_from_file(const VariantFile& f, const std::map<std::string, std::vector<int64_t>>& unmasked_zeros = {});

// The profile of `v` as stored: profile_stored() (profile/profile.hpp) of its encodings.
Profile profile_variant(const Variant& v);

// read_variant_file() + variant_from_file(). Throws Error(Catalog).
Variant read_variant(const std::string& path, InputInfo* info = nullptr);

// Per pruning mask of `v`: flat indices of weights that are zero but not masked (the exceptions
// variant_from_file() needs to rebuild the masks exactly).
std::map<std::string, std::vector<int64_t>> unmasked_zeros(const Variant& v);

// Writes a whole catalog (records[i] with variants[i]; Pareto flags as given) through a
// BuildDir: the same directory rules and atomic rename as mcdnn-compile.
void write_catalog(const std::string& dir, const Schema& schema, std::vector<VariantRecord> records,
                   const std::vector<const Variant*>& variants, const std::string& build_key = "",
                   const std::vector<std::string>& notes = {});

}  // namespace mcdnn
