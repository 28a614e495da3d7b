// bench_family: every policy on a seeded family of scenarios nobody tuned for (runtime/family.hpp),
// against the oracle's bound and the offline reference, simulated.
//
//   build/bench_family [--count N] [--seed S] [--catalog DIR]... [--synthetic K]
//                      [--policies a,b,...] [--worst K] [--csv FILE]
//
// The pool: each --catalog (a measured catalog directory) and K synthetic catalogs (default 4;
// 0 with catalogs given is allowed). Prints a progress line every 50 cases, then per policy: its
// points / the bound (min, p10, median; the share of cases at >= 0.9 and >= 0.8), the cases where
// it is more than a point below `best`, `original` or `server-first`, loads per hour (median, max,
// and the cases above twice the reference's), the scheduler's time per decision; then the K
// worst cases of the first policy, each with what was drawn.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "bench_main.hpp"
#include "family.hpp"

using namespace mcdnn;
using namespace mcdnn::rt;

const char kUsage[] =
    "bench_family [--count N] [--seed S] [--catalog DIR]... [--synthetic K] [--policies a,b,...] [--worst K] [--csv FILE] [--case I [--explain K]]\n"
    "  every policy on N seeded random scenarios (default 500, seed 1) over the catalogs given and K synthetic ones (default 4)";

namespace {

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5))];
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t p = 0;
  while (p <= s.size()) {
    const size_t q = s.find(',', p);
    out.push_back(s.substr(p, q == std::string::npos ? std::string::npos : q - p));
    if (q == std::string::npos) break;
    p = q + 1;
  }
  return out;
}

}  // namespace

