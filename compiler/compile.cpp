#include "compile.hpp"

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <thread>

#include "build_jobs.hpp"
#include "build_steps.hpp"
#include "catalog/build_plan.hpp"
#include "catalog/catalog.hpp"
#include "catalog/convergence.hpp"
#include "checkpoint_store.hpp"
#include "data/dataset.hpp"
#include "nn/net.hpp"
#include "nn/variant.hpp"
#include "measure_variants.hpp"
#include "specialize/specialize_catalog.hpp"
#include "sweep/sweep.hpp"
#include "train/finetune.hpp"
#include "profile/profile.hpp"
#include "schema/check.hpp"
#include "schema/schema.hpp"
#include "catalog/variant_table.hpp"
#include "train/train.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/interrupt.hpp"
#include "util/thread_policy.hpp"
#include "version.hpp"

namespace mcdnn {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int run(const CompileOptions& opt, std::ostream& out) {
  auto t_start = Clock::now();
  Schema schema = parse_schema_file(opt.schema_path);
  if (opt.epochs > 0) schema.training.epochs = opt.epochs;
  if (opt.limit > 0) schema.data.limit_train = schema.data.limit_validation = opt.limit;

  if (opt.check) return run_check(opt, out);
  if (opt.profile_only) return run_profile_only(opt, out);
  Profile prof = profile_layers(schema.layers);
  const SortKey* sort_key = find_sort_key(opt.sort);
  if (!sort_key) fail(ErrorClass::Usage, "--sort " + opt.sort + ": unknown order");
  if (sort_key->needs_measured && opt.measure_seconds <= 0)
    fail(ErrorClass::Usage, "--sort " + opt.sort + " needs measured variants; drop --measure-seconds 0 or sort by accuracy, bytes or flops");

  std::string out_dir = opt.out_dir.empty() ? schema.name + "-catalog" : opt.out_dir;
  if (opt.plan_dir.empty() && opt.specialize_dir.empty()) check_output_dir(out_dir);
  if (schema.trunk.present) {
    if (!opt.plan_dir.empty() || !opt.merge_dir.empty())
      fail(ErrorClass::Usage, "build plans do not build fragment catalogs (a schema with a `trunk`) yet: build this schema whole (without --plan)");
    // catalog.json names the trunk catalog relative to itself, so the two can move together.
    const std::string cat = opt.specialize_dir.empty() ? out_dir : opt.specialize_dir;
    schema.trunk.from_catalog =
        std::filesystem::weakly_canonical(schema.trunk.catalog_dir).lexically_relative(std::filesystem::weakly_canonical(std::filesystem::absolute(cat))).string();
  }
  if ((!opt.plan_dir.empty() || !opt.merge_dir.empty()) && !schema.specialize.sets.empty())
    fail(ErrorClass::Usage, "build plans do not make the schema's specialized variants yet: build this schema whole (without "
                            "--plan), or drop its `specialize` section");  // fail before training, not after
  int threads = opt.threads > 0 ? opt.threads
                                : default_threads(static_cast<double>(prof.flops) * static_cast<double>(schema.training.batch_size));
  bool adaptive = opt.threads == 0;
  // Build jobs fine-tune with the plan's thread count: the same count gives the same bits.
  if (!opt.job.empty() && opt.threads == 0 && std::filesystem::exists(std::filesystem::path(opt.plan_dir) / "plan.json"))
    threads = read_plan(opt.plan_dir).threads, adaptive = false;
  use_thread_policy(threads, adaptive);
  tune_runtime();
  // The merge only measures, with the executor on the CPU: it needs no GPU even when the jobs did.
  torch::Device device = opt.merge_dir.empty() ? pick_device(opt.device) : torch::Device(torch::kCPU);
  if (!opt.specialize_dir.empty()) {
    install_interrupt_handlers();
    return specialize_catalog(opt, schema, device, out);
  }
  const std::string key = build_key(schema);
  if (!opt.plan_dir.empty() || !opt.merge_dir.empty()) {
    install_interrupt_handlers();
    JobContext ctx{opt, schema, threads, device, key, out};
    return !opt.merge_dir.empty() ? merge_jobs(ctx) : opt.job.empty() ? make_plan(ctx) : build_jobs(ctx);
  }
  if (!opt.force && existing_build_key(out_dir) == key) {
    out << out_dir << " is up to date with " << opt.schema_path
        << " and its data (same schema, data files and compiler); --force rebuilds it, `mcdnn-catalog show " << out_dir
        << "` lists its variants\n";
    return 0;
  }
  install_interrupt_handlers();

