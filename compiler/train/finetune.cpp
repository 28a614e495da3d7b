#include "train/finetune.hpp"

#include <chrono>
#include <cmath>
#include <cstring>
#include <unordered_map>

#include "util/error.hpp"
#include "train/loop.hpp"

namespace mcdnn {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int64_t bytes_of(const TensorData& d) { return d.x.numel() * 4; }

}  // namespace

const std::pair<TensorData, TensorData>* FeatureCache::get(size_t p) {
  if (p == 0 || budget_ <= 0) return nullptr;
  auto it = entries_.find(p);
  if (it != entries_.end()) {
    lru_.remove(p);
    lru_.push_back(p);
    return &it->second;
  }
  const LayerSpec& l = base_->layers()[p - 1];
  int64_t need = 4 * l.out_shape.numel() * (train_.x.size(0) + val_.x.size(0));
  if (need > budget_) return nullptr;
  int64_t used = 0;
  for (auto& [k, e] : entries_) used += bytes_of(e.first) + bytes_of(e.second);
  while (!lru_.empty() && used + need > budget_) {
    auto& e = entries_.at(lru_.front());
    used -= bytes_of(e.first) + bytes_of(e.second);
    entries_.erase(lru_.front());
    lru_.pop_front();
  }
  auto t0 = Clock::now();
  // NoGrad, not inference mode: the features feed training, where inference tensors may not
  // be saved for backward.
  torch::NoGradGuard no_grad;
  base_->eval();
  auto run = [&](const TensorData& d) {
    std::vector<torch::Tensor> out;
    for (int64_t i = 0; i < d.x.size(0); i += 1000)
      out.push_back(base_->forward_range(d.x.slice(0, i, std::min(i + 1000, d.x.size(0))), 0, p));
    return TensorData{torch::cat(out), d.y};
  };
  auto& e = entries_[p];
  e = {run(train_), run(val_)};
  lru_.push_back(p);
  seconds_ += since(t0);
  return &e;
}

const torch::Tensor& FeatureCache::teacher_logits() {
  if (teacher_.defined()) return teacher_;
  auto t0 = Clock::now();
  torch::NoGradGuard no_grad;
  base_->eval();
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < train_.x.size(0); i += 1000) out.push_back(base_->forward(train_.x.slice(0, i, std::min(i + 1000, train_.x.size(0)))));
  teacher_ = torch::cat(out);
  seconds_ += since(t0);
  return teacher_;
}

