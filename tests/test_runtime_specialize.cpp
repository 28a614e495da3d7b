// Class-skew specialization in the runtime: streams with class phases, the (n, p) skew test,
// cascades that route "other" to their generic variant (and pay for it), the oracle with
// cascades, and mcdnn-run end to end in real mode on a catalog with specialized variants.
#include <array>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "app.hpp"
#include "catch.hpp"
#include "compile.hpp"
#include "fixtures.hpp"
#include "oracle.hpp"
#include "run.hpp"
#include "scenario.hpp"
#include "scheduler.hpp"
#include "trace.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

using namespace mcdnn;
using namespace mcdnn::rt;
using namespace mcdnn::test;
using Catch::Matchers::Contains;

namespace {


std::string with_stream(const std::string& stream, const std::string& extra = "") {
  return "format: mcdnn-scenario/1\nname: t\nhorizon: 1h\ndevice: {cache: 1MB, energy: 1J}\n" + extra +
         "apps:\n  - name: a\n    catalog: cat\n    stream: " + stream + "\n";
}

// A generic variant whose load costs as much as one execution.
VariantCost generic(const std::string& id, double acc, int64_t bytes, double exec_j) { return var(id, acc, bytes, exec_j, exec_j); }

// Generic: big (95%, 1 J) and tiny (80%, 0.05 J); a cascade for classes {0, 1} made from tiny:
// right on 97% of their requests, "other" on 2%; "other" on 95% of the rest. Tiny is right on
// 90% of classes 0-1 and 78% of the others.
App skewed_app() {
  App a;
  a.name = "a";
  a.catalog.input.num_classes = 10;
  a.variants = {generic("big", 0.95, 60, 1.0), generic("tiny", 0.80, 10, 0.05)};
  VariantCost c = generic("tiny+specialize-0_1", 0.97, 10, 0.05);
  c.set = 0;
  c.fallback = 1;
  c.in_set_accuracy = 0.97;
  c.in_set_other = 0.02;
  c.other_recall = 0.95;
  c.fallback_in = 0.90;
  c.fallback_out = 0.78;
  c.exec_s = 0.001;
  c.cloud_s = c.cloud_usd = std::numeric_limits<double>::infinity();
  a.cascades = {c};
  a.sets = {{0, 1}};
  a.device_profile = "test";
  return a;
}

// 4000 requests, one a second: 90% of classes 0-1 for the first 2000, uniform after.
std::vector<Request> skewed_trace() {
  std::vector<Request> r;
  Rng rng(5);
  for (int i = 0; i < 4000; ++i) {
    const double u = rng.uniform(), v = rng.uniform();
    int label = i < 2000 ? (u < 0.9 ? (v < 0.5 ? 0 : 1) : 2 + static_cast<int>(v * 8)) : static_cast<int>(v * 10);
    r.push_back({static_cast<double>(i), 0, std::min(label, 9)});
  }
  return r;
}

Scenario skew_scenario(double energy) {
  Scenario s;
  s.name = "t";
  s.horizon_s = 4000;
  s.device.energy_j = energy;
  s.device.cache_bytes = 1000;
  s.device.latency_limit_s = 1;
  s.specialization = {100, 3, 0.7};  // tiny answers the set on ~78% of the skewed requests
  AppSpec a;
  a.name = "a";
  s.apps.push_back(a);
  return s;
}

}  // namespace

