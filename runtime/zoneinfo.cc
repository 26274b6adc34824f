#include "runtime/zoneinfo.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace setpoint {
namespace {

namespace fs = std::filesystem;

// A zone file starts with the magic "TZif"; anything else (tzdata.zi, *.tab) is not a zone.
bool is_zone_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::string_view(magic, 4) == "TZif";
}

bool plausible_name(std::string_view zone) {
  if (zone.empty() || zone.front() == '/' || zone.find("..") != std::string_view::npos)
    return false;
  return std::all_of(zone.begin(), zone.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '+' || c == '/';
  });
}

}  // namespace

bool SystemZoneDatabase::contains(std::string_view zone) const {
  // posix/ and right/ hold copies of every zone with other leap-second rules; names() leaves
  // them out, and so does this.
  if (!plausible_name(zone) || zone.rfind("posix/", 0) == 0 || zone.rfind("right/", 0) == 0)
    return false;
  std::error_code ec;
  fs::path p = fs::path(root_) / std::string(zone);
  return fs::is_regular_file(p, ec) && is_zone_file(p);
}

std::vector<std::string> SystemZoneDatabase::names() const {
  std::call_once(listed_, [this] {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root_, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      std::string rel = fs::relative(it->path(), root_, ec).string();
      if (it->is_directory(ec) && (rel == "posix" || rel == "right")) {
        it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file(ec) && plausible_name(rel) && is_zone_file(it->path()))
        names_.push_back(rel);
    }
    std::sort(names_.begin(), names_.end());
  });
  return names_;
}

}  // namespace setpoint
