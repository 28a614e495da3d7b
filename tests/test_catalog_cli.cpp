// mcdnn-catalog end to end on a small catalog: show (sorted, fronts only, one variant's layers,
// JSON), select against answers computed here by brute force over catalog.json, the "none fits"
// exit code, diff, and errors (unknown variant with a suggestion, unreadable catalog, bad budget).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "catalog/catalog_index.hpp"
#include "catalog/report.hpp"
#include "catalog/variant_table.hpp"
#include "catch.hpp"
#include "fixtures.hpp"

using namespace mcdnn;
using namespace mcdnn::test;
using Catch::Matchers::Contains;

namespace {
struct CatalogCli {
  TempDir dir;
  std::string cat;
  CatalogCli() {
    cat = dir / "cat";
    std::string log;
    const int rc = compile_every_form(dir, 101, &log);
    INFO(log);
    REQUIRE(rc == 0);
  }
  int run(const std::string& args, std::string* out) const { return run_command(std::string(MCDNN_CATALOG) + " " + args, out); }
};

// The most accurate record within the budgets (ties: fewer bytes, then order), or null.
const VariantRecord* brute_force(const CatalogIndex& c, double max_bytes, double max_latency_ms, double min_acc) {
  const VariantRecord* best = nullptr;
  for (const auto& r : c.records) {
    if (static_cast<double>(r.profile.bytes) > max_bytes || r.measured.latency_ms > max_latency_ms || r.accuracy < min_acc) continue;
    if (!best || r.accuracy > best->accuracy || (r.accuracy == best->accuracy && r.profile.bytes < best->profile.bytes)) best = &r;
  }
  return best;
}
}  // namespace

TEST_CASE("mcdnn-catalog select returns the most accurate variant within every budget", "[catalog-cli][cli]") {
  CatalogCli f;
  const CatalogIndex c = read_catalog_index(f.cat);
  REQUIRE(c.measured);
  std::vector<int64_t> sizes;
  for (const auto& r : c.records) sizes.push_back(r.profile.bytes);
  std::sort(sizes.begin(), sizes.end());
  int checked = 0;
  for (int64_t limit : {sizes.front(), sizes[sizes.size() / 3], sizes[sizes.size() / 2], sizes.back()}) {
    for (double lat : {1e9, c.records[0].measured.latency_ms}) {
      const VariantRecord* want = brute_force(c, static_cast<double>(limit), lat, 0);
      std::string out;
      char args[256];
      std::snprintf(args, sizeof args, " --max-bytes %lldB --max-latency %.17gms --json", static_cast<long long>(limit), lat);
      const int rc = f.run("select " + f.cat + args, &out);
      INFO(args << "\n" << out);
      if (!want) {
        CHECK(rc == 9);
        continue;
      }
      REQUIRE(rc == 0);
      const auto j = nlohmann::json::parse(out);
      CHECK(j["id"] == want->id);
      ++checked;
    }
  }
  CHECK(checked >= 4);
  // A limit equal to a variant's latency or energy, typed in another unit than the catalog's,
  // still holds that variant (the unit conversion rounds).
  for (const auto& r : c.records) {
    char args[2][256];
    std::snprintf(args[0], sizeof args[0], " --max-latency %.17gs --max-energy %.17gJ --json", r.measured.latency_ms / 1e3, r.measured.exec_mj / 1e3);
    std::snprintf(args[1], sizeof args[1], " --max-latency %.17gus --max-energy %.17guJ --json", r.measured.latency_ms * 1e3, r.measured.exec_mj * 1e3);
    for (const char* a : args) {
      std::string out;
      INFO(r.id << a << "\n" << out);
      REQUIRE(f.run("select " + f.cat + a, &out) == 0);
      // r is within both limits, so the pick is at least as accurate (ties: fewer bytes).
      const VariantRecord* got = c.find(nlohmann::json::parse(out)["id"].get<std::string>());
      REQUIRE(got);
      CHECK(got->accuracy >= r.accuracy);
    }
  }
  // Nothing that small: exit 9, a message, and JSON null.
  std::string out;
  CHECK(f.run("select " + f.cat + " --max-bytes 1B", &out) == 9);
  CHECK_THAT(out, Contains("within every budget"));
  CHECK(f.run("select " + f.cat + " --min-accuracy 101%", &out) == 2);
  CHECK(f.run("select " + f.cat + " --max-bytes 12parsecs", &out) == 2);
  CHECK_THAT(out, Contains("--max-bytes 12parsecs: expected"));
  // Human output names the variant and its numbers.
  REQUIRE(f.run("select " + f.cat + " --min-accuracy 0%", &out) == 0);
  CHECK_THAT(out, Contains(brute_force(c, 1e18, 1e18, 0)->id) && Contains("accuracy"));
}

