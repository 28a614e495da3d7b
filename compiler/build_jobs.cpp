#include "build_jobs.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "build_steps.hpp"
#include "catalog/build_plan.hpp"
#include "catalog/catalog.hpp"
#include "catalog/convergence.hpp"
#include "catalog/variant_table.hpp"
#include "measure_variants.hpp"
#include "nn/net.hpp"
#include "sweep/sweep.hpp"
#include "train/finetune.hpp"
#include "util/error.hpp"
#include "util/file_lock.hpp"
#include "util/fs.hpp"
#include "util/sha256.hpp"
#include "version.hpp"

namespace mcdnn {

namespace fs = std::filesystem;

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }


std::string plan_dir_of(const JobContext& c) { return c.opt.merge_dir.empty() ? c.opt.plan_dir : c.opt.merge_dir; }

// The plan in DIR, which must have been made for this build.
PlanFile read_matching_plan(const JobContext& c) {
  const std::string dir = plan_dir_of(c);
  if (!fs::exists(fs::path(dir) / "plan.json"))
    fail(ErrorClass::Usage, dir + ": holds no plan.json; make the plan first: mcdnn-compile " + c.opt.schema_path + " --plan " + dir);
  PlanFile p = read_plan(dir);
  if (p.build_key != c.build_key)
    fail(ErrorClass::Usage, dir + "/plan.json was made from a different schema, data, --epochs/--limit or compiler than this command's (" +
                                c.opt.schema_path + "); give the same ones, or make the plan again with --plan " + dir);
  const auto jobs = split_jobs(plan_build(c.schema));
  bool same = jobs.size() == p.jobs.size();
  for (size_t i = 0; same && i < jobs.size(); ++i) same = jobs[i].positions == p.jobs[i].positions && jobs[i].ids == p.jobs[i].ids;
  if (!same) fail(ErrorClass::Catalog, dir + "/plan.json: its jobs are not the schema's (the file was changed); make the plan again with --plan " + dir);
  return p;
}

// The normalization a build computes from its training data, as the plan recorded it.
void use_plan_input(Schema& schema, const PlanFile& p) {
  if (schema.data.normalize.mode == Normalize::Mode::Compute) {
    schema.data.normalize.mean = p.input.mean;
    schema.data.normalize.std = p.input.std;
  }
}

void verify_file(const fs::path& path, const VariantRecord& r) {
  const std::string got = sha256_file(path.string(), static_cast<int>(ErrorClass::Catalog));
  if (got != r.sha256)
    fail(ErrorClass::Catalog, path.string() + ": SHA-256 " + got + " differs from the one recorded for " + r.id +
                                  ": the file was damaged or changed; rerun the job that built it");
}

// Finished jobs' results in DIR (those of this plan's build key), by job number. A job file
// that is unreadable or does not fit its job fails when `strict` (the merge), else counts as
// unfinished with a warning (a job rerun alone must not be blocked by another's damaged file).
std::map<size_t, JobResult> finished_jobs(const std::string& dir, const PlanFile& plan, bool strict, std::ostream& log) {
  std::map<size_t, JobResult> out;
  for (const auto& j : plan.jobs) {
    const fs::path f = fs::path(dir) / job_file_name(j.number);
    if (!fs::exists(f)) continue;
    try {
      JobResult r = read_job(f.string());
      if (r.build_key != plan.build_key || r.job != j.number) continue;
      for (size_t i = 0; i < r.positions.size(); ++i) {
        auto at = std::find(j.positions.begin(), j.positions.end(), r.positions[i]);
        if (at == j.positions.end() || j.ids[static_cast<size_t>(at - j.positions.begin())] != r.planned[i])
          fail(ErrorClass::Catalog, f.string() + ": records plan position " + std::to_string(r.positions[i]) + " (" + r.planned[i] +
                                        "), which is not job " + std::to_string(j.number) + "'s; rerun the job");
      }
      out[j.number] = std::move(r);
    } catch (const Error& e) {
      if (strict) throw;
      log << "  warning: " << e.what() << "; job " << j.number << " counts as unfinished\n";
    }
  }
  return out;
}

