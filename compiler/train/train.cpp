#include "train/train.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

#include "util/error.hpp"
#include "util/interrupt.hpp"
#include "util/thread_policy.hpp"

namespace mcdnn {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Learning rate at fractional epoch position `t` in [0, epochs).
double lr_at(const TrainSpec& s, double t) {
  if (s.schedule == "cosine") return s.lr * 0.5 * (1.0 + std::cos(M_PI * t / static_cast<double>(s.epochs)));
  if (s.schedule == "step") return s.lr * std::pow(s.gamma, std::floor(t / static_cast<double>(s.step_size)));
  return s.lr;
}

void draw_bar(std::ostream& os, int64_t epoch, int64_t epochs, int64_t done, int64_t total, double loss) {
  const int width = 30;
  int filled = static_cast<int>(width * done / std::max<int64_t>(total, 1));
  char buf[160];
  std::snprintf(buf, sizeof buf, "\repoch %lld/%lld [%s%s] %lld/%lld  loss %.4f", static_cast<long long>(epoch),
                static_cast<long long>(epochs), std::string(filled, '#').c_str(),
                std::string(width - filled, '.').c_str(), static_cast<long long>(done), static_cast<long long>(total),
                loss);
  os << buf << std::flush;
}
}  // namespace

TensorData to_tensors(const Dataset& d, torch::Device device) {
  TensorData t;
  // from_blob views the vectors; the const_cast is safe because nothing writes through it.
  t.x = torch::from_blob(const_cast<float*>(d.images.data()), {d.n, d.c, d.h, d.w}, torch::kFloat32);
  t.y = torch::from_blob(const_cast<int64_t*>(d.labels.data()), {d.n}, torch::kInt64);
  if (device != torch::kCPU) {
    t.x = t.x.to(device);
    t.y = t.y.to(device);
  }
  return t;
}

torch::Tensor predict(Net& net, const torch::Tensor& x, int64_t batch) {
  InferenceGuard guard;
  bool was_training = net->is_training();
  net->eval();
  std::vector<torch::Tensor> outs;
  for (int64_t i = 0; i < x.size(0); i += batch) outs.push_back(net->forward(x.slice(0, i, std::min(i + batch, x.size(0)))));
  if (was_training) net->train();
  return torch::cat(outs);
}

double evaluate(Net& net, const TensorData& data, int64_t batch, double* seconds, size_t from) {
  auto t0 = Clock::now();
  InferenceGuard guard;
  bool was_training = net->is_training();
  net->eval();
  int64_t correct = 0, n = data.x.size(0);
  for (int64_t i = 0; i < n; i += batch) {
    adapt_threads();
    int64_t j = std::min(i + batch, n);
    auto logits = net->forward_range(data.x.slice(0, i, j), from, net->layers().size());
    correct += logits.argmax(1).eq(data.y.slice(0, i, j)).sum().item<int64_t>();
  }
  if (was_training) net->train();
  if (seconds) *seconds = since(t0);
  return n > 0 ? static_cast<double>(correct) / static_cast<double>(n) : 0.0;
}

TrainResult train(Net& net, const TensorData& tr, const TensorData& val, const TrainSpec& s, const TrainOptions& opt) {
  TrainResult result;
  const int64_t n = tr.x.size(0);
  const int64_t bs = std::min(s.batch_size, n);
  const int64_t batches = (n + bs - 1) / bs;

  std::unique_ptr<torch::optim::Optimizer> optim;
  if (s.optimizer == "sgd")
    optim = std::make_unique<torch::optim::SGD>(
        net->parameters(),
        torch::optim::SGDOptions(s.lr).momentum(s.momentum).nesterov(s.nesterov).weight_decay(s.weight_decay));
  else
    optim = std::make_unique<torch::optim::Adam>(net->parameters(),
                                                 torch::optim::AdamOptions(s.lr).weight_decay(s.weight_decay));

  // Shuffling uses its own generator (the weights and dropout use torch's, seeded by the caller),
  // so the example order depends only on the seed.
  std::mt19937_64 rng(static_cast<uint64_t>(s.seed));
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;

  auto t_all = Clock::now();
  for (int64_t e = 0; e < s.epochs; ++e) {
    net->train();
    auto t0 = Clock::now();
    // Fisher-Yates with our own draw: identical across standard libraries.
    for (int64_t i = n - 1; i > 0; --i) std::swap(order[static_cast<size_t>(i)], order[rng() % static_cast<uint64_t>(i + 1)]);
    auto perm = torch::from_blob(order.data(), {n}, torch::kInt64).to(tr.x.device());
    double loss_sum = 0;
    int64_t correct = 0;
    double lr = s.lr;
    for (int64_t b = 0; b < batches; ++b) {
      check_interrupted();
      adapt_threads();
      lr = lr_at(s, static_cast<double>(e) + static_cast<double>(b) / static_cast<double>(batches));
      for (auto& g : optim->param_groups()) g.options().set_lr(lr);
      auto idx = perm.slice(0, b * bs, std::min((b + 1) * bs, n));
      auto x = tr.x.index_select(0, idx);
      auto y = tr.y.index_select(0, idx);
      optim->zero_grad();
      auto logits = net->forward(x);
      auto loss = torch::nn::functional::cross_entropy(logits, y);
      loss.backward();
      optim->step();
      double lv = loss.item<double>();
      if (!std::isfinite(lv))
        fail(ErrorClass::Training, "training diverged: loss became " + std::to_string(lv) + " in epoch " +
                                       std::to_string(e + 1) + ", batch " + std::to_string(b + 1) +
                                       "; lower training.lr or check the data normalization");
      loss_sum += lv * static_cast<double>(x.size(0));
      correct += logits.argmax(1).eq(y).sum().item<int64_t>();
      if (opt.progress_bar && opt.log && (b % 10 == 0 || b + 1 == batches))
        draw_bar(*opt.log, e + 1, s.epochs, b + 1, batches, loss_sum / static_cast<double>(std::min((b + 1) * bs, n)));
    }
    EpochStats st;
    st.epoch = e + 1;
    st.lr = lr;
    st.train_seconds = since(t0);
    st.loss = loss_sum / static_cast<double>(n);
    st.train_accuracy = static_cast<double>(correct) / static_cast<double>(n);
    st.train_images_per_s = static_cast<double>(n) / st.train_seconds;
    st.val_accuracy = evaluate(net, val, opt.eval_batch, &st.eval_seconds);
    st.eval_images_per_s = static_cast<double>(val.x.size(0)) / std::max(st.eval_seconds, 1e-9);
    result.train_seconds += st.train_seconds;
    result.epochs.push_back(st);
    if (opt.log) {
      char buf[256];
      std::snprintf(buf, sizeof buf,
                    "%sepoch %3lld/%lld  loss %.4f  train %6.2f%%  val %6.2f%%  %6.1f s  %7.0f img/s  (eval %.1f s, %.0f img/s)\n",
                    opt.progress_bar ? "\r\033[K" : "", static_cast<long long>(st.epoch),
                    static_cast<long long>(s.epochs), st.loss, 100 * st.train_accuracy, 100 * st.val_accuracy,
                    st.train_seconds, st.train_images_per_s, st.eval_seconds, st.eval_images_per_s);
      *opt.log << buf << std::flush;
    }
  }
  result.total_seconds = since(t_all);
  result.val_accuracy = result.epochs.empty() ? evaluate(net, val, opt.eval_batch) : result.epochs.back().val_accuracy;
  return result;
}

}  // namespace mcdnn
