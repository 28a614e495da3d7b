#include "schema/schema.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <set>

#include "catalog/trunk.hpp"
#include "schema/levels.hpp"
#include "schema/network.hpp"
#include "schema/plan.hpp"
#include "util/suggest.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/yaml_cursor.hpp"

namespace mcdnn {

namespace {

constexpr int64_t kMaxDim = 1 << 20;

std::string resolve(const std::string& base_dir, const std::string& p) {
  namespace fs = std::filesystem;
  if (p.empty() || fs::path(p).is_absolute() || base_dir.empty()) return p;
  return (fs::path(base_dir) / p).lexically_normal().string();
}

DataSource parse_source(const Cursor& c, const std::string& base_dir) {
  c.require_map("a mapping with `idx` or `hdf5`");
  c.only_keys({"idx", "hdf5"});
  DataSource s;
  s.where = c.where();
  if (c.has("idx") == c.has("hdf5")) c.fail_here("expected exactly one of `idx` or `hdf5`");
  if (auto idx = c.opt("idx")) {
    idx->require_map("a mapping with `images` and `labels` file paths");
    idx->only_keys({"images", "labels"});
    s.format = "idx";
    s.images = resolve(base_dir, idx->at("images").str());
    s.labels = resolve(base_dir, idx->at("labels").str());
  } else {
    auto h = *c.opt("hdf5");
    h.require_map("a mapping with `file`, `images`, `labels` and optional `layout`");
    h.only_keys({"file", "images", "labels", "layout"});
    s.format = "hdf5";
    s.file = resolve(base_dir, h.at("file").str());
    s.images_dataset = h.at("images").str();
    s.labels_dataset = h.at("labels").str();
    if (auto l = h.opt("layout")) s.layout = l->choice({"NCHW", "NHWC"});
  }
  return s;
}

void parse_data(const Cursor& c, Schema& s, const std::string& base_dir) {
  c.require_map("a mapping");
  c.only_keys({"train", "validation", "relabel", "limit", "normalize"});
  DataSpec& d = s.data;
  d.present = true;
  d.train = parse_source(c.at("train"), base_dir);
  d.validation = parse_source(c.at("validation"), base_dir);
  if (auto r = c.opt("relabel")) {
    r->require_map("a mapping from source label to class (index or name)");
    for (auto it = r->node().begin(); it != r->node().end(); ++it) {
      Cursor key(&s.path, it->first, r->path() + "." + it->first.Scalar(), ErrorClass::Schema);
      int64_t from = key.integer(0, 255 * 255 * 255);
      Cursor val(&s.path, it->second, key.path(), ErrorClass::Schema);
      int64_t to = -1;
      if (!val.is_scalar()) val.expected("a class index or class name");
      for (size_t i = 0; i < s.class_names.size(); ++i)
        if (s.class_names[i] == val.node().Scalar()) to = static_cast<int64_t>(i);
      if (to < 0) {
        std::string names;
        for (auto& n : s.class_names) names += (names.empty() ? "" : ", ") + n;
        char* end = nullptr;
        const std::string& sv = val.node().Scalar();
        long long v = std::strtoll(sv.c_str(), &end, 10);
        if (sv.empty() || *end != '\0')
          val.expected("a class index 0.." + std::to_string(s.num_classes - 1) +
                       (names.empty() ? "" : " or a class name (" + names + ")"));
        if (v < 0 || v >= s.num_classes)
          val.expected("a class index 0.." + std::to_string(s.num_classes - 1));
        to = v;
      }
      if (d.relabel.count(from)) key.fail_here("source label " + std::to_string(from) + " is mapped twice");
      d.relabel[from] = to;
    }
  }
  if (auto l = c.opt("limit")) {
    if (l->is_map()) {
      l->only_keys({"train", "validation"});
      if (auto t = l->opt("train")) d.limit_train = t->integer(1, INT64_MAX);
      if (auto v = l->opt("validation")) d.limit_validation = v->integer(1, INT64_MAX);
    } else {
      d.limit_train = d.limit_validation = l->integer(1, INT64_MAX);
    }
  }
  if (auto n = c.opt("normalize")) {
    if (n->is_scalar()) {
      auto mode = n->choice({"compute", "none"});
      d.normalize.mode = mode == "none" ? Normalize::Mode::None : Normalize::Mode::Compute;
    } else {
      n->require_map("`compute`, `none`, or a mapping with `mean` and `std` lists");
      n->only_keys({"mean", "std"});
      d.normalize.mode = Normalize::Mode::Given;
      for (const char* key : {"mean", "std"}) {
        auto list = n->at(key);
        auto& out = std::string(key) == "mean" ? d.normalize.mean : d.normalize.std;
        if (list.is_scalar()) {
          out.assign(s.input.c, std::string(key) == "std" ? list.number(0, INFINITY, true) : list.number(-1e30, 1e30));
        } else {
          if (!list.is_seq() || list.node().size() != static_cast<size_t>(s.input.c))
            list.expected("a number or a list of " + std::to_string(s.input.c) + " numbers (one per input channel)");
          for (size_t i = 0; i < list.node().size(); ++i)
            out.push_back(std::string(key) == "std" ? list.index(i).number(0, INFINITY, true)
                                                    : list.index(i).number(-1e30, 1e30));
        }
      }
    }
  }
}

void parse_training(const Cursor& c, TrainSpec& t) {
  c.require_map("a mapping");
  c.only_keys({"epochs", "batch_size", "optimizer", "lr", "momentum", "nesterov", "weight_decay", "schedule", "seed"});
  if (auto e = c.opt("epochs")) t.epochs = e->integer(1, 100000);
  if (auto b = c.opt("batch_size")) t.batch_size = b->integer(1, 1 << 20);
  if (auto o = c.opt("optimizer")) t.optimizer = o->choice({"adam", "sgd"});
  if (auto l = c.opt("lr")) t.lr = l->number(0, 10, true);
  if (auto m = c.opt("momentum")) {
    if (t.optimizer != "sgd") m->fail_here("momentum applies to optimizer: sgd only (Adam has no momentum setting)");
    t.momentum = m->number(0, 1, false, true);
  }
  if (auto n = c.opt("nesterov")) {
    if (t.optimizer != "sgd") n->fail_here("nesterov applies to optimizer: sgd only");
    t.nesterov = n->boolean();
  }
  if (auto w = c.opt("weight_decay")) t.weight_decay = w->number(0, 1);
  if (auto s = c.opt("schedule")) {
    if (s->is_scalar()) {
      t.schedule = s->choice({"constant", "cosine", "step"});
      if (t.schedule == "step") s->fail_here("schedule `step` needs a mapping: {type: step, step_size: N, gamma: G}");
    } else {
      s->require_map("`constant`, `cosine` or a mapping {type: step, step_size: N, gamma: G}");
      s->only_keys({"type", "step_size", "gamma"});
      t.schedule = s->at("type").choice({"constant", "cosine", "step"});
      if (t.schedule == "step") {
        t.step_size = s->at("step_size").integer(1, 100000);
        if (auto g = s->opt("gamma")) t.gamma = g->number(0, 1, true);
      } else if (s->has("step_size") || s->has("gamma")) {
        s->fail_here("step_size and gamma apply to type: step only");
      }
    }
  }
  if (auto s = c.opt("seed")) t.seed = s->integer(0, INT32_MAX);
}

std::vector<std::string> scalar_list(const Cursor& c, const char* what) {
  std::vector<std::string> v;
  if (c.is_scalar()) return {c.str()};
  if (!c.is_seq() || c.node().size() == 0) c.expected(std::string("a ") + what + " or a non-empty list of them");
  for (size_t i = 0; i < c.node().size(); ++i) v.push_back(c.index(i).str());
  return v;
}

// Limits on catalog steps: `then` chains nest at most kMaxThenDepth deep and a schema has at
// most kMaxSteps steps in all, so YAML aliases (a `then` naming its own list, or lists
// repeated through aliases) cannot recurse forever or multiply without bound.
constexpr int kMaxThenDepth = 16;
constexpr size_t kMaxSteps = 4096;

PassStep parse_step(const Cursor& c, const Schema& s, int depth, size_t* count) {
  if (depth > kMaxThenDepth) c.fail_here("`then` chains nest deeper than " + std::to_string(kMaxThenDepth) + " (a YAML alias naming its own list?)");
  if (++*count > kMaxSteps) c.fail_here("more than " + std::to_string(kMaxSteps) + " catalog steps in all (YAML aliases repeating lists?)");
  static const char* kinds = "svd, prune, quantize, narrow, remove";
  if (!c.is_map() || c.node().size() != 1)
    c.expected(std::string("a pass: one of ") + kinds + " (e.g. `- svd: {layers: [fc1], ranks: [1/2, 1/4]}`)");
  PassStep p;
  p.where = c.where();
  p.pass = c.node().begin()->first.Scalar();
  if (p.pass != "svd" && p.pass != "prune" && p.pass != "quantize" && p.pass != "narrow" && p.pass != "remove")
    c.fail_here("unknown pass '" + p.pass + "'" + did_you_mean(p.pass, split_names(kinds)) + " (valid passes: " + kinds + ")");
  auto a = c.at(p.pass.c_str());
  a.require_map("a mapping of " + p.pass + " settings");
  auto weight_layers = [&](const Cursor& lc) {
    if (lc.is_scalar() && lc.node().Scalar() == "all") return std::vector<std::string>{};
    auto names = scalar_list(lc, "layer name");
    for (size_t i = 0; i < names.size(); ++i) {
      bool ok = false;
      std::string valid;
      for (const auto& l : s.layers)
        if (l.kind == LayerKind::Conv2d || l.kind == LayerKind::Linear) {
          ok = ok || l.name == names[i];
          valid += (valid.empty() ? "" : ", ") + l.name;
        }
      if (!ok) {
        const Cursor at = lc.is_seq() ? lc.index(i) : lc;
        at.fail_here("expected a conv2d or linear layer name (" + valid + "), got " + at.describe() +
                     did_you_mean(names[i], split_names(valid)));
      }
    }
    return names;
  };
  auto check_levels = [&](const Cursor& lc, const char* what, auto ok) {
    auto v = scalar_list(lc, what);
    for (size_t i = 0; i < v.size(); ++i)
      if (!ok(v[i])) (lc.is_seq() ? lc.index(i) : lc).expected(std::string("a ") + what);
    return v;
  };
  if (p.pass == "svd") {
    a.only_keys({"layers", "ranks", "then"});
    p.layers = weight_layers(a.at("layers"));
    p.levels = check_levels(a.at("ranks"), "rank: a fraction like 1/4 or 0.25, an integer rank like 32 or k=32, or energy=0.9",
                            [](const std::string& r) {
                              RankSpec rs;
                              return parse_rank(r, &rs);
                            });
  } else if (p.pass == "prune") {
    a.only_keys({"layers", "sparsity", "global", "iterative", "then"});
    if (auto l = a.opt("layers")) p.layers = weight_layers(*l);
    p.levels = check_levels(a.at("sparsity"), "sparsity: a fraction in (0, 1) like 0.9", [](const std::string& x) {
      double v;
      return parse_sparsity(x, &v);
    });
    if (auto g = a.opt("global")) p.global = g->boolean();
    if (auto it = a.opt("iterative")) p.iterative = it->boolean();
  } else if (p.pass == "quantize") {
    a.only_keys({"layers", "formats", "finetune", "then"});
    if (auto l = a.opt("layers")) p.layers = weight_layers(*l);
    p.levels = check_levels(a.at("formats"), (std::string("format: ") + quantize_formats()).c_str(), valid_quantize_format);
    p.finetune = false;
    if (auto f = a.opt("finetune")) p.finetune = f->boolean();
  } else if (p.pass == "narrow") {
    a.only_keys({"layers", "keep", "then"});
    p.layers = weight_layers(a.at("layers"));
    p.levels = check_levels(a.at("keep"), "count to keep (integer) or fraction like 1/2", [](const std::string& x) {
      KeepSpec k;
      return parse_keep(x, &k);
    });
  } else {
    // remove: conv2d / linear layers, residual adds, or block instances (their one residual add).
    a.only_keys({"layers", "then"});
    const Cursor lc = a.at("layers");
    p.layers = scalar_list(lc, "layer or block name");
    std::vector<std::string> valid;
    for (const auto& l : s.layers) {
      if (l.kind == LayerKind::Conv2d || l.kind == LayerKind::Linear || l.kind == LayerKind::Add) valid.push_back(l.name);
      if (const size_t d = l.name.rfind('.'); l.kind == LayerKind::Add && d != std::string::npos && d > 0)
        valid.push_back(l.name.substr(0, d));  // the block instance the add closes
    }
    for (size_t i = 0; i < p.layers.size(); ++i)
      if (std::find(valid.begin(), valid.end(), p.layers[i]) == valid.end()) {
        std::string list;
        for (const auto& v : valid) list += (list.empty() ? "" : ", ") + v;
        const Cursor at = lc.is_seq() ? lc.index(i) : lc;
        at.fail_here("expected a conv2d or linear layer, a residual add or a block containing one (" + list + "), got " + at.describe() +
                     did_you_mean(p.layers[i], valid));
      }
  }
  if (auto t = a.opt("then")) {
    if (!t->is_seq()) t->expected("a list of passes");
    for (size_t i = 0; i < t->node().size(); ++i) p.then.push_back(parse_step(t->index(i), s, depth + 1, count));
  }
  return p;
}

void parse_catalog(const Cursor& c, Schema& s) {
  c.require_map("a mapping with `variants` and/or `finetune`");
  c.only_keys({"variants", "finetune"});
  if (auto v = c.opt("variants")) {
    s.catalog.variants_given = true;
    if (!v->is_seq()) v->expected("a list of passes (an empty list [] builds the base model only)");
    size_t count = 0;
    for (size_t i = 0; i < v->node().size(); ++i) s.catalog.steps.push_back(parse_step(v->index(i), s, 0, &count));
    check_plan(s);  // chains the passes would reject fail now, not after training
  }
  if (auto f = c.opt("finetune")) {
    f->require_map("a mapping");
    f->only_keys({"examples", "epochs", "reshaped_epochs", "lr", "batch_size", "cache_mb", "distill"});
    auto& ft = s.catalog.finetune;
    if (auto e = f->opt("examples")) ft.examples = e->integer(1, INT64_MAX);
    if (auto e = f->opt("epochs")) ft.epochs = e->integer(0, 1000);
    if (auto e = f->opt("reshaped_epochs")) ft.reshaped_epochs = e->integer(0, 1000);
    if (auto e = f->opt("lr")) ft.lr = e->number(0, 10, true);
    if (auto e = f->opt("batch_size")) ft.batch_size = e->integer(1, 1 << 20);
    if (auto e = f->opt("cache_mb")) ft.cache_mb = e->integer(0, 1 << 24);
    if (auto d = f->opt("distill")) {
      d->require_map("a mapping like {weight: 0.5, temperature: 4} (weight 0 turns distillation off)");
      d->only_keys({"weight", "temperature"});
      if (auto w = d->opt("weight")) ft.distill_weight = w->number(0, 1, false, true);
      if (auto t = d->opt("temperature")) ft.distill_temperature = t->number(0, 100, true);
    }
  }
}

void parse_specialize(const Cursor& c, Schema& s) {
  c.require_map("a mapping with `sets` (lists of classes) and optionally `variants`, `retrain_layers`, `epochs`, `lr`, "
                "`batch_size`, `other_share`, `store_features`");
  c.only_keys({"sets", "variants", "retrain_layers", "epochs", "lr", "batch_size", "other_share", "store_features"});
  SpecializeSchema& sp = s.specialize;
  sp.where = c.where();
  if (auto e = c.opt("retrain_layers")) sp.retrain_layers = e->integer(1, 1 << 20);
  if (auto e = c.opt("epochs")) sp.epochs = e->integer(1, 1000);
  if (auto e = c.opt("lr")) sp.lr = e->number(0, 10, true);
  if (auto e = c.opt("batch_size")) sp.batch_size = e->integer(1, 1 << 20);
  if (auto e = c.opt("other_share")) sp.other_share = e->number(0, 0.95, true);
  if (auto e = c.opt("store_features")) sp.store_features = e->boolean();
  auto sets = c.at("sets");
  if (!sets.is_seq() || sets.node().size() == 0) sets.expected("a non-empty list of class sets, e.g. [[t-shirt, trouser, sneaker]]");
  for (size_t i = 0; i < sets.node().size(); ++i) {
    auto set = sets.index(i);
    if (!set.is_seq() || set.node().size() == 0) set.expected("a non-empty list of class names or indices");
    SpecializeSetSpec out;
    out.where = set.where();
    std::set<int64_t> seen;
    for (size_t k = 0; k < set.node().size(); ++k) {
      auto e = set.index(k);
      std::string why;
      int64_t idx = class_index(s, e.str(), &why);
      if (idx < 0) e.fail_here(why);
      if (!seen.insert(idx).second) e.fail_here("class '" + e.str() + "' is listed twice");
      out.classes.push_back(idx);
    }
    if (static_cast<int64_t>(out.classes.size()) >= s.num_classes)
      set.fail_here("keeps all " + std::to_string(s.num_classes) + " classes: nothing is left for \"other\"; list fewer");
    for (size_t j = 0; j < sp.sets.size(); ++j)
      if (std::set<int64_t>(sp.sets[j].classes.begin(), sp.sets[j].classes.end()) == seen)
        set.fail_here("the same classes as sets[" + std::to_string(j) + "]; list each class set once");
    sp.sets.push_back(std::move(out));
  }
  // The retargeted variants: the base or variants the catalog builds, whose last layers can be
  // retrained (dense: a low-rank layer would have to be rebuilt).
  std::map<std::string, std::vector<LayerSpec>> planned = {{"base", s.layers}};
  for (const auto& p : plan_variants(s))
    if (!p.rank_from_weights) planned[p.id] = p.layers;
  if (auto v = c.opt("variants")) {
    if (!v->is_seq() || v->node().size() == 0) v->expected("a non-empty list of variant ids (base, or ids the catalog builds)");
    sp.variants.clear();
    for (size_t i = 0; i < v->node().size(); ++i) {
      auto e = v->index(i);
      std::string id = e.str();
      if (!planned.count(id)) {
        std::vector<std::string> names;
        for (const auto& [k, _] : planned) names.push_back(k);
        e.fail_here("'" + id + "' is not a variant this catalog builds" + did_you_mean(id, names) +
                    " (`mcdnn-compile SCHEMA --check` lists them; an svd energy rank has no id before the build)");
      }
      if (std::find(sp.variants.begin(), sp.variants.end(), id) != sp.variants.end()) e.fail_here("variant '" + id + "' is listed twice");
      sp.variants.push_back(id);
    }
  }
  for (const auto& id : sp.variants) {
    const auto& layers = planned.at(id);
    size_t seen = 0;
    for (size_t i = layers.size(); i-- > 0 && seen < static_cast<size_t>(sp.retrain_layers);) {
      if (layers[i].kind != LayerKind::Conv2d && layers[i].kind != LayerKind::Linear) continue;
      ++seen;
      if (layers[i].repr != "dense")
        c.fail_here("variant '" + id + "': layer " + layers[i].name + " is low-rank and cannot be retrained; lower retrain_layers or "
                    "specialize another variant");
    }
    if (seen < static_cast<size_t>(sp.retrain_layers))
      c.at("retrain_layers").fail_here("variant '" + id + "' has only " + std::to_string(seen) + " weight layers");
    size_t cut = layers.size();
    for (size_t i = layers.size(), k = 0; i-- > 0 && k < static_cast<size_t>(sp.retrain_layers);)
      if (layers[i].kind == LayerKind::Conv2d || layers[i].kind == LayerKind::Linear) cut = i, ++k;
    if (!single_cut(layers, cut))
      (c.has("retrain_layers") ? c.at("retrain_layers") : c)
          .fail_here("variant '" + id + "': retraining its last " + std::to_string(sp.retrain_layers) + " weight layers (from " +
                     layers[cut].name + ") cuts through a skip connection: the retrained part reads outputs from before it; retrain a " +
                     "number of layers that starts after a block");
  }
}

}  // namespace

std::string graph_refusal(const Schema& s, const std::string& what) {
  for (size_t i = 0; i < s.layers.size(); ++i) {
    const std::string f = graph_feature(s.layers, i);
    if (!f.empty())
      return "layer '" + s.layers[i].name + "' uses " + f + ": " + what + " take chains only in this version (" +
             "conv2d, linear, relu, maxpool, avgpool, flatten, dropout and batchnorm; no `from`, groups 1, dilation 1)";
  }
  return "";
}

int64_t class_index(const Schema& s, const std::string& token, std::string* why) {
  why->clear();
  for (size_t i = 0; i < s.class_names.size(); ++i)
    if (s.class_names[i] == token) return static_cast<int64_t>(i);
  char* end = nullptr;
  errno = 0;
  long long v = token.empty() ? -1 : std::strtoll(token.c_str(), &end, 10);
  if (!token.empty() && *end == '\0' && errno == 0 && v >= 0 && v < s.num_classes) return v;
  std::string names;
  for (const auto& n : s.class_names) names += (names.empty() ? "" : ", ") + n;
  *why = "'" + token + "' is not a class of " + s.name + (s.class_names.empty() ? "" : did_you_mean(token, s.class_names)) +
         " (expected " + (names.empty() ? "" : "one of " + names + ", or ") + "an index 0.." + std::to_string(s.num_classes - 1) + ")";
  return -1;
}

Schema parse_schema_string(const std::string& text, const std::string& display_name, const std::string& base_dir) {
  Schema s;
  s.path = display_name;
  s.source_hash = fnv1a_hex(text);
  YAML::Node root = load_yaml(text, display_name, ErrorClass::Schema);
  Cursor c(&s.path, root, "", ErrorClass::Schema);
  if (!root.IsMap()) fail(ErrorClass::Schema, display_name + ": expected a YAML mapping at the top level (format, name, input, ...)");

  // The format version is checked before anything else: a newer schema gets a clear message.
  auto fmt = c.at("format");
  std::string want = "mcdnn-schema/" + std::to_string(kSchemaVersion);
  if (fmt.str() == "mcdnn-catalog")
    fmt.fail_here("this is a catalog.json, which mcdnn-compile writes, not a schema, which it reads; inspect a catalog with "
                  "`mcdnn-catalog show DIR` (schemas/README.md describes schemas)");
  if (fmt.str() != want) {
    fmt.expected("'" + want + "' (this compiler reads schema format version " + std::to_string(kSchemaVersion) +
                 "; upgrade mcdnn for newer schemas)");
  }
  c.only_keys({"format", "name", "input", "trunk", "classes", "data", "blocks", "network", "training", "catalog", "specialize"});

  auto name = c.at("name");
  s.name = name.str();
  {
    bool ok = !s.name.empty();
    for (char ch : s.name) ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.');
    if (!ok) name.expected("a name of letters, digits, '.', '_' or '-' (it names the output directory)");
  }

  if (auto tk = c.opt("trunk")) {
    // A fragment: the trunk's output is the network's input (core/catalog/trunk.hpp).
    tk->require_map("a mapping {catalog, variant, layer}");
    tk->only_keys({"catalog", "variant", "layer"});
    if (auto in = c.opt("input"))
      in->fail_here("a schema with a `trunk` takes its input from the trunk (the output of its layer); drop `input`");
    TrunkRef& t = s.trunk;
    t.present = true;
    t.where = tk->where();
    t.catalog = tk->at("catalog").str();
    t.catalog_dir = resolve(base_dir, t.catalog);
    t.variant = tk->at("variant").str();
    t.layer = tk->at("layer").str();
    s.input = resolve_trunk(t);
  } else {
    auto in = c.at("input");
    in.require_map("a mapping {channels, height, width}");
    in.only_keys({"channels", "height", "width"});
    s.input = {in.at("channels").integer(1, 4096), in.at("height").integer(1, 65536), in.at("width").integer(1, 65536), false};
  }

  auto cl = c.at("classes");
  if (cl.is_scalar()) {
    s.num_classes = cl.integer(2, 1 << 20);
  } else {
    cl.require_map("a class count or a mapping {count, names}");
    cl.only_keys({"count", "names"});
    if (auto n = cl.opt("names")) {
      if (!n->is_seq() || n->node().size() < 2) n->expected("a list of at least 2 class names");
      std::set<std::string> seen;
      for (size_t i = 0; i < n->node().size(); ++i) {
        auto e = n->index(i);
        s.class_names.push_back(e.str());
        if (!seen.insert(s.class_names.back()).second) e.fail_here("duplicate class name '" + s.class_names.back() + "'");
      }
    }
    if (auto k = cl.opt("count")) {
      s.num_classes = k->integer(2, 1 << 20);
      if (!s.class_names.empty() && static_cast<int64_t>(s.class_names.size()) != s.num_classes)
        k->fail_here("count is " + std::to_string(s.num_classes) + " but " + std::to_string(s.class_names.size()) +
                     " names are given");
    } else if (!s.class_names.empty()) {
      s.num_classes = static_cast<int64_t>(s.class_names.size());
    } else {
      cl.fail_here("missing required key 'count' (or 'names')");
    }
  }

  if (auto d = c.opt("data")) {
    if (s.trunk.present) {
      if (auto nz = d->opt("normalize"))
        nz->fail_here("a schema with a `trunk` normalizes its data as the trunk catalog does (mean " +
                      std::to_string(s.trunk.mean.empty() ? 0.0 : s.trunk.mean[0]) + "...); drop `normalize`");
    }
    parse_data(*d, s, base_dir);
    if (s.trunk.present) s.data.normalize.mode = Normalize::Mode::None;  // the features are not normalized again
  }
  if (s.data.normalize.mode == Normalize::Mode::Given && s.data.normalize.mean.size() != static_cast<size_t>(s.input.c))
    c.at("data").fail_here("normalize needs one mean and std per input channel");

  auto net = c.at("network");
  s.layers = parse_network(net, c.opt("blocks"), s.input);
  const Shape shape = s.layers.back().out_shape;
  if (!shape.flat || shape.c != s.num_classes) {
    net.index(net.node().size() - 1)
        .fail_here("the network must end in " + std::to_string(s.num_classes) +
                   " flat outputs (one logit per class), but its output is " + shape.str() +
                   "; end with `- linear: {out: " + std::to_string(s.num_classes) + "}`");
  }
  bool has_weights = false;
  for (auto& l : s.layers) has_weights = has_weights || l.kind == LayerKind::Conv2d || l.kind == LayerKind::Linear;
  if (!has_weights) net.fail_here("the network has no conv2d or linear layer to train");

  if (auto t = c.opt("training")) parse_training(*t, s.training);
  // Fragments (a trunk) take chains only so far: refused here, before any work.
  if (s.trunk.present)
    if (auto why = graph_refusal(s, "a fragment on a trunk"); !why.empty()) c.at("trunk").fail_here(why);
  if (auto k = c.opt("catalog")) parse_catalog(*k, s);
  if (auto k = c.opt("specialize")) parse_specialize(*k, s);
  return s;
}

Schema parse_schema_file(const std::string& path) {
  std::string text = read_file(path, static_cast<int>(ErrorClass::Schema));
  auto dir = std::filesystem::path(path).parent_path().string();
  return parse_schema_string(text, path, dir);
}

}  // namespace mcdnn
