// Coupled channels on graphs (schema/channels.hpp): the groups an add, a squeeze-excite mul, a
// depthwise conv and a concat make; narrowing cuts a group at the same indices everywhere and
// keeps the function where it drops dead channels; a residual branch goes with its shortcut
// kept; what the planner (--check) derives equals what the passes build, on every shipped schema.
#include <filesystem>
#include <fstream>
#include <iterator>

#include "catch.hpp"
#include "passes/passes.hpp"
#include "schema/channels.hpp"
#include "train/finetune.hpp"
#include "schema/plan.hpp"
#include "schema/schema.hpp"
#include "util/error.hpp"

using namespace mcdnn;

namespace {

Schema schema_of(const std::string& network, int64_t c, int64_t hw, int classes) {
  return parse_schema_string("format: mcdnn-schema/1\nname: t\ninput: {channels: " + std::to_string(c) + ", height: " + std::to_string(hw) +
                                 ", width: " + std::to_string(hw) + "}\nclasses: " + std::to_string(classes) + "\nnetwork:\n" + network,
                             "t.yaml", "");
}

Variant random_variant(const std::vector<LayerSpec>& layers, uint64_t seed = 5) {
  torch::manual_seed(seed);
  Variant v;
  v.id = "base";
  v.net = Net(layers);
  torch::NoGradGuard g;
  for (size_t i = 0; i < layers.size(); ++i)
    for (auto& t : v.net->tensors(i)) t.normal_(0, 1);
  for (size_t i = 0; i < layers.size(); ++i)
    if (layers[i].kind == LayerKind::BatchNorm) v.net->tensors(i)[3].uniform_(0.5, 2);  // variances > 0
  v.net->eval();
  return v;
}

size_t layer_at(const std::vector<LayerSpec>& layers, const std::string& name) {
  for (size_t i = 0; i < layers.size(); ++i)
    if (layers[i].name == name) return i;
  FAIL("no layer " << name);
  return 0;
}

std::vector<std::string> names(const std::vector<size_t>& idx, const std::vector<LayerSpec>& layers) {
  std::vector<std::string> n;
  for (size_t i : idx) n.push_back(layers[i].name);
  return n;
}

// A residual add, a depthwise conv, a squeeze-excite gate, a second reader of the residual sum
// and a concat before a flatten: every kind of coupling at once.
const char* kNet =
    "  - conv2d: {name: stem, out: 6, kernel: 3, padding: 1, bias: false}\n"
    "  - batchnorm: {name: stem_bn}\n"
    "  - relu: {name: stem_relu}\n"
    "  - conv2d: {name: a, out: 6, kernel: 3, padding: 1, bias: false}\n"
    "  - batchnorm: {name: a_bn}\n"
    "  - add: {name: res, from: [a_bn, stem_relu]}\n"
    "  - conv2d: {name: dw, out: 6, kernel: 3, padding: 1, groups: 6, bias: false}\n"
    "  - batchnorm: {name: dw_bn}\n"
    "  - relu6: {name: dw_act}\n"
    "  - globalavgpool: {name: sq}\n"
    "  - conv2d: {name: se1, out: 3, kernel: 1}\n"
    "  - relu: {name: se_relu}\n"
    "  - conv2d: {name: se2, out: 6, kernel: 1}\n"
    "  - sigmoid: {name: gate}\n"
    "  - mul: {name: gated, from: [dw_act, gate]}\n"
    "  - conv2d: {name: b, out: 4, kernel: 1, from: res}\n"
    "  - concat: {name: cat, from: [gated, b]}\n"
    "  - maxpool: {kernel: 2}\n"
    "  - flatten\n"
    "  - linear: {name: fc, out: 3}\n";

}  // namespace

