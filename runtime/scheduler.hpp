// The MCDNN scheduler (Han et al., MobiSys 2016, Algorithm 1) and the paper's baselines, one
// request at a time. docs/runtime.md states every rule; in short, for request n of app a at
// time t, with T = horizon - t left, E and D the energy and dollars left:
//
//   f_i      app i's request rate over the last `frequency_window` (or since the start)
//   budget   Algorithm 1 (`mcdnn-paper`): e_n = (E - penalty) * f_a / (T * (f_a^2 + sum of
//            f_i^2 over the other apps now served on the device)); penalty = load_J(v) * T / dt
//            for a variant v that is not cached, dt = time since app a last loaded a variant
//            (the expected reload cost); none for an app's first load (no history to
//            extrapolate; the prototype too charged it only to apps coming back).
//            `mcdnn` splits the same energy rate P = (E - penalty) / T floor first: each active
//            app i (a request within the window) has a floor phi_i, the least device energy
//            one of its requests can cost (its cheapest variant's execution, or a transmission
//            when the cloud is cheaper and affordable). When P covers sum f_i phi_i, app a gets
//            e_n = phi_a + (P - sum f_i phi_i) * f_a / sum f_i^2 (the paper's split of the
//            surplus); otherwise e_n = phi_a * P / sum f_i phi_i (every app the same fraction of
//            its floor). With all floors 0 this is the paper's rule. It keeps an app whose
//            cheapest variant is dear from being starved by apps that could live on less.
//            d_n = D * f_a / (T * (f_a^2 + sum of f_i^2 over the other apps now in the cloud))
//   device   v qualifies when exec_J(v) <= e_n, it fits in the cache, and it finishes within
//            the latency limit (waiting for the device, plus loading when not cached)
//   cloud    v qualifies when price(v) <= d_n, transmission_J <= e_n (no penalty) and
//            round trip + server time is within the latency limit
//   choice   the most accurate qualifying variant at each place; the more accurate place wins
//            (a tie goes to the device). Ties between variants: less energy (dollars in the
//            cloud), then cached, then fewer bytes, then catalog order.
//   nothing  Algorithm 1 runs the cheapest device variant that fits the cache, the latency
//            limit and the energy left, else the cheapest affordable cloud variant, else drops
//            the request (`mcdnn-paper` does exactly this). When even the cheapest variant costs
//            more than the per-request budget, that spends other requests' energy: run for a
//            while, it exhausts the battery hours early and drops everything after. `mcdnn`
//            instead saves each such request's energy budget as the app's credit and runs the
//            option needing the least device energy (the cheapest device variant by execution
//            energy, or the cloud when a transmission costs less and the dollars left pay) when
//            the credit covers it, else drops the request: an app whose cheapest option costs k
//            times its budget is served about 1 request in k, all day. The credit resets when a
//            variant qualifies again.
//   cache    a device variant that is not cached is loaded first (load energy charged every
//            time), evicting least recently used variants of any app until it fits
//   trunks   a fragment app's variant needs its trunk cached too (a cache entry of its own,
//            shared by the apps on it) and costs the trunk's execution as well, unless another
//            app's request of the same frame ran it already: then only the fragment runs. Against
//            the per-request budget, and in its floor, a fragment counts the trunk's execution
//            split among the apps sharing its runs (on it and on the same frames).
//   skew     `mcdnn-specialize` also observes the class each served request was given; while
//            one of the app's specialized class sets (at most specialization.max_classes
//            classes) makes up at least min_share of the last `window` of them, that set's
//            cascades compete with the generic variants at their expected accuracy and energy
//            under the observed share (options_under_skew()); a cascade needs its fallback
//            cached with it (both loaded when missing)
//   minimum  a variant less accurate than the app's min_accuracy (App::min_accuracy) never
//            qualifies, at either place, for any policy, nor counts in a floor: the request is
//            dropped rather than answered by it
//   drops    every drop has one reason (DropReason): see drop_reason_key()
//
// Baselines: `original` always runs the base model (unapproximated: the paper's "Original";
// in our catalogs an approximated variant can beat the base by validation noise, under 0.3
// points) on the device, `best` the catalog's knee (energy front); both page through the same LRU cache and drop a request when
// the variant does not fit, cannot meet the latency limit or the energy is spent.
// `server-first` sends every request it can afford to the cloud (most accurate variant), and
// otherwise decides as mcdnn does on the device.
#pragma once
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "app.hpp"
#include "cache.hpp"
#include "planner.hpp"
#include "scenario.hpp"
#include "trace.hpp"

