// mcdnn-run's outputs: the summary table on stdout, and in the output directory report.json
// (everything), summary.csv (one row per sweep point, policy and app) and timeline.csv (the
// first trace of the first sweep point, every policy, at most 20,000 rows each: the energy
// and dollars left, the per-request budget and the variant chosen over time, every k-th request).
// scenarios/README.md documents every column and key.
#pragma once
#include <string>
#include <vector>

#include "app.hpp"
#include "run.hpp"
#include "scenario.hpp"

namespace mcdnn::rt {

// One sweep point (or the scenario itself): every policy's results over every trace.
struct PointResult {
  std::string parameter;  // "" when the scenario has no sweep
  double value = 0;
  std::vector<std::vector<RunResult>> runs;  // [policy][trace]
};

// Mean over traces of the headline figures of one policy (the oracle: the bound only).
struct Headline {
  double served = 0, cloud = 0, accuracy = 0, expected = 0, per_served = 0, energy_per_request_j = 0, usd = 0;
  double hits = 0, loads = 0, evictions = 0, requests = 0;
  double served_sd = 0, accuracy_sd = 0;
  bool bound_only = false;
};
Headline headline(const std::vector<RunResult>& traces);

std::string summary_table(const Scenario& s, const PointResult& p);

// The requests each policy dropped, per app, and why, in plain words (summed over the point's
// traces; apps that dropped none are left out, "" when nothing was dropped):
//   original: app a dropped 108,000 of 108,000 requests: its base model base (6.52 MB) does not fit the 300 KB cache
// `s` is the scenario (the point's parameter is applied here).
std::string drop_summary(const Scenario& s, const std::vector<App>& apps, const PointResult& p);
// One such line's words after "dropped N of M requests: " for `app` of the point
// scenario `point`, given its totals.
std::string drop_words(const Scenario& point, const App& app, const std::string& policy, const Totals& t);

// What to know before a run starts, one line each: apps with variants below their minimum
// accuracy (never run), and a cloud the latency limit leaves out of reach (round trip plus
// server time over the limit for every variant: of every app, or of one app; under a
// device.latency_limit sweep, at which values).
std::vector<std::string> scenario_notes(const Scenario& s, const std::vector<App>& apps);
void write_outputs(const std::string& dir, const Scenario& s, const std::vector<App>& apps,
                   const std::vector<PointResult>& points, const std::string& timing_note);

}  // namespace mcdnn::rt
