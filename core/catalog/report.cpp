#include "catalog/report.hpp"

#include <zlib.h>

#include <cstdint>

#include "util/error.hpp"

namespace mcdnn {

extern const char* const kReportTemplate;  // report_template.cpp, generated from report_template.html

namespace {
const char kPlaceholder[] = "__MCDNN_CATALOG_JSON__";
const char kMarker[] = "<meta name=\"generator\" content=\"mcdnn catalog report\">";
}  // namespace

std::string catalog_report_html(const std::string& catalog_json_text) {
  std::string page = kReportTemplate;
  const size_t at = page.find(kPlaceholder);
  if (at == std::string::npos) fail(ErrorClass::Internal, "the report template has no catalog placeholder");
  std::string data;
  data.reserve(catalog_json_text.size() + 64);
  for (char c : catalog_json_text) {
    if (c == '<') data += "\\u003c";  // valid inside a JSON string, the only place '<' can occur
    else data += c;
  }
  page.replace(at, sizeof kPlaceholder - 1, data);
  const size_t head = page.find("<head>");
  if (head != std::string::npos) page.insert(head + 6, std::string("\n") + kMarker);
  return page;
}

bool is_catalog_report(const std::string& html) { return html.find(kMarker) != std::string::npos; }

namespace {

uint32_t be32(const std::string& s, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = v << 8 | static_cast<unsigned char>(s[at + i]);
  return v;
}

// A PNG whose chunks before the image data include tEXt "Software" = "mcdnn catalog plot...".
// Chunk: 4-byte big-endian length, 4-byte type, data, CRC-32 of type and data.
bool marked_png(const std::string& h) {
  if (h.size() < 8 || h.compare(0, 8, "\x89PNG\r\n\x1a\n", 8) != 0) return false;
  const std::string mark = std::string("Software") + '\0' + kCatalogPlotMark;
  for (size_t at = 8; at + 12 <= h.size();) {
    const uint32_t len = be32(h, at);
    const std::string type = h.substr(at + 4, 4);
    if (type == "IDAT" || type == "IEND" || len > h.size() - at - 12) return false;
    if (type == "tEXt" && len >= mark.size() && h.compare(at + 8, mark.size(), mark) == 0) {
      const auto* p = reinterpret_cast<const Bytef*>(h.data() + at + 4);
      return crc32(crc32(0L, Z_NULL, 0), p, 4 + len) == be32(h, at + 8 + len);
    }
    at += 12 + static_cast<size_t>(len);
  }
  return false;
}

// An SVG document (an XML declaration or <svg first) with the plot's comment.
bool marked_svg(const std::string& h) {
  const size_t start = h.find_first_not_of(" \t\r\n");
  if (start == std::string::npos || (h.compare(start, 5, "<?xml") != 0 && h.compare(start, 4, "<svg") != 0)) return false;
  return h.find("<svg") != std::string::npos && h.find(std::string("<!-- ") + kCatalogPlotMark + " -->") != std::string::npos;
}

}  // namespace

bool is_catalog_plot(const std::string& name, const std::string& head) {
  if (name == "catalog.png") return marked_png(head);
  if (name == "catalog.svg") return marked_svg(head);
  return false;
}

}  // namespace mcdnn
