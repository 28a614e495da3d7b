#include "catalog/trunk.hpp"

#include <filesystem>

#include "profile/profile.hpp"
#include "util/error.hpp"
#include "util/suggest.hpp"

namespace mcdnn {

namespace fs = std::filesystem;

int64_t trunk_cut(const std::vector<LayerSpec>& layers, const std::string& layer, std::string* why) {
  std::vector<std::string> names;
  for (size_t i = 0; i < layers.size(); ++i) {
    names.push_back(layers[i].name);
    if (layers[i].name != layer) continue;
    if (i + 1 == layers.size()) {
      *why = "'" + layer + "' is the variant's last layer: a trunk keeps at least one layer for the fragments to share it";
      return 0;
    }
    if (layers[i].out_shape.flat) {
      *why = "'" + layer + "' has a flat output (" + layers[i].out_shape.str() +
             "); cut the trunk before the flatten (at a layer with a channels x height x width output)";
      return 0;
    }
    *why = "";
    return static_cast<int64_t>(i + 1);
  }
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  *why = "the variant has no layer '" + layer + "'" + did_you_mean(layer, names) + " (its layers: " + list + ")";
  return 0;
}

Shape resolve_trunk(TrunkRef& t) {
  CatalogIndex idx;
  VariantFile v;
  const VariantRecord* rec = nullptr;
  try {
    idx = read_catalog_index(t.catalog_dir);
    rec = idx.find(t.variant);
    if (!rec) {
      std::vector<std::string> ids;
      for (const auto& r : idx.records) ids.push_back(r.id);
      fail(ErrorClass::Schema, t.where + ".variant: catalog " + t.catalog + " has no variant '" + t.variant + "'" +
                                   did_you_mean(t.variant, ids) + "; `mcdnn-catalog show " + t.catalog + "` lists them");
    }
    if (idx.trunk.present)
      fail(ErrorClass::Schema, t.where + ".catalog: " + t.catalog + " is itself a fragment catalog (on " + idx.trunk.catalog +
                                   "); name a catalog of whole networks as the trunk");
    if (rec->specialized.present)
      fail(ErrorClass::Schema, t.where + ".variant: '" + t.variant + "' is a specialized variant; a trunk must be a generic one");
    v = load_variant(idx, *rec);
  } catch (const Error& e) {
    if (e.cls() == ErrorClass::Schema) throw;
    fail(ErrorClass::Schema, t.where + ".catalog: the trunk catalog " + t.catalog + " cannot be used: " + e.what() +
                                 " (build it first with mcdnn-compile, or fix the path: it is relative to the schema)");
  }
  std::string why;
  t.layers = trunk_cut(v.layers, t.layer, &why);
  if (t.layers == 0) fail(ErrorClass::Schema, t.where + ".layer: " + why);
  t.file = rec->file;
  t.sha256 = rec->sha256;
  t.input = v.input.input;
  t.mean = v.input.mean;
  t.std = v.input.std;
  const auto n = static_cast<size_t>(t.layers);
  std::vector<LayerSpec> layers(v.layers.begin(), v.layers.begin() + static_cast<std::ptrdiff_t>(n));
  std::vector<std::vector<EncodedTensor>> tensors(v.tensors.begin(), v.tensors.begin() + static_cast<std::ptrdiff_t>(n));
  const Profile p = profile_stored(layers, tensors);
  t.params = p.params;
  t.bytes = p.bytes;
  t.flops = p.flops_effective;
  return layers.back().out_shape;
}

VariantFile open_trunk(const CatalogIndex& index) {
  const TrunkRef& t = index.trunk;
  const std::string me = index.dir + "/catalog.json: trunk";
  const std::string fix = "; rebuild this fragment catalog with mcdnn-compile on its schema (its trunk is " + t.catalog_dir +
                          ", variant " + t.variant + ")";
  CatalogIndex ti;
  try {
    ti = read_catalog_index(t.catalog_dir);
  } catch (const Error& e) {
    fail(ErrorClass::Catalog, me + ": the trunk catalog " + t.catalog_dir + " (catalog " + t.catalog +
                                  " relative to this one) cannot be read: " + e.what() +
                                  "; a fragment catalog needs its trunk catalog where it was when built");
  }
  const VariantRecord* rec = ti.find(t.variant);
  if (!rec) fail(ErrorClass::Catalog, me + ": the trunk catalog " + t.catalog_dir + " no longer has variant '" + t.variant + "'" + fix);
  if (rec->file != t.file || rec->sha256 != t.sha256)
    fail(ErrorClass::Catalog, me + ": variant '" + t.variant + "' of " + t.catalog_dir + " has changed since this catalog was built (file " +
                                  rec->file + ", sha256 " + rec->sha256.substr(0, 12) + "…; recorded " + t.file + ", " +
                                  t.sha256.substr(0, 12) + "…)" + fix);
  VariantFile v = load_variant(ti, *rec);  // the file against its checksum
  if (static_cast<size_t>(t.layers) >= v.layers.size() || v.layers[static_cast<size_t>(t.layers - 1)].name != t.layer)
    fail(ErrorClass::Catalog, me + ": layer " + std::to_string(t.layers) + " of variant '" + t.variant + "' is not '" + t.layer + "'" + fix);
  const Shape out = v.layers[static_cast<size_t>(t.layers - 1)].out_shape;
  if (!(out == index.input.input))
    fail(ErrorClass::Catalog, me + ": the trunk's output is " + out.str() + " but this catalog's variants take " +
                                  index.input.input.str() + fix);
  if (!(v.input.input == t.input))
    fail(ErrorClass::Catalog, me + ": the trunk takes " + v.input.input.str() + ", recorded " + t.input.str() + fix);
  return v;
}

}  // namespace mcdnn
