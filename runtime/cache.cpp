#include "cache.hpp"

#include "util/error.hpp"

namespace mcdnn::rt {

void ModelCache::touch(CacheKey k) {
  auto it = where_.find(pack(k));
  if (it == where_.end()) fail(ErrorClass::Internal, "ModelCache::touch: not cached");
  order_.splice(order_.begin(), order_, it->second);
}

std::vector<CacheKey> ModelCache::victims(int64_t bytes) const {
  std::vector<CacheKey> v;
  int64_t free = capacity_ - used_;
  for (auto it = order_.rbegin(); it != order_.rend() && free < bytes; ++it) {
    v.push_back(it->key);
    free += it->bytes;
  }
  return v;
}

std::vector<CacheKey> ModelCache::insert(CacheKey k, int64_t bytes) {
  if (bytes > capacity_ || bytes < 0 || contains(k)) fail(ErrorClass::Internal, "ModelCache::insert: does not fit or already cached");
  std::vector<CacheKey> evicted = victims(bytes);
  for (const auto& e : evicted) erase(e);
  order_.push_front({k, bytes});
  where_[pack(k)] = order_.begin();
  used_ += bytes;
  return evicted;
}

void ModelCache::erase(CacheKey k) {
  auto it = where_.find(pack(k));
  if (it == where_.end()) return;
  used_ -= it->second->bytes;
  order_.erase(it->second);
  where_.erase(it);
}

std::vector<CacheKey> ModelCache::entries() const {
  std::vector<CacheKey> v;
  for (const auto& e : order_) v.push_back(e.key);
  return v;
}

}  // namespace mcdnn::rt
