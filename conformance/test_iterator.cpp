// Iterators: chunks and pages (zero-copy), their owned copies, the
// writable walk with a callback, and what resizing does to a live walk.
#include "support.hpp"
#include "support_proc.hpp"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

using namespace mmapio_test;

namespace {

// The table of the brief: file sizes and chunk sizes.
const uint64_t kSizes[] = {0, 1, kPage - 1, kPage, kPage + 1, 10 * kPage + 17};
const size_t kChunkSizes[] = {1, 7, static_cast<size_t>(kPage), 65536};

// Walks it to the end; checks every chunk against bytes and the mapping.
void check_walk(mmapio_chunks &it, mmapio_map *m, const std::string &bytes,
                size_t chunk) {
  const unsigned char *base =
      static_cast<const unsigned char *>(mmapio_base(m));
  std::string seen;
  uint64_t expect_off = 0;
  size_t count = 0;
  mmapio_chunk c{};
  while (mmapio_chunks_next(&it, &c)) {
    count++;
    const uint64_t left = bytes.size() - expect_off;
    REQUIRE(c.off == expect_off);
    REQUIRE(c.len == (left < chunk ? left : chunk));
    REQUIRE(c.len > 0);
    // Zero-copy: the chunk is the mapping itself.
    REQUIRE(static_cast<const unsigned char *>(c.data) == base + c.off);
    seen.append(static_cast<const char *>(c.data), c.len);
    expect_off += c.len;
  }
  CHECK(count == (bytes.size() + chunk - 1) / chunk);
  CHECK(seen == bytes);
  // The end is sticky.
  CHECK_FALSE(mmapio_chunks_next(&it, &c));
}

} // namespace

// ------------------------------------------------------------------
// chunks and pages: the table
// ------------------------------------------------------------------

TEST_CASE("mmapio_chunks_next: every file size x chunk size yields the file's "
          "bytes zero-copy, the last chunk short",
          "[mmapio_chunks_begin][mmapio_chunks_next][iterator]") {
  const uint64_t size =
      GENERATE(from_range(std::begin(kSizes), std::end(kSizes)));
  const size_t chunk =
      GENERATE(from_range(std::begin(kChunkSizes), std::end(kChunkSizes)));
  const mmapio_mode mode =
      size == 0 ? MMAPIO_MODE_RO
                : GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_RW, MMAPIO_MODE_COW);
  CAPTURE(size, chunk, mode);
  MappedFile f(size, mode);
  mmapio_chunks it;
  REQUIRE_OK(mmapio_chunks_begin(&it, f.map.get(), chunk));
  check_walk(it, f.map.get(), f.bytes, chunk);
  // Reaching the end released the walk's pin and reference.
  CHECK(only_reference_left(f.map));
}

TEST_CASE("mmapio_pages_begin: pages are chunks of the page size",
          "[mmapio_pages_begin][mmapio_chunks_next][iterator]") {
  const uint64_t size =
      GENERATE(from_range(std::begin(kSizes), std::end(kSizes)));
  CAPTURE(size);
  MappedFile f(size, MMAPIO_MODE_RO);
  mmapio_chunks it;
  REQUIRE_OK(mmapio_pages_begin(&it, f.map.get()));
  check_walk(it, f.map.get(), f.bytes, static_cast<size_t>(kPage));
  CHECK(only_reference_left(f.map));
}

TEST_CASE("mmapio_chunks_next_owned: every file size x chunk size yields "
          "malloc'd copies of the file's bytes",
          "[mmapio_chunks_next_owned][iterator]") {
  const uint64_t size =
      GENERATE(from_range(std::begin(kSizes), std::end(kSizes)));
  const size_t chunk =
      GENERATE(from_range(std::begin(kChunkSizes), std::end(kChunkSizes)));
  CAPTURE(size, chunk);
  MappedFile f(size, MMAPIO_MODE_RO);
  const auto *base =
      static_cast<const unsigned char *>(mmapio_base(f.map.get()));
  mmapio_chunks it;
  REQUIRE_OK(mmapio_chunks_begin(&it, f.map.get(), chunk));
  std::string seen;
  size_t count = 0;
  for (;;) {
    mmapio_owned_chunk c{};
    REQUIRE_OK(mmapio_chunks_next_owned(&it, &c));
    if (c.data == nullptr) {
      CHECK(c.len == 0);
      break;
    }
    count++;
    CHECK(c.off == seen.size());
    CHECK(c.len == std::min<uint64_t>(chunk, size - seen.size()));
    // A copy, not the mapping.
    const auto *d = static_cast<const unsigned char *>(c.data);
    CHECK((d + c.len <= base || d >= base + size));
    seen.append(static_cast<const char *>(c.data), c.len);
    std::free(c.data);
  }
  CHECK(count == (size + chunk - 1) / chunk);
  CHECK(seen == f.bytes);
  mmapio_owned_chunk again{};
  REQUIRE_OK(mmapio_chunks_next_owned(&it, &again));
  CHECK(again.data == nullptr);
  CHECK(only_reference_left(f.map));
}

