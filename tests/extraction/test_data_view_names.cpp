// A data view's fields/ names past NAME_MAX: listed shortened, found only by the shortened
// name, and symbolic links into long-named directories point at the shortened names.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <memory>
#include <string>

#include "entry_name.hpp"
#include "extraction/data_view.hpp"

namespace metafs::extraction {
namespace {

using extract::kMaxEntryNameBytes;
using extract::MetaTree;
using extract::shorten_name;

std::shared_ptr<const extract::Extraction> tree_with_long_names() {
  auto x = std::make_shared<extract::Extraction>();
  x->format = extract::Format::kHdf5;
  MetaTree& tree = x->tree;
  const std::string prefix(250, 'g');
  extract::NodeId first = tree.add_dir(MetaTree::kRoot, prefix + "_first");
  tree.add_value(first, "value", "1");
  extract::NodeId other = tree.add_dir(MetaTree::kRoot, prefix + "_other");
  tree.add_value(other, "value", "2");
  tree.add_value(MetaTree::kRoot, "short", "3");
  // A second path to the first group, as the HDF5 extractor links a hard link.
  extract::NodeId elsewhere = tree.add_dir(MetaTree::kRoot, "elsewhere");
  tree.add_link(elsewhere, "again", "../" + prefix + "_first");
  return x;
}

TEST(DataViewNames, LongNamesAreListedAndFoundShortened) {
  struct stat source {};
  source.st_mode = S_IFREG | 0644;
  DataView view(tree_with_long_names(), source);
  DataView::EntryId fields = view.find(DataView::kRootEntry, "fields");
  ASSERT_NE(fields, DataView::kNoEntry);

  const std::string first = std::string(250, 'g') + "_first";
  const std::string other = std::string(250, 'g') + "_other";
  std::vector<std::string> listed;
  for (DataView::EntryId child : view.children(fields)) listed.push_back(view.name(child));
  ASSERT_EQ(listed.size(), 4u);
  EXPECT_EQ(listed[0], shorten_name(first, kMaxEntryNameBytes));
  EXPECT_EQ(listed[1], shorten_name(other, kMaxEntryNameBytes));
  EXPECT_EQ(listed[2], "short");
  for (const std::string& name : listed) EXPECT_LE(name.size(), kMaxEntryNameBytes);

  DataView::EntryId a = view.find(fields, listed[0]);
  DataView::EntryId b = view.find(fields, listed[1]);
  ASSERT_NE(a, DataView::kNoEntry);
  ASSERT_NE(b, DataView::kNoEntry);
  EXPECT_NE(a, b);
  EXPECT_EQ(*view.content(view.find(a, "value")), "1\n");
  EXPECT_EQ(*view.content(view.find(b, "value")), "2\n");
  EXPECT_EQ(view.find(fields, "short"), view.children(fields)[2]);
  // The full name is the tree's, not a name of fields/.
  EXPECT_EQ(view.find(fields, first), DataView::kNoEntry);

  DataView::EntryId link = view.find(view.find(fields, "elsewhere"), "again");
  ASSERT_NE(link, DataView::kNoEntry);
  EXPECT_EQ(*view.content(link), "../" + listed[0]);
  EXPECT_EQ(view.attributes(link).st_size, static_cast<off_t>(3 + listed[0].size()));

  // metadata.txt and metadata.json keep the full names.
  DataView::EntryId txt = view.find(DataView::kRootEntry, "metadata.txt");
  EXPECT_NE(view.content(txt)->find(first + "/value\t1\n"), std::string::npos);
  DataView::EntryId json = view.find(DataView::kRootEntry, "metadata.json");
  EXPECT_NE(view.content(json)->find("\"" + other + "\":{\"value\":\"2\"}"), std::string::npos);
}

TEST(DataViewOriginal, ShownUnderItsOwnNameOrAsOriginalOnACollision) {
  struct stat source {};
  source.st_mode = S_IFREG | 0640;
  source.st_size = 123456;
  source.st_blocks = 248;
  source.st_mtim.tv_sec = 1234567890;
  DataView named(tree_with_long_names(), source, "scan.h5");
  DataView::EntryId original = named.find(DataView::kRootEntry, "scan.h5");
  ASSERT_NE(original, DataView::kNoEntry);
  EXPECT_TRUE(named.is_original(original));
  EXPECT_EQ(named.find(DataView::kRootEntry, "original"), DataView::kNoEntry);
  struct stat st = named.attributes(original);
  EXPECT_EQ(st.st_mode, source.st_mode);
  EXPECT_EQ(st.st_size, source.st_size);
  EXPECT_EQ(st.st_blocks, source.st_blocks);
  EXPECT_EQ(st.st_mtim.tv_sec, source.st_mtim.tv_sec);
  EXPECT_EQ(st.st_nlink, 1u);

  // Names this view has (no error, no dicom.json in it): the original gives way.
  for (const char* name : {"format", "fields", "header.txt", "metadata.json", "metadata.txt"}) {
    DataView colliding(tree_with_long_names(), source, name);
    DataView::EntryId own = colliding.find(DataView::kRootEntry, name);
    ASSERT_NE(own, DataView::kNoEntry) << name;
    EXPECT_FALSE(colliding.is_original(own)) << name;
    DataView::EntryId fallback = colliding.find(DataView::kRootEntry, "original");
    ASSERT_NE(fallback, DataView::kNoEntry) << name;
    EXPECT_TRUE(colliding.is_original(fallback)) << name;
  }
  DataView unclaimed(tree_with_long_names(), source, "dicom.json");
  EXPECT_TRUE(unclaimed.is_original(unclaimed.find(DataView::kRootEntry, "dicom.json")));
  DataView without(tree_with_long_names(), source);
  for (DataView::EntryId child : without.children(DataView::kRootEntry)) {
    EXPECT_FALSE(without.is_original(child)) << without.name(child);
  }
}

// What a view holds counts against the views' memory budget (--memory-limit), the format's
// own files included (a DICOM view keeps dicom.json, as large as header.txt), and a view
// serves them from the extraction without a second copy.
TEST(DataViewMemory, CountsTheFormatsOwnFilesAndHoldsThemOnce) {
  struct stat source {};
  source.st_mode = S_IFREG | 0644;
  auto plain = std::make_shared<extract::Extraction>();
  plain->format = extract::Format::kDicom;
  plain->tree.add_value(MetaTree::kRoot, "PatientName", "Doe^J");
  auto with_json = std::make_shared<extract::Extraction>(*plain);
  with_json->extra_files.emplace_back("dicom.json", std::string(200'000, 'j'));
  auto with_error = std::make_shared<extract::Extraction>(*plain);
  with_error->error = std::string(50'000, 'e');
  std::size_t base = DataView(plain, source).memory_bytes();
  EXPECT_GE(DataView(with_json, source).memory_bytes(), base + 200'000);
  EXPECT_GE(DataView(with_error, source).memory_bytes(), base + 50'000);
  DataView view(with_json, source);
  EXPECT_LT(view.memory_bytes(), base + 2 * 200'000);
  DataView::EntryId json = view.find(DataView::kRootEntry, "dicom.json");
  ASSERT_NE(json, DataView::kNoEntry);
  EXPECT_EQ(view.content(json).get(), &with_json->extra_files[0].second);
  EXPECT_EQ(view.attributes(json).st_size, 200'000);
}

}  // namespace
}  // namespace metafs::extraction
