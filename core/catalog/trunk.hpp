// Fragments and their trunks (the MCDNN paper's sharing): a schema's `trunk` names another
// catalog's variant and a layer; the variant's layers up to and including it run once per input
// and every fragment built on them takes their output. Torch-free: the compiler resolves a
// schema's trunk with it, and the executor, mcdnn-infer and mcdnn-run open a fragment catalog's.
#pragma once
#include <string>

#include "catalog/catalog_index.hpp"
#include "schema/schema.hpp"

namespace mcdnn {

// The number of layers of `layers` up to and including the one named `layer` (the prefix the
// trunk runs), or 0 with *why saying what is wrong: no such layer (with a suggestion), the
// last layer (nothing left to share), or a flat output (cut before the flatten).
int64_t trunk_cut(const std::vector<LayerSpec>& layers, const std::string& layer, std::string* why);

// Fills t's resolved fields from its catalog (t.catalog_dir, t.variant, t.layer given): the
// variant's file (checksum verified, contents validated), the prefix length, its input shape,
// normalization and profile; returns the prefix's output shape. Throws Error(Schema) starting
// with t.where.
Shape resolve_trunk(TrunkRef& t);

// Opens the trunk a fragment catalog (index.trunk.present) depends on and checks that the
// dependency still holds: the trunk catalog is readable, still lists the variant with the file
// and SHA-256 recorded (and the file matches it), the layer is where it was and its output is
// the fragment's input shape. Throws Error(Catalog) naming both catalogs and how to fix it.
VariantFile open_trunk(const CatalogIndex& index);

}  // namespace mcdnn
