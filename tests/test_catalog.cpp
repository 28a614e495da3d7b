// Catalog round trip: write, read back, run -> identical outputs; catalog.json contents;
// byte accounting against the HDF5 file; the Python reader from docs/catalog-format.md.
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <set>
#include <sstream>

#include "catalog/catalog.hpp"
#include "compile.hpp"
#include "catalog/report.hpp"
#include "catch.hpp"
#include "data/dataset.hpp"
#include "fixtures.hpp"
#include "model.hpp"
#include "train/train.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/h5.hpp"

using namespace mcdnn;
using namespace mcdnn::test;
namespace fs = std::filesystem;

namespace {
struct Built {
  TempDir dir;
  Schema schema;
  Dataset tr, va;
  VariantRecord rec;
  Net net{nullptr};
  Variant var;
  Built() {
    write_synthetic_idx(make_synthetic(300, 12, 4, 21), dir / "train");
    write_synthetic_idx(make_synthetic(100, 12, 4, 22), dir / "val");
    schema = parse_schema_string(tiny_schema(dir.path().string(), 4, 1), dir / "s.yaml", "");
    load_data(schema, &tr, &va);
    torch::manual_seed(1);
    net = Net(schema.layers);
    auto r = train(net, to_tensors(tr, torch::kCPU), to_tensors(va, torch::kCPU), schema.training, TrainOptions{});
    rec.id = "base";
    rec.file = "base.h5";
    rec.profile = profile_layers(schema.layers);
    rec.accuracy = r.val_accuracy;
    rec.epochs = 1;
    var.id = "base";
    var.net = net;
  }
};
}  // namespace

// Logits of variant `id` of the catalog at `cat` for inputs `x` (already preprocessed), computed
// by tools/mcdnn_run.py (json + h5py + numpy only); `scratch` is a directory for the exchange files.
torch::Tensor python_logits(const std::string& cat, const std::string& id, const torch::Tensor& x, const TempDir& scratch) {
  h5::quiet();
  auto xs = x.contiguous();
  {
    auto f = h5::create_file(scratch / "io.h5");
    h5::write_f32(f.id(), "x", xs.sizes().vec(), xs.data_ptr<float>());
  }
  const auto input = read_bytes(scratch / "io.h5");
  std::string out;
  int rc = run_command(std::string(MCDNN_PYTHON) + " " + MCDNN_SOURCE_DIR + "/tools/mcdnn_run.py " + cat + " " + id + " " +
                           (scratch / "io.h5") + " --preprocessed --logits " + (scratch / "logits.h5"),
                       &out);
  INFO(out);
  REQUIRE(rc == 0);
  CHECK(read_bytes(scratch / "io.h5") == input);  // the input is only read
  auto f = h5::open_file(scratch / "logits.h5");
  std::vector<int64_t> shape;
  auto y = h5::read_f32(f.id(), "logits", &shape);
  return torch::from_blob(y.data(), shape, torch::kFloat32).clone();
}

TEST_CASE("a variant written and read back gives identical outputs", "[catalog]") {
  Built b;
  write_catalog(b.dir / "cat", b.schema, {b.rec}, {&b.var});
  InputInfo info;
  Net back = read_variant(b.dir / "cat/base.h5", &info).net;
  CHECK(info.input == b.schema.input);
  CHECK(info.num_classes == 4);
  CHECK(info.mean == b.schema.data.normalize.mean);
  REQUIRE(back->layers().size() == b.schema.layers.size());
  for (size_t i = 0; i < b.schema.layers.size(); ++i) {
    CHECK(back->layers()[i].name == b.schema.layers[i].name);
    CHECK(back->layers()[i].out_shape == b.schema.layers[i].out_shape);
  }
  auto x = to_tensors(b.va, torch::kCPU).x;
  CHECK(torch::equal(predict(b.net, x), predict(back, x)));  // bit for bit
}

