// A scenario: the apps (each a catalog and a request stream), the device, the cloud, the
// policies to compare and the seed. scenarios/README.md is the reference; parse_scenario_file()
// validates everything that can be checked without opening a catalog and reports the first
// problem as
//   scenario.yaml:12:5: device.cache: expected a size with one of the units B, KB, ..., got '12 parsecs'
// through Error(ErrorClass::Scenario).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mcdnn::rt {

constexpr int kScenarioVersion = 1;  // the `format` key: "mcdnn-scenario/1"

// Requests of one app: Poisson arrivals at a rate (one phase over the horizon), Poisson phases
// with their own rates (repeating until the horizon), or the times in a trace file.
struct Phase {
  double duration_s = 0, rate = 0;  // requests per second
};
// The true classes of a Poisson stream's requests (their labels): phases repeating until the
// horizon; in each, a `share` of the requests is drawn uniformly from `dominant` and the rest
// uniformly from the other classes (no dominant classes: uniform over all `count`).
struct ClassPhase {
  double duration_s = 0;
  std::vector<int> dominant;
  double share = 0;
};
struct ClassSpec {
  int count = 0;  // 0: the requests carry no label
  std::vector<ClassPhase> phases;
  std::string where;
};

struct StreamSpec {
  std::vector<Phase> phases;  // Poisson (one phase = a constant rate)
  std::string trace;          // a trace file: one request per line, "time_s[,label]"
  ClassSpec classes;          // Poisson streams: the labels
  std::string same_as;        // another app's name: this app's requests are that app's frames
  int same_as_app = -1;       // its index (an earlier app with a stream of its own)
  std::string where;          // "scenario.yaml:20:13: apps[1].stream"
};

// Where real mode takes the app's images: a schema's validation set (its relabelling applies),
// or IDX files.
struct DataRef {
  std::string schema;          // path to a schema, or ""
  std::string images, labels;  // IDX files (when no schema)
  int64_t limit = 0;           // at most this many images (0: all)
  std::string where;
};

struct AppSpec {
  std::string name;
  std::string catalog;  // catalog directory (relative paths: to the scenario file)
  StreamSpec stream;
  DataRef data;         // real mode only
  // The least accuracy a variant must have to answer this app's requests (a fraction): below
  // it a request is dropped instead of answered. -1: the default rule (app.hpp,
  // default_min_accuracy()); 0: no minimum.
  double min_accuracy = -1;
  std::string min_accuracy_where;  // "s.yaml:12:19: apps[0].min_accuracy" when the scenario sets it
  std::string where;
};

struct DeviceSpec {
  double cache_bytes = 0;        // S: model cache, bytes of resident weights
  double energy_j = 0;           // E: energy budget over the horizon
  double latency_limit_s = 1.0;  // a request must finish within this (load included on a miss)
  std::string profile;           // energy model device profile ("" = the catalog's)
};

struct CloudSpec {
  bool present = false;
  double round_trip_s = 0.1;
  double usd_per_ms = 1.8e-7;             // price of server time
  double transmission_j = 3.8e-3;         // device energy to send one request
  double budget_usd = 0.0667;             // D over the horizon
  double latency_factor = 1.0;            // server latency = catalog latency x factor
};

// One parameter a sweep varies; the table in scenario.cpp lists them.
struct SweepSpec {
  std::string parameter;       // "" = no sweep
  std::vector<double> values;  // in the parameter's base unit
  std::string where;
};

// Class-skew specialization (policy `mcdnn-specialize`; docs/runtime.md): an app's stream is
// skewed when, over its last `window` classified requests, the classes of one of its catalog's
// specialized class sets (at most `max_classes` of them) make up at least `min_share`: the
// paper's (n, p) dominance test against the sets the catalog has variants for.
struct SpecializationSpec {
  int64_t window = 200;
  int64_t max_classes = 7;
  double min_share = 0.8;
};

struct Scenario {
  std::string path;  // for messages
  std::string name;
  uint64_t seed = 1;
  double horizon_s = 36000;
  std::string mode = "simulated";  // simulated | real
  int traces = 1;                  // independent traces (seeds seed, seed+1, ...)
  std::vector<std::string> policies = {"mcdnn"};
  double frequency_window_s = 600;  // the scheduler's request-rate estimate window
  SpecializationSpec specialization;
  DeviceSpec device;
  CloudSpec cloud;
  std::vector<AppSpec> apps;
  SweepSpec sweep;
};

// The policies mcdnn-run knows, in the order reports list them.
const std::vector<std::string>& policy_names();

// The sweepable parameters: name, quantity, what it sets.
struct SweepParameter {
  const char* name;
  const char* meaning;
};
const std::vector<SweepParameter>& sweep_parameters();
// The scenario with `parameter` set to `value` (rate_scale multiplies every Poisson rate).
Scenario with_parameter(const Scenario& s, const std::string& parameter, double value);

Scenario parse_scenario_string(const std::string& text, const std::string& display_name, const std::string& base_dir);
Scenario parse_scenario_file(const std::string& path);

}  // namespace mcdnn::rt
