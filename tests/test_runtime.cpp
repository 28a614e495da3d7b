// The runtime's parts on hand-made inputs with known right answers: units, scenario validation,
// request streams, the byte-accounted LRU cache, the scheduler's rules and budgets, and the
// oracle's bound.
#include <cmath>
#include <random>
#include <tuple>

#include "app.hpp"
#include "cache.hpp"
#include "catch.hpp"
#include "fixtures.hpp"
#include "oracle.hpp"
#include "run.hpp"
#include "scenario.hpp"
#include "scheduler.hpp"
#include "trace.hpp"
#include "util/units.hpp"
#include "util/error.hpp"

using namespace mcdnn;
using namespace mcdnn::rt;
using namespace mcdnn::test;
using Catch::Matchers::Contains;

namespace {

double q(const std::string& text, Quantity k) {
  double v = -1;
  std::string why;
  REQUIRE(parse_quantity(text, k, &v, &why));
  return v;
}


const char* kScenario =
    "format: mcdnn-scenario/1\n"          // 1
    "name: t\n"                           // 2
    "horizon: 1h\n"                       // 3
    "policy: [mcdnn, oracle]\n"           // 4
    "device:\n"                           // 5
    "  cache: 2MB\n"                      // 6
    "  energy: 0.5Wh\n"                   // 7
    "apps:\n"                             // 8
    "  - name: a\n"                       // 9
    "    catalog: cat\n"                  // 10
    "    stream: {rate: 2/min}\n";        // 11

// An app of three variants: big (95%, 60 B, 1 J), small (90%, 20 B, 0.2 J), tiny (80%, 10 B, 0.05 J).
App three(const std::string& name = "a") { return mcdnn::test::three_variants(name); }

Scenario base_scenario(double energy, double cache, int apps = 1) {
  Scenario s;
  s.name = "t";
  s.horizon_s = 1000;
  s.device.energy_j = energy;
  s.device.cache_bytes = cache;
  s.device.latency_limit_s = 1;
  for (int i = 0; i < apps; ++i) {
    AppSpec a;
    a.name = "a" + std::to_string(i);
    s.apps.push_back(a);
  }
  return s;
}

std::vector<Request> every_second(int n, int apps = 1) {
  std::vector<Request> r;
  for (int i = 0; i < n; ++i) r.push_back({static_cast<double>(i), i % apps, -1});
  return r;
}

RunResult simulate(const Scenario& s, const std::vector<App>& apps, const std::vector<Request>& tr, const std::string& policy) {
  SimulatedBackend b(s, apps, tr, 7);
  return run_policy(s, apps, tr, policy, b);
}

}  // namespace

TEST_CASE("quantities parse with their units and reject others", "[runtime][units]") {
  CHECK(q("12MB", Quantity::Bytes) == 12e6);
  CHECK(q("1.5 KiB", Quantity::Bytes) == 1536);
  CHECK(q("4096B", Quantity::Bytes) == 4096);
  CHECK(q("0", Quantity::Time) == 0);          // zero is zero in every unit
  CHECK(q("0.0667", Quantity::Money) == Approx(0.0667));  // dollars have one unit
  CHECK(q("0.5Wh", Quantity::Energy) == Approx(1800));
  CHECK(q("3.8 mJ", Quantity::Energy) == Approx(0.0038));
  CHECK(q("10h", Quantity::Time) == 36000);
  CHECK(q("1000ms", Quantity::Time) == Approx(1));
  CHECK(q("2/min", Quantity::Rate) == Approx(1.0 / 30));
  CHECK(q("$0.0667", Quantity::Money) == Approx(0.0667));
  double v;
  std::string why;
  CHECK_FALSE(parse_quantity("12 parsecs", Quantity::Bytes, &v, &why));
  CHECK_THAT(why, Contains("B, KB, MB") && Contains("'parsecs'"));
  CHECK_FALSE(parse_quantity("-1J", Quantity::Energy, &v, &why));
  CHECK_THAT(why, Contains(">= 0"));
  CHECK_FALSE(parse_quantity("lots", Quantity::Energy, &v, &why));
  CHECK_FALSE(parse_quantity("12MB", Quantity::Energy, &v, &why));
  // A bare number is a guess at the unit ("0.05" meant as 50 ms, "0.3" as 0.3 mJ): refused with
  // the accepted forms.
  for (const auto& [text, k, want] : {std::tuple{"0.05", Quantity::Time, "0.05s or 0.05ms"},
                                      std::tuple{"0.3", Quantity::Energy, "0.3J or 0.3mJ"},
                                      std::tuple{"4096", Quantity::Bytes, "4096KB or 4096MB"},
                                      std::tuple{"2", Quantity::Rate, "2/s or 2/min"}}) {
    CHECK_FALSE(parse_quantity(text, k, &v, &why));
    CHECK_THAT(why, Contains(want) && Contains("bare number") && Contains(unit_list(k)));
  }
  CHECK(format_quantity(12e6, Quantity::Bytes) == "12 MB");
  CHECK(format_quantity(0.0038, Quantity::Energy) == "3.8 mJ");
}

