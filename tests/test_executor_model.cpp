// The executor's whole-network results against LibTorch evaluating the same stored weights:
// an awkward network (stride 2, padding, 1x1 conv, lowrank conv and linear, batchnorm folded
// and standalone, max and average pooling with padding, dropout) in every storage, dense and
// 50% sparse, at batch 1 and 5, written to a variant file and read back.
#include <cmath>
#include <random>
#include <sstream>

#include "catch.hpp"
#include "catalog/variant_file.hpp"
#include "util/error.hpp"
#include "fixtures.hpp"
#include "measure.hpp"
#include "model.hpp"
#include "nn/net.hpp"
#include "stored_net.hpp"
#include <torch/torch.h>

using namespace mcdnn;
using namespace mcdnn::exec;

namespace {

LayerSpec conv(int64_t out, int64_t k, int64_t s, int64_t p) {
  LayerSpec l;
  l.kind = LayerKind::Conv2d;
  l.out = out, l.kh = l.kw = k, l.sh = l.sw = s, l.ph = l.pw = p;
  return l;
}
LayerSpec pool(LayerKind kind, int64_t k, int64_t s, int64_t p) {
  LayerSpec l;
  l.kind = kind;
  l.kh = l.kw = k, l.sh = l.sw = s, l.ph = l.pw = p;
  return l;
}
LayerSpec simple(LayerKind kind) {
  LayerSpec l;
  l.kind = kind;
  return l;
}
LayerSpec linear(int64_t out) {
  LayerSpec l;
  l.kind = LayerKind::Linear;
  l.out = out;
  return l;
}

std::vector<LayerSpec> awkward_net(const std::string& storage, bool sparse) {
  std::vector<LayerSpec> L;
  L.push_back(conv(5, 3, 2, 1));
  L.push_back(simple(LayerKind::BatchNorm));
  L.push_back(simple(LayerKind::ReLU));
  L.push_back(pool(LayerKind::MaxPool, 3, 2, 1));
  L.push_back(conv(6, 2, 1, 0));
  L.back().repr = "lowrank", L.back().rank = 2;
  L.push_back(simple(LayerKind::ReLU));
  L.push_back(pool(LayerKind::AvgPool, 2, 1, 1));
  L.push_back(simple(LayerKind::BatchNorm));
  L.push_back(conv(4, 1, 1, 0));
  L.back().bias = false;
  L.push_back(simple(LayerKind::Flatten));
  L.push_back(linear(13));
  L.push_back(simple(LayerKind::ReLU));
  L.push_back(simple(LayerKind::Dropout));
  L.push_back(linear(5));
  L.back().repr = "lowrank", L.back().rank = 3;
  Shape s{3, 11, 9, false};
  for (size_t i = 0; i < L.size(); ++i) {
    L[i].name = std::string(kind_prefix(L[i].kind)) + std::to_string(i);
    if (L[i].kind == LayerKind::Conv2d || L[i].kind == LayerKind::Linear) L[i].storage = storage, L[i].sparse = sparse;
    L[i].in = s;
    std::string why;
    REQUIRE(infer_output(L[i], s, &L[i].out_shape, &why));
    s = L[i].out_shape;
  }
  return L;
}

Net build(const std::vector<LayerSpec>& L, VariantFile* f, uint32_t seed) {
  return test::stored_net(L, Shape{3, 11, 9, false}, 5, "t", seed, f);
}

}  // namespace

