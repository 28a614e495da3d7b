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
constexpr int kCatalogVersion = 2;  // 2: every variant carries the sha256 of its file

InputInfo input_info(const Schema& s);

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
  double eval_images_per_s = 0;
  // Set by mark_pareto(): on the accuracy-vs-bytes / accuracy-vs-effective-FLOPs front, and the knee.
  bool pareto_bytes = false, pareto_flops = false, knee_bytes = false, knee_flops = false;
};

// Marks the Pareto-optimal records for accuracy versus bytes and versus effective FLOPs and
// the knee of each front. A record is on a front when no other has less-or-equal resource and
// greater-or-equal accuracy with one of them strict. Knee (Kneedle, Satopaa et al. 2011, on the
// front in log-resource space): normalize x = log(resource) and y = accuracy over the front to
// [0, 1]; the knee is the front point with the largest y - x, i.e. farthest above the chord from
// the cheapest to the most accurate point. Fronts of fewer than 3 points have no knee.
void mark_pareto(std::vector<VariantRecord>& records);

// catalog.json text for the given records.
std::string catalog_json(const Schema& schema, const std::vector<VariantRecord>& records,
                         const std::string& build_key = "", const std::vector<std::string>& notes = {});

struct CatalogIndex {
  std::string dir;
  std::string schema, build_key;
  InputInfo input;
  std::vector<std::string> notes;
  std::vector<VariantRecord> records;  // base first
  const VariantRecord* find(const std::string& id) const;
};

// Reads DIR/catalog.json, trusting nothing: format and version first, then every key's type
// and range, unique ids, each parent an earlier variant, file names that stay inside DIR
// (a plain "<name>.h5", no '/' or ".."), 64-hex-digit checksums. Files are not opened.
// Throws Error(Catalog) naming the file, the variant and the key.
CatalogIndex read_catalog_index(const std::string& dir);
// Same, from text; `where` names it in messages.
CatalogIndex parse_catalog_index(const std::string& text, const std::string& where);

// Checks a variant file's SHA-256 against the index before anything opens it (accidental
// damage: truncation, flipped bits), then reads and validates it (read_variant_file()).
// Throws Error(Catalog).
VariantFile load_variant(const CatalogIndex& index, const VariantRecord& rec);
void verify_checksum(const CatalogIndex& index, const VariantRecord& rec);

}  // namespace mcdnn
