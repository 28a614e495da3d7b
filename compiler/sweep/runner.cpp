#include "sweep/sweep.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <algorithm>
#include <map>
#include <memory>
#include <optional>

#include "catalog/variant_table.hpp"
#include "passes/passes.hpp"
#include "schema/levels.hpp"
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

// Builds planned variants (schema/plan.hpp plan_build()) by position. A variant is a function
// of its parent, its recipe and its ordinal alone: the whole build runs every position in
// order, a build job (compiler/build_jobs.cpp) runs a few whose parents come from the store.
class Runner {
 public:
  Runner(const Schema& s, const std::vector<PlannedVariant>& plan, Variant base, FeatureCache& cache, VariantStore& store,
         std::ostream& log, SweepResult& out)
      : s_(s), plan_(plan), cache_(cache), store_(store), log_(log), out_(out),
        table_(VariantTable::View::Progress, out.records.front(), id_width(plan), false, variant_count(plan)),
        vars_(plan.size() + 1), recs_(plan.size() + 1), shared_(plan.size() + 1, 0), state_(plan.size() + 1, State::Unknown),
        alias_(plan.size() + 1), last_use_(plan.size() + 1, 0) {
    for (size_t p = 0; p < alias_.size(); ++p) alias_[p] = p;
    log_ << table_.header();
    shared_[0] = base.net->layers().size();
    vars_[0] = std::make_unique<Variant>(std::move(base));
    recs_[0] = out.records.front();
    state_[0] = State::Built;
    built_ids_["base"] = 0;
    out_.peak_resident = 1;
  }

  // Builds the plan positions `todo` (ascending, 1-based).
  void build(const std::vector<size_t>& todo) {
    for (size_t q : todo) last_use_[plan_[q - 1].parent_pos] = q;
    for (size_t i = 0; i < todo.size(); ++i) {
      const size_t q = todo[i];
      build_one(q);
      // A decomposition is kept only while a later level of this run needs it (it may be large).
      if (svd_) {
        bool needed = false;
        for (size_t j = i + 1; j < todo.size() && !needed; ++j) {
          const PlannedVariant& later = plan_[todo[j] - 1];
          needed = later.recipe.pass == "svd" && !later.skip && later.parent_pos == svd_parent_ && later.recipe.layer == svd_->layer;
        }
        if (!needed) svd_.reset();
      }
      const size_t p = at(plan_[q - 1].parent_pos);
      if (p != 0 && last_use_[plan_[q - 1].parent_pos] == q) vars_[p].reset();
      if (state_[q] == State::Built && last_use_[q] <= q && alias_[q] == q) vars_[q].reset();
    }
  }

 private:
  enum class State { Unknown, Built, Skipped };

  static size_t variant_count(const std::vector<PlannedVariant>& plan) {
    size_t n = 0;
    for (const auto& v : plan) n += !v.skip;
    return n;
  }
  static size_t id_width(const std::vector<PlannedVariant>& plan) {
    size_t w = 0;
    for (const auto& v : plan)
      if (!v.skip) w = std::max(w, v.id.size());
    return w;
  }

  size_t at(size_t p) const { return alias_[p]; }

  // Makes position p's record known: built by this run, or finished earlier (store), or skipped.
  void resolve(size_t p, size_t needed_by) {
    if (state_[at(p)] != State::Unknown) return;
    const PlannedVariant& e = plan_[p - 1];
    if (const VariantRecord* r = store_.done(e.id)) {
      recs_[p] = *r;
      shared_[p] = store_.shared(r->id);
      state_[p] = State::Built;
      built_ids_[r->id] = p;
    } else if (store_.skipped(e.id)) {
      state_[p] = State::Skipped;
    } else {
      fail(ErrorClass::Usage, "variant " + e.id + " (plan position " + std::to_string(p) + ") is the parent of " +
                                  plan_[needed_by - 1].id + " but has not been built: build its job first");
    }
  }

  // Variant p, reloaded from the store when it is not in memory.
  const Variant& get(size_t p) {
    p = at(p);
    if (!vars_[p]) {
      vars_[p] = std::make_unique<Variant>(store_.load(*recs_[p]));
      note_resident();
    }
    return *vars_[p];
  }
  void note_resident() {
    size_t n = 0;
    for (const auto& v : vars_) n += v != nullptr;
    out_.peak_resident = std::max(out_.peak_resident, n);
  }

  void skip(size_t q, const std::string& note) {
    state_[q] = State::Skipped;
    out_.skipped.push_back(plan_[q - 1].id);
    if (note.empty()) return;
    out_.notes.push_back(note);
    out_.note_positions.push_back(q);
    log_ << "  note: " << note << "\n";
  }