TEST_CASE("executor logits match LibTorch on the same stored weights, every storage, batch 1 and 5", "[executor][model]") {
  test::TempDir dir;
  for (const char* fmt : {"f32", "f16", "int8", "cb8", "cb4", "cb2"})
    for (bool sparse : {false, true})
      for (SparsePolicy policy : {SparsePolicy::Sparse, SparsePolicy::Dense}) {
        if (!sparse && policy == SparsePolicy::Dense) continue;
        VariantFile f;
        Net net = build(awkward_net(fmt, sparse), &f, 11);
        write_variant_file(dir / "v.h5", f);
        const VariantFile back = read_variant_file(dir / "v.h5");
        for (Int8Mode mode : {Int8Mode::Float, Int8Mode::Integer}) {
          if (mode == Int8Mode::Integer && std::string(fmt) != "int8") continue;
          Options opt;
          opt.int8 = mode;
          opt.sparse = policy;
          Model m = Model::from_file(back, opt);
          for (int64_t n : {1, 5}) {
            INFO(fmt << (sparse ? " sparse" : " dense") << (policy == SparsePolicy::Dense ? " run dense" : "")
                     << (mode == Int8Mode::Integer ? " integer" : "") << " batch " << n);
            torch::manual_seed(static_cast<uint64_t>(n));
            const torch::Tensor x = torch::randn({n, 3, 11, 9});
            torch::Tensor ref;
            {
              torch::NoGradGuard ng;
              ref = net->forward(x).contiguous();
            }
            std::vector<float> got(static_cast<size_t>(n * 5));
            m.run(x.data_ptr<float>(), n, got.data());
            const float* r = ref.data_ptr<float>();
            double worst = 0, scale = 0;
            for (int64_t i = 0; i < n * 5; ++i) {
              worst = std::max(worst, std::fabs(static_cast<double>(got[static_cast<size_t>(i)]) - r[i]));
              scale = std::max(scale, std::fabs(static_cast<double>(r[i])));
            }
            // Float: 1e-4 relative to the largest logit (summation order only). Integer int8:
            // activations rounded to 8 bits per column, 2% of the largest logit.
            const double tol = (mode == Int8Mode::Integer ? 2e-2 : 1e-4) * (1 + scale);
            INFO("max |diff| " << worst << ", largest logit " << scale);
            CHECK(worst <= tol);
          }
        }
      }
}

TEST_CASE("executor steps fuse batchnorm and relu, and resident bytes follow the storage", "[executor][model]") {
  VariantFile f32, cb2;
  build(awkward_net("f32", false), &f32, 3);
  build(awkward_net("cb2", false), &cb2, 3);
  Model a = Model::from_file(f32), b = Model::from_file(cb2);
  REQUIRE(a.steps().size() == b.steps().size());
  CHECK(a.steps()[0].name == "conv0+bn1+relu2");
  CHECK(a.steps()[0].kind == Step::Conv);
  CHECK(a.steps()[0].scale.size() == 5);
  // The standalone batchnorm after the average pool stays a step (nothing to fold it into).
  bool affine = false;
  for (const auto& s : a.steps()) affine |= s.kind == Step::Affine && s.name == "bn7";
  CHECK(affine);
  // Weights only: 2-bit codes are 16x smaller than f32 (plus row padding and the codebooks).
  int64_t wa = 0, wb = 0;
  for (const auto& s : a.steps()) wa += s.a.resident_bytes() + s.b.resident_bytes();
  for (const auto& s : b.steps()) wb += s.a.resident_bytes() + s.b.resident_bytes();
  CHECK(wb < wa / 4);
}

TEST_CASE("measuring: a window times exactly its run bounds, rounds go over every file in turn and pool their runs",
          "[executor][measure]") {
  VariantFile a, b;
  build(awkward_net("f32", false), &a, 5);
  build(awkward_net("cb4", true), &b, 6);
  test::TempDir dir;
  write_variant_file(dir / "a.h5", a);
  write_variant_file(dir / "b.h5", b);
  Model m = Model::from_file(read_variant_file(dir / "a.h5"));
  const int64_t per = m.input().input.numel();
  std::vector<float> x(static_cast<size_t>(per * 4), 0.5f);
  int calls = 0;
  const auto run = [&](const float* xi, float* yi) { ++calls, m.run(xi, 1, yi); };

  // No time: exactly min_runs timed runs after the warm-up; a cap: max_runs however long.
  std::vector<double> samples;
  time_window(run, x.data(), 4, per, m.output_size(), Window{0.0, 3, 7, 100}, &samples);
  CHECK(samples.size() == 7);
  CHECK(calls == 10);
  time_window(run, x.data(), 4, per, m.output_size(), Window{30.0, 0, 1, 5}, &samples);
  CHECK(samples.size() == 12);  // appended
  for (double s : samples) CHECK(s > 0);
  const Latency l = summarize(samples);
  CHECK(l.runs == 12);
  CHECK(l.p95_ms >= l.median_ms);
  CHECK(summarize({}).runs == 0);

  MeasureOptions opt;
  opt.seconds = 0.0;  // each window then times its share of min_runs: 20 over 4 rounds = 5
  opt.rounds = 4;
  opt.batch = 3;
  std::vector<std::pair<int, size_t>> order;
  std::vector<bool> done;
  const std::vector<MeasuredCost> got = measure_files(
      {dir / "a.h5", dir / "b.h5"}, {1e6, 2e6}, opt,
      [&](int round, size_t file, const MeasuredCost* d) {
        order.emplace_back(round, file);
        done.push_back(d != nullptr);
        if (d) {
          CHECK(d->runs == 4 * 5);
          CHECK(d->latency_ms > 0);
        }
      });
  const std::vector<std::pair<int, size_t>> want{{1, 0}, {1, 1}, {2, 0}, {2, 1}, {3, 0}, {3, 1}, {4, 0}, {4, 1}};
  CHECK(order == want);
  CHECK(done == std::vector<bool>{false, false, false, false, false, false, true, true});
  REQUIRE(got.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    const Model mi = Model::from_file(read_variant_file(dir / (i ? "b.h5" : "a.h5")));
    CHECK(got[i].present);
    CHECK(got[i].runs == 20);
    CHECK(got[i].latency_p95_ms >= got[i].latency_ms);
    CHECK(got[i].resident_bytes == mi.resident_bytes());
    CHECK(got[i].layers.size() == mi.steps().size());
    CHECK(got[i].batch == 3);
    CHECK(got[i].throughput > 0);
    CHECK(got[i].exec_mj > 0);
  }

  // One round: the figures come with the first window; measure_file is the one-file case.
  opt.rounds = 1;
  int finished = 0;
  measure_files({dir / "b.h5"}, {1e6}, opt, [&](int round, size_t, const MeasuredCost* d) {
    CHECK(round == 1);
    finished += d != nullptr;
  });
  CHECK(finished == 1);
  CHECK(measure_file(dir / "b.h5", 1e6, opt).runs == 20);
}

