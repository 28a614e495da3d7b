#include "scenario.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "energy.hpp"
#include "util/units.hpp"
#include "util/fs.hpp"
#include "util/yaml_cursor.hpp"

namespace mcdnn::rt {

namespace {

double quantity(const Cursor& c, Quantity q) {
  if (!c.is_scalar()) c.expected(std::string(quantity_name(q)) + " (" + unit_list(q) + ")");
  double v = 0;
  std::string why;
  if (!parse_quantity(c.node().Scalar(), q, &v, &why)) c.expected(why);
  return v;
}

double positive(const Cursor& c, Quantity q) {
  const double v = quantity(c, q);
  if (v <= 0) c.expected(std::string(quantity_name(q)) + " > 0");
  return v;
}

std::string resolve(const std::string& base_dir, const std::string& p) {
  if (p.empty() || std::filesystem::path(p).is_absolute() || base_dir.empty()) return p;
  return (std::filesystem::path(base_dir) / p).string();
}

bool valid_name(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  for (char ch : n)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.')) return false;
  return true;
}

StreamSpec parse_stream(const Cursor& c, const std::string& base_dir) {
  StreamSpec s;
  s.where = c.where();
  c.require_map("a mapping with one of rate, phases, trace, same_as");
  c.only_keys({"rate", "phases", "trace", "classes", "same_as"});
  const int given = c.has("rate") + c.has("phases") + c.has("trace") + c.has("same_as");
  if (given != 1)
    c.fail_here("give exactly one of rate (Poisson arrivals), phases (Poisson with changing rates), trace (a file) or same_as "
                "(another app's frames)");
  if (auto sa = c.opt("same_as")) {
    s.same_as = sa->str();
    if (s.same_as.empty()) sa->expected("the name of an earlier app");
    if (c.has("classes")) c.at("classes").fail_here("a same_as stream takes its frames from another app; drop `classes`");
    return s;
  }
  if (auto r = c.opt("rate")) s.phases.push_back({0, quantity(*r, Quantity::Rate)});
  if (auto p = c.opt("phases")) {
    if (!p->is_seq() || p->node().size() == 0) p->expected("a non-empty list of {duration, rate}");
    for (size_t i = 0; i < p->node().size(); ++i) {
      auto e = p->index(i);
      e.require_map("a mapping {duration, rate}");
      e.only_keys({"duration", "rate"});
      auto d = e.at("duration");
      const double dur = quantity(d, Quantity::Time);
      if (dur < 1e-3) d.expected("a duration of at least 1ms");
      s.phases.push_back({dur, quantity(e.at("rate"), Quantity::Rate)});
    }
  }
  if (auto t = c.opt("trace")) s.trace = resolve(base_dir, t->str());
  if (auto k = c.opt("classes")) {
    if (!s.trace.empty()) k->fail_here("a trace file gives its requests' labels itself (\"time_s,label\" lines); drop `classes`");
    k->require_map("a mapping {count, phases: [{duration, dominant, share}, ...]}");
    k->only_keys({"count", "phases"});
    ClassSpec& cs = s.classes;
    cs.where = k->where();
    cs.count = static_cast<int>(k->at("count").integer(2, 1 << 20));
    auto ph = k->at("phases");
    if (!ph.is_seq() || ph.node().size() == 0) ph.expected("a non-empty list of {duration, dominant, share}");
    for (size_t i = 0; i < ph.node().size(); ++i) {
      auto e = ph.index(i);
      e.require_map("a mapping {duration, dominant, share} (no dominant: uniform over every class)");
      e.only_keys({"duration", "dominant", "share"});
      ClassPhase p;
      auto d = e.at("duration");
      p.duration_s = quantity(d, Quantity::Time);
      if (p.duration_s < 1) d.expected("a duration of at least 1s");
      if (auto dom = e.opt("dominant")) {
        if (!dom->is_seq() || dom->node().size() == 0) dom->expected("a non-empty list of class indices");
        std::set<int> seen;
        for (size_t j = 0; j < dom->node().size(); ++j) {
          const int c = static_cast<int>(dom->index(j).integer(0, cs.count - 1));
          if (!seen.insert(c).second) dom->index(j).fail_here("class " + std::to_string(c) + " is listed twice");
          p.dominant.push_back(c);
        }
        if (static_cast<int>(p.dominant.size()) >= cs.count) dom->fail_here("lists every class; leave some out, or drop `dominant` for uniform");
        p.share = e.at("share").number(0, 1);
      } else if (e.has("share")) {
        e.at("share").fail_here("share needs `dominant`, the classes it applies to");
      }
      cs.phases.push_back(std::move(p));
    }
  }
  return s;
}

// An accuracy: a fraction in [0, 1] (0.9) or a percentage in [0%, 100%] ("90%").
double accuracy_value(const Cursor& c) {
  const char* what = "an accuracy: a fraction in [0, 1] (0.9) or a percentage (90%)";
  if (!c.is_scalar()) c.expected(what);
  std::string t = c.node().Scalar();
  while (!t.empty() && t.back() == ' ') t.pop_back();
  const bool pct = !t.empty() && t.back() == '%';
  if (pct) t.pop_back();
  while (!t.empty() && t.back() == ' ') t.pop_back();
  char* end = nullptr;
  errno = 0;
  const double v = t.empty() ? 0 : std::strtod(t.c_str(), &end);
  if (t.empty() || *end != '\0' || !std::isfinite(v) || errno == ERANGE) c.expected(what);
  if (pct ? !(v >= 0 && v <= 100) : !(v >= 0 && v <= 1))
    c.expected(pct ? std::string("a percentage in [0%, 100%]") : std::string("a fraction in [0, 1] (or a percentage: 90%)"));
  return pct ? v / 100 : v;
}

DataRef parse_data(const Cursor& c, const std::string& base_dir) {
  DataRef d;
  d.where = c.where();
  c.require_map("a mapping with schema, or images and labels");
  c.only_keys({"schema", "images", "labels", "limit"});
  if (auto s = c.opt("schema")) {
    if (c.has("images") || c.has("labels")) c.fail_here("give either schema or images and labels, not both");
    d.schema = resolve(base_dir, s->str());
  } else {
    d.images = resolve(base_dir, c.at("images").str());
    d.labels = resolve(base_dir, c.at("labels").str());
  }
  if (auto l = c.opt("limit")) d.limit = l->integer(1, INT64_MAX);
  return d;
}

struct SweepTableRow {
  SweepParameter p;
  Quantity q;
};
const std::vector<SweepTableRow>& sweep_table() {
  static const std::vector<SweepTableRow> t = {
      {{"device.energy", "the energy budget E"}, Quantity::Energy},
      {{"device.cache", "the model cache S"}, Quantity::Bytes},
      {{"device.latency_limit", "the latency limit"}, Quantity::Time},
      {{"cloud.transmission_energy", "the device energy per cloud request"}, Quantity::Energy},
      {{"cloud.budget", "the dollar budget D"}, Quantity::Money},
      {{"rate_scale", "a factor on every Poisson rate (a plain number)"}, Quantity::Rate},  // parsed as a number
  };
  return t;
}

}  // namespace

const std::vector<std::string>& policy_names() {
  static const std::vector<std::string> p = {"mcdnn", "mcdnn-specialize", "mcdnn-greedy", "mcdnn-paper", "original", "best", "server-first", "reference", "oracle"};
  return p;
}

const std::vector<SweepParameter>& sweep_parameters() {
  static const std::vector<SweepParameter> p = [] {
    std::vector<SweepParameter> v;
    for (const auto& r : sweep_table()) v.push_back(r.p);
    return v;
  }();
  return p;
}

Scenario with_parameter(const Scenario& s0, const std::string& parameter, double value) {
  Scenario s = s0;
  if (parameter == "device.energy") s.device.energy_j = value;
  else if (parameter == "device.cache") s.device.cache_bytes = value;
  else if (parameter == "device.latency_limit") s.device.latency_limit_s = value;
  else if (parameter == "cloud.transmission_energy") s.cloud.transmission_j = value;
  else if (parameter == "cloud.budget") s.cloud.budget_usd = value;
  else if (parameter == "rate_scale") {
    for (auto& a : s.apps)
      for (auto& p : a.stream.phases) p.rate *= value;
  }
  return s;
}

Scenario parse_scenario_string(const std::string& text, const std::string& display_name, const std::string& base_dir) {
  Scenario s;
  s.path = display_name;
  YAML::Node root = load_yaml(text, display_name, ErrorClass::Scenario);
  if (!root.IsMap()) fail(ErrorClass::Scenario, display_name + ": expected a YAML mapping at the top level (format, name, apps, device, ...)");
  Cursor c(&s.path, root, "", ErrorClass::Scenario);
  auto fmt = c.at("format");
  const std::string want = "mcdnn-scenario/" + std::to_string(kScenarioVersion);
  if (fmt.str() != want)
    fmt.expected("'" + want + "' (this mcdnn-run reads scenario format version " + std::to_string(kScenarioVersion) + ")");
  c.only_keys({"format", "name", "seed", "horizon", "mode", "traces", "policy", "scheduler", "specialization", "device", "cloud", "apps",
               "sweep"});

  auto name = c.at("name");
  s.name = name.str();
  if (!valid_name(s.name)) name.expected("a name of letters, digits, '.', '_', '-' (at most 64)");
  if (auto e = c.opt("seed")) s.seed = static_cast<uint64_t>(e->integer(0, INT64_MAX));
  if (auto e = c.opt("horizon")) s.horizon_s = positive(*e, Quantity::Time);
  if (auto e = c.opt("mode")) s.mode = e->choice({"simulated", "real"});
  if (auto e = c.opt("traces")) s.traces = static_cast<int>(e->integer(1, 1000));
  if (auto e = c.opt("policy")) {
    s.policies.clear();
    auto one = [&](const Cursor& p) {
      const std::string n = p.str();
      bool known = false;
      std::string list;
      for (const auto& k : policy_names()) {
        known = known || k == n;
        list += (list.empty() ? "" : ", ") + k;
      }
      if (!known) p.expected("a policy: one of " + list);
      for (const auto& have : s.policies)
        if (have == n) p.fail_here("policy '" + n + "' is listed twice");
      s.policies.push_back(n);
    };
    if (e->is_seq()) {
      if (e->node().size() == 0) e->expected("a policy or a non-empty list of policies");
      for (size_t i = 0; i < e->node().size(); ++i) one(e->index(i));
    } else {
      one(*e);
    }
  }
  if (auto sc = c.opt("scheduler")) {
    sc->require_map("a mapping");
    sc->only_keys({"frequency_window"});
    if (auto w = sc->opt("frequency_window")) {
      s.frequency_window_s = quantity(*w, Quantity::Time);
      if (s.frequency_window_s < 1) w->expected("a duration of at least 1s");
    }
  }

  if (auto sp = c.opt("specialization")) {
    sp->require_map("a mapping {window, max_classes, min_share}");
    sp->only_keys({"window", "max_classes", "min_share"});
    if (auto e = sp->opt("window")) s.specialization.window = e->integer(1, 1000000);
    if (auto e = sp->opt("max_classes")) s.specialization.max_classes = e->integer(1, 1 << 20);
    if (auto e = sp->opt("min_share")) s.specialization.min_share = e->number(0, 1, true);
  }

  auto dev = c.at("device");
  dev.require_map("a mapping with cache, energy, latency_limit, profile");
  dev.only_keys({"cache", "energy", "latency_limit", "profile"});
  s.device.cache_bytes = quantity(dev.at("cache"), Quantity::Bytes);
  s.device.energy_j = quantity(dev.at("energy"), Quantity::Energy);
  if (auto e = dev.opt("latency_limit")) s.device.latency_limit_s = positive(*e, Quantity::Time);
  if (auto e = dev.opt("profile")) {
    s.device.profile = e->str();
    std::string known;
    bool ok = false;
    for (const auto& d : exec::device_profiles()) {
      ok = ok || s.device.profile == d.name;
      known += (known.empty() ? "" : ", ") + std::string(d.name);
    }
    if (!ok) e->expected("an energy-model device profile: one of " + known);
  }

  if (auto cl = c.opt("cloud")) {
    cl->require_map("a mapping with round_trip, price, transmission_energy, budget, latency_factor");
    cl->only_keys({"round_trip", "price", "transmission_energy", "budget", "latency_factor"});
    s.cloud.present = true;
    if (auto e = cl->opt("round_trip")) s.cloud.round_trip_s = quantity(*e, Quantity::Time);
    if (auto e = cl->opt("price")) s.cloud.usd_per_ms = quantity(*e, Quantity::Money);
    if (auto e = cl->opt("transmission_energy")) s.cloud.transmission_j = quantity(*e, Quantity::Energy);
    if (auto e = cl->opt("budget")) s.cloud.budget_usd = quantity(*e, Quantity::Money);
    if (auto e = cl->opt("latency_factor")) s.cloud.latency_factor = e->number(0, 1e6, true);
  }

  auto apps = c.at("apps");
  if (!apps.is_seq() || apps.node().size() == 0) apps.expected("a non-empty list of apps");
  std::set<std::string> names;
  for (size_t i = 0; i < apps.node().size(); ++i) {
    auto a = apps.index(i);
    a.require_map("a mapping with name, catalog, stream");
    a.only_keys({"name", "catalog", "stream", "data", "min_accuracy"});
    AppSpec app;
    app.where = a.where();
    auto n = a.at("name");
    app.name = n.str();
    if (!valid_name(app.name)) n.expected("a name of letters, digits, '.', '_', '-' (at most 64)");
    if (!names.insert(app.name).second) n.fail_here("app name '" + app.name + "' is used twice");
    app.catalog = resolve(base_dir, a.at("catalog").str());
    app.stream = parse_stream(a.at("stream"), base_dir);
    if (!app.stream.same_as.empty()) {
      // The same frames as an earlier app (sharing: every task on one camera's stream).
      auto sa = a.at("stream").at("same_as");
      for (size_t k = 0; k < s.apps.size(); ++k)
        if (s.apps[k].name == app.stream.same_as) app.stream.same_as_app = static_cast<int>(k);
      if (app.stream.same_as_app < 0) {
        std::vector<std::string> earlier;
        for (const auto& e : s.apps) earlier.push_back(e.name);
        sa.fail_here("'" + app.stream.same_as + "' is not an earlier app" + did_you_mean(app.stream.same_as, earlier) +
                     "; name an app listed before this one");
      }
      if (!s.apps[static_cast<size_t>(app.stream.same_as_app)].stream.same_as.empty())
        sa.fail_here("app '" + app.stream.same_as + "' takes its frames from '" + s.apps[static_cast<size_t>(app.stream.same_as_app)].stream.same_as +
                     "'; name that app instead");
    }
    if (auto m = a.opt("min_accuracy")) {
      app.min_accuracy = accuracy_value(*m);
      app.min_accuracy_where = m->where();
    }
    if (auto d = a.opt("data")) app.data = parse_data(*d, base_dir);
    else if (s.mode == "real")
      a.fail_here("mode real classifies images: give `data: {schema: SCHEMA}` (its validation set) or `data: {images: IDX, labels: IDX}`");
    s.apps.push_back(std::move(app));
  }

  if (auto sw = c.opt("sweep")) {
    sw->require_map("a mapping {parameter, values}");
    sw->only_keys({"parameter", "values"});
    auto p = sw->at("parameter");
    s.sweep.where = sw->where();
    s.sweep.parameter = p.str();
    const SweepTableRow* row = nullptr;
    std::string list;
    for (const auto& r : sweep_table()) {
      if (s.sweep.parameter == r.p.name) row = &r;
      list += (list.empty() ? "" : ", ") + std::string(r.p.name);
    }
    if (!row) p.expected("one of " + list);
    auto v = sw->at("values");
    if (!v.is_seq() || v.node().size() == 0) v.expected("a non-empty list of values");
    for (size_t i = 0; i < v.node().size(); ++i) {
      auto e = v.index(i);
      if (s.sweep.parameter == "rate_scale") s.sweep.values.push_back(e.number(0, 1e6, true));
      else if (s.sweep.parameter == "device.latency_limit") s.sweep.values.push_back(positive(e, row->q));
      else s.sweep.values.push_back(quantity(e, row->q));
    }
    if (s.sweep.parameter.rfind("cloud.", 0) == 0 && !s.cloud.present)
      p.fail_here("sweeps a cloud parameter but the scenario has no `cloud` section");
  }
  // Poisson streams: the expected number of requests (at the largest rate_scale swept) must be
  // one a trace can hold (trace.hpp, kMaxRequests = 1e8).
  double scale = 1;
  if (s.sweep.parameter == "rate_scale")
    for (double v : s.sweep.values) scale = std::max(scale, v);
  double total = 0;
  std::vector<double> expected(s.apps.size(), 0.0);
  for (size_t i = 0; i < s.apps.size(); ++i) {
    const StreamSpec& st = s.apps[i].stream;
    if (st.same_as_app >= 0) {
      total += expected[static_cast<size_t>(st.same_as_app)];
      if (!(total <= 1e8))
        fail(ErrorClass::Scenario, st.where + ": about " + std::to_string(static_cast<int64_t>(std::min(total, 9e18))) +
                                       " requests over the horizon (all apps so far, this one a copy of '" + st.same_as +
                                       "''s); a trace holds at most 100000000: lower the rates or the horizon");
      continue;
    }
    if (!st.trace.empty()) continue;
    double cycle = 0, per_cycle = 0;
    for (const auto& p : st.phases) cycle += p.duration_s, per_cycle += p.duration_s * p.rate;
    if (cycle > 0 && s.horizon_s / cycle > 1e7)
      fail(ErrorClass::Scenario, st.where + ": its phases repeat " + std::to_string(static_cast<int64_t>(std::min(s.horizon_s / cycle, 9e18))) +
                                     " times over the horizon; at most 10000000 cycles: make the phases longer");
    const double n = cycle > 0 ? per_cycle * std::ceil(s.horizon_s / cycle) : st.phases[0].rate * s.horizon_s;
    expected[i] = n * scale;
    total += n * scale;
    if (!(total <= 1e8))
      fail(ErrorClass::Scenario, st.where + ": about " + std::to_string(static_cast<int64_t>(std::min(total, 9e18))) +
                                     " requests over the horizon (all apps so far" + (scale > 1 ? ", at the largest rate_scale" : "") +
                                     "); a trace holds at most 100000000: lower the rates or the horizon");
  }
  for (const auto& pol : s.policies)
    if (pol == "server-first" && !s.cloud.present)
      c.at("policy").fail_here("policy server-first needs a `cloud` section");
  return s;
}

Scenario parse_scenario_file(const std::string& path) {
  const std::string text = read_file(path, static_cast<int>(ErrorClass::Scenario));
  return parse_scenario_string(text, path, std::filesystem::path(path).parent_path().string());
}

}  // namespace mcdnn::rt