TEST_CASE("scenario: class phases and the specialization test are validated", "[runtime][specialize]") {
  Scenario s = parse_scenario_string(
      with_stream("{rate: 1/s, classes: {count: 10, phases: [{duration: 1h, dominant: [0, 2, 7], share: 0.9}, {duration: 30min}]}}",
                  "policy: [mcdnn, mcdnn-specialize]\nspecialization: {window: 50, max_classes: 3, min_share: 0.75}\n"),
      "s.yaml", "");
  const ClassSpec& cs = s.apps[0].stream.classes;
  CHECK(cs.count == 10);
  REQUIRE(cs.phases.size() == 2);
  CHECK(cs.phases[0].dominant == std::vector<int>{0, 2, 7});
  CHECK(cs.phases[0].share == 0.9);
  CHECK(cs.phases[1].dominant.empty());
  CHECK(cs.phases[1].duration_s == 1800);
  CHECK(s.specialization.window == 50);
  CHECK(s.specialization.max_classes == 3);
  CHECK(s.specialization.min_share == 0.75);

  // Each mistake: the stream (or extra top-level text) and what the message must say.
  const std::vector<std::array<const char*, 3>> mistakes = {
      {"{rate: 1/s, classes: {count: 3, phases: [{duration: 1h, dominant: [0, 1, 2], share: 0.9}]}}", "", "lists every class"},
      {"{rate: 1/s, classes: {count: 3, phases: [{duration: 1h, dominant: [0, 3], share: 0.9}]}}", "",
       "phases[0].dominant[1]: expected an integer between 0 and 2, got '3'"},
      {"{rate: 1/s, classes: {count: 3, phases: [{duration: 1h, dominant: [1, 1], share: 0.9}]}}", "", "class 1 is listed twice"},
      {"{rate: 1/s, classes: {count: 3, phases: [{duration: 1h, share: 0.9}]}}", "", "share needs `dominant`"},
      {"{rate: 1/s, classes: {count: 3, phases: [{duration: 1h, dominant: [1]}]}}", "", "missing required key 'share'"},
      {"{trace: t.csv, classes: {count: 3, phases: [{duration: 1h}]}}", "", "a trace file gives its requests' labels itself"},
      {"{rate: 1/s}", "specialization: {min_share: 0}\n", "specialization.min_share"},
      {"{rate: 1/s}", "specialization: {windw: 10}\n", "unknown key 'windw'"},
  };
  for (const auto& m : mistakes) CHECK_THAT(scenario_error(with_stream(m[0], m[1])), Contains(m[2]));
}

TEST_CASE("trace: class phases label the requests at their shares, arrival times unchanged", "[runtime][specialize]") {
  Scenario s = parse_scenario_string(
      with_stream("{rate: 2/s, classes: {count: 10, phases: [{duration: 30min, dominant: [3, 4], share: 0.9}, {duration: 30min}]}}"),
      "s.yaml", "");
  Scenario plain = parse_scenario_string(with_stream("{rate: 2/s}"), "s.yaml", "");
  auto tr = make_trace(s, 11), tp = make_trace(plain, 11);
  REQUIRE(tr.size() == tp.size());
  double dom[2] = {0, 0}, n[2] = {0, 0};
  std::vector<int> seen(10, 0);
  for (size_t k = 0; k < tr.size(); ++k) {
    CHECK(tr[k].t == tp[k].t);
    REQUIRE(tr[k].label >= 0);
    REQUIRE(tr[k].label < 10);
    const int ph = tr[k].t < 1800 ? 0 : 1;
    n[ph]++;
    dom[ph] += tr[k].label == 3 || tr[k].label == 4;
    if (ph == 1) seen[static_cast<size_t>(tr[k].label)]++;
  }
  CHECK(dom[0] / n[0] == Approx(0.9).margin(0.02));  // ~3600 requests: 3 sd is 0.015
  CHECK(dom[1] / n[1] == Approx(0.2).margin(0.03));
  for (int c : seen) CHECK(c > 200);  // uniform: ~360 each
}

