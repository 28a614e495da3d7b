// bench_specialize: the MCDNN paper's Table 3 on our schema. For one set of dominant classes
// (n classes + "other"), the time to get a specialized model three ways, on the same training
// set (every example of the n classes, "other" subsampled to half):
//   full retraining          the schema's network with n + 1 outputs, trained from scratch for
//                            the schema's epochs;
//   retargeting              the base model's last layer retrained (SpecializeSpec epochs), the
//                            frozen layers run forward at every step;
//   retargeting + pre-fwd    the same, the frozen layers' outputs computed once (pre-forwarding)
//                            and the last layer trained on them;
//   features kept            what `mcdnn-compile --specialize` does when the catalog keeps the
//                            variant's features (catalog.json "features", written once by the
//                            build): read them, then train the last layer. The bench writes
//                            the build's features file to a temporary directory and times the
//                            read back from it and the head.
// Prints time, in-set accuracy and recall of "other" for each, the generic base model's in-set
// accuracy, and the ratios. Validation is not timed (it is the same for all).
//   bench_specialize CATALOG [schema] [--classes 0,1,7] [--threads T] [--epochs E]
// CATALOG: a catalog of the schema (its base.h5 is the model retargeted), e.g. out/fashion-mnist.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <filesystem>
#include <thread>
#include <unistd.h>

#include "bench_main.hpp"
#include "catalog/catalog.hpp"
#include "data/dataset.hpp"
#include "nn/net.hpp"
#include "schema/plan.hpp"
#include "specialize/feature_store.hpp"
#include "specialize/specialize.hpp"
#include "train/train.hpp"

using namespace mcdnn;

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
}  // namespace

const char kUsage[] = "bench_specialize CATALOG [schema] [--classes 0,1,7] [--threads T] [--epochs E]\n"
    "  the time to a specialized model: full retraining, retargeting, pre-forwarding, kept features";

