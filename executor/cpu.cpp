#include "cpu.hpp"

#include <cstdlib>
#include <fstream>

#include "util/error.hpp"

namespace mcdnn::exec {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512-vnni";
  }
  return "?";
}

bool isa_supported(Isa isa) {
  __builtin_cpu_init();
  switch (isa) {
    case Isa::Scalar:
      return true;
    case Isa::Avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::Avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
             __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }
  return false;
}

Isa detected_isa() {
  if (isa_supported(Isa::Avx512)) return Isa::Avx512;
  if (isa_supported(Isa::Avx2)) return Isa::Avx2;
  return Isa::Scalar;
}

Isa active_isa() {
  const char* env = std::getenv("MCDNN_ISA");
  if (!env || !*env) return detected_isa();
  const std::string s = env;
  Isa want;
  if (s == "scalar") want = Isa::Scalar;
  else if (s == "avx2") want = Isa::Avx2;
  else if (s == "avx512" || s == "avx512-vnni") want = Isa::Avx512;
  else fail(ErrorClass::Usage, "MCDNN_ISA=" + s + ": expected scalar, avx2 or avx512 (or unset for the widest available)");
  if (!isa_supported(want))
    fail(ErrorClass::Usage, "MCDNN_ISA=" + s + ": this CPU does not support it (widest available: " +
                                isa_name(detected_isa()) + ")");
  return want;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        auto v = line.substr(colon + 1);
        auto b = v.find_first_not_of(" \t");
        return b == std::string::npos ? "unknown" : v.substr(b);
      }
    }
  }
  return "unknown";
}

}  // namespace mcdnn::exec
