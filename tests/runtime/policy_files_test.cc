#include "runtime/policy_files.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "runtime/zoneinfo.h"
#include "support/fixtures.h"

using namespace setpoint;
using namespace setpoint::test;

TEST_CASE("directories are searched recursively for *.setpoint files, sorted") {
  TempDir dir;
  std::filesystem::create_directories(dir.file("sub/deeper"));
  write_text(dir.file("b.setpoint"), "");
  write_text(dir.file("a.setpoint"), "");
  write_text(dir.file("notes.txt"), "");
  write_text(dir.file("sub/deeper/c.setpoint"), "");
  std::vector<FileError> errors;
  auto files = expand_policy_paths({dir.path(), dir.file("a.setpoint")}, errors);
  CHECK(errors.empty());
  CHECK(files == std::vector<std::string>{dir.file("a.setpoint"), dir.file("b.setpoint"),
                                          dir.file("sub/deeper/c.setpoint")});
}

TEST_CASE("missing paths and empty directories are errors") {
  TempDir dir;
  std::vector<FileError> errors;
  auto files = expand_policy_paths({dir.file("nope.setpoint"), dir.path()}, errors);
  CHECK(files.empty());
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].message == "no such file or directory");
  CHECK(errors[1].message == "no *.setpoint files in this directory");
}

TEST_CASE("an atomic write replaces the content and keeps the permissions") {
  TempDir dir;
  std::string path = dir.file("p.setpoint");
  write_text(path, "old\n");
  chmod(path.c_str(), 0640);
  std::string error;
  REQUIRE(write_file_atomically(path, "new\n", error));
  CHECK(read_text(path) == "new\n");
  struct stat st;
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  CHECK(entries == 1);  // no temporary file left behind
}

TEST_CASE("reading stops just past the size limit") {
  TempDir dir;
  write_text(dir.file("big"), std::string(10000, 'x'));
  std::string text, error;
  REQUIRE(read_file(dir.file("big"), 100, text, error));
  CHECK(text.size() == 101);
}

TEST_CASE("time zones come from the tz database, and names outside it are refused") {
  SystemZoneDatabase zones;
  CHECK(zones.contains("Europe/Berlin"));
  CHECK(zones.contains("UTC"));
  CHECK_FALSE(zones.contains("Europe/Berln"));
  CHECK_FALSE(zones.contains("../../etc/passwd"));
  CHECK_FALSE(zones.contains("zone.tab"));
  auto names = zones.names();
  CHECK(std::find(names.begin(), names.end(), "America/New_York") != names.end());
  CHECK(std::find(names.begin(), names.end(), "posix/UTC") == names.end());
}

TEST_CASE("posix/ and right/ copies of zones are not zone names") {
  SystemZoneDatabase zones;
  CHECK_FALSE(zones.contains("posix/Europe/Berlin"));
  CHECK_FALSE(zones.contains("right/UTC"));
}
