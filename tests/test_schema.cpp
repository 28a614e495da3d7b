// Schema parsing: valid files, shape inference, and a table of invalid ones with the exact
// message each must produce.
#include <string>

#include "catch.hpp"
#include "schema/plan.hpp"
#include "schema/levels.hpp"
#include "schema/schema.hpp"
#include "util/error.hpp"

using namespace mcdnn;

namespace {
const std::string kHead =
    "format: mcdnn-schema/1\n"          // line 1
    "name: tiny\n"                      // line 2
    "input: {channels: 1, height: 12, width: 12}\n"  // line 3
    "classes: 4\n";                     // line 4
const std::string kNet =
    "network:\n"                        // line 5
    "  - conv2d: {out: 8, kernel: 3}\n" // line 6
    "  - relu\n"                        // line 7
    "  - maxpool: {kernel: 2}\n"        // line 8
    "  - flatten\n"                     // line 9
    "  - linear: {out: 4}\n";           // line 10

std::string error_of(const std::string& text) {
  try {
    parse_schema_string(text, "t.yaml", "");
  } catch (const Error& e) {
    CHECK(e.cls() == ErrorClass::Schema);
    return e.what();
  }
  return "(no error)";
}
}  // namespace

TEST_CASE("a minimal schema parses and its shapes are inferred", "[schema]") {
  Schema s = parse_schema_string(kHead + kNet, "t.yaml", "");
  CHECK(s.name == "tiny");
  CHECK(s.num_classes == 4);
  REQUIRE(s.layers.size() == 5);
  CHECK(s.layers[0].name == "conv1");
  CHECK(s.layers[0].out_shape.str() == "8x10x10");
  CHECK(s.layers[2].name == "maxpool1");
  CHECK(s.layers[2].out_shape.str() == "8x5x5");
  CHECK(s.layers[3].out_shape.str() == "200");
  CHECK(s.layers[4].name == "fc1");
  CHECK(s.layers[4].in.numel() == 200);
  CHECK_FALSE(s.data.present);
  CHECK(s.training.optimizer == "adam");  // defaults
}

TEST_CASE("awkward shapes: rectangular kernels, strides, padding, custom names", "[schema]") {
  Schema s = parse_schema_string(
      "format: mcdnn-schema/1\nname: odd\ninput: {channels: 3, height: 7, width: 5}\nclasses: {count: 3}\n"
      "network:\n"
      "  - conv2d: {name: stem, out: 4, kernel: [3, 2], stride: [2, 1], padding: [1, 0]}\n"
      "  - avgpool: {kernel: 2, stride: 1}\n"
      "  - flatten\n"
      "  - linear: {name: head, out: 3, bias: false}\n",
      "t.yaml", "");
  CHECK(s.layers[0].name == "stem");
  CHECK(s.layers[0].out_shape.str() == "4x4x4");  // (7+2-3)/2+1 = 4, (5-2)/1+1 = 4
  CHECK(s.layers[1].out_shape.str() == "4x3x3");
  CHECK(s.layers[2].out_shape.str() == "36");
  CHECK(s.layers[3].name == "head");
  CHECK_FALSE(s.layers[3].bias);
}

TEST_CASE("the default and example schemas parse", "[schema]") {
  for (const char* f : {"fashion-mnist.yaml", "fashion-mnist-3class.yaml", "vgg16.yaml", "lenet5.yaml"}) {
    INFO(f);
    Schema s = parse_schema_file(std::string(MCDNN_SOURCE_DIR) + "/schemas/" + f);
    CHECK(!s.layers.empty());
  }
  Schema s = parse_schema_file(std::string(MCDNN_SOURCE_DIR) + "/schemas/fashion-mnist-3class.yaml");
  CHECK(s.num_classes == 3);
  CHECK(s.data.relabel.size() == 10);
  CHECK(s.data.relabel.at(8) == 2);  // bag -> shoes-and-bags
}

