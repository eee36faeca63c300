#include "codec.hpp"

#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

namespace metafs::extract {
namespace {

constexpr std::string_view kMagic = "MFSX";
// Level 1 compresses the corpus's bodies within 5 % of level 3, in less time.
constexpr int kZstdLevel = 1;
constexpr std::uint8_t kVersionAlwaysZstd = 2;
constexpr std::uint8_t kEmptyListBit = 0x80;
constexpr std::size_t kReservedNodes = 4096;

// The separator a list's text was joined with (a view into it). Lists are only made by
// MetaTree::add_list, which sets text = join(items, separator); checked without a copy.
std::string_view list_separator(const MetaNode& node) {
  const auto& items = node.items;
  if (items.size() < 2) return {};
  std::string_view text = node.text;
  std::size_t item_bytes = 0;
  for (const auto& item : items) item_bytes += item.size();
  if (text.size() < item_bytes || (text.size() - item_bytes) % (items.size() - 1) != 0) {
    throw std::logic_error("encode_extraction: list text is not its items joined");
  }
  std::size_t sep_size = (text.size() - item_bytes) / (items.size() - 1);
  std::string_view separator = text.substr(items[0].size(), sep_size);
  std::size_t at = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i != 0) {
      if (text.compare(at, sep_size, separator) != 0) {
        throw std::logic_error("encode_extraction: list text is not its items joined");
      }
      at += sep_size;
    }
    if (text.compare(at, items[i].size(), items[i]) != 0) {
      throw std::logic_error("encode_extraction: list text is not its items joined");
    }
    at += items[i].size();
  }
  return separator;
}

// The body is written in two passes over the same code: SizeSink counts its bytes, then
// RawSink writes them into a buffer of exactly that size (no growth, no second copy).
struct SizeSink {
  std::size_t size = 0;
  void u8(std::uint8_t) { ++size; }
  void varint(std::uint64_t value) { size += varint_size(value); }
  void bytes(std::string_view b) {
    varint(b.size());
    size += b.size();
  }
};

struct RawSink {
  char* at;
  char* end;
  // The two passes read the same const extraction the same way; should they ever disagree,
  // this stops the write at the buffer's end instead of past it.
  void room(std::size_t n) const {
    if (n > static_cast<std::size_t>(end - at)) {
      throw std::logic_error("encode_extraction: body size changed");
    }
  }
  void u8(std::uint8_t byte) {
    room(1);
    *at++ = static_cast<char>(byte);
  }
  void varint(std::uint64_t value) {
    room(varint_size(value));
    while (value >= 0x80) {
      *at++ = static_cast<char>((value & 0x7f) | 0x80);
      value >>= 7;
    }
    *at++ = static_cast<char>(value);
  }
  void bytes(std::string_view b) {
    varint(b.size());
    room(b.size());
    if (!b.empty()) std::memcpy(at, b.data(), b.size());
    at += b.size();
  }
};

template <typename Sink>
void write_body(const Extraction& x, Sink& out) {
  out.u8(static_cast<std::uint8_t>(x.format));
  out.bytes(x.header);
  out.bytes(x.error);
  out.varint(x.extra_files.size());
  for (const auto& [name, content] : x.extra_files) {
    out.bytes(name);
    out.bytes(content);
  }
  const auto& nodes = x.tree.nodes();
  out.varint(nodes.size() - 1);  // the root is implied
  for (std::size_t i = 1; i < nodes.size(); ++i) {
    const MetaNode& n = nodes[i];
    out.u8(static_cast<std::uint8_t>(n.type));
    // An empty list (an HDF5 attribute of 0 elements) is a scalar's encoding with this bit
    // on its kind: [] in metadata.json, distinct from "".
    bool empty_list = n.type == MetaNode::Type::kValue && n.list && n.items.empty();
    out.u8(static_cast<std::uint8_t>(static_cast<std::uint8_t>(n.kind) |
                                     (empty_list ? kEmptyListBit : 0)));
    out.varint(n.parent);
    out.bytes(n.name);
    if (n.type == MetaNode::Type::kValue && !n.items.empty()) {
      out.varint(n.items.size());
      out.bytes(list_separator(n));
      for (const auto& item : n.items) out.bytes(item);
    } else {
      if (n.type == MetaNode::Type::kValue) out.varint(0);
      if (n.type != MetaNode::Type::kDirectory) out.bytes(n.text);
    }
  }
}

std::size_t body_size(const Extraction& x) {
  SizeSink sink;
  write_body(x, sink);
  return sink.size;
}

// Writes the body of `size` bytes (body_size) at `at`.
void write_body_at(const Extraction& x, char* at, std::size_t size) {
  RawSink sink{at, at + size};
  write_body(x, sink);
  if (sink.at != at + size) throw std::logic_error("encode_extraction: body size changed");
}

bool valid_file_name(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return false;
  // A plain loop: find_first_of with a set calls memchr once per byte of the name (7 % of
  // the codec's time on DICOM trees).
  return std::none_of(name.begin(), name.end(), [](char c) { return c == '/' || c == '\0'; });
}

