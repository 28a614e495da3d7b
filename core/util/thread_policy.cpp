#include "util/thread_policy.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace mcdnn {

namespace {
struct Sample {
  long long busy = 0, total = 0, mine = 0;
};

// All CPUs' busy and total jiffies (/proc/stat) and this process's user+system ticks.
bool sample(Sample* s) {
  std::ifstream st("/proc/stat");
  std::string cpu;
  long long v[10] = {0};
  if (!(st >> cpu) || cpu != "cpu") return false;
  for (auto& x : v) st >> x;
  s->total = 0;
  for (auto x : v) s->total += x;
  s->total -= v[8] + v[9];                 // guest time is already counted in user/nice
  s->busy = s->total - v[3] - v[4];       // minus idle and iowait
  std::ifstream self("/proc/self/stat");
  std::string line;
  std::getline(self, line);
  auto close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) stime = std::stoll(field);
  }
  s->mine = utime + stime;
  return true;
}

struct State {
  int max_threads = 1, threads = 1;
  bool adaptive = false;
  void (*apply)(int) = nullptr;
  Sample last;
  bool have_last = false;
  std::chrono::steady_clock::time_point last_time;
  double other = 0;
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
};
State& state() {
  static State s;
  return s;
}
}  // namespace

int default_threads(double flops_per_batch) {
  if (flops_per_batch < 1e8) return 1;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

void set_thread_budget(int max_threads, bool adaptive) {
  State& s = state();
  s.max_threads = s.threads = std::max(1, max_threads);
  s.adaptive = adaptive;
  s.have_last = sample(&s.last);
  s.last_time = std::chrono::steady_clock::now();
}

void set_thread_apply(void (*apply)(int)) { state().apply = apply; }

void adapt_threads() {
  State& s = state();
  auto now = std::chrono::steady_clock::now();
  if (now - s.last_time < std::chrono::milliseconds(500)) return;
  Sample cur;
  if (!sample(&cur)) return;
  if (s.have_last && cur.total > s.last.total) {
    // Jiffies of one core over the interval; what was busy and not ours belongs to others.
    double per_core = static_cast<double>(cur.total - s.last.total) / s.cores;
    double others = static_cast<double>((cur.busy - s.last.busy) - (cur.mine - s.last.mine)) / per_core;
    s.other = std::max(0.0, others);
    if (s.adaptive) {
      int free_cores = std::max(1, static_cast<int>(std::lround(static_cast<double>(s.cores) - s.other)));
      int want = std::min(s.max_threads, free_cores);
      if (want != s.threads && s.apply) s.apply(want);
      s.threads = want;
    }
  }
  s.last = cur;
  s.have_last = true;
  s.last_time = now;
}

int current_threads() { return state().threads; }
double other_cores_busy() { return state().other; }

}  // namespace mcdnn
