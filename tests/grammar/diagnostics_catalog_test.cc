// Every diagnostic code is triggered by a fixture, renders exactly as its golden file says, and
// is documented in docs/language.md.
#include <catch2/catch.hpp>
#include <filesystem>
#include <set>

#include "grammar/parser.h"
#include "runtime/policy_loader.h"
#include "support/fixtures.h"

using namespace setpoint;
using namespace setpoint::test;
namespace fs = std::filesystem;

namespace {

// Fixtures are small; a 4 KiB limit lets E0109 have a fixture of its own.
constexpr size_t kFixtureLimit = 4096;

std::string render_fixture(const fs::path& fixture) {
  std::vector<fs::path> files;
  if (fs::is_directory(fixture)) {
    for (const auto& e : fs::directory_iterator(fixture)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(fixture);
  }
  std::vector<Module> modules;
  Diagnostics diags;
  ParseLimits limits;
  limits.max_bytes = kFixtureLimit;
  for (const fs::path& f : files) {
    std::string shown = fs::relative(f, source_path("")).string();
    modules.push_back(parse_module(std::make_shared<const SourceFile>(shown, read_text(f.string())),
                                   diags, limits));
  }
  check_policy_set(modules, diags);
  std::string out;
  for (const Diagnostic& d : diags.list()) out += render_text(d) + "\n";
  return out;
}

}  // namespace

TEST_CASE("every diagnostic code has a fixture that triggers it and a golden rendering") {
  fs::path dir = source_path("tests/fixtures/diagnostics");
  for (const CodeInfo& info : all_codes()) {
    std::string id(info.id);
    INFO("code " << id);
    fs::path fixture = dir / (id + ".setpoint");
    if (!fs::exists(fixture)) fixture = dir / id;
    REQUIRE(fs::exists(fixture));
    std::string rendered = render_fixture(fixture);
    CHECK(rendered.find("[" + id + "]") != std::string::npos);
    fs::path golden = dir / (id + ".expected");
    if (std::getenv("SETPOINT_UPDATE_GOLDEN")) write_text(golden.string(), rendered);
    CHECK(rendered == read_text(golden.string()));
  }
}

TEST_CASE("every diagnostic code is documented in docs/language.md") {
  std::string docs = read_text(source_path("docs/language.md"));
  for (const CodeInfo& info : all_codes()) {
    INFO("code " << info.id);
    CHECK(docs.find("### " + std::string(info.id)) != std::string::npos);
  }
}

TEST_CASE("codes are unique and their severity follows their letter") {
  std::set<std::string_view> seen;
  for (const CodeInfo& info : all_codes()) {
    CHECK(seen.insert(info.id).second);
    CHECK((info.id[0] == 'E') == (info.severity == Severity::Error));
  }
}
