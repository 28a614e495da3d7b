// Networks that are graphs: `from`, add/concat/mul, grouped and dilated convolutions, the new
// activations and blocks — parsed, shape-checked and profiled (counts by hand and against
// torchvision's), and refused by name by the stages that run chains only.
#include <chrono>
#include <filesystem>
#include <string>

#include "catch.hpp"
#include "fixtures.hpp"
#include "profile/profile.hpp"
#include "schema/plan.hpp"
#include "schema/schema.hpp"
#include "catalog/catalog_index.hpp"
#include "compile.hpp"
#include "catalog/variant_file.hpp"
#include "model.hpp"
#include "util/h5.hpp"
#include <cmath>
#include <random>
#include <sstream>
#include "util/error.hpp"

using namespace mcdnn;
using namespace mcdnn::test;

namespace {

const std::string kHead =
    "format: mcdnn-schema/1\nname: g\ninput: {channels: 4, height: 8, width: 8}\nclasses: 3\n";  // lines 1-4
const std::string kTail = "  - globalavgpool\n  - flatten\n  - linear: {out: 3}\n";

std::string error_of(const std::string& text) {
  try {
    parse_schema_string(text, "t.yaml", "");
  } catch (const Error& e) {
    CHECK(e.exit_code() == 3);
    return e.what();
  }
  return "(no error)";
}

Schema schema_file(const char* name) { return parse_schema_file(std::string(MCDNN_SOURCE_DIR) + "/schemas/" + name); }

size_t index_of(const Schema& s, const std::string& name) {
  for (size_t i = 0; i < s.layers.size(); ++i)
    if (s.layers[i].name == name) return i;
  FAIL("no layer " << name);
  return 0;
}

}  // namespace

TEST_CASE("graph: torchvision's ResNet-18 and MobileNetV2 counts are reproduced exactly", "[graph][profile]") {
  const auto t0 = std::chrono::steady_clock::now();
  const Schema r = schema_file("resnet18.yaml");
  const Profile rp = profile_layers(r.layers);
  CHECK(rp.params == 11689512);         // torchvision.models.resnet18()
  CHECK(rp.flops == 2 * 1814073344LL);  // multiply-adds of convs + fc, derived in schemas/README.md
  // The peak: maxpool's 64x112x112 input and 64x56x56 output.
  CHECK(rp.activation_bytes == 4 * (64 * 112 * 112 + 64 * 56 * 56));
  const size_t down = index_of(r, "layer2.0.downsample");
  REQUIRE(r.layers[down].from.size() == 1);
  CHECK(r.layers[static_cast<size_t>(r.layers[down].from[0])].name == "layer1.1.relu2");  // the block's input
  CHECK(r.layers[down].out_shape.str() == "128x28x28");
  const size_t add = index_of(r, "layer2.0.add");
  CHECK(r.layers[add].from == std::vector<int>{static_cast<int>(index_of(r, "layer2.0.bn2")), static_cast<int>(down + 1)});

  const Schema m = schema_file("mobilenet_v2.yaml");
  const Profile mp = profile_layers(m.layers);
  CHECK(mp.params == 3504872);         // torchvision.models.mobilenet_v2()
  CHECK(mp.flops == 2 * 300774272LL);  // derived in schemas/README.md
  // The peak: features.2's depthwise conv, its 96x112x112 input and 96x56x56 output.
  CHECK(mp.activation_bytes == 4 * (96 * 112 * 112 + 96 * 56 * 56));
  const LayerSpec& dw = m.layers[index_of(m, "features.2.dw")];
  CHECK(dw.groups == 96);
  CHECK(tensors_of(dw)[0].shape == std::vector<int64_t>{96, 1, 3, 3});
  CHECK(mp.layers[index_of(m, "features.2.dw")].flops == 2LL * 96 * 56 * 56 * 9);
  CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 2.0);
  // Both are graphs: every stage that takes chains only says so, naming the first graph layer.
  CHECK(graph_refusal(r, "x").find("layer 'layer1.0.add' uses add") == 0);
  CHECK(graph_refusal(m, "x").find("layer 'features.0.relu' uses relu6") == 0);
  CHECK(graph_refusal(schema_file("vgg16.yaml"), "x").empty());
}

