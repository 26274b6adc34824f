#include "support/fixtures.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "grammar/parser.h"
#include "runtime/policy_loader.h"

namespace setpoint::test {

std::string source_path(const std::string& relative) {
  return std::string(SETPOINT_SOURCE_DIR) + "/" + relative;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "setpoint-test-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::vector<std::string> Checked::summary() const {
  std::vector<std::string> out;
  for (const Diagnostic& d : diagnostics.list()) {
    Position p = d.file->position(d.span.begin);
    out.push_back(std::to_string(p.line) + ":" + std::to_string(p.column) + " " +
                  std::string(code_info(d.code).id) + " " + d.message);
  }
  return out;
}

std::vector<std::string> Checked::codes() const {
  std::vector<std::string> out;
  for (const Diagnostic& d : diagnostics.list()) out.emplace_back(code_info(d.code).id);
  return out;
}

Checked check_texts(const std::vector<std::string>& texts) {
  Checked c;
  for (size_t i = 0; i < texts.size(); ++i) {
    std::string name = std::string(1, static_cast<char>('a' + i)) + ".setpoint";
    c.modules.push_back(
        parse_module(std::make_shared<const SourceFile>(name, texts[i]), c.diagnostics));
  }
  c.program = check_policy_set(c.modules, c.diagnostics);
  return c;
}

Checked check_text(const std::string& text) { return check_texts({text}); }

Module parse_text(const std::string& text, Diagnostics& diagnostics) {
  return parse_module(std::make_shared<const SourceFile>("a.setpoint", text), diagnostics);
}

}  // namespace setpoint::test
