#include "nn/storage.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace mcdnn {

const char* blob_type_name(BlobType t) {
  switch (t) {
    case BlobType::F32: return "float32";
    case BlobType::U8: return "uint8";
    case BlobType::I8: return "int8";
    case BlobType::U16: return "uint16";
    case BlobType::U32: return "uint32";
  }
  return "?";
}

int blob_type_size(BlobType t) {
  switch (t) {
    case BlobType::F32:
    case BlobType::U32: return 4;
    case BlobType::U16: return 2;
    default: return 1;
  }
}

int64_t EncodedTensor::bytes() const {
  int64_t n = 0;
  for (const auto& b : blobs) n += static_cast<int64_t>(b.data.size());
  return n;
}

const char* storage_names() { return "f32, f16, int8, cb8, cb4, cb2"; }

bool valid_storage(const std::string& s) {
  return s == "f32" || s == "f16" || s == "int8" || s == "cb8" || s == "cb4" || s == "cb2";
}

int codebook_bits(const std::string& s) {
  if (s == "cb8") return 8;
  if (s == "cb4") return 4;
  if (s == "cb2") return 2;
  return 0;
}

uint16_t f32_to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u, mant = x & 0x7fffffu;
  int32_t exp = static_cast<int32_t>((x >> 23) & 0xffu);
  if (exp == 0xff) return static_cast<uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0u));
  int32_t e = exp - 127 + 15;
  if (e >= 0x1f) return static_cast<uint16_t>(sign | 0x7c00u);
  if (e <= 0) {  // half subnormal (or zero): value = m * 2^-24
    if (e < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000u;
    uint32_t shift = static_cast<uint32_t>(14 - e);
    uint32_t m = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (m & 1u))) ++m;
    return static_cast<uint16_t>(sign | m);
  }
  uint32_t h = sign | (static_cast<uint32_t>(e) << 10) | (mant >> 13), rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // a carry into the exponent is correct
  return static_cast<uint16_t>(h);
}

float f16_to_f32(uint16_t h) {
  uint32_t sign = (static_cast<uint32_t>(h) & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0) {
    float f = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -f : f;
  }
  uint32_t x = exp == 31 ? (sign | 0x7f800000u | (mant << 13)) : (sign | ((exp + 112) << 23) | (mant << 13));
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

namespace {
// Ascending sort of floats (no NaN) by LSD radix on their bits, 11 bits per pass: 3 linear passes
// instead of comparison sorting (29 M weights: 0.4 s instead of 3 s). Negative floats have
// every bit flipped, positive ones the sign bit, so unsigned order is float order.
std::vector<float> radix_sorted(const std::vector<float>& v) {
  const size_t n = v.size();
  std::vector<uint32_t> a(n), b(n);
  for (size_t i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, &v[i], 4);
    a[i] = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  }
  for (int shift = 0; shift < 32; shift += 11) {
    std::vector<size_t> count(2049, 0);
    for (uint32_t u : a) ++count[((u >> shift) & 2047u) + 1];
    for (size_t i = 1; i < count.size(); ++i) count[i] += count[i - 1];
    for (uint32_t u : a) b[count[(u >> shift) & 2047u]++] = u;
    std::swap(a, b);
  }
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) {
    const uint32_t u = (a[i] & 0x80000000u) ? (a[i] & 0x7fffffffu) : ~a[i];
    std::memcpy(&out[i], &u, 4);
  }
  return out;
}
}  // namespace

