#include "catalog/catalog_index.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <set>

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/json_obj.hpp"
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

namespace {

nlohmann::ordered_json measured_json(const MeasuredCost& m) {
  nlohmann::ordered_json j;
  if (!m.present) return nullptr;
  j["latency_ms"] = m.latency_ms;
  j["latency_p95_ms"] = m.latency_p95_ms;
  j["runs"] = m.runs;
  j["batch"] = m.batch;
  j["throughput"] = m.throughput;
  j["load_cold_ms"] = m.load_cold_ms;
  j["load_warm_ms"] = m.load_warm_ms;
  j["resident_bytes"] = m.resident_bytes;
  j["activation_bytes"] = m.activation_bytes;
  j["exec_mj"] = m.exec_mj;
  j["load_mj"] = m.load_mj;
  auto layers = nlohmann::ordered_json::array();
  for (const auto& l : m.layers) layers.push_back({{"name", l.name}, {"kernel", l.kernel}, {"ms", l.ms}});
  j["layers"] = std::move(layers);
  return j;
}

}  // namespace

std::string catalog_json(const Schema& schema, const std::vector<VariantRecord>& records, const std::string& build_key,
                         const std::vector<std::string>& notes, const ExecutorInfo* executor,
                         const MeasuredCost* trunk_measured, const std::vector<FeatureRecord>& features) {
  using ojson = nlohmann::ordered_json;
  InputInfo info = input_info(schema);
  ojson j;
  j["format"] = kCatalogFormat;
  j["format_version"] = kCatalogVersion;
  j["compiler"] = std::string("mcdnn-compile ") + kVersion;
  j["schema"] = schema.name;
  j["schema_hash"] = schema.source_hash;
  j["build_key"] = build_key;
  j["input"] = {{"shape", {info.input.c, info.input.h, info.input.w}},
                {"mean", info.mean},
                {"std", info.std},
                {"preprocess", "x = (pixel / 255 - mean[c]) / std[c] for uint8 data; (x - mean[c]) / std[c] for float32"}};
  j["classes"] = {{"count", info.num_classes}, {"names", info.class_names}};
  if (schema.trunk.present) {
    const TrunkRef& t = schema.trunk;
    j["trunk"] = {{"catalog", t.from_catalog},
                  {"variant", t.variant},
                  {"layer", t.layer},
                  {"layers", t.layers},
                  {"file", t.file},
                  {"sha256", t.sha256},
                  {"input", {{"shape", {t.input.c, t.input.h, t.input.w}}, {"mean", t.mean}, {"std", t.std}}},
                  {"output_shape", {info.input.c, info.input.h, info.input.w}},
                  {"params", t.params},
                  {"bytes", t.bytes},
                  {"flops", t.flops},
                  {"measured", trunk_measured ? measured_json(*trunk_measured) : ojson(nullptr)}};
  } else {
    j["trunk"] = nullptr;
  }
  j["accuracy_data"] = "validation";
  j["flop_convention"] = "flops = 2 x multiply-adds of conv2d and linear layers; bias, activation, pooling and "
                         "batchnorm ops are counted in other_ops";
  j["pareto_method"] =
      "a variant is Pareto-optimal when no other has <= resource and >= accuracy (one strict); the knee is "
      "Kneedle on the front in log-resource space: the front point maximizing y - x with x = log(resource) and "
      "y = accuracy normalized to [0, 1] over the front";
  if (executor)
    j["executor"] = {{"cpu", executor->cpu},
                     {"isa", executor->isa},
                     {"threads", executor->threads},
                     {"energy_model", executor->energy_model},
                     {"device_profile", executor->device_profile},
                     {"energy_formula", executor->energy_formula}};
  else
    j["executor"] = nullptr;
  j["notes"] = notes;
  auto feats = ojson::array();
  for (const auto& f : features)
    feats.push_back({{"variant", f.variant},
                     {"variant_sha256", f.variant_sha256},
                     {"retrained_layers", f.retrained_layers},
                     {"cut", f.cut},
                     {"file", f.file},
                     {"sha256", f.sha256},
                     {"shape", f.shape},
                     {"train_examples", f.train_examples},
                     {"validation_examples", f.validation_examples},
                     {"seconds", f.seconds}});
  j["features"] = std::move(feats);
  auto vars = ojson::array();
  for (const auto& r : records) {
    ojson v;
    v["id"] = r.id;
    v["parent"] = r.parent.empty() ? ojson(nullptr) : ojson(r.parent);
    v["transforms"] = r.transforms;
    v["file"] = r.file;
    v["sha256"] = r.sha256;
    v["params"] = r.profile.params;
    v["params_nonzero"] = r.profile.params_nonzero;
    v["flops"] = r.profile.flops;
    v["flops_effective"] = r.profile.flops_effective;
    v["other_ops"] = r.profile.other_ops;
    v["bytes"] = r.profile.bytes;
    v["activation_bytes"] = r.profile.activation_bytes;
    v["accuracy"] = r.accuracy;
    v["accuracy_before_finetune"] = r.accuracy_before_finetune >= 0 ? ojson(r.accuracy_before_finetune) : ojson(nullptr);
    v["pareto_bytes"] = r.pareto_bytes;
    v["pareto_flops"] = r.pareto_flops;
    v["knee_bytes"] = r.knee_bytes;
    v["knee_flops"] = r.knee_flops;
    v["pareto_latency"] = r.pareto_latency;
    v["pareto_energy"] = r.pareto_energy;
    v["knee_latency"] = r.knee_latency;
    v["knee_energy"] = r.knee_energy;
    v["validation_examples"] = r.validation_examples;
    v["epochs"] = r.epochs;
    v["accuracy_by_epoch"] = r.accuracy_by_epoch.empty() ? ojson(nullptr) : ojson(r.accuracy_by_epoch);
    v["train_seconds"] = r.train_seconds;
    v["build_seconds"] = r.build_seconds;
    v["eval_images_per_s"] = r.eval_images_per_s;
    v["measured"] = measured_json(r.measured);
    if (r.specialized.present) {
      const Specialization& sp = r.specialized;
      v["specialized"] = {{"classes", sp.classes},
                          {"class_names", sp.class_names},
                          {"other_output", static_cast<int64_t>(sp.classes.size())},
                          {"retrained_layers", sp.retrained_layers},
                          {"in_set_accuracy", sp.in_set_accuracy},
                          {"in_set_other", sp.in_set_other},
                          {"other_recall", sp.other_recall},
                          {"source_in_set_accuracy", sp.source_in_set_accuracy},
                          {"train_examples", sp.train_examples}};
    } else {
      v["specialized"] = nullptr;
    }
    auto layers = ojson::array();
    for (const auto& l : r.profile.layers)
      layers.push_back({{"name", l.name},
                        {"kind", l.kind},
                        {"repr", l.repr},
                        {"params", l.params},
                        {"params_nonzero", l.params_nonzero},
                        {"flops", l.flops},
                        {"flops_effective", l.flops_effective},
                        {"bytes", l.bytes}});
    for (size_t k = 0; k < r.profile.layers.size(); ++k)
      if (!r.profile.layers[k].from.empty()) layers[k]["from"] = r.profile.layers[k].from;
    v["layers"] = std::move(layers);
    vars.push_back(std::move(v));
  }
  j["variants"] = std::move(vars);
  return j.dump(2);
}

