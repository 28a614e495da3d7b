// A catalog build split into jobs (mcdnn-compile --plan / --job / --merge): the merged catalog
// equals the whole build in every field but timings and every variant file byte for byte; a
// job whose parents are missing, an unfinished plan, a damaged file and a plan of another
// build are clear errors; a killed job is rerun alone.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "catalog/build_plan.hpp"
#include "catch.hpp"
#include "fixtures.hpp"
#include "schema/plan.hpp"
#include "schema/schema.hpp"
#include "util/fs.hpp"

using namespace mcdnn;
using namespace mcdnn::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Energy ranks (one of them may be skipped once the weights are known), a rank and a keep the
// rules skip, iterative pruning with `then` chains, a quantized parent read back from its file
// (the int8 blobs once came back in another order and changed the child's bytes) and a
// three-deep chain.
const char* kCatalog =
    "catalog:\n"
    "  finetune: {examples: 200, epochs: 1, lr: 0.002}\n"
    "  variants:\n"
    "    - quantize: {formats: [int8, cb4]}\n"
    "    - quantize: {layers: [conv1], formats: [int8], then: [{quantize: {layers: [fc1, fc2], formats: [cb4]}}]}\n"
    "    - svd: {layers: [fc1], ranks: [1/2, energy=0.5, energy=0.999, 0.99], then: [{quantize: {formats: [int8]}}]}\n"
    "    - prune: {layers: all, sparsity: [0.5, 0.8], iterative: true,\n"
    "              then: [{quantize: {formats: [cb2], finetune: true}}]}\n"
    "    - narrow: {layers: [conv1], keep: [1/2, 1/1], then: [{svd: {layers: [fc1], ranks: [1/4],\n"
    "               then: [{prune: {layers: [fc1], sparsity: [0.9]}}]}}]}\n";

struct Project {
  TempDir dir;
  Project() {
    write_synthetic_idx(make_synthetic(300, 12, 4, 71), dir / "train");
    write_synthetic_idx(make_synthetic(100, 12, 4, 72), dir / "val");
    std::string s = tiny_schema(dir.path().string(), 4, 2) + kCatalog;
    write_bytes(dir / "s.yaml", std::vector<uint8_t>(s.begin(), s.end()));
  }
  int run(const std::string& args, std::string* log) const {
    return run_command("cd " + dir.path().string() + " && " + MCDNN_CLI + " s.yaml --measure-seconds 0 " + args + " 2>&1", log);
  }
  PlanFile plan() const { return read_plan(dir / "plan"); }
};

}  // namespace

TEST_CASE("split_jobs: waves in order, every position once, svd ranks of one layer together", "[jobs]") {
  TempDir d;
  Schema s = parse_schema_string(tiny_schema(d.path().string(), 4, 1) + kCatalog, d / "s.yaml", "");
  const auto plan = plan_build(s);
  const auto jobs = split_jobs(plan);
  std::vector<size_t> job_of(plan.size() + 1, 0);
  size_t wave = 1;
  for (const auto& j : jobs) {
    CHECK(j.wave >= wave);  // numbered by wave: each wave is a contiguous range
    wave = j.wave;
    REQUIRE(j.positions.size() == j.ids.size());
    for (size_t p : j.positions) {
      CHECK(job_of[p] == 0);
      job_of[p] = j.number;
    }
  }
  for (size_t p = 1; p <= plan.size(); ++p) {
    REQUIRE(job_of[p] != 0);
    const size_t parent = plan[p - 1].parent_pos;
    // A parent is built by an earlier wave (or by the same job, never a later one).
    if (parent != 0 && job_of[parent] != job_of[p]) CHECK(jobs[job_of[parent] - 1].wave < jobs[job_of[p] - 1].wave);
    if (parent != 0 && job_of[parent] != job_of[p]) {
      const auto& deps = jobs[job_of[p] - 1].depends;
      CHECK(std::find(deps.begin(), deps.end(), job_of[parent]) != deps.end());
    }
  }
  // The four svd ranks of fc1 on the base model (one skipped by the rules) are one job.
  std::set<size_t> svd_jobs;
  for (size_t p = 1; p <= plan.size(); ++p)
    if (plan[p - 1].recipe.pass == "svd" && plan[p - 1].parent_pos == 0) svd_jobs.insert(job_of[p]);
  CHECK(svd_jobs.size() == 1);
  size_t ranks = 0, energy_children = 0;
  for (size_t p : jobs[*svd_jobs.begin() - 1].positions) {
    ranks += plan[p - 1].parent_pos == 0;
    // A child of an energy rank stays in its job (two energy levels may build one variant).
    energy_children += plan[p - 1].parent_pos != 0 && plan[plan[p - 1].parent_pos - 1].rank_from_weights;
  }
  CHECK(ranks == 4);
  CHECK(energy_children == 2);
  CHECK(jobs.back().wave == 3);  // narrow -> svd -> prune: the deepest chain
  CHECK(parse_job_range("2-4", jobs.size()) == std::vector<size_t>{2, 3, 4});
  CHECK_THROWS_WITH(parse_job_range("0", jobs.size()), Catch::Contains("expected a job number K or a range A-B"));
  CHECK_THROWS_WITH(parse_job_range("3-2", jobs.size()), Catch::Contains("within 1-"));
  CHECK_THROWS(parse_job_range(std::to_string(jobs.size() + 1), jobs.size()));
  CHECK_THROWS(parse_job_range("1-x", jobs.size()));
}

