// Specialization (compiler/specialize): a head retargeted to n classes + "other" on
// pre-forwarded features learns a separable toy set, equals retargeting without pre-forwarding,
// keeps the frozen layers and their stored form, and refuses bad class lists.
#include "catch.hpp"
#include "data/dataset.hpp"
#include "fixtures.hpp"
#include "nn/net.hpp"
#include "passes/passes.hpp"
#include "schema/schema.hpp"
#include "specialize/specialize.hpp"
#include "train/train.hpp"
#include "util/error.hpp"

using namespace mcdnn;
using namespace mcdnn::test;

namespace {

// A base model trained on the synthetic 4-class set (a bright square in quadrant k).
struct Trained {
  TempDir d;
  Dataset trd, vad;
  TensorData tr, va;
  Variant v;
  Trained() {
    write_synthetic_idx(make_synthetic(400, 12, 4, 91), d / "train");
    write_synthetic_idx(make_synthetic(200, 12, 4, 92), d / "val");
    Schema s = parse_schema_string(tiny_schema(d.path().string(), 4, 3), d / "s.yaml", "");
    load_data(s, &trd, &vad);
    tr = to_tensors(trd, torch::kCPU), va = to_tensors(vad, torch::kCPU);
    torch::manual_seed(5);
    v.id = "base";
    v.net = Net(s.layers);
    train(v.net, tr, va, s.training, TrainOptions{});
    v.net->eval();
  }
};

}  // namespace

TEST_CASE("specialize: a head for 2 classes + other learns the separable set, pre-forwarded or not", "[specialize]") {
  Trained t;
  SpecializeSpec spec;
  spec.classes = {2, 0};  // output 0 = class 2, output 1 = class 0, output 2 = other
  spec.epochs = 10;
  spec.lr = 0.01;
  PreForwarded pf(t.v, 1, t.tr, t.va, true);
  CHECK(pf.cut() == 8);  // the last linear layer
  CHECK(pf.train().x.size(1) == 16);
  auto r = specialize(t.v, pf, spec);
  CHECK(r.in_set_accuracy >= 0.95);
  CHECK(r.other_recall >= 0.9);
  CHECK(r.accuracy >= 0.9);
  // Every example of the two classes, "other" subsampled to half of the set.
  CHECK(r.train_examples == 400);
  const auto& layers = r.variant.net->layers();
  REQUIRE(layers.back().out == 3);
  CHECK(r.variant.net->tensors(8)[0].sizes() == torch::IntArrayRef({3, 16}));
  // The frozen layers are the source's, bit for bit.
  for (size_t i = 0; i < 8; ++i)
    for (size_t k = 0; k < r.variant.net->tensors(i).size(); ++k)
      CHECK(torch::equal(r.variant.net->tensors(i)[k], t.v.net->tensors(i)[k]));
  CHECK(r.variant.transforms.back() == "specialize 2,0 +other");
  // The network predicts what the scores say: class-2 images map to output 0.
  auto pred = predict(r.variant.net, t.va.x).argmax(1);
  auto want = specialized_labels(t.va.y, spec.classes);
  CHECK(pred.eq(want).to(torch::kFloat64).mean().item<double>() == Approx(r.accuracy).margin(1e-12));

  // Without pre-forwarding the frozen layers run at every step: the same features (inference,
  // no dropout), the same training, the same model.
  PreForwarded raw(t.v, 1, t.tr, t.va, false);
  CHECK(raw.cut() == 8);
  auto rr = specialize(t.v, raw, spec);
  CHECK(rr.accuracy == Approx(r.accuracy).margin(1e-12));
  CHECK(rr.in_set_accuracy == Approx(r.in_set_accuracy).margin(1e-12));
  CHECK(torch::allclose(rr.variant.net->tensors(8)[0], r.variant.net->tensors(8)[0], 1e-5, 1e-6));
}

TEST_CASE("specialize: retraining two layers, quantized frozen layers, labels and errors", "[specialize]") {
  Trained t;
  Variant q = quantize_weights(t.v, "int8", {});
  SpecializeSpec spec;
  spec.classes = {3};
  spec.retrain_layers = 2;
  spec.epochs = 6;
  spec.lr = 0.01;
  PreForwarded pf(q, 2, t.tr, t.va, true);
  CHECK(pf.cut() == 5);  // fc1
  auto r = specialize(q, pf, spec);
  CHECK(r.in_set_accuracy >= 0.9);
  CHECK(r.other_recall >= 0.9);
  const auto& layers = r.variant.net->layers();
  CHECK(layers[5].storage == "f32");  // retrained: float
  CHECK(layers[8].storage == "f32");
  CHECK(layers[0].storage == "int8");  // frozen: as stored
  CHECK(r.variant.encoded.count("conv1:weight") == 1);
  CHECK(r.variant.encoded.count("fc1:weight") == 0);
  CHECK(r.variant.encoded.count("fc2:weight") == 0);

  CHECK(torch::equal(specialized_labels(torch::tensor({0, 1, 2, 3}, torch::kInt64), {3, 1}),
                     torch::tensor({2, 1, 2, 0}, torch::kInt64)));
  PreForwarded one(t.v, 1, t.tr, t.va, true);
  auto usage = [&](std::vector<int64_t> classes, const std::string& what) {
    SpecializeSpec s;
    s.classes = std::move(classes);
    try {
      specialize(t.v, one, s);
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.cls() == ErrorClass::Usage);
      CHECK_THAT(e.what(), Catch::Contains(what));
    }
  };
  usage({}, "a list of distinct classes");
  usage({1, 1}, "a list of distinct classes");
  usage({4}, "class 4 is not a class of the model (0..3)");
  usage({0, 1, 2, 3}, "leaves nothing for \"other\"");
  CHECK_THROWS_WITH(PreForwarded(t.v, 4, t.tr, t.va), Catch::Contains("the network has 3"));
}
