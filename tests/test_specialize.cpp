// Specialization (compiler/specialize): a head retargeted to n classes + "other" on
// pre-forwarded features learns a separable toy set, equals retargeting without pre-forwarding,
// keeps the frozen layers and their stored form, and refuses bad class lists.
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "catalog/catalog.hpp"
#include "catch.hpp"
#include "compile.hpp"
#include "data/dataset.hpp"
#include "fixtures.hpp"
#include "nn/net.hpp"
#include "passes/passes.hpp"
#include "schema/schema.hpp"
#include "specialize/feature_store.hpp"
#include "specialize/specialize.hpp"
#include "train/train.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using namespace mcdnn;
using namespace mcdnn::test;

namespace {

// A base model trained on the synthetic 4-class set (a bright square in quadrant k).
struct Trained {
  TempDir d;
  Dataset trd, vad;
  TensorData tr, va;
  Variant v;
  Trained() {
    write_synthetic_idx(make_synthetic(400, 12, 4, 91), d / "train");
    write_synthetic_idx(make_synthetic(200, 12, 4, 92), d / "val");
    Schema s = parse_schema_string(tiny_schema(d.path().string(), 4, 3), d / "s.yaml", "");
    load_data(s, &trd, &vad);
    tr = to_tensors(trd, torch::kCPU), va = to_tensors(vad, torch::kCPU);
    torch::manual_seed(5);
    v.id = "base";
    v.net = Net(s.layers);
    train(v.net, tr, va, s.training, TrainOptions{});
    v.net->eval();
  }
};

}  // namespace

TEST_CASE("specialize: a head for 2 classes + other learns the separable set, pre-forwarded or not", "[specialize]") {
  Trained t;
  SpecializeSpec spec;
  spec.classes = {2, 0};  // output 0 = class 2, output 1 = class 0, output 2 = other
  spec.epochs = 10;
  spec.lr = 0.01;
  PreForwarded pf(t.v, 1, t.tr, t.va, true);
  CHECK(pf.cut() == 8);  // the last linear layer
  CHECK(pf.train().x.size(1) == 16);
  auto r = specialize(t.v, pf, spec);
  CHECK(r.in_set_accuracy >= 0.95);
  CHECK(r.other_recall >= 0.9);
  CHECK(r.accuracy >= 0.9);
  // Every example of the two classes, "other" subsampled to half of the set.
  CHECK(r.train_examples == 400);
  const auto& layers = r.variant.net->layers();
  REQUIRE(layers.back().out == 3);
  CHECK(r.variant.net->tensors(8)[0].sizes() == torch::IntArrayRef({3, 16}));
  // The frozen layers are the source's, bit for bit.
  for (size_t i = 0; i < 8; ++i)
    for (size_t k = 0; k < r.variant.net->tensors(i).size(); ++k)
      CHECK(torch::equal(r.variant.net->tensors(i)[k], t.v.net->tensors(i)[k]));
  CHECK(r.variant.transforms.back() == "specialize 2,0");
  CHECK(r.variant.id == "specialize-2_0");
  CHECK(r.in_set_other >= 0);
  CHECK(r.in_set_other <= 1 - r.in_set_accuracy + 1e-9);
  // The network predicts what the scores say: class-2 images map to output 0.
  auto pred = predict(r.variant.net, t.va.x).argmax(1);
  auto want = specialized_labels(t.va.y, spec.classes);
  CHECK(pred.eq(want).to(torch::kFloat64).mean().item<double>() == Approx(r.accuracy).margin(1e-12));

  // Without pre-forwarding the frozen layers run at every step: the same features (inference,
  // no dropout), the same training, the same model.
  PreForwarded raw(t.v, 1, t.tr, t.va, false);
  CHECK(raw.cut() == 8);
  auto rr = specialize(t.v, raw, spec);
  CHECK(rr.accuracy == Approx(r.accuracy).margin(1e-12));
  CHECK(rr.in_set_accuracy == Approx(r.in_set_accuracy).margin(1e-12));
  CHECK(torch::allclose(rr.variant.net->tensors(8)[0], r.variant.net->tensors(8)[0], 1e-5, 1e-6));
}

