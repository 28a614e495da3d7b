// A catalog is input: a corpus of damaged catalogs generated here — truncated variant files,
// a flipped byte in every dataset, edited attributes, edited catalog.json — must each give
// Error(Catalog) naming the file and what is wrong (or, for a tampered file whose checksum was
// recomputed and whose damage is still a well-formed encoding, decode to other weights), never
// a crash or an out-of-bounds read (the sanitizer build runs this too).
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "catalog/catalog.hpp"
#include "catch.hpp"
#include "compile.hpp"
#include "fixtures.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/h5.hpp"
#include "util/sha256.hpp"

using namespace mcdnn;
using namespace mcdnn::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A small catalog holding every stored form: dense f32, sparse f32, int8, sparse int8, cb4,
// sparse cb2, low-rank.
struct Catalog {
  TempDir dir;
  std::string cat;
  Catalog() {
    cat = dir / "cat";
    std::string log;
    int rc = compile_every_form(dir, 71, &log);
    INFO(log);
    REQUIRE(rc == 0);
  }
};

// Every dataset below `g` (path, file offset, bytes).
struct DatasetAt {
  std::string path;
  int64_t offset, size;
};
void datasets(hid_t g, const std::string& path, std::vector<DatasetAt>* out) {
  for (const auto& n : h5::children(g)) {
    if (h5::is_group(g, n)) {
      auto c = h5::open_group(g, n);
      datasets(c.id(), path + "/" + n, out);
    } else {
      h5::Handle ds(H5Dopen2(g, n.c_str(), H5P_DEFAULT), H5Dclose);
      haddr_t off = H5Dget_offset(ds.id());
      if (off != HADDR_UNDEF) out->push_back({path + "/" + n, static_cast<int64_t>(off), static_cast<int64_t>(H5Dget_storage_size(ds.id()))});
    }
  }
}

// The outcome of loading variant `id` from a catalog at `dir`: "" when it loaded and decoded,
// else the Error(Catalog) message. Any other exception fails the test.
std::string load(const std::string& dir, const std::string& id) {
  try {
    CatalogIndex idx = read_catalog_index(dir);
    const VariantRecord* r = idx.find(id);
    REQUIRE(r != nullptr);
    VariantFile f = load_variant(idx, *r);
    for (const auto& layer : f.tensors)
      for (const auto& t : layer) decode_tensor(t);
    return "";
  } catch (const Error& e) {
    if (e.cls() != ErrorClass::Catalog) FAIL("not a catalog error: " << e.what());
    return e.what();
  }
}

// Rewrites the checksum of variant `id` in DIR/catalog.json (a deliberate tamperer would).
void rechecksum(const std::string& dir, const std::string& id) {
  json j = json::parse(read_file(dir + "/catalog.json", 1));
  for (auto& v : j["variants"])
    if (v["id"] == id) v["sha256"] = sha256_file(dir + "/" + v["file"].get<std::string>(), 1);
  write_file_atomic(dir + "/catalog.json", j.dump(1));
}

std::string copy_catalog(const std::string& from, const TempDir& scratch, const std::string& name) {
  std::string to = scratch / name;
  fs::remove_all(to);
  fs::copy(from, to);
  return to;
}

}  // namespace

