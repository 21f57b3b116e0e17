// Flush policies and the writeback hint, seen from outside: the pending
// count, the kernel's dirty-page accounting (/proc/self/smaps) and the
// EVERY_MILLIS thread's life (/proc/self/task). The msync counts behind
// the policies are in test_seam.cpp and test_seam_policy.cpp.
//
// Waiting is always a poll with a generous bound (1000 periods),
// never a statement about speed. Where pages cannot be seen to become
// clean (tmpfs has no writeback, no smaps) the test says so and skips.
#include "support.hpp"
#include "support_proc.hpp"

#include <cstdint>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <unistd.h>

using namespace mmapio_test;

// ------------------------------------------------------------------
// Synchronous policies: the pending count says when they flushed
// ------------------------------------------------------------------

TEST_CASE("flush policy MANUAL: updates stay pending until an explicit "
          "flush",
          "[flush-policy]") {
  TempDir td;
  MapPtr m = open_policy(td.path("f"), 16 * kPage, MMAPIO_FLUSH_MANUAL, 0);
  CHECK(mmapio_flush_policy_of(m.get()) == MMAPIO_FLUSH_MANUAL);
  const std::string page = pattern_bytes(static_cast<size_t>(kPage));
  for (uint64_t i = 0; i < 16; i++)
    REQUIRE_OK(mmapio_update(m.get(), i * kPage, page.data(), page.size()));
  CHECK(mmapio_pending(m.get()) == 16 * kPage);
  REQUIRE_OK(mmapio_flush(m.get()));
  CHECK(mmapio_pending(m.get()) == 0);
}

TEST_CASE("flush policy ALWAYS: each update leaves nothing pending and its "
          "pages clean",
          "[flush-policy][durability][linux]") {
  TempDir td;
  MapPtr m = open_policy(td.path("f"), 8 * kPage, MMAPIO_FLUSH_ALWAYS, 0);
  const std::string why = cannot_measure(td.dir());
  const std::string bytes = pattern_bytes(static_cast<size_t>(kPage) + 100);
  for (uint64_t off : {uint64_t(0), kPage - 50, 5 * kPage + 7}) {
    CAPTURE(off);
    REQUIRE_OK(mmapio_update(m.get(), off, bytes.data(), bytes.size()));
    CHECK(mmapio_pending(m.get()) == 0);
    if (why.empty())
      CHECK(dirty_of(m.get()) == 0);
  }
  if (!why.empty())
    WARN("dirty pages not checked: " << why);
}

TEST_CASE("flush policy EVERY_BYTES: pending grows below the threshold and "
          "is flushed when it is reached",
          "[flush-policy]") {
  TempDir td;
  const uint64_t n = GENERATE(uint64_t(1), uint64_t(4096), uint64_t(65536));
  CAPTURE(n);
  MapPtr m = open_policy(td.path("f"), 64 * kPage, MMAPIO_FLUSH_EVERY_BYTES, n);
  const size_t chunk = n >= 1000 ? static_cast<size_t>(n / 4) : 1;
  const std::string bytes = pattern_bytes(chunk);
  uint64_t expect = 0;
  for (int i = 0; i < 12; i++) {
    CAPTURE(i);
    REQUIRE_OK(mmapio_update(m.get(), static_cast<uint64_t>(i) * chunk,
                             bytes.data(), bytes.size()));
    expect += chunk;
    if (expect >= n)
      expect = 0;
    CHECK(mmapio_pending(m.get()) == expect);
  }
}

TEST_CASE("flush policy EVERY_WRITES: every w-th update flushes",
          "[flush-policy]") {
  TempDir td;
  const uint64_t w = GENERATE(uint64_t(1), uint64_t(2), uint64_t(5));
  CAPTURE(w);
  MapPtr m = open_policy(td.path("f"), 4 * kPage, MMAPIO_FLUSH_EVERY_WRITES, w);
  for (uint64_t i = 1; i <= 12; i++) {
    CAPTURE(i);
    REQUIRE_OK(mmapio_update(m.get(), i, "z", 1));
    CHECK(mmapio_pending(m.get()) == i % w);
  }
}

// ------------------------------------------------------------------
// EVERY_MILLIS
// ------------------------------------------------------------------

TEST_CASE("flush policy EVERY_MILLIS: no dirty page remains a few periods "
          "after the last write, whatever path wrote",
          "[flush-policy][durability][linux]") {
  TempDir td;
  const std::string why = cannot_measure(td.dir());
  if (!why.empty())
    MMAPIO_SKIP(why);
  const WritePath how =
      GENERATE(WritePath::update, WritePath::view_mut, WritePath::base_mut);
  const unsigned period = 10;
  INFO("written through " << path_name(how));
  MapPtr m =
      open_policy(td.path("f"), 32 * kPage, MMAPIO_FLUSH_EVERY_MILLIS, period);
  const std::string bytes = pattern_bytes(static_cast<size_t>(3 * kPage));
  // (Not checked dirty here: the thread may already have flushed.)
  for (uint64_t off : {uint64_t(0), 7 * kPage + 3, 20 * kPage})
    write_via(how, m.get(), off, bytes);
  const bool clean = poll_until(
      [&] { return dirty_of(m.get()) == 0 && mmapio_pending(m.get()) == 0; },
      period);
  INFO("dirty bytes " << dirty_of(m.get()) << ", pending "
                      << mmapio_pending(m.get()));
  CHECK(clean);
}

