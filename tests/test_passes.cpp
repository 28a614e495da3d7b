// The approximation passes checked against their mathematics.
#include <cmath>
#include <sstream>

#include "catalog/catalog.hpp"
#include "catch.hpp"
#include "fixtures.hpp"
#include "passes/passes.hpp"
#include "sweep/sweep.hpp"
#include "schema/schema.hpp"
#include "train/finetune.hpp"
#include "util/error.hpp"

using namespace mcdnn;
using namespace mcdnn::test;

namespace {
Variant variant_of(const std::string& network, int64_t c, int64_t h, int64_t w, int classes, uint64_t seed = 3) {
  Schema s = parse_schema_string("format: mcdnn-schema/1\nname: t\ninput: {channels: " + std::to_string(c) +
                                     ", height: " + std::to_string(h) + ", width: " + std::to_string(w) +
                                     "}\nclasses: " + std::to_string(classes) + "\nnetwork:\n" + network,
                                 "t.yaml", "");
  torch::manual_seed(seed);
  Variant v;
  v.id = "base";
  v.net = Net(s.layers);
  // Spread the weights out so magnitudes and singular values are distinct.
  torch::NoGradGuard g;
  for (size_t i = 0; i < s.layers.size(); ++i)
    for (auto& t : v.net->tensors(i)) t.normal_(0, 1);
  for (size_t i = 0; i < s.layers.size(); ++i)
    if (s.layers[i].kind == LayerKind::BatchNorm) v.net->tensors(i)[3].uniform_(0.5, 2);  // variances > 0
  v.net->eval();
  return v;
}

int64_t zeros(const torch::Tensor& t) { return t.eq(0).sum().item<int64_t>(); }

torch::Tensor product(const Variant& v, size_t i) {  // weight_b . weight_a as an m x n matrix
  auto a = v.net->tensors(i)[0], b = v.net->tensors(i)[1];
  return b.reshape({b.size(0), -1}).matmul(a.reshape({a.size(0), -1}));
}
}  // namespace

TEST_CASE("svd: Frobenius error equals the root of the dropped squared singular values", "[passes][svd]") {
  Variant v = variant_of("  - flatten\n  - linear: {out: 9}\n", 1, 1, 13, 9);  // W is 9 x 13
  auto s = singular_values(v, "fc1");
  REQUIRE(s.size() == 9);
  for (int k : {1, 3, 5}) {
    INFO("k = " << k);
    RankSpec r;
    REQUIRE(parse_rank(std::to_string(k), &r));
    std::string note;
    auto c = factorize_svd(v, "fc1", r, &note);
    REQUIRE(c);
    CHECK(c->net->layers()[1].rank == k);
    double dropped = 0;
    for (size_t i = static_cast<size_t>(k); i < s.size(); ++i) dropped += s[i] * s[i];
    double err = (product(*c, 1) - v.net->tensors(1)[0]).to(torch::kFloat64).norm().item<double>();
    CHECK(err == Approx(std::sqrt(dropped)).epsilon(1e-4));
    CHECK(torch::equal(c->net->tensors(1)[2], v.net->tensors(1)[1]));  // bias kept
  }
}

TEST_CASE("svd: a factorized conv equals the conv with the rank-k kernel", "[passes][svd]") {
  Variant v = variant_of("  - conv2d: {out: 6, kernel: 3, stride: 2, padding: 1}\n  - flatten\n  - linear: {out: 2}\n",
                         3, 7, 5, 2);
  RankSpec r;
  REQUIRE(parse_rank("1/3", &r));  // of min(6, 27) = 6 -> k = 2
  std::string note;
  auto c = factorize_svd(v, "conv1", r, &note);
  REQUIRE(c);
  REQUIRE(c->net->layers()[0].rank == 2);
  CHECK(c->net->layers()[0].out_shape == v.net->layers()[0].out_shape);
  auto x = torch::randn({4, 3, 7, 5});
  auto wk = product(*c, 0).reshape({6, 3, 3, 3});
  auto ref = torch::conv2d(x, wk, v.net->tensors(0)[1], {2, 2}, {1, 1});
  auto got = c->net->forward_range(x, 0, 1);
  CHECK(torch::allclose(got, ref, 1e-5, 1e-5));
}

