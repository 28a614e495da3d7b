#include "schema/check.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "catalog/output_dir.hpp"
#include "data/dataset.hpp"
#include "profile/profile.hpp"
#include "schema/plan.hpp"
#include "schema/schema.hpp"
#include "util/error.hpp"
#include "util/units.hpp"

namespace mcdnn {

namespace {
using json = nlohmann::json;

Schema load(const CompileOptions& opt) {
  Schema s = parse_schema_file(opt.schema_path);
  if (opt.epochs > 0) s.training.epochs = opt.epochs;
  if (opt.limit > 0) s.data.limit_train = s.data.limit_validation = opt.limit;
  return s;
}

json profile_json(const Profile& p) {
  json layers = json::array();
  for (const auto& l : p.layers) {
    layers.push_back({{"name", l.name},
                      {"kind", l.kind},
                      {"input", l.in.str()},
                      {"output", l.out.str()},
                      {"params", l.params},
                      {"flops", l.flops},
                      {"other_ops", l.other_ops},
                      {"bytes", l.bytes},
                      {"activation_bytes", l.activation_bytes}});
    if (!l.from.empty()) layers.back()["from"] = l.from;
  }
  return {{"layers", layers},
          {"params", p.params},
          {"flops", p.flops},
          {"other_ops", p.other_ops},
          {"bytes", p.bytes},
          {"activation_bytes", p.activation_bytes}};
}

std::string source_text(const DataSource& s) {
  return s.format == "idx" ? s.images + " + " + s.labels : s.file + " ('" + s.images_dataset + "', '" + s.labels_dataset + "')";
}

// What the build will find at `dir` (after check_output_dir() accepted it).
std::string output_state(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(dir + ".partial", ec)) return "an interrupted build in " + dir + ".partial: its finished variants will be resumed";
  if (fs::exists(dir + "/catalog.json", ec)) return "holds a catalog: skipped if up to date, else rebuilt";
  if (fs::exists(dir, ec)) return "empty: the catalog will be written there";
  return "new";
}
}  // namespace

int run_profile_only(const CompileOptions& opt, std::ostream& out) {
  const Schema schema = load(opt);
  const Profile prof = profile_layers(schema.layers);
  if (opt.json) {
    json j = profile_json(prof);
    j["schema"] = schema.name;
    j["input"] = schema.input.str();
    j["classes"] = schema.num_classes;
    out << j.dump(1) << "\n";
    return 0;
  }
  out << schema.name << ": input " << schema.input.str() << ", " << schema.num_classes << " classes, " << schema.layers.size()
      << " layers\n"
      << format_profile(prof);
  return 0;
}