TEST_CASE("channels: an add, a depthwise conv, a gate and a concat couple channels into groups", "[coupled]") {
  const Schema s = schema_of(kNet, 2, 6, 3);
  const ChannelMap m = channel_map(s.layers);
  const int g = m.group_of(layer_at(s.layers, "stem"));
  REQUIRE(g >= 0);
  const ChannelGroup& res = m.groups[static_cast<size_t>(g)];
  CHECK(res.channels == 6);
  CHECK(res.fixed.empty());
  CHECK(names(res.producers, s.layers) == std::vector<std::string>{"stem", "a", "se2"});
  CHECK(names(res.channelwise, s.layers) == std::vector<std::string>{"stem_bn", "a_bn", "dw", "dw_bn"});
  CHECK(names(res.readers, s.layers) == std::vector<std::string>{"a", "se1", "b", "fc"});
  CHECK(m.group_of(layer_at(s.layers, "a")) == g);
  CHECK(m.group_of(layer_at(s.layers, "se2")) == g);
  CHECK(m.group_of(layer_at(s.layers, "dw")) == -1);  // a depthwise conv holds channels, it does not start a group
  const int gb = m.group_of(layer_at(s.layers, "b"));
  CHECK(gb != g);
  CHECK(m.groups[static_cast<size_t>(m.group_of(layer_at(s.layers, "fc")))].fixed == "they are the class logits");
  CHECK(m.groups[static_cast<size_t>(m.group_of(layer_at(s.layers, "fc")))].logits);
  CHECK_FALSE(res.logits);
  CHECK(m.groups[static_cast<size_t>(m.in[0][0].group)].fixed == "they are the network input");
  // fc reads [group g: 6 channels x 3x3, group b: 4 channels x 3x3] after the concat and the flatten.
  const size_t fc = layer_at(s.layers, "fc");
  REQUIRE(m.in[fc].size() == 2);
  CHECK(m.in[fc][0].hw == 9);
  std::vector<int64_t> want;
  for (int64_t c : {0, 2, 5})
    for (int64_t p = 0; p < 9; ++p) want.push_back(c * 9 + p);
  for (int64_t f = 54; f < 90; ++f) want.push_back(f);
  CHECK(kept_cols(s.layers, m, fc, {{g, {0, 2, 5}}}) == want);
  want.clear();
  for (int64_t f = 0; f < 54; ++f) want.push_back(f);
  for (int64_t c : {1, 3})
    for (int64_t p = 0; p < 9; ++p) want.push_back(54 + c * 9 + p);
  CHECK(kept_cols(s.layers, m, fc, {{gb, {1, 3}}}) == want);
  CHECK(kept_rows(m, layer_at(s.layers, "dw"), {{g, {0, 2, 5}}}) == std::vector<int64_t>{0, 2, 5});
  CHECK(kept_rows(m, layer_at(s.layers, "dw"), {{gb, {0}}}).empty());  // untouched by another group's cut

  // The planner's specs after a cut.
  const auto specs = cut_specs(s.layers, m, {{g, 4}}, s.input, "test");
  CHECK(specs[layer_at(specs, "stem")].out == 4);
  CHECK(specs[layer_at(specs, "a")].out == 4);
  CHECK(specs[layer_at(specs, "se2")].out == 4);
  CHECK(specs[layer_at(specs, "dw")].out == 4);
  CHECK(specs[layer_at(specs, "dw")].groups == 4);
  CHECK(specs[layer_at(specs, "cat")].out_shape.c == 8);
  CHECK(specs[layer_at(specs, "fc")].in.numel() == 8 * 9);
}

TEST_CASE("channels: a grouped conv fixes the channels around it, and the logits and the input never narrow", "[coupled]") {
  const Schema s = schema_of("  - conv2d: {name: c1, out: 4, kernel: 3}\n  - conv2d: {name: g, out: 4, kernel: 1, groups: 2}\n"
                             "  - relu\n  - flatten\n  - linear: {name: fc, out: 3}\n",
                             1, 5, 3);
  const ChannelMap m = channel_map(s.layers);
  CHECK(m.groups[static_cast<size_t>(m.group_of(0))].fixed ==
        "they are read by grouped conv g (groups 2) whose groups would no longer divide them");
  PlanState p;
  p.layers = s.layers;
  try {
    rule_narrow(p, m, 0);
    FAIL("narrowed");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) ==
          "narrow: the outputs of c1 cannot be cut: they are read by grouped conv g (groups 2) whose groups would no longer divide them");
  }
  try {
    rule_narrow(p, m, 1);
    FAIL("narrowed");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("narrow: g is a grouped conv (groups 2); a depthwise conv is cut with the channels it reads") == 0);
  }
  CHECK_THROWS_WITH(rule_narrow(p, m, layer_at(s.layers, "fc")), "narrow: fc produces the class logits and cannot be narrowed");
}

