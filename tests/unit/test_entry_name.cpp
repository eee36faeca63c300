#include <gtest/gtest.h>

#include <set>
#include <string>

#include "entry_name.hpp"

namespace metafs::extract {
namespace {

bool is_hex(std::string_view s) {
  return s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

TEST(EntryName, NamesThatFitAreKept) {
  EXPECT_EQ(shorten_name("PatientName", kMaxEntryNameBytes), "PatientName");
  std::string exact(kMaxEntryNameBytes, 'a');
  EXPECT_EQ(shorten_name(exact, kMaxEntryNameBytes), exact);
}

TEST(EntryName, LongNamesBecomePrefixMarkerAndHash) {
  std::string name(256, 'v');
  std::string short_name = shorten_name(name, kMaxEntryNameBytes);
  ASSERT_EQ(short_name.size(), kMaxEntryNameBytes);
  EXPECT_EQ(short_name.substr(0, 237), name.substr(0, 237));
  EXPECT_EQ(short_name.substr(237, 2), "#~");
  EXPECT_TRUE(is_hex(short_name.substr(239)));
  // Deterministic, and a different seed gives a different hash.
  EXPECT_EQ(shorten_name(name, kMaxEntryNameBytes), short_name);
  EXPECT_NE(shorten_name(name, kMaxEntryNameBytes, 1), short_name);
}

TEST(EntryName, NamesSharingALongPrefixStayDistinct) {
  std::string prefix(250, 'p');
  std::set<std::string> names;
  for (char c = 'a'; c <= 'z'; ++c) {
    std::string short_name = shorten_name(prefix + std::string(20, c), kMaxEntryNameBytes);
    EXPECT_LE(short_name.size(), kMaxEntryNameBytes);
    names.insert(short_name);
  }
  EXPECT_EQ(names.size(), 26u);
}

TEST(EntryName, CutsNeitherUtf8NorEscapes) {
  // "é" is two bytes: a cut at an odd offset would split one.
  std::string accents;
  while (accents.size() < 400) accents += "\xc3\xa9";
  std::string a = shorten_name("x" + accents, kMaxEntryNameBytes);
  std::string prefix = a.substr(0, a.find("#~"));
  EXPECT_EQ(prefix.size() % 2, 1u);  // "x" and whole "é"s
  EXPECT_LE(a.size(), kMaxEntryNameBytes);

  // Four-byte sequences at every alignment.
  for (std::size_t lead = 0; lead < 4; ++lead) {
    std::string name(lead, 'x');
    while (name.size() < 400) name += "\xf0\x9f\x98\x80";
    std::string s = shorten_name(name, kMaxEntryNameBytes);
    std::size_t cut = s.find("#~");
    EXPECT_EQ((cut - lead) % 4, 0u) << lead;
  }

  // An escape %HH is kept whole or left out.
  for (std::size_t lead = 0; lead < 3; ++lead) {
    std::string name(lead, 'x');
    while (name.size() < 400) name += "%2F";
    std::string s = shorten_name(name, kMaxEntryNameBytes);
    std::size_t cut = s.find("#~");
    EXPECT_EQ((cut - lead) % 3, 0u) << lead;
  }
}

TEST(EntryName, TreeChildrenGetUniqueShortNames) {
  MetaTree tree;
  std::string prefix(250, 'p');
  tree.add_value(MetaTree::kRoot, "short", "0");
  tree.add_value(MetaTree::kRoot, prefix + "one", "1");
  tree.add_value(MetaTree::kRoot, prefix + "two", "2");
  std::vector<std::string> names = entry_names(tree, MetaTree::kRoot);
  ASSERT_EQ(names.size(), 3u);
  EXPECT_EQ(names[0], "short");
  EXPECT_EQ(names[1], shorten_name(prefix + "one", kMaxEntryNameBytes));
  EXPECT_EQ(names[2], shorten_name(prefix + "two", kMaxEntryNameBytes));
  EXPECT_NE(names[1], names[2]);
}

TEST(EntryName, AForgedCollisionTakesTheNextSeed) {
  // A tree that did not come from escaping (a forged record) may hold a short name equal to
  // another child's shortened name: the short name keeps it, the long one moves on.
  std::string long_name(300, 'l');
  std::string taken = shorten_name(long_name, kMaxEntryNameBytes);
  MetaTree tree;
  tree.add_value(MetaTree::kRoot, long_name, "long");
  tree.add_value(MetaTree::kRoot, Verbatim{taken}, "forged");
  std::vector<std::string> names = entry_names(tree, MetaTree::kRoot);
  EXPECT_EQ(names[1], taken);
  EXPECT_EQ(names[0], shorten_name(long_name, kMaxEntryNameBytes, 1));
}

TEST(EntryName, LinkTargetsFollowTheShortenedNames) {
  MetaTree tree;
  std::string long_dir(300, 'd');
  NodeId dir = tree.add_dir(MetaTree::kRoot, long_dir);
  NodeId inner = tree.add_dir(dir, "inner");
  tree.add_value(inner, "x", "1");
  NodeId other = tree.add_dir(MetaTree::kRoot, "other");
  NodeId link = tree.add_link(other, "alias", "../" + long_dir + "/inner");
  NodeId plain = tree.add_link(MetaTree::kRoot, "plain", "other");
  EXPECT_EQ(entry_link_target(tree, link),
            "../" + shorten_name(long_dir, kMaxEntryNameBytes) + "/inner");
  EXPECT_EQ(entry_link_target(tree, plain), "other");
  // A target outside the tree keeps its short parts and shortens its long ones.
  NodeId dangling = tree.add_link(MetaTree::kRoot, "away", "../../" + long_dir);
  EXPECT_EQ(entry_link_target(tree, dangling),
            "../../" + shorten_name(long_dir, kMaxEntryNameBytes));
}

TEST(EntryName, ManyLinksIntoOneDirectoryFollowItsListing) {
  // Links into a large directory whose long child's short form is forged as a sibling: every
  // link points at the name the listing gives (seed 1), and LinkTargets reads the directory
  // once for all of them.
  MetaTree tree;
  std::string long_dir(300, 'd');
  NodeId target = tree.add_dir(MetaTree::kRoot, long_dir);
  tree.add_dir(MetaTree::kRoot, Verbatim{shorten_name(long_dir, kMaxEntryNameBytes)});
  std::vector<NodeId> links;
  for (int i = 0; i < 5000; ++i) {
    links.push_back(tree.add_link(MetaTree::kRoot, "link" + std::to_string(i), long_dir));
  }
  std::vector<std::string> names = entry_names(tree, MetaTree::kRoot);
  EXPECT_EQ(names[0], shorten_name(long_dir, kMaxEntryNameBytes, 1));
  LinkTargets targets(tree);
  for (NodeId link : links) ASSERT_EQ(targets.of(link), names[0]);
  EXPECT_EQ(tree.node(target).name, long_dir);
}

TEST(EntryName, TheTreeCapsNamesAndKeepsThemUnique) {
  MetaTree tree;
  std::string huge(kMaxTreeNameBytes + 10, 'h');
  NodeId a = tree.add_value(MetaTree::kRoot, huge, "a");
  NodeId b = tree.add_value(MetaTree::kRoot, huge, "b");
  EXPECT_LE(tree.node(a).name.size(), kMaxTreeNameBytes);
  EXPECT_LE(tree.node(b).name.size(), kMaxTreeNameBytes);
  EXPECT_NE(tree.node(a).name, tree.node(b).name);
  // dir() finds the directory a huge name made, as it does for any name.
  NodeId d = tree.dir(MetaTree::kRoot, huge + "dir");
  EXPECT_EQ(tree.dir(MetaTree::kRoot, huge + "dir"), d);
}

// reserve() (the codec's decoder calls it with the node count) regrows the name index around
// the nodes already in it: every name is found, and a taken name still gets its suffix.
TEST(EntryName, ReservingKeepsEveryNameFoundAndUnique) {
  MetaTree tree;
  for (int i = 0; i < 5; ++i) tree.add_value(MetaTree::kRoot, "v" + std::to_string(i), "x");
  tree.reserve(3);  // fewer than it holds: nothing changes
  tree.reserve(1000);
  NodeId dir = tree.add_dir(MetaTree::kRoot, "d");
  for (int i = 0; i < 600; ++i) tree.add_value(dir, "w" + std::to_string(i), "y");
  for (int i = 0; i < 5; ++i) {
    EXPECT_NE(tree.find(MetaTree::kRoot, "v" + std::to_string(i)), MetaTree::kNotFound);
  }
  for (int i = 0; i < 600; ++i) {
    EXPECT_EQ(tree.find(dir, "w" + std::to_string(i)), dir + 1 + static_cast<NodeId>(i));
  }
  NodeId again = tree.add_value(MetaTree::kRoot, "v3", "z");
  EXPECT_EQ(tree.node(again).name, "v3#2");
  // A moved-from tree (no index left) takes a reservation too, and returns.
  MetaTree taken = std::move(tree);
  tree.reserve(10);  // NOLINT(bugprone-use-after-move): what is tested
  EXPECT_EQ(taken.node(again).name, "v3#2");
}

}  // namespace
}  // namespace metafs::extract
