// touch_pages: every page of the range mapped on return, without writing,
// on every backing and size; the residency query; MMAPIO_OPT_TOUCH_EAGER.
#include "support_memory.hpp"

#include <atomic>
#include <thread>

using namespace mmapio_test;

namespace {

// A file mapping of size bytes in mode whose pages nobody has touched.
MapPtr fresh_file(const TempDir &dir, mmapio_mode mode, size_t size,
                  unsigned flags = 0) {
  const std::string p = make_file(dir, "touch.bin", pattern_bytes(size, 3));
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.mode = mode;
  o.flags = flags;
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_open_ex(&m, p.c_str(), &o, MMAPIO_OPEN));
  return MapPtr(m);
}

MapPtr fresh_anon(size_t size, unsigned flags = 0) {
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_anon_ex(&m, size, flags));
  return MapPtr(m);
}

MapPtr fresh(const TempDir &dir, Backing b, size_t size, unsigned flags = 0) {
  switch (b) {
  case Backing::RW:
    return fresh_file(dir, MMAPIO_MODE_RW, size, flags);
  case Backing::RO:
    return fresh_file(dir, MMAPIO_MODE_RO, size, flags);
  case Backing::COW:
    return fresh_file(dir, MMAPIO_MODE_COW, size, flags);
  default:
    return fresh_anon(size, flags);
  }
}

} // namespace

// ------------------------------------------------------------------
// Errors
// ------------------------------------------------------------------

TEST_CASE("mmapio_touch_pages_range: INVALID_ARGUMENT when m is NULL",
          "[mmapio_touch_pages_range][errors][touch]") {
  REQUIRE_CODE(mmapio_touch_pages_range(nullptr, 0, 1),
               MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_touch_pages_range: OUT_OF_BOUNDS when the range leaves "
          "the mapping",
          "[mmapio_touch_pages_range][errors][touch][linux]") {
  if (!pagemap_blocker().empty())
    MMAPIO_SKIP(pagemap_blocker());
  TempDir dir;
  const Backing b =
      GENERATE(Backing::RW, Backing::RO, Backing::COW, Backing::Anon);
  INFO(backing_name(b));
  MapPtr m = fresh(dir, b, 3 * kPage + 1);
  const uint64_t len = mmapio_len(m.get());
  CHECK_CODE(mmapio_touch_pages_range(m.get(), 0, len + 1),
             MMAPIO_E_OUT_OF_BOUNDS);
  CHECK_CODE(mmapio_touch_pages_range(m.get(), 2, UINT64_MAX - 1),
             MMAPIO_E_OUT_OF_BOUNDS);
  // Nothing was touched by the refused calls.
  CHECK(present_pages(mmapio_base(m.get()), len) == 0);
}

// A file truncated under its mapping by someone else: with the guard on,
// touching its vanished pages is an error, not SIGBUS.
static MapPtr guarded_truncated(const TempDir &dir, mmapio_mode mode) {
  MapPtr m = fresh_file(dir, mode, 64 * kPage);
  REQUIRE_OK(mmapio_set_guard(m.get(), true));
  const std::string p = dir.path("touch.bin");
  REQUIRE(::truncate(p.c_str(), static_cast<off_t>(2 * kPage)) == 0);
  return m;
}

TEST_CASE("mmapio_touch_pages_range: FAULT when the guard is on and the "
          "file was truncated",
          "[mmapio_touch_pages_range][errors][touch][linux]") {
  if (!populate_blocker().empty())
    MMAPIO_SKIP(populate_blocker());
  TempDir dir;
  const mmapio_mode mode = GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_RW);
  INFO("mode " << mode);
  MapPtr m = guarded_truncated(dir, mode);
  CHECK_CODE(mmapio_touch_pages_range(m.get(), kPage, 8 * kPage),
             MMAPIO_E_FAULT);
  // The pages that still exist are fine.
  CHECK_OK(mmapio_touch_pages_range(m.get(), 1, 2 * kPage - 1));
  CHECK(present_pages(mmapio_base(m.get()), 2 * kPage) == 2);
}