int run_bench(int argc, char** argv) {
  int count = 500, synthetic = 4, worst = 8, only = -1;
  long long explain = -1;
  uint64_t seed = 1;
  std::vector<std::string> catalogs;
  std::vector<std::string> policies = {"mcdnn", "mcdnn-greedy", "mcdnn-paper", "original", "best", "server-first", "reference"};
  std::string csv;
  for (int i = 1; i < argc; ++i) {
    const bool more = i + 1 < argc;
    if (!std::strcmp(argv[i], "--count") && more) count = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--seed") && more) seed = std::strtoull(argv[++i], nullptr, 10);
    else if (!std::strcmp(argv[i], "--catalog") && more) catalogs.push_back(argv[++i]);
    else if (!std::strcmp(argv[i], "--synthetic") && more) synthetic = std::max(0, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--policies") && more) policies = split(argv[++i]);
    else if (!std::strcmp(argv[i], "--worst") && more) worst = std::max(0, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--csv") && more) csv = argv[++i];
    else if (!std::strcmp(argv[i], "--case") && more) only = std::max(0, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--explain") && more) explain = std::atoll(argv[++i]);
    else {
      reject_flag(argv[i]);
      throw BadFlag(std::string("unexpected argument '") + argv[i] + "'");
    }
  }
  for (const auto& p : policies)
    if (p == "oracle" || p == "mcdnn-specialize") throw BadFlag("--policies: '" + p + "' is not run on a family (the bound is always computed)");
  std::vector<PoolEntry> pool;
  for (const auto& c : catalogs) pool.push_back(pool_catalog(c));
  for (int k = 0; k < synthetic; ++k) pool.push_back(synthetic_catalog(static_cast<uint64_t>(k + 1)));
  if (pool.empty()) throw BadFlag("the pool is empty: give --catalog DIR or --synthetic K > 0");
  std::printf("bench_family: %d cases, seed %llu, pool:", count, static_cast<unsigned long long>(seed));
  for (const auto& e : pool) std::printf(" %s (%zu variants)", e.name.c_str(), e.app.variants.size());
  std::printf("\n");
  if (only >= 0) {  // one case in detail
    const FamilyCase c = make_case(pool, seed, only);
    std::printf("case %d: %s\n", only, c.summary.c_str());
    const CaseOutcome o = run_case(c, policies);
    std::printf("  %-14s %8.2f points\n", "oracle bound", o.bound_points);
    for (const auto& p : o.policies)
      std::printf("  %-14s %8.2f points, %5.1f%% served, %6.1f loads/h, %7.2f J\n", p.policy.c_str(), p.points, 100 * p.served,
                  p.loads_per_hour, p.energy_j);
    if (explain >= 0) {
      const std::vector<Request> trace = make_trace(c.scenario, c.scenario.seed);
      SimulatedBackend backend(c.scenario, c.apps, trace, c.scenario.seed);
      RunOptions opt;
      opt.explain = explain;
      opt.explain_out = stdout;
      run_policy(c.scenario, c.apps, trace, policies[0], backend, opt);
    }
    return 0;
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<FamilyCase> cases;
  std::vector<CaseOutcome> outs;
  for (int i = 0; i < count; ++i) {
    cases.push_back(make_case(pool, seed, i));
    outs.push_back(run_case(cases.back(), policies));
    if ((i + 1) % 50 == 0 || i + 1 == count) {
      std::vector<double> r;
      for (const auto& o : outs) r.push_back(o.bound_points > 0 ? o.policies[0].points / o.bound_points : 1);
      std::printf("  %4d cases, %.0f s: %s / bound median %.3f, min %.3f\n", i + 1,
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), policies[0].c_str(), quantile(r, 0.5),
                  quantile(r, 0));
      std::fflush(stdout);
    }
  }
  std::printf("\n%-14s %7s %7s %7s %7s %7s | %6s %6s %6s | %8s %8s %6s | %8s\n", "policy", "min", "p10", "median", ">=0.9", ">=0.8",
              "<best", "<orig", "<srv", "loads/h", "max", ">2xref", "ns/dec");
  for (size_t k = 0; k < policies.size(); ++k) {
    std::vector<double> ratio, loads, ns;
    int ge9 = 0, ge8 = 0, lose_best = 0, lose_orig = 0, lose_srv = 0, over_ref = 0;
    for (const auto& o : outs) {
      const PolicyOutcome& p = o.policies[k];
      const double r = o.bound_points > 0 ? p.points / o.bound_points : 1;
      ratio.push_back(r);
      ge9 += r >= 0.9, ge8 += r >= 0.8;
      auto below = [&](const char* b) {
        const PolicyOutcome* q = o.find(b);
        return q && q != &p && p.points < q->points - 1;
      };
      lose_best += below("best"), lose_orig += below("original"), lose_srv += below("server-first");
      loads.push_back(p.loads_per_hour);
      over_ref += p.loads_per_hour > 2 * std::max(o.reference_loads_per_hour, 1.0);
      ns.push_back(p.schedule_ns);
    }
    const double n = static_cast<double>(outs.size());
    std::printf("%-14s %7.3f %7.3f %7.3f %6.1f%% %6.1f%% | %6d %6d %6d | %8.1f %8.0f %6d | %8.0f\n", policies[k].c_str(), quantile(ratio, 0),
                quantile(ratio, 0.1), quantile(ratio, 0.5), 100 * ge9 / n, 100 * ge8 / n, lose_best, lose_orig, lose_srv,
                quantile(loads, 0.5), quantile(loads, 1), over_ref, quantile(ns, 0.5));
  }
  std::printf("(ratios: points / the oracle's bound; <best etc.: cases more than 1 point below that policy; >2xref: loads per hour above\n"
              " twice the reference's (at least 1); ns/dec: median scheduler time per decision)\n");
  if (worst > 0) {
    std::vector<size_t> idx(outs.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    auto r0 = [&](size_t i) { return outs[i].bound_points > 0 ? outs[i].policies[0].points / outs[i].bound_points : 1; };
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return r0(a) < r0(b); });
    std::printf("\nworst %d for %s:\n", worst, policies[0].c_str());
    for (int w = 0; w < worst && w < static_cast<int>(idx.size()); ++w) {
      const size_t i = idx[static_cast<size_t>(w)];
      const CaseOutcome& o = outs[i];
      std::printf("  #%zu %.3f: bound %.1f, %s %.1f (%.0f loads/h)", i, r0(i), o.bound_points, policies[0].c_str(), o.policies[0].points,
                  o.policies[0].loads_per_hour);
      for (size_t k = 1; k < policies.size(); ++k) std::printf(", %s %.1f", policies[k].c_str(), o.policies[k].points);
      std::printf("\n      %s, %lld requests\n", cases[i].summary.c_str(), static_cast<long long>(o.requests));
    }
  }
  if (!csv.empty()) {
    std::ofstream f(csv);
    f << "case,requests,bound";
    for (const auto& p : policies) f << "," << p << "," << p << "_loads_per_hour";
    f << ",summary\n";
    for (size_t i = 0; i < outs.size(); ++i) {
      f << i << "," << outs[i].requests << "," << outs[i].bound_points;
      for (const auto& p : outs[i].policies) f << "," << p.points << "," << p.loads_per_hour;
      f << ",\"" << cases[i].summary << "\"\n";
    }
    if (!f) fail(ErrorClass::Output, "cannot write " + csv);
  }
  return 0;
}

int main(int argc, char** argv) { return bench_main("bench_family", kUsage, argc, argv, run_bench); }
