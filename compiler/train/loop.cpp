#include "train/loop.hpp"

#include <chrono>
#include <cmath>
#include <random>

#include "util/error.hpp"
#include "util/interrupt.hpp"
#include "util/thread_policy.hpp"

namespace mcdnn {

void run_loop(const TensorData& data, torch::optim::Optimizer& optim, const LoopSpec& spec) {
  using Clock = std::chrono::steady_clock;
  const int64_t n = data.x.size(0);
  if (n == 0) return;
  const int64_t bs = std::min(spec.batch_size, n);
  const int64_t batches = (n + bs - 1) / bs;
  // Shuffling uses its own generator (weights and dropout use torch's, seeded by the caller),
  // so the example order depends only on the seed.
  std::mt19937_64 rng(spec.shuffle_seed);
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  for (int64_t e = 0; e < spec.epochs; ++e) {
    const auto t0 = Clock::now();
    for (int64_t i = n - 1; i > 0; --i) std::swap(order[static_cast<size_t>(i)], order[rng() % static_cast<uint64_t>(i + 1)]);
    auto perm = torch::from_blob(order.data(), {n}, torch::kInt64).to(data.x.device());
    double loss_sum = 0, lr = 0;
    int64_t correct = 0;
    for (int64_t b = 0; b < batches; ++b) {
      check_interrupted();
      adapt_threads();
      lr = spec.lr(e, b, batches);
      for (auto& g : optim.param_groups()) g.options().set_lr(lr);
      auto idx = perm.slice(0, b * bs, std::min((b + 1) * bs, n));
      auto x = data.x.index_select(0, idx);
      auto y = data.y.index_select(0, idx);
      optim.zero_grad();
      auto logits = spec.forward(x);
      auto loss = spec.loss ? spec.loss(logits, y, idx) : torch::nn::functional::cross_entropy(logits, y);
      loss.backward();
      if (spec.after_backward) spec.after_backward();
      optim.step();
      if (spec.after_step) spec.after_step();
      const double lv = loss.item<double>();
      if (!std::isfinite(lv)) fail(ErrorClass::Training, spec.diverged(lv, e + 1, b + 1));
      loss_sum += lv * static_cast<double>(x.size(0));
      if (spec.on_epoch) correct += logits.argmax(1).eq(y).sum().item<int64_t>();
      if (spec.on_batch) spec.on_batch(e + 1, b + 1, batches, loss_sum / static_cast<double>(std::min((b + 1) * bs, n)));
    }
    if (spec.on_epoch) {
      LoopEpoch st;
      st.epoch = e + 1;
      st.lr = lr;
      st.loss = loss_sum / static_cast<double>(n);
      st.train_accuracy = static_cast<double>(correct) / static_cast<double>(n);
      st.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
      spec.on_epoch(st);
    }
  }
}

}  // namespace mcdnn