TEST_CASE("a scenario parses with units and defaults", "[runtime][scenario]") {
  const Scenario s = parse_scenario_string(kScenario, "s.yaml", "/base");
  CHECK(s.name == "t");
  CHECK(s.horizon_s == 3600);
  CHECK(s.policies == std::vector<std::string>{"mcdnn", "oracle"});
  CHECK(s.device.cache_bytes == 2e6);
  CHECK(s.device.energy_j == Approx(1800));
  CHECK(s.device.latency_limit_s == 1);
  CHECK_FALSE(s.cloud.present);
  REQUIRE(s.apps.size() == 1);
  CHECK(s.apps[0].catalog == "/base/cat");
  REQUIRE(s.apps[0].stream.phases.size() == 1);
  CHECK(s.apps[0].stream.phases[0].rate == Approx(1.0 / 30));
  CHECK(s.mode == "simulated");
}

TEST_CASE("scenario mistakes are file:line errors naming the key", "[runtime][scenario]") {
  const std::string base = kScenario;
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string t = base;
    const auto p = t.find(from);
    REQUIRE(p != std::string::npos);
    return t.replace(p, from.size(), to);
  };
  CHECK_THAT(scenario_error(replace("  cache: 2MB\n", "  cach: 2MB\n")), Contains("s.yaml:6:3: device.cach: unknown key 'cach'"));
  CHECK_THAT(scenario_error(replace("2MB", "2 parsecs")), Contains("s.yaml:6:10: device.cache: expected a size with one of the units"));
  CHECK_THAT(scenario_error(replace("mcdnn-scenario/1", "mcdnn-scenario/2")), Contains("s.yaml:1:9: format"));
  CHECK_THAT(scenario_error(replace("[mcdnn, oracle]", "[mcdnn, greedy]")), Contains("s.yaml:4:17: policy[1]: expected a policy: one of mcdnn"));
  CHECK_THAT(scenario_error(replace("[mcdnn, oracle]", "server-first")), Contains("needs a `cloud` section"));
  CHECK_THAT(scenario_error(replace("{rate: 2/min}", "{rate: 2/min, trace: t.csv}")), Contains("s.yaml:11:13: apps[0].stream: give exactly one"));
  CHECK_THAT(scenario_error(replace("{rate: 2/min}", "{phases: []}")), Contains("apps[0].stream.phases: expected a non-empty list"));
  CHECK_THAT(scenario_error(replace("  energy: 0.5Wh\n", "")), Contains("s.yaml:6:3: device: missing required key 'energy'"));
  CHECK_THAT(scenario_error(base + "  - name: a\n    catalog: c\n    stream: {rate: 1/s}\n"), Contains("app name 'a' is used twice"));
  CHECK_THAT(scenario_error(base + "sweep: {parameter: device.color, values: [1]}\n"), Contains("sweep.parameter: expected one of device.energy"));
  CHECK_THAT(scenario_error(base + "sweep: {parameter: cloud.budget, values: [1]}\n"), Contains("no `cloud` section"));
  CHECK_THAT(scenario_error(base + "mode: real\n"), Contains("s.yaml:9:5: apps[0]: mode real classifies images"));
  CHECK_THAT(scenario_error(base + "name: u\n"), Contains("s.yaml:12:1: duplicate key 'name'"));
  CHECK_THAT(scenario_error("format: [\n"), Contains("s.yaml:2:1: not valid YAML"));
  CHECK_THAT(scenario_error(replace("{rate: 2/min}", "{phases: [{duration: 1us, rate: 0}]}")),
             Contains("apps[0].stream.phases[0].duration: expected a duration of at least 1ms"));
  {
    std::string t = replace("{rate: 2/min}", "{phases: [{duration: 1ms, rate: 0}]}");
    t.replace(t.find("horizon: 1h"), 11, "horizon: 10h");
    CHECK_THAT(scenario_error(t), Contains("apps[0].stream: its phases repeat 36000000 times") && Contains("at most 10000000 cycles"));
  }
  CHECK_THAT(scenario_error(replace("  energy: 0.5Wh\n", "  energy: 0.5Wh\n  profile: pixel-9\n")),
             Contains("s.yaml:8:12: device.profile: expected an energy-model device profile: one of epyc-zen4-core"));
  CHECK_THAT(scenario_error(replace("0.5Wh", "1e306 kJ")), Contains("below 1e30"));
  CHECK_THAT(scenario_error(base + "scheduler: {frequency_window: 1ms}\n"), Contains("scheduler.frequency_window: expected a duration of at least 1s"));
  // A stream that would not fit in memory is an error before anything is generated.
  CHECK_THAT(scenario_error(replace("{rate: 2/min}", "{rate: 1000000/s}")),
             Contains("s.yaml:11:13: apps[0].stream: about 3600000000 requests") && Contains("at most 100000000"));
  CHECK_THAT(scenario_error(base + "sweep: {parameter: rate_scale, values: [1, 1e6]}\n"), Contains("at the largest rate_scale"));
}

