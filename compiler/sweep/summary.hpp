// The end-of-run table of a catalog build: one row per variant with accuracy, stored bytes,
// effective FLOPs, measured latency and energy (when measured), front and knee marks.
#pragma once
#include <string>
#include <vector>

#include "catalog/catalog_index.hpp"

namespace mcdnn {

std::string format_summary(const std::vector<VariantRecord>& records);

}  // namespace mcdnn
