// The one table of variants, in human units with aligned columns: mcdnn-compile's progress lines
// (one row as each variant finishes, "[ 5/73]") and its closing summary, and mcdnn-catalog show.
// Columns are a table (kColumns in the .cpp): each says its header, width, which views show it,
// and how it formats a record; ratios are against the base model.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "catalog/catalog_index.hpp"

namespace mcdnn {

// "bytes (knee), flops, energy": the Pareto fronts a variant is on, knees named.
std::string fronts_text(const VariantRecord& r);

// The orders a table can be sorted in, one table for parsing, help and sorting:
// order (build order), accuracy (most first), bytes, flops, latency, energy (least first).
struct SortKey {
  const char* name;
  bool needs_measured;
  double (*value)(const VariantRecord&);
  bool descending;
};
const std::vector<SortKey>& sort_keys();
std::vector<std::string> sort_key_names();
const SortKey* find_sort_key(const std::string& name);  // nullptr when unknown

class VariantTable {
 public:
  enum class View { Progress, Summary };
  // `base`: the ratios' reference; `id_width`: the longest id to align (at least 7);
  // `measured`: latency and energy columns; `total`: the counter's total ("[ 5/73]").
  VariantTable(View view, const VariantRecord& base, size_t id_width, bool measured, size_t total = 0);

  std::string header() const;  // the column names and, below, their units
  // One row; `index` (1-based) fills the progress counter, `note` goes at the end.
  std::string row(const VariantRecord& r, size_t index = 0, const std::string& note = "") const;

 private:
  View view_;
  VariantRecord base_;  // a copy: the records it came from may grow
  size_t id_width_;
  bool measured_;
  size_t total_;
};

// Header, the rows sorted by `sort` (a sort_keys() name), and a legend: the summary table.
// Throws Error(Usage) for a key that needs measured costs on an unmeasured catalog.
std::string format_variant_table(const std::vector<VariantRecord>& records, bool measured, const std::string& sort = "order",
                                 bool only_fronts = false);

// mcdnn-compile's row for a variant just measured by the executor, "[ 5/73] id  0.412 ms (p95 ...",
// the id padded to `id_width` (the longest id measured) so that the numbers stay in columns.
std::string measured_row(const VariantRecord& r, size_t index, size_t total, size_t id_width);

// What the closing summary says about time (mcdnn-compile, after the table).
struct BuildTimes {
  double base_seconds = 0;        // the base model's training with its per-epoch validation (its build_seconds)
  double base_train_seconds = 0;  // of which optimization (its train_seconds)
  double train_images_per_s = 0;  // training examples x epochs / base_train_seconds
  double eval_images_per_s = 0;   // validation throughput
  size_t variants = 0;            // the variants besides the base
  double catalog_seconds = 0;     // making them: passes, fine-tuning, evaluation, cached activations
  double cache_seconds = 0;       // of which computing cached activations
  size_t resumed = 0;             // of them taken from the checkpoint
  double total_seconds = 0;
  std::string catalog_json;       // where catalog.json was written
};
// The lines: the base's time split into training and validation, the catalog's time as a
// multiple of the base's (the ratio of the two times printed beside it), the total.
std::string format_build_times(const BuildTimes& t);

}  // namespace mcdnn