std::vector<float> kmeans_1d(const std::vector<float>& v, int k, int iters) {
  std::vector<float> c(static_cast<size_t>(std::max(k, 1)), 0.f);
  if (v.empty()) return c;
  auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  for (int i = 0; i < k; ++i) c[i] = k == 1 ? 0.5f * (*lo + *hi) : *lo + (*hi - *lo) * static_cast<float>(i) / (k - 1);
  const std::vector<float> sorted = radix_sorted(v);
  // With sorted values and sorted centroids each cluster is a contiguous range split at the
  // midpoints, so one Lloyd iteration is k binary searches and k differences of prefix sums
  // (O(k log n), not O(n)): 29 M weights cost one sort, then microseconds per iteration.
  std::vector<double> prefix(sorted.size() + 1, 0.0);
  for (size_t i = 0; i < sorted.size(); ++i) prefix[i + 1] = prefix[i] + sorted[i];
  for (int it = 0; it < iters; ++it) {
    bool moved = false;
    size_t begin = 0;
    for (size_t i = 0; i < c.size(); ++i) {
      // Cluster i holds the values x with x <= midpoint(c[i], c[i+1]) not taken by cluster i-1.
      size_t end = sorted.size();
      if (i + 1 < c.size()) {
        const float mid = 0.5f * (c[i] + c[i + 1]);
        end = static_cast<size_t>(std::upper_bound(sorted.begin() + static_cast<long>(begin), sorted.end(), mid) - sorted.begin());
      }
      if (end > begin) {
        const float nc = static_cast<float>((prefix[end] - prefix[begin]) / static_cast<double>(end - begin));
        moved = moved || nc != c[i];
        c[i] = nc;
      }
      begin = end;
    }
    std::sort(c.begin(), c.end());
    if (!moved) break;
  }
  return c;
}

