#include "schema/network.hpp"

#include <cctype>
#include <map>
#include <set>

#include "util/error.hpp"
#include "util/suggest.hpp"

namespace mcdnn {

namespace {

constexpr int64_t kMaxDim = 1 << 20;
constexpr size_t kMaxLayers = 65536;

// A block written once under `blocks`: its parameters (a default, or none = required) and
// its layer list.
struct Block {
  std::string name;
  std::vector<std::pair<std::string, std::optional<Cursor>>> params;
  std::optional<Cursor> layers;
};

// The parameter values of one block instance; `$name` in the block's layers reads them.
struct Env {
  const Block* block = nullptr;
  std::map<std::string, Cursor> values;

  Cursor sub(const Cursor& c) const {
    if (!c.is_scalar()) return c;
    const std::string& s = c.node().Scalar();
    if (s.size() < 2 || s[0] != '$') return c;
    if (!block)
      c.fail_here("'" + s + "' reads a block parameter, but this layer is not inside a block (write `$name` only in the layers of "
                  "a block under `blocks`)");
    const std::string key = s.substr(1);
    auto it = values.find(key);
    if (it == values.end()) {
      std::vector<std::string> names;
      std::string list;
      for (const auto& [k, _] : block->params) names.push_back(k), list += (list.empty() ? "" : ", ") + k;
      c.fail_here("block '" + block->name + "' has no parameter '" + key + "'" + did_you_mean(key, names) +
                  (list.empty() ? " (it declares none: add `params`)" : " (its parameters: " + list + ")"));
    }
    return it->second;
  }
};

struct Ref {
  std::string name;
  Cursor where;
};

// One block instance: its name prefix, where its input comes from, its first layer.
struct Instance {
  std::string prefix;  // "stage2.block1."
  std::optional<Ref> from;
  size_t first = 0;
  std::string where;   // the `network` entry, for messages about the block's layers
};

// An error in a block's layers says which instance it is about.
template <class F>
auto in_instance(const Instance* inst, F&& f) -> decltype(f()) {
  if (!inst) return f();
  try {
    return f();
  } catch (const Error& e) {
    fail(e.cls(), std::string(e.what()) + " [in block instance '" + inst->prefix.substr(0, inst->prefix.size() - 1) + "', " + inst->where + "]");
  }
}

// A parsed layer whose inputs are still names.
struct Pending {
  LayerSpec spec;
  Cursor where;
  std::vector<Ref> from;  // as written; empty = the layer before (the block's input for a block's first layer)
  int instance = -1;      // index into the instances, -1 at the top level
};

bool valid_name(const std::string& n, bool dots) {
  bool ok = !n.empty();
  for (char ch : n) ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || (dots && ch == '.'));
  return ok;
}

void pair_of(const Env& env, const Cursor& raw, int64_t lo, int64_t* a, int64_t* b) {
  const Cursor c = env.sub(raw);
  if (c.is_seq()) {
    if (c.node().size() != 2) c.expected("an integer or a [height, width] pair");
    *a = env.sub(c.index(0)).integer(lo, kMaxDim);
    *b = env.sub(c.index(1)).integer(lo, kMaxDim);
  } else {
    *a = *b = c.integer(lo, kMaxDim);
  }
}

std::vector<Ref> refs_of(const Env& env, const Cursor& raw) {
  const Cursor c = env.sub(raw);
  std::vector<Ref> out;
  if (c.is_scalar()) {
    out.push_back({c.str(), c});
  } else {
    if (!c.is_seq() || c.node().size() == 0) c.expected("a layer name or a non-empty list of layer names (`input`: the network's input)");
    for (size_t i = 0; i < c.node().size(); ++i) {
      const Cursor e = env.sub(c.index(i));
      out.push_back({e.str(), e});
    }
  }
  return out;
}

Pending parse_layer(const Cursor& c, const Env& env, std::map<std::string, int>& counters, const std::string& prefix) {
  LayerSpec l;
  std::string kind_str;
  std::optional<Cursor> params;
  if (c.is_scalar()) {
    kind_str = c.node().Scalar();
  } else if (c.is_map() && c.node().size() == 1) {
    auto it = c.node().begin();
    kind_str = it->first.Scalar();
    params = c.at(kind_str.c_str());
  } else {
    c.expected("a layer: one of " + all_kind_names() + ", or a block (e.g. `- relu` or `- conv2d: {out: 32, kernel: 3}`)");
  }
  if (!kind_from_name(kind_str, &l.kind)) {
    auto names = split_names(all_kind_names());
    names.push_back("block");
    c.fail_here("unknown layer kind '" + kind_str + "'" + did_you_mean(kind_str, names) + " (valid kinds: " + all_kind_names() +
                "; `block` instantiates a block)");
  }
  if (params && params->node().IsNull()) params.reset();
  else if (params) params->require_map("a mapping of " + kind_str + " parameters");

  auto opt = [&](const char* key) -> std::optional<Cursor> {
    if (!params) return std::nullopt;
    if (auto v = params->opt(key)) return env.sub(*v);
    return std::nullopt;
  };
  auto need = [&](const char* key) -> Cursor {
    if (!params || !params->has(key)) c.fail_here(kind_str + ": missing required key '" + key + "'");
    return env.sub(params->at(key));
  };
  auto keys = [&](std::initializer_list<const char*> k) {
    if (params) params->only_keys(k);
  };
  switch (l.kind) {
    case LayerKind::Conv2d:
      keys({"name", "from", "out", "kernel", "stride", "padding", "dilation", "groups", "bias"});
      l.out = need("out").integer(1, kMaxDim);
      pair_of(env, need("kernel"), 1, &l.kh, &l.kw);
      if (params && params->has("stride")) pair_of(env, params->at("stride"), 1, &l.sh, &l.sw);
      if (params && params->has("padding")) pair_of(env, params->at("padding"), 0, &l.ph, &l.pw);
      if (params && params->has("dilation")) pair_of(env, params->at("dilation"), 1, &l.dh, &l.dw);
      if (auto g = opt("groups")) l.groups = g->integer(1, kMaxDim);
      if (auto b = opt("bias")) l.bias = b->boolean();
      break;
    case LayerKind::Linear:
      keys({"name", "from", "out", "bias"});
      l.out = need("out").integer(1, INT32_MAX);
      if (auto b = opt("bias")) l.bias = b->boolean();
      break;
    case LayerKind::MaxPool:
    case LayerKind::AvgPool:
      keys({"name", "from", "kernel", "stride", "padding"});
      pair_of(env, need("kernel"), 1, &l.kh, &l.kw);
      l.sh = l.kh;
      l.sw = l.kw;
      if (params && params->has("stride")) pair_of(env, params->at("stride"), 1, &l.sh, &l.sw);
      if (params && params->has("padding")) pair_of(env, params->at("padding"), 0, &l.ph, &l.pw);
      break;
    case LayerKind::Dropout:
      keys({"name", "from", "p"});
      if (auto p = opt("p")) l.p = p->number(0, 1, false, true);
      break;
    case LayerKind::BatchNorm:
      keys({"name", "from", "eps", "momentum"});
      if (auto e = opt("eps")) l.eps = e->number(0, 1, true);
      if (auto m = opt("momentum")) l.momentum = m->number(0, 1, true);
      break;
    case LayerKind::Add:
    case LayerKind::Concat:
    case LayerKind::Mul:
      keys({"name", "from"});
      if (!params || !params->has("from"))
        c.fail_here(kind_str + ": missing required key 'from' (the layers it joins, e.g. `- " + kind_str + ": {from: [bn2, input]}`)");
      break;
    case LayerKind::ReLU:
    case LayerKind::Flatten:
    case LayerKind::GlobalAvgPool:
    case LayerKind::ReLU6:
    case LayerKind::HardSwish:
    case LayerKind::Sigmoid:
      keys({"name", "from"});
      break;
  }
  std::string local = std::string(kind_prefix(l.kind)) + std::to_string(++counters[kind_prefix(l.kind)]);
  if (auto nm = opt("name")) {
    local = nm->str();
    if (!valid_name(local, true) || local.front() == '.' || local.back() == '.')
      nm->expected("a name of letters, digits, '_', '-' and inner '.'");
    if (local == "input") nm->fail_here("'input' names the network's (or a block's) input in `from`; choose another layer name");
  }
  l.name = prefix + local;
  Pending p{l, c, {}, -1};
  if (params && params->has("from")) {
    p.from = refs_of(env, params->at("from"));
    const int n = static_cast<int>(p.from.size());
    if (n < min_inputs(l.kind) || n > max_inputs(l.kind))
      params->at("from").fail_here(kind_str + " takes " +
                                   (max_inputs(l.kind) == 1 ? std::string("one input (`from: NAME`)")
                                    : max_inputs(l.kind) == min_inputs(l.kind) ? "exactly " + std::to_string(min_inputs(l.kind)) + " inputs"
                                                                              : "at least " + std::to_string(min_inputs(l.kind)) + " inputs") +
                                   ", found " + std::to_string(n));
  }
  return p;
}

std::map<std::string, Block> parse_blocks(const std::optional<Cursor>& blocks) {
  std::map<std::string, Block> out;
  if (!blocks) return out;
  blocks->require_map("a mapping of block names to {params, layers}");
  for (auto it = blocks->node().begin(); it != blocks->node().end(); ++it) {
    const std::string name = it->first.Scalar();
    const Cursor b = blocks->at(name.c_str());
    if (!valid_name(name, false)) b.fail_here("a block name is letters, digits, '_' or '-'");
    b.require_map("a mapping {params, layers}");
    b.only_keys({"params", "layers"});
    Block blk;
    blk.name = name;
    if (auto p = b.opt("params")) {
      if (p->is_seq()) {
        for (size_t i = 0; i < p->node().size(); ++i) blk.params.emplace_back(p->index(i).str(), std::nullopt);
      } else {
        p->require_map("a list of parameter names, or a mapping of names to defaults (~ for none: required)");
        for (auto pi = p->node().begin(); pi != p->node().end(); ++pi) {
          const std::string k = pi->first.Scalar();
          Cursor v = p->at(k.c_str());
          blk.params.emplace_back(k, v.node().IsNull() ? std::nullopt : std::optional<Cursor>(v));
        }
      }
      for (const auto& [k, _] : blk.params)
        if (!valid_name(k, false)) p->fail_here("parameter '" + k + "': a parameter name is letters, digits, '_' or '-'");
    }
    auto layers = b.at("layers");
    if (!layers.is_seq() || layers.node().size() == 0) layers.expected("a non-empty list of layers");
    blk.layers = layers;
    out.emplace(name, std::move(blk));
  }
  return out;
}

}  // namespace

