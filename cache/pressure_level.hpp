#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace metafs::cache {

enum class PressureLevel : std::uint8_t { kNormal = 0, kElevated = 1, kHigh = 2, kCritical = 3 };

// "normal", "elevated", "high", "critical".
std::string_view pressure_level_name(PressureLevel level);

// The avg10 percentages of a PSI file (/proc/pressure/memory or a cgroup's memory.pressure):
//   some avg10=1.23 avg60=... total=...
//   full avg10=0.00 avg60=... total=...
struct PsiSample {
  double some_avg10 = 0;
  double full_avg10 = 0;  // 0 when the file has no "full" line
};
// std::nullopt when there is no parsable "some" line.
std::optional<PsiSample> parse_psi(std::string_view text);

struct MemInfoSample {
  std::uint64_t total_kb = 0;
  std::uint64_t available_kb = 0;
};
// std::nullopt unless both MemTotal (> 0) and MemAvailable are present.
std::optional<MemInfoSample> parse_meminfo(std::string_view text);

// Levels from PSI: a level is entered when `some` avg10 or `full` avg10 reaches its
// threshold (elevated 10 % / 5 %, high 30 % / 15 %, critical 60 % / 40 %) and kept until
// both fall below half of it, so a level does not flap around a threshold. Rising is
// immediate; falling goes only as far as the halved thresholds allow.
PressureLevel level_from_psi(const PsiSample& sample, PressureLevel previous);

// Levels from MemAvailable / MemTotal: entered below 20 % / 10 % / 5 % available, left only
// above 1.5 times that (30 % / 15 % / 7.5 %).
PressureLevel level_from_meminfo(const MemInfoSample& sample, PressureLevel previous);

// The level from the texts of the PSI file and /proc/meminfo: PSI when it parses, else
// MemAvailable, else `previous` unchanged.
PressureLevel compute_pressure_level(std::string_view psi_text, std::string_view meminfo_text,
                                     PressureLevel previous);

}  // namespace metafs::cache
