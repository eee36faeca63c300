// Names longer than NAME_MAX and than the old 4 KiB codec cap (issue 16 item 11), through the
// registry and the codec, as a worker extracts and replies: the file is never an error, the
// tree keeps the full names and fields/ gets names within NAME_MAX.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "codec.hpp"
#include "corpus.hpp"
#include "entry_name.hpp"
#include "registry.hpp"
#include "render.hpp"

namespace metafs::extract {
namespace {

namespace fs = std::filesystem;
using test::corpus_dir;

// What a worker sends back and the daemon decodes.
Extraction extract_through_codec(const fs::path& path, Format format) {
  static const ExtractorRegistry registry;
  Extraction direct = registry.extract(open_source_file(path.string()), format);
  return decode_extraction(encode_extraction(direct));
}

// Every name of the tree's root fits in fields/ once entry_names has shortened it.
void expect_entry_names_fit(const MetaTree& tree, NodeId dir) {
  for (const std::string& name : entry_names(tree, dir)) {
    EXPECT_LE(name.size(), kMaxEntryNameBytes);
  }
  for (NodeId child : tree.node(dir).children) {
    if (tree.node(child).is_dir()) expect_entry_names_fit(tree, child);
  }
}

TEST(LongNames, Hdf5NameOf4097BytesIsNoError) {
  fs::path file = corpus_dir() / "regressions" / "hdf5" / "name_4097_bytes.h5";
  Extraction x = extract_through_codec(file, Format::kHdf5);
  EXPECT_EQ(x.error, "");
  const std::string long_name(4097, 'a');
  NodeId group = x.tree.find(MetaTree::kRoot, long_name);
  ASSERT_NE(group, MetaTree::kNotFound) << render_txt(x.tree).substr(0, 2000);
  EXPECT_NE(x.tree.find(MetaTree::kRoot, "ok"), MetaTree::kNotFound);
  // The full name in metadata.json and header.txt, and a short one in fields/.
  auto json = nlohmann::json::parse(render_json(x.tree));
  EXPECT_TRUE(json.contains(long_name));
  EXPECT_TRUE(json.contains("ok"));
  EXPECT_NE(x.header.find("GROUP \"" + long_name + "\""), std::string::npos);
  expect_entry_names_fit(x.tree, MetaTree::kRoot);
}

TEST(LongNames, Hdf5NameOf256Bytes) {
  fs::path file = corpus_dir() / "regressions" / "hdf5" / "name_256_bytes.h5";
  Extraction x = extract_through_codec(file, Format::kHdf5);
  EXPECT_EQ(x.error, "");
  NodeId group = x.tree.find(MetaTree::kRoot, std::string(256, 'a'));
  ASSERT_NE(group, MetaTree::kNotFound);
  std::vector<std::string> names = entry_names(x.tree, MetaTree::kRoot);
  const auto& children = x.tree.node(MetaTree::kRoot).children;
  for (std::size_t i = 0; i < children.size(); ++i) {
    if (children[i] == group) {
      EXPECT_EQ(names[i], shorten_name(std::string(256, 'a'), kMaxEntryNameBytes));
    }
  }
}

TEST(LongNames, NetcdfNameOf256Bytes) {
  fs::path file = corpus_dir() / "regressions" / "netcdf" / "name_256_bytes.nc";
  Extraction x = extract_through_codec(file, Format::kNetcdf);
  // A classic file this small opens once netCDF files are read with ncdump's zero padding
  // (issue 16, the netcdf branch); before that it fails for that other reason.
  EXPECT_EQ(x.error, "");
  std::string txt = render_txt(x.tree);
  EXPECT_NE(txt.find("variables/" + std::string(256, 'v') + "/type\tint"), std::string::npos)
      << txt.substr(0, 3000);
  EXPECT_NE(x.header.find("int " + std::string(256, 'v')), std::string::npos) << x.header;
  expect_entry_names_fit(x.tree, MetaTree::kRoot);
}

}  // namespace
}  // namespace metafs::extract
