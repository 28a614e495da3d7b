#include "util/h5.hpp"

#include <stdexcept>

namespace mcdnn::h5 {

namespace {
[[noreturn]] void h5fail(const std::string& what) { throw std::runtime_error("HDF5: " + what); }

std::vector<hsize_t> dims_of(const std::vector<int64_t>& shape) {
  std::vector<hsize_t> d;
  for (auto s : shape) d.push_back(static_cast<hsize_t>(s));
  return d;
}

void write_any(hid_t parent, const std::string& name, const std::vector<int64_t>& shape, hid_t mem_type,
               hid_t file_type, const void* data) {
  auto dims = dims_of(shape);
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_obj_track_times(dcpl.id(), 0);  // no timestamps: the same content gives the same bytes
  Handle ds(H5Dcreate2(parent, name.c_str(), file_type, space.id(), H5P_DEFAULT, dcpl.id(), H5P_DEFAULT), H5Dclose);
  if (!ds.ok()) h5fail("cannot create dataset " + name);
  if (H5Dwrite(ds.id(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) h5fail("cannot write dataset " + name);
}

Handle open_attr(hid_t obj, const std::string& name) {
  Handle a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose);
  if (!a.ok()) h5fail("missing attribute " + name);
  return a;
}

template <class T>
void attr_array(hid_t obj, const std::string& name, hid_t mem, hid_t file, const std::vector<T>& v) {
  hsize_t n = v.size();
  Handle space(n == 0 ? H5Screate(H5S_NULL) : H5Screate_simple(1, &n, nullptr), H5Sclose);
  Handle a(H5Acreate2(obj, name.c_str(), file, space.id(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!a.ok() || (n > 0 && H5Awrite(a.id(), mem, v.data()) < 0)) h5fail("cannot write attribute " + name);
}

// An attribute must be numeric (integer or float class) to be read as a number; a string or
// compound attribute where a number belongs is an error, never a reinterpretation.
void require_numeric(hid_t a, const std::string& name) {
  Handle type(H5Aget_type(a), H5Tclose);
  H5T_class_t c = H5Tget_class(type.id());
  if (c != H5T_INTEGER && c != H5T_FLOAT) h5fail("attribute " + name + " is not numeric");
}

hssize_t attr_points(hid_t a, const std::string& name) {
  Handle space(H5Aget_space(a), H5Sclose);
  if (!space.ok()) h5fail("attribute " + name + " has no dataspace");
  if (H5Sget_simple_extent_type(space.id()) == H5S_NULL) return 0;
  hssize_t n = H5Sget_simple_extent_npoints(space.id());
  if (n < 0 || n > (1 << 20)) h5fail("attribute " + name + " has an implausible size");
  return n;
}

template <class T>
std::vector<T> read_attr_array(hid_t obj, const std::string& name, hid_t mem) {
  auto a = open_attr(obj, name);
  hssize_t n = attr_points(a.id(), name);
  if (n > 0) require_numeric(a.id(), name);
  std::vector<T> v(n > 0 ? static_cast<size_t>(n) : 0);
  if (n > 0 && H5Aread(a.id(), mem, v.data()) < 0) h5fail("cannot read attribute " + name);
  return v;
}
}  // namespace

void quiet() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

Handle create_file(const std::string& path) {
  Handle fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
  H5Pset_obj_track_times(fcpl.id(), 0);
  Handle f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.id(), H5P_DEFAULT), H5Fclose);
  if (!f.ok()) h5fail("cannot create " + path);
  return f;
}

Handle open_file(const std::string& path) {
  quiet();
  return Handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
}

Handle create_group(hid_t parent, const std::string& name) {
  Handle gcpl(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
  H5Pset_obj_track_times(gcpl.id(), 0);
  Handle g(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, gcpl.id(), H5P_DEFAULT), H5Gclose);
  if (!g.ok()) h5fail("cannot create group " + name);
  return g;
}

Handle open_group(hid_t parent, const std::string& name) {
  return Handle(H5Gopen2(parent, name.c_str(), H5P_DEFAULT), H5Gclose);
}

void write_f32(hid_t parent, const std::string& name, const std::vector<int64_t>& shape, const float* data) {
  write_any(parent, name, shape, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, data);
}

void write_i64(hid_t parent, const std::string& name, const std::vector<int64_t>& shape, const int64_t* data) {
  write_any(parent, name, shape, H5T_NATIVE_INT64, H5T_STD_I64LE, data);
}

void write_typed(hid_t parent, const std::string& name, const std::vector<int64_t>& shape, hid_t mem_type,
                 hid_t file_type, const void* data) {
  write_any(parent, name, shape, mem_type, file_type, data);
}

std::vector<uint8_t> read_raw(hid_t parent, const std::string& name, H5T_class_t* cls, size_t* size, bool* is_signed,
                              int64_t max_bytes) {
  Handle ds(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!ds.ok()) h5fail("missing dataset " + name);
  Handle type(H5Dget_type(ds.id()), H5Tclose);
  *cls = H5Tget_class(type.id());
  *size = H5Tget_size(type.id());
  *is_signed = *cls == H5T_INTEGER && H5Tget_sign(type.id()) == H5T_SGN_2;
  Handle space(H5Dget_space(ds.id()), H5Sclose);
  hssize_t n = H5Sget_simple_extent_npoints(space.id());
  if (n < 0 || *size == 0 || *size > 8 || static_cast<double>(n) * static_cast<double>(*size) > static_cast<double>(max_bytes))
    h5fail("dataset " + name + " claims more data than the file holds");
  std::vector<uint8_t> buf(static_cast<size_t>(n) * *size);
  hid_t mem = -1;
  if (*cls == H5T_FLOAT && *size == 4) mem = H5T_NATIVE_FLOAT;
  else if (*cls == H5T_INTEGER && *size == 1) mem = *is_signed ? H5T_NATIVE_INT8 : H5T_NATIVE_UINT8;
  else if (*cls == H5T_INTEGER && *size == 2) mem = *is_signed ? H5T_NATIVE_INT16 : H5T_NATIVE_UINT16;
  else if (*cls == H5T_INTEGER && *size == 4) mem = *is_signed ? H5T_NATIVE_INT32 : H5T_NATIVE_UINT32;
  else h5fail("dataset " + name + " has an unsupported element type");
  if (n > 0 && H5Dread(ds.id(), mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0) h5fail("cannot read dataset " + name);
  return buf;
}

std::vector<int64_t> dataset_shape(hid_t parent, const std::string& name) {
  Handle ds(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!ds.ok()) h5fail("missing dataset " + name);
  Handle space(H5Dget_space(ds.id()), H5Sclose);
  int rank = H5Sget_simple_extent_ndims(space.id());
  std::vector<hsize_t> dims(rank > 0 ? rank : 0);
  if (rank > 0) H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr);
  return std::vector<int64_t>(dims.begin(), dims.end());
}

std::vector<float> read_f32(hid_t parent, const std::string& name, std::vector<int64_t>* shape) {
  *shape = dataset_shape(parent, name);
  int64_t n = 1;
  for (auto d : *shape) n *= d;
  std::vector<float> v(static_cast<size_t>(n));
  Handle ds(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (n > 0 && H5Dread(ds.id(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0)
    h5fail("cannot read dataset " + name);
  return v;
}

void attr(hid_t obj, const std::string& name, const std::string& value) {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.id(), value.empty() ? 1 : value.size());
  H5Tset_strpad(type.id(), H5T_STR_NULLPAD);
  H5Tset_cset(type.id(), H5T_CSET_UTF8);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle a(H5Acreate2(obj, name.c_str(), type.id(), space.id(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  std::string v = value.empty() ? std::string(1, '\0') : value;
  if (!a.ok() || H5Awrite(a.id(), type.id(), v.data()) < 0) h5fail("cannot write attribute " + name);
}

void attr(hid_t obj, const std::string& name, int64_t value) {
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle a(H5Acreate2(obj, name.c_str(), H5T_STD_I64LE, space.id(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!a.ok() || H5Awrite(a.id(), H5T_NATIVE_INT64, &value) < 0) h5fail("cannot write attribute " + name);
}

void attr(hid_t obj, const std::string& name, double value) {
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle a(H5Acreate2(obj, name.c_str(), H5T_IEEE_F64LE, space.id(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!a.ok() || H5Awrite(a.id(), H5T_NATIVE_DOUBLE, &value) < 0) h5fail("cannot write attribute " + name);
}

void attr(hid_t obj, const std::string& name, const std::vector<int64_t>& value) {
  attr_array(obj, name, H5T_NATIVE_INT64, H5T_STD_I64LE, value);
}

void attr(hid_t obj, const std::string& name, const std::vector<double>& value) {
  attr_array(obj, name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, value);
}

bool has_attr(hid_t obj, const std::string& name) { return H5Aexists(obj, name.c_str()) > 0; }

std::string attr_str(hid_t obj, const std::string& name) {
  auto a = open_attr(obj, name);
  Handle type(H5Aget_type(a.id()), H5Tclose);
  if (H5Tget_class(type.id()) != H5T_STRING || H5Tis_variable_str(type.id()) > 0)
    h5fail("attribute " + name + " is not a fixed-length string");
  size_t n = H5Tget_size(type.id());
  if (n == 0 || n > (1 << 24) || attr_points(a.id(), name) != 1) h5fail("attribute " + name + " is not a single string");
  std::string s(n, '\0');
  if (H5Aread(a.id(), type.id(), s.data()) < 0) h5fail("cannot read attribute " + name);
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

int64_t attr_i64(hid_t obj, const std::string& name) {
  auto a = open_attr(obj, name);
  if (attr_points(a.id(), name) != 1) h5fail("attribute " + name + " is not a single value");
  require_numeric(a.id(), name);
  int64_t v = 0;
  if (H5Aread(a.id(), H5T_NATIVE_INT64, &v) < 0) h5fail("cannot read attribute " + name);
  return v;
}

double attr_f64(hid_t obj, const std::string& name) {
  auto a = open_attr(obj, name);
  if (attr_points(a.id(), name) != 1) h5fail("attribute " + name + " is not a single value");
  require_numeric(a.id(), name);
  double v = 0;
  if (H5Aread(a.id(), H5T_NATIVE_DOUBLE, &v) < 0) h5fail("cannot read attribute " + name);
  return v;
}

std::vector<int64_t> attr_i64s(hid_t obj, const std::string& name) {
  return read_attr_array<int64_t>(obj, name, H5T_NATIVE_INT64);
}

std::vector<double> attr_f64s(hid_t obj, const std::string& name) {
  return read_attr_array<double>(obj, name, H5T_NATIVE_DOUBLE);
}

bool is_group(hid_t parent, const std::string& name) {
  H5O_info_t info;
#if H5_VERSION_GE(1, 12, 0)
  if (H5Oget_info_by_name3(parent, name.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return false;
#else
  if (H5Oget_info_by_name(parent, name.c_str(), &info, H5P_DEFAULT) < 0) return false;
#endif
  return info.type == H5O_TYPE_GROUP;
}

std::vector<std::string> children(hid_t group) {
  std::vector<std::string> names;
  H5Literate(
      group, H5_INDEX_NAME, H5_ITER_INC, nullptr,
      [](hid_t, const char* name, const H5L_info_t*, void* op) -> herr_t {
        static_cast<std::vector<std::string>*>(op)->push_back(name);
        return 0;
      },
      &names);
  return names;
}

}  // namespace mcdnn::h5
