// The mcdnn-compile executable end to end: flags, exit codes, messages, output directory.
#include <algorithm>
#include <filesystem>
#include <map>

#include "catch.hpp"
#include "fixtures.hpp"

using namespace mcdnn::test;
namespace fs = std::filesystem;

namespace {
std::string cli() { return MCDNN_CLI; }

struct Project {
  TempDir dir;
  Project() {
    write_synthetic_idx(make_synthetic(300, 12, 4, 31), dir / "train");
    write_synthetic_idx(make_synthetic(100, 12, 4, 32), dir / "val");
    write_bytes(dir / "s.yaml", bytes(tiny_schema(dir.path().string(), 4, 2)));
  }
  static std::vector<uint8_t> bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }
  // Runs the CLI in the project directory.
  int run(const std::string& args, std::string* out) const {
    // Executor measurement kept short (0.02 s of runs per variant): the tests check it happens.
    return run_command("cd " + dir.path().string() + " && " + cli() + " " + args + " --measure-seconds 0.02", out);
  }
  // Everything in the directory except the inputs: the outputs a run left behind.
  std::vector<std::string> outputs() const {
    std::vector<std::string> v;
    for (auto& e : fs::directory_iterator(dir.path())) {
      auto n = e.path().filename().string();
      if (n != "s.yaml" && n.find(".idx") == std::string::npos && n != "bad.yaml") v.push_back(n);
    }
    return v;
  }
};
}  // namespace

TEST_CASE("cli: --version, --help and bad flags", "[cli]") {
  std::string out;
  CHECK(run_command(cli() + " --version", &out) == 0);
  CHECK(out.find("mcdnn-compile 0.") == 0);
  CHECK(run_command(cli() + " --help", &out) == 0);
  CHECK(out.find("--profile-only") != std::string::npos);
  CHECK(out.find("Exit codes") != std::string::npos);
  CHECK(run_command(cli() + " s.yaml --frobnicate", &out) == 2);
  CHECK(out.find("--frobnicate") != std::string::npos);
  CHECK(run_command(cli() + " s.yaml --device tpu", &out) == 2);
  CHECK(run_command(cli(), &out) == 2);
}

TEST_CASE("cli: a full run on a few hundred examples writes the catalog", "[cli]") {
  Project p;
  std::string out;
  int rc = p.run("s.yaml -o cat --threads 1", &out);
  INFO(out);
  REQUIRE(rc == 0);
  CHECK(out.find("epoch   1/2") != std::string::npos);
  CHECK(out.find("epoch   2/2") != std::string::npos);
  CHECK(out.find("summary") != std::string::npos);
  CHECK(fs::exists(p.dir / "cat/catalog.json"));
  CHECK(fs::exists(p.dir / "cat/base.h5"));
  CHECK(p.outputs() == std::vector<std::string>{"cat"});
  // Nothing changed: the second run is skipped; --force rebuilds.
  rc = p.run("s.yaml -o cat --threads 1", &out);
  REQUIRE(rc == 0);
  CHECK(out == "cat is up to date with s.yaml and its data (same schema, data files and compiler); --force rebuilds it\n");
  rc = p.run("s.yaml -o cat --threads 1 --force", &out);
  REQUIRE(rc == 0);
  CHECK(out.find("epoch   2/2") != std::string::npos);
  // --epochs and --limit override the schema; the default output directory is <name>-catalog.
  rc = p.run("s.yaml --epochs 1 --limit 50 --threads 1", &out);
  REQUIRE(rc == 0);
  CHECK(out.find("50 training, 50 validation") != std::string::npos);
  CHECK(out.find("epoch   1/1") != std::string::npos);
  CHECK(fs::exists(p.dir / "tiny-catalog/catalog.json"));
}

TEST_CASE("cli: --profile-only needs no data and prints the table", "[cli]") {
  std::string out;
  int rc = run_command(cli() + " --profile-only " + MCDNN_SOURCE_DIR + "/schemas/vgg16.yaml", &out);
  REQUIRE(rc == 0);
  CHECK(out.find("conv5_3") != std::string::npos);
  CHECK(out.find("138357544") != std::string::npos);
  CHECK(out.find("30940528640") != std::string::npos);
}

TEST_CASE("cli: an invalid schema exits 3 with one error and writes nothing", "[cli]") {
  Project p;
  write_bytes(p.dir / "bad.yaml", Project::bytes("format: mcdnn-schema/1\nname: t\ninput: {channels: 1, height: 12, width: 12}\n"
                                                 "classes: 4\nnetwork:\n  - conv2d: {out: 8, kernel: 30}\n"));
  std::string out;
  CHECK(p.run("bad.yaml -o cat", &out) == 3);
  CHECK(out == "error: bad.yaml:6:5: network[0]: conv2d 'conv1' with input 1x12x12: kernel 30x30 does not fit the "
               "12x12 input (padding 0x0); use a smaller kernel or more padding\n");
  CHECK(p.outputs().empty());
  CHECK(p.run("missing.yaml -o cat", &out) == 3);
  CHECK(out.rfind("error: missing.yaml: cannot open", 0) == 0);
}

