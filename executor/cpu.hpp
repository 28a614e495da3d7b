// What the CPU running the executor can do, decided at run time: the shipped binary runs on any
// x86-64 and takes the widest instruction set the machine has.
//   scalar   plain C++ (SSE2 at most, what every x86-64 has)
//   avx2     AVX2 + FMA + F16C: int8 as 16-bit multiply-adds, codebooks by decode + FMA
//   avx512   AVX-512 F/BW/VNNI + F16C: int8 dot products with VPDPBUSD, codebook lookup
//            with VPERMPS (4-bit, 2-bit) or gathers (8-bit)
// MCDNN_ISA=scalar|avx2|avx512 forces a narrower set (tests run every path this way); asking
// for one the CPU lacks is an error.
#pragma once
#include <string>

namespace mcdnn::exec {

enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2 };

const char* isa_name(Isa isa);
// The widest set this CPU supports.
Isa detected_isa();
// detected_isa(), narrowed by MCDNN_ISA when set. Throws Error(Usage) for an unknown or
// unsupported value.
Isa active_isa();
bool isa_supported(Isa isa);
// "AMD EPYC 9554 64-Core Processor" (from /proc/cpuinfo), or "unknown".
std::string cpu_model();

}  // namespace mcdnn::exec
