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

// The memory of the daemon's own cgroup (cgroup v2): memory.current against the lower of
// memory.high and memory.max (systemd's MemoryHigh=/MemoryMax=), in bytes.
struct CgroupMemorySample {
  std::uint64_t current = 0;
  std::uint64_t limit = 0;
};
// std::nullopt unless memory.current parses and at least one of the limits is a number
// ("max" means none).
std::optional<CgroupMemorySample> parse_cgroup_memory(std::string_view current_text,
                                                      std::string_view high_text,
                                                      std::string_view max_text);

// Levels from the cgroup's headroom (limit - current) / limit, by the MemAvailable rule:
// entered below 20 % / 10 % / 5 % left, kept until above 1.5 times that.
PressureLevel level_from_cgroup(const CgroupMemorySample& sample, PressureLevel previous);

// Which source set the level (stats.json's "memory_pressure_trigger").
enum class PressureTrigger : std::uint8_t { kNone, kPsi, kMemoryHigh, kMemAvailable };
// "none", "psi", "memory.high", "MemAvailable".
std::string_view pressure_trigger_name(PressureTrigger trigger);

struct PressureReading {
  PressureLevel level = PressureLevel::kNormal;
  PressureTrigger trigger = PressureTrigger::kNone;
};

// The texts the level is computed from; an empty text is a source that is not there.
struct PressureTexts {
  std::string_view psi;             // the PSI file (the cgroup's memory.pressure, or /proc's)
  std::string_view meminfo;         // /proc/meminfo
  std::string_view cgroup_current;  // memory.current of the daemon's cgroup
  std::string_view cgroup_high;     // memory.high
  std::string_view cgroup_max;      // memory.max
};

// The highest level any source gives. PSI alone is not enough: it only reports stalls that
// already happened, so a machine with almost no memory left but nothing stalled yet reads 0 %
// while the next allocation anywhere meets the OOM killer; low MemAvailable and a cgroup close
// to MemoryHigh= are pressure too. Each source rises at once and falls only as its own exit
// thresholds allow (from `previous`), so the level drops once every source agrees. The
// trigger is the source giving the level (PSI first, then memory.high, then MemAvailable);
// kNone at normal. Texts that do not parse leave `previous` unchanged.
PressureReading compute_pressure(const PressureTexts& texts, PressureReading previous);

// compute_pressure(...).level from the PSI file and /proc/meminfo alone.
PressureLevel compute_pressure_level(std::string_view psi_text, std::string_view meminfo_text,
                                     PressureLevel previous);

}  // namespace metafs::cache