int run_bench(int argc, char** argv) {
  std::string catalog, path = "schemas/fashion-mnist.yaml";
  std::vector<int64_t> classes = {0, 1, 7};
  int64_t epochs = 0;
  int threads = 1;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--classes") && i + 1 < argc) {
      classes.clear();
      std::stringstream ss(argv[++i]);
      for (std::string t; std::getline(ss, t, ',');) classes.push_back(std::atoll(t.c_str()));
    } else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--epochs") && i + 1 < argc) {
      epochs = std::atoll(argv[++i]);
    } else {
      reject_flag(argv[i]);
      (catalog.empty() ? catalog : path) = argv[i];
    }
  }
  if (catalog.empty()) throw BadFlag("CATALOG is required");
  use_thread_policy(threads, false);
  tune_runtime();
  try {
    Schema s = parse_schema_file(path);
    if (epochs > 0) s.training.epochs = epochs;
    Dataset trd, vad;
    load_data(s, &trd, &vad);
    TensorData tr = to_tensors(trd, torch::kCPU), va = to_tensors(vad, torch::kCPU);
    Variant base = read_variant(catalog + "/base.h5");
    base.id = "base";
    base.net->eval();
    std::string names;
    for (int64_t c : classes)
      names += (names.empty() ? "" : ", ") + (static_cast<size_t>(c) < s.class_names.size() ? s.class_names[static_cast<size_t>(c)] : std::to_string(c));
    std::printf("bench_specialize: %s, %lld training / %lld validation examples, %d thread(s); classes %s + other\n", s.name.c_str(),
                static_cast<long long>(trd.n), static_cast<long long>(vad.n), threads, names.c_str());

    SpecializeSpec spec;
    spec.classes = classes;
    // The generic model on the kept classes' validation examples.
    auto pred = predict(base.net, va.x).argmax(1);
    auto vy = specialized_labels(va.y, classes);
    auto in_set = vy.lt(static_cast<int64_t>(classes.size()));
    const double generic_in = pred.eq(va.y).logical_and(in_set).sum().item<double>() / in_set.sum().item<double>();

    // Full retraining: the schema's network with n + 1 outputs, from scratch, on the same set.
    PreForwarded raw(base, 1, tr, va, /*preforward=*/false);
    std::vector<LayerSpec> layers = s.layers;
    layers.back().out = static_cast<int64_t>(classes.size()) + 1;
    reinfer_shapes(layers, s.input, "bench");
    auto yl = specialized_labels(tr.y, classes);
    auto in_idx = yl.lt(static_cast<int64_t>(classes.size())).nonzero().flatten(), out_idx = yl.eq(static_cast<int64_t>(classes.size())).nonzero().flatten();
    torch::manual_seed(spec.seed);
    out_idx = out_idx.index_select(0, torch::randperm(out_idx.size(0), torch::kInt64).slice(0, 0, std::min(out_idx.size(0), in_idx.size(0))));
    auto pick = torch::cat({in_idx, out_idx});
    TensorData sub{tr.x.index_select(0, pick), tr.y.index_select(0, pick)};  // source labels: specialize() maps them
    TensorData sub_mapped{sub.x, yl.index_select(0, pick)}, vsub{va.x, vy};
    torch::manual_seed(static_cast<uint64_t>(s.training.seed));
    Net full(layers);
    auto t_full = Clock::now();
    TrainResult fr = train(full, sub_mapped, vsub, s.training, TrainOptions{});
    const double full_s = since(t_full);
    auto fp = predict(full, va.x).argmax(1);
    const double full_in = fp.eq(vy).logical_and(in_set).sum().item<double>() / in_set.sum().item<double>();
    const double full_other = fp.eq(vy).logical_and(in_set.logical_not()).sum().item<double>() / in_set.logical_not().sum().item<double>();
    (void)fr;

    // Retargeting, the frozen layers run at every step.
    auto rr = specialize(base, raw, spec);
    // Retargeting with pre-forwarding: the frozen layers' outputs once, then the head. The
    // forwarding covers exactly the examples the head trains on (the validation features are
    // computed too, untimed).
    auto t_pf = Clock::now();
    PreForwarded pf(base, 1, sub, TensorData{va.x.slice(0, 0, 1), va.y.slice(0, 0, 1)}, true);
    const double pf_s = since(t_pf);
    PreForwarded pf_val(base, 1, sub, va, true);
    SpecializeSpec pre = spec;
    pre.other_share = 0.95;  // `sub` is already subsampled
    auto pr = specialize(base, pf_val, pre);

    // Features kept: the build's step (every training and validation example through the
    // frozen layers, written), then the runtime call (read, verify, train the head).
    char tmpl[] = "/tmp/bench_specialize-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("cannot make a temporary directory");
    struct RemoveAtExit {
      std::string dir;
      ~RemoveAtExit() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
      }
    } remove_tmp{tmpl};
    CatalogIndex kept;
    kept.dir = tmpl;
    const CatalogIndex cat = read_catalog_index(catalog);
    if (!cat.find("base")) throw std::runtime_error(catalog + ": no variant 'base'");
    auto t_store = Clock::now();
    const PreForwarded all(base, 1, tr, va, true);
    const std::string name = features_file_name("base", 1);
    const FeatureRecord kept_rec = write_features(kept.dir + "/" + name, name, *cat.find("base"), 1, all);
    const double store_s = since(t_store);
    const double mb = static_cast<double>(std::filesystem::file_size(kept.dir + "/" + name)) / 1e6;
    auto t_read = Clock::now();
    const PreForwarded stored = read_features(kept, kept_rec, torch::kCPU);
    const double read_s = since(t_read);
    auto kr = specialize(base, stored, spec);

    std::printf("\n  %-38s %10s %9s %9s %9s\n", "", "seconds", "in-set", "other", "vs full");
    std::printf("  %-38s %10s %8.2f%% %9s\n", "generic base (10 classes)", "-", 100 * generic_in, "-");
    std::printf("  %-38s %10.1f %8.2f%% %8.2f%% %8.1fx\n", ("full retraining (" + std::to_string(s.training.epochs) + " epochs)").c_str(), full_s,
                100 * full_in, 100 * full_other, 1.0);
    std::printf("  %-38s %10.2f %8.2f%% %8.2f%% %8.1fx\n", ("retargeting (" + std::to_string(spec.epochs) + " epochs)").c_str(), rr.seconds,
                100 * rr.in_set_accuracy, 100 * rr.other_recall, full_s / rr.seconds);
    std::printf("  %-38s %10.2f %8.2f%% %8.2f%% %8.1fx\n", "retargeting + pre-forwarding", pf_s + pr.seconds, 100 * pr.in_set_accuracy,
                100 * pr.other_recall, full_s / (pf_s + pr.seconds));
    std::printf("  %-38s %10.2f %9s %9s %8.1fx\n", "  of which the head (features cached)", pr.seconds, "", "", full_s / pr.seconds);
    std::printf("  %-38s %10.2f %8.2f%% %8.2f%% %8.1fx\n", "retargeting, features kept (read+head)", read_s + kr.seconds,
                100 * kr.in_set_accuracy, 100 * kr.other_recall, full_s / (read_s + kr.seconds));
    std::printf("  %-38s %10.2f %9s %9s %9s\n", "  of which reading the features", read_s, "", "", "");
    std::printf("\n  %lld training examples (%lld of the %zu classes, %lld other); pre-forwarding them took %.2f s\n",
                static_cast<long long>(sub.x.size(0)), static_cast<long long>(in_idx.size(0)), classes.size(),
                static_cast<long long>(out_idx.size(0)), pf_s);
    std::printf("  features kept: every one of the %lld training and %lld validation examples forwarded and written once "
                "(the build's step, for every class set to come): %.2f s, %.1f MB\n",
                static_cast<long long>(kept_rec.train_examples), static_cast<long long>(kept_rec.validation_examples), store_s, mb);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_specialize: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

int main(int argc, char** argv) { return bench_main("bench_specialize", kUsage, argc, argv, run_bench); }
