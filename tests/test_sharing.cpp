// Sharing (issue 9): a schema's network on another catalog's trunk. The compiler trains only
// the fragment on the trunk's outputs and records the dependency; the executor runs a model
// prefix; mcdnn-infer and the runtime resolve the trunk (a missing or changed one is a clear
// error); mcdnn-run runs a shared trunk once per frame for every app on it.
#include <filesystem>
#include <sstream>

#include "app.hpp"
#include "catalog/trunk.hpp"
#include "catch.hpp"
#include "compile.hpp"
#include "data/dataset.hpp"
#include "fixtures.hpp"
#include "model.hpp"
#include "oracle.hpp"
#include "run.hpp"
#include "scenario.hpp"
#include "trace.hpp"
#include "util/error.hpp"

using namespace mcdnn;
using namespace mcdnn::test;
namespace fs = std::filesystem;

namespace {

// A fragment schema in DIR on the trunk catalog DIR/cat (tiny_schema's base, up to `layer`):
// the synthetic 4-class set relabelled to `classes` classes (2: left / right half).
std::string fragment_schema(const TempDir& d, const std::string& name, int classes, const std::string& trunk_extra = "",
                            const std::string& layer = "maxpool1") {
  const std::string dir = d.path().string();
  return "format: mcdnn-schema/1\n"
         "name: " + name + "\n"
         "trunk: {catalog: cat, variant: base, layer: " + layer + trunk_extra + "}\n"
         "classes: " + std::to_string(classes) + "\n"
         "data:\n"
         "  train: {idx: {images: " + dir + "/train-images.idx, labels: " + dir + "/train-labels.idx}}\n"
         "  validation: {idx: {images: " + dir + "/val-images.idx, labels: " + dir + "/val-labels.idx}}\n" +
         (classes == 2 ? "  relabel: {0: 0, 1: 1, 2: 0, 3: 1}\n" : "") +
         "network:\n"
         "  - flatten\n"
         "  - linear: {out: 12}\n"
         "  - relu\n"
         "  - linear: {out: " + std::to_string(classes) + "}\n"
         "training: {epochs: 4, batch_size: 32, optimizer: adam, lr: 0.01, seed: 3}\n"
         "catalog: {variants: [{quantize: {formats: [int8]}}]}\n";
}

int compile_schema(const TempDir& d, const std::string& file, const std::string& text, const std::string& out_dir, std::string* log) {
  write_bytes(d / file, std::vector<uint8_t>(text.begin(), text.end()));
  CompileOptions opt;
  opt.schema_path = d / file;
  opt.out_dir = d / out_dir;
  opt.threads = 1;
  opt.measure_seconds = 0.01;
  std::ostringstream out, err;
  const int rc = compile(opt, out, err);
  *log = out.str() + err.str();
  return rc;
}

// The trunk catalog DIR/cat (tiny_schema: conv1 bn1 relu1 maxpool1 flatten1 fc1 relu2 dropout1 fc2)
// and fragments on it: DIR/half (2 classes) and DIR/quad (4 classes).
struct Fragments {
  TempDir d;
  Fragments() {
    write_synthetic_idx(make_synthetic(400, 12, 4, 61), d / "train");
    write_synthetic_idx(make_synthetic(200, 12, 4, 62), d / "val");
    std::string log;
    int rc = compile_tiny(d, "catalog: {variants: [{quantize: {formats: [int8]}}]}\n", 3, &log);
    INFO(log);
    REQUIRE(rc == 0);
    rc = compile_schema(d, "half.yaml", fragment_schema(d, "half", 2), "half", &log);
    INFO(log);
    REQUIRE(rc == 0);
    CHECK_THAT(log, Catch::Contains("trunk: cat variant base up to maxpool1 (4 layers"));
    rc = compile_schema(d, "quad.yaml", fragment_schema(d, "quad", 4), "quad", &log);
    INFO(log);
    REQUIRE(rc == 0);
  }
};

std::string schema_error(const TempDir& d, const std::string& text) {
  try {
    parse_schema_string(text, d / "f.yaml", d.path().string());
  } catch (const Error& e) {
    CHECK(e.cls() == ErrorClass::Schema);
    return e.what();
  }
  return "accepted";
}

// Classifies the validation set with trunk + fragment through the executor (what mcdnn-infer
// and mcdnn-run's real mode do) and returns the accuracy.
double executor_accuracy(const CatalogIndex& c, const VariantRecord& rec, const Schema& s) {
  exec::Options to;
  to.int8 = exec::Int8Mode::Float;
  exec::Model frag = exec::Model::from_file(load_variant(c, rec), to);
  to.layers = c.trunk.layers;
  exec::Model trunk = exec::Model::from_file(open_trunk(c), to);
  Schema sch = s;
  Dataset tr, va;
  load_data(sch, &tr, &va);  // the trunk's input shape and normalization
  std::vector<float> feats(static_cast<size_t>(va.n * trunk.output_size())), logits(static_cast<size_t>(va.n * frag.num_classes()));
  trunk.run(va.images.data(), va.n, feats.data());
  frag.run(feats.data(), va.n, logits.data());
  int64_t correct = 0;
  for (int64_t i = 0; i < va.n; ++i) {
    const float* l = logits.data() + i * frag.num_classes();
    correct += std::max_element(l, l + frag.num_classes()) - l == va.labels[static_cast<size_t>(i)];
  }
  return static_cast<double>(correct) / static_cast<double>(va.n);
}

}  // namespace