// The VariantStore of one build job: variants of finished jobs (and the base) are read from
// DIR, checksums verified; this job's variants are written there and collected.
class JobStore : public VariantStore {
 public:
  JobStore(const std::string& dir, const PlanFile& plan, const Schema& schema, const std::map<size_t, JobResult>& done)
      : dir_(dir), info_(input_info(schema)) {
    for (const auto& [number, jr] : done) {
      for (size_t i = 0; i < jr.records.size(); ++i) {
        Known k{jr.records[i], jr.entries[i]};
        by_id_[jr.planned[i]] = k;  // found by planned id (what the plan's parents name)
        by_built_[jr.records[i].id] = k;
      }
      skipped_.insert(jr.skipped.begin(), jr.skipped.end());
    }
    by_id_["base"] = by_built_["base"] = {plan.base, plan.base_entry};
  }
  const VariantRecord* done(const std::string& id) const override {
    auto it = by_id_.find(id);
    return it == by_id_.end() || id == "base" ? nullptr : &it->second.rec;
  }
  void keep(VariantRecord& rec) override { entries_.push_back(known(rec.id).entry); }
  void save(const Variant& v, VariantRecord& rec, size_t shared) override {
    // A new file (a new inode): a merged catalog may hold a hard link to the old one.
    const fs::path f = fs::path(dir_) / rec.file;
    fs::path tmp = f;
    tmp += ".tmp-" + std::to_string(::getpid());
    write_variant(tmp.string(), rec, info_, v);
    rec.sha256 = sha256_file(tmp.string(), static_cast<int>(ErrorClass::Output));
    std::error_code ec;
    fs::rename(tmp, f, ec);
    if (ec) fail(ErrorClass::Output, f.string() + ": cannot rename " + tmp.string() + " into place: " + ec.message());
    CheckpointEntry e{shared, unmasked_zeros(v)};
    by_built_[rec.id] = {rec, e};
    entries_.push_back(e);
  }
  Variant load(const VariantRecord& rec) override {
    const Known& k = known(rec.id);
    const fs::path f = fs::path(dir_) / rec.file;
    verify_file(f, k.rec);
    return variant_from_file(read_variant_file(f.string()), k.entry.unmasked_zeros);
  }
  size_t shared(const std::string& id) const override { return known(id).entry.shared; }
  bool skipped(const std::string& planned_id) const override { return skipped_.count(planned_id) > 0; }
  // The entries of the variants this job saved, in order.
  const std::vector<CheckpointEntry>& entries() const { return entries_; }

 private:
  struct Known {
    VariantRecord rec;
    CheckpointEntry entry;
  };
  std::string dir_;
  InputInfo info_;
  // A record by built id (what records and files name).
  const Known& known(const std::string& id) const {
    if (auto it = by_built_.find(id); it != by_built_.end()) return it->second;
    return by_id_.at(id);
  }
  std::map<std::string, Known> by_id_, by_built_;
  std::set<std::string> skipped_;
  std::vector<CheckpointEntry> entries_;
};

// plan.json while the base model trains: mcdnn's plan format, no jobs yet (read_plan() refuses it).
std::string nlohmann_marker(const std::string& key) {
  return std::string("{\"format\": \"") + kPlanFormat + "\", \"format_version\": 1, \"build_key\": \"" + key +
         "\", \"state\": \"training the base model\"}\n";
}

// "3, 7, 9-12"
std::string ranges(const std::vector<size_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size();) {
    size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    s += (s.empty() ? "" : ", ") + std::to_string(v[i]) + (j > i ? "-" + std::to_string(v[j]) : "");
    i = j + 1;
  }
  return s;
}

void link_or_copy(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::remove(to, ec);
  fs::create_hard_link(from, to, ec);
  if (ec) {
    ec.clear();
    fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
    if (ec) fail(ErrorClass::Output, to.string() + ": cannot copy " + from.string() + " there: " + ec.message());
  }
}

}  // namespace