TEST_CASE("mmapio_touch_pages_range: FAULT when the guard comes on after "
          "touches found the pages mapped",
          "[mmapio_touch_pages_range][errors][touch]") {
  // Small touches of pages last seen mapped run inline in the caller and
  // trust that hint without looking at the guard: turning the guard on
  // must withdraw it, or this touch dies of SIGBUS. The guarded touch
  // populates first: the advice must report the fault.
  if (!populate_ignored_blocker().empty())
    MMAPIO_SKIP(populate_ignored_blocker());
  TempDir dir;
  MapPtr m = fresh_file(dir, MMAPIO_MODE_RO, 64 * kPage);
  REQUIRE_OK(mmapio_touch_pages(m.get())); // maps the pages
  REQUIRE_OK(mmapio_touch_pages(m.get())); // finds them mapped
  REQUIRE_OK(mmapio_touch_pages_range(m.get(), 8 * kPage, 4 * kPage));
  REQUIRE_OK(mmapio_set_guard(m.get(), true));
  const std::string p = dir.path("touch.bin");
  REQUIRE(::truncate(p.c_str(), static_cast<off_t>(2 * kPage)) == 0);
  CHECK_CODE(mmapio_touch_pages_range(m.get(), 8 * kPage, 4 * kPage),
             MMAPIO_E_FAULT);
  CHECK_OK(mmapio_touch_pages_range(m.get(), 0, 2 * kPage));
}

// NO_MEMORY and IO (MADV_POPULATE_READ failing), and FAULT from
// EFAULT/EHWPOISON, are tested through the seam: test_seam_memory.cpp.

