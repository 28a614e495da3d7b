// mcdnn-catalog: read a catalog back from the command line, LibTorch-free (it starts at once).
//   mcdnn-catalog show DIR [--sort KEY] [--fronts] [--json]      every variant, human units
//   mcdnn-catalog show DIR --variant ID [--json]                  one variant, layer by layer
//   mcdnn-catalog select DIR [--max-bytes S] [--max-flops N] [--max-latency T] [--max-energy E]
//                            [--min-accuracy A] [--json]          the most accurate within every budget
//   mcdnn-catalog show DIR --sizes [--json]                       the deployable size of every variant per format
//   mcdnn-catalog diff A B [--json]                               what changed between two catalogs
//   mcdnn-catalog report DIR [-o FILE]                            the interactive HTML report
//   mcdnn-catalog verify DIR                                      every file's checksum and contents
// Budgets take units ("2ms", "200KB", "1mJ"); a bare number is refused. --max-bytes counts the
// catalog's stored bytes, or with --format onnx|onnx-float the exported ONNX weights.
// Exit codes: 0 found / shown / intact, 2 bad flags or unknown variant, 5 report file not ours to
// replace, 7 catalog unreadable or damaged (verify: a file damaged),
// 9 select: no variant within the budgets.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>

#include "catalog/catalog_index.hpp"
#include "catalog/export_size.hpp"
#include "catalog/report.hpp"
#include "catalog/trunk.hpp"
#include "catalog/variant_table.hpp"
#include "util/fs.hpp"
#include "util/sha256.hpp"
#include "util/cli_main.hpp"
#include "util/error.hpp"
#include "util/suggest.hpp"
#include "util/units.hpp"
#include "version.hpp"

using namespace mcdnn;
using json = nlohmann::json;