TEST_CASE("Poisson streams have the right rate, are seeded, and phases switch rates", "[runtime][trace]") {
  Scenario s = parse_scenario_string(kScenario, "s.yaml", "");
  s.horizon_s = 10000;
  s.apps[0].stream.phases = {{0, 2.0}};
  const auto a = make_trace(s, 1), b = make_trace(s, 1), c = make_trace(s, 2);
  // 20,000 expected, standard deviation 141: within 4 sigma.
  CHECK(std::fabs(static_cast<double>(a.size()) - 20000) < 4 * 141.4);
  REQUIRE(a.size() == b.size());
  CHECK(a[100].t == b[100].t);
  CHECK(a[100].t != c[100].t);
  for (size_t i = 1; i < a.size(); ++i) REQUIRE(a[i].t >= a[i - 1].t);
  // 1/s for 100 s, silent for 100 s, repeating: ~5,000 requests, none in a silent phase.
  s.apps[0].stream.phases = {{100, 1.0}, {100, 0.0}};
  const auto p = make_trace(s, 3);
  CHECK(std::fabs(static_cast<double>(p.size()) - 5000) < 4 * 71);
  for (const auto& r : p) REQUIRE(std::fmod(r.t, 200.0) < 100.0);
}

TEST_CASE("trace files are read strictly, with file:line errors", "[runtime][trace]") {
  TempDir dir;
  auto write = [&](const std::string& text) {
    write_bytes(dir / "t.csv", std::vector<uint8_t>(text.begin(), text.end()));
    return dir / "t.csv";
  };
  const auto r = read_trace_file(write("# time,label\n0.5\n1.25,3\n\n7 # late\n"), 1, 100, "apps[1].stream");
  REQUIRE(r.size() == 3);
  CHECK(r[0].t == 0.5);
  CHECK(r[0].label == -1);
  CHECK(r[1].label == 3);
  CHECK(r[2].t == 7);
  CHECK(r[2].app == 1);
  auto err = [&](const std::string& text) {
    try {
      read_trace_file(write(text), 0, 100, "w");
    } catch (const Error& e) {
      CHECK(e.cls() == ErrorClass::Scenario);
      return std::string(e.what());
    }
    FAIL("no error");
    return std::string();
  };
  CHECK_THAT(err("1\n0.5\n"), Contains("t.csv:2: time 0.5") && Contains("sort the trace"));
  CHECK_THAT(err("1\n2,x\n"), Contains("t.csv:2: expected a class label"));
  CHECK_THAT(err("150\n"), Contains("t.csv:1: time 150") && Contains("outside the horizon"));
  CHECK_THAT(err("abc\n"), Contains("t.csv:1: expected a time in seconds"));
  CHECK_THAT(err("1;2\n"), Contains("expected ',' or the end of the line"));
  try {
    read_trace_file(dir / "missing.csv", 0, 100, "s.yaml:9:5: apps[0].stream");
    FAIL("no error for a missing trace file");
  } catch (const Error& e) {
    CHECK_THAT(std::string(e.what()), Contains("apps[0].stream: trace:") && Contains("missing.csv"));
  }
}

