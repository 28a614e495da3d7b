// Specialization (MCDNN, Han et al. 2016, section 4.3): when a few classes dominate a stream,
// a variant retargeted to "these n classes + other" is more accurate on them than the generic
// variant of the same cost. Only the last weight layer (or the last few) is retrained, on the
// outputs of the frozen layers before it, computed once for a data set ("pre-forwarding") and
// reused by every class set: specializing then costs the training of a small head.
#pragma once
#include <cstdint>
#include <utility>
#include <string>
#include <vector>

#include "nn/variant.hpp"
#include "train/train.hpp"

namespace mcdnn {

struct SpecializeSpec {
  std::vector<int64_t> classes;  // source classes kept, in output order; output n = "other"
  size_t retrain_layers = 1;     // weight layers retrained, counted from the end (>= 1)
  int64_t epochs = 8;
  double lr = 0.003;              // Adam, cosine-decayed
  int64_t batch_size = 256;
  // At most this share of the training examples is "other" (the rest subsampled, seeded): with
  // every out-of-set example kept, "other" would swamp n small classes.
  double other_share = 0.5;
  uint64_t seed = 1;
};

// The training and validation sets at the input of the retrained layers of `v`: computed once
// (inference, batches of 1000) when `preforward`, else kept raw and run through the frozen
// layers at every training step (retargeting without pre-forwarding: Table 3's middle column).
class PreForwarded {
 public:
  PreForwarded(const Variant& v, size_t retrain_layers, const TensorData& train, const TensorData& val, bool preforward = true);
  // Features computed earlier and kept (specialize/feature_store.hpp); `seconds`: reading them.
  PreForwarded(size_t cut, TensorData train, TensorData val, double seconds)
      : cut_(cut), train_(std::move(train)), val_(std::move(val)), seconds_(seconds), stored_(true) {}
  size_t cut() const { return cut_; }  // the first retrained layer
  bool preforwarded() const { return preforward_; }
  const TensorData& train() const { return train_; }  // at layer cut() (or raw)
  const TensorData& val() const { return val_; }
  double seconds() const { return seconds_; }  // spent forwarding (or reading stored features)
  bool stored() const { return stored_; }       // read from a feature store

 private:
  size_t cut_ = 0;
  bool preforward_ = true;
  TensorData train_, val_;
  double seconds_ = 0;
  bool stored_ = false;
};

struct SpecializeResult {
  Variant variant;  // layers of the source up to cut(), then the retrained ones; n + 1 outputs
                    // (id: the source's transforms + specialize_transform(), parent: the source)
  double in_set_accuracy = 0;  // validation examples of the kept classes classified as their class
  double other_recall = 0;     // validation examples of other classes classified "other"
  double in_set_other = 0;     // validation examples of the kept classes classified "other"
  double accuracy = 0;         // all validation examples, the label of an out-of-set one being "other"
  int64_t train_examples = 0;  // after subsampling "other"
  double seconds = 0;          // training the retrained layers (pre-forwarding not included)
};

// Index of the first of the last `retrain_layers` conv2d/linear layers of `layers`; throws
// Error(Usage) when there are fewer.
size_t retarget_cut(const std::vector<LayerSpec>& layers, size_t retrain_layers);

// Retargets `v` (whose pre-forwarded data `data` is) to spec.classes + "other". The retrained
// layers start from v's weights (the last one from the kept classes' rows, "other" from the
// mean of the rest), are trained in float and stored f32 dense; the frozen layers keep their
// stored form. Throws Error(Usage) for an empty, repeated or out-of-range class list.
SpecializeResult specialize(const Variant& v, const PreForwarded& data, const SpecializeSpec& spec);

// The transform a specialized variant records: "specialize 0,1,7" (+ " last 2" when more than
// one layer is retrained); its id is variant_id() of the source's transforms and this one.
std::string specialize_transform(const std::vector<int64_t>& classes, size_t retrain_layers);

// Maps labels to the specialized model's outputs: kept class c -> its index, others -> n.
torch::Tensor specialized_labels(const torch::Tensor& y, const std::vector<int64_t>& classes);

}  // namespace mcdnn
