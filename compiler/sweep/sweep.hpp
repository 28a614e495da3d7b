// The orchestrator above the passes: the catalog sweep applies the schema's `catalog.variants` steps (or the default sweep) to
// the trained base model, chaining children from fine-tuned parents, and profiles every variant.
#pragma once
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "nn/variant.hpp"
#include "schema/schema.hpp"
#include "train/finetune.hpp"
#include "schema/default_sweep.hpp"

namespace mcdnn {

// Where the sweep puts each variant as soon as it is finished, and finds the variants an
// interrupted run already finished. The sweep keeps in memory only the variants it still
// derives children from (the chain being worked on) and reloads a dropped one when a later step
// needs it as a parent, so memory grows with the largest few variants, not with their number.
class VariantStore {
 public:
  virtual ~VariantStore() = default;
  // The record of `id` when an earlier run finished it; nullptr otherwise.
  virtual const VariantRecord* done(const std::string& id) const = 0;
  // A resumed variant is part of this run's catalog again (in build order).
  virtual void keep(VariantRecord& rec) = 0;
  // Stores a finished variant; `shared` = leading layers it shares with the base model.
  virtual void save(const Variant& v, VariantRecord& rec, size_t shared) = 0;
  // Reads a stored (or resumed) variant back, masks and encodings included.
  virtual Variant load(const VariantRecord& rec) = 0;
  // Of a variant done() found: how many leading layers it shares with the base model.
  virtual size_t shared(const std::string& id) const = 0;
  // Whether an earlier build job skipped the planned variant `planned_id` (its children are
  // skipped too).
  virtual bool skipped(const std::string&) const { return false; }
};

// Keeps every variant in memory (benchmarks and tests that need no files).
class MemoryStore : public VariantStore {
 public:
  const VariantRecord* done(const std::string&) const override { return nullptr; }
  void keep(VariantRecord&) override {}
  void save(const Variant& v, VariantRecord& rec, size_t shared) override;
  Variant load(const VariantRecord& rec) override;
  size_t shared(const std::string&) const override { return 0; }

 private:
  std::map<std::string, Variant> saved_;
};

struct SweepResult {
  std::vector<VariantRecord> records;  // base first
  std::vector<size_t> positions;       // of each record in plan_build() (the base: 0)
  std::vector<std::string> notes;      // skipped settings and why
  std::vector<size_t> note_positions;  // the plan position each note is about
  std::vector<std::string> skipped;    // planned ids of the levels skipped
  size_t resumed = 0;                  // variants an earlier, interrupted run had finished
  double seconds = 0;                  // the whole sweep, feature caching included
  double cache_seconds = 0;            // of which computing cached activations
  size_t peak_resident = 0;            // most variants held in memory at once (base included)
};

// Runs the sweep from `base` (already trained, recorded and stored): every variant of
// plan_build(s) in order, or only the plan `positions` given (a build job; the parents they
// need and do not build must be done() in `store`). Prints one line per variant, saves each to
// `store` as it completes and returns the records (Pareto flags not yet set).
// The torch RNG is seeded before every pass from the variant's lineage and before every
// fine-tuning from its plan ordinal, so each variant is a function of its parent and its place
// in the plan alone: a resumed run, or build jobs on other machines, make the same catalog.
SweepResult run_sweep(const Schema& s, Variant base, const VariantRecord& base_record, FeatureCache& cache,
                      VariantStore& store, std::ostream& log, const std::vector<size_t>* positions = nullptr);

}  // namespace mcdnn
