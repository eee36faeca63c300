#include "fits/hdu_reader.hpp"

#include <array>
#include <charconv>
#include <optional>

namespace metafs::extract::fits {
namespace {

constexpr std::size_t kCardsPerBlock = kBlockBytes / kCardBytes;
constexpr int kMaxNaxis = 999;
// 2^60 bytes: far beyond any real file.
constexpr std::uint64_t kMaxDataBytes = std::uint64_t{1} << 60;

const Card* find_card(const RawHdu& hdu, std::string_view keyword) {
  for (const Card& card : hdu.parsed) {
    if (card.kind == Card::Kind::kValue && !card.hierarch && card.keyword == keyword) return &card;
  }
  return nullptr;
}

std::optional<std::int64_t> integer_value(const RawHdu& hdu, std::string_view keyword) {
  const Card* card = find_card(hdu, keyword);
  if (card == nullptr || card->kind_of_value != ValueKind::kNumber) return std::nullopt;
  std::string_view text = card->value;
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool logical_true(const RawHdu& hdu, std::string_view keyword) {
  const Card* card = find_card(hdu, keyword);
  return card != nullptr && card->kind_of_value == ValueKind::kBoolean && card->value == "T";
}

std::string hdu_label(const RawHdu& hdu) {
  return "HDU " + std::to_string(hdu.index);
}

HduType classify(const RawHdu& hdu) {
  if (hdu.index == 0) {
    auto naxis1 = integer_value(hdu, "NAXIS1");
    if (logical_true(hdu, "GROUPS") && naxis1 && *naxis1 == 0) return HduType::kRandomGroups;
    return HduType::kPrimary;
  }
  const Card* xtension = find_card(hdu, "XTENSION");
  std::string name = xtension ? xtension->value : std::string();
  if (name == "IMAGE") return HduType::kImage;
  if (name == "TABLE") return HduType::kAsciiTable;
  if (name == "BINTABLE" || name == "A3DTABLE") {
    if (logical_true(hdu, "ZIMAGE")) return HduType::kCompressedImage;
    if (logical_true(hdu, "ZTABLE")) return HduType::kCompressedTable;
    return HduType::kBinaryTable;
  }
  return HduType::kOther;
}

}  // namespace

const char* hdu_type_name(HduType type) {
  switch (type) {
    case HduType::kPrimary:
      return "primary";
    case HduType::kRandomGroups:
      return "random groups";
    case HduType::kImage:
      return "image";
    case HduType::kAsciiTable:
      return "ascii table";
    case HduType::kBinaryTable:
      return "binary table";
    case HduType::kCompressedImage:
      return "compressed image";
    case HduType::kCompressedTable:
      return "compressed table";
    case HduType::kOther:
      return "other extension";
  }
  return "other extension";
}

void HduReader::problem(const RawHdu& hdu, std::string text) {
  problems_.push_back(hdu_label(hdu) + ": " + std::move(text));
}

bool HduReader::next(RawHdu& hdu) {
  if (stopped_) return false;
  if (next_index_ >= limits_.max_hdus) {
    // Only a limit if there is in fact another HDU.
    std::array<char, 8> probe{};
    if (source_.read(probe.data(), probe.size()) == probe.size() &&
        std::string_view(probe.data(), probe.size()) == "XTENSION") {
      limit_note_ = "only the first " + std::to_string(limits_.max_hdus) + " HDUs are shown";
    }
    stopped_ = true;
    return false;
  }
  hdu = RawHdu{};
  hdu.index = next_index_++;
  hdu.header_offset = source_.position();
  if (!read_header(hdu)) {
    stopped_ = true;
    return false;
  }
  std::vector<Continuation> roles = continuations(hdu.parsed);
  for (std::size_t i = 0; i < roles.size(); ++i) {
    if (roles[i] != Continuation::kContinuesWithoutAmpersand && roles[i] != Continuation::kStray)
      continue;
    std::string why;
    if (roles[i] == Continuation::kStray) {
      why = "CONTINUE card does not follow a string value (shown in CONTINUE)";
    } else {
      std::size_t start = i;
      while (start > 0 && hdu.parsed[start].kind == Card::Kind::kContinue) --start;
      why = "CONTINUE card after a string that does not end in '&' (joined to " +
            hdu.parsed[start].keyword + ", as astropy does)";
    }
    problem(hdu, "card " + std::to_string(i + 1) + " (CONTINUE) at byte " +
                     std::to_string(hdu.header_offset + i * kCardBytes) + ": " + why);
  }
  hdu.type = classify(hdu);
  if (!stopped_) locate_data(hdu);
  return true;
}

// Returns false when there is no HDU at all here (end of file or trailing bytes).
bool HduReader::read_header(RawHdu& hdu) {
  std::array<char, kBlockBytes> block{};
  for (std::size_t block_number = 0;; ++block_number) {
    std::uint64_t block_offset = source_.position();
    std::size_t got = source_.read(block.data(), block.size());
    if (block_number == 0) {
      std::string_view start(block.data(), std::min<std::size_t>(got, 8));
      if (hdu.index == 0 && start != "SIMPLE  ") {
        if (got == 0) {
          fatal_ = source_.failure().empty() ? "empty file" : source_.failure();
        } else {
          fatal_ = "not a FITS file: the first card is not SIMPLE";
        }
        return false;
      }
      if (hdu.index > 0 && start != "XTENSION") {
        // End of file, or bytes after the last HDU that are not an extension (padding):
        // astropy ignores them too. A gzip failure here still counts.
        if (!source_.failure().empty()) fatal_ = source_.failure();
        return false;
      }
    } else if (got >= 8 && std::string_view(block.data(), 8) == "XTENSION") {
      fatal_ = hdu_label(hdu) + ": header has no END card (the next XTENSION starts at byte " +
               std::to_string(block_offset) + ")";
      stopped_ = true;
      return true;
    }
    for (std::size_t i = 0; i < kCardsPerBlock && i * kCardBytes < got; ++i) {
      std::string_view text(block.data() + i * kCardBytes,
                            std::min(kCardBytes, got - i * kCardBytes));
      // A damaged END card ends the header only when no exact END card follows in its block:
      // astropy then reads it as an ordinary card and ends the header at the exact one.
      bool end_here = is_end_card(text);
      if (end_here && !is_exact_end_card(text)) {
        for (std::size_t k = i + 1; k < kCardsPerBlock && (k + 1) * kCardBytes <= got; ++k) {
          if (is_exact_end_card(std::string_view(block.data() + k * kCardBytes, kCardBytes))) {
            end_here = false;
            break;
          }
        }
      }
      if (end_here) {
        Card end = parse_card(text);
        if (!end.problem.empty()) problem(hdu, end.problem);
        hdu.end_found = true;
        if (got < block.size()) {
          problem(hdu, "the file ends at byte " + std::to_string(source_.position()) +
                           ", inside the header's last 2880-byte block (END present, "
                           "block cut short)");
        }
        return true;
      }
      if (total_cards_ >= limits_.max_cards) {
        limit_note_ = "only the first " + std::to_string(limits_.max_cards) +
                      " header cards of the file are shown";
        fatal_ = hdu_label(hdu) + ": stopped after " + std::to_string(limits_.max_cards) +
                 " header cards in the file (limit)";
        stopped_ = true;
        return true;
      }
      ++total_cards_;
      hdu.cards.push_back(text);
      hdu.parsed.push_back(parse_card(text, /*may_end=*/false));
      const Card& card = hdu.parsed.back();
      if (!card.problem.empty()) {
        problem(hdu, "card " + std::to_string(hdu.cards.size()) + " (" +
                         (card.keyword.empty() ? std::string("blank keyword") : card.keyword) +
                         ") at byte " + std::to_string(block_offset + i * kCardBytes) + ": " +
                         card.problem);
      }
    }
    if (got < block.size()) {
      std::string why = source_.failure().empty() ? "the file ends" : source_.failure();
      fatal_ = hdu_label(hdu) + ": header has no END card (" + why + " at byte " +
               std::to_string(source_.position()) + " after " + std::to_string(hdu.cards.size()) +
               (hdu.cards.size() == 1 ? " card)" : " cards)");
      stopped_ = true;
      return true;
    }
  }
}

void HduReader::locate_data(RawHdu& hdu) {
  hdu.data_offset = source_.position();
  auto stop = [&](std::string why) {
    fatal_ = hdu_label(hdu) + ": " + why + "; the HDUs after it cannot be located";
    stopped_ = true;
  };
  auto bitpix = integer_value(hdu, "BITPIX");
  if (!bitpix || (*bitpix != 8 && *bitpix != 16 && *bitpix != 32 && *bitpix != 64 &&
                  *bitpix != -32 && *bitpix != -64)) {
    return stop("BITPIX missing or invalid");
  }
  auto naxis = integer_value(hdu, "NAXIS");
  if (!naxis || *naxis < 0 || *naxis > kMaxNaxis) return stop("NAXIS missing or invalid");
  bool extension = hdu.index > 0;
  auto pcount = integer_value(hdu, "PCOUNT");
  auto gcount = integer_value(hdu, "GCOUNT");
  bool groups = hdu.type == HduType::kRandomGroups;
  if (extension || groups) {
    if (!pcount) problem(hdu, "mandatory keyword PCOUNT is missing (0 assumed)");
    if (!gcount) problem(hdu, "mandatory keyword GCOUNT is missing (1 assumed)");
  }
  std::int64_t p = (extension || groups) ? pcount.value_or(0) : 0;
  std::int64_t g = (extension || groups) ? gcount.value_or(1) : 1;
  if (p < 0 || g < 0) return stop("PCOUNT or GCOUNT is negative");

  // |BITPIX|/8 * GCOUNT * (PCOUNT + NAXIS1 * ... * NAXISn), NAXIS1 left out for random groups.
  std::uint64_t bytes = 0;
  bool overflow = false;
  if (*naxis > 0) {
    std::uint64_t elements = 1;
    for (std::int64_t axis = groups ? 2 : 1; axis <= *naxis; ++axis) {
      std::string key = "NAXIS" + std::to_string(axis);
      auto length = integer_value(hdu, key);
      if (!length || *length < 0) return stop(key + " missing or invalid");
      overflow |= __builtin_mul_overflow(elements, static_cast<std::uint64_t>(*length), &elements);
    }
    overflow |= __builtin_add_overflow(elements, static_cast<std::uint64_t>(p), &elements);
    overflow |= __builtin_mul_overflow(elements, static_cast<std::uint64_t>(g), &elements);
    overflow |= __builtin_mul_overflow(
        elements, static_cast<std::uint64_t>(*bitpix < 0 ? -*bitpix : *bitpix) / 8, &bytes);
  }
  if (overflow || bytes > kMaxDataBytes) return stop("data unit size overflows");
  hdu.data_bytes = bytes;

  std::uint64_t padded = (hdu.data_bytes + kBlockBytes - 1) / kBlockBytes * kBlockBytes;
  std::uint64_t skipped = source_.skip(padded);
  if (skipped < hdu.data_bytes) {
    std::string why = source_.failure().empty() ? std::string() : " (" + source_.failure() + ")";
    fatal_ = hdu_label(hdu) + ": data unit truncated: " + std::to_string(skipped) + " of " +
             std::to_string(hdu.data_bytes) + " bytes present at byte " +
             std::to_string(hdu.data_offset) + why;
    stopped_ = true;
  }
}

}  // namespace metafs::extract::fits
