// Fine-tuning a variant after a pass, with the layers it shares with the base model frozen and
// their outputs pre-forwarded once and cached (the trick MCDNN uses for specialization): a
// change to fc1 retrains fc1..fc2 on cached flatten outputs instead of running the conv stack.
#pragma once
#include <list>
#include <map>

#include "nn/variant.hpp"
#include "schema/schema.hpp"
#include "train/train.hpp"

namespace mcdnn {

// Activations of the base model at the input of layer p, for the fine-tuning subset and the
// validation set, computed once per p (frozen prefix, inference mode) and kept within a
// memory budget (least recently used dropped first).
class FeatureCache {
 public:
  FeatureCache(Net base, TensorData train, TensorData val, int64_t budget_bytes)
      : base_(std::move(base)), train_(std::move(train)), val_(std::move(val)), budget_(budget_bytes) {}
  // nullptr when p == 0 (the raw data is the input) or the features exceed the budget.
  const std::pair<TensorData, TensorData>* get(size_t p);
  const TensorData& raw_train() const { return train_; }
  const TensorData& raw_val() const { return val_; }
  // The base model's logits for the fine-tuning subset (raw_train() order), computed once.
  const torch::Tensor& teacher_logits();
  double seconds() const { return seconds_; }  // spent computing features

 private:
  Net base_;
  TensorData train_, val_;
  torch::Tensor teacher_;
  int64_t budget_;
  std::map<size_t, std::pair<TensorData, TensorData>> entries_;
  std::list<size_t> lru_;
  double seconds_ = 0;
};

// Examples a narrowed or removed variant's batchnorms re-estimate their statistics on.
constexpr int64_t kRecalibrationExamples = 4096;

struct FinetuneResult {
  double accuracy_before = 0;
  double accuracy_after = 0;
  double seconds = 0;     // fine-tuning steps only
  size_t frozen = 0;      // layers frozen (prefix served from the cache)
  int64_t epochs = 0;     // fine-tuning epochs run
};

// Evaluates (and, when `train` and its epochs > 0, fine-tunes) layers [shared_prefix, n) of `v`
// on cached base activations; masks keep pruned weights at zero after every step. A narrowed or
// removed variant (Variant::recalibrate) first re-estimates its batchnorm statistics and trains
// spec.reshaped_epochs instead of spec.epochs; a re-initialized one twice that at 4x the rate.
FinetuneResult finetune(Variant& v, size_t shared_prefix, FeatureCache& cache, const FinetuneSpec& spec, bool train,
                        uint64_t seed);

}  // namespace mcdnn
