#include "nn/net.hpp"

#include "util/thread_policy.hpp"

#include <dlfcn.h>
#include <malloc.h>

#include <algorithm>
#include <cmath>

#include "util/error.hpp"

namespace mcdnn {

NetImpl::NetImpl(std::vector<LayerSpec> layers) : layers_(std::move(layers)) {
  torch::NoGradGuard no_grad;
  tensors_.resize(layers_.size());
  last_use_.assign(layers_.size(), layers_.size());
  for (size_t i = 0; i < layers_.size(); ++i) {
    graph_ = graph_ || !layers_[i].from.empty();
    for (int k : inputs_of(layers_, i))
      if (k >= 0) last_use_[static_cast<size_t>(k)] = i;
  }
  for (size_t i = 0; i < layers_.size(); ++i) {
    const LayerSpec& l = layers_[i];
    for (const auto& ts : tensors_of(l)) {
      torch::Tensor t = torch::empty(ts.shape, torch::kFloat32);
      if (l.kind == LayerKind::BatchNorm) {
        t.fill_(ts.name == "weight" || ts.name == "running_var" ? 1.0 : 0.0);
      } else {
        if (ts.matrix) {
          torch::nn::init::kaiming_uniform_(t, std::sqrt(5.0));
        } else {
          int64_t fin = l.kind == LayerKind::Conv2d ? l.in.c / l.groups * l.kh * l.kw : l.in.numel();
          double bound = 1.0 / std::sqrt(static_cast<double>(fin));
          t.uniform_(-bound, bound);
        }
      }
      // ':' and '|' cannot appear in layer names, so keys never collide; LibTorch refuses '.'
      // in a key, which block instance names use ("layer1.0.conv1").
      std::string key = l.name + ":" + ts.name;
      std::replace(key.begin(), key.end(), '.', '|');
      if (ts.trainable)
        tensors_[i].push_back(register_parameter(key, t));
      else
        tensors_[i].push_back(register_buffer(key, t));
    }
  }
}

torch::Tensor NetImpl::forward(torch::Tensor x) { return forward_range(x, 0, layers_.size()); }

std::vector<double> NetImpl::set_batchnorm_momentum(double m) {
  std::vector<double> old;
  for (auto& l : layers_) old.push_back(l.momentum), l.momentum = l.kind == LayerKind::BatchNorm ? m : l.momentum;
  recalibrating_ = true;
  return old;
}

void NetImpl::restore_batchnorm_momentum(const std::vector<double>& m) {
  for (size_t i = 0; i < layers_.size() && i < m.size(); ++i) layers_[i].momentum = m[i];
  recalibrating_ = false;
}

torch::Tensor NetImpl::apply(size_t i, const torch::Tensor& x, const std::vector<torch::Tensor>& extra) {
  const LayerSpec& l = layers_[i];
  const auto& t = tensors_[i];
  const bool lowrank = l.repr == "lowrank";
  const torch::Tensor none;
  switch (l.kind) {
    case LayerKind::Conv2d:
      if (lowrank)
        return torch::conv2d(torch::conv2d(x, t[0], none, {l.sh, l.sw}, {l.ph, l.pw}, {l.dh, l.dw}), t[1], l.bias ? t[2] : none);
      return torch::conv2d(x, t[0], l.bias ? t[1] : none, {l.sh, l.sw}, {l.ph, l.pw}, {l.dh, l.dw}, l.groups);
    case LayerKind::Linear:
      if (lowrank) return torch::linear(torch::linear(x, t[0]), t[1], l.bias ? t[2] : none);
      return torch::linear(x, t[0], l.bias ? t[1] : none);
    case LayerKind::ReLU:
      return torch::relu(x);
    case LayerKind::MaxPool:
      return torch::max_pool2d(x, {l.kh, l.kw}, {l.sh, l.sw}, {l.ph, l.pw});
    case LayerKind::AvgPool:
      // count_include_pad = true: zero padding counts toward the average (PyTorch default).
      return torch::avg_pool2d(x, {l.kh, l.kw}, {l.sh, l.sw}, {l.ph, l.pw});
    case LayerKind::Flatten:
      return x.flatten(1);
    case LayerKind::Dropout:
      return torch::dropout(x, l.p, is_training() && !recalibrating_);
    case LayerKind::BatchNorm:
      return torch::batch_norm(x, t[0], t[1], t[2], t[3], is_training(), l.momentum, l.eps, /*cudnn_enabled=*/true);
    case LayerKind::Add: {
      torch::Tensor y = x + extra[0];
      for (size_t k = 1; k < extra.size(); ++k) y = y + extra[k];
      return y;
    }
    case LayerKind::Concat: {
      std::vector<torch::Tensor> all = {x};
      all.insert(all.end(), extra.begin(), extra.end());
      return torch::cat(all, 1);
    }
    case LayerKind::Mul:
      return x * extra[0];  // a C x 1 x 1 gate broadcasts over H x W
    case LayerKind::GlobalAvgPool:
      return x.mean({2, 3}, /*keepdim=*/true);
    case LayerKind::ReLU6:
      return torch::hardtanh(x, 0.0, 6.0);
    case LayerKind::HardSwish:
      return torch::hardswish(x);
    case LayerKind::Sigmoid:
      return torch::sigmoid(x);
  }
  fail(ErrorClass::Internal, "Net: layer " + l.name + " of an unknown kind");
}

torch::Tensor NetImpl::forward_range(torch::Tensor x, size_t begin, size_t end) {
  if (!graph_) {
    for (size_t i = begin; i < end; ++i) x = apply(i, x, {});
    return x;
  }
  // A graph: each output kept until its last reader in the range has run. `x` is the output
  // of layer begin - 1 (the network input when begin = 0), which must be the only earlier
  // tensor the range reads (cut_is_single(begin)).
  const int cut = static_cast<int>(begin) - 1;
  std::vector<torch::Tensor> out(end);
  auto get = [&](int k) -> const torch::Tensor& {
    if (k == cut) return x;
    if (k < cut)
      fail(ErrorClass::Internal, "Net: layers from " + std::to_string(begin) + " read layer " + std::to_string(k) + ", before the cut");
    return out[static_cast<size_t>(k)];
  };
  for (size_t i = begin; i < end; ++i) {
    const auto in = inputs_of(layers_, i);
    std::vector<torch::Tensor> extra;
    for (size_t k = 1; k < in.size(); ++k) extra.push_back(get(in[k]));
    out[i] = apply(i, get(in[0]), extra);
    for (int k : in)  // free what no later layer reads
      if (k >= static_cast<int>(begin) && last_use_[static_cast<size_t>(k)] <= i) out[static_cast<size_t>(k)] = torch::Tensor();
  }
  return out[end - 1];
}

bool NetImpl::cut_is_single(size_t begin) const { return !graph_ || single_cut(layers_, begin); }

torch::Device pick_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  bool cuda = torch::cuda::is_available();
  if (name == "cuda") {
    if (!cuda)
      fail(ErrorClass::Usage, "--device cuda: no CUDA device is available to this LibTorch build; use --device cpu or auto");
    return torch::Device(torch::kCUDA, 0);
  }
  return cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
}

void use_thread_policy(int max_threads, bool adaptive) {
  torch::set_num_threads(max_threads);
  set_thread_budget(max_threads, adaptive);
  set_thread_apply([](int n) { torch::set_num_threads(n); });
}

void tune_runtime(const RuntimeTuning& t) {
  if (t.single_threaded_blas) {
    // Looked up at run time: present with OpenBLAS, absent (and not needed) with MKL builds.
    using SetThreads = void (*)(int);
    if (auto f = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) f(1);
  }
  if (t.keep_heap) {
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  }
}

}  // namespace mcdnn
