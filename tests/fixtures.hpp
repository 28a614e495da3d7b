// Tiny data sets and files the tests generate themselves (fixed seeds).
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app.hpp"

namespace mcdnn::test {

// A fresh directory under the system temp dir, removed (with its contents) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Synthetic classification set: `classes` classes (<= 4) of size x size single-channel
// uint8 images; class k has a bright square in quadrant k over uniform noise. Linearly
// separable, so a small network learns it to ~100% in a few epochs.
struct Synthetic {
  int64_t n = 0, size = 0;
  std::vector<uint8_t> images;  // n * size * size
  std::vector<uint8_t> labels;  // n
};
Synthetic make_synthetic(int64_t n, int64_t size, int classes, uint32_t seed);

// IDX writers (big-endian header); gz = write through zlib.
void write_idx(const std::string& path, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data,
               bool gz = false, uint8_t type = 0x08);
void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes);
std::vector<uint8_t> read_bytes(const std::string& path);

// IDX pair for a Synthetic set: <prefix>-images.idx[.gz], <prefix>-labels.idx[.gz].
void write_synthetic_idx(const Synthetic& s, const std::string& prefix, bool gz = false);

// A schema for the synthetic 12x12 data written with write_synthetic_idx(dir/"train"),
// write_synthetic_idx(dir/"val"); `extra_training` is appended under `training:`.
std::string tiny_schema(const std::string& dir, int classes = 4, int epochs = 3);

// Writes DIR/s.yaml = tiny_schema(DIR, 4, epochs) + `catalog_section` and compiles it in-process
// (1 thread) into DIR/cat; the synthetic data must already be in DIR. Returns the exit code
// and the output in *log.
int compile_tiny(const TempDir& dir, const std::string& catalog_section, int epochs, std::string* log);

// A small catalog holding every stored form (dense f32, sparse f32, int8, sparse int8, cb4,
// sparse cb2, low-rank): synthetic 12x12 data (train seeded `seed`, validation `seed + 1`,
// written to DIR/train-*, DIR/val-*) compiled with compile_tiny() into DIR/cat.
int compile_every_form(const TempDir& dir, uint32_t seed, std::string* log);

// n seeded normal(0, 0.1) weights, a `sparsity` fraction of them exactly 0.
std::vector<float> random_weights(int64_t n, double sparsity, uint32_t seed);

// DIR/catalog.json (given as its path) without the fields that measure time: what must be equal
// between two builds of one catalog (resumed, split into jobs, or whole).
nlohmann::json without_timings(const std::string& path);

// The Error(Scenario) message parse_scenario_string() gives for `text` (a test failure, and "",
// when it accepts it).
std::string scenario_error(const std::string& text);

// A hand-made variant for the scheduler's tests: server time = exec_s, at $1e-3 per ms.
rt::VariantCost var(const std::string& id, double acc, int64_t bytes, double exec_j, double load_j, double exec_s = 0.001,
                    double load_s = 0.01);

// An app of three variants: big (95%, 60 B, 1 J), small (90%, 20 B, 0.2 J), tiny (80%, 10 B,
// 0.05 J); original big, knee small.
rt::App three_variants(const std::string& name = "a");

// Runs a shell command; returns its exit status and stdout+stderr.
int run_command(const std::string& cmd, std::string* output);

}  // namespace mcdnn::test