const VariantRecord* CatalogIndex::find(const std::string& id) const {
  for (const auto& r : records)
    if (r.id == id) return &r;
  return nullptr;
}

const FeatureRecord* CatalogIndex::find_features(const std::string& variant, int64_t retrained_layers) const {
  for (const auto& f : features)
    if (f.variant == variant && f.retrained_layers == retrained_layers) return &f;
  return nullptr;
}

namespace {

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


MeasuredCost parse_measured(const Obj& m) {
  MeasuredCost mc;
  mc.present = true;
  mc.latency_ms = m.num("latency_ms", 0, 1e9);
  mc.latency_p95_ms = m.num("latency_p95_ms", mc.latency_ms, 1e9);
  mc.runs = m.i64("runs", 1);
  mc.batch = m.i64("batch", 1, 1 << 20);
  mc.throughput = m.num("throughput", 0, 1e15);
  mc.load_cold_ms = m.num("load_cold_ms", 0, 1e9);
  mc.load_warm_ms = m.num("load_warm_ms", 0, 1e9);
  mc.resident_bytes = m.i64("resident_bytes");
  mc.activation_bytes = m.i64("activation_bytes");
  mc.exec_mj = m.num("exec_mj", 0, 1e15);
  mc.load_mj = m.num("load_mj", 0, 1e15);
  const nlohmann::json& ls = m.at("layers");
  if (!ls.is_array()) m.bad("layers", "expected a list");
  for (size_t k = 0; k < ls.size(); ++k) {
    if (!ls[k].is_object()) m.bad("layers[" + std::to_string(k) + "]", "expected an object");
    Obj l{ls[k], m.where + ".layers[" + std::to_string(k) + "]"};
    mc.layers.push_back({l.str("name"), l.str("kernel"), l.num("ms", 0, 1e9)});
  }
  return mc;
}

Shape parse_shape(const Obj& o, const char* key) {
  const nlohmann::json& shape = o.at(key);
  if (!shape.is_array() || shape.size() != 3) o.bad(key, "expected [channels, height, width]");
  for (const auto& d : shape)
    if (!d.is_number_integer() || d.get<int64_t>() < 1 || d.get<int64_t>() > 65536) o.bad(key, "expected 3 positive integers");
  return {shape[0].get<int64_t>(), shape[1].get<int64_t>(), shape[2].get<int64_t>(), false};
}

}  // namespace

