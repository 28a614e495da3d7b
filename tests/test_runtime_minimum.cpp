// The app's minimum accuracy and the reasons for dropped requests, on hand-made apps with known
// right answers: the scenario key and its errors, the default rule, every policy (and the
// oracle's bound) leaving a variant below the minimum unused, each drop reason, the words the
// end of a run says, --explain's verdicts, and a cloud the latency limit leaves out of reach.
#include <string>
#include <vector>

#include "app.hpp"
#include "catch.hpp"
#include "fixtures.hpp"
#include "oracle.hpp"
#include "report.hpp"
#include "run.hpp"
#include "scenario.hpp"
#include "scheduler.hpp"
#include "trace.hpp"
#include "util/error.hpp"

using namespace mcdnn;
using namespace mcdnn::rt;
using namespace mcdnn::test;
using Catch::Matchers::Contains;

namespace {

const char* kApp =
    "format: mcdnn-scenario/1\n"       // 1
    "name: t\n"                        // 2
    "device: {cache: 2MB, energy: 1J}\n"  // 3
    "apps:\n"                          // 4
    "  - name: a\n"                    // 5
    "    catalog: cat\n"               // 6
    "    stream: {rate: 2/min}\n";     // 7

// A five-class app: good (90%, 1 J a run, 0.5 J a load) and junk (24%, barely above the 20% of
// chance, 0.01 J a run); a minimum of 50% unless given.
App good_and_junk(double min_accuracy = 0.5) {
  App a;
  a.name = "a";
  a.catalog.input.num_classes = 5;
  a.variants = {var("good", 0.90, 20, 1.0, 0.5, 0.01), var("junk", 0.24, 10, 0.01, 0.01, 0.001)};
  a.original = 0;
  a.knee = 0;
  a.min_accuracy = min_accuracy;
  a.min_accuracy_rule = "set in the scenario";
  a.device_profile = "test";
  return a;
}

Scenario scenario(double energy, double cache, double horizon = 1000) {
  Scenario s;
  s.name = "t";
  s.horizon_s = horizon;
  s.device.energy_j = energy;
  s.device.cache_bytes = cache;
  s.device.latency_limit_s = 1;
  AppSpec a;
  a.name = "a";
  s.apps.push_back(a);
  return s;
}

std::vector<Request> every_second(int n) {
  std::vector<Request> r;
  for (int i = 0; i < n; ++i) r.push_back({static_cast<double>(i), 0, -1});
  return r;
}

RunResult simulate(const Scenario& s, const std::vector<App>& apps, const std::vector<Request>& tr, const std::string& policy) {
  SimulatedBackend b(s, apps, tr, 7);
  return run_policy(s, apps, tr, policy, b);
}

int64_t by(const RunResult& r, DropReason why) { return r.all.dropped_by[static_cast<size_t>(why)]; }

}  // namespace

TEST_CASE("runtime: min_accuracy is a fraction or a percentage (0 for none), anything else a file:line error", "[runtime][minimum]") {
  const std::string base = kApp;
  auto with = [&](const std::string& value) { return base + "    min_accuracy: " + value + "\n"; };
  CHECK(parse_scenario_string(base, "s.yaml", "").apps[0].min_accuracy == -1);  // the default rule
  CHECK(parse_scenario_string(with("0.9"), "s.yaml", "").apps[0].min_accuracy == Approx(0.9));
  CHECK(parse_scenario_string(with("90%"), "s.yaml", "").apps[0].min_accuracy == Approx(0.9));
  CHECK(parse_scenario_string(with("\"57.5 %\""), "s.yaml", "").apps[0].min_accuracy == Approx(0.575));
  CHECK(parse_scenario_string(with("0"), "s.yaml", "").apps[0].min_accuracy == 0);
  CHECK(parse_scenario_string(with("0.9"), "s.yaml", "").apps[0].min_accuracy_where == "s.yaml:8:19: apps[0].min_accuracy");
  CHECK(scenario_error(with("high")) ==
        "s.yaml:8:19: apps[0].min_accuracy: expected an accuracy: a fraction in [0, 1] (0.9) or a percentage (90%), got 'high'");
  CHECK(scenario_error(with("1.5")) == "s.yaml:8:19: apps[0].min_accuracy: expected a fraction in [0, 1] (or a percentage: 90%), got '1.5'");
  CHECK(scenario_error(with("150%")) == "s.yaml:8:19: apps[0].min_accuracy: expected a percentage in [0%, 100%], got '150%'");
  CHECK(scenario_error(with("-0.1")) == "s.yaml:8:19: apps[0].min_accuracy: expected a fraction in [0, 1] (or a percentage: 90%), got '-0.1'");
  CHECK(scenario_error(with("[1]")) ==
        "s.yaml:8:19: apps[0].min_accuracy: expected an accuracy: a fraction in [0, 1] (0.9) or a percentage (90%), got a list");
  CHECK(scenario_error(with("\"%\"")) ==
        "s.yaml:8:19: apps[0].min_accuracy: expected an accuracy: a fraction in [0, 1] (0.9) or a percentage (90%), got '%'");
  CHECK_THAT(scenario_error(base + "    min_acuracy: 0.9\n"), Contains("s.yaml:8:5: apps[0].min_acuracy: unknown key") && Contains("min_accuracy"));
}

