#include "schema/plan.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>

#include "schema/levels.hpp"
#include "schema/schema.hpp"
#include "util/error.hpp"

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
  for (size_t i = 0; i < p.layers.size(); ++i) {
    if (p.layers[i].name == name) return i;
    if (has_weights(p.layers[i])) names += (names.empty() ? "" : ", ") + p.layers[i].name;
  }
  fail(ErrorClass::Schema, "no layer named '" + name + "' in variant " + p.id + " (weight layers: " + names + ")");
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

void rule_narrow(const PlanState& p, size_t i) {
  const LayerSpec& l = p.layers[i];
  if (!has_weights(l)) fail(ErrorClass::Schema, "narrow: layer " + l.name + " is a " + kind_name(l.kind) + "; only conv2d and linear narrow");
  if (l.repr != "dense" || l.sparse || l.storage != "f32" || p.quantized || p.masked)
    fail(ErrorClass::Schema, "narrow: " + p.id + " already factorizes, prunes or quantizes; narrow first in a chain");
  size_t next = i + 1;
  while (next < p.layers.size() && !has_weights(p.layers[next])) ++next;
  if (next == p.layers.size()) fail(ErrorClass::Schema, "narrow: " + l.name + " produces the class logits and cannot be narrowed");
}

size_t rule_remove(const PlanState& p, size_t i) {
  const auto& specs = p.layers;
  if (!has_weights(specs[i]))
    fail(ErrorClass::Schema, "remove: layer " + specs[i].name + " is a " + kind_name(specs[i].kind) + "; remove a conv2d or linear layer");
  size_t end = i + 1;
  while (end < specs.size() && (specs[end].kind == LayerKind::BatchNorm || specs[end].kind == LayerKind::ReLU)) ++end;
  bool later_weights = false;
  for (size_t j = end; j < specs.size(); ++j) later_weights = later_weights || has_weights(specs[j]);
  if (!later_weights) fail(ErrorClass::Schema, "remove: " + specs[i].name + " is the last weight layer (it produces the logits)");
  if (p.quantized) fail(ErrorClass::Schema, "remove: " + p.id + " is quantized; remove layers first in a chain");
  return end;
}

void reinfer_shapes(std::vector<LayerSpec>& specs, const Shape& input, const std::string& context) {
  Shape s = input;
  for (auto& l : specs) {
    std::string why;
    l.in = s;
    if (!infer_output(l, s, &l.out_shape, &why)) fail(ErrorClass::Schema, context + ": layer " + l.name + " no longer fits: " + why);
    s = l.out_shape;
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

struct Walker {
  const Schema& s;

  PlanState child(const PlanState& p, std::vector<LayerSpec> specs, const std::string& label, std::vector<std::string>* tr) {
    PlanState c = p;
    c.layers = std::move(specs);
    *tr = transforms_of(p);
    tr->push_back(label);
    c.id = variant_id(*tr);
    return c;
  }
  std::map<std::string, std::vector<std::string>> lineage;  // id -> transforms
  std::vector<std::string> transforms_of(const PlanState& p) { return p.id == "base" ? std::vector<std::string>{} : lineage[p.id]; }

  void then(const PassStep& st, const PlanState& c, const std::vector<std::string>& tr) {
    lineage[c.id] = tr;
    for (const auto& t : st.then) apply(t, c);
  }

  void apply(const PassStep& st, const PlanState& p) {
    try {
      std::vector<std::string> tr;
      if (st.pass == "quantize") {
        auto idx = plan_weight_layers(p, st.layers, "quantize");
        rule_quantize(p, idx);
        for (const auto& f : st.levels) {
          auto specs = p.layers;
          for (size_t i : idx) specs[i].storage = f;
          std::string what;
          for (const auto& n : st.layers) what += (what.empty() ? " " : ",") + n;
          PlanState c = child(p, specs, "quant " + f + what + (st.finetune ? " ft" : ""), &tr);
          c.quantized = true;
          then(st, c, tr);
        }
      } else if (st.pass == "prune") {
        PlanState from = p;
        for (const auto& lv : st.levels) {
          rule_prune(from);
          auto idx = plan_weight_layers(from, st.layers, "prune");
          auto specs = from.layers;
          for (size_t i : idx) specs[i].sparse = true;
          double v = 0;
          parse_sparsity(lv, &v);
          char pct[32];
          std::snprintf(pct, sizeof pct, "%g%%", v * 100);
          std::string what = st.layers.empty() ? "all" : "";
          for (const auto& n : st.layers) what += (what.empty() ? "" : ",") + n;
          PlanState c = child(from, specs, "prune " + what + " " + pct + (st.global && idx.size() > 1 ? " global" : ""), &tr);
          c.masked = true;
          then(st, c, tr);
          if (st.iterative) from = c;
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
            int64_t k = r.kind == RankSpec::Kind::Fraction ? std::max<int64_t>(1, std::llround(r.value * static_cast<double>(full)))
                        : r.kind == RankSpec::Kind::Absolute ? std::min<int64_t>(static_cast<int64_t>(r.value), full)
                                                              : 1;  // energy: depends on the weights; the rules do not
            if (k * (m + n) >= m * n) continue;                    // skipped with a note, as the sweep does
            auto specs = p.layers;
            specs[i].repr = "lowrank";
            specs[i].rank = k;
            then(st, child(p, specs, "svd " + layer + " k=" + std::to_string(k), &tr), tr);
          }
        }
      } else if (st.pass == "narrow") {
        for (const auto& layer : st.layers) {
          size_t i = plan_layer_index(p, layer);
          rule_narrow(p, i);
          for (const auto& lv : st.levels) {
            KeepSpec ks;
            parse_keep(lv, &ks);
            int64_t keep = keep_count(ks, p.layers[i].out);
            if (keep >= p.layers[i].out) continue;  // skipped with a note, as the sweep does
            auto specs = p.layers;
            specs[i].out = keep;
            reinfer_shapes(specs, s.input, "narrow " + layer);
            then(st, child(p, specs, "narrow " + layer + " " + std::to_string(keep), &tr), tr);
          }
        }
      } else if (st.pass == "remove") {
        for (const auto& layer : st.layers) {
          size_t i = plan_layer_index(p, layer);
          size_t end = rule_remove(p, i);
          auto specs = p.layers;
          specs.erase(specs.begin() + static_cast<long>(i), specs.begin() + static_cast<long>(end));
          reinfer_shapes(specs, s.input, "remove " + layer);
          then(st, child(p, specs, "remove " + layer, &tr), tr);
        }
      }
    } catch (const Error& e) {
      if (e.cls() != ErrorClass::Schema) throw;
      std::string msg = e.what();
      if (msg.rfind(s.path + ":", 0) == 0) throw;  // a nested step already said where
      fail(ErrorClass::Schema, st.where + ": " + st.pass + " on " + p.id + ": " + msg + " (checked before training)");
    }
  }
};

}  // namespace

void check_plan(const Schema& schema) {
  Walker w{schema, {}};
  PlanState base;
  base.layers = schema.layers;
  for (const auto& st : schema.catalog.steps) w.apply(st, base);
}

}  // namespace mcdnn
