#include "energy.hpp"

#include <cstdio>

#include "util/error.hpp"

namespace mcdnn::exec {

const std::vector<DeviceProfile>& device_profiles() {
  static const std::vector<DeviceProfile> p = {
      {"epyc-zen4-core",
       "one core of an AMD EPYC Zen 4 server CPU (the machine kind mcdnn is built and measured on)",
       /*active_watts=*/5.6, /*j_per_flop=*/0.0, /*j_per_dram_byte=*/160e-12,
       /*load_fixed_j=*/0.0, /*j_per_storage_byte=*/1.7e-9,
       "P_active: 360 W TDP / 64 cores of an EPYC 9554 (AMD's published TDP; the per-core share of "
       "package power, an upper bound for one busy core); compute energy is inside P_active * t, so "
       "e_flop = 0; e_dram: 640 pJ per 32-bit DRAM read = 160 pJ/byte (Horowitz, ISSCC 2014, 45 nm, as "
       "quoted by Deep Compression); e_storage: an NVMe SSD reading 3.5 GB/s at about 6 W = 1.7 nJ/byte "
       "(typical datasheet figures)"},
      {"jetson-tk1-mcdnn",
       "the MCDNN prototype's Jetson TK1 (the paper's measured catalog, fitted)",
       /*active_watts=*/0.0, /*j_per_flop=*/1.27e-9, /*j_per_dram_byte=*/6e-9,
       /*load_fixed_j=*/3.6, /*j_per_storage_byte=*/28.9e-9,
       "least-squares fit of the 13 face-model variants the MCDNN prototype measured with a DC power "
       "analyser (Han et al., MobiSys 2016): execute = 1.27 J/GFLOP + 6 mJ/MB, load = 3.6 J + 28.9 "
       "mJ/MB; time does not enter (the fit absorbs it). Their implied power (15-27 W) exceeds a TK1's "
       "~10 W: use for relative comparisons with the paper"},
  };
  return p;
}

const DeviceProfile& device_profile(const std::string& name) {
  std::string known;
  for (const auto& d : device_profiles()) {
    if (name == d.name) return d;
    known += (known.empty() ? "" : ", ") + std::string(d.name);
  }
  fail(ErrorClass::Usage, "unknown device profile '" + name + "' (known: " + known + ")");
}

Energy estimate_energy(const DeviceProfile& d, double exec_seconds, double flops, int64_t weight_bytes,
                       double load_seconds, int64_t file_bytes) {
  Energy e;
  e.exec_j = d.active_watts * exec_seconds + d.j_per_flop * flops + d.j_per_dram_byte * static_cast<double>(weight_bytes);
  e.load_j = d.load_fixed_j + d.active_watts * load_seconds + d.j_per_storage_byte * static_cast<double>(file_bytes);
  return e;
}

std::string energy_formula(const DeviceProfile& d) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "%s, profile %s: exec_J = %g W * latency_s + %g J/FLOP * flops_effective + %g J/B * resident_bytes; "
                "load_J = %g J + %g W * load_cold_s + %g J/B * file bytes",
                kEnergyModel, d.name, d.active_watts, d.j_per_flop, d.j_per_dram_byte, d.load_fixed_j, d.active_watts,
                d.j_per_storage_byte);
  return buf;
}

}  // namespace mcdnn::exec
