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

struct Schema {
  std::string path;  // as given, for messages
  std::string name;
  Shape input;
  int64_t num_classes = 0;
  std::vector<std::string> class_names;
  DataSpec data;
  std::vector<LayerSpec> layers;  // shapes inferred
  TrainSpec training;
  std::string source_hash;  // FNV-1a of the schema text
};

// Reads and validates a schema file. Relative data paths are resolved against the schema's
// directory.
Schema parse_schema_file(const std::string& path);

// Same, from text; `display_name` is used in messages and `base_dir` to resolve data paths.
Schema parse_schema_string(const std::string& text, const std::string& display_name,
                           const std::string& base_dir);

}  // namespace mcdnn