TEST_CASE("runtime: the default minimum accuracy is halfway from chance to the catalog's most accurate variant", "[runtime][minimum]") {
  App a = good_and_junk();
  std::string rule;
  // Five classes: chance 20%; the best variant 90%: 20% + (90% - 20%) / 2 = 55%.
  CHECK(default_min_accuracy(a, &rule) == Approx(0.55));
  CHECK(rule == "default: chance 20.00% (1/5 classes) + half the way to good's 90.00%");
  a.catalog.input.num_classes = 10;
  CHECK(default_min_accuracy(a) == Approx(0.1 + 0.4));
  // Fashion-MNIST's 10 classes and a 92.96% base: 51.48%, below every variant its catalog plots.
  a.variants[0].accuracy = 0.9296;
  CHECK(default_min_accuracy(a) == Approx(0.5148));
  a.catalog.input.num_classes = 0;  // no class count: half the best
  CHECK(default_min_accuracy(a, &rule) == Approx(0.4648));
  CHECK_THAT(rule, Contains("no class count"));
  // A catalog no better than chance: the minimum is chance itself.
  a.catalog.input.num_classes = 2;
  a.variants = {var("coin", 0.45, 10, 1.0, 1.0)};
  CHECK(default_min_accuracy(a) == Approx(0.5));
}

TEST_CASE("runtime: an app's minimum: the default, 0 for none, above every variant an error naming the key", "[runtime][minimum]") {
  App a = good_and_junk(0);
  AppSpec spec;
  spec.name = "a";
  spec.catalog = "cat";
  spec.where = "s.yaml:5:5: apps[0]";
  set_min_accuracy(a, spec);  // -1: the default
  CHECK(a.min_accuracy == Approx(0.55));
  CHECK(a.min_accuracy_rule == "default: chance 20.00% (1/5 classes) + half the way to good's 90.00%");
  spec.min_accuracy = 0;
  set_min_accuracy(a, spec);
  CHECK(a.min_accuracy == 0);
  CHECK(a.min_accuracy_rule == "none (min_accuracy: 0)");
  spec.min_accuracy = 0.9;  // the best variant's own accuracy: allowed
  set_min_accuracy(a, spec);
  CHECK(a.min_accuracy == 0.9);
  CHECK(a.min_accuracy_rule == "set in the scenario");
  spec.min_accuracy = 0.95;
  spec.min_accuracy_where = "s.yaml:8:19: apps[0].min_accuracy";
  try {
    set_min_accuracy(a, spec);
    FAIL("no error for a minimum above every variant");
  } catch (const Error& e) {
    CHECK(e.cls() == ErrorClass::Scenario);
    CHECK(std::string(e.what()) ==
          "s.yaml:8:19: apps[0].min_accuracy: 95.00% is above every variant of catalog cat (its most accurate, good, has 90.00%): every "
          "request of app 'a' would be dropped; lower it, or set 0 for no minimum");
  }
}

