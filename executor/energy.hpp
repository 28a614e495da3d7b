// The device energy model (version mcdnn-energy/1). This machine has no power counters (no
// RAPL), so energy is computed, never measured, from measured times and counted bytes/FLOPs:
//
//   E_exec = P_active * t_exec  +  e_flop * FLOPs  +  e_dram * weight bytes read
//   E_load = E_load_fixed  +  P_active * t_load  +  e_storage * file bytes
//
// t_exec is the measured batch-1 latency, t_load the measured cold load time; every weight
// byte is read from DRAM once per inference (the compressed bytes the executor holds), the
// file is read from storage once per load. Each device profile sets the constants and says
// where each comes from (docs/executor.md, "Energy"); a profile is chosen by name.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mcdnn::exec {

constexpr const char* kEnergyModel = "mcdnn-energy/1";

struct DeviceProfile {
  const char* name;
  const char* description;
  double active_watts;        // P_active: power drawn while this core computes
  double j_per_flop;          // e_flop
  double j_per_dram_byte;     // e_dram
  double load_fixed_j;        // E_load_fixed: opening the model, setting up
  double j_per_storage_byte;  // e_storage
  const char* sources;
};

const std::vector<DeviceProfile>& device_profiles();
// Throws Error(Usage) naming the known profiles.
const DeviceProfile& device_profile(const std::string& name);
constexpr const char* kDefaultDeviceProfile = "epyc-zen4-core";

struct Energy {
  double exec_j = 0, load_j = 0;
};
Energy estimate_energy(const DeviceProfile& d, double exec_seconds, double flops, int64_t weight_bytes,
                       double load_seconds, int64_t file_bytes);

// The formula with the profile's constants, for catalog.json.
std::string energy_formula(const DeviceProfile& d);

}  // namespace mcdnn::exec