CatalogIndex parse_catalog_index(const std::string& text, const std::string& where, bool parents_elsewhere) {
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
  if (ver < 2 || ver > kCatalogVersion)
    r.bad("format_version", "catalog format version " + std::to_string(ver) + ", this mcdnn reads versions 2 to " +
                                std::to_string(kCatalogVersion) + "; rebuild the catalog with this mcdnn-compile");
  CatalogIndex c;
  c.format_version = static_cast<int>(ver);
  if (ver >= 3 && !r.at("executor").is_null()) {
    Obj e = r.obj("executor");
    c.measured = true;
    c.executor.cpu = e.str("cpu");
    c.executor.isa = e.str("isa");
    c.executor.threads = static_cast<int>(e.i64("threads", 1, 4096));
    c.executor.energy_model = e.str("energy_model");
    c.executor.device_profile = e.str("device_profile");
    c.executor.energy_formula = e.str("energy_formula");
  }
  c.schema = r.str("schema");
  c.schema_hash = r.str("schema_hash");
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
  if (ver >= 5 && !r.at("trunk").is_null()) {
    Obj t = r.obj("trunk");
    TrunkRef& tr = c.trunk;
    tr.present = true;
    tr.catalog = t.str("catalog");
    if (tr.catalog.empty() || fs::path(tr.catalog).is_absolute())
      t.bad("catalog", "expected the trunk catalog's directory relative to this catalog's");
    tr.variant = t.str("variant");
    tr.layer = t.str("layer");
    tr.layers = t.i64("layers", 1, 65536);
    tr.file = t.str("file");
    if (!plain_file_name(tr.file)) t.bad("file", "expected a plain file name ending in .h5, got '" + tr.file + "'");
    tr.sha256 = t.str("sha256");
    if (!hex64(tr.sha256)) t.bad("sha256", "expected 64 lowercase hex digits");
    Obj ti = t.obj("input");
    tr.input = parse_shape(ti, "shape");
    tr.mean = ti.numbers("mean");
    tr.std = ti.numbers("std");
    if (tr.mean.size() != tr.std.size() || (!tr.mean.empty() && tr.mean.size() != static_cast<size_t>(tr.input.c)))
      ti.bad("std", "expected one mean and one std per input channel, or none");
    if (!(parse_shape(t, "output_shape") == c.input.input)) t.bad("output_shape", "differs from input.shape");
    tr.params = t.i64("params");
    tr.bytes = t.i64("bytes");
    tr.flops = t.i64("flops");
    if (c.measured != !t.at("measured").is_null())
      t.bad("measured", c.measured ? "missing while \"executor\" is set" : "present while \"executor\" is null");
    if (c.measured) c.trunk_measured = parse_measured(t.obj("measured"));
    tr.where = t.where;
  }
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
    if (parents_elsewhere) {
      if (!parent.is_string() || parent.get<std::string>().empty() || parent.get<std::string>() == rec.id)
        v.bad("parent", "expected the id of another variant");
      rec.parent = parent.get<std::string>();
    } else if (i == 0) {
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
    // Optional (absent before it was kept); when present, one accuracy per training epoch.
    if (auto it = v.j.find("accuracy_by_epoch"); it != v.j.end() && !it->is_null()) {
      if (!it->is_array() || static_cast<int64_t>(it->size()) != rec.epochs)
        v.bad("accuracy_by_epoch", "expected null or a list of " + std::to_string(rec.epochs) + " accuracies in [0, 1], one per epoch");
      for (const auto& a : *it) {
        if (!a.is_number() || !(a.get<double>() >= 0 && a.get<double>() <= 1))
          v.bad("accuracy_by_epoch", "expected accuracies in [0, 1], got " + a.dump());
        rec.accuracy_by_epoch.push_back(a.get<double>());
      }
    }
    rec.train_seconds = v.num("train_seconds", 0, 1e12);
    rec.build_seconds = v.num("build_seconds", 0, 1e12);
    rec.eval_images_per_s = v.num("eval_images_per_s", 0, 1e15);
    if (ver >= 3) {
      rec.pareto_latency = v.boolean("pareto_latency");
      rec.pareto_energy = v.boolean("pareto_energy");
      rec.knee_latency = v.boolean("knee_latency");
      rec.knee_energy = v.boolean("knee_energy");
      const json& mj = v.at("measured");
      if (c.measured != !mj.is_null())
        v.bad("measured", c.measured ? "missing while \"executor\" is set" : "present while \"executor\" is null");
      if (c.measured) {
        rec.measured = parse_measured(v.obj("measured"));
      }
    }
    if (ver >= 4 && !v.at("specialized").is_null()) {
      Obj sp = v.obj("specialized");
      Specialization& s = rec.specialized;
      s.present = true;
      const json& cls = sp.at("classes");
      if (!cls.is_array() || cls.empty()) sp.bad("classes", "expected a non-empty list of class indices");
      std::set<int64_t> seen;
      for (const auto& k : cls) {
        if (!k.is_number_integer() || k.get<int64_t>() < 0 || k.get<int64_t>() >= c.input.num_classes || !seen.insert(k.get<int64_t>()).second)
          sp.bad("classes", "expected distinct class indices in [0, " + std::to_string(c.input.num_classes) + ")");
        s.classes.push_back(k.get<int64_t>());
      }
      if (static_cast<int64_t>(s.classes.size()) >= c.input.num_classes) sp.bad("classes", "keeps every class: nothing is left for \"other\"");
      s.class_names = sp.strings("class_names");
      if (!s.class_names.empty() && s.class_names.size() != s.classes.size())
        sp.bad("class_names", "expected one name per class or none");
      if (sp.i64("other_output") != static_cast<int64_t>(s.classes.size()))
        sp.bad("other_output", "expected " + std::to_string(s.classes.size()) + ", the number of classes kept (\"other\" follows them)");
      s.retrained_layers = sp.i64("retrained_layers", 1, 1 << 20);
      s.in_set_accuracy = sp.num("in_set_accuracy", 0, 1);
      s.in_set_other = sp.num("in_set_other", 0, 1 - s.in_set_accuracy + 1e-9);
      s.other_recall = sp.num("other_recall", 0, 1);
      s.source_in_set_accuracy = sp.num("source_in_set_accuracy", 0, 1);
      s.train_examples = sp.i64("train_examples");
      if (rec.parent.empty()) v.bad("specialized", "a specialized variant has the variant it was retargeted from as parent");
    }
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
      if (layers[k].contains("from")) {  // a graph layer's inputs by name
        const json& f = layers[k].at("from");
        if (!f.is_array() || f.empty()) l.bad("from", "expected a non-empty list of layer names");
        for (const auto& n : f) {
          if (!n.is_string()) l.bad("from", "expected layer names");
          lp.from.push_back(n.get<std::string>());
        }
      }
      p.layers.push_back(lp);
    }
    c.records.push_back(std::move(rec));
  }
  if (ver >= 6) {
    const json& fs_ = r.at("features");
    if (!fs_.is_array()) r.bad("features", "expected a list (empty when no features are stored)");
    std::set<std::pair<std::string, int64_t>> seen;
    for (size_t i = 0; i < fs_.size(); ++i) {
      if (!fs_[i].is_object()) r.bad("features[" + std::to_string(i) + "]", "expected an object");
      Obj f{fs_[i], where + ": features[" + std::to_string(i) + "]"};
      FeatureRecord fr;
      fr.variant = f.str("variant");
      const VariantRecord* v = c.find(fr.variant);
      if (!v || v->specialized.present) f.bad("variant", "expected the id of a generic variant of this catalog, got '" + fr.variant + "'");
      fr.variant_sha256 = f.str("variant_sha256");
      if (fr.variant_sha256 != v->sha256)
        f.bad("variant_sha256", "differs from variant " + fr.variant + "'s sha256: the features are of another build of it; rebuild the catalog");
      fr.retrained_layers = f.i64("retrained_layers", 1, 1 << 20);
      if (!seen.insert({fr.variant, fr.retrained_layers}).second) f.bad("retrained_layers", "a second entry for this variant and layer count");
      fr.cut = f.i64("cut", 0, static_cast<int64_t>(v->profile.layers.size()) - 1);
      fr.file = f.str("file");
      if (!plain_file_name(fr.file)) f.bad("file", "expected a plain file name ending in .h5 inside the catalog directory, got '" + fr.file + "'");
      if (!files.insert(fr.file).second) f.bad("file", "used twice");
      fr.sha256 = f.str("sha256");
      if (!hex64(fr.sha256)) f.bad("sha256", "expected 64 lowercase hex digits");
      const json& shape = f.at("shape");
      if (!shape.is_array() || (shape.size() != 1 && shape.size() != 3)) f.bad("shape", "expected [n] or [channels, height, width]");
      for (const auto& d : shape) {
        if (!d.is_number_integer() || d.get<int64_t>() < 1 || d.get<int64_t>() > (int64_t(1) << 24)) f.bad("shape", "expected positive integers");
        fr.shape.push_back(d.get<int64_t>());
      }
      fr.train_examples = f.i64("train_examples", 1, int64_t(1) << 31);
      fr.validation_examples = f.i64("validation_examples", 1, int64_t(1) << 31);
      fr.seconds = f.num("seconds", 0, 1e12);
      c.features.push_back(std::move(fr));
    }
  }
  return c;
}