TEST_CASE("graph: a residual block by hand — inputs, shapes, ops, live activations", "[graph][profile]") {
  const Schema s = parse_schema_string(
      "format: mcdnn-schema/1\nname: r\ninput: {channels: 2, height: 6, width: 6}\nclasses: 3\n"
      "blocks:\n"
      "  res:\n"
      "    layers:\n"
      "      - conv2d: {name: c1, out: 4, kernel: 3, padding: 1, bias: false}\n"
      "      - batchnorm\n"
      "      - relu\n"
      "      - conv2d: {name: c2, out: 4, kernel: 1, bias: false}\n"
      "      - add: {from: [c2, input]}\n"
      "network:\n"
      "  - conv2d: {name: stem, out: 4, kernel: 3, padding: 1}\n"
      "  - relu: {name: r0}\n"
      "  - block: {use: res, name: s1.b1}\n" +
          kTail,
      "t.yaml", "");
  std::vector<std::string> names;
  for (const auto& l : s.layers) names.push_back(l.name);
  CHECK(names == std::vector<std::string>{"stem", "r0", "s1.b1.c1", "s1.b1.bn1", "s1.b1.relu1", "s1.b1.c2", "s1.b1.add1", "gap1",
                                          "flatten1", "fc1"});
  CHECK(s.layers[2].from.empty());  // the block's first layer reads the block's input: the layer before
  CHECK(s.layers[6].from == std::vector<int>{5, 1});
  REQUIRE(s.layers[6].ins.size() == 2);
  CHECK(s.layers[6].ins[1].str() == "4x6x6");
  CHECK(s.layers[7].out_shape.str() == "4x1x1");
  CHECK(graph_feature(s.layers, 2).empty());
  CHECK(graph_feature(s.layers, 6) == "add");

  const Profile p = profile_layers(s.layers);
  CHECK(p.params == (4 * 2 * 9 + 4) + 4 * 4 * 9 + 8 + 4 * 4 + (4 * 3 + 3));
  CHECK(p.flops == 2 * (4 * 36 * 18 + 4 * 36 * 36 + 4 * 36 * 4 + 4 * 3));
  CHECK(p.layers[6].other_ops == 144);  // one add per element
  CHECK(p.layers[7].other_ops == 144);  // global pooling: one op per input element
  CHECK(p.layers[6].from == std::vector<std::string>{"s1.b1.c2", "r0"});
  // Live floats per step: the block's input (r0, in place over stem's output) stays alive until
  // the add; bn and relu run in place; the add writes over c2's output.
  const std::vector<int64_t> live = {72 + 144, 144, 144 + 144, 288, 288, 144 * 3, 144 * 2, 144 + 4, 4, 4 + 3};
  for (size_t i = 0; i < live.size(); ++i) {
    INFO(s.layers[i].name);
    CHECK(p.layers[i].activation_bytes == 4 * live[i]);
  }
  CHECK(p.activation_bytes == 4 * 432);
}

