// Graph variants end to end below the compiler: a graph (residual add, depthwise and grouped
// convs, a squeeze-excite gate, dilation, concat, relu6/hardswish/sigmoid) built as a LibTorch
// Net, stored in every form in a version-2 variant file, read back and run by the executor
// against LibTorch on the same stored weights.
#include <cmath>

#include "catch.hpp"
#include "catalog/variant_file.hpp"
#include "fixtures.hpp"
#include "model.hpp"
#include "nn/net.hpp"
#include "stored_net.hpp"
#include "profile/profile.hpp"
#include "schema/schema.hpp"
#include "util/h5.hpp"
#include <torch/torch.h>

using namespace mcdnn;
using namespace mcdnn::exec;

namespace {

const char* kGraph =
    "format: mcdnn-schema/1\nname: g\ninput: {channels: 3, height: 9, width: 7}\nclasses: 5\n"
    "blocks:\n"
    "  res:\n"
    "    params: [c]\n"
    "    layers:\n"
    "      - conv2d: {name: c1, out: $c, kernel: 3, padding: 1, bias: false}\n"
    "      - batchnorm\n"
    "      - relu\n"
    "      - conv2d: {name: c2, out: $c, kernel: 1}\n"
    "      - batchnorm\n"
    "      - add: {from: [bn2, input]}\n"
    "      - relu\n"
    "network:\n"
    "  - conv2d: {name: stem, out: 6, kernel: 3, stride: 2, padding: 1}\n"  // 6x5x4
    "  - batchnorm\n"
    "  - relu6\n"
    "  - block: {use: res, name: s1, with: {c: 6}}\n"
    "  - conv2d: {name: dw, out: 6, kernel: 3, padding: 2, dilation: 2, groups: 6}\n"
    "  - hardswish: {name: hs}\n"
    "  - globalavgpool: {name: sq}\n"
    "  - conv2d: {name: se1, out: 3, kernel: 1}\n"
    "  - relu\n"
    "  - conv2d: {name: se2, out: 6, kernel: 1}\n"
    "  - sigmoid: {name: gate}\n"
    "  - mul: {name: scale, from: [hs, gate]}\n"
    "  - conv2d: {name: g2, out: 4, kernel: 1, groups: 2, bias: false}\n"
    "  - conv2d: {name: wide, from: scale, out: 5, kernel: [3, 1], padding: [1, 0]}\n"
    "  - concat: {from: [g2, wide]}\n"
    "  - maxpool: {kernel: 2}\n"
    "  - flatten\n"
    "  - dropout\n"
    "  - linear: {name: fc, out: 5}\n";

// Every weight layer in `storage`; s1.c2 (a 1x1 conv), `wide` and `fc` low-rank (rank 2).
std::vector<LayerSpec> graph_layers(const std::string& storage, bool sparse) {
  Schema s = parse_schema_string(kGraph, "g.yaml", "");
  for (auto& l : s.layers) {
    if (l.kind == LayerKind::Conv2d || l.kind == LayerKind::Linear) l.storage = storage, l.sparse = sparse;
    if (l.name == "s1.c2" || l.name == "wide" || l.name == "fc") l.repr = "lowrank", l.rank = 2;
  }
  return s.layers;
}

Net build(const std::vector<LayerSpec>& L, VariantFile* f, uint32_t seed) {
  return test::stored_net(L, Shape{3, 9, 7, false}, 5, "g", seed, f);
}

}  // namespace

TEST_CASE("graph executor: logits match LibTorch on the same stored weights, every storage, batch 1 and 3", "[graph][executor]") {
  test::TempDir dir;
  for (const char* fmt : {"f32", "f16", "int8", "cb4"})
    for (bool sparse : {false, true}) {
      VariantFile f;
      Net net = build(graph_layers(fmt, sparse), &f, 7);
      write_variant_file(dir / "v.h5", f);
      {
        h5::quiet();
        auto file = h5::open_file(dir / "v.h5");
        CHECK(h5::attr_i64(file.id(), "format_version") == 2);
      }
      const VariantFile back = read_variant_file(dir / "v.h5");
      REQUIRE(back.layers.size() == f.layers.size());
      for (size_t i = 0; i < f.layers.size(); ++i) {
        CHECK(back.layers[i].from == f.layers[i].from);
        CHECK(back.layers[i].groups == f.layers[i].groups);
        CHECK(back.layers[i].dh == f.layers[i].dh);
      }
      Model m = Model::from_file(back);
      for (int64_t n : {1, 3}) {
        INFO(fmt << (sparse ? " sparse" : " dense") << " batch " << n);
        torch::manual_seed(static_cast<uint64_t>(n));
        const torch::Tensor x = torch::randn({n, 3, 9, 7});
        torch::Tensor ref;
        {
          torch::NoGradGuard ng;
          ref = net->forward(x).contiguous();
        }
        std::vector<float> got(static_cast<size_t>(n * 5));
        m.run(x.data_ptr<float>(), n, got.data());
        double worst = 0, scale = 0;
        for (int64_t i = 0; i < n * 5; ++i) {
          worst = std::max(worst, std::fabs(static_cast<double>(got[static_cast<size_t>(i)]) - ref.data_ptr<float>()[i]));
          scale = std::max(scale, std::fabs(static_cast<double>(ref.data_ptr<float>()[i])));
        }
        INFO("max |diff| " << worst << ", largest logit " << scale);
        // Float: summation order only. int8 runs integer products (activations rounded to 8 bits).
        CHECK(worst <= (std::string(fmt) == "int8" ? 2e-2 : 1e-4) * (1 + scale));
      }
    }
}