TEST_CASE("cascades: in-set answers, \"other\" falls through to the generic variant and is paid", "[runtime][specialize]") {
  App a = skewed_app();
  std::vector<App> apps = {a};
  Scenario s = skew_scenario(1e9);
  std::vector<Request> tr;
  for (int i = 0; i < 40000; ++i) tr.push_back({static_cast<double>(i) * 0.1, 0, i % 2 ? 1 : 5});  // half in the set
  SimulatedBackend b(s, apps, tr, 3);
  Decision d;
  d.place = Place::Device;
  d.variant = 2;  // the cascade
  d.hit = true;
  double in_ok = 0, in_fell = 0, out_ok = 0, out_fell = 0, energy_in = 0, energy_fell = 0;
  for (size_t k = 0; k < tr.size(); ++k) {
    const auto sv = b.serve(k, tr[k], d);
    const bool in = tr[k].label == 1;
    (in ? in_ok : out_ok) += sv.correct;
    (in ? in_fell : out_fell) += sv.fell_through;
    if (sv.correct && !sv.fell_through) CHECK(sv.predicted == tr[k].label);
    if (!in && !sv.fell_through) CHECK((sv.predicted == 0 || sv.predicted == 1));  // an out-of-set class taken for a set class
    (sv.fell_through ? energy_fell : energy_in) += sv.energy_j;
  }
  const double n = 20000;  // each kind; tolerances ~4 sd
  CHECK(in_fell / n == Approx(0.02).margin(0.005));
  CHECK(in_ok / n == Approx(0.97 + 0.02 * 0.90).margin(0.006));
  CHECK(out_fell / n == Approx(0.95).margin(0.008));
  CHECK(out_ok / n == Approx(0.95 * 0.78).margin(0.013));
  // The specialized run always, the fallback's run when it said "other".
  CHECK(energy_fell == Approx((in_fell + out_fell) * (0.05 + 0.05)).epsilon(1e-9));
  CHECK(energy_in == Approx((2 * n - in_fell - out_fell) * 0.05).epsilon(1e-9));

  // Expected values under a skew: p = 0.9 of the set.
  auto o = options_under_skew(a, 0, 0.9);
  REQUIRE(o.size() == 3);
  CHECK(o[2].accuracy == Approx(0.9 * (0.97 + 0.02 * 0.9) + 0.1 * 0.95 * 0.78));
  CHECK(o[2].exec_j == Approx(0.05 + (0.9 * 0.02 + 0.1 * 0.95) * 0.05));
  CHECK(o[1].accuracy == Approx(0.9 * 0.9 + 0.1 * 0.78));  // the fallback under the same skew
  CHECK(o[0].accuracy == 0.95);
  auto off = options_under_skew(a, -1, 0);
  CHECK(off[2].accuracy == -1);
  CHECK(std::isinf(off[2].exec_j));
  CHECK(off[1].accuracy == 0.80);
}

TEST_CASE("mcdnn-specialize: switches to the cascade while the skew holds and back when it fades", "[runtime][specialize]") {
  App a = skewed_app();
  std::vector<App> apps = {a};
  auto tr = skewed_trace();
  // Energy for tiny-level execution (and the cascade's, ~0.056 J): big is out of budget, so
  // plain mcdnn runs tiny.
  Scenario s = skew_scenario(4000 * 0.07);
  RunOptions opt;
  opt.timeline = true;
  SimulatedBackend b(s, apps, tr, 7);
  RunResult plain = run_policy(s, apps, tr, "mcdnn", b, opt);
  RunResult spec = run_policy(s, apps, tr, "mcdnn-specialize", b, opt);
  CHECK(plain.all.specialized == 0);
  CHECK(plain.uses[0].count(1) == 1);
  // Skewed half: the cascade from about request 100 (a full window); uniform half: tiny again
  // once the window's share of {0, 1} falls below 0.8.
  int cascade_first = 0, cascade_second = 0, second_after_switch = 0;
  for (const auto& row : spec.timeline) {
    if (row.variant != 2) continue;
    (row.t < 2000 ? cascade_first : cascade_second)++;
    second_after_switch += row.t >= 2200;
  }
  INFO("plain: correct " << plain.all.correct << " dropped " << plain.all.dropped << " energy " << plain.all.energy_j
                          << "; spec: correct " << spec.all.correct << " dropped " << spec.all.dropped << " energy " << spec.all.energy_j
                          << " specialized " << spec.all.specialized << " fell " << spec.all.fell_through);
  CHECK(cascade_first > 1800);
  CHECK(cascade_second < 200);
  CHECK(second_after_switch == 0);
  CHECK(spec.all.specialized == cascade_first + cascade_second);
  CHECK(spec.all.fell_through > 0);
  // The cascade needs tiny cached with the specialized variant; tiny is, so the specialized
  // variant alone is loaded when the skew starts, once (the cache holds everything): both
  // policies load the same, plus its 0.05 J.
  CHECK(spec.all.load_j - plain.all.load_j == Approx(0.05));
  CHECK(spec.all.fell_through < spec.all.specialized / 5);
  // More accurate at the same budget, within it.
  CHECK(spec.all.correct > plain.all.correct + 200);
  CHECK(spec.all.energy_j <= s.device.energy_j + 1e-9);
  // The oracle: without class phases in the scenario it has no cascades; with the phases the
  // trace was drawn from, it values the cascades at the true share, and bounds both policies.
  const auto plain_bound = oracle_bound(s, apps, tr);
  Scenario phased = s;
  phased.apps[0].stream.classes = {10, {{2000, {0, 1}, 0.9}, {2000, {}, 0}}, ""};
  const auto bound = oracle_bound(phased, apps, tr);
  CHECK(plain_bound.bound >= plain.all.expected);
  CHECK(bound.bound > plain_bound.bound + 200);
  CHECK(bound.bound >= spec.all.expected);
  CHECK(bound.bound <= static_cast<double>(tr.size()));
}

