// Helpers for tests: parsing and checking policy text in memory, temporary directories, and
// the repository's fixture files.
#pragma once

#include <string>
#include <vector>

#include "grammar/ast.h"
#include "grammar/diagnostic.h"
#include "interpreter/checker.h"

namespace setpoint::test {

std::string source_path(const std::string& relative);  // a path inside the repository
std::string read_text(const std::string& path);
void write_text(const std::string& path, const std::string& text);

// A fresh directory under the system's temporary directory, removed with the object.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct Checked {
  std::vector<Module> modules;
  Diagnostics diagnostics;
  CheckedProgram program;
  // "line:col CODE message" for each diagnostic, in order.
  std::vector<std::string> summary() const;
  // Just the codes, in order.
  std::vector<std::string> codes() const;
};

// Parses and checks one or more in-memory files (named a.setpoint, b.setpoint, ...).
Checked check_texts(const std::vector<std::string>& texts);
Checked check_text(const std::string& text);

// Parses only.
Module parse_text(const std::string& text, Diagnostics& diagnostics);

}  // namespace setpoint::test
