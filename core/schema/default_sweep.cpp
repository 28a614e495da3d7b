#include "schema/default_sweep.hpp"

#include <algorithm>

#include "schema/channels.hpp"
#include "util/error.hpp"

namespace mcdnn {

namespace {
PassStep step(const std::string& pass, std::vector<std::string> layers, std::vector<std::string> levels) {
  PassStep p;
  p.pass = pass;
  p.layers = std::move(layers);
  p.levels = std::move(levels);
  p.finetune = pass != "quantize";
  p.where = "default sweep";
  return p;
}
}  // namespace

std::vector<PassStep> default_sweep(const Schema& s) {
  std::vector<std::string> convs, fcs, dense_convs, pointwise;
  std::string biggest_fc;
  int64_t biggest = -1;
  bool graph = false;
  for (size_t i = 0; i < s.layers.size(); ++i) {
    const auto& l = s.layers[i];
    if (l.kind == LayerKind::Conv2d) convs.push_back(l.name);
    if (l.kind == LayerKind::Conv2d && l.groups == 1) dense_convs.push_back(l.name);
    if (l.kind == LayerKind::Conv2d && l.groups == 1 && l.kh == 1 && l.kw == 1) pointwise.push_back(l.name);
    if (l.kind == LayerKind::Linear) fcs.push_back(l.name);
    graph = graph || !graph_feature(s.layers, i).empty();
  }
  if (!fcs.empty()) fcs.pop_back();  // the classifier keeps its classes
  for (const auto& l : s.layers)
    for (const auto& f : fcs)
      if (l.name == f && l.out * l.in.numel() > biggest) biggest = l.out * l.in.numel(), biggest_fc = f;

  // 2-bit codebooks lose too much as stored; they train their centroids (+6 points measured).
  auto cb2_trained = [](std::vector<std::string> layers) {
    PassStep q = step("quantize", std::move(layers), {"cb2"});
    q.finetune = true;
    return q;
  };
  std::vector<PassStep> v;
  v.push_back(step("quantize", {}, {"f16", "int8", "cb8", "cb4"}));
  v.push_back(cb2_trained({}));
  if (!fcs.empty()) v.push_back(step("svd", fcs, {"1/2", "1/4", "1/8", "1/16"}));
  // svd factorizes ungrouped convs only (a depthwise conv has nothing to gain). A graph has
  // many convs: its sweep factorizes the 1x1 ones (expansions, projections, shortcuts), the
  // cheapest to factorize and the ones MobileNet-style networks spend their multiply-adds in.
  if (graph && !pointwise.empty()) v.push_back(step("svd", pointwise, {"1/2", "1/4"}));
  if (!graph && dense_convs.size() > 1) v.push_back(step("svd", {dense_convs.begin() + 1, dense_convs.end()}, {"1/2", "1/4", "1/8"}));
  std::vector<std::string> linears = fcs;
  for (const auto& l : s.layers)
    if (l.kind == LayerKind::Linear && std::find(fcs.begin(), fcs.end(), l.name) == fcs.end()) linears.push_back(l.name);
  if (!biggest_fc.empty()) {
    PassStep p = step("prune", {biggest_fc}, {"0.5", "0.75", "0.9", "0.95", "0.97"});
    p.iterative = true;
    p.then.push_back(step("quantize", {}, {"int8", "cb4"}));
    p.then.push_back(cb2_trained({}));
    if (!convs.empty()) {  // mixed precision: 8-bit convs, then 4/2-bit fully connected layers
      PassStep q = step("quantize", convs, {"int8"});
      q.then.push_back(step("quantize", linears, {"cb4"}));
      q.then.push_back(cb2_trained(linears));
      p.then.push_back(q);
    }
    v.push_back(p);
  }
  // Per-layer pruning of the compute-heavy layers (every conv but the first, the hidden linears).
  std::vector<std::string> heavy(convs.size() > 1 ? convs.begin() + 1 : convs.end(), convs.end());
  heavy.insert(heavy.end(), fcs.begin(), fcs.end());
  if (!heavy.empty() && !graph) {  // a graph's many layers: the global pruning below covers them
    PassStep p = step("prune", heavy, {"0.5", "0.75", "0.85", "0.9"});
    p.iterative = true;
    p.then.push_back(step("quantize", {}, {"int8"}));
    v.push_back(p);
  }
  PassStep g = step("prune", {}, {"0.5", "0.7", "0.8", "0.9"});
  g.global = g.iterative = true;
  g.then.push_back(step("quantize", {}, {"cb4"}));
  v.push_back(g);
  if (graph) {
    // Coupled narrowing (schema/channels.hpp): every group by the same fraction (a width
    // multiplier), then quantized; each group alone by half; each residual block removed.
    const ChannelMap m = channel_map(s.layers);
    PassStep all = step("narrow", {}, {"3/4", "5/8", "1/2"});
    all.then.push_back(step("quantize", {}, {"int8", "cb4"}));
    std::vector<std::string> groups, blocks;
    for (const auto& g : m.groups)
      if (g.fixed.empty() && !g.producers.empty()) groups.push_back(s.layers[g.producers.front()].name);
    if (!groups.empty()) v.push_back(all), v.push_back(step("narrow", groups, {"1/2"}));
    for (size_t i = 0; i < s.layers.size(); ++i)
      if (s.layers[i].kind == LayerKind::Add) {
        // Named by its block instance when it closes one ("block2"), else by the add.
        const std::string& name = s.layers[i].name;
        const size_t dot = name.rfind('.');
        for (const std::string& n : {dot != std::string::npos ? name.substr(0, dot) : std::string(), name}) {
          if (n.empty()) continue;
          try {
            plan_removal(s.layers, n, "base");
            blocks.push_back(n);
            break;
          } catch (const Error&) {  // not a branch beside a shortcut: nothing to remove
          }
        }
      }
    if (!blocks.empty()) v.push_back(step("remove", blocks, {}));
    return v;
  }
  std::vector<std::string> narrowable = convs;
  narrowable.insert(narrowable.end(), fcs.begin(), fcs.end());
  if (!narrowable.empty()) v.push_back(step("narrow", narrowable, {"1/2", "1/4"}));
  if (convs.size() > 1) v.push_back(step("remove", {convs.begin() + 1, convs.end()}, {}));
  if (!convs.empty() && !biggest_fc.empty()) {
    PassStep c = step("narrow", {convs.front()}, {"1/2"});
    PassStep f = step("svd", {biggest_fc}, {"1/8"});
    PassStep p = step("prune", {biggest_fc}, {"0.9"});
    p.then.push_back(step("quantize", {}, {"cb4"}));
    f.then.push_back(p);
    c.then.push_back(f);
    v.push_back(c);
  }
  return v;
}

}  // namespace mcdnn