TEST_CASE("relabel, limit and normalization keys", "[schema]") {
  Schema s = parse_schema_string(
      "format: mcdnn-schema/1\nname: r\ninput: {channels: 2, height: 4, width: 4}\n"
      "classes: {names: [even, odd]}\n"
      "data:\n"
      "  train: {hdf5: {file: d.h5, images: /x, labels: /y, layout: NHWC}}\n"
      "  validation: {idx: {images: v-images.idx, labels: v-labels.idx}}\n"
      "  relabel: {0: even, 1: odd, 2: 0, 3: 1}\n"
      "  limit: {train: 100}\n"
      "  normalize: {mean: [0.5, 0.25], std: 0.5}\n"
      "network: [flatten, {linear: {out: 2}}]\n",
      "dir/t.yaml", "dir");
  CHECK(s.data.train.format == "hdf5");
  CHECK(s.data.train.file == "dir/d.h5");  // relative to the schema
  CHECK(s.data.train.layout == "NHWC");
  CHECK(s.data.validation.images == "dir/v-images.idx");
  CHECK(s.data.relabel.at(1) == 1);
  CHECK(s.data.relabel.at(2) == 0);
  CHECK(s.data.limit_train == 100);
  CHECK(s.data.limit_validation == 0);
  CHECK(s.data.normalize.mean == std::vector<double>{0.5, 0.25});
  CHECK(s.data.normalize.std == std::vector<double>{0.5, 0.5});
}

TEST_CASE("the catalog section: steps, chains, fine-tuning, base only", "[schema]") {
  Schema s = parse_schema_string(kHead + kNet +
                                     "catalog:\n"
                                     "  finetune: {examples: 500, epochs: 2, lr: 0.001}\n"
                                     "  variants:\n"
                                     "    - prune: {layers: all, sparsity: [0.5, 0.9], global: true, iterative: true,\n"
                                     "              then: [{quantize: {layers: [fc1], formats: [cb4]}}]}\n"
                                     "    - svd: {layers: [conv1, fc1], ranks: [1/2, k=3, energy=0.9]}\n",
                                 "t.yaml", "");
  CHECK(s.catalog.variants_given);
  CHECK(s.catalog.finetune.examples == 500);
  CHECK(s.catalog.finetune.epochs == 2);
  REQUIRE(s.catalog.steps.size() == 2);
  const auto& p = s.catalog.steps[0];
  CHECK(p.pass == "prune");
  CHECK(p.layers.empty());
  CHECK(p.levels == std::vector<std::string>{"0.5", "0.9"});
  CHECK((p.global && p.iterative));
  REQUIRE(p.then.size() == 1);
  CHECK(p.then[0].pass == "quantize");
  CHECK_FALSE(p.then[0].finetune);
  CHECK(s.catalog.steps[1].levels == std::vector<std::string>{"1/2", "k=3", "energy=0.9"});
  Schema base_only = parse_schema_string(kHead + kNet + "catalog: {variants: []}\n", "t.yaml", "");
  CHECK(base_only.catalog.variants_given);
  CHECK(base_only.catalog.steps.empty());
  CHECK_FALSE(parse_schema_string(kHead + kNet, "t.yaml", "").catalog.variants_given);
}