TEST_CASE("catalog.json carries the index fields and exact byte counts", "[catalog]") {
  Built b;
  write_catalog(b.dir / "cat", b.schema, {b.rec}, {&b.var});
  YAML::Node j = YAML::LoadFile(b.dir / "cat/catalog.json");  // JSON is YAML
  CHECK(j["format"].as<std::string>() == "mcdnn-catalog");
  CHECK(j["format_version"].as<int>() == 6);
  CHECK(j["schema"].as<std::string>() == "tiny");
  CHECK(j["classes"]["count"].as<int>() == 4);
  REQUIRE(j["variants"].size() == 1);
  auto v = j["variants"][0];
  CHECK(v["id"].as<std::string>() == "base");
  CHECK(v["parent"].IsNull());
  CHECK(v["transforms"].size() == 0);
  CHECK(v["file"].as<std::string>() == "base.h5");
  CHECK(v["params"].as<int64_t>() == b.rec.profile.params);
  CHECK(v["flops"].as<int64_t>() == b.rec.profile.flops);
  CHECK(v["accuracy"].as<double>() == b.rec.accuracy);
  // `bytes` is exactly the weight payload stored in the HDF5 file.
  int64_t payload = 0;
  auto f = h5::open_file(b.dir / "cat/base.h5");
  auto layers = h5::open_group(f.id(), "layers");
  for (const auto& n : h5::children(layers.id())) {
    auto g = h5::open_group(layers.id(), n);
    for (const auto& t : h5::children(g.id())) {
      h5::Handle ds(H5Dopen2(g.id(), t.c_str(), H5P_DEFAULT), H5Dclose);
      payload += static_cast<int64_t>(H5Dget_storage_size(ds.id()));
    }
  }
  CHECK(payload == v["bytes"].as<int64_t>());
  CHECK_FALSE(fs::exists(b.dir / "cat.tmp-" + std::to_string(::getpid())));
}

TEST_CASE("rewriting a catalog replaces it whole, and other directories are refused untouched", "[catalog]") {
  Built b;
  write_catalog(b.dir / "cat", b.schema, {b.rec}, {&b.var});
  auto first = read_bytes(b.dir / "cat/catalog.json");
  // A catalog of mcdnn's is replaced whole, leaving no sibling behind.
  b.rec.accuracy = 0.5;
  write_catalog(b.dir / "cat", b.schema, {b.rec}, {&b.var});
  CHECK(read_bytes(b.dir / "cat/catalog.json") != first);
  std::set<std::string> names;
  for (auto& e : fs::directory_iterator(b.dir.path())) names.insert(e.path().filename().string());
  CHECK(names.count("cat") == 1);
  CHECK(names.count("cat.partial") == 0);
  std::set<std::string> files;
  for (auto& e : fs::directory_iterator(b.dir / "cat")) files.insert(e.path().filename().string());
  CHECK(files == std::set<std::string>{"base.h5", "catalog.json", "report.html"});
  // The same catalog plus one file of the user's is not mcdnn's to replace: refused, untouched.
  write_bytes(b.dir / "cat/notes.txt", {'h', 'i'});
  auto before = read_bytes(b.dir / "cat/catalog.json");
  CHECK_THROWS_AS(write_catalog(b.dir / "cat", b.schema, {b.rec}, {&b.var}), Error);
  CHECK(read_bytes(b.dir / "cat/notes.txt") == std::vector<uint8_t>{'h', 'i'});
  CHECK(read_bytes(b.dir / "cat/catalog.json") == before);
  fs::remove(b.dir / "cat/notes.txt");
  // A report.html is the catalog's own only when mcdnn wrote it.
  write_bytes(b.dir / "cat/report.html", {'<', 'p', '>'});
  CHECK_THROWS_AS(write_catalog(b.dir / "cat", b.schema, {b.rec}, {&b.var}), Error);
  CHECK(read_bytes(b.dir / "cat/report.html") == std::vector<uint8_t>{'<', 'p', '>'});
  const std::string page = catalog_report_html("{}");
  write_bytes(b.dir / "cat/report.html", std::vector<uint8_t>(page.begin(), page.end()));
  CHECK_NOTHROW(write_catalog(b.dir / "cat", b.schema, {b.rec}, {&b.var}));
}

