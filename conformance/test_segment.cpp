// Segments: reference-counted sub-ranges; pinned (the default) and
// MMAPIO_SEGMENT_NOPIN, and what a resize does to each.
#include "support.hpp"
#include "support_proc.hpp"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

using namespace mmapio_test;

namespace {

MapPtr ro_map(const TempDir &td, const std::string &bytes) {
  const std::string p = make_file(td, "ro", bytes);
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_open(&m, p.c_str(), MMAPIO_MODE_RO));
  return MapPtr(m);
}

SegPtr make_segment(mmapio_map *m, uint64_t off, uint64_t len,
                    unsigned flags = 0) {
  mmapio_segment *s = nullptr;
  REQUIRE_OK(mmapio_segment_create(&s, m, off, len, flags));
  REQUIRE(s != nullptr);
  return SegPtr(s);
}

mmapio_segment *const kBadSeg = reinterpret_cast<mmapio_segment *>(0x10);
const void *const kBadPtr = reinterpret_cast<const void *>(0x10);

} // namespace

// ------------------------------------------------------------------
// Happy paths
// ------------------------------------------------------------------

TEST_CASE("mmapio_segment: accessors and views address the sub-range",
          "[mmapio_segment_create][mmapio_segment_view][mmapio_segment_len]["
          "mmapio_segment_offset][mmapio_segment_parent][mmapio_segment_is_"
          "valid][segment]") {
  TempDir td;
  const std::string bytes = pattern_bytes(3 * kPage, 11);
  MapPtr m = ro_map(td, bytes);
  const unsigned flags = GENERATE(0u, MMAPIO_SEGMENT_NOPIN);
  CAPTURE(flags);
  SegPtr s = make_segment(m.get(), kPage + 10, kPage, flags);
  CHECK(mmapio_segment_len(s.get()) == kPage);
  CHECK(mmapio_segment_offset(s.get()) == kPage + 10);
  CHECK(mmapio_segment_parent(s.get()) == m.get());
  CHECK(mmapio_segment_is_valid(s.get()));

  const void *v = nullptr;
  REQUIRE_OK(mmapio_segment_view(s.get(), 0, kPage, &v));
  CHECK(v == static_cast<const char *>(mmapio_base(m.get())) + kPage + 10);
  CHECK(std::memcmp(v, bytes.data() + kPage + 10, kPage) == 0);
  REQUIRE_OK(mmapio_segment_view(s.get(), 100, 5, &v));
  CHECK(std::memcmp(v, bytes.data() + kPage + 110, 5) == 0);
  // The end of the segment, with length 0.
  REQUIRE_OK(mmapio_segment_view(s.get(), kPage, 0, &v));

  // A segment of length 0 at the mapping's end.
  SegPtr empty = make_segment(m.get(), 3 * kPage, 0, flags);
  CHECK(mmapio_segment_len(empty.get()) == 0);
  CHECK(mmapio_segment_is_valid(empty.get()));
}

TEST_CASE("mmapio_segment: NULL is answered by every accessor",
          "[mmapio_segment_len][mmapio_segment_offset][mmapio_segment_parent]"
          "[mmapio_segment_is_valid][mmapio_segment_retain][mmapio_segment_"
          "release][segment]") {
  CHECK(mmapio_segment_len(nullptr) == 0);
  CHECK(mmapio_segment_offset(nullptr) == 0);
  CHECK(mmapio_segment_parent(nullptr) == nullptr);
  CHECK_FALSE(mmapio_segment_is_valid(nullptr));
  CHECK(mmapio_segment_retain(nullptr) == nullptr);
  mmapio_segment_release(nullptr);
}

