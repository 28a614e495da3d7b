#include "catalog/catalog.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/h5.hpp"
#include "util/json.hpp"
#include "version.hpp"

namespace mcdnn {

namespace fs = std::filesystem;

InputInfo input_info(const Schema& s) {
  InputInfo i;
  i.input = s.input;
  i.class_names = s.class_names;
  i.num_classes = s.num_classes;
  if (s.data.present && s.data.normalize.mode != Normalize::Mode::None) {
    i.mean = s.data.normalize.mean;
    i.std = s.data.normalize.std;
  }
  return i;
}

namespace {

std::vector<int64_t> shape_vec(const Shape& s) { return s.flat ? std::vector<int64_t>{s.c} : std::vector<int64_t>{s.c, s.h, s.w}; }

// Variant file layout (docs/catalog-format.md):
//   /            attrs format, format_version, id, parent, transforms (';'-joined), input [c,h,w],
//                num_classes, class_names (';'-joined), mean, std
//   /layers/NNN  one group per layer in order (NNN = zero-padded index), attrs kind, name, repr,
//                rank, storage, sparse, in_shape, out_shape, and the kind's hyper-parameters.
//                A tensor stored as dense f32 is a float32 dataset named as tensors_of() names
//                it; any other stored form is a group of that name holding its blobs
//                (nn/storage.hpp) with attrs storage, sparse, shape, entries.
hid_t h5_type(BlobType t, bool file) {
  switch (t) {
    case BlobType::F32: return file ? H5T_IEEE_F32LE : H5T_NATIVE_FLOAT;
    case BlobType::U8: return file ? H5T_STD_U8LE : H5T_NATIVE_UINT8;
    case BlobType::I8: return file ? H5T_STD_I8LE : H5T_NATIVE_INT8;
    case BlobType::U16: return file ? H5T_STD_U16LE : H5T_NATIVE_UINT16;
    case BlobType::U32: return file ? H5T_STD_U32LE : H5T_NATIVE_UINT32;
  }
  return -1;
}

void write_tensor(hid_t g, const std::string& name, const EncodedTensor& e) {
  if (e.storage == "f32" && !e.sparse) {
    h5::write_typed(g, name, e.shape, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, e.blobs.at(0).data.data());
    return;
  }
  auto t = h5::create_group(g, name);
  h5::attr(t.id(), "storage", e.storage);
  h5::attr(t.id(), "sparse", static_cast<int64_t>(e.sparse));
  h5::attr(t.id(), "shape", e.shape);
  h5::attr(t.id(), "entries", e.entries);
  for (const auto& b : e.blobs) h5::write_typed(t.id(), b.name, {b.count()}, h5_type(b.type, false), h5_type(b.type, true), b.data.data());
}

EncodedTensor read_tensor(hid_t g, const std::string& name, const std::vector<int64_t>& shape) {
  EncodedTensor e;
  e.shape = shape;
  auto blob_of = [&](hid_t parent, const std::string& n) {
    H5T_class_t cls;
    size_t size;
    bool is_signed;
    Blob b;
    b.name = n;
    b.data = h5::read_raw(parent, n, &cls, &size, &is_signed);
    if (cls == H5T_FLOAT) b.type = BlobType::F32;
    else if (size == 1) b.type = is_signed ? BlobType::I8 : BlobType::U8;
    else if (size == 2) b.type = BlobType::U16;
    else b.type = BlobType::U32;
    return b;
  };
  if (!h5::is_group(g, name)) {
    e.storage = "f32";
    e.blobs.push_back(blob_of(g, name));
    e.blobs.back().name = "values";
    e.entries = e.blobs.back().count();
    if (h5::dataset_shape(g, name) != shape) throw std::runtime_error("dataset " + name + ": shape does not match the layer");
    return e;
  }
  auto t = h5::open_group(g, name);
  e.storage = h5::attr_str(t.id(), "storage");
  if (!valid_storage(e.storage)) throw std::runtime_error(name + ": unknown storage '" + e.storage + "'");
  e.sparse = h5::attr_i64(t.id(), "sparse") != 0;
  e.entries = h5::attr_i64(t.id(), "entries");
  if (h5::attr_i64s(t.id(), "shape") != shape) throw std::runtime_error(name + ": shape does not match the layer");
  for (const auto& n : h5::children(t.id())) e.blobs.push_back(blob_of(t.id(), n));
  return e;
}

void write_layer(hid_t layers, size_t index, const Variant& v) {
  const LayerSpec& l = v.net->layers()[index];
  char name[24];
  std::snprintf(name, sizeof name, "%03zu", index);
  auto g = h5::create_group(layers, name);
  h5::attr(g.id(), "kind", std::string(kind_name(l.kind)));
  h5::attr(g.id(), "name", l.name);
  h5::attr(g.id(), "in_shape", shape_vec(l.in));
  h5::attr(g.id(), "out_shape", shape_vec(l.out_shape));
  switch (l.kind) {
    case LayerKind::Conv2d:
    case LayerKind::Linear:
      h5::attr(g.id(), "out", l.out);
      h5::attr(g.id(), "bias", static_cast<int64_t>(l.bias));
      h5::attr(g.id(), "repr", l.repr);
      h5::attr(g.id(), "rank", l.rank);
      h5::attr(g.id(), "storage", l.storage);
      h5::attr(g.id(), "sparse", static_cast<int64_t>(l.sparse));
      if (l.kind == LayerKind::Linear) break;
      [[fallthrough]];
    case LayerKind::MaxPool:
    case LayerKind::AvgPool:
      h5::attr(g.id(), "kernel", std::vector<int64_t>{l.kh, l.kw});
      h5::attr(g.id(), "stride", std::vector<int64_t>{l.sh, l.sw});
      h5::attr(g.id(), "padding", std::vector<int64_t>{l.ph, l.pw});
      break;
    case LayerKind::Dropout: h5::attr(g.id(), "p", l.p); break;
    case LayerKind::BatchNorm:
      h5::attr(g.id(), "eps", l.eps);
      h5::attr(g.id(), "momentum", l.momentum);
      break;
    case LayerKind::ReLU:
    case LayerKind::Flatten: break;
  }
  auto specs = tensors_of(l);
  for (size_t k = 0; k < specs.size(); ++k) write_tensor(g.id(), specs[k].name, encoded_tensor(v, index, k));
}

std::string join(const std::vector<std::string>& v, char sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? std::string(1, sep) : "") + v[i];
  return s;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  size_t p = 0;
  for (;;) {
    size_t q = s.find(sep, p);
    out.push_back(s.substr(p, q == std::string::npos ? std::string::npos : q - p));
    if (q == std::string::npos) break;
    p = q + 1;
  }
  return out;
}

Shape shape_from(const std::vector<int64_t>& v) {
  if (v.size() == 1) return {v[0], 1, 1, true};
  if (v.size() == 3) return {v[0], v[1], v[2], false};
  throw std::runtime_error("bad shape attribute");
}

}  // namespace

