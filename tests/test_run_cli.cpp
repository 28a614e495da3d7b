// mcdnn-run end to end on a small measured catalog: simulated and real mode, the report files,
// --explain, and clear errors (bad scenario, missing or unmeasured catalog, foreign output
// directory).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "catch.hpp"
#include "fixtures.hpp"

using namespace mcdnn::test;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

struct RunFixture {
  TempDir dir;
  RunFixture() {
    std::string log;
    const int rc = compile_every_form(dir, 91, &log);
    INFO(log);
    REQUIRE(rc == 0);
  }
  void scenario(const std::string& text, const std::string& name = "s.yaml") const {
    write_bytes(dir / name, std::vector<uint8_t>(text.begin(), text.end()));
  }
  int run(const std::string& args, std::string* out) const { return run_command(std::string(MCDNN_RUN) + " " + args, out); }
};

std::string two_apps(const std::string& mode, const std::string& extra = "") {
  return "format: mcdnn-scenario/1\n"
         "name: cli\n"
         "seed: 3\n"
         "horizon: 2min\n"
         "mode: " + mode + "\n"
         "policy: [mcdnn, original, best, server-first, oracle]\n"
         "device: {cache: 64KB, energy: 2J, latency_limit: 500ms}\n"
         "cloud: {round_trip: 50ms, price: 1.8e-7, transmission_energy: 1mJ, budget: $0.001, latency_factor: 0.5}\n"
         "apps:\n"
         "  - name: a\n"
         "    catalog: cat\n"
         "    stream: {rate: 2/s}\n"
         "    data: {images: val-images.idx, labels: val-labels.idx}\n"
         "  - name: b\n"
         "    catalog: cat\n"
         "    stream: {phases: [{duration: 30s, rate: 1/s}, {duration: 30s, rate: 0.2/s}]}\n"
         "    data: {images: val-images.idx, labels: val-labels.idx}\n" + extra;
}

}  // namespace

TEST_CASE("mcdnn-run serves a scenario in simulated and real mode and writes its report", "[run][cli]") {
  RunFixture f;
  for (const std::string mode : {"simulated", "real"}) {
    INFO(mode);
    f.scenario(two_apps(mode));
    std::string out;
    const std::string o = f.dir / ("out-" + mode);
    REQUIRE(f.run(f.dir / "s.yaml" + " -o " + o + " --explain 3", &out) == 0);
    INFO(out);
    CHECK_THAT(out, Contains("request 3 (policy mcdnn)") && Contains("decision:") && Contains("upper bound"));
    const auto j = nlohmann::json::parse(std::ifstream(o + "/report.json"));
    CHECK(j["format"] == "mcdnn-run-report/1");
    REQUIRE(j["points"].size() == 1);
    const auto& pols = j["points"][0]["policies"];
    REQUIRE(pols.size() == 5);
    double bound = -1, mcdnn = -1;
    for (const auto& p : pols) {
      const auto& m = p["mean"];
      if (p["policy"] == "oracle") {
        bound = m["expected_accuracy"];
        continue;
      }
      CHECK(m["served_fraction"].get<double>() >= 0);
      CHECK(m["served_fraction"].get<double>() <= 1);
      CHECK(m["requests"].get<double>() > 100);  // about 2/s x 120 s + 1/s x 30 s + 0.2/s x 30 s + ...
      const auto& t = p["traces"][0];
      CHECK(t["served_device"].get<int64_t>() + t["served_cloud"].get<int64_t>() + t["dropped"].get<int64_t>() ==
            t["requests"].get<int64_t>());
      CHECK(t["energy_j"].get<double>() <= 2.0 + 1e-9);
      CHECK(t["dollars"].get<double>() <= 0.001 + 1e-12);
      if (p["policy"] == "mcdnn") mcdnn = m["expected_accuracy"];
      if (mode == "real" && p["policy"] == "mcdnn") {
        // Real predictions on a separable set: nearly all correct when served.
        CHECK(t["accuracy"].get<double>() > 0.8 * t["served_fraction"].get<double>());
        CHECK(t["inference_s"].get<double>() > 0);
      }
    }
    CHECK(mcdnn > 0);
    CHECK(bound >= mcdnn - 1e-9);
    CHECK(fs::exists(o + "/summary.csv"));
    CHECK(fs::exists(o + "/timeline.csv"));
    // Rerunning into its own output directory replaces it.
    REQUIRE(f.run(f.dir / "s.yaml" + " -o " + o + " -q --policy mcdnn", &out) == 0);
  }
}

