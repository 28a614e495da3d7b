// Whether a model had stopped improving when its training ended, judged from its validation
// accuracy after each epoch (catalog.json's `accuracy_by_epoch` for the base model). A base
// model still improving makes every "vs base" figure of its catalog partly measure extra
// training: a variant fine-tuned after a pass can gain what more epochs of the base alone would.
//
// The rule, with E epochs, a_1..a_E their validation accuracies and n validation examples:
//   tail        k = max(1, floor(E / 3))           the last third of the epochs
//   before      b = max(a_1 .. a_{E-k})            the best accuracy before the tail
//   threshold   t = max(0.5 points, 2 / n)         (two examples' worth on a small set)
//   not converged when a_E - b > t: the last epoch is clearly better than anything before the tail.
// Fewer than 2 epochs are not judged. A schedule that anneals the learning rate (cosine, step)
// often gains in its last third too; the warning then says the same: more epochs would still help.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mcdnn {

struct Convergence {
  bool judged = false;     // false: fewer than 2 epochs recorded
  bool converged = true;   // true when not judged
  int64_t epochs = 0;      // E
  int64_t tail = 0;        // k
  double before = 0;       // b: best accuracy of epochs 1..E-k, in [0, 1]
  double last = 0;         // a_E
  double threshold = 0;    // t, in [0, 1]
};

// The rule above; `validation_examples` <= 0 leaves the threshold at 0.5 points.
Convergence judge_convergence(const std::vector<double>& accuracy_by_epoch, int64_t validation_examples);

// One line (no trailing newline) warning that the base model had not converged, naming the
// numbers and what to do; "" when it had or was not judged.
std::string convergence_warning(const Convergence& c);

}  // namespace mcdnn