namespace {
// A PNG chunk: big-endian length, type, data, CRC-32 of type and data.
std::string png_chunk(const std::string& type, const std::string& data, bool good_crc = true) {
  std::string c;
  auto be32 = [&](uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) c += static_cast<char>((v >> s) & 0xff);
  };
  be32(static_cast<uint32_t>(data.size()));
  const std::string body = type + data;
  c += body;
  uint32_t crc = static_cast<uint32_t>(crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
  be32(good_crc ? crc : crc ^ 1);
  return c;
}
// A 1x1 PNG with `before` chunks ahead of the image data and `after` behind it.
std::string png_with(const std::string& before, const std::string& after = "") {
  const std::string ihdr = std::string("\0\0\0\1\0\0\0\1\x08\x02\0\0\0", 13);
  return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr) + before + png_chunk("IDAT", std::string("x\x9c", 2)) + after +
         png_chunk("IEND", "");
}
std::string text_chunk(const std::string& key, const std::string& value, bool good_crc = true) {
  return png_chunk("tEXt", key + std::string(1, '\0') + value, good_crc);
}
std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }
}  // namespace

TEST_CASE("plot_catalog's plots are the catalog's own only by name and mark", "[catalog][output]") {
  const std::string ours = "mcdnn catalog plot (tools/plot_catalog.py, matplotlib 3.6.3)";
  const std::string png = png_with(text_chunk("Software", ours));
  const std::string svg = "<?xml version=\"1.0\" encoding=\"utf-8\" standalone=\"no\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\">\n"
                          "<!-- mcdnn catalog plot -->\n</svg>\n";
  CHECK(is_catalog_plot("catalog.png", png));
  CHECK(is_catalog_plot("catalog.png", png_with(text_chunk("Title", "x") + text_chunk("Software", ours))));
  CHECK(is_catalog_plot("catalog.svg", svg));
  // Not ours: another name, the other format, no mark, a mark elsewhere or damaged.
  CHECK_FALSE(is_catalog_plot("plot.png", png));
  CHECK_FALSE(is_catalog_plot("catalog.svg", png));
  CHECK_FALSE(is_catalog_plot("catalog.png", svg));
  CHECK_FALSE(is_catalog_plot("catalog.png", png_with("")));
  CHECK_FALSE(is_catalog_plot("catalog.png", png_with(text_chunk("Software", "Matplotlib version3.6.3, https://matplotlib.org/"))));
  CHECK_FALSE(is_catalog_plot("catalog.png", png_with(text_chunk("Comment", ours))));
  CHECK_FALSE(is_catalog_plot("catalog.png", png_with("", text_chunk("Software", ours))));  // after the image data
  CHECK_FALSE(is_catalog_plot("catalog.png", png_with(text_chunk("Software", ours, false))));  // CRC wrong
  CHECK_FALSE(is_catalog_plot("catalog.png", png.substr(0, 40)));  // cut inside the chunk
  CHECK_FALSE(is_catalog_plot("catalog.png", "mcdnn catalog plot"));
  CHECK_FALSE(is_catalog_plot("catalog.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>"));
  CHECK_FALSE(is_catalog_plot("catalog.svg", "notes: <!-- mcdnn catalog plot --> <svg"));

  // In a catalog directory: marked plots are replaced with the catalog; anything else refuses it.
  Built b;
  write_catalog(b.dir / "cat", b.schema, {b.rec}, {&b.var});
  write_bytes(b.dir / "cat/catalog.png", bytes_of(png));
  write_bytes(b.dir / "cat/catalog.svg", bytes_of(svg));
  CHECK_NOTHROW(write_catalog(b.dir / "cat", b.schema, {b.rec}, {&b.var}));
  CHECK_FALSE(fs::exists(b.dir / "cat/catalog.png"));  // they showed the old catalog
  CHECK_FALSE(fs::exists(b.dir / "cat/catalog.svg"));
  for (const auto& [name, content] : std::vector<std::pair<std::string, std::string>>{
           {"catalog.png", png_with(text_chunk("Software", "Matplotlib"))}, {"catalog.svg", "<svg></svg>"}, {"figure.png", png}}) {
    INFO(name);
    const std::string path = b.dir / ("cat/" + name);
    write_bytes(path, bytes_of(content));
    try {
      write_catalog(b.dir / "cat", b.schema, {b.rec}, {&b.var});
      FAIL("replaced a directory holding " << name);
    } catch (const Error& e) {
      CHECK(e.cls() == ErrorClass::Output);
      CHECK_THAT(e.what(), Catch::Matchers::Contains("holds '" + name + "', which is not part of an mcdnn catalog"));
    }
    CHECK(read_bytes(path) == bytes_of(content));
    fs::remove(path);
  }
}