TEST_CASE("mcdnn-run sweeps a parameter over several traces", "[run][cli]") {
  RunFixture f;
  f.scenario(two_apps("simulated", "traces: 2\nsweep: {parameter: device.energy, values: [0.1J, 1J, 10J]}\n"));
  std::string out;
  const std::string o = f.dir / "sweep";
  REQUIRE(f.run(f.dir / "s.yaml" + " -o " + o + " --policy mcdnn,original", &out) == 0);
  INFO(out);
  CHECK_THAT(out, Contains("[point 3/3, trace 2/2] original"));
  const auto j = nlohmann::json::parse(std::ifstream(o + "/report.json"));
  REQUIRE(j["points"].size() == 3);
  double last = -1;
  for (const auto& p : j["points"]) {
    const double served = p["policies"][0]["mean"]["served_fraction"];
    CHECK(served >= last);  // more energy never serves fewer requests here
    last = served;
    CHECK(p["policies"][0]["traces"].size() == 2);
  }
}

TEST_CASE("mcdnn-run errors: scenario, catalog, output directory, flags", "[run][cli]") {
  RunFixture f;
  std::string out;
  f.scenario(two_apps("simulated") + "colour: blue\n");
  CHECK(f.run(f.dir / "s.yaml", &out) == 8);
  CHECK_THAT(out, Contains("s.yaml:18:1: colour: unknown key 'colour'"));

  std::string text = two_apps("simulated");
  text.replace(text.find("catalog: cat\n"), 13, "catalog: nowhere\n");
  f.scenario(text);
  CHECK(f.run(f.dir / "s.yaml" + " -o " + (f.dir / "o1"), &out) == 7);
  CHECK_THAT(out, Contains("app 'a'") && Contains("nowhere"));

  // An empty directory and an unreadable catalog.json: exit 7, naming the app.
  fs::create_directories(f.dir / "empty");
  fs::create_directories(f.dir / "broken");
  write_bytes(f.dir / "broken/catalog.json", {'{', '"', 'x'});
  for (const std::string bad : {"empty", "broken"}) {
    INFO(bad);
    std::string t = two_apps("simulated");
    t.replace(t.find("catalog: cat\n"), 13, "catalog: " + bad + "\n");
    f.scenario(t);
    CHECK(f.run(f.dir / "s.yaml" + " -o " + (f.dir / ("o-" + bad)), &out) == 7);
    CHECK_THAT(out, Contains("app 'a'") && Contains(bad));
    CHECK_FALSE(fs::exists(f.dir / ("o-" + bad)));  // nothing written
  }

  // A catalog built without measuring has no costs to schedule on.
  {
    TempDir d2;
    write_synthetic_idx(make_synthetic(100, 12, 4, 5), d2 / "train");
    write_synthetic_idx(make_synthetic(40, 12, 4, 6), d2 / "val");
    std::string log;
    const std::string schema = tiny_schema(d2.path().string(), 4, 1) + "catalog:\n  variants:\n    - quantize: {formats: [int8]}\n";
    write_bytes(d2 / "s.yaml", std::vector<uint8_t>(schema.begin(), schema.end()));
    REQUIRE(run_command(std::string(MCDNN_CLI) + " " + (d2 / "s.yaml") + " -o " + (d2 / "cat") + " --threads 1 --measure-seconds 0", &log) == 0);
    std::string t2 = two_apps("simulated");
    t2.replace(t2.find("catalog: cat\n"), 13, "catalog: " + (d2 / "cat") + "\n");
    f.scenario(t2);
    CHECK(f.run(f.dir / "s.yaml" + " -o " + (f.dir / "o2"), &out) == 7);
    CHECK_THAT(out, Contains("no measured costs") && Contains("--measure-seconds"));
  }

  f.scenario(two_apps("simulated"));
  fs::create_directories(f.dir / "mine");
  write_bytes(f.dir / "mine/notes.txt", {'h', 'i'});
  CHECK(f.run(f.dir / "s.yaml" + " -o " + (f.dir / "mine"), &out) == 5);
  CHECK_THAT(out, Contains("notes.txt") && Contains("did not write"));
  CHECK(read_bytes(f.dir / "mine/notes.txt").size() == 2);  // untouched

  CHECK(f.run(f.dir / "s.yaml" + " -o " + (f.dir / "o3") + " --explain 100000", &out) == 2);
  CHECK_THAT(out, Contains("--explain 100000: the first trace has"));
  CHECK(f.run(f.dir / "s.yaml" + " --policy mcdnn,mcdnn", &out) == 2);
  CHECK_THAT(out, Contains("'mcdnn' is listed twice"));
  CHECK(f.run(f.dir / "s.yaml" + " --policy ,", &out) == 2);
  CHECK_THAT(out, Contains("no policy named"));
  {
    std::string t = two_apps("simulated");
    t.replace(t.find("{rate: 2/s}"), 11, "{trace: cat}");  // a directory
    f.scenario(t);
    CHECK(f.run(f.dir / "s.yaml" + " -o " + (f.dir / "o4"), &out) == 8);
    CHECK_THAT(out, Contains("apps[0].stream: trace:") && Contains("is not a regular file"));
    f.scenario(two_apps("simulated"));
  }
  CHECK(f.run(f.dir / "s.yaml" + " --explain -2", &out) == 2);
  CHECK_THAT(out, Contains("--explain: expected an integer >= 0, got '-2'"));  // not CLI11's 300-digit range
  CHECK(f.run(f.dir / "s.yaml" + " --policy greedy", &out) == 2);
  CHECK_THAT(out, Contains("unknown policy 'greedy'"));
  CHECK(f.run(f.dir / "missing.yaml", &out) == 8);
}