TEST_CASE("mmapio_touch_pages: INVALID_ARGUMENT when m is NULL",
          "[mmapio_touch_pages][errors][touch]") {
  REQUIRE_CODE(mmapio_touch_pages(nullptr), MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_touch_pages: FAULT when the guard is on and the file was "
          "truncated",
          "[mmapio_touch_pages][errors][touch]") {
  if (!populate_blocker().empty())
    MMAPIO_SKIP(populate_blocker());
  TempDir dir;
  MapPtr m = guarded_truncated(dir, MMAPIO_MODE_RO);
  CHECK_CODE(mmapio_touch_pages(m.get()), MMAPIO_E_FAULT);
  CHECK(mmapio_last_error()->code == MMAPIO_E_FAULT);
  // Guard off again: the same handle still touches what exists.
  REQUIRE_OK(mmapio_set_guard(m.get(), false));
  CHECK_OK(mmapio_touch_pages_range(m.get(), 0, 2 * kPage));
}

TEST_CASE("mmapio_touch_pages: the guarded path maps every page too",
          "[mmapio_touch_pages][touch][linux]") {
  if (!populate_blocker().empty())
    MMAPIO_SKIP(populate_blocker());
  TempDir dir;
  const Backing b = GENERATE(Backing::RW, Backing::RO, Backing::Anon);
  INFO(backing_name(b));
  MapPtr m = fresh(dir, b, 3 * kMiB + 5);
  REQUIRE_OK(mmapio_set_guard(m.get(), true));
  REQUIRE_OK(mmapio_touch_pages(m.get()));
  CHECK(present_pages(mmapio_base(m.get()), 3 * kMiB + 5) ==
        pages_in(mmapio_base(m.get()), 3 * kMiB + 5));
}

// ------------------------------------------------------------------
// What a touch leaves behind
// ------------------------------------------------------------------

TEST_CASE("mmapio_touch_pages_range: maps exactly the widened range",
          "[mmapio_touch_pages_range][touch][linux]") {
  if (!pagemap_blocker().empty())
    MMAPIO_SKIP(pagemap_blocker());
  TempDir dir;
  const Backing b =
      GENERATE(Backing::RW, Backing::RO, Backing::COW, Backing::Anon);
  INFO(backing_name(b));
  MapPtr m = fresh(dir, b, 64 * kPage);
  const unsigned char *base =
      static_cast<const unsigned char *>(mmapio_base(m.get()));
  REQUIRE(present_pages(base, 64 * kPage) == 0);
  // [kPage + 7, 5 kPage + 8) widens to pages 1..5.
  REQUIRE_OK(mmapio_touch_pages_range(m.get(), kPage + 7, 4 * kPage + 1));
  CHECK(present_pages(base + kPage, 5 * kPage) == 5);
  // A fault on a file may map its neighbours too (fault-around, whole
  // large folios); a memory file's untouched pages do not even exist.
  if (b == Backing::Anon) {
    CHECK(present_pages(base, kPage) == 0);
    CHECK(present_pages(base + 6 * kPage, 58 * kPage) == 0);
  }
}

TEST_CASE("mmapio_touch_pages: every page is mapped on return, any size",
          "[mmapio_touch_pages][touch][linux]") {
  if (!populate_blocker().empty())
    MMAPIO_SKIP(populate_blocker());
  TempDir dir;
  const Backing b =
      GENERATE(Backing::RW, Backing::RO, Backing::COW, Backing::Anon);
  // One page, an odd size, and sizes with whole 2 MiB blocks (where the
  // library may use MADV_POPULATE_READ instead of the loop).
  const size_t size = GENERATE(size_t(1), size_t(5 * 4096 + 17),
                               size_t(3 * kMiB + 4096), size_t(9 * kMiB));
  INFO(backing_name(b) << ", " << size << " bytes");
  MapPtr m = fresh(dir, b, size);
  const void *base = mmapio_base(m.get());
  REQUIRE_OK(mmapio_touch_pages(m.get()));
  CHECK(present_pages(base, size) == pages_in(base, size));
  // Twice in a row (the second call may take another path).
  REQUIRE_OK(mmapio_touch_pages(m.get()));
  CHECK(present_pages(base, size) == pages_in(base, size));
}

TEST_CASE("mmapio_touch_pages: huge-page mappings are touched too",
          "[mmapio_touch_pages][touch][hugepages][linux]") {
  if (!populate_blocker().empty())
    MMAPIO_SKIP(populate_blocker());
  TempDir dir;
  const Backing b = GENERATE(Backing::RW, Backing::RO, Backing::Anon);
  INFO(backing_name(b));
  const size_t size = 16 * kMiB;
  MapPtr m = fresh(dir, b, size, MMAPIO_OPT_HUGEPAGES);
  const void *base = mmapio_base(m.get());
  for (int i = 0; i < 6; i++) { // enough calls to use any cached path
    REQUIRE_OK(mmapio_touch_pages(m.get()));
    REQUIRE(present_pages(base, size) == size / kPage);
  }
  // Drop the pages from the mapping: the next touch must map them again.
  if (!linux_build())
    MMAPIO_SKIP("the rest needs DONTNEED, which may do nothing in a "
                "POSIX-only build");
  REQUIRE_OK(mmapio_advise(m.get(), 0, size, MMAPIO_ADVICE_DONTNEED));
  REQUIRE(present_pages(base, size) < size / kPage);
  REQUIRE_OK(mmapio_touch_pages(m.get()));
  CHECK(present_pages(base, size) == size / kPage);
}

TEST_CASE("mmapio_touch_pages: reads the file in when it is not cached",
          "[mmapio_touch_pages][touch][linux]") {
  // Residency is counted with mmapio_resident, which asks mincore.
  if (!mincore_blocker().empty())
    MMAPIO_SKIP(mincore_blocker());
  TempDir dir;
  Made mk = make_backing(dir, Backing::RO, 128 * kPage);
  if (!drop_page_cache(mk.path))
    MMAPIO_SKIP("the page cache of " << dir.dir() << " cannot be dropped");
  const mmapio_residency before = residency(mk.map.get(), 0, 128 * kPage);
  if (before.resident_pages != 0)
    MMAPIO_SKIP("the kernel kept " << before.resident_pages
                                   << " pages after POSIX_FADV_DONTNEED");
  REQUIRE_OK(mmapio_touch_pages(mk.map.get()));
  const mmapio_residency after = residency(mk.map.get(), 0, 128 * kPage);
  CHECK(after.pages == 128);
  CHECK(after.resident_pages == 128);
}

TEST_CASE("mmapio_touch_pages: never dirties an RW file mapping",
          "[mmapio_touch_pages][touch][linux]") {
  TempDir dir;
  const size_t size = GENERATE(size_t(32 * 4096), size_t(8 * kMiB));
  INFO(size << " bytes");
  Made mk = make_backing(dir, Backing::RW, size);
  (void)drop_page_cache(mk.path); // at least written back: clean
  REQUIRE(smaps_dirty_bytes(mmapio_base(mk.map.get()), size) == 0);
  REQUIRE_OK(mmapio_touch_pages(mk.map.get()));
  REQUIRE_OK(mmapio_touch_pages(mk.map.get()));
  CHECK(smaps_dirty_bytes(mmapio_base(mk.map.get()), size) == 0);
  CHECK(mmapio_pending(mk.map.get()) == 0);
}

TEST_CASE("mmapio_touch_pages: makes no private copies on a COW handle",
          "[mmapio_touch_pages][touch][cow][linux]") {
  if (!populate_blocker().empty())
    MMAPIO_SKIP(populate_blocker());
  TempDir dir;
  MapPtr m = fresh(dir, Backing::COW, 4 * kMiB);
  REQUIRE_OK(mmapio_touch_pages(m.get()));
  CHECK(smaps_field(mmapio_base(m.get()), 4 * kMiB, "Anonymous") == 0);
  CHECK(present_pages(mmapio_base(m.get()), 4 * kMiB) == 4 * kMiB / kPage);
}

TEST_CASE("mmapio_touch_pages: MMAPIO_OPT_TOUCH_EAGER touches at open",
          "[mmapio_touch_pages][touch][open][linux]") {
  if (!pagemap_blocker().empty())
    MMAPIO_SKIP(pagemap_blocker());
  TempDir dir;
  const Backing b =
      GENERATE(Backing::RW, Backing::RO, Backing::COW, Backing::Anon);
  INFO(backing_name(b));
  const size_t size = 40 * kPage + 9;
  MapPtr eager = fresh(dir, b, size, MMAPIO_OPT_TOUCH_EAGER);
  CHECK(present_pages(mmapio_base(eager.get()), size) == 41);
  eager.reset();
  MapPtr lazy = fresh(dir, b, size);
  CHECK(present_pages(mmapio_base(lazy.get()), size) == 0);
}

TEST_CASE("mmapio_touch_pages: an empty mapping is touched trivially",
          "[mmapio_touch_pages][touch]") {
  TempDir dir;
  const std::string p = make_file(dir, "empty.bin", "");
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_open(&m, p.c_str(), MMAPIO_MODE_RO));
  MapPtr own(m);
  CHECK_OK(mmapio_touch_pages(m));
  CHECK_OK(mmapio_touch_pages_range(m, 0, 0));
  CHECK_OK(mmapio_lock_all(m));
  CHECK_OK(mmapio_unlock_all(m));
  mmapio_residency r{1, 1};
  CHECK_OK(mmapio_resident(m, 0, 0, &r));
  CHECK(r.pages == 0);
  CHECK(r.resident_pages == 0);
}

