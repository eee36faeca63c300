// The inode table's memory accounting and the order in which it offers entries to trim.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <memory>
#include <string>

#include "inode_table.hpp"

using metafs::extraction::DataVersion;
using metafs::fs::InodeTable;

TEST(InodeTable, BytesGrowWithNodesAndReturnToTheStartWhenTheKernelForgetsThem) {
  InodeTable table;
  const auto empty = table.bytes();
  auto a = table.acquire_mirror("dir");
  auto b = table.acquire_mirror("dir/file-with-a-long-name.dcm");
  const auto two = table.bytes();
  EXPECT_GT(two, empty + 2 * std::string("dir/file-with-a-long-name.dcm").size());

  auto version = std::make_shared<DataVersion>();
  version->rel = "dir/file-with-a-long-name.dcm";
  version->format = metafs::extract::Format::kDicom;
  version->key = "key";
  auto v1 = table.acquire_virtual(version, 3);
  auto v2 = table.acquire_virtual(version, 4);  // the same version: counted once
  const auto with_version = table.bytes();
  EXPECT_GT(with_version, two);

  table.forget(v1->ino, 1);
  EXPECT_EQ(table.bytes(), with_version);  // one lookup of the version is left
  table.forget(v2->ino, 1);
  EXPECT_EQ(table.bytes(), two);
  table.forget(b->ino, 1);
  table.forget(a->ino, 1);
  EXPECT_EQ(table.bytes(), empty);
  EXPECT_EQ(table.size(), InodeTable().size());
}

TEST(InodeTable, OldestOffersEntriesInCreationOrderByParentAndName) {
  InodeTable table;
  auto dir = table.acquire_mirror("d");
  auto x = table.acquire_mirror("d/x.fits");
  auto y = table.acquire_mirror("d/y.fits");
  auto top = table.acquire_mirror("top.h5");

  auto first = table.oldest(1);  // at least one byte: one entry
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].parent, InodeTable::kRootIno);
  EXPECT_EQ(first[0].name, "d");

  auto rest = table.oldest(table.bytes());  // everything, each once, "d" again last
  ASSERT_EQ(rest.size(), 4u);
  EXPECT_EQ(rest[0].parent, dir->ino);
  EXPECT_EQ(rest[0].name, "x.fits");
  EXPECT_EQ(rest[1].name, "y.fits");
  EXPECT_EQ(rest[2].parent, InodeTable::kRootIno);
  EXPECT_EQ(rest[2].name, "top.h5");
  EXPECT_EQ(rest[3].name, "d");

  // Forgotten entries are never offered; permanent ones (root, /.metafs) never are.
  table.forget(x->ino, 1);
  table.forget(top->ino, 1);
  auto left = table.oldest(table.bytes() * 2);
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].name, "y.fits");
  EXPECT_EQ(left[1].name, "d");
}

TEST(InodeTable, AnEntryWhoseDirectoryIsForgottenIsNotOffered) {
  InodeTable table;
  auto dir = table.acquire_mirror("d");
  auto x = table.acquire_mirror("d/x.fits");
  table.forget(dir->ino, 1);  // out of order: the kernel forgets children first, normally
  EXPECT_TRUE(table.oldest(table.bytes() * 2).empty());
  EXPECT_NE(table.get(x->ino), nullptr);
}