  out << "mcdnn-compile " << kVersion << ": " << schema.name << " (" << opt.schema_path << ")\n";
  out << "  device " << device.str() << ", " << threads << (opt.threads == 0 ? " threads (fewer while other processes keep cores busy)" : " threads")
      << ", LibTorch " << TORCH_VERSION << "\n";
  out << "  base model: " << human(prof.params) << " params, " << human(prof.flops, "FLOPs") << ", "
      << human(prof.bytes, "B") << " weights\n";

  Dataset train_set, val_set;
  load_build_data(schema, &train_set, &val_set, out);

  BuildDir build(out_dir, key, opt.restart, out);
  try {
    TensorData tr = to_tensors(train_set, device), va = to_tensors(val_set, device);
    Variant base;
    VariantRecord rec;
    if (const VariantRecord* done = build.done("base")) {
      rec = *done;
      base = read_variant(build.file(rec.file));
      build.commit(rec, *build.entry("base"), schema);
      char buf[160];
      std::snprintf(buf, sizeof buf, "base model: taken from the checkpoint (%.2f%% validation accuracy, trained in %.1f s)\n",
                    100 * rec.accuracy, rec.train_seconds);
      out << buf;
    } else {
      base = train_base(schema, val_set, tr, va, device, opt, out, &rec);
      write_variant(build.file(rec.file), rec, input_info(schema), base);
      build.commit(rec, CheckpointEntry{schema.layers.size(), {}}, schema);
    }
    base.id = "base";
    base.net->to(device);
    base.net->eval();

    // The catalog of variants, fine-tuned on a fixed seeded subset of the training set.
    const FinetuneSpec& fts = schema.catalog.finetune;
    const int64_t sub_n = std::min<int64_t>(fts.examples, train_set.n);
    FeatureCache cache(base.net, finetune_subset(schema, tr, device), va, fts.cache_mb * (int64_t(1) << 20));
    bool sweeping = !schema.catalog.variants_given || !schema.catalog.steps.empty();
    if (sweeping)
      out << "\ncatalog: fine-tuning " << fts.epochs << " epoch(s) on " << sub_n << " examples, Adam lr " << fts.lr
          << "; frozen N layers = a prefix served from cached activations\n";
    CheckpointStore store(build, schema);
    SweepResult sw = run_sweep(schema, base, rec, cache, store, out);
    std::vector<FeatureRecord> features;
    build_specialized(build, schema, base, sw.records, features, tr, va, out);
    std::optional<ExecutorInfo> executor;
    std::optional<MeasuredCost> trunk_cost;
    if (opt.measure_seconds > 0) executor = measure_variants(build, sw.records, opt, out);
    if (opt.measure_seconds > 0 && schema.trunk.present) trunk_cost = measure_trunk(schema, opt, out);
    mark_pareto(sw.records);
    build.finish(catalog_json(schema, sw.records, key, sw.notes, executor ? &*executor : nullptr, trunk_cost ? &*trunk_cost : nullptr, features));

    out << "\nsummary: " << sw.records.size() << " variants" << (opt.sort == "order" ? " in build order" : ", by " + opt.sort)
        << "; vs base = accuracy points, smaller / fewer / faster = base / variant\n"
        << format_variant_table(sw.records, executor.has_value(), opt.sort);
    BuildTimes times;
    times.base_seconds = rec.build_seconds;
    times.base_train_seconds = rec.train_seconds;
    times.train_images_per_s = rec.train_seconds > 0 ? static_cast<double>(train_set.n) * schema.training.epochs / rec.train_seconds : 0;
    times.eval_images_per_s = rec.eval_images_per_s;
    times.variants = sw.records.size() - 1;
    times.catalog_seconds = sw.seconds;
    times.cache_seconds = sw.cache_seconds;
    times.resumed = sw.resumed;
    times.total_seconds = since(t_start);
    times.catalog_json = out_dir + "/catalog.json";
    out << format_build_times(times);
    const std::string warning = convergence_warning(judge_convergence(rec.accuracy_by_epoch, rec.validation_examples));
    if (!warning.empty()) out << warning << "\n";
    return 0;
  } catch (const Error& e) {
    if (e.cls() != ErrorClass::Interrupted) throw;
    fail(ErrorClass::Interrupted, std::string(e.what()) + ": everything finished so far is kept in " + build.dir() +
                                      "; rerun the same command to resume (--restart starts over)");
  }
}
}  // namespace

int compile(const CompileOptions& opt, std::ostream& out, std::ostream& err) {
  try {
    return run(opt, out);
  } catch (const Error& e) {
    err << "error: " << e.what() << "\n";
    return e.exit_code();
  } catch (const c10::Error& e) {
    err << "error: LibTorch: " << e.what_without_backtrace() << "\n";
    return static_cast<int>(ErrorClass::Internal);
  } catch (const std::exception& e) {
    err << "error: internal: " << e.what() << "\n";
    return static_cast<int>(ErrorClass::Internal);
  }
}

}  // namespace mcdnn