TEST_CASE("unreadable variant files give a catalog error", "[catalog]") {
  TempDir d;
  write_bytes(d / "x.h5", {0, 1, 2});
  try {
    read_variant(d / "x.h5");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.cls() == ErrorClass::Catalog);
    CHECK(std::string(e.what()) == d / "x.h5" + ": cannot open as HDF5 (missing or corrupt variant file)");
  }
}

TEST_CASE("the documented Python reader rebuilds and runs the variant", "[catalog][python]") {
  Built b;
  write_catalog(b.dir / "cat", b.schema, {b.rec}, {&b.var});
  auto x = to_tensors(b.va, torch::kCPU).x.slice(0, 0, 16);
  auto ref = predict(b.net, x);
  auto yt = python_logits(b.dir / "cat", "base", x, b.dir);
  REQUIRE(yt.sizes() == ref.sizes());
  // numpy float32 with a different summation order: agree to 1e-4 relative/absolute.
  CHECK(torch::allclose(yt, ref, 1e-4, 1e-4));
  CHECK(torch::equal(yt.argmax(1), ref.argmax(1)));
}

namespace {
// A small catalog built by the compiler itself: a few passes of every kind and chains.
struct SweptCatalog {
  TempDir dir;
  std::string cat;
  SweptCatalog() {
    write_synthetic_idx(make_synthetic(400, 12, 4, 51), dir / "train");
    write_synthetic_idx(make_synthetic(100, 12, 4, 52), dir / "val");
    std::string schema = "catalog:\n"
                         "  finetune: {examples: 200, epochs: 1, lr: 0.002}\n"
                         "  variants:\n"
                         "    - quantize: {formats: [f16, int8, cb4]}\n"
                         "    - svd: {layers: [conv1, fc1], ranks: [1/2, k=2]}\n"
                         "    - prune: {layers: all, sparsity: [0.5, 0.9], global: true, iterative: true,\n"
                         "              then: [{quantize: {formats: [cb2, int8], finetune: true}}]}\n"
                         "    - narrow: {layers: [conv1], keep: [4], then: [{svd: {layers: [fc1], ranks: [1/4],\n"
                         "               then: [{prune: {layers: [fc1], sparsity: [0.8]}}]}}]}\n";
    cat = dir / "cat";
    std::string log;
    int rc = compile_tiny(dir, schema, 2, &log);
    INFO(log);
    REQUIRE(rc == 0);
  }
};

int64_t dataset_bytes(hid_t g) {  // sum of storage sizes of every dataset below g
  int64_t n = 0;
  for (const auto& c : h5::children(g)) {
    if (h5::is_group(g, c)) {
      auto sub = h5::open_group(g, c);
      n += dataset_bytes(sub.id());
    } else {
      h5::Handle ds(H5Dopen2(g, c.c_str(), H5P_DEFAULT), H5Dclose);
      n += static_cast<int64_t>(H5Dget_storage_size(ds.id()));
    }
  }
  return n;
}
}  // namespace

