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
void write_outputs(const std::string& dir, const Scenario& s, const std::vector<App>& apps,
                   const std::vector<PointResult>& points, const std::string& timing_note);

}  // namespace mcdnn::rt
