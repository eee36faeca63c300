#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "meta_tree.hpp"

namespace metafs::extract::fits {

inline constexpr std::size_t kCardBytes = 80;
inline constexpr std::size_t kBlockBytes = 2880;

// A header's cards as read (80 bytes each; the last one of a truncated file may be shorter),
// kept back to back in one buffer: an 80-byte std::string per card cost an allocation each,
// a tenth of a plain file's extraction.
class CardList {
 public:
  class Iterator {
   public:
    using iterator_category = std::bidirectional_iterator_tag;
    using value_type = std::string_view;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = std::string_view;
    Iterator() = default;
    Iterator(const CardList* list, std::size_t at) : list_(list), at_(at) {}
    std::string_view operator*() const { return (*list_)[at_]; }
    Iterator& operator++() {
      ++at_;
      return *this;
    }
    Iterator operator++(int) {
      Iterator before = *this;
      ++at_;
      return before;
    }
    Iterator& operator--() {
      --at_;
      return *this;
    }
    Iterator operator--(int) {
      Iterator after = *this;
      --at_;
      return after;
    }
    bool operator==(const Iterator& other) const { return at_ == other.at_; }

   private:
    const CardList* list_ = nullptr;
    std::size_t at_ = 0;
  };

  void push_back(std::string_view card) {
    bytes_.append(card);
    ends_.push_back(static_cast<std::uint32_t>(bytes_.size()));
  }
  std::size_t size() const { return ends_.size(); }
  bool empty() const { return ends_.empty(); }
  std::string_view operator[](std::size_t i) const {
    std::uint32_t start = i == 0 ? 0 : ends_[i - 1];
    return std::string_view(bytes_).substr(start, ends_[i] - start);
  }
  Iterator begin() const { return {this, 0}; }
  Iterator end() const { return {this, size()}; }

 private:
  std::string bytes_;
  std::vector<std::uint32_t> ends_;  // one past each card's last byte
};

// One 80-byte header card, parsed the way astropy and CFITSIO read it.
struct Card {
  enum class Kind {
    kValue,       // KEYWORD = value / comment   (also HIERARCH a b c = value)
    kCommentary,  // COMMENT, HISTORY, blank keyword, or any keyword without "= "
    kContinue,    // CONTINUE  'more of a long string'
    kEnd,
  };
  Kind kind = Kind::kCommentary;
  // Right-trimmed; for HIERARCH cards the words after HIERARCH joined by single spaces.
  std::string keyword;
  bool hierarch = false;
  // kValue/kContinue: strings unquoted ('' -> ') and right-trimmed, logicals T/F, numbers and
  // complex numbers as written; empty for an undefined value. kCommentary: columns 9-80,
  // right-trimmed.
  std::string value;
  ValueKind kind_of_value = ValueKind::kString;
  bool quoted = false;  // the value was a quoted string (long-string continuation applies)
  // Why the card is not valid FITS; empty when it is.
  std::string problem;
};

// `text` is one card; shorter input (the end of a truncated file) is read as blank-padded.
// With `may_end` false a damaged END card (see is_end_card) is read as an ordinary card.
Card parse_card(std::string_view text, bool may_end = true);

// How each card takes part in the long-string convention, read as astropy reads it: every
// CONTINUE card with a string value in the run right after a string value continues it (each
// piece loses a trailing '&'), even when the piece before does not end in '&'; any other
// CONTINUE card is stray.
enum class Continuation { kNone, kContinues, kContinuesWithoutAmpersand, kStray };
std::vector<Continuation> continuations(const std::vector<Card>& cards);

// True when the card starts with "END" and the next byte cannot continue a keyword, as astropy
// finds the end of a header ("END" + blanks, but also "END\n", "END  junk", "END=").
bool is_end_card(std::string_view text);

// True when the card is exactly "END" and 77 blanks.
bool is_exact_end_card(std::string_view text);

// `text` without trailing blanks.
std::string_view trim_right(std::string_view text);

}  // namespace metafs::extract::fits