TEST_CASE("mmapio_segment_write and mmapio_segment_view_mut: write the "
          "mapping at the segment's offset",
          "[mmapio_segment_write][mmapio_segment_view_mut][segment]") {
  TempDir td;
  const std::string p = td.path("f");
  MapPtr m = create_map(p, 4 * kPage);
  SegPtr s = make_segment(m.get(), 2 * kPage - 3, 100);
  const char text[] = "across a page boundary";
  REQUIRE_OK(mmapio_segment_write(s.get(), 1, text, sizeof text));
  CHECK(mmapio_pending(m.get()) == sizeof text);
  REQUIRE_OK(mmapio_segment_write(s.get(), 0, nullptr, 0));
  char got[sizeof text];
  REQUIRE_OK(mmapio_read(m.get(), 2 * kPage - 2, got, sizeof got));
  CHECK(std::memcmp(got, text, sizeof text) == 0);

  void *w = nullptr;
  REQUIRE_OK(mmapio_segment_view_mut(s.get(), 99, 1, &w));
  *static_cast<char *>(w) = 'Z';
  char last = 0;
  REQUIRE_OK(mmapio_read(m.get(), 2 * kPage - 3 + 99, &last, 1));
  CHECK(last == 'Z');
  REQUIRE_OK(mmapio_flush(m.get()));
  CHECK(read_bytes(p).substr(2 * kPage - 2, sizeof text) ==
        std::string(text, sizeof text));
}

TEST_CASE("mmapio_segment_write: applies the mapping's flush policy",
          "[mmapio_segment_write][segment][flush]") {
  TempDir td;
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.size = 2 * kPage;
  o.flush_policy = MMAPIO_FLUSH_ALWAYS;
  mmapio_map *raw = nullptr;
  REQUIRE_OK(mmapio_open_ex(&raw, td.path("f").c_str(), &o, MMAPIO_CREATE));
  MapPtr m(raw);
  SegPtr s = make_segment(m.get(), kPage, kPage);
  REQUIRE_OK(mmapio_segment_write(s.get(), 0, "abc", 3));
  CHECK(mmapio_pending(m.get()) == 0); // flushed by the policy
}

TEST_CASE("mmapio_segment_write: on a COW mapping the bytes stay private",
          "[mmapio_segment_write][segment][cow]") {
  TempDir td;
  const std::string p = make_file(td, "f", std::string(kPage, 'x'));
  mmapio_map *raw = nullptr;
  REQUIRE_OK(mmapio_open(&raw, p.c_str(), MMAPIO_MODE_COW));
  MapPtr m(raw);
  SegPtr s = make_segment(m.get(), 10, 10);
  REQUIRE_OK(mmapio_segment_write(s.get(), 0, "private", 7));
  char got[7];
  REQUIRE_OK(mmapio_read(m.get(), 10, got, 7));
  CHECK(std::memcmp(got, "private", 7) == 0);
  CHECK(read_bytes(p) == std::string(kPage, 'x'));
}

TEST_CASE("mmapio_segment_retain / release: the segment lives until its last "
          "reference, the mapping until its last holder",
          "[mmapio_segment_retain][mmapio_segment_release][segment]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), 2 * kPage);
  REQUIRE_OK(mmapio_update(m.get(), kPage, "held", 4));
  mmapio_segment *s = nullptr;
  REQUIRE_OK(mmapio_segment_create(&s, m.get(), kPage, 4, 0));
  CHECK(mmapio_segment_retain(s) == s);
  CHECK(unmap_is_busy(m));
  mmapio_close(m.release()); // the segment keeps the mapping alive
  mmapio_segment_release(s);
  const void *v = nullptr;
  REQUIRE_OK(mmapio_segment_view(s, 0, 4, &v)); // one reference left
  CHECK(std::memcmp(v, "held", 4) == 0);
  CHECK(mmapio_segment_is_valid(s));
  mmapio_segment_release(s); // frees the segment and closes the mapping
}