TEST_CASE("mcdnn-run: real mode runs a catalog's specialized cascades on a skewed stream", "[runtime][specialize][cli]") {
  TempDir d;
  write_synthetic_idx(make_synthetic(400, 12, 4, 91), d / "train");
  write_synthetic_idx(make_synthetic(200, 12, 4, 92), d / "val");
  std::string log;
  const int rc = compile_tiny(d, "catalog: {variants: [{quantize: {formats: [int8]}}]}\nspecialize: {sets: [[2, 0]], epochs: 10, lr: 0.01}\n", 3, &log);
  INFO(log);
  REQUIRE(rc == 0);
  const std::string scen =
      "format: mcdnn-scenario/1\nname: skew\nseed: 2\nhorizon: 20min\nmode: real\n"
      "policy: [mcdnn, mcdnn-specialize, oracle]\n"
      "specialization: {window: 50, max_classes: 2, min_share: 0.7}\n"
      "device: {cache: 1MB, energy: 10J}\n"
      "apps:\n  - name: a\n    catalog: cat\n    data: {images: val-images.idx, labels: val-labels.idx}\n"
      "    stream: {rate: 1/s, classes: {count: 4, phases: [{duration: 10min, dominant: [0, 2], share: 0.9}, {duration: 10min}]}}\n";
  write_bytes(d / "k.yaml", std::vector<uint8_t>(scen.begin(), scen.end()));
  // The real backend serving the cascade on every request: images of the set's classes are
  // answered by the specialized variant, the others fall through to its generic source.
  Scenario sc = parse_scenario_file(d / "k.yaml");
  std::vector<App> apps = {load_app(sc.apps[0], sc)};
  REQUIRE(apps[0].cascades.size() == 1);
  CHECK(apps[0].sets == std::vector<std::vector<int64_t>>{{2, 0}});
  CHECK(apps[0].at(2).id == "specialize-2_0");
  CHECK(apps[0].variants[static_cast<size_t>(apps[0].cascades[0].fallback)].id == "base");
  auto backend = make_real_backend(sc, apps);
  std::vector<Request> tr;
  for (int i = 0; i < 200; ++i) tr.push_back({static_cast<double>(i), 0, i % 4});
  backend->prepare(sc, tr, 1);
  Decision dec;
  dec.place = Place::Device;
  dec.variant = 2;
  int right = 0, fell = 0, fell_wrongly = 0;
  for (size_t k = 0; k < tr.size(); ++k) {
    dec.hit = k > 0;
    const auto sv = backend->serve(k, tr[k], dec);
    const bool in = tr[k].label == 0 || tr[k].label == 2;
    right += sv.correct && sv.predicted == tr[k].label;
    fell += sv.fell_through;
    fell_wrongly += sv.fell_through == in;
    if (k == 0) CHECK(sv.load_s > 0);
  }
  CHECK(right >= 195);  // a separable set: the head and the fallback are right
  CHECK(fell >= 95);
  CHECK(fell <= 105);
  CHECK(fell_wrongly <= 5);

  // End to end: both policies run, the report counts cascade requests (none here: the generic
  // variants are already right on every request, so a cascade, which costs more, never wins).
  std::string out;
  REQUIRE(run_command(std::string(MCDNN_RUN) + " " + (d / "k.yaml") + " -o " + (d / "run"), &out) == 0);
  INFO(out);
  const auto j = nlohmann::json::parse(read_bytes(d / "run/report.json"));
  const auto& pols = j["points"][0]["policies"];
  REQUIRE(pols.size() == 3);
  CHECK(pols[1]["policy"] == "mcdnn-specialize");
  CHECK(pols[1]["traces"][0]["served_specialized"] == 0);
  CHECK(pols[1]["traces"][0]["accuracy"].get<double>() >= 0.95);
  // A class count that is not the catalog's is a clear error.
  std::string bad = scen;
  bad.replace(bad.find("count: 4"), 8, "count: 5");
  write_bytes(d / "b.yaml", std::vector<uint8_t>(bad.begin(), bad.end()));
  CHECK(run_command(std::string(MCDNN_RUN) + " " + (d / "b.yaml") + " -o " + (d / "run2"), &out) == 8);
  CHECK_THAT(out, Contains("count 5, but app 'a''s catalog"));
}
