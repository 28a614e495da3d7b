// The steps a whole build (compile.cpp) and a build split into jobs (build_jobs.cpp) share, so
// that both make the same base model, the same fine-tuning subset and the same catalog.
#pragma once
#include <torch/torch.h>

#include <ostream>
#include <string>

#include "catalog/catalog_index.hpp"
#include "cli/compile_options.hpp"
#include "data/dataset.hpp"
#include "nn/variant.hpp"
#include "schema/schema.hpp"
#include "train/train.hpp"

namespace mcdnn {

// Fingerprint of everything a catalog is built from: compiler version and binary (size and
// time of the running executable, so a rebuilt compiler rebuilds catalogs), schema text, the
// effective epochs and limits, and each data file's path, size and modification time.
std::string build_key(const Schema& s);

// Loads both data sets (load_data()) and says how many and how long.
void load_build_data(Schema& schema, Dataset* train_set, Dataset* val_set, std::ostream& out);

// Trains the base model from the schema's seed; fills `rec` (id "base", file "base.h5",
// accuracy, timings, profile). The returned variant is on the CPU.
Variant train_base(const Schema& schema, const Dataset& val_set, const TensorData& tr,
                   const TensorData& va, torch::Device device, const CompileOptions& opt, std::ostream& out, VariantRecord* rec);

// The fixed, seeded subset of the training set every variant is fine-tuned on.
TensorData finetune_subset(const Schema& schema, const TensorData& tr, torch::Device device);

}  // namespace mcdnn