void write_variant(const std::string& path, const VariantRecord& rec, const InputInfo& info, const Variant& v) {
  h5::quiet();
  auto f = h5::create_file(path);
  hid_t root = f.id();
  h5::attr(root, "format", std::string(kVariantFormat));
  h5::attr(root, "format_version", static_cast<int64_t>(kVariantVersion));
  h5::attr(root, "id", rec.id);
  h5::attr(root, "parent", rec.parent);
  h5::attr(root, "transforms", join(rec.transforms, ';'));
  h5::attr(root, "input", shape_vec(info.input));
  h5::attr(root, "num_classes", info.num_classes);
  h5::attr(root, "class_names", join(info.class_names, ';'));
  h5::attr(root, "mean", info.mean);
  h5::attr(root, "std", info.std);
  auto layers = h5::create_group(root, "layers");
  for (size_t i = 0; i < v.net->layers().size(); ++i) write_layer(layers.id(), i, v);
}

Variant read_variant(const std::string& path, InputInfo* info) {
  auto bad = [&](const std::string& what) { fail(ErrorClass::Catalog, path + ": " + what); };
  auto f = h5::open_file(path);
  if (!f.ok()) bad("cannot open as HDF5 (missing or corrupt variant file)");
  try {
    hid_t root = f.id();
    if (!h5::has_attr(root, "format") || h5::attr_str(root, "format") != kVariantFormat)
      bad("not an mcdnn variant file (attribute format != 'mcdnn-variant')");
    int64_t ver = h5::attr_i64(root, "format_version");
    if (ver != kVariantVersion)
      bad("variant format version " + std::to_string(ver) + ", this mcdnn reads version " +
          std::to_string(kVariantVersion) + "; rebuild the catalog or upgrade mcdnn");
    InputInfo in;
    in.input = shape_from(h5::attr_i64s(root, "input"));
    in.num_classes = h5::attr_i64(root, "num_classes");
    in.class_names = split(h5::attr_str(root, "class_names"), ';');
    in.mean = h5::attr_f64s(root, "mean");
    in.std = h5::attr_f64s(root, "std");
    auto layers_g = h5::open_group(root, "layers");
    if (!layers_g.ok()) bad("missing group /layers");
    std::vector<LayerSpec> specs;
    Shape shape = in.input;
    auto names = h5::children(layers_g.id());
    for (const auto& n : names) {
      auto g = h5::open_group(layers_g.id(), n);
      LayerSpec l;
      std::string kind = h5::attr_str(g.id(), "kind");
      if (!kind_from_name(kind, &l.kind)) bad("/layers/" + n + ": unknown layer kind '" + kind + "'");
      l.name = h5::attr_str(g.id(), "name");
      if (h5::has_attr(g.id(), "repr")) {
        l.repr = h5::attr_str(g.id(), "repr");
        l.rank = h5::attr_i64(g.id(), "rank");
        l.storage = h5::attr_str(g.id(), "storage");
        l.sparse = h5::attr_i64(g.id(), "sparse") != 0;
        if (l.repr != "dense" && l.repr != "lowrank") bad("/layers/" + n + ": unknown representation '" + l.repr + "'");
      }
      if (h5::has_attr(g.id(), "out")) l.out = h5::attr_i64(g.id(), "out");
      if (h5::has_attr(g.id(), "bias")) l.bias = h5::attr_i64(g.id(), "bias") != 0;
      if (h5::has_attr(g.id(), "kernel")) {
        auto k = h5::attr_i64s(g.id(), "kernel"), s = h5::attr_i64s(g.id(), "stride"), p = h5::attr_i64s(g.id(), "padding");
        l.kh = k.at(0), l.kw = k.at(1), l.sh = s.at(0), l.sw = s.at(1), l.ph = p.at(0), l.pw = p.at(1);
      }
      if (h5::has_attr(g.id(), "p")) l.p = h5::attr_f64(g.id(), "p");
      if (h5::has_attr(g.id(), "eps")) l.eps = h5::attr_f64(g.id(), "eps");
      if (h5::has_attr(g.id(), "momentum")) l.momentum = h5::attr_f64(g.id(), "momentum");
      l.in = shape;
      std::string why;
      if (!infer_output(l, shape, &l.out_shape, &why)) bad("/layers/" + n + " (" + l.name + "): " + why);
      if (!(shape_from(h5::attr_i64s(g.id(), "out_shape")) == l.out_shape))
        bad("/layers/" + n + " (" + l.name + "): stored out_shape disagrees with the inferred " + l.out_shape.str());
      shape = l.out_shape;
      specs.push_back(l);
    }
    Variant v;
    v.id = h5::attr_str(root, "id");
    v.parent = h5::attr_str(root, "parent");
    v.transforms = split(h5::attr_str(root, "transforms"), ';');
    v.net = Net(specs);
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < specs.size(); ++i) {
      auto g = h5::open_group(layers_g.id(), names[i]);
      auto ts = tensors_of(specs[i]);
      for (size_t k = 0; k < ts.size(); ++k) {
        if (H5Lexists(g.id(), ts[k].name.c_str(), H5P_DEFAULT) <= 0)
          bad("/layers/" + names[i] + ": missing '" + ts[k].name + "'");
        EncodedTensor e = read_tensor(g.id(), ts[k].name, ts[k].shape);
        std::vector<float> w = decode_tensor(e);
        v.net->tensors(i)[k].copy_(torch::from_blob(w.data(), ts[k].shape, torch::kFloat32));
        if (e.storage != "f32") v.encoded[tensor_key(specs[i], ts[k].name)] = std::move(e);
      }
    }
    v.net->eval();
    if (info) *info = in;
    return v;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(ErrorClass::Catalog, path + ": " + e.what());
  }
}

