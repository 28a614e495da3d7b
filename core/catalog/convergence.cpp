#include "catalog/convergence.hpp"

#include <algorithm>
#include <cstdio>

namespace mcdnn {

Convergence judge_convergence(const std::vector<double>& a, int64_t validation_examples) {
  Convergence c;
  c.epochs = static_cast<int64_t>(a.size());
  if (c.epochs < 2) return c;
  c.judged = true;
  c.tail = std::max<int64_t>(1, c.epochs / 3);
  c.before = *std::max_element(a.begin(), a.end() - c.tail);
  c.last = a.back();
  c.threshold = std::max(0.005, validation_examples > 0 ? 2.0 / static_cast<double>(validation_examples) : 0.0);
  c.converged = !(c.last - c.before > c.threshold);
  return c;
}

std::string convergence_warning(const Convergence& c) {
  if (!c.judged || c.converged) return "";
  const int64_t upto = c.epochs - c.tail;
  char epochs[48];
  if (upto == 1) std::snprintf(epochs, sizeof epochs, "epoch 1");
  else std::snprintf(epochs, sizeof epochs, "epochs 1-%lld", static_cast<long long>(upto));
  char b[512];
  std::snprintf(b, sizeof b,
                "warning: the base model had not converged: validation accuracy after its last epoch (%.2f%%) is %.2f points "
                "above the best of %s (%.2f%%), so every \"vs base\" figure also counts what more training alone would give; "
                "train it for more than %lld epochs (training.epochs or --epochs)",
                100 * c.last, 100 * (c.last - c.before), epochs, 100 * c.before, static_cast<long long>(c.epochs));
  return b;
}

}  // namespace mcdnn
