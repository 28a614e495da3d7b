#include "util/yaml_cursor.hpp"

#include <map>
#include <set>

namespace mcdnn {

namespace {

// yaml-cpp keeps both entries of a repeated key and lookups see only one of them: a repeated
// key anywhere in the document is an error, not a silent choice.
// Aliases share nodes: each collection is visited once (by position), so a document of nested
// aliases cannot make this exponential.
void reject_duplicate_keys(const YAML::Node& n, const std::string& file, ErrorClass cls, std::set<std::pair<int, int>>& visited) {
  if ((n.IsMap() || n.IsSequence()) && !visited.insert({n.Mark().line, n.Mark().column}).second) return;
  if (n.IsMap()) {
    std::map<std::string, YAML::Mark> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      const YAML::Mark m = it->first.Mark();
      std::string k = it->first.IsScalar() ? it->first.Scalar() : "";
      auto [prev, fresh] = seen.emplace(k, m);
      if (!fresh)
        fail(cls, file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": duplicate key '" + k +
                                     "' (first at line " + std::to_string(prev->second.line + 1) + "); each key may appear once, remove one");
      reject_duplicate_keys(it->second, file, cls, visited);
    }
  } else if (n.IsSequence()) {
    for (const auto& e : n) reject_duplicate_keys(e, file, cls, visited);
  }
}

}  // namespace

YAML::Node load_yaml(const std::string& text, const std::string& display_name, ErrorClass cls) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    fail(cls, display_name + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                  ": not valid YAML: " + e.msg);
  }
  std::set<std::pair<int, int>> visited;
  reject_duplicate_keys(root, display_name, cls, visited);
  return root;
}

}  // namespace mcdnn
