#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "memory_lru.hpp"

namespace metafs::cache {
namespace {

TEST(CacheMemoryLru, StaysWithinBudgetAndEvictsLeastRecentlyUsed) {
  MemoryLru<int, std::string> lru(1000);
  for (int i = 0; i < 10; ++i) lru.put(i, "v" + std::to_string(i), 100);
  EXPECT_EQ(lru.stats().bytes, 1000u);
  ASSERT_EQ(lru.get(0), "v0");  // 0 becomes the most recent; 1 is now the oldest
  lru.put(10, "v10", 150);      // needs 150: evicts 1 and 2
  EXPECT_LE(lru.stats().bytes, 1000u);
  EXPECT_EQ(lru.get(0), "v0");
  EXPECT_FALSE(lru.get(1));
  EXPECT_FALSE(lru.get(2));
  EXPECT_EQ(lru.get(3), "v3");
  EXPECT_EQ(lru.get(10), "v10");
  EXPECT_EQ(lru.stats().evictions, 2u);
  EXPECT_EQ(lru.stats().entries, 9u);
  EXPECT_EQ(lru.stats().bytes, 950u);
}

TEST(CacheMemoryLru, ReplacesChargesAndRefusesOversizeEntries) {
  MemoryLru<std::string, int> lru(500);
  lru.put("a", 1, 100);
  lru.put("a", 2, 300);
  EXPECT_EQ(lru.get("a"), 2);
  EXPECT_EQ(lru.stats().bytes, 300u);
  lru.put("huge", 3, 501);
  EXPECT_FALSE(lru.get("huge"));
  EXPECT_EQ(lru.get("a"), 2);
  lru.erase("a");
  EXPECT_EQ(lru.stats().bytes, 0u);
}

// What is made ahead of need goes in only where it fits, pushing nothing out.
TEST(CacheMemoryLru, PutWithinEvictsNothing) {
  MemoryLru<std::string, int> lru(1000);
  lru.put("used", 1, 300);
  EXPECT_TRUE(lru.contains("used"));
  EXPECT_FALSE(lru.contains("ahead"));
  EXPECT_TRUE(lru.put_within("ahead", 2, 150, 500));   // 450 <= 500
  EXPECT_FALSE(lru.put_within("more", 3, 100, 500));   // 550 > 500
  EXPECT_FALSE(lru.put_within("ahead", 4, 10, 1000));  // already held: left as it is
  EXPECT_FALSE(lru.put_within("big", 5, 600, 2000));   // past the budget itself
  EXPECT_EQ(lru.stats().evictions, 0u);
  EXPECT_EQ(lru.stats().bytes, 450u);
  EXPECT_EQ(lru.get("ahead"), 2);
  EXPECT_EQ(lru.get("used"), 1);
}

TEST(CacheMemoryLru, ShrinkingTheBudgetEvictsAtOnce) {
  MemoryLru<int, int> lru(1000);
  for (int i = 0; i < 10; ++i) lru.put(i, i, 100);
  lru.set_budget(250);
  EXPECT_LE(lru.stats().bytes, 250u);
  EXPECT_EQ(lru.stats().entries, 2u);
  EXPECT_EQ(lru.get(9), 9);  // the most recent survive
  EXPECT_EQ(lru.get(8), 8);
  lru.set_budget(0);
  EXPECT_EQ(lru.stats().entries, 0u);
  lru.put(1, 1, 1);
  EXPECT_FALSE(lru.get(1));
  lru.set_budget(1000);
  lru.put(1, 1, 1);
  EXPECT_EQ(lru.get(1), 1);
}

TEST(CacheMemoryLru, ThreadsNeverPushItPastTheBudget) {
  MemoryLru<int, std::shared_ptr<std::string>> lru(10000);
  std::vector<std::thread> threads;
  std::atomic<bool> over{false};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5000; ++i) {
        int key = (i * 31 + t) % 700;
        if (auto v = lru.get(key)) {
          if (**v != std::to_string(key)) over = true;
        } else {
          lru.put(key, std::make_shared<std::string>(std::to_string(key)),
                  static_cast<std::size_t>(50 + key % 100));
        }
        if (lru.stats().bytes > 10000) over = true;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_FALSE(over);
}

}  // namespace
}  // namespace metafs::cache
