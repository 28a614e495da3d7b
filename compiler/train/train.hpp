// Training and evaluation of a Net on in-memory datasets.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <ostream>
#include <vector>

#include "data/dataset.hpp"
#include "nn/net.hpp"
#include "schema/schema.hpp"

namespace mcdnn {

struct EpochStats {
  int64_t epoch = 0;
  double lr = 0;
  double loss = 0;            // mean training cross-entropy over the epoch
  double train_accuracy = 0;  // on the training batches as seen (dropout active)
  double val_accuracy = 0;
  double train_seconds = 0;
  double eval_seconds = 0;
  double train_images_per_s = 0;
  double eval_images_per_s = 0;
};

struct TrainResult {
  std::vector<EpochStats> epochs;
  double train_seconds = 0;  // training only, evaluation excluded
  double total_seconds = 0;  // including per-epoch validation
  double val_accuracy = 0;   // after the last epoch
};

struct TrainOptions {
  torch::Device device = torch::kCPU;
  std::ostream* log = nullptr;  // per-epoch lines; nullptr = silent
  bool progress_bar = false;    // redraw a per-batch bar on `log` (a terminal)
  int64_t eval_batch = 1000;
};

// Tensors that view a Dataset's memory (no copy on CPU); the Dataset must outlive them.
struct TensorData {
  torch::Tensor x, y;
};
TensorData to_tensors(const Dataset& d, torch::Device device);

// Trains `net` per `spec` (optimizer, schedule, epochs, seed for shuffling). Throws
// Error(Training) if the loss becomes NaN/Inf.
TrainResult train(Net& net, const TensorData& train, const TensorData& val, const TrainSpec& spec,
                  const TrainOptions& opt);

// Top-1 accuracy in [0, 1]; inference mode, batches of `batch`. With from > 0, data.x is the
// input of layer `from` (cached activations) and only layers [from, n) run.
double evaluate(Net& net, const TensorData& data, int64_t batch, double* seconds = nullptr, size_t from = 0);

// Logits for `x` in inference mode.
torch::Tensor predict(Net& net, const torch::Tensor& x, int64_t batch = 1000);

}  // namespace mcdnn