TEST_CASE("mcdnn-measure: a line per round and per file's figures, which read back, bad arguments and files refused",
          "[executor][measure][cli]") {
  VariantFile a, b;
  build(awkward_net("int8", false), &a, 7);
  build(awkward_net("f16", true), &b, 8);
  test::TempDir dir;
  write_variant_file(dir / "a.h5", a);
  write_variant_file(dir / "b.h5", b);
  const std::string tool = MCDNN_MEASURE;
  std::string out;
  REQUIRE(test::run_command(tool + " --seconds 0.02 --rounds 3 " + dir / "a.h5" + " 1000 " + dir / "b.h5" + " 2e6", &out) == 0);
  std::istringstream lines(out);
  std::vector<std::string> rounds, measured;
  for (std::string l; std::getline(lines, l);) (l.rfind("measured ", 0) == 0 ? measured : rounds).push_back(l);
  REQUIRE(rounds.size() == 2);
  CHECK(rounds[0].rfind("round 1 of 3: loads", 0) == 0);
  CHECK(rounds[1].rfind("round 2 of 3: batch-1 runs of 2 files", 0) == 0);
  REQUIRE(measured.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    INFO(measured[i]);
    const std::string prefix = "measured " + std::to_string(i) + " ";
    REQUIRE(measured[i].rfind(prefix, 0) == 0);
    const MeasuredCost m = parse_measured_line(measured[i].substr(prefix.size()), "test");
    const Model mi = Model::from_file(read_variant_file(dir / (i ? "b.h5" : "a.h5")));
    CHECK(m.resident_bytes == mi.resident_bytes());
    CHECK(m.layers.size() == mi.steps().size());
    CHECK(m.runs >= 3 * 7);  // 20 runs over 3 rounds: at least 7 a window
    CHECK(m.latency_ms > 0);
    // Written on one line and read back exactly (doubles to full precision).
    CHECK(measured_line(m) == measured[i].substr(prefix.size()));
  }
  // Bad arguments: exit 2 with what was expected; a missing or damaged file: exit 7, nothing measured.
  CHECK(test::run_command(tool + " " + dir / "a.h5" + " 2>&1", &out) == 2);
  CHECK(out.find("pairs of FILE FLOPS") != std::string::npos);
  CHECK(test::run_command(tool + " " + dir / "a.h5" + " lots 2>&1", &out) == 2);
  CHECK(out.find("expected a number >= 0, got 'lots'") != std::string::npos);
  CHECK(test::run_command(tool + " --device-profile phone " + dir / "a.h5" + " 1 2>&1", &out) == 2);
  CHECK(out.find("unknown device profile 'phone'") != std::string::npos);
  CHECK(test::run_command(tool + " " + dir / "missing.h5" + " 1 2>&1", &out) == 7);
  CHECK(out.find("missing.h5") != std::string::npos);
  CHECK(out.find("measured ") == std::string::npos);
  CHECK_THROWS_AS(parse_measured_line("{\"latency_ms\": -1}", "x"), Error);
  CHECK_THROWS_AS(parse_measured_line("not json", "x"), Error);
}