int make_plan(const JobContext& c) {
  const auto t0 = Clock::now();
  const std::string dir = c.opt.plan_dir;
  Schema& schema = c.schema;
  const std::vector<PlannedVariant> plan = plan_build(schema);
  const bool restart = c.opt.restart || c.opt.force;
  prepare_plan_dir(dir, c.build_key, restart, /*clean=*/false);  // refuses a directory not ours, touching nothing
  FileLock lock(fs::path(dir) / ".lock", dir + ": another mcdnn-compile is making this plan, or building or merging its jobs, now; wait for it");
  const bool kept = prepare_plan_dir(dir, c.build_key, restart, /*clean=*/true);
  std::ostream& out = c.out;
  out << "mcdnn-compile " << kVersion << ": " << schema.name << " (" << c.opt.schema_path << "), build plan in " << dir << "\n";
  const std::string device = c.device.is_cuda() ? "cuda" : "cpu";

  PlanFile pf;
  bool reuse = false;
  if (kept) {
    try {
      PlanFile old = read_plan(dir);
      if (old.threads != c.threads || old.device != device)
        fail(ErrorClass::Usage, "it was made with " + std::to_string(old.threads) + " thread(s) on " + old.device + ", this plan uses " +
                                    std::to_string(c.threads) + " on " + device);
      verify_file(fs::path(dir) / "base.h5", old.base);
      pf.base = old.base;
      pf.base_entry = old.base_entry;
      use_plan_input(schema, old);
      reuse = true;
      char buf[200];
      std::snprintf(buf, sizeof buf, "base model: taken from the plan (%.2f%% validation accuracy, trained in %.1f s); finished jobs are kept\n",
                    100 * pf.base.accuracy, pf.base.train_seconds);
      out << buf;
    } catch (const Error& e) {
      out << "  the plan in " << dir << " is not kept (" << e.what() << "); starting over\n";
      prepare_plan_dir(dir, c.build_key, /*restart=*/true, /*clean=*/true);
    }
  }
  if (!reuse) {
    // plan.json first, as the mark of a plan directory while the base model trains.
    write_file_atomic(fs::path(dir) / "plan.json", nlohmann_marker(c.build_key));
    out << "  device " << c.device.str() << ", " << c.threads << " threads, LibTorch " << TORCH_VERSION << "\n";
    Dataset train_set, val_set;
    load_build_data(schema, &train_set, &val_set, out);
    TensorData tr = to_tensors(train_set, c.device), va = to_tensors(val_set, c.device);
    VariantRecord rec;
    Variant base = train_base(schema, val_set, tr, va, c.device, c.opt, out, &rec);
    const fs::path f = fs::path(dir) / rec.file;
    fs::path tmp = f;
    tmp += ".tmp-" + std::to_string(::getpid());
    write_variant(tmp.string(), rec, input_info(schema), base);
    rec.sha256 = sha256_file(tmp.string(), static_cast<int>(ErrorClass::Output));
    fs::rename(tmp, f);  // a new inode: a merged catalog may hold a hard link to the old file
    pf.base = rec;
    pf.base_entry = CheckpointEntry{schema.layers.size(), {}};
  }
  pf.build_key = c.build_key;
  pf.threads = c.threads;
  pf.device = device;
  pf.positions = static_cast<int64_t>(plan.size());
  for (const auto& v : plan) pf.variants += !v.skip;
  pf.jobs = split_jobs(plan);
  write_file_atomic(fs::path(dir) / "plan.json", plan_json(pf, schema));

  size_t waves = pf.jobs.empty() ? 0 : pf.jobs.back().wave;
  out << "\nplan: " << pf.variants << " variants in " << pf.jobs.size() << " jobs, " << waves << " wave(s); a job needs only the jobs of earlier waves\n";
  for (size_t w = 1; w <= waves; ++w) {
    std::vector<size_t> nums;
    size_t n = 0;
    for (const auto& j : pf.jobs)
      if (j.wave == w) {
        nums.push_back(j.number);
        for (size_t p : j.positions) n += !plan[p - 1].skip;
      }
    out << "  wave " << w << ": jobs " << ranges(nums) << " (" << n << " variants)\n";
  }
  char buf[120];
  std::snprintf(buf, sizeof buf, "  written in %.1f s\n", since(t0));
  out << buf << "next: mcdnn-compile " << c.opt.schema_path << " --plan " << dir << " --job K   (for every K, on any machine sharing " << dir
      << ")\n      mcdnn-compile " << c.opt.schema_path << " --merge " << dir << " -o CATALOG   (when all have finished)\n";
  return 0;
}

