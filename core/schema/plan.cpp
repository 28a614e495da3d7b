#include "schema/plan.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>

#include "schema/default_sweep.hpp"
#include "schema/levels.hpp"
#include "schema/schema.hpp"
#include "util/error.hpp"
#include "util/suggest.hpp"

namespace mcdnn {

namespace {
bool has_weights(const LayerSpec& l) { return l.kind == LayerKind::Conv2d || l.kind == LayerKind::Linear; }

std::string sanitize(const std::string& t) {
  std::string o;
  for (char c : t) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') o += c;
    else if (c == ' ') o += '-';
    else if (c == ',') o += '_';
  }
  return o;
}
}  // namespace

size_t plan_layer_index(const PlanState& p, const std::string& name) {
  std::string names;
  std::vector<std::string> all;
  for (size_t i = 0; i < p.layers.size(); ++i) {
    if (p.layers[i].name == name) return i;
    if (has_weights(p.layers[i])) names += (names.empty() ? "" : ", ") + p.layers[i].name;
    all.push_back(p.layers[i].name);
  }
  fail(ErrorClass::Schema, "no layer named '" + name + "' in variant " + p.id + did_you_mean(name, all) + " (weight layers: " + names + ")");
}

std::vector<size_t> plan_weight_layers(const PlanState& p, const std::vector<std::string>& names, const std::string& pass) {
  std::vector<size_t> idx;
  if (names.empty()) {
    for (size_t i = 0; i < p.layers.size(); ++i)
      if (has_weights(p.layers[i])) idx.push_back(i);
    return idx;
  }
  for (const auto& n : names) {
    size_t i = plan_layer_index(p, n);
    if (!has_weights(p.layers[i]))
      fail(ErrorClass::Schema, pass + ": layer " + n + " is a " + kind_name(p.layers[i].kind) + "; only conv2d and linear layers have weights");
    idx.push_back(i);
  }
  return idx;
}

void rule_svd(const PlanState& p, size_t i) {
  const LayerSpec& l = p.layers[i];
  if (!has_weights(l)) fail(ErrorClass::Schema, "svd: layer " + l.name + " is a " + kind_name(l.kind) + "; only conv2d and linear factorize");
  if (l.repr != "dense") fail(ErrorClass::Schema, "svd: layer " + l.name + " is already factorized in " + p.id);
  if (l.groups != 1)
    fail(ErrorClass::Schema, "svd: layer " + l.name + " is a grouped conv (groups " + std::to_string(l.groups) +
                                 "); only ungrouped convs and linear layers factorize");
  if (l.sparse || l.storage != "f32")
    fail(ErrorClass::Schema, "svd: layer " + l.name + " of " + p.id + " is pruned or quantized; factorize before pruning/quantizing");
}

void rule_prune(const PlanState& p) {
  if (p.quantized) fail(ErrorClass::Schema, "prune: " + p.id + " is quantized; prune before quantizing");
}

void rule_quantize(const PlanState& p, const std::vector<size_t>& idx) {
  for (size_t i : idx)
    if (p.layers[i].storage != "f32")
      fail(ErrorClass::Schema, "quantize: layer " + p.layers[i].name + " of " + p.id + " is already stored as " + p.layers[i].storage +
                                   "; quantize each layer once");
}

namespace {
void rule_narrow_group(const PlanState& p, const ChannelMap& m, int g) {
  if (p.quantized || p.masked)
    fail(ErrorClass::Schema, "narrow: " + p.id + " already factorizes, prunes or quantizes; narrow first in a chain");
  for (size_t j : m.touched(g)) {
    const LayerSpec& l = p.layers[j];
    if (l.repr != "dense" || l.sparse || l.storage != "f32")
      fail(ErrorClass::Schema, "narrow: " + p.id + " already factorizes, prunes or quantizes; narrow first in a chain");
  }
}
}  // namespace