TEST_CASE("a swept catalog: byte accounting, bit-exact decoding, Python reader, plot", "[catalog][sweep]") {
  SweptCatalog c;
  YAML::Node j = YAML::LoadFile(c.cat + "/catalog.json");
  auto vars = j["variants"];
  // quantize 3 + svd (conv1: 1/2, k=2; fc1: 1/2, k=2 -> 4, minus skipped) + prune 2 x (1 + 2) + narrow chain 3
  CHECK(vars.size() >= 14);
  CHECK(j["notes"].size() + vars.size() == 1 + 3 + 4 + 6 + 3);
  std::set<std::string> ids;
  Dataset tr, va;
  Schema s = parse_schema_file(c.dir / "s.yaml");
  load_data(s, &tr, &va);
  auto x = to_tensors(va, torch::kCPU).x;
  int fronts = 0, knees = 0;
  for (const auto& v : vars) {
    std::string id = v["id"].as<std::string>();
    INFO(id);
    CHECK(ids.insert(id).second);
    std::string file = c.cat + "/" + v["file"].as<std::string>();
    // bytes: exactly the datasets of the file.
    {
      auto f = h5::open_file(file);
      auto layers = h5::open_group(f.id(), "layers");
      CHECK(dataset_bytes(layers.id()) == v["bytes"].as<int64_t>());
    }
    // The stored weights reproduce the recorded accuracy.
    Variant back = read_variant(file);
    CHECK(back.id == id);
    CHECK(back.transforms.size() == v["transforms"].size());
    double acc = evaluate(back.net, to_tensors(va, torch::kCPU), 1000);
    CHECK(acc == Approx(v["accuracy"].as<double>()).margin(0.011));
    // Encoded weights decode to exactly the network's weights.
    for (size_t i = 0; i < back.net->layers().size(); ++i) {
      auto ts = tensors_of(back.net->layers()[i]);
      for (size_t k = 0; k < ts.size(); ++k) {
        auto e = encoded_tensor(back, i, k);
        auto d = decode_tensor(e);
        auto t = back.net->tensors(i)[k].contiguous();
        REQUIRE(std::memcmp(d.data(), t.data_ptr<float>(), d.size() * 4) == 0);
      }
    }
    if (v["flops_effective"].as<int64_t>() < v["flops"].as<int64_t>()) CHECK(v["params_nonzero"].as<int64_t>() < v["params"].as<int64_t>());
    fronts += v["pareto_bytes"].as<bool>();
    knees += v["knee_bytes"].as<bool>();
    // The Python reader runs the variant like LibTorch does.
    auto xs = x.slice(0, 0, 8);
    CHECK(torch::allclose(python_logits(c.cat, id, xs, c.dir), predict(back.net, xs), 1e-4, 1e-4));
  }
  CHECK(fronts >= 1);
  CHECK(knees <= 1);
  // The plot script draws it.
  std::string out;
  int rc = run_command(std::string(MCDNN_PYTHON) + " " + MCDNN_SOURCE_DIR + "/tools/plot_catalog.py " + c.cat + " -o " +
                           (c.dir / "plot"),
                       &out);
  INFO(out);
  CHECK(rc == 0);
  CHECK(fs::file_size(c.dir / "plot.png") > 10000);
  CHECK(fs::file_size(c.dir / "plot.svg") > 10000);
}

TEST_CASE("the Python reader in docs/catalog-format.md is tools/mcdnn_run.py verbatim", "[catalog][python]") {
  std::string doc = mcdnn::read_file(std::string(MCDNN_SOURCE_DIR) + "/docs/catalog-format.md", 1);
  std::string script = mcdnn::read_file(std::string(MCDNN_SOURCE_DIR) + "/tools/mcdnn_run.py", 1);
  CHECK(doc.find("```python\n" + script + "```") != std::string::npos);
}