namespace mcdnn::rt {

enum class Place { Drop, Device, Cloud };
const char* place_name(Place p);

// Why a request was dropped (docs/runtime.md "Dropped requests"). When nothing at or above the
// app's minimum accuracy could run at all, the reason is the rule that stopped the candidate
// that got furthest through the checks (device: cache, then latency, then energy left; cloud:
// latency, then dollars left, then energy left; a tie goes to the device); when something
// could run but the per-request budget (and `mcdnn`'s saved credit) did not cover it,
// EnergyBudget. MinAccuracy when a variant below the minimum would have been run instead.
enum class DropReason { None, EnergyLeft, EnergyBudget, Cache, LatencyLimit, MinAccuracy, CloudBudget };
constexpr size_t kDropReasons = 7;
// The report's key for a reason: "energy_left", "energy_budget", "cache", "latency_limit",
// "min_accuracy", "cloud_budget" ("" for None).
const char* drop_reason_key(DropReason r);

// One variant at one place, as the scheduler weighed it (the --explain table).
struct Candidate {
  Place place = Place::Device;
  int variant = 0;
  bool cached = false;
  double latency_s = 0;  // predicted: waiting + loading (device miss) + executing, or round trip + server
  double energy_j = 0;   // device energy this request would spend: load (miss) + exec, or transmission
  double load_j = 0;     // device: of which loading (a miss)
  double budgeted_j = 0; // device: what the per-request budget is held against: the execution
                         // (calibrated), a fragment's share of its trunk's; loads are not (the
                         // reload penalty prices them)
  double usd = 0;
  double budget = 0;     // the per-request budget it is held against: J (device) or $ (cloud)
  double penalty_j = 0;  // expected reload energy taken off the energy left (device, not cached)
  bool hard_ok = false;  // fits the cache / latency limit / energy and dollars left
  bool ok = false;       // also within the per-request budget
  const char* why = "";  // when not ok (a static string)
  // Below the app's minimum accuracy (then hard_ok and ok are false, `why` says so); would_*:
  // the verdicts without the minimum, `fail` the hard rule that stops it (None: none does).
  bool below_min = false, would_hard_ok = false, would_ok = false;
  DropReason fail = DropReason::None;
};

struct Decision {
  Place place = Place::Drop;
  int variant = -1;
  bool hit = false;       // device: the variant was already cached
  bool fallback = false;  // nothing was within budget: the cheapest that could run
  double latency_s = 0, energy_j = 0, usd = 0;  // predicted from the catalog
  double load_s = 0, load_j = 0;                 // device miss: the load (a trunk's included)
  // A fragment (App::trunk): whether this request runs the trunk (false: the frame's trunk
  // output is already there, from another app's request) and what that run costs; included in
  // latency_s and energy_j.
  bool trunk_runs = false;
  double trunk_s = 0, trunk_j = 0;
  double exec_j_catalog = 0;  // device: the execution energy the catalog predicts (calibrate())
  std::vector<CacheKey> evicted;
  const char* reason = "";  // a static string
  DropReason drop = DropReason::None;  // place Drop: why
};

struct Explanation {
  Request request;
  double remaining_s = 0, energy_left = 0, usd_left = 0;
  double f_app = 0, sum_f2_device = 0, sum_f2_cloud = 0;
  double device_budget_j = 0, cloud_budget_usd = 0;  // without a reload penalty
  double credit_j = 0;  // `mcdnn`: the app's saved budget after this decision
  bool floor_first = false;
  double floor_j = 0, need_w = 0;  // `mcdnn`: the app's floor phi and sum f_i phi_i (J/s)
  double cost_scale = 1;    // real mode: the app's measured / catalog execution energy (calibrate())
  int skew_set = -1;        // `mcdnn-specialize`: the app's class set in force (App::sets), or -1
  double skew_share = 0;    // its share of the app's recent classified requests
  std::vector<Candidate> candidates;
  std::string plan;  // planned policies: the plan in force, its residents and shares
  Decision decision;
};

enum class Policy { Mcdnn, McdnnSpecialize, McdnnGreedy, McdnnPaper, Original, Best, ServerFirst, Reference };
Policy policy_from_name(const std::string& name);  // not "oracle"

class Scheduler {
 public:
  Scheduler(const Scenario& s, const std::vector<App>& apps, Policy policy);

