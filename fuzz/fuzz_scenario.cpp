// libFuzzer harness: the scenario parser and the trace-file parser, as mcdnn-run runs them on a
// user's files.
//
// Input: a scenario's text, which is also parsed as a trace file's text (one input exercises
// both). parse_scenario_string() must return a scenario or throw mcdnn::Error of class
// Scenario whose message starts with the file name; parse_trace_text() the same. Any other
// exception, a crash, a sanitizer report, or an Error of another class is a finding. A scenario
// that parses has its Poisson streams generated over at most one hour (make_trace: its request
// count stays within the parser's limit, times in order and inside the horizon), every sweep
// point applied.
//
// Seeds: fuzz/corpus/scenario/ (scenarios/*.yaml, a trace file, edge cases).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "harness.hpp"
#include "scenario.hpp"
#include "trace.hpp"
#include "util/error.hpp"

namespace {
constexpr const char* kFile = "fuzz.yaml";
constexpr const char* kTrace = "fuzz.csv";

[[noreturn]] void finding(const std::string& what) { mcdnn_fuzz::finding("fuzz_scenario", what); }

void check_error(const mcdnn::Error& e, const char* file, const char* what) {
  if (mcdnn_fuzz::verbose()) std::fprintf(stderr, "fuzz_scenario: %s: %s\n", what, e.what());
  if (e.cls() != mcdnn::ErrorClass::Scenario)
    finding(std::string(what) + " threw error class " + std::to_string(e.exit_code()) + ", expected Scenario (8): " + e.what());
  if (std::string(e.what()).rfind(file, 0) != 0) finding(std::string(what) + ": error does not start with the file name: " + e.what());
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto r = mcdnn::rt::parse_trace_text(text, kTrace, 0, 3600);
    for (size_t i = 1; i < r.size(); ++i)
      if (r[i].t < r[i - 1].t) finding("trace times out of order");
  } catch (const mcdnn::Error& e) {
    check_error(e, kTrace, "parse_trace_text");
  }
  mcdnn::rt::Scenario s;
  try {
    s = mcdnn::rt::parse_scenario_string(text, kFile, "");
  } catch (const mcdnn::Error& e) {
    check_error(e, kFile, "parse_scenario_string");
    return 0;
  }
  // Generate the Poisson streams (trace-file apps would read files: skipped) over at most an hour.
  for (auto& a : s.apps)
    if (!a.stream.trace.empty()) a.stream.phases = {{0, 0}}, a.stream.trace.clear();
  const double horizon = s.horizon_s;
  s.horizon_s = std::min(s.horizon_s, 3600.0);
  const auto trace = mcdnn::rt::make_trace(s, s.seed);
  if (static_cast<double>(trace.size()) > mcdnn::rt::kMaxRequests) finding("more requests than the limit");
  for (size_t i = 0; i < trace.size(); ++i) {
    if (trace[i].t < 0 || trace[i].t >= s.horizon_s) finding("request outside the horizon");
    if (i && trace[i].t < trace[i - 1].t) finding("requests out of order");
  }
  for (double v : s.sweep.values) (void)mcdnn::rt::with_parameter(s, s.sweep.parameter, v);
  if (mcdnn_fuzz::verbose())
    std::fprintf(stderr, "fuzz_scenario: valid scenario '%s', %zu apps, %zu requests in the first %g s of %g\n", s.name.c_str(),
                 s.apps.size(), trace.size(), s.horizon_s, horizon);
  return 0;
}