  // The decomposition of `layer` in variant p, shared by every rank of that layer.
  const LayerSvd& svd_of(size_t p, size_t parent_pos, const std::string& layer, const std::string& where, Clock::duration* share) {
    if (!svd_ || svd_pos_ != p || svd_->layer != layer) {
      svd_.reset();
      auto t = Clock::now();
      svd_ = std::make_unique<LayerSvd>(layer_svd(get(p), layer));
      svd_time_ = Clock::now() - t;
      svd_pos_ = p;
      svd_parent_ = parent_pos;
      svd_users_ = 0;
      for (const auto& v : plan_)
        svd_users_ += at(v.parent_pos) == p && v.recipe.pass == "svd" && v.recipe.layer == layer && v.recipe.where == where;
    }
    *share = svd_time_ / std::max<size_t>(svd_users_, 1);
    return *svd_;
  }

  void build_one(size_t q) {
    const PlannedVariant& e = plan_[q - 1];
    const PlanRecipe& r = e.recipe;
    resolve(e.parent_pos, q);
    resolve(e.step_parent_pos, q);
    if (state_[at(e.parent_pos)] == State::Skipped) return skip(q, "");  // its parent was skipped: so is it
    const size_t parent = at(e.parent_pos);
    const std::string pid = recs_[at(e.step_parent_pos)]->id;
    if (!e.skip && !e.rank_from_weights) {
      // An earlier level built this very variant (an svd energy level chose this rank): it
      // stands for both, as when the pass runs and add() finds the id taken.
      if (auto it = built_ids_.find(e.id); it != built_ids_.end()) {
        alias_[q] = it->second;
        return;
      }
      if (const VariantRecord* done = store_.done(e.id)) return resumed(q, *done);
    }
    auto context = [&](const std::string& what) { return r.where + ": " + r.pass + " on " + pid + ": " + what; };
    // Every pass starts from a seeded RNG and a clock that includes the pass itself.
    auto begin = [&](const std::string& what) {
      seed_from(pid + "|" + r.pass + "|" + what, s_.training.seed);
      return Clock::now();
    };
    try {
      if (r.pass == "quantize") {
        auto t0 = begin(r.level);
        add(q, quantize_weights(get(parent), r.level, r.layers), t0);
      } else if (r.pass == "prune") {
        double sparsity;
        if (!parse_sparsity(r.level, &sparsity)) fail(ErrorClass::Schema, context("bad sparsity '" + r.level + "'"));
        auto t0 = begin(r.level);
        add(q, prune_magnitude(get(parent), r.layers, sparsity, r.global), t0);
      } else if (r.pass == "svd") {
        RankSpec rank;
        if (!parse_rank(r.level, &rank)) fail(ErrorClass::Schema, context("bad rank '" + r.level + "'"));
        std::string note;
        const LayerSvd* svd = nullptr;
        Clock::duration share{};
        if (!e.skip) svd = &svd_of(parent, e.parent_pos, r.layer, r.where, &share);  // a skipped rank needs no decomposition
        auto t0 = begin(r.layer + "|" + r.level) - share;
        auto c = factorize_svd(get(parent), r.layer, rank, &note, svd);
        if (c)
          add(q, std::move(*c), t0);
        else
          skip(q, pid + ": " + note);
      } else if (r.pass == "narrow") {
        KeepSpec ks;
        if (!parse_keep(r.level, &ks)) fail(ErrorClass::Schema, context("bad keep '" + r.level + "'"));
        if (r.layer.empty()) {  // every group that can be cut
          auto t0 = begin("all|" + r.level);
          auto c = narrow_all(get(parent), r.level);
          if (!c) return skip(q, pid + ": narrow all keep " + r.level + ": skipped, no group loses a channel");
          add(q, std::move(*c), t0);
          return;
        }
        const PlanState ps = plan_state(get(parent));
        const ChannelMap m = channel_map(ps.layers);
        const int64_t channels = m.groups[static_cast<size_t>(rule_narrow(ps, m, layer_index(get(parent), r.layer)))].channels;
        int64_t keep = keep_count(ks, channels);
        if (keep >= channels)
          return skip(q, pid + ": narrow " + r.layer + " keep " + r.level + ": skipped, it has only " + std::to_string(channels) + " outputs");
        auto t0 = begin(r.layer + "|" + r.level);
        add(q, narrow_layer(get(parent), r.layer, keep), t0);
      } else if (r.pass == "remove") {
        auto t0 = begin(r.layer);
        add(q, remove_layer(get(parent), r.layer), t0);
      }
    } catch (const Error& err) {
      if (err.cls() != ErrorClass::Schema) throw;
      std::string msg = err.what();
      // A nested step's error already says where (it starts with the schema's path).
      fail(ErrorClass::Schema, msg.rfind(s_.path + ":", 0) == 0 ? msg : context(msg));
    }
  }