  // Decides request r (requests come in time order) and applies the decision to the cache
  // and the placement state: the load, the evictions. The costs are charged with charge().
  Decision decide(const Request& r, Explanation* why = nullptr);
  // Spends energy and dollars; the device is busy until `device_free_at` (device requests).
  void charge(double energy_j, double usd, double device_free_at);
  // `mcdnn-specialize`: the class a served request of `app` was classified as (what the device
  // sees; -1: unknown), for the skew test.
  void observe(int app, int predicted_class);
  // Real mode: a device request of `app` the catalog priced at `predicted_j` of execution
  // energy (Decision::exec_j_catalog) spent `measured_j`. Once enabled, the scheduler prices the
  // app's executions at the catalog's times the ratio of the two sums over its recent requests
  // (each older request weighing 0.99 times the next), so that a model that runs dearer than it
  // was measured in the catalog is budgeted as it runs.
  void enable_calibration() { calibrate_ = true; }
  void calibrate(int app, double predicted_j, double measured_j);
  double cost_scale(int app) const { return cost_scale_[static_cast<size_t>(app)]; }
  // The apps as this scheduler sees them: each app's `variants` followed by its cascades, whose
  // accuracy and execution costs are expected values under the skew in force (disabled ones:
  // accuracy -1, infinite energy).
  const std::vector<App>& view() const { return apps_; }
  int skew_set(int app) const { return state_[static_cast<size_t>(app)].skew_set; }

  double energy_left() const { return energy_left_; }
  double usd_left() const { return usd_left_; }
  const ModelCache& cache() const { return cache_; }
  // The apps' places and the cache at this moment (the --explain header).
  Place place_of(int app) const { return state_[static_cast<size_t>(app)].place; }
  // The per-request device energy budget of the last decision (no penalty), for timelines.
  double last_budget_j() const { return last_budget_j_; }
  // `reference`: the trace's segments (start times, the first 0: between changes of any app's
  // request rate) and each app's requests in each ([segment][app]). It plans once, knowing them:
  // a resident set and shares per segment, the energy and dollars spent over all of them.
  void set_reference(std::vector<double> starts, std::vector<std::vector<double>> requests) {
    ref_starts_ = std::move(starts);
    ref_requests_ = std::move(requests);
  }
  // Planned policies: plans solved, and how many changed the residents.
  int64_t plans() const { return plans_; }
  int64_t plan_changes() const { return plan_changes_; }

 private:
  struct AppState {
    Place place = Place::Drop;  // where it was last served
    double last_load_t = -1;    // when it last loaded a variant on the device (-1: never)
    std::deque<double> recent;  // request times within the window
    int64_t total = 0;          // requests so far
    double credit_j = 0;  // `mcdnn`: energy budget saved while nothing qualifies
    // `mcdnn-specialize`: the last classified requests and their counts per class.
    std::deque<int> seen;
    std::vector<int64_t> counts;
    int skew_set = -1;
    double skew_share = 0, applied_share = -1;
  };
  // Recomputes app a's cascades (enabled for its skew set), orders and floors.
  void refresh(size_t a);
  double rate(size_t app, double t);
  // Notes request r (its frame, the app's request times and count); returns the app's rate.
  double note_request(const Request& r);
  // The per-request device energy budget of the requesting app, given the energy available.
  struct Share {
    bool floor_first = false;
    double T = 1, f = 0, sum_f2 = 1, phi = 0, need = 0, sum_f2_all = 1;
    double budget(double energy_available) const;
  };
  // What running variant v needs loaded now (a cascade: its fallback too) and the bytes both hold.
  struct Need {
    double load_s = 0, load_j = 0;
    int64_t bytes = 0;
  };
  Need need_of(int app, int v) const;
  Candidate device_candidate(int app, int v, double t, bool mcdnn_budget, const Share& share) const;
  Candidate cloud_candidate(int app, int v, double t, bool mcdnn_budget, double budget_j, double f, double sum_f2) const;
  // Applies the app's minimum accuracy to a candidate (and marks a disabled cascade).
  static Candidate with_minimum(Candidate c, const VariantCost& x, double min_accuracy);
  Decision apply(const Request& r, const Candidate& c, bool fallback, const char* reason);
  // A fragment app's trunk: its cache key, and its execution this request would pay (0 when
  // the current frame already ran it).
  static CacheKey trunk_key(int trunk) { return {-1 - trunk, 0}; }
  double trunk_exec_j(const App& a) const;
  double trunk_exec_s(const App& a) const;