std::vector<LayerSpec> parse_network(const Cursor& net, const std::optional<Cursor>& blocks_c, const Shape& input) {
  if (!net.is_seq() || net.node().size() == 0 || net.node().size() > kMaxLayers)
    net.expected("a non-empty list of at most 65536 layers");
  const auto blocks = parse_blocks(blocks_c);
  std::set<std::string> used_blocks;

  // Phase 1: every layer parsed, blocks expanded, names given; inputs still names.
  std::vector<Pending> pending;
  std::vector<Instance> instances;
  std::map<std::string, size_t> index;
  std::map<std::string, int> counters;
  const Env top;
  auto add = [&](Pending p) {
    if (pending.size() >= kMaxLayers) p.where.fail_here("more than 65536 layers in all (blocks included)");
    if (!index.emplace(p.spec.name, pending.size()).second) p.where.fail_here("duplicate layer name '" + p.spec.name + "'");
    pending.push_back(std::move(p));
  };
  for (size_t i = 0; i < net.node().size(); ++i) {
    const Cursor lc = net.index(i);
    if (!(lc.is_map() && lc.node().size() == 1 && lc.node().begin()->first.Scalar() == "block")) {
      add(parse_layer(lc, top, counters, ""));
      continue;
    }
    const Cursor bc = lc.at("block");
    bc.require_map("a mapping {use, name, with, from}");
    bc.only_keys({"use", "name", "with", "from"});
    const Cursor use = bc.at("use");
    auto bit = blocks.find(use.str());
    if (bit == blocks.end()) {
      std::vector<std::string> names;
      std::string list;
      for (const auto& [k, _] : blocks) names.push_back(k), list += (list.empty() ? "" : ", ") + k;
      use.fail_here("no block named '" + use.str() + "'" + did_you_mean(use.str(), names) +
                    (list.empty() ? " (define blocks under the top-level `blocks` key)" : " (blocks: " + list + ")"));
    }
    const Block& blk = bit->second;
    used_blocks.insert(blk.name);
    const Cursor nm = bc.at("name");
    if (!valid_name(nm.str(), true) || nm.str().front() == '.' || nm.str().back() == '.')
      nm.expected("an instance name of letters, digits, '_', '-' and inner '.' (e.g. stage2.block1)");
    Env env;
    env.block = &blk;
    if (auto w = bc.opt("with")) {
      w->require_map("a mapping of the block's parameters to values");
      for (auto wi = w->node().begin(); wi != w->node().end(); ++wi) {
        const std::string k = wi->first.Scalar();
        bool known = false;
        std::vector<std::string> names;
        for (const auto& [pk, _] : blk.params) known = known || pk == k, names.push_back(pk);
        const Cursor v = w->at(k.c_str());
        if (!known)
          v.fail_here("block '" + blk.name + "' has no parameter '" + k + "'" + did_you_mean(k, names));
        if (v.is_scalar() && !v.node().Scalar().empty() && v.node().Scalar()[0] == '$')
          v.fail_here("a parameter's value is written out here (`$name` reads parameters inside a block's layers only)");
        env.values.emplace(k, v);
      }
    }
    for (const auto& [k, def] : blk.params)
      if (!env.values.count(k)) {
        if (!def) bc.fail_here("block '" + blk.name + "' needs parameter '" + k + "' (give it in `with: {" + k + ": ...}`)");
        env.values.emplace(k, *def);
      }
    Instance inst;
    inst.prefix = nm.str() + ".";
    inst.first = pending.size();
    inst.where = lc.where();
    if (auto f = bc.opt("from")) {
      auto refs = refs_of(top, *f);
      if (refs.size() != 1) f->fail_here("a block takes one input (`from: NAME`)");
      inst.from = refs[0];
    }
    instances.push_back(inst);
    std::map<std::string, int> local_counters;
    const Cursor& layers = *blk.layers;
    for (size_t k = 0; k < layers.node().size(); ++k) {
      const Cursor e = layers.index(k);
      if (e.is_map() && e.node().size() == 1 && e.node().begin()->first.Scalar() == "block")
        e.fail_here("a block cannot contain a block; write its layers out, or instantiate both blocks in `network`");
      in_instance(&instances.back(), [&] {
        Pending p = parse_layer(e, env, local_counters, inst.prefix);
        p.instance = static_cast<int>(instances.size() - 1);
        add(std::move(p));
      });
    }
  }
  if (blocks_c)
    for (const auto& [k, _] : blocks)
      if (!used_blocks.count(k))
        blocks_c->at(k.c_str()).fail_here("block '" + k + "' is defined but no `network` entry uses it; remove it or instantiate it");

  // Phase 2: inputs resolved (earlier layers only) and shapes inferred in order.
  std::vector<std::string> all_names;
  for (const auto& p : pending) all_names.push_back(p.spec.name);
  auto resolve = [&](const Ref& r, size_t at, int inst) -> int {
    auto later_or_unknown = [&](size_t j) -> int {
      if (j == at) r.where.fail_here("'" + r.name + "' is this layer itself; a layer cannot take its own output");
      if (j > at)
        r.where.fail_here("'" + r.name + "' comes later (" + pending[j].where.where() +
                          "); a layer takes only the outputs of layers before it, so the network runs in the order written "
                          "and has no cycles");
      return static_cast<int>(j);
    };
    if (r.name == "input") {
      if (inst < 0) return -1;
      const Instance& in = instances[static_cast<size_t>(inst)];
      if (!in.from) return static_cast<int>(in.first) - 1;
      auto it = index.find(in.from->name);
      if (in.from->name == "input") return -1;
      if (it == index.end())
        in.from->where.fail_here("'" + in.from->name + "' names no layer" + did_you_mean(in.from->name, all_names) +
                                 " (`input` is the network's input)");
      if (it->second >= in.first)
        in.from->where.fail_here("'" + in.from->name + "' is not a layer before this block; a block takes an earlier layer's output");
      return static_cast<int>(it->second);
    }
    if (inst >= 0) {
      auto it = index.find(instances[static_cast<size_t>(inst)].prefix + r.name);
      if (it != index.end()) return later_or_unknown(it->second);
    }
    auto it = index.find(r.name);
    if (it != index.end()) return later_or_unknown(it->second);
    r.where.fail_here("'" + r.name + "' names no layer" + did_you_mean(r.name, all_names) +
                      " (`input` is the " + (inst < 0 ? "network's" : "block's") + " input; inside a block, its own layers are "
                      "named without the instance prefix)");
  };

  std::vector<LayerSpec> layers;
  std::vector<int> last_use(pending.size(), -1);
  for (size_t i = 0; i < pending.size(); ++i) in_instance(pending[i].instance < 0 ? nullptr : &instances[static_cast<size_t>(pending[i].instance)], [&] {
    Pending& p = pending[i];
    LayerSpec l = p.spec;
    std::vector<int> from;
    if (p.from.empty()) {
      const bool first_of_block = p.instance >= 0 && instances[static_cast<size_t>(p.instance)].first == i;
      from.push_back(first_of_block ? resolve({"input", p.where}, i, p.instance) : static_cast<int>(i) - 1);
    } else {
      for (const auto& r : p.from) from.push_back(resolve(r, i, p.instance));
    }
    std::vector<Shape> ins;
    for (int k : from) ins.push_back(k < 0 ? input : layers[static_cast<size_t>(k)].out_shape);
    for (int k : from)
      if (k >= 0) last_use[static_cast<size_t>(k)] = static_cast<int>(i);
    std::string why;
    std::vector<std::string> names;
    for (int k : from) names.push_back(k < 0 ? std::string("input") : layers[static_cast<size_t>(k)].name);
    if (!infer_output_multi(l, ins, &l.out_shape, &why, &names))
      p.where.fail_here(std::string(kind_name(l.kind)) + " '" + l.name + "'" + (ins.size() > 1 ? "" : " with input " + ins[0].str()) + ": " + why);
    l.in = ins[0];
    if (ins.size() > 1) l.ins = ins;
    // A chain keeps `from` empty: every consumer of a chain sees what it always saw.
    if (!(from.size() == 1 && from[0] == static_cast<int>(i) - 1)) l.from = from;
    layers.push_back(std::move(l));
  });
  for (size_t i = 0; i + 1 < pending.size(); ++i)
    if (last_use[i] < 0)
      in_instance(pending[i].instance < 0 ? nullptr : &instances[static_cast<size_t>(pending[i].instance)], [&] {
      pending[i].where.fail_here("the output of '" + pending[i].spec.name +
                                 "' is read by no later layer (the network's output is its last layer); remove the layer or name it in a "
                                 "later layer's `from`");
      });
  return layers;
}

}  // namespace mcdnn
