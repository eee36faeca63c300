#include "fits/fits_card.hpp"

#include <cctype>
#include <optional>
#include <utility>

#include "byte_scan.hpp"

namespace metafs::extract::fits {
namespace {

bool is_blank(char c) {
  return c == ' ';
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
  return trim_right(text);
}

bool is_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// FITS integer or real: [+-] digits [. digits] [E|D [+-] digits], or [+-] . digits [...].
bool is_fits_number(std::string_view text) {
  std::size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  std::size_t mantissa = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i, ++mantissa;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i, ++mantissa;
  }
  if (mantissa == 0) return false;
  if (i < text.size() && (text[i] == 'E' || text[i] == 'D' || text[i] == 'e' || text[i] == 'd')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (!is_digits(text.substr(i))) return false;
    return true;
  }
  return i == text.size();
}

bool valid_keyword_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

void note(Card& card, std::string problem) {
  if (card.problem.empty()) card.problem = std::move(problem);
}

// Parses the value field starting at `text` (the part after "= " or after CONTINUE).
void parse_value(std::string_view text, Card& card) {
  std::size_t i = 0;
  while (i < text.size() && is_blank(text[i])) ++i;
  if (i == text.size() || text[i] == '/') return;  // undefined value
  if (text[i] == '\'') {
    card.quoted = true;
    std::string& value = card.value;
    bool closed = false;
    // Each run up to the next quote is copied whole; '' is one quote and the run goes on.
    for (++i;;) {
      std::size_t quote = text.find('\'', i);
      if (quote == std::string_view::npos) {
        value.append(text.substr(i));
        i = text.size();
        break;
      }
      value.append(text.substr(i, quote - i));
      if (quote + 1 < text.size() && text[quote + 1] == '\'') {
        value.push_back('\'');
        i = quote + 2;
        continue;
      }
      closed = true;
      i = quote + 1;
      break;
    }
    if (!closed) note(card, "string value without closing quote");
    std::string_view rest = trim(text.substr(std::min(i, text.size())));
    if (closed && !rest.empty() && rest.front() != '/')
      note(card, "text after the closing quote of a string value");
    value.resize(trim_right(value).size());
    return;
  }
  std::string_view rest = text.substr(i);
  std::size_t slash = rest.find('/');
  std::string_view token = trim_right(rest.substr(0, slash));
  card.value = std::string(token);
  if (token == "T" || token == "F") {
    card.kind_of_value = ValueKind::kBoolean;
  } else if (is_fits_number(token)) {
    card.kind_of_value = ValueKind::kNumber;
  } else if (token.size() >= 2 && token.front() == '(' && token.back() == ')') {
    // A complex number, kept as written.
  } else {
    note(card, "value is neither a string, a logical nor a number");
  }
}

bool is_ident_start(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

bool is_ident_char(char c) {
  return is_ident_start(c) || (c >= '0' && c <= '9');
}

std::size_t skip_digits(std::string_view text, std::size_t i) {
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  return i;
}

// A record-valued keyword card (the WCS distortion paper's convention, which astropy and
// WCSLIB read): KEY = 'FIELD.SPEC: number' / comment, where FIELD.SPEC is identifiers with
// optional ".digits" joined by '.', as astropy's regular expression defines it. Returns the
// field specifier and the number as written, or nothing.
std::optional<std::pair<std::string, std::string>> record_value(std::string_view rest) {
  std::size_t i = 0;
  while (i < rest.size() && is_blank(rest[i])) ++i;
  if (i == rest.size() || rest[i] != '\'') return std::nullopt;
  std::size_t field_start = ++i;
  for (;;) {
    if (i == rest.size() || !is_ident_start(rest[i])) return std::nullopt;
    while (i < rest.size() && is_ident_char(rest[i])) ++i;
    if (i + 1 < rest.size() && rest[i] == '.' && rest[i + 1] >= '0' && rest[i + 1] <= '9')
      i = skip_digits(rest, i + 1);
    if (i < rest.size() && rest[i] == '.') {
      ++i;
      continue;
    }
    break;
  }
  std::string_view field = rest.substr(field_start, i - field_start);
  if (i == rest.size() || rest[i] != ':') return std::nullopt;
  if (++i == rest.size() || !is_blank(rest[i])) return std::nullopt;
  while (i < rest.size() && is_blank(rest[i])) ++i;
  // [+-]? (.digits | digits[.digits?]) ([DE][+-]?digits)?
  std::size_t number_start = i;
  if (i < rest.size() && (rest[i] == '+' || rest[i] == '-')) ++i;
  if (i < rest.size() && rest[i] == '.') {
    std::size_t after = skip_digits(rest, i + 1);
    if (after == i + 1) return std::nullopt;
    i = after;
  } else {
    std::size_t after = skip_digits(rest, i);
    if (after == i) return std::nullopt;
    i = after;
    if (i < rest.size() && rest[i] == '.') i = skip_digits(rest, i + 1);
  }
  if (i < rest.size() && (rest[i] == 'E' || rest[i] == 'D')) {
    std::size_t j = i + 1;
    if (j < rest.size() && (rest[j] == '+' || rest[j] == '-')) ++j;
    std::size_t after = skip_digits(rest, j);
    if (after == j) return std::nullopt;
    i = after;
  }
  std::string_view number = rest.substr(number_start, i - number_start);
  if (i == rest.size() || rest[i] != '\'') return std::nullopt;
  ++i;
  while (i < rest.size() && is_blank(rest[i])) ++i;
  if (i < rest.size()) {
    if (rest[i] != '/') return std::nullopt;
    for (++i; i < rest.size(); ++i) {
      if (rest[i] < 0x20 || rest[i] > 0x7e) return std::nullopt;
    }
  }
  return std::make_pair(std::string(field), std::string(number));
}

}  // namespace

std::string_view trim_right(std::string_view text) {
  while (!text.empty() && (is_blank(text.back()) || text.back() == '\0')) text.remove_suffix(1);
  return text;
}

std::vector<Continuation> continuations(const std::vector<Card>& cards) {
  std::vector<Continuation> roles(cards.size(), Continuation::kNone);
  const Card* piece = nullptr;  // the last piece of an open string, if any
  for (std::size_t i = 0; i < cards.size(); ++i) {
    const Card& card = cards[i];
    if (card.kind != Card::Kind::kContinue) {
      piece = card.kind == Card::Kind::kValue && card.quoted ? &card : nullptr;
      continue;
    }
    if (piece == nullptr || !card.quoted) {
      roles[i] = Continuation::kStray;
      piece = nullptr;
      continue;
    }
    bool ampersand = !piece->value.empty() && piece->value.back() == '&';
    roles[i] = ampersand ? Continuation::kContinues : Continuation::kContinuesWithoutAmpersand;
    piece = &card;
  }
  return roles;
}

bool is_end_card(std::string_view text) {
  if (text.size() < 3 || text.substr(0, 3) != "END") return false;
  // astropy ends the header at "END" followed by anything that cannot continue a keyword (a
  // blank, a newline, '=', '/'), so "END\n" and "END  junk" end it too. A lowercase letter
  // continues one here (a lowercase keyword such as "ENDtime" is read upper-cased).
  if (text.size() == 3) return true;
  char next = text[3];
  return !valid_keyword_char(next) && !(next >= 'a' && next <= 'z');
}

bool is_exact_end_card(std::string_view text) {
  return text.size() == kCardBytes && text.substr(0, 3) == "END" &&
         text.find_first_not_of(' ', 3) == std::string_view::npos;
}

Card parse_card(std::string_view raw, bool may_end) {
  // A whole card is read where it is; only the short last card of a truncated file is copied
  // to be padded.
  std::string padded;
  std::string_view text = raw.substr(0, kCardBytes);
  if (text.size() < kCardBytes) {
    padded.assign(text);
    padded.resize(kCardBytes, ' ');
    text = padded;
  }
  Card card;
  if (any_byte(text, [](unsigned char byte) { return (byte < 0x20) | (byte > 0x7e); }))
    note(card, "byte outside printable ASCII");
  std::string_view name = trim_right(text.substr(0, 8));
  std::string_view body = text.substr(8);

  if (may_end && is_end_card(text)) {
    card.kind = Card::Kind::kEnd;
    card.keyword = "END";
    // astropy ignores such text (with a warning) and so does the reader: the header ends.
    // That says more than a control byte among it would.
    card.problem.clear();
    if (!trim(text.substr(3, 5)).empty()) {
      note(card, "END card is followed by text in columns 4-80 (ignored, as astropy does)");
    } else if (!trim(body).empty()) {
      note(card, "END card is followed by text in columns 9-80 (ignored, as astropy does)");
    }
    return card;
  }
  if (name == "HIERARCH") {
    std::size_t eq = body.find('=');
    if (eq != std::string_view::npos) {
      card.kind = Card::Kind::kValue;
      card.hierarch = true;
      std::string_view words = body.substr(0, eq);
      std::size_t i = 0;
      while (i < words.size()) {
        while (i < words.size() && is_blank(words[i])) ++i;
        std::size_t start = i;
        while (i < words.size() && !is_blank(words[i])) ++i;
        if (i > start) {
          if (!card.keyword.empty()) card.keyword.push_back(' ');
          card.keyword.append(words.substr(start, i - start));
        }
      }
      if (card.keyword.empty()) note(card, "HIERARCH card without a keyword");
      parse_value(body.substr(eq + 1), card);
      return card;
    }
  }
  card.keyword = std::string(name);
  // Readers look keywords up in upper case (astropy upper-cases them, CFITSIO compares
  // case-insensitively), so a lowercase keyword is shown as they see it.
  for (char& c : card.keyword) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  if (card.keyword != name) {
    note(card, "keyword '" + std::string(name) + "' is not upper case (shown as " + card.keyword +
                   ", as astropy and CFITSIO read it)");
  }
  name = card.keyword;
  for (char c : name) {
    if (!valid_keyword_char(c)) {
      note(card, "keyword '" + card.keyword + "' has characters FITS does not allow");
      break;
    }
  }
  if (name.find(' ') != std::string_view::npos)
    note(card, "keyword '" + card.keyword + "' contains a blank");
  if (name == "COMMENT" || name == "HISTORY" || name.empty()) {
    card.value = std::string(trim_right(body));
    return card;
  }
  if (body.substr(0, 2) == "= ") {
    card.kind = Card::Kind::kValue;
    parse_value(body.substr(2), card);
    // Shown as astropy names it (DP1.AXIS.1 = 1): the four DP1 cards of a distortion are
    // four values, not DP1, DP1#2, ... header.txt keeps the card as written.
    if (card.quoted && card.value.find(": ") != std::string::npos) {
      if (auto record = record_value(body.substr(2))) {
        card.keyword += "." + record->first;
        card.value = std::move(record->second);
        card.kind_of_value = ValueKind::kNumber;
        card.quoted = false;
      }
    }
    return card;
  }
  if (name == "CONTINUE") {
    card.kind = Card::Kind::kContinue;
    parse_value(body, card);
    return card;
  }
  card.value = std::string(trim_right(body));
  return card;
}

}  // namespace metafs::extract::fits