TEST_CASE("mmapio_chunks_next_owned: mixes with mmapio_chunks_next on one "
          "walk (pages_owned)",
          "[mmapio_chunks_next_owned][mmapio_pages_begin][iterator]") {
  MappedFile f(3 * kPage + 5, MMAPIO_MODE_RO);
  mmapio_chunks it;
  REQUIRE_OK(mmapio_pages_begin(&it, f.map.get()));
  mmapio_chunk v{};
  mmapio_owned_chunk o{};
  REQUIRE(mmapio_chunks_next(&it, &v));
  REQUIRE_OK(mmapio_chunks_next_owned(&it, &o));
  REQUIRE(o.data != nullptr);
  CHECK(o.off == kPage);
  CHECK(std::string(static_cast<char *>(o.data), o.len) ==
        f.bytes.substr(kPage, kPage));
  std::free(o.data);
  REQUIRE(mmapio_chunks_next(&it, &v));
  CHECK(v.off == 2 * kPage);
  REQUIRE_OK(mmapio_chunks_next_owned(&it, &o));
  CHECK(o.len == 5);
  std::free(o.data);
  REQUIRE_OK(mmapio_chunks_next_owned(&it, &o));
  CHECK(o.data == nullptr);
  CHECK(only_reference_left(f.map));
}

// ------------------------------------------------------------------
// Lifetime and resizing during a walk
// ------------------------------------------------------------------

TEST_CASE("mmapio_chunks_begin: a live walk blocks a shrink that would cut "
          "it, and its end releases the pin",
          "[mmapio_chunks_begin][mmapio_chunks_end][mmapio_resize][iterator]["
          "resize]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), 4 * kPage);
  mmapio_chunks it;
  mmapio_chunk c{};

  SECTION("released when next reaches the end") {
    REQUIRE_OK(mmapio_chunks_begin(&it, m.get(), kPage));
    REQUIRE(mmapio_chunks_next(&it, &c));
    CHECK_CODE(mmapio_resize(m.get(), 2 * kPage, nullptr), MMAPIO_E_BUSY);
    CHECK(mmapio_len(m.get()) == 4 * kPage);
    while (mmapio_chunks_next(&it, &c)) {
    }
    REQUIRE_OK(mmapio_resize(m.get(), 2 * kPage, nullptr));
    mmapio_chunks_end(&it); // a no-op after the end
  }
  SECTION("released by mmapio_chunks_end when abandoned early") {
    REQUIRE_OK(mmapio_chunks_begin(&it, m.get(), 7));
    REQUIRE(mmapio_chunks_next(&it, &c));
    CHECK_CODE(mmapio_resize(m.get(), kPage, nullptr), MMAPIO_E_BUSY);
    mmapio_chunks_end(&it);
    CHECK_FALSE(mmapio_chunks_next(&it, &c));
    REQUIRE_OK(mmapio_resize(m.get(), kPage, nullptr));
    mmapio_chunks_end(&it);
    mmapio_chunks_end(nullptr);
  }
  SECTION("released by the end of an owned walk") {
    REQUIRE_OK(mmapio_chunks_begin(&it, m.get(), 3 * kPage));
    mmapio_owned_chunk o{};
    REQUIRE_OK(mmapio_chunks_next_owned(&it, &o));
    std::free(o.data);
    CHECK_CODE(mmapio_resize(m.get(), kPage, nullptr), MMAPIO_E_BUSY);
    REQUIRE_OK(mmapio_chunks_next_owned(&it, &o));
    std::free(o.data);
    REQUIRE_OK(mmapio_chunks_next_owned(&it, &o));
    REQUIRE(o.data == nullptr);
    REQUIRE_OK(mmapio_resize(m.get(), kPage, nullptr));
  }
  SECTION("a shrink that cuts nothing of the walk's range is allowed") {
    REQUIRE_OK(mmapio_resize(m.get(), 8 * kPage, nullptr));
    REQUIRE_OK(mmapio_chunks_begin(&it, m.get(), kPage));
    REQUIRE_OK(mmapio_resize(m.get(), 16 * kPage, nullptr));
    REQUIRE_OK(mmapio_resize(m.get(), 8 * kPage, nullptr));
    CHECK_CODE(mmapio_resize(m.get(), 8 * kPage - 1, nullptr), MMAPIO_E_BUSY);
    mmapio_chunks_end(&it);
  }
  // Found by fuzz_views: the longer walk's length outlived it.
  SECTION("a longer walk that ended holds nothing: a shorter one still "
          "live holds only its own range") {
    REQUIRE_OK(mmapio_chunks_begin(&it, m.get(), kPage)); // [0, 4 pages)
    REQUIRE_OK(mmapio_resize(m.get(), 16 * kPage, nullptr));
    mmapio_chunks longer;
    REQUIRE_OK(mmapio_chunks_begin(&longer, m.get(), kPage)); // [0, 16)
    CHECK_CODE(mmapio_resize(m.get(), 8 * kPage, nullptr), MMAPIO_E_BUSY);
    mmapio_chunks_end(&longer);
    REQUIRE_OK(mmapio_resize(m.get(), 8 * kPage, nullptr));
    REQUIRE_OK(mmapio_resize(m.get(), 4 * kPage, nullptr));
    CHECK_CODE(mmapio_resize(m.get(), 4 * kPage - 1, nullptr), MMAPIO_E_BUSY);
    // The same with the writable walk as the longer one.
    REQUIRE_OK(mmapio_resize(m.get(), 16 * kPage, nullptr));
    int calls = 0;
    REQUIRE_OK(mmapio_chunks_mut(
        m.get(), kPage,
        [](uint64_t, void *, size_t, void *ctx) {
          ++*static_cast<int *>(ctx);
          return 0;
        },
        &calls));
    CHECK(calls == 16);
    REQUIRE_OK(mmapio_resize(m.get(), 4 * kPage, nullptr));
    CHECK_CODE(mmapio_resize(m.get(), 2 * kPage, nullptr), MMAPIO_E_BUSY);
    mmapio_chunks_end(&it);
    REQUIRE_OK(mmapio_resize(m.get(), 2 * kPage, nullptr));
  }
}