TEST_CASE("specialize: retraining two layers, quantized frozen layers, labels and errors", "[specialize]") {
  Trained t;
  Variant q = quantize_weights(t.v, "int8", {});
  SpecializeSpec spec;
  spec.classes = {3};
  spec.retrain_layers = 2;
  spec.epochs = 6;
  spec.lr = 0.01;
  PreForwarded pf(q, 2, t.tr, t.va, true);
  CHECK(pf.cut() == 5);  // fc1
  auto r = specialize(q, pf, spec);
  CHECK(r.in_set_accuracy >= 0.9);
  CHECK(r.other_recall >= 0.9);
  const auto& layers = r.variant.net->layers();
  CHECK(layers[5].storage == "f32");  // retrained: float
  CHECK(layers[8].storage == "f32");
  CHECK(layers[0].storage == "int8");  // frozen: as stored
  CHECK(r.variant.encoded.count("conv1:weight") == 1);
  CHECK(r.variant.encoded.count("fc1:weight") == 0);
  CHECK(r.variant.encoded.count("fc2:weight") == 0);

  CHECK(torch::equal(specialized_labels(torch::tensor({0, 1, 2, 3}, torch::kInt64), {3, 1}),
                     torch::tensor({2, 1, 2, 0}, torch::kInt64)));
  PreForwarded one(t.v, 1, t.tr, t.va, true);
  auto usage = [&](std::vector<int64_t> classes, const std::string& what) {
    SpecializeSpec s;
    s.classes = std::move(classes);
    try {
      specialize(t.v, one, s);
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.cls() == ErrorClass::Usage);
      CHECK_THAT(e.what(), Catch::Contains(what));
    }
  };
  usage({}, "a list of distinct classes");
  usage({1, 1}, "a list of distinct classes");
  usage({4}, "class 4 is not a class of the model (0..3)");
  usage({0, 1, 2, 3}, "leaves nothing for \"other\"");
  CHECK_THROWS_WITH(PreForwarded(t.v, 4, t.tr, t.va), Catch::Contains("the network has 3"));
}

// ---- specialized variants in catalogs: the schema section, the build, --specialize ----

namespace {

const char* kSpecializeSection =
    "catalog:\n"
    "  variants:\n"
    "    - quantize: {formats: [int8]}\n"
    "specialize:\n"
    "  variants: [base, quant-int8]\n"
    "  epochs: 10\n"
    "  lr: 0.01\n"
    "  sets: [[2, 0], ['3']]\n";

Schema tiny_with(const TempDir& d, const std::string& section) {
  return parse_schema_string(tiny_schema(d.path().string(), 4, 3) + section, "s.yaml", "");
}

std::string schema_error(const TempDir& d, const std::string& section) {
  try {
    tiny_with(d, section);
  } catch (const Error& e) {
    CHECK(e.cls() == ErrorClass::Schema);
    return e.what();
  }
  return "accepted";
}

int specialize_cli(const TempDir& d, const std::string& classes, const std::string& variants, std::string* log,
                   const std::string& schema = "s.yaml") {
  CompileOptions opt;
  opt.schema_path = d / schema;
  opt.specialize_dir = d / "cat";
  opt.classes = classes;
  opt.specialize_variants = variants;
  opt.threads = 1;
  opt.measure_seconds = 0.01;
  std::ostringstream out, err;
  int rc = compile(opt, out, err);
  *log = out.str() + err.str();
  if (rc == 0) CHECK_FALSE(std::filesystem::exists(d / "cat/.lock"));  // its lock is removed when it is done
  return rc;
}

}  // namespace