TEST_CASE("plan, jobs in any order within a wave, merge give the whole build's catalog, and a killed job is rerun alone", "[jobs][cli]") {
  Project p;
  std::string log;
  REQUIRE(p.run("--threads 1 -o whole", &log) == 0);
  INFO(log);
  REQUIRE(p.run("--threads 1 --plan plan", &log) == 0);
  CHECK(log.find("wave 1: jobs 1-") != std::string::npos);
  const PlanFile plan = p.plan();
  const size_t n = plan.jobs.size();
  REQUIRE(n >= 8);
  // A job of the last wave first: its parents are not built yet.
  REQUIRE(p.run("--plan plan --job " + std::to_string(n), &log) == 2);
  CHECK(log.find("which have not finished; build them first") != std::string::npos);
  // Wave by wave, each wave's jobs in reverse order, some as ranges.
  for (size_t w = 1; w <= plan.jobs.back().wave; ++w) {
    std::vector<size_t> in_wave;
    for (const auto& j : plan.jobs)
      if (j.wave == w) in_wave.push_back(j.number);
    for (auto it = in_wave.rbegin(); it != in_wave.rend(); ++it) REQUIRE(p.run("--plan plan --job " + std::to_string(*it), &log) == 0);
  }
  CHECK(p.run("--plan plan --job 1-2", &log) == 0);
  CHECK(log.find("job 1: already built") != std::string::npos);
  REQUIRE(p.run("--merge plan -o merged", &log) == 0);
  const json whole = without_timings(p.dir / "whole/catalog.json");
  CHECK(without_timings(p.dir / "merged/catalog.json") == whole);  // sha256 of every file included
  CHECK(whole["notes"].size() >= 2);                                // the skipped rank and keep
  for (const auto& v : whole["variants"])
    CHECK(read_bytes(p.dir / ("merged/" + v["file"].get<std::string>())) == read_bytes(p.dir / ("whole/" + v["file"].get<std::string>())));

  // A job killed before it finished leaves files but no job-K.json: the merge names it, and
  // rerunning that job alone completes the plan.
  const size_t k = n / 2;
  fs::remove(p.dir / ("plan/job-" + std::to_string(k) + ".json"));
  REQUIRE(p.run("--merge plan -o merged2", &log) == 7);
  CHECK(log.find("1 of " + std::to_string(n) + " jobs have not finished") != std::string::npos);
  CHECK(log.find(": " + std::to_string(k) + "; build them") != std::string::npos);
  CHECK_FALSE(fs::exists(p.dir / "merged2"));
  REQUIRE(p.run("--plan plan --job " + std::to_string(k), &log) == 0);
  REQUIRE(p.run("--merge plan -o merged2", &log) == 0);
  CHECK(without_timings(p.dir / "merged2/catalog.json") == whole);

  // A damaged variant file: the merge refuses it; --force rebuilds its job.
  const PlanFile again = p.plan();
  const std::string id = again.jobs[0].ids[0];
  {
    auto bytes = read_bytes(p.dir / ("plan/" + id + ".h5"));
    bytes[bytes.size() / 2] ^= 0x40;
    fs::remove(p.dir / ("plan/" + id + ".h5"));  // a new file: the merged catalogs hold hard links to the old one
    write_bytes(p.dir / ("plan/" + id + ".h5"), bytes);
  }
  REQUIRE(p.run("--merge plan -o merged3", &log) == 7);
  CHECK(log.find("SHA-256") != std::string::npos);
  CHECK(log.find("rerun the job that built it") != std::string::npos);
  REQUIRE(p.run("--plan plan --job 1", &log) == 0);  // not intact: built again
  CHECK(log.find("already built") == std::string::npos);
  REQUIRE(p.run("--merge plan -o merged3", &log) == 0);
  CHECK(without_timings(p.dir / "merged3/catalog.json") == whole);
  // The rebuilt job wrote new files: the catalogs merged before (hard links) are intact.
  for (const char* c : {"merged", "merged2"})
    for (const auto& v : whole["variants"])
      CHECK(read_bytes(p.dir / (std::string(c) + "/" + v["file"].get<std::string>())) ==
            read_bytes(p.dir / ("whole/" + v["file"].get<std::string>())));

  // A damaged job file does not block other jobs (it counts as unfinished); the merge refuses it.
  write_bytes(p.dir / "plan/job-1.json", {'{', 'x'});
  REQUIRE(p.run("--plan plan --job 2", &log) == 0);
  CHECK(log.find("job 1 counts as unfinished") != std::string::npos);
  CHECK(p.run("--merge plan -o merged4", &log) == 7);
  REQUIRE(p.run("--plan plan --job 1", &log) == 0);
  REQUIRE(p.run("--merge plan -o merged4", &log) == 0);
  CHECK(without_timings(p.dir / "merged4/catalog.json") == whole);
}