TEST_CASE("svd: ranks that would not reduce parameters are skipped, and energy ranks", "[passes][svd]") {
  Variant v = variant_of("  - flatten\n  - linear: {out: 9}\n", 1, 1, 13, 9);
  RankSpec r;
  REQUIRE(parse_rank("k=6", &r));  // 6 * (9 + 13) = 132 >= 117
  std::string note;
  CHECK_FALSE(factorize_svd(v, "fc1", r, &note));
  CHECK(note == "svd fc1 rank k=6 (k=6): skipped, k >= mn/(m+n) = 5 would not reduce the 9x13 layer's parameters");
  REQUIRE(parse_rank("energy=0.5", &r));
  auto s = singular_values(v, "fc1");
  double total = 0, acc = 0;
  for (double x : s) total += x * x;
  int64_t k = 0;
  while (acc < 0.5 * total) acc += s[static_cast<size_t>(k)] * s[static_cast<size_t>(k)], ++k;
  auto c = factorize_svd(v, "fc1", r, &note);
  REQUIRE(c);
  CHECK(c->net->layers()[1].rank == k);
  RankSpec bad;
  CHECK_FALSE(parse_rank("1/0", &bad));
  CHECK_FALSE(parse_rank("energy=2", &bad));
  CHECK_FALSE(parse_rank("three", &bad));
}

TEST_CASE("prune: exact sparsity per layer, growing iteratively, smallest magnitudes first", "[passes][prune]") {
  Variant v = variant_of("  - flatten\n  - linear: {out: 40}\n  - relu\n  - linear: {out: 3}\n", 1, 1, 25, 3);
  Variant p90 = prune_magnitude(v, {"fc1"}, 0.9, false);
  auto w = p90.net->tensors(1)[0];
  CHECK(zeros(w) == 900);
  CHECK(zeros(p90.net->tensors(3)[0]) == 0);  // other layers untouched
  CHECK(p90.net->layers()[1].sparse);
  // Every kept weight is at least as large as every pruned one.
  auto orig = v.net->tensors(1)[0].abs();
  CHECK(orig.masked_select(w.ne(0)).min().item<float>() >= orig.masked_select(w.eq(0)).max().item<float>());
  Variant p95 = prune_magnitude(p90, {"fc1"}, 0.95, false);
  auto w2 = p95.net->tensors(1)[0];
  CHECK(zeros(w2) == 950);
  CHECK(w2.masked_select(w.eq(0)).abs().sum().item<float>() == 0);  // earlier zeros stay zero
  CHECK(p95.transforms == std::vector<std::string>{"prune fc1 90%", "prune fc1 95%"});
}

TEST_CASE("prune: one global threshold across layers", "[passes][prune]") {
  Variant v = variant_of("  - conv2d: {out: 4, kernel: 3}\n  - flatten\n  - linear: {out: 5}\n", 2, 5, 5, 5);
  Variant g = prune_magnitude(v, {}, 0.7, true);
  auto a = g.net->tensors(0)[0], b = g.net->tensors(2)[0];
  int64_t total = a.numel() + b.numel();  // 72 + 180 = 252
  CHECK(zeros(a) + zeros(b) == std::llround(0.7 * static_cast<double>(total)));
  auto all_orig = torch::cat({v.net->tensors(0)[0].abs().flatten(), v.net->tensors(2)[0].abs().flatten()});
  auto all_new = torch::cat({a.flatten(), b.flatten()});
  CHECK(all_orig.masked_select(all_new.ne(0)).min().item<float>() >= all_orig.masked_select(all_new.eq(0)).max().item<float>());
  CHECK_THROWS_AS(prune_magnitude(v, {}, 1.0, true), Error);
}