TEST_CASE("damaged variant files: truncated, flipped bytes in every dataset", "[catalog][untrusted]") {
  Catalog c;
  TempDir scratch;
  CatalogIndex idx = read_catalog_index(c.cat);
  REQUIRE(idx.records.size() >= 7);
  int truncated = 0, flipped = 0, tampered_detected = 0, tampered_decoded = 0;
  for (const auto& r : idx.records) {
    INFO(r.id);
    REQUIRE(load(c.cat, r.id).empty());
    const std::string file = c.cat + "/" + r.file;
    const auto bytes = read_bytes(file);
    // Truncated copies: the checksum reports them; read directly, the reader still refuses them.
    for (size_t len : {size_t(0), size_t(1), size_t(7), size_t(100), bytes.size() / 4, bytes.size() / 2, bytes.size() - 1}) {
      std::string d = copy_catalog(c.cat, scratch, "t");
      write_bytes(d + "/" + r.file, std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<long>(len)));
      std::string why = load(d, r.id);
      CHECK(why.find("SHA-256") != std::string::npos);
      CHECK_THROWS_AS(read_variant_file(d + "/" + r.file), Error);
      ++truncated;
    }
    // One byte flipped at the start, middle and end of every dataset.
    std::vector<DatasetAt> ds;
    {
      auto f = h5::open_file(file);
      datasets(f.id(), "", &ds);
    }
    REQUIRE(!ds.empty());
    for (const auto& d : ds) {
      if (d.size == 0) continue;
      for (int64_t at : {d.offset, d.offset + d.size / 2, d.offset + d.size - 1}) {
        INFO(d.path << " byte " << at);
        std::string cd = copy_catalog(c.cat, scratch, "f");
        auto b = bytes;
        b[static_cast<size_t>(at)] ^= 0xff;
        write_bytes(cd + "/" + r.file, b);
        CHECK(load(cd, r.id).find("SHA-256") != std::string::npos);  // accidental damage: caught first
        ++flipped;
        // Tampered with a recomputed checksum: validation must hold (error) or the damage is a
        // well-formed encoding of other weights (decoded without reading out of bounds).
        rechecksum(cd, r.id);
        std::string why = load(cd, r.id);
        (why.empty() ? tampered_decoded : tampered_detected) += 1;
        if (!why.empty()) CHECK(why.find(cd + "/" + r.file + ": /layers/") == 0);
      }
    }
  }
  std::cout << "corrupted variant files: " << truncated << " truncated and " << flipped
            << " with a flipped byte, all reported by the checksum; with recomputed checksums "
            << tampered_detected << " rejected by validation, " << tampered_decoded << " decoded to other weights\n";
  CHECK(tampered_detected > 0);
}