TEST_CASE("the model cache accounts bytes exactly and evicts least recently used", "[runtime][cache]") {
  ModelCache c(100);
  CHECK(c.insert({0, 0}, 40).empty());
  CHECK(c.insert({1, 0}, 40).empty());
  c.touch({0, 0});  // {1,0} is now the least recently used
  const auto ev = c.insert({2, 0}, 40);
  REQUIRE(ev.size() == 1);
  CHECK(ev[0] == CacheKey{1, 0});
  CHECK(c.used() == 80);
  CHECK(c.contains({0, 0}));
  CHECK_FALSE(c.contains({1, 0}));
  CHECK(c.victims(100).size() == 2);
  CHECK(c.used() == 80);  // victims() changes nothing
  CHECK(c.insert({3, 0}, 100).size() == 2);
  CHECK(c.used() == 100);
  CHECK_FALSE(c.fits(101));
  CHECK_THROWS_AS(c.insert({4, 0}, 101), Error);
}

TEST_CASE("with ample budgets mcdnn runs the most accurate variant, loaded once", "[runtime][scheduler]") {
  const Scenario s = base_scenario(1e9, 1000);
  const std::vector<App> apps = {three()};
  const auto tr = every_second(50);
  const RunResult r = simulate(s, apps, tr, "mcdnn");
  CHECK(r.all.device == 50);
  CHECK(r.all.loads == 1);
  CHECK(r.all.hits == 49);
  CHECK(r.uses[0].at(0) == 50);
  CHECK(r.all.energy_j == Approx(5.0 + 50 * 1.0));  // one load, fifty executions
}

TEST_CASE("a tight energy budget moves mcdnn-greedy to a cheaper variant and it stays within the budget", "[runtime][scheduler]") {
  // One request per second for 1000 s: the steady per-request budget is E / 1000. At 500 J that
  // is 0.5 J: small (0.2 J) qualifies, big (1 J) never does.
  const Scenario s = base_scenario(500, 1000);
  const std::vector<App> apps = {three()};
  const auto tr = every_second(1000);
  SimulatedBackend backend(s, apps, tr, 7);
  RunOptions ro;
  ro.timeline = true;
  const RunResult r = run_policy(s, apps, tr, "mcdnn-greedy", backend, ro);
  // The first half: never big, nearly always small. (Later the unspent energy raises the
  // budget enough to upgrade: the budget is the energy left spread over the time left.)
  int small = 0;
  for (size_t k = 0; k < 500; ++k) {
    REQUIRE(r.timeline[k].variant != 0);
    small += r.timeline[k].variant == 1;
  }
  CHECK(small > 450);
  CHECK(r.all.dropped <= 1);  // the first request: see below
  CHECK(r.all.energy_j <= 500);
  CHECK(r.all.energy_j > 400);  // and it does spend the budget
  // The first request: no reload history, so no penalty: small (0.2 J) is within the 0.5 J
  // budget and loads at once. The second asks about big, not cached: its reload penalty
  // (5 J x T / 1 s) takes the whole energy left.
  for (Policy p : {Policy::McdnnGreedy, Policy::McdnnPaper}) {
    Scheduler sch(s, apps, p);
    Explanation why;
    const Decision d = sch.decide(tr[0], &why);
    CHECK_FALSE(d.fallback);
    CHECK(d.variant == 1);
    CHECK_THAT(explain_text(s, apps, why, "mcdnn-greedy", 0), Contains("decision: device small, loaded"));
    Explanation why2;
    const Decision d2 = sch.decide(tr[1], &why2);
    CHECK(d2.variant == 1);
    CHECK(d2.hit);
    CHECK(why2.candidates[0].penalty_j == Approx(5.0 * 999));  // T = 999 s left, 1 s since the load
    CHECK(std::string(why2.candidates[0].why) == "over the per-request energy budget");
  }
}

