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

PressureLevel compute_pressure_level(std::string_view psi_text, std::string_view meminfo_text,
                                     PressureLevel previous) {
  if (auto psi = parse_psi(psi_text)) return level_from_psi(*psi, previous);
  if (auto mem = parse_meminfo(meminfo_text)) return level_from_meminfo(*mem, previous);
  return previous;
}

}  // namespace metafs::cache