TEST_CASE("narrow: every channel kept reproduces the parent's logits exactly", "[coupled][passes]") {
  const Schema s = schema_of(kNet, 2, 6, 3);
  Variant v = random_variant(s.layers);
  const ChannelMap m = channel_map(s.layers);
  std::map<int, int64_t> all;
  for (size_t g = 0; g < m.groups.size(); ++g)
    if (m.groups[g].fixed.empty()) all[static_cast<int>(g)] = m.groups[g].channels;
  CHECK(all.size() == 3);  // the residual group, se1's squeeze, b's outputs
  Variant c = narrow_groups(v, m, all, "narrow all 100%");
  c.net->eval();
  torch::NoGradGuard ng;
  auto x = torch::randn({4, 2, 6, 6});
  CHECK(torch::equal(c.net->forward(x), v.net->forward(x)));
}

TEST_CASE("narrow: a coupled group is cut at the same indices everywhere and dead channels go without changing the logits", "[coupled][passes]") {
  const Schema s = schema_of(kNet, 2, 6, 3);
  Variant v = random_variant(s.layers);
  const auto& L = s.layers;
  torch::NoGradGuard ng;
  // Channels 1 and 3 of the residual group are dead: every writer's rows and every batchnorm's
  // shift are zero there, so the residual sum, the depthwise output and the gated tensor are 0.
  for (int64_t ch : {1, 3}) {
    for (const char* w : {"stem", "a", "dw", "se2"}) v.net->tensors(layer_at(L, w))[0][ch].zero_();
    v.net->tensors(layer_at(L, "se2"))[1][ch].zero_();
    for (const char* bn : {"stem_bn", "a_bn", "dw_bn"}) {
      v.net->tensors(layer_at(L, bn))[1][ch].zero_();  // beta
      v.net->tensors(layer_at(L, bn))[2][ch].zero_();  // running mean
    }
  }
  Variant c = narrow_layer(v, "stem", 4);
  CHECK(c.transforms.back() == "narrow stem 4");
  const auto& C = c.net->layers();
  const auto kept = torch::tensor({0, 2, 4, 5});
  CHECK(torch::equal(c.net->tensors(layer_at(C, "stem"))[0], v.net->tensors(layer_at(L, "stem"))[0].index_select(0, kept)));
  CHECK(torch::equal(c.net->tensors(layer_at(C, "a"))[0], v.net->tensors(layer_at(L, "a"))[0].index_select(0, kept).index_select(1, kept)));
  CHECK(torch::equal(c.net->tensors(layer_at(C, "dw"))[0], v.net->tensors(layer_at(L, "dw"))[0].index_select(0, kept)));
  CHECK(torch::equal(c.net->tensors(layer_at(C, "se1"))[0], v.net->tensors(layer_at(L, "se1"))[0].index_select(1, kept)));
  CHECK(torch::equal(c.net->tensors(layer_at(C, "se2"))[1], v.net->tensors(layer_at(L, "se2"))[1].index_select(0, kept)));
  CHECK(torch::equal(c.net->tensors(layer_at(C, "dw_bn"))[3], v.net->tensors(layer_at(L, "dw_bn"))[3].index_select(0, kept)));
  CHECK(C[layer_at(C, "dw")].groups == 4);
  CHECK(C[layer_at(C, "fc")].in.numel() == (4 + 4) * 9);
  CHECK(c.first_changed == 0);
  c.net->eval();
  auto x = torch::randn({6, 2, 6, 6});
  CHECK(torch::allclose(c.net->forward(x), v.net->forward(x), 1e-5, 1e-5));

  // b's outputs sit after the residual group in the concat: fc keeps every column before them.
  Variant nb = narrow_layer(v, "b", 2);
  const auto& B = nb.net->layers();
  CHECK(B[layer_at(B, "fc")].in.numel() == (6 + 2) * 9);
  CHECK(torch::equal(nb.net->tensors(layer_at(B, "fc"))[0].narrow(1, 0, 54), v.net->tensors(layer_at(L, "fc"))[0].narrow(1, 0, 54)));
  CHECK_THROWS_AS(narrow_layer(v, "stem", 6), Error);  // keeping all is not a narrower variant
  CHECK_THROWS_AS(narrow_layer(v, "dw", 3), Error);    // cut with the group it reads
}