TEST_CASE("invalid schemas give one exact error", "[schema]") {
  struct Case {
    std::string text, error;
  };
  const Case cases[] = {
      {"format: mcdnn-schema/2\n",
       "t.yaml:1:9: format: expected 'mcdnn-schema/1' (this compiler reads schema format version 1; upgrade mcdnn "
       "for newer schemas), got 'mcdnn-schema/2'"},
      {"name: x\n", "t.yaml:1:1: : missing required key 'format'"},
      {kHead + "nmae: x\n" + kNet,
       "t.yaml:5:1: nmae: unknown key 'nmae'; did you mean 'name'? (valid keys here: format, name, input, trunk, classes, data, "
       "blocks, network, training, catalog, specialize)"},
      {"format: mcdnn-schema/1\nname: tiny\ninput: {channels: 1, width: 12}\nclasses: 4\n" + kNet,
       "t.yaml:3:8: input: missing required key 'height'"},
      {kHead + "network:\n  - conv2d: {out: 8, kernel: three}\n",
       "t.yaml:6:30: network[0].conv2d.kernel: expected an integer, got 'three'"},
      {kHead + "network:\n  - conv2d: {out: 8, kernel: 13}\n  - flatten\n  - linear: {out: 4}\n",
       "t.yaml:6:5: network[0]: conv2d 'conv1' with input 1x12x12: kernel 13x13 does not fit the 12x12 input "
       "(padding 0x0); use a smaller kernel or more padding"},
      {kHead + "network:\n  - conv2d: {out: 8, kernel: 3}\n  - linear: {out: 4}\n",
       "t.yaml:7:5: network[1]: linear 'fc1' with input 8x10x10: expected flat features, found a 8x10x10 "
       "activation; add `- flatten` before this layer"},
      {kHead + "network:\n  - flatten\n  - linear: {out: 5}\n",
       "t.yaml:7:5: network[1]: the network must end in 4 flat outputs (one logit per class), but its output is "
       "5; end with `- linear: {out: 4}`"},
      {kHead + "network:\n  - conv3d: {out: 8}\n",
       "t.yaml:6:5: network[0]: unknown layer kind 'conv3d'; did you mean 'conv2d'? (valid kinds: conv2d, linear, relu, "
       "maxpool, avgpool, flatten, dropout, batchnorm, add, concat, mul, globalavgpool, relu6, hardswish, sigmoid; `block` "
       "instantiates a block)"},
      // An unknown kind is named as such, whatever its value (a list is not "a mapping of residual parameters").
      {kHead + "network:\n  - residual: [conv1, conv2]\n",
       "t.yaml:6:5: network[0]: unknown layer kind 'residual' (valid kinds: conv2d, linear, relu, maxpool, avgpool, flatten, "
       "dropout, batchnorm, add, concat, mul, globalavgpool, relu6, hardswish, sigmoid; `block` instantiates a block)"},
      {kHead + "network:\n  - resdiual: {out: 8}\n",
       "t.yaml:6:5: network[0]: unknown layer kind 'resdiual' (valid kinds: conv2d, linear, relu, maxpool, avgpool, flatten, "
       "dropout, batchnorm, add, concat, mul, globalavgpool, relu6, hardswish, sigmoid; `block` instantiates a block)"},
      {kHead + "network:\n  - conv2d: [8, 3]\n",
       "t.yaml:6:13: network[0].conv2d: expected a mapping of conv2d parameters, got a list"},
      {kHead + "network:\n  - flatten\n  - dropout: {p: 1.5}\n  - linear: {out: 4}\n",
       "t.yaml:7:18: network[1].dropout.p: expected a number in [0, 1), got '1.5'"},
      {kHead + "network:\n  - flatten\n  - linear: {out: 4, name: fc1}\n  - linear: {out: 4, name: fc1}\n",
       "t.yaml:8:5: network[2]: duplicate layer name 'fc1'"},
      {kHead + "network:\n  - flatten\n  - linear: {out: 4, stride: 2}\n",
       "t.yaml:7:22: network[1].linear.stride: unknown key 'stride' (valid keys here: name, from, out, bias)"},
      {kHead + kNet + "training: {optimizer: adam, momentum: 0.9}\n",
       "t.yaml:11:39: training.momentum: momentum applies to optimizer: sgd only (Adam has no momentum setting)"},
      {kHead + kNet + "training: {optimizer: rmsprop}\n",
       "t.yaml:11:23: training.optimizer: expected one of adam, sgd, got 'rmsprop'"},
      {kHead + kNet + "training: {epochs: -3}\n",
       "t.yaml:11:20: training.epochs: expected an integer between 1 and 100000, got '-3'"},
      {kHead + "data:\n  train: {idx: {images: a, labels: b}}\n" + kNet,
       "t.yaml:6:3: data: missing required key 'validation'"},
      {kHead + "data:\n  train: {idx: {images: a}}\n  validation: {idx: {images: a, labels: b}}\n" + kNet,
       "t.yaml:6:16: data.train.idx: missing required key 'labels'"},
      {kHead + "data:\n  train: {csv: a}\n  validation: {idx: {images: a, labels: b}}\n" + kNet,
       "t.yaml:6:11: data.train.csv: unknown key 'csv' (valid keys here: idx, hdf5)"},
      {kHead + "data:\n  train: {idx: {images: a, labels: b}}\n  validation: {idx: {images: a, labels: b}}\n"
               "  relabel: {0: shoes}\n" + kNet,
       "t.yaml:8:16: data.relabel.0: expected a class index 0..3, got 'shoes'"},
      {kHead + kNet + "training: {schedule: {type: step}}\n",
       "t.yaml:11:22: training.schedule: missing required key 'step_size'"},
      {"format: mcdnn-schema/1\nname: [a\n", "t.yaml:3:1: not valid YAML: end of sequence flow not found"},
      {kHead + kNet + "catalog:\n  variants:\n    - distill: {layers: [fc1]}\n",
       "t.yaml:13:7: catalog.variants[0]: unknown pass 'distill' (valid passes: svd, prune, quantize, narrow, remove)"},
      {kHead + kNet + "catalog:\n  variants:\n    - prnue: {sparsity: [0.5]}\n",
       "t.yaml:13:7: catalog.variants[0]: unknown pass 'prnue'; did you mean 'prune'? (valid passes: svd, prune, quantize, "
       "narrow, remove)"},
      {kHead + kNet + "catalog:\n  variants:\n    - svd: {layers: [fc01], ranks: [1/2]}\n",
       "t.yaml:13:22: catalog.variants[0].svd.layers[0]: expected a conv2d or linear layer name (conv1, fc1), got 'fc01'; "
       "did you mean 'fc1'?"},
      {kHead + kNet + "catalog:\n  variants:\n    - svd: {layers: [relu1], ranks: [1/2]}\n",
       "t.yaml:13:22: catalog.variants[0].svd.layers[0]: expected a conv2d or linear layer name (conv1, fc1), got "
       "'relu1'"},
      {kHead + kNet + "catalog:\n  variants:\n    - svd: {layers: [fc1], ranks: [2/1]}\n",
       "t.yaml:13:36: catalog.variants[0].svd.ranks[0]: expected a rank: a fraction like 1/4 or 0.25, an integer rank like 32 or k=32, "
       "or energy=0.9, got '2/1'"},
      {kHead + kNet + "catalog:\n  variants:\n    - quantize: {formats: [int4]}\n",
       "t.yaml:13:28: catalog.variants[0].quantize.formats[0]: expected a format: f16, int8, cb8, cb4, cb2, got 'int4'"},
      {"format: mcdnn-schema/1\nname: has space\n",
       "t.yaml:2:7: name: expected a name of letters, digits, '.', '_' or '-' (it names the output directory), got "
       "'has space'"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    CHECK(error_of(c.text) == c.error);
  }
}

TEST_CASE("a missing schema file is a schema error naming the file", "[schema]") {
  try {
    parse_schema_file("/nonexistent/dir/s.yaml");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.cls() == ErrorClass::Schema);
    CHECK(std::string(e.what()).rfind("/nonexistent/dir/s.yaml: cannot open", 0) == 0);
  }
}