TEST_CASE("mcdnn-run: the minimum accuracy, dropped requests said in words, a cloud out of reach said up front", "[run][cli][minimum]") {
  RunFixture f;
  const auto cat = nlohmann::json::parse(std::ifstream(f.dir / "cat/catalog.json"));
  double top = 0;
  for (const auto& v : cat["variants"]) top = std::max(top, v["accuracy"].get<double>());
  REQUIRE(cat["classes"]["count"] == 4);
  // A 100 B cache holds no variant; the cloud's 2 s round trip is over the 500 ms limit.
  std::string text = two_apps("simulated");
  text.replace(text.find("{cache: 64KB"), 12, "{cache: 100B");
  text.replace(text.find("round_trip: 50ms"), 16, "round_trip: 2s");
  text.replace(text.find("policy: [mcdnn, original, best, server-first, oracle]"), 53, "policy: [mcdnn, original, oracle]");
  text += "    min_accuracy: 0\n";  // app b: no minimum
  f.scenario(text);
  std::string out;
  const std::string o = f.dir / "small-cache";
  REQUIRE(f.run(f.dir / "s.yaml" + " -o " + o + " --explain 0", &out) == 0);
  INFO(out);
  CHECK_THAT(out, Contains("note: the cloud is out of reach: its 2 s round trip alone exceeds the 500 ms latency limit; no request runs in the "
                           "cloud\n"));
  CHECK_THAT(out, Contains("minimum accuracy none\n"));  // app b
  CHECK_THAT(out, Contains("decision: drop (") && Contains("counted as cache)"));
  CHECK_THAT(out, Contains("  dropped requests, and why:\n"));
  const auto j = nlohmann::json::parse(std::ifstream(o + "/report.json"));
  // The default for app a: halfway from chance (4 classes) to the catalog's best.
  CHECK(j["apps"][0]["min_accuracy"].get<double>() == Approx(0.25 + (top - 0.25) / 2));
  CHECK_THAT(j["apps"][0]["min_accuracy_rule"].get<std::string>(), Contains("default: chance 25.00% (1/4 classes) + half the way to"));
  CHECK(j["apps"][1]["min_accuracy"].get<double>() == 0);
  CHECK(j["notes"].size() >= 1);
  for (const auto& p : j["points"][0]["policies"]) {
    if (p["policy"] == "oracle") {
      CHECK(p["mean"]["expected_accuracy"].get<double>() == 0);  // nothing can run anywhere
      continue;
    }
    INFO(p["policy"]);
    REQUIRE(p["drops"].size() == 2);
    for (const auto& d : p["drops"]) {
      CHECK(d["dropped"] == d["requests"]);
      CHECK(d["dropped_by"]["cache"] == d["requests"]);
      const std::string app = d["app"], said = d["said"];
      if (p["policy"] == "original") {
        CHECK_THAT(said, Contains("its base model base (") && Contains(") does not fit the 100 B cache"));
        CHECK_THAT(out, Contains("    original: app " + app + " dropped " + std::to_string(d["requests"].get<int64_t>()) + " of "));
      } else {
        CHECK_THAT(said, Contains(app == "a" ? "no variant at least " : "no variant fits the 100 B cache"));
      }
    }
  }
  // summary.csv: the new columns at the end, every row as wide as the header.
  std::ifstream csv(o + "/summary.csv");
  std::string header, line;
  std::getline(csv, header);
  CHECK_THAT(header, Contains(",fallbacks,dropped,dropped_energy_left,dropped_energy_budget,dropped_cache,dropped_latency_limit,"
                              "dropped_min_accuracy,dropped_cloud_budget"));
  const auto fields = [](const std::string& s) { return std::count(s.begin(), s.end(), ',') + 1; };
  int rows = 0;
  while (std::getline(csv, line)) {
    ++rows;
    CHECK(fields(line) == fields(header));
  }
  CHECK(rows == 7);  // mcdnn and original: all, a, b; the oracle's bound
}