TEST_CASE("mmapio_touch_pages: concurrent touches, reads and growth",
          "[mmapio_touch_pages][touch][resize][linux]") {
  if (!populate_blocker().empty())
    MMAPIO_SKIP(populate_blocker());
  TempDir dir;
  Made mk = make_backing(dir, Backing::RW, 2 * kMiB);
  mmapio_map *m = mk.map.get();
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::thread toucher([&] {
    while (!stop.load())
      if (mmapio_touch_pages(m) != 0)
        bad++;
  });
  std::thread ranger([&] {
    for (uint64_t i = 0; !stop.load(); i++)
      if (mmapio_touch_pages_range(m, (i * kPage) % (2 * kMiB), kPage) != 0)
        bad++;
  });
  for (uint64_t s = 2 * kMiB; s <= 12 * kMiB; s += kMiB)
    CHECK_OK(mmapio_resize(m, s, nullptr));
  stop = true;
  toucher.join();
  ranger.join();
  CHECK(bad.load() == 0);
  REQUIRE_OK(mmapio_touch_pages(m));
  CHECK(present_pages(mmapio_base(m), 12 * kMiB) == 12 * kMiB / kPage);
}

// ------------------------------------------------------------------
// mmapio_resident
// ------------------------------------------------------------------

TEST_CASE("mmapio_resident: INVALID_ARGUMENT when m or out is NULL",
          "[mmapio_resident][errors][touch]") {
  TempDir dir;
  Made mk = make_backing(dir, Backing::Anon, kPage);
  mmapio_residency r{0, 0};
  CHECK_CODE(mmapio_resident(nullptr, 0, 1, &r), MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_resident(mk.map.get(), 0, 1, nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_resident: OUT_OF_BOUNDS when the range leaves the mapping",
          "[mmapio_resident][errors][touch]") {
  TempDir dir;
  Made mk = make_backing(dir, Backing::RO, 2 * kPage);
  mmapio_residency r{7, 7};
  CHECK_CODE(mmapio_resident(mk.map.get(), kPage, kPage + 1, &r),
             MMAPIO_E_OUT_OF_BOUNDS);
  CHECK_CODE(mmapio_resident(mk.map.get(), UINT64_MAX, 1, &r),
             MMAPIO_E_OUT_OF_BOUNDS);
  CHECK(r.pages == 7); // untouched on failure
}

// MMAPIO_E_IO of mmapio_resident (mincore failing) is tested through the
// seam: test_seam_memory.cpp.

TEST_CASE("mmapio_resident: counts resident pages of the widened range",
          "[mmapio_resident][touch]") {
  if (!mincore_blocker().empty())
    MMAPIO_SKIP(mincore_blocker());
  MapPtr m = fresh_anon(32 * kPage);
  // A fresh memory file has no pages at all.
  mmapio_residency r = residency(m.get(), 0, 32 * kPage);
  CHECK(r.pages == 32);
  CHECK(r.resident_pages == 0);
  const char x = 1;
  REQUIRE_OK(mmapio_update(m.get(), 3 * kPage + 5, &x, 1));
  REQUIRE_OK(mmapio_update(m.get(), 9 * kPage, &x, 1));
  r = residency(m.get(), 0, 32 * kPage);
  CHECK(r.resident_pages == 2);
  // [3 kPage + 4000, +200) crosses into page 4: two pages, one resident.
  r = residency(m.get(), 3 * kPage + 4000, 200);
  CHECK(r.pages == (kPage == 4096 ? 2u : 1u));
  CHECK(r.resident_pages == 1);
  r = residency(m.get(), 10 * kPage, 0);
  CHECK(r.pages == 0);
  CHECK(r.resident_pages == 0);
}