TEST_CASE("mmapio_chunks_next: growth during a walk is not seen",
          "[mmapio_chunks_next][mmapio_resize][iterator][resize]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), 3 * kPage);
  const std::string bytes = pattern_bytes(3 * kPage, 3);
  REQUIRE_OK(mmapio_update(m.get(), 0, bytes.data(), bytes.size()));
  mmapio_chunks it;
  REQUIRE_OK(mmapio_chunks_begin(&it, m.get(), kPage));
  mmapio_chunk c{};
  REQUIRE(mmapio_chunks_next(&it, &c));
  REQUIRE_OK(mmapio_resize(m.get(), 10 * kPage, nullptr));
  std::string seen(static_cast<const char *>(c.data), c.len);
  size_t count = 1;
  while (mmapio_chunks_next(&it, &c)) {
    seen.append(static_cast<const char *>(c.data), c.len);
    count++;
  }
  CHECK(count == 3);
  CHECK(seen == bytes);
}

TEST_CASE("mmapio_chunks_next: growth that moves the base does not disturb "
          "a walk",
          "[mmapio_chunks_next][mmapio_resize][iterator][resize][linux]") {
  TempDir td;
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.size = 4 * kPage;
  o.reserve = 4 * kPage;
  mmapio_map *raw = nullptr;
  REQUIRE_OK(mmapio_open_ex(&raw, td.path("f").c_str(), &o, MMAPIO_CREATE));
  MapPtr m(raw);
  const std::string bytes = pattern_bytes(4 * kPage, 5);
  REQUIRE_OK(mmapio_update(m.get(), 0, bytes.data(), bytes.size()));
  mmapio_chunks it;
  REQUIRE_OK(mmapio_chunks_begin(&it, m.get(), 1000));
  mmapio_chunk c{};
  REQUIRE(mmapio_chunks_next(&it, &c));
  std::string seen(static_cast<const char *>(c.data), c.len);
  {
    GrowthBlocker blocker(mmapio_base(m.get()));
    if (!blocker.ok()) {
      mmapio_chunks_end(&it);
      MMAPIO_SKIP("cannot occupy the address space after the reservation");
    }
    bool moved = false;
    REQUIRE_OK(mmapio_resize(m.get(), 64 * kPage, &moved));
    if (!moved) {
      mmapio_chunks_end(&it);
      MMAPIO_SKIP("growth did not move the base");
    }
  }
  while (mmapio_chunks_next(&it, &c))
    seen.append(static_cast<const char *>(c.data), c.len);
  CHECK(seen == bytes);
  // A new walk covers the grown length at the new base.
  REQUIRE_OK(mmapio_chunks_begin(&it, m.get(), 64 * kPage));
  REQUIRE(mmapio_chunks_next(&it, &c));
  CHECK(c.data == mmapio_base(m.get()));
  CHECK(c.len == 64 * kPage);
  CHECK_FALSE(mmapio_chunks_next(&it, &c));
}

