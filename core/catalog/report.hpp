// The interactive catalog report: one self-contained HTML file (no network, no libraries) with
// every resource axis against accuracy, hover details, a variant's layers on click and a
// sortable table. The page is catalog/report_template.html, compiled into the program; the
// catalog.json text is embedded in it, every '<' written as \u003c so no string in the catalog
// can end the script element. mcdnn-compile writes DIR/report.html with every catalog;
// `mcdnn-catalog report DIR` rewrites it (or writes it elsewhere).
#pragma once
#include <string>

namespace mcdnn {

// The page for a catalog.json text.
std::string catalog_report_html(const std::string& catalog_json_text);

// True when `html` is a page catalog_report_html() wrote (so replacing it is safe).
bool is_catalog_report(const std::string& html);

// The plots tools/plot_catalog.py writes into a catalog directory (its default output), which
// belong to the catalog like report.html: catalog.png, whose tEXt chunk "Software" (before the
// image data, CRC intact) starts with kCatalogPlotMark, and catalog.svg, an SVG document that
// holds the comment "<!-- mcdnn catalog plot -->". True when `name` is one of those two and
// `head` (the file's first bytes, 16 KB are plenty) carries its mark: a user's own catalog.png,
// or a marked plot under another name, is not the catalog's.
constexpr const char* kCatalogPlotMark = "mcdnn catalog plot";
bool is_catalog_plot(const std::string& name, const std::string& head);

}  // namespace mcdnn