TEST_CASE("edited variant attributes and blobs are rejected with the object named", "[catalog][untrusted]") {
  Catalog c;
  TempDir scratch;
  CatalogIndex idx = read_catalog_index(c.cat);
  // Finds the first variant with a tensor group of the given storage (and sparsity).
  auto find = [&](const std::string& storage, bool sparse, std::string* id, std::string* group) {
    for (const auto& r : idx.records) {
      VariantFile f = read_variant_file(c.cat + "/" + r.file);
      for (size_t i = 0; i < f.layers.size(); ++i)
        for (size_t k = 0; k < f.tensors[i].size(); ++k)
          if (f.tensors[i][k].storage == storage && f.tensors[i][k].sparse == sparse && (storage != "f32" || sparse)) {
            char name[8];
            std::snprintf(name, sizeof name, "%03zu", i);
            *id = r.id;
            *group = std::string("/layers/") + name + "/" + tensors_of(f.layers[i])[k].name;
            return;
          }
    }
    FAIL("no " << storage << (sparse ? " sparse" : "") << " tensor in the catalog");
  };
  struct Edit {
    std::string what, storage;
    bool sparse;
    std::function<void(hid_t file, const std::string& group)> apply;
    std::string expect;  // substring of the error
  };
  auto set_i64 = [](hid_t obj, const char* name, int64_t v) {
    H5Adelete(obj, name);
    h5::attr(obj, name, v);
  };
  auto set_i64s = [](hid_t obj, const char* name, std::vector<int64_t> v) {
    H5Adelete(obj, name);
    h5::attr(obj, name, v);
  };
  auto set_str = [](hid_t obj, const char* name, const std::string& v) {
    H5Adelete(obj, name);
    h5::attr(obj, name, v);
  };
  auto replace_u8 = [](hid_t g, const char* name, std::vector<uint8_t> v) {
    H5Ldelete(g, name, H5P_DEFAULT);
    h5::write_typed(g, name, {static_cast<int64_t>(v.size())}, H5T_NATIVE_UINT8, H5T_STD_U8LE, v.data());
  };
  auto replace_f32 = [](hid_t g, const char* name, std::vector<float> v) {
    H5Ldelete(g, name, H5P_DEFAULT);
    h5::write_typed(g, name, {static_cast<int64_t>(v.size())}, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, v.data());
  };
  auto layer0 = [](hid_t f) { return h5::open_group(f, "layers/000"); };
  std::vector<Edit> edits = {
      {"format_version 9", "f32", false, [&](hid_t f, auto&) { set_i64(f, "format_version", 9); }, "variant format version 9"},
      {"input of 2 dims", "f32", false, [&](hid_t f, auto&) { set_i64s(f, "input", {1, 12}); }, "must hold 1 or 3 dimensions"},
      {"0 classes", "f32", false, [&](hid_t f, auto&) { set_i64(f, "num_classes", 0); }, "attribute 'num_classes' = 0"},
      {"unknown kind", "f32", false, [&](hid_t f, auto&) { set_str(layer0(f).id(), "kind", "conv3d"); }, "unknown layer kind 'conv3d'"},
      {"kernel 0", "f32", false, [&](hid_t f, auto&) { set_i64s(layer0(f).id(), "kernel", {0, 3}); }, "attribute 'kernel' value 0"},
      {"stride 0", "f32", false, [&](hid_t f, auto&) { set_i64s(layer0(f).id(), "stride", {0, 1}); }, "attribute 'stride' value 0"},
      {"kernel of 3 values", "f32", false, [&](hid_t f, auto&) { set_i64s(layer0(f).id(), "kernel", {3, 3, 3}); }, "must hold 2 values"},
      {"out changed", "f32", false, [&](hid_t f, auto&) { set_i64(layer0(f).id(), "out", 9); }, "disagrees"},
      {"string for a number", "f32", false, [&](hid_t f, auto&) { set_str(layer0(f).id(), "out", "eight"); }, "is not numeric"},
      {"array for a scalar", "f32", false, [&](hid_t f, auto&) { set_i64s(layer0(f).id(), "bias", {1, 1}); }, "not a single value"},
      {"duplicate layer name", "f32", false,
       [&](hid_t f, auto&) { set_str(h5::open_group(f, "layers/001").id(), "name", "conv1"); }, "duplicate layer name 'conv1'"},
      {"unexpected object", "f32", false,
       [&](hid_t f, auto&) { replace_u8(layer0(f).id(), "extra", {1}); }, "unexpected object 'extra'"},
      {"weight of the wrong shape", "f32", false,
       [&](hid_t f, auto&) { replace_f32(layer0(f).id(), "weight", std::vector<float>(72, 0.f)); }, "dataset shape does not match"},
      {"unknown storage", "cb4", false, [&](hid_t f, auto& g) { set_str(h5::open_group(f, g).id(), "storage", "cb9"); }, "unknown storage 'cb9'"},
      {"huge entries", "cb4", false, [&](hid_t f, auto& g) { set_i64(h5::open_group(f, g).id(), "entries", int64_t(1) << 39); }, "entries"},
      {"codebook of 2", "cb4", false, [&](hid_t f, auto& g) { replace_f32(h5::open_group(f, g).id(), "codebook", {0.f, 1.f}); },
       "outside the 2-entry codebook"},
      {"NaN centroid", "cb4", false,
       [&](hid_t f, auto& g) { replace_f32(h5::open_group(f, g).id(), "codebook", std::vector<float>(16, std::nanf(""))); }, "non-finite"},
      {"codes cut short", "cb4", false, [&](hid_t f, auto& g) { replace_u8(h5::open_group(f, g).id(), "codes", {1, 2, 3}); },
       "blob 'codes' has 3 bytes"},
      {"scale missing", "int8", false, [&](hid_t f, auto& g) { H5Ldelete(h5::open_group(f, g).id(), "scale", H5P_DEFAULT); }, "missing blob 'scale'"},
      {"shape attribute", "int8", false, [&](hid_t f, auto& g) { set_i64s(h5::open_group(f, g).id(), "shape", {1, 2}); },
       "attribute 'shape' does not match"},
      {"gaps past the row", "f32", true,
       [&](hid_t f, auto& g) {
         auto t = h5::open_group(f, g);
         std::vector<int64_t> shape;
         H5T_class_t cls;
         size_t size;
         bool sgn;
         auto gaps = h5::read_raw(t.id(), "gaps", &cls, &size, &sgn, 1 << 30);
         replace_u8(t.id(), "gaps", std::vector<uint8_t>(gaps.size(), 255));
       },
       "past the row"},
      {"row counts", "int8", true,
       [&](hid_t f, auto& g) {
         auto t = h5::open_group(f, g);
         H5T_class_t cls;
         size_t size;
         bool sgn;
         auto rc = h5::read_raw(t.id(), "row_counts", &cls, &size, &sgn, 1 << 30);
         std::vector<uint16_t> v(rc.size() / 2, 60000);
         H5Ldelete(t.id(), "row_counts", H5P_DEFAULT);
         h5::write_typed(t.id(), "row_counts", {static_cast<int64_t>(v.size())}, H5T_NATIVE_UINT16, H5T_STD_U16LE, v.data());
       },
       "row_counts sum past"},
  };
  for (const auto& e : edits) {
    INFO(e.what);
    std::string id = "base", group;
    if (e.storage != "f32" || e.sparse) find(e.storage, e.sparse, &id, &group);
    std::string d = copy_catalog(c.cat, scratch, "e");
    const VariantRecord* r = idx.find(id);
    {
      h5::quiet();
      h5::Handle f(H5Fopen((d + "/" + r->file).c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
      REQUIRE(f.ok());
      e.apply(f.id(), group);
    }
    rechecksum(d, id);
    std::string why = load(d, id);
    CHECK(why.find(d + "/" + r->file + ": ") == 0);
    CHECK(why.find(e.expect) != std::string::npos);
  }
  std::cout << "edited variant files: " << edits.size() << " edits, each rejected with the object named\n";
}

TEST_CASE("edited catalog.json is rejected with the variant and key named", "[catalog][untrusted]") {
  Catalog c;
  const std::string text = read_file(c.cat + "/catalog.json", 1);
  const json good = json::parse(text);
  REQUIRE(good.at("features").empty());
  // A well-formed features entry for variant `id` (of the catalog in `j` when it exists).
  auto feature = [](const json& j, const std::string& id) {
    std::string sha(64, '0');
    for (const auto& v : j["variants"])
      if (v["id"] == id) sha = v["sha256"];
    return json{{"variant", id},   {"variant_sha256", sha}, {"retrained_layers", 1}, {"cut", 1},          {"file", "f.h5"},
                {"sha256", sha},   {"shape", {8}},          {"train_examples", 10},  {"validation_examples", 5}, {"seconds", 0.1}};
  };
  {  // the well-formed entry is accepted: each edit below breaks one thing
    json j = good;
    j["features"] = {feature(j, "base")};
    CHECK_NOTHROW(parse_catalog_index(j.dump(1), "catalog.json"));
  }
  {  // the base's accuracy after each epoch: kept, and optional (catalogs written before it have none)
    REQUIRE(good["variants"][0]["accuracy_by_epoch"].size() == 1);
    CHECK(parse_catalog_index(text, "catalog.json").records[0].accuracy_by_epoch.size() == 1);
    json j = good;
    j["variants"][0].erase("accuracy_by_epoch");
    CHECK(parse_catalog_index(j.dump(1), "catalog.json").records[0].accuracy_by_epoch.empty());
  }
  struct Edit {
    std::string what;
    std::function<void(json&)> apply;
    std::string expect;
  };
  std::vector<Edit> edits = {
      {"format", [](json& j) { j["format"] = "x"; }, "format: expected 'mcdnn-catalog'"},
      {"version 1", [](json& j) { j["format_version"] = 1; }, "catalog format version 1, this mcdnn reads versions 2 to 6"},
      {"no variants", [](json& j) { j["variants"] = json::array(); }, "variants: expected a non-empty list"},
      {"variants not a list", [](json& j) { j["variants"] = 3; }, "variants: expected a non-empty list"},
      {"path out of the catalog", [](json& j) { j["variants"][1]["file"] = "../x.h5"; }, "file: expected a plain file name"},
      {"absolute path", [](json& j) { j["variants"][1]["file"] = "/etc/passwd"; }, "file: expected a plain file name"},
      {"subdirectory", [](json& j) { j["variants"][1]["file"] = "a/b.h5"; }, "file: expected a plain file name"},
      {"shared file", [](json& j) { j["variants"][2]["file"] = j["variants"][1]["file"]; }, "file: used by two variants"},
      {"duplicate id", [](json& j) { j["variants"][2]["id"] = j["variants"][1]["id"]; }, "id: empty or duplicate id"},
      {"bad checksum", [](json& j) { j["variants"][1]["sha256"] = "zz"; }, "sha256: expected 64 lowercase hex digits"},
      {"unknown parent", [](json& j) { j["variants"][1]["parent"] = "nope"; }, "parent: expected the id of an earlier variant"},
      {"base with a parent", [](json& j) { j["variants"][0]["parent"] = "x"; }, "parent: the first variant"},
      {"accuracy 1.5", [](json& j) { j["variants"][1]["accuracy"] = 1.5; }, "accuracy: value 1.5 out of range"},
      {"negative bytes", [](json& j) { j["variants"][1]["bytes"] = -1; }, "bytes: value -1 out of range"},
      {"string params", [](json& j) { j["variants"][1]["params"] = "12"; }, "params: expected an integer"},
      {"nonzero > params", [](json& j) { j["variants"][1]["params_nonzero"] = j["variants"][1]["params"].get<int64_t>() + 1; },
       "params_nonzero: value"},
      {"missing flops", [](json& j) { j["variants"][1].erase("flops"); }, "flops: missing"},
      {"layers not a list", [](json& j) { j["variants"][1]["layers"] = json::object(); }, "layers: expected a list"},
      {"layer bytes", [](json& j) { j["variants"][1]["layers"][0]["bytes"] = "many"; }, "layers[0].bytes: expected an integer"},
      {"input shape", [](json& j) { j["input"]["shape"] = {1, 2}; }, "input.shape: expected [channels, height, width]"},
      {"classes", [](json& j) { j["classes"]["count"] = 0; }, "classes.count: value 0 out of range"},
      {"measured dropped", [](json& j) { j["variants"][1]["measured"] = nullptr; }, "measured: missing while \"executor\" is set"},
      {"negative latency", [](json& j) { j["variants"][1]["measured"]["latency_ms"] = -1; }, "measured.latency_ms: value -1 out of range"},
      {"p95 below median", [](json& j) { j["variants"][1]["measured"]["latency_p95_ms"] = 0; }, "measured.latency_p95_ms: value 0 out of range"},
      {"layer time", [](json& j) { j["variants"][1]["measured"]["layers"][0]["ms"] = "fast"; }, "measured.layers[0].ms: expected a number"},
      {"executor threads", [](json& j) { j["executor"]["threads"] = 0; }, "executor.threads: value 0 out of range"},
      {"front flag", [](json& j) { j["variants"][1].erase("pareto_latency"); }, "pareto_latency: missing"},
      {"epoch accuracies, one too many", [](json& j) { j["variants"][0]["accuracy_by_epoch"].push_back(0.5); },
       "(base).accuracy_by_epoch: expected null or a list of 1 accuracies in [0, 1], one per epoch"},
      {"epoch accuracy 1.5", [](json& j) { j["variants"][0]["accuracy_by_epoch"] = {1.5}; }, "accuracy_by_epoch: expected accuracies in [0, 1], got 1.5"},
      {"epoch accuracy text", [](json& j) { j["variants"][1]["accuracy_by_epoch"] = "high"; }, "accuracy_by_epoch: expected null or a list"},
      {"features dropped", [](json& j) { j.erase("features"); }, "features: missing"},
      {"features not a list", [](json& j) { j["features"] = 1; }, "features: expected a list"},
      {"features of no variant", [&](json& j) { j["features"] = {feature(j, "nope")}; }, "features[0].variant: expected the id of a generic variant"},
      {"features of another build", [&](json& j) { j["features"] = {feature(j, "base")}; j["features"][0]["variant_sha256"] = std::string(64, 'a'); },
       "features[0].variant_sha256: differs from variant base's sha256"},
      {"features file out of the catalog", [&](json& j) { j["features"] = {feature(j, "base")}; j["features"][0]["file"] = "../f.h5"; },
       "features[0].file: expected a plain file name"},
      {"features file of a variant", [&](json& j) { j["features"] = {feature(j, "base")}; j["features"][0]["file"] = j["variants"][0]["file"]; },
       "features[0].file: used twice"},
      {"features twice", [&](json& j) { j["features"] = {feature(j, "base"), feature(j, "base")}; j["features"][1]["file"] = "g.h5"; },
       "features[1].retrained_layers: a second entry"},
      {"features cut", [&](json& j) { j["features"] = {feature(j, "base")}; j["features"][0]["cut"] = 999; }, "features[0].cut: value 999 out of range"},
      {"features shape", [&](json& j) { j["features"] = {feature(j, "base")}; j["features"][0]["shape"] = {0}; }, "features[0].shape: expected positive integers"},
  };
  for (const auto& e : edits) {
    INFO(e.what);
    json j = good;
    e.apply(j);
    try {
      parse_catalog_index(j.dump(1), "catalog.json");
      FAIL("accepted");
    } catch (const Error& err) {
      CHECK(err.cls() == ErrorClass::Catalog);
      CHECK(std::string(err.what()).find(e.expect) != std::string::npos);
      CHECK(std::string(err.what()).rfind("catalog.json", 0) == 0);
    }
  }
  // A number no double holds (found by fuzz_catalog): a catalog error, not an escaping exception.
  std::string huge = text;
  huge.replace(huge.find("\"accuracy\": ") + 12, 1, "4221e2829308");
  CHECK_THROWS_AS(parse_catalog_index(huge, "catalog.json"), Error);
  // Cut anywhere: invalid JSON, with the byte offset.
  int cuts = 0;
  for (size_t len = 0; len < text.size(); len += std::max<size_t>(1, text.size() / 97)) {
    try {
      parse_catalog_index(text.substr(0, len), "catalog.json");
      FAIL("accepted a catalog.json cut at " << len);
    } catch (const Error& err) {
      CHECK(err.cls() == ErrorClass::Catalog);
      ++cuts;
    }
  }
  std::cout << "edited catalog.json: " << edits.size() << " edits and " << cuts << " truncations, each rejected\n";
}

TEST_CASE("the Python reader checks the checksum and fails in one line", "[catalog][untrusted][python]") {
  Catalog c;
  TempDir scratch;
  std::string d = copy_catalog(c.cat, scratch, "p");
  auto b = read_bytes(d + "/base.h5");
  for (size_t i = 0; i < 32; ++i) b[(i * 7919) % b.size()] ^= 0x5a;  // 32 bytes changed anywhere, metadata included
  write_bytes(d + "/base.h5", b);
  {
    h5::quiet();
    auto f = h5::create_file(scratch / "io.h5");
    std::vector<float> x(144, 0.f);
    h5::write_f32(f.id(), "x", {1, 1, 12, 12}, x.data());
  }
  std::string out;
  std::string py = std::string(MCDNN_PYTHON) + " " + MCDNN_SOURCE_DIR + "/tools/mcdnn_run.py ";
  CHECK(run_command(py + d + " base " + (scratch / "io.h5") + " --preprocessed", &out) == 7);
  CHECK(out.rfind("error: " + d + "/base.h5: SHA-256 ", 0) == 0);
  CHECK(std::count(out.begin(), out.end(), '\n') == 1);
  CHECK(run_command(py + d + " nope " + (scratch / "io.h5") + " --preprocessed", &out) == 7);
  CHECK(out.rfind("error: " + d + ": no variant 'nope'", 0) == 0);
  CHECK(out.find("Traceback") == std::string::npos);
  CHECK(run_command(py + d + " bsae " + (scratch / "io.h5") + " --preprocessed", &out) == 7);
  CHECK(out.find("did you mean 'base'?") != std::string::npos);
  CHECK(std::count(out.begin(), out.end(), '\n') == 1);
}
