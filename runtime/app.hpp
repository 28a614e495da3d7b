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

  // A cascade (App::cascades): the specialized variant `record`, then, when it answers "other",
  // the generic variant `fallback` it was made from, which must be cached with it (it is a
  // cache entry of its own, shared with the generic use of that variant). bytes, file_bytes,
  // load_* and exec_* are the specialized variant's alone; accuracy is its in-set accuracy
  // (the scheduler uses expected values under the observed skew: options_under_skew()).
  int set = -1;       // index in App::sets; -1: a generic variant
  int fallback = -1;  // index in App::variants
  double in_set_accuracy = 0, in_set_other = 0, other_recall = 0;
  double fallback_in = 0, fallback_out = 0;  // the fallback's accuracy on in-set / other classes (estimated)
};

// A fragment catalog's trunk (catalog/trunk.hpp) as the scheduler sees it: one per distinct
// trunk (catalog, variant, layer, file checksum), shared by every app whose catalog is built on
// it. It is a cache entry of its own; on the device it runs once per frame (Request::frame)
// for all the apps of that frame that run on it.
struct TrunkCost {
  std::string key;        // canonical trunk catalog directory, variant, layers, sha256
  std::string catalog_dir, variant, layer;
  int64_t layers = 0;
  int64_t bytes = 0, file_bytes = 0;  // resident once loaded; the file it loads from
  double flops = 0;
  double load_s = 0, load_j = 0, exec_s = 0, exec_j = 0;
  int sharers = 0;        // apps built on it that share its runs: on the same frames (same_as)
  int on_trunk = 0;       // apps built on it (they share its cache entry and its loads)
};

struct App {
  std::string name;
  // A fragment catalog: the trunk its variants take their input from. Apps with the same
  // `trunk` id share it (load_apps numbers the distinct trunks 0, 1, ...); -1: whole networks.
  int trunk = -1;
  TrunkCost trunk_cost;
  CatalogIndex catalog;
  std::vector<VariantCost> variants;  // the generic variants, catalog order (base first)
  // Specialized variants as cascades, and the class sets they cover (catalog order). Variant
  // index variants.size() + j is cascades[j] (cache keys, decisions, reports).
  std::vector<VariantCost> cascades;
  std::vector<std::vector<int64_t>> sets;
  const VariantCost& at(int v) const {
    const size_t i = static_cast<size_t>(v);
    return i < variants.size() ? variants[i] : cascades[i - variants.size()];
  }
  size_t options() const { return variants.size() + cascades.size(); }
  // The least accuracy (as the scheduler values a variant: a cascade at its expected accuracy
  // under the skew in force) a variant needs to answer a request; below it every policy drops
  // the request instead (the oracle does not count such answers). 0: no minimum. load_app()
  // sets it from the scenario, else by default_min_accuracy(); `min_accuracy_rule` says which.
  double min_accuracy = 0;
  std::string min_accuracy_rule = "none";
  int original = 0;  // `original`: the base model, unapproximated (the paper's "Original")
  int knee = 0;           // `best`: the energy front's knee (else the bytes front's, else the base)
  std::string device_profile;  // the energy model's device these costs are for
};

// What the app can run while the classes of its set `set` make up a share p of its requests:
// its generic variants, then its cascades (index variants.size() + j). The cascades of `set`
// get expected values: on the set's classes the specialized variant is right (in_set_accuracy)
// or says "other" and the fallback runs (in_set_other); on the other classes it says "other"
// (other_recall) and the fallback runs, or it is wrong. Its energy is the specialized run plus
// the fallback's when "other" is expected; its exec_s both (the latency limit holds when it
// falls through); bytes and loads stay the specialized variant's (the scheduler adds the
// fallback's when it is not cached). A fallback's accuracy becomes p-weighted too. Every other cascade (all of
// them when set < 0) is disabled: accuracy -1, infinite energy.
std::vector<VariantCost> options_under_skew(const App& app, int set, double p);

// Reads each app's catalog and computes its costs under the scenario's device profile and
// cloud prices. Throws Error(Catalog) for an unreadable, empty or unmeasured catalog (naming
// the app and the directory), Error(Usage) for an unknown device profile. A fragment catalog's
// trunk is opened and checked (catalog/trunk.hpp: a missing or changed trunk is an error) and
// numbered; a fragment's variants' device costs are its own (the trunk's are App::trunk_cost),
// its cloud costs include the trunk's server time.
std::vector<App> load_apps(const Scenario& s);
// The same for one app (tests build apps from hand-made catalogs this way too).
App load_app(const AppSpec& spec, const Scenario& s);
// (A fragment catalog's trunk is load_apps()'s: load_app() leaves App::trunk at -1.)
// The default minimum accuracy: halfway from chance to the catalog's most accurate generic
// variant, chance + (best - chance) / 2, chance = 1 / the catalog's classes (0 when unknown).
// For Fashion-MNIST's 10 classes and a 93% base: 51.5%; for 5 classes and 96%: 58%. *rule, when
// given, says how it was computed ("chance 20% + half the way to base's 96.00%").
double default_min_accuracy(const App& app, std::string* rule = nullptr);

// Sets app.min_accuracy and min_accuracy_rule from the scenario's `min_accuracy` (-1: the
// default rule). A minimum above every variant (every request would be dropped) is an
// Error(Scenario) naming spec.min_accuracy_where.
void set_min_accuracy(App& app, const AppSpec& spec);

// Fills original (the catalog's base; variant 0 without a catalog) and knee from the catalog's marks.
void pick_fixed_variants(App& app);

}  // namespace mcdnn::rt
