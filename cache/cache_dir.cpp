#include "cache_dir.hpp"

#include <pwd.h>
#include <unistd.h>
#include <xxhash.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>
#include <system_error>

namespace metafs::cache {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxReadableName = 40;

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

fs::path home_dir() {
  std::string home = env_or_empty("HOME");
  if (!home.empty()) return home;
  if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_dir != nullptr) {
    return pw->pw_dir;
  }
  return "/tmp";
}

fs::path cache_base() {
  std::string systemd = env_or_empty("CACHE_DIRECTORY");
  if (!systemd.empty()) return systemd.substr(0, systemd.find(':'));
  fs::path xdg = env_or_empty("XDG_CACHE_HOME");
  if (xdg.is_absolute()) return xdg / "metafs";
  return home_dir() / ".cache" / "metafs";
}

std::string readable_name(const fs::path& canonical) {
  fs::path p = canonical;
  if (p.filename().empty()) p = p.parent_path();
  std::string last = p.filename().string();
  if (last.empty()) last = "root";
  std::string out;
  for (char c : last) {
    if (out.size() >= kMaxReadableName) break;
    bool keep = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    out.push_back(keep ? c : '_');
  }
  if (out.front() == '.') out.front() = '_';
  return out;
}

std::uint64_t multiplier(std::string_view suffix) {
  std::string s;
  for (char c : suffix) s.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  if (s.empty() || s == "B") return 1;
  if (s.size() == 3 && s[1] == 'I' && s[2] == 'B') s.resize(1);
  if (s.size() == 2 && s[1] == 'B') s.resize(1);
  if (s == "K") return 1ULL << 10;
  if (s == "M") return 1ULL << 20;
  if (s == "G") return 1ULL << 30;
  if (s == "T") return 1ULL << 40;
  return 0;
}

}  // namespace

fs::path default_cache_dir(const fs::path& source_root) {
  std::error_code ec;
  fs::path canonical = fs::weakly_canonical(source_root, ec);
  if (ec) canonical = fs::absolute(source_root, ec).lexically_normal();
  std::string key = canonical.lexically_normal().string();
  while (key.size() > 1 && key.back() == '/') key.pop_back();
  canonical = key;
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx",
                static_cast<unsigned long long>(XXH3_64bits(key.data(), key.size())));
  return cache_base() / (readable_name(canonical) + "-" + hash);
}

std::uint64_t parse_size(std::string_view text) {
  auto fail = [&](const char* why) {
    return std::invalid_argument("invalid size '" + std::string(text) + "': " + why +
                                 " (expected e.g. 1048576, 64K, 512M, 1G)");
  };
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0) throw fail("no number");
  std::uint64_t unit = multiplier(text.substr(digits));
  if (unit == 0) throw fail("unknown unit");
  std::uint64_t value = 0;
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  for (char c : text.substr(0, digits)) {
    auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (kMax - digit) / 10) throw fail("too large");
    value = value * 10 + digit;
  }
  if (value > kMax / unit) throw fail("too large");
  return value * unit;
}

}  // namespace metafs::cache