int rule_narrow(const PlanState& p, const ChannelMap& m, size_t i) {
  const LayerSpec& l = p.layers[i];
  if (!has_weights(l)) fail(ErrorClass::Schema, "narrow: layer " + l.name + " is a " + kind_name(l.kind) + "; only conv2d and linear narrow");
  const int g = m.group_of(i);
  if (g < 0)
    fail(ErrorClass::Schema, "narrow: " + l.name + " is a grouped conv (groups " + std::to_string(l.groups) +
                                 "); a depthwise conv is cut with the channels it reads: narrow the layer that writes them");
  const ChannelGroup& grp = m.groups[static_cast<size_t>(g)];
  if (grp.logits && grp.producers.size() == 1)
    fail(ErrorClass::Schema, "narrow: " + l.name + " produces the class logits and cannot be narrowed");
  if (!grp.fixed.empty()) {
    std::string with;
    for (size_t j : grp.producers) with += (with.empty() ? "" : ", ") + p.layers[j].name;
    fail(ErrorClass::Schema, "narrow: the outputs of " + l.name + " cannot be cut: " + grp.fixed +
                                 (grp.producers.size() > 1 ? " (they are coupled with " + with + ")" : ""));
  }
  rule_narrow_group(p, m, g);
  return g;
}

std::map<int, int64_t> rule_narrow_all(const PlanState& p, const ChannelMap& m, const std::string& level) {
  KeepSpec ks;
  if (!parse_keep(level, &ks) || !ks.fraction)
    fail(ErrorClass::Schema, "narrow: `layers: all` takes fractions (1/2, 0.75), not '" + level + "'");
  std::map<int, int64_t> counts;
  bool any = false;
  for (size_t g = 0; g < m.groups.size(); ++g)
    if (m.groups[g].fixed.empty() && !m.groups[g].producers.empty()) {
      rule_narrow_group(p, m, static_cast<int>(g));
      any = true;
      const int64_t keep = keep_count(ks, m.groups[g].channels);
      if (keep < m.groups[g].channels) counts[static_cast<int>(g)] = keep;
    }
  if (!any) fail(ErrorClass::Schema, "narrow: no channels of " + p.id + " can be cut (each group holds the input or the logits)");
  return counts;
}

std::string narrow_label(const std::string& layer, const std::string& level, int64_t keep) {
  if (!layer.empty()) return "narrow " + layer + " " + std::to_string(keep);
  KeepSpec ks;
  parse_keep(level, &ks);
  char pct[32];
  std::snprintf(pct, sizeof pct, "%g%%", ks.value * 100);
  return std::string("narrow all ") + pct;
}

RemovalPlan rule_remove(const PlanState& p, const std::string& name) {
  if (p.quantized) fail(ErrorClass::Schema, "remove: " + p.id + " is quantized; remove layers first in a chain");
  return plan_removal(p.layers, name, p.id);
}

void reinfer_shapes(std::vector<LayerSpec>& specs, const Shape& input, const std::string& context) {
  for (size_t i = 0; i < specs.size(); ++i) {
    LayerSpec& l = specs[i];
    std::vector<Shape> ins;
    for (int k : inputs_of(specs, i)) ins.push_back(k < 0 ? input : specs[static_cast<size_t>(k)].out_shape);
    std::string why;
    l.in = ins[0];
    if (ins.size() > 1) l.ins = ins;
    if (!infer_output_multi(l, ins, &l.out_shape, &why)) fail(ErrorClass::Schema, context + ": layer " + l.name + " no longer fits: " + why);
  }
}

std::string variant_id(const std::vector<std::string>& transforms) {
  std::vector<std::string> parts;
  std::string last_prune;
  for (const auto& t : transforms) {
    std::string target;
    if (t.rfind("prune ", 0) == 0) target = t.substr(6, t.find(' ', 6) - 6);
    if (!target.empty() && target == last_prune && !parts.empty()) parts.pop_back();
    last_prune = target;
    parts.push_back(sanitize(t));
  }
  std::string id;
  for (const auto& p : parts) id += (id.empty() ? "" : "+") + p;
  return id;
}

namespace {

// A variant on specs, with what the listing needs beyond the rules' PlanState.
struct Node {
  PlanState state;
  std::vector<double> density;
  bool rank_from_weights = false;
  size_t pos = 0;  // in the build list (0 = the base)
};

struct Walker {
  explicit Walker(const Schema& schema, std::vector<PlannedVariant>* list = nullptr) : s(schema), out(list) {}
  const Schema& s;
  std::vector<PlannedVariant>* out;  // null: check only
  std::map<std::string, std::vector<std::string>> lineage;  // id -> transforms
  std::map<std::string, size_t> seen{{"base", 0}};  // id -> position
  size_t variants = 0;

