#include "catalog/catalog_index.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <set>

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/json.hpp"
#include "util/sha256.hpp"
#include "version.hpp"

namespace mcdnn {

namespace fs = std::filesystem;
using nlohmann::json;

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
    j.field("sha256", r.sha256);
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

const VariantRecord* CatalogIndex::find(const std::string& id) const {
  for (const auto& r : records)
    if (r.id == id) return &r;
  return nullptr;
}

namespace {

// Typed access to one JSON object; every failure names the file, the object and the key.
struct Obj {
  const json& j;
  std::string where;

  [[noreturn]] void bad(const std::string& key, const std::string& what) const {
    fail(ErrorClass::Catalog, where + (key.empty() ? "" : "." + key) + ": " + what);
  }
  const json& at(const char* key) const {
    auto it = j.find(key);
    if (it == j.end()) bad(key, "missing");
    return *it;
  }
  std::string str(const char* key) const {
    const json& v = at(key);
    if (!v.is_string()) bad(key, "expected a string");
    return v.get<std::string>();
  }
  int64_t i64(const char* key, int64_t lo = 0, int64_t hi = INT64_MAX) const {
    const json& v = at(key);
    if (!v.is_number_integer()) bad(key, "expected an integer");
    int64_t x = v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX) ? -1 : v.get<int64_t>();
    if (x < lo || x > hi) bad(key, "value " + v.dump() + " out of range");
    return x;
  }
  double num(const char* key, double lo, double hi) const {
    const json& v = at(key);
    if (!v.is_number()) bad(key, "expected a number");
    double x = v.get<double>();
    if (!(x >= lo && x <= hi)) bad(key, "value " + v.dump() + " out of range");
    return x;
  }
  bool boolean(const char* key) const {
    const json& v = at(key);
    if (!v.is_boolean()) bad(key, "expected true or false");
    return v.get<bool>();
  }
  std::vector<std::string> strings(const char* key) const {
    const json& v = at(key);
    if (!v.is_array()) bad(key, "expected a list of strings");
    std::vector<std::string> out;
    for (const auto& e : v) {
      if (!e.is_string()) bad(key, "expected a list of strings");
      out.push_back(e.get<std::string>());
    }
    return out;
  }
  std::vector<double> numbers(const char* key) const {
    const json& v = at(key);
    if (!v.is_array()) bad(key, "expected a list of numbers");
    std::vector<double> out;
    for (const auto& e : v) {
      if (!e.is_number()) bad(key, "expected a list of numbers");
      out.push_back(e.get<double>());
    }
    return out;
  }
  Obj obj(const char* key) const {
    const json& v = at(key);
    if (!v.is_object()) bad(key, "expected an object");
    return {v, where + "." + key};
  }
};

bool plain_file_name(const std::string& f) {
  if (f.size() < 4 || f.size() > 255 || f.compare(f.size() - 3, 3, ".h5") != 0 || f[0] == '.') return false;
  for (char c : f)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' || c == '+')) return false;
  return true;
}

bool hex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

CatalogIndex parse_catalog_index(const std::string& text, const std::string& where) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::parse_error& e) {
    fail(ErrorClass::Catalog, where + ": not valid JSON at byte " + std::to_string(e.byte) + "; the file is damaged, rebuild the catalog");
  } catch (const json::exception& e) {  // e.g. a number too large for a double
    fail(ErrorClass::Catalog, where + ": unreadable JSON (" + e.what() + "); the file is damaged, rebuild the catalog");
  }
  if (!root.is_object()) fail(ErrorClass::Catalog, where + ": expected a JSON object at the top level");
  Obj r{root, where};
  if (r.str("format") != kCatalogFormat) r.bad("format", "expected '" + std::string(kCatalogFormat) + "' (not an mcdnn catalog)");
  int64_t ver = r.i64("format_version");
  if (ver != kCatalogVersion)
    r.bad("format_version", "catalog format version " + std::to_string(ver) + ", this mcdnn reads version " +
                                std::to_string(kCatalogVersion) + "; rebuild the catalog with this mcdnn-compile");
  CatalogIndex c;
  c.schema = r.str("schema");
  c.build_key = r.str("build_key");
  Obj in = r.obj("input");
  const json& shape = in.at("shape");
  if (!shape.is_array() || shape.size() != 3) in.bad("shape", "expected [channels, height, width]");
  for (const auto& d : shape)
    if (!d.is_number_integer() || d.get<int64_t>() < 1 || d.get<int64_t>() > 65536) in.bad("shape", "expected 3 positive integers");
  c.input.input = {shape[0].get<int64_t>(), shape[1].get<int64_t>(), shape[2].get<int64_t>(), false};
  c.input.mean = in.numbers("mean");
  c.input.std = in.numbers("std");
  if (c.input.mean.size() != c.input.std.size()) in.bad("std", "mean and std differ in length");
  Obj cl = r.obj("classes");
  c.input.num_classes = cl.i64("count", 1, 1 << 20);
  c.input.class_names = cl.strings("names");
  c.notes = r.strings("notes");
  const json& vars = r.at("variants");
  if (!vars.is_array() || vars.empty()) r.bad("variants", "expected a non-empty list");
  std::set<std::string> ids, files;
  for (size_t i = 0; i < vars.size(); ++i) {
    if (!vars[i].is_object()) r.bad("variants[" + std::to_string(i) + "]", "expected an object");
    Obj v{vars[i], where + ": variants[" + std::to_string(i) + "]"};
    VariantRecord rec;
    rec.id = v.str("id");
    v.where += " (" + rec.id + ")";
    if (rec.id.empty() || !ids.insert(rec.id).second) v.bad("id", "empty or duplicate id");
    const json& parent = v.at("parent");
    if (i == 0) {
      if (!parent.is_null()) v.bad("parent", "the first variant (the base) has no parent");
    } else {
      if (!parent.is_string() || !ids.count(parent.get<std::string>()) || parent.get<std::string>() == rec.id)
        v.bad("parent", "expected the id of an earlier variant");
      rec.parent = parent.get<std::string>();
    }
    rec.transforms = v.strings("transforms");
    rec.file = v.str("file");
    if (!plain_file_name(rec.file)) v.bad("file", "expected a plain file name ending in .h5 inside the catalog directory, got '" + rec.file + "'");
    if (!files.insert(rec.file).second) v.bad("file", "used by two variants");
    rec.sha256 = v.str("sha256");
    if (!hex64(rec.sha256)) v.bad("sha256", "expected 64 lowercase hex digits");
    Profile& p = rec.profile;
    p.params = v.i64("params");
    p.params_nonzero = v.i64("params_nonzero", 0, p.params);
    p.flops = v.i64("flops");
    p.flops_effective = v.i64("flops_effective", 0, p.flops);
    p.other_ops = v.i64("other_ops");
    p.bytes = v.i64("bytes");
    p.activation_bytes = v.i64("activation_bytes");
    rec.accuracy = v.num("accuracy", 0, 1);
    const json& before = v.at("accuracy_before_finetune");
    if (!before.is_null()) rec.accuracy_before_finetune = v.num("accuracy_before_finetune", 0, 1);
    rec.pareto_bytes = v.boolean("pareto_bytes");
    rec.pareto_flops = v.boolean("pareto_flops");
    rec.knee_bytes = v.boolean("knee_bytes");
    rec.knee_flops = v.boolean("knee_flops");
    rec.validation_examples = v.i64("validation_examples");
    rec.epochs = v.i64("epochs");
    rec.train_seconds = v.num("train_seconds", 0, 1e12);
    rec.build_seconds = v.num("build_seconds", 0, 1e12);
    rec.eval_images_per_s = v.num("eval_images_per_s", 0, 1e15);
    const json& layers = v.at("layers");
    if (!layers.is_array()) v.bad("layers", "expected a list");
    for (size_t k = 0; k < layers.size(); ++k) {
      if (!layers[k].is_object()) v.bad("layers[" + std::to_string(k) + "]", "expected an object");
      Obj l{layers[k], v.where + ".layers[" + std::to_string(k) + "]"};
      LayerProfile lp;
      lp.name = l.str("name");
      lp.kind = l.str("kind");
      lp.repr = l.str("repr");
      lp.params = l.i64("params");
      lp.params_nonzero = l.i64("params_nonzero", 0, lp.params);
      lp.flops = l.i64("flops");
      lp.flops_effective = l.i64("flops_effective", 0, lp.flops);
      lp.bytes = l.i64("bytes");
      p.layers.push_back(lp);
    }
    c.records.push_back(std::move(rec));
  }
  return c;
}

CatalogIndex read_catalog_index(const std::string& dir) {
  const std::string path = (fs::path(dir) / "catalog.json").string();
  CatalogIndex c = parse_catalog_index(read_file(path, static_cast<int>(ErrorClass::Catalog)), path);
  c.dir = dir;
  return c;
}

void verify_checksum(const CatalogIndex& index, const VariantRecord& rec) {
  const std::string path = (fs::path(index.dir) / rec.file).string();
  std::string got = sha256_file(path, static_cast<int>(ErrorClass::Catalog));
  if (got != rec.sha256)
    fail(ErrorClass::Catalog, path + ": SHA-256 " + got + " differs from catalog.json's " + rec.sha256 + " for variant " + rec.id +
                                  ": the file was damaged or changed after the catalog was written; rebuild the catalog or restore the file");
}

VariantFile load_variant(const CatalogIndex& index, const VariantRecord& rec) {
  verify_checksum(index, rec);
  VariantFile v = read_variant_file((fs::path(index.dir) / rec.file).string());
  if (v.id != rec.id)
    fail(ErrorClass::Catalog, (fs::path(index.dir) / rec.file).string() + ": holds variant '" + v.id + "', catalog.json says '" + rec.id + "'");
  return v;
}

}  // namespace mcdnn