void mark_pareto(std::vector<VariantRecord>& records) {
  auto front = [&](auto resource, bool VariantRecord::*on, bool VariantRecord::*knee) {
    std::vector<size_t> f;
    for (size_t i = 0; i < records.size(); ++i) {
      records[i].*on = records[i].*knee = false;
      bool dominated = false;
      for (size_t j = 0; j < records.size() && !dominated; ++j) {
        double ri = resource(records[i]), rj = resource(records[j]);
        double ai = records[i].accuracy, aj = records[j].accuracy;
        dominated = j != i && rj <= ri && aj >= ai && (rj < ri || aj > ai);
      }
      if (!dominated) f.push_back(i);
    }
    for (size_t i : f) records[i].*on = true;
    std::sort(f.begin(), f.end(), [&](size_t a, size_t b) { return resource(records[a]) < resource(records[b]); });
    if (f.size() < 3) return;
    double x0 = std::log(std::max(resource(records[f.front()]), 1.0)), x1 = std::log(std::max(resource(records[f.back()]), 1.0));
    double y0 = records[f.front()].accuracy, y1 = records[f.back()].accuracy;
    if (x1 <= x0 || y1 <= y0) return;
    size_t best = f.front();
    double best_d = -1;
    for (size_t i : f) {
      double x = (std::log(std::max(resource(records[i]), 1.0)) - x0) / (x1 - x0), y = (records[i].accuracy - y0) / (y1 - y0);
      if (y - x > best_d) best_d = y - x, best = i;
    }
    records[best].*knee = true;
  };
  front([](const VariantRecord& r) { return static_cast<double>(r.profile.bytes); }, &VariantRecord::pareto_bytes,
        &VariantRecord::knee_bytes);
  front([](const VariantRecord& r) { return static_cast<double>(r.profile.flops_effective); }, &VariantRecord::pareto_flops,
        &VariantRecord::knee_flops);
}