TEST_CASE("a second build of the same directory at once is refused", "[catalog]") {
  TempDir d;
  std::ostringstream log;
  BuildDir first(d / "cat", "key", false, log);
  try {
    BuildDir second(d / "cat", "key", false, log);
    FAIL("a second BuildDir on the same directory was allowed");
  } catch (const Error& e) {
    CHECK(e.cls() == ErrorClass::Output);
    CHECK(std::string(e.what()).find("another mcdnn-compile is building this catalog now") != std::string::npos);
  }
}

TEST_CASE("every variant of a swept catalog: the executor agrees with LibTorch, costs are measured", "[catalog][executor]") {
  SweptCatalog c;
  const CatalogIndex index = read_catalog_index(c.cat);
  REQUIRE(index.format_version == kCatalogVersion);
  REQUIRE(index.measured);
  CHECK(!index.executor.isa.empty());
  CHECK(index.executor.energy_model == "mcdnn-energy/1");
  Dataset tr, va;
  Schema s = parse_schema_file(c.dir / "s.yaml");
  load_data(s, &tr, &va);
  auto x = to_tensors(va, torch::kCPU).x.contiguous();
  const int64_t n = x.size(0);
  int latency_front = 0;
  for (const auto& rec : index.records) {
    INFO(rec.id);
    const auto& m = rec.measured;
    REQUIRE(m.present);
    CHECK(m.latency_ms > 0);
    CHECK(m.latency_p95_ms >= m.latency_ms);
    CHECK(m.throughput > 0);
    CHECK(m.load_cold_ms > 0);
    CHECK(m.resident_bytes > 0);
    CHECK(m.exec_mj > 0);
    CHECK(m.load_mj > 0);
    CHECK(!m.layers.empty());
    latency_front += rec.pareto_latency;
    const VariantFile f = load_variant(index, rec);
    Variant back = variant_from_file(f);
    const torch::Tensor ref = predict(back.net, x).contiguous();
    const float* r = ref.data_ptr<float>();
    const int64_t classes = ref.size(1);
    bool integer = false;
    for (const auto& l : f.layers) integer |= l.storage == "int8";
    for (exec::Int8Mode mode : {exec::Int8Mode::Float, exec::Int8Mode::Integer}) {
      exec::Options opt;
      opt.int8 = mode;
      exec::Model model = exec::Model::from_file(f, opt);
      std::vector<float> got(static_cast<size_t>(n * classes));
      model.run(x.data_ptr<float>(), n, got.data());
      double worst = 0, scale = 0;
      int64_t agree = 0;
      for (int64_t i = 0; i < n; ++i) {
        int64_t a = 0, b = 0;
        for (int64_t k = 0; k < classes; ++k) {
          const size_t at = static_cast<size_t>(i * classes + k);
          worst = std::max(worst, std::fabs(static_cast<double>(got[at]) - r[at]));
          scale = std::max(scale, std::fabs(static_cast<double>(r[at])));
          if (got[at] > got[static_cast<size_t>(i * classes + a)]) a = k;
          if (r[at] > r[i * classes + b]) b = k;
        }
        agree += a == b;
      }
      const bool approx = mode == exec::Int8Mode::Integer && integer;
      INFO((approx ? "integer int8" : "float") << ": max |diff| " << worst << ", largest logit " << scale << ", top-1 agree "
                                               << agree << "/" << n);
      // Float arithmetic: 1e-4 of the largest logit, every prediction equal. Integer int8
      // (activations rounded to 8 bits): 3% of the largest logit, 98% of the predictions.
      CHECK(worst <= (approx ? 3e-2 : 1e-4) * (1 + scale));
      CHECK(agree >= (approx ? (n * 98) / 100 : n));
    }
  }
  CHECK(latency_front >= 1);
}
