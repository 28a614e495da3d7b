// The device's model cache: loaded variants with their exact resident bytes, never more than
// the capacity, least recently used evicted first. (The MCDNN prototype kept a list of apps
// with no byte accounting; here the memory budget holds at every moment.)
#pragma once
#include <cstddef>
#include <cstdint>
#include <list>
#include <unordered_map>
#include <vector>

namespace mcdnn::rt {

struct CacheKey {
  int app = 0, variant = 0;
  bool operator==(const CacheKey& o) const { return app == o.app && variant == o.variant; }
};

class ModelCache {
 public:
  explicit ModelCache(int64_t capacity_bytes) : capacity_(capacity_bytes) {}

  bool contains(CacheKey k) const { return where_.count(pack(k)) != 0; }
  // Marks k as just used (it must be cached).
  void touch(CacheKey k);
  // Whether `bytes` can ever be cached.
  bool fits(int64_t bytes) const { return bytes <= capacity_; }
  // The entries insert(k, bytes) would evict, least recently used first, without changing anything.
  std::vector<CacheKey> victims(int64_t bytes) const;
  // Caches k (most recently used), evicting least recently used entries until it fits;
  // returns them. k must fit and not be cached.
  std::vector<CacheKey> insert(CacheKey k, int64_t bytes);
  void erase(CacheKey k);
  // Evicts least recently used entries for which keep(key) is false until `bytes` more fit (or
  // none is left to evict); returns them. The planner's residents stay: their bytes fit together.
  template <class Keep>
  std::vector<CacheKey> make_room(int64_t bytes, Keep keep) {
    std::vector<CacheKey> out;
    int64_t free = capacity_ - used_;
    for (auto it = order_.rbegin(); it != order_.rend() && free < bytes; ++it)
      if (!keep(it->key)) out.push_back(it->key), free += it->bytes;
    for (const CacheKey& k : out) erase(k);
    return out;
  }

  int64_t used() const { return used_; }
  int64_t capacity() const { return capacity_; }
  size_t size() const { return order_.size(); }
  // Entries, most recently used first.
  std::vector<CacheKey> entries() const;

 private:
  struct Entry {
    CacheKey key;
    int64_t bytes;
  };
  static uint64_t pack(CacheKey k) { return (static_cast<uint64_t>(static_cast<uint32_t>(k.app)) << 32) | static_cast<uint32_t>(k.variant); }
  int64_t capacity_, used_ = 0;
  std::list<Entry> order_;  // front: most recently used
  std::unordered_map<uint64_t, std::list<Entry>::iterator> where_;
};

}  // namespace mcdnn::rt