namespace {
// The tiny generated data set, an untrained base model of tiny_schema() and its feature cache.
struct TinySetup {
  TempDir d;
  Dataset tr, va;
  Variant v;
  std::unique_ptr<FeatureCache> cache;
  explicit TinySetup(uint32_t seed) {
    write_synthetic_idx(make_synthetic(300, 12, 4, seed), d / "train");
    write_synthetic_idx(make_synthetic(100, 12, 4, seed + 1), d / "val");
    Schema s = parse_schema_string(tiny_schema(d.path().string(), 4, 1), d / "s.yaml", "");
    load_data(s, &tr, &va);
    torch::manual_seed(seed);
    v.id = "base";
    v.net = Net(s.layers);
    cache = std::make_unique<FeatureCache>(v.net, to_tensors(tr, torch::kCPU), to_tensors(va, torch::kCPU), 1 << 30);
  }
};
}  // namespace

TEST_CASE("fine-tuning keeps pruned weights exactly zero", "[passes][prune]") {
  TinySetup t(41);
  const Variant& v = t.v;
  FeatureCache& cache = *t.cache;
  Variant p = prune_magnitude(v, {}, 0.8, true);
  int64_t before = 0;
  for (size_t i : {size_t(0), size_t(5), size_t(8)}) before += zeros(p.net->tensors(i)[0]);
  FinetuneSpec spec;
  spec.epochs = 2;
  spec.lr = 1e-2;
  auto r = finetune(p, 0, cache, spec, true, 1);
  CHECK(r.seconds > 0);
  int64_t after = 0;
  for (size_t i : {size_t(0), size_t(5), size_t(8)}) after += zeros(p.net->tensors(i)[0]);
  CHECK(after == before);
  // A change to fc1 only: the prefix up to fc1 is frozen and served from the cache.
  Variant q = prune_magnitude(v, {"fc1"}, 0.5, false);
  auto rq = finetune(q, q.first_changed, cache, spec, true, 1);
  CHECK(rq.frozen == 5);
  CHECK(torch::equal(q.net->tensors(0)[0], v.net->tensors(0)[0]));  // frozen conv untouched
}

TEST_CASE("codebook fine-tuning trains centroids, keeps codes, zeros and the stored form exact", "[passes][quantize]") {
  TinySetup t(61);
  const Variant& v = t.v;
  FeatureCache& cache = *t.cache;
  Variant q = quantize_weights(prune_magnitude(v, {"fc1"}, 0.5, false), "cb2", {"fc1", "fc2"});
  q = quantize_weights(q, "int8", {"conv1"});
  const auto& fc1 = q.net->layers()[5];
  EncodedTensor before = q.encoded.at(tensor_key(fc1, "weight"));
  auto conv_before = q.net->tensors(0)[0].clone();
  auto zeros_before = q.net->tensors(5)[0].eq(0);
  FinetuneSpec spec;
  spec.epochs = 2;
  spec.lr = 1e-2;
  finetune(q, 0, cache, spec, true, 3);
  const EncodedTensor& after = q.encoded.at(tensor_key(fc1, "weight"));
  auto blob = [](const EncodedTensor& e, const char* n) {
    for (const auto& b : e.blobs)
      if (b.name == n) return b.data;
    return std::vector<uint8_t>{};
  };
  CHECK(blob(after, "codes") == blob(before, "codes"));        // assignments fixed
  CHECK(blob(after, "codebook") != blob(before, "codebook"));  // centroids trained
  auto w = q.net->tensors(5)[0].contiguous();
  auto dec = decode_tensor(after);
  REQUIRE(std::memcmp(dec.data(), w.data_ptr<float>(), dec.size() * 4) == 0);
  CHECK(torch::equal(w.eq(0).logical_and(zeros_before), zeros_before));  // pruned stay zero
  CHECK(std::get<0>(at::_unique(w.flatten())).numel() <= 4);
  CHECK(torch::equal(q.net->tensors(0)[0], conv_before));  // int8 weights fixed
}

