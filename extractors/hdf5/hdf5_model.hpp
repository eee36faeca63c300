#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "hdf5_limits.hpp"

namespace metafs::extract::hdf5 {

// The library's HADDR_UNDEF: an address that points nowhere.
inline constexpr std::uint64_t kUndefinedAddress = UINT64_MAX;

// One decoded data element (of an attribute or a fill value), kept structured until the whole
// file is known so that references can be shown as paths.
struct Value {
  enum class Kind : std::uint8_t { kNumber, kString, kReference, kCompound, kSequence };
  Kind kind = Kind::kString;
  std::string text;                // kNumber, kString (enum names are strings)
  std::uint64_t address = 0;       // kReference: object header address, 0 = null reference
  bool region = false;             // kReference: a dataset region reference
  std::vector<std::string> names;  // kCompound: member names
  std::vector<Value> items;        // kCompound members, kSequence elements
  std::uint64_t total = 0;         // kSequence: elements in the file (items may hold fewer)
};

// A type in h5dump's notation, both as a block (lines after the first indented relative to
// level 0, three spaces a level; a newline inside a member name is NUL there, so that only
// the block's own lines get indented) and on one line.
struct TypeText {
  std::string block;
  std::string compact;
};

// Types are shared: a file repeats a few types over many attributes and datasets.
using SharedTypeText = std::shared_ptr<const TypeText>;

struct Dataspace {
  enum class Class : std::uint8_t { kScalar, kSimple, kNull, kUnknown };
  Class cls = Class::kUnknown;
  std::vector<std::uint64_t> dims;
  std::vector<std::uint64_t> max_dims;  // kUnlimited for unlimited dimensions
  static constexpr std::uint64_t kUnlimited = UINT64_MAX;
};

// The decoded content of an attribute or fill value.
struct Data {
  std::vector<Value> values;  // the first elements, in C order
  std::uint64_t count = 0;    // elements in the file
  std::string problem;        // why values is empty or incomplete, "" when complete
  bool failed = false;        // the library failed to read it (a damaged file)
};

struct Attribute {
  std::string name;
  SharedTypeText type;                          // null when the library could not give it
  std::optional<std::uint64_t> committed_type;  // address of the committed type it uses
  Dataspace space;
  Data data;
};

struct DatasetInfo {
  SharedTypeText type;                          // null when the library could not give it
  std::optional<std::uint64_t> committed_type;  // address of the named datatype it uses
  Dataspace space;
  std::string layout;  // contiguous, chunked, compact, virtual
  std::vector<std::uint64_t> chunks;
  std::vector<std::string> filters;
  std::string fill_state;          // undefined, default, user-defined
  std::optional<Data> fill_value;  // absent when undefined or not readable
  std::optional<std::uint64_t> storage_size;
  std::vector<std::string> external_files;  // "name offset size" of external raw storage
};

struct Node {
  enum class Kind : std::uint8_t {
    kGroup,
    kDataset,
    kDatatype,
    kOtherObject,  // an object type this library version does not know
    kHardLink,     // a further link to an object listed earlier (or its cycle)
    kSoftLink,
    kExternalLink,
    kUserDefinedLink,
    kUnreadable,  // a link whose object could not be opened (see notes)
  };
  Kind kind = Kind::kGroup;
  std::string name;                 // link name; "/" for the root group
  std::uint64_t address = 0;        // objects and hard links: object header address
  Kind target_kind = Kind::kGroup;  // kHardLink: what the first link showed
  std::string target;               // soft/external link target path
  std::string target_file;          // external link file
  int link_class = 0;               // user-defined link class
  std::vector<Attribute> attributes;
  std::uint64_t attribute_count = 0;  // in the file (attributes may list fewer)
  std::unique_ptr<DatasetInfo> dataset;
  std::optional<TypeText> datatype;  // kDatatype
  std::vector<Node> children;
  std::uint64_t link_count = 0;    // groups: links in the file (children may list fewer)
  std::vector<std::string> notes;  // limits reached and parts that could not be read
};

struct FileModel {
  Node root;
  unsigned superblock_version = 0;
  std::uint64_t userblock_size = 0;
  // Object header address -> the path of its first link (h5dump's notion of the object's
  // name, used for hard links, named datatypes and references).
  std::unordered_map<std::uint64_t, std::string> paths;
  std::vector<std::string> notes;  // file-wide limits reached
  std::size_t unreadable = 0;      // parts the library failed to read (each noted in place)
  // Object header address -> the object's comment (H5Oget_comment), for objects that have one.
  std::unordered_map<std::uint64_t, std::string> comments;
  // Committed datatypes that datasets use but no link names, in the order h5dump finds them
  // (the first dataset using each, depth-first in name order): h5dump's "/#<address>" types,
  // as kDatatype nodes named "#<address>" with their attributes.
  std::vector<Node> anonymous_types;
};

}  // namespace metafs::extract::hdf5
