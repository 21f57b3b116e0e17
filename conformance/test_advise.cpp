// Memory advice (mmapio_advise) and file read-ahead
// (mmapio_prefetch_range), over every backing.
#include "support_memory.hpp"

#include <atomic>
#include <thread>

using namespace mmapio_test;

namespace {} // namespace

// ------------------------------------------------------------------
// mmapio_advise
// ------------------------------------------------------------------

TEST_CASE("mmapio_advise: INVALID_ARGUMENT when m is NULL",
          "[mmapio_advise][errors][advise]") {
  REQUIRE_CODE(mmapio_advise(nullptr, 0, 1, MMAPIO_ADVICE_NORMAL),
               MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_advise: INVALID_ARGUMENT when advice is unknown",
          "[mmapio_advise][errors][advise]") {
  TempDir dir;
  Made mk = make_backing(dir, Backing::RW, 4 * kPage);
  const int bad = GENERATE(-1, 5, 1000);
  INFO("advice " << bad);
  REQUIRE_CODE(
      mmapio_advise(mk.map.get(), 0, kPage, static_cast<mmapio_advice>(bad)),
      MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_advise: OUT_OF_BOUNDS when the range leaves the mapping",
          "[mmapio_advise][errors][advise]") {
  TempDir dir;
  const Backing b =
      GENERATE(Backing::RW, Backing::RO, Backing::COW, Backing::Anon);
  INFO(backing_name(b));
  Made mk = make_backing(dir, b, 3 * kPage + 5);
  const uint64_t len = mmapio_len(mk.map.get());
  CHECK_CODE(mmapio_advise(mk.map.get(), 0, len + 1, MMAPIO_ADVICE_WILLNEED),
             MMAPIO_E_OUT_OF_BOUNDS);
  CHECK_CODE(mmapio_advise(mk.map.get(), len + 1, 0, MMAPIO_ADVICE_NORMAL),
             MMAPIO_E_OUT_OF_BOUNDS);
  // offset + len wraps around: must not pass as "small".
  CHECK_CODE(mmapio_advise(mk.map.get(), 1, UINT64_MAX, MMAPIO_ADVICE_RANDOM),
             MMAPIO_E_OUT_OF_BOUNDS);
  CHECK_CODE(
      mmapio_advise(mk.map.get(), UINT64_MAX, 2, MMAPIO_ADVICE_SEQUENTIAL),
      MMAPIO_E_OUT_OF_BOUNDS);
  CHECK(mmapio_last_error()->code == MMAPIO_E_OUT_OF_BOUNDS);
}

TEST_CASE("mmapio_advise: ADVICE_FAILED when DONTNEED meets locked pages",
          "[mmapio_advise][errors][advise][linux]") {
  // The kernel refuses to drop locked pages (madvise: EINVAL).
  if (!linux_build())
    MMAPIO_SKIP("a POSIX-only build advises with posix_madvise, whose "
                "DONTNEED may do nothing");
  TempDir dir;
  const Backing b = GENERATE(Backing::RW, Backing::Anon);
  INFO(backing_name(b));
  Made mk = make_backing(dir, b, 4 * kPage);
  const int lrc = mmapio_lock(mk.map.get(), 0, 2 * kPage);
  if (lrc != 0)
    MMAPIO_SKIP("cannot lock 2 pages here: " << mmapio_describe(lrc));
  const int rc =
      mmapio_advise(mk.map.get(), 100, kPage, MMAPIO_ADVICE_DONTNEED);
  const mmapio_error e = *mmapio_last_error();
  CHECK_OK(mmapio_unlock_all(mk.map.get()));
  REQUIRE(rc == MMAPIO_E_ADVICE_FAILED);
  CHECK(e.code == MMAPIO_E_ADVICE_FAILED);
  CHECK(e.os_errno == EINVAL);
  REQUIRE(e.syscall != nullptr);
  CHECK(std::string(e.syscall) == "madvise");
  // Unlocked, the same advice is accepted.
  CHECK_OK(mmapio_advise(mk.map.get(), 100, kPage, MMAPIO_ADVICE_DONTNEED));
}

TEST_CASE("mmapio_advise: every advice works on every backing, any offset",
          "[mmapio_advise][advise]") {
  TempDir dir;
  const Backing b =
      GENERATE(Backing::RW, Backing::RO, Backing::COW, Backing::Anon);
  const mmapio_advice adv = GENERATE(
      MMAPIO_ADVICE_NORMAL, MMAPIO_ADVICE_RANDOM, MMAPIO_ADVICE_SEQUENTIAL,
      MMAPIO_ADVICE_WILLNEED, MMAPIO_ADVICE_DONTNEED);
  INFO(backing_name(b) << ", advice " << static_cast<int>(adv));
  Made mk = make_backing(dir, b, 5 * kPage + 123);
  const std::string want = pattern_bytes(5 * kPage + 123, 7);
  mmapio_map *m = mk.map.get();
  // Unaligned offsets and lengths are widened by the library.
  CHECK_OK(mmapio_advise(m, 1, 1, adv));
  CHECK_OK(mmapio_advise(m, kPage - 1, kPage + 2, adv));
  CHECK_OK(mmapio_advise(m, 0, mmapio_len(m), adv));
  CHECK_OK(mmapio_advise(m, mmapio_len(m) - 3, 3, adv));
  // None of them changes the bytes of these (unmodified) mappings.
  std::string got(want.size(), '\0');
  REQUIRE_OK(mmapio_read(m, 0, &got[0], got.size()));
  CHECK(got == want);
}

TEST_CASE("mmapio_advise: len 0 is a no-op, even at the end",
          "[mmapio_advise][advise]") {
  TempDir dir;
  Made mk = make_backing(dir, Backing::RW, 2 * kPage);
  CHECK_OK(mmapio_advise(mk.map.get(), 0, 0, MMAPIO_ADVICE_DONTNEED));
  CHECK_OK(mmapio_advise(mk.map.get(), 2 * kPage, 0, MMAPIO_ADVICE_WILLNEED));
}

TEST_CASE("mmapio_advise: DONTNEED keeps the bytes of RW and anonymous "
          "mappings",
          "[mmapio_advise][advise]") {
  TempDir dir;
  const Backing b = GENERATE(Backing::RW, Backing::Anon);
  INFO(backing_name(b));
  Made mk = make_backing(dir, b, 8 * kPage);
  mmapio_map *m = mk.map.get();
  const std::string fresh = pattern_bytes(3 * kPage, 99);
  REQUIRE_OK(mmapio_update(m, kPage, fresh.data(), fresh.size()));
  REQUIRE_OK(mmapio_advise(m, 0, mmapio_len(m), MMAPIO_ADVICE_DONTNEED));
  std::string got(fresh.size(), '\0');
  REQUIRE_OK(mmapio_read(m, kPage, &got[0], got.size()));
  CHECK(got == fresh);
}

TEST_CASE("mmapio_advise: DONTNEED on a COW handle discards its private "
          "changes",
          "[mmapio_advise][advise][cow][linux]") {
  if (!linux_build())
    MMAPIO_SKIP("a POSIX-only build advises with posix_madvise, whose "
                "DONTNEED may do nothing");
  TempDir dir;
  Made mk = make_backing(dir, Backing::COW, 4 * kPage);
  mmapio_map *m = mk.map.get();
  const std::string mine(kPage, 'x');
  REQUIRE_OK(mmapio_update(m, kPage, mine.data(), mine.size()));
  std::string got(kPage, '\0');
  REQUIRE_OK(mmapio_read(m, kPage, &got[0], got.size()));
  REQUIRE(got == mine);
  REQUIRE_OK(mmapio_advise(m, kPage + 10, 1, MMAPIO_ADVICE_DONTNEED));
  REQUIRE_OK(mmapio_read(m, kPage, &got[0], got.size()));
  CHECK(got == pattern_bytes(4 * kPage, 7).substr(kPage, kPage));
}

TEST_CASE("mmapio_advise: concurrent advice and reads on one handle",
          "[mmapio_advise][advise]") {
  TempDir dir;
  Made mk = make_backing(dir, Backing::Anon, 64 * kPage);
  mmapio_map *m = mk.map.get();
  const std::string want = pattern_bytes(64 * kPage, 7);
  std::atomic<int> bad{0};
  std::thread t([&] {
    for (int i = 0; i < 200; i++)
      if (mmapio_advise(m, (i % 64) * kPage, kPage,
                        i % 2 ? MMAPIO_ADVICE_WILLNEED
                              : MMAPIO_ADVICE_DONTNEED) != 0)
        bad++;
  });
  std::string got(kPage, '\0');
  for (int i = 0; i < 200; i++) {
    const uint64_t off = ((i * 7) % 64) * kPage;
    if (mmapio_read(m, off, &got[0], kPage) != 0 ||
        got != want.substr(off, kPage))
      bad++;
  }
  t.join();
  CHECK(bad.load() == 0);
}

// ------------------------------------------------------------------
// mmapio_prefetch_range
// ------------------------------------------------------------------

TEST_CASE("mmapio_prefetch_range: INVALID_ARGUMENT when m is NULL",
          "[mmapio_prefetch_range][errors][advise]") {
  REQUIRE_CODE(mmapio_prefetch_range(nullptr, 0, 1), MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_prefetch_range: OUT_OF_BOUNDS when the range leaves the "
          "mapping",
          "[mmapio_prefetch_range][errors][advise]") {
  TempDir dir;
  const Backing b = GENERATE(Backing::RW, Backing::RO, Backing::Anon);
  INFO(backing_name(b));
  Made mk = make_backing(dir, b, 2 * kPage);
  const uint64_t len = mmapio_len(mk.map.get());
  CHECK_CODE(mmapio_prefetch_range(mk.map.get(), 1, len),
             MMAPIO_E_OUT_OF_BOUNDS);
  CHECK_CODE(mmapio_prefetch_range(mk.map.get(), UINT64_MAX, 2),
             MMAPIO_E_OUT_OF_BOUNDS);
}

// MMAPIO_E_ADVICE_FAILED of mmapio_prefetch_range (posix_fadvise failing)
// is tested through the seam: test_seam_memory.cpp.

TEST_CASE("mmapio_prefetch_range: reads the file into the page cache",
          "[mmapio_prefetch_range][advise][linux]") {
  // Residency is counted with mmapio_resident, which asks mincore.
  if (!mincore_blocker().empty())
    MMAPIO_SKIP(mincore_blocker());
  TempDir dir;
  Made mk = make_backing(dir, Backing::RO, 256 * kPage);
  mmapio_map *m = mk.map.get();
  if (!drop_page_cache(mk.path))
    MMAPIO_SKIP("the page cache of " << dir.dir() << " cannot be dropped");
  const mmapio_residency before = residency(m, 0, mmapio_len(m));
  if (before.resident_pages != 0)
    MMAPIO_SKIP("the kernel kept " << before.resident_pages
                                   << " pages after POSIX_FADV_DONTNEED");
  REQUIRE_OK(mmapio_prefetch_range(m, 10, mmapio_len(m) - 10));
  // Read-ahead is asynchronous: wait for it (the loop is a hang guard,
  // not a time limit on the library).
  mmapio_residency after{0, 0};
  for (int i = 0; i < 2000; i++) {
    after = residency(m, 0, mmapio_len(m));
    if (after.resident_pages == after.pages)
      break;
    ::usleep(5000);
  }
  CHECK(after.pages == 256);
  CHECK(after.resident_pages == 256);
}

TEST_CASE("mmapio_prefetch_range: len 0 and anonymous mappings succeed",
          "[mmapio_prefetch_range][advise]") {
  TempDir dir;
  const Backing b = GENERATE(Backing::RW, Backing::COW, Backing::Anon);
  INFO(backing_name(b));
  Made mk = make_backing(dir, b, 4 * kPage);
  CHECK_OK(mmapio_prefetch_range(mk.map.get(), 4 * kPage, 0));
  CHECK_OK(mmapio_prefetch_range(mk.map.get(), 3, 4 * kPage - 3));
}