TEST_CASE("runtime: every policy drops a request rather than answer it below the app's minimum, and says why", "[runtime][minimum]") {
  // 1000 requests, one a second, 100 J: a budget of about 0.1 J a request. Good (1 J) is over
  // it; junk (0.01 J) is within it, so without a minimum mcdnn answers nearly everything at 24%.
  Scenario s = scenario(100, 1000);
  s.cloud.present = true;
  s.cloud.round_trip_s = 0.1;
  s.cloud.transmission_j = 0.01;
  s.cloud.budget_usd = 0.05;  // good costs $0.01 in the cloud (five requests), junk $0.001
  const auto tr = every_second(1000);
  const std::vector<App> off = {good_and_junk(0)}, on = {good_and_junk(0.5)};
  const RunResult before = simulate(s, off, tr, "mcdnn");
  CHECK(before.uses[0].at(1) > 800);  // junk, the most accurate variant within budget
  for (const std::string p : {"mcdnn", "mcdnn-specialize", "mcdnn-paper", "server-first"}) {
    INFO(p);
    const RunResult r = simulate(s, on, tr, p);
    CHECK(r.uses[0].count(1) == 0);  // never junk, on the device or in the cloud
    CHECK(r.all.served() > 0);       // good, when the budget (or the credit) pays for it
    CHECK(r.all.dropped > 0);
    // Junk was within reach every time: every drop is the minimum's.
    CHECK(by(r, DropReason::MinAccuracy) == r.all.dropped);
    CHECK(r.all.device + r.all.cloud + r.all.dropped == 1000);
    CHECK(r.all.energy_j <= 100 + 1e-9);
  }
  // The fixed baselines: a base model below the minimum drops everything, for that reason.
  std::vector<App> junk_base = on;
  junk_base[0].original = junk_base[0].knee = 1;
  for (const std::string p : {"original", "best"}) {
    INFO(p);
    const RunResult r = simulate(s, junk_base, tr, p);
    CHECK(r.all.dropped == 1000);
    CHECK(by(r, DropReason::MinAccuracy) == 1000);
    CHECK(simulate(s, on, tr, p).uses[0].count(1) == 0);
  }
  // The bound counts no answer below the minimum: good alone, resident (1 J a request, the
  // relaxation's free first load), in the cloud ($0.01 and 0.01 J each: five of them): 90 + 5 of
  // the requests the device cannot pay for, at 90%.
  const double bound_on = oracle_bound(s, on, tr).bound, bound_off = oracle_bound(s, off, tr).bound;
  CHECK(bound_on == Approx(0.9 * (100 - 5 * 0.01) + 0.9 * 5).epsilon(1e-4));
  CHECK(bound_off > bound_on);
  for (const std::string p : {"mcdnn", "mcdnn-paper", "original", "best", "server-first"}) {
    INFO(p);
    CHECK(simulate(s, on, tr, p).all.expected <= bound_on + 1e-6);
  }
}

TEST_CASE("runtime: drop reasons: cache, latency limit, energy left, energy budget, cloud dollars", "[runtime][minimum]") {
  const std::vector<App> apps = {good_and_junk(0)};
  const auto tr = every_second(20);
  SECTION("nothing fits the cache") {
    const Scenario s = scenario(1e9, 5);
    for (const std::string p : {"mcdnn", "mcdnn-paper", "original", "best"}) {
      INFO(p);
      CHECK(by(simulate(s, apps, tr, p), DropReason::Cache) == 20);
    }
  }
  SECTION("nothing meets the latency limit") {
    Scenario s = scenario(1e9, 1000);
    s.device.latency_limit_s = 0.0005;  // junk runs in 1 ms
    for (const std::string p : {"mcdnn", "mcdnn-paper", "original"}) {
      INFO(p);
      CHECK(by(simulate(s, apps, tr, p), DropReason::LatencyLimit) == 20);
    }
  }
  SECTION("the energy is spent") {
    const Scenario s = scenario(0, 1000);
    for (const std::string p : {"mcdnn", "mcdnn-paper", "original"}) {
      INFO(p);
      CHECK(by(simulate(s, apps, tr, p), DropReason::EnergyLeft) == 20);
    }
  }
  SECTION("the per-request budget holds back an app whose only variant is dear") {
    // 5 J for 20 requests: 0.25 J each against 1 J (junk turned off: the minimum is above it).
    const Scenario s = scenario(5, 1000, 20);
    const RunResult r = simulate(s, {good_and_junk(0.5)}, tr, "mcdnn");
    CHECK(r.all.dropped > 10);
    CHECK(by(r, DropReason::EnergyBudget) + by(r, DropReason::MinAccuracy) == r.all.dropped);
    CHECK(by(r, DropReason::MinAccuracy) == r.all.dropped);  // junk was within the budget each time
    App dear = good_and_junk(0);
    dear.variants.pop_back();  // good alone: nothing cheaper to blame
    const RunResult d = simulate(s, {dear}, tr, "mcdnn");
    CHECK(d.all.dropped > 10);
    CHECK(by(d, DropReason::EnergyBudget) > 10);
    CHECK(by(d, DropReason::EnergyBudget) + by(d, DropReason::EnergyLeft) == d.all.dropped);  // the last ones: the energy left
  }
  SECTION("the cloud's dollars are spent and nothing fits on the device") {
    Scenario s = scenario(1e9, 5);
    s.cloud.present = true;
    s.cloud.round_trip_s = 0.1;
    s.cloud.transmission_j = 0.01;
    s.cloud.budget_usd = 0;
    for (const std::string p : {"mcdnn", "server-first"}) {
      INFO(p);
      CHECK(by(simulate(s, apps, tr, p), DropReason::CloudBudget) == 20);
    }
  }
}

