// A policy file held in memory, with the line index that turns byte offsets into
// 1-based line:column positions (columns count code points, so carets line up).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace setpoint {

// A half-open byte range [begin, end) into one SourceFile's text.
struct Span {
  uint32_t begin = 0;
  uint32_t end = 0;
};

struct Position {
  uint32_t line = 1;    // from 1
  uint32_t column = 1;  // from 1, in code points
};

// Always created with std::make_shared: diagnostics keep the file they point into alive.
class SourceFile : public std::enable_shared_from_this<SourceFile> {
 public:
  SourceFile(std::string path, std::string text);

  const std::string& path() const { return path_; }
  const std::string& text() const { return text_; }
  Position position(uint32_t offset) const;
  // The text of a 1-based line without its line terminator.
  std::string_view line_text(uint32_t line) const;
  uint32_t line_count() const { return static_cast<uint32_t>(line_starts_.size()); }
  uint32_t line_start(uint32_t line) const { return line_starts_[line - 1]; }
  std::string_view slice(Span span) const {
    return std::string_view(text_).substr(span.begin, span.end - span.begin);
  }

 private:
  std::string path_;
  std::string text_;
  std::vector<uint32_t> line_starts_;
};

// Returns the byte offset of the first invalid UTF-8 sequence, or npos when the text is valid.
size_t find_invalid_utf8(std::string_view text);

}  // namespace setpoint
