#include "planner.hpp"

#include "golden.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>

namespace mcdnn::rt {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// One combination: per app, the device options resident (indices into PlanApp::device).
using Combo = std::vector<std::vector<int>>;

struct Lp {
  bool feasible = false;
  double value = 0, energy = 0, usd = 0, loads = 0;
  std::vector<std::vector<PlanShare>> shares;
};

class Solver {
 public:
  explicit Solver(const PlanProblem& p) : p_(p) {
    const size_t n = p.apps.size();
    by_bytes_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const PlanApp& a = p.apps[i];
      // Undominated device options (accuracy, energy, bytes with trunk, load), by bytes.
      std::vector<int> keep;
      for (size_t j = 0; j < a.device.size(); ++j) {
        const PlanOption& x = a.device[j];
        bool dominated = false;
        for (size_t k = 0; k < a.device.size() && !dominated; ++k) {
          if (k == j) continue;
          const PlanOption& y = a.device[k];
          const bool geq = y.accuracy >= x.accuracy && y.energy_j <= x.energy_j && y.bytes <= x.bytes && y.load_j <= x.load_j;
          const bool strict = y.accuracy > x.accuracy || y.energy_j < x.energy_j || y.bytes < x.bytes || y.load_j < x.load_j;
          dominated = geq && (strict || k < j);
        }
        if (!dominated) keep.push_back(static_cast<int>(j));
      }
      std::stable_sort(keep.begin(), keep.end(), [&](int x, int y) { return a.device[x].bytes < a.device[y].bytes; });
      by_bytes_[i] = keep;
    }
    groups_.resize(static_cast<size_t>(std::max(p.groups, 1)));
    for (size_t i = 0; i < n; ++i) groups_[static_cast<size_t>(std::clamp(p.apps[i].group, 0, std::max(p.groups, 1) - 1))].push_back(i);
  }

  // Combinations the energy prices lead to (step 1), and the dual's minimizer.
  std::vector<Combo> candidates(double* lambda_out) {
    std::map<Combo, int> seen;
    std::vector<Combo> out;
    auto note = [&](const Combo& c) {
      if (seen.emplace(c, 0).second) out.push_back(c);
    };
    double hi = 0;
    for (const PlanApp& a : p_.apps) {
      for (const PlanOption& o : a.device)
        if (o.energy_j > 0) hi = std::max(hi, o.accuracy / o.energy_j);
      for (const PlanOption& o : a.cloud)
        if (o.energy_j > 0) hi = std::max(hi, o.accuracy / o.energy_j);
    }
    Combo c;
    // Twice: with the cloud at no dollar price, and without the cloud (its dollars may run out:
    // then the device residents must carry the app); the exact step weighs both.
    double arg = 0;
    for (int pass = 0; pass < (any_cloud() ? 2 : 1); ++pass) {
      const bool cloud = pass == 0;
      auto dual = [&](double lam) {
        const double v = best_combo(lam, cloud, &c);
        note(c);
        return lam * std::max(p_.energy_j, 0.0) + v;
      };
      const double at = golden(dual, 0, hi * 1.01 + 1e-12, 36).second;
      if (pass == 0) arg = at;
    }
    if (lambda_out) *lambda_out = arg;
    return out;
  }

