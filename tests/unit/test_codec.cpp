#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include <random>
#include <set>
#include <string>

#include "codec.hpp"
#include "render.hpp"
#include "test_cache_trees.hpp"

namespace metafs::extract {
namespace {

using cache::testing::chaotic_extraction;
using cache::testing::corpus_like;

void expect_same(const Extraction& a, const Extraction& b) {
  EXPECT_EQ(a.format, b.format);
  EXPECT_EQ(a.header, b.header);
  EXPECT_EQ(a.error, b.error);
  EXPECT_EQ(a.extra_files, b.extra_files);
  EXPECT_TRUE(a.tree == b.tree);
  // The rendered views (what users see) agree too.
  EXPECT_EQ(extract::render_txt(a.tree), extract::render_txt(b.tree));
  EXPECT_EQ(extract::render_json(a.tree), extract::render_json(b.tree));
}

// The lookup index is rebuilt: every node is found by its parent and name.
void expect_index_complete(const MetaTree& tree) {
  for (std::size_t id = 1; id < tree.size(); ++id) {
    const MetaNode& node = tree.node(static_cast<extract::NodeId>(id));
    EXPECT_EQ(tree.find(node.parent, node.name), id) << tree.path(static_cast<extract::NodeId>(id));
  }
}

// An encoding around an arbitrary body, to feed the decoder structurally hostile bodies
// that still pass the magic/checksum/size checks.
std::string wrap_body(const std::string& body) {
  std::string out = "MFSX";
  out.push_back(static_cast<char>(kCodecVersion));
  out.push_back(static_cast<char>(BodyCompression::kZstd));
  put_varint(out, body.size());
  std::string frame(ZSTD_compressBound(body.size()), '\0');
  frame.resize(ZSTD_compress(frame.data(), frame.size(), body.data(), body.size(), 1));
  put_u64_be(out, XXH3_64bits(frame.data(), frame.size()));
  return out + frame;
}

TEST(CacheCodec, RoundTripsChaoticTrees) {
  for (unsigned seed = 1; seed <= 300; ++seed) {
    std::mt19937 rng(seed);
    Extraction x = chaotic_extraction(rng, seed % 60);
    Extraction y = decode_extraction(encode_extraction(x));
    SCOPED_TRACE("seed " + std::to_string(seed));
    expect_same(x, y);
    expect_index_complete(y.tree);
  }
}

TEST(CacheCodec, RoundTripsCorpusLikeTrees) {
  std::mt19937 rng(7);
  for (int which = 0; which < 3; ++which) {
    Extraction x = corpus_like(rng, which);
    Extraction y = decode_extraction(encode_extraction(x));
    expect_same(x, y);
    expect_index_complete(y.tree);
  }
}

TEST(CacheCodec, RoundTripsEdgeCases) {
  Extraction empty;
  expect_same(empty, decode_extraction(encode_extraction(empty)));

  Extraction x;
  x.format = extract::Format::kNetcdf;
  x.error = "parser crashed (signal 11)";
  auto root = MetaTree::kRoot;
  x.tree.add_value(root, "", "");  // escaped to %00
  x.tree.add_value(root, ".", "dot");
  x.tree.add_value(root, "..", "dotdot");
  x.tree.add_value(root, "x", "1");
  x.tree.add_value(root, "x", "2");  // x#2
  x.tree.add_list(root, "empty list", {}, extract::ValueKind::kNumber, ",");
  x.tree.add_list(root, "one", {"only"}, extract::ValueKind::kString, "\\");
  x.tree.add_list(root, "blank items", {"", "", ""}, extract::ValueKind::kString, "\\");
  x.tree.add_list(root, "multi-byte separator", {"a", "b"}, extract::ValueKind::kString, " | ");
  x.tree.add_value(root, "ünïcødé/名前", "значение 🙂", extract::ValueKind::kString);
  x.tree.add_value(root, "bool", "T", extract::ValueKind::kBoolean);
  x.tree.add_link(root, "link", "x#2");
  x.tree.add_value(root, "big", std::string(200000, 'v'));
  x.extra_files.emplace_back("dicom.json", "");
  Extraction y = decode_extraction(encode_extraction(x));
  expect_same(x, y);
  EXPECT_EQ(y.tree.node(y.tree.find(root, "x#2")).text, "2");
  EXPECT_EQ(y.tree.node(y.tree.find(root, "%00")).text, "");
  EXPECT_EQ(y.tree.node(y.tree.find(root, "blank items")).items.size(), 3u);
  // An empty list stays a list ([] in metadata.json), distinct from an empty value ("").
  EXPECT_TRUE(y.tree.node(y.tree.find(root, "empty list")).list);
  EXPECT_FALSE(y.tree.node(y.tree.find(root, "%00")).list);
  std::string json = extract::render_json(y.tree);
  EXPECT_NE(json.find("\"empty list\":[]"), std::string::npos) << json;
  EXPECT_NE(json.find("\"%00\":\"\""), std::string::npos) << json;
}

TEST(CacheCodec, RejectsEveryTruncation) {
  std::mt19937 rng(11);
  for (const Extraction& x : {chaotic_extraction(rng, 40), corpus_like(rng, 0)}) {
    std::string bytes = encode_extraction(x);
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      EXPECT_THROW(decode_extraction(std::string_view(bytes).substr(0, n)), CodecError)
          << "prefix of " << n << " of " << bytes.size();
    }
    EXPECT_THROW(decode_extraction(bytes + '\0'), CodecError);
  }
}

TEST(CacheCodec, RejectsRandomBitFlips) {
  std::mt19937 rng(12);
  std::string bytes = encode_extraction(chaotic_extraction(rng, 50));
  std::string dicom = encode_extraction(corpus_like(rng, 0));
  for (unsigned seed = 0; seed < 3000; ++seed) {
    std::mt19937 flip_rng(seed);
    std::string damaged = seed % 2 ? bytes : dicom;
    std::set<std::size_t> bits;
    for (unsigned n = 1 + flip_rng() % 3; bits.size() < n;) {
      bits.insert(flip_rng() % (damaged.size() * 8));
    }
    for (std::size_t bit : bits) {
      damaged[bit / 8] = static_cast<char>(damaged[bit / 8] ^ (1 << (bit % 8)));
    }
    EXPECT_THROW(decode_extraction(damaged), CodecError) << "seed " << seed;
  }
}

// Damage behind a valid checksum (what a hostile worker can send): the decoder either
// rejects it with CodecError or yields a well-formed extraction that round-trips.
TEST(CacheCodec, DamagedBodiesBehindValidChecksumsNeverCrash) {
  std::mt19937 rng(21);
  std::string encoded = encode_extraction(chaotic_extraction(rng, 60));
  std::size_t header = 4 + 1 + 1;
  ByteReader reader(std::string_view(encoded).substr(header));
  std::size_t body_size = reader.varint();
  std::string_view frame =
      std::string_view(encoded).substr(encoded.size() - reader.remaining() + 8);
  std::string body(body_size, '\0');
  ASSERT_EQ(ZSTD_decompress(body.data(), body.size(), frame.data(), frame.size()), body_size);
  int rejected = 0;
  for (unsigned seed = 0; seed < 3000; ++seed) {
    std::mt19937 flip_rng(seed);
    std::string damaged = body;
    for (unsigned k = 0, n = 1 + flip_rng() % 4; k < n; ++k) {
      damaged[flip_rng() % damaged.size()] = static_cast<char>(flip_rng());
    }
    if (seed % 5 == 0) damaged.resize(flip_rng() % damaged.size());
    try {
      Extraction x = decode_extraction(wrap_body(damaged));
      Extraction y = decode_extraction(encode_extraction(x));
      EXPECT_TRUE(x.tree == y.tree) << "seed " << seed;
    } catch (const CodecError&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 1000);
}

TEST(CacheCodec, RejectsHostileBodies) {
  auto node = [](std::string type_kind_parent, std::string name) {
    std::string out = std::move(type_kind_parent);
    put_bytes(out, name);
    return out;
  };
  // format, header, error, extra file count
  std::string prefix("\x01", 1);
  put_bytes(prefix, "");
  put_bytes(prefix, "");
  std::string no_extras = prefix;
  put_varint(no_extras, 0);

  auto tree = [&](std::size_t count, const std::string& nodes) {
    std::string body = no_extras;
    put_varint(body, count);
    return wrap_body(body + nodes);
  };
  // A valid baseline, so the failures below are for the reason named.
  std::string dir = node(std::string("\x00\x00\x00", 3), "d");
  Extraction ok = decode_extraction(tree(1, dir));
  EXPECT_EQ(ok.tree.node(1).name, "d");

  EXPECT_EQ(decode_extraction(tree(0, "")).tree.size(), 1u);        // the root alone
  EXPECT_THROW(decode_extraction(tree(0, dir)), CodecError);        // bytes after the tree
  EXPECT_THROW(decode_extraction(tree(1000000, dir)), CodecError);  // count past input
  EXPECT_THROW(decode_extraction(tree(1, node(std::string("\x00\x00\x05", 3), "d"))),
               CodecError);  // parent out of range
  EXPECT_THROW(decode_extraction(tree(1, node(std::string("\x00\x00\x01", 3), "d"))),
               CodecError);  // parent is itself
  EXPECT_THROW(decode_extraction(tree(1, node(std::string("\x07\x00\x00", 3), "d"))),
               CodecError);  // bad type
  EXPECT_THROW(decode_extraction(tree(1, node(std::string("\x00\x09\x00", 3), "d"))),
               CodecError);                                         // bad kind
  EXPECT_THROW(decode_extraction(tree(2, dir + dir)), CodecError);  // duplicate name
  for (std::string bad : {std::string(), std::string("."), std::string(".."), std::string("a/b"),
                          std::string("a\0b", 3), std::string(kMaxNameBytes + 1, 'n')}) {
    EXPECT_THROW(decode_extraction(tree(1, node(std::string("\x00\x00\x00", 3), bad))), CodecError)
        << "name of " << bad.size() << " bytes";
  }
  // A value under a value.
  std::string value = node(std::string("\x01\x00\x00", 3), "v");
  put_varint(value, 0);
  put_bytes(value, "text");
  EXPECT_NO_THROW(decode_extraction(tree(1, value)));
  EXPECT_THROW(decode_extraction(tree(2, value + node(std::string("\x00\x00\x01", 3), "c"))),
               CodecError);
  // A list claiming more items than bytes.
  std::string list = node(std::string("\x01\x00\x00", 3), "l");
  put_varint(list, 1u << 30);
  EXPECT_THROW(decode_extraction(tree(1, list)), CodecError);
  // A string length past the input, and an overlong varint.
  std::string long_value = node(std::string("\x01\x00\x00", 3), "v");
  put_varint(long_value, 0);
  put_varint(long_value, 1u << 31);
  EXPECT_THROW(decode_extraction(tree(1, long_value)), CodecError);
  EXPECT_THROW(decode_extraction(tree(
                   1, std::string("\x00\x00\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 13))),
               CodecError);
  // A chain deeper than the cap.
  std::string chain;
  for (std::size_t i = 1; i <= kMaxTreeDepth + 1; ++i) {
    std::string n("\x00\x00", 2);
    put_varint(n, i - 1);
    chain += node(n, "d");
  }
  EXPECT_THROW(decode_extraction(tree(kMaxTreeDepth + 1, chain)), CodecError);
  // Too many extra files, a bad format byte, and a body size that lies.
  std::string extras = prefix;
  put_varint(extras, kMaxExtraFiles + 1);
  EXPECT_THROW(decode_extraction(wrap_body(extras + std::string(1000, '\x01'))), CodecError);
  std::string bad_format = no_extras;
  bad_format[0] = '\x09';
  put_varint(bad_format, 1);
  EXPECT_THROW(decode_extraction(wrap_body(bad_format)), CodecError);
  std::string lie = wrap_body(no_extras + std::string("\x01", 1));
  lie[6] = static_cast<char>(lie[6] + 1);
  EXPECT_THROW(decode_extraction(lie), CodecError);
  // Not an encoding at all.
  EXPECT_THROW(decode_extraction(""), CodecError);
  EXPECT_THROW(decode_extraction("MFSX\x02"), CodecError);
  EXPECT_THROW(decode_extraction(std::string(100, '\0')), CodecError);
}

// A worker's reply keeps its body stored: the same extraction, checked the same way.
TEST(CacheCodec, StoredBodiesRoundTripAndAreChecked) {
  std::mt19937 rng(31);
  for (const Extraction& x : {chaotic_extraction(rng, 40), corpus_like(rng, 0)}) {
    std::string bytes = encode_extraction(x, BodyCompression::kStored);
    EXPECT_EQ(bytes[5], static_cast<char>(BodyCompression::kStored));
    Extraction y = decode_extraction(bytes);
    expect_same(x, y);
    expect_index_complete(y.tree);
    for (std::size_t n = 0; n < bytes.size(); n += 7) {
      EXPECT_THROW(decode_extraction(std::string_view(bytes).substr(0, n)), CodecError);
    }
    EXPECT_THROW(decode_extraction(bytes + '\0'), CodecError);
    std::string flipped = bytes;
    flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 1);
    EXPECT_THROW(decode_extraction(flipped), CodecError);
    std::string unknown = bytes;
    unknown[5] = '\x02';
    EXPECT_THROW(decode_extraction(unknown), CodecError);
    // A zstd frame announced as stored fails its size check.
    std::string zstd = encode_extraction(x);
    zstd[5] = static_cast<char>(BodyCompression::kStored);
    EXPECT_THROW(decode_extraction(zstd), CodecError);
  }
}

// Records written before version 3 (no compression byte, always zstd) still decode.
TEST(CacheCodec, DecodesVersion2Records) {
  std::mt19937 rng(32);
  Extraction x = corpus_like(rng, 0);
  std::string v3 = encode_extraction(x);
  ASSERT_EQ(v3[5], static_cast<char>(BodyCompression::kZstd));
  std::string v2 = v3.substr(0, 4) + '\x02' + v3.substr(6);
  expect_same(x, decode_extraction(v2));
  EXPECT_THROW(decode_extraction(v3.substr(0, 4) + '\x01' + v3.substr(6)), CodecError);
}

TEST(CacheCodec, EncoderRefusesWhatTheDecoderWould) {
  Extraction deep;
  extract::NodeId dir = MetaTree::kRoot;
  for (std::size_t i = 0; i <= kMaxTreeDepth; ++i) dir = deep.tree.add_dir(dir, "d");
  EXPECT_THROW(encode_extraction(deep), std::length_error);
  Extraction long_extra;
  long_extra.extra_files.emplace_back(std::string(kMaxNameBytes + 1, 'n'), "v");
  EXPECT_THROW(encode_extraction(long_extra), std::length_error);
  Extraction at_limits;
  dir = MetaTree::kRoot;
  for (std::size_t i = 0; i < kMaxTreeDepth; ++i) dir = at_limits.tree.add_dir(dir, "d");
  at_limits.tree.add_value(MetaTree::kRoot, std::string(kMaxNameBytes, 'n'), "v");
  EXPECT_TRUE(decode_extraction(encode_extraction(at_limits)).tree == at_limits.tree);
}

// A name past the cap is shortened by the tree itself (entry_name.hpp), so one absurd name
// never makes a file's record unencodable.
TEST(CacheCodec, TreeNamesNeverExceedTheCap) {
  Extraction x;
  x.tree.add_value(MetaTree::kRoot, std::string(kMaxNameBytes + 1, 'n'), "first");
  x.tree.add_value(MetaTree::kRoot, std::string(kMaxNameBytes + 1, 'n'), "again");
  x.tree.add_dir(MetaTree::kRoot, std::string(10 * kMaxNameBytes, 'd'));
  for (const MetaNode& node : x.tree.nodes()) EXPECT_LE(node.name.size(), kMaxNameBytes);
  Extraction y = decode_extraction(encode_extraction(x));
  expect_same(x, y);
  EXPECT_EQ(y.tree.size(), 4u);
}

// A body that claims the most nodes its bytes allow (4 each) and then fails costs no more memory
// than its own size: the decoder reserves room for at most kReservedNodes up front, not for the
// ~130 bytes a node of every node claimed (4 Mi nodes: 550 MB before the first is read).
TEST(CacheCodec, AClaimedNodeCountIsNotAllocatedUpFront) {
  std::string body("\x01", 1);
  put_bytes(body, "");
  put_bytes(body, "");
  put_varint(body, 0);
  std::size_t count = kMaxNodes - 1;
  put_varint(body, count);
  body.append(count * 4, '\0');  // directories named "": refused at the first node
  std::string bytes = wrap_body(body);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    rlimit data{};
    ::getrlimit(RLIMIT_DATA, &data);
    rlimit limited{256u << 20, data.rlim_max};  // the test binary's heap is a few MiB
    if (::setrlimit(RLIMIT_DATA, &limited) != 0) ::_exit(3);
    try {
      decode_extraction(bytes);
    } catch (const CodecError&) {
      ::_exit(0);
    } catch (const std::bad_alloc&) {
      ::_exit(1);
    }
    ::_exit(2);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: out of memory, 2: decoded, 3: no limit";
}

// The bytes of a small extraction are fixed: records in caches already written and replies of
// workers of the same version must keep decoding, whatever way the encoder writes them.
TEST(CacheCodec, TheEncodingOfAKnownExtractionIsFixed) {
  Extraction x;
  x.format = Format::kDicom;
  x.header = "# header\n";
  x.extra_files.emplace_back("dicom.json", "{}");
  NodeId fields = x.tree.add_dir(MetaTree::kRoot, "fields");
  x.tree.add_value(fields, "PatientName", "Doe^J");
  x.tree.add_value(fields, "Rows", "512", ValueKind::kNumber);
  x.tree.add_list(fields, "ImageType", {"ORIGINAL", "PRIMARY"}, ValueKind::kString, "\\");
  x.tree.add_list(fields, "Empty", {}, ValueKind::kNumber, "");
  x.tree.add_link(MetaTree::kRoot, "first", "fields/Rows");
  auto hex = [](const std::string& bytes) {
    std::string out;
    for (unsigned char c : bytes)
      out += "0123456789abcdef"[c >> 4], out += "0123456789abcdef"[c & 15];
    return out;
  };
  EXPECT_EQ(hex(encode_extraction(x, BodyCompression::kStored)),
            "4d46535803008a016f5ee1b23cc0808e010923206865616465720a00010a6469636f6d2e6a736f6e027b7d"
            "06000000066669656c64730100010b50617469656e744e616d650005446f655e4a01010104526f777300"
            "0335313201000109496d6167655479706502015c084f524947494e414c075052494d4152590181010545"
            "6d70747900000200000566697273740b6669656c64732f526f7773");
  EXPECT_TRUE(decode_extraction(encode_extraction(x)).tree == x.tree);
}

TEST(CacheCodec, EncodingIsCompact) {
  std::mt19937 rng(3);
  Extraction x = corpus_like(rng, 0);
  std::string bytes = encode_extraction(x);
  // Smaller than the JSON view alone, although it also holds the header and dicom.json.
  EXPECT_LT(bytes.size(), extract::render_json(x.tree).size());
}

}  // namespace
}  // namespace metafs::extract
