#include "nn/net.hpp"

#include "util/thread_policy.hpp"

#include <dlfcn.h>
#include <malloc.h>

#include <cmath>

#include "util/error.hpp"

namespace mcdnn {

NetImpl::NetImpl(std::vector<LayerSpec> layers) : layers_(std::move(layers)) {
  torch::NoGradGuard no_grad;
  tensors_.resize(layers_.size());
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
          int64_t fin = l.kind == LayerKind::Conv2d ? l.in.c * l.kh * l.kw : l.in.numel();
          double bound = 1.0 / std::sqrt(static_cast<double>(fin));
          t.uniform_(-bound, bound);
        }
      }
      // ':' cannot appear in layer names, so keys never collide.
      std::string key = l.name + ":" + ts.name;
      if (ts.trainable)
        tensors_[i].push_back(register_parameter(key, t));
      else
        tensors_[i].push_back(register_buffer(key, t));
    }
  }
}

torch::Tensor NetImpl::forward(torch::Tensor x) { return forward_range(x, 0, layers_.size()); }

torch::Tensor NetImpl::forward_range(torch::Tensor x, size_t begin, size_t end) {
  for (size_t i = begin; i < end; ++i) {
    const LayerSpec& l = layers_[i];
    const auto& t = tensors_[i];
    const bool lowrank = l.repr == "lowrank";
    const torch::Tensor none;
    switch (l.kind) {
      case LayerKind::Conv2d:
        if (lowrank) {
          x = torch::conv2d(x, t[0], none, {l.sh, l.sw}, {l.ph, l.pw});
          x = torch::conv2d(x, t[1], l.bias ? t[2] : none);
        } else {
          x = torch::conv2d(x, t[0], l.bias ? t[1] : none, {l.sh, l.sw}, {l.ph, l.pw});
        }
        break;
      case LayerKind::Linear:
        if (lowrank)
          x = torch::linear(torch::linear(x, t[0]), t[1], l.bias ? t[2] : none);
        else
          x = torch::linear(x, t[0], l.bias ? t[1] : none);
        break;
      case LayerKind::ReLU:
        x = torch::relu(x);
        break;
      case LayerKind::MaxPool:
        x = torch::max_pool2d(x, {l.kh, l.kw}, {l.sh, l.sw}, {l.ph, l.pw});
        break;
      case LayerKind::AvgPool:
        // count_include_pad = true: zero padding counts toward the average (PyTorch default).
        x = torch::avg_pool2d(x, {l.kh, l.kw}, {l.sh, l.sw}, {l.ph, l.pw});
        break;
      case LayerKind::Flatten:
        x = x.flatten(1);
        break;
      case LayerKind::Dropout:
        x = torch::dropout(x, l.p, is_training());
        break;
      case LayerKind::BatchNorm:
        x = torch::batch_norm(x, t[0], t[1], t[2], t[3], is_training(), l.momentum, l.eps, /*cudnn_enabled=*/true);
        break;
      default:  // graph layers: the compiler refuses graph schemas before building a Net
        fail(ErrorClass::Internal, "Net: layer " + l.name + " (" + kind_name(l.kind) + ") is not trained by this version");
    }
  }
  return x;
}

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