TEST_CASE("quantize: codebook sizes, stored form reproduces the weights bit for bit", "[passes][quantize]") {
  Variant v = variant_of("  - conv2d: {out: 4, kernel: 3}\n  - flatten\n  - linear: {out: 5}\n", 2, 5, 5, 5);
  Variant p = prune_magnitude(v, {"fc1"}, 0.6, false);
  for (const char* fmt : {"f16", "int8", "cb8", "cb4", "cb2"}) {
    INFO(fmt);
    Variant q = quantize_weights(p, fmt, {});
    CHECK(q.quantized());
    for (size_t i : {size_t(0), size_t(2)}) {
      const auto& l = q.net->layers()[i];
      CHECK(l.storage == fmt);
      const EncodedTensor& e = q.encoded.at(tensor_key(l, "weight"));
      auto dec = decode_tensor(e);
      auto w = q.net->tensors(i)[0].contiguous();
      REQUIRE(std::memcmp(dec.data(), w.data_ptr<float>(), dec.size() * 4) == 0);
      if (int bits = codebook_bits(fmt)) {
        auto nz = std::get<0>(at::_unique(w.flatten()));
        CHECK(nz.numel() <= (1 << bits) + 1);  // centroids (+ the exact zero of pruned weights)
      }
    }
    // Pruned zeros survive quantization.
    CHECK(zeros(q.net->tensors(2)[0]) >= zeros(p.net->tensors(2)[0]));
    CHECK_THROWS_AS(prune_magnitude(q, {}, 0.9, false), Error);  // quantize is the last stage
    CHECK_THROWS_AS(quantize_weights(q, "int8", {"fc1"}), Error);  // each layer once
  }
  // Mixed precision: 8-bit conv, then a 2-bit codebook for the linear layer.
  Variant m = quantize_weights(quantize_weights(p, "int8", {"conv1"}), "cb2", {"fc1"});
  CHECK(m.net->layers()[0].storage == "int8");
  CHECK(m.net->layers()[2].storage == "cb2");
  CHECK(m.transforms == std::vector<std::string>{"prune fc1 60%", "quant int8 conv1", "quant cb2 fc1"});
}

TEST_CASE("narrow: keeps the largest-L1 filters and cuts downstream inputs to match", "[passes][narrow]") {
  Variant v = variant_of("  - conv2d: {out: 6, kernel: 3, padding: 1}\n  - batchnorm\n  - relu\n  - maxpool: {kernel: 2}\n"
                         "  - flatten\n  - linear: {out: 3}\n",
                         2, 4, 4, 3);
  torch::NoGradGuard g;
  // Filters 1, 3 and 4 get the largest L1 norms; the others feed nothing downstream.
  auto w = v.net->tensors(0)[0];
  for (int f : {0, 2, 5}) w[f].mul_(0.01);
  for (int f : {1, 3, 4}) w[f].add_(w[f].sign() * 5);
  auto fc = v.net->tensors(5)[0].view({3, 6, 2, 2});
  for (int f : {0, 2, 5}) fc.select(1, f).zero_();
  Variant c = narrow_layer(v, "conv1", 3);
  CHECK(c.net->layers()[0].out == 3);
  CHECK(c.net->layers()[5].in.numel() == 12);
  CHECK(torch::equal(c.net->tensors(0)[0], v.net->tensors(0)[0].index_select(0, torch::tensor({1, 3, 4}))));
  CHECK(torch::equal(c.net->tensors(1)[2], v.net->tensors(1)[2].index_select(0, torch::tensor({1, 3, 4}))));
  auto x = torch::randn({5, 2, 4, 4});
  c.net->eval();
  CHECK(torch::allclose(c.net->forward(x), v.net->forward(x), 1e-5, 1e-5));
  CHECK_THROWS_AS(narrow_layer(v, "fc1", 2), Error);  // the classifier keeps its classes
  CHECK_THROWS_AS(narrow_layer(v, "conv1", 6), Error);
}

