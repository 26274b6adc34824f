// The load generator's plan and tally: phases parsed from "name:duration@rate", how many requests
// each phase has started by a given time, which key each request asks for, and the summary.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace setpoint {

inline constexpr std::string_view kDemoDefaultProfile = "quiet:10s@60,surge:30s@400,hotkey:35s@400";
inline constexpr size_t kDemoMaxPhases = 32;
inline constexpr double kDemoMaxRunSeconds = 24 * 3600;  // the sum of the phases
inline constexpr uint64_t kDemoKeySpace = 100'000;       // keys k0 .. k99999
inline constexpr uint64_t kDemoHotKeys = 20;             // k0 .. k19
inline constexpr double kDemoHotShare = 0.9;             // of a hotkey phase's requests

struct DemoPhase {
  std::string name;
  double duration_seconds = 0;
  double rate = 0;        // requests per second, after the --max-rate bound
  double asked_rate = 0;  // as the profile wrote it
  bool hot_keys = false;  // the phase named "hotkey"
};

// Phases separated by commas; names are [a-z0-9_-], durations "500ms", "10s", "2m" (more than 0),
// rates requests per second (0 or more; above max_rate they are bounded to it). False with
// the reason otherwise.
bool demo_parse_profile(std::string_view text, double max_rate, std::vector<DemoPhase>& phases,
                        std::string& error);

// How many requests a phase has started by `elapsed_seconds` into it: the open-loop schedule,
// floor(rate * elapsed), reaching round(rate * duration) at its end.
uint64_t demo_phase_due(const DemoPhase& phase, double elapsed_seconds);

// Seeded, so one seed gives one sequence of keys.
class DemoKeyChooser {
 public:
  explicit DemoKeyChooser(uint64_t seed) : rng_(seed) {}
  uint64_t next(bool hot_phase);  // a hot phase: 90 % of keys among the 20 hot ones

 private:
  std::mt19937_64 rng_;
};

struct DemoPhaseCounts {
  uint64_t sent = 0;             // requests started; each ends as exactly one of the five below
  uint64_t ok = 0;               // 200
  uint64_t unavailable = 0;      // 503
  uint64_t gateway_timeout = 0;  // 504
  uint64_t errors = 0;           // no response in 2 s, a transport error, or any other status
  uint64_t shed = 0;  // not started: --concurrency requests were in flight (not in `sent`)
  uint64_t answered() const { return ok + unavailable + gateway_timeout + errors; }
};

std::string demo_seconds_text(double seconds);  // "30s", "0.5s"
// "phase surge: 400 req/s for 30s"
std::string demo_phase_notice(const DemoPhase& phase);
// "surge 30s: sent 12000, 200 11890, 503 110, 504 0, errors 0, shed 0"
std::string demo_phase_summary(const DemoPhase& phase, const DemoPhaseCounts& counts);
// {"phases":[{"name":"surge","duration_seconds":30,"rate":400,"sent":12000,"200":11890,...}]}
std::string demo_summary_json(const std::vector<DemoPhase>& phases,
                              const std::vector<DemoPhaseCounts>& counts);

}  // namespace setpoint