void decode_tree(ByteReader& in, MetaTree& tree) {
  // Each non-root node takes at least 4 bytes: type, kind, parent, name length.
  std::size_t count = in.count(kMaxNodes - 1, 4, "nodes") + 1;
  std::vector<std::uint16_t> depth(count, 0);
  // Room for the nodes at once, up to kReservedNodes (about 0.5 MB): past that a body that
  // only claims a count (4 bytes a node) would have the tree's ~130 bytes a node allocated
  // before any node is read; larger trees grow as they are read.
  tree.reserve(std::min(count, kReservedNodes));
  for (std::size_t i = 1; i < count; ++i) {
    std::uint8_t type = in.u8();
    std::uint8_t kind = in.u8();
    bool empty_list = (kind & kEmptyListBit) != 0;
    kind = static_cast<std::uint8_t>(kind & ~kEmptyListBit);
    if (type > static_cast<std::uint8_t>(MetaNode::Type::kLink)) throw CodecError("bad node type");
    if (empty_list && type != static_cast<std::uint8_t>(MetaNode::Type::kValue)) {
      throw CodecError("an empty list that is not a value");
    }
    if (kind > static_cast<std::uint8_t>(ValueKind::kBoolean)) throw CodecError("bad value kind");
    auto parent = static_cast<NodeId>(in.varint_max(i - 1, "parent id"));
    if (!tree.node(parent).is_dir()) throw CodecError("parent is not a directory");
    depth[i] = static_cast<std::uint16_t>(depth[parent] + 1);
    if (depth[i] > kMaxTreeDepth) throw CodecError("tree too deep");
    std::string_view name = in.bytes(kMaxNameBytes, "name");
    if (!valid_file_name(name)) throw CodecError("invalid node name");
    Verbatim verbatim{name};
    NodeId id = 0;
    auto node_type = static_cast<MetaNode::Type>(type);
    auto value_kind = static_cast<ValueKind>(kind);
    if (node_type == MetaNode::Type::kDirectory) {
      if (value_kind != ValueKind::kString) throw CodecError("directory with a value kind");
      id = tree.add_dir(parent, verbatim);
    } else if (node_type == MetaNode::Type::kLink) {
      if (value_kind != ValueKind::kString) throw CodecError("link with a value kind");
      id = tree.add_link(parent, verbatim, std::string(in.bytes(kMaxBodyBytes, "link target")));
    } else {
      // Each item takes at least its length byte.
      std::size_t items = in.count(kMaxBodyBytes, 1, "list items");
      if (items == 0) {
        std::string text(in.bytes(kMaxBodyBytes, "value"));
        if (empty_list && !text.empty()) throw CodecError("an empty list with a value");
        id = empty_list ? tree.add_list(parent, verbatim, {}, value_kind, "")
                        : tree.add_value(parent, verbatim, std::move(text), value_kind);
      } else {
        if (empty_list) throw CodecError("an empty list with items");
        std::string_view separator = in.bytes(kMaxBodyBytes, "separator");
        std::vector<std::string> list;
        list.reserve(items);
        for (std::size_t k = 0; k < items; ++k) {
          list.emplace_back(in.bytes(kMaxBodyBytes, "list item"));
        }
        id = tree.add_list(parent, verbatim, std::move(list), value_kind, separator);
      }
    }
    if (id != i) throw CodecError("inconsistent node ids");
    // The tree renames a taken name ("#2"); names are within its cap, so only then.
    if (tree.node(id).name != name) throw CodecError("duplicate node name");
  }
}

Extraction decode_body(std::string_view body) {
  ByteReader in(body);
  Extraction x;
  std::uint8_t format = in.u8();
  if (format > static_cast<std::uint8_t>(Format::kNetcdf)) throw CodecError("bad format");
  x.format = static_cast<Format>(format);
  x.header = std::string(in.bytes(kMaxBodyBytes, "header"));
  x.error = std::string(in.bytes(kMaxBodyBytes, "error"));
  std::size_t extras = in.count(kMaxExtraFiles, 2, "extra files");
  x.extra_files.reserve(extras);
  for (std::size_t i = 0; i < extras; ++i) {
    std::string_view name = in.bytes(kMaxNameBytes, "extra file name");
    if (!valid_file_name(name)) throw CodecError("invalid extra file name");
    std::string_view content = in.bytes(kMaxBodyBytes, "extra file");
    x.extra_files.emplace_back(std::string(name), std::string(content));
  }
  decode_tree(in, x.tree);
  if (!in.at_end()) throw CodecError("trailing bytes after the tree");
  return x;
}

struct ZstdCCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct ZstdDCtxDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

}  // namespace