TEST_CASE("remove: shapes are re-inferred and the downstream layer re-initialized", "[passes][remove]") {
  Variant v = variant_of("  - conv2d: {out: 4, kernel: 3, padding: 1}\n  - relu\n  - conv2d: {out: 8, kernel: 3}\n"
                         "  - batchnorm\n  - relu\n  - flatten\n  - linear: {out: 3}\n",
                         1, 6, 6, 3);
  Variant c = remove_layer(v, "conv2");
  std::vector<std::string> names;
  for (const auto& l : c.net->layers()) names.push_back(l.name);
  CHECK(names == std::vector<std::string>{"conv1", "relu1", "flatten1", "fc1"});
  CHECK(c.net->layers()[3].in.numel() == 4 * 6 * 6);
  CHECK(c.reinitialized);
  CHECK(torch::equal(c.net->tensors(0)[0], v.net->tensors(0)[0]));
  CHECK(c.net->forward(torch::randn({2, 1, 6, 6})).sizes().vec() == std::vector<int64_t>{2, 3});
  CHECK_THROWS_AS(remove_layer(v, "fc1"), Error);
  CHECK_THROWS_AS(remove_layer(v, "relu1"), Error);
}

TEST_CASE("pareto fronts and the knee", "[passes][pareto]") {
  std::vector<VariantRecord> r(6);
  // bytes, accuracy: a concave front 100->0.5, 200->0.8, 400->0.9, 800->0.92, plus dominated points.
  int64_t bytes[] = {800, 400, 200, 100, 500, 900};
  double acc[] = {0.92, 0.90, 0.80, 0.50, 0.85, 0.91};
  for (int i = 0; i < 6; ++i) {
    r[i].id = "v" + std::to_string(i);
    r[i].profile.bytes = bytes[i];
    r[i].profile.flops_effective = 1000;  // all equal: only the most accurate is on the FLOPs front
    r[i].accuracy = acc[i];
  }
  mark_pareto(r);
  std::vector<bool> front, knee;
  for (auto& x : r) front.push_back(x.pareto_bytes), knee.push_back(x.knee_bytes);
  CHECK(front == std::vector<bool>{true, true, true, true, false, false});
  // Normalized over log2 bytes 100..800 (0, 1/3, 2/3, 1) and accuracy 0.5..0.92:
  // y - x = 0, 0.714-0.333 = 0.381, 0.952-0.667 = 0.286, 0 -> the knee is 200 bytes.
  CHECK(knee == std::vector<bool>{false, false, true, false, false, false});
  CHECK(r[0].pareto_flops);
  CHECK_FALSE(r[1].pareto_flops);
}

TEST_CASE("the default sweep is built from the schema's layers", "[passes][sweep]") {
  Schema s = parse_schema_file(std::string(MCDNN_SOURCE_DIR) + "/schemas/fashion-mnist.yaml");
  auto steps = default_sweep(s);
  std::vector<std::string> passes;
  for (const auto& st : steps) passes.push_back(st.pass);
  CHECK(passes ==
        std::vector<std::string>{"quantize", "quantize", "svd", "svd", "prune", "prune", "prune", "narrow", "remove", "narrow"});
  CHECK_FALSE(steps[0].finetune);
  CHECK(steps[1].levels == std::vector<std::string>{"cb2"});
  CHECK(steps[1].finetune);  // 2-bit codebooks train their centroids
  CHECK(steps[2].layers == std::vector<std::string>{"fc1"});
  CHECK(steps[3].layers == std::vector<std::string>{"conv2"});
  CHECK(steps[4].iterative);
  CHECK(steps[4].then.size() == 3);  // int8/cb4, trained cb2, and mixed precision
  CHECK(steps[5].layers == std::vector<std::string>{"conv2", "fc1"});
  CHECK_FALSE(steps[5].global);
  CHECK(steps[6].global);
}

