// Fine-tuning with distillation (catalog.finetune.distill): the base model's soft targets pull a
// variant toward the base's answers, against labels that disagree with it; the schema key's
// bounds.
#include "catch.hpp"
#include "passes/passes.hpp"
#include "schema/schema.hpp"
#include "train/finetune.hpp"
#include "util/error.hpp"

using namespace mcdnn;

namespace {

const char* kSchema =
    "format: mcdnn-schema/1\nname: t\ninput: {channels: 1, height: 6, width: 6}\nclasses: 4\nnetwork:\n"
    "  - conv2d: {name: c1, out: 8, kernel: 3, padding: 1}\n  - batchnorm\n  - relu\n  - flatten\n"
    "  - linear: {name: fc1, out: 16}\n  - relu\n  - linear: {name: fc2, out: 4}\n";

// Share of examples on which the variant's prediction equals the base model's.
double agreement(Variant& v, Net& base, const torch::Tensor& x) {
  torch::NoGradGuard ng;
  v.net->eval();
  base->eval();
  return v.net->forward(x).argmax(1).eq(base->forward(x).argmax(1)).to(torch::kFloat64).mean().item<double>();
}

}  // namespace

TEST_CASE("distill: the base model's soft targets outweigh labels that disagree with it", "[distill][train]") {
  const Schema s = parse_schema_string(kSchema, "t.yaml", "");
  torch::manual_seed(2);
  Variant base;
  base.id = "base";
  base.net = Net(s.layers);
  const int64_t n = 256;
  const torch::Tensor x = torch::randn({n, 1, 6, 6});
  // Labels that disagree with the base model: its prediction shifted by one class.
  torch::Tensor y;
  {
    torch::NoGradGuard ng;
    base.net->eval();
    y = (base.net->forward(x).argmax(1) + 1) % 4;
  }
  TensorData train{x, y}, val{x.slice(0, 0, 64), y.slice(0, 0, 64)};
  double agree[2];
  for (int k = 0; k < 2; ++k) {
    FeatureCache cache(base.net, train, val, 0);
    Variant v = narrow_layer(base, "fc1", 12);
    FinetuneSpec spec;
    spec.epochs = 30;
    spec.lr = 1e-2;
    spec.batch_size = 64;
    spec.distill_weight = k == 0 ? 0 : 0.9;
    spec.distill_temperature = 2;
    finetune(v, 0, cache, spec, true, 3);
    agree[k] = agreement(v, base.net, x);
  }
  INFO("agreement with the base: labels only " << agree[0] << ", distilled " << agree[1]);
  CHECK(agree[1] > 0.8);
  CHECK(agree[1] > agree[0] + 0.3);
}

TEST_CASE("distill: the schema key and its bounds", "[distill][schema]") {
  auto with = [](const std::string& ft) {
    return parse_schema_string(std::string(kSchema) + "catalog:\n  finetune: " + ft + "\n", "t.yaml", "");
  };
  const Schema s = with("{distill: {weight: 0.5, temperature: 3}}");
  CHECK(s.catalog.finetune.distill_weight == 0.5);
  CHECK(s.catalog.finetune.distill_temperature == 3);
  CHECK(with("{epochs: 2}").catalog.finetune.distill_weight == 0);  // off unless asked for
  CHECK_THROWS_AS(with("{distill: {weight: 1}}"), Error);           // all soft targets, no labels: refused
  CHECK_THROWS_AS(with("{distill: {temperature: 0}}"), Error);
  CHECK_THROWS_AS(with("{distill: {weight: 0.5, temp: 2}}"), Error);
  CHECK_THROWS_AS(with("{distill: 0.5}"), Error);
}