TEST_CASE("sharing: a fragment trains on its trunk's outputs, records the dependency and runs through the executor", "[sharing][cli]") {
  Fragments f;
  const CatalogIndex trunk = read_catalog_index(f.d / "cat");
  const CatalogIndex c = read_catalog_index(f.d / "half");
  CHECK(c.format_version == kCatalogVersion);
  REQUIRE(c.trunk.present);
  CHECK(c.trunk.catalog == "../cat");  // relative to the fragment catalog
  CHECK(c.trunk.variant == "base");
  CHECK(c.trunk.layer == "maxpool1");
  CHECK(c.trunk.layers == 4);
  CHECK(c.trunk.sha256 == trunk.find("base")->sha256);
  CHECK(c.trunk.input == trunk.input.input);
  CHECK(c.trunk.mean == trunk.input.mean);
  CHECK(c.input.input == Shape{8, 6, 6, false});  // the fragment takes maxpool1's output
  CHECK(c.input.mean.empty());                      // features are not normalized again
  // Per-fragment costs: the fragment's variants count only their own layers; the trunk's
  // bytes and measured costs are recorded once.
  CHECK(c.trunk.params == 8 * 9 + 8 + 2 * 8);  // conv1 weight and bias, bn1's scale and shift
  CHECK(c.trunk_measured.present);
  CHECK(c.trunk_measured.latency_ms > 0);
  CHECK(c.trunk_measured.resident_bytes > 0);
  const VariantRecord& base = c.records[0];
  CHECK(base.profile.params == 288 * 12 + 12 + 12 * 2 + 2);
  CHECK(base.accuracy >= 0.95);
  REQUIRE(c.find("quant-int8"));
  // The executor, trunk then fragment, gives the recorded accuracy.
  const Schema s = parse_schema_file(f.d / "half.yaml");
  for (const auto& r : c.records) {
    INFO(r.id);
    CHECK(executor_accuracy(c, r, s) == Approx(r.accuracy).margin(1e-9));
  }
  // mcdnn-infer resolves the trunk itself (on the 4-class fragment: the label files' classes).
  std::string out;
  REQUIRE(run_command(std::string(MCDNN_INFER) + " " + (f.d / "quad") + " base " + (f.d / "val-images.idx") + " " +
                          (f.d / "val-labels.idx") + " --int8 float",
                      &out) == 0);
  INFO(out);
  char want[32];
  std::snprintf(want, sizeof want, "accuracy %.2f%%", 100 * read_catalog_index(f.d / "quad").records[0].accuracy);
  CHECK_THAT(out, Catch::Contains(want));
  CHECK_THAT(out, Catch::Contains("trunk: "));
  // So does the Python reader of docs/catalog-format.md (numpy: the same predictions in float).
  REQUIRE(run_command(std::string(MCDNN_PYTHON) + " " + MCDNN_SOURCE_DIR + "/tools/mcdnn_run.py " + (f.d / "quad") + " quant-int8 " +
                          (f.d / "val-images.idx") + " " + (f.d / "val-labels.idx"),
                      &out) == 0);
  INFO(out);
  std::snprintf(want, sizeof want, "accuracy %.2f%%", 100 * read_catalog_index(f.d / "quad").find("quant-int8")->accuracy);
  CHECK_THAT(out, Catch::Contains(want));
  // tools/sharing_table.py: the fragments against whole networks (here the trunk's own catalog).
  REQUIRE(run_command(std::string(MCDNN_PYTHON) + " " + MCDNN_SOURCE_DIR + "/tools/sharing_table.py --shared " + (f.d / "quad") +
                          " --independent " + (f.d / "cat"),
                      &out) == 0);
  CHECK_THAT(out, Catch::Contains("trunk: ../cat variant base up to maxpool1"));
  CHECK_THAT(out, Catch::Contains("| the independent best |"));

  // --check names the trunk; build plans refuse fragment schemas (before any training).
  {
    CompileOptions opt;
    opt.schema_path = f.d / "half.yaml";
    opt.out_dir = f.d / "checked";
    opt.check = true;
    std::ostringstream o, e;
    REQUIRE(compile(opt, o, e) == 0);
    CHECK_THAT(o.str(), Catch::Contains("trunk   cat variant base up to maxpool1 (4 layers"));
    opt.check = false;
    opt.plan_dir = f.d / "plan";
    std::ostringstream o2, e2;
    CHECK(compile(opt, o2, e2) == 2);
    CHECK_THAT(e2.str(), Catch::Contains("build plans do not build fragment catalogs"));
    CHECK_FALSE(fs::exists(f.d / "plan"));
  }

  // A prefix model: the trunk's first layers, channel-major output per image.
  const VariantFile tv = load_variant(trunk, *trunk.find("base"));
  exec::Options po;
  po.layers = 4;
  exec::Model prefix = exec::Model::from_file(tv, po);
  CHECK(prefix.output_shape() == Shape{8, 6, 6, false});
  CHECK(prefix.output_size() == 288);
  CHECK(prefix.steps().size() == 2);  // conv1+bn1+relu1, maxpool1
  // Batched and one at a time agree (the N x C x H x W output layout).
  std::vector<float> x(3 * 144), y3(3 * 288), y1(288);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 37) % 11) / 5.0f - 1.0f;
  prefix.run(x.data(), 3, y3.data());
  prefix.run(x.data() + 2 * 144, 1, y1.data());
  for (size_t i = 0; i < 288; ++i) REQUIRE(y1[i] == Approx(y3[2 * 288 + i]).margin(1e-5));
}