  // Planned policies (`mcdnn`, `mcdnn-specialize`, `reference`): serve by the plan in force,
  // re-planning when it is due (plan_due()).
  Decision decide_planned(const Request& r, Explanation* why);
  bool plan_due(size_t app, double t, double f) const;
  DropReason nothing_runs(int app, double t, double f) const;
  void replan(double t);
  std::string plan_text(size_t app) const;
  struct AppPlan {
    std::vector<int> resident;  // variants kept resident for the app
    struct Use {
      Place place = Place::Drop;
      int variant = -1;
      double share = 0;
      int64_t used = 0;  // requests it served since the plan
    };
    std::vector<Use> uses;     // the options serving the app
    int64_t seen = 0, dropped = 0;  // requests since the plan; of those dropped by it
    double rate = 0;           // the request rate it planned for (1/s)
  };
  std::vector<AppPlan> plan_;
  bool planned_ = false, replan_flag_ = false;
  double plan_t_ = 0, plan_value_ = 0, plan_lambda_ = 0;
  double plan_energy_left_ = 0, plan_energy_rate_ = 0;  // at the plan; its planned spending (J/s)
  double plan_loads_j_ = 0;                             // its loads (spent at once)
  int64_t plans_ = 0, plan_changes_ = 0;
  std::vector<double> ref_starts_;
  std::vector<std::vector<double>> ref_requests_;
  std::vector<std::vector<AppPlan>> ref_plans_;  // per segment
  size_t ref_segment_ = 0;
  void plan_reference(double t);
  std::vector<AppPlan> plans_from(const PlanProblem& p, const PlanResult& res, size_t first) const;
  PlanProblem plan_options_;  // `reference`: the apps' options at its start
  bool protected_key(CacheKey k) const;

  const Scenario& s_;
  const std::vector<App>& apps_given_;
  std::vector<App> apps_;  // a copy: cascades appended to `variants`, their values updated
  Policy policy_;
  ModelCache cache_;
  std::vector<AppState> state_;
  double energy_left_, usd_left_;
  double busy_until_ = 0;
  int64_t frame_ = -1;                // the frame of the request being decided
  bool calibrate_ = false;
  std::vector<double> cost_scale_, predicted_sum_, measured_sum_;  // per app (calibrate())
  std::vector<int64_t> trunk_frame_;  // per trunk: the last frame it ran for on the device
  double last_budget_j_ = 0;
  // Candidates are evaluated on demand, in the order each rule needs (most accurate first,
  // cheapest first), and stop as soon as the rule's answer is known: a request usually looks at
  // a handful of the catalog's variants. --explain evaluates all of them.
  std::vector<Candidate> dev_, cloud_;         // per variant, valid when *_seen_ == stamp_
  std::vector<uint64_t> dev_seen_, cloud_seen_;
  uint64_t stamp_ = 0;
  std::vector<std::vector<int>> by_accuracy_, by_exec_, by_usd_;  // per app: variant orders
  std::vector<double> dev_floor_, cloud_floor_usd_;  // per app: least exec energy / cloud price that can run
  std::vector<std::vector<int>> below_min_;  // per app: variants below its minimum accuracy, cheapest (exec) first
};

}  // namespace mcdnn::rt
