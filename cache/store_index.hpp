#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace metafs::cache {

// The query index's terms of an entry's value (none: an empty vector). Called inside write
// transactions, on the store's writer thread, for values being replaced, erased or evicted,
// and for every entry when the index is rebuilt; must not throw.
using TermsOf = std::function<void(std::string_view key, std::string_view value,
                                   std::vector<std::string>* terms)>;

}  // namespace metafs::cache