TEST_CASE("sharing: a missing, changed or misnamed trunk is a clear error", "[sharing][schema]") {
  Fragments f;
  const TempDir& d = f.d;
  // In the schema: each key checked against the trunk catalog when the schema is read.
  const std::string ok = fragment_schema(d, "x", 2);
  auto with = [&](const std::string& from, const std::string& to) {
    std::string t = ok;
    t.replace(t.find(from), from.size(), to);
    return t;
  };
  CHECK(schema_error(d, ok) == "accepted");
  CHECK_THAT(schema_error(d, with("catalog: cat", "catalog: nowhere")), Catch::Contains("trunk.catalog: the trunk catalog nowhere cannot be used"));
  CHECK_THAT(schema_error(d, with("variant: base", "variant: bse")), Catch::Contains("has no variant 'bse'"));
  CHECK_THAT(schema_error(d, with("variant: base", "variant: bse")), Catch::Contains("did you mean 'base'"));
  CHECK_THAT(schema_error(d, with("layer: maxpool1", "layer: maxpool2")), Catch::Contains("trunk.layer: the variant has no layer 'maxpool2'"));
  CHECK_THAT(schema_error(d, with("layer: maxpool1", "layer: fc2")), Catch::Contains("is the variant's last layer"));
  CHECK_THAT(schema_error(d, with("layer: maxpool1", "layer: fc1")), Catch::Contains("has a flat output"));
  CHECK_THAT(schema_error(d, with("layer: maxpool1}", "layer: maxpool1, depth: 2}")), Catch::Contains("unknown key 'depth'"));
  CHECK_THAT(schema_error(d, with("classes: 2\n", "classes: 2\ninput: {channels: 1, height: 12, width: 12}\n")),
             Catch::Contains("takes its input from the trunk"));
  CHECK_THAT(schema_error(d, with("  relabel:", "  normalize: compute\n  relabel:")), Catch::Contains("drop `normalize`"));
  CHECK_THAT(schema_error(d, with("variant: base", "variant: base, layer: conv1")), Catch::Contains("duplicate key 'layer'"));
  // A fragment catalog cannot be a trunk (one level of sharing).
  CHECK_THAT(schema_error(d, with("catalog: cat", "catalog: half")), Catch::Contains("is itself a fragment catalog"));

  // After the build: the dependency is checked whenever the fragment is opened.
  const CatalogIndex c = read_catalog_index(d / "half");
  CHECK_NOTHROW(open_trunk(c));
  auto error_of = [&](const CatalogIndex& idx) -> std::string {
    try {
      open_trunk(idx);
    } catch (const Error& e) {
      CHECK(e.cls() == ErrorClass::Catalog);
      return e.what();
    }
    return "opened";
  };
  // The trunk variant rebuilt (another checksum): a mismatch, named, with the fix.
  const std::string cat_json = d / "cat/catalog.json";
  const std::vector<uint8_t> saved = read_bytes(cat_json);
  std::string text(saved.begin(), saved.end());
  const std::string sha = read_catalog_index(d / "cat").find("base")->sha256;
  text.replace(text.find(sha), sha.size(), std::string(64, 'a'));
  write_bytes(cat_json, std::vector<uint8_t>(text.begin(), text.end()));
  CHECK_THAT(error_of(c), Catch::Contains("has changed since this catalog was built"));
  CHECK_THAT(error_of(c), Catch::Contains("rebuild this fragment catalog"));
  write_bytes(cat_json, saved);
  CHECK(error_of(c) == "opened");
  // The trunk file damaged: its checksum fails.
  const std::string file = d / ("cat/" + c.trunk.file);
  const std::vector<uint8_t> bytes = read_bytes(file);
  std::vector<uint8_t> bad = bytes;
  bad[bad.size() / 2] ^= 0xFF;
  write_bytes(file, bad);
  CHECK_THAT(error_of(c), Catch::Contains("differs from catalog.json's"));
  write_bytes(file, bytes);
  // The trunk catalog moved away.
  fs::rename(d / "cat", d / "moved");
  CHECK_THAT(error_of(c), Catch::Contains("cannot be read"));
  std::string out;
  CHECK(run_command(std::string(MCDNN_INFER) + " " + (d / "half") + " base " + (d / "val-images.idx"), &out) == 7);
  CHECK_THAT(out, Catch::Contains("a fragment catalog needs its trunk catalog where it was when built"));
  rt::Scenario s = rt::parse_scenario_string("format: mcdnn-scenario/1\nname: s\nhorizon: 10s\ndevice: {cache: 1MB, energy: 1J}\n"
                                             "apps: [{name: a, catalog: " + (d / "half") + ", stream: {rate: 1/s}}]\n",
                                             "s.yaml", "");
  try {
    rt::load_apps(s);
    FAIL("loaded");
  } catch (const Error& e) {
    CHECK(e.cls() == ErrorClass::Catalog);
    CHECK_THAT(std::string(e.what()), Catch::Contains("app 'a': "));
    CHECK_THAT(std::string(e.what()), Catch::Contains("cannot be read"));
  }
  fs::rename(d / "moved", d / "cat");
}

