#include "oracle.hpp"

#include "golden.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>

namespace mcdnn::rt {

namespace {

struct Option {
  double value, energy, usd, bytes;  // bytes: memory per second of gap (resident only)
  int kind;                          // 0 resident, 1 paged, 2 cloud
};

struct Bucket {
  double gap;      // smallest gap in the bucket
  double count;    // requests
  int group;       // the options its requests have
};

// Keeps the options no other option dominates (value >=, every cost <=, one strict).
std::vector<Option> prune(std::vector<Option> o) {
  std::vector<Option> keep;
  for (size_t i = 0; i < o.size(); ++i) {
    bool dominated = false;
    for (size_t j = 0; j < o.size() && !dominated; ++j) {
      if (i == j) continue;
      const auto &a = o[j], &b = o[i];
      const bool geq = a.value >= b.value && a.energy <= b.energy && a.usd <= b.usd && a.bytes <= b.bytes;
      const bool strict = a.value > b.value || a.energy < b.energy || a.usd < b.usd || a.bytes < b.bytes;
      dominated = geq && (strict || j < i);  // of equal options the first stays
    }
    if (!dominated) keep.push_back(o[i]);
  }
  return keep;
}

}  // namespace

OracleResult oracle_bound(const Scenario& s, const std::vector<App>& apps, const std::vector<Request>& trace,
                          int buckets_per_app) {
  const auto t0 = std::chrono::steady_clock::now();
  OracleResult res;
  res.requests = static_cast<int64_t>(trace.size());
  const double E = s.device.energy_j, D = s.cloud.present ? s.cloud.budget_usd : 0, S = s.device.cache_bytes;
  const double ST = S * s.horizon_s, L = s.device.latency_limit_s;

  // Requests grouped by what their app can run: its variants and, when its stream's class
  // phases are known (the scenario's `classes`, known to the oracle), every specialized set's
  // cascades valued at that set's true share in the request's phase.
  struct Group {
    int app, phase;  // phase -1: no class phases
  };
  std::vector<Group> groups;
  auto phase_of = [&](const Request& r) {
    const auto& cs = s.apps[static_cast<size_t>(r.app)].stream.classes;
    if (cs.count <= 0 || apps[static_cast<size_t>(r.app)].sets.empty()) return -1;
    double cycle = 0;
    for (const auto& p : cs.phases) cycle += p.duration_s;
    double t = std::fmod(r.t, cycle);
    size_t i = 0;
    while (i + 1 < cs.phases.size() && t >= cs.phases[i].duration_s) t -= cs.phases[i++].duration_s;
    return static_cast<int>(i);
  };
  auto group_of = [&](const Request& r) {
    const int ph = phase_of(r);
    for (size_t g = 0; g < groups.size(); ++g)
      if (groups[g].app == r.app && groups[g].phase == ph) return g;
    groups.push_back({r.app, ph});
    return groups.size() - 1;
  };
  // The share of set S's classes among a phase's requests.
  auto true_share = [&](const ClassSpec& cs, const ClassPhase& p, const std::vector<int64_t>& set) {
    const double n = static_cast<double>(cs.count), d = static_cast<double>(p.dominant.size());
    double in_dom = 0;
    for (int64_t c : set) in_dom += std::find(p.dominant.begin(), p.dominant.end(), static_cast<int>(c)) != p.dominant.end();
    const double out_dom = static_cast<double>(set.size()) - in_dom;
    if (p.dominant.empty()) return static_cast<double>(set.size()) / n;
    return p.share * in_dom / d + (1 - p.share) * out_dom / (n - d);
  };

  // Gaps per group (since the app's previous request), grouped into quantile buckets.
  std::vector<std::vector<double>> gaps;
  std::vector<double> last(apps.size(), 0.0);
  for (const auto& r : trace) {
    const size_t g = group_of(r);
    if (gaps.size() < groups.size()) gaps.resize(groups.size());
    gaps[g].push_back(r.t - last[static_cast<size_t>(r.app)]);
    last[static_cast<size_t>(r.app)] = r.t;
  }

  // Options per group, each feasible on its own.
  std::vector<std::vector<Option>> opts(groups.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    const App& app = apps[static_cast<size_t>(groups[g].app)];
    std::vector<VariantCost> cand = options_under_skew(app, -1, 0);
    if (groups[g].phase >= 0) {
      const auto& cs = s.apps[static_cast<size_t>(groups[g].app)].stream.classes;
      for (size_t k = 0; k < app.sets.size(); ++k) {
        auto more = options_under_skew(app, static_cast<int>(k), true_share(cs, cs.phases[static_cast<size_t>(groups[g].phase)], app.sets[k]));
        cand.insert(cand.end(), more.begin(), more.end());
      }
    }
    if (app.trunk >= 0) {
      // A fragment: its trunk's execution split evenly among the apps sharing its runs (what
      // they pay together when all run on a frame), its memory and load among all the apps on
      // it (one cache entry): less than any schedule pays, so the bound stays a bound. Its
      // latency counts whole. A fragment may also load on demand while the trunk stays cached.
      const TrunkCost& tc = app.trunk_cost;
      const double k = std::max(tc.sharers, 1), on = std::max(tc.on_trunk, 1);
      const size_t n = cand.size();
      cand.reserve(2 * n);
      for (size_t i = 0; i < n; ++i) {
        VariantCost& v = cand[i];
        if (v.accuracy >= 0) {
          VariantCost half = v;  // the trunk resident, the fragment paged: counted as paged with the trunk's bytes
          half.exec_j += tc.exec_j / k + v.load_j;
          half.exec_s += tc.exec_s + v.load_s;
          half.bytes = static_cast<int64_t>(static_cast<double>(tc.bytes) / on);
          half.load_s = half.load_j = 0;
          half.cloud_s = half.cloud_usd = std::numeric_limits<double>::infinity();
          half.set = -2;  // marks the extra option below
          cand.push_back(half);
        }
        VariantCost& w = cand[i];
        w.exec_j += tc.exec_j / k;
        w.exec_s += tc.exec_s;
        w.bytes += static_cast<int64_t>(static_cast<double>(tc.bytes) / on);
        w.load_j += tc.load_j / on;
        w.load_s += tc.load_s;
      }
    }
    std::vector<Option> o;
    for (const auto& v : cand) {
      if (v.accuracy < 0) continue;  // a cascade of another set
      if (v.accuracy < app.min_accuracy) continue;  // below the app's minimum: no policy answers with it
      const bool fits = static_cast<double>(v.bytes) <= S;
      if (v.set == -2) {  // a fragment paged in beside its resident trunk (above)
        if (fits && v.exec_s <= L && v.exec_j <= E) o.push_back({v.accuracy, v.exec_j, 0, static_cast<double>(v.bytes), 1});
        continue;
      }
      if (fits && v.exec_s <= L && v.exec_j <= E) o.push_back({v.accuracy, v.exec_j, 0, static_cast<double>(v.bytes), 0});
      if (fits && v.load_s + v.exec_s <= L && v.exec_j + v.load_j <= E) o.push_back({v.accuracy, v.exec_j + v.load_j, 0, 0, 1});
      if (s.cloud.present && s.cloud.round_trip_s + v.cloud_s <= L && v.cloud_usd <= D && s.cloud.transmission_j <= E)
        o.push_back({v.accuracy, s.cloud.transmission_j, v.cloud_usd, 0, 2});
    }
    opts[g] = prune(std::move(o));
  }
  std::vector<Bucket> buckets;
  for (size_t i = 0; i < groups.size(); ++i) {
    auto& g = gaps[i];
    if (g.empty()) continue;
    std::sort(g.begin(), g.end());
    const size_t n = g.size(), nb = std::min<size_t>(n, static_cast<size_t>(std::max(1, buckets_per_app)));
    for (size_t b = 0; b < nb; ++b) {
      const size_t lo = b * n / nb, hi = (b + 1) * n / nb;
      if (hi > lo) buckets.push_back({g[lo], static_cast<double>(hi - lo), static_cast<int>(i)});
    }
  }

  auto dual = [&](double lam, double mu, double nu, double* shares) {
    double total = (lam > 0 ? lam * E : 0) + (mu > 0 ? mu * D : 0) + (nu > 0 ? nu * ST : 0);
    for (const auto& b : buckets) {
      double best = 0;
      int kind = 3;
      for (const auto& o : opts[static_cast<size_t>(b.group)]) {
        const double v = o.value - (lam > 0 ? lam * o.energy : 0) - (mu > 0 ? mu * o.usd : 0) - (nu > 0 ? nu * o.bytes * b.gap : 0);
        if (v > best) best = v, kind = o.kind;
      }
      total += b.count * best;
      if (shares) shares[kind] += b.count;
    }
    ++res.evaluations;
    return total;
  };

  // Price ranges: at the minimum L <= L(0,0,0) <= K, so lambda E <= K etc.
  const double K = static_cast<double>(trace.size());
  bool any_cloud = false, any_resident = false;
  for (const auto& o : opts)
    for (const auto& x : o) any_cloud = any_cloud || x.kind == 2, any_resident = any_resident || x.kind == 0;
  const double lam_hi = E > 0 ? K / E : 0, mu_hi = (any_cloud && D > 0) ? K / D : 0, nu_hi = (any_resident && ST > 0) ? K / ST : 0;
  const int it = 48;
  double best_lam = 0, best_mu = 0, best_nu = 0;
  auto over_nu = [&](double lam, double mu, double* arg) {
    auto r = golden([&](double nu) { return dual(lam, mu, nu, nullptr); }, 0, nu_hi, nu_hi > 0 ? it : 0);
    if (arg) *arg = r.second;
    return r.first;
  };
  auto over_mu = [&](double lam, double* mu_arg, double* nu_arg) {
    auto r = golden([&](double mu) { return over_nu(lam, mu, nullptr); }, 0, mu_hi, mu_hi > 0 ? it : 0);
    if (mu_arg) *mu_arg = r.second;
    if (nu_arg) over_nu(lam, r.second, nu_arg);
    return r.first;
  };
  auto r = golden([&](double lam) { return over_mu(lam, nullptr, nullptr); }, 0, lam_hi, lam_hi > 0 ? it : 0);
  best_lam = r.second;
  over_mu(best_lam, &best_mu, &best_nu);
  double shares[4] = {0, 0, 0, 0};
  res.bound = std::min(r.first, dual(best_lam, best_mu, best_nu, shares));
  res.bound = std::min(res.bound, K);  // never more than every request right
  res.lambda = best_lam, res.mu = best_mu, res.nu = best_nu;
  if (K > 0) {
    res.share_resident = shares[0] / K, res.share_paged = shares[1] / K, res.share_cloud = shares[2] / K, res.share_drop = shares[3] / K;
  }
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace mcdnn::rt
