// A catalog build split into jobs for many machines: `mcdnn-compile SCHEMA --plan DIR` trains the
// base model and writes DIR/plan.json; `--plan DIR --job K` builds job K's variants into DIR
// and records them in DIR/job-K.json; `--merge DIR` checks that every job finished and writes
// the catalog (compiler/build_jobs.cpp). tools/slurm/ turns the plan into Slurm job arrays.
// This file holds what needs no LibTorch: splitting the plan into jobs, and the plan directory's
// files. docs/cluster.md documents them.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "catalog/catalog_index.hpp"
#include "catalog/output_dir.hpp"
#include "schema/plan.hpp"

namespace mcdnn {

constexpr const char* kPlanFormat = "mcdnn-plan";
constexpr const char* kJobFormat = "mcdnn-job";

struct BuildJob {
  size_t number = 0;               // 1-based, in wave order
  size_t wave = 1;                 // 1 + the largest wave among the jobs it derives from (the base: wave 0)
  std::vector<size_t> positions;   // plan_build() positions it builds, ascending
  std::vector<std::string> ids;    // their planned ids
  std::vector<size_t> depends;     // jobs whose variants it derives from (none: only the base)
};

// One job per planned variant, except that the ranks of one svd step on one layer of one
// parent share a job (one decomposition serves them all) and a level the rules skip joins a
// sibling's job. Jobs are numbered by wave (every parent in an earlier wave), then plan order,
// so each wave is a contiguous range of job numbers.
std::vector<BuildJob> split_jobs(const std::vector<PlannedVariant>& plan);

// "K" or "A-B" (1 <= A <= B <= jobs) -> the job numbers; throws Error(Usage).
std::vector<size_t> parse_job_range(const std::string& text, size_t jobs);

// DIR/plan.json.
struct PlanFile {
  std::string schema_name, schema_hash, build_key, compiler;
  int threads = 1;             // the thread count every job uses (bit-identical fine-tuning needs the same)
  std::string device = "cpu";  // where the base model was trained: cpu or cuda
  int64_t variants = 0, positions = 0;
  VariantRecord base;
  CheckpointEntry base_entry;
  InputInfo input;             // with the normalization computed from the training data
  std::vector<BuildJob> jobs;
};

std::string plan_json(const PlanFile& p, const Schema& schema);
// Reads and validates DIR/plan.json; throws Error(Catalog) naming the file and key.
PlanFile read_plan(const std::string& dir);

// What one job built: DIR/job-K.json.
struct JobResult {
  size_t job = 0;
  std::string build_key;
  std::vector<VariantRecord> records;     // in plan order (sha256 set)
  std::vector<size_t> positions;          // of each record
  std::vector<std::string> planned;       // each record's planned id
  std::vector<CheckpointEntry> entries;   // each record's shared prefix and unmasked zeros
  std::vector<std::string> skipped;       // planned ids of levels it skipped
  std::vector<std::pair<size_t, std::string>> notes;  // (plan position, text)
  double seconds = 0;
};

std::string job_json(const JobResult& j, const Schema& schema);
// Reads DIR/job-K.json; throws Error(Catalog).
JobResult read_job(const std::string& path);
std::string job_file_name(size_t job);

// Makes DIR a plan directory: absent or empty (created), or one mcdnn made (its plan.json has
// mcdnn's plan format; it holds only plan.json, base.h5, job-K.json, variant files, locks and
// temporaries; without plan.json only locks and temporaries). Anything else: Error(Output),
// touching nothing. Returns true when DIR holds a plan of `build_key` and not `restart`;
// otherwise, when `clean`, removes the plan's files (never the locks). Call it once to check,
// then again with `clean` while holding DIR/.lock.
bool prepare_plan_dir(const std::string& dir, const std::string& build_key, bool restart, bool clean);

}  // namespace mcdnn