std::string catalog_json(const Schema& schema, const std::vector<VariantRecord>& records, const std::string& build_key,
                         const std::vector<std::string>& notes) {
  InputInfo info = input_info(schema);
  JsonWriter j;
  j.begin_object();
  j.field("format", kCatalogFormat);
  j.field("format_version", kCatalogVersion);
  j.field("compiler", std::string("mcdnn-compile ") + kVersion);
  j.field("schema", schema.name);
  j.field("schema_hash", schema.source_hash);
  j.field("build_key", build_key);
  j.key("input").begin_object();
  j.key("shape").begin_array().value(info.input.c).value(info.input.h).value(info.input.w).end_array();
  j.key("mean").begin_array();
  for (double m : info.mean) j.value(m);
  j.end_array();
  j.key("std").begin_array();
  for (double s : info.std) j.value(s);
  j.end_array();
  j.field("preprocess", "x = (pixel / 255 - mean[c]) / std[c] for uint8 data; (x - mean[c]) / std[c] for float32");
  j.end_object();
  j.key("classes").begin_object();
  j.field("count", info.num_classes);
  j.key("names").begin_array();
  for (auto& n : info.class_names) j.value(n);
  j.end_array();
  j.end_object();
  j.field("flop_convention", "flops = 2 x multiply-adds of conv2d and linear layers; bias, activation, pooling and "
                             "batchnorm ops are counted in other_ops");
  j.field("pareto_method",
          "a variant is Pareto-optimal when no other has <= resource and >= accuracy (one strict); the knee is "
          "Kneedle on the front in log-resource space: the front point maximizing y - x with x = log(resource) and "
          "y = accuracy normalized to [0, 1] over the front");
  j.key("notes").begin_array();
  for (const auto& n : notes) j.value(n);
  j.end_array();
  j.key("variants").begin_array();
  for (const auto& r : records) {
    j.begin_object();
    j.field("id", r.id);
    if (r.parent.empty())
      j.key("parent").null();
    else
      j.field("parent", r.parent);
    j.key("transforms").begin_array();
    for (auto& t : r.transforms) j.value(t);
    j.end_array();
    j.field("file", r.file);
    j.field("params", r.profile.params);
    j.field("params_nonzero", r.profile.params_nonzero);
    j.field("flops", r.profile.flops);
    j.field("flops_effective", r.profile.flops_effective);
    j.field("other_ops", r.profile.other_ops);
    j.field("bytes", r.profile.bytes);
    j.field("activation_bytes", r.profile.activation_bytes);
    j.field("accuracy", r.accuracy);
    if (r.accuracy_before_finetune >= 0)
      j.field("accuracy_before_finetune", r.accuracy_before_finetune);
    else
      j.key("accuracy_before_finetune").null();
    j.field("pareto_bytes", r.pareto_bytes);
    j.field("pareto_flops", r.pareto_flops);
    j.field("knee_bytes", r.knee_bytes);
    j.field("knee_flops", r.knee_flops);
    j.field("validation_examples", r.validation_examples);
    j.field("epochs", r.epochs);
    j.field("train_seconds", r.train_seconds);
    j.field("build_seconds", r.build_seconds);
    j.field("eval_images_per_s", r.eval_images_per_s);
    j.key("layers").begin_array();
    for (const auto& l : r.profile.layers) {
      j.begin_object();
      j.field("name", l.name);
      j.field("kind", l.kind);
      j.field("repr", l.repr);
      j.field("params", l.params);
      j.field("params_nonzero", l.params_nonzero);
      j.field("flops", l.flops);
      j.field("flops_effective", l.flops_effective);
      j.field("bytes", l.bytes);
      j.end_object();
    }
    j.end_array();
    j.end_object();
  }
  j.end_array();
  j.end_object();
  return j.str();
}

