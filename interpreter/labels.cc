#include "interpreter/labels.h"

#include <algorithm>

namespace setpoint {

void normalize_labels(Labels& labels) {
  std::stable_sort(labels.begin(), labels.end(),
                   [](const Label& a, const Label& b) { return a.name < b.name; });
  Labels out;
  out.reserve(labels.size());
  for (Label& l : labels) {
    if (!out.empty() && out.back().name == l.name) out.pop_back();
    if (!l.value.empty()) out.push_back(std::move(l));
  }
  labels = std::move(out);
}

bool labels_compatible(const Labels& a, const Labels& b) {
  const Labels& small = a.size() <= b.size() ? a : b;
  const Labels& large = a.size() <= b.size() ? b : a;
  for (const Label& l : small) {
    if (l.name != "__name__" && label_value(large, l.name) != l.value) return false;
  }
  return true;
}

std::string_view label_value(const Labels& labels, std::string_view name) {
  for (const Label& l : labels) {
    if (l.name == name) return l.value;
  }
  return {};
}

namespace {
void append_quoted(std::string& out, std::string_view v) {
  out += '"';
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  out += '"';
}
}  // namespace

std::string labels_text(const Labels& labels) {
  std::string out(label_value(labels, "__name__"));
  out += '{';
  bool first = true;
  for (const Label& l : labels) {
    if (l.name == "__name__") continue;
    if (!first) out += ", ";
    first = false;
    out += l.name;
    out += '=';
    append_quoted(out, l.value);
  }
  out += '}';
  if (first && !out.empty() && out.size() > 2) out.resize(out.size() - 2);  // `metric`
  return out;
}

}  // namespace setpoint
