// The sweep's VariantStore on a build directory: each finished variant is written to
// DIR.partial and committed to the checkpoint; a dropped or resumed variant is read back from
// its file (catalog/output_dir.hpp, sweep/sweep.hpp).
#pragma once
#include "catalog/catalog.hpp"
#include "sweep/sweep.hpp"

namespace mcdnn {

class CheckpointStore : public VariantStore {
 public:
  CheckpointStore(BuildDir& dir, const Schema& s) : dir_(dir), s_(s), info_(input_info(s)) {}
  const VariantRecord* done(const std::string& id) const override { return dir_.done(id); }
  void keep(VariantRecord& rec) override { dir_.commit(rec, *dir_.entry(rec.id), s_); }
  void save(const Variant& v, VariantRecord& rec, size_t shared) override {
    write_variant(dir_.file(rec.file), rec, info_, v);
    dir_.commit(rec, CheckpointEntry{shared, unmasked_zeros(v)}, s_);
  }
  size_t shared(const std::string& id) const override {
    const CheckpointEntry* e = dir_.entry(id);
    return e ? e->shared : 0;
  }
  Variant load(const VariantRecord& rec) override {
    const CheckpointEntry* e = dir_.entry(rec.id);
    return variant_from_file(read_variant_file(dir_.file(rec.file)), e ? e->unmasked_zeros : std::map<std::string, std::vector<int64_t>>{});
  }

 private:
  BuildDir& dir_;
  const Schema& s_;
  InputInfo info_;
};

}  // namespace mcdnn
