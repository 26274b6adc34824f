#include "grammar/comments.h"

namespace setpoint {

std::vector<Comment> scan_comments(std::string_view text) {
  std::vector<Comment> out;
  bool code_on_line = false;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == '\n') {
      code_on_line = false;
      ++i;
    } else if (c == '#') {
      size_t end = text.find('\n', i);
      if (end == std::string_view::npos) end = text.size();
      size_t trimmed = end;
      while (trimmed > i &&
             (text[trimmed - 1] == '\r' || text[trimmed - 1] == ' ' || text[trimmed - 1] == '\t'))
        --trimmed;
      out.push_back({{static_cast<uint32_t>(i), static_cast<uint32_t>(trimmed)}, !code_on_line});
      i = end;
    } else if (c == '"' || c == '\'' || c == '`') {
      // Strings never span lines; an unterminated one ends at the line's end, as in the grammar.
      code_on_line = true;
      ++i;
      while (i < text.size() && text[i] != c && text[i] != '\n') {
        if (text[i] == '\\' && c != '`' && i + 1 < text.size() && text[i + 1] != '\n') ++i;
        ++i;
      }
      if (i < text.size() && text[i] == c) ++i;
    } else {
      if (c != ' ' && c != '\t' && c != '\r') code_on_line = true;
      ++i;
    }
  }
  return out;
}

}  // namespace setpoint