TEST_CASE("flush policy EVERY_MILLIS: keeps flushing later writes",
          "[flush-policy][durability][linux]") {
  TempDir td;
  const std::string why = cannot_measure(td.dir());
  if (!why.empty())
    MMAPIO_SKIP(why);
  MapPtr m =
      open_policy(td.path("f"), 8 * kPage, MMAPIO_FLUSH_EVERY_MILLIS, 10);
  for (int round = 0; round < 3; round++) {
    CAPTURE(round);
    write_via(WritePath::base_mut, m.get(),
              static_cast<uint64_t>(round) * kPage,
              pattern_bytes(100, static_cast<unsigned>(round)));
    CHECK(poll_until([&] { return dirty_of(m.get()) == 0; }, 10));
  }
}

TEST_CASE("flush policy EVERY_MILLIS: the bytes reach the file without an "
          "explicit flush",
          "[flush-policy][durability]") {
  TempDir td;
  const std::string p = td.path("f");
  MapPtr m = open_policy(p, 4 * kPage, MMAPIO_FLUSH_EVERY_MILLIS, 10);
  const std::string bytes = pattern_bytes(1000, 7);
  REQUIRE_OK(mmapio_update(m.get(), 123, bytes.data(), bytes.size()));
  CHECK(poll_until([&] { return mmapio_pending(m.get()) == 0; }, 10));
  CHECK(read_bytes(p).substr(123, bytes.size()) == bytes);
}

TEST_CASE("flush policy EVERY_MILLIS: one thread per handle, joined when the "
          "handle closes",
          "[flush-policy][linux]") {
  if (!mmapio_test::thread_count_blocker().empty())
    MMAPIO_SKIP(mmapio_test::thread_count_blocker());
  TempDir td;
  const size_t before = thread_count_stable();
  {
    MapPtr a = open_policy(td.path("a"), kPage, MMAPIO_FLUSH_EVERY_MILLIS, 10);
    CHECK(thread_count() == before + 1);
    MapPtr b = open_policy(td.path("b"), kPage, MMAPIO_FLUSH_EVERY_MILLIS, 1);
    CHECK(thread_count() == before + 2);
    MapPtr c = open_policy(td.path("c"), kPage, MMAPIO_FLUSH_EVERY_BYTES, 1);
    CHECK(thread_count() == before + 2); // only EVERY_MILLIS has a thread
    a.reset();
    CHECK(thread_count_settled(before + 1) == before + 1);
  }
  CHECK(thread_count_settled(before) == before);
}

TEST_CASE("flush policy EVERY_MILLIS: the thread is joined by mmapio_unmap",
          "[flush-policy][linux]") {
  if (!mmapio_test::thread_count_blocker().empty())
    MMAPIO_SKIP(mmapio_test::thread_count_blocker());
  TempDir td;
  const size_t before = thread_count_stable();
  MapPtr m = open_policy(td.path("f"), kPage, MMAPIO_FLUSH_EVERY_MILLIS, 10);
  REQUIRE(thread_count() == before + 1);
  int fd = -1;
  REQUIRE_OK(mmapio_unmap(m.release(), &fd));
  CHECK(thread_count_settled(before) == before);
  CHECK(fd >= 0);
  ::close(fd);
}

TEST_CASE("flush policy EVERY_MILLIS: a pinned handle keeps its thread "
          "until the last reference goes",
          "[flush-policy][linux]") {
  if (!mmapio_test::thread_count_blocker().empty())
    MMAPIO_SKIP(mmapio_test::thread_count_blocker());
  TempDir td;
  const size_t before = thread_count_stable();
  mmapio_map *m = nullptr;
  {
    MapPtr h = open_policy(td.path("f"), kPage, MMAPIO_FLUSH_EVERY_MILLIS, 10);
    m = h.release();
  }
  mmapio_pin pin;
  REQUIRE_OK(mmapio_pin_range(&pin, m, 0, 0));
  mmapio_close(m); // drops the caller's reference only
  CHECK(thread_count() == before + 1);
  mmapio_unpin(&pin); // the last reference: the thread goes with it
  CHECK(thread_count_settled(before) == before);
}

TEST_CASE("flush policy EVERY_MILLIS: opening and closing repeatedly leaves "
          "no thread behind",
          "[flush-policy][linux]") {
  if (!mmapio_test::thread_count_blocker().empty())
    MMAPIO_SKIP(mmapio_test::thread_count_blocker());
  TempDir td;
  const size_t before = thread_count_stable();
  for (int i = 0; i < 50; i++) {
    MapPtr m = open_policy(td.path("f"), kPage, MMAPIO_FLUSH_EVERY_MILLIS, 1);
    REQUIRE_OK(mmapio_update(m.get(), 0, "q", 1));
  }
  CHECK(thread_count_settled(before) == before);
}