TEST_CASE("mcdnn-catalog show lists, sorts, filters and details variants", "[catalog-cli][cli]") {
  CatalogCli f;
  const CatalogIndex c = read_catalog_index(f.cat);
  std::string out;
  REQUIRE(f.run("show " + f.cat, &out) == 0);
  for (const auto& r : c.records) CHECK_THAT(out, Contains(r.id));
  CHECK_THAT(out, Contains(std::to_string(c.records.size()) + " of " + std::to_string(c.records.size()) + " variants"));
  REQUIRE(f.run("show " + f.cat + " --sort bytes --json", &out) == 0);
  auto j = nlohmann::json::parse(out);
  REQUIRE(j.size() == c.records.size());
  for (size_t i = 1; i < j.size(); ++i) CHECK(j[i]["bytes"].get<int64_t>() >= j[i - 1]["bytes"].get<int64_t>());
  REQUIRE(f.run("show " + f.cat + " --sort accuracy --fronts --json", &out) == 0);
  j = nlohmann::json::parse(out);
  for (const auto& v : j) {
    const auto& p = v["pareto"];
    CHECK((p["bytes"].get<bool>() || p["flops"].get<bool>() || p["latency"].get<bool>() || p["energy"].get<bool>()));
  }
  for (size_t i = 1; i < j.size(); ++i) CHECK(j[i]["accuracy"].get<double>() <= j[i - 1]["accuracy"].get<double>());
  REQUIRE(f.run("show " + f.cat + " --variant base", &out) == 0);
  CHECK_THAT(out, Contains("fc1") && Contains("executor step") && Contains("(the base)"));
  REQUIRE(f.run("show " + f.cat + " --variant base --json", &out) == 0);
  CHECK(nlohmann::json::parse(out)["layers"].size() == c.records[0].profile.layers.size());
  // A pruned variant's layers are "stored as" sparse, in one word: "sparse f32", never "dense sparse f32".
  int pruned = 0;
  for (const auto& r : c.records) {
    if (r.id.find("prune") == std::string::npos) continue;
    REQUIRE(f.run("show " + f.cat + " --variant " + r.id, &out) == 0);
    INFO(out);
    CHECK_THAT(out, !Contains("dense sparse"));
    CHECK_THAT(out, Contains(" sparse f32 ") || Contains(" sparse int8 ") || Contains(" sparse cb2 "));
    ++pruned;
  }
  CHECK(pruned >= 2);
  // An unknown id suggests the nearest.
  CHECK(f.run("show " + f.cat + " --variant bsae", &out) == 2);
  CHECK_THAT(out, Contains("no variant 'bsae'; did you mean 'base'?"));
  CHECK(f.run("show " + (f.dir / "nowhere"), &out) == 7);
  CHECK(f.run("show " + f.cat + " --sort colour", &out) == 2);
}

TEST_CASE("mcdnn-catalog diff compares two catalogs", "[catalog-cli][cli]") {
  CatalogCli f;
  std::string out;
  REQUIRE(f.run("diff " + f.cat + " " + f.cat + " --json", &out) == 0);
  auto j = nlohmann::json::parse(out);
  CHECK(j["changed"].empty());
  CHECK(j["only_in_a"].empty());
  // A copy with one variant's accuracy changed and one variant removed from the index.
  namespace fs = std::filesystem;
  fs::copy(f.cat, f.dir / "cat2", fs::copy_options::recursive);
  const std::vector<uint8_t> bytes = read_bytes(f.dir / "cat2/catalog.json");
  auto idx = nlohmann::json::parse(std::string(bytes.begin(), bytes.end()));
  auto& vs = idx["variants"];
  REQUIRE(vs.size() >= 3);
  const std::string removed = vs.back()["id"];
  const std::string changed = vs[1]["id"];
  vs[1]["accuracy"] = 0.5;
  vs.erase(vs.size() - 1);
  const std::string text = idx.dump(1);
  write_bytes(f.dir / "cat2/catalog.json", std::vector<uint8_t>(text.begin(), text.end()));
  REQUIRE(f.run("diff " + f.cat + " " + (f.dir / "cat2") + " --json", &out) == 0);
  j = nlohmann::json::parse(out);
  REQUIRE(j["changed"].size() == 1);
  CHECK(j["changed"][0]["id"] == changed);
  CHECK(j["only_in_a"] == nlohmann::json::array({removed}));
  REQUIRE(f.run("diff " + f.cat + " " + (f.dir / "cat2"), &out) == 0);
  CHECK_THAT(out, Contains("~ " + changed) && Contains("- " + removed) && Contains("1 changed, 1 only in"));
}

