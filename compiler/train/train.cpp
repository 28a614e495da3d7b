#include "train/train.hpp"

#include "train/loop.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>

#include "util/error.hpp"
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

  std::unique_ptr<torch::optim::Optimizer> optim;
  if (s.optimizer == "sgd")
    optim = std::make_unique<torch::optim::SGD>(
        net->parameters(),
        torch::optim::SGDOptions(s.lr).momentum(s.momentum).nesterov(s.nesterov).weight_decay(s.weight_decay));
  else
    optim = std::make_unique<torch::optim::Adam>(net->parameters(),
                                                 torch::optim::AdamOptions(s.lr).weight_decay(s.weight_decay));

  LoopSpec ls;
  ls.epochs = s.epochs;
  ls.batch_size = bs;
  ls.shuffle_seed = static_cast<uint64_t>(s.seed);
  ls.lr = [&](int64_t e, int64_t b, int64_t nb) {
    return lr_at(s, static_cast<double>(e) + static_cast<double>(b) / static_cast<double>(nb));
  };
  ls.forward = [&](const torch::Tensor& x) { return net->forward(x); };
  if (opt.progress_bar && opt.log)
    ls.on_batch = [&](int64_t e, int64_t done, int64_t nb, double loss) {
      if ((done - 1) % 10 == 0 || done == nb) draw_bar(*opt.log, e, s.epochs, done, nb, loss);
    };
  ls.diverged = [](double lv, int64_t e, int64_t b) {
    return "training diverged: loss became " + std::to_string(lv) + " in epoch " + std::to_string(e) + ", batch " +
           std::to_string(b) + "; lower training.lr or check the data normalization";
  };
  ls.on_epoch = [&](const LoopEpoch& le) {
    EpochStats st;
    st.epoch = le.epoch;
    st.lr = le.lr;
    st.train_seconds = le.seconds;
    st.loss = le.loss;
    st.train_accuracy = le.train_accuracy;
    st.train_images_per_s = static_cast<double>(n) / st.train_seconds;
    st.val_accuracy = evaluate(net, val, opt.eval_batch, &st.eval_seconds);
    st.eval_images_per_s = static_cast<double>(val.x.size(0)) / std::max(st.eval_seconds, 1e-9);
    net->train();
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
  };
  auto t_all = Clock::now();
  net->train();
  run_loop(tr, *optim, ls);
  result.total_seconds = since(t_all);
  result.val_accuracy = result.epochs.empty() ? evaluate(net, val, opt.eval_batch) : result.epochs.back().val_accuracy;
  return result;
}

}  // namespace mcdnn