namespace {

constexpr int kNoneFits = 9;

std::string human_count(double v) {
  char b[32];
  if (v >= 1e9) std::snprintf(b, sizeof b, "%.3g G", v / 1e9);
  else if (v >= 1e6) std::snprintf(b, sizeof b, "%.3g M", v / 1e6);
  else if (v >= 1e3) std::snprintf(b, sizeof b, "%.3g K", v / 1e3);
  else std::snprintf(b, sizeof b, "%.0f", v);
  return b;
}

json sizes_json(const VariantRecord& r, const ExportSizes& e) {
  return {{"catalog", r.profile.bytes}, {"onnx_compressed", e.onnx_compressed}, {"onnx_float", e.onnx_float}};
}

// The deployable sizes need the variant's file: checksum verified, read and validated.
ExportSizes sizes_of(const CatalogIndex& c, const VariantRecord& r) { return export_sizes(load_variant(c, r)); }

// A record's deployable sizes, or why its file could not give them. The record is
// catalog.json's; a missing or damaged file is said after it (exit 7), not instead of it.
struct FileSizes {
  ExportSizes sizes;
  std::string damaged;  // the error, "" when the file was read
  int finish() const {
    if (damaged.empty()) return 0;
    std::fprintf(stderr, "error: %s\n", damaged.c_str());
    return static_cast<int>(ErrorClass::Catalog);
  }
};

FileSizes file_sizes(const CatalogIndex& c, const VariantRecord& r) {
  FileSizes f;
  try {
    f.sizes = sizes_of(c, r);
  } catch (const Error& err) {
    f.damaged = err.what();
  }
  return f;
}

std::string size_text(int64_t b) { return format_quantity(static_cast<double>(b), Quantity::Bytes); }

json record_json(const VariantRecord& r, bool measured) {
  json j = {{"id", r.id},
            {"parent", r.parent},
            {"accuracy", r.accuracy},
            {"bytes", r.profile.bytes},
            {"params", r.profile.params},
            {"params_nonzero", r.profile.params_nonzero},
            {"flops", r.profile.flops},
            {"flops_effective", r.profile.flops_effective},
            {"pareto", {{"bytes", r.pareto_bytes}, {"flops", r.pareto_flops}, {"latency", r.pareto_latency}, {"energy", r.pareto_energy}}},
            {"knee", {{"bytes", r.knee_bytes}, {"flops", r.knee_flops}, {"latency", r.knee_latency}, {"energy", r.knee_energy}}}};
  if (measured)
    j["measured"] = {{"latency_ms", r.measured.latency_ms},       {"latency_p95_ms", r.measured.latency_p95_ms},
                     {"exec_mj", r.measured.exec_mj},             {"load_mj", r.measured.load_mj},
                     {"load_cold_ms", r.measured.load_cold_ms},   {"resident_bytes", r.measured.resident_bytes}};
  return j;
}

const VariantRecord& find_variant(const CatalogIndex& c, const std::string& id) {
  if (const VariantRecord* r = c.find(id)) return *r;
  std::vector<std::string> ids;
  for (const auto& r : c.records) ids.push_back(r.id);
  fail(ErrorClass::Usage, c.dir + ": no variant '" + id + "'" + did_you_mean(id, ids) + " (" +
                              std::to_string(c.records.size()) + " variants: mcdnn-catalog show " + c.dir + ")");
}

void require_measured(const CatalogIndex& c, const std::string& what) {
  if (!c.measured)
    fail(ErrorClass::Usage, c.dir + ": " + what + " needs measured costs, and this catalog was built with --measure-seconds 0; rebuild it with measuring");
}

struct ShowOptions {
  std::string sort = "order", variant;
  bool only_fronts = false, sizes = false, as_json = false;
};

// Every variant's deployable size per format: the catalog's file and the two ONNX exports.
int show_sizes(const CatalogIndex& c, const ShowOptions& o) {
  const SortKey* key = find_sort_key(o.sort);
  if (key->needs_measured) require_measured(c, "--sort " + o.sort);
  std::vector<const VariantRecord*> rows;
  for (const auto& r : c.records)
    if (!o.only_fronts || r.pareto_bytes || r.pareto_flops || r.pareto_latency || r.pareto_energy) rows.push_back(&r);
  std::stable_sort(rows.begin(), rows.end(), [&](const VariantRecord* a, const VariantRecord* b) {
    const double x = key->value(*a), y = key->value(*b);
    return key->descending ? x > y : x < y;
  });
  json j = json::array();
  if (!o.as_json)
    std::printf("%-52s %12s %16s %12s  %s\n", "variant", "catalog", "ONNX compressed", "ONNX float", "ONNX vs catalog");
  for (const VariantRecord* rp : rows) {
    const VariantRecord& r = *rp;
    const ExportSizes e = sizes_of(c, r);
    if (o.as_json) {
      j.push_back({{"id", r.id}, {"sizes", sizes_json(r, e)}});
      continue;
    }
    std::printf("%-52s %12s %16s %12s  %.1fx\n", r.id.c_str(), size_text(r.profile.bytes).c_str(), size_text(e.onnx_compressed).c_str(),
                size_text(e.onnx_float).c_str(),
                static_cast<double>(e.onnx_compressed) / static_cast<double>(std::max<int64_t>(1, r.profile.bytes)));
  }
  if (o.as_json) {
    std::cout << j.dump(1) << "\n";
    return 0;
  }
  std::printf("catalog: the stored payload of the variant's file, as mcdnn-infer and mcdnn-run load it (catalog.json `bytes`);\n"
              "ONNX: the weights tools/mcdnn_export_onnx.py writes (--form compressed / float; the file adds a few KB of graph).\n"
              "ONNX has no sparse weights, so pruned layers are stored dense, and 4- and 2-bit codes take a byte each.\n");
  return 0;
}

int show(const std::string& dir, const ShowOptions& o) {
  const std::string &sort = o.sort, &variant = o.variant;
  const bool only_fronts = o.only_fronts, as_json = o.as_json;
  const CatalogIndex c = read_catalog_index(dir);
  if (o.sizes && variant.empty()) return show_sizes(c, o);
  if (!variant.empty()) {
    const VariantRecord& r = find_variant(c, variant);
    const FileSizes fs = file_sizes(c, r);
    const ExportSizes& e = fs.sizes;
    const std::string& damaged = fs.damaged;
    const auto finish = [&] { return fs.finish(); };
    if (as_json) {
      json j = record_json(r, c.measured);
      if (damaged.empty()) j["sizes"] = sizes_json(r, e);
      j["layers"] = json::array();
      for (const auto& l : r.profile.layers) {
        j["layers"].push_back({{"name", l.name}, {"kind", l.kind}, {"repr", l.repr}, {"params", l.params},
                               {"params_nonzero", l.params_nonzero}, {"flops_effective", l.flops_effective}, {"bytes", l.bytes}});
        if (!l.from.empty()) j["layers"].back()["from"] = l.from;
      }
      if (c.measured) {
        j["steps"] = json::array();
        for (const auto& s : r.measured.layers) j["steps"].push_back({{"name", s.name}, {"kernel", s.kernel}, {"ms", s.ms}});
      }
      std::cout << j.dump(1) << "\n";
      return finish();
    }
    std::printf("%s: %.2f%% accuracy, %s stored, %s effective FLOPs%s\n", r.id.c_str(), 100 * r.accuracy,
                format_quantity(static_cast<double>(r.profile.bytes), Quantity::Bytes).c_str(),
                human_count(static_cast<double>(r.profile.flops_effective)).c_str(), r.parent.empty() ? " (the base)" : "");
    if (!r.parent.empty()) std::printf("  derived from %s\n", r.parent.c_str());
    if (damaged.empty())
      std::printf("  deployed: %s stored in the catalog's file, %s as ONNX (compressed), %s as ONNX (float)\n", size_text(r.profile.bytes).c_str(),
                  size_text(e.onnx_compressed).c_str(), size_text(e.onnx_float).c_str());
    else
      std::printf("  file %s: DAMAGED or missing (below); the figures here are catalog.json's\n", r.file.c_str());
    if (c.measured)
      std::printf("  batch 1: %.3f ms (p95 %.3f), %.3f mJ; load %.2f ms cold, %.2f mJ; %s resident\n", r.measured.latency_ms,
                  r.measured.latency_p95_ms, r.measured.exec_mj, r.measured.load_cold_ms, r.measured.load_mj,
                  format_quantity(static_cast<double>(r.measured.resident_bytes), Quantity::Bytes).c_str());
    const std::string fr = fronts_text(r);
    if (!fr.empty()) std::printf("  fronts: %s\n", fr.c_str());
    // A graph's layers also say what they read (the layer before, unless listed).
    int nw = 10, kw = 10;
    bool graph = false;
    for (const auto& l : r.profile.layers) {
      nw = std::max(nw, static_cast<int>(l.name.size()));
      kw = std::max(kw, static_cast<int>(l.kind.size()));
      graph = graph || !l.from.empty();
    }
    std::printf("\n  %-*s %-*s %-34s %10s %10s %12s %10s%s\n", nw, "layer", kw, "kind", "stored as", "params", "nonzero", "eff. FLOPs",
                "bytes", graph ? "  reads" : "");
    for (const auto& l : r.profile.layers) {
      std::string from;
      for (const auto& f : l.from) from += (from.empty() ? "  " : ", ") + f;
      std::printf("  %-*s %-*s %-34s %10s %10s %12s %10s%s\n", nw, l.name.c_str(), kw, l.kind.c_str(), l.repr.empty() ? "-" : l.repr.c_str(),
                  human_count(static_cast<double>(l.params)).c_str(), human_count(static_cast<double>(l.params_nonzero)).c_str(),
                  human_count(static_cast<double>(l.flops_effective)).c_str(),
                  l.bytes ? format_quantity(static_cast<double>(l.bytes), Quantity::Bytes).c_str() : "-", from.c_str());
    }
    if (c.measured && !r.measured.layers.empty()) {
      std::printf("\n  %-28s %-36s %10s\n", "executor step", "kernel", "ms");
      for (const auto& s : r.measured.layers)
        std::printf("  %-28s %-36s %10.4f\n", s.name.c_str(), s.kernel.empty() ? "-" : s.kernel.c_str(), s.ms);
    }
    return finish();
  }
  const SortKey* key = find_sort_key(sort);
  if (key->needs_measured) require_measured(c, "--sort " + sort);
  std::vector<const VariantRecord*> rows;
  for (const auto& r : c.records)
    if (!only_fronts || r.pareto_bytes || r.pareto_flops || r.pareto_latency || r.pareto_energy) rows.push_back(&r);
  if (as_json) {
    std::stable_sort(rows.begin(), rows.end(), [&](const VariantRecord* a, const VariantRecord* b) {
      const double x = key->value(*a), y = key->value(*b);
      return key->descending ? x > y : x < y;
    });
    json j = json::array();
    for (const auto* r : rows) j.push_back(record_json(*r, c.measured));
    std::cout << j.dump(1) << "\n";
    return 0;
  }
  std::cout << format_variant_table(c.records, c.measured, sort, only_fronts);
  std::printf("%zu of %zu variants%s; schema %s\n", rows.size(), c.records.size(), only_fronts ? " (on a front)" : "", c.schema.c_str());
  std::printf("read from catalog.json alone: no variant file was opened (mcdnn-catalog verify %s checks them; --sizes gives the\n"
              "deployable size per format)\n", dir.c_str());
  if (c.trunk.present) {
    // A fragment catalog: the costs above are the fragments'; the trunk's are paid once per input.
    const TrunkRef& t = c.trunk;
    std::printf("fragments on trunk %s variant %s up to %s (%lld layers, %s stored, %s FLOPs)", t.catalog_dir.c_str(), t.variant.c_str(),
                t.layer.c_str(), static_cast<long long>(t.layers), format_quantity(static_cast<double>(t.bytes), Quantity::Bytes).c_str(),
                human(static_cast<double>(t.flops)).c_str());
    if (c.trunk_measured.present)
      std::printf(": %.3f ms, %.3f mJ per input, once for every fragment on it", c.trunk_measured.latency_ms, c.trunk_measured.exec_mj);
    std::printf("\n");
  }
  // Features kept for --specialize: not needed to run any variant, and large.
  for (const auto& f : c.features) {
    const double values = static_cast<double>(f.train_examples + f.validation_examples) *
                          std::accumulate(f.shape.begin(), f.shape.end(), 1.0, [](double a, int64_t d) { return a * static_cast<double>(d); });
    std::printf("features kept for specializing %s (last %lld layer(s)): %s, %s (computed in %.1f s; --specialize reads them)\n",
                f.variant.c_str(), static_cast<long long>(f.retrained_layers), f.file.c_str(),
                format_quantity(4 * values, Quantity::Bytes).c_str(), f.seconds);
  }
  return 0;
}

struct Budgets {
  std::string max_bytes, max_flops, max_latency, max_latency_p95, max_energy, min_accuracy;
  std::string format = "catalog";  // what --max-bytes counts: catalog, onnx, onnx-float
};

double parse_budget(const std::string& flag, const std::string& text, Quantity q) {
  double v = 0;
  std::string why;
  if (!parse_quantity(text, q, &v, &why)) fail(ErrorClass::Usage, flag + " " + text + ": expected " + why);
  return v;
}

int select(const std::string& dir, const Budgets& b, bool as_json) {
  const CatalogIndex c = read_catalog_index(dir);
  std::optional<double> max_bytes, max_flops, max_latency_ms, max_p95_ms, max_energy_mj, min_acc;
  if (!b.max_bytes.empty()) max_bytes = parse_budget("--max-bytes", b.max_bytes, Quantity::Bytes);
  if (!b.max_flops.empty()) {
    std::string t = b.max_flops;
    double f = 1;
    if (!t.empty() && (t.back() == 'K' || t.back() == 'M' || t.back() == 'G')) {
      f = t.back() == 'K' ? 1e3 : t.back() == 'M' ? 1e6 : 1e9;
      t.pop_back();
    }
    char* end = nullptr;
    const double v = std::strtod(t.c_str(), &end);
    if (t.empty() || *end || !(v >= 0)) fail(ErrorClass::Usage, "--max-flops " + b.max_flops + ": expected a count, e.g. 5M");
    max_flops = v * f;
  }
  if (!b.max_latency.empty()) {
    require_measured(c, "--max-latency");
    max_latency_ms = parse_budget("--max-latency", b.max_latency, Quantity::Time) * 1e3;
  }
  if (!b.max_latency_p95.empty()) {
    require_measured(c, "--max-latency-p95");
    max_p95_ms = parse_budget("--max-latency-p95", b.max_latency_p95, Quantity::Time) * 1e3;
  }
  if (!b.max_energy.empty()) {
    require_measured(c, "--max-energy");
    max_energy_mj = parse_budget("--max-energy", b.max_energy, Quantity::Energy) * 1e3;
  }
  if (!b.min_accuracy.empty()) {
    std::string t = b.min_accuracy;
    const bool pct = !t.empty() && t.back() == '%';
    if (pct) t.pop_back();
    char* end = nullptr;
    double v = std::strtod(t.c_str(), &end);
    if (t.empty() || *end) fail(ErrorClass::Usage, "--min-accuracy " + b.min_accuracy + ": expected a fraction (0.92) or a percentage (92%)");
    if (pct || v > 1) v /= 100;
    if (!(v >= 0 && v <= 1)) fail(ErrorClass::Usage, "--min-accuracy " + b.min_accuracy + ": expected between 0 and 100%");
    min_acc = v;
  }
  // A limit typed in another unit than the catalog's (2e-3s against milliseconds) comes back
  // from the conversion a rounding error off; a value equal to the limit as typed is within it.
  const auto over = [](double value, const std::optional<double>& limit) { return limit && value > *limit * (1 + 1e-12); };
  // The size --max-bytes limits: the catalog's file, or an ONNX export's weights (files opened).
  const auto deployed_bytes = [&](const VariantRecord& r) -> double {
    if (b.format == "catalog") return static_cast<double>(r.profile.bytes);
    const ExportSizes e = sizes_of(c, r);
    return static_cast<double>(b.format == "onnx" ? e.onnx_compressed : e.onnx_float);
  };
  const VariantRecord* best = nullptr;
  for (const auto& r : c.records) {
    if (over(static_cast<double>(r.profile.flops_effective), max_flops)) continue;
    if (over(r.measured.latency_ms, max_latency_ms)) continue;
    if (over(r.measured.latency_p95_ms, max_p95_ms)) continue;
    if (over(r.measured.exec_mj, max_energy_mj)) continue;
    if (min_acc && r.accuracy < *min_acc) continue;
    if (max_bytes && over(deployed_bytes(r), max_bytes)) continue;  // last: an ONNX size opens the file
    // The most accurate; ties: fewer bytes, then catalog order.
    if (!best || r.accuracy > best->accuracy || (r.accuracy == best->accuracy && r.profile.bytes < best->profile.bytes)) best = &r;
  }
  if (!best) {
    if (as_json) std::cout << "null\n";
    std::cerr << "no variant of " << dir << " is within every budget (" << c.records.size() << " variants; mcdnn-catalog show "
              << dir << (b.format == "catalog" ? " --sort bytes lists them)\n" : " --sizes lists their ONNX sizes)\n");
    return kNoneFits;
  }
  const FileSizes fs = file_sizes(c, *best);
  const ExportSizes& e = fs.sizes;
  const std::string& damaged = fs.damaged;
  const auto finish = [&] { return fs.finish(); };
  if (as_json) {
    json j = record_json(*best, c.measured);
    if (damaged.empty()) j["sizes"] = sizes_json(*best, e);
    std::cout << j.dump(1) << "\n";
    return finish();
  }
  std::printf("%s\n  accuracy %.2f%%, %s stored (%lld bytes), %s effective FLOPs", best->id.c_str(), 100 * best->accuracy,
              format_quantity(static_cast<double>(best->profile.bytes), Quantity::Bytes).c_str(),
              static_cast<long long>(best->profile.bytes), human_count(static_cast<double>(best->profile.flops_effective)).c_str());
  if (c.measured)
    std::printf(", %.3f ms (p95 %.3f ms), %.3f mJ", best->measured.latency_ms, best->measured.latency_p95_ms, best->measured.exec_mj);
  std::printf("\n");
  if (damaged.empty())
    std::printf("  deployed: %s stored in the catalog's file, %s as ONNX (compressed), %s as ONNX (float)\n",
                size_text(best->profile.bytes).c_str(), size_text(e.onnx_compressed).c_str(), size_text(e.onnx_float).c_str());
  return finish();
}

// Checks every file the catalog lists: the SHA-256 recorded in catalog.json, then (variant
// files) every attribute, shape and encoding as a reader checks them. Reports each damaged file;
// exit 7 when any is.
int verify(const std::string& dir) {
  const CatalogIndex c = read_catalog_index(dir);
  int64_t bad = 0, bytes = 0;
  for (const auto& r : c.records) {
    try {
      load_variant(c, r);
      bytes += r.profile.bytes;
    } catch (const Error& e) {
      ++bad;
      std::printf("DAMAGED %s: %s\n", r.id.c_str(), e.what());
    }
  }
  for (const auto& f : c.features) {
    const std::string path = (std::filesystem::path(dir) / f.file).string();
    try {
      const std::string got = sha256_file(path, static_cast<int>(ErrorClass::Catalog));
      if (got != f.sha256)
        fail(ErrorClass::Catalog, path + ": SHA-256 " + got + " differs from catalog.json's " + f.sha256 +
                                      "; --specialize will compute the features again (or restore the file)");
    } catch (const Error& e) {
      ++bad;
      std::printf("DAMAGED features of %s: %s\n", f.variant.c_str(), e.what());
    }
  }
  if (c.trunk.present) {
    try {
      open_trunk(c);
    } catch (const Error& e) {
      ++bad;
      std::printf("DAMAGED trunk %s of %s: %s\n", c.trunk.variant.c_str(), c.trunk.catalog_dir.c_str(), e.what());
    }
  }
  const size_t files = c.records.size() + c.features.size() + (c.trunk.present ? 1 : 0);
  if (bad) {
    std::printf("%s: %lld of %zu files damaged; rebuild the catalog (mcdnn-compile --force) or restore them\n", dir.c_str(),
                static_cast<long long>(bad), files);
    return static_cast<int>(ErrorClass::Catalog);
  }
  std::printf("%s: all %zu files intact (%zu variants, %s of weights; checksums and contents checked)\n", dir.c_str(), files,
              c.records.size(), size_text(bytes).c_str());
  return 0;
}

int diff(const std::string& a_dir, const std::string& b_dir, bool as_json) {
  const CatalogIndex a = read_catalog_index(a_dir), b = read_catalog_index(b_dir);
  json changed = json::array(), only_a = json::array(), only_b = json::array();
  for (const auto& r : a.records) {
    const VariantRecord* o = b.find(r.id);
    if (!o) {
      only_a.push_back(r.id);
      continue;
    }
    if (r.accuracy != o->accuracy || r.profile.bytes != o->profile.bytes || r.sha256 != o->sha256 ||
        r.profile.flops_effective != o->profile.flops_effective)
      changed.push_back({{"id", r.id},
                         {"accuracy", {r.accuracy, o->accuracy}},
                         {"bytes", {r.profile.bytes, o->profile.bytes}},
                         {"flops_effective", {r.profile.flops_effective, o->profile.flops_effective}},
                         {"same_file", r.sha256 == o->sha256}});
  }
  for (const auto& r : b.records)
    if (!a.find(r.id)) only_b.push_back(r.id);
  if (as_json) {
    std::cout << json{{"changed", changed}, {"only_in_a", only_a}, {"only_in_b", only_b}}.dump(1) << "\n";
    return 0;
  }
  for (const auto& ch : changed)
    std::printf("~ %s: accuracy %.2f%% -> %.2f%%, bytes %lld -> %lld%s\n", ch["id"].get<std::string>().c_str(),
                100 * ch["accuracy"][0].get<double>(), 100 * ch["accuracy"][1].get<double>(), ch["bytes"][0].get<long long>(),
                ch["bytes"][1].get<long long>(), ch["same_file"].get<bool>() ? "" : " (file differs)");
  for (const auto& id : only_a) std::printf("- %s (only in %s)\n", id.get<std::string>().c_str(), a_dir.c_str());
  for (const auto& id : only_b) std::printf("+ %s (only in %s)\n", id.get<std::string>().c_str(), b_dir.c_str());
  std::printf("%zu changed, %zu only in %s, %zu only in %s, %zu identical\n", changed.size(), only_a.size(), a_dir.c_str(),
              only_b.size(), b_dir.c_str(), a.records.size() - changed.size() - only_a.size());
  return 0;
}

// Writes the interactive report of catalog `dir` to `out` (default DIR/report.html); replaces
// only a report mcdnn wrote.
int report(const std::string& dir, std::string out) {
  read_catalog_index(dir);  // validated before anything of it is embedded
  const std::string text = read_file(dir + "/catalog.json", static_cast<int>(ErrorClass::Catalog));
  if (out.empty()) out = dir + "/report.html";
  std::error_code ec;
  const auto st = std::filesystem::symlink_status(out, ec);
  if (st.type() != std::filesystem::file_type::not_found) {
    if (st.type() != std::filesystem::file_type::regular || !is_catalog_report(read_file(out, static_cast<int>(ErrorClass::Output))))
      fail(ErrorClass::Output, out + ": exists and is not an mcdnn catalog report (or is a link); choose another file with -o or "
                                     "move it away");
  }
  write_file_atomic(out, catalog_report_html(text));
  std::printf("%s: the catalog report of %s (open it in a browser; it works offline)\n", out.c_str(), dir.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mcdnn-catalog: show, select from and compare mcdnn catalogs (no LibTorch)", "mcdnn-catalog"};
  app.set_version_flag("--version", std::string("mcdnn-catalog ") + kVersion);
  app.require_subcommand(1);
  std::string dir, dir_b;
  ShowOptions so;
  bool as_json = false;
  Budgets b;
  const std::vector<std::string> keys = sort_key_names();

  auto* show_cmd = app.add_subcommand("show", "list the variants (human units, fronts and knees marked), or one variant's layers");
  show_cmd->add_option("catalog", dir, "catalog directory")->required();
  show_cmd->add_option("--sort", so.sort, "order, accuracy (most first), bytes, flops, latency or energy (least first)")
      ->check(CLI::IsMember(keys));
  show_cmd->add_flag("--fronts", so.only_fronts, "only variants on a Pareto front");
  show_cmd->add_option("--variant", so.variant, "one variant, layer by layer (opens its file: its deployable sizes)");
  show_cmd->add_flag("--sizes", so.sizes, "every variant's deployable size: the catalog's file and the ONNX exports (opens every file)");
  show_cmd->add_flag("--json", so.as_json, "machine-readable output");

  auto* sel = app.add_subcommand("select", "the most accurate variant within every budget (exit 9 when none fits)");
  sel->add_option("catalog", dir, "catalog directory")->required();
  sel->add_option("--max-bytes", b.max_bytes, "stored bytes, e.g. 200KB (see --format)");
  sel->add_option("--format", b.format, "what --max-bytes counts: catalog (the stored payload, default), onnx or onnx-float "
                                        "(the weights of tools/mcdnn_export_onnx.py's export)")
      ->check(CLI::IsMember({"catalog", "onnx", "onnx-float"}))
      ->needs("--max-bytes");
  sel->add_option("--max-flops", b.max_flops, "effective FLOPs, e.g. 5M");
  sel->add_option("--max-latency", b.max_latency, "measured batch-1 median latency, e.g. 2ms");
  sel->add_option("--max-latency-p95", b.max_latency_p95, "measured batch-1 95th-percentile latency, e.g. 2.5ms");
  sel->add_option("--max-energy", b.max_energy, "execution energy, e.g. 1mJ");
  sel->add_option("--min-accuracy", b.min_accuracy, "e.g. 92% or 0.92");
  sel->add_flag("--json", as_json, "machine-readable output (null when none fits)");

  auto* dif = app.add_subcommand("diff", "variants changed, added or removed between two catalogs");
  dif->add_option("a", dir, "catalog directory")->required();
  dif->add_option("b", dir_b, "catalog directory")->required();
  dif->add_flag("--json", as_json, "machine-readable output");

  auto* ver = app.add_subcommand("verify", "check every file of a catalog against its checksum and contents (exit 7 if damaged)");
  ver->add_option("catalog", dir, "catalog directory")->required();

  std::string report_out;
  auto* rep = app.add_subcommand("report", "write the interactive HTML report (DIR/report.html unless -o)");
  rep->add_option("catalog", dir, "catalog directory")->required();
  rep->add_option("-o,--output", report_out, "the HTML file to write (replaces only an mcdnn report)");

  app.footer("Quantities need their unit: 200KB, 2ms, 250us, 1mJ (a bare number is refused).\n"
             "Exit codes: 0 success, 2 bad flags or unknown variant, 5 report file not ours to replace,\n"
             "            7 catalog unreadable or damaged (verify: a file damaged),\n"
             "            9 select: no variant within the budgets.");
  return parse_and_run(app, argc, argv, [&] {
    if (*show_cmd) return show(dir, so);
    if (*sel) return select(dir, b, as_json);
    if (*ver) return verify(dir);
    if (*rep) return report(dir, report_out);
    return diff(dir, dir_b, as_json);
  });
}
