// Labelled image data in memory, read from IDX (MNIST family, raw or .gz) or HDF5 files and
// checked against the schema. Torch-free: train/ turns it into tensors.
//
// Pixel convention: uint8 data is scaled to [0, 1] (x / 255); float32 data is taken as is.
// Normalization then maps each channel to (x - mean[c]) / std[c].
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "schema/schema.hpp"

namespace mcdnn {

struct Dataset {
  int64_t n = 0, c = 0, h = 0, w = 0;
  std::vector<float> images;   // n*c*h*w, NCHW
  std::vector<int64_t> labels; // n, in [0, num_classes) after relabel
  std::string source;          // file(s) it came from, for messages
  std::string label_source;    // where the labels came from (the labels file or dataset)
};

// Reads one source; checks magic, dimensions against `input`, truncation, count agreement and
// (float data) NaN/Inf. Reads at most `limit` examples when limit > 0. A file of the other
// format (an HDF5 file given as IDX, an IDX file as HDF5) is recognised by its signature and
// the error says how to give it (an HDF5 file's datasets listed).
Dataset read_source(const DataSource& src, const Shape& input, int64_t limit);

// The file's format from its first bytes: "hdf5" (the HDF5 signature at offset 0), "idx" (an
// IDX magic number), "gzip" (gzip-compressed: an IDX .gz), or "" (unknown or unreadable).
std::string sniff_format(const std::string& path);

// An HDF5 file's datasets as "/train/images (60000x28x28 uint8)", at most `max` of them
// (then "..."), comma-separated; "" when there are none or the file cannot be opened.
std::string hdf5_datasets(const std::string& path, size_t max = 12);

// Maps labels through `relabel` (when non-empty) and checks every label is in
// [0, num_classes); errors name the file and the example index.
void check_and_relabel(Dataset& d, const DataSpec& spec, int64_t num_classes);

// Per-channel mean and standard deviation over all pixels.
void channel_stats(const Dataset& d, std::vector<double>* mean, std::vector<double>* std);

// In place: x = (x - mean[c]) / std[c].
void normalize(Dataset& d, const std::vector<double>& mean, const std::vector<double>& std);

// Loads train and validation per the schema (limits, relabel, normalization). When the schema
// says `normalize: compute`, the statistics come from the training set and are written back to
// schema.data.normalize so the catalog records them.
void load_data(Schema& schema, Dataset* train, Dataset* validation);

}  // namespace mcdnn
