#include "catalog/variant_table.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "profile/profile.hpp"
#include "util/error.hpp"
#include "util/units.hpp"

namespace mcdnn {

std::string fronts_text(const VariantRecord& r) {
  std::string s;
  auto add = [&](bool on, bool knee, const char* name) {
    if (on) s += (s.empty() ? "" : ", ") + std::string(name) + (knee ? " (knee)" : "");
  };
  add(r.pareto_bytes, r.knee_bytes, "bytes");
  add(r.pareto_flops, r.knee_flops, "flops");
  add(r.pareto_latency, r.knee_latency, "latency");
  add(r.pareto_energy, r.knee_energy, "energy");
  return s;
}

const std::vector<SortKey>& sort_keys() {
  static const std::vector<SortKey> k = {
      {"order", false, [](const VariantRecord&) { return 0.0; }, false},
      {"accuracy", false, [](const VariantRecord& r) { return r.accuracy; }, true},
      {"bytes", false, [](const VariantRecord& r) { return static_cast<double>(r.profile.bytes); }, false},
      {"flops", false, [](const VariantRecord& r) { return static_cast<double>(r.profile.flops_effective); }, false},
      {"latency", true, [](const VariantRecord& r) { return r.measured.latency_ms; }, false},
      {"energy", true, [](const VariantRecord& r) { return r.measured.exec_mj; }, false},
  };
  return k;
}

std::vector<std::string> sort_key_names() {
  std::vector<std::string> n;
  for (const auto& k : sort_keys()) n.push_back(k.name);
  return n;
}

const SortKey* find_sort_key(const std::string& name) {
  for (const auto& k : sort_keys())
    if (name == k.name) return &k;
  return nullptr;
}

namespace {

std::string fmt(const char* f, double v) {
  char b[96];
  std::snprintf(b, sizeof b, f, v);
  return b;
}
std::string ratio(double base, double v) { return v > 0 ? fmt("%.1fx", base / v) : "-"; }

struct Ctx {
  const VariantRecord& base;
  bool is_base;
};

// The columns, in order. `progress`/`summary`: shown in that view; `measured`: only when the
// variants were measured.
struct Column {
  const char* head;
  const char* unit;  // second header line
  int width;
  bool progress, summary, measured;
  std::string (*cell)(const VariantRecord&, const Ctx&);
};

const Column kColumns[] = {
    {"accuracy", "", 8, true, true, false, [](const VariantRecord& r, const Ctx&) { return fmt("%.2f%%", 100 * r.accuracy); }},
    {"vs base", "points", 7, true, true, false,
     [](const VariantRecord& r, const Ctx& c) { return c.is_base ? std::string("") : fmt("%+.2f", 100 * (r.accuracy - c.base.accuracy)); }},
    {"before FT", "", 9, true, false, false,
     [](const VariantRecord& r, const Ctx&) { return r.accuracy_before_finetune >= 0 ? fmt("%.2f%%", 100 * r.accuracy_before_finetune) : std::string("-"); }},
    {"bytes", "stored", 9, true, true, false,
     [](const VariantRecord& r, const Ctx&) { return format_quantity(static_cast<double>(r.profile.bytes), Quantity::Bytes); }},
    {"smaller", "", 7, true, true, false,
     [](const VariantRecord& r, const Ctx& c) {
       return ratio(static_cast<double>(c.base.profile.bytes), static_cast<double>(r.profile.bytes));
     }},
    {"FLOPs", "effective", 9, true, true, false,
     [](const VariantRecord& r, const Ctx&) { return human(static_cast<double>(r.profile.flops_effective)); }},
    {"fewer", "", 6, true, true, false,
     [](const VariantRecord& r, const Ctx& c) {
       return ratio(static_cast<double>(c.base.profile.flops_effective), static_cast<double>(r.profile.flops_effective));
     }},
    {"latency", "batch 1", 9, false, true, true,
     [](const VariantRecord& r, const Ctx&) { return format_quantity(r.measured.latency_ms * 1e-3, Quantity::Time); }},
    {"faster", "", 6, false, true, true,
     [](const VariantRecord& r, const Ctx& c) { return ratio(c.base.measured.latency_ms, r.measured.latency_ms); }},
    {"energy", "per run", 9, false, true, true,
     [](const VariantRecord& r, const Ctx&) { return format_quantity(r.measured.exec_mj * 1e-3, Quantity::Energy); }},
    {"build", "", 7, true, true, false,
     [](const VariantRecord& r, const Ctx& c) { return fmt("%.1f s", c.is_base ? r.train_seconds : r.build_seconds); }},
};

}  // namespace

VariantTable::VariantTable(View view, const VariantRecord& base, size_t id_width, bool measured, size_t total)
    : view_(view), base_(base), id_width_(std::max<size_t>(id_width, 7)), measured_(measured), total_(total) {}

std::string VariantTable::header() const {
  std::string counter = view_ == View::Progress ? std::string(total_ ? 2 * std::to_string(total_).size() + 4 : 6, ' ') : "  ";
  std::string l1 = counter + "variant" + std::string(id_width_ - 7, ' '), l2 = counter + std::string(id_width_, ' ');
  char b[64];
  for (const auto& c : kColumns) {
    if (!(view_ == View::Progress ? c.progress : c.summary) || (c.measured && !measured_)) continue;
    std::snprintf(b, sizeof b, "  %*s", c.width, c.head);
    l1 += b;
    std::snprintf(b, sizeof b, "  %*s", c.width, c.unit);
    l2 += b;
  }
  l1 += view_ == View::Summary ? "  fronts" : "";
  while (!l2.empty() && l2.back() == ' ') l2.pop_back();
  return l1 + "\n" + (l2.find_first_not_of(' ') == std::string::npos ? "" : l2 + "\n");
}

std::string VariantTable::row(const VariantRecord& r, size_t index, const std::string& note) const {
  std::string o;
  char b[160];
  if (view_ == View::Progress) {
    const int w = static_cast<int>(std::to_string(std::max(total_, index)).size());
    if (total_) std::snprintf(b, sizeof b, "[%*zu/%zu] ", w, index, std::max(total_, index));
    else std::snprintf(b, sizeof b, "[%*zu] ", w, index);
    o += b;
  } else {
    o += "  ";
  }
  o += r.id + std::string(id_width_ > r.id.size() ? id_width_ - r.id.size() : 0, ' ');
  const Ctx ctx{base_, r.parent.empty()};
  for (const auto& c : kColumns) {
    if (!(view_ == View::Progress ? c.progress : c.summary) || (c.measured && !measured_)) continue;
    std::snprintf(b, sizeof b, "  %*s", c.width, c.cell(r, ctx).c_str());
    o += b;
  }
  if (view_ == View::Summary) {
    const std::string f = fronts_text(r);
    if (!f.empty()) o += "  " + f;
  }
  if (!note.empty()) o += "  " + note;
  return o + "\n";
}

std::string format_variant_table(const std::vector<VariantRecord>& records, bool measured, const std::string& sort, bool only_fronts) {
  if (records.empty()) return "";
  const SortKey* key = find_sort_key(sort);
  if (!key) fail(ErrorClass::Usage, "unknown sort key '" + sort + "'");
  if (key->needs_measured && !measured)
    fail(ErrorClass::Usage, "sorting by " + sort + " needs measured costs, and this catalog was built with --measure-seconds 0");
  std::vector<const VariantRecord*> rows;
  for (const auto& r : records)
    if (!only_fronts || r.pareto_bytes || r.pareto_flops || r.pareto_latency || r.pareto_energy) rows.push_back(&r);
  std::stable_sort(rows.begin(), rows.end(), [&](const VariantRecord* a, const VariantRecord* b) {
    const double x = key->value(*a), y = key->value(*b);
    return key->descending ? x > y : x < y;
  });
  size_t w = 0;
  for (const auto* r : rows) w = std::max(w, r->id.size());
  VariantTable t(VariantTable::View::Summary, records.front(), w, measured);
  std::string o = t.header();
  for (const auto* r : rows) o += t.row(*r);
  return o;
}

std::string measured_row(const VariantRecord& r, size_t index, size_t total, size_t id_width) {
  const MeasuredCost& m = r.measured;
  char b[256];
  std::snprintf(b, sizeof b, "[%*zu/%zu] ", static_cast<int>(std::to_string(std::max(index, total)).size()), index, total);
  std::string o = b + r.id + std::string(std::max(id_width, r.id.size()) - r.id.size(), ' ');
  std::snprintf(b, sizeof b, " %8.3f ms (p95 %.3f)  %7.0f img/s @%lld  load %6.2f ms  %s  %.3f mJ\n", m.latency_ms, m.latency_p95_ms,
                m.throughput, static_cast<long long>(m.batch), m.load_cold_ms, human(static_cast<double>(m.resident_bytes), "B").c_str(),
                m.exec_mj);
  return o + b;
}

std::string format_build_times(const BuildTimes& t) {
  // The ratio is taken between the times as printed (one decimal), so that it always agrees
  // with the two numbers beside it.
  auto tenths = [](double s) { return std::round(s * 10) / 10; };
  const double base = tenths(t.base_seconds), train = tenths(t.base_train_seconds), cat = tenths(t.catalog_seconds);
  std::string o = fmt("  base: %.1f s", base) + fmt(" = training %.1f s", train) + fmt(" (%.0f img/s)", t.train_images_per_s) +
                  fmt(" + validation after each epoch %.1f s", std::max(0.0, base - train)) +
                  fmt(" (%.0f img/s)\n", t.eval_images_per_s);
  o += "  catalog: " + std::to_string(t.variants) + fmt(" variants in %.1f s", cat);
  o += base > 0 ? fmt(" = %.2fx the base's", cat / base) + fmt(" %.1f s", base) : std::string();
  o += fmt(" (%.1f s of it caching activations)", t.cache_seconds);
  if (t.resumed) o += ", " + std::to_string(t.resumed) + " of them resumed from the checkpoint";
  o += fmt("\n  total %.1f s; catalog written to ", t.total_seconds) + t.catalog_json + "\n";
  return o;
}

}  // namespace mcdnn
