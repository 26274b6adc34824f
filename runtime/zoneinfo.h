// Time-zone names from the system's tz database (/usr/share/zoneinfo, Debian's tzdata).
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "interpreter/checker.h"

namespace setpoint {

class SystemZoneDatabase : public ZoneDatabase {
 public:
  explicit SystemZoneDatabase(std::string root = "/usr/share/zoneinfo") : root_(std::move(root)) {}
  bool contains(std::string_view zone) const override;
  std::vector<std::string> names() const override;  // walked once, on first use

 private:
  std::string root_;
  mutable std::once_flag listed_;
  mutable std::vector<std::string> names_;
};

}  // namespace setpoint
