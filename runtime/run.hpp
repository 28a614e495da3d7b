// Serving a trace with one policy: the scheduler decides, a backend serves, totals and a
// timeline are kept.
//   simulated  a served request is correct with the variant's catalog accuracy (one seeded
//              uniform draw per request, the same draws for every policy), costs its catalog
//              energy, dollars and latency
//   real       the executor loads variants into a cache of the scenario's bytes and classifies
//              a validation image per request (drawn with the trace's seed, of the request's
//              label when the trace gives one); correctness from the prediction, latency and
//              load time measured, energy from the energy model on the measured times
#pragma once
#include <array>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "app.hpp"
#include "oracle.hpp"
#include "scheduler.hpp"
#include "trace.hpp"

namespace mcdnn::rt {

struct Totals {
  int64_t requests = 0, device = 0, cloud = 0, dropped = 0, correct = 0;
  double expected = 0;  // sum of the serving variants' catalog accuracies
  double energy_j = 0, load_j = 0, usd = 0, latency_s = 0;
  int64_t hits = 0, loads = 0, evictions = 0, fallbacks = 0;
  int64_t specialized = 0, fell_through = 0;  // served by a cascade; of those, "other" ran the fallback too
  int64_t trunk_runs = 0, trunk_shared = 0;    // fragments on the device: ran the trunk; found the frame's trunk output
  std::array<int64_t, kDropReasons> dropped_by{};  // dropped, by DropReason (index)
  void add(const Totals& o);
  int64_t served() const { return device + cloud; }
};

struct TimelineRow {
  float t;
  int16_t app, variant;  // variant -1: dropped
  int8_t place;          // Place
  bool hit, correct;
  float energy_left, usd_left, budget_j;
};

struct RunResult {
  std::string policy;
  Totals all;
  std::vector<Totals> apps;
  std::vector<std::map<int, int64_t>> uses;  // per app: variant -> requests served
  double wall_s = 0;       // the whole run
  double schedule_s = 0;   // inside the scheduler (estimated from every 8th decision, timed)
  double inference_s = 0;  // real mode: loading and running variants
  bool bound_only = false; // the oracle: only `all.expected` (the bound) and `all.requests` hold
  OracleResult oracle;
  std::vector<TimelineRow> timeline;
};

// Serves requests; real mode's images and loaded variants live here.
class Backend {
 public:
  virtual ~Backend() = default;
  struct Served {
    bool correct = false;
    double latency_s = 0, energy_j = 0, usd = 0, load_s = 0, load_j = 0;
    double inference_s = 0;  // wall time spent loading and running
    int predicted = -1;      // the class the device answered (-1: unknown: the request had no label)
    bool fell_through = false;  // a cascade whose specialized variant said "other"
  };
  // Before serving a trace (of the scenario `s`, a sweep point's): per-request draws.
  virtual void prepare(const Scenario& s, const std::vector<Request>& trace, uint64_t seed) = 0;
  // Called for every decision that serves (device or cloud), after the scheduler applied it
  // to its cache; `index` is the request's position in the trace.
  virtual Served serve(size_t index, const Request& r, const Decision& d) = 0;
  virtual void reset() {}  // before each policy's run: nothing loaded
};

// Simulated: correct when draw[index] < accuracy; costs from the catalog. A cascade (App::
// cascades) by the request's label: on its set's classes right with in_set_accuracy, "other"
// with in_set_other (then the fallback, right with its in-set accuracy: a second draw); on the
// other classes "other" with other_recall (then the fallback), else wrong; the fallback's
// execution is paid when it runs. A wrong answer is another class, drawn.
class SimulatedBackend : public Backend {
 public:
  explicit SimulatedBackend(const std::vector<App>& apps) : apps_(apps) {}
  SimulatedBackend(const Scenario& s, const std::vector<App>& apps, const std::vector<Request>& trace, uint64_t seed)
      : apps_(apps) {
    prepare(s, trace, seed);
  }
  void prepare(const Scenario& s, const std::vector<Request>& trace, uint64_t seed) override;
  Served serve(size_t index, const Request& r, const Decision& d) override;

 private:
  const std::vector<App>& apps_;
  std::vector<double> draw_, draw2_;
};

// Real: loads every app's images and verifies every variant file once; prepare() draws an
// image per request.
std::unique_ptr<Backend> make_real_backend(const Scenario& s, const std::vector<App>& apps);

struct RunOptions {
  bool timeline = false;
  int64_t explain = -1;         // request index to explain
  FILE* explain_out = nullptr;
};

// The segments the offline reference plans for: start times (the first 0) at every change of
// any app's Poisson phase over the horizon, those under 1 s apart merged, at most max_segments
// (then every k-th).
std::vector<double> reference_segments(const Scenario& s, size_t max_segments = 48);

RunResult run_policy(const Scenario& s, const std::vector<App>& apps, const std::vector<Request>& trace,
                     const std::string& policy, Backend& backend, const RunOptions& opt = {});

// The --explain text for one decision.
std::string explain_text(const Scenario& s, const std::vector<App>& apps, const Explanation& e, const std::string& policy,
                         size_t index);

}  // namespace mcdnn::rt