FinetuneResult finetune(Variant& v, size_t shared_prefix, FeatureCache& cache, const FinetuneSpec& spec, bool train,
                        uint64_t seed) {
  FinetuneResult r;
  Net& net = v.net;
  const size_t n = net->layers().size();
  // The layers shared with the base model are frozen whether or not their outputs fit the
  // cache: on a miss they are run forward (inference, no gradient) batch by batch instead of
  // read from memory. cache_mb changes speed and memory, never which layers train.
  // In a graph the frozen prefix ends where one tensor carries everything later layers read
  // (not inside a residual block): its outputs are what is cached and fed in.
  size_t from = shared_prefix;
  while (from > 0 && !net->cut_is_single(from)) --from;
  const auto* feats = cache.get(from);
  const TensorData& tr = feats ? feats->first : cache.raw_train();
  const TensorData& va = feats ? feats->second : cache.raw_val();
  const size_t input_layer = feats ? from : 0;  // where tr/va enter the network
  r.frozen = from;
  auto device = tr.x.device();
  net->to(device);
  for (auto& [k, m] : v.masks) m = m.to(device);
  auto prefix = [&](const torch::Tensor& x) {
    if (input_layer == from) return x;
    torch::NoGradGuard no_grad;
    net->eval();
    auto y = net->forward_range(x, input_layer, from);
    net->train();
    return y;
  };

  const bool reshaped = v.recalibrate;  // narrowed or removed: recalibrated, and trained longer
  const int64_t base_epochs = reshaped ? spec.reshaped_epochs : spec.epochs;
  if (v.recalibrate && std::min<int64_t>(tr.x.size(0), kRecalibrationExamples) >= 2) {
    // Batchnorm statistics after a narrow or a removal: every batchnorm the fine-tuning
    // reaches re-estimates its running mean and variance as the plain average over the first
    // kRecalibrationExamples fine-tuning examples (in order, no gradient, no dropout), so the variant is
    // evaluated (accuracy before fine-tuning) and fine-tuned from statistics of its own.
    torch::NoGradGuard no_grad;
    torch::manual_seed(seed);
    for (size_t i = from; i < n; ++i)
      if (net->layers()[i].kind == LayerKind::BatchNorm) net->tensors(i)[2].zero_(), net->tensors(i)[3].fill_(1);
    const int64_t count = std::min<int64_t>(tr.x.size(0), kRecalibrationExamples), bs = std::max<int64_t>(1, spec.batch_size);
    int64_t k = 0;
    for (int64_t b = 0; b < count; b += bs) {
      // A last batch of one example has no variance: it joins the batch before it.
      const int64_t e = count - std::min(b + bs, count) == 1 ? count : std::min(b + bs, count);
      auto x = prefix(tr.x.slice(0, b, e));
      if (e == count) b = count;
      const auto old = net->set_batchnorm_momentum(1.0 / static_cast<double>(++k));
      net->train();
      net->forward_range(x, from, n);
      net->restore_batchnorm_momentum(old);
    }
    v.recalibrate = false;
  }
  r.accuracy_before = evaluate(net, va, 1000, nullptr, input_layer);
  if (!train || base_epochs == 0) {
    r.accuracy_after = r.accuracy_before;
    return r;
  }
  torch::manual_seed(seed);  // dropout draws: a function of the variant, not of what ran before
  auto t0 = Clock::now();
  // Trainable: every tensor of the unfrozen layers except quantized weights. Codebook weights
  // train their centroids instead (shared-weight training, Deep Compression): each centroid's
  // gradient is the sum of its weights' gradients; codes never change. int8/f16 weights stay
  // fixed. Sparse codebooks keep code 0 (the pruned zeros) at 0.
  struct Shared {
    torch::Tensor weight, codebook, idx;
    EncodedTensor* enc;
    bool sparse;
  };
  std::vector<Shared> shared;
  std::vector<torch::Tensor> params, frozen;
  for (size_t i = from; i < n; ++i) {
    const LayerSpec& l = net->layers()[i];
    auto ts = tensors_of(l);
    for (size_t k = 0; k < ts.size(); ++k) {
      if (!ts[k].trainable) continue;
      torch::Tensor w = net->tensors(i)[k];
      auto it = v.encoded.find(tensor_key(l, ts[k].name));
      if (it == v.encoded.end()) {
        params.push_back(w);
        continue;
      }
      EncodedTensor& e = it->second;
      if (!codebook_bits(e.storage)) {
        frozen.push_back(w);
        continue;
      }
      // Code of every element: the index of its (exactly equal) codebook value.
      const Blob* book = nullptr;
      for (const auto& b : e.blobs)
        if (b.name == "codebook") book = &b;
      std::vector<float> cb(static_cast<size_t>(book->count()));
      std::memcpy(cb.data(), book->data.data(), cb.size() * 4);
      std::unordered_map<float, int64_t> code_of;
      for (size_t c = 0; c < cb.size(); ++c) code_of.emplace(cb[c], static_cast<int64_t>(c));
      auto wc = w.detach().to(torch::kCPU).contiguous();
      std::vector<int64_t> idx(static_cast<size_t>(wc.numel()));
      const float* p = wc.data_ptr<float>();
      for (size_t j = 0; j < idx.size(); ++j) idx[j] = code_of.at(p[j]);
      Shared sw;
      sw.weight = w;
      sw.codebook = torch::from_blob(cb.data(), {static_cast<int64_t>(cb.size())}, torch::kFloat32).clone().to(device).requires_grad_(true);
      sw.idx = torch::from_blob(idx.data(), {static_cast<int64_t>(idx.size())}, torch::kInt64).clone().to(device);
      sw.enc = &e;
      sw.sparse = e.sparse;
      shared.push_back(sw);
      params.push_back(sw.codebook);
    }
  }
  for (auto& t : frozen) t.requires_grad_(false);
  const double lr0 = v.reinitialized ? 4 * spec.lr : spec.lr;
  const int64_t epochs = v.reinitialized ? 2 * base_epochs : base_epochs;
  r.epochs = epochs;
  torch::optim::Adam opt(params, torch::optim::AdamOptions(lr0));
  const int64_t count = tr.x.size(0), bs = std::min(spec.batch_size, count);
  const int64_t steps_per_epoch = (count + bs - 1) / bs, total = steps_per_epoch * epochs;
  LoopSpec ls;
  ls.epochs = epochs;
  ls.batch_size = bs;
  ls.shuffle_seed = seed;
  ls.lr = [&](int64_t e, int64_t b, int64_t) {  // cosine over all steps
    const double step = static_cast<double>(e * steps_per_epoch + b);
    return lr0 * 0.5 * (1.0 + std::cos(M_PI * step / static_cast<double>(total)));
  };
  ls.forward = [&](const torch::Tensor& x) { return net->forward_range(prefix(x), from, n); };
  if (spec.distill_weight > 0) {
    // The base model's soft targets at temperature T, weighted w against the labels; T^2 keeps
    // the soft term's gradients on the scale of the hard one's (Hinton et al. 2015).
    const torch::Tensor& teacher = cache.teacher_logits();
    const double w = spec.distill_weight, T = spec.distill_temperature;
    ls.loss = [&teacher, w, T](const torch::Tensor& z, const torch::Tensor& y, const torch::Tensor& idx) {
      const auto soft = torch::softmax(teacher.index_select(0, idx) / T, 1);
      const auto kd = torch::kl_div(torch::log_softmax(z / T, 1), soft, at::Reduction::Sum) / static_cast<double>(z.size(0));
      return (1 - w) * torch::nn::functional::cross_entropy(z, y) + w * T * T * kd;
    };
  }
  ls.after_backward = [&] {
    for (auto& sw : shared) {
      auto g = torch::zeros_like(sw.codebook).index_add_(0, sw.idx, sw.weight.grad().flatten());
      if (sw.sparse) g[0] = 0;  // the pruned zeros stay zero
      sw.codebook.mutable_grad() = g;
      sw.weight.mutable_grad() = torch::Tensor();
    }
  };
  ls.after_step = [&] {
    if (!shared.empty()) {
      torch::NoGradGuard no_grad;
      for (auto& sw : shared) sw.weight.copy_(sw.codebook.index_select(0, sw.idx).view_as(sw.weight));
    }
    apply_masks(v);
  };
  ls.diverged = [&](double, int64_t, int64_t) { return "fine-tuning " + v.id + " diverged; lower catalog.finetune.lr"; };
  net->train();
  run_loop(tr, opt, ls);
  for (auto& t : frozen) t.requires_grad_(true);
  // The trained centroids become the stored codebook: decoding gives the weights bit for bit.
  for (auto& sw : shared) {
    auto cb = sw.codebook.detach().to(torch::kCPU).contiguous();
    for (auto& b : sw.enc->blobs)
      if (b.name == "codebook") std::memcpy(b.data.data(), cb.data_ptr<float>(), b.data.size());
  }
  r.seconds = since(t0);
  r.accuracy_after = evaluate(net, va, 1000, nullptr, input_layer);
  return r;
}

}  // namespace mcdnn
