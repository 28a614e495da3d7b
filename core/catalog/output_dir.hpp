// Where a catalog is built and what may be replaced. The rules (README, "What mcdnn never
// overwrites"):
//   * the output directory is replaced only when it is empty or is a catalog written by mcdnn
//     holding nothing but that catalog's files (those catalog.json lists, and its report.html and
//     tools/plot_catalog.py's catalog.png/.svg when their content shows mcdnn wrote them); anything else (the working directory or one of
//     its ancestors, the home directory, `/`, a symbolic link, a directory with other files) is
//     refused with Error(Output) before any work;
//   * the build happens in the sibling DIR.partial, which holds the finished variants and a
//     checkpoint as they complete; a killed run leaves it there, and rerunning the same command
//     resumes from it; it is renamed to DIR only when the catalog is complete.
#pragma once
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "catalog/catalog_index.hpp"

namespace mcdnn {

// Throws Error(Output) naming `dir` and what to do when a catalog may not be written there:
// see the rules above, plus a parent that cannot be created or written, and a DIR.partial
// that mcdnn did not make.
void check_output_dir(const std::string& dir);

// The build_key recorded in DIR/catalog.json when DIR holds a complete, undamaged catalog
// (every file's checksum verified), else "".
std::string existing_build_key(const std::string& dir);

// What a resumed build finds for one finished variant besides its record and file.
struct CheckpointEntry {
  size_t shared = 0;  // leading layers shared with the base model (fine-tuning's frozen prefix)
  // Pruning masks are rebuilt from the stored zeros; these are the flat indices, per
  // "layer:tensor", of weights that are zero but not pruned (almost always none).
  std::map<std::string, std::vector<int64_t>> unmasked_zeros;
};

// DIR.partial: created, or resumed when it holds a checkpoint of the same build_key (a
// checkpoint of another build is discarded). Locked against a second concurrent build.
class BuildDir {
 public:
  BuildDir(const std::string& out_dir, const std::string& build_key, bool restart, std::ostream& log);
  ~BuildDir();
  BuildDir(const BuildDir&) = delete;
  BuildDir& operator=(const BuildDir&) = delete;

  const std::string& dir() const { return partial_; }
  std::string file(const std::string& name) const;
  // Finished before this run (verified checksums), by id.
  const VariantRecord* done(const std::string& id) const;
  const CheckpointEntry* entry(const std::string& id) const;
  size_t resumed_count() const { return resumed_.size(); }

  // Records a finished variant whose file is already written at file(rec.file): fills
  // rec.sha256 and rewrites the checkpoint atomically.
  void commit(VariantRecord& rec, const CheckpointEntry& e, const Schema& schema);
  // Writes the final catalog.json and renames DIR.partial to DIR (replacing an old catalog of
  // mcdnn's there, re-checked at this moment).
  void finish(const std::string& catalog_json_text);

 private:
  void write_checkpoint(const Schema& schema) const;
  std::string out_, partial_, key_;
  int lock_fd_ = -1;
  std::map<std::string, VariantRecord> resumed_;
  std::map<std::string, CheckpointEntry> entries_;
  std::vector<VariantRecord> records_;  // committed by this run, in build order
  std::set<std::string> committed_;
  std::vector<std::string> order_;  // resumed ids in their old build order
};

}  // namespace mcdnn
