#include "specialize/specialize_catalog.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "build_steps.hpp"
#include "catalog/catalog.hpp"
#include "catalog/report.hpp"
#include "measure.hpp"
#include "measure_variants.hpp"
#include "specialize/feature_store.hpp"
#include "nn/net.hpp"
#include "schema/plan.hpp"
#include "util/error.hpp"
#include "util/file_lock.hpp"
#include "util/fs.hpp"
#include "util/interrupt.hpp"
#include "util/sha256.hpp"
#include "util/suggest.hpp"

namespace mcdnn {

namespace fs = std::filesystem;

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string pct(double x) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f%%", 100 * x);
  return b;
}

// The source's accuracy on the validation examples of `classes` (its own outputs).
double source_in_set(const Variant& v, const PreForwarded& data, const std::vector<int64_t>& classes) {
  torch::NoGradGuard no_grad;
  Net net = v.net;
  net->eval();
  const TensorData& va = data.val();
  const size_t from = data.preforwarded() ? data.cut() : 0, end = net->layers().size();
  std::vector<torch::Tensor> pred;
  for (int64_t i = 0; i < va.x.size(0); i += 1000)
    pred.push_back(net->forward_range(va.x.slice(0, i, std::min(i + 1000, va.x.size(0))), from, end).argmax(1).to(torch::kCPU));
  if (pred.empty()) return 0;
  auto p = torch::cat(pred), y = va.y.to(torch::kCPU);
  auto in_set = specialized_labels(y, classes).lt(static_cast<int64_t>(classes.size()));
  const double n = in_set.sum().item<double>();
  return n > 0 ? p.eq(y).logical_and(in_set).sum().item<double>() / n : 0;
}

// One row per specialized variant, its id padded to `id_width` (the longest id of the rows) so
// that the numbers stay in columns.
std::string line(const SpecializedVariant& s, const std::string& note, size_t id_width) {
  const Specialization& sp = s.record.specialized;
  const std::string& id = s.record.id;
  char b[256];
  std::snprintf(b, sizeof b, " in-set %s (source %s), other recall %s, in-set called other %s; head %.2f s",
                pct(sp.in_set_accuracy).c_str(), pct(sp.source_in_set_accuracy).c_str(), pct(sp.other_recall).c_str(),
                pct(sp.in_set_other).c_str(), s.record.train_seconds);
  return "  " + id + std::string(std::max(id_width, id.size()) - id.size(), ' ') + b + note + "\n";
}

}  // namespace

SpecializeSpec specialize_spec(const SpecializeSchema& s, const std::vector<int64_t>& classes, uint64_t seed) {
  SpecializeSpec spec;
  spec.classes = classes;
  spec.retrain_layers = static_cast<size_t>(s.retrain_layers);
  spec.epochs = s.epochs;
  spec.lr = s.lr;
  spec.batch_size = s.batch_size;
  spec.other_share = s.other_share;
  spec.seed = seed;
  return spec;
}

SpecializedVariant make_specialized(const Schema& schema, const Variant& source, const PreForwarded& data, const SpecializeSpec& spec) {
  auto t0 = Clock::now();
  SpecializeResult r = specialize(source, data, spec);
  SpecializedVariant out;
  out.variant = std::move(r.variant);
  VariantRecord& rec = out.record;
  rec.id = out.variant.id;
  rec.parent = source.id;
  rec.transforms = out.variant.transforms;
  rec.file = rec.id + ".h5";
  rec.profile = profile_variant(out.variant);
  rec.accuracy = r.accuracy;
  rec.validation_examples = data.val().x.size(0);
  rec.train_seconds = r.seconds;
  rec.epochs = spec.epochs;
  Specialization& sp = rec.specialized;
  sp.present = true;
  sp.classes = spec.classes;
  for (int64_t c : spec.classes)
    if (static_cast<size_t>(c) < schema.class_names.size()) sp.class_names.push_back(schema.class_names[static_cast<size_t>(c)]);
  sp.retrained_layers = static_cast<int64_t>(spec.retrain_layers);
  sp.in_set_accuracy = r.in_set_accuracy;
  sp.in_set_other = r.in_set_other;
  sp.other_recall = r.other_recall;
  sp.source_in_set_accuracy = source_in_set(source, data, spec.classes);
  sp.train_examples = r.train_examples;
  out.info = input_info(schema);
  out.info.num_classes = static_cast<int64_t>(spec.classes.size()) + 1;
  out.info.class_names = sp.class_names;
  if (!out.info.class_names.empty()) out.info.class_names.push_back("other");
  rec.build_seconds = since(t0);
  return out;
}