TEST_CASE("the catalog report renders in headless Chromium with one point per variant per axis", "[catalog-cli][report]") {
  CatalogCli f;
  const CatalogIndex c = read_catalog_index(f.cat);
  const std::string n = std::to_string(c.records.size());
  // mcdnn-compile wrote it with the catalog; mcdnn-catalog report writes the same page.
  REQUIRE(std::filesystem::exists(f.cat + "/report.html"));
  std::string out, written;
  REQUIRE(f.run("report " + f.cat + " -o " + (f.dir / "again.html"), &out) == 0);
  CHECK(read_bytes(f.cat + "/report.html") == read_bytes(f.dir / "again.html"));
  const std::string check = std::string(MCDNN_PYTHON) + " " + MCDNN_SOURCE_DIR + "/tools/check_report.py ";
  const int rc = run_command(check + f.cat + "/report.html --expect-variants " + n, &out);
  INFO(out);
  REQUIRE(rc == 0);
  CHECK_THAT(out, Contains("4 panels (bytes, flops, latency, energy), " + n + " points per panel"));
  // The checker fails a page with the wrong number of points.
  CHECK(run_command(check + f.cat + "/report.html --expect-variants 999", &out) == 1);
  // (It passed no number shown unformatted: the input's mean and std, 17 digits in catalog.json, included.)
  CHECK(c.input.mean.size() == 1);

  // A catalog string cannot end the script element: ids with markup render as text.
  std::string text;
  {
    const auto b = read_bytes(f.cat + "/catalog.json");
    text.assign(b.begin(), b.end());
  }
  const std::string evil = "</script><img src=x onerror=alert(1)><!--<script>";
  auto j = nlohmann::json::parse(text);
  j["schema"] = evil;
  j["notes"] = nlohmann::json::array({evil});
  const std::string page = catalog_report_html(j.dump(1));
  CHECK(page.find(evil) == std::string::npos);
  write_bytes(f.dir / "evil.html", std::vector<uint8_t>(page.begin(), page.end()));
  CHECK(run_command(check + (f.dir / "evil.html") + " --expect-variants " + n, &out) == 0);
  // The checker fails a page that shows a number nobody formatted.
  j = nlohmann::json::parse(text);
  j["schema"] = "0.28604020714759827";
  const std::string raw = catalog_report_html(j.dump(1));
  write_bytes(f.dir / "raw.html", std::vector<uint8_t>(raw.begin(), raw.end()));
  CHECK(run_command(check + (f.dir / "raw.html") + " --expect-variants " + n, &out) == 1);
  CHECK_THAT(out, Contains("a number shown unformatted") && Contains("0.28604020714759827"));

  // Refresh in place; never replaces a file that is not a report.
  CHECK(f.run("report " + f.cat, &out) == 0);
  write_bytes(f.dir / "mine.html", {'h', 'i'});
  CHECK(f.run("report " + f.cat + " -o " + (f.dir / "mine.html"), &out) == 5);
  CHECK(read_bytes(f.dir / "mine.html") == std::vector<uint8_t>{'h', 'i'});
  // Nor a link, even one to nowhere.
  std::filesystem::create_symlink(f.dir / "nowhere.html", f.dir / "link.html");
  CHECK(f.run("report " + f.cat + " -o " + (f.dir / "link.html"), &out) == 5);
  CHECK(std::filesystem::is_symlink(f.dir / "link.html"));
}

TEST_CASE("the variant table keeps its columns aligned for ids of any length", "[catalog-cli]") {
  VariantRecord base, longer;
  base.id = "base";
  base.profile.bytes = 1000;
  base.profile.flops_effective = 1000;
  longer = base;
  longer.id = std::string(300, 'x');
  longer.parent = "base";
  for (auto view : {VariantTable::View::Progress, VariantTable::View::Summary}) {
    VariantTable t(view, base, longer.id.size(), false, 9);
    const std::string head = t.header(), row = t.row(longer, 3);
    const std::string first = head.substr(0, head.find('\n'));
    // "accuracy" ends where the row's accuracy cell ends.
    const size_t h = first.find("accuracy") + 8, r = row.find('%') + 1;
    CHECK(h == r);
    CHECK(row.find(longer.id) != std::string::npos);
    CHECK(row.back() == '\n');
  }
}

