#include "schema/channels.hpp"

#include <algorithm>
#include <functional>
#include <set>

#include "schema/plan.hpp"
#include "util/error.hpp"
#include "util/suggest.hpp"

namespace mcdnn {

namespace {

bool ungrouped_weights(const LayerSpec& l) {
  return l.kind == LayerKind::Linear || (l.kind == LayerKind::Conv2d && l.groups == 1);
}
bool depthwise(const LayerSpec& l) {
  return l.kind == LayerKind::Conv2d && l.groups > 1 && l.groups == l.in.c && l.out == l.in.c;
}

// Union-find over groups; a merged group is fixed when either part was.
struct Groups {
  std::vector<int> parent;
  std::vector<std::string> fixed;
  int make() {
    parent.push_back(static_cast<int>(parent.size()));
    fixed.emplace_back();
    return parent.back();
  }
  int find(int g) {
    while (parent[static_cast<size_t>(g)] != g) g = parent[static_cast<size_t>(g)] = parent[static_cast<size_t>(parent[static_cast<size_t>(g)])];
    return g;
  }
  void unite(int a, int b) {
    a = find(a), b = find(b);
    if (a == b) return;
    if (a > b) std::swap(a, b);
    parent[static_cast<size_t>(b)] = a;
    if (fixed[static_cast<size_t>(a)].empty()) fixed[static_cast<size_t>(a)] = fixed[static_cast<size_t>(b)];
  }
  void fix(const std::vector<ChannelSeg>& segs, const std::string& why) {
    for (const auto& s : segs)
      if (auto& f = fixed[static_cast<size_t>(find(s.group))]; f.empty()) f = why;
  }
};

bool same_split(const std::vector<ChannelSeg>& a, const std::vector<ChannelSeg>& b) {
  if (a.size() != b.size()) return false;
  for (size_t k = 0; k < a.size(); ++k)
    if (a[k].count != b[k].count || a[k].hw != b[k].hw) return false;
  return true;
}

// Row or column indices over `segs` with the kept channels of the cut groups (empty: no cut).
std::vector<int64_t> expand(const std::vector<ChannelSeg>& segs, const KeptChannels& kept) {
  std::vector<int64_t> idx;
  int64_t off = 0;
  bool cut = false;
  for (const auto& s : segs) {
    if (auto it = kept.find(s.group); it != kept.end()) {
      cut = true;
      for (int64_t c : it->second)
        for (int64_t p = 0; p < s.hw; ++p) idx.push_back(off + c * s.hw + p);
    } else {
      for (int64_t j = 0; j < s.count * s.hw; ++j) idx.push_back(off + j);
    }
    off += s.count * s.hw;
  }
  if (!cut) idx.clear();
  return idx;
}

void add_once(std::vector<size_t>& v, size_t i) {
  if (std::find(v.begin(), v.end(), i) == v.end()) v.push_back(i);
}

}  // namespace

int ChannelMap::group_of(size_t layer) const {
  if (layer >= out.size() || out[layer].size() != 1) return -1;
  const auto& p = groups[static_cast<size_t>(out[layer][0].group)].producers;
  return std::find(p.begin(), p.end(), layer) != p.end() ? out[layer][0].group : -1;
}

std::vector<size_t> ChannelMap::touched(int group) const {
  const ChannelGroup& g = groups[static_cast<size_t>(group)];
  std::set<size_t> s(g.producers.begin(), g.producers.end());
  s.insert(g.channelwise.begin(), g.channelwise.end());
  s.insert(g.readers.begin(), g.readers.end());
  return {s.begin(), s.end()};
}

ChannelMap channel_map(const std::vector<LayerSpec>& layers) {
  ChannelMap m;
  Groups u;
  const size_t n = layers.size();
  m.out.resize(n);
  m.in.resize(n);
  std::vector<ChannelSeg> input;
  if (n > 0) {
    input = {{u.make(), layers[0].in.c, 1}};
    u.fix(input, "they are the network input");
  }
  auto segs_of = [&](int k) -> const std::vector<ChannelSeg>& { return k < 0 ? input : m.out[static_cast<size_t>(k)]; };
  for (size_t i = 0; i < n; ++i) {
    const LayerSpec& l = layers[i];
    const std::vector<int> ins = inputs_of(layers, i);
    m.in[i] = segs_of(ins[0]);
    auto& out = m.out[i];
    switch (l.kind) {
      case LayerKind::Linear:
        out = {{u.make(), l.out, 1}};
        break;
      case LayerKind::Conv2d:
        if (l.groups == 1) {
          out = {{u.make(), l.out, 1}};
        } else if (depthwise(l)) {
          out = m.in[i];
        } else {
          const std::string why = "grouped conv " + l.name + " (groups " + std::to_string(l.groups) + ") ";
          u.fix(m.in[i], "they are read by " + why + "whose groups would no longer divide them");
          out = {{u.make(), l.out, 1}};
          u.fix(out, "they are written by " + why + "whose groups would no longer divide them");
        }
        break;
      case LayerKind::Flatten:
        out = m.in[i];
        if (!l.in.flat)
          for (auto& s : out) s.hw *= l.in.h * l.in.w;
        break;
      case LayerKind::Add:
      case LayerKind::Mul:
        out = m.in[i];
        for (size_t k = 1; k < ins.size(); ++k) {
          const auto& other = segs_of(ins[k]);
          if (same_split(out, other)) {
            for (size_t s = 0; s < out.size(); ++s) u.unite(out[s].group, other[s].group);
          } else {
            const std::string why = "they are joined by " + std::string(kind_name(l.kind)) + " " + l.name + " to a tensor split differently (a concat)";
            u.fix(out, why);
            u.fix(other, why);
          }
        }
        break;
      case LayerKind::Concat:
        out.clear();
        for (int k : ins) {
          const auto& s = segs_of(k);
          out.insert(out.end(), s.begin(), s.end());
        }
        break;
      default:  // batchnorm, activations, pooling, dropout: channel by channel
        out = m.in[i];
        break;
    }
  }
  if (n > 0) u.fix(m.out[n - 1], "they are the class logits");

  // Compact the surviving roots into group ids, in order of first appearance.
  std::vector<int> id(u.parent.size(), -1);
  auto canon = [&](std::vector<ChannelSeg>& segs) {
    for (auto& s : segs) {
      int r = u.find(s.group);
      if (id[static_cast<size_t>(r)] < 0) {
        id[static_cast<size_t>(r)] = static_cast<int>(m.groups.size());
        ChannelGroup g;
        g.channels = s.count;
        g.fixed = u.fixed[static_cast<size_t>(r)];
        m.groups.push_back(g);
      }
      s.group = id[static_cast<size_t>(r)];
    }
  };
  for (size_t i = 0; i < n; ++i) canon(m.in[i]), canon(m.out[i]);
  if (n > 0)
    for (const auto& seg : m.out[n - 1]) m.groups[static_cast<size_t>(seg.group)].logits = true;
  for (size_t i = 0; i < n; ++i) {
    const LayerSpec& l = layers[i];
    if (ungrouped_weights(l)) {
      m.groups[static_cast<size_t>(m.out[i][0].group)].producers.push_back(i);
      for (const auto& s : m.in[i]) add_once(m.groups[static_cast<size_t>(s.group)].readers, i);
    } else if (depthwise(l) || l.kind == LayerKind::BatchNorm) {
      for (const auto& s : m.out[i]) add_once(m.groups[static_cast<size_t>(s.group)].channelwise, i);
    }
  }
  return m;
}

std::vector<LayerSpec> cut_specs(const std::vector<LayerSpec>& layers, const ChannelMap& m, const std::map<int, int64_t>& counts,
                                 const Shape& input, const std::string& context) {
  std::vector<LayerSpec> specs = layers;
  for (size_t i = 0; i < specs.size(); ++i) {
    LayerSpec& l = specs[i];
    if (ungrouped_weights(l)) {
      if (auto it = counts.find(m.out[i][0].group); it != counts.end()) l.out = it->second;
    } else if (depthwise(layers[i])) {
      int64_t c = 0;
      for (const auto& s : m.out[i]) c += counts.count(s.group) ? counts.at(s.group) : s.count;
      l.out = l.groups = c;
    }
  }
  reinfer_shapes(specs, input, context);
  return specs;
}

// Rows are output channels (features for a batchnorm after a flatten: hw of them per channel).
std::vector<int64_t> kept_rows(const ChannelMap& m, size_t layer, const KeptChannels& kept) { return expand(m.out[layer], kept); }

std::vector<int64_t> kept_cols(const std::vector<LayerSpec>& layers, const ChannelMap& m, size_t layer, const KeptChannels& kept) {
  if (!ungrouped_weights(layers[layer])) return {};
  return expand(m.in[layer], kept);
}

// --- removal ---------------------------------------------------------------------------

namespace {

std::vector<std::vector<size_t>> readers_of(const std::vector<LayerSpec>& layers) {
  std::vector<std::vector<size_t>> r(layers.size());
  for (size_t i = 0; i < layers.size(); ++i)
    for (int k : inputs_of(layers, i))
      if (k >= 0) r[static_cast<size_t>(k)].push_back(i);
  return r;
}

std::set<size_t> ancestors(const std::vector<LayerSpec>& layers, int x) {
  std::set<size_t> s;
  std::vector<int> stack{x};
  while (!stack.empty()) {
    int k = stack.back();
    stack.pop_back();
    if (k < 0 || !s.insert(static_cast<size_t>(k)).second) continue;
    for (int j : inputs_of(layers, static_cast<size_t>(k))) stack.push_back(j);
  }
  return s;
}

bool has_weights(const LayerSpec& l) { return l.kind == LayerKind::Conv2d || l.kind == LayerKind::Linear; }

RemovalPlan plain_removal(const std::vector<LayerSpec>& layers, size_t i) {
  const auto readers = readers_of(layers);
  const auto ins = inputs_of(layers, i);
  RemovalPlan r;
  size_t end = i + 1;
  auto follows = [&](size_t j) {
    const LayerKind k = layers[j].kind;
    const bool tail = k == LayerKind::BatchNorm || k == LayerKind::ReLU || k == LayerKind::ReLU6 || k == LayerKind::HardSwish;
    return tail && inputs_of(layers, j) == std::vector<int>{static_cast<int>(j) - 1} && readers[j - 1].size() == 1;
  };
  while (end < layers.size() && follows(end)) ++end;
  bool later_weights = false;
  for (size_t j = end; j < layers.size(); ++j) later_weights = later_weights || has_weights(layers[j]);
  if (!later_weights) fail(ErrorClass::Schema, "remove: " + layers[i].name + " is the last weight layer (it produces the logits)");
  for (size_t j = i; j < end; ++j) r.erased.push_back(j);
  r.last = end - 1;
  r.replacement = ins[0];
  return r;
}

RemovalPlan residual_removal(const std::vector<LayerSpec>& layers, size_t a, const std::string& what) {
  const auto ins = inputs_of(layers, a);
  if (ins.size() != 2)
    fail(ErrorClass::Schema, "remove: " + what + " adds " + std::to_string(ins.size()) + " tensors; a residual block adds two (a branch and its shortcut)");
  const auto a0 = ancestors(layers, ins[0]), a1 = ancestors(layers, ins[1]);
  std::set<size_t> side[2];
  int weights[2] = {0, 0};
  for (int s = 0; s < 2; ++s)
    for (size_t k : s == 0 ? a0 : a1)
      if (!(s == 0 ? a1 : a0).count(k)) side[s].insert(k), weights[s] += has_weights(layers[k]) ? 1 : 0;
  if (weights[0] == weights[1])
    fail(ErrorClass::Schema, "remove: cannot tell the branch of " + what + " from its shortcut: both inputs pass " + std::to_string(weights[0]) +
                                 " weight layers (the branch is the side with more)");
  const int b = weights[0] > weights[1] ? 0 : 1;
  std::set<size_t> erased = side[b];
  erased.insert(a);
  const auto readers = readers_of(layers);
  for (size_t k : side[b])
    for (size_t rd : readers[k])
      if (!erased.count(rd))
        fail(ErrorClass::Schema, "remove: the branch of " + what + " cannot go: its layer " + layers[k].name + " is also read by " +
                                     layers[rd].name);
  RemovalPlan r;
  r.erased.assign(erased.begin(), erased.end());
  r.last = a;
  r.replacement = ins[static_cast<size_t>(1 - b)];
  r.residual = true;
  return r;
}

}  // namespace

RemovalPlan plan_removal(const std::vector<LayerSpec>& layers, const std::string& name, const std::string& variant) {
  for (size_t i = 0; i < layers.size(); ++i) {
    if (layers[i].name != name) continue;
    if (layers[i].kind == LayerKind::Add) return residual_removal(layers, i, "add " + name);
    if (!has_weights(layers[i]))
      fail(ErrorClass::Schema, "remove: layer " + name + " is a " + kind_name(layers[i].kind) +
                                   "; remove a conv2d or linear layer, a residual add or a block with one");
    return plain_removal(layers, i);
  }
  // A block instance: the layers named "<name>.*", with one residual add.
  std::vector<size_t> adds;
  bool block = false;
  std::vector<std::string> names;
  for (size_t i = 0; i < layers.size(); ++i) {
    names.push_back(layers[i].name);
    if (layers[i].name.rfind(name + ".", 0) != 0) continue;
    block = true;
    if (layers[i].kind == LayerKind::Add) adds.push_back(i);
  }
  if (!block) fail(ErrorClass::Schema, "remove: no layer or block named '" + name + "' in variant " + variant + did_you_mean(name, names));
  if (adds.size() != 1) {
    std::string list;
    for (size_t i : adds) list += (list.empty() ? "" : ", ") + layers[i].name;
    fail(ErrorClass::Schema, "remove: block " + name + (adds.empty() ? " has no residual add (its output is not x + f(x)), so it cannot go whole; remove one of its conv2d layers instead"
                                                                    : " has " + std::to_string(adds.size()) + " adds (" + list + "); name the one to remove"));
  }
  return residual_removal(layers, adds[0], "block " + name);
}

std::vector<LayerSpec> erase_layers(const std::vector<LayerSpec>& layers, const RemovalPlan& r) {
  std::vector<bool> gone(layers.size(), false);
  for (size_t i : r.erased) gone[i] = true;
  std::vector<int> index(layers.size(), -1);
  int k = 0;
  for (size_t i = 0; i < layers.size(); ++i)
    if (!gone[i]) index[i] = k++;
  auto resolve = [&](int old) {
    if (old >= 0 && gone[static_cast<size_t>(old)]) {
      if (static_cast<size_t>(old) != r.last) fail(ErrorClass::Internal, "remove: a kept layer reads the erased layer " + layers[static_cast<size_t>(old)].name);
      old = r.replacement;
    }
    return old < 0 ? -1 : index[static_cast<size_t>(old)];
  };
  std::vector<LayerSpec> out;
  for (size_t i = 0; i < layers.size(); ++i) {
    if (gone[i]) continue;
    LayerSpec l = layers[i];
    std::vector<int> from;
    for (int j : inputs_of(layers, i)) from.push_back(resolve(j));
    const int self = static_cast<int>(out.size());
    l.from = from == std::vector<int>{self - 1} ? std::vector<int>{} : from;
    out.push_back(std::move(l));
  }
  return out;
}

}  // namespace mcdnn
