// Errors found while reading a TOML file of ours (effect models, policy tests), collected with
// their positions and reported in file order as "file:line:col: message; hint: ...", the
// shape of every other diagnostic setpoint prints.
#pragma once

#include <toml++/toml.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace setpoint {

class TomlErrors {
 public:
  explicit TomlErrors(std::string_view file) : file_(file.empty() ? "<input>" : file) {}

  std::string where(const toml::source_region& at) const {
    return file_ + ":" + std::to_string(at.begin.line) + ":" + std::to_string(at.begin.column);
  }
  void error(const toml::source_region& at, std::string message, std::string hint = {}) {
    std::string text = where(at) + ": " + std::move(message);
    if (!hint.empty()) text += "; hint: " + hint;
    errors_.push_back({at.begin.line, at.begin.column, std::move(text)});
  }
  // Appends the errors to `out` in the order of the file (a toml::table iterates by key name).
  void flush(std::vector<std::string>& out) {
    std::stable_sort(errors_.begin(), errors_.end(), [](const Error& a, const Error& b) {
      return a.line != b.line ? a.line < b.line : a.column < b.column;
    });
    for (const Error& e : errors_) out.push_back(e.text);
  }
  bool failed() const { return !errors_.empty(); }

 private:
  struct Error {
    uint32_t line;
    uint32_t column;
    std::string text;
  };
  std::string file_;
  std::vector<Error> errors_;
};

}  // namespace setpoint
