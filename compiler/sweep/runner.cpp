#include "sweep/sweep.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <algorithm>
#include <map>
#include <memory>

#include "catalog/variant_table.hpp"
#include "passes/passes.hpp"
#include "schema/plan.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/interrupt.hpp"

namespace mcdnn {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Seeds the torch RNG from a string (a variant's lineage and the step applied to it), so that
// what a pass or a fine-tuning draws does not depend on what ran before it.
void seed_from(const std::string& what, int64_t seed) {
  torch::manual_seed(std::stoull(fnv1a_hex(what), nullptr, 16) ^ static_cast<uint64_t>(seed));
}

class Runner {
 public:
  // `out` already holds the base model's record (records[0]).
  Runner(const Schema& s, Variant base, FeatureCache& cache, VariantStore& store, std::ostream& log, SweepResult& out,
         const std::vector<PlannedVariant>& plan)
      : s_(s), cache_(cache), store_(store), log_(log), out_(out),
        table_(VariantTable::View::Progress, out.records.front(), id_width(plan), false, plan.size()) {
    log_ << table_.header();
    shared_.push_back(base.net->layers().size());
    vars_.push_back(std::make_unique<Variant>(std::move(base)));
    pins_.push_back(1);  // the base is never dropped
    out_.peak_resident = 1;
  }

  void apply(const PassStep& st, size_t parent) {
    ++pins_[parent];
    const std::string pid = out_.records[parent].id;  // records grow below: copy, never a reference
    auto context = [&](const std::string& what) { return st.where + ": " + st.pass + " on " + pid + ": " + what; };
    // Every pass starts from a seeded RNG and a clock that includes the pass itself.
    auto begin = [&](const std::string& what) {
      seed_from(pid + "|" + st.pass + "|" + what, s_.training.seed);
      return Clock::now();
    };
    try {
      if (st.pass == "quantize") {
        for (const auto& f : st.levels) {
          auto t0 = begin(f);
          release(add(parent, quantize_weights(get(parent), f, st.layers), st, t0));
        }
      } else if (st.pass == "prune") {
        size_t from = parent;
        for (const auto& lv : st.levels) {
          double sparsity;
          if (!parse_sparsity(lv, &sparsity)) fail(ErrorClass::Schema, context("bad sparsity '" + lv + "'"));
          auto t0 = begin(lv);
          size_t c = add(from, prune_magnitude(get(from), st.layers, sparsity, st.global), st, t0);
          if (!st.iterative) {
            release(c);
            continue;
          }
          ++pins_[c];  // the next level derives from it
          if (from != parent) --pins_[from], release(from);
          from = c;
        }
        if (from != parent) --pins_[from], release(from);
      } else if (st.pass == "svd") {
        for (const auto& layer : st.layers) {
          // One decomposition per layer, shared by every rank (its time is split among them).
          auto t_svd = Clock::now();
          const LayerSvd svd = layer_svd(get(parent), layer);
          const auto svd_share = (Clock::now() - t_svd) / std::max<size_t>(st.levels.size(), 1);
          for (const auto& lv : st.levels) {
            RankSpec r;
            if (!parse_rank(lv, &r)) fail(ErrorClass::Schema, context("bad rank '" + lv + "'"));
            auto t0 = begin(layer + "|" + lv) - svd_share;
            std::string note;
            auto c = factorize_svd(get(parent), layer, r, &note, &svd);
            if (c)
              release(add(parent, std::move(*c), st, t0));
            else
              skip(pid + ": " + note);
          }
        }
      } else if (st.pass == "narrow") {
        for (const auto& layer : st.layers)
          for (const auto& lv : st.levels) {
            const LayerSpec& l = get(parent).net->layers()[layer_index(get(parent), layer)];
            KeepSpec ks;
            if (!parse_keep(lv, &ks)) fail(ErrorClass::Schema, context("bad keep '" + lv + "'"));
            int64_t keep = keep_count(ks, l.out);
            if (keep >= l.out) {
              skip(pid + ": narrow " + layer + " keep " + lv + ": skipped, it has only " + std::to_string(l.out) + " outputs");
              continue;
            }
            auto t0 = begin(layer + "|" + lv);
            release(add(parent, narrow_layer(get(parent), layer, keep), st, t0));
          }
      } else if (st.pass == "remove") {
        for (const auto& layer : st.layers) {
          auto t0 = begin(layer);
          release(add(parent, remove_layer(get(parent), layer), st, t0));
        }
      }
    } catch (const Error& e) {
      --pins_[parent];
      if (e.cls() != ErrorClass::Schema) throw;
      std::string msg = e.what();
      // A nested step's error already says where (it starts with the schema's path).
      fail(ErrorClass::Schema, msg.rfind(s_.path + ":", 0) == 0 ? msg : context(msg));
    }
    --pins_[parent];
  }

 private:
  // Variant i, reloaded from the store when it was dropped. The reference stays valid while i
  // is pinned (variants live behind stable pointers).
  const Variant& get(size_t i) {
    if (!vars_[i]) {
      vars_[i] = std::make_unique<Variant>(store_.load(out_.records[i]));
      note_resident();
    }
    return *vars_[i];
  }
  // Drops variant i from memory unless a step still derives from it (or it is the base).
  void release(size_t i) {
    if (pins_[i] == 0) vars_[i].reset();
  }
  void note_resident() {
    size_t n = 0;
    for (const auto& v : vars_) n += v != nullptr;
    out_.peak_resident = std::max(out_.peak_resident, n);
  }

  void skip(const std::string& note) {
    out_.notes.push_back(note);
    log_ << "  note: " << note << "\n";
  }

  void print(const VariantRecord& r, size_t frozen, bool resumed) {
    std::string note = resumed ? "(built before the interruption)" : frozen ? "frozen " + std::to_string(frozen) + " layers" : "";
    log_ << table_.row(r, out_.records.size(), note) << std::flush;
  }

  // Fine-tunes, profiles, stores and records a child whose pass started at t0; applies `then`
  // steps to it. Returns its index. A child an interrupted run already finished is taken from
  // the store instead.
  size_t add(size_t parent, Variant child, const PassStep& st, Clock::time_point t0) {
    check_interrupted();
    bool train = st.finetune;
    // A quantized variant that is fine-tuned has trained codebook centroids: say so in its name.
    if (train && st.pass == "quantize") child.transforms.back() += " ft";
    std::string id = variant_id(child.transforms);
    if (auto it = ids_.find(id); it != ids_.end()) {
      // The same chain was already built (e.g. a `then` chain starting with a step the sweep
      // also has on its own): reuse it rather than build it twice.
      ++pins_[it->second];
      for (const auto& t : st.then) apply(t, it->second);
      --pins_[it->second];
      return it->second;
    }
    const size_t me = out_.records.size();
    ids_[id] = me;
    child.id = id;
    child.parent = out_.records[parent].id;
    size_t shared = std::min(shared_[parent], child.first_changed);
    VariantRecord r;
    if (const VariantRecord* done = store_.done(id)) {
      r = *done;
      store_.keep(r);
      print(r, 0, true);
      vars_.push_back(nullptr);
      ++out_.resumed;
    } else {
      auto ft = finetune(child, shared, cache_, s_.catalog.finetune, train,
                         static_cast<uint64_t>(s_.training.seed) + me);
      r.id = id;
      r.parent = child.parent;
      r.transforms = child.transforms;
      r.file = id + ".h5";
      r.profile = profile_variant(child);
      r.accuracy = ft.accuracy_after;
      r.accuracy_before_finetune = train ? ft.accuracy_before : -1;
      r.validation_examples = cache_.raw_val().x.size(0);
      r.train_seconds = ft.seconds;
      r.epochs = train ? s_.catalog.finetune.epochs : 0;
      r.build_seconds = since(t0);
      store_.save(child, r, shared);
      print(r, ft.frozen, false);
      vars_.push_back(std::make_unique<Variant>(std::move(child)));
    }
    out_.records.push_back(r);
    shared_.push_back(shared);
    pins_.push_back(0);
    note_resident();
    ++pins_[me];
    for (const auto& t : st.then) apply(t, me);
    --pins_[me];
    return me;
  }

  static size_t id_width(const std::vector<PlannedVariant>& plan) {
    size_t w = 0;
    for (const auto& v : plan) w = std::max(w, v.id.size());
    return w;
  }

  const Schema& s_;
  FeatureCache& cache_;
  VariantStore& store_;
  std::ostream& log_;
  SweepResult& out_;
  VariantTable table_;
  // Per variant (index = record index): the variant while resident, how many leading layers it
  // shares with the base model, and how many steps in progress derive from it.
  std::vector<std::unique_ptr<Variant>> vars_;
  std::vector<size_t> shared_;
  std::vector<int> pins_;
  std::map<std::string, size_t> ids_{{"base", 0}};
};
}  // namespace

void MemoryStore::save(const Variant& v, VariantRecord&, size_t) { saved_[v.id] = derive(v, v.net->layers()); }

Variant MemoryStore::load(const VariantRecord& rec) {
  const Variant& v = saved_.at(rec.id);
  Variant c = derive(v, v.net->layers());
  c.first_changed = v.first_changed;
  return c;
}

SweepResult run_sweep(const Schema& s, Variant base, const VariantRecord& base_record, FeatureCache& cache,
                      VariantStore& store, std::ostream& log) {
  auto t0 = Clock::now();
  SweepResult out;
  out.records.push_back(base_record);
  // The plan gives the progress lines their total and width. A schema that did not come through
  // parse_schema_file() may hold a chain the plan rejects: then the passes report it themselves.
  std::vector<PlannedVariant> plan;
  try {
    plan = plan_variants(s);
  } catch (const Error&) {
  }
  Runner run(s, std::move(base), cache, store, log, out, plan);
  auto steps = s.catalog.variants_given ? s.catalog.steps : default_sweep(s);
  for (const auto& st : steps) run.apply(st, 0);
  out.seconds = since(t0);
  out.cache_seconds = cache.seconds();
  return out;
}

}  // namespace mcdnn