TEST_CASE("measured rows keep their numbers in one column for ids of any length", "[catalog-cli]") {
  std::vector<VariantRecord> rs(3);
  rs[0].id = "base";
  rs[1].id = "prune-all-80+quant-int8";
  rs[2].id = "svd-fc1-k4+" + std::string(60, 'x');  // longer than any fixed column
  size_t w = 0;
  for (auto& r : rs) {
    r.measured.present = true;
    r.measured.latency_ms = 0.25;
    r.measured.batch = 64;
    w = std::max(w, r.id.size());
  }
  size_t col = std::string::npos;
  for (size_t i = 0; i < rs.size(); ++i) {
    const std::string row = measured_row(rs[i], i + 1, rs.size(), w);
    INFO(row);
    CHECK(row.rfind("[" + std::to_string(i + 1) + "/3] " + rs[i].id, 0) == 0);
    CHECK(row.back() == '\n');
    const size_t at = row.find(" ms (p95");
    REQUIRE(at != std::string::npos);
    if (col == std::string::npos) col = at;
    CHECK(at == col);
  }
  CHECK(col > w);
}

TEST_CASE("the closing summary's time ratio is the ratio of the two times it prints", "[catalog-cli]") {
  BuildTimes t;
  t.base_seconds = 324.24;  // training with per-epoch validation: the base's whole time
  t.base_train_seconds = 308.31;
  t.train_images_per_s = 1900;
  t.eval_images_per_s = 9000;
  t.variants = 73;
  t.catalog_seconds = 320.96;
  t.cache_seconds = 6.3;
  t.total_seconds = 660;
  t.catalog_json = "out/catalog.json";
  const std::string s = format_build_times(t);
  INFO(s);
  CHECK_THAT(s, Contains("base: 324.2 s = training 308.3 s (1900 img/s) + validation after each epoch 15.9 s (9000 img/s)"));
  CHECK_THAT(s, Contains("catalog: 73 variants in 321.0 s = 0.99x the base's 324.2 s (6.3 s of it caching activations)"));
  CHECK_THAT(s, Contains("total 660.0 s; catalog written to out/catalog.json"));
  CHECK_THAT(s, !Contains("resumed"));
  // Whatever the times, the printed ratio is the printed catalog time over the printed base time.
  for (double base : {0.04, 0.06, 1.0, 9.95, 308.3, 1234.56})
    for (double cat : {0.0, 0.05, 2.0, 99.99, 400.0}) {
      t.base_seconds = base, t.base_train_seconds = base * 0.9, t.catalog_seconds = cat, t.resumed = 2;
      const std::string o = format_build_times(t);
      double printed_cat = 0, ratio = 0, printed_base = 0;
      const size_t at = o.find("variants in ");
      REQUIRE(at != std::string::npos);
      INFO(o);
      CHECK_THAT(o, Contains("2 of them resumed from the checkpoint"));
      if (std::sscanf(o.c_str() + at, "variants in %lf s = %lfx the base's %lf s", &printed_cat, &ratio, &printed_base) == 3) {
        CHECK(std::fabs(ratio - printed_cat / printed_base) <= 0.005 + 1e-9);
        char head[64];
        std::snprintf(head, sizeof head, "  base: %.1f s = ", printed_base);  // the same base time on both lines
        CHECK(o.rfind(head, 0) == 0);
      } else {
        CHECK(std::round(base * 10) == 0);  // a base too short to print: no ratio
      }
    }
}

