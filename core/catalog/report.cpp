#include "catalog/report.hpp"

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

}  // namespace mcdnn