TEST_CASE("build jobs: flags, a plan of another build, a directory that is not a plan", "[jobs][cli]") {
  Project p;
  std::string log;
  CHECK(p.run("--job 1", &log) == 2);
  CHECK(log.find("--job needs --plan DIR") != std::string::npos);
  CHECK(p.run("--plan a --merge a", &log) == 2);
  CHECK(p.run("--plan a --check", &log) == 2);
  CHECK(p.run("--merge nowhere", &log) == 2);
  CHECK(log.find("holds no plan.json; make the plan first") != std::string::npos);
  // Not a plan directory: refused, untouched.
  fs::create_directories(p.dir / "mine");
  write_bytes(p.dir / "mine/notes.txt", {'h', 'i'});
  CHECK(p.run("--plan mine", &log) == 5);
  CHECK(log.find("holds 'notes.txt', which is not part of an mcdnn build plan") != std::string::npos);
  CHECK(read_bytes(p.dir / "mine/notes.txt") == std::vector<uint8_t>{'h', 'i'});
  // A base.h5 without plan.json could be anyone's.
  fs::create_directories(p.dir / "other");
  write_bytes(p.dir / "other/base.h5", {1, 2, 3});
  CHECK(p.run("--plan other", &log) == 5);
  CHECK(read_bytes(p.dir / "other/base.h5") == std::vector<uint8_t>{1, 2, 3});
  // A plan made with other flags (the build key differs): jobs and merge refuse it.
  REQUIRE(p.run("--threads 1 --plan plan --epochs 1", &log) == 0);
  CHECK(p.run("--plan plan --job 1", &log) == 2);
  CHECK(log.find("was made from a different schema, data, --epochs/--limit or compiler") != std::string::npos);
  CHECK(p.run("--plan plan --job 999 --epochs 1", &log) == 2);
  CHECK(log.find("expected a job number K or a range A-B within 1-") != std::string::npos);
  CHECK(p.run("--merge plan --epochs 1 -o c", &log) == 7);
  CHECK(log.find("jobs have not finished") != std::string::npos);
  // Planning again with other flags replaces the plan; the same flags keep its base model.
  REQUIRE(p.run("--threads 1 --plan plan --epochs 1", &log) == 0);
  CHECK(log.find("base model: taken from the plan") != std::string::npos);
  REQUIRE(p.run("--threads 1 --plan plan", &log) == 0);
  CHECK(log.find("training 2 epochs") != std::string::npos);
  // Another thread count would build other bits: the plan starts over.
  REQUIRE(p.run("--threads 2 --plan plan", &log) == 0);
  CHECK(log.find("made with 1 thread(s) on cpu, this plan uses 2 on cpu); starting over") != std::string::npos);
}
