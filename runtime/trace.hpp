// Request streams: each app's requests over the horizon, merged in time order.
//   rate / phases   Poisson arrivals (exponential gaps) at each phase's rate; the phases
//                   repeat until the horizon. Seeded: the same seed gives the same trace.
//   trace file      one request per line, "time_s" or "time_s,label" (label: the true class,
//                   used by real mode to draw an image of that class); '#' starts a comment;
//                   times non-decreasing, within [0, horizon).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "scenario.hpp"

namespace mcdnn::rt {

struct Request {
  double t = 0;    // seconds since the start
  int app = 0;     // index in Scenario::apps
  int label = -1;  // the true class when the trace gives it, else -1
  int64_t frame = -1;  // the input: requests of apps on one stream (same_as) share it, and with
                       // it a trunk's run (App::trunk); -1: a frame of its own
};

// Every app's stream, merged by time (ties: app order). An app with `same_as` gets a request
// for each of that app's, at the same time and with the same frame (no label: its classes are
// its own). Throws Error(Scenario) for a bad trace
// file, naming file:line.
std::vector<Request> make_trace(const Scenario& s, uint64_t seed);

// The requests of one trace file (app index `app`); `where` names the scenario entry.
std::vector<Request> read_trace_file(const std::string& path, int app, double horizon_s, const std::string& where);
// The same from its text; `display_name` starts every error message ("t.csv:12: ...").
std::vector<Request> parse_trace_text(const std::string& text, const std::string& display_name, int app, double horizon_s);

// At most this many requests in one trace (all apps): a scenario or trace asking for more is
// an error, not an out-of-memory.
constexpr double kMaxRequests = 1e8;

// A uniform double in [0, 1) from a 64-bit generator state (splitmix64): the same on every
// platform, unlike std:: distributions.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t s_;
};

}  // namespace mcdnn::rt
