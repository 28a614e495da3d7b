// Thin RAII over the HDF5 C API: just what the data reader and the catalog need.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace mcdnn::h5 {

// Owns an hid_t and closes it with the matching H5*close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer c) : id_(id), close_(c) {}
  Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept {
    reset();
    id_ = o.id_;
    close_ = o.close_;
    o.id_ = -1;
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }
  void reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = -1;
  }
  // Closes now and returns H5*close's status (a file's close flushes it: a full disk shows here).
  herr_t release() {
    const herr_t r = id_ >= 0 && close_ ? close_(id_) : 0;
    id_ = -1;
    return r;
  }
  hid_t id() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
  Closer close_ = nullptr;
};

// Silences HDF5's own stderr error stack; mcdnn reports errors itself.
void quiet();

Handle create_file(const std::string& path);  // truncates
Handle open_file(const std::string& path);     // read-only; !ok() on failure
Handle create_group(hid_t parent, const std::string& name);
Handle open_group(hid_t parent, const std::string& name);

// Datasets: contiguous, row-major.
void write_f32(hid_t parent, const std::string& name, const std::vector<int64_t>& shape, const float* data);
void write_i64(hid_t parent, const std::string& name, const std::vector<int64_t>& shape, const int64_t* data);
// Any element type: mem/file types from the HDF5 predefined set.
void write_typed(hid_t parent, const std::string& name, const std::vector<int64_t>& shape, hid_t mem_type,
                 hid_t file_type, const void* data);
// Reads a 1-D integer or float dataset as raw little-endian bytes of its own type; *cls is
// H5T_INTEGER or H5T_FLOAT, *size the element size, *is_signed for integers. A dataset whose
// dataspace claims more than `max_bytes` (e.g. the file's size, for uncompressed data) is an
// error before anything is allocated.
std::vector<uint8_t> read_raw(hid_t parent, const std::string& name, H5T_class_t* cls, size_t* size, bool* is_signed,
                              int64_t max_bytes);
std::vector<int64_t> dataset_shape(hid_t parent, const std::string& name);
std::vector<float> read_f32(hid_t parent, const std::string& name, std::vector<int64_t>* shape);

// Attributes (scalars, strings, 1-D int64/double arrays). Readers check the attribute's class
// and size first: a damaged or edited attribute is an error (std::runtime_error), not a crash.
void attr(hid_t obj, const std::string& name, const std::string& value);
void attr(hid_t obj, const std::string& name, int64_t value);
void attr(hid_t obj, const std::string& name, double value);
void attr(hid_t obj, const std::string& name, const std::vector<int64_t>& value);
void attr(hid_t obj, const std::string& name, const std::vector<double>& value);
bool has_attr(hid_t obj, const std::string& name);
std::string attr_str(hid_t obj, const std::string& name);
int64_t attr_i64(hid_t obj, const std::string& name);
double attr_f64(hid_t obj, const std::string& name);
std::vector<int64_t> attr_i64s(hid_t obj, const std::string& name);
std::vector<double> attr_f64s(hid_t obj, const std::string& name);

// Whether the child `name` of `parent` is a group (else a dataset or other object).
bool is_group(hid_t parent, const std::string& name);

// Names of the direct children of a group, in name order.
std::vector<std::string> children(hid_t group);

}  // namespace mcdnn::h5