TEST_CASE("remove: a residual branch goes, its shortcut and every other weight stay", "[coupled][passes]") {
  const char* net =
      "  - conv2d: {name: stem, out: 4, kernel: 3, padding: 1}\n"
      "  - batchnorm: {name: stem_bn}\n"
      "  - relu: {name: stem_relu}\n"
      "  - conv2d: {name: c1, out: 4, kernel: 3, padding: 1, bias: false}\n"
      "  - batchnorm: {name: bn1}\n"
      "  - relu: {name: r1}\n"
      "  - conv2d: {name: c2, out: 4, kernel: 3, padding: 1, bias: false}\n"
      "  - batchnorm: {name: bn2}\n"
      "  - add: {name: res, from: [bn2, stem_relu]}\n"
      "  - relu: {name: out_relu}\n"
      "  - flatten\n"
      "  - linear: {name: fc, out: 3}\n";
  const Schema s = schema_of(net, 1, 5, 3);
  Variant v = random_variant(s.layers);
  torch::NoGradGuard ng;
  v.net->tensors(layer_at(s.layers, "bn2"))[0].zero_();  // gamma = beta = 0: the branch adds nothing
  v.net->tensors(layer_at(s.layers, "bn2"))[1].zero_();
  Variant c = remove_layer(v, "res");
  std::vector<std::string> kept;
  for (const auto& l : c.net->layers()) kept.push_back(l.name);
  CHECK(kept == std::vector<std::string>{"stem", "stem_bn", "stem_relu", "out_relu", "flatten1", "fc"});
  CHECK_FALSE(c.reinitialized);
  CHECK(c.first_changed == 3);
  CHECK(torch::equal(c.net->tensors(5)[0], v.net->tensors(layer_at(s.layers, "fc"))[0]));
  c.net->eval();
  auto x = torch::randn({3, 1, 5, 5});
  CHECK(torch::allclose(c.net->forward(x), v.net->forward(x), 1e-6, 1e-6));
  // The same through the planner: the layers that go and where the readers read.
  PlanState p;
  p.layers = s.layers;
  const RemovalPlan r = rule_remove(p, "res");
  CHECK(names(r.erased, s.layers) == std::vector<std::string>{"c1", "bn1", "r1", "c2", "bn2", "res"});
  CHECK(r.replacement == static_cast<int>(layer_at(s.layers, "stem_relu")));
  CHECK(r.residual);
  // A plain layer in a graph: its batchnorm and activation go with it.
  const RemovalPlan plain = rule_remove(p, "c1");
  CHECK(names(plain.erased, s.layers) == std::vector<std::string>{"c1", "bn1", "r1"});
  CHECK_FALSE(plain.residual);
}

TEST_CASE("remove: what cannot go says why", "[coupled][schema]") {
  PlanState p;
  auto why = [&](const std::string& net, const std::string& name) {
    p.layers = schema_of(net, 1, 5, 3).layers;
    try {
      rule_remove(p, name);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("removed");
  };
  const std::string tail = "  - flatten\n  - linear: {name: fc, out: 3}\n";
  // The branch's conv is read by another layer too.
  CHECK(why("  - conv2d: {name: s, out: 2, kernel: 1}\n  - conv2d: {name: c, out: 2, kernel: 1}\n  - add: {name: r, from: [c, s]}\n"
            "  - concat: {name: k, from: [r, c]}\n" + tail,
            "r") == "remove: the branch of add r cannot go: its layer c is also read by k");
  // Both sides pass one conv: no shortcut to keep.
  CHECK(why("  - conv2d: {name: s, out: 2, kernel: 1}\n  - conv2d: {name: x, out: 2, kernel: 1}\n"
            "  - conv2d: {name: y, out: 2, kernel: 1, from: s}\n  - add: {name: r, from: [x, y]}\n" + tail,
            "r") == "remove: cannot tell the branch of add r from its shortcut: both inputs pass 1 weight layers (the branch is the side with more)");
  CHECK(why("  - conv2d: {name: s, out: 2, kernel: 1}\n  - relu: {name: q}\n" + tail, "q") ==
        "remove: layer q is a relu; remove a conv2d or linear layer, a residual add or a block with one");
  CHECK(why("  - conv2d: {name: s, out: 2, kernel: 1}\n" + tail, "fc") == "remove: fc is the last weight layer (it produces the logits)");
  CHECK(why("  - conv2d: {name: s, out: 2, kernel: 1}\n" + tail, "blk") == "remove: no layer or block named 'blk' in variant base");
}

TEST_CASE("plan: every narrow and remove the shipped schemas plan is what the passes build", "[coupled][plan]") {
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(MCDNN_SOURCE_DIR) + "/schemas")) {
    if (entry.path().extension() != ".yaml") continue;
    std::ifstream in(entry.path());
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Nothing built from a profile-only net (no data); a fragment on another catalog's trunk
    // needs that catalog to be read.
    if (text.find("\ndata:") == std::string::npos || text.find("\ntrunk:") != std::string::npos) continue;
    const Schema s = parse_schema_file(entry.path().string());
    Variant base;
    bool made = false;
    for (const auto& pv : plan_build(s)) {
      if (pv.skip || pv.parent_pos != 0 || (pv.recipe.pass != "narrow" && pv.recipe.pass != "remove")) continue;
      if (!made) base = random_variant(s.layers), made = true;
      INFO(entry.path().filename().string() << ": " << pv.id);
      std::optional<Variant> built;
      if (pv.recipe.pass == "remove") {
        built = remove_layer(base, pv.recipe.layer);
      } else if (pv.recipe.layer.empty()) {
        built = narrow_all(base, pv.recipe.level);
      } else {
        KeepSpec ks;
        REQUIRE(parse_keep(pv.recipe.level, &ks));
        built = narrow_layer(base, pv.recipe.layer, keep_count(ks, base.net->layers()[layer_index(base, pv.recipe.layer)].out));
      }
      REQUIRE(built);
      CHECK(variant_id(built->transforms) == pv.id);
      const auto& got = built->net->layers();
      REQUIRE(got.size() == pv.layers.size());
      for (size_t i = 0; i < got.size(); ++i) {
        INFO(got[i].name);
        CHECK(got[i].name == pv.layers[i].name);
        CHECK(got[i].out_shape == pv.layers[i].out_shape);
        CHECK(got[i].in == pv.layers[i].in);
        CHECK(got[i].from == pv.layers[i].from);
        CHECK(got[i].groups == pv.layers[i].groups);
      }
      ++checked;
    }
  }
  CHECK(checked >= 30);
}