TEST_CASE("budget edge cases: no energy, no dollars, a cache smaller than every variant", "[runtime][scheduler]") {
  const std::vector<App> apps = {three()};
  const auto tr = every_second(20);
  {
    const RunResult r = simulate(base_scenario(0, 1000), apps, tr, "mcdnn");
    CHECK(r.all.dropped == 20);
    CHECK(r.all.energy_j == 0);
  }
  Scenario s = base_scenario(1e9, 5);  // 5 bytes: nothing fits
  CHECK(simulate(s, apps, tr, "mcdnn").all.dropped == 20);
  CHECK(simulate(s, apps, tr, "original").all.dropped == 20);
  s.cloud.present = true;
  s.cloud.round_trip_s = 0.1;
  s.cloud.transmission_j = 0.01;
  s.cloud.budget_usd = 0;  // the cloud is there but unaffordable
  CHECK(simulate(s, apps, tr, "mcdnn").all.dropped == 20);
  s.cloud.budget_usd = 1e9;
  const RunResult r = simulate(s, apps, tr, "mcdnn");
  CHECK(r.all.cloud == 20);
  CHECK(r.uses[0].at(0) == 20);  // the most accurate, in the cloud
  CHECK(r.all.usd == Approx(20 * 1e-3));
}

TEST_CASE("variants that load too slowly for the latency limit are not loaded", "[runtime][scheduler]") {
  Scenario s = base_scenario(1e9, 1000);
  s.device.latency_limit_s = 0.03;
  std::vector<App> apps = {three()};
  apps[0].variants[0].load_s = 0.05;  // big: 50 ms to load, over the 30 ms limit
  const RunResult r = simulate(s, apps, every_second(10), "mcdnn");
  CHECK(r.uses[0].count(0) == 0);
  CHECK(r.uses[0].at(1) == 10);
  CHECK(simulate(s, apps, every_second(10), "original").all.dropped == 10);
}

TEST_CASE("the fixed baselines page through the LRU cache and pay every reload", "[runtime][scheduler]") {
  // Two apps alternating, a cache that holds one big variant: every request reloads.
  const Scenario s = base_scenario(1e9, 70, 2);
  const std::vector<App> apps = {three("a"), three("b")};
  const auto tr = every_second(40, 2);
  const RunResult o = simulate(s, apps, tr, "original");
  CHECK(o.all.loads == 40);
  CHECK(o.all.evictions == 39);
  CHECK(o.all.energy_j == Approx(40 * (5.0 + 1.0)));
  const RunResult b = simulate(s, apps, tr, "best");  // small (20 B) twice fits: loaded once each
  CHECK(b.all.loads == 2);
  CHECK(b.all.energy_j == Approx(2 * 1.0 + 40 * 0.2));
  // With energy to spare mcdnn also reloads big every time (the reload penalty is small next to
  // the budget); with 1000 J the penalty of reloading big (5 J x T / dt) rules it out and both
  // apps settle on variants that stay cached together.
  Scenario tight = s;
  tight.device.energy_j = 1000;
  const RunResult m = simulate(tight, apps, tr, "mcdnn-greedy");
  CHECK(m.all.loads < 10);
  CHECK(m.all.device == 40);
  // (big only before there is a reload history: the first request, loaded without penalty)
  CHECK((m.uses[0].count(0) ? m.uses[0].at(0) : 0) <= 1);
  CHECK(simulate(s, apps, tr, "mcdnn-greedy").all.loads >= 39);
}

TEST_CASE("ties: the cheaper variant, and the device over an equally accurate cloud variant", "[runtime][scheduler]") {
  Scenario s = base_scenario(1e9, 1000);
  s.cloud.present = true;
  s.cloud.round_trip_s = 0.1;
  s.cloud.transmission_j = 0.01;
  s.cloud.budget_usd = 1e9;
  App a;
  a.name = "a";
  a.variants = {var("x", 0.9, 20, 0.5, 1.0), var("y", 0.9, 20, 0.3, 1.0)};
  const std::vector<App> apps = {a};
  const RunResult r = simulate(s, apps, every_second(10), "mcdnn-greedy");
  CHECK(r.all.device == 10);
  CHECK(r.uses[0].at(1) == 10);
}

TEST_CASE("server-first uses the cloud while it can pay, then the device", "[runtime][scheduler]") {
  Scenario s = base_scenario(1e9, 1000);
  s.cloud.present = true;
  s.cloud.round_trip_s = 0.1;
  s.cloud.transmission_j = 0.01;
  s.cloud.budget_usd = 5.5e-3;  // five requests of big at $1e-3 each (and small ones after)
  const std::vector<App> apps = {three()};
  const RunResult r = simulate(s, apps, every_second(20), "server-first");
  CHECK(r.all.cloud >= 5);
  CHECK(r.all.device >= 1);
  CHECK(r.all.usd <= 5.5e-3);
  CHECK(r.all.dropped == 0);
}