std::string existing_build_key(const std::string& dir) {
  try {
    YAML::Node j = YAML::LoadFile((fs::path(dir) / "catalog.json").string());  // JSON is YAML
    if (j["format"].as<std::string>() != kCatalogFormat || j["format_version"].as<int>() != kCatalogVersion) return "";
    return j["build_key"] ? j["build_key"].as<std::string>() : "";
  } catch (const std::exception&) {
    return "";
  }
}

void check_output_dir(const std::string& dir) {
  fs::path target = fs::absolute(dir).lexically_normal();
  std::error_code ec;
  if (fs::exists(target, ec) && !fs::is_directory(target, ec))
    fail(ErrorClass::Output, dir + ": exists and is not a directory; choose another -o path");
  fs::path p = target.parent_path();
  while (!p.empty() && !fs::exists(p, ec)) p = p.parent_path();
  if (!fs::is_directory(p, ec))
    fail(ErrorClass::Output, dir + ": cannot create the output directory: " + p.string() + " is not a directory");
  if (::access(p.c_str(), W_OK) != 0)
    fail(ErrorClass::Output, dir + ": cannot create the output directory: " + p.string() + " is not writable");
}

namespace {
// Removes DIR.tmp-<pid> / DIR.old-<pid> siblings left by runs that were killed (their process
// no longer exists), so an interrupted run leaves nothing behind for long.
void remove_stale_siblings(const fs::path& target) {
  std::error_code ec;
  const std::string base = target.filename().string();
  for (const auto& e : fs::directory_iterator(target.parent_path(), ec)) {
    std::string n = e.path().filename().string();
    for (const char* tag : {".tmp-", ".old-"}) {
      std::string prefix = base + tag;
      if (n.rfind(prefix, 0) != 0) continue;
      std::string pid = n.substr(prefix.size());
      if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
      if (::kill(static_cast<pid_t>(std::stol(pid)), 0) != 0 && errno == ESRCH) fs::remove_all(e.path(), ec);
    }
  }
}
}  // namespace

void write_catalog(const std::string& dir, const Schema& schema, const std::vector<VariantRecord>& records,
                   const std::vector<const Variant*>& variants, const std::string& build_key,
                   const std::vector<std::string>& notes) {
  fs::path target = fs::absolute(dir).lexically_normal();
  if (target.filename().empty()) target = target.parent_path();
  fs::path tmp = target;
  tmp += ".tmp-" + std::to_string(::getpid());
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  remove_stale_siblings(target);
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);  // parents too: -o a/new/dir
  if (ec) fail(ErrorClass::Output, tmp.string() + ": cannot create the output directory: " + ec.message());
  try {
    InputInfo info = input_info(schema);
    for (size_t i = 0; i < records.size(); ++i) write_variant((tmp / records[i].file).string(), records[i], info, *variants[i]);
    write_file_atomic(tmp / "catalog.json", catalog_json(schema, records, build_key, notes));
    // Swap in: move any old catalog aside, rename the new one into place, then drop the old.
    fs::path old = target;
    old += ".old-" + std::to_string(::getpid());
    bool had_old = fs::exists(target);
    if (had_old) fs::rename(target, old);
    fs::rename(tmp, target);
    if (had_old) fs::remove_all(old, ec);
  } catch (const Error&) {
    fs::remove_all(tmp, ec);
    throw;
  } catch (const std::exception& e) {
    fs::remove_all(tmp, ec);
    fail(ErrorClass::Output, target.string() + ": cannot write the catalog: " + e.what());
  }
}

}  // namespace mcdnn
