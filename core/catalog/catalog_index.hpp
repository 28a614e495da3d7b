// catalog.json: the index of a catalog directory — one record per variant with its cost,
// accuracy and the SHA-256 of its file. Torch-free. docs/catalog-format.md documents every key.
#pragma once
#include <string>
#include <vector>

#include "catalog/variant_file.hpp"
#include "profile/profile.hpp"
#include "schema/schema.hpp"

namespace mcdnn {

constexpr const char* kCatalogFormat = "mcdnn-catalog";
constexpr int kCatalogVersion = 6;  // 2: every variant carries the sha256 of its file
                                    // 3: measured executor costs, the executor and energy model
                                    // 4: specialized variants (`specialized`)
                                    // 5: fragments on another catalog's trunk (`trunk`)
                                    // 6: pre-forwarded features kept for specialization (`features`)

InputInfo input_info(const Schema& s);

// One layer's (or fused group's) share of the measured batch-1 latency.
struct LayerCost {
  std::string name;    // the layers the executor step covers, "conv1+bn1+relu1"
  std::string kernel;  // "f32 dense", "lowrank int8 dense + f32 dense", "" for pooling
  double ms = 0;       // mean per inference
};

// What running the variant with the executor cost, measured on the building machine
// (executor/measure.hpp); energy from the device energy model (executor/energy.hpp).
struct MeasuredCost {
  bool present = false;
  double latency_ms = 0, latency_p95_ms = 0;  // batch 1, after warm-up
  int64_t runs = 0;                            // batch-1 runs timed
  int64_t batch = 0;                           // batched throughput: batch size
  double throughput = 0;                       // images per second at that batch
  double load_cold_ms = 0, load_warm_ms = 0;   // file -> runnable model (page cache dropped / warm)
  int64_t resident_bytes = 0;                  // weights, scales, codebooks, indices held
  int64_t activation_bytes = 0;                // batch-1 activation and scratch buffers
  double exec_mj = 0, load_mj = 0;             // energy per inference / per load
  std::vector<LayerCost> layers;
};

// The machine and model the measurements come from (catalog.json "executor").
struct ExecutorInfo {
  std::string cpu, isa;
  int threads = 1;
  std::string energy_model;     // "mcdnn-energy/1"
  std::string device_profile;   // "epyc-zen4-core"
  std::string energy_formula;   // the formula with its constants, for readers
};

// A variant retargeted to a few dominant classes plus "other" (compiler/specialize): its
// outputs are `classes` in order, then "other" at index classes.size().
struct Specialization {
  bool present = false;
  std::vector<int64_t> classes;          // the source classes kept, in output order
  std::vector<std::string> class_names;  // their names (empty when the schema names none)
  int64_t retrained_layers = 1;          // weight layers retrained, counted from the end
  double in_set_accuracy = 0;  // validation examples of the kept classes given their class
  double in_set_other = 0;     // validation examples of the kept classes called "other"
  double other_recall = 0;     // validation examples of the other classes called "other"
  double source_in_set_accuracy = 0;  // the source (generic) variant on the same kept-class examples
  int64_t train_examples = 0;  // the training set after subsampling "other"
  // The output a specialized variant should give for true class `label`: its position among
  // `classes`, else "other" (classes.size()).
  int64_t output_of(int64_t label) const {
    for (size_t i = 0; i < classes.size(); ++i)
      if (classes[i] == label) return static_cast<int64_t>(i);
    return static_cast<int64_t>(classes.size());
  }
};

// Pre-forwarded features kept with the catalog (compiler/specialize/feature_store.hpp): a
// generic variant's training and validation sets at the input of its last `retrained_layers`
// weight layers, computed once, so that specializing the variant later (the build's
// `specialize` section, `mcdnn-compile --specialize`) trains those layers without running the
// frozen ones. Needed only to specialize; a runtime that only runs variants never opens them.
struct FeatureRecord {
  std::string variant;           // a generic variant of this catalog
  std::string variant_sha256;    // its file's, equal to the variant's record
  int64_t retrained_layers = 1;  // weight layers the features feed, counted from the end
  int64_t cut = 0;               // index of the first of them: features are the input of layers[cut]
  std::string file;              // "<variant>.features-last<k>.h5", relative to the catalog directory
  std::string sha256;            // of the file
  std::vector<int64_t> shape;    // one example's features: [n] or [c, h, w]
  int64_t train_examples = 0, validation_examples = 0;
  double seconds = 0;            // spent forwarding (once, when stored)
};

struct VariantRecord {
  std::string id;
  std::string parent;                   // "" for the base
  std::vector<std::string> transforms;  // empty for the base
  std::string file;                     // relative to the catalog directory
  std::string sha256;                   // of the file, 64 hex digits
  Profile profile;
  double accuracy = 0;           // validation top-1 in [0, 1]
  double accuracy_before_finetune = -1;  // < 0: not fine-tuned
  int64_t validation_examples = 0;
  double train_seconds = 0;      // training (base) or fine-tuning (variants)
  double build_seconds = 0;      // everything spent making this variant: pass, fine-tune, evaluation
  int64_t epochs = 0;
  // The base: validation accuracy after each training epoch (the last = `accuracy`), for
  // judge_convergence(); empty for the other variants and in catalogs written before it was kept.
  std::vector<double> accuracy_by_epoch;
  double eval_images_per_s = 0;
  // Set by mark_pareto(): on the accuracy-vs-bytes / accuracy-vs-effective-FLOPs front, and the knee.
  bool pareto_bytes = false, pareto_flops = false, knee_bytes = false, knee_flops = false;
  // The same over measured batch-1 latency and execution energy (when measured).
  bool pareto_latency = false, pareto_energy = false, knee_latency = false, knee_energy = false;
  MeasuredCost measured;
  Specialization specialized;  // not present: a generic variant (every class)
};

// Marks the Pareto-optimal records for accuracy versus bytes, effective FLOPs and, when every
// record is measured, batch-1 latency and execution energy, and
// the knee of each front. Specialized records are on no front (their accuracy is over other
// labels). A record is on a front when no other has less-or-equal resource and
// greater-or-equal accuracy with one of them strict. Knee (Kneedle, Satopaa et al. 2011, on the
// front in log-resource space): normalize x = log(resource) and y = accuracy over the front to
// [0, 1]; the knee is the front point with the largest y - x, i.e. farthest above the chord from
// the cheapest to the most accurate point. Fronts of fewer than 3 points have no knee.
void mark_pareto(std::vector<VariantRecord>& records);

// catalog.json text for the given records.
// `executor` null: the variants were not measured ("executor" and every "measured" are null).
// `trunk_measured`: a fragment catalog's (schema.trunk) measured trunk, or null.
// `features`: the stored pre-forwarded features (format 6's "features"; each names a record).
std::string catalog_json(const Schema& schema, const std::vector<VariantRecord>& records,
                         const std::string& build_key = "", const std::vector<std::string>& notes = {},
                         const ExecutorInfo* executor = nullptr, const MeasuredCost* trunk_measured = nullptr,
                         const std::vector<FeatureRecord>& features = {});

struct CatalogIndex {
  std::string dir;
  std::string schema, schema_hash, build_key;
  InputInfo input;
  std::vector<std::string> notes;
  int format_version = kCatalogVersion;
  bool measured = false;  // "executor" present: every record's `measured` is filled
  ExecutorInfo executor;
  std::vector<VariantRecord> records;  // base first
  // A fragment catalog: every variant takes the output of `trunk` (another catalog's variant up
  // to a layer; catalog_dir resolved against `dir`), whose costs are its own, paid once per
  // input however many fragments share it. trunk.present false: the variants take `input`.
  TrunkRef trunk;
  MeasuredCost trunk_measured;  // present when the catalog is measured
  std::vector<FeatureRecord> features;  // at most one per (variant, retrained_layers)
  const VariantRecord* find(const std::string& id) const;
  const FeatureRecord* find_features(const std::string& variant, int64_t retrained_layers) const;
};

// Reads DIR/catalog.json (format version 2 to 6), trusting nothing: format and version first, then every key's type
// and range, unique ids, each parent an earlier variant, file names that stay inside DIR
// (a plain "<name>.h5", no '/' or ".."), 64-hex-digit checksums. Files are not opened.
// Throws Error(Catalog) naming the file, the variant and the key.
CatalogIndex read_catalog_index(const std::string& dir);
// Same, from text; `where` names it in messages. `parents_elsewhere`: the records are a part of
// a catalog (a build job's), so each parent need only be another id (checked at the merge).
CatalogIndex parse_catalog_index(const std::string& text, const std::string& where, bool parents_elsewhere = false);

// One variant's `measured` object as catalog.json writes it, on one line (doubles to full
// precision), and back with the same checks: how mcdnn-measure hands its figures to the
// compiler. Throws Error(Catalog) naming `where`.
std::string measured_line(const MeasuredCost& m);
MeasuredCost parse_measured_line(const std::string& text, const std::string& where);

// Checks a variant file's SHA-256 against the index before anything opens it (accidental
// damage: truncation, flipped bits), then reads and validates it (read_variant_file()).
// Throws Error(Catalog).
VariantFile load_variant(const CatalogIndex& index, const VariantRecord& rec);
// The checks load_variant() makes after reading: the file holds `rec` (its id) with the outputs
// the record needs (the catalog's classes, or a specialized variant's kept classes + "other").
void check_variant_matches(const CatalogIndex& index, const VariantRecord& rec, const VariantFile& v);
void verify_checksum(const CatalogIndex& index, const VariantRecord& rec);

}  // namespace mcdnn