TEST_CASE("specialize: the schema section is validated before any data is read", "[specialize][schema]") {
  TempDir d;
  Schema s = tiny_with(d, kSpecializeSection);
  REQUIRE(s.specialize.sets.size() == 2);
  CHECK(s.specialize.sets[0].classes == std::vector<int64_t>{2, 0});
  CHECK(s.specialize.sets[1].classes == std::vector<int64_t>{3});
  CHECK(s.specialize.variants == std::vector<std::string>{"base", "quant-int8"});
  CHECK(s.specialize.epochs == 10);
  CHECK(s.specialize.retrain_layers == 1);
  // Names resolve too.
  std::string named = tiny_schema(d.path().string(), 4, 3);
  named.replace(named.find("classes: 4"), 10, "classes: {names: [up-left, up-right, down-left, down-right]}");
  Schema n = parse_schema_string(named + "specialize: {sets: [[down-right, up-left]]}\n", "n.yaml", "");
  CHECK(n.specialize.sets[0].classes == std::vector<int64_t>{3, 0});
  CHECK(n.specialize.variants == std::vector<std::string>{"base"});
  std::string why;
  CHECK(class_index(n, "down-rigth", &why) == -1);
  CHECK_THAT(why, Catch::Contains("did you mean 'down-right'"));

  CHECK_THAT(schema_error(d, "specialize: {sets: [[0, 7]]}\n"), Catch::Contains("specialize.sets[0][1]: '7' is not a class of tiny"));
  CHECK_THAT(schema_error(d, "specialize: {sets: [[0, 0]]}\n"), Catch::Contains("listed twice"));
  CHECK_THAT(schema_error(d, "specialize: {sets: [[0, 1], [1, 0]]}\n"), Catch::Contains("sets[1]: the same classes as sets[0]"));
  CHECK_THAT(schema_error(d, "specialize: {sets: [[0, 1, 2, 3]]}\n"), Catch::Contains("nothing is left for \"other\""));
  CHECK_THAT(schema_error(d, "specialize: {sets: []}\n"), Catch::Contains("a non-empty list of class sets"));
  CHECK_THAT(schema_error(d, "specialize: {sets: [[0]], variants: [quant]}\n"), Catch::Contains("'quant' is not a variant this catalog builds"));
  CHECK_THAT(schema_error(d, "specialize: {sets: [[0]], retrain_layers: 4}\n"), Catch::Contains("has only 3 weight layers"));
  CHECK_THAT(schema_error(d, "specialize: {sets: [[0]], epoch: 3}\n"), Catch::Contains("unknown key 'epoch'"));
  CHECK_THAT(schema_error(d, "catalog: {variants: [{svd: {layers: [fc2], ranks: [2]}}]}\n"
                             "specialize: {sets: [[0]], variants: [svd-fc2-k2]}\n"),
             Catch::Contains("low-rank and cannot be retrained"));
}

