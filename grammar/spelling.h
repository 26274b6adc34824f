// Did-you-mean suggestions for misspelled names, keywords, functions and units.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace setpoint {

// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
size_t edit_distance(std::string_view a, std::string_view b);

// The closest candidate within a distance that grows with the word's length, or "".
std::string closest_match(std::string_view word, const std::vector<std::string_view>& candidates);

// "did you mean 'x'?" or "".
std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates);

}  // namespace setpoint
