#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "entry_name.hpp"
#include "extraction.hpp"

namespace metafs::extraction {

// What a scientific file's directory shows: the fixed files (format, metadata.txt, ...),
// fields/ and everything below it, and the original file, as a flat list of entries.
// Immutable once built apart from lazily rendered bytes, so a node that refers to an entry of
// a view always sees one consistent snapshot of the file's metadata.
class DataView {
 public:
  using EntryId = std::uint32_t;
  static constexpr EntryId kRootEntry = 0;  // the data directory itself
  static constexpr EntryId kNoEntry = UINT32_MAX;
  // The original file's entry, whatever its name, so that opening it needs no view; listed
  // (last) only when it has a name.
  static constexpr EntryId kOriginalEntry = 1;
  // The metadata tree's directory at the view's top.
  static constexpr std::string_view kFieldsName = "fields";
  // The original file's name when its own name is one of the view's.
  static constexpr std::string_view kOriginalFallbackName = "original";

  enum class EntryType : std::uint8_t { kDirectory, kFile, kLink };

  // `source` is the lstat of the data file; its owner, permissions and times are inherited.
  // `file_name` is the data file's own name: the original file is shown under it, or under
  // kOriginalFallbackName when the view has an entry of that name (a DICOM file named
  // metadata.json); empty: no original entry. The name never needs shortening: SOURCE holds it.
  DataView(std::shared_ptr<const extract::Extraction> extraction, const struct stat& source,
           std::string_view file_name = {});

  // The names a data directory can have at its top (format, fields, metadata.txt, ...), not
  // counting the original file.
  static std::vector<std::string> fixed_names();
  // Every name the directory of data file `file_name` can have at its top: the fixed names
  // and the original's.
  static std::vector<std::string> top_names(std::string_view file_name);

  EntryType type(EntryId id) const { return entries_.at(id).type; }
  const std::string& name(EntryId id) const { return entries_.at(id).name; }
  EntryId parent(EntryId id) const { return entries_.at(id).parent; }
  const std::vector<EntryId>& children(EntryId id) const { return entries_.at(id).children; }
  EntryId find(EntryId dir, std::string_view name) const;
  // True for the entry that stands for the data file itself: its bytes are the source file's,
  // read through a descriptor of it, never held by the view (content() is empty).
  bool is_original(EntryId id) const { return entries_.at(id).content == Content::kOriginal; }
  std::size_t entry_count() const { return entries_.size(); }

  // The bytes of a file entry, or the target of a link entry. Rendered on first use.
  std::shared_ptr<const std::string> content(EntryId id) const;

  // Attributes of an entry (st_ino left 0 for the caller to fill).
  struct stat attributes(EntryId id) const;

  const extract::Extraction& extraction() const { return *extraction_; }

  // Approximate heap bytes, including an allowance for what is rendered on demand; fixed when
  // the view is built.
  std::size_t memory_bytes() const { return bytes_; }

  // Every view alive in the process, in the view LRU or not (held by a listing or a request
  // after the LRU let it go): what --memory-limit must cover.
  struct Live {
    std::uint64_t views = 0;
    std::uint64_t bytes = 0;  // sum of memory_bytes()
  };
  static Live live();

  ~DataView();
  DataView(const DataView&) = delete;
  DataView& operator=(const DataView&) = delete;

 private:
  enum class Content : std::uint8_t {
    kNone,       // directories
    kOwned,      // text owned by the entry (format, error, link targets)
    kExtraFile,  // one of the format's own files (dicom.json): extra_files[tree_node]
    kTreeValue,  // a value of the tree: text + "\n"
    kTreeLink,   // a link of the tree
    kMetadataTxt,
    kMetadataJson,
    kHeader,
    kOriginal,  // the data file itself
  };
  struct Entry {
    EntryType type;
    Content content;
    bool tree_dir;  // fields/ or a directory below it
    EntryId parent;
    std::uint32_t tree_node;  // kTreeValue / kTreeLink / tree directories; kExtraFile's index
    std::string name;
    std::vector<EntryId> children;
    std::shared_ptr<const std::string> text;  // kOwned
  };

  EntryId add(EntryId parent, std::string name, EntryType type, Content content);
  void add_tree(EntryId dir, std::uint32_t tree_node, extract::LinkTargets& links);
  std::uint64_t size_of(EntryId id) const;
  std::size_t compute_memory_bytes() const;
  static std::string shortened_key(EntryId dir, std::string_view name);

  std::shared_ptr<const extract::Extraction> extraction_;
  struct stat source_ {};
  std::vector<Entry> entries_;
  // (directory, name) -> entry for names of fields/ shortened to fit NAME_MAX, which the
  // tree's own index does not know.
  std::unordered_map<std::string, EntryId> shortened_;

  std::size_t bytes_ = 0;  // compute_memory_bytes() once built

  mutable std::once_flag txt_once_, json_once_;
  mutable std::shared_ptr<const std::string> txt_, json_;
};

}  // namespace metafs::extraction
