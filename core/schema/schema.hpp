// The model schema: what the user writes in YAML (schemas/README.md is the reference).
// parse_schema_* validates everything that can be checked without reading data — types,
// ranges, unknown keys, layer shapes — and reports the first problem as
//   file:line:col: key.path: what was expected, what was found
// through Error(ErrorClass::Schema).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nn/layer.hpp"

namespace mcdnn {

// Version of the schema format this compiler reads (the `format` key: "mcdnn-schema/1").
constexpr int kSchemaVersion = 1;

struct DataSource {
  std::string format;  // "idx" or "hdf5"
  // idx: two files (optionally .gz)
  std::string images, labels;
  // hdf5: one file with two datasets
  std::string file, images_dataset, labels_dataset;
  std::string layout = "NCHW";  // hdf5 images: "NCHW" or "NHWC"
  std::string where;            // "schema.yaml:14:7: data.train" for error messages
  bool command_line = false;    // given as command-line arguments (mcdnn-infer): errors name
                                // its flags (--images-dataset, --layout), not schema keys
};

struct Normalize {
  enum class Mode { None, Given, Compute } mode = Mode::Compute;
  std::vector<double> mean, std;  // one per input channel (Given), filled after Compute
};

struct DataSpec {
  bool present = false;
  DataSource train, validation;
  std::map<int64_t, int64_t> relabel;  // source label -> class index; empty = identity
  int64_t limit_train = 0, limit_validation = 0;  // 0 = all examples
  Normalize normalize;
};

struct TrainSpec {
  int64_t epochs = 10;
  int64_t batch_size = 128;
  std::string optimizer = "adam";  // "adam" or "sgd"
  double lr = 1e-3;
  double momentum = 0.9;  // sgd
  bool nesterov = false;  // sgd
  double weight_decay = 0.0;
  std::string schedule = "constant";  // "constant", "step", "cosine"
  int64_t step_size = 0;               // step: epochs between decays
  double gamma = 0.1;                  // step: decay factor
  int64_t seed = 1;
};

// One step of the catalog sweep (the schema's `catalog.variants` list; schemas/README.md).
struct PassStep {
  std::string pass;                 // svd | prune | quantize | narrow | remove
  std::vector<std::string> layers;  // svd/narrow/remove: one child per layer; prune/quantize: together (empty = all)
  std::vector<std::string> levels;  // svd: ranks; prune: sparsities; quantize: formats; narrow: keep; remove: -
  bool global = false;              // prune: one threshold across the layers
  bool iterative = false;           // prune: each level derived from the previous, fine-tuned, level
  bool finetune = true;             // quantize: default false (evaluated as stored); true trains
                                    // codebook centroids (train/finetune.hpp)
  std::vector<PassStep> then;       // applied to every child this step produces
  std::string where;                // file:line:col for messages
};

struct FinetuneSpec {
  int64_t examples = 20000;  // training examples per fine-tuning epoch (a fixed seeded subset)
  int64_t epochs = 1;
  // Epochs for a variant whose shapes changed (narrow, remove): it loses far more in the pass
  // than a quantized or pruned one (fashion-resnet's narrow-all-75: 43% before fine-tuning).
  int64_t reshaped_epochs = 3;
  double lr = 5e-4;          // Adam, cosine-decayed over the fine-tuning steps
  int64_t batch_size = 128;
  int64_t cache_mb = 3072;   // memory for cached prefix activations (0 disables caching)
  // Distillation from the base model (Hinton et al. 2015): loss = (1 - w) CE(z, y) +
  // w T^2 KL(softmax(t / T) || softmax(z / T)), t the base model's logits; w = 0: off.
  double distill_weight = 0;
  double distill_temperature = 4;
};

struct CatalogSpec {
  bool variants_given = false;  // false: the default sweep (passes/sweep.cpp) is used
  std::vector<PassStep> steps;
  FinetuneSpec finetune;
};

// Specialized variants built with the catalog (the schema's `specialize` section; compiler/
// specialize): each listed variant retargeted to each class set + "other".
struct SpecializeSetSpec {
  std::vector<int64_t> classes;  // class indices, in output order
  std::string where;
};
struct SpecializeSchema {
  std::vector<std::string> variants = {"base"};  // the variants retargeted (ids the catalog builds)
  std::vector<SpecializeSetSpec> sets;          // empty: no specialized variants
  int64_t retrain_layers = 1;
  int64_t epochs = 8;
  double lr = 0.003;
  int64_t batch_size = 256;
  double other_share = 0.5;
  bool store_features = true;  // keep each variant's pre-forwarded features in the catalog
  std::string where;
};

// The schema's `trunk`: its network starts with another catalog's variant up to a named layer
// (frozen; the data is run through it once) and trains only the layers after it. Resolved from
// the trunk catalog when the schema is read (core/catalog/trunk.hpp), so `input` is the trunk's
// output shape and the data are read with the trunk's input shape and normalization.
struct TrunkRef {
  bool present = false;
  std::string catalog;      // as written in the schema, for messages
  std::string catalog_dir;  // resolved against the schema's directory
  std::string from_catalog; // the trunk catalog relative to the catalog built (catalog.json's
                            // trunk.catalog; set by the compiler once the output is known)
  std::string variant, layer;
  int64_t layers = 0;       // the prefix: the variant file's layers [0, layers)
  std::string file, sha256; // the variant file (relative to catalog_dir) and its SHA-256
  Shape input;              // what the trunk takes
  std::vector<double> mean, std;  // the trunk catalog's normalization (empty: none)
  int64_t params = 0, bytes = 0, flops = 0;  // the prefix's stored weights and effective FLOPs
  std::string where;        // "schema.yaml:3:8: trunk"
};

struct Schema {
  std::string path;  // as given, for messages
  std::string name;
  Shape input;       // what the network takes (with a trunk: the trunk's output)
  int64_t num_classes = 0;
  std::vector<std::string> class_names;
  DataSpec data;
  std::vector<LayerSpec> layers;  // execution order, inputs resolved (LayerSpec::from), shapes inferred
  TrainSpec training;
  CatalogSpec catalog;
  SpecializeSchema specialize;
  TrunkRef trunk;
  std::string source_hash;  // FNV-1a of the schema text
};

// The index of class `token` (a class name, else a class index); "" in *why when found, else
// what is wrong (for messages), and -1.
int64_t class_index(const Schema& s, const std::string& token, std::string* why);

// "" when `s` is a chain, else why `what` (a stage that takes chains only: "specialized
// variants", "a fragment on a trunk") refuses it: the first layer using a graph feature (a
// `from`, add, concat, mul, global pooling, relu6, hardswish, sigmoid, groups or dilation).
std::string graph_refusal(const Schema& s, const std::string& what);

// Reads and validates a schema file. Relative data paths are resolved against the schema's
// directory.
Schema parse_schema_file(const std::string& path);

// Same, from text; `display_name` is used in messages and `base_dir` to resolve data paths.
Schema parse_schema_string(const std::string& text, const std::string& display_name,
                           const std::string& base_dir);

}  // namespace mcdnn
