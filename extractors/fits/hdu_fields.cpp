#include "fits/hdu_fields.hpp"

#include <charconv>
#include <map>
#include <string_view>
#include <unordered_map>

namespace metafs::extract::fits {
namespace {

constexpr long kMaxColumns = 999;

const Card* find_value(const std::vector<Card>& cards, std::string_view keyword) {
  for (const Card& card : cards) {
    if (card.kind == Card::Kind::kValue && !card.hierarch && card.keyword == keyword) return &card;
  }
  return nullptr;
}

}  // namespace

std::string keyword_value(const std::vector<Card>& cards, std::string_view keyword) {
  const Card* card = find_value(cards, keyword);
  return card ? card->value : std::string();
}

void add_keyword_fields(MetaTree& tree, NodeId dir, const std::vector<Card>& cards) {
  // Commentary keywords collect their lines first, so each becomes one file at the place of
  // its first card.
  std::map<std::string, std::vector<std::string>, std::less<>> commentary;
  std::vector<std::pair<std::string, std::size_t>> order;  // name, index of first card
  // Stray CONTINUE cards (no string to continue) are listed like COMMENT, not dropped.
  std::vector<Continuation> roles = continuations(cards);
  for (std::size_t i = 0; i < cards.size(); ++i) {
    const Card& card = cards[i];
    bool stray = roles[i] == Continuation::kStray;
    if (card.kind != Card::Kind::kCommentary && !stray) continue;
    bool grouped =
        stray || card.keyword == "COMMENT" || card.keyword == "HISTORY" || card.keyword.empty();
    if (!grouped) continue;
    std::string name = card.keyword.empty() ? kBlankKeywordName : card.keyword;
    // An entirely blank card is padding, not text.
    if (card.keyword.empty() && card.value.empty()) continue;
    auto [it, inserted] = commentary.try_emplace(name);
    if (inserted) order.emplace_back(name, i);
    it->second.push_back(card.value);
  }

  std::size_t next_group = 0;
  for (std::size_t i = 0; i < cards.size(); ++i) {
    while (next_group < order.size() && order[next_group].second == i) {
      const std::string& name = order[next_group].first;
      std::vector<std::string> lines = std::move(commentary.find(name)->second);
      if (name == kBlankKeywordName) {
        tree.add_list(dir, Verbatim{kBlankKeywordName}, std::move(lines), ValueKind::kString, "\n");
      } else {
        tree.add_list(dir, name, std::move(lines), ValueKind::kString, "\n");
      }
      ++next_group;
    }
    const Card& card = cards[i];
    switch (card.kind) {
      case Card::Kind::kEnd:
      case Card::Kind::kContinue:  // folded into the string before it, or listed above
        break;
      case Card::Kind::kCommentary:
        if (card.keyword == "COMMENT" || card.keyword == "HISTORY" || card.keyword.empty()) break;
        tree.add_value(dir, card.keyword, card.value, ValueKind::kString);
        break;
      case Card::Kind::kValue: {
        std::string value = card.value;
        // The long-string convention, as astropy reads it (see continuations()).
        bool continued = false;
        for (std::size_t j = i + 1;
             j < cards.size() && (roles[j] == Continuation::kContinues ||
                                  roles[j] == Continuation::kContinuesWithoutAmpersand);
             ++j) {
          if (!value.empty() && value.back() == '&') value.pop_back();
          value += cards[j].value;
          continued = true;
        }
        if (continued && !value.empty() && value.back() == '&') value.pop_back();
        tree.add_value(dir, card.keyword, std::move(value), card.kind_of_value);
        break;
      }
    }
  }
}

void add_column_fields(MetaTree& tree, NodeId columns, const std::vector<Card>& cards) {
  const Card* tfields = find_value(cards, "TFIELDS");
  long count = 0;
  if (tfields != nullptr) {
    std::from_chars(tfields->value.data(), tfields->value.data() + tfields->value.size(), count);
  }
  if (count > kMaxColumns) {
    tree.add_value(columns, "note",
                   "TFIELDS = " + tfields->value + ": only the first 999 columns are shown");
    count = kMaxColumns;
  }
  if (count <= 0) return;
  // The first value card of each keyword, as find_value finds it: one pass over the cards,
  // not three per column.
  std::unordered_map<std::string_view, const Card*> first;
  first.reserve(cards.size());
  for (const Card& card : cards) {
    if (card.kind == Card::Kind::kValue && !card.hierarch) first.try_emplace(card.keyword, &card);
  }
  auto find = [&first](const std::string& keyword) -> const Card* {
    auto it = first.find(keyword);
    return it == first.end() ? nullptr : it->second;
  };
  for (long n = 1; n <= count; ++n) {
    std::string suffix = std::to_string(n);
    NodeId column = tree.add_dir(columns, suffix);
    const Card* name = find("TTYPE" + suffix);
    tree.add_value(column, "name", name ? name->value : std::string());
    const Card* format = find("TFORM" + suffix);
    tree.add_value(column, "format", format ? format->value : std::string());
    if (const Card* unit = find("TUNIT" + suffix)) tree.add_value(column, "unit", unit->value);
  }
}

}  // namespace metafs::extract::fits