TEST_CASE("cli: bad data exits 4 with one error and writes nothing", "[cli]") {
  Project p;
  auto labels = read_bytes(p.dir / "val-labels.idx");
  labels[8 + 5] = 7;  // a label outside the 4 classes
  write_bytes(p.dir / "val-labels.idx", labels);
  std::string out;
  CHECK(p.run("s.yaml -o cat", &out) == 4);
  CHECK(out.find("error: " + (p.dir / "val-labels.idx") + ": example 5 has label 7 outside the schema's 4 classes") !=
        std::string::npos);
  CHECK(p.outputs().empty());
  // Truncated images.
  Project q;
  auto img = read_bytes(q.dir / "train-images.idx");
  img.resize(img.size() / 2);
  write_bytes(q.dir / "train-images.idx", img);
  CHECK(q.run("s.yaml -o cat", &out) == 4);
  CHECK(out.find("truncated") != std::string::npos);
  CHECK(q.outputs().empty());
}

TEST_CASE("cli: an unwritable output directory exits 5", "[cli]") {
  Project p;
  write_bytes(p.dir / "blocker", {1});
  std::string out;
  CHECK(p.run("s.yaml -o blocker/cat --threads 1", &out) == 5);
  // Checked before any data is read or any epoch is trained.
  CHECK(out.find("epoch") == std::string::npos);
  CHECK(out.find("error: blocker/cat: cannot create the output directory: " + fs::canonical(p.dir.path()).string() +
                 "/blocker is not a directory\n") != std::string::npos);
  CHECK(p.run("s.yaml -o blocker --threads 1", &out) == 5);
  CHECK(out.find("error: blocker: exists and is not a directory; mcdnn-compile replaces only an empty directory or a "
                 "catalog it wrote. Choose a new or empty directory with -o, or move the existing one away yourself\n") !=
        std::string::npos);
}

namespace {
// Every regular file under `root` with its bytes.
std::map<std::string, std::vector<uint8_t>> snapshot(const fs::path& root) {
  std::map<std::string, std::vector<uint8_t>> m;
  for (auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) m[e.path().string()] = read_bytes(e.path().string());
  return m;
}
}  // namespace

TEST_CASE("cli: never replaces a directory that is not an mcdnn catalog", "[cli][output]") {
  Project p;
  fs::create_directories(p.dir / "thesis/sub");
  write_bytes(p.dir / "thesis/thesis.tex", Project::bytes("\\documentclass{article}"));
  write_bytes(p.dir / "thesis/sub/data.csv", Project::bytes("a,b\n1,2\n"));
  fs::create_directories(p.dir / "home");
  fs::create_directory_symlink(p.dir / "thesis", p.dir / "link");
  fs::create_directories(p.dir / "x.partial");
  write_bytes(p.dir / "x.partial/mine.txt", {1});
  const auto before = snapshot(p.dir.path());
  struct Case {
    std::string out, says;
  };
  for (const Case& c : std::vector<Case>{
           {"thesis", "error: thesis: is not an mcdnn catalog and holds '"},
           {".", "error: .: is the working directory or one of its parents"},
           {"..", "error: ..: is the working directory or one of its parents"},
           {"/", "error: /: is the root directory"},
           {"home", "error: home: is the home directory"},
           {"link", "error: link: is a symbolic link"},
           {"x", "x.partial (where mcdnn-compile builds x): was not made by mcdnn"},
       }) {
    INFO(c.out);
    std::string out;
    CHECK(run_command("cd " + p.dir.path().string() + " && HOME=" + (p.dir / "home") + " " + cli() + " s.yaml -o " + c.out +
                          " --threads 1 --measure-seconds 0.02",
                      &out) == 5);
    CHECK(out.find(c.says) != std::string::npos);
    CHECK(out.find("epoch") == std::string::npos);  // refused before any work
    CHECK(std::count(out.begin(), out.end(), '\n') == 1);
    CHECK(snapshot(p.dir.path()) == before);  // every file still there, byte for byte
  }
  // An empty directory is fine, and so is replacing a catalog mcdnn wrote.
  fs::create_directories(p.dir / "empty");
  std::string out;
  CHECK(p.run("s.yaml -o empty --threads 1", &out) == 0);
  CHECK(fs::exists(p.dir / "empty/catalog.json"));
  CHECK(p.run("s.yaml -o empty --threads 1 --force", &out) == 0);
  // A catalog whose file was damaged is not "up to date": it is rebuilt.
  auto b = read_bytes(p.dir / "empty/base.h5");
  b[b.size() / 2] ^= 1;
  write_bytes(p.dir / "empty/base.h5", b);
  CHECK(p.run("s.yaml -o empty --threads 1", &out) == 0);
  CHECK(out.find("epoch   2/2") != std::string::npos);
}
