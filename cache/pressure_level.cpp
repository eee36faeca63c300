#include "pressure_level.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace metafs::cache {
namespace {

struct Threshold {
  double some;
  double full;
};
// Indexed by level; kNormal has none.
constexpr Threshold kPsiEnter[] = {{0, 0}, {10, 5}, {30, 15}, {60, 40}};
constexpr double kPsiExitFactor = 0.5;
constexpr double kAvailableEnter[] = {0, 0.20, 0.10, 0.05};
constexpr double kAvailableExitFactor = 1.5;

std::optional<double> field_value(std::string_view line, std::string_view name) {
  std::size_t at = 0;
  while ((at = line.find(name, at)) != std::string_view::npos) {
    if (at == 0 || line[at - 1] == ' ') break;
    ++at;
  }
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view number = line.substr(at + name.size());
  double value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value,
                                   std::chars_format::fixed);
  if (ec != std::errc() || end == number.data() || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<std::uint64_t> meminfo_kb(std::string_view text, std::string_view name) {
  std::size_t at = 0;
  while ((at = text.find(name, at)) != std::string_view::npos) {
    if (at == 0 || text[at - 1] == '\n') break;
    ++at;
  }
  if (at == std::string_view::npos) return std::nullopt;
  std::size_t p = at + name.size();
  while (p < text.size() && text[p] == ' ') ++p;
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data() + p, text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data() + p) return std::nullopt;
  return value;
}

PressureLevel psi_level_at(const PsiSample& s, double factor) {
  for (int level = 3; level > 0; --level) {
    if (s.some_avg10 >= kPsiEnter[level].some * factor ||
        s.full_avg10 >= kPsiEnter[level].full * factor) {
      return static_cast<PressureLevel>(level);
    }
  }
  return PressureLevel::kNormal;
}

PressureLevel available_level_at(double ratio, double factor) {
  for (int level = 3; level > 0; --level) {
    if (ratio < kAvailableEnter[level] * factor) return static_cast<PressureLevel>(level);
  }
  return PressureLevel::kNormal;
}

// Up at once; down only to what the exit thresholds still justify.
PressureLevel with_hysteresis(PressureLevel entered, PressureLevel kept, PressureLevel previous) {
  if (entered >= previous) return entered;
  return std::min(previous, kept);
}

}  // namespace

std::string_view pressure_level_name(PressureLevel level) {
  switch (level) {
    case PressureLevel::kNormal:
      return "normal";
    case PressureLevel::kElevated:
      return "elevated";
    case PressureLevel::kHigh:
      return "high";
    case PressureLevel::kCritical:
      return "critical";
  }
  return "normal";
}

std::optional<PsiSample> parse_psi(std::string_view text) {
  std::optional<double> some;
  std::optional<double> full;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    auto avg10 = field_value(line, "avg10=");
    if (!avg10 || *avg10 < 0 || *avg10 > 100) continue;
    if (line.starts_with("some ")) some = avg10;
    if (line.starts_with("full ")) full = avg10;
  }
  if (!some) return std::nullopt;
  return PsiSample{*some, full.value_or(0)};
}

std::optional<MemInfoSample> parse_meminfo(std::string_view text) {
  auto total = meminfo_kb(text, "MemTotal:");
  auto available = meminfo_kb(text, "MemAvailable:");
  if (!total || !available || *total == 0) return std::nullopt;
  return MemInfoSample{*total, *available};
}

PressureLevel level_from_psi(const PsiSample& sample, PressureLevel previous) {
  return with_hysteresis(psi_level_at(sample, 1.0), psi_level_at(sample, kPsiExitFactor), previous);
}

PressureLevel level_from_meminfo(const MemInfoSample& sample, PressureLevel previous) {
  double ratio = static_cast<double>(sample.available_kb) / static_cast<double>(sample.total_kb);
  return with_hysteresis(available_level_at(ratio, 1.0),
                         available_level_at(ratio, kAvailableExitFactor), previous);
}

std::optional<CgroupMemorySample> parse_cgroup_memory(std::string_view current_text,
                                                      std::string_view high_text,
                                                      std::string_view max_text) {
  auto number = [](std::string_view text) -> std::optional<std::uint64_t> {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || text.empty() || end != text.data() + text.size()) return std::nullopt;
    return value;
  };
  auto current = number(current_text);
  auto high = number(high_text);
  auto max = number(max_text);
  if (!current || (!high && !max)) return std::nullopt;
  std::uint64_t limit = std::min(high.value_or(UINT64_MAX), max.value_or(UINT64_MAX));
  if (limit == 0) return std::nullopt;
  return CgroupMemorySample{*current, limit};
}

PressureLevel level_from_cgroup(const CgroupMemorySample& sample, PressureLevel previous) {
  double left =
      sample.current >= sample.limit
          ? 0.0
          : static_cast<double>(sample.limit - sample.current) / static_cast<double>(sample.limit);
  return with_hysteresis(available_level_at(left, 1.0),
                         available_level_at(left, kAvailableExitFactor), previous);
}

std::string_view pressure_trigger_name(PressureTrigger trigger) {
  switch (trigger) {
    case PressureTrigger::kNone:
      return "none";
    case PressureTrigger::kPsi:
      return "psi";
    case PressureTrigger::kMemoryHigh:
      return "memory.high";
    case PressureTrigger::kMemAvailable:
      return "MemAvailable";
  }
  return "none";
}

PressureReading compute_pressure(const PressureTexts& texts, PressureReading previous) {
  PressureReading next;
  bool any = false;
  auto consider = [&](PressureLevel level, PressureTrigger trigger) {
    any = true;
    if (level > next.level) next = {level, trigger};
  };
  if (auto psi = parse_psi(texts.psi)) {
    consider(level_from_psi(*psi, previous.level), PressureTrigger::kPsi);
  }
  if (auto cgroup =
          parse_cgroup_memory(texts.cgroup_current, texts.cgroup_high, texts.cgroup_max)) {
    consider(level_from_cgroup(*cgroup, previous.level), PressureTrigger::kMemoryHigh);
  }
  if (auto mem = parse_meminfo(texts.meminfo)) {
    consider(level_from_meminfo(*mem, previous.level), PressureTrigger::kMemAvailable);
  }
  return any ? next : previous;
}

PressureLevel compute_pressure_level(std::string_view psi_text, std::string_view meminfo_text,
                                     PressureLevel previous) {
  PressureTexts texts;
  texts.psi = psi_text;
  texts.meminfo = meminfo_text;
  return compute_pressure(texts, {previous, PressureTrigger::kNone}).level;
}

}  // namespace metafs::cache
