// The one optimization loop that training (train.cpp) and fine-tuning (finetune.cpp) share:
// per epoch a reproducible shuffle (Fisher-Yates with std::mt19937_64 from `shuffle_seed`, the
// same on every standard library), then per batch: interruption check, thread adaptation,
// learning rate, forward, cross-entropy, backward, step, divergence check. What differs between
// the callers (the optimizer, the schedule, frozen prefixes, shared-weight codebooks, pruning
// masks, progress output) comes in through LoopSpec and the hooks.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <string>

#include "train/train.hpp"

namespace mcdnn {

struct LoopEpoch {
  int64_t epoch = 0;          // 1-based
  double lr = 0;              // the last batch's learning rate
  double loss = 0;            // mean cross-entropy over the epoch's examples
  double train_accuracy = 0;  // on the batches as seen
  double seconds = 0;
};

struct LoopSpec {
  int64_t epochs = 1;
  int64_t batch_size = 128;
  uint64_t shuffle_seed = 0;
  // Learning rate for batch b of `batches` in epoch e (0-based).
  std::function<double(int64_t e, int64_t b, int64_t batches)> lr;
  // Logits of a batch of inputs (default: the network's forward()).
  std::function<torch::Tensor(const torch::Tensor& x)> forward;
  // The loss of a batch: its logits, labels and the examples' indices into the data (default:
  // cross-entropy; fine-tuning's distillation adds the teacher's soft targets).
  std::function<torch::Tensor(const torch::Tensor& logits, const torch::Tensor& y, const torch::Tensor& idx)> loss;
  // After backward, before the optimizer step (e.g. gradients of shared codebooks).
  std::function<void()> after_backward;
  // After the optimizer step (e.g. re-deriving codebook weights, applying pruning masks).
  std::function<void()> after_step;
  // After each batch (progress bar): epoch (1-based), batches done, batches, mean loss so far.
  std::function<void(int64_t epoch, int64_t done, int64_t batches, double loss)> on_batch;
  // After each epoch.
  std::function<void(const LoopEpoch&)> on_epoch;
  // The Error(Training) message when the loss becomes NaN/Inf at (epoch, batch), 1-based.
  std::function<std::string(double loss, int64_t epoch, int64_t batch)> diverged;
};

// Runs the loop over `data` (x, y on one device) with `optim`. Throws Error(Training) on a
// non-finite loss, Error(Interrupted) on Ctrl-C/SIGTERM.
void run_loop(const TensorData& data, torch::optim::Optimizer& optim, const LoopSpec& spec);

}  // namespace mcdnn
