// The planned policies of the Scheduler: `mcdnn` and `mcdnn-specialize` (plans re-solved online
// from the observed request rates, the energy, dollars and time left) and `reference` (one plan
// for the whole trace, from its true request counts: the offline reference). planner.hpp solves
// a plan; this file makes it, keeps it and serves by it (docs/runtime.md "The policies").
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "scheduler.hpp"
#include "util/units.hpp"

namespace mcdnn::rt {

namespace {
// A plan is re-solved this often (trace seconds), or sooner when the requesting app's rate has
// moved by more than kRateMove of the planned one (at most every kMinGap seconds), when a skew
// set changed (mcdnn-specialize), at the first request and at an app's first.
constexpr double kReplanEvery = 300, kMinGap = 2, kRateMove = 0.3;
// Below this much history (s) an app's mean rate is not trusted alone.
constexpr double kMinHistory = 60;
// Spending this many times the plan's energy rate (beyond 5% of the energy at the plan) re-plans.
constexpr double kOverspend = 1.25;
// Until this time (s) an app that has made no request is expected at the others' mean.
constexpr double kPriorFor = 300;
// A plan that changes the residents must gain more than this share of the expected correct
// answers (plus one answer) over the one that keeps them: rate estimates are noisy, loads are not.
constexpr double kSwitchMargin = 0.01;
}  // namespace

bool Scheduler::protected_key(CacheKey k) const {
  if (!planned_) return false;
  if (k.app < 0) {  // a trunk: kept when a planned resident of an app on it is
    for (size_t i = 0; i < apps_.size(); ++i)
      if (apps_[i].trunk >= 0 && trunk_key(apps_[i].trunk) == k && !plan_[i].resident.empty()) return true;
    return false;
  }
  const AppPlan& p = plan_[static_cast<size_t>(k.app)];
  for (int v : p.resident) {
    if (v == k.variant) return true;
    const VariantCost& x = apps_[static_cast<size_t>(k.app)].variants[static_cast<size_t>(v)];
    if (x.set >= 0 && x.fallback == k.variant) return true;
  }
  return false;
}

bool Scheduler::plan_due(size_t app, double t, double f) const {
  if (policy_ == Policy::Reference) return false;  // plan_reference()
  if (!planned_ || replan_flag_) return true;
  if (t - plan_t_ >= kReplanEvery) return true;
  const double planned = plan_[app].rate;
  if (planned <= 0) return true;  // the app had made no request when the plan was made
  if (t - plan_t_ < kMinGap) return false;
  // Spending faster than planned (a cost measured above the catalog's, more requests than
  // predicted): re-planned with what is left.
  const double spent = plan_energy_left_ - energy_left_;
  if (spent > kOverspend * plan_energy_rate_ * (t - plan_t_) + plan_loads_j_ + 0.05 * plan_energy_left_) return true;
  // Over the first minute a few requests make the rates: re-planned only when one doubles (an
  // underestimate spends the energy too early), not on every move (noise: loads for nothing).
  if (t < kMinHistory) return f > 2 * planned;
  return std::fabs(f - planned) > kRateMove * std::max(f, planned);
}

void Scheduler::plan_reference(double t) {
  // One problem: a group per segment, pseudo-app g * apps + i; a variant resident for app i in
  // segment g - 1 stays loaded in segment g.
  const size_t n = apps_.size(), S = std::max<size_t>(1, ref_starts_.size());
  replan(t);  // the options of every app at the start (nothing cached): plan_options_
  PlanProblem p;
  p.energy_j = std::max(0.0, energy_left_);
  p.usd = s_.cloud.present ? std::max(0.0, usd_left_) : 0;
  p.cache_bytes = cache_.capacity();
  p.groups = static_cast<int>(S);
  for (size_t g = 0; g < S; ++g)
    for (size_t i = 0; i < n; ++i) {
      PlanApp pa = plan_options_.apps[i];
      pa.keep.clear();
      pa.group = static_cast<int>(g);
      pa.prev = g > 0 ? static_cast<int>((g - 1) * n + i) : -1;
      pa.requests = g < ref_requests_.size() ? ref_requests_[g][i] : 0;
      if (pa.frame_group >= 0) pa.frame_group += static_cast<int>(g * n);
      p.apps.push_back(std::move(pa));
    }
  const PlanResult res = solve_plan(p);
  ref_plans_.assign(S, {});
  for (size_t g = 0; g < S; ++g) {
    ref_plans_[g] = plans_from(p, res, g * n);
    const double len = (g + 1 < ref_starts_.size() ? ref_starts_[g + 1] : s_.horizon_s) - (g < ref_starts_.size() ? ref_starts_[g] : 0);
    for (size_t i = 0; i < n; ++i) ref_plans_[g][i].rate = p.apps[g * n + i].requests / std::max(len, 1e-9);
  }
  ref_segment_ = 0;
  while (ref_segment_ + 1 < ref_starts_.size() && t >= ref_starts_[ref_segment_ + 1]) ++ref_segment_;
  plan_ = ref_plans_[ref_segment_];
  plan_value_ = res.value;
  plan_lambda_ = res.lambda;
}

std::vector<Scheduler::AppPlan> Scheduler::plans_from(const PlanProblem& p, const PlanResult& res, size_t first) const {
  std::vector<AppPlan> out(apps_.size());
  for (size_t i = 0; i < apps_.size(); ++i) {
    const size_t k = first + i;
    AppPlan& ap = out[i];
    for (int j : res.resident[k]) ap.resident.push_back(p.apps[k].device[static_cast<size_t>(j)].variant);
    for (const PlanShare& sh : res.shares[k]) {
      AppPlan::Use u;
      u.place = sh.cloud ? Place::Cloud : Place::Device;
      u.variant = sh.cloud ? p.apps[k].cloud[static_cast<size_t>(sh.option)].variant : p.apps[k].device[static_cast<size_t>(sh.option)].variant;
      u.share = sh.share;
      ap.uses.push_back(u);
    }
    std::stable_sort(ap.uses.begin(), ap.uses.end(), [](const AppPlan::Use& x, const AppPlan::Use& y) { return x.share > y.share; });
  }
  return out;
}

void Scheduler::replan(double t) {
  const double T = std::max(s_.horizon_s - t, 1e-9);
  const double L = s_.device.latency_limit_s;
  const bool cloud = s_.cloud.present;
  PlanProblem p;
  p.energy_j = std::max(0.0, energy_left_);
  p.usd = cloud ? std::max(0.0, usd_left_) : 0;
  p.cache_bytes = cache_.capacity();
  double expected = 0;
  std::vector<double> rates(apps_.size());
  for (size_t i = 0; i < apps_.size(); ++i) {
    const App& a = apps_[i];
    PlanApp pa;
    rate(i, t);  // keeps the window current (the per-request rules' rate)
    // The requests to come: at the app's mean rate so far (a phased stream's recent rate says
    // little about the rest of the horizon; its mean converges to the cycle's); over the first
    // minute its requests over the time elapsed.
    const double mean = static_cast<double>(state_[i].total) / std::max(t, t < kMinHistory ? 1.0 : kMinHistory);
    pa.requests = mean * T;
    rates[i] = mean;
    const bool tr = a.trunk >= 0;
    const bool trunk_cached = tr && cache_.contains(trunk_key(a.trunk));
    const double trunk_share = tr ? a.trunk_cost.exec_j / std::max(a.trunk_cost.sharers, 1) : 0;
    // The trunk's run is priced at the least calibration among the apps on it: an app's ratio
    // mixes its fragment's (a tiny model measured in the serving loop can run several times its
    // catalog figure) with the trunk's, and one app's cannot be the trunk's price for all.
    double trunk_scale = tr ? cost_scale_[i] : 1;
    for (size_t k = 0; tr && k < apps_.size(); ++k)
      if (apps_[k].trunk == a.trunk) trunk_scale = std::min(trunk_scale, cost_scale_[k]);
    std::vector<int> index;  // device option -> variant
    for (size_t v = 0; v < a.variants.size(); ++v) {
      const VariantCost& x = a.variants[v];
      if (x.accuracy < 0 || x.accuracy < a.min_accuracy) continue;
      const VariantCost* fb = x.set >= 0 ? &a.variants[static_cast<size_t>(x.fallback)] : nullptr;
      const bool own = cache_.contains({static_cast<int>(i), static_cast<int>(v)});
      const bool fbc = fb && cache_.contains({static_cast<int>(i), x.fallback});
      PlanOption o;
      o.variant = static_cast<int>(v);
      o.accuracy = x.accuracy;
      o.energy_j = x.exec_j * cost_scale_[i] + trunk_share * trunk_scale;
      o.bytes = x.bytes + (fb ? fb->bytes : 0);
      o.load_j = (own ? 0 : x.load_j) + (fb && !fbc ? fb->load_j : 0);
      double load_s = (own ? 0 : x.load_s) + (fb && !fbc ? fb->load_s : 0);
      if (tr) {
        o.trunk = a.trunk;
        o.trunk_share_j = trunk_share * trunk_scale;
        o.trunk_exec_j = a.trunk_cost.exec_j * trunk_scale;
        o.trunk_bytes = a.trunk_cost.bytes;
        o.trunk_load_j = trunk_cached ? 0 : a.trunk_cost.load_j;
        load_s += trunk_cached ? 0 : a.trunk_cost.load_s;
      }
      if (o.bytes + o.trunk_bytes > cache_.capacity()) continue;
      if (load_s + x.exec_s + (tr ? a.trunk_cost.exec_s : 0) > L) continue;
      if (o.energy_j + o.load_j + o.trunk_load_j > p.energy_j) continue;
      pa.device.push_back(o);
      if (planned_)
        for (int r : plan_[i].resident)
          if (r == o.variant && own) pa.keep.push_back(static_cast<int>(pa.device.size() - 1));
    }
    if (cloud && policy_ != Policy::Original) {
      std::vector<PlanOption> c;
      for (size_t v = 0; v < a.variants.size(); ++v) {
        const VariantCost& x = a.variants[v];
        if (x.accuracy < 0 || x.accuracy < a.min_accuracy || x.set >= 0) continue;
        if (s_.cloud.round_trip_s + x.cloud_s > L || x.cloud_usd > p.usd || s_.cloud.transmission_j > p.energy_j) continue;
        PlanOption o;
        o.variant = static_cast<int>(v);
        o.cloud = true;
        o.accuracy = x.accuracy;
        o.energy_j = s_.cloud.transmission_j;
        o.usd = x.cloud_usd;
        c.push_back(o);
      }
      // The front: cheaper, or more accurate than every cheaper one.
      std::stable_sort(c.begin(), c.end(), [](const PlanOption& x, const PlanOption& y) {
        return x.usd != y.usd ? x.usd < y.usd : x.accuracy > y.accuracy;
      });
      for (const PlanOption& o : c)
        if (pa.cloud.empty() || o.accuracy > pa.cloud.back().accuracy) pa.cloud.push_back(o);
    }
    if (planned_ && pa.keep.size() != plan_[i].resident.size()) pa.keep.clear();  // a resident was lost
    expected += pa.requests;
    p.apps.push_back(std::move(pa));
  }
  // Fragments on one trunk with the same frames plan together (PlanApp::frame_group).
  auto root = [&](size_t i) {
    int k = static_cast<int>(i);
    while (k < static_cast<int>(s_.apps.size()) && s_.apps[static_cast<size_t>(k)].stream.same_as_app >= 0)
      k = s_.apps[static_cast<size_t>(k)].stream.same_as_app;
    return k;
  };
  for (size_t i = 0; i < apps_.size(); ++i) {
    if (apps_[i].trunk < 0 || i >= s_.apps.size()) continue;
    for (size_t k = 0; k < apps_.size(); ++k)
      if (k != i && k < s_.apps.size() && apps_[k].trunk == apps_[i].trunk && root(k) == root(i)) {
        p.apps[i].frame_group = static_cast<int>(std::min(i, k));
        if (k < i) break;
      }
  }
  // An app that has made no request yet, over the first kPriorFor seconds: expected at the seen
  // apps' mean (it is in the scenario: reserving its share of the cache now saves evicting the
  // others' models when it comes).
  if (t < kPriorFor) {
    double seen = 0, sum = 0;
    for (size_t i = 0; i < apps_.size(); ++i)
      if (state_[i].total > 0) seen += 1, sum += p.apps[i].requests;
    if (seen > 0)
      for (size_t i = 0; i < apps_.size(); ++i)
        if (state_[i].total == 0) p.apps[i].requests = sum / seen, expected += sum / seen;
  }
  p.switch_margin = 1 + kSwitchMargin * expected;
  if (policy_ == Policy::Reference) {  // plan_reference() takes the options from here
    plan_options_ = std::move(p);
    planned_ = true;
    return;
  }
  const PlanResult res = solve_plan(p);
  ++plans_;
  plan_changes_ += res.changed;
  plan_ = plans_from(p, res, 0);
  for (size_t i = 0; i < apps_.size(); ++i) plan_[i].rate = rates[i];
  plan_energy_left_ = energy_left_;
  plan_energy_rate_ = (res.energy_j - res.loads_j) / T;
  plan_loads_j_ = res.loads_j;
  planned_ = true;
  replan_flag_ = false;
  plan_t_ = t;
  plan_value_ = res.value;
  plan_lambda_ = res.lambda;
}

std::string Scheduler::plan_text(size_t app) const {
  std::string out;
  char b[512];
  std::snprintf(b, sizeof b, "  plan (solved at t = %.1f s; %lld plans so far, %lld changed the residents): %.1f correct answers expected to the horizon\n",
                plan_t_, static_cast<long long>(plans_), static_cast<long long>(plan_changes_), plan_value_);
  out += b;
  int64_t bytes = 0;
  for (size_t i = 0; i < apps_.size(); ++i) {
    const AppPlan& p = plan_[i];
    std::string res, use;
    for (int v : p.resident) {
      res += (res.empty() ? "" : ", ") + apps_[i].variants[static_cast<size_t>(v)].id;
      bytes += apps_[i].variants[static_cast<size_t>(v)].bytes;
    }
    double left = 1;
    for (const auto& u : p.uses) {
      std::snprintf(b, sizeof b, "%s%s %s %.1f%%", use.empty() ? "" : ", ", place_name(u.place),
                    apps_[i].variants[static_cast<size_t>(u.variant)].id.c_str(), 100 * u.share);
      use += b;
      left -= u.share;
    }
    if (left > 1e-9) {
      std::snprintf(b, sizeof b, "%sdrop %.1f%%", use.empty() ? "" : ", ", 100 * left);
      use += b;
    }
    std::snprintf(b, sizeof b, "    %s%s at %.4g/s: resident [%s]; serves %s\n", apps_[i].name.c_str(), i == app ? " (this app)" : "",
                  p.rate, res.c_str(), use.c_str());
    out += b;
  }
  std::snprintf(b, sizeof b, "    residents %s of the %s cache; energy priced at %.4g correct answers per J (a load of L joules is worth "
                "it when it gains more than that times L, and more than the switching margin)\n",
                format_quantity(static_cast<double>(bytes), Quantity::Bytes).c_str(),
                format_quantity(static_cast<double>(cache_.capacity()), Quantity::Bytes).c_str(), plan_lambda_);
  out += b;
  // What loading the app's most accurate runnable variant outside the plan would evict.
  const App& a = apps_[app];
  for (int v : by_accuracy_[app]) {
    const VariantCost& x = a.variants[static_cast<size_t>(v)];
    if (x.accuracy < a.min_accuracy || x.bytes > cache_.capacity()) continue;
    if (std::find(plan_[app].resident.begin(), plan_[app].resident.end(), v) != plan_[app].resident.end()) break;
    if (cache_.contains({static_cast<int>(app), v})) break;
    std::string ev;
    for (const CacheKey& k : cache_.victims(x.bytes)) {
      if (k.app < 0) ev += (ev.empty() ? "" : ", ") + std::string("a trunk");
      else ev += (ev.empty() ? "" : ", ") + apps_[static_cast<size_t>(k.app)].name + "/" + apps_[static_cast<size_t>(k.app)].at(k.variant).id;
    }
    std::snprintf(b, sizeof b, "    not planned: %s (%.2f%%, %s, load %s) would evict %s; the plan found keeping the residents worth more\n",
                  x.id.c_str(), 100 * x.accuracy, format_quantity(static_cast<double>(x.bytes), Quantity::Bytes).c_str(),
                  format_quantity(x.load_j, Quantity::Energy).c_str(), ev.empty() ? "nothing" : ev.c_str());
    out += b;
    break;
  }
  return out;
}

DropReason Scheduler::nothing_runs(int ai, double t, double f) const {
  // As the per-request policies say it (decide()): the minimum, when only a variant below it
  // could run; else the rule that stopped the candidate that got furthest (device: cache 1,
  // latency 2, energy left 3; cloud: latency 1, dollars 2, energy left 3; a tie goes to the device).
  const App& app = apps_[static_cast<size_t>(ai)];
  const int n = static_cast<int>(app.variants.size());
  Share none;
  int stage = 0;
  DropReason got = DropReason::None;
  bool runs = false, below = false;
  for (int v = 0; v < n; ++v) {
    if (app.variants[static_cast<size_t>(v)].accuracy < 0) continue;
    const Candidate c = device_candidate(ai, v, t, false, none);
    if (c.below_min) { below = below || c.would_hard_ok; continue; }
    if (c.fail == DropReason::None) { runs = true; continue; }
    const int st = c.fail == DropReason::Cache ? 1 : c.fail == DropReason::LatencyLimit ? 2 : 3;
    if (st > stage) stage = st, got = c.fail;
  }
  if (s_.cloud.present)
    for (int v = 0; v < n; ++v) {
      if (app.variants[static_cast<size_t>(v)].accuracy < 0) continue;
      const Candidate c = cloud_candidate(ai, v, t, false, 0, f, 1);
      if (c.below_min) { below = below || c.would_hard_ok; continue; }
      if (c.fail == DropReason::None) { runs = true; continue; }
      const int st = c.fail == DropReason::LatencyLimit ? 1 : c.fail == DropReason::CloudBudget ? 2 : 3;
      if (st > stage) stage = st, got = c.fail;
    }
  if (runs) return DropReason::EnergyBudget;
  if (below) return DropReason::MinAccuracy;
  return got == DropReason::None ? DropReason::EnergyLeft : got;
}

Decision Scheduler::decide_planned(const Request& r, Explanation* why) {
  const size_t a = static_cast<size_t>(r.app);
  const App& app = apps_[a];
  const double f = note_request(r);
  if (policy_ == Policy::Reference) {
    if (ref_plans_.empty()) {
      plan_reference(r.t);
      ++plans_;
    }
    size_t g = ref_segment_;
    while (g + 1 < ref_starts_.size() && r.t >= ref_starts_[g + 1]) ++g;
    if (g != ref_segment_) ref_segment_ = g, plan_ = ref_plans_[g], plan_t_ = ref_starts_[g];
  }
  if (plan_due(a, r.t, static_cast<double>(state_[a].total) / std::max(r.t, r.t < kMinHistory ? 1.0 : kMinHistory))) replan(r.t);
  AppPlan& pl = plan_[a];
  ++pl.seen;
  // The option furthest behind its share (dropping included).
  const double n = static_cast<double>(pl.seen);
  double planned = 0;
  int pick = -1;
  double lag = -1e300;
  for (size_t k = 0; k < pl.uses.size(); ++k) {
    planned += pl.uses[k].share;
    const double l = pl.uses[k].share * n - static_cast<double>(pl.uses[k].used);
    if (l > lag) lag = l, pick = static_cast<int>(k);
  }
  const double drop_lag = (1 - planned) * n - static_cast<double>(pl.dropped);
  bool drop_planned = pl.uses.empty() || drop_lag > lag + 1e-12;
  // A fragment whose frame's trunk has run already (another app's request on the same frame)
  // costs only its own execution: the plan priced it with a share of the trunk's run, so a
  // planned drop is served on the device instead (the apps on a trunk drop the same frames).
  // The same when another app on the trunk, with the same frames, is due to serve its request of
  // this frame: the trunk runs for it anyway.
  auto root = [&](size_t i) {
    int k = static_cast<int>(i);
    while (k < static_cast<int>(s_.apps.size()) && s_.apps[static_cast<size_t>(k)].stream.same_as_app >= 0)
      k = s_.apps[static_cast<size_t>(k)].stream.same_as_app;
    return k;
  };
  auto due_to_serve = [&](size_t i) {
    const AppPlan& q = plan_[i];
    const double m = static_cast<double>(q.seen + 1);
    double sum = 0, best = -1e300;
    for (const auto& u : q.uses) sum += u.share, best = std::max(best, u.share * m - static_cast<double>(u.used));
    return !q.uses.empty() && best >= (1 - sum) * m - static_cast<double>(q.dropped);
  };
  bool shared_frame = false;
  double later_s = 0;  // a later app's planned execution this request would delay
  if (drop_planned && app.trunk >= 0 && frame_ >= 0) {
    shared_frame = trunk_frame_[static_cast<size_t>(app.trunk)] == frame_;
    for (size_t i = 0; i < apps_.size() && !shared_frame; ++i) {
      shared_frame = i > a && apps_[i].trunk == app.trunk && root(i) == root(a) && due_to_serve(i);  // its request of this frame comes next
      if (shared_frame)
        for (const auto& u : plan_[i].uses)
          if (u.place == Place::Device) later_s = std::max(later_s, apps_[i].variants[static_cast<size_t>(u.variant)].exec_s);
    }
  }
  bool piggyback = false;
  if (shared_frame) {
    for (size_t k = 0; k < pl.uses.size(); ++k)
      if (pl.uses[k].place == Place::Device) {
        pick = static_cast<int>(k), drop_planned = false, piggyback = true;
        break;
      }
  }
  Share none;
  auto candidate = [&](const AppPlan::Use& u) {
    return u.place == Place::Device ? device_candidate(r.app, u.variant, r.t, false, none)
                                    : cloud_candidate(r.app, u.variant, r.t, false, 0, f, 1);
  };
  if (why) {  // the candidates as they stand before the decision
    why->candidates.clear();
    for (int v = 0; v < static_cast<int>(app.variants.size()); ++v) why->candidates.push_back(device_candidate(r.app, v, r.t, false, none));
    if (s_.cloud.present)
      for (int v = 0; v < static_cast<int>(app.variants.size()); ++v) why->candidates.push_back(cloud_candidate(r.app, v, r.t, false, 0, f, 1));
  }
  Decision d;
  bool done = false;
  DropReason fail = DropReason::None;
  if (!drop_planned) {
    // The option due first, then the others by share.
    std::vector<int> order{pick};
    for (size_t k = 0; k < pl.uses.size() && !piggyback; ++k)  // a piggybacked request: its device option only
      if (static_cast<int>(k) != pick) order.push_back(static_cast<int>(k));
    for (int k : order) {
      AppPlan::Use& u = pl.uses[static_cast<size_t>(k)];
      const Candidate c = candidate(u);
      // A piggyback on a later app's run must leave that app its latency limit.
      if (c.hard_ok && !(piggyback && c.latency_s + later_s > s_.device.latency_limit_s)) {
        d = apply(r, c, false, piggyback ? "device: the frame's trunk ran already, so only the fragment runs (the plan had dropped it)"
                               : u.place == Place::Device ? "device: the plan's share for this variant" : "cloud: the plan's share for this variant");
        if (piggyback) ++pl.dropped;  // the plan's accounting: a drop it did not need to make
        else ++u.used;
        done = true;
        break;
      }
      if (fail == DropReason::None) fail = c.fail;
    }
  }
  if (!done && piggyback) drop_planned = true;  // the plan's drop after all
  if (!done) {
    ++pl.dropped;
    if (drop_planned && !pl.uses.empty()) {
      d.reason = "the plan drops this share of the app's requests: the energy left does not pay for more";
      d.drop = DropReason::EnergyBudget;
      // A variant below the minimum that could run, and cheaper than what the plan runs: the
      // minimum is what dropped it.
      double cheapest = 1e300;
      for (const auto& u : pl.uses)
        cheapest = std::min(cheapest, u.place == Place::Device ? app.variants[static_cast<size_t>(u.variant)].exec_j : s_.cloud.transmission_j);
      for (int v : below_min_[a]) {
        const Candidate c = device_candidate(r.app, v, r.t, false, none);
        const Candidate k = s_.cloud.present ? cloud_candidate(r.app, v, r.t, false, 0, f, 1) : Candidate{};
        if ((c.would_hard_ok && app.variants[static_cast<size_t>(v)].exec_j <= cheapest) ||
            (s_.cloud.present && k.would_hard_ok && k.energy_j <= cheapest)) {
          d.drop = DropReason::MinAccuracy;
          break;
        }
      }
    } else if (!pl.uses.empty()) {
      d.reason = "the planned options cannot run now";
      d.drop = fail == DropReason::None ? DropReason::EnergyLeft : fail;
      for (int v : below_min_[a]) {  // one below the minimum could have: the minimum dropped it
        if (device_candidate(r.app, v, r.t, false, none).would_hard_ok ||
            (s_.cloud.present && cloud_candidate(r.app, v, r.t, false, 0, f, 1).would_hard_ok)) {
          d.drop = DropReason::MinAccuracy;
          break;
        }
      }
    } else {
      d.reason = "nothing runs for this app in the plan";
      d.drop = nothing_runs(r.app, r.t, f);
    }
  }
  last_budget_j_ = 0;
  if (why) {
    why->request = r;
    why->remaining_s = std::max(s_.horizon_s - r.t, 1e-9);
    why->energy_left = energy_left_;
    why->usd_left = usd_left_;
    why->cost_scale = cost_scale_[a];
    why->f_app = f;
    why->skew_set = state_[a].skew_set;
    why->skew_share = state_[a].skew_share;
    why->plan = plan_text(a);
    why->decision = d;
  }
  return d;
}

}  // namespace mcdnn::rt