TEST_CASE("mmapio_chunks_begin: the walk keeps a closed mapping alive until "
          "its end",
          "[mmapio_chunks_begin][mmapio_close][iterator]") {
  MappedFile f(2 * kPage + 3, MMAPIO_MODE_RO);
  mmapio_chunks it;
  REQUIRE_OK(mmapio_chunks_begin(&it, f.map.get(), 100));
  int fd = -1;
  CHECK_CODE(mmapio_unmap(f.map.get(), &fd), MMAPIO_E_BUSY);
  mmapio_close(f.map.release()); // drops the caller's reference only
  std::string seen;
  mmapio_chunk c{};
  while (mmapio_chunks_next(&it, &c)) // the last reference goes here
    seen.append(static_cast<const char *>(c.data), c.len);
  CHECK(seen == f.bytes);
}

TEST_CASE("mmapio_chunks_begin: walks racing resizes on another thread never "
          "see their range cut",
          "[mmapio_chunks_begin][mmapio_chunks_mut][mmapio_resize][iterator]["
          "resize]") {
  // The resizes grow past the file's first end and cut pages mid-way.
  if (!file_tail_blocker().empty())
    MMAPIO_SKIP(file_tail_blocker());
  TempDir td;
  MapPtr m = create_map(td.path("f"), 4 * kPage);
  std::atomic<bool> stop{false};
  std::atomic<int> busy{0}, failed{0};
  std::thread resizer([&] {
    for (unsigned i = 0; !stop; i++) {
      const uint64_t to = (1 + (i * 7919) % 8) * kPage - (i % 3);
      const int rc = mmapio_resize(m.get(), to, nullptr);
      if (rc == MMAPIO_E_BUSY)
        busy++;
      else if (rc != 0)
        failed++;
    }
  });
  int cut = 0, broken = 0;
  for (int round = 0; round < 300; round++) {
    mmapio_chunks it;
    REQUIRE_OK(mmapio_chunks_begin(&it, m.get(), 1000));
    uint64_t expect = 0;
    unsigned sum = 0;
    mmapio_chunk c{};
    while (mmapio_chunks_next(&it, &c)) {
      if (c.off != expect)
        broken++;
      expect = c.off + c.len;
      sum += static_cast<const unsigned char *>(c.data)[c.len - 1];
      // The pin: while the walk lives, the length never drops below it.
      if (mmapio_len(m.get()) < expect)
        cut++;
    }
    (void)sum;
    auto count = [](uint64_t, void *data, size_t len, void *ctx) {
      static_cast<unsigned char *>(data)[len - 1] = 1;
      return ++*static_cast<int *>(ctx) > 1000000 ? 1 : 0;
    };
    int calls = 0;
    if (mmapio_chunks_mut(m.get(), 999, count, &calls) != 0)
      broken++;
  }
  stop = true;
  resizer.join();
  CHECK(cut == 0);
  CHECK(broken == 0);
  CHECK(failed == 0);
  INFO("resizes refused with BUSY: " << busy.load());
  SUCCEED();
}

