// The resident-set planner behind `mcdnn` (and the offline `reference`): given each app's
// expected requests over a planning horizon, the energy and dollars to spend in it and the cache,
// it picks which variants stay resident (together within the cache: no app's load evicts
// another's planned model) and what share of each app's requests each of its options serves.
//
// The problem, per group of apps sharing the cache at the same time (one group online; one per
// segment of the trace offline):
//   maximize   sum_i n_i sum_o s_io a_o                     (expected correct answers)
//   subject to sum_o s_io <= 1                              (an app's shares; the rest dropped)
//              sum_i n_i sum_o s_io e_o + loads <= E        (energy: executions, transmissions, loads)
//              sum_i n_i sum_o s_io d_o <= D                (dollars)
//              sum of the resident variants' bytes <= S     (per group; a shared trunk once)
// Options of an app: its resident device variants (one, or two when the cache holds both and
// mixing them pays), its cloud variants, dropping. Solved in two steps:
//   1. which variants stay resident: for an energy price lambda every app values a device
//      variant d at n (a_d - lambda e_d) (or its best cloud option, or nothing: whichever is
//      larger) minus lambda times its load; the combination of the largest total value within
//      the cache is found by enumerating each app's "staircase" (its options by bytes, each
//      worth more than every smaller one). The dual sum lambda E + value is minimized over
//      lambda (golden section); every combination met on the way is a candidate.
//   2. for each candidate, the exact shares: with the residents fixed the problem is a linear
//      program whose value, per app, is the upper concave hull of its options in (energy,
//      accuracy); the hulls' segments are taken in order of accuracy per joule until the energy
//      is spent (exact for one constraint); dollars by a price mu on them, bisected until they
//      hold. A second resident variant per app is tried where the cache has room.
// The best candidate wins; the current residents (`keep`) win unless the best is better by
// more than `switch_margin` correct answers (hysteresis: rate estimates are noisy, loads are not).
#pragma once
#include <cstdint>
#include <vector>

namespace mcdnn::rt {

struct PlanOption {
  int variant = 0;
  bool cloud = false;
  double accuracy = 0;
  double energy_j = 0;  // per request: execution (a fragment's share of its trunk's), or transmission
  double usd = 0;       // per request
  int64_t bytes = 0;    // device: resident bytes (a cascade's fallback included; its trunk's not)
  double load_j = 0;    // device: to make it resident now (0 when cached)
  int trunk = -1;       // a fragment's trunk (shared: its bytes and load counted once per group)
  int64_t trunk_bytes = 0;
  double trunk_load_j = 0;
  double trunk_share_j = 0;  // of energy_j, the trunk's run split among the apps on its frames
  double trunk_exec_j = 0;   // the trunk's whole run (a frame group pays it once per frame)
};

struct PlanApp {
  double requests = 0;  // expected over the horizon
  int group = 0;        // apps of one group share the cache at the same time
  int prev = -1;        // offline: the pseudo-app of the same app in the previous group (-1: none)
  // Fragments on one trunk with the same frames (-1: none): served together frame by frame,
  // their options are tuples that pay the trunk's run once (when any of them runs on the device).
  int frame_group = -1;
  std::vector<PlanOption> device, cloud;
  std::vector<int> keep;  // indices into `device` now resident by the plan in force
};

struct PlanProblem {
  double energy_j = 0, usd = 0;
  int64_t cache_bytes = 0;
  int groups = 1;
  double switch_margin = 0;  // correct answers a change of residents must gain
  std::vector<PlanApp> apps;
};

struct PlanShare {
  int option = -1;  // index into the app's device options, or its cloud options (cloud), -1: drop
  bool cloud = false;
  double share = 0;
};

struct PlanResult {
  bool changed = false;                      // the residents differ from `keep`
  double value = 0, energy_j = 0, usd = 0;   // expected correct answers, spent energy and dollars
  double loads_j = 0;                        // of energy_j, the loads of residents not yet cached
  double lambda = 0;                         // the energy price at the dual minimum (J^-1)
  std::vector<std::vector<int>> resident;    // per app: device option indices kept resident
  std::vector<std::vector<PlanShare>> shares;  // per app: the options serving it (shares sum <= 1)
  int candidates = 0;                        // combinations solved exactly
};

PlanResult solve_plan(const PlanProblem& p);

}  // namespace mcdnn::rt