TEST_CASE("narrow: a reshaped variant's batchnorms re-estimate their statistics before evaluation", "[coupled][passes]") {
  const Schema s = schema_of(kNet, 2, 6, 3);
  Variant v = random_variant(s.layers);
  Variant c = narrow_layer(v, "stem", 4);
  CHECK(c.recalibrate);
  torch::manual_seed(9);
  const int64_t n = 300;  // fewer than kRecalibrationExamples: all of them, in batches of 128
  TensorData train{torch::randn({n, 2, 6, 6}), torch::randint(0, 3, {n}, torch::kLong)};
  TensorData val{torch::randn({50, 2, 6, 6}), torch::randint(0, 3, {50}, torch::kLong)};
  FeatureCache cache(v.net, train, val, 0);
  FinetuneSpec spec;
  spec.epochs = spec.reshaped_epochs = 0;  // statistics only: no training after them
  Variant expect = narrow_layer(v, "stem", 4);
  finetune(c, 0, cache, spec, true, 1);
  CHECK_FALSE(c.recalibrate);
  // stem_bn's running mean: the average of the three batches' channel means of the narrowed
  // stem's output (cumulative mode), computed here from the weights alone.
  torch::NoGradGuard ng;
  const size_t stem = layer_at(expect.net->layers(), "stem");
  std::vector<torch::Tensor> means;
  for (int64_t b = 0; b < n; b += 128) {
    auto y = torch::conv2d(train.x.slice(0, b, std::min(b + 128, n)), expect.net->tensors(stem)[0], {}, 1, 1);
    means.push_back(y.mean({0, 2, 3}));
  }
  const auto want = (means[0] + means[1] + means[2]) / 3;
  const auto got = c.net->tensors(stem + 1)[2];
  INFO(got << "\n" << want);
  CHECK(torch::allclose(got, want, 1e-4, 1e-5));
  CHECK_FALSE(torch::allclose(got, expect.net->tensors(stem + 1)[2], 1e-2, 1e-2));  // not the parent's statistics
}

TEST_CASE("narrow: `layers: all` takes fractions and says so for a count", "[coupled][schema]") {
  const std::string net = std::string("format: mcdnn-schema/1\nname: t\ninput: {channels: 2, height: 6, width: 6}\nclasses: 3\nnetwork:\n") + kNet;
  try {
    parse_schema_string(net + "catalog:\n  variants:\n    - narrow: {layers: all, keep: [4]}\n", "t.yaml", "");
    FAIL("parsed");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("narrow: `layers: all` takes fractions (1/2, 0.75), not '4'") != std::string::npos);
  }
  const Schema s = parse_schema_string(net + "catalog:\n  variants:\n    - narrow: {layers: all, keep: [1/2]}\n", "t.yaml", "");
  const auto planned = plan_variants(s);
  REQUIRE(planned.size() == 1);
  CHECK(planned[0].id == "narrow-all-50");
}