TEST_CASE("the oracle's bound: exact on known cases, never below any policy", "[runtime][oracle]") {
  SECTION("unlimited: every request gets the most accurate variant") {
    const Scenario s = base_scenario(1e9, 1000);
    const std::vector<App> apps = {three()};
    const auto tr = every_second(100);
    CHECK(oracle_bound(s, apps, tr).bound == Approx(95.0).epsilon(1e-6));
  }
  SECTION("energy-limited fractional knapsack") {
    // 100 requests, big (0.95, 1 J) or tiny (0.80, 0.05 J), 50 J, memory free: all tiny (5 J,
    // 80) plus 45 J of upgrades at 0.95 J for +0.15 each: 80 + 45 / 0.95 * 0.15 = 87.105.
    Scenario s = base_scenario(50, 1e6);
    App a;
    a.name = "a";
    a.variants = {var("big", 0.95, 60, 1.0, 5.0), var("tiny", 0.80, 10, 0.05, 0.5)};
    const auto tr = every_second(100);
    CHECK(oracle_bound(s, {a}, tr).bound == Approx(80 + 45 / 0.95 * 0.15).epsilon(1e-4));
  }
  SECTION("random small instances: bound >= every policy's expected total") {
    std::mt19937 rng(11);
    std::uniform_real_distribution<double> u(0, 1);
    for (int inst = 0; inst < 30; ++inst) {
      Scenario s = base_scenario(5 + 200 * u(rng), 20 + 200 * u(rng), 2);
      s.horizon_s = 200;
      s.device.latency_limit_s = 0.02 + 0.05 * u(rng);
      if (inst % 2) {
        s.cloud.present = true;
        s.cloud.round_trip_s = 0.01;
        s.cloud.transmission_j = 0.2 * u(rng);
        s.cloud.budget_usd = 0.05 * u(rng);
      }
      std::vector<App> apps;
      for (int k = 0; k < 2; ++k) {
        App a;
        a.name = "a" + std::to_string(k);
        for (int v = 0; v < 4; ++v)
          a.variants.push_back(var("v" + std::to_string(v), 0.5 + 0.5 * u(rng), 10 + static_cast<int64_t>(100 * u(rng)), 2 * u(rng),
                                   5 * u(rng), 0.01 * u(rng), 0.05 * u(rng)));
        pick_fixed_variants(a);
        apps.push_back(a);
      }
      std::vector<Request> tr;
      double t = 0;
      while ((t += 3 * u(rng)) < s.horizon_s) tr.push_back({t, static_cast<int>(u(rng) * 2), -1});
      const double bound = oracle_bound(s, apps, tr).bound;
      for (const char* p : {"mcdnn", "original", "best", "server-first"}) {
        if (std::string(p) == "server-first" && !s.cloud.present) continue;
        INFO("instance " << inst << " policy " << p);
        CHECK(simulate(s, apps, tr, p).all.expected <= bound + 1e-6);
      }
    }
  }
}

TEST_CASE("simulated runs are deterministic and their totals add up", "[runtime][run]") {
  const Scenario s = base_scenario(300, 70, 2);
  const std::vector<App> apps = {three("a"), three("b")};
  std::vector<Request> tr;
  for (int i = 0; i < 500; ++i) tr.push_back({i * 1.7, (i * 7) % 3 == 0 ? 1 : 0, -1});
  const RunResult a = simulate(s, apps, tr, "mcdnn"), b = simulate(s, apps, tr, "mcdnn");
  CHECK(a.all.correct == b.all.correct);
  CHECK(a.all.energy_j == b.all.energy_j);
  CHECK(a.all.requests == 500);
  CHECK(a.all.device + a.all.cloud + a.all.dropped == 500);
  CHECK(a.all.hits + a.all.loads == a.all.device);
  CHECK(a.all.energy_j <= 300 + 1e-9);
  CHECK(a.apps[0].requests + a.apps[1].requests == 500);
  // Correct draws: about the expected accuracy (binomial, 4 sigma).
  const double n = static_cast<double>(a.all.served());
  CHECK(std::fabs(static_cast<double>(a.all.correct) - a.all.expected) < 4 * std::sqrt(n * 0.25) + 1);
}

