#include "specialize/specialize.hpp"

#include <chrono>
#include <cmath>
#include <set>

#include "schema/plan.hpp"
#include "train/loop.hpp"
#include "util/error.hpp"

namespace mcdnn {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

bool weight_layer(const LayerSpec& l) { return l.kind == LayerKind::Conv2d || l.kind == LayerKind::Linear; }

TensorData forward_prefix(Net net, const TensorData& d, size_t cut) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < d.x.size(0); i += 1000)
    out.push_back(net->forward_range(d.x.slice(0, i, std::min(i + 1000, d.x.size(0))), 0, cut));
  return {out.empty() ? d.x : torch::cat(out), d.y};
}

}  // namespace

size_t retarget_cut(const std::vector<LayerSpec>& layers, size_t retrain_layers) {
  if (retrain_layers < 1) fail(ErrorClass::Usage, "specialization retrains at least 1 layer");
  size_t seen = 0;
  for (size_t i = layers.size(); i-- > 0;)
    if (weight_layer(layers[i]) && ++seen == retrain_layers) {
      if (!single_cut(layers, i))
        fail(ErrorClass::Usage, "cannot retrain the last " + std::to_string(retrain_layers) + " weight layers: the retrained part (from " +
                                    layers[i].name + ") reads outputs from before it (a skip connection crosses the cut); retrain " +
                                    "a number of layers that starts after a block");
      return i;
    }
  fail(ErrorClass::Usage, "cannot retrain the last " + std::to_string(retrain_layers) + " weight layers: the network has " +
                              std::to_string(seen));
}

PreForwarded::PreForwarded(const Variant& v, size_t retrain_layers, const TensorData& train, const TensorData& val, bool preforward)
    : cut_(retarget_cut(v.net->layers(), retrain_layers)), preforward_(preforward) {
  if (!preforward) {
    train_ = train, val_ = val;
    return;
  }
  auto t0 = Clock::now();
  Net net = v.net;  // the holder (shared): eval() is not const
  net->eval();
  train_ = forward_prefix(net, train, cut_);
  val_ = forward_prefix(v.net, val, cut_);
  seconds_ = since(t0);
}

std::string specialize_transform(const std::vector<int64_t>& classes, size_t retrain_layers) {
  std::string t = "specialize ";
  for (size_t i = 0; i < classes.size(); ++i) t += (i ? "," : "") + std::to_string(classes[i]);
  if (retrain_layers > 1) t += " last " + std::to_string(retrain_layers);
  return t;
}

torch::Tensor specialized_labels(const torch::Tensor& y, const std::vector<int64_t>& classes) {
  const int64_t n = static_cast<int64_t>(classes.size());
  auto out = torch::full_like(y, n);
  for (int64_t k = 0; k < n; ++k) out.masked_fill_(y.eq(classes[static_cast<size_t>(k)]), k);
  return out;
}