TEST_CASE("mcdnn-catalog: budgets need units, a p95 limit, deployable sizes per format, verify", "[catalog-cli][cli]") {
  CatalogCli f;
  const CatalogIndex c = read_catalog_index(f.cat);
  std::string out;
  // A bare number is a guess at the unit: refused with the accepted forms.
  CHECK(f.run("select " + f.cat + " --max-latency 0.05", &out) == 2);
  CHECK_THAT(out, Contains("--max-latency 0.05: expected a duration with its unit, e.g. 0.05s or 0.05ms") &&
                      Contains("a bare number is not accepted"));
  CHECK(f.run("select " + f.cat + " --max-energy 0.3", &out) == 2);
  CHECK_THAT(out, Contains("0.3J or 0.3mJ"));
  CHECK(f.run("select " + f.cat + " --max-bytes 200", &out) == 2);
  CHECK(f.run("select " + f.cat + " --max-bytes 0", &out) == 9);  // zero is zero in every unit

  // --max-latency-p95: the pick's 95th percentile is within the limit, and it is at least as
  // accurate as any variant within it.
  for (const auto& r : c.records) {
    char arg[96];
    std::snprintf(arg, sizeof arg, " --max-latency-p95 %.17gms --json", r.measured.latency_p95_ms);
    REQUIRE(f.run("select " + f.cat + arg, &out) == 0);
    const auto j = nlohmann::json::parse(out);
    CHECK(j["measured"]["latency_p95_ms"].get<double>() <= r.measured.latency_p95_ms * (1 + 1e-12));
    CHECK(j["accuracy"].get<double>() >= r.accuracy);
  }

  // Deployable sizes: the catalog's bytes, and the ONNX exports, where pruning saves nothing (the
  // zeros are stored) and int8 saves against float.
  REQUIRE(f.run("show " + f.cat + " --sizes --json", &out) == 0);
  const auto sizes = nlohmann::json::parse(out);
  REQUIRE(sizes.size() == c.records.size());
  std::map<std::string, nlohmann::json> by_id;
  for (const auto& s : sizes) by_id[s["id"]] = s["sizes"];
  for (const auto& r : c.records) CHECK(by_id[r.id]["catalog"].get<int64_t>() == r.profile.bytes);
  const VariantRecord* pruned = nullptr;
  for (const auto& r : c.records)
    if (r.parent == "base" && r.id.rfind("prune", 0) == 0) pruned = &r;
  REQUIRE(pruned);
  CHECK(pruned->profile.bytes < c.find("base")->profile.bytes);
  CHECK(by_id[pruned->id]["onnx_float"] == by_id["base"]["onnx_float"]);
  CHECK(by_id[pruned->id]["onnx_compressed"] == by_id["base"]["onnx_compressed"]);
  CHECK(by_id["quant-int8"]["onnx_compressed"].get<int64_t>() < by_id["quant-int8"]["onnx_float"].get<int64_t>() / 3);
  CHECK(by_id["quant-int8"]["onnx_float"] == by_id["base"]["onnx_float"]);
  REQUIRE(f.run("show " + f.cat + " --sizes", &out) == 0);
  CHECK_THAT(out, Contains("ONNX compressed") && Contains(pruned->id));
  // select --format onnx limits the exported size: the pruned f32 variant no longer fits a budget
  // of its catalog size.
  const std::string budget = " --max-bytes " + std::to_string(pruned->profile.bytes) + "B --json";
  REQUIRE(f.run("select " + f.cat + budget, &out) == 0);
  CHECK(nlohmann::json::parse(out)["bytes"].get<int64_t>() <= pruned->profile.bytes);
  const int rc = f.run("select " + f.cat + budget + " --format onnx", &out);
  if (rc == 0) {
    const auto j = nlohmann::json::parse(out);
    CHECK(j["sizes"]["onnx_compressed"].get<int64_t>() <= pruned->profile.bytes);
    CHECK(j["id"] != pruned->id);
  } else {
    CHECK(rc == 9);
  }
  CHECK(f.run("select " + f.cat + " --format tflite", &out) == 2);
  CHECK(f.run("select " + f.cat + " --format onnx", &out) == 2);  // --format says what --max-bytes counts
  CHECK_THAT(out, Contains("--max-bytes"));

  // The list reads catalog.json alone, and says so.
  REQUIRE(f.run("show " + f.cat, &out) == 0);
  CHECK_THAT(out, Contains("no variant file was opened") && Contains("mcdnn-catalog verify"));

  // verify: every file checked; a damaged one named, exit 7; show --variant still prints the
  // record, then says the file is damaged (exit 7).
  REQUIRE(f.run("verify " + f.cat, &out) == 0);
  CHECK_THAT(out, Contains("all " + std::to_string(c.records.size()) + " files intact"));
  const std::string file = f.cat + "/" + c.find("quant-cb4")->file;
  auto bytes = read_bytes(file);
  bytes[bytes.size() / 2] ^= 0x40;
  write_bytes(file, bytes);
  CHECK(f.run("verify " + f.cat, &out) == 7);
  CHECK_THAT(out, Contains("DAMAGED quant-cb4") && Contains("SHA-256") && Contains("1 of " + std::to_string(c.records.size()) + " files damaged"));
  CHECK(f.run("show " + f.cat + " --variant quant-cb4", &out) == 7);
  CHECK_THAT(out, Contains("quant-cb4: ") && Contains("accuracy") && Contains("DAMAGED or missing") && Contains("SHA-256"));
  std::filesystem::remove(file);
  CHECK(f.run("verify " + f.cat, &out) == 7);
  CHECK_THAT(out, Contains("DAMAGED quant-cb4"));
}
