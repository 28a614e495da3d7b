// Interrupted builds: a run killed with SIGKILL at several points, or stopped with Ctrl-C,
// resumes from DIR.partial when rerun and produces the catalog an uninterrupted run produces
// (every field but timings identical, every variant file byte for byte: same SHA-256).
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <nlohmann/json.hpp>
#include <thread>

#include "catch.hpp"
#include "fixtures.hpp"
#include "util/fs.hpp"

using namespace mcdnn::test;
namespace fs = std::filesystem;
using nlohmann::json;

extern char** environ;

namespace {

const char* kCatalog =
    "catalog:\n"
    "  finetune: {examples: 200, epochs: 1, lr: 0.002}\n"
    "  variants:\n"
    "    - quantize: {formats: [int8, cb4]}\n"
    "    - svd: {layers: [fc1], ranks: [1/2, energy=1/2]}\n"
    "    - prune: {layers: all, sparsity: [0.5, 0.8], iterative: true,\n"
    "              then: [{quantize: {formats: [cb2], finetune: true}}]}\n"
    "    - remove: {layers: [fc1]}\n"
    "    - narrow: {layers: [conv1], keep: [1/2], then: [{prune: {layers: [fc1], sparsity: [0.9]}}]}\n";

struct Project {
  TempDir dir;
  Project() {
    write_synthetic_idx(make_synthetic(300, 12, 4, 61), dir / "train");
    write_synthetic_idx(make_synthetic(100, 12, 4, 62), dir / "val");
    std::string s = tiny_schema(dir.path().string(), 4, 2) + kCatalog;
    write_bytes(dir / "s.yaml", std::vector<uint8_t>(s.begin(), s.end()));
  }
  std::string cmd(const std::string& out) const {
    return "cd " + dir.path().string() + " && exec " + MCDNN_CLI + " s.yaml -o " + out + " --threads 1 --measure-seconds 0.02";
  }
  int run(const std::string& out, std::string* log) const { return run_command(cmd(out), log); }
  pid_t spawn(const std::string& out) const {
    std::string c = cmd(out) + " > " + (dir / (out + ".log")) + " 2>&1";
    const char* argv[] = {"/bin/sh", "-c", c.c_str(), nullptr};
    pid_t pid = -1;
    REQUIRE(posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ) == 0);
    return pid;
  }
  // Models (base included) the checkpoint in OUT.partial lists; -1 before it exists.
  int checkpointed(const std::string& out) const {
    try {
      json j = json::parse(mcdnn::read_file(dir / (out + ".partial/checkpoint.json"), 1));
      return static_cast<int>(j.at("variants").size());
    } catch (const std::exception&) {
      return -1;
    }
  }
};

int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("a build killed with SIGKILL resumes to the same catalog", "[resume]") {
  Project p;
  std::string log;
  REQUIRE(p.run("ref", &log) == 0);
  const json ref = without_timings(p.dir / "ref/catalog.json");
  const size_t models = ref["variants"].size();
  REQUIRE(models >= 12);
  // Kill points: during base training (the build directory exists, nothing is checkpointed),
  // after the base model, and after a third and two thirds of the variants.
  for (int after : {0, 1, static_cast<int>(models / 3), static_cast<int>(2 * models / 3)}) {
    INFO("killed after " << after << " checkpointed models");
    const std::string out = "k" + std::to_string(after);
    pid_t pid = p.spawn(out);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (std::chrono::steady_clock::now() < deadline) {
      bool ready = after == 0 ? fs::exists(p.dir / (out + ".partial/.lock")) : p.checkpointed(out) >= after;
      if (ready) break;
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    ::kill(pid, SIGKILL);
    CHECK(wait_exit(pid) == 128 + SIGKILL);
    CHECK_FALSE(fs::exists(p.dir / out));  // no half catalog
    REQUIRE(fs::exists(p.dir / (out + ".partial")));
    int rc = p.run(out, &log);
    INFO(log);
    REQUIRE(rc == 0);
    if (after >= 1) CHECK(log.find("resuming the interrupted build") != std::string::npos);
    CHECK(without_timings(p.dir / (out + "/catalog.json")) == ref);
    // Nothing but the catalog: no checkpoint, temporary or half-written file of the killed run.
    std::set<std::string> files, listed = {"catalog.json", "report.html"};
    for (auto& e : fs::directory_iterator(p.dir / out)) files.insert(e.path().filename().string());
    for (const auto& v : ref["variants"]) listed.insert(v["file"].get<std::string>());
    CHECK(files == listed);
    CHECK_FALSE(fs::exists(p.dir / (out + ".partial")));
    CHECK_FALSE(fs::exists(p.dir / (out + "/checkpoint.json")));
  }
}

TEST_CASE("Ctrl-C stops cleanly, says how to resume, and the rerun resumes", "[resume]") {
  Project p;
  pid_t pid = p.spawn("cat");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (p.checkpointed("cat") < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  // The shell exec'd the compiler: pid is mcdnn-compile itself.
  ::kill(pid, SIGINT);
  CHECK(wait_exit(pid) == 130);
  std::string log = mcdnn::read_file(p.dir / "cat.log", 1);
  INFO(log);
  CHECK(log.find("error: interrupted (Ctrl-C): everything finished so far is kept in ") != std::string::npos);
  CHECK(log.find("rerun the same command to resume") != std::string::npos);
  CHECK(p.checkpointed("cat") >= 3);
  REQUIRE(p.run("cat", &log) == 0);
  CHECK(log.find("resuming the interrupted build") != std::string::npos);
  CHECK(log.find("(built before the interruption)") != std::string::npos);
  // --restart discards a checkpoint instead.
  pid = p.spawn("two");
  while (p.checkpointed("two") < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  ::kill(pid, SIGKILL);
  wait_exit(pid);
  REQUIRE(run_command(p.cmd("two") + " --restart", &log) == 0);
  CHECK(log.find("discarding an unfinished build (--restart)") != std::string::npos);
  CHECK(log.find("resuming") == std::string::npos);
}