TEST_CASE("one grammar: every level the schema accepts is one the passes apply", "[schema][grammar]") {
  auto schema_with = [](const std::string& step) {
    return std::string(
               "format: mcdnn-schema/1\nname: t\ninput: {channels: 1, height: 12, width: 12}\nclasses: 4\nnetwork:\n"
               "  - conv2d: {out: 8, kernel: 3}\n  - relu\n  - flatten\n  - linear: {out: 16}\n  - linear: {out: 4}\n"
               "catalog:\n  variants:\n    - ") +
           step + "\n";
  };
  auto accepted = [&](const std::string& step) {
    try {
      parse_schema_string(schema_with(step), "t.yaml", "");
      return true;
    } catch (const Error&) {
      return false;
    }
  };
  struct Form {
    std::string pass, text;
    bool ok;
  };
  std::vector<Form> forms = {
      {"svd", "1/4", true}, {"svd", "0.25", true}, {"svd", "1", true}, {"svd", "32", true}, {"svd", "k=32", true},
      {"svd", "energy=0.9", true}, {"svd", "energy=1/2", true}, {"svd", "energy=1", true}, {"svd", "1/1", true},
      {"svd", "k=1/2", false}, {"svd", "k=0.5", false}, {"svd", "energy=0", false}, {"svd", "energy=2", false},
      {"svd", "2/1", false}, {"svd", "0", false}, {"svd", "-1", false}, {"svd", "1e-1", false}, {"svd", "inf", false},
      {"svd", "nan", false}, {"svd", "1/0", false}, {"svd", "k=", false}, {"svd", "0.", false}, {"svd", ".5", true}, {"svd", "1..2", false},
      {"prune", "0.5", true}, {"prune", "1/2", true}, {"prune", "0.999", true}, {"prune", "1", false}, {"prune", "0", false},
      {"prune", "1e-1", false}, {"prune", "50%", false},
      {"narrow", "4", true}, {"narrow", "1/2", true}, {"narrow", "0.5", true}, {"narrow", "0", false}, {"narrow", "4.5", false},
      {"narrow", "3/2", false}, {"narrow", "x", false},
      {"quantize", "int8", true}, {"quantize", "cb2", true}, {"quantize", "f32", false}, {"quantize", "int4", false},
  };
  for (const auto& f : forms) {
    INFO(f.pass << " " << f.text);
    std::string step = f.pass == "svd"      ? "svd: {layers: [fc1], ranks: ['" + f.text + "']}"
                       : f.pass == "prune"  ? "prune: {sparsity: ['" + f.text + "']}"
                       : f.pass == "narrow" ? "narrow: {layers: [fc1], keep: ['" + f.text + "']}"
                                            : "quantize: {formats: ['" + f.text + "']}";
    CHECK(accepted(step) == f.ok);
    // The functions the sweep applies agree with the schema, form by form.
    bool applies = false;
    RankSpec r;
    double d;
    KeepSpec k;
    if (f.pass == "svd") applies = parse_rank(f.text, &r);
    if (f.pass == "prune") applies = parse_sparsity(f.text, &d);
    if (f.pass == "narrow") applies = parse_keep(f.text, &k);
    if (f.pass == "quantize") applies = valid_quantize_format(f.text);
    CHECK(applies == f.ok);
  }
  RankSpec r;
  REQUIRE(parse_rank("energy=1/2", &r));
  CHECK(r.kind == RankSpec::Kind::Energy);
  CHECK(r.value == 0.5);
  KeepSpec k;
  REQUIRE(parse_keep("1/3", &k));
  CHECK(keep_count(k, 16) == 5);
  CHECK(keep_count(KeepSpec{true, 0.01}, 16) == 1);
}