TEST_CASE("runtime: the end of a run says in words what each policy dropped and why", "[runtime][minimum]") {
  // The base model (60 B) does not fit a 50 B cache: original drops everything; mcdnn runs
  // what fits.
  Scenario s = scenario(1e9, 50);
  App a;
  a.name = "cam";
  a.catalog.input.num_classes = 5;
  a.variants = {var("base", 0.95, 60, 1.0, 5.0), var("small", 0.90, 20, 0.2, 1.0), var("junk", 0.24, 10, 0.01, 0.01)};
  a.min_accuracy = 0.575;
  a.min_accuracy_rule = "default: chance 20.00% (1/5 classes) + half the way to base's 95.00%";
  pick_fixed_variants(a);
  const std::vector<App> apps = {a};
  s.apps[0].name = "cam";
  const auto tr = every_second(1000);
  PointResult p;
  for (const std::string pol : {"mcdnn", "original", "oracle"}) p.runs.push_back({simulate(s, apps, tr, pol)});
  CHECK(p.runs[0][0].all.dropped == 0);
  const std::string words = drop_summary(s, apps, p);
  CHECK(words ==
        "  dropped requests, and why:\n"
        "    original: app cam dropped 1,000 of 1,000 requests: its base model base (60 B) does not fit the 50 B cache\n");
  // Several reasons: counted, most first; the minimum in words.
  Totals t;
  t.requests = 36000;
  t.dropped = 2014 + 120;
  t.dropped_by[static_cast<size_t>(DropReason::MinAccuracy)] = 2014;
  t.dropped_by[static_cast<size_t>(DropReason::EnergyLeft)] = 120;
  CHECK(drop_words(scenario(25, 50), a, "mcdnn", t) ==
        "2,014 because only variants below its minimum accuracy (57.50%) could have answered; 120 because the energy budget (25 J) was "
        "spent");
  t = Totals();
  t.dropped = t.dropped_by[static_cast<size_t>(DropReason::Cache)] = 7;
  CHECK(drop_words(s, a, "mcdnn", t) == "no variant at least 57.50% accurate fits the 50 B cache");
  App b = a;
  b.original = 2;  // junk as the base, to word the minimum for a fixed policy
  t = Totals();
  t.dropped = t.dropped_by[static_cast<size_t>(DropReason::MinAccuracy)] = 7;
  CHECK(drop_words(s, b, "original", t) == "its base model junk (24.00%) is below the app's minimum accuracy (57.50%)");
  // Nothing dropped: nothing said.
  PointResult none;
  none.runs.push_back({p.runs[0][0]});
  CHECK(drop_summary(s, apps, none).empty());
}

