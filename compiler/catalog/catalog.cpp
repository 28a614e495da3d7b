#include "catalog/catalog.hpp"

#include <sstream>

#include "util/error.hpp"

namespace mcdnn {

void write_variant(const std::string& path, const VariantRecord& rec, const InputInfo& info, const Variant& v) {
  VariantFile f;
  f.id = rec.id;
  f.parent = rec.parent;
  f.transforms = rec.transforms;
  f.input = info;
  f.layers = v.net->layers();
  for (size_t i = 0; i < f.layers.size(); ++i) {
    std::vector<EncodedTensor> ts;
    for (size_t k = 0; k < tensors_of(f.layers[i]).size(); ++k) ts.push_back(encoded_tensor(v, i, k));
    f.tensors.push_back(std::move(ts));
  }
  write_variant_file(path, f);
}

Variant variant_from_file(const VariantFile& f, const std::map<std::string, std::vector<int64_t>>& unmasked_zeros) {
  Variant v;
  v.id = f.id;
  v.parent = f.parent;
  v.transforms = f.transforms;
  v.net = Net(f.layers);
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < f.layers.size(); ++i) {
    const LayerSpec& l = f.layers[i];
    auto ts = tensors_of(l);
    for (size_t k = 0; k < ts.size(); ++k) {
      const EncodedTensor& e = f.tensors[i][k];
      std::vector<float> w = decode_tensor(e);
      auto& t = v.net->tensors(i)[k];
      t.copy_(torch::from_blob(w.data(), ts[k].shape, torch::kFloat32));
      const std::string key = tensor_key(l, ts[k].name);
      if (e.storage != "f32") v.encoded[key] = e;
      if (ts[k].matrix && l.sparse) {
        auto mask = t.ne(0).to(torch::kFloat32);
        if (auto it = unmasked_zeros.find(key); it != unmasked_zeros.end() && !it->second.empty()) {
          auto idx = torch::tensor(it->second, torch::kInt64);
          mask.view(-1).index_fill_(0, idx, 1.0);
        }
        v.masks[key] = mask;
      }
    }
  }
  v.net->eval();
  return v;
}

Variant read_variant(const std::string& path, InputInfo* info) {
  VariantFile f = read_variant_file(path);
  if (info) *info = f.input;
  try {
    return variant_from_file(f);
  } catch (const std::exception& e) {
    fail(ErrorClass::Catalog, path + ": " + e.what());
  }
}

std::map<std::string, std::vector<int64_t>> unmasked_zeros(const Variant& v) {
  std::map<std::string, std::vector<int64_t>> out;
  const auto& layers = v.net->layers();
  for (size_t i = 0; i < layers.size(); ++i) {
    auto ts = tensors_of(layers[i]);
    for (size_t k = 0; k < ts.size(); ++k) {
      auto it = v.masks.find(tensor_key(layers[i], ts[k].name));
      if (it == v.masks.end()) continue;
      auto w = v.net->tensors(i)[k].detach().to(torch::kCPU).flatten();
      auto m = it->second.detach().to(torch::kCPU).flatten();
      auto idx = torch::nonzero(w.eq(0).logical_and(m.ne(0))).flatten().contiguous();
      if (idx.numel() == 0) continue;
      out[it->first] = std::vector<int64_t>(idx.data_ptr<int64_t>(), idx.data_ptr<int64_t>() + idx.numel());
    }
  }
  return out;
}

Profile profile_variant(const Variant& v) {
  const auto& layers = v.net->layers();
  std::vector<std::vector<EncodedTensor>> enc(layers.size());
  for (size_t i = 0; i < layers.size(); ++i)
    for (size_t k = 0; k < tensors_of(layers[i]).size(); ++k) enc[i].push_back(encoded_tensor(v, i, k));
  return profile_stored(layers, enc);
}

void write_catalog(const std::string& dir, const Schema& schema, std::vector<VariantRecord> records,
                   const std::vector<const Variant*>& variants, const std::string& build_key,
                   const std::vector<std::string>& notes) {
  check_output_dir(dir);
  std::ostringstream log;
  BuildDir b(dir, build_key, /*restart=*/true, log);
  InputInfo info = input_info(schema);
  for (size_t i = 0; i < records.size(); ++i) {
    write_variant(b.file(records[i].file), records[i], info, *variants[i]);
    b.commit(records[i], CheckpointEntry{}, schema);
  }
  b.finish(catalog_json(schema, records, build_key, notes));
}

}  // namespace mcdnn