// ------------------------------------------------------------------
// The writeback hint
// ------------------------------------------------------------------

TEST_CASE("mmapio_flush_hint: INVALID_ARGUMENT when m is NULL",
          "[mmapio_flush_hint][errors][durability]") {
  mmapio_clear_error();
  CHECK_CODE(mmapio_flush_hint(nullptr), MMAPIO_E_INVALID_ARGUMENT);
  CHECK(mmapio_last_error()->code == MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_flush_range_hint: INVALID_ARGUMENT when m is NULL",
          "[mmapio_flush_range_hint][errors][durability]") {
  mmapio_clear_error();
  CHECK_CODE(mmapio_flush_range_hint(nullptr, 0, 1), MMAPIO_E_INVALID_ARGUMENT);
  CHECK(mmapio_last_error()->code == MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_flush_range_hint: OUT_OF_BOUNDS when off + len exceeds "
          "the length",
          "[mmapio_flush_range_hint][errors][durability]") {
  TempDir td;
  const uint64_t size = 4 * kPage;
  MapPtr m = open_policy(td.path("f"), size, MMAPIO_FLUSH_MANUAL, 0);
  struct Case {
    uint64_t off, len;
  };
  const Case cases[] = {{size, 1},
                        {0, size + 1},
                        {size + 1, 0},
                        {1, UINT64_MAX},
                        {UINT64_MAX, 2}};
  for (const auto &c : cases) {
    CAPTURE(c.off, c.len);
    CHECK_CODE(mmapio_flush_range_hint(m.get(), c.off, c.len),
               MMAPIO_E_OUT_OF_BOUNDS);
  }
  CHECK_OK(mmapio_flush_range_hint(m.get(), size, 0));
  CHECK_OK(mmapio_flush_range_hint(m.get(), 0, size));
}

TEST_CASE("mmapio_flush_hint: RO and COW mappings return 0",
          "[mmapio_flush_hint][durability]") {
  TempDir td;
  const std::string p =
      make_file(td, "f", pattern_bytes(static_cast<size_t>(2 * kPage)));
  const mmapio_mode mode = GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_COW);
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_open(&m, p.c_str(), mode));
  MapPtr h(m);
  CHECK_OK(mmapio_flush_hint(h.get()));
  CHECK_OK(mmapio_flush_range_hint(h.get(), 1, 10));
  CHECK_CODE(mmapio_flush_range_hint(h.get(), 0, 3 * kPage),
             MMAPIO_E_OUT_OF_BOUNDS);
}

TEST_CASE("mmapio_flush_hint: anonymous mappings return 0",
          "[mmapio_flush_hint][durability]") {
  mmapio_map *a = nullptr;
  REQUIRE_OK(mmapio_anon(&a, 4 * kPage));
  MapPtr h(a);
  REQUIRE_OK(mmapio_update(h.get(), 0, "abc", 3));
  CHECK_OK(mmapio_flush_hint(h.get()));
  CHECK_OK(mmapio_flush_range_hint(h.get(), 0, 3));
  CHECK_CODE(mmapio_flush_range_hint(h.get(), 0, 5 * kPage),
             MMAPIO_E_OUT_OF_BOUNDS);
}

TEST_CASE("mmapio_flush_hint: starts writeback of pages written through "
          "any path: they become clean without a durable flush",
          "[mmapio_flush_hint][durability][linux]") {
  TempDir td;
  const std::string why = cannot_measure(td.dir());
  if (!why.empty())
    MMAPIO_SKIP(why);
  const WritePath how =
      GENERATE(WritePath::update, WritePath::view_mut, WritePath::base_mut);
  const bool whole = GENERATE(true, false);
  INFO("written through " << path_name(how) << ", "
                          << (whole ? "mmapio_flush_hint"
                                    : "mmapio_flush_range_hint"));
  MapPtr m = open_policy(td.path("f"), 16 * kPage, MMAPIO_FLUSH_MANUAL, 0);
  // Without it the hint is msync(MS_ASYNC), which Linux ignores.
  MMAPIO_REQUIRE_CAP(MMAPIO_CAP_WRITEBACK_HINT);
  const std::string bytes = pattern_bytes(static_cast<size_t>(2 * kPage));
  write_via(how, m.get(), 3 * kPage + 11, bytes);
  REQUIRE(dirty_of(m.get()) > 0);
  const uint64_t pending = mmapio_pending(m.get());
  if (whole)
    REQUIRE_OK(mmapio_flush_hint(m.get()));
  else
    REQUIRE_OK(mmapio_flush_range_hint(m.get(), 3 * kPage + 11, bytes.size()));
  // Not durable, not counted: the pending count is unchanged.
  CHECK(mmapio_pending(m.get()) == pending);
  // Writeback was started, so the pages become clean on their own, long
  // before the kernel's periodic writeback (30 s) would clean them.
  CHECK(poll_until([&] { return dirty_of(m.get()) == 0; }, 10, 1000));
}
