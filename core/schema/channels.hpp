// Coupled channels (DepGraph, Fang et al., CVPR'23): which channels of a network must be cut
// together. Torch-free: the planner (plan.cpp) and the narrow pass (compiler/passes) both use it,
// so what `--check` plans is what the build makes.
//
// Every tensor's channels are a list of segments, each a run of one *group*'s channels. An
// ungrouped conv2d or a linear layer starts a new group (its output rows); batchnorm,
// activations, pooling, dropout and a depthwise conv keep their input's segments (their rows are
// the group's channels); flatten keeps them with h*w features per channel; concat joins its
// inputs' segment lists; add and mul merge their inputs' groups position by position (one group
// then: every layer writing into a residual sum, the squeeze-excite gate and the tensor it gates).
// A group is cut at the same channel indices everywhere: the producers' rows, the batchnorms' and
// depthwise convs' channels, and the columns of every layer that reads it (at the group's offset
// in that layer's input, h*w columns per channel after a flatten).
//
// A group cannot be cut when it holds the network input or the class logits, when a grouped
// (not depthwise) conv reads or writes it, or when an add or mul joins it to a differently split
// tensor; ChannelGroup::fixed says which.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nn/layer.hpp"

namespace mcdnn {

struct ChannelSeg {
  int group = 0;
  int64_t count = 0;  // channels
  int64_t hw = 1;     // features per channel (h*w after a flatten, else 1)
};

struct ChannelGroup {
  int64_t channels = 0;
  std::string fixed;                // why it cannot be cut ("" = it can)
  bool logits = false;              // it holds the class logits
  std::vector<size_t> producers;    // ungrouped conv2d / linear layers whose output rows are its channels
  std::vector<size_t> channelwise;  // depthwise convs and batchnorms with its channels as rows
  std::vector<size_t> readers;      // ungrouped conv2d / linear layers reading it as input columns
};

struct ChannelMap {
  std::vector<std::vector<ChannelSeg>> out;  // per layer: its output's segments
  std::vector<std::vector<ChannelSeg>> in;   // per layer: its first input's segments
  std::vector<ChannelGroup> groups;
  // The group of a conv2d (ungrouped) or linear layer's output rows; -1 for any other layer.
  int group_of(size_t layer) const;
  // Every layer that holds one of the group's channels (producers, channel-wise, readers), sorted.
  std::vector<size_t> touched(int group) const;
};

ChannelMap channel_map(const std::vector<LayerSpec>& layers);

// Kept channel indices per group (ascending; groups not named keep everything).
using KeptChannels = std::map<int, std::vector<int64_t>>;

// The specs after cutting: producers' `out` and depthwise convs' `out`/`groups` set, shapes
// re-inferred from `input` (errors name `context`).
std::vector<LayerSpec> cut_specs(const std::vector<LayerSpec>& layers, const ChannelMap& m, const std::map<int, int64_t>& counts,
                                 const Shape& input, const std::string& context);

// Indices of a layer's weight rows (dim 0: output channels or features) and columns (dim 1:
// input channels of an ungrouped conv, input features of a linear layer) that a cut keeps;
// empty when the cut leaves that dimension whole.
std::vector<int64_t> kept_rows(const ChannelMap& m, size_t layer, const KeptChannels& kept);
std::vector<int64_t> kept_cols(const std::vector<LayerSpec>& layers, const ChannelMap& m, size_t layer, const KeptChannels& kept);

// A residual block's removal: the layers of the branch of an add (those only it reads), the add
// itself, and where the add's readers read instead (the shortcut). Or a plain layer's: a conv2d
// or linear with the batchnorm and activations right after it, its readers reading its input.
struct RemovalPlan {
  std::vector<size_t> erased;  // ascending
  int replacement = -1;        // old index the readers of the last erased layer read instead (-1: network input)
  size_t last = 0;             // the erased layer whose readers are redirected
  bool residual = false;       // a branch removed: every kept layer keeps its shapes
};
// `name`: a layer (conv2d / linear: a plain removal; add: its branch) or a block instance (its
// one residual add). Throws Error(Schema) saying why it cannot be removed.
RemovalPlan plan_removal(const std::vector<LayerSpec>& layers, const std::string& name, const std::string& variant);
// The specs without the erased layers, `from` re-indexed (shapes not re-inferred).
std::vector<LayerSpec> erase_layers(const std::vector<LayerSpec>& layers, const RemovalPlan& r);

}  // namespace mcdnn