int run_check(const CompileOptions& opt, std::ostream& out) {
  const auto t0 = std::chrono::steady_clock::now();
  Schema schema = load(opt);
  const std::vector<PlannedVariant> plan = plan_variants(schema);
  const std::string out_dir = opt.out_dir.empty() ? schema.name + "-catalog" : opt.out_dir;
  check_output_dir(out_dir);
  Dataset train, val;
  load_data(schema, &train, &val);
  const Profile base = profile_layers(schema.layers);
  std::vector<Profile> est;
  for (const auto& v : plan) est.push_back(profile_planned(v.layers, v.density));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const bool default_sweep = !schema.catalog.variants_given;

  if (opt.json) {
    json vs = json::array();
    for (size_t i = 0; i < plan.size(); ++i)
      vs.push_back({{"id", plan[i].id},
                    {"parent", plan[i].parent},
                    {"estimated_bytes", est[i].bytes},
                    {"estimated_params_nonzero", est[i].params_nonzero},
                    {"estimated_flops_effective", est[i].flops_effective},
                    {"rank_from_weights", plan[i].rank_from_weights}});
    json j = {{"schema", schema.name},
              {"schema_file", schema.path},
              {"valid", true},
              {"base", profile_json(base)},
              {"data", {{"train", train.n}, {"validation", val.n}}},
              {"training", {{"epochs", schema.training.epochs}, {"batch_size", schema.training.batch_size}}},
              {"output", {{"dir", out_dir}, {"state", output_state(out_dir)}}},
              {"sweep", default_sweep ? "default" : "schema"},
              {"variants", vs},
              {"seconds", seconds}};
    out << j.dump(1) << "\n";
    return 0;
  }

  char b[256];
  out << schema.path << ": valid; nothing trained or written\n";
  out << "  model   " << schema.name << ": input " << schema.input.str() << ", " << schema.num_classes << " classes, "
      << schema.layers.size() << " layers; " << human(static_cast<double>(base.params)) << " params, "
      << human(static_cast<double>(base.flops), "FLOPs") << ", " << format_quantity(static_cast<double>(base.bytes), Quantity::Bytes)
      << " of weights\n";
  if (schema.trunk.present) {
    const TrunkRef& t = schema.trunk;
    out << "  trunk   " << t.catalog << " variant " << t.variant << " up to " << t.layer << " (" << t.layers << " layers, "
        << human(static_cast<double>(t.flops), "FLOPs") << ", " << format_quantity(static_cast<double>(t.bytes), Quantity::Bytes)
        << "; frozen): the data are " << t.input.str() << " images, run through it once before training\n";
  }
  out << "  data    " << train.n << " training examples (" << source_text(schema.data.train) << ")\n"
      << "          " << val.n << " validation examples (" << source_text(schema.data.validation) << ")\n";
  out << "  train   " << schema.training.epochs << " epochs, batch " << schema.training.batch_size << ", "
      << schema.training.optimizer << " lr " << schema.training.lr << "\n";
  out << "  output  " << out_dir << " (" << output_state(out_dir) << ")\n";
  out << "  catalog " << plan.size() << " variants (" << (default_sweep ? "the default sweep" : "the schema's catalog.variants")
      << "); sizes and FLOPs estimated from the layer specs:\n\n";
  size_t w = 7;
  for (const auto& v : plan) w = std::max(w, v.id.size());
  const size_t cw = 2 * std::to_string(plan.size()).size() + 3;
  auto pad = [](const std::string& t, size_t width) { return t + std::string(width > t.size() ? width - t.size() : 0, ' '); };
  std::snprintf(b, sizeof b, "  %9s  %7s  %9s  %6s  %s\n", "bytes", "smaller", "FLOPs", "fewer", "derived from");
  out << "  " << pad("", cw) << " " << pad("variant", w) << b;
  std::snprintf(b, sizeof b, "  %9s  %7s  %9s\n", "estimated", "", "effective");
  out << "  " << pad("", cw) << " " << pad("", w) << b;
  bool any_energy = false;
  for (size_t i = 0; i < plan.size(); ++i) {
    char counter[32];
    std::snprintf(counter, sizeof counter, "[%*zu/%zu]", static_cast<int>(std::to_string(plan.size()).size()), i + 1, plan.size());
    std::snprintf(b, sizeof b, "  %9s  %6.1fx  %9s  %5.1fx  ", format_quantity(static_cast<double>(est[i].bytes), Quantity::Bytes).c_str(),
                  static_cast<double>(base.bytes) / static_cast<double>(std::max<int64_t>(est[i].bytes, 1)),
                  human(static_cast<double>(est[i].flops_effective)).c_str(),
                  static_cast<double>(base.flops) / static_cast<double>(std::max<int64_t>(est[i].flops_effective, 1)));
    out << "  " << pad(counter, cw) << " " << pad(plan[i].id, w) << b << plan[i].parent
        << (plan[i].rank_from_weights ? "  (rank from the trained weights)" : "") << "\n";
    any_energy = any_energy || plan[i].rank_from_weights;
  }
  if (any_energy)
    out << "  kenergy...: an svd `energy` rank is chosen from the trained weights (the built id carries the rank); its "
           "estimate assumes 1/4 of the full rank\n";
  const SpecializeSchema& sp = schema.specialize;
  if (!sp.sets.empty()) {
    out << "\n  specialize " << sp.sets.size() * sp.variants.size() << " variants: the last " << sp.retrain_layers
        << " weight layer(s) of each of " << sp.variants.size() << " variant(s) retrained for each class set + \"other\"\n";
    for (const auto& set : sp.sets) {
      std::string cls;
      for (int64_t c : set.classes)
        cls += (cls.empty() ? "" : ", ") + (static_cast<size_t>(c) < schema.class_names.size() ? schema.class_names[static_cast<size_t>(c)] : std::to_string(c));
      out << "    {" << cls << "} from";
      for (const auto& v : sp.variants) out << " " << v;
      out << "\n";
    }
  }
  std::snprintf(b, sizeof b, "\nchecked in %.2f s\n", seconds);
  out << b;
  return 0;
}

}  // namespace mcdnn