TEST_CASE("mmapio_segment_retain / release: balanced from several threads",
          "[mmapio_segment_retain][mmapio_segment_release][segment]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  mmapio_segment *s = nullptr;
  REQUIRE_OK(mmapio_segment_create(&s, m.get(), 0, kPage, 0));
  std::atomic<int> failures{0};
  auto work = [s, &failures] {
    for (int i = 0; i < 20000; i++) {
      mmapio_segment *r = mmapio_segment_retain(s);
      const void *v = nullptr;
      if (mmapio_segment_view(r, 0, 1, &v) != 0)
        failures++;
      mmapio_segment_release(r);
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; i++)
    threads.emplace_back(work);
  for (auto &t : threads)
    t.join();
  CHECK(failures == 0);
  CHECK(unmap_is_busy(m));
  mmapio_segment_release(s);
  int fd = -1;
  REQUIRE_OK(mmapio_unmap(m.get(), &fd)); // no holder left
  m.release();
  ::close(fd);
}

// ------------------------------------------------------------------
// Resizing below a segment
// ------------------------------------------------------------------

TEST_CASE("mmapio_segment_create: a pinned segment makes a shrink that would "
          "cut it fail with BUSY",
          "[mmapio_segment_create][mmapio_resize][segment][resize]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), 8 * kPage);
  SegPtr s = make_segment(m.get(), 2 * kPage, 2 * kPage);
  CHECK_CODE(mmapio_resize(m.get(), 4 * kPage - 1, nullptr), MMAPIO_E_BUSY);
  CHECK(mmapio_len(m.get()) == 8 * kPage);
  CHECK(mmapio_segment_is_valid(s.get()));
  // Shrinking to its end, or growing, is fine.
  REQUIRE_OK(mmapio_resize(m.get(), 4 * kPage, nullptr));
  REQUIRE_OK(mmapio_resize(m.get(), 16 * kPage, nullptr));
  CHECK(mmapio_segment_is_valid(s.get()));
  const void *v = nullptr;
  REQUIRE_OK(mmapio_segment_view(s.get(), 0, 2 * kPage, &v));
  s.reset();
  REQUIRE_OK(mmapio_resize(m.get(), kPage, nullptr));
}

TEST_CASE("mmapio_segment_create: a NOPIN segment lets the mapping shrink and "
          "then reports OUT_OF_BOUNDS until growth covers it again",
          "[mmapio_segment_create][mmapio_segment_is_valid][mmapio_resize]["
          "segment][resize]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), 8 * kPage);
  REQUIRE_OK(mmapio_update(m.get(), 3 * kPage, "head", 4));
  REQUIRE_OK(mmapio_update(m.get(), 4 * kPage - 1, "E", 1));
  SegPtr s = make_segment(m.get(), 3 * kPage, kPage, MMAPIO_SEGMENT_NOPIN);
  const void *before = nullptr;
  REQUIRE_OK(mmapio_segment_view(s.get(), 0, kPage, &before));
  const char *stale = static_cast<const char *>(before);

  const uint64_t cut_to = GENERATE(4 * kPage - 1, 3 * kPage);
  CAPTURE(cut_to);
  REQUIRE_OK(mmapio_resize(m.get(), cut_to, nullptr));
  CHECK_FALSE(mmapio_segment_is_valid(s.get()));
  const void *v = kBadPtr;
  CHECK_CODE(mmapio_segment_view(s.get(), 0, 1, &v), MMAPIO_E_OUT_OF_BOUNDS);
  CHECK(v == kBadPtr);
  void *w = nullptr;
  CHECK_CODE(mmapio_segment_view_mut(s.get(), 0, 1, &w),
             MMAPIO_E_OUT_OF_BOUNDS);
  CHECK_CODE(mmapio_segment_write(s.get(), 0, "x", 1), MMAPIO_E_OUT_OF_BOUNDS);
  // Its accessors still answer, and it still holds the mapping.
  CHECK(mmapio_segment_len(s.get()) == kPage);
  CHECK(unmap_is_busy(m));
  // A view taken before the shrink does not fault: cut bytes read zeros.
  CHECK(stale[kPage - 1] == 0);

  // Growth covers it again: valid, seeing what the file now holds.
  REQUIRE_OK(mmapio_resize(m.get(), 5 * kPage, nullptr));
  CHECK(mmapio_segment_is_valid(s.get()));
  REQUIRE_OK(mmapio_segment_view(s.get(), 0, kPage, &v));
  const char *now = static_cast<const char *>(v);
  CHECK(now[kPage - 1] == 0); // truncated away, zero after regrowth
  CHECK(std::string(now, 4) ==
        (cut_to > 3 * kPage ? std::string("head") : std::string(4, '\0')));
}

TEST_CASE("mmapio_segment: segments racing resizes on another thread: a "
          "pinned one is never cut, a NOPIN one answers OUT_OF_BOUNDS",
          "[mmapio_segment_create][mmapio_segment_view][mmapio_resize][segment]"
          "[resize]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), 4 * kPage);
  std::atomic<bool> stop{false};
  std::atomic<int> failed{0};
  std::thread resizer([&] {
    for (unsigned i = 0; !stop; i++) {
      const uint64_t to = (1 + (i * 7919) % 8) * kPage - (i % 5);
      const int rc = mmapio_resize(m.get(), to, nullptr);
      if (rc != 0 && rc != MMAPIO_E_BUSY)
        failed++;
    }
  });
  int cut = 0, wrong = 0;
  for (int round = 0; round < 2000; round++) {
    mmapio_segment *s = nullptr;
    const unsigned flags = round % 2 ? MMAPIO_SEGMENT_NOPIN : 0u;
    const int rc = mmapio_segment_create(&s, m.get(), kPage / 2, kPage, flags);
    if (rc == MMAPIO_E_OUT_OF_BOUNDS)
      continue; // the mapping was shorter at that moment
    if (rc != 0) {
      wrong++;
      continue;
    }
    for (int k = 0; k < 20; k++) {
      const void *v = nullptr;
      const int vr = mmapio_segment_view(s, 0, kPage, &v);
      if (flags == 0 && (vr != 0 || mmapio_len(m.get()) < kPage / 2 + kPage))
        cut++;
      if (vr == 0)
        (void)*static_cast<const volatile unsigned char *>(v);
      else if (vr != MMAPIO_E_OUT_OF_BOUNDS)
        wrong++;
    }
    mmapio_segment_release(s);
  }
  stop = true;
  resizer.join();
  CHECK(cut == 0);
  CHECK(wrong == 0);
  CHECK(failed == 0);
}

TEST_CASE("mmapio_segment_view: after growth moves the base, views come from "
          "the new base with the same bytes",
          "[mmapio_segment_view][mmapio_resize][segment][resize][linux]") {
  TempDir td;
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.size = 2 * kPage;
  o.reserve = 2 * kPage;
  mmapio_map *raw = nullptr;
  REQUIRE_OK(mmapio_open_ex(&raw, td.path("f").c_str(), &o, MMAPIO_CREATE));
  MapPtr m(raw);
  REQUIRE_OK(mmapio_update(m.get(), kPage, "moving", 6));
  SegPtr s = make_segment(m.get(), kPage, 6);
  GrowthBlocker blocker(mmapio_base(m.get()));
  if (!blocker.ok())
    MMAPIO_SKIP("cannot occupy the address space after the reservation");
  bool moved = false;
  REQUIRE_OK(mmapio_resize(m.get(), 32 * kPage, &moved));
  if (!moved)
    MMAPIO_SKIP("growth did not move the base");
  const void *v = nullptr;
  REQUIRE_OK(mmapio_segment_view(s.get(), 0, 6, &v));
  CHECK(v == static_cast<const char *>(mmapio_base(m.get())) + kPage);
  CHECK(std::memcmp(v, "moving", 6) == 0);
}

// ------------------------------------------------------------------
// Errors: mmapio_segment_create
// ------------------------------------------------------------------

TEST_CASE("mmapio_segment_create: INVALID_ARGUMENT when out or m is NULL",
          "[mmapio_segment_create][errors][segment]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  mmapio_segment *s = kBadSeg;
  CHECK_CODE(mmapio_segment_create(&s, nullptr, 0, 1, 0),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(s == kBadSeg);
  CHECK_CODE(mmapio_segment_create(nullptr, m.get(), 0, 1, 0),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK_FALSE(unmap_is_busy(m)); // nothing was left holding it
}

TEST_CASE("mmapio_segment_create: INVALID_ARGUMENT when flags has an unknown "
          "bit",
          "[mmapio_segment_create][errors][segment]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  for (unsigned flags : {0x2u, 0x80000000u, MMAPIO_SEGMENT_NOPIN | 0x4u}) {
    CAPTURE(flags);
    mmapio_segment *s = kBadSeg;
    CHECK_CODE(mmapio_segment_create(&s, m.get(), 0, 1, flags),
               MMAPIO_E_INVALID_ARGUMENT);
    CHECK(s == kBadSeg);
  }
}

TEST_CASE("mmapio_segment_create: OUT_OF_BOUNDS when off + len exceeds the "
          "length",
          "[mmapio_segment_create][errors][segment]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  const unsigned flags = GENERATE(0u, MMAPIO_SEGMENT_NOPIN);
  CAPTURE(flags);
  const uint64_t cases[][2] = {
      {0, kPage + 1}, {kPage, 1}, {kPage + 1, 0}, {1, UINT64_MAX}};
  for (const auto &c : cases) {
    CAPTURE(c[0], c[1]);
    mmapio_segment *s = kBadSeg;
    CHECK_CODE(mmapio_segment_create(&s, m.get(), c[0], c[1], flags),
               MMAPIO_E_OUT_OF_BOUNDS);
    CHECK(s == kBadSeg);
  }
  // Nothing was left holding the mapping.
  int fd = -1;
  REQUIRE_OK(mmapio_unmap(m.get(), &fd));
  m.release();
  ::close(fd);
}

TEST_CASE("mmapio_segment_create: NO_MEMORY when allocating the segment fails",
          "[mmapio_segment_create][errors][segment]") {
  MMAPIO_REQUIRE_ALLOCATION_FAILURE();
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  const ChildOutcome r = run_in_child([&m](int &extra) {
    if (!exhaust_memory_in_child())
      return 100;
    mmapio_segment *s = kBadSeg;
    const int rc = mmapio_segment_create(&s, m.get(), 0, 1, 0);
    extra = s == kBadSeg ? 1 : 0;
    return rc;
  });
  INFO(r.describe());
  REQUIRE(r.reported);
  CHECK(r.rc == MMAPIO_E_NO_MEMORY);
  CHECK(r.extra == 1);
}

// ------------------------------------------------------------------
// Errors: views and write
// ------------------------------------------------------------------

TEST_CASE("mmapio_segment_view: INVALID_ARGUMENT when s or out is NULL",
          "[mmapio_segment_view][errors][segment]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  SegPtr s = make_segment(m.get(), 0, 10);
  const void *v = kBadPtr;
  CHECK_CODE(mmapio_segment_view(nullptr, 0, 1, &v), MMAPIO_E_INVALID_ARGUMENT);
  CHECK(v == kBadPtr);
  CHECK_CODE(mmapio_segment_view(s.get(), 0, 1, nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_segment_view: OUT_OF_BOUNDS when off + len exceeds the "
          "segment's length",
          "[mmapio_segment_view][errors][segment]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  SegPtr s = make_segment(m.get(), 100, 10);
  const void *v = kBadPtr;
  // Inside the mapping, but outside the segment.
  CHECK_CODE(mmapio_segment_view(s.get(), 0, 11, &v), MMAPIO_E_OUT_OF_BOUNDS);
  CHECK_CODE(mmapio_segment_view(s.get(), 10, 1, &v), MMAPIO_E_OUT_OF_BOUNDS);
  CHECK_CODE(mmapio_segment_view(s.get(), 11, 0, &v), MMAPIO_E_OUT_OF_BOUNDS);
  CHECK_CODE(mmapio_segment_view(s.get(), UINT64_MAX, 2, &v),
             MMAPIO_E_OUT_OF_BOUNDS);
  CHECK(v == kBadPtr);
}

TEST_CASE("mmapio_segment_view: OUT_OF_BOUNDS when the mapping has shrunk "
          "below a NOPIN segment's end",
          "[mmapio_segment_view][errors][segment]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), 2 * kPage);
  SegPtr s = make_segment(m.get(), kPage, kPage, MMAPIO_SEGMENT_NOPIN);
  REQUIRE_OK(mmapio_resize(m.get(), 2 * kPage - 1, nullptr));
  const void *v = kBadPtr;
  CHECK_CODE(mmapio_segment_view(s.get(), 0, 1, &v), MMAPIO_E_OUT_OF_BOUNDS);
  CHECK(v == kBadPtr);
}

TEST_CASE("mmapio_segment_view_mut: INVALID_ARGUMENT when s or out is NULL",
          "[mmapio_segment_view_mut][errors][segment]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  SegPtr s = make_segment(m.get(), 0, 10);
  void *w = const_cast<void *>(kBadPtr);
  CHECK_CODE(mmapio_segment_view_mut(nullptr, 0, 1, &w),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(w == kBadPtr);
  CHECK_CODE(mmapio_segment_view_mut(s.get(), 0, 1, nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_segment_view_mut: INVALID_MODE when the mapping is "
          "read-only",
          "[mmapio_segment_view_mut][errors][segment]") {
  TempDir td;
  MapPtr m = ro_map(td, std::string(kPage, 'r'));
  SegPtr s = make_segment(m.get(), 0, 10);
  void *w = const_cast<void *>(kBadPtr);
  CHECK_CODE(mmapio_segment_view_mut(s.get(), 0, 1, &w), MMAPIO_E_INVALID_MODE);
  CHECK(w == kBadPtr);
}

TEST_CASE("mmapio_segment_view_mut: OUT_OF_BOUNDS when off + len exceeds the "
          "segment's length",
          "[mmapio_segment_view_mut][errors][segment]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  SegPtr s = make_segment(m.get(), 0, 10);
  void *w = const_cast<void *>(kBadPtr);
  CHECK_CODE(mmapio_segment_view_mut(s.get(), 5, 6, &w),
             MMAPIO_E_OUT_OF_BOUNDS);
  CHECK(w == kBadPtr);
}

TEST_CASE("mmapio_segment_view_mut: OUT_OF_BOUNDS when the mapping has shrunk "
          "below a NOPIN segment's end",
          "[mmapio_segment_view_mut][errors][segment]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), 2 * kPage);
  SegPtr s = make_segment(m.get(), 0, 2 * kPage, MMAPIO_SEGMENT_NOPIN);
  REQUIRE_OK(mmapio_resize(m.get(), kPage, nullptr));
  void *w = const_cast<void *>(kBadPtr);
  // Even a range of the segment that still exists: the segment is cut.
  CHECK_CODE(mmapio_segment_view_mut(s.get(), 0, 1, &w),
             MMAPIO_E_OUT_OF_BOUNDS);
  CHECK(w == kBadPtr);
}

TEST_CASE("mmapio_segment_write: INVALID_ARGUMENT when s is NULL or src is "
          "NULL with len > 0",
          "[mmapio_segment_write][errors][segment]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  SegPtr s = make_segment(m.get(), 0, 10);
  CHECK_CODE(mmapio_segment_write(nullptr, 0, "x", 1),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_segment_write(s.get(), 0, nullptr, 1),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(mmapio_pending(m.get()) == 0);
}

TEST_CASE("mmapio_segment_write: INVALID_MODE when the mapping is read-only",
          "[mmapio_segment_write][errors][segment]") {
  TempDir td;
  MapPtr m = ro_map(td, std::string(kPage, 'r'));
  SegPtr s = make_segment(m.get(), 0, 10);
  CHECK_CODE(mmapio_segment_write(s.get(), 0, "x", 1), MMAPIO_E_INVALID_MODE);
}

TEST_CASE("mmapio_segment_write: OUT_OF_BOUNDS when off + len exceeds the "
          "segment's length",
          "[mmapio_segment_write][errors][segment]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  SegPtr s = make_segment(m.get(), 10, 10);
  CHECK_CODE(mmapio_segment_write(s.get(), 8, "abc", 3),
             MMAPIO_E_OUT_OF_BOUNDS);
  // Nothing was copied, not even the bytes that would have fit.
  char got[2];
  REQUIRE_OK(mmapio_read(m.get(), 18, got, 2));
  CHECK(got[0] == 0);
  CHECK(got[1] == 0);
  CHECK(mmapio_pending(m.get()) == 0);
}

TEST_CASE("mmapio_segment_write: OUT_OF_BOUNDS when the mapping has shrunk "
          "below a NOPIN segment's end",
          "[mmapio_segment_write][errors][segment]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), 2 * kPage);
  SegPtr s = make_segment(m.get(), kPage - 2, 4, MMAPIO_SEGMENT_NOPIN);
  REQUIRE_OK(mmapio_resize(m.get(), kPage, nullptr));
  CHECK_CODE(mmapio_segment_write(s.get(), 0, "ab", 2), MMAPIO_E_OUT_OF_BOUNDS);
  char got[2];
  REQUIRE_OK(mmapio_read(m.get(), kPage - 2, got, 2));
  CHECK(got[0] == 0);
}

// FLUSH_FAILED of mmapio_segment_write needs a failing msync: it is in
// test_seam_views.cpp (the static-library suite).