namespace {
double megabytes(const std::string& path) {
  std::error_code ec;
  const auto n = fs::file_size(path, ec);
  return ec ? 0 : static_cast<double>(n) / 1e6;
}

std::string features_line(const FeatureRecord& f, double mb) {
  std::string shape;
  for (int64_t d : f.shape) shape += (shape.empty() ? "" : "x") + std::to_string(d);
  char b[512];
  std::snprintf(b, sizeof b, "  features of %s: %lld + %lld examples x %s at layer %lld, forwarded in %.2f s, kept as %s (%.1f MB)\n",
                f.variant.c_str(), static_cast<long long>(f.train_examples), static_cast<long long>(f.validation_examples), shape.c_str(),
                static_cast<long long>(f.cut), f.seconds, f.file.c_str(), mb);
  return b;
}
}  // namespace

void build_specialized(BuildDir& build, const Schema& schema, const Variant& base, std::vector<VariantRecord>& records,
                       std::vector<FeatureRecord>& features, const TensorData& train, const TensorData& val, std::ostream& out) {
  const SpecializeSchema& ss = schema.specialize;
  if (ss.sets.empty()) return;
  out << "\nspecializing " << ss.variants.size() << " variant(s) to " << ss.sets.size() << " class set(s) + \"other\": last "
      << ss.retrain_layers << " weight layer(s) retrained " << ss.epochs << " epoch(s) on pre-forwarded features\n";
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < records.size(); ++i) index[records[i].id] = i;
  size_t id_width = 0;
  for (const auto& id : ss.variants)
    for (const auto& set : ss.sets)
      if (auto it = index.find(id); it != index.end()) {
        std::vector<std::string> tr = records[it->second].transforms;
        tr.push_back(specialize_transform(set.classes, static_cast<size_t>(ss.retrain_layers)));
        id_width = std::max(id_width, variant_id(tr).size());
      }
  uint64_t ordinal = 0;
  for (const auto& id : ss.variants) {
    auto it = index.find(id);
    if (it == index.end())
      fail(ErrorClass::Schema, ss.where + ": variants: '" + id + "' was not built (a level the build skipped or merged with another); "
                                          "specialize a variant the summary lists");
    const VariantRecord src_rec = records[it->second];  // a copy: `records` grows below
    // The features once per variant, kept in the catalog (a resumed build computes them again:
    // the checkpoint does not list them).
    // (Without store_features, only when a class set still needs them.)
    Variant src;
    std::unique_ptr<PreForwarded> data;
    auto features_now = [&]() -> const PreForwarded& {
      if (data) return *data;
      check_interrupted();
      src = id == "base" ? derive(base, base.net->layers()) : read_variant(build.file(src_rec.file));
      src.id = id;
      src.net->to(train.x.device());
      src.net->eval();
      data = std::make_unique<PreForwarded>(src, static_cast<size_t>(ss.retrain_layers), train, val, true);
      return *data;
    };
    if (ss.store_features) {
      const std::string name = features_file_name(id, ss.retrain_layers);
      features.push_back(write_features(build.file(name), name, src_rec, ss.retrain_layers, features_now()));
      out << features_line(features.back(), megabytes(build.file(name))) << std::flush;
    }
    for (const auto& set : ss.sets) {
      check_interrupted();
      const SpecializeSpec spec = specialize_spec(ss, set.classes, static_cast<uint64_t>(schema.training.seed) + ++ordinal);
      std::vector<std::string> tr = src_rec.transforms;
      tr.push_back(specialize_transform(spec.classes, spec.retrain_layers));
      const std::string sid = variant_id(tr);
      if (const VariantRecord* done = build.done(sid)) {
        VariantRecord rec = *done;
        build.commit(rec, *build.entry(sid), schema);
        records.push_back(rec);
        out << "  " << sid << ": taken from the checkpoint\n";
        continue;
      }
      const PreForwarded& pf = features_now();
      SpecializedVariant sv = make_specialized(schema, src, pf, spec);
      write_variant(build.file(sv.record.file), sv.record, sv.info, sv.variant);
      build.commit(sv.record, CheckpointEntry{0, {}}, schema);
      out << line(sv, "", id_width) << std::flush;
      records.push_back(sv.record);
    }
  }
}

namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string t; std::getline(ss, t, ',');) {
    while (!t.empty() && t.front() == ' ') t.erase(t.begin());
    while (!t.empty() && t.back() == ' ') t.pop_back();
    out.push_back(t);
  }
  return out;
}

// The catalog must be the schema's (checked before loading data: a wrong schema fails at once)...
void check_catalog_schema(const CatalogIndex& c, const Schema& schema, const std::string& dir) {
  if (c.schema != schema.name || c.schema_hash != schema.source_hash)
    fail(ErrorClass::Catalog, dir + "/catalog.json: built from schema '" + c.schema + "' (hash " + c.schema_hash + "), not from " +
                                  schema.path + " ('" + schema.name + "', hash " + schema.source_hash +
                                  "); pass the schema the catalog was built from, or rebuild the catalog");
  if (c.trunk.present != schema.trunk.present || (c.trunk.present && (c.trunk.sha256 != schema.trunk.sha256 || c.trunk.layers != schema.trunk.layers)))
    fail(ErrorClass::Catalog, dir + "/catalog.json: built on " + (c.trunk.present ? "trunk variant " + c.trunk.variant + " (sha256 " + c.trunk.sha256.substr(0, 12) + "…)" : std::string("no trunk")) +
                                  ", but " + schema.path + " now resolves to " +
                                  (schema.trunk.present ? "trunk variant " + schema.trunk.variant + " (sha256 " + schema.trunk.sha256.substr(0, 12) + "…)" : std::string("no trunk")) +
                                  "; rebuild the catalog");
}

// ... built with the same preprocessing (checked once the data are loaded: it may be computed).
void check_catalog_input(const CatalogIndex& c, const Schema& schema, const std::string& dir) {
  const InputInfo want = input_info(schema);
  bool same = c.input.mean.size() == want.mean.size();
  for (size_t i = 0; same && i < want.mean.size(); ++i)
    same = std::fabs(c.input.mean[i] - want.mean[i]) <= 1e-6 && std::fabs(c.input.std[i] - want.std[i]) <= 1e-6;
  if (!same)
    fail(ErrorClass::Data, dir + "/catalog.json: the catalog normalizes its input with other means and deviations than "
                                 "these data give (was it built with --limit? pass the same --limit)");
}

}  // namespace