int build_jobs(const JobContext& c) {
  const std::string dir = c.opt.plan_dir;
  Schema& schema = c.schema;
  read_matching_plan(c);  // its errors first, then under the plan's lock (shared with other jobs):
  FileLock plan_lock(fs::path(dir) / ".lock", dir + ": the plan is being made again now; wait for it, then rerun", /*shared=*/true);
  const PlanFile pf = read_matching_plan(c);
  const std::vector<size_t> numbers = parse_job_range(c.opt.job, pf.jobs.size());
  std::ostream& out = c.out;
  out << "mcdnn-compile " << kVersion << ": " << schema.name << ", plan " << dir << ", job" << (numbers.size() > 1 ? "s " : " ")
      << c.opt.job << " of " << pf.jobs.size() << "; device " << c.device.str() << ", " << c.threads << " threads\n";
  if (c.threads != pf.threads)
    out << "  note: the plan was made with " << pf.threads << " threads; fine-tuning with " << c.threads
        << " may differ in the last bits from a build with " << pf.threads << "\n";

  std::optional<FeatureCache> cache;
  Variant base;
  Dataset train_set, val_set;
  for (size_t k : numbers) {
    const BuildJob& job = pf.jobs[k - 1];
    FileLock lock(fs::path(dir) / (".lock-job-" + std::to_string(k)),
                  dir + ": job " + std::to_string(k) + " is being built by another process now; wait for it");
    auto done = finished_jobs(dir, pf, /*strict=*/false, out);
    if (done.count(k) && !c.opt.force) {
      bool intact = true;
      for (const auto& r : done[k].records) try {
          verify_file(fs::path(dir) / r.file, r);
        } catch (const Error&) {
          intact = false;
        }
      if (intact) {
        out << "job " << k << ": already built (" << done[k].records.size() << " variants); --force builds it again\n";
        continue;
      }
    }
    done.erase(k);
    // Until it completes, the job is unfinished for everyone (its dependents, the merge).
    std::error_code ec;
    fs::remove(fs::path(dir) / job_file_name(k), ec);
    std::vector<size_t> missing;
    for (size_t d : job.depends)
      if (!done.count(d)) missing.push_back(d);
    if (!missing.empty())
      fail(ErrorClass::Usage, "job " + std::to_string(k) + " derives from variants of job(s) " + ranges(missing) +
                                  ", which have not finished; build them first (--job " + std::to_string(missing.front()) + ")");
    if (!cache) {
      load_build_data(schema, &train_set, &val_set, out);
      TensorData tr = to_tensors(train_set, c.device), va = to_tensors(val_set, c.device);
      verify_file(fs::path(dir) / "base.h5", pf.base);
      base = read_variant((fs::path(dir) / "base.h5").string());
      base.id = "base";
      base.net->to(c.device);
      base.net->eval();
      const FinetuneSpec& fts = schema.catalog.finetune;
      cache.emplace(base.net, finetune_subset(schema, tr, c.device), va, fts.cache_mb * (int64_t(1) << 20));
    }
    const auto t0 = Clock::now();
    out << "\njob " << k << " (wave " << job.wave << "): " << job.positions.size() << " variant(s)\n";
    JobStore store(dir, pf, schema, done);
    Variant b;
    b.id = "base";
    b.net = base.net;
    SweepResult sw = run_sweep(schema, std::move(b), pf.base, *cache, store, out, &job.positions);
    JobResult jr;
    jr.job = k;
    jr.build_key = pf.build_key;
    for (size_t i = 1; i < sw.records.size(); ++i) {
      jr.records.push_back(sw.records[i]);
      jr.positions.push_back(sw.positions[i]);
      jr.planned.push_back(pf.jobs[k - 1].ids[static_cast<size_t>(
          std::find(job.positions.begin(), job.positions.end(), sw.positions[i]) - job.positions.begin())]);
    }
    jr.entries = store.entries();
    jr.skipped = sw.skipped;
    for (size_t i = 0; i < sw.notes.size(); ++i) jr.notes.emplace_back(sw.note_positions[i], sw.notes[i]);
    jr.seconds = since(t0);
    write_file_atomic(fs::path(dir) / job_file_name(k), job_json(jr, schema));
    char buf[120];
    std::snprintf(buf, sizeof buf, "job %zu: done in %.1f s\n", k, jr.seconds);
    out << buf;
  }
  return 0;
}

