// Scenario families: seeded random scenarios nobody tuned the scheduler for, and every policy
// run on each against the oracle's bound and the offline reference (docs/runtime.md
// "Scenario families"). tools/bench_family runs hundreds; tests/test_family.cpp a few dozen.
//
// A case draws, from its own seed:
//   apps       2 or 3, each a catalog of the pool (with replacement) on a device that runs it
//              0.5-3x as slow as the catalog was measured (execution and loading, time and
//              energy); requests steady (0.05-5 /s, log-uniform) or in 2-3 repeating phases of
//              5-20 min (0.01-5 /s each, a quarter of them nearly idle)
//   device     cache 300 KB - 8 MB, energy 2 - 50 J over the hour, latency limit 50 ms - 1 s
//              (all log-uniform); the apps' default minimum accuracy
//   cloud      half the cases: round trip 30-300 ms, server 0.2-1x the catalog's latency,
//              1-10 mJ to send a request, $1.8e-7 - $1.8e-4 per server ms, $0.0005 - $0.05 over
//              the hour
// The horizon is one hour. A pool entry is a measured catalog (loaded once) or a synthetic one
// (synthetic_catalog(): the shapes of this project's catalogs, drawn from a seed).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "app.hpp"
#include "run.hpp"
#include "scenario.hpp"

namespace mcdnn::rt {

struct PoolEntry {
  std::string name;  // the catalog directory, or "synthetic-<seed>"
  App app;           // costs as measured, cloud priced at $1 per server ms and latency factor 1
};

// A catalog directory as a pool entry (load_app()'s errors).
PoolEntry pool_catalog(const std::string& dir);
// A synthetic catalog: 10-40 variants of a base of 0.1-8 MB, 0.5-8 mJ and 0.2-1.5 ms per
// request, 3-10 classes, variants from 1% to 100% of its bytes and 25% to 100% of its
// execution, accuracy falling with compression (some far, to near chance), loads of 10 mJ +
// 10 mJ per MB and 2 ms per MB; the base, knee and default minimum as for a catalog.
PoolEntry synthetic_catalog(uint64_t seed);

struct FamilyCase {
  Scenario scenario;
  std::vector<App> apps;
  std::string summary;  // one line: what was drawn
};

// Case `index` of the family with seed `seed` over `pool` (the same arguments, the same case).
FamilyCase make_case(const std::vector<PoolEntry>& pool, uint64_t seed, int index);

struct PolicyOutcome {
  std::string policy;
  double points = 0;        // 100 x expected accuracy summed over requests / requests
  double served = 0;        // share of requests served
  double loads_per_hour = 0;
  double energy_j = 0;
  double schedule_ns = 0;   // per decision
};

struct CaseOutcome {
  double bound_points = 0;      // the oracle's bound, same units
  double reference_points = 0;  // the offline reference (a schedule that really serves the trace)
  double reference_loads_per_hour = 0;
  int64_t requests = 0;
  std::vector<PolicyOutcome> policies;
  const PolicyOutcome* find(const std::string& p) const;
};

// Runs `policies` (mcdnn-run's names, not "oracle"), the oracle and the reference on one trace
// of the case (its scenario's seed), simulated.
CaseOutcome run_case(const FamilyCase& c, const std::vector<std::string>& policies);

}  // namespace mcdnn::rt