TEST_CASE("graph executor: fusions follow the graph, and a chain is still written as version 1", "[graph][executor]") {
  VariantFile f;
  build(graph_layers("f32", false), &f, 3);
  Model m = Model::from_file(f);
  std::vector<std::string> names;
  for (const auto& s : m.steps()) names.push_back(s.name);
  // The block's second batchnorm feeds the add (read once): folded; the add fuses its relu;
  // hs is read twice (squeeze and gate), so it stays a step of its own.
  CHECK(std::find(names.begin(), names.end(), "stem+bn1+relu6_1") != names.end());
  CHECK(std::find(names.begin(), names.end(), "s1.c2+s1.bn2") != names.end());
  CHECK(std::find(names.begin(), names.end(), "s1.add1+s1.relu2") != names.end());
  CHECK(std::find(names.begin(), names.end(), "dw+hs") != names.end());
  CHECK_FALSE(m.steps().empty());

  test::TempDir dir;
  VariantFile chain = f;
  Schema s = parse_schema_string(
      "format: mcdnn-schema/1\nname: c\ninput: {channels: 3, height: 9, width: 7}\nclasses: 5\nnetwork:\n  - conv2d: {out: 4, kernel: 3}\n"
      "  - relu\n  - flatten\n  - linear: {out: 5}\n",
      "c.yaml", "");
  build(s.layers, &chain, 5);
  write_variant_file(dir / "c.h5", chain);
  h5::quiet();
  auto file = h5::open_file(dir / "c.h5");
  CHECK(h5::attr_i64(file.id(), "format_version") == 1);
}

TEST_CASE("graph executor: one arena reused as lifetimes end, within the profile's peak", "[graph][executor]") {
  // The shipped residual and inverted-residual networks: the plan packs the images and every
  // step's output into an arena a fraction of their sum, equal to the profile's peak of live
  // activations (its rule: inputs and outputs of the running layer, element-wise layers in place;
  // the executor's fused steps never hold more).
  for (const char* name : {"fashion-resnet.yaml", "fashion-mobilenet.yaml"}) {
    INFO(name);
    const Schema s = parse_schema_file(std::string(MCDNN_SOURCE_DIR) + "/schemas/" + name);
    VariantFile f;
    test::stored_net(s.layers, s.input, s.num_classes, "m", 3, &f);
    const Model m = Model::from_file(f);
    const Profile p = profile_layers(s.layers);
    CHECK(m.arena_floats() > 0);
    CHECK(3 * m.arena_floats() < m.unshared_floats());
    CHECK(static_cast<int64_t>(sizeof(float)) * m.arena_floats() == p.activation_bytes);
  }
  // The concat graph above (its inputs written in place as slices of its output): reuse within
  // the profile's peak but for the flatten's copy, and the same logits run after run (the LibTorch comparison above checks
  // them against the reference on every storage).
  VariantFile f;
  const auto layers = graph_layers("f32", false);
  build(layers, &f, 4);
  Model m = Model::from_file(f);
  CHECK(m.arena_floats() < m.unshared_floats());
  // The profile flattens in place; the executor's flatten copies (a batch of n transposes).
  int64_t flat = 0;
  for (const auto& st : m.steps())
    if (st.kind == Step::Flatten) flat = st.out.numel();
  CHECK(flat > 0);
  CHECK(static_cast<int64_t>(sizeof(float)) * (m.arena_floats() - flat) <= profile_layers(layers).activation_bytes);
  std::vector<float> x(3 * 3 * 9 * 7), a(15), b(15);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * static_cast<float>(i));
  m.run(x.data(), 3, a.data());
  m.run(x.data(), 3, b.data());  // a second run over the reused arena: nothing left over matters
  CHECK(a == b);
}

TEST_CASE("graph executor: an add that reads its in-place input twice sums it twice", "[graph][executor]") {
  const Schema s = parse_schema_string(
      "format: mcdnn-schema/1\nname: a\ninput: {channels: 2, height: 4, width: 4}\nclasses: 3\nnetwork:\n"
      "  - conv2d: {name: x, out: 3, kernel: 1}\n  - conv2d: {name: y, out: 3, kernel: 3, padding: 1, from: input}\n"
      "  - add: {name: s, from: [x, y, x]}\n  - flatten\n  - linear: {out: 3}\n",
      "a.yaml", "");
  VariantFile f;
  Net net = test::stored_net(s.layers, s.input, 3, "a", 5, &f);
  Model m = Model::from_file(f);
  torch::manual_seed(4);
  const torch::Tensor x = torch::randn({2, 2, 4, 4});
  torch::Tensor ref;
  {
    torch::NoGradGuard ng;
    ref = net->forward(x).contiguous();
  }
  std::vector<float> got(6);
  m.run(x.data_ptr<float>(), 2, got.data());
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == Approx(ref.data_ptr<float>()[i]).margin(1e-4));
}