TEST_CASE("a key given twice is an error naming both lines", "[schema]") {
  std::string text =
      "format: mcdnn-schema/1\nname: a\ninput: {channels: 1, height: 12, width: 12}\nclasses: 4\n"
      "network:\n  - linear: {out: 4, out: 5}\nname: b\n";
  try {
    parse_schema_string(text, "t.yaml", "");
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK(e.cls() == ErrorClass::Schema);
    CHECK(std::string(e.what()) == "t.yaml:6:22: duplicate key 'out' (first at line 6); each key may appear once, remove one");
  }
  text = "format: mcdnn-schema/1\nname: a\ninput: {channels: 1, height: 12, width: 12}\nclasses: 4\nname: b\n";
  CHECK_THROWS_WITH(parse_schema_string(text, "t.yaml", ""),
                    "t.yaml:5:1: duplicate key 'name' (first at line 2); each key may appear once, remove one");
}

TEST_CASE("chains the passes would reject fail when the schema is read", "[schema][grammar]") {
  auto error_with = [](const std::string& steps) {
    std::string text =
        "format: mcdnn-schema/1\nname: t\ninput: {channels: 1, height: 12, width: 12}\nclasses: 4\nnetwork:\n"
        "  - conv2d: {out: 8, kernel: 3}\n  - relu\n  - conv2d: {out: 8, kernel: 3}\n  - relu\n  - flatten\n"
        "  - linear: {out: 16}\n  - linear: {out: 4}\ncatalog:\n  variants:\n" +
        steps;
    try {
      parse_schema_string(text, "t.yaml", "");
      return std::string("accepted");
    } catch (const Error& e) {
      return std::string(e.what());
    }
  };
  CHECK(error_with("    - quantize: {formats: [int8], then: [{prune: {sparsity: [0.5]}}]}\n") ==
        "t.yaml:15:42: catalog.variants[0].quantize.then[0]: prune on quant-int8: prune: quant-int8 is quantized; prune "
        "before quantizing (checked before training)");
  CHECK(error_with("    - prune: {layers: [fc1], sparsity: [0.5], then: [{svd: {layers: [fc1], ranks: [1/4]}}]}\n")
            .find("svd: layer fc1 of prune-fc1-50 is pruned or quantized; factorize before pruning/quantizing") != std::string::npos);
  CHECK(error_with("    - svd: {layers: [fc1], ranks: [1/4], then: [{svd: {layers: [fc1], ranks: [1/2]}}]}\n")
            .find("svd: layer fc1 is already factorized in svd-fc1-k4") != std::string::npos);
  CHECK(error_with("    - quantize: {formats: [cb4], then: [{narrow: {layers: [conv1], keep: [4]}}]}\n")
            .find("narrow: quant-cb4 already factorizes, prunes or quantizes; narrow first in a chain") != std::string::npos);
  CHECK(error_with("    - quantize: {layers: [fc1], formats: [cb4], then: [{quantize: {formats: [int8]}}]}\n")
            .find("quantize: layer fc1 of quant-cb4-fc1 is already stored as cb4; quantize each layer once") != std::string::npos);
  CHECK(error_with("    - remove: {layers: [conv2], then: [{svd: {layers: [conv2], ranks: [1/2]}}]}\n")
            .find("no layer named 'conv2' in variant remove-conv2") != std::string::npos);
  CHECK(error_with("    - narrow: {layers: [fc2], keep: [2]}\n")
            .find("narrow: fc2 produces the class logits and cannot be narrowed") != std::string::npos);
  CHECK(error_with("    - remove: {layers: [conv1, conv2]}\n") == "accepted");
  CHECK(error_with("    - prune: {sparsity: [0.5, 0.9], iterative: true, then: [{quantize: {formats: [int8, cb4]}}]}\n"
                   "    - narrow: {layers: [conv1], keep: [1/2], then: [{svd: {layers: [fc1], ranks: [1/8],\n"
                   "               then: [{prune: {layers: [fc1], sparsity: [0.9], then: [{quantize: {formats: [cb4]}}]}}]}}]}\n") ==
        "accepted");
}

