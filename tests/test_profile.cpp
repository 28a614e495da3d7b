// FLOP / parameter / byte counts against hand-computed values and published architectures.
#include <chrono>

#include "catch.hpp"
#include "profile/profile.hpp"
#include "schema/schema.hpp"

using namespace mcdnn;

namespace {
Schema schema_file(const char* name) { return parse_schema_file(std::string(MCDNN_SOURCE_DIR) + "/schemas/" + name); }
}  // namespace

TEST_CASE("conv with rectangular kernel, stride and padding is counted by hand", "[profile]") {
  Schema s = parse_schema_string(
      "format: mcdnn-schema/1\nname: odd\ninput: {channels: 3, height: 7, width: 5}\nclasses: 3\n"
      "network:\n"
      "  - conv2d: {out: 4, kernel: [3, 2], stride: [2, 1], padding: [1, 0]}\n"  // -> 4x4x4
      "  - batchnorm\n"
      "  - relu\n"
      "  - maxpool: {kernel: 3, stride: 1}\n"  // -> 4x2x2
      "  - flatten\n"                          // -> 16
      "  - linear: {out: 3, bias: false}\n",
      "t.yaml", "");
  Profile p = profile_layers(s.layers);
  const auto& conv = p.layers[0];
  CHECK(conv.params == 4 * 3 * 3 * 2 + 4);         // 76
  CHECK(conv.flops == 2 * (4 * 4 * 4) * (3 * 3 * 2)); // 2 * outputs * (Cin*kh*kw) = 2304
  CHECK(conv.other_ops == 64);                     // one bias add per output
  CHECK(conv.bytes == 76 * 4);
  CHECK(conv.activation_bytes == 4 * (3 * 7 * 5 + 64));
  const auto& bn = p.layers[1];
  CHECK(bn.params == 8);           // scale + shift
  CHECK(bn.bytes == 4 * 4 * 4);    // + running mean and variance
  CHECK(bn.other_ops == 2 * 64);
  CHECK(p.layers[2].other_ops == 64);           // relu
  CHECK(p.layers[3].other_ops == 16 * (9 - 1)); // maxpool: 8 comparisons per output
  const auto& fc = p.layers[5];
  CHECK(fc.params == 16 * 3);
  CHECK(fc.flops == 2 * 16 * 3);
  CHECK(fc.other_ops == 0);
  CHECK(p.params == 76 + 8 + 48);
  CHECK(p.flops == 2304 + 96);
  CHECK(p.bytes == 4 * (76 + 16 + 48));
  CHECK(p.activation_bytes == 4 * (3 * 7 * 5 + 64));  // the conv is the peak
}

TEST_CASE("VGG-16 reproduces its published parameter and FLOP counts exactly", "[profile]") {
  auto t0 = std::chrono::steady_clock::now();
  Profile p = profile_layers(schema_file("vgg16.yaml").layers);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(p.params == 138357544);
  CHECK(p.flops == 2 * 15470264320LL);  // 15.47 G multiply-adds = 30.94 GFLOPs
  CHECK(p.bytes == 4 * 138357544LL);
  // conv1_2: 64x224x224 in and out, the peak: 2 * 3.21 M floats.
  CHECK(p.activation_bytes == 4 * 2 * 64 * 224 * 224);
  CHECK(s < 1.0);
}

TEST_CASE("LeNet-5 reproduces its published counts", "[profile]") {
  Profile p = profile_layers(schema_file("lenet5.yaml").layers);
  CHECK(p.params == 61706);
  CHECK(p.flops == 2 * 416520);
}

TEST_CASE("the default schema has conv-dominated compute and fc-dominated memory", "[profile]") {
  Profile p = profile_layers(schema_file("fashion-mnist.yaml").layers);
  int64_t conv_flops = 0, fc1_bytes = 0;
  for (const auto& l : p.layers) {
    if (l.kind == "conv2d") conv_flops += l.flops;
    if (l.name == "fc1") fc1_bytes = l.bytes;
  }
  CHECK(conv_flops > p.flops / 2);
  CHECK(fc1_bytes > p.bytes * 9 / 10);
}

TEST_CASE("format_profile prints every layer and the totals", "[profile]") {
  Profile p = profile_layers(schema_file("lenet5.yaml").layers);
  std::string t = format_profile(p);
  for (const auto& l : p.layers) CHECK(t.find(l.name) != std::string::npos);
  CHECK(t.find("61706") != std::string::npos);
  CHECK(t.find("833040") != std::string::npos);
}

TEST_CASE("a layer's stored form reads as representation, sparsity and format, each once", "[profile]") {
  LayerSpec l;
  l.kind = LayerKind::Linear;
  CHECK(stored_form(l) == "dense f32");
  l.sparse = true;
  CHECK(stored_form(l) == "sparse f32");  // a pruned dense layer: not "dense sparse f32"
  l.storage = "int8";
  CHECK(stored_form(l) == "sparse int8");
  l.sparse = false, l.storage = "cb4", l.repr = "lowrank", l.rank = 64;
  CHECK(stored_form(l) == "lowrank k=64 cb4");
  l.sparse = true;
  CHECK(stored_form(l) == "lowrank k=64 sparse cb4");
  l.kind = LayerKind::Conv2d, l.repr = "dense", l.sparse = false, l.storage = "f16";
  CHECK(stored_form(l) == "dense f16");
  l.kind = LayerKind::BatchNorm;
  CHECK(stored_form(l).empty());
  // The profile carries it.
  Schema s = parse_schema_string(
      "format: mcdnn-schema/1\nname: t\ninput: {channels: 1, height: 4, width: 4}\nclasses: 2\n"
      "network:\n  - conv2d: {out: 2, kernel: 3}\n  - relu\n  - flatten\n  - linear: {out: 2}\n",
      "t.yaml", "");
  s.layers[3].sparse = true;
  const Profile p = profile_layers(s.layers);
  CHECK(p.layers[0].repr == "dense f32");
  CHECK(p.layers[1].repr.empty());
  CHECK(p.layers[3].repr == "sparse f32");
}