TEST_CASE("runtime: explain: over the budget is never 'ok', below the minimum says so", "[runtime][minimum]") {
  // 500 J over 1000 s: 0.5 J a request. good (1 J) is over it; junk is below the 50% minimum;
  // small (0.2 J a run, 1 J a load) qualifies, its first load not budgeted.
  const Scenario s = scenario(500, 1000);
  App a = good_and_junk(0.5);
  a.variants.push_back(var("small", 0.80, 20, 0.2, 1.0));
  const std::vector<App> apps = {a};
  Scheduler sch(s, apps, Policy::McdnnGreedy);
  Explanation why;
  const Decision d = sch.decide({0.0, 0, -1}, &why);
  REQUIRE(d.place == Place::Device);
  CHECK(d.variant == 2);
  const std::string text = explain_text(s, sch.view(), why, "mcdnn-greedy", 0);
  INFO(text);
  CHECK_THAT(text, Contains("minimum accuracy 50.00% (set in the scenario)"));
  CHECK_THAT(text, Contains("over the per-request energy budget"));                 // good
  CHECK_THAT(text, Contains("below the app's minimum accuracy (50.00%)"));         // junk
  CHECK_THAT(text, Contains("over budget with its load: allowed (execution 200 mJ within budget; an app's first load is not budgeted)"));
  // good and small (with its load) would spend more than their budget, junk is below the
  // minimum: no row reads plain "ok".
  REQUIRE(why.candidates.size() == 3);
  CHECK(why.candidates[0].energy_j > why.candidates[0].budget);
  CHECK(why.candidates[2].energy_j > why.candidates[2].budget);
  CHECK(why.candidates[2].ok);
  CHECK(text.find("  ok\n") == std::string::npos);
  CHECK(why.candidates[1].below_min);
  CHECK(why.candidates[1].would_ok);  // within the budget: only the minimum keeps it out
  // A drop says what it is counted as.
  const Scenario broke = scenario(0, 1000);
  Scheduler none(broke, apps, Policy::McdnnGreedy);
  Explanation w2;
  REQUIRE(none.decide({0.0, 0, -1}, &w2).place == Place::Drop);
  CHECK_THAT(explain_text(broke, none.view(), w2, "mcdnn-greedy", 0), Contains("decision: drop (nothing can run on the device or in the cloud: "
                                                                        "dropped; counted as energy_left)"));
}

TEST_CASE("runtime: notes up front: variants below the minimum, a cloud the latency limit leaves out of reach", "[runtime][minimum]") {
  Scenario s = scenario(100, 1000);
  std::vector<App> apps = {good_and_junk(0.5)};
  CHECK(scenario_notes(s, apps) ==
        std::vector<std::string>{"app a: 1 of 2 variants are below its minimum accuracy 50.00% (set in the scenario) and are never run (junk 24.00%)"});
  apps[0].min_accuracy = 0;
  CHECK(scenario_notes(s, apps).empty());
  s.cloud.present = true;
  s.cloud.round_trip_s = 2;  // the limit is 1 s
  CHECK(scenario_notes(s, apps) ==
        std::vector<std::string>{"the cloud is out of reach: its 2 s round trip alone exceeds the 1 s latency limit; no request runs in the cloud"});
  // Within the limit for one app's variants, not the other's (server time = its exec_s here).
  s.cloud.round_trip_s = 0.5;
  App slow = good_and_junk(0);
  slow.name = "slow";
  for (auto& v : slow.variants) v.cloud_s = 0.6;
  apps.push_back(slow);
  s.apps.push_back(s.apps[0]);
  s.apps[1].name = "slow";
  CHECK(scenario_notes(s, apps) ==
        std::vector<std::string>{"app slow: the cloud is out of reach: 500 ms round trip + 600 ms on the server (its fastest variant) exceeds the "
                                 "1 s latency limit; its requests stay on the device"});
  // Swept: the points at which it is.
  s.sweep.parameter = "device.latency_limit";
  s.sweep.values = {0.2, 0.4, 2};
  apps.pop_back();
  s.apps.pop_back();
  CHECK(scenario_notes(s, apps) == std::vector<std::string>{"the cloud is out of reach: its 500 ms round trip alone exceeds the latency "
                                                            "limit at 200 ms, 400 ms; no request runs in the cloud at those points"});
  // Nothing excluded: nothing said.
  s.sweep = SweepSpec();
  CHECK(scenario_notes(s, apps).empty());
  // The cloud out of reach is also what the drops say when nothing fits on the device.
  s.cloud.round_trip_s = 2;
  s.device.cache_bytes = 5;
  CHECK(by(simulate(s, apps, every_second(10), "mcdnn"), DropReason::Cache) == 10);
}