TEST_CASE("graph: depthwise, grouped, dilated convs, squeeze-excite and concat by hand", "[graph][profile]") {
  const Schema s = parse_schema_string(
      "format: mcdnn-schema/1\nname: dw\ninput: {channels: 4, height: 6, width: 6}\nclasses: 3\n"
      "network:\n"
      "  - conv2d: {name: expand, out: 8, kernel: 1, bias: false}\n"                                     // 0: 8x6x6
      "  - relu6: {name: e6}\n"                                                                          // 1
      "  - conv2d: {name: dw, out: 8, kernel: 3, stride: 2, padding: 1, groups: 8, bias: false}\n"       // 2: 8x3x3
      "  - hardswish: {name: hs}\n"                                                                      // 3
      "  - globalavgpool: {name: sq}\n"                                                                  // 4: 8x1x1
      "  - conv2d: {name: se1, out: 2, kernel: 1}\n"                                                     // 5
      "  - relu: {name: se_r}\n"                                                                         // 6
      "  - conv2d: {name: se2, out: 8, kernel: 1}\n"                                                     // 7
      "  - sigmoid: {name: gate}\n"                                                                      // 8
      "  - mul: {name: scale, from: [hs, gate]}\n"                                                       // 9: 8x3x3
      "  - conv2d: {name: g2, out: 4, kernel: 1, groups: 2, bias: false}\n"                              // 10: 4x3x3
      "  - conv2d: {name: dil, from: scale, out: 2, kernel: 3, padding: 2, dilation: 2, bias: false}\n"  // 11: 2x3x3
      "  - concat: {name: cat, from: [g2, dil]}\n"                                                       // 12: 6x3x3
      "  - globalavgpool\n  - flatten\n  - linear: {out: 3}\n",
      "t.yaml", "");
  const Profile p = profile_layers(s.layers);
  CHECK(tensors_of(s.layers[2])[0].shape == std::vector<int64_t>{8, 1, 3, 3});
  CHECK(p.layers[2].flops == 2 * 8 * 9 * 9);
  CHECK(tensors_of(s.layers[10])[0].shape == std::vector<int64_t>{4, 4, 1, 1});
  CHECK(p.layers[10].flops == 2 * 4 * 9 * 4);
  CHECK(s.layers[11].out_shape.str() == "2x3x3");  // span 5 with padding 2 keeps 3x3
  CHECK(p.layers[11].flops == 2 * 2 * 9 * 8 * 9);
  CHECK(s.layers[12].out_shape.str() == "6x3x3");
  CHECK(p.layers[1].other_ops == 2 * 288);  // relu6: two comparisons
  CHECK(p.layers[3].other_ops == 5 * 72);   // hardswish
  CHECK(p.layers[8].other_ops == 4 * 8);    // sigmoid
  CHECK(p.layers[9].other_ops == 72);       // the gate's multiplies
  CHECK(p.layers[12].other_ops == 0);       // concat copies nothing here
  CHECK(p.params == 32 + 72 + (2 * 8 + 2) + (8 * 2 + 8) + 16 + 2 * 8 * 9 + (6 * 3 + 3));
  // Live floats: the squeeze-excite branch runs while hs (72) is held for the gate.
  CHECK(p.layers[5].activation_bytes == 4 * (72 + 8 + 2));
  CHECK(p.layers[9].activation_bytes == 4 * (72 + 8));  // the mul writes over hs
  // g2 and dil read `scale` (72) and write straight into the concat's 54-float buffer.
  CHECK(p.layers[10].activation_bytes == 4 * (72 + 54));
  CHECK(p.layers[12].activation_bytes == 4 * 54);
  CHECK(p.activation_bytes == 4 * (144 + 288));  // expand: its input and output
}

TEST_CASE("graph: concat inputs become slices only when the concat alone reads them", "[graph][profile]") {
  const std::string net =
      "network:\n"
      "  - conv2d: {name: a, out: 3, kernel: 1}\n"
      "  - conv2d: {name: b, from: input, out: 5, kernel: 1}\n"
      "  - concat: {from: [a, b]}\n";
  const Schema s = parse_schema_string(
      "format: mcdnn-schema/1\nname: c\ninput: {channels: 2, height: 4, width: 4}\nclasses: 3\n" + net + kTail, "t.yaml", "");
  const Profile p = profile_layers(s.layers);
  // a and b write into one 128-float buffer: input (32) + buffer at every step until the concat.
  CHECK(p.layers[0].activation_bytes == 4 * (32 + 128));
  CHECK(p.layers[1].activation_bytes == 4 * (32 + 128));
  CHECK(p.layers[2].activation_bytes == 4 * 128);
  // When `a` is also read by a later add, the concat copies: a, b and the concat output are live.
  const Schema t = parse_schema_string("format: mcdnn-schema/1\nname: c\ninput: {channels: 2, height: 4, width: 4}\nclasses: 3\n" +
                                           net + "  - conv2d: {name: d, out: 3, kernel: 1}\n  - add: {from: [d, a]}\n" + kTail,
                                       "t.yaml", "");
  const Profile q = profile_layers(t.layers);
  CHECK(q.layers[2].activation_bytes == 4 * (48 + 80 + 128));
}

