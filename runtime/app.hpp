// What the scheduler knows about each app: its catalog's variants as costs on this device and
// in the cloud. Built from catalog.json alone (no variant file is opened; real mode opens them
// when it loads a variant).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "catalog/catalog_index.hpp"
#include "scenario.hpp"

namespace mcdnn::rt {

struct VariantCost {
  std::string id;
  size_t record = 0;      // index in the catalog's records
  double accuracy = 0;    // validation top-1, [0, 1]
  int64_t bytes = 0;      // resident bytes once loaded: what the model cache accounts
  int64_t file_bytes = 0; // stored file (the energy model's load term)
  double flops = 0;       // effective FLOPs (the energy model's exec term)
  double load_s = 0, load_j = 0;  // cold load: file -> runnable model
  double exec_s = 0, exec_j = 0;  // batch-1 inference on the device
  double cloud_s = 0, cloud_usd = 0;  // server time (catalog latency x latency_factor) and its price
};

struct App {
  std::string name;
  CatalogIndex catalog;
  std::vector<VariantCost> variants;  // catalog order (base first)
  int original = 0;  // `original`: the base model, unapproximated (the paper's "Original")
  int knee = 0;           // `best`: the energy front's knee (else the bytes front's, else the base)
  std::string device_profile;  // the energy model's device these costs are for
};

// Reads each app's catalog and computes its costs under the scenario's device profile and
// cloud prices. Throws Error(Catalog) for an unreadable, empty or unmeasured catalog (naming
// the app and the directory), Error(Usage) for an unknown device profile.
std::vector<App> load_apps(const Scenario& s);
// The same for one app (tests build apps from hand-made catalogs this way too).
App load_app(const AppSpec& spec, const Scenario& s);
// Fills original (the catalog's base; variant 0 without a catalog) and knee from the catalog's marks.
void pick_fixed_variants(App& app);

}  // namespace mcdnn::rt