TEST_CASE("the cache budget changes speed and memory, never which layers train", "[passes][finetune]") {
  TinySetup t(43);
  FeatureCache no_cache(t.v.net, to_tensors(t.tr, torch::kCPU), to_tensors(t.va, torch::kCPU), 0);
  Variant a = prune_magnitude(t.v, {"fc1"}, 0.5, false), b = prune_magnitude(t.v, {"fc1"}, 0.5, false);
  FinetuneSpec spec;
  spec.epochs = 2;
  spec.lr = 1e-2;
  auto ra = finetune(a, a.first_changed, *t.cache, spec, true, 5);
  auto rb = finetune(b, b.first_changed, no_cache, spec, true, 5);
  CHECK(ra.frozen == 5);
  CHECK(rb.frozen == 5);  // a cache miss still freezes the shared prefix
  CHECK(torch::equal(b.net->tensors(0)[0], t.v.net->tensors(0)[0]));
  CHECK(torch::equal(b.net->tensors(1)[2], t.v.net->tensors(1)[2]));  // batchnorm statistics untouched too
  // Same layers, same data, same seed: the same weights up to float summation order.
  CHECK(torch::allclose(a.net->tensors(5)[0], b.net->tensors(5)[0], 1e-4, 1e-5));
  CHECK(ra.accuracy_after == Approx(rb.accuracy_after).margin(0.011));
}

TEST_CASE("the sweep keeps only the chain it works on in memory and times each pass", "[passes][sweep]") {
  TinySetup t(47);
  Schema s = parse_schema_string(tiny_schema(t.d.path().string(), 4, 1) +
                                     "catalog:\n  finetune: {examples: 100, epochs: 1}\n  variants:\n"
                                     "    - quantize: {formats: [f16, int8, cb8, cb4]}\n"
                                     "    - svd: {layers: [fc1], ranks: [1/2, 1/4, 1/8]}\n"
                                     "    - prune: {layers: all, sparsity: [0.3, 0.5, 0.7, 0.8, 0.9], iterative: true,\n"
                                     "              then: [{quantize: {formats: [int8, cb4]}}]}\n"
                                     "    - narrow: {layers: [conv1], keep: [4], then: [{svd: {layers: [fc1], ranks: [1/4],\n"
                                     "               then: [{prune: {layers: [fc1], sparsity: [0.5, 0.8], iterative: true}}]}}]}\n",
                                 t.d / "s.yaml", "");
  VariantRecord rec;
  rec.id = "base";
  rec.profile = profile_variant(t.v);
  MemoryStore store;
  std::ostringstream log;
  auto sw = run_sweep(s, t.v, rec, *t.cache, store, log);
  REQUIRE(sw.records.size() >= 25);
  // The base and the deepest chain (narrow -> svd -> two iterative prune levels), never all 25+.
  CHECK(sw.peak_resident <= 5);
  for (const auto& r : sw.records)
    if (r.id != "base") CHECK(r.build_seconds >= r.train_seconds);
}

TEST_CASE("a pass error deep in a chain names its parent without touching freed memory", "[passes][sweep]") {
  TinySetup t(53);
  Schema s = parse_schema_string(tiny_schema(t.d.path().string(), 4, 1), t.d / "s.yaml", "");
  // Built by hand, past the schema's plan check. The sweep executes the plan (plan_build()),
  // so the same rule stops it before any pass runs, naming the step and its parent (once a
  // reference into the growing variant list was read here after it moved: use after free).
  PassStep q;
  q.pass = "quantize";
  q.levels = {"int8", "cb4"};
  q.finetune = false;
  q.where = s.path + ":1:1: catalog.variants[0]";
  PassStep p;
  p.pass = "prune";
  p.levels = {"0.5"};
  p.where = s.path + ":2:2: catalog.variants[0].quantize.then[0]";
  q.then.push_back(p);
  s.catalog.variants_given = true;
  s.catalog.steps = {q};
  VariantRecord rec;
  rec.id = "base";
  rec.profile = profile_variant(t.v);
  MemoryStore store;
  std::ostringstream log;
  try {
    run_sweep(s, t.v, rec, *t.cache, store, log);
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK(e.cls() == ErrorClass::Schema);
    CHECK(std::string(e.what()) ==
          s.path + ":2:2: catalog.variants[0].quantize.then[0]: prune on quant-int8: prune: quant-int8 is quantized; prune before quantizing"
          " (checked before training)");
  }
}