TEST_CASE("graph: each schema error is one exact message", "[graph][schema]") {
  struct Case {
    std::string text, error;
  };
  const std::string kBlock =
      "blocks:\n"
      "  res:\n"
      "    params: {out: ~, k: 3}\n"
      "    layers:\n"
      "      - conv2d: {name: c, out: $out, kernel: $k, padding: 1}\n"
      "      - relu\n"
      "      - add: {from: [relu1, input]}\n";
  const Case cases[] = {
      {kHead + "network:\n  - conv2d: {name: a, out: 4, kernel: 3, padding: 1}\n  - add: {from: [a, b]}\n" + kTail,
       "t.yaml:7:21: network[1].add.from[1]: 'b' names no layer; did you mean 'a'? (`input` is the network's input; inside a block, "
       "its own layers are named without the instance prefix)"},
      {kHead + "network:\n  - conv2d: {name: a, out: 4, kernel: 3, padding: 1, from: c}\n  - conv2d: {name: c, out: 4, kernel: 3, "
               "padding: 1}\n  - add: {from: [a, c]}\n" + kTail,
       "t.yaml:6:60: network[0].conv2d.from: 'c' comes later (t.yaml:7:5: network[1]); a layer takes only the outputs of layers "
       "before it, so the network runs in the order written and has no cycles"},
      {kHead + "network:\n  - conv2d: {name: a, out: 4, kernel: 3, padding: 1, from: a}\n" + kTail,
       "t.yaml:6:60: network[0].conv2d.from: 'a' is this layer itself; a layer cannot take its own output"},
      {kHead + "network:\n  - conv2d: {name: a, out: 8, kernel: 3, padding: 1}\n  - add: {from: [a, input]}\n" + kTail,
       "t.yaml:7:5: network[1]: add 'add1': inputs must have one shape: 'a' is 8x8x8, 'input' is 4x8x8"},
      {kHead + "network:\n  - conv2d: {name: a, out: 8, kernel: 3, stride: 2, padding: 1}\n  - concat: {from: [a, input]}\n" + kTail,
       "t.yaml:7:5: network[1]: concat 'concat1': inputs must agree in height and width (channels are joined): 'a' is 8x4x4, "
       "'input' is 4x8x8"},
      {kHead + "network:\n  - conv2d: {name: a, out: 8, kernel: 1}\n  - globalavgpool: {name: g}\n  - conv2d: {name: s, out: 4, "
               "kernel: 1}\n  - mul: {from: [a, s]}\n" + kTail,
       "t.yaml:9:5: network[3]: mul 'mul1': expected a tensor then a gate of 8x1x1 (squeeze-excite) or of its own shape 8x8x8: 'a' "
       "is 8x8x8, 's' is 4x1x1"},
      {kHead + "network:\n  - conv2d: {out: 6, kernel: 3, groups: 4}\n" + kTail,
       "t.yaml:6:5: network[0]: conv2d 'conv1' with input 4x8x8: groups 4 must divide both the input channels (4) and `out` (6); "
       "depthwise is groups = in channels = out"},
      {kHead + "network:\n  - conv2d: {out: 4, kernel: 3, dilation: 4}\n" + kTail,
       "t.yaml:6:5: network[0]: conv2d 'conv1' with input 4x8x8: kernel 3x3 (dilation 4x4) does not fit the 8x8 input (padding "
       "0x0); use a smaller kernel or more padding"},
      {kHead + "network:\n  - conv2d: {name: a, out: 4, kernel: 1}\n  - conv2d: {name: b, out: 4, kernel: 1, from: input}\n" + kTail,
       "t.yaml:6:5: network[0]: the output of 'a' is read by no later layer (the network's output is its last layer); remove the "
       "layer or name it in a later layer's `from`"},
      {kHead + "network:\n  - add: {from: input}\n" + kTail, "t.yaml:6:17: network[0].add.from: add takes at least 2 inputs, found 1"},
      {kHead + "network:\n  - relu: {from: [input, input]}\n" + kTail,
       "t.yaml:6:18: network[0].relu.from: relu takes one input (`from: NAME`), found 2"},
      {kHead + "network:\n  - add\n" + kTail,
       "t.yaml:6:5: network[0]: add: missing required key 'from' (the layers it joins, e.g. `- add: {from: [bn2, input]}`)"},
      {kHead + "network:\n  - conv2d: {out: $c, kernel: 3}\n" + kTail,
       "t.yaml:6:19: network[0].conv2d.out: '$c' reads a block parameter, but this layer is not inside a block (write `$name` only "
       "in the layers of a block under `blocks`)"},
      {kHead + "network:\n  - relu: {name: input}\n" + kTail,
       "t.yaml:6:18: network[0].relu.name: 'input' names the network's (or a block's) input in `from`; choose another layer name"},
      {kHead + kBlock + "network:\n  - block: {use: rez, name: s1.b1, with: {out: 4}}\n" + kTail,
       "t.yaml:13:18: network[0].block.use: no block named 'rez'; did you mean 'res'? (blocks: res)"},
      {kHead + kBlock + "network:\n  - block: {use: res, name: s1.b1}\n" + kTail,
       "t.yaml:13:12: network[0].block: block 'res' needs parameter 'out' (give it in `with: {out: ...}`)"},
      {kHead + kBlock + "network:\n  - block: {use: res, name: s1.b1, with: {out: 4, kk: 2}}\n" + kTail,
       "t.yaml:13:55: network[0].block.with.kk: block 'res' has no parameter 'kk'; did you mean 'k'?"},
      {kHead + kBlock + "network:\n  - block: {use: res, name: s1.b1, with: {out: four}}\n" + kTail,
       "t.yaml:13:48: network[0].block.with.out: expected an integer, got 'four' [in block instance 's1.b1', t.yaml:13:5: "
       "network[0]]"},
      {kHead + kBlock + "network:\n  - block: {use: res, name: s1.b1, with: {out: 8}}\n" + kTail,
       "t.yaml:11:9: blocks.res.layers[2]: add 's1.b1.add1': inputs must have one shape: 's1.b1.relu1' is 8x8x8, 'input' is 4x8x8 "
       "[in block instance 's1.b1', t.yaml:13:5: network[0]]"},
      {kHead + kBlock + "network:\n  - relu\n" + kTail,
       "t.yaml:7:5: blocks.res: block 'res' is defined but no `network` entry uses it; remove it or instantiate it"},
      {kHead + kBlock + "network:\n  - block: {use: res, name: s1, with: {out: 4}}\n  - block: {use: res, name: s1, with: {out: 4}}\n" +
           kTail,
       "t.yaml:9:9: blocks.res.layers[0]: duplicate layer name 's1.c' [in block instance 's1', t.yaml:14:5: network[1]]"},
      {kHead + "blocks:\n  b:\n    layers:\n      - conv2d: {out: $x, kernel: 1}\n      - relu\nnetwork:\n  - block: {use: b, name: "
               "s}\n" + kTail,
       "t.yaml:8:23: blocks.b.layers[0].conv2d.out: block 'b' has no parameter 'x' (it declares none: add `params`) [in block "
       "instance 's', t.yaml:11:5: network[0]]"},
      {kHead + "blocks:\n  b:\n    layers:\n      - block: {use: b, name: t}\nnetwork:\n  - block: {use: b, name: s}\n" + kTail,
       "t.yaml:8:9: blocks.b.layers[0]: a block cannot contain a block; write its layers out, or instantiate both blocks in "
       "`network`"},
      // Specialization retrains the last layers from one tensor: not across a skip connection.
      {kHead + "network:\n  - conv2d: {name: a, out: 4, kernel: 1}\n  - conv2d: {name: b, out: 4, kernel: 1}\n  - conv2d: {name: c, "
               "out: 4, kernel: 1}\n  - add: {from: [c, a]}\n" + kTail + "specialize: {sets: [[0, 1]], retrain_layers: 2}\n",
       "t.yaml:13:46: specialize.retrain_layers: variant 'base': retraining its last 2 weight layers (from c) cuts through a skip "
       "connection: the retrained part reads outputs from before it; retrain a number of layers that starts after a block"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    CHECK(error_of(c.text) == c.error);
  }
}

TEST_CASE("cli: a graph schema is profiled with its inputs named", "[graph][cli]") {
  std::string out;
  const std::string resnet = std::string(MCDNN_SOURCE_DIR) + "/schemas/resnet18.yaml";
  REQUIRE(run_command(std::string(MCDNN_CLI) + " --profile-only " + resnet, &out) == 0);
  CHECK(out.find("layer2.0.downsample") != std::string::npos);
  CHECK(out.find("11689512") != std::string::npos);
  CHECK(out.find("layer2.0.bn2, layer2.0.downsample_bn") != std::string::npos);  // the add's inputs
  REQUIRE(run_command(std::string(MCDNN_CLI) + " --profile-only --json " + resnet, &out) == 0);
  CHECK(out.find("\"from\"") != std::string::npos);
}

namespace {

std::string graph_schema(const std::string& dir, const std::string& catalog) {
  return "format: mcdnn-schema/1\nname: tiny-graph\ninput: {channels: 1, height: 12, width: 12}\nclasses: 4\n"
         "data:\n"
         "  train: {idx: {images: " + dir + "/train-images.idx, labels: " + dir + "/train-labels.idx}}\n"
         "  validation: {idx: {images: " + dir + "/val-images.idx, labels: " + dir + "/val-labels.idx}}\n"
         "blocks:\n"
         "  res:\n"
         "    params: [c]\n"
         "    layers:\n"
         "      - conv2d: {name: c1, out: $c, kernel: 3, padding: 1, bias: false}\n"
         "      - batchnorm\n"
         "      - relu\n"
         "      - conv2d: {name: c2, out: $c, kernel: 1, bias: false}\n"
         "      - batchnorm\n"
         "      - add: {from: [bn2, input]}\n"
         "      - relu\n"
         "network:\n"
         "  - conv2d: {name: stem, out: 8, kernel: 3, padding: 1, bias: false}\n"
         "  - batchnorm\n"
         "  - hardswish\n"
         "  - block: {use: res, name: s1, with: {c: 8}}\n"
         "  - conv2d: {name: dw, out: 8, kernel: 3, stride: 2, padding: 1, groups: 8}\n"
         "  - relu6: {name: dw_act}\n"
         "  - globalavgpool: {name: sq}\n"
         "  - conv2d: {name: se1, out: 4, kernel: 1}\n"
         "  - relu\n"
         "  - conv2d: {name: se2, out: 8, kernel: 1}\n"
         "  - sigmoid\n"
         "  - mul: {name: gated, from: [dw_act, sigmoid1]}\n"
         "  - maxpool: {kernel: 2}\n"
         "  - flatten\n"
         "  - linear: {out: 16}\n"
         "  - relu\n"
         "  - linear: {out: 4}\n"
         "training: {epochs: 3, batch_size: 32, optimizer: adam, lr: 0.01, seed: 7}\n" + catalog;
}

// A harder synthetic set than make_synthetic(): the square is barely brighter than heavy noise,
// so accuracies stay well below 100% and differ between variants, and a variant whose recorded
// accuracy came from the wrong activations shows.
Synthetic hard_synthetic(int64_t n, uint32_t seed) {
  Synthetic s = make_synthetic(n, 12, 4, seed);
  std::mt19937 rng(seed + 100);
  std::uniform_int_distribution<int> noise(0, 200);
  for (int64_t i = 0; i < n; ++i) {
    uint8_t* img = &s.images[static_cast<size_t>(i * 144)];
    for (int64_t p = 0; p < 144; ++p) img[p] = static_cast<uint8_t>(img[p] >= 200 ? 12 + noise(rng) / 2 : noise(rng) / 2);
  }
  return s;
}

int compile_graph(const TempDir& dir, const std::string& out_dir, const std::string& catalog, std::string* log) {
  const std::string text = graph_schema(dir.path().string(), catalog);
  write_bytes(dir / "g.yaml", std::vector<uint8_t>(text.begin(), text.end()));
  CompileOptions opt;
  opt.schema_path = dir / "g.yaml";
  opt.out_dir = out_dir;
  opt.threads = 1;
  opt.measure_seconds = 0.01;
  std::ostringstream out, err;
  const int rc = compile(opt, out, err);
  *log = out.str() + err.str();
  return rc;
}

}  // namespace

TEST_CASE("graph: a residual, depthwise and squeeze-excite network trains, compresses, and every reader agrees", "[graph][cli]") {
  TempDir dir;
  write_synthetic_idx(hard_synthetic(480, 31), dir / "train");
  write_synthetic_idx(hard_synthetic(160, 32), dir / "val");
  const std::string catalog =
      "catalog:\n"
      "  finetune: {examples: 480, epochs: 1}\n"
      "  variants:\n"
      "    - quantize: {formats: [int8, cb4]}\n"
      "    - prune: {sparsity: [0.5], then: [{quantize: {formats: [int8]}}]}\n"
      "    - svd: {layers: [fc1, s1.c2], ranks: [1/4]}\n"
      "    - narrow: {layers: [stem], keep: [1/2], then: [{quantize: {formats: [int8]}}]}\n"
      "    - narrow: {layers: all, keep: [1/2]}\n"
      "    - remove: {layers: [s1]}\n"
      "specialize: {sets: [[0, 1]], variants: [base, quant-int8]}\n";
  std::string log;
  REQUIRE(compile_graph(dir, dir / "cat", catalog, &log) == 0);
  INFO(log);
  const CatalogIndex index = read_catalog_index(dir / "cat");
  std::vector<std::string> ids;
  for (const auto& r : index.records) ids.push_back(r.id);
  CHECK(ids == std::vector<std::string>{"base", "quant-int8", "quant-cb4", "prune-all-50", "prune-all-50+quant-int8", "svd-fc1-k4",
                                        "svd-s1.c2-k2", "narrow-stem-4", "narrow-stem-4+quant-int8", "narrow-all-50", "remove-s1",
                                        "specialize-0_1", "quant-int8+specialize-0_1"});
  // What --check planned is what was built.
  std::vector<std::string> planned{"base"};
  for (const auto& v : plan_variants(parse_schema_file(dir / "g.yaml"))) planned.push_back(v.id);
  planned.push_back("specialize-0_1"), planned.push_back("quant-int8+specialize-0_1");
  CHECK(planned == ids);
  CHECK(index.records.front().accuracy > 0.5);   // learned something
  CHECK(index.records.front().accuracy < 0.97);  // not a trivial set: the readers' agreement means something
  // The executor (mcdnn-infer) and the Python reader (numpy only) reproduce every recorded
  // accuracy to the printed digit.
  const std::string python = std::string(MCDNN_PYTHON) + " " + MCDNN_SOURCE_DIR + "/tools/mcdnn_run.py";
  for (const auto& r : index.records)
    for (const std::string& tool : {std::string(MCDNN_INFER), python}) {
      INFO(r.id << " " << tool);
      std::string out;
      REQUIRE(run_command(tool + " " + (dir / "cat") + " " + r.id + " " + (dir / "val-images.idx") + " " + (dir / "val-labels.idx") +
                              (tool == python ? "" : " --int8 float"),
                          &out) == 0);
      INFO(out);
      char want[32];
      std::snprintf(want, sizeof want, "accuracy %.2f%%", 100 * r.accuracy);
      CHECK(out.find(want) != std::string::npos);
    }
  // Logits, not only accuracies: the executor and the Python reader on the same random inputs.
  {
    std::vector<float> x(static_cast<size_t>(5 * 144));
    uint32_t st = 12345;
    for (auto& v : x) v = static_cast<float>((st = st * 1664525u + 1013904223u) >> 8) / 16777216.0f * 4.0f - 2.0f;
    h5::quiet();
    {
      auto f = h5::create_file(dir / "io.h5");
      h5::write_f32(f.id(), "x", {5, 1, 12, 12}, x.data());
    }
    for (const auto& r : index.records) {
      INFO(r.id);
      const VariantFile vf = read_variant_file(dir / ("cat/" + r.file));
      exec::Options opt;
      opt.int8 = exec::Int8Mode::Float;
      exec::Model m = exec::Model::from_file(vf, opt);
      std::vector<float> got(static_cast<size_t>(5 * m.num_classes()));
      m.run(x.data(), 5, got.data());
      std::string out;
      REQUIRE(run_command(python + " " + (dir / "cat") + " " + r.id + " " + (dir / "io.h5") + " --preprocessed --logits " +
                              (dir / ("py-" + r.id + ".h5")),
                          &out) == 0);
      auto f = h5::open_file(dir / ("py-" + r.id + ".h5"));
      std::vector<int64_t> shape;
      const auto py = h5::read_f32(f.id(), "logits", &shape);
      REQUIRE(py.size() == got.size());
      double worst = 0, scale = 0;
      for (size_t i = 0; i < py.size(); ++i) {
        worst = std::max(worst, std::fabs(static_cast<double>(py[i]) - got[i]));
        scale = std::max(scale, std::fabs(static_cast<double>(py[i])));
      }
      INFO("max |diff| " << worst << ", largest logit " << scale);
      CHECK(scale > 0.1);
      CHECK(worst <= 1e-4 * (1 + scale));
    }
  }
  // The ONNX export (Add, Mul, grouped Conv, GlobalAveragePool, Clip, Sigmoid) passes the
  // checker and runs in OpenCV's DNN module with the reader's logits and predictions.
  const std::string exporter = std::string(MCDNN_PYTHON) + " " + MCDNN_SOURCE_DIR + "/tools/mcdnn_export_onnx.py ";
  for (const char* id : {"base", "quant-int8", "prune-all-50+quant-int8", "svd-s1.c2-k2", "narrow-all-50", "remove-s1", "quant-int8+specialize-0_1"})
    for (const char* form : {"float", "compressed"}) {
      std::string out;
      const int rc = run_command(exporter + (dir / "cat") + " " + id + " " + (dir / (std::string(id) + "-" + form + ".onnx")) +
                                     " --form " + form + " --verify " + (dir / "val-images.idx") + " " + (dir / "val-labels.idx"),
                                 &out);
      INFO(id << " " << form << ":\n" << out);
      CHECK(rc == 0);
      CHECK(out.find("predictions agree on 160/160") != std::string::npos);
    }
  // Same seed, same thread count: the same bits (every variant file's SHA-256 included).
  REQUIRE(compile_graph(dir, dir / "again", catalog, &log) == 0);
  CHECK(without_timings(dir / "cat/catalog.json") == without_timings(dir / "again/catalog.json"));
  // A group that cannot be cut is refused when the schema is read, before training.
  CHECK(compile_graph(dir, dir / "narrow", "catalog:\n  variants:\n    - narrow: {layers: [fc2], keep: [1/2]}\n", &log) == 3);
  CHECK(log.find("narrow: fc2 produces the class logits and cannot be narrowed") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "narrow"));
}
