#include "trace.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace mcdnn::rt {

namespace {

void poisson(const StreamSpec& st, int app, double horizon, Rng& rng, std::vector<Request>* out) {
  double cycle = 0;
  for (const auto& p : st.phases) cycle += p.duration_s;
  if (st.phases.size() == 1 && st.phases[0].duration_s == 0) cycle = 0;  // one constant rate
  double t0 = 0;
  while (t0 < horizon) {
    for (const auto& p : st.phases) {
      const double end = std::min(horizon, p.duration_s > 0 ? t0 + p.duration_s : horizon);
      if (!(end > t0)) return;  // a phase too short to advance time (the parser rejects these)
      if (p.rate > 0) {
        double t = t0;
        for (;;) {
          t += -std::log1p(-rng.uniform()) / p.rate;
          if (t >= end) break;
          out->push_back({t, app, -1});
        }
      }
      t0 = end;
      if (t0 >= horizon) break;
    }
    if (cycle <= 0) break;
  }
}

// Labels for the requests of app `app` in `out` from index `from`: by the class phases at
// each request's time (a separate generator: arrival times do not depend on the classes).
void label(const ClassSpec& cs, int app, size_t from, Rng& rng, std::vector<Request>* out) {
  if (cs.count <= 0) return;
  double cycle = 0;
  for (const auto& p : cs.phases) cycle += p.duration_s;
  std::vector<int> others;
  for (size_t k = from; k < out->size(); ++k) {
    Request& r = (*out)[k];
    if (r.app != app) continue;
    double t = std::fmod(r.t, cycle);
    size_t i = 0;
    while (i + 1 < cs.phases.size() && t >= cs.phases[i].duration_s) t -= cs.phases[i++].duration_s;
    const ClassPhase& p = cs.phases[i];
    const double u = rng.uniform(), v = rng.uniform();
    if (!p.dominant.empty() && u < p.share) {
      r.label = p.dominant[std::min(p.dominant.size() - 1, static_cast<size_t>(v * static_cast<double>(p.dominant.size())))];
    } else if (!p.dominant.empty()) {
      others.clear();
      for (int c = 0; c < cs.count; ++c)
        if (std::find(p.dominant.begin(), p.dominant.end(), c) == p.dominant.end()) others.push_back(c);
      r.label = others[std::min(others.size() - 1, static_cast<size_t>(v * static_cast<double>(others.size())))];
    } else {
      r.label = std::min(cs.count - 1, static_cast<int>(v * cs.count));
    }
  }
}

}  // namespace

std::vector<Request> read_trace_file(const std::string& path, int app, double horizon_s, const std::string& where) {
  std::string text;
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec))
    fail(ErrorClass::Scenario, where + ": trace: " + path + " is not a regular file; name a file of \"time_s[,label]\" lines");
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > (1ull << 31))
    fail(ErrorClass::Scenario, where + ": trace: " + path + " is " + std::to_string(size) + " bytes; at most 2 GiB (100,000,000 requests)");
  try {
    text = read_file(path, static_cast<int>(ErrorClass::Scenario));
  } catch (const Error& e) {
    fail(ErrorClass::Scenario, where + ": trace: " + e.what());
  }
  return parse_trace_text(text, path, app, horizon_s);
}

std::vector<Request> parse_trace_text(const std::string& text, const std::string& path, int app, double horizon_s) {
  std::vector<Request> out;
  size_t pos = 0;
  int line = 0;
  double last = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string l = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line;
    if (auto h = l.find('#'); h != std::string::npos) l.resize(h);
    while (!l.empty() && (l.back() == ' ' || l.back() == '\r' || l.back() == '\t')) l.pop_back();
    size_t b = 0;
    while (b < l.size() && (l[b] == ' ' || l[b] == '\t')) ++b;
    l = l.substr(b);
    if (l.empty()) continue;
    auto bad = [&](const std::string& what) {
      fail(ErrorClass::Scenario, path + ":" + std::to_string(line) + ": " + what + " (a line is \"time_s\" or \"time_s,label\")");
    };
    const char* s = l.c_str();
    char* end = nullptr;
    const double t = std::strtod(s, &end);
    if (end == s || !std::isfinite(t)) bad("expected a time in seconds, got '" + l + "'");
    int label = -1;
    std::string rest(end);
    if (!rest.empty()) {
      if (rest[0] != ',') bad("expected ',' or the end of the line after the time, got '" + rest + "'");
      const char* ls = rest.c_str() + 1;
      char* le = nullptr;
      const long v = std::strtol(ls, &le, 10);
      while (*le == ' ') ++le;
      if (le == ls || *le != '\0' || v < 0 || v > 1000000) bad("expected a class label (an integer >= 0) after ',', got '" + rest.substr(1) + "'");
      label = static_cast<int>(v);
    }
    if (t < 0 || t >= horizon_s)
      bad("time " + std::to_string(t) + " s is outside the horizon [0, " + std::to_string(horizon_s) + ") s; raise `horizon` or cut the trace");
    if (t < last) bad("time " + std::to_string(t) + " s is earlier than the line before (" + std::to_string(last) + " s); sort the trace");
    last = t;
    if (static_cast<double>(out.size()) >= kMaxRequests)
      bad("more than " + std::to_string(static_cast<int64_t>(kMaxRequests)) + " requests; split the trace");
    out.push_back({t, app, label});
  }
  return out;
}

std::vector<Request> make_trace(const Scenario& s, uint64_t seed) {
  std::vector<Request> all;
  for (size_t a = 0; a < s.apps.size(); ++a) {
    const StreamSpec& st = s.apps[a].stream;
    if (st.same_as_app >= 0) {
      const size_t n = all.size();
      for (size_t k = 0; k < n; ++k)
        if (all[k].app == st.same_as_app) all.push_back({all[k].t, static_cast<int>(a), -1, all[k].frame});
    } else if (!st.trace.empty()) {
      auto r = read_trace_file(st.trace, static_cast<int>(a), s.horizon_s, st.where);
      all.insert(all.end(), r.begin(), r.end());
    } else {
      Rng rng(seed * 0x100000001B3ull + a * 0x9E3779B97F4A7C15ull + 1);
      const size_t from = all.size();
      poisson(st, static_cast<int>(a), s.horizon_s, rng, &all);
      Rng classes(seed * 0x100000001B3ull + a * 0x9E3779B97F4A7C15ull + 0xC1A55E5ull);
      label(st.classes, static_cast<int>(a), from, classes, &all);
    }
    if (st.same_as_app < 0)
      for (size_t k = 0; k < all.size(); ++k)
        if (all[k].app == static_cast<int>(a)) all[k].frame = static_cast<int64_t>(k);
  }
  if (static_cast<double>(all.size()) > kMaxRequests)
    fail(ErrorClass::Scenario, s.path + ": the apps' streams make " + std::to_string(all.size()) +
                                   " requests in one trace; at most 100000000: shorten the trace files or the horizon");
  std::stable_sort(all.begin(), all.end(), [](const Request& x, const Request& y) {
    return x.t < y.t || (x.t == y.t && x.app < y.app);
  });
  return all;
}

}  // namespace mcdnn::rt