SpecializeResult specialize(const Variant& v, const PreForwarded& data, const SpecializeSpec& spec) {
  const auto& layers = v.net->layers();
  const size_t cut = data.cut(), last = layers.size() - 1;
  while (!weight_layer(layers[last])) fail(ErrorClass::Usage, "the network does not end in a conv2d/linear layer");
  const int64_t classes_in = layers[last].out;
  std::set<int64_t> uniq(spec.classes.begin(), spec.classes.end());
  if (spec.classes.empty() || uniq.size() != spec.classes.size())
    fail(ErrorClass::Usage, "specialization needs a list of distinct classes");
  for (int64_t c : spec.classes)
    if (c < 0 || c >= classes_in)
      fail(ErrorClass::Usage, "class " + std::to_string(c) + " is not a class of the model (0.." + std::to_string(classes_in - 1) + ")");
  if (static_cast<int64_t>(spec.classes.size()) >= classes_in)
    fail(ErrorClass::Usage, "specializing to every class leaves nothing for \"other\"; keep fewer classes");
  const int64_t n = static_cast<int64_t>(spec.classes.size());

  // The specialized layers: retrained ones dense f32, the last one with n + 1 outputs.
  std::vector<LayerSpec> specs = layers;
  for (size_t i = cut; i < specs.size(); ++i)
    if (weight_layer(specs[i])) {
      if (specs[i].repr != "dense")
        fail(ErrorClass::Usage, "layer " + specs[i].name + " is low-rank; retrain fewer layers (it would have to be rebuilt dense)");
      specs[i].storage = "f32";
      specs[i].sparse = false;
    }
  specs[last].out = n + 1;
  reinfer_shapes(specs, layers.front().in, "specialize");

  SpecializeResult r;
  Variant s = derive(v, specs);  // copies every tensor whose shape still matches
  for (size_t i = cut; i < specs.size(); ++i)
    for (const auto& t : tensors_of(specs[i])) {
      s.encoded.erase(tensor_key(specs[i], t.name));
      s.masks.erase(tensor_key(specs[i], t.name));
    }
  {
    // The last layer from the source's: the kept classes' rows, "other" the mean of the rest.
    torch::NoGradGuard no_grad;
    Net src_net = v.net;
    const auto& src = src_net->tensors(last);
    auto& dst = s.net->tensors(last);
    auto keep = torch::tensor(spec.classes, torch::kInt64);
    std::vector<int64_t> rest;
    for (int64_t c = 0; c < classes_in; ++c)
      if (!uniq.count(c)) rest.push_back(c);
    auto rest_idx = torch::tensor(rest, torch::kInt64);
    for (size_t k = 0; k < dst.size(); ++k) {
      auto w = src[k].detach().to(torch::kCPU);
      auto rows = torch::cat({w.index_select(0, keep), w.index_select(0, rest_idx).mean(0, true)});
      dst[k].copy_(rows.to(dst[k].device()));
    }
  }
  s.parent = v.id;
  s.transforms.push_back(specialize_transform(spec.classes, spec.retrain_layers));
  s.id = variant_id(s.transforms);
  s.first_changed = cut;

  // The training set: every example of a kept class, "other" subsampled to its share.
  const TensorData& tr = data.train();
  auto yl = specialized_labels(tr.y.to(torch::kCPU), spec.classes);
  auto in_idx = yl.lt(n).nonzero().flatten(), out_idx = yl.eq(n).nonzero().flatten();
  const double share = std::clamp(spec.other_share, 0.0, 0.95);
  const int64_t max_other = static_cast<int64_t>(std::llround(static_cast<double>(in_idx.size(0)) * share / (1 - share)));
  torch::manual_seed(spec.seed);
  if (out_idx.size(0) > max_other) out_idx = out_idx.index_select(0, torch::randperm(out_idx.size(0), torch::kInt64).slice(0, 0, max_other));
  auto pick = torch::cat({in_idx, out_idx}).to(tr.x.device());
  TensorData sub{tr.x.index_select(0, pick), yl.index_select(0, pick.to(torch::kCPU)).to(tr.x.device())};
  r.train_examples = sub.x.size(0);

  Net& net = s.net;
  net->to(tr.x.device());
  const size_t from = data.preforwarded() ? cut : 0;
  std::vector<torch::Tensor> params;
  for (size_t i = cut; i < specs.size(); ++i)
    for (auto& t : net->tensors(i))
      if (t.requires_grad()) params.push_back(t);
  auto prefix = [&](const torch::Tensor& x) {
    if (from == cut) return x;
    torch::NoGradGuard no_grad;
    net->eval();
    auto y = net->forward_range(x, 0, cut);
    net->train();
    return y;
  };
  torch::optim::Adam opt(params, torch::optim::AdamOptions(spec.lr));
  const int64_t count = sub.x.size(0), bs = std::min<int64_t>(spec.batch_size, std::max<int64_t>(count, 1));
  const int64_t steps = (count + bs - 1) / bs, total = steps * spec.epochs;
  LoopSpec ls;
  ls.epochs = spec.epochs;
  ls.batch_size = bs;
  ls.shuffle_seed = spec.seed;
  ls.lr = [&](int64_t e, int64_t b, int64_t) {
    return spec.lr * 0.5 * (1.0 + std::cos(M_PI * static_cast<double>(e * steps + b) / static_cast<double>(total)));
  };
  ls.forward = [&](const torch::Tensor& x) { return net->forward_range(prefix(x), cut, specs.size()); };
  ls.diverged = [&](double, int64_t, int64_t) { return "specializing " + v.id + " diverged; lower the learning rate"; };
  auto t0 = Clock::now();
  net->train();
  run_loop(sub, opt, ls);
  r.seconds = since(t0);

  // Validation: in-set accuracy, recall of "other", overall.
  const TensorData& va = data.val();
  auto logits = [&] {
    torch::NoGradGuard no_grad;
    net->eval();
    std::vector<torch::Tensor> out;
    for (int64_t i = 0; i < va.x.size(0); i += 1000)
      out.push_back(net->forward_range(va.x.slice(0, i, std::min(i + 1000, va.x.size(0))), from, specs.size()).argmax(1).to(torch::kCPU));
    return torch::cat(out);
  }();
  auto vy = specialized_labels(va.y.to(torch::kCPU), spec.classes);
  auto correct = logits.eq(vy);
  auto in_set = vy.lt(n);
  const double n_in = in_set.sum().item<double>(), n_out = static_cast<double>(vy.size(0)) - n_in;
  r.in_set_accuracy = n_in > 0 ? correct.logical_and(in_set).sum().item<double>() / n_in : 0;
  r.other_recall = n_out > 0 ? correct.logical_and(in_set.logical_not()).sum().item<double>() / n_out : 0;
  r.in_set_other = n_in > 0 ? logits.eq(n).logical_and(in_set).sum().item<double>() / n_in : 0;
  r.accuracy = vy.size(0) > 0 ? correct.sum().item<double>() / static_cast<double>(vy.size(0)) : 0;
  net->to(torch::kCPU);
  r.variant = std::move(s);
  return r;
}

}  // namespace mcdnn
