#include "fixtures.hpp"

#include "util/fs.hpp"

#include <stdlib.h>
#include <sys/wait.h>
#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <random>
#include <stdexcept>

#include "catch.hpp"
#include "compile.hpp"
#include "scenario.hpp"
#include "util/error.hpp"

namespace mcdnn::test {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "mcdnn-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Synthetic make_synthetic(int64_t n, int64_t size, int classes, uint32_t seed) {
  Synthetic s;
  s.n = n;
  s.size = size;
  s.images.resize(static_cast<size_t>(n * size * size));
  s.labels.resize(static_cast<size_t>(n));
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> noise(0, 90), jitter(0, 1);
  const int64_t half = size / 2, sq = size / 3;
  for (int64_t i = 0; i < n; ++i) {
    int k = static_cast<int>(i % classes);
    s.labels[static_cast<size_t>(i)] = static_cast<uint8_t>(k);
    uint8_t* img = &s.images[static_cast<size_t>(i * size * size)];
    for (int64_t p = 0; p < size * size; ++p) img[p] = static_cast<uint8_t>(noise(rng));
    int64_t y0 = (k / 2) * half + jitter(rng), x0 = (k % 2) * half + jitter(rng);
    for (int64_t y = y0; y < y0 + sq; ++y)
      for (int64_t x = x0; x < x0 + sq; ++x) img[y * size + x] = static_cast<uint8_t>(200 + noise(rng) / 2);
  }
  return s;
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void write_idx(const std::string& path, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data, bool gz,
               uint8_t type) {
  std::vector<uint8_t> b = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    b.push_back(static_cast<uint8_t>(d >> 24));
    b.push_back(static_cast<uint8_t>(d >> 16));
    b.push_back(static_cast<uint8_t>(d >> 8));
    b.push_back(static_cast<uint8_t>(d));
  }
  b.insert(b.end(), data.begin(), data.end());
  if (!gz) return write_bytes(path, b);
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, b.data(), static_cast<unsigned>(b.size()));
  gzclose(f);
}

void write_synthetic_idx(const Synthetic& s, const std::string& prefix, bool gz) {
  std::string ext = gz ? ".idx.gz" : ".idx";
  write_idx(prefix + "-images" + ext, {static_cast<uint32_t>(s.n), static_cast<uint32_t>(s.size), static_cast<uint32_t>(s.size)},
            s.images, gz);
  write_idx(prefix + "-labels" + ext, {static_cast<uint32_t>(s.n)}, s.labels, gz);
}

std::string tiny_schema(const std::string& dir, int classes, int epochs) {
  return "format: mcdnn-schema/1\n"
         "name: tiny\n"
         "input: {channels: 1, height: 12, width: 12}\n"
         "classes: " + std::to_string(classes) + "\n"
         "data:\n"
         "  train: {idx: {images: " + dir + "/train-images.idx, labels: " + dir + "/train-labels.idx}}\n"
         "  validation: {idx: {images: " + dir + "/val-images.idx, labels: " + dir + "/val-labels.idx}}\n"
         "network:\n"
         "  - conv2d: {out: 8, kernel: 3, padding: 1}\n"
         "  - batchnorm\n"
         "  - relu\n"
         "  - maxpool: {kernel: 2}\n"
         "  - flatten\n"
         "  - linear: {out: 16}\n"
         "  - relu\n"
         "  - dropout: {p: 0.1}\n"
         "  - linear: {out: " + std::to_string(classes) + "}\n"
         "training: {epochs: " + std::to_string(epochs) + ", batch_size: 32, optimizer: adam, lr: 0.01, seed: 7}\n";
}

int compile_tiny(const TempDir& dir, const std::string& catalog_section, int epochs, std::string* log) {
  std::string schema = tiny_schema(dir.path().string(), 4, epochs) + catalog_section;
  write_bytes(dir / "s.yaml", std::vector<uint8_t>(schema.begin(), schema.end()));
  CompileOptions opt;
  opt.schema_path = dir / "s.yaml";
  opt.out_dir = dir / "cat";
  opt.threads = 1;
  opt.measure_seconds = 0.01;  // measured, quickly
  std::ostringstream out, err;
  int rc = compile(opt, out, err);
  *log = out.str() + err.str();
  return rc;
}

rt::App three_variants(const std::string& name) {
  rt::App a;
  a.name = name;
  a.variants = {var("big", 0.95, 60, 1.0, 5.0), var("small", 0.90, 20, 0.2, 1.0), var("tiny", 0.80, 10, 0.05, 0.5)};
  a.original = 0;
  a.knee = 1;
  a.device_profile = "test";
  return a;
}

rt::VariantCost var(const std::string& id, double acc, int64_t bytes, double exec_j, double load_j, double exec_s,
                     double load_s) {
  rt::VariantCost v;
  v.id = id;
  v.accuracy = acc;
  v.bytes = bytes;
  v.exec_j = exec_j;
  v.load_j = load_j;
  v.exec_s = exec_s;
  v.load_s = load_s;
  v.cloud_s = exec_s;
  v.cloud_usd = exec_s * 1e3 * 1e-3;  // $1e-3 per ms of server time
  return v;
}

std::string scenario_error(const std::string& text) {
  try {
    rt::parse_scenario_string(text, "s.yaml", "");
  } catch (const Error& e) {
    CHECK(e.cls() == ErrorClass::Scenario);
    return e.what();
  }
  FAIL("no error for:\n" << text);
  return "";
}

int run_command(const std::string& cmd, std::string* output) {
  std::string full = cmd + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  output->clear();
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) output->append(buf, n);
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int compile_every_form(const TempDir& dir, uint32_t seed, std::string* log) {
  write_synthetic_idx(make_synthetic(200, 12, 4, seed), dir / "train");
  write_synthetic_idx(make_synthetic(60, 12, 4, seed + 1), dir / "val");
  return compile_tiny(dir,
                      "catalog:\n"
                      "  finetune: {examples: 100, epochs: 1}\n"
                      "  variants:\n"
                      "    - quantize: {formats: [int8, cb4]}\n"
                      "    - svd: {layers: [fc1], ranks: [1/4]}\n"
                      "    - prune: {layers: all, sparsity: [0.8], then: [{quantize: {formats: [int8, cb2]}}]}\n",
                      1, log);
}

std::vector<float> random_weights(int64_t n, double sparsity, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.f, 0.1f);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<float> w(static_cast<size_t>(n));
  for (auto& x : w) x = u(rng) < sparsity ? 0.f : g(rng);
  return w;
}

nlohmann::json without_timings(const std::string& path) {
  nlohmann::json j = nlohmann::json::parse(mcdnn::read_file(path, 1));
  for (auto& v : j["variants"])
    for (const char* k : {"train_seconds", "build_seconds", "eval_images_per_s", "measured", "pareto_latency",
                          "pareto_energy", "knee_latency", "knee_energy"})
      v.erase(k);
  if (j.contains("features"))
    for (auto& f : j["features"]) f.erase("seconds");
  return j;
}

}  // namespace mcdnn::test