  // The exact shares for residents `c` (step 2).
  Lp solve(const Combo& c) const {
    Lp r;
    double loads = 0;
    if (!fits_and_loads(c, &loads)) return r;
    const double budget = p_.energy_j - loads;
    if (budget < 0) return r;
    r = shares(c, budget, 0);
    if (r.usd > p_.usd * (1 + 1e-9) + 1e-15) {
      double hi = 0;
      for (const PlanApp& a : p_.apps)
        for (const PlanOption& o : a.cloud)
          if (o.usd > 0) hi = std::max(hi, o.accuracy / o.usd);
      double lo = 0;
      hi = hi * 1.01 + 1e-12;
      Lp at_hi = shares(c, budget, hi), at_lo = std::move(r);
      for (int it = 0; it < 40; ++it) {
        const double mid = 0.5 * (lo + hi);
        Lp m = shares(c, budget, mid);
        if (m.usd <= p_.usd * (1 + 1e-9)) hi = mid, at_hi = std::move(m);
        else lo = mid, at_lo = std::move(m);
      }
      // At the price where the dollars bind, the optimum mixes the two sides: the convex
      // combination that spends exactly the dollars (both sides keep to the energy).
      const double span = at_lo.usd - at_hi.usd;
      const double th = span > 0 ? std::clamp((p_.usd - at_hi.usd) / span, 0.0, 1.0) : 0;
      r = mix(at_lo, at_hi, th);
    }
    r.energy += loads;
    r.loads = loads;
    r.feasible = true;
    return r;
  }

  // th x a + (1 - th) x b, shares merged per option.
  static Lp mix(const Lp& a, const Lp& b, double th) {
    Lp r;
    r.value = th * a.value + (1 - th) * b.value;
    r.energy = th * a.energy + (1 - th) * b.energy;
    r.usd = th * a.usd + (1 - th) * b.usd;
    r.shares.resize(a.shares.size());
    for (size_t i = 0; i < a.shares.size(); ++i) {
      auto add = [&](const PlanShare& x, double w) {
        if (w * x.share <= 0) return;
        for (PlanShare& y : r.shares[i])
          if (y.option == x.option && y.cloud == x.cloud) {
            y.share += w * x.share;
            return;
          }
        r.shares[i].push_back({x.option, x.cloud, w * x.share});
      };
      for (const PlanShare& x : a.shares[i]) add(x, th);
      for (const PlanShare& x : b.shares[i]) add(x, 1 - th);
    }
    return r;
  }

  // Tries a second resident device option for each app where the cache has room.
  void widen(Combo& c, Lp& best) const {
    for (size_t i = 0; i < c.size(); ++i) {
      if (c[i].size() != 1) continue;
      Combo tried = c;
      for (int j : by_bytes_[i]) {
        if (j == c[i][0]) continue;
        tried[i] = {c[i][0], j};
        Lp l = solve(tried);
        // Only a real gain, and only when the second variant serves: a resident with no share
        // would be a load for nothing.
        bool serves = false;
        for (const PlanShare& x : l.shares.empty() ? std::vector<PlanShare>{} : l.shares[i]) serves = serves || (!x.cloud && x.option == j && x.share > 1e-9);
        if (l.feasible && serves && l.value > best.value * (1 + 1e-9) + 1e-9) best = std::move(l), c = tried;
      }
    }
  }

 private:
  // The best combination at energy price lam (staircases within the cache, per group).
  bool any_cloud() const {
    for (const PlanApp& a : p_.apps)
      if (!a.cloud.empty()) return true;
    return false;
  }

