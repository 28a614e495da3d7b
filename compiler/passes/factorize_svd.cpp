#include <Eigen/Dense>
#include <cmath>
#include <cstdlib>

#include "passes/passes.hpp"
#include "util/error.hpp"

namespace mcdnn {

namespace {
using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

Mat weight_matrix(const Variant& v, size_t i) {
  auto w = v.net->tensors(i)[0].detach().to(torch::kCPU).to(torch::kFloat64).contiguous();
  int64_t m = w.size(0), n = w.numel() / m;
  return Eigen::Map<const Mat>(w.data_ptr<double>(), m, n);
}

}  // namespace

std::vector<double> singular_values(const Variant& v, const std::string& layer) {
  size_t i = layer_index(v, layer);
  Eigen::BDCSVD<Mat> svd(weight_matrix(v, i));
  auto s = svd.singularValues();
  return std::vector<double>(s.data(), s.data() + s.size());
}

std::optional<Variant> factorize_svd(const Variant& parent, const std::string& layer, const RankSpec& rank,
                                     std::string* note) {
  size_t i = layer_index(parent, layer);
  rule_svd(plan_state(parent), i);
  Mat w = weight_matrix(parent, i);
  const int64_t m = w.rows(), n = w.cols(), full = std::min(m, n);
  Eigen::BDCSVD<Mat> svd(w, Eigen::ComputeThinU | Eigen::ComputeThinV);
  const auto& s = svd.singularValues();
  int64_t k = 0;
  switch (rank.kind) {
    case RankSpec::Kind::Fraction: k = std::max<int64_t>(1, std::llround(rank.value * static_cast<double>(full))); break;
    case RankSpec::Kind::Absolute: k = static_cast<int64_t>(rank.value); break;
    case RankSpec::Kind::Energy: {
      double total = s.squaredNorm(), acc = 0;
      while (k < full && acc < rank.value * total) acc += s(k) * s(k), ++k;
      k = std::max<int64_t>(k, 1);
      break;
    }
  }
  k = std::min(k, full);
  // Factorizing pays only when k (m + n) < m n.
  if (k * (m + n) >= m * n) {
    *note = "svd " + layer + " rank " + rank.label + " (k=" + std::to_string(k) + "): skipped, k >= mn/(m+n) = " +
            std::to_string(m * n / (m + n)) + " would not reduce the " + std::to_string(m) + "x" + std::to_string(n) +
            " layer's parameters";
    return std::nullopt;
  }
  Eigen::VectorXd root = s.head(k).cwiseSqrt();
  Mat b = svd.matrixU().leftCols(k) * root.asDiagonal();          // m x k
  Mat a = root.asDiagonal() * svd.matrixV().leftCols(k).transpose();  // k x n

  std::vector<LayerSpec> specs = parent.net->layers();
  specs[i].repr = "lowrank";
  specs[i].rank = k;
  std::string label = "svd " + layer + " k=" + std::to_string(k);
  Variant c = begin_child(parent, specs, label);
  c.first_changed = i;
  torch::NoGradGuard no_grad;
  auto ts = tensors_of(specs[i]);
  auto to_tensor = [](const Mat& mat, const std::vector<int64_t>& shape) {
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> f = mat.cast<float>();
    return torch::from_blob(f.data(), shape, torch::kFloat32).clone();
  };
  c.net->tensors(i)[0].copy_(to_tensor(a, ts[0].shape));
  c.net->tensors(i)[1].copy_(to_tensor(b, ts[1].shape));
  if (specs[i].bias) c.net->tensors(i)[2].copy_(parent.net->tensors(i)[1]);
  return c;
}

}  // namespace mcdnn