TEST_CASE("sharing: apps on one stream run their shared trunk once per frame", "[sharing][runtime]") {
  Fragments f;
  auto scenario = [&](const std::string& mode, const std::string& second_stream) {
    return rt::parse_scenario_string("format: mcdnn-scenario/1\nname: s\nhorizon: 60s\nmode: " + mode +
                                         "\npolicy: original\ndevice: {cache: 1MB, energy: 1kJ}\napps:\n"
                                         "  - {name: half, catalog: " + (f.d / "half") + ", stream: {rate: 1/s}, data: {schema: " +
                                         (f.d / "half.yaml") + "}}\n"
                                         "  - {name: quad, catalog: " + (f.d / "quad") + ", stream: " + second_stream +
                                         ", data: {schema: " + (f.d / "quad.yaml") + "}}\n",
                                     "s.yaml", "");
  };
  const rt::Scenario s = scenario("simulated", "{same_as: half}");
  const auto apps = rt::load_apps(s);
  REQUIRE(apps[0].trunk == 0);
  REQUIRE(apps[1].trunk == 0);  // one trunk, shared
  CHECK(apps[0].trunk_cost.sharers == 2);
  CHECK(apps[0].trunk_cost.on_trunk == 2);
  const rt::TrunkCost& tc = apps[0].trunk_cost;
  CHECK(tc.exec_j > 0);
  const auto trace = rt::make_trace(s, 1);
  int64_t frames = 0;
  for (size_t k = 0; k < trace.size(); ++k) {
    if (trace[k].app != 0) continue;
    ++frames;
    REQUIRE(k + 1 < trace.size());  // the other app's request of the frame follows at once
    CHECK(trace[k + 1].app == 1);
    CHECK(trace[k + 1].t == trace[k].t);
    CHECK(trace[k + 1].frame == trace[k].frame);
  }
  REQUIRE(frames > 30);
  CHECK(static_cast<int64_t>(trace.size()) == 2 * frames);

  rt::SimulatedBackend sim(s, apps, trace, 1);
  const rt::RunResult r = rt::run_policy(s, apps, trace, "original", sim);
  CHECK(r.all.device == 2 * frames);
  CHECK(r.all.trunk_runs == frames);    // once per frame ...
  CHECK(r.all.trunk_shared == frames);  // ... and the other app used its output
  const double frag = apps[0].variants[static_cast<size_t>(apps[0].original)].exec_j + apps[1].variants[static_cast<size_t>(apps[1].original)].exec_j;
  CHECK(r.all.energy_j - r.all.load_j == Approx(static_cast<double>(frames) * (tc.exec_j + frag)).epsilon(1e-9));
  // Loads: each fragment once, the trunk once.
  CHECK(r.all.loads == 2);
  CHECK(r.all.load_j == Approx(tc.load_j + apps[0].variants[static_cast<size_t>(apps[0].original)].load_j +
                               apps[1].variants[static_cast<size_t>(apps[1].original)].load_j).epsilon(1e-9));

  // On streams of their own, every request runs the trunk.
  const rt::Scenario apart = scenario("simulated", "{rate: 1/s}");
  const auto apart_apps = rt::load_apps(apart);
  CHECK(apart_apps[0].trunk_cost.sharers == 1);  // no frames in common: each runs the trunk alone
  CHECK(apart_apps[0].trunk_cost.on_trunk == 2);  // ... from one cache entry
  const auto trace2 = rt::make_trace(apart, 1);
  rt::SimulatedBackend sim2(apart, apart_apps, trace2, 1);
  const rt::RunResult r2 = rt::run_policy(apart, apart_apps, trace2, "original", sim2);
  CHECK(r2.all.trunk_shared == 0);
  CHECK(r2.all.trunk_runs == r2.all.device);
  CHECK(r2.all.loads == 2);  // the trunk loaded once for both
  // The oracle's bound counts the trunk split between the apps on it; it bounds what a
  // schedule reaches, with energy to spare and with energy for about half the frames.
  CHECK(rt::oracle_bound(s, apps, trace).bound >= r.all.expected - 1e-6);
  // Energy for about half the frames whichever variants mcdnn loads: the cheapest load of the
  // trunk and of each fragment, then half the frames at the cheapest executions. (Not original's
  // loads: measured load energies differ between variants by more than half the frames'
  // executions, and mcdnn, loading the cheaper ones, could then serve every frame.)
  double loads = tc.load_j, per_frame = tc.exec_j;
  for (const auto& a : apps) {
    double l = a.variants[0].load_j, e = a.variants[0].exec_j;
    for (const auto& v : a.variants) l = std::min(l, v.load_j), e = std::min(e, v.exec_j);
    loads += l;
    per_frame += e;
  }
  rt::Scenario tight = s;
  tight.device.energy_j = loads + 0.5 * static_cast<double>(frames) * per_frame;
  rt::SimulatedBackend sim3(tight, apps, trace, 1);
  const rt::RunResult r3 = rt::run_policy(tight, apps, trace, "mcdnn", sim3);
  INFO("served " << r3.all.served() << " of " << r3.all.requests << ", trunk runs " << r3.all.trunk_runs << ", shared " << r3.all.trunk_shared
       << ", energy " << r3.all.energy_j << " of " << tight.device.energy_j << ", half " << r3.apps[0].served() << " quad " << r3.apps[1].served()
       << " trunk " << tc.exec_j << " frag " << frag);
  CHECK(r3.all.served() < r.all.served());
  CHECK(r3.all.trunk_shared > 0);
  CHECK(rt::oracle_bound(tight, apps, trace).bound >= r3.all.expected - 1e-6);

  // Real mode: the executor runs the trunk once per frame and each fragment on its output.
  const rt::Scenario real = scenario("real", "{same_as: half}");
  const auto real_apps = rt::load_apps(real);
  auto backend = rt::make_real_backend(real, real_apps);
  backend->prepare(real, trace, 1);
  const rt::RunResult rr = rt::run_policy(real, real_apps, trace, "original", *backend);
  CHECK(rr.all.trunk_runs == frames);
  CHECK(rr.all.trunk_shared == frames);
  CHECK(static_cast<double>(rr.all.correct) >= 0.9 * static_cast<double>(rr.all.requests));
  CHECK(rr.all.energy_j > 0);

  // Scenario errors.
  CHECK_THAT(scenario_error("format: mcdnn-scenario/1\nname: s\ndevice: {cache: 1MB, energy: 1J}\napps:\n"
                            "  - {name: a, catalog: x, stream: {rate: 1/s}}\n  - {name: b, catalog: x, stream: {same_as: aa}}\n"),
             Catch::Contains("'aa' is not an earlier app"));
  CHECK_THAT(scenario_error("format: mcdnn-scenario/1\nname: s\ndevice: {cache: 1MB, energy: 1J}\napps:\n"
                            "  - {name: a, catalog: x, stream: {rate: 1/s}}\n  - {name: b, catalog: x, stream: {same_as: a}}\n"
                            "  - {name: c, catalog: x, stream: {same_as: b}}\n"),
             Catch::Contains("name that app instead"));
  CHECK_THAT(scenario_error("format: mcdnn-scenario/1\nname: s\ndevice: {cache: 1MB, energy: 1J}\napps:\n"
                            "  - {name: a, catalog: x, stream: {rate: 1/s}}\n  - {name: b, catalog: x, stream: {same_as: a, rate: 1/s}}\n"),
             Catch::Contains("give exactly one of"));
  CHECK_THAT(scenario_error("format: mcdnn-scenario/1\nname: s\ndevice: {cache: 1MB, energy: 1J}\napps:\n"
                            "  - {name: a, catalog: x, stream: {rate: 1/s}}\n  - {name: b, catalog: x, stream: {same_as: ''}}\n"),
             Catch::Contains("expected the name of an earlier app"));
  // Copies count toward the request limit.
  CHECK_THAT(scenario_error("format: mcdnn-scenario/1\nname: s\nhorizon: 10h\ndevice: {cache: 1MB, energy: 1J}\napps:\n"
                            "  - {name: a, catalog: x, stream: {rate: 2000/s}}\n  - {name: b, catalog: x, stream: {same_as: a}}\n"),
             Catch::Contains("this one a copy of 'a''s"));
}