  // A variant an earlier (interrupted) run finished: part of this run's catalog again.
  void resumed(size_t q, const VariantRecord& done) {
    VariantRecord r = done;
    store_.keep(r);
    log_ << table_.row(r, plan_[q - 1].ordinal, "(built before the interruption)") << std::flush;
    finish(q, r, store_.shared(r.id));
    ++out_.resumed;
  }

  void finish(size_t q, const VariantRecord& r, size_t shared) {
    recs_[q] = r;
    shared_[q] = shared;
    state_[q] = State::Built;
    built_ids_[r.id] = q;
    out_.records.push_back(r);
    out_.positions.push_back(q);
  }

  // Fine-tunes, profiles, stores and records position q's variant, whose pass started at t0.
  void add(size_t q, Variant child, Clock::time_point t0) {
    check_interrupted();
    const PlannedVariant& e = plan_[q - 1];
    const bool train = e.recipe.finetune;
    // A quantized variant that is fine-tuned has trained codebook centroids: say so in its name.
    if (train && e.recipe.pass == "quantize") child.transforms.back() += " ft";
    const std::string id = variant_id(child.transforms);
    if (auto it = built_ids_.find(id); it != built_ids_.end()) {
      // Two levels made the same variant (two svd energy levels that chose the same rank):
      // the first one stands for both.
      alias_[q] = it->second;
      return;
    }
    const size_t parent = at(e.parent_pos);
    child.id = id;
    child.parent = recs_[parent]->id;
    if (e.rank_from_weights)
      if (const VariantRecord* done = store_.done(id)) return resumed(q, *done);
    size_t shared = std::min(shared_[parent], child.first_changed);
    auto ft = finetune(child, shared, cache_, s_.catalog.finetune, train, static_cast<uint64_t>(s_.training.seed) + e.ordinal);
    VariantRecord r;
    r.id = id;
    r.parent = child.parent;
    r.transforms = child.transforms;
    r.file = id + ".h5";
    r.profile = profile_variant(child);
    r.accuracy = ft.accuracy_after;
    r.accuracy_before_finetune = train ? ft.accuracy_before : -1;
    r.validation_examples = cache_.raw_val().x.size(0);
    r.train_seconds = ft.seconds;
    r.epochs = train ? ft.epochs : 0;
    r.build_seconds = since(t0);
    store_.save(child, r, shared);
    log_ << table_.row(r, e.ordinal, ft.frozen ? "frozen " + std::to_string(ft.frozen) + " layers" : "") << std::flush;
    finish(q, r, shared);
    vars_[q] = std::make_unique<Variant>(std::move(child));
    note_resident();
  }

  const Schema& s_;
  const std::vector<PlannedVariant>& plan_;
  FeatureCache& cache_;
  VariantStore& store_;
  std::ostream& log_;
  SweepResult& out_;
  VariantTable table_;
  // Per plan position (0 = the base): the variant while resident, its record, how many leading
  // layers it shares with the base model, what became of it, the position it is the same
  // variant as, and the last position of this run that derives from it.
  std::vector<std::unique_ptr<Variant>> vars_;
  std::vector<std::optional<VariantRecord>> recs_;
  std::vector<size_t> shared_;
  std::vector<State> state_;
  std::vector<size_t> alias_;
  std::vector<size_t> last_use_;
  std::map<std::string, size_t> built_ids_;
  std::unique_ptr<LayerSvd> svd_;
  size_t svd_pos_ = 0, svd_parent_ = 0, svd_users_ = 0;
  Clock::duration svd_time_{};
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
                      VariantStore& store, std::ostream& log, const std::vector<size_t>* positions) {
  auto t0 = Clock::now();
  SweepResult out;
  out.records.push_back(base_record);
  out.positions.push_back(0);
  const std::vector<PlannedVariant> plan = plan_build(s);  // throws Error(Schema) at a chain the passes reject
  std::vector<size_t> todo;
  if (positions) {
    for (size_t p : *positions)
      if (p < 1 || p > plan.size()) fail(ErrorClass::Usage, "plan position " + std::to_string(p) + " is not in the plan (1.." + std::to_string(plan.size()) + ")");
    todo = *positions;
    std::sort(todo.begin(), todo.end());
  } else {
    for (size_t p = 1; p <= plan.size(); ++p) todo.push_back(p);
  }
  Runner run(s, plan, std::move(base), cache, store, log, out);
  run.build(todo);
  out.seconds = since(t0);
  out.cache_seconds = cache.seconds();
  return out;
}

}  // namespace mcdnn