int specialize_catalog(const CompileOptions& opt, Schema& schema, torch::Device device, std::ostream& out) {
  const std::string dir = opt.specialize_dir;
  // The lock first: the index read under it is the one rewritten. (A rebuild of the catalog
  // with -o DIR works in DIR.partial and replaces DIR at its end; do not run both at once.)
  read_catalog_index(dir);  // a catalog (the reader's message if not) before a lock file is made there
  FileLock lock(fs::path(dir) / ".lock", dir + " is being changed by another mcdnn-compile --specialize; wait for it to finish");
  CatalogIndex c = read_catalog_index(dir);
  check_catalog_schema(c, schema, dir);
  if (opt.classes.empty()) fail(ErrorClass::Usage, "--specialize needs --classes, the dominant classes (names or indices, comma-separated)");
  std::vector<int64_t> classes;
  for (const auto& t : split_list(opt.classes)) {
    std::string why;
    int64_t k = class_index(schema, t, &why);
    if (k < 0) fail(ErrorClass::Usage, "--classes: " + why);
    for (int64_t seen : classes)
      if (seen == k) fail(ErrorClass::Usage, "--classes: '" + t + "' is listed twice");
    classes.push_back(k);
  }
  if (static_cast<int64_t>(classes.size()) >= schema.num_classes)
    fail(ErrorClass::Usage, "--classes: keeps all " + std::to_string(schema.num_classes) + " classes, leaving nothing for \"other\"; list fewer");
  std::vector<std::string> ids = split_list(opt.specialize_variants.empty() ? "base" : opt.specialize_variants);
  std::vector<std::string> generic;
  for (const auto& r : c.records)
    if (!r.specialized.present) generic.push_back(r.id);
  for (size_t i = 0; i < ids.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (ids[i] == ids[j]) fail(ErrorClass::Usage, "--variants: '" + ids[i] + "' is listed twice");
  for (const auto& id : ids) {
    const VariantRecord* r = c.find(id);
    if (!r) fail(ErrorClass::Usage, "--variants: " + dir + " has no variant '" + id + "'" + did_you_mean(id, generic) + " (`mcdnn-catalog show " + dir + "` lists them)");
    if (r->specialized.present) fail(ErrorClass::Usage, "--variants: '" + id + "' is itself specialized; specialize a generic variant");
  }
  SpecializeSchema ss = schema.specialize;
  if (opt.retrain_layers > 0) ss.retrain_layers = opt.retrain_layers;

  out << "mcdnn-compile --specialize " << dir << ": " << classes.size() << " classes + \"other\" for " << ids.size() << " variant(s)\n";
  Dataset trd, vad;
  load_build_data(schema, &trd, &vad, out);
  check_catalog_input(c, schema, dir);
  TensorData tr = to_tensors(trd, device), va = to_tensors(vad, device);

  std::vector<SpecializedVariant> made;
  std::vector<FeatureRecord> features = c.features;  // the catalog's, with any computed here
  std::vector<std::string> tmp_files, feature_tmps;   // feature_tmps[i]: features[i]'s new file, or ""
  std::vector<std::string> unlisted_features;         // files the new catalog.json no longer lists
  feature_tmps.resize(features.size());
  auto cleanup = [&] {
    std::error_code ec;
    for (const auto& f : tmp_files) fs::remove(f, ec);
    for (const auto& f : feature_tmps)
      if (!f.empty()) fs::remove(f, ec);
  };
  size_t id_width = 0;
  for (const auto& id : ids) {
    std::vector<std::string> tr = c.find(id)->transforms;
    tr.push_back(specialize_transform(classes, static_cast<size_t>(ss.retrain_layers)));
    id_width = std::max(id_width, variant_id(tr).size());
  }
  try {
    const std::string suffix = ".tmp-" + std::to_string(::getpid());
    for (const auto& id : ids) {
      check_interrupted();
      const VariantRecord& rec = *c.find(id);
      Variant src = variant_from_file(load_variant(c, rec));
      src.id = id;
      src.net->to(device);
      src.net->eval();
      // The variant's features: kept in the catalog when an earlier build or --specialize
      // stored them (and they are the features of these very data), else computed and kept.
      std::unique_ptr<PreForwarded> data;
      std::string note;
      bool keep = ss.store_features;  // false: the catalog's features are of other data; leave them
      if (const FeatureRecord* fr = c.find_features(id, ss.retrain_layers)) {
        const std::string path = (fs::path(dir) / fr->file).string();
        try {
          data = std::make_unique<PreForwarded>(read_features(c, *fr, device));
          // They must feed the layers this variant retrains, at the shape its frozen layers give.
          const size_t cut = retarget_cut(src.net->layers(), static_cast<size_t>(ss.retrain_layers));
          torch::NoGradGuard no_grad;
          const auto probe = src.net->forward_range(va.x.slice(0, 0, 1), 0, cut);
          if (data->cut() != cut || data->val().x.sizes().slice(1) != probe.sizes().slice(1))
            fail(ErrorClass::Catalog, path + ": features at layer " + std::to_string(data->cut()) + " of shape " +
                                          c10::str(data->val().x.sizes().slice(1)) + ", but variant " + id + " retrains from layer " +
                                          std::to_string(cut) + ", whose input is " + c10::str(probe.sizes().slice(1)));
          if (!torch::equal(data->train().y, tr.y) || !torch::equal(data->val().y, va.y)) {
            out << "  note: " << path << " holds the features of other examples (" << fr->train_examples << " + "
                << fr->validation_examples << " against these data's " << tr.y.size(0) << " + " << va.y.size(0)
                << ", or other labels: the catalog was built with another --limit or other data); forwarding these data, "
                   "the catalog's features kept as they are\n";
            data.reset();
            keep = false;
          } else {
            char b[160];
            std::snprintf(b, sizeof b, ", features read from %s in %.2f s", fr->file.c_str(), data->seconds());
            note = b;
          }
        } catch (const Error& e) {
          if (e.cls() != ErrorClass::Catalog) throw;
          out << "  note: " << e.what() << "; computing the features again\n";
          data.reset();
        }
      }
      if (!data) {
        data = std::make_unique<PreForwarded>(src, static_cast<size_t>(ss.retrain_layers), tr, va, true);
        char b[160];
        std::snprintf(b, sizeof b, ", features forwarded in %.2f s", data->seconds());
        note = b;
        if (keep) {
          const std::string name = features_file_name(id, ss.retrain_layers);
          const std::string tmp = (fs::path(dir) / (name + suffix)).string();
          size_t slot = features.size();
          for (size_t i = 0; i < features.size(); ++i)
            if (features[i].variant == id && features[i].retrained_layers == ss.retrain_layers) slot = i;
          if (slot == features.size()) features.emplace_back(), feature_tmps.emplace_back();
          else if (features[slot].file != name) unlisted_features.push_back(features[slot].file);  // (an edited name)
          feature_tmps[slot] = tmp;
          features[slot] = write_features(tmp, name, rec, ss.retrain_layers, *data);
          note += " (kept as " + name + ")";
        }
      }
      const SpecializeSpec spec = specialize_spec(ss, classes, static_cast<uint64_t>(schema.training.seed));
      SpecializedVariant sv = make_specialized(schema, src, *data, spec);
      const std::string tmp = (fs::path(dir) / (sv.record.file + suffix)).string();
      tmp_files.push_back(tmp);
      write_variant(tmp, sv.record, sv.info, sv.variant);
      sv.record.sha256 = sha256_file(tmp, static_cast<int>(ErrorClass::Output));
      if (c.measured) {
        exec::MeasureOptions mo;
        mo.seconds = opt.measure_seconds > 0 ? opt.measure_seconds : 0.25;
        mo.device = c.executor.device_profile;
        FreshProgress quiet{[](const std::string&) {}, [](size_t, const MeasuredCost&) {}};
        sv.record.measured = measure_files_fresh({tmp}, {static_cast<double>(sv.record.profile.flops_effective)}, mo, quiet, out).front();
      }
      out << line(sv, note, id_width) << std::flush;
      made.push_back(std::move(sv));
    }
    // The new index: the catalog's records, a specialized one of the same id replaced. A
    // replacement gets a file name of its own (id + its checksum's first digits), so that the
    // file catalog.json lists stays in place until the new catalog.json is.
    std::vector<VariantRecord> records = c.records;
    std::vector<std::string> replaced_files;
    std::set<std::string> listed;
    for (const auto& r : records) listed.insert(r.file);
    for (auto& sv : made) {
      if (listed.count(sv.record.file)) sv.record.file = sv.record.id + "." + sv.record.sha256.substr(0, 12) + ".h5";
      bool replaced = false;
      for (auto& r : records)
        if (r.id == sv.record.id) {
          if (r.file != sv.record.file) replaced_files.push_back(r.file);
          r = sv.record, replaced = true;
        }
      if (!replaced) records.push_back(sv.record);
    }
    mark_pareto(records);
    const std::string text = catalog_json(schema, records, c.build_key, c.notes, c.measured ? &c.executor : nullptr,
                                          c.trunk.present && c.measured ? &c.trunk_measured : nullptr, features);
    parse_catalog_index(text, dir + "/catalog.json (new)");  // what is renamed into place reads back
    check_interrupted();
    // New files into place (names no catalog.json lists yet), then catalog.json, then the
    // files it no longer lists. A crash between the first two leaves new .h5 files catalog.json
    // does not list: a later build refuses the directory naming them.
    std::vector<std::string> placed;
    try {
      for (size_t i = 0; i < made.size(); ++i) {
        const std::string to = (fs::path(dir) / made[i].record.file).string();
        fs::rename(tmp_files[i], to);
        placed.push_back(to);
      }
      tmp_files.clear();
      // Features computed here: a new file, or one replacing a damaged one of the same name.
      // A replacement is not removed if catalog.json cannot be written: the old catalog.json
      // then lists a file whose checksum differs, which the next --specialize computes again.
      for (size_t i = 0; i < features.size(); ++i)
        if (!feature_tmps[i].empty()) {
          const std::string to = (fs::path(dir) / features[i].file).string();
          const bool listed_before = i < c.features.size() && c.features[i].file == features[i].file;
          fs::rename(feature_tmps[i], to);
          feature_tmps[i].clear();
          if (!listed_before) placed.push_back(to);
        }
      write_file_atomic(fs::path(dir) / "catalog.json", text);
    } catch (...) {
      std::error_code ec;
      for (const auto& f : placed) fs::remove(f, ec);
      throw;
    }
    std::error_code ec;
    for (const auto& f : replaced_files) fs::remove(fs::path(dir) / f, ec);
    for (const auto& f : unlisted_features) fs::remove(fs::path(dir) / f, ec);
    write_file_atomic(fs::path(dir) / "report.html", catalog_report_html(text));
  } catch (...) {
    cleanup();
    throw;
  }
  out << "added " << made.size() << " specialized variant(s) to " << dir << "/catalog.json\n";
  lock.remove_file();  // done: no .lock is left in the catalog
  return 0;
}

}  // namespace mcdnn