  std::vector<std::string> transforms_of(const PlanState& p) { return p.id == "base" ? std::vector<std::string>{} : lineage[p.id]; }

  Node child(const Node& p, std::vector<LayerSpec> specs, std::vector<double> density, const std::string& label) {
    Node c = p;
    c.state.layers = std::move(specs);
    c.density = std::move(density);
    std::vector<std::string> tr = transforms_of(p.state);
    tr.push_back(label);
    c.state.id = variant_id(tr);
    lineage[c.state.id] = tr;
    return c;
  }

  static PlanRecipe recipe(const PassStep& st, const std::string& layer, const std::string& level) {
    PlanRecipe r;
    r.pass = st.pass;
    r.where = st.where;
    if (st.pass == "quantize" || st.pass == "prune") r.layers = st.layers;
    else r.layer = layer;
    r.level = level;
    r.finetune = st.finetune;
    r.global = st.global;
    return r;
  }

  // Records the child (once per id, as the sweep builds it once) and applies the step's `then`.
  // `step_parent`: the node the step was applied to.
  void then(const PassStep& st, const Node& step_parent, const Node& parent, Node c, PlanRecipe r) {
    if (auto it = seen.find(c.state.id); it != seen.end()) {
      c.pos = it->second;
    } else if (out) {
      PlannedVariant v;
      v.id = c.state.id;
      v.parent = parent.state.id;
      v.layers = c.state.layers;
      v.density = c.density;
      v.rank_from_weights = c.rank_from_weights;
      v.parent_pos = parent.pos;
      v.step_parent_pos = step_parent.pos;
      v.ordinal = ++variants;
      v.recipe = std::move(r);
      out->push_back(std::move(v));
      c.pos = seen[c.state.id] = out->size();
    } else {
      seen[c.state.id] = 0;
    }
    for (const auto& t : st.then) apply(t, c);
  }
  // A level the build skips with a note.
  void skipped(const Node& parent, PlanRecipe r) {
    if (!out) return;
    PlannedVariant v;
    v.id = parent.state.id + " (" + r.pass + " " + r.layer + " " + r.level + ": skipped)";
    v.parent = parent.state.id;
    v.parent_pos = v.step_parent_pos = parent.pos;
    v.recipe = std::move(r);
    v.skip = true;
    out->push_back(std::move(v));
  }

