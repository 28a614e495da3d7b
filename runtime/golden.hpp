// Golden-section search for the minimum of a convex function: the oracle's dual prices and the
// planner's energy price (oracle.cpp, planner.cpp).
#pragma once
#include <algorithm>
#include <functional>
#include <utility>

namespace mcdnn::rt {

// Golden-section search for the minimum of a convex f on [lo, hi]; returns the best value
// seen and its argument.
inline std::pair<double, double> golden(const std::function<double(double)>& f, double lo, double hi, int iters) {
  if (hi <= lo) return {f(lo), lo};
  const double r = 0.6180339887498949;
  double a = lo, b = hi, c = b - r * (b - a), d = a + r * (b - a);
  double fc = f(c), fd = f(d);
  double best = std::min(fc, fd), arg = fc <= fd ? c : d;
  for (int i = 0; i < iters; ++i) {
    if (fc <= fd) {
      b = d, d = c, fd = fc;
      c = b - r * (b - a);
      fc = f(c);
      if (fc < best) best = fc, arg = c;
    } else {
      a = c, c = d, fc = fd;
      d = a + r * (b - a);
      fd = f(d);
      if (fd < best) best = fd, arg = d;
    }
  }
  // The ends: a piecewise-linear convex function can be minimal at a boundary.
  for (double x : {lo, hi}) {
    const double v = f(x);
    if (v < best) best = v, arg = x;
  }
  return {best, arg};
}


}  // namespace mcdnn::rt