std::string encode_extraction(const Extraction& extraction, BodyCompression compression) {
  if (extraction.extra_files.size() > kMaxExtraFiles) {
    throw std::length_error("too many extra files for the codec");
  }
  if (extraction.tree.size() > kMaxNodes) throw std::length_error("too many nodes for the codec");
  // Whatever the decoder would refuse is refused here, so a stored record always decodes.
  const auto& nodes = extraction.tree.nodes();
  std::vector<std::uint16_t> depth(nodes.size(), 0);
  for (std::size_t i = 1; i < nodes.size(); ++i) {
    depth[i] =
        static_cast<std::uint16_t>(std::min<std::size_t>(depth[nodes[i].parent] + 1, 0xffff));
    if (depth[i] > kMaxTreeDepth) throw std::length_error("tree deeper than the codec cap");
    if (nodes[i].name.size() > kMaxNameBytes)
      throw std::length_error("name longer than the codec cap");
  }
  for (const auto& [name, content] : extraction.extra_files) {
    if (name.size() > kMaxNameBytes) throw std::length_error("name longer than the codec cap");
  }
  const std::size_t size = body_size(extraction);
  if (size > kMaxBodyBytes) throw std::length_error("extraction larger than the codec cap");

  std::string out(kMagic);
  out.push_back(static_cast<char>(kCodecVersion));
  out.push_back(static_cast<char>(compression));
  put_varint(out, size);
  std::size_t checksum_at = out.size();
  out.append(8, '\0');
  std::size_t frame_at = out.size();
  if (compression == BodyCompression::kStored) {
    out.resize(frame_at + size);
    write_body_at(extraction, out.data() + frame_at, size);
  } else {
    // The body and the frame go to buffers the thread keeps (up to kKeptBytes each), not to
    // fresh strings: a fresh string's pages were faulted in for every record.
    constexpr std::size_t kKeptBytes = 256 << 10;
    thread_local std::unique_ptr<ZSTD_CCtx, ZstdCCtxDeleter> cctx(ZSTD_createCCtx());
    thread_local std::unique_ptr<char[]> kept_body(new char[kKeptBytes]);
    thread_local std::unique_ptr<char[]> kept_frame(new char[kKeptBytes]);
    if (!cctx) throw std::bad_alloc();
    std::unique_ptr<char[]> large_body;
    char* body = kept_body.get();
    if (size > kKeptBytes) {
      large_body.reset(new char[size]);
      body = large_body.get();
    }
    write_body_at(extraction, body, size);
    std::size_t bound = ZSTD_compressBound(size);
    std::unique_ptr<char[]> large_frame;
    char* frame = kept_frame.get();
    if (bound > kKeptBytes) {
      large_frame.reset(new char[bound]);
      frame = large_frame.get();
    }
    std::size_t n = ZSTD_compressCCtx(cctx.get(), frame, bound, body, size, kZstdLevel);
    if (ZSTD_isError(n)) throw std::runtime_error(ZSTD_getErrorName(n));
    out.reserve(frame_at + n);
    out.append(frame, n);
  }
  std::uint64_t checksum = XXH3_64bits(out.data() + frame_at, out.size() - frame_at);
  for (int i = 0; i < 8; ++i) {
    out[checksum_at + i] = static_cast<char>((checksum >> (56 - 8 * i)) & 0xff);
  }
  return out;
}

Extraction decode_extraction(std::string_view bytes) {
  ByteReader in(bytes);
  if (in.raw(kMagic.size(), "magic") != kMagic) throw CodecError("not a metafs encoding");
  std::uint8_t version = in.u8();
  if (version != kCodecVersion && version != kVersionAlwaysZstd) {
    throw CodecError("unsupported encoding version");
  }
  auto compression = BodyCompression::kZstd;
  if (version == kCodecVersion) {
    std::uint8_t byte = in.u8();
    if (byte > static_cast<std::uint8_t>(BodyCompression::kZstd)) {
      throw CodecError("unknown body compression");
    }
    compression = static_cast<BodyCompression>(byte);
  }
  auto body_size = static_cast<std::size_t>(in.varint_max(kMaxBodyBytes, "body size"));
  std::uint64_t checksum = in.u64_be();
  std::string_view frame = in.raw(in.remaining(), "frame");
  if (XXH3_64bits(frame.data(), frame.size()) != checksum) throw CodecError("checksum mismatch");
  if (compression == BodyCompression::kStored) {
    if (frame.size() != body_size) throw CodecError("stored body size does not match");
    return decode_body(frame);
  }
  unsigned long long declared = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (declared != body_size) throw CodecError("frame size does not match the body size");
  if (ZSTD_findFrameCompressedSize(frame.data(), frame.size()) != frame.size()) {
    throw CodecError("bytes after the compressed frame");
  }

  thread_local std::unique_ptr<ZSTD_DCtx, ZstdDCtxDeleter> dctx(ZSTD_createDCtx());
  if (!dctx) throw std::bad_alloc();
  std::string body(body_size, '\0');
  std::size_t n =
      ZSTD_decompressDCtx(dctx.get(), body.data(), body.size(), frame.data(), frame.size());
  if (ZSTD_isError(n) || n != body_size) throw CodecError("corrupt compressed body");
  return decode_body(body);
}

std::string zstd_library_version() {
  return ZSTD_versionString();
}

}  // namespace metafs::extract
