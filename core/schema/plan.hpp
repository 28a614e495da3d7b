// The catalog steps on layer specs alone (torch-free): the structural rules of each pass — what
// may follow what in a chain — and variant ids. The passes (passes/*.cpp) enforce the same rule
// functions before touching weights; check_plan() walks a schema's whole list of steps, `then`
// chains included, on specs only, so that a chain the passes would reject fails when the schema
// is read, before any data is loaded or any epoch trained.
#pragma once
#include <string>
#include <vector>

#include "nn/layer.hpp"
#include "schema/channels.hpp"

namespace mcdnn {

struct Schema;

// What the rules need to know of a parent variant.
struct PlanState {
  std::string id = "base";
  std::vector<LayerSpec> layers;
  bool quantized = false;  // some weights stored lossy (a quantize step ran)
  bool masked = false;     // some weights pruned (a prune step ran)
};

// How the build makes a planned variant: one level of one catalog step applied to its parent.
struct PlanRecipe {
  std::string pass;                 // quantize | prune | svd | narrow | remove
  std::string where;                // the step's file:line:col, for messages
  std::vector<std::string> layers;  // quantize, prune: the step's layers (empty = all)
  std::string layer;                // svd, narrow, remove: the one layer
  std::string level;                // the format, sparsity, rank or keep as written; "" for remove
  bool finetune = true;             // the step's `finetune`
  bool global = false;              // prune: one threshold across the layers
};

// One variant a build will make, as the rules see it before any training.
struct PlannedVariant {
  std::string id;
  std::string parent;
  std::vector<LayerSpec> layers;  // storage, sparsity, rank and shapes as the passes will set them
  std::vector<double> density;    // per layer: the share of weights pruning keeps (1 = dense)
  // An svd `energy` rank depends on the trained weights: the planned id names the level
  // ("svd-fc1-kenergy0.9") where the built one has the rank ("svd-fc1-k37"), the estimates
  // assume 1/4 of the full rank, and the build skips it when it would not be smaller.
  bool rank_from_weights = false;

  // Where it sits in plan_build(): positions 1..N in build order, 0 = the base model.
  size_t parent_pos = 0;       // the variant it is made from
  size_t step_parent_pos = 0;  // the step's parent (for iterative pruning, not the previous level): seeds the pass
  size_t ordinal = 0;          // 1-based among the variants (skipped levels have 0): seeds fine-tuning, numbers progress
  PlanRecipe recipe;
  // A level the rules show cannot make a smaller variant (an svd rank with k(m+n) >= mn, a
  // narrow keeping every output): the build skips it with a note and it is not a variant.
  bool skip = false;
};

// Each throws Error(Schema) saying why the pass cannot apply to `p`.
size_t plan_layer_index(const PlanState& p, const std::string& name);
std::vector<size_t> plan_weight_layers(const PlanState& p, const std::vector<std::string>& names, const std::string& pass);
void rule_svd(const PlanState& p, size_t i);
void rule_prune(const PlanState& p);
void rule_quantize(const PlanState& p, const std::vector<size_t>& idx);
// narrow: the coupled group (schema/channels.hpp) of layer i's outputs, checked cuttable.
int rule_narrow(const PlanState& p, const ChannelMap& m, size_t i);
// narrow every group (`layers: all`) to the fraction `level`: group -> channels kept, for the
// groups that lose a channel (empty: none does). Throws when no group can be cut or `level`
// is not a fraction.
std::map<int, int64_t> rule_narrow_all(const PlanState& p, const ChannelMap& m, const std::string& level);
// The label of a narrow step's child: "narrow conv1 16", or "narrow all 50%" for a fraction of every group.
std::string narrow_label(const std::string& layer, const std::string& level, int64_t keep);
// remove: what goes (a layer with its batchnorm/activations, or a residual block's branch).
RemovalPlan rule_remove(const PlanState& p, const std::string& name);
// Re-infers every layer's shapes from `input`; throws naming the layer that no longer fits.
void reinfer_shapes(std::vector<LayerSpec>& specs, const Shape& input, const std::string& context);

// Variant id from its transforms: each sanitized ("prune fc1 90%" -> "prune-fc1-90"), joined
// with '+'; a run of prunes of the same layers (iterative pruning) shows only its last level.
std::string variant_id(const std::vector<std::string>& transforms);

// Walks schema.catalog.steps on specs; throws Error(Schema) at the step (file:line:col) whose
// pass cannot apply to its parent.
void check_plan(const Schema& schema);

// Every variant a build of `schema` makes (its catalog steps, or the default sweep when it has
// none), in build order, each id once (a chain the sweep already built is reused, not rebuilt),
// the base model not included. Throws as check_plan() does.
std::vector<PlannedVariant> plan_variants(const Schema& schema);

// What the build executes (compiler/sweep): every level of every step in build order, the
// skipped ones included, each with its recipe and its parent's position. Position p is
// element p - 1. Each built variant is a function of its parent, its recipe and its ordinal
// alone, so any subset whose parents are available can be built anywhere (build jobs).
std::vector<PlannedVariant> plan_build(const Schema& schema);

}  // namespace mcdnn