TEST_CASE("specialize: a build makes the schema's specialized variants, --specialize adds more", "[specialize][cli]") {
  TempDir d;
  write_synthetic_idx(make_synthetic(400, 12, 4, 91), d / "train");
  write_synthetic_idx(make_synthetic(200, 12, 4, 92), d / "val");
  std::string log;
  {
    // --check lists what the section will build.
    const std::string text = tiny_schema(d.path().string(), 4, 3) + kSpecializeSection;
    write_bytes(d / "c.yaml", std::vector<uint8_t>(text.begin(), text.end()));
    CompileOptions opt;
    opt.schema_path = d / "c.yaml";
    opt.out_dir = d / "checked";
    opt.check = true;
    std::ostringstream out, err;
    REQUIRE(compile(opt, out, err) == 0);
    CHECK_THAT(out.str(), Catch::Contains("specialize 4 variants: the last 1 weight layer(s) of each of 2 variant(s)"));
    CHECK_THAT(out.str(), Catch::Contains("{2, 0} from base quant-int8"));
  }
  REQUIRE(compile_tiny(d, kSpecializeSection, 3, &log) == 0);
  CatalogIndex c = read_catalog_index(d / "cat");
  CHECK(c.format_version == kCatalogVersion);
  REQUIRE(c.records.size() == 6);  // base, quant-int8, 2 sets x 2 variants
  const VariantRecord* s = c.find("specialize-2_0");
  REQUIRE(s);
  CHECK(s->parent == "base");
  CHECK(s->specialized.present);
  CHECK(s->specialized.classes == std::vector<int64_t>{2, 0});
  CHECK(s->specialized.in_set_accuracy >= 0.95);
  CHECK(s->specialized.other_recall >= 0.9);
  CHECK(s->specialized.source_in_set_accuracy > 0.5);
  CHECK(s->measured.present);
  CHECK_FALSE(s->pareto_bytes);
  CHECK_FALSE(s->knee_energy);
  const VariantRecord* q = c.find("quant-int8+specialize-3");
  REQUIRE(q);
  CHECK(q->parent == "quant-int8");
  CHECK(q->specialized.classes == std::vector<int64_t>{3});
  CHECK_FALSE(c.find("base")->specialized.present);
  // The file: 3 outputs, its own classes; the frozen layers as stored in the source.
  VariantFile f = load_variant(c, *s);
  CHECK(f.input.num_classes == 3);
  CHECK(f.layers.back().out == 3);
  VariantFile fq = load_variant(c, *q);
  CHECK(fq.layers.front().storage == "int8");
  CHECK(fq.layers.back().storage == "f32");
  CHECK_THAT(log, Catch::Contains("specializing 2 variant(s) to 2 class set(s)"));

  // On demand: another class set for the quantized variant, into the catalog in place.
  const auto base_sha = c.find("base")->sha256;
  int rc = specialize_cli(d, "1,3", "quant-int8", &log);
  INFO(log);
  REQUIRE(rc == 0);
  CatalogIndex c2 = read_catalog_index(d / "cat");
  REQUIRE(c2.records.size() == 7);
  const VariantRecord* n = c2.find("quant-int8+specialize-1_3");
  REQUIRE(n);
  CHECK(n->specialized.in_set_accuracy >= 0.9);
  CHECK(n->measured.present);
  CHECK(c2.find("base")->sha256 == base_sha);
  for (const auto& r : c2.records) CHECK_NOTHROW(verify_checksum(c2, r));
  // Again: the same id is replaced, not added, under a file name of its own; the old file goes.
  REQUIRE(specialize_cli(d, "1,3", "quant-int8", &log) == 0);
  CatalogIndex c3 = read_catalog_index(d / "cat");
  CHECK(c3.records.size() == 7);
  CHECK(c3.find("quant-int8+specialize-1_3")->file != n->file);
  size_t h5 = 0, features = 0;
  for (const auto& e : std::filesystem::directory_iterator(d / "cat")) {
    const bool f = e.path().filename().string().find(".features-") != std::string::npos;
    h5 += e.path().extension() == ".h5" && !f;
    features += f;
  }
  CHECK(h5 == 7);
  CHECK(features == 2);  // base's and quant-int8's, from the build
  for (const auto& r : c3.records) CHECK_NOTHROW(verify_checksum(c3, r));
  CHECK(specialize_cli(d, "1", "base,base", &log) == 2);
  CHECK_THAT(log, Catch::Contains("'base' is listed twice"));

  // Errors: nothing written, nothing left behind.
  const auto before = read_bytes(d / "cat/catalog.json");
  CHECK(specialize_cli(d, "1,9", "", &log) == 2);
  CHECK_THAT(log, Catch::Contains("--classes: '9' is not a class of tiny"));
  CHECK(specialize_cli(d, "0,1,2,3", "", &log) == 2);
  CHECK(specialize_cli(d, "1", "quant-int9", &log) == 2);
  CHECK_THAT(log, Catch::Contains("did you mean 'quant-int8'"));
  CHECK(specialize_cli(d, "1", "specialize-2_0", &log) == 2);
  CHECK_THAT(log, Catch::Contains("is itself specialized"));
  std::string other = tiny_schema(d.path().string(), 4, 5);  // another schema text
  write_bytes(d / "o.yaml", std::vector<uint8_t>(other.begin(), other.end()));
  CHECK(specialize_cli(d, "1", "", &log, "o.yaml") == 7);
  CHECK_THAT(log, Catch::Contains("pass the schema the catalog was built from"));
  CHECK(read_bytes(d / "cat/catalog.json") == before);
  for (const auto& e : std::filesystem::directory_iterator(d / "cat"))
    CHECK(e.path().filename().string().find(".tmp-") == std::string::npos);

  // catalog.json edited to claim other classes than the file has outputs for: a clear error
  // when the variant is loaded (mcdnn-infer, mcdnn-run's real mode), not an index out of range.
  CatalogIndex edited = read_catalog_index(d / "cat");
  for (auto& r : edited.records)
    if (r.id == "specialize-2_0") r.specialized.classes = {2};
  const VariantRecord& e = *edited.find("specialize-2_0");
  try {
    load_variant(edited, e);
    FAIL("accepted");
  } catch (const Error& err) {
    CHECK(err.cls() == ErrorClass::Catalog);
    CHECK_THAT(err.what(), Catch::Contains("has 3 outputs, catalog.json's variant specialize-2_0 needs 2"));
  }
  CHECK_NOTHROW(load_variant(edited, *edited.find("base")));
}