TEST_CASE("floor-first: when the energy cannot run every app's cheapest variant, each app gets the same share", "[runtime][scheduler]") {
  // A's only variant costs 1 J, B's 0.1 J; one request per second each for 1000 s; 800 J is
  // 0.8 J/s against the 1.1 J/s both need: each app is served about 0.8 / 1.1 = 73% of the time.
  Scenario s = base_scenario(800, 1000, 2);
  App a, b;
  a.name = "a";
  a.variants = {var("only", 0.9, 10, 1.0, 0.01)};
  b.name = "b";
  b.variants = {var("only", 0.9, 10, 0.1, 0.01)};
  const std::vector<App> apps = {a, b};
  std::vector<Request> tr;
  for (int i = 0; i < 1000; ++i) tr.push_back({i + 0.0, 0, -1}), tr.push_back({i + 0.5, 1, -1});
  const RunResult r = simulate(s, apps, tr, "mcdnn-greedy");
  for (int k = 0; k < 2; ++k) {
    INFO("app " << k);
    const double served = static_cast<double>(r.apps[static_cast<size_t>(k)].served()) / 1000;
    CHECK(served == Approx(0.8 / 1.1).margin(0.05));
  }
  CHECK(r.all.energy_j <= 800);
  // Step by step: A's first request (t = 0; only A active) has 0.8 J against the 1.01 J its
  // variant costs with the load: dropped, the 0.8 J saved. At t = 1 its budget is 0.38 J and
  // the credit, 1.18 J, pays for the run.
  Scheduler sch(s, apps, Policy::McdnnGreedy);
  Explanation why;
  const Decision d0 = sch.decide(tr[0], &why);
  CHECK(d0.place == Place::Drop);
  CHECK(why.credit_j == Approx(0.8));
  CHECK_THAT(explain_text(s, apps, why, "mcdnn-greedy", 0), Contains("saved credit 800 mJ") && Contains("decision: drop"));
  sch.decide(tr[1], nullptr);
  const Decision d2 = sch.decide(tr[2], nullptr);
  CHECK(d2.place == Place::Device);
  CHECK(d2.fallback);
  // Algorithm 1 gives each app 0.4 J a request: B runs every time, A runs its 1 J variant as
  // the fallback until the energy is gone, and everything after is dropped.
  const RunResult p = simulate(s, apps, tr, "mcdnn-paper");
  CHECK(p.apps[1].served() < 1000);
  CHECK(p.all.dropped > 0);
}

TEST_CASE("real mode: measured execution energy recalibrates the scheduler's prices", "[runtime][scheduler]") {
  const Scenario s = base_scenario(1e9, 1000);
  const std::vector<App> apps = {three()};
  Scheduler plain(s, apps, Policy::Mcdnn);
  plain.calibrate(0, 1.0, 3.0);  // not enabled (simulated mode): no effect
  CHECK(plain.cost_scale(0) == 1.0);
  Scheduler sched(s, apps, Policy::Mcdnn);
  sched.enable_calibration();
  Explanation why;
  Decision d = sched.decide({0.0, 0, -1}, &why);
  REQUIRE(d.place == Place::Device);
  CHECK(d.exec_j_catalog == Approx(1.0));  // big, at its catalog cost
  // Every run costs three times the catalog's: the ratio of the decayed sums is exactly 3.
  for (int i = 0; i < 50; ++i) sched.calibrate(0, 1.0, 3.0);
  CHECK(sched.cost_scale(0) == Approx(3.0).epsilon(1e-12));
  d = sched.decide({1.0, 0, -1}, &why);
  CHECK(why.cost_scale == Approx(3.0).epsilon(1e-12));
  for (const Candidate& c : why.candidates)
    if (c.place == Place::Device && c.variant == 0) CHECK(c.energy_j == Approx(3.0));  // cached: execution alone, scaled
  CHECK(d.exec_j_catalog == Approx(1.0));  // what calibrate() compares with stays the catalog's
  // Recent requests weigh more: after runs at the catalog's cost the ratio comes back toward 1.
  for (int i = 0; i < 500; ++i) sched.calibrate(0, 1.0, 1.0);
  CHECK(sched.cost_scale(0) < 1.02);
}
