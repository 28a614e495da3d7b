// The oracle: an upper bound on the total accuracy any scheduler could reach on a trace it
// knows in full — the "physical limit" mcdnn is measured against.
//
// The formulation (MobiSys'16 §4) as a linear program over the whole trace, relaxed so that
// every feasible schedule maps to a feasible point (so its optimum bounds every schedule):
// each request k of app i (gap g_k since app i's previous request, or since the start) is
// served, fractionally, by one option:
//   device, resident v   the variant stayed cached since app i's previous request:
//                        value a_v, energy exec_J(v), memory-time bytes(v) * g_k
//   device, paged v      loaded since then: value a_v, energy exec_J(v) + load_J(v)
//   cloud v              value a_v, energy transmission_J, dollars price(v)
//   drop                 nothing
// subject to: total energy <= E, total dollars <= D, total memory-time <= S * horizon (the
// cache never holds more than S, so the bytes x seconds of what stays cached are at most S*T).
// Every option must also be possible on its own: v fits the cache, and meets the latency limit
// (exec, load + exec when paged, round trip + server time in the cloud), and v is at least the
// app's minimum accuracy (App::min_accuracy: every policy drops a request rather than answer
// it with a less accurate variant, so the bound does not count such answers). A schedule's
// requests map to these options one to one, with at least its own costs, so the bound holds.
// Relaxed away: the first load of a variant that then stays resident, the device being busy,
// and integrality — the gap between the bound and a real schedule includes them.
//
// Solved through its Lagrangian dual: for prices (lambda, mu, nu) >= 0 on energy, dollars and
// memory-time,
//   L = lambda E + mu D + nu S T + sum_k max(0, max_options a - lambda e - mu d - nu m_k)
// is >= the LP optimum, and min over the prices equals it (LP duality). L is convex; nested
// golden-section searches minimize it. Gaps are grouped in per-app quantile buckets, each
// rounded down to its smallest gap (which only loosens memory: still a bound).
//
// Specialization: a request of a stream with class phases (`classes`) may also be served by the
// cascades of any specialized class set of the app's catalog, valued at their expected accuracy
// at that set's true share in the request's phase (options_under_skew()): the bound of a
// scheduler that knows the phases without having to detect a skew. It bounds expected accuracy
// at true shares; mcdnn-specialize's own expected accuracy uses the shares it observes, which
// may run above the truth. Streams from trace files (labels without phases) get no cascades.
#pragma once
#include <string>
#include <vector>

#include "app.hpp"
#include "scenario.hpp"
#include "trace.hpp"

namespace mcdnn::rt {

struct OracleResult {
  double bound = 0;  // upper bound on the sum over requests of the accuracy of the variant serving it
  int64_t requests = 0;
  double lambda = 0, mu = 0, nu = 0;  // the prices at the minimum found
  int64_t evaluations = 0;
  double seconds = 0;
  // At those prices, the share of requests each kind of option wins (a guide to the optimum's
  // mix, not an exact primal solution).
  double share_resident = 0, share_paged = 0, share_cloud = 0, share_drop = 0;
};

OracleResult oracle_bound(const Scenario& s, const std::vector<App>& apps, const std::vector<Request>& trace,
                          int buckets_per_app = 48);

}  // namespace mcdnn::rt