TEST_CASE("mmapio_chunks_begin: walks that begin and end while shrinks race "
          "them are never cut",
          "[mmapio_chunks_begin][mmapio_chunks_end][mmapio_resize][iterator]["
          "resize]") {
  // Beginning and ending a walk take no lock (pin.c): a shrink must still
  // see every walk that registered before it decided, and a walk must see
  // every shrink that decided before it registered.
  TempDir td;
  MapPtr m = create_map(td.path("f"), 8 * kPage);
  std::atomic<bool> stop{false};
  std::atomic<int> failed{0};
  std::atomic<long> shrinks{0};
  std::thread resizer([&] {
    for (unsigned i = 0; !stop; i++) {
      const int rc = mmapio_resize(m.get(), (i & 1 ? 8 : 1) * kPage, nullptr);
      if (rc == 0 && !(i & 1))
        shrinks++;
      else if (rc != 0 && rc != MMAPIO_E_BUSY)
        failed++;
    }
  });
  // A shrink succeeds only when it falls between two walks; on a loaded
  // machine that can take longer than the planned rounds, so the walks
  // go on (up to 20 times as many) until one has.
  const int rounds = mmapio_test_under_valgrind() ? 2000 : 50000;
  int cut = 0;
  for (int round = 0; round < rounds || (shrinks == 0 && round < 20 * rounds);
       round++) {
    if (round % 256 == 255)
      std::this_thread::yield();
    mmapio_chunks it;
    REQUIRE_OK(mmapio_chunks_begin(&it, m.get(), 64 * kPage));
    mmapio_chunk c{};
    if (!mmapio_chunks_next(&it, &c))
      continue; // cannot happen: the length is never 0
    // The walk holds [0, c.len): the length stays at least that.
    for (int k = 0; k < 4; k++)
      if (mmapio_len(m.get()) < c.len)
        cut++;
    mmapio_chunks_end(&it);
  }
  stop = true;
  resizer.join();
  CHECK(cut == 0);
  CHECK(failed == 0);
  INFO("shrinks that succeeded: " << shrinks.load());
  CHECK(shrinks > 0);
}

TEST_CASE("mmapio_chunks_end: the last walk and the last reference, dropped "
          "on two threads, free the handle exactly once",
          "[mmapio_chunks_end][mmapio_close][iterator]") {
  // ASan, TSan and valgrind see a double free or a leak; the walk's bytes
  // stay readable until its end.
  TempDir td;
  const std::string path = make_file(td, "f", pattern_bytes(2 * kPage, 3));
  const int rounds = mmapio_test_under_valgrind() ? 50 : 500;
  for (int round = 0; round < rounds; round++) {
    mmapio_map *m = nullptr;
    REQUIRE_OK(mmapio_open(&m, path.c_str(), MMAPIO_MODE_RO));
    mmapio_chunks it;
    REQUIRE_OK(mmapio_chunks_begin(&it, m, kPage));
    std::atomic<bool> go{false};
    std::thread closer([&] {
      while (!go) {
      }
      mmapio_close(m);
    });
    mmapio_chunk c{};
    REQUIRE(mmapio_chunks_next(&it, &c));
    const unsigned char first = *static_cast<const unsigned char *>(c.data);
    go = true;
    mmapio_chunks_end(&it);
    closer.join();
    CHECK(first == static_cast<unsigned char>(pattern_bytes(1, 3)[0]));
  }
}

// Walks register in a slot of their thread without a locked instruction
// (lib/src/walk_slots.c): a walk may end on another thread, outlive the
// thread that began it, and there may be more of them at once than a
// thread has slots or the library has records; each still holds its range.

TEST_CASE("mmapio_chunks_end: a walk ended on another thread than the one "
          "that began it releases its range",
          "[mmapio_chunks_begin][mmapio_chunks_end][mmapio_resize][iterator]["
          "resize]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), 4 * kPage);
  // Catch2's assertions are for the main thread: the others report rc.
  mmapio_chunks it;
  int rc = -1;
  std::thread([&] { rc = mmapio_chunks_begin(&it, m.get(), kPage); }).join();
  REQUIRE(rc == 0);
  // The thread that began it is gone; its slot still holds the walk.
  CHECK_CODE(mmapio_resize(m.get(), kPage, nullptr), MMAPIO_E_BUSY);
  int fd = -1;
  CHECK_CODE(mmapio_unmap(m.get(), &fd), MMAPIO_E_BUSY);
  // Another thread takes the freed record and walks; its walk's end does
  // not release the first walk.
  std::thread([&] {
    mmapio_chunks other;
    rc = mmapio_chunks_begin(&other, m.get(), kPage);
    if (rc == 0)
      mmapio_chunks_end(&other);
  }).join();
  REQUIRE(rc == 0);
  CHECK_CODE(mmapio_resize(m.get(), kPage, nullptr), MMAPIO_E_BUSY);
  CHECK(mmapio_len(m.get()) == 4 * kPage);
  mmapio_chunk c{};
  uint64_t seen = 0;
  while (mmapio_chunks_next(&it, &c)) // ends here, on this thread
    seen += c.len;
  CHECK(seen == 4 * kPage);
  REQUIRE_OK(mmapio_resize(m.get(), kPage, nullptr));
}

