// The approximation passes. Each maps a parent variant to a child variant (a deep copy; the
// parent is never modified) and records what it did in the child's `transforms`. They chain in
// the order narrow -> remove -> factorize -> prune -> quantize; a pass that cannot apply to its
// parent (wrong layer kind, a later stage already applied) throws Error(Schema) saying why.
// One pass per file: narrow_layer.cpp, remove_layer.cpp, factorize_svd.cpp,
// prune_magnitude.cpp, quantize_weights.cpp.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "nn/variant.hpp"
#include "schema/levels.hpp"
#include "schema/plan.hpp"

namespace mcdnn {

// --- factorize_svd.cpp ------------------------------------------------------------------
// Rank of a factorization (RankSpec, parse_rank: schema/levels.hpp): a fraction of min(m, n)
// ("1/4", 0.25), an absolute rank ("k=32" / 32), or the smallest rank keeping a fraction of the
// spectral energy sum(s_i^2) ("energy=0.9").

// W (m x n; conv: Cout x Cin*kh*kw) = U S V^T -> weight_b = U_k sqrt(S_k) (m x k),
// weight_a = sqrt(S_k) V_k^T (k x n): the best rank-k approximation (Eckart-Young), with
// Frobenius error sqrt(sum_{i>k} s_i^2). A rank that would not reduce parameters
// (k >= m n / (m + n)) returns nullopt with *note saying so.
//
// The decomposition is LAPACK's divide-and-conquer SVD (gesdd, through LibTorch and OpenBLAS)
// in float64. It depends only on the layer, so a sweep computes it once (layer_svd) and passes
// it for every rank; `svd` null computes it here.
struct LayerSvd {
  std::string layer;
  torch::Tensor u, s, v;  // float64, CPU: W = u diag(s) v^T; u m x r, s r (descending), v n x r
};
LayerSvd layer_svd(const Variant& v, const std::string& layer);
std::optional<Variant> factorize_svd(const Variant& parent, const std::string& layer, const RankSpec& rank,
                                     std::string* note, const LayerSvd* svd = nullptr);

// Singular values of a layer's weight matrix (descending), for tests and energy ranks.
std::vector<double> singular_values(const Variant& v, const std::string& layer);

// --- prune_magnitude.cpp ----------------------------------------------------------------
// Zeroes exactly round(sparsity * N) weights of smallest magnitude (ties by index) among the
// weights of `layers` (empty = every conv2d/linear): per tensor, or with one global threshold
// across all of them when `global`. Already-pruned weights count toward the sparsity; masks
// keep pruned weights at zero through fine-tuning.
Variant prune_magnitude(const Variant& parent, const std::vector<std::string>& layers, double sparsity, bool global);

// --- quantize_weights.cpp ---------------------------------------------------------------
// Stores the weight matrices of `layers` (empty = all) in `storage` (f16, int8, cb8, cb4,
// cb2; nn/storage.hpp); the child's weights are exactly what the stored form decodes to.
// Layers not yet quantized may be quantized by a later step (mixed precision: int8 convs,
// then 4-bit fully connected layers); a layer already quantized is an error.
Variant quantize_weights(const Variant& parent, const std::string& storage, const std::vector<std::string>& layers);

// --- narrow_layer.cpp -------------------------------------------------------------------
// Cuts coupled channel groups (schema/channels.hpp): keeps the channels of largest importance
// (the L1 norm of their weight rows, summed over the layers writing the group, each normalized
// by its mean when there are several), in their original order, in every layer that holds them:
// producers' rows, batchnorms' and depthwise convs' channels, readers' columns. `counts`: group
// -> channels kept (1..all; all keeps the parent's function exactly).
Variant narrow_groups(const Variant& parent, const ChannelMap& m, const std::map<int, int64_t>& counts, const std::string& label);
// The group of `layer`'s outputs to `keep` channels (1..channels-1).
Variant narrow_layer(const Variant& parent, const std::string& layer, int64_t keep);
// Every group that can be cut to the fraction `level` of its channels; nullopt when none
// loses a channel.
std::optional<Variant> narrow_all(const Variant& parent, const std::string& level);

// --- remove_layer.cpp -------------------------------------------------------------------
// Removes `layer` (a conv2d or linear, with the batchnorm and activations directly after it),
// a residual add's branch, or a block instance's one residual branch (schema/channels.hpp:
// plan_removal); shapes are re-inferred and downstream layers whose input shape changed are
// re-initialized, to be retrained by fine-tuning.
Variant remove_layer(const Variant& parent, const std::string& layer);

// Shared helpers (passes.cpp).
size_t layer_index(const Variant& v, const std::string& name);  // throws Error(Schema) listing names
// Indices of the conv2d/linear layers named (empty = all of them); `pass` names the caller in
// the error for a layer without weights.
std::vector<size_t> weight_layers(const Variant& v, const std::vector<std::string>& names, const std::string& pass);
// What the structural rules (schema/plan.hpp) see of a variant.
PlanState plan_state(const Variant& v);
// A child of `parent` whose transforms gain `label`; `first_changed` is set by the caller.
Variant begin_child(const Variant& parent, const std::vector<LayerSpec>& specs, const std::string& label);

}  // namespace mcdnn
