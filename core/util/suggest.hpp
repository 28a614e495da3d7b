// "did you mean 'X'?" for a misspelt key, layer name, pass, kind or variant id.
#pragma once
#include <string>
#include <vector>

namespace mcdnn {

// Edit distance: insertions, deletions, substitutions and swaps of adjacent characters
// (optimal string alignment).
size_t edit_distance(const std::string& a, const std::string& b);

// The candidate closest to `word` when it is plausibly a misspelling (within a third of the
// longer length, at least 1 edit, or differing only in case), else "".
std::string closest(const std::string& word, const std::vector<std::string>& candidates);

// "; did you mean 'X'?" for closest(), or "" when nothing is close.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

// "a, b, c" -> {"a", "b", "c"}.
std::vector<std::string> split_names(const std::string& comma_separated);

}  // namespace mcdnn