TEST_CASE("mmapio_chunks_begin: more walks at once on one thread than it "
          "has slots each hold their own range",
          "[mmapio_chunks_begin][mmapio_chunks_end][mmapio_resize][iterator]["
          "resize]") {
  // 20 walks, each begun after growing the mapping by a page: the first
  // ones take the thread's slots, the rest count themselves in the handle
  // (one length there) or take pins (other lengths).
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  constexpr int kWalks = 20;
  std::vector<mmapio_chunks> walks(kWalks);
  for (int i = 0; i < kWalks; i++) {
    REQUIRE_OK(mmapio_resize(m.get(), (i + 1) * kPage, nullptr));
    REQUIRE_OK(mmapio_chunks_begin(&walks[i], m.get(), kPage));
  }
  // Ended from the longest: each end lets a shrink down to the next one.
  for (int i = kWalks - 1; i >= 0; i--) {
    const uint64_t held = static_cast<uint64_t>(i + 1) * kPage;
    CHECK_CODE(mmapio_resize(m.get(), held - 1, nullptr), MMAPIO_E_BUSY);
    CHECK(mmapio_len(m.get()) >= held);
    mmapio_chunks_end(&walks[i]);
    if (i > 0)
      REQUIRE_OK(mmapio_resize(m.get(), held - kPage, nullptr));
  }
  REQUIRE_OK(mmapio_resize(m.get(), 1, nullptr));
}

TEST_CASE("mmapio_chunks_begin: more threads walking at once than the "
          "library has slot records each hold their range",
          "[mmapio_chunks_begin][mmapio_chunks_end][mmapio_resize][iterator]["
          "resize]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), 4 * kPage);
  constexpr int kThreads = 80; // more than walk_slots.c's records
  std::atomic<int> begun{0}, failed{0};
  std::atomic<bool> end{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++)
    threads.emplace_back([&] {
      mmapio_chunks it;
      if (mmapio_chunks_begin(&it, m.get(), kPage) != 0)
        failed++;
      begun++;
      while (!end)
        std::this_thread::yield();
      mmapio_chunks_end(&it);
    });
  while (begun < kThreads)
    std::this_thread::yield();
  CHECK(failed == 0);
  CHECK_CODE(mmapio_resize(m.get(), kPage, nullptr), MMAPIO_E_BUSY);
  int fd = -1;
  CHECK_CODE(mmapio_unmap(m.get(), &fd), MMAPIO_E_BUSY);
  end = true;
  for (std::thread &t : threads)
    t.join();
  REQUIRE_OK(mmapio_resize(m.get(), kPage, nullptr));
}

TEST_CASE("mmapio_chunks_begin: a closed mapping waits for walks on other "
          "threads, and the last one's end frees it",
          "[mmapio_chunks_begin][mmapio_chunks_end][mmapio_close][iterator]") {
  // Three threads hold walks when the last reference goes; the handle
  // stays mapped for each, and ASan, TSan and valgrind see it freed once.
  MappedFile f(3 * kPage + 5, MMAPIO_MODE_RO);
  mmapio_map *m = f.map.release();
  constexpr int kThreads = 3;
  std::atomic<int> begun{0}, failed{0};
  std::atomic<int> go{-1};
  std::vector<std::string> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++)
    threads.emplace_back([&, t] {
      mmapio_chunks it;
      const bool ok = mmapio_chunks_begin(&it, m, 1000) == 0;
      if (!ok)
        failed++;
      begun++;
      while (go < t)
        std::this_thread::yield();
      mmapio_chunk c{};
      while (ok && mmapio_chunks_next(&it, &c))
        seen[t].append(static_cast<const char *>(c.data), c.len);
      go++;
    });
  while (begun < kThreads)
    std::this_thread::yield();
  REQUIRE(failed == 0);
  mmapio_close(m);
  go = 0; // the walks end one after another
  for (std::thread &t : threads)
    t.join();
  for (const std::string &s : seen)
    CHECK(s == f.bytes);
}

// ------------------------------------------------------------------
// chunks_mut
// ------------------------------------------------------------------