namespace {

template <class T>
void put(Blob& b, T v) {
  uint8_t buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  b.data.insert(b.data.end(), buf, buf + sizeof(T));
}

template <class T>
T get(const Blob& b, int64_t i) {
  T v;
  std::memcpy(&v, b.data.data() + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
  return v;
}

const Blob& find(const EncodedTensor& e, const char* name) {
  for (const auto& b : e.blobs)
    if (b.name == name) return b;
  throw std::runtime_error(std::string("encoded tensor has no '") + name + "' blob");
}

// Index of the nearest centroid (c sorted).
// Index of the centroid nearest to x among c[first..] (sorted); ties go to the lower one.
uint32_t nearest(const std::vector<float>& c, float x, size_t first) {
  auto it = std::lower_bound(c.begin() + static_cast<long>(first), c.end(), x);
  size_t j = static_cast<size_t>(it - c.begin());
  if (j == c.size()) return static_cast<uint32_t>(j - 1);
  if (j > first && std::fabs(c[j - 1] - x) <= std::fabs(c[j] - x)) --j;
  return static_cast<uint32_t>(j);
}

}  // namespace

EncodedTensor encode_tensor(const float* w, const std::vector<int64_t>& shape, const std::string& storage, bool sparse) {
  if (!valid_storage(storage)) throw std::invalid_argument("unknown storage '" + storage + "'");
  EncodedTensor e;
  e.storage = storage;
  e.sparse = sparse;
  e.shape = shape;
  int64_t numel = 1;
  for (auto d : shape) numel *= d;
  const int64_t rows = shape.empty() ? 1 : shape[0];
  const int64_t cols = rows > 0 ? numel / rows : 0;

  // 1. The entry sequence: (row of each entry, value); sparse adds gaps and fillers.
  std::vector<float> vals;
  std::vector<int64_t> entry_row;
  if (!sparse) {
    vals.assign(w, w + numel);
    entry_row.resize(static_cast<size_t>(numel));
    for (int64_t i = 0; i < numel; ++i) entry_row[static_cast<size_t>(i)] = cols > 0 ? i / cols : 0;
  } else {
    Blob gaps{"gaps", BlobType::U8, {}};
    std::vector<int64_t> counts(static_cast<size_t>(rows), 0);
    for (int64_t r = 0; r < rows; ++r) {
      int64_t last = -1;
      for (int64_t c = 0; c < cols; ++c) {
        float x = w[r * cols + c];
        if (x == 0.0f) continue;
        int64_t gap = c - last - 1;
        while (gap > 255) {  // filler: value 0 at column last + 256
          gaps.data.push_back(255);
          vals.push_back(0.0f);
          entry_row.push_back(r);
          ++counts[static_cast<size_t>(r)];
          last += 256;
          gap -= 256;
        }
        gaps.data.push_back(static_cast<uint8_t>(gap));
        vals.push_back(x);
        entry_row.push_back(r);
        ++counts[static_cast<size_t>(r)];
        last = c;
      }
    }
    int64_t maxc = counts.empty() ? 0 : *std::max_element(counts.begin(), counts.end());
    Blob rc{"row_counts", maxc < 65536 ? BlobType::U16 : BlobType::U32, {}};
    for (auto n : counts) {
      if (rc.type == BlobType::U16) put<uint16_t>(rc, static_cast<uint16_t>(n));
      else put<uint32_t>(rc, static_cast<uint32_t>(n));
    }
    e.blobs.push_back(std::move(rc));
    e.blobs.push_back(std::move(gaps));
  }
  e.entries = static_cast<int64_t>(vals.size());

  // 2. The values in the storage format.
  if (storage == "f32") {
    Blob b{"values", BlobType::F32, {}};
    for (float x : vals) put<float>(b, x);
    e.blobs.push_back(std::move(b));
  } else if (storage == "f16") {
    Blob b{"values", BlobType::U16, {}};
    for (float x : vals) put<uint16_t>(b, f32_to_f16(x));
    e.blobs.push_back(std::move(b));
  } else if (storage == "int8") {
    std::vector<float> scale(static_cast<size_t>(rows), 0.0f);
    for (size_t i = 0; i < vals.size(); ++i) {
      float& s = scale[static_cast<size_t>(entry_row[i])];
      s = std::max(s, std::fabs(vals[i]));
    }
    for (auto& s : scale) s = s / 127.0f;
    Blob q{"values", BlobType::I8, {}}, sc{"scale", BlobType::F32, {}};
    for (size_t i = 0; i < vals.size(); ++i) {
      float s = scale[static_cast<size_t>(entry_row[i])];
      long v = s > 0 ? std::lround(vals[i] / s) : 0;
      q.data.push_back(static_cast<uint8_t>(static_cast<int8_t>(std::clamp<long>(v, -127, 127))));
    }
    for (float s : scale) put<float>(sc, s);
    e.blobs.push_back(std::move(q));
    e.blobs.push_back(std::move(sc));
  } else {
    const int bits = codebook_bits(storage);
    const int k = 1 << bits;
    // Sparse: code 0 is the value 0 (fillers); the nonzeros share the other 2^B - 1 codes.
    std::vector<float> nz;
    for (float x : vals)
      if (!sparse || x != 0.0f) nz.push_back(x);
    // Values that already fit the codebook are kept exactly (re-encoding is then lossless).
    std::vector<float> cb(nz);
    std::sort(cb.begin(), cb.end());
    cb.erase(std::unique(cb.begin(), cb.end()), cb.end());
    if (static_cast<int>(cb.size()) > (sparse ? k - 1 : k)) {
      cb = kmeans_1d(nz, sparse ? k - 1 : k);
      cb.erase(std::unique(cb.begin(), cb.end()), cb.end());  // collapsed clusters
    }
    if (sparse) cb.insert(cb.begin(), 0.0f);
    Blob book{"codebook", BlobType::F32, {}}, codes{"codes", BlobType::U8, {}};
    for (float c : cb) put<float>(book, c);
    codes.data.assign(static_cast<size_t>((e.entries * bits + 7) / 8), 0);
    for (int64_t i = 0; i < e.entries; ++i) {
      float x = vals[static_cast<size_t>(i)];
      uint32_t code = (sparse && x == 0.0f) ? 0u : nearest(cb, x, sparse ? 1 : 0);
      int64_t bit = i * bits;
      codes.data[static_cast<size_t>(bit / 8)] |= static_cast<uint8_t>(code << (bit % 8));
    }
    e.blobs.push_back(std::move(book));
    e.blobs.push_back(std::move(codes));
  }
  return e;
}

std::string check_encoding(const EncodedTensor& e) {
  if (!valid_storage(e.storage)) return "unknown storage '" + e.storage + "' (expected one of " + storage_names() + ")";
  constexpr int64_t kMaxElements = int64_t(1) << 36;
  int64_t numel = 1;
  for (auto d : e.shape) {
    if (d < 1 || d > kMaxElements) return "dimension " + std::to_string(d) + " out of range";
    numel *= d;
    if (numel > kMaxElements) return "more than 2^36 elements";
  }
  const int64_t rows = e.shape.empty() ? 1 : e.shape[0];
  const int64_t cols = numel / rows;
  if (e.entries < 0 || (!e.sparse && e.entries != numel) || e.entries > (e.sparse ? numel + numel / 256 + rows : numel))
    return "entries " + std::to_string(e.entries) + " impossible for " + std::to_string(numel) + (e.sparse ? " sparse" : "") +
           " elements";
  const int bits = codebook_bits(e.storage);
  struct Need {
    const char* name;
    std::vector<BlobType> types;
    int64_t count;  // elements; for codes: bytes
  };
  std::vector<Need> need;
  if (e.storage == "f32") need.push_back({"values", {BlobType::F32}, e.entries});
  if (e.storage == "f16") need.push_back({"values", {BlobType::U16}, e.entries});
  if (e.storage == "int8") {
    need.push_back({"values", {BlobType::I8}, e.entries});
    need.push_back({"scale", {BlobType::F32}, rows});
  }
  if (bits) {
    need.push_back({"codebook", {BlobType::F32}, -1});
    need.push_back({"codes", {BlobType::U8}, (e.entries * bits + 7) / 8});
  }
  if (e.sparse) {
    need.push_back({"row_counts", {BlobType::U16, BlobType::U32}, rows});
    need.push_back({"gaps", {BlobType::U8}, e.entries});
  }
  for (const auto& b : e.blobs) {
    bool known = false;
    for (const auto& n : need) known = known || b.name == n.name;
    if (!known) return "unexpected blob '" + b.name + "' for " + (e.sparse ? "sparse " : "") + e.storage + " storage";
  }
  for (const auto& n : need) {
    const Blob* b = nullptr;
    int found = 0;
    for (const auto& x : e.blobs)
      if (x.name == n.name) b = &x, ++found;
    if (found != 1) return std::string(found ? "duplicate" : "missing") + " blob '" + n.name + "'";
    bool type_ok = false;
    for (auto t : n.types) type_ok = type_ok || b->type == t;
    if (!type_ok) return std::string("blob '") + n.name + "' has element type " + blob_type_name(b->type);
    if (b->data.size() % static_cast<size_t>(blob_type_size(b->type)) != 0)
      return std::string("blob '") + n.name + "' is not a whole number of elements";
    int64_t count = n.name == std::string("codes") ? static_cast<int64_t>(b->data.size()) : b->count();
    if (n.count >= 0 && count != n.count)
      return std::string("blob '") + n.name + "' has " + std::to_string(count) + (n.name == std::string("codes") ? " bytes" : " elements") +
             ", expected " + std::to_string(n.count);
    if (n.count < 0 && (count < 1 || count > (int64_t(1) << bits)))
      return "codebook of " + std::to_string(count) + " entries for " + std::to_string(bits) + "-bit codes";
    if (b->type == BlobType::F32)
      for (int64_t i = 0; i < b->count(); ++i)
        if (!std::isfinite(get<float>(*b, i))) return std::string("blob '") + n.name + "' holds a non-finite value at " + std::to_string(i);
    if (n.name == std::string("values") && b->type == BlobType::U16)
      for (int64_t i = 0; i < b->count(); ++i)
        if ((get<uint16_t>(*b, i) & 0x7c00u) == 0x7c00u) return "f16 values hold a non-finite value at " + std::to_string(i);
  }
  if (bits) {
    const Blob& book = find(e, "codebook");
    const Blob& codes = find(e, "codes");
    const uint32_t size = static_cast<uint32_t>(book.count());
    for (int64_t i = 0; i < e.entries; ++i) {
      int64_t bit = i * bits;
      uint32_t code = (codes.data[static_cast<size_t>(bit / 8)] >> (bit % 8)) & ((1u << bits) - 1);
      if (code >= size)
        return "code " + std::to_string(code) + " of entry " + std::to_string(i) + " outside the " + std::to_string(size) + "-entry codebook";
    }
  }
  if (e.sparse) {
    const Blob& rc = find(e, "row_counts");
    const Blob& gaps = find(e, "gaps");
    int64_t i = 0;
    for (int64_t r = 0; r < rows; ++r) {
      int64_t n = rc.type == BlobType::U16 ? get<uint16_t>(rc, r) : get<uint32_t>(rc, r);
      if (n > e.entries - i) return "row_counts sum past the " + std::to_string(e.entries) + " entries (row " + std::to_string(r) + ")";
      int64_t col = -1;
      for (int64_t k = 0; k < n; ++k, ++i) {
        col += 1 + gaps.data[static_cast<size_t>(i)];
        if (col >= cols)
          return "entry " + std::to_string(i) + " of row " + std::to_string(r) + " lands at column " + std::to_string(col) +
                 ", past the row's " + std::to_string(cols) + " columns";
      }
    }
    if (i != e.entries) return "row_counts sum to " + std::to_string(i) + ", not the " + std::to_string(e.entries) + " entries";
  }
  return "";
}

std::vector<float> decode_tensor(const EncodedTensor& e) {
  if (std::string why = check_encoding(e); !why.empty()) throw std::invalid_argument(why);
  int64_t numel = 1;
  for (auto d : e.shape) numel *= d;
  const int64_t rows = e.shape.empty() ? 1 : e.shape[0];
  const int64_t cols = rows > 0 ? numel / rows : 0;

  // Values of the entries, in order.
  std::vector<float> vals(static_cast<size_t>(e.entries));
  std::vector<int64_t> counts;
  if (e.sparse) {
    const Blob& rc = find(e, "row_counts");
    for (int64_t r = 0; r < rows; ++r)
      counts.push_back(rc.type == BlobType::U16 ? get<uint16_t>(rc, r) : get<uint32_t>(rc, r));
  }
  auto row_of = [&](int64_t i, int64_t* cursor_row, int64_t* left) {
    if (!e.sparse) return cols > 0 ? i / cols : 0;
    while (*left == 0) *left = counts[static_cast<size_t>(++*cursor_row)];
    --*left;
    return *cursor_row;
  };
  if (e.storage == "f32") {
    const Blob& b = find(e, "values");
    for (int64_t i = 0; i < e.entries; ++i) vals[static_cast<size_t>(i)] = get<float>(b, i);
  } else if (e.storage == "f16") {
    const Blob& b = find(e, "values");
    for (int64_t i = 0; i < e.entries; ++i) vals[static_cast<size_t>(i)] = f16_to_f32(get<uint16_t>(b, i));
  } else if (e.storage == "int8") {
    const Blob &q = find(e, "values"), &sc = find(e, "scale");
    int64_t row = -1, left = 0;
    for (int64_t i = 0; i < e.entries; ++i) {
      int64_t r = row_of(i, &row, &left);
      vals[static_cast<size_t>(i)] = static_cast<float>(get<int8_t>(q, i)) * get<float>(sc, r);
    }
  } else {
    const int bits = codebook_bits(e.storage);
    const Blob &book = find(e, "codebook"), &codes = find(e, "codes");
    for (int64_t i = 0; i < e.entries; ++i) {
      int64_t bit = i * bits;
      uint32_t code = (codes.data[static_cast<size_t>(bit / 8)] >> (bit % 8)) & ((1u << bits) - 1);
      vals[static_cast<size_t>(i)] = get<float>(book, code);
    }
  }
  if (!e.sparse) return vals;

  std::vector<float> w(static_cast<size_t>(numel), 0.0f);
  const Blob& gaps = find(e, "gaps");
  int64_t i = 0;
  for (int64_t r = 0; r < rows; ++r) {
    int64_t col = -1;
    for (int64_t n = 0; n < counts[static_cast<size_t>(r)]; ++n, ++i) {
      col += 1 + gaps.data[static_cast<size_t>(i)];
      if (vals[static_cast<size_t>(i)] != 0.0f) w[static_cast<size_t>(r * cols + col)] = vals[static_cast<size_t>(i)];
    }
  }
  return w;
}

}  // namespace mcdnn