int merge_jobs(const JobContext& c) {
  const auto t0 = Clock::now();
  const std::string dir = c.opt.merge_dir;
  Schema& schema = c.schema;
  read_matching_plan(c);
  FileLock plan_lock(fs::path(dir) / ".lock", dir + ": the plan is being made again now; wait for it, then merge", /*shared=*/true);
  const PlanFile pf = read_matching_plan(c);
  use_plan_input(schema, pf);
  const auto done = finished_jobs(dir, pf, /*strict=*/true, c.out);
  std::vector<size_t> missing;
  for (const auto& j : pf.jobs)
    if (!done.count(j.number)) missing.push_back(j.number);
  if (!missing.empty())
    fail(ErrorClass::Catalog, dir + ": " + std::to_string(missing.size()) + " of " + std::to_string(pf.jobs.size()) +
                                  " jobs have not finished (no job-K.json of this plan): " + ranges(missing) + "; build them with mcdnn-compile " +
                                  c.opt.schema_path + " --plan " + dir + " --job K, then merge again");
  // Every variant in plan order, as a whole build lists them.
  struct Item {
    size_t pos;
    VariantRecord rec;
    CheckpointEntry entry;
    size_t job;
  };
  std::vector<Item> items;
  std::vector<std::pair<size_t, std::string>> notes;
  for (const auto& [k, jr] : done) {
    for (size_t i = 0; i < jr.records.size(); ++i) items.push_back({jr.positions[i], jr.records[i], jr.entries[i], k});
    notes.insert(notes.end(), jr.notes.begin(), jr.notes.end());
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.pos < b.pos; });
  std::stable_sort(notes.begin(), notes.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::set<std::string> ids = {"base"};
  for (const auto& it : items)
    if (!ids.insert(it.rec.id).second)
      fail(ErrorClass::Catalog, dir + ": two jobs built a variant " + it.rec.id + " (an svd energy level chose the rank another step "
                                      "asks for); drop one of the two steps from the schema and build again");
  for (const auto& it : items)
    if (!ids.count(it.rec.parent)) fail(ErrorClass::Catalog, dir + ": " + it.rec.id + "'s parent " + it.rec.parent + " is in no job");

  const std::string out_dir = c.opt.out_dir.empty() ? schema.name + "-catalog" : c.opt.out_dir;
  check_output_dir(out_dir);
  std::ostream& out = c.out;
  out << "mcdnn-compile " << kVersion << ": " << schema.name << ", merging " << pf.jobs.size() << " jobs of " << dir << " into " << out_dir << "\n";
  BuildDir build(out_dir, c.build_key, /*restart=*/true, out);
  std::vector<VariantRecord> records;
  auto add = [&](VariantRecord r, const CheckpointEntry& e, size_t job) {
    const fs::path from = fs::path(dir) / r.file;
    try {
      verify_file(from, r);
    } catch (const Error& err) {
      fail(ErrorClass::Catalog, std::string(err.what()) + (job ? " (job " + std::to_string(job) + ": --job " + std::to_string(job) + " --force)"
                                                               : " (the base model: make the plan again)"));
    }
    link_or_copy(from, build.file(r.file));
    build.commit(r, e, schema);
    records.push_back(r);
  };
  add(pf.base, pf.base_entry, 0);
  for (const auto& it : items) add(it.rec, it.entry, it.job);
  std::optional<ExecutorInfo> executor;
  if (c.opt.measure_seconds > 0) executor = measure_variants(build, records, c.opt, out);
  mark_pareto(records);
  std::vector<std::string> note_text;
  for (const auto& n : notes) note_text.push_back(n.second);
  const std::string text = catalog_json(schema, records, c.build_key, note_text, executor ? &*executor : nullptr);
  parse_catalog_index(text, out_dir + "/catalog.json (merged)");  // every parent before its child, ids unique
  build.finish(text);
  out << "\nsummary: " << records.size() << " variants" << (c.opt.sort == "order" ? " in build order" : ", by " + c.opt.sort)
      << "; vs base = accuracy points, smaller / fewer / faster = base / variant\n"
      << format_variant_table(records, executor.has_value(), c.opt.sort);
  double job_seconds = 0;
  for (const auto& [k, jr] : done) job_seconds += jr.seconds;
  char buf[400];
  std::snprintf(buf, sizeof buf, "  %zu jobs took %.1f s in all; merged in %.1f s; catalog written to %s/catalog.json\n", pf.jobs.size(),
                job_seconds, since(t0), out_dir.c_str());
  out << buf;
  const std::string warning = convergence_warning(judge_convergence(pf.base.accuracy_by_epoch, pf.base.validation_examples));
  if (!warning.empty()) out << warning << "\n";
  return 0;
}

}  // namespace mcdnn
