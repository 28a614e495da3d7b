// bench_measure: a catalog's variants measured again, now, by the protocol mcdnn-compile measured
// them with (executor/measure.hpp: measure_files, the rounds over all variants in turn), in a
// LibTorch-free process. tools/bench_latency.py --remeasure runs it between its fresh
// mcdnn-infer processes, so that the protocol is compared with what a fresh process sees at
// the same time, apart from how far the machine's speed has drifted since the catalog was built.
//   bench_measure CATALOG [--rounds R] [--seconds S] [--variants ID,...]
// Prints one line per variant: "ID LATENCY_MS P95_MS RUNS" (the catalog's own figures are not
// changed). The machine should be idle.
#include <cstdio>
#include <cstdlib>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "bench_main.hpp"
#include "catalog/catalog_index.hpp"
#include "measure.hpp"

using namespace mcdnn;

namespace {

const char* kUsage = "bench_measure CATALOG [--rounds R] [--seconds S] [--variants ID,...]";

double positive(const char* flag, const char* v) {
  char* end = nullptr;
  const double d = std::strtod(v, &end);
  if (end == v || *end || !(d > 0)) throw BadFlag(std::string(flag) + ": expected a positive number, got '" + v + "'");
  return d;
}

int run(int argc, char** argv) {
  std::string dir, only;
  exec::MeasureOptions opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) {
      const double r = positive("--rounds", argv[++i]);
      if (r != static_cast<int>(r) || r > 100) throw BadFlag("--rounds: expected a whole number from 1 to 100");
      opt.rounds = static_cast<int>(r);
    } else if (a == "--seconds" && i + 1 < argc) {
      opt.seconds = positive("--seconds", argv[++i]);
    } else if (a == "--variants" && i + 1 < argc) {
      only = argv[++i];
    } else {
      reject_flag(argv[i]);
      if (!dir.empty()) throw BadFlag("one catalog directory, got '" + dir + "' and '" + a + "'");
      dir = a;
    }
  }
  if (dir.empty()) throw BadFlag("a catalog directory is needed");
  const CatalogIndex c = read_catalog_index(dir);
  std::set<std::string> want;
  std::stringstream ss(only);
  for (std::string id; std::getline(ss, id, ',');)
    if (!id.empty()) want.insert(id);
  std::vector<std::string> ids, paths;
  std::vector<double> flops;
  std::set<std::string> unseen = want;
  for (const auto& v : c.records)
    if (want.empty() || (want.count(v.id) && unseen.erase(v.id))) {
      ids.push_back(v.id);
      paths.push_back(dir + "/" + v.file);
      flops.push_back(static_cast<double>(v.profile.flops_effective));
    }
  if (!unseen.empty()) throw Error(ErrorClass::Usage, "--variants: " + *unseen.begin() + " is not a variant of " + dir);
  const std::vector<MeasuredCost> m = exec::measure_files(paths, flops, opt);
  for (size_t i = 0; i < m.size(); ++i)
    std::printf("%s %.6f %.6f %lld\n", ids[i].c_str(), m[i].latency_ms, m[i].latency_p95_ms, static_cast<long long>(m[i].runs));
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return bench_main("bench_measure", kUsage, argc, argv, run); }