TEST_CASE("the plan lists every variant once, energy ranks included", "[schema][grammar]") {
  const std::string text =
      "format: mcdnn-schema/1\nname: t\ninput: {channels: 1, height: 12, width: 12}\nclasses: 4\nnetwork:\n"
      "  - conv2d: {out: 8, kernel: 3}\n  - relu\n  - flatten\n  - linear: {out: 16}\n  - linear: {out: 4}\n"
      "catalog:\n  variants:\n"
      "    - svd: {layers: [fc1], ranks: [energy=0.9, energy=0.5, 1/4], then: [{quantize: {formats: [int8]}}]}\n";
  const auto plan = plan_variants(parse_schema_string(text, "t.yaml", ""));
  std::vector<std::string> ids;
  for (const auto& v : plan) ids.push_back(v.id);
  CHECK(ids == std::vector<std::string>{"svd-fc1-kenergy0.9", "svd-fc1-kenergy0.9+quant-int8", "svd-fc1-kenergy0.5",
                                        "svd-fc1-kenergy0.5+quant-int8", "svd-fc1-k4", "svd-fc1-k4+quant-int8"});
  CHECK(plan[0].rank_from_weights);
  CHECK_FALSE(plan[4].rank_from_weights);
}

TEST_CASE("YAML aliases cannot make the catalog steps recurse or multiply without bound", "[schema]") {
  std::string head =
      "format: mcdnn-schema/1\nname: t\ninput: {channels: 1, height: 12, width: 12}\nclasses: 4\nnetwork:\n"
      "  - flatten\n  - linear: {out: 16}\n  - linear: {out: 4}\ncatalog:\n";
  try {
    parse_schema_string(head + "  variants: &v [{svd: {layers: [fc1], ranks: [1/2], then: *v}}]\n", "t.yaml", "");
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("`then` chains nest deeper than 16") != std::string::npos);
  }
}