  void apply(const PassStep& st, const Node& pn) {
    const PlanState& p = pn.state;
    try {
      if (st.pass == "quantize") {
        auto idx = plan_weight_layers(p, st.layers, "quantize");
        rule_quantize(p, idx);
        for (const auto& f : st.levels) {
          auto specs = p.layers;
          for (size_t i : idx) specs[i].storage = f;
          std::string what;
          for (const auto& n : st.layers) what += (what.empty() ? " " : ",") + n;
          Node c = child(pn, specs, pn.density, "quant " + f + what + (st.finetune ? " ft" : ""));
          c.state.quantized = true;
          then(st, pn, pn, c, recipe(st, "", f));
        }
      } else if (st.pass == "prune") {
        Node from = pn;
        for (const auto& lv : st.levels) {
          rule_prune(from.state);
          auto idx = plan_weight_layers(from.state, st.layers, "prune");
          auto specs = from.state.layers;
          auto density = from.density;
          double v = 0;
          parse_sparsity(lv, &v);
          for (size_t i : idx) specs[i].sparse = true, density[i] = std::min(density[i], 1 - v);
          char pct[32];
          std::snprintf(pct, sizeof pct, "%g%%", v * 100);
          std::string what = st.layers.empty() ? "all" : "";
          for (const auto& n : st.layers) what += (what.empty() ? "" : ",") + n;
          Node c = child(from, specs, density, "prune " + what + " " + pct + (st.global && idx.size() > 1 ? " global" : ""));
          c.state.masked = true;
          then(st, pn, from, c, recipe(st, "", lv));
          if (st.iterative) from = c, from.pos = seen.at(c.state.id);
        }
      } else if (st.pass == "svd") {
        for (const auto& layer : st.layers) {
          size_t i = plan_layer_index(p, layer);
          rule_svd(p, i);
          for (const auto& lv : st.levels) {
            RankSpec r;
            parse_rank(lv, &r);
            const LayerSpec& l = p.layers[i];
            const int64_t m = l.out, n = l.kind == LayerKind::Conv2d ? l.in.c * l.kh * l.kw : l.in.numel();
            const int64_t full = std::min(m, n);
            const bool energy = r.kind == RankSpec::Kind::Energy;
            int64_t k = r.kind == RankSpec::Kind::Fraction ? std::max<int64_t>(1, std::llround(r.value * static_cast<double>(full)))
                        : r.kind == RankSpec::Kind::Absolute ? std::min<int64_t>(static_cast<int64_t>(r.value), full)
                                                              : std::max<int64_t>(1, full / 4);  // depends on the weights
            if (k * (m + n) >= m * n) {  // skipped with a note, as the sweep does
              skipped(pn, recipe(st, layer, lv));
              continue;
            }
            auto specs = p.layers;
            specs[i].repr = "lowrank";
            specs[i].rank = k;
            // An energy rank's k comes from the trained weights: its planned id names the level.
            Node c = child(pn, specs, pn.density, "svd " + layer + " k=" + (energy ? lv : std::to_string(k)));
            c.rank_from_weights = c.rank_from_weights || energy;
            then(st, pn, pn, c, recipe(st, layer, lv));
          }
        }
      } else if (st.pass == "narrow") {
        const ChannelMap m = channel_map(p.layers);
        if (st.layers.empty()) {  // every group that can be cut, by the same fraction
          for (const auto& lv : st.levels) {
            const std::map<int, int64_t> counts = rule_narrow_all(p, m, lv);
            if (counts.empty()) {
              skipped(pn, recipe(st, "", lv));
              continue;
            }
            auto specs = cut_specs(p.layers, m, counts, s.input, "narrow all " + lv);
            then(st, pn, pn, child(pn, specs, pn.density, narrow_label("", lv, 0)), recipe(st, "", lv));
          }
        }
        for (const auto& layer : st.layers) {
          size_t i = plan_layer_index(p, layer);
          const int g = rule_narrow(p, m, i);
          const int64_t channels = m.groups[static_cast<size_t>(g)].channels;
          for (const auto& lv : st.levels) {
            KeepSpec ks;
            parse_keep(lv, &ks);
            int64_t keep = keep_count(ks, channels);
            if (keep >= channels) {  // skipped with a note, as the sweep does
              skipped(pn, recipe(st, layer, lv));
              continue;
            }
            auto specs = cut_specs(p.layers, m, {{g, keep}}, s.input, "narrow " + layer);
            then(st, pn, pn, child(pn, specs, pn.density, narrow_label(layer, lv, keep)), recipe(st, layer, lv));
          }
        }
      } else if (st.pass == "remove") {
        for (const auto& layer : st.layers) {
          const RemovalPlan r = rule_remove(p, layer);
          auto specs = erase_layers(p.layers, r);
          std::vector<double> density;
          for (size_t j = 0, e = 0; j < p.layers.size(); ++j) {
            if (e < r.erased.size() && r.erased[e] == j) {
              ++e;
              continue;
            }
            density.push_back(pn.density[j]);
          }
          reinfer_shapes(specs, s.input, "remove " + layer);
          then(st, pn, pn, child(pn, specs, density, "remove " + layer), recipe(st, layer, ""));
        }
      }
    } catch (const Error& e) {
      if (e.cls() != ErrorClass::Schema) throw;
      std::string msg = e.what();
      if (msg.rfind(s.path + ":", 0) == 0) throw;  // a nested step already said where
      fail(ErrorClass::Schema, st.where + ": " + st.pass + " on " + p.id + ": " + msg + " (checked before training)");
    }
  }

  void walk(const std::vector<PassStep>& steps) {
    Node base;
    base.state.layers = s.layers;
    base.density.assign(s.layers.size(), 1.0);
    for (const auto& st : steps) apply(st, base);
  }
};

}  // namespace

void check_plan(const Schema& schema) { Walker(schema).walk(schema.catalog.steps); }

std::vector<PlannedVariant> plan_build(const Schema& schema) {
  std::vector<PlannedVariant> out;
  Walker(schema, &out).walk(schema.catalog.variants_given ? schema.catalog.steps : default_sweep(schema));
  return out;
}

std::vector<PlannedVariant> plan_variants(const Schema& schema) {
  std::vector<PlannedVariant> out;
  for (auto& v : plan_build(schema))
    if (!v.skip) out.push_back(std::move(v));
  return out;
}

}  // namespace mcdnn
