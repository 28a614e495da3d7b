#include "scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "util/error.hpp"

namespace mcdnn::rt {

const char* place_name(Place p) {
  switch (p) {
    case Place::Drop: return "drop";
    case Place::Device: return "device";
    case Place::Cloud: return "cloud";
  }
  return "?";
}

const char* drop_reason_key(DropReason r) {
  switch (r) {
    case DropReason::None: return "";
    case DropReason::EnergyLeft: return "energy_left";
    case DropReason::EnergyBudget: return "energy_budget";
    case DropReason::Cache: return "cache";
    case DropReason::LatencyLimit: return "latency_limit";
    case DropReason::MinAccuracy: return "min_accuracy";
    case DropReason::CloudBudget: return "cloud_budget";
  }
  return "";
}

Policy policy_from_name(const std::string& name) {
  if (name == "mcdnn") return Policy::Mcdnn;
  if (name == "mcdnn-specialize") return Policy::McdnnSpecialize;
  if (name == "mcdnn-greedy") return Policy::McdnnGreedy;
  if (name == "mcdnn-paper") return Policy::McdnnPaper;
  if (name == "reference") return Policy::Reference;
  if (name == "original") return Policy::Original;
  if (name == "best") return Policy::Best;
  if (name == "server-first") return Policy::ServerFirst;
  fail(ErrorClass::Internal, "no scheduler for policy '" + name + "'");
}

Scheduler::Scheduler(const Scenario& s, const std::vector<App>& apps, Policy policy)
    : s_(s),
      apps_given_(apps),
      apps_(apps),
      policy_(policy),
      cache_(static_cast<int64_t>(std::min(s.device.cache_bytes, 9.0e18))),
      state_(apps.size()),
      energy_left_(s.device.energy_j),
      usd_left_(s.cloud.present ? s.cloud.budget_usd : 0) {
  dev_floor_.resize(apps_.size());
  cost_scale_.assign(apps_.size(), 1.0);
  predicted_sum_.assign(apps_.size(), 0.0);
  measured_sum_.assign(apps_.size(), 0.0);
  cloud_floor_usd_.resize(apps_.size());
  by_accuracy_.resize(apps_.size());
  by_exec_.resize(apps_.size());
  by_usd_.resize(apps_.size());
  below_min_.resize(apps_.size());
  for (const App& a : apps_)
    if (a.trunk >= 0 && static_cast<size_t>(a.trunk) >= trunk_frame_.size()) trunk_frame_.resize(static_cast<size_t>(a.trunk) + 1, -1);
  for (size_t i = 0; i < apps_.size(); ++i) {
    state_[i].counts.assign(static_cast<size_t>(std::max<int64_t>(apps_[i].catalog.input.num_classes, 1)), 0);
    refresh(i);
  }
}

void Scheduler::refresh(size_t ai) {
  App& a = apps_[ai];
  AppState& st = state_[ai];
  // The cascades of the skew set in force, with expected values at its observed share.
  a.variants = options_under_skew(apps_given_[ai], st.skew_set, st.skew_share);
  st.applied_share = st.skew_share;

  const double inf = std::numeric_limits<double>::infinity();
  double d = inf, cf = inf;
  // A fragment's trunk: cached and run with it, its execution shared by the apps on it.
  const TrunkCost& tc = a.trunk_cost;
  const bool tr = a.trunk >= 0;
  const double trunk_bytes = tr ? static_cast<double>(tc.bytes) : 0, trunk_load = tr ? tc.load_s : 0, trunk_s = tr ? tc.exec_s : 0;
  const double trunk_share = tr ? tc.exec_j / std::max(tc.sharers, 1) : 0;
  for (const auto& v : a.variants) {
    if (v.accuracy < 0 || v.accuracy < a.min_accuracy) continue;  // disabled, or below the app's minimum
    const VariantCost* fb = v.set >= 0 ? &a.variants[static_cast<size_t>(v.fallback)] : nullptr;
    const double bytes = static_cast<double>(v.bytes) + (fb ? static_cast<double>(fb->bytes) : 0) + trunk_bytes;
    const double load_s = v.load_s + (fb ? fb->load_s : 0) + trunk_load;
    if (bytes <= static_cast<double>(cache_.capacity()) && load_s + v.exec_s + trunk_s <= s_.device.latency_limit_s)
      d = std::min(d, v.exec_j + trunk_share);
    if (s_.cloud.present && s_.cloud.round_trip_s + v.cloud_s <= s_.device.latency_limit_s) cf = std::min(cf, v.cloud_usd);
  }
  dev_floor_[ai] = d;
  cloud_floor_usd_[ai] = cf;
  const int n = static_cast<int>(a.variants.size());
  std::vector<int> idx(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) idx[static_cast<size_t>(i)] = i;
  auto acc = [&](int i) { return a.variants[static_cast<size_t>(i)].accuracy; };
  auto& byacc = by_accuracy_[ai] = idx;
  std::stable_sort(byacc.begin(), byacc.end(), [&](int x, int y) { return acc(x) > acc(y); });
  auto& byexec = by_exec_[ai] = idx;
  std::stable_sort(byexec.begin(), byexec.end(), [&](int x, int y) {
    return a.variants[static_cast<size_t>(x)].exec_j < a.variants[static_cast<size_t>(y)].exec_j;
  });
  auto& below = below_min_[ai];
  below.clear();
  for (int v : byexec)
    if (acc(v) >= 0 && acc(v) < a.min_accuracy) below.push_back(v);
  auto& byusd = by_usd_[ai] = idx;
  std::stable_sort(byusd.begin(), byusd.end(), [&](int x, int y) {
    return a.variants[static_cast<size_t>(x)].cloud_usd < a.variants[static_cast<size_t>(y)].cloud_usd;
  });
  if (static_cast<size_t>(n) > dev_.size()) {
    dev_.resize(static_cast<size_t>(n));
    cloud_.resize(static_cast<size_t>(n));
    dev_seen_.resize(static_cast<size_t>(n), 0);
    cloud_seen_.resize(static_cast<size_t>(n), 0);
  }
}

void Scheduler::observe(int app, int predicted) {
  if (policy_ != Policy::McdnnSpecialize || predicted < 0) return;
  const size_t ai = static_cast<size_t>(app);
  AppState& st = state_[ai];
  const App& a = apps_[ai];
  if (a.sets.empty() || static_cast<size_t>(predicted) >= st.counts.size()) return;
  const auto& sp = s_.specialization;
  st.seen.push_back(predicted);
  st.counts[static_cast<size_t>(predicted)]++;
  if (static_cast<int64_t>(st.seen.size()) > sp.window) {
    st.counts[static_cast<size_t>(st.seen.front())]--;
    st.seen.pop_front();
  }
  if (static_cast<int64_t>(st.seen.size()) < sp.window) return;  // a full window first
  // The (n, p) test against the catalog's sets: of the sets of at most n classes whose share is
  // at least p, the one with the fewest classes (a superset's share is never smaller, and the
  // fewer classes kept, the more the specialization gains), then the largest share.
  int best = -1;
  double best_share = 0;
  for (size_t k = 0; k < a.sets.size(); ++k) {
    if (static_cast<int64_t>(a.sets[k].size()) > sp.max_classes) continue;
    int64_t in = 0;
    for (int64_t c : a.sets[k]) in += st.counts[static_cast<size_t>(c)];
    const double share = static_cast<double>(in) / static_cast<double>(st.seen.size());
    if (share < sp.min_share) continue;
    const size_t nb = best < 0 ? SIZE_MAX : a.sets[static_cast<size_t>(best)].size();
    if (a.sets[k].size() < nb || (a.sets[k].size() == nb && share > best_share)) best = static_cast<int>(k), best_share = share;
  }
  // Stay with the set in force while it holds (no flapping between two sets that both pass).
  if (st.skew_set >= 0 && best >= 0 && best != st.skew_set) {
    int64_t in = 0;
    for (int64_t c : a.sets[static_cast<size_t>(st.skew_set)]) in += st.counts[static_cast<size_t>(c)];
    const double share = static_cast<double>(in) / static_cast<double>(st.seen.size());
    if (share >= sp.min_share) best = st.skew_set, best_share = share;
  }
  const bool changed = best != st.skew_set;
  st.skew_set = best;
  st.skew_share = best >= 0 ? best_share : 0;
  if (changed || (best >= 0 && std::fabs(st.skew_share - st.applied_share) > 0.02)) {
    refresh(ai);
    replan_flag_ = true;  // the cascades' values changed: the plan is re-solved at the next request
  }
}

double Scheduler::Share::budget(double e) const {
  const double P = std::max(0.0, e) / T;
  if (!floor_first) return P * f / sum_f2;
  if (need > 0 && P <= need) return phi * P / need;
  return phi + (P - need) * f / sum_f2_all;
}

double Scheduler::rate(size_t app, double t) {
  auto& q = state_[app].recent;
  while (!q.empty() && q.front() <= t - s_.frequency_window_s) q.pop_front();
  const double span = std::min(s_.frequency_window_s, std::max(t, 1.0));
  return static_cast<double>(q.size()) / span;
}

void Scheduler::calibrate(int app, double predicted_j, double measured_j) {
  if (!calibrate_ || !(predicted_j > 0) || !(measured_j >= 0)) return;
  const size_t a = static_cast<size_t>(app);
  predicted_sum_[a] = 0.99 * predicted_sum_[a] + predicted_j;
  measured_sum_[a] = 0.99 * measured_sum_[a] + measured_j;
  cost_scale_[a] = measured_sum_[a] / predicted_sum_[a];
}

double Scheduler::trunk_exec_j(const App& a) const {
  if (a.trunk < 0 || (frame_ >= 0 && trunk_frame_[static_cast<size_t>(a.trunk)] == frame_)) return 0;
  return a.trunk_cost.exec_j;
}

double Scheduler::trunk_exec_s(const App& a) const {
  if (a.trunk < 0 || (frame_ >= 0 && trunk_frame_[static_cast<size_t>(a.trunk)] == frame_)) return 0;
  return a.trunk_cost.exec_s;
}

Scheduler::Need Scheduler::need_of(int app, int v) const {
  const App& a = apps_[static_cast<size_t>(app)];
  const VariantCost& x = a.variants[static_cast<size_t>(v)];
  Need n;
  n.bytes = x.bytes;
  if (a.trunk >= 0) {
    n.bytes += a.trunk_cost.bytes;
    if (!cache_.contains(trunk_key(a.trunk))) n.load_s += a.trunk_cost.load_s, n.load_j += a.trunk_cost.load_j;
  }
  if (!cache_.contains({app, v})) n.load_s += x.load_s, n.load_j += x.load_j;
  if (x.set >= 0) {
    const VariantCost& fb = apps_[static_cast<size_t>(app)].variants[static_cast<size_t>(x.fallback)];
    n.bytes += fb.bytes;
    if (!cache_.contains({app, x.fallback})) n.load_s += fb.load_s, n.load_j += fb.load_j;
  }
  return n;
}

Candidate Scheduler::device_candidate(int app, int v, double t, bool mcdnn_budget, const Share& share) const {
  const App& a = apps_[static_cast<size_t>(app)];
  const VariantCost& x = a.variants[static_cast<size_t>(v)];
  Candidate c;
  c.place = Place::Device;
  c.variant = v;
  const Need need = need_of(app, v);
  c.cached = cache_.contains({app, v}) && (x.set < 0 || cache_.contains({app, x.fallback})) &&
             (a.trunk < 0 || cache_.contains(trunk_key(a.trunk)));
  const double wait = std::max(0.0, busy_until_ - t);
  const double trunk_j = trunk_exec_j(a);
  const double k = cost_scale_[static_cast<size_t>(app)];
  c.latency_s = wait + need.load_s + x.exec_s + trunk_exec_s(a);
  c.energy_j = (x.exec_j + trunk_j) * k + need.load_j;
  const double T = std::max(s_.horizon_s - t, 1e-9);
  if (mcdnn_budget) {
    const double last = state_[static_cast<size_t>(app)].last_load_t;
    if (!c.cached && last >= 0) {  // an app's first load has no reload history to extrapolate
      const double dt = std::max(t - last, 1.0);
      c.penalty_j = need.load_j * T / dt;
    }
    c.budget = share.budget(energy_left_ - c.penalty_j);
  }
  c.load_j = need.load_j;
  if (!cache_.fits(need.bytes)) c.why = "larger than the cache", c.fail = DropReason::Cache;
  else if (c.latency_s > s_.device.latency_limit_s)
    c.why = c.cached ? "misses the latency limit" : "loads too slowly for the latency limit", c.fail = DropReason::LatencyLimit;
  else if (c.energy_j > energy_left_) c.why = "over the energy left", c.fail = DropReason::EnergyLeft;
  c.hard_ok = *c.why == 0;
  // Against the per-request budget a fragment counts its share of the trunk's run, whichever
  // request of the frame pays it: the apps of a frame together budget for one run.
  const double trunk_share = a.trunk >= 0 ? a.trunk_cost.exec_j / std::max(a.trunk_cost.sharers, 1) : 0;
  c.budgeted_j = (x.exec_j + trunk_share) * k;
  if (c.hard_ok && mcdnn_budget && c.budgeted_j > c.budget) c.why = "over the per-request energy budget";
  c.ok = *c.why == 0;
  return with_minimum(c, x, a.min_accuracy);
}

Candidate Scheduler::with_minimum(Candidate c, const VariantCost& x, double min_accuracy) {
  c.would_hard_ok = c.hard_ok;
  c.would_ok = c.ok;
  if (x.accuracy < 0) {  // a cascade of another class set (options_under_skew())
    c.why = "a cascade of a class set not in force";
    c.hard_ok = c.ok = c.would_hard_ok = c.would_ok = false;
    c.fail = DropReason::None;
  } else if (x.accuracy < min_accuracy) {
    c.below_min = true;
    c.why = "below the app's minimum accuracy";
    c.hard_ok = c.ok = false;
  }
  return c;
}

Candidate Scheduler::cloud_candidate(int app, int v, double t, bool mcdnn_budget, double budget_j, double f, double sum_f2) const {
  const VariantCost& x = apps_[static_cast<size_t>(app)].variants[static_cast<size_t>(v)];
  Candidate c;
  c.place = Place::Cloud;
  c.variant = v;
  c.latency_s = s_.cloud.round_trip_s + x.cloud_s;
  c.energy_j = s_.cloud.transmission_j;
  c.usd = x.cloud_usd;
  const double T = std::max(s_.horizon_s - t, 1e-9);
  if (mcdnn_budget) c.budget = usd_left_ * f / (T * sum_f2);
  if (c.latency_s > s_.device.latency_limit_s) c.why = "misses the latency limit", c.fail = DropReason::LatencyLimit;
  else if (c.usd > usd_left_) c.why = "over the dollars left", c.fail = DropReason::CloudBudget;
  else if (c.energy_j > energy_left_) c.why = "transmission over the energy left", c.fail = DropReason::EnergyLeft;
  c.hard_ok = *c.why == 0;
  c.budgeted_j = c.energy_j;
  if (c.hard_ok && mcdnn_budget) {
    if (c.usd > c.budget) c.why = "over the per-request dollar budget";
    else if (c.energy_j > budget_j) c.why = "transmission over the per-request energy budget";
  }
  c.ok = *c.why == 0;
  return with_minimum(c, x, apps_[static_cast<size_t>(app)].min_accuracy);
}

namespace {

// Is a better than b? More accurate; then less energy (device) or fewer dollars (cloud); then
// cached; then fewer bytes; then catalog order.
bool better(const Candidate& a, const Candidate& b, const App& app) {
  const VariantCost& x = app.variants[static_cast<size_t>(a.variant)];
  const VariantCost& y = app.variants[static_cast<size_t>(b.variant)];
  if (x.accuracy != y.accuracy) return x.accuracy > y.accuracy;
  if (a.place == Place::Cloud) {
    if (a.usd != b.usd) return a.usd < b.usd;
  } else if (a.energy_j != b.energy_j) {
    return a.energy_j < b.energy_j;
  }
  if (a.cached != b.cached) return a.cached;
  if (x.bytes != y.bytes) return x.bytes < y.bytes;
  return a.variant < b.variant;
}

// Cheaper: fewer dollars (cloud) or less execution energy (device: the load is paid once, the
// execution on every request, so the prototype ranks by execution energy too); then cached,
// then more accurate, then catalog order.
bool cheaper(const Candidate& a, const Candidate& b, const App& app) {
  const VariantCost& x = app.variants[static_cast<size_t>(a.variant)];
  const VariantCost& y = app.variants[static_cast<size_t>(b.variant)];
  const double ca = a.place == Place::Cloud ? a.usd : x.exec_j, cb = b.place == Place::Cloud ? b.usd : y.exec_j;
  if (ca != cb) return ca < cb;
  if (a.cached != b.cached) return a.cached;
  if (x.accuracy != y.accuracy) return x.accuracy > y.accuracy;
  return a.variant < b.variant;
}

}  // namespace

Decision Scheduler::apply(const Request& r, const Candidate& c, bool fallback, const char* reason) {
  Decision d;
  d.place = c.place;
  d.variant = c.variant;
  d.fallback = fallback;
  d.reason = reason;
  d.latency_s = c.latency_s;
  d.energy_j = c.energy_j;
  d.usd = c.usd;
  AppState& st = state_[static_cast<size_t>(r.app)];
  if (c.place == Place::Device) {
    const App& a = apps_[static_cast<size_t>(r.app)];
    const VariantCost& x = a.variants[static_cast<size_t>(c.variant)];
    d.hit = c.cached;
    d.exec_j_catalog = x.exec_j + trunk_exec_j(a);
    // A cascade needs its fallback too, a fragment its trunk. What is cached is touched first
    // (most recently used), so that loading the rest cannot evict it: the cache holds them all
    // (need_of() checked).
    std::vector<CacheKey> keys;
    if (a.trunk >= 0) keys.push_back(trunk_key(a.trunk));
    if (x.set >= 0) keys.push_back({r.app, x.fallback});
    keys.push_back({r.app, c.variant});
    for (CacheKey k : keys)
      if (cache_.contains(k)) cache_.touch(k);
    for (CacheKey k : keys) {
      if (cache_.contains(k)) continue;
      const bool trunk = k.app < 0;
      const VariantCost* y = trunk ? nullptr : &a.variants[static_cast<size_t>(k.variant)];
      const int64_t bytes = trunk ? a.trunk_cost.bytes : y->bytes;
      if (planned_) {  // what no plan keeps goes first: the planned residents fit together
        auto ev = cache_.make_room(bytes, [&](CacheKey e) {
          return protected_key(e) || std::find(keys.begin(), keys.end(), e) != keys.end();
        });
        d.evicted.insert(d.evicted.end(), ev.begin(), ev.end());
      }
      auto ev = cache_.insert(k, bytes);
      d.evicted.insert(d.evicted.end(), ev.begin(), ev.end());
      d.load_s += trunk ? a.trunk_cost.load_s : y->load_s;
      d.load_j += trunk ? a.trunk_cost.load_j : y->load_j;
      st.last_load_t = r.t;
    }
    if (a.trunk >= 0) {
      d.trunk_s = trunk_exec_s(a);
      d.trunk_j = trunk_exec_j(a);
      d.trunk_runs = frame_ < 0 || trunk_frame_[static_cast<size_t>(a.trunk)] != frame_;
      trunk_frame_[static_cast<size_t>(a.trunk)] = frame_;
    }
  }
  st.place = c.place;
  return d;
}

double Scheduler::note_request(const Request& r) {
  const size_t a = static_cast<size_t>(r.app);
  frame_ = r.frame;
  state_[a].recent.push_back(r.t);
  state_[a].total++;
  return rate(a, r.t);
}

Decision Scheduler::decide(const Request& r, Explanation* why) {
  if (policy_ == Policy::Mcdnn || policy_ == Policy::McdnnSpecialize || policy_ == Policy::Reference) return decide_planned(r, why);
  const size_t a = static_cast<size_t>(r.app);
  const App& app = apps_[a];
  const double f = note_request(r);
  double sum_dev = f * f, sum_cloud = f * f;
  Share share;
  share.floor_first = policy_ == Policy::McdnnGreedy || policy_ == Policy::ServerFirst;
  share.T = std::max(s_.horizon_s - r.t, 1e-9);
  share.f = f;
  const double inf = std::numeric_limits<double>::infinity();
  auto floor_of = [&](size_t i) {
    double phi = dev_floor_[i] * cost_scale_[i];
    if (s_.cloud.present && cloud_floor_usd_[i] <= usd_left_) phi = std::min(phi, s_.cloud.transmission_j);
    return phi;
  };
  share.sum_f2_all = 0;
  for (size_t i = 0; i < apps_.size(); ++i) {
    const double fi = i == a ? f : rate(i, r.t);
    if (i != a && state_[i].place == Place::Device) sum_dev += fi * fi;
    if (i != a && state_[i].place == Place::Cloud) sum_cloud += fi * fi;
    const double phi = floor_of(i);
    if (fi > 0 && phi < inf) {
      share.need += fi * phi;
      share.sum_f2_all += fi * fi;
    }
  }
  share.sum_f2 = sum_dev;
  share.phi = floor_of(a) < inf ? floor_of(a) : 0;
  if (share.sum_f2_all <= 0) share.sum_f2_all = f * f;
  const double T = share.T;
  const double budget_j = share.budget(energy_left_);
  last_budget_j_ = budget_j;
  const bool mcdnn = policy_ != Policy::Original && policy_ != Policy::Best;
  AppState& st = state_[a];
  const int n = static_cast<int>(app.variants.size());

  ++stamp_;
  const bool has_cloud = s_.cloud.present && policy_ != Policy::Original && policy_ != Policy::Best;
  const bool cloud_budget = policy_ != Policy::ServerFirst;
  auto dev_at = [&](int v) -> const Candidate& {
    const size_t i = static_cast<size_t>(v);
    if (dev_seen_[i] != stamp_) {
      dev_[i] = device_candidate(r.app, v, r.t, mcdnn, share);
      dev_seen_[i] = stamp_;
    }
    return dev_[i];
  };
  auto cloud_at = [&](int v) -> const Candidate& {
    const size_t i = static_cast<size_t>(v);
    if (cloud_seen_[i] != stamp_) {
      cloud_[i] = cloud_candidate(r.app, v, r.t, cloud_budget, budget_j, f, sum_cloud);
      cloud_seen_[i] = stamp_;
    }
    return cloud_[i];
  };
  const std::vector<int>& by_acc = by_accuracy_[a];
  // The best candidate (better()) among those that qualify: in accuracy order, done at the
  // first accuracy below the best found.
  // A variant whose execution (device) or price (cloud) is over the budget before any reload
  // penalty cannot qualify: skipped without evaluating it (budgets only shrink from there).
  const double cloud_budget_usd = usd_left_ * f / (T * sum_cloud);
  auto best_of = [&](bool device, bool need_ok) -> const Candidate* {
    if (device ? false : !has_cloud) return nullptr;
    if (!device && need_ok && cloud_budget && s_.cloud.transmission_j > budget_j) return nullptr;
    if (device && need_ok && mcdnn && dev_floor_[a] * cost_scale_[a] > budget_j) return nullptr;  // not even the cheapest
    const Candidate* b = nullptr;
    for (int v : by_acc) {
      const VariantCost& x = app.variants[static_cast<size_t>(v)];
      if (b && x.accuracy < app.variants[static_cast<size_t>(b->variant)].accuracy) break;
      if (x.accuracy < app.min_accuracy) break;  // the rest are below the app's minimum (or disabled)
      if (need_ok && (device ? mcdnn && x.exec_j * cost_scale_[a] > budget_j : cloud_budget && x.cloud_usd > cloud_budget_usd)) continue;
      const Candidate& c = device ? dev_at(v) : cloud_at(v);
      if ((need_ok ? c.ok : c.hard_ok) && (!b || better(c, *b, app))) b = &c;
    }
    return b;
  };
  // The cheapest that can run (cheaper()): in execution-energy (device) or price (cloud)
  // order, done at the first cost above the cheapest found.
  auto cheapest_of = [&](bool device) -> const Candidate* {
    if (!device && !has_cloud) return nullptr;
    const Candidate* b = nullptr;
    for (int v : device ? by_exec_[a] : by_usd_[a]) {
      const VariantCost& x = app.variants[static_cast<size_t>(v)];
      if (b) {
        const VariantCost& y = app.variants[static_cast<size_t>(b->variant)];
        if (device ? x.exec_j > y.exec_j : x.cloud_usd > y.cloud_usd) break;
      }
      const Candidate& c = device ? dev_at(v) : cloud_at(v);
      if (c.hard_ok && (!b || cheaper(c, *b, app))) b = &c;
    }
    return b;
  };
  // Why a request is dropped (DropReason). Nothing at or above the minimum can run: the minimum,
  // when a variant below it could have; else the rule that stopped the candidate that got
  // furthest (device: cache 1, latency 2, energy left 3; cloud: latency 1, dollars 2, energy
  // left 3; a tie goes to the device, weighed first), looking at those below the minimum only
  // when there is nothing else.
  auto nothing_runs = [&]() -> DropReason {
    for (int v : below_min_[a])
      if (dev_at(v).would_hard_ok || (has_cloud && cloud_at(v).would_hard_ok)) return DropReason::MinAccuracy;
    int stage = 0, stage_below = 0;
    DropReason got = DropReason::None, got_below = DropReason::None;
    bool runs = false;
    auto weigh = [&](const Candidate& c, int st) {
      if (app.variants[static_cast<size_t>(c.variant)].accuracy < 0) return;
      if (c.fail == DropReason::None) {
        runs = runs || !c.below_min;
        return;
      }
      if (c.below_min) {
        if (st > stage_below) stage_below = st, got_below = c.fail;
      } else if (st > stage) {
        stage = st, got = c.fail;
      }
    };
    for (int v : by_exec_[a]) {
      const Candidate& c = dev_at(v);
      weigh(c, c.fail == DropReason::Cache ? 1 : c.fail == DropReason::LatencyLimit ? 2 : 3);
      if (stage == 3) break;  // nothing gets further
    }
    if (has_cloud)
      for (int v : by_usd_[a]) {
        if (stage == 3) break;
        const Candidate& c = cloud_at(v);
        weigh(c, c.fail == DropReason::LatencyLimit ? 1 : c.fail == DropReason::CloudBudget ? 2 : 3);
      }
    if (got != DropReason::None) return got;
    if (runs) return DropReason::EnergyBudget;
    return got_below != DropReason::None ? got_below : DropReason::EnergyLeft;
  };
  // Something at or above the minimum could run, but its budget (and `mcdnn`'s credit) did not
  // cover it: the minimum, when a variant below it was within them.
  auto held_back = [&](bool cloud) -> DropReason {
    for (int v : below_min_[a]) {
      const Candidate& c = dev_at(v);
      if (c.would_ok || (c.would_hard_ok && c.energy_j <= st.credit_j)) return DropReason::MinAccuracy;
      if (cloud) {
        const Candidate& k = cloud_at(v);
        if (k.would_ok || (k.would_hard_ok && k.energy_j <= st.credit_j)) return DropReason::MinAccuracy;
      }
    }
    return DropReason::EnergyBudget;
  };
  if (why && mcdnn) {  // every candidate, for the table
    for (int v = 0; v < n; ++v) dev_at(v);
    if (has_cloud)
      for (int v = 0; v < n; ++v) cloud_at(v);
  }

  Decision d;
  bool done = false;
  bool cloud_allowed = true;
  if (policy_ == Policy::Original || policy_ == Policy::Best) {
    const Candidate c = device_candidate(r.app, policy_ == Policy::Original ? app.original : app.knee, r.t, false, share);
    if (why) why->candidates.push_back(c);
    if (c.hard_ok) {
      d = apply(r, c, false, policy_ == Policy::Original ? "the base model, fixed" : "the knee variant, fixed");
    } else {
      d.reason = c.why;  // why the fixed variant cannot run
      d.drop = c.below_min && c.would_hard_ok ? DropReason::MinAccuracy : c.fail;
    }
    done = true;
  }
  if (!done && policy_ == Policy::ServerFirst) {
    if (const Candidate* c = best_of(false, false)) {
      d = apply(r, *c, false, "server first: the most accurate cloud variant the dollars left pay for");
      done = true;
    }
    cloud_allowed = false;  // else: the device, decided as mcdnn does (below, without the cloud)
  }
  if (!done) {
    const Candidate* bd = best_of(true, true);
    const Candidate* bc = cloud_allowed ? best_of(false, true) : nullptr;
    if (bd || bc) {
      st.credit_j = 0;
      const bool device = bd && (!bc || app.variants[static_cast<size_t>(bd->variant)].accuracy >=
                                             app.variants[static_cast<size_t>(bc->variant)].accuracy);
      d = device ? apply(r, *bd, false, bc ? "device: at least as accurate as the best cloud variant within budget"
                                           : "device: the most accurate variant within budget")
                 : apply(r, *bc, false, bd ? "cloud: more accurate than the best device variant within budget"
                                           : "cloud: the most accurate variant within budget (none on the device)");
    } else if (policy_ == Policy::McdnnPaper) {
      if (const Candidate* c = cheapest_of(true)) {
        d = apply(r, *c, true, "nothing within budget: the cheapest device variant that can run");
      } else if (const Candidate* c2 = cloud_allowed ? cheapest_of(false) : nullptr) {
        d = apply(r, *c2, true, "nothing within budget and nothing runs on the device: the cheapest cloud variant");
      } else {
        d.reason = "nothing can run on the device or in the cloud: dropped";
        d.drop = nothing_runs();
      }
    } else {
      // The cheapest option in device energy: the cheapest device variant or, when a
      // transmission costs less than its execution, the cheapest affordable cloud variant.
      const Candidate* c = cheapest_of(true);
      const Candidate* c2 = cloud_allowed ? cheapest_of(false) : nullptr;
      const Candidate* pick =
          c && (!c2 || (app.variants[static_cast<size_t>(c->variant)].exec_j + trunk_exec_j(app)) * cost_scale_[a] <= c2->energy_j) ? c : c2;
      st.credit_j += budget_j;
      if (pick && st.credit_j >= pick->energy_j) {
        st.credit_j -= pick->energy_j;
        d = apply(r, *pick, true, pick->place == Place::Device
                                      ? "nothing within budget: the cheapest device variant, paid from the budget saved while dropping"
                                      : "nothing within budget: the cloud (least device energy), paid from the budget saved while dropping");
      } else {
        d.reason = pick ? "nothing within budget: dropped, its budget saved toward the cheapest option"
                        : "nothing can run on the device or in the cloud: dropped";
        d.drop = pick ? held_back(cloud_allowed) : nothing_runs();
      }
    }
  }
  if (why) {
    why->request = r;
    why->remaining_s = T;
    why->energy_left = energy_left_;
    why->cost_scale = cost_scale_[a];
    why->usd_left = usd_left_;
    why->f_app = f;
    why->sum_f2_device = sum_dev;
    why->sum_f2_cloud = sum_cloud;
    why->device_budget_j = budget_j;
    why->cloud_budget_usd = cloud_budget_usd;
    why->credit_j = st.credit_j;
    why->floor_first = share.floor_first;
    why->floor_j = share.phi;
    why->need_w = share.need;
    why->skew_set = st.skew_set;
    why->skew_share = st.skew_share;
    if (mcdnn) {
      why->candidates.assign(dev_.begin(), dev_.begin() + n);
      if (has_cloud) why->candidates.insert(why->candidates.end(), cloud_.begin(), cloud_.begin() + n);
    }
    why->decision = d;
  }
  return d;
}

void Scheduler::charge(double energy_j, double usd, double device_free_at) {
  energy_left_ -= energy_j;
  usd_left_ -= usd;
  busy_until_ = std::max(busy_until_, device_free_at);
}

}  // namespace mcdnn::rt