  double best_combo(double lam, bool with_cloud, Combo* out) const {
    const size_t n = p_.apps.size();
    out->assign(n, {});
    double total = 0;
    std::vector<std::vector<std::pair<int, double>>> stairs(n);
    for (size_t i = 0; i < n; ++i) {
      const PlanApp& a = p_.apps[i];
      double cb = 0;
      if (with_cloud)
        for (const PlanOption& o : a.cloud) cb = std::max(cb, o.accuracy - lam * o.energy_j);
      const double none = a.requests * cb;
      auto& s = stairs[i];
      s.push_back({-1, none});
      double top = none;
      for (int j : by_bytes_[i]) {
        const PlanOption& o = a.device[static_cast<size_t>(j)];
        // In a frame group the trunk runs for the others anyway: valued at its fragment alone
        // (the exact step prices the tuples).
        const double e = a.frame_group >= 0 ? o.energy_j - o.trunk_share_j : o.energy_j;
        const double v = a.requests * std::max({o.accuracy - lam * e, cb, 0.0}) - lam * (o.load_j + o.trunk_load_j);
        if (v > top + 1e-12) s.push_back({j, v}), top = v;
      }
    }
    for (const auto& g : groups_) {
      std::vector<int> pick(g.size(), -1), best_pick(g.size(), -1);
      double best = -kInf;
      std::vector<double> rest(g.size() + 1, 0);  // the most the apps from k on can add
      for (size_t k = g.size(); k-- > 0;) rest[k] = rest[k + 1] + stairs[g[k]].back().second;
      std::vector<int> trunks;
      std::function<void(size_t, int64_t, double)> dfs = [&](size_t k, int64_t left, double v) {
        if (v + rest[k] <= best) return;
        if (k == g.size()) {
          best = v, best_pick = pick;
          return;
        }
        const PlanApp& a = p_.apps[g[k]];
        const auto& s = stairs[g[k]];
        for (size_t m = s.size(); m-- > 0;) {  // the most valuable first
          const int j = s[m].first;
          int64_t need = 0;
          bool new_trunk = false;
          if (j >= 0) {
            const PlanOption& o = a.device[static_cast<size_t>(j)];
            need = o.bytes;
            if (o.trunk >= 0 && std::find(trunks.begin(), trunks.end(), o.trunk) == trunks.end()) need += o.trunk_bytes, new_trunk = true;
          }
          if (need > left) continue;
          pick[k] = j;
          if (new_trunk) trunks.push_back(a.device[static_cast<size_t>(j)].trunk);
          dfs(k + 1, left - need, v + s[m].second);
          if (new_trunk) trunks.pop_back();
        }
      };
      dfs(0, p_.cache_bytes, 0);
      for (size_t k = 0; k < g.size(); ++k)
        if (best_pick[k] >= 0) (*out)[g[k]] = {best_pick[k]};
      total += best;
    }
    return total;
  }

  // Whether each group's residents fit the cache; the energy their loads take.
  bool fits_and_loads(const Combo& c, double* loads) const {
    *loads = 0;
    for (const auto& g : groups_) {
      int64_t bytes = 0;
      std::vector<int> trunks;
      for (size_t i : g) {
        const PlanApp& a = p_.apps[i];
        for (int j : c[i]) {
          const PlanOption& o = a.device[static_cast<size_t>(j)];
          bytes += o.bytes;
          // Offline: a variant resident for the same app in the previous segment stays loaded.
          bool was = false;
          if (a.prev >= 0)
            for (int k : c[static_cast<size_t>(a.prev)])
              was = was || p_.apps[static_cast<size_t>(a.prev)].device[static_cast<size_t>(k)].variant == o.variant;
          if (!was) *loads += o.load_j;
          if (o.trunk >= 0 && std::find(trunks.begin(), trunks.end(), o.trunk) == trunks.end()) {
            trunks.push_back(o.trunk);
            bytes += o.trunk_bytes;
            if (!was) *loads += o.trunk_load_j;
          }
        }
      }
      if (bytes > p_.cache_bytes) return false;
    }
    return true;
  }