CatalogIndex read_catalog_index(const std::string& dir) {
  const std::string path = (fs::path(dir) / "catalog.json").string();
  CatalogIndex c = parse_catalog_index(read_file(path, static_cast<int>(ErrorClass::Catalog)), path);
  c.dir = dir;
  if (c.trunk.present) c.trunk.catalog_dir = (fs::path(dir) / c.trunk.catalog).lexically_normal().string();
  return c;
}

void verify_checksum(const CatalogIndex& index, const VariantRecord& rec) {
  const std::string path = (fs::path(index.dir) / rec.file).string();
  std::string got = sha256_file(path, static_cast<int>(ErrorClass::Catalog));
  if (got != rec.sha256)
    fail(ErrorClass::Catalog, path + ": SHA-256 " + got + " differs from catalog.json's " + rec.sha256 + " for variant " + rec.id +
                                  ": the file was damaged or changed after the catalog was written; rebuild the catalog or restore the file");
}

void check_variant_matches(const CatalogIndex& index, const VariantRecord& rec, const VariantFile& v) {
  const std::string path = (fs::path(index.dir) / rec.file).string();
  if (v.id != rec.id) fail(ErrorClass::Catalog, path + ": holds variant '" + v.id + "', catalog.json says '" + rec.id + "'");
  const int64_t want = rec.specialized.present ? static_cast<int64_t>(rec.specialized.classes.size()) + 1 : index.input.num_classes;
  if (v.input.num_classes != want)
    fail(ErrorClass::Catalog, path + ": has " + std::to_string(v.input.num_classes) + " outputs, catalog.json's variant " + rec.id +
                                  " needs " + std::to_string(want) +
                                  (rec.specialized.present ? " (its kept classes, then \"other\")" : " (the catalog's classes)") +
                                  "; the file or catalog.json was changed after the build: rebuild the catalog");
}

VariantFile load_variant(const CatalogIndex& index, const VariantRecord& rec) {
  verify_checksum(index, rec);
  VariantFile v = read_variant_file((fs::path(index.dir) / rec.file).string());
  check_variant_matches(index, rec, v);
  return v;
}

std::string measured_line(const MeasuredCost& m) { return measured_json(m).dump(); }

MeasuredCost parse_measured_line(const std::string& text, const std::string& where) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail(ErrorClass::Catalog, where + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object()) fail(ErrorClass::Catalog, where + ": expected a JSON object");
  return parse_measured(Obj{j, where});
}

}  // namespace mcdnn