namespace {

struct MutLog {
  std::vector<uint64_t> offs;
  std::vector<size_t> lens;
  size_t stop_at = SIZE_MAX; // index of the call that returns stop_with
  int stop_with = 0;
  mmapio_map *map = nullptr;
  int resize_rc = 1; // result of a resize made from inside the callback
  uint64_t resize_to = 0;
};

// Fills each chunk with the low byte of (offset of the byte) ^ 0x5A.
int fill_chunk(uint64_t off, void *data, size_t len, void *ctx) {
  auto *log = static_cast<MutLog *>(ctx);
  const size_t index = log->offs.size();
  log->offs.push_back(off);
  log->lens.push_back(len);
  auto *p = static_cast<unsigned char *>(data);
  for (size_t i = 0; i < len; i++)
    p[i] = static_cast<unsigned char>((off + i) ^ 0x5A);
  if (log->resize_to != 0 && index == 0)
    log->resize_rc = mmapio_resize(log->map, log->resize_to, nullptr);
  return index == log->stop_at ? log->stop_with : 0;
}

std::string filled(uint64_t size) {
  std::string s(size, '\0');
  for (uint64_t i = 0; i < size; i++)
    s[i] = static_cast<char>((i ^ 0x5A) & 0xFF);
  return s;
}

} // namespace

TEST_CASE("mmapio_chunks_mut: every file size x chunk size visits each chunk "
          "once, in order, writably",
          "[mmapio_chunks_mut][iterator]") {
  const uint64_t size =
      GENERATE(from_range(std::begin(kSizes) + 1, std::end(kSizes)));
  const size_t chunk =
      GENERATE(from_range(std::begin(kChunkSizes), std::end(kChunkSizes)));
  const mmapio_mode mode = GENERATE(MMAPIO_MODE_RW, MMAPIO_MODE_COW);
  CAPTURE(size, chunk, mode);
  MappedFile f(size, mode);
  MutLog log;
  REQUIRE_OK(mmapio_chunks_mut(f.map.get(), chunk, fill_chunk, &log));
  REQUIRE(log.offs.size() == (size + chunk - 1) / chunk);
  uint64_t off = 0;
  for (size_t i = 0; i < log.offs.size(); i++) {
    CHECK(log.offs[i] == off);
    CHECK(log.lens[i] == std::min<uint64_t>(chunk, size - off));
    off += log.lens[i];
  }
  std::string now(size, '\0');
  REQUIRE_OK(mmapio_read(f.map.get(), 0, &now[0], size));
  CHECK(now == filled(size));
  // RW writes reach the file; COW writes stay private.
  REQUIRE_OK(mmapio_flush(f.map.get()));
  CHECK(read_bytes(f.path) ==
        (mode == MMAPIO_MODE_RW ? filled(size) : f.bytes));
  CHECK(only_reference_left(f.map));
}

TEST_CASE("mmapio_chunks_mut: stops at the callback's first non-zero return "
          "and returns it",
          "[mmapio_chunks_mut][iterator]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), 10 * kPage);
  const int value = GENERATE(42, -1, MMAPIO_E_BUSY, INT32_MIN);
  CAPTURE(value);
  MutLog log;
  log.stop_at = 2;
  log.stop_with = value;
  CHECK(mmapio_chunks_mut(m.get(), kPage, fill_chunk, &log) == value);
  CHECK(log.offs.size() == 3);
  // Stopping released the walk's pin.
  REQUIRE_OK(mmapio_resize(m.get(), 1, nullptr));
}

TEST_CASE("mmapio_chunks_mut: the walk is pinned: a shrink from the callback "
          "fails with BUSY, growth is not walked",
          "[mmapio_chunks_mut][mmapio_resize][iterator][resize]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), 4 * kPage);
  MutLog log;
  log.map = m.get();
  SECTION("shrink") {
    log.resize_to = kPage;
    REQUIRE_OK(mmapio_chunks_mut(m.get(), kPage, fill_chunk, &log));
    CHECK(log.resize_rc == MMAPIO_E_BUSY);
    CHECK(log.offs.size() == 4);
    REQUIRE_OK(mmapio_resize(m.get(), kPage, nullptr));
  }
  SECTION("growth") {
    log.resize_to = 8 * kPage;
    REQUIRE_OK(mmapio_chunks_mut(m.get(), kPage, fill_chunk, &log));
    CHECK(log.resize_rc == 0);
    CHECK(log.offs.size() == 4);
    CHECK(mmapio_len(m.get()) == 8 * kPage);
  }
}

// ------------------------------------------------------------------
// Errors
// ------------------------------------------------------------------