  // Exact for one constraint: the hulls' segments by accuracy per joule, energy `budget`,
  // dollars priced at mu.
  Lp shares(const Combo& c, double budget, double mu) const {
    Lp r;
    const size_t n = p_.apps.size();
    // Units: an app, or the apps of one frame group (fragments on one trunk, same frames), whose
    // options are tuples (one per app) paying the trunk's run once when any of them runs on the
    // device.
    struct UPoint {
      double e, v;
      size_t first;  // its picks: picks[first .. first + unit size)
    };
    struct Pick {
      int option;
      bool cloud;
    };
    std::vector<Pick> picks;
    std::vector<std::vector<size_t>> units;
    {
      std::vector<int> seen_group;
      for (size_t i = 0; i < n; ++i) {
        const int g = p_.apps[i].frame_group;
        if (g < 0) {
          units.push_back({i});
          continue;
        }
        if (std::find(seen_group.begin(), seen_group.end(), g) != seen_group.end()) continue;
        seen_group.push_back(g);
        std::vector<size_t> u;
        for (size_t k = i; k < n; ++k)
          if (p_.apps[k].frame_group == g) u.push_back(k);
        units.push_back(u);
      }
    }
    const size_t U = units.size();
    std::vector<double> requests(U, 0);
    struct Seg {
      size_t unit;
      int k;  // hull index it leads to
      double slope, de;
    };
    std::vector<std::vector<UPoint>> hull(U);
    std::vector<Seg> segs;
    for (size_t u = 0; u < U; ++u) {
      const auto& apps = units[u];
      // Each app's own points: (energy without the trunk's run, value, pick).
      struct Own {
        double e, v, trunk;
        Pick pick;
      };
      std::vector<std::vector<Own>> own(apps.size());
      for (size_t m = 0; m < apps.size(); ++m) {
        const PlanApp& a = p_.apps[apps[m]];
        requests[u] = std::max(requests[u], a.requests);
        auto& o = own[m];
        o.push_back({0, 0, 0, {-1, false}});
        for (int j : c[apps[m]]) {
          const PlanOption& d = a.device[static_cast<size_t>(j)];
          const bool grouped = apps.size() > 1;
          o.push_back({grouped ? d.energy_j - d.trunk_share_j : d.energy_j, d.accuracy, grouped ? d.trunk_exec_j : 0, {j, false}});
        }
        for (size_t j = 0; j < a.cloud.size(); ++j)
          o.push_back({a.cloud[j].energy_j, a.cloud[j].accuracy - mu * a.cloud[j].usd, 0, {static_cast<int>(j), true}});
      }
      std::vector<UPoint> pts;
      std::vector<size_t> idx(apps.size(), 0);
      for (;;) {  // every tuple
        UPoint q{0, 0, picks.size()};
        double trunk = 0;
        for (size_t m = 0; m < apps.size(); ++m) {
          const Own& x = own[m][idx[m]];
          q.e += x.e, q.v += x.v, trunk = std::max(trunk, x.trunk);
          picks.push_back(x.pick);
        }
        q.e += trunk;
        pts.push_back(q);
        size_t m = 0;
        while (m < apps.size() && ++idx[m] == own[m].size()) idx[m] = 0, ++m;
        if (m == apps.size()) break;
      }
      std::stable_sort(pts.begin(), pts.end(), [](const UPoint& x, const UPoint& y) { return x.e != y.e ? x.e < y.e : x.v > y.v; });
      // The upper concave hull from the best zero-energy point, value increasing.
      auto& h = hull[u];
      for (const UPoint& q : pts) {
        if (!h.empty() && q.v <= h.back().v) continue;
        if (!h.empty() && q.e == h.back().e) continue;
        while (h.size() >= 2) {
          const UPoint &p1 = h[h.size() - 2], &p2 = h.back();
          // p2 below the chord p1 -> q: not on the hull.
          if ((p2.v - p1.v) * (q.e - p1.e) <= (q.v - p1.v) * (p2.e - p1.e)) h.pop_back();
          else break;
        }
        h.push_back(q);
      }
      // Slopes non-increasing along the hull even after rounding: the sort below must keep each
      // unit's segments in order (a later one taken first would be paid for the wrong step).
      double prev = std::numeric_limits<double>::infinity();
      for (size_t k = 1; k < h.size(); ++k) {
        const double slope = std::min(prev, (h[k].v - h[k - 1].v) / (h[k].e - h[k - 1].e));
        prev = slope;
        segs.push_back({u, static_cast<int>(k), slope, h[k].e - h[k - 1].e});
      }
    }
    std::stable_sort(segs.begin(), segs.end(), [](const Seg& x, const Seg& y) { return x.slope > y.slope; });
    std::vector<int> at(U, 0);
    std::vector<double> theta(U, 0);
    double left = budget;
    for (size_t u = 0; u < U; ++u) left -= requests[u] * hull[u][0].e;  // zero in practice
    bool stop = left < 0;
    for (const Seg& sg : segs) {
      if (stop) break;
      const double need = requests[sg.unit] * sg.de;
      if (need <= left) {
        left -= need;
        at[sg.unit] = sg.k;
      } else {
        theta[sg.unit] = need > 0 ? left / need : 0;
        left = 0;
        stop = true;
      }
    }
    r.shares.resize(n);
    for (size_t u = 0; u < U; ++u) {
      const auto& apps = units[u];
      const auto& h = hull[u];
      auto add = [&](const UPoint& q, double w) {
        if (w <= 0) return;
        double trunk = 0;
        for (size_t m = 0; m < apps.size(); ++m) {
          const Pick& pk = picks[q.first + m];
          if (pk.option < 0) continue;
          const PlanApp& a = p_.apps[apps[m]];
          auto& sh = r.shares[apps[m]];
          bool merged = false;
          for (PlanShare& y : sh)
            if (y.option == pk.option && y.cloud == pk.cloud) y.share += w, merged = true;
          if (!merged) sh.push_back({pk.option, pk.cloud, w});
          const PlanOption& o = pk.cloud ? a.cloud[static_cast<size_t>(pk.option)] : a.device[static_cast<size_t>(pk.option)];
          const bool grouped = apps.size() > 1;
          r.value += a.requests * w * o.accuracy;
          r.energy += a.requests * w * (grouped && !pk.cloud ? o.energy_j - o.trunk_share_j : o.energy_j);
          r.usd += a.requests * w * o.usd;
          if (grouped && !pk.cloud) trunk = std::max(trunk, o.trunk_exec_j);
        }
        r.energy += requests[u] * w * trunk;
      };
      const size_t k = static_cast<size_t>(at[u]);
      if (theta[u] > 0 && k + 1 < h.size()) {
        add(h[k], 1 - theta[u]);
        add(h[k + 1], theta[u]);
      } else {
        add(h[k], 1);
      }
    }
    return r;
  }