TEST_CASE("specialize: the build keeps each variant's features and --specialize reads them instead of forwarding", "[specialize][cli]") {
  TempDir d;
  write_synthetic_idx(make_synthetic(400, 12, 4, 91), d / "train");
  write_synthetic_idx(make_synthetic(200, 12, 4, 92), d / "val");
  std::string log;
  REQUIRE(compile_tiny(d, kSpecializeSection, 3, &log) == 0);
  CatalogIndex c = read_catalog_index(d / "cat");
  REQUIRE(c.features.size() == 2);
  CHECK_THAT(log, Catch::Contains("features of base: ") && Catch::Contains("kept as base.features-last1.h5"));
  const FeatureRecord* fb = c.find_features("base", 1);
  REQUIRE(fb);
  CHECK(fb->variant_sha256 == c.find("base")->sha256);
  CHECK(fb->cut == static_cast<int64_t>(c.find("base")->profile.layers.size()) - 1);  // the input of the last layer
  CHECK(fb->validation_examples == c.find("base")->validation_examples);
  CHECK(c.find_features("quant-int8", 1));
  CHECK_FALSE(c.find_features("base", 2));

  // What is stored is what the frozen layers give now, example for example (tolerance 1e-6).
  Schema schema = parse_schema_file(d / "s.yaml");
  Dataset trd, vad;
  load_data(schema, &trd, &vad);
  TensorData tr = to_tensors(trd, torch::kCPU), va = to_tensors(vad, torch::kCPU);
  Variant base = variant_from_file(load_variant(c, *c.find("base")));
  base.net->eval();
  const PreForwarded fresh(base, 1, tr, va, true);
  const PreForwarded stored = read_features(c, *fb, torch::kCPU);
  CHECK(stored.stored());
  CHECK(stored.cut() == fresh.cut());
  CHECK(torch::equal(stored.train().y, tr.y));
  CHECK(torch::equal(stored.val().y, va.y));
  CHECK(torch::allclose(stored.train().x, fresh.train().x, 0, 1e-6));
  CHECK(torch::allclose(stored.val().x, fresh.val().x, 0, 1e-6));
  // Specializing on them gives the head specializing on fresh features gives.
  SpecializeSpec spec;
  spec.classes = {1, 3};
  spec.epochs = 4;
  const SpecializeResult a = specialize(base, stored, spec), b = specialize(base, fresh, spec);
  CHECK(a.in_set_accuracy == Approx(b.in_set_accuracy).margin(1e-9));
  CHECK(a.other_recall == Approx(b.other_recall).margin(1e-9));

  // --specialize reads them; no features file is written.
  const auto sha_before = fb->sha256;
  int rc = specialize_cli(d, "1,3", "base", &log);
  INFO(log);
  REQUIRE(rc == 0);
  CHECK_THAT(log, Catch::Contains("features read from base.features-last1.h5"));
  CHECK_THAT(log, !Catch::Contains("forwarded"));
  CatalogIndex c2 = read_catalog_index(d / "cat");
  CHECK(c2.features.size() == 2);
  CHECK(c2.find_features("base", 1)->sha256 == sha_before);

  // Features not stored yet (two retrained layers): computed, then kept for the next call.
  CompileOptions opt;
  opt.schema_path = d / "s.yaml";
  opt.specialize_dir = d / "cat";
  opt.classes = "0,2";
  opt.specialize_variants = "base";
  opt.retrain_layers = 2;
  opt.threads = 1;
  opt.measure_seconds = 0.01;
  auto run = [&] {
    std::ostringstream out, err;
    const int r = compile(opt, out, err);
    log = out.str() + err.str();
    return r;
  };
  REQUIRE(run() == 0);
  CHECK_THAT(log, Catch::Contains("features forwarded in") && Catch::Contains("kept as base.features-last2.h5"));
  CatalogIndex c3 = read_catalog_index(d / "cat");
  REQUIRE(c3.features.size() == 3);
  const FeatureRecord* f2 = c3.find_features("base", 2);
  REQUIRE(f2);
  CHECK(f2->cut < fb->cut);
  CHECK_NOTHROW(read_features(c3, *f2, torch::kCPU));
  REQUIRE(run() == 0);
  CHECK_THAT(log, Catch::Contains("features read from base.features-last2.h5"));
  std::string shown;
  REQUIRE(run_command(std::string(MCDNN_CATALOG) + " show " + (d / "cat"), &shown) == 0);
  CHECK_THAT(shown, Catch::Contains("features kept for specializing base (last 1 layer(s)): base.features-last1.h5") &&
                        Catch::Contains("features kept for specializing quant-int8"));

  // A damaged features file: reported, computed again and replaced; the catalog stays whole.
  {
    std::vector<uint8_t> bytes = read_bytes(d / ("cat/" + fb->file));
    bytes[bytes.size() / 2] ^= 0x5a;
    write_bytes(d / ("cat/" + fb->file), bytes);
  }
  CHECK_THROWS_WITH(read_features(c3, *c3.find_features("base", 1), torch::kCPU), Catch::Contains("differs from catalog.json's"));
  REQUIRE(specialize_cli(d, "1,3", "base", &log) == 0);
  CHECK_THAT(log, Catch::Contains("differs from catalog.json's") && Catch::Contains("computing the features again"));
  CatalogIndex c4 = read_catalog_index(d / "cat");
  REQUIRE(c4.features.size() == 3);
  CHECK_NOTHROW(read_features(c4, *c4.find_features("base", 1), torch::kCPU));
  for (const auto& e : std::filesystem::directory_iterator(d / "cat"))
    CHECK(e.path().filename().string().find(".tmp-") == std::string::npos);

  // Features of other examples (here: the labels reversed, the file and its checksum consistent,
  // as from a catalog built on other data): these data are forwarded, the catalog's features
  // left as they are.
  auto set_feature_sha = [&](const std::string& sha) {
    nlohmann::json j = nlohmann::json::parse(read_file(d / "cat/catalog.json", 1));
    for (auto& f : j["features"])
      if (f["variant"] == "base" && f["retrained_layers"] == 1) f["sha256"] = sha;
    const std::string t = j.dump(2);
    write_bytes(d / "cat/catalog.json", std::vector<uint8_t>(t.begin(), t.end()));
  };
  {
    const PreForwarded good = read_features(c4, *c4.find_features("base", 1), torch::kCPU);
    const PreForwarded other(good.cut(), TensorData{good.train().x, good.train().y.flip(0)}, good.val(), 0);
    const std::string name = features_file_name("base", 1);
    set_feature_sha(write_features(d / ("cat/" + name), name, *c4.find("base"), 1, other).sha256);
  }
  const std::string other_sha = read_catalog_index(d / "cat").find_features("base", 1)->sha256;
  opt.classes = "1,3";
  opt.retrain_layers = 1;
  REQUIRE(run() == 0);
  CHECK_THAT(log, Catch::Contains("holds the features of other examples") && Catch::Contains("features forwarded in"));
  CHECK_THAT(log, !Catch::Contains("(kept as"));
  CHECK(read_catalog_index(d / "cat").find_features("base", 1)->sha256 == other_sha);

  // A features entry edited to another cut: its file disagrees; computed again and replaced.
  {
    nlohmann::json j = nlohmann::json::parse(read_file(d / "cat/catalog.json", 1));
    for (auto& f : j["features"])
      if (f["variant"] == "base" && f["retrained_layers"] == 1) f["cut"] = 0;
    const std::string t = j.dump(2);
    write_bytes(d / "cat/catalog.json", std::vector<uint8_t>(t.begin(), t.end()));
  }
  REQUIRE(run() == 0);
  CHECK_THAT(log, Catch::Contains("attribute cut is not 0") && Catch::Contains("computing the features again"));
  CHECK(read_catalog_index(d / "cat").find_features("base", 1)->cut == fb->cut);

  // A rebuild into the directory replaces it, features files included (they are the catalog's own).
  REQUIRE(compile_tiny(d, std::string(kSpecializeSection) + "  store_features: false\n", 3, &log) == 0);
  CatalogIndex c5 = read_catalog_index(d / "cat");
  CHECK(c5.features.empty());
  for (const auto& e : std::filesystem::directory_iterator(d / "cat"))
    CHECK(e.path().filename().string().find(".features-") == std::string::npos);
}