TEST_CASE("mmapio_chunks_begin: INVALID_ARGUMENT when it or m is NULL",
          "[mmapio_chunks_begin][errors][iterator]") {
  MappedFile f(kPage, MMAPIO_MODE_RO);
  mmapio_chunks it;
  std::memset(&it, 0xAB, sizeof it);
  CHECK_CODE(mmapio_chunks_begin(&it, nullptr, 16), MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_chunks_begin(nullptr, f.map.get(), 16),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(it.pos_ == 0xABABABABABABABABULL); // untouched
  CHECK(only_reference_left(f.map));
}

TEST_CASE("mmapio_chunks_begin: INVALID_ARGUMENT when chunk_size is 0",
          "[mmapio_chunks_begin][errors][iterator]") {
  MappedFile f(kPage, MMAPIO_MODE_RO);
  mmapio_chunks it;
  std::memset(&it, 0xAB, sizeof it);
  CHECK_CODE(mmapio_chunks_begin(&it, f.map.get(), 0),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(it.pos_ == 0xABABABABABABABABULL);
  CHECK(only_reference_left(f.map));
}

TEST_CASE("mmapio_pages_begin: INVALID_ARGUMENT when it or m is NULL",
          "[mmapio_pages_begin][errors][iterator]") {
  MappedFile f(kPage, MMAPIO_MODE_RO);
  mmapio_chunks it;
  CHECK_CODE(mmapio_pages_begin(&it, nullptr), MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_pages_begin(nullptr, f.map.get()),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(only_reference_left(f.map));
}

TEST_CASE("mmapio_chunks_next_owned: INVALID_ARGUMENT when it or out is NULL",
          "[mmapio_chunks_next_owned][errors][iterator]") {
  MappedFile f(kPage, MMAPIO_MODE_RO);
  mmapio_chunks it;
  REQUIRE_OK(mmapio_chunks_begin(&it, f.map.get(), 16));
  mmapio_owned_chunk o{};
  CHECK_CODE(mmapio_chunks_next_owned(nullptr, &o), MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_chunks_next_owned(&it, nullptr), MMAPIO_E_INVALID_ARGUMENT);
  // The walk did not advance.
  mmapio_chunk c{};
  REQUIRE(mmapio_chunks_next(&it, &c));
  CHECK(c.off == 0);
  mmapio_chunks_end(&it);
}

TEST_CASE("mmapio_chunks_next_owned: NO_MEMORY when the copy cannot be "
          "allocated",
          "[mmapio_chunks_next_owned][errors][iterator][linux]") {
  MMAPIO_REQUIRE_ALLOCATION_FAILURE();
  // A sparse file far larger than the memory the child may still map.
  MappedFile f(0, MMAPIO_MODE_RO);
  const std::string big = f.td.path("big");
  mmapio_map *raw = nullptr;
  constexpr uint64_t size = mmapio_test_big_file();
  REQUIRE_OK(mmapio_create(&raw, big.c_str(), size));
  MapPtr m(raw);
  const ChildOutcome r = run_in_child([&m](int &extra) {
    mmapio_chunks it;
    if (mmapio_chunks_begin(&it, m.get(), static_cast<size_t>(size / 2)) != 0)
      return 100;
    limit_address_space(size_t{1} << 28);
    mmapio_owned_chunk o{};
    o.data = &extra; // must stay untouched
    const int rc = mmapio_chunks_next_owned(&it, &o);
    extra = o.data == &extra ? 1 : 0;
    return rc;
  });
  INFO(r.describe());
  REQUIRE(r.reported);
  CHECK(r.rc == MMAPIO_E_NO_MEMORY);
  CHECK(r.code == MMAPIO_E_NO_MEMORY);
  CHECK(r.extra == 1);
}

TEST_CASE("mmapio_chunks_mut: INVALID_ARGUMENT when m or fn is NULL",
          "[mmapio_chunks_mut][errors][iterator]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  MutLog log;
  CHECK_CODE(mmapio_chunks_mut(nullptr, 16, fill_chunk, &log),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_chunks_mut(m.get(), 16, nullptr, &log),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(log.offs.empty());
}

TEST_CASE("mmapio_chunks_mut: INVALID_ARGUMENT when chunk_size is 0",
          "[mmapio_chunks_mut][errors][iterator]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  MutLog log;
  CHECK_CODE(mmapio_chunks_mut(m.get(), 0, fill_chunk, &log),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(log.offs.empty());
}

TEST_CASE("mmapio_chunks_mut: INVALID_MODE when the mapping is read-only",
          "[mmapio_chunks_mut][errors][iterator]") {
  MappedFile f(kPage, MMAPIO_MODE_RO);
  MutLog log;
  CHECK_CODE(mmapio_chunks_mut(f.map.get(), 16, fill_chunk, &log),
             MMAPIO_E_INVALID_MODE);
  CHECK(log.offs.empty());
  CHECK(only_reference_left(f.map));
}