  const PlanProblem& p_;
  std::vector<std::vector<int>> by_bytes_;
  std::vector<std::vector<size_t>> groups_;
};

}  // namespace

PlanResult solve_plan(const PlanProblem& p) {
  PlanResult out;
  const size_t n = p.apps.size();
  if (n == 0) return out;
  Solver s(p);
  std::vector<Combo> cands = s.candidates(&out.lambda);
  Combo keep(n);
  bool keep_valid = true;
  for (size_t i = 0; i < n; ++i) {
    keep[i] = p.apps[i].keep;
    for (int j : keep[i]) keep_valid = keep_valid && j >= 0 && static_cast<size_t>(j) < p.apps[i].device.size();
  }
  Combo best_c;
  Lp best;
  for (const Combo& c : cands) {
    Lp l = s.solve(c);
    ++out.candidates;
    if (l.feasible && (!best.feasible || l.value > best.value)) best = std::move(l), best_c = c;
  }
  if (!best.feasible) best_c.assign(n, {}), best = s.solve(best_c);
  s.widen(best_c, best);
  if (keep_valid && best_c != keep) {
    Lp k = s.solve(keep);
    if (k.feasible) {
      if (best.value <= k.value + p.switch_margin) {
        // Keeping; a second resident for an app (a load) only for a gain beyond the margin too.
        Combo kw = keep;
        Lp w = k;
        s.widen(kw, w);
        if (w.value > k.value + p.switch_margin) best = std::move(w), best_c = kw;
        else best = std::move(k), best_c = keep;
      }
    }
  }
  out.changed = best_c != keep;
  out.value = best.value;
  out.energy_j = best.energy;
  out.loads_j = best.loads;
  out.usd = best.usd;
  out.resident = best_c;
  out.shares = std::move(best.shares);
  return out;
}

}  // namespace mcdnn::rt
