// The schema's `network` (and `blocks`): layers in execution order, each with its inputs
// resolved to earlier layers and its shapes inferred. A chain needs no `from`; a graph names
// inputs (`from: stem`, `from: [a, b]`), and a block written once under `blocks` is
// instantiated with parameters (`- block: {use: basic, name: stage2.block1, with: {out: 128}}`;
// its layers are named `stage2.block1.conv1`, ...). schemas/README.md is the reference.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "nn/layer.hpp"
#include "util/yaml_cursor.hpp"

namespace mcdnn {

// Parses `network` (with the optional `blocks` mapping) for a network taking `input`; fails
// with Error(Schema) at file:line:col on the first problem: an unknown kind or key, a `from`
// naming an unknown or later layer (so there are no cycles), inputs whose shapes do not fit
// (add, concat, mul: both shapes and both producers named), groups that do not divide the
// channels, a layer whose output nothing reads, a block parameter missing or unknown.
std::vector<LayerSpec> parse_network(const Cursor& network, const std::optional<Cursor>& blocks, const Shape& input);

}  // namespace mcdnn
