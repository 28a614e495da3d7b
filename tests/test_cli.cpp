// The mcdnn-compile executable end to end: flags, exit codes, messages, output directory.
#include <algorithm>
#include <filesystem>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "catalog/convergence.hpp"
#include "catch.hpp"
#include "fixtures.hpp"

using namespace mcdnn::test;
namespace fs = std::filesystem;

namespace {
std::string cli() { return MCDNN_CLI; }
std::string read_text(const std::string& path) {
  const auto b = read_bytes(path);
  return std::string(b.begin(), b.end());
}

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
  CHECK(run_command(cli() + " s.yaml --json", &out) == 2);
  CHECK(out.find("--json applies to --check and --profile-only only") != std::string::npos);
  CHECK(run_command(cli() + " s.yaml --check --profile-only", &out) == 2);
  CHECK(run_command(cli(), &out) == 2);
}

TEST_CASE("cli: a full run on a few hundred examples writes the catalog", "[cli]") {
  Project p;
  std::string out;
  // --check first: it lists exactly the variants the build then makes, in build order, with
  // their stored bytes estimated within 1% (10% for global pruning, whose shared threshold
  // keeps more of some layers than of others; the estimate assumes an even spread).
  REQUIRE(p.run("s.yaml -o cat --check --json", &out) == 0);
  CHECK(p.outputs().empty());
  const auto plan = nlohmann::json::parse(out);
  REQUIRE(plan["variants"].size() > 20);
  int rc = p.run("s.yaml -o cat --threads 1", &out);
  INFO(out);
  REQUIRE(rc == 0);
  CHECK(out.find("epoch   1/2") != std::string::npos);
  CHECK(out.find("epoch   2/2") != std::string::npos);
  CHECK(out.find("summary") != std::string::npos);
  const auto cat = nlohmann::json::parse(read_text(p.dir / "cat/catalog.json"));
  REQUIRE(cat["variants"].size() == plan["variants"].size() + 1);
  {
    // The base's validation accuracy after each epoch is kept (the last is its accuracy), and the
    // warning that it had not converged is printed, after its training and in the summary,
    // exactly when the rule says so.
    const auto& base = cat["variants"][0];
    REQUIRE(base["accuracy_by_epoch"].size() == 2);
    CHECK(base["accuracy_by_epoch"][1] == base["accuracy"]);
    CHECK(cat["variants"][1]["accuracy_by_epoch"].is_null());
    const mcdnn::Convergence c = mcdnn::judge_convergence(base["accuracy_by_epoch"].get<std::vector<double>>(), 100);
    const std::string warning = mcdnn::convergence_warning(c);
    size_t n = 0;
    for (size_t at = out.find("warning: the base model had not converged"); at != std::string::npos;
         at = out.find("warning: the base model had not converged", at + 1))
      ++n;
    CHECK(n == (c.converged ? 0u : 2u));
    if (!c.converged) CHECK(out.find(warning + "\n") != std::string::npos);
  }
  for (size_t i = 0; i < plan["variants"].size(); ++i) {
    const auto& want = plan["variants"][i];
    const auto& got = cat["variants"][i + 1];
    CHECK(want["id"] == got["id"]);
    CHECK(want["parent"] == got["parent"]);
    const double est = want["estimated_bytes"].get<double>(), real = got["bytes"].get<double>();
    INFO(want["id"] << ": estimated " << est << " bytes, stored " << real);
    // Its progress row gives the bytes reduction against the base model.
    const std::string id = want["id"].get<std::string>();
    const size_t at = out.find("] " + id + " ");
    REQUIRE(at != std::string::npos);
    char smaller[32];
    std::snprintf(smaller, sizeof smaller, " %.1fx ", cat["variants"][0]["bytes"].get<double>() / real);
    CHECK(out.substr(at, out.find('\n', at) - at).find(smaller) != std::string::npos);
    const bool global = want["id"].get<std::string>().find("-global") != std::string::npos;
    CHECK(std::fabs(est / real - 1) < (global ? 0.1 : 0.01));
  }
  // Progress lines count up to the total; the summary has one header per column.
  const std::string total = std::to_string(plan["variants"].size());
  CHECK(out.find("[ 1/" + total + "] " + plan["variants"][0]["id"].get<std::string>()) != std::string::npos);
  CHECK(out.find("[" + total + "/" + total + "] ") != std::string::npos);
  const size_t head = out.find("\n  variant ", out.find("summary"));
  REQUIRE(head != std::string::npos);
  const std::string header = out.substr(head + 1, out.find('\n', head + 1) - head - 1);
  for (const char* col : {"accuracy", "vs base", "bytes", "smaller", "FLOPs", "fewer", "latency", "faster", "energy", "build", "fronts"}) {
    INFO(header);
    CHECK(header.find(col) != std::string::npos);
    CHECK(header.find(col) == header.rfind(col));
  }
  CHECK(fs::exists(p.dir / "cat/catalog.json"));
  CHECK(fs::exists(p.dir / "cat/base.h5"));
  CHECK(p.outputs() == std::vector<std::string>{"cat"});
  // Nothing changed: the second run is skipped; --force rebuilds.
  rc = p.run("s.yaml -o cat --threads 1", &out);
  REQUIRE(rc == 0);
  CHECK(out == "cat is up to date with s.yaml and its data (same schema, data files and compiler); --force rebuilds it, "
               "`mcdnn-catalog show cat` lists its variants\n");
  // A catalog.json given as the schema says what it is.
  CHECK(p.run("cat/catalog.json -o cat2", &out) == 3);
  CHECK(out.find("this is a catalog.json, which mcdnn-compile writes, not a schema") != std::string::npos);
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

TEST_CASE("cli: --check validates everything short of training and writes nothing", "[cli][check]") {
  Project p;
  std::string out;
  REQUIRE(p.run("s.yaml -o cat --check", &out) == 0);
  CHECK(out.find("s.yaml: valid; nothing trained or written") == 0);
  CHECK(out.find("300 training examples") != std::string::npos);
  CHECK(out.find("100 validation examples") != std::string::npos);
  CHECK(out.find("variants (the default sweep)") != std::string::npos);
  CHECK(out.find("quant-int8") != std::string::npos);
  CHECK(out.find("epoch   1/") == std::string::npos);
  CHECK(p.outputs().empty());
  // A chain the passes would reject: the same error, exit 3, as the full run gives.
  write_bytes(p.dir / "bad.yaml", Project::bytes(read_text(p.dir / "s.yaml") +
                                                 "catalog:\n  variants:\n    - quantize: {formats: [int8], then: [{prune: {sparsity: [0.5]}}]}\n"));
  std::string full;
  CHECK(p.run("bad.yaml -o cat --check", &out) == 3);
  CHECK(p.run("bad.yaml -o cat", &full) == 3);
  CHECK(out == full);
  CHECK(out.find("prune on quant-int8: prune: quant-int8 is quantized; prune before quantizing") != std::string::npos);
  // A misspelt layer in a step.
  write_bytes(p.dir / "bad.yaml", Project::bytes(read_text(p.dir / "s.yaml") +
                                                 "catalog:\n  variants:\n    - svd: {layers: [fc01], ranks: [1/2]}\n"));
  CHECK(p.run("bad.yaml -o cat --check", &out) == 3);
  CHECK(out.find("did you mean 'fc1'?") != std::string::npos);
  // Output directory refused: exit 5.
  write_bytes(p.dir / "blocker", {1});
  CHECK(p.run("s.yaml -o blocker --check", &out) == 5);
  fs::remove(p.dir / "blocker");
  // Data: labels out of range and a wrong labels file, exit 4, as the full run.
  auto labels = read_bytes(p.dir / "val-labels.idx");
  labels[8 + 5] = 7;
  write_bytes(p.dir / "val-labels.idx", labels);
  CHECK(p.run("s.yaml -o cat --check", &out) == 4);
  CHECK(out.find("example 5 has label 7 outside the schema's 4 classes") != std::string::npos);
  write_bytes(p.dir / "val-labels.idx", read_bytes(p.dir / "train-labels.idx"));
  CHECK(p.run("s.yaml -o cat --check", &out) == 4);
  CHECK(out.find("has 300 labels but") != std::string::npos);
  CHECK(p.outputs().empty());
}

TEST_CASE("cli: --help, --version, --check and --profile-only answer without LibTorch", "[cli][check]") {
  // The front end execs mcdnn-compile-torch only to train: these must not even load it.
  std::string out;
  REQUIRE(run_command("ldd " + cli() + " 2>&1", &out) == 0);
  CHECK(out.find("libtorch") == std::string::npos);
  CHECK(out.find("libc10") == std::string::npos);
}

TEST_CASE("cli: --profile-only needs no data and prints the table", "[cli]") {
  std::string out;
  int rc = run_command(cli() + " --profile-only " + MCDNN_SOURCE_DIR + "/schemas/vgg16.yaml", &out);
  REQUIRE(rc == 0);
  CHECK(out.find("conv5_3") != std::string::npos);
  CHECK(out.find("138357544") != std::string::npos);
  CHECK(out.find("30940528640") != std::string::npos);
  REQUIRE(run_command(cli() + " --profile-only --json " + MCDNN_SOURCE_DIR + "/schemas/vgg16.yaml", &out) == 0);
  const auto j = nlohmann::json::parse(out);
  CHECK(j["params"] == 138357544);
  CHECK(j["flops"] == 30940528640LL);
  CHECK(j["layers"].back()["name"] == "fc8");
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

TEST_CASE("cli: a base model still improving when its training ends is reported, after training and in the summary", "[cli][convergence]") {
  Project p;
  // A learning rate too small to converge in 2 epochs; the base model alone.
  std::string schema = tiny_schema(p.dir.path().string(), 4, 2) + "catalog: {variants: []}\n";
  schema.replace(schema.find("lr: 0.01"), 8, "lr: 0.0003");
  write_bytes(p.dir / "s.yaml", Project::bytes(schema));
  std::string out;
  const int rc = p.run("s.yaml -o cat --threads 1", &out);
  INFO(out);
  REQUIRE(rc == 0);
  const auto cat = nlohmann::json::parse(read_text(p.dir / "cat/catalog.json"));
  const auto acc = cat["variants"][0]["accuracy_by_epoch"].get<std::vector<double>>();
  REQUIRE(acc.size() == 2);
  const mcdnn::Convergence c = mcdnn::judge_convergence(acc, 100);
  REQUIRE_FALSE(c.converged);
  const std::string warning = mcdnn::convergence_warning(c);
  CHECK_THAT(warning, Catch::Matchers::Contains("train it for more than 2 epochs"));
  const size_t first = out.find(warning + "\n");
  REQUIRE(first != std::string::npos);
  CHECK(first > out.find("epoch   2/2"));             // at the end of the base model's training
  CHECK(first < out.find("summary:"));
  const size_t second = out.find(warning + "\n", first + 1);  // and as the summary's last line
  REQUIRE(second != std::string::npos);
  CHECK(second + warning.size() + 1 == out.size());
}

TEST_CASE("cli: build, plot with tools/plot_catalog.py, rebuild into the same directory", "[cli][output][plot]") {
  Project p;
  write_bytes(p.dir / "s.yaml", Project::bytes(tiny_schema(p.dir.path().string(), 4, 1) +
                                                 "catalog:\n  finetune: {examples: 100, epochs: 1}\n  variants:\n"
                                                 "    - quantize: {formats: [int8]}\n"));
  std::string out;
  int rc = p.run("s.yaml -o cat --threads 1", &out);
  INFO(out);
  REQUIRE(rc == 0);
  const std::string py = std::string(MCDNN_PYTHON) + " ";
  const std::string plot = py + MCDNN_SOURCE_DIR + "/tools/plot_catalog.py " + (p.dir / "cat");
  rc = run_command(plot, &out);
  REQUIRE(rc == 0);
  REQUIRE(fs::exists(p.dir / "cat/catalog.png"));
  REQUIRE(fs::exists(p.dir / "cat/catalog.svg"));
  // The plots are the catalog's: the rebuild replaces the directory, them with it.
  rc = p.run("s.yaml -o cat --threads 1 --force", &out);
  REQUIRE(rc == 0);
  CHECK(fs::exists(p.dir / "cat/catalog.json"));
  CHECK_FALSE(fs::exists(p.dir / "cat/catalog.png"));
  CHECK_FALSE(fs::exists(p.dir / "cat/catalog.svg"));
  // A catalog.png of the user's (matplotlib's own, without the mark) still makes it refused, untouched.
  REQUIRE(run_command(plot, &out) == 0);
  REQUIRE(run_command(py + "-c \"import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt; plt.plot([0, 1]); "
                           "plt.savefig('" + (p.dir / "cat/catalog.png") + "')\"",
                      &out) == 0);
  const auto mine = read_bytes(p.dir / "cat/catalog.png");
  CHECK(p.run("s.yaml -o cat --threads 1 --force", &out) == 5);
  CHECK(out.find("cat: holds 'catalog.png', which is not part of an mcdnn catalog") != std::string::npos);
  CHECK(read_bytes(p.dir / "cat/catalog.png") == mine);
  // Nor is a plot of ours under another name (-o elsewhere is the way to keep one).
  fs::remove(p.dir / "cat/catalog.png");
  REQUIRE(run_command(plot, &out) == 0);
  fs::copy_file(p.dir / "cat/catalog.png", p.dir / "cat/copy.png");
  CHECK(p.run("s.yaml -o cat --threads 1 --force", &out) == 5);
  CHECK(out.find("holds 'copy.png'") != std::string::npos);
  fs::remove(p.dir / "cat/copy.png");
  CHECK(p.run("s.yaml -o cat --threads 1 --force", &out) == 0);
}

TEST_CASE("cli: cmake --install puts commands, tools and docs in place, and the installed compiler trains", "[cli][install]") {
  TempDir prefix;
  std::string out;
  REQUIRE(run_command(std::string(MCDNN_CMAKE) + " --install " + MCDNN_BINARY_DIR + " --prefix " + prefix.path().string(), &out) == 0);
  for (const char* f : {"bin/mcdnn-compile", "bin/mcdnn-catalog", "bin/mcdnn-infer", "bin/mcdnn-run", "libexec/mcdnn/mcdnn-compile-torch", "libexec/mcdnn/mcdnn-measure",
                        "share/mcdnn/tools/mcdnn_run.py", "share/mcdnn/tools/plot_catalog.py", "share/mcdnn/schemas/fashion-mnist.yaml",
                        "share/mcdnn/docs/catalog-format.md", "share/mcdnn/README.md"}) {
    INFO(f);
    CHECK(fs::exists(prefix / f));
  }
  REQUIRE(run_command(prefix / "bin/mcdnn-compile --version", &out) == 0);
  CHECK(out.find("mcdnn-compile 0.") == 0);
  // The installed front end finds its LibTorch half in ../libexec/mcdnn and builds a catalog.
  Project p;
  write_bytes(p.dir / "b.yaml", Project::bytes(read_text(p.dir / "s.yaml") + "catalog:\n  variants:\n    - quantize: {formats: [int8]}\n"));
  const int rc = run_command("cd " + p.dir.path().string() + " && " + (prefix / "bin/mcdnn-compile") +
                                 " b.yaml -o cat --epochs 1 --threads 1 --measure-seconds 0.02",
                             &out);
  INFO(out);
  REQUIRE(rc == 0);
  CHECK(fs::exists(p.dir / "cat/quant-int8.h5"));
  CHECK(fs::exists(p.dir / "cat/report.html"));
  // Measured in the installed mcdnn-measure, not in the compiling process.
  CHECK(out.find("round 1 of 5: loads") != std::string::npos);
  CHECK(out.find("mcdnn-measure is not next to this program") == std::string::npos);
}
