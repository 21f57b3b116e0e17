// Flushing: mmapio_flush, mmapio_flush_range and the pending count.
// Durability proper (dirty pages really written back) is in
// test_durability.cpp; failing msync is in test_seam.cpp.
#include "support.hpp"
#include "support_proc.hpp"

#include <cstdint>
#include <string>

using namespace mmapio_test;

namespace {

// A handle of the given mode on a file of `size` bytes filled with a
// pattern (created through the library when mode is RW).
MapPtr map_in_mode(const TempDir &td, mmapio_mode mode, uint64_t size) {
  const std::string p =
      make_file(td, "f", pattern_bytes(static_cast<size_t>(size)));
  return open_map(p, mode);
}

const char *mode_name(mmapio_mode m) {
  switch (m) {
  case MMAPIO_MODE_RO:
    return "RO";
  case MMAPIO_MODE_RW:
    return "RW";
  case MMAPIO_MODE_COW:
    return "COW";
  }
  return "?";
}

std::string file_range(const std::string &path, uint64_t off, size_t len) {
  return read_bytes(path).substr(static_cast<size_t>(off), len);
}

} // namespace

// ------------------------------------------------------------------
// Errors
// ------------------------------------------------------------------

TEST_CASE("mmapio_flush: INVALID_ARGUMENT when m is NULL",
          "[mmapio_flush][errors][flush]") {
  mmapio_clear_error();
  REQUIRE_CODE(mmapio_flush(nullptr), MMAPIO_E_INVALID_ARGUMENT);
  CHECK(mmapio_last_error()->code == MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_flush_range: INVALID_ARGUMENT when m is NULL",
          "[mmapio_flush_range][errors][flush]") {
  const uint64_t off = GENERATE(uint64_t{0}, uint64_t{1}, UINT64_MAX);
  const uint64_t len = GENERATE(uint64_t{0}, uint64_t{4096}, UINT64_MAX);
  CAPTURE(off, len);
  mmapio_clear_error();
  REQUIRE_CODE(mmapio_flush_range(nullptr, off, len),
               MMAPIO_E_INVALID_ARGUMENT);
  CHECK(mmapio_last_error()->code == MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_flush_range: OUT_OF_BOUNDS when off + len exceeds the "
          "length",
          "[mmapio_flush_range][errors][flush]") {
  const mmapio_mode mode =
      GENERATE(MMAPIO_MODE_RW, MMAPIO_MODE_RO, MMAPIO_MODE_COW);
  // Not a page multiple, so "inside the last page but past the end" is
  // also out of bounds.
  const uint64_t size = 3 * kPage + 100;
  struct Case {
    uint64_t off, len;
    const char *what;
  };
  const Case c = GENERATE_COPY(values<Case>({
      {size, 1, "one byte past the end"},
      {0, size + 1, "whole mapping plus one"},
      {size - 1, 2, "straddling the end"},
      {size + 1, 1, "starting past the end"},
      {3 * kPage, kPage, "rest of the last page (past the length)"},
      {UINT64_MAX, 1, "offset UINT64_MAX"},
      {1, UINT64_MAX, "length UINT64_MAX"},
      {UINT64_MAX, UINT64_MAX, "both UINT64_MAX"},
      {size, UINT64_MAX - size + 1, "off + len wraps to 0"},
      {UINT64_MAX - kPage + 1, 2 * kPage, "off + len wraps to one page"},
      {kPage, UINT64_MAX - kPage + 2, "off + len wraps to 1"},
  }));
  CAPTURE(mode_name(mode), c.what, c.off, c.len, size);

  TempDir td;
  MapPtr m = map_in_mode(td, mode, size);
  if (mode == MMAPIO_MODE_RW)
    REQUIRE_OK(mmapio_update(m.get(), 0, "abc", 3));
  const uint64_t pending = mmapio_pending(m.get());

  mmapio_clear_error();
  REQUIRE_CODE(mmapio_flush_range(m.get(), c.off, c.len),
               MMAPIO_E_OUT_OF_BOUNDS);
  CHECK(mmapio_last_error()->code == MMAPIO_E_OUT_OF_BOUNDS);
  CHECK(mmapio_pending(m.get()) == pending);
  CHECK(mmapio_len(m.get()) == size);
}

// ------------------------------------------------------------------
// Happy paths
// ------------------------------------------------------------------

TEST_CASE("mmapio_flush: returns 0 on a clean RW mapping",
          "[mmapio_flush][flush]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), 4 * kPage);
  REQUIRE_OK(mmapio_flush(m.get()));
  REQUIRE_OK(mmapio_flush(m.get()));
  CHECK(mmapio_pending(m.get()) == 0);
}

TEST_CASE("mmapio_flush: returns 0 after updates and the bytes are in the "
          "file",
          "[mmapio_flush][flush]") {
  TempDir td;
  const std::string p = td.path("f");
  MapPtr m = create_map(p, 4 * kPage);
  const std::string a = pattern_bytes(100, 7);
  const std::string b = pattern_bytes(3000, 8);
  REQUIRE_OK(mmapio_update(m.get(), 10, a.data(), a.size()));
  REQUIRE_OK(mmapio_update(m.get(), 2 * kPage + 5, b.data(), b.size()));
  REQUIRE_OK(mmapio_flush(m.get()));
  CHECK(mmapio_pending(m.get()) == 0);
  CHECK(file_range(p, 10, a.size()) == a);
  CHECK(file_range(p, 2 * kPage + 5, b.size()) == b);
}

TEST_CASE("mmapio_flush_range: returns 0 for ranges inside the mapping and "
          "the bytes are in the file",
          "[mmapio_flush_range][flush]") {
  const uint64_t size = 4 * kPage + 123; // the tail page is partial
  struct Case {
    uint64_t off, len;
    const char *what;
  };
  const Case c = GENERATE_COPY(values<Case>({
      {10, 20, "sub-page"},
      {kPage - 10, 20, "crossing a page boundary"},
      {kPage, kPage, "exactly one page"},
      {0, size, "the whole mapping"},
      {size - 1, 1, "the last byte"},
      {4 * kPage, 123, "the partial tail page"},
      {7, size - 7, "unaligned start to the end"},
  }));
  CAPTURE(c.what, c.off, c.len, size);

  TempDir td;
  const std::string p = td.path("f");
  MapPtr m = create_map(p, size);
  const std::string bytes = pattern_bytes(static_cast<size_t>(c.len), 3);
  void *w = nullptr;
  REQUIRE_OK(mmapio_view_mut(m.get(), c.off, bytes.size(), &w));
  std::memcpy(w, bytes.data(), bytes.size());
  REQUIRE_OK(mmapio_flush_range(m.get(), c.off, c.len));
  CHECK(file_range(p, c.off, bytes.size()) == bytes);
}

TEST_CASE("mmapio_flush: RO and COW mappings return 0",
          "[mmapio_flush][mmapio_flush_range][flush]") {
  const mmapio_mode mode = GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_COW);
  CAPTURE(mode_name(mode));
  TempDir td;
  MapPtr m = map_in_mode(td, mode, 2 * kPage);
  CHECK_OK(mmapio_flush(m.get()));
  CHECK_OK(mmapio_flush_range(m.get(), 0, 2 * kPage));
  CHECK_OK(mmapio_flush_range(m.get(), kPage + 1, 10));
  CHECK(mmapio_pending(m.get()) == 0);
}

TEST_CASE("mmapio_flush_range: len 0 is a no-op, even at off == len",
          "[mmapio_flush_range][flush]") {
  const mmapio_mode mode =
      GENERATE(MMAPIO_MODE_RW, MMAPIO_MODE_RO, MMAPIO_MODE_COW);
  const uint64_t size = 2 * kPage + 17;
  const uint64_t off = GENERATE_COPY(uint64_t{0}, uint64_t{5}, kPage, size);
  CAPTURE(mode_name(mode), off, size);
  TempDir td;
  MapPtr m = map_in_mode(td, mode, size);
  if (mode == MMAPIO_MODE_RW)
    REQUIRE_OK(mmapio_update(m.get(), 0, "hello", 5));
  const uint64_t pending = mmapio_pending(m.get());
  CHECK_OK(mmapio_flush_range(m.get(), off, 0));
  CHECK(mmapio_pending(m.get()) == pending);
}

// ------------------------------------------------------------------
// The pending count
// ------------------------------------------------------------------

TEST_CASE("mmapio_pending: mmapio_update adds len",
          "[mmapio_pending][mmapio_update][flush]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), 4 * kPage);
  CHECK(mmapio_pending(m.get()) == 0);
  const std::string a = pattern_bytes(100);
  REQUIRE_OK(mmapio_update(m.get(), 0, a.data(), 100));
  CHECK(mmapio_pending(m.get()) == 100);
  REQUIRE_OK(mmapio_update(m.get(), 3 * kPage, a.data(), 50));
  CHECK(mmapio_pending(m.get()) == 150);
  // The same bytes again still count: pending counts written bytes.
  REQUIRE_OK(mmapio_update(m.get(), 0, a.data(), 100));
  CHECK(mmapio_pending(m.get()) == 250);
  // len 0 adds nothing.
  REQUIRE_OK(mmapio_update(m.get(), 0, a.data(), 0));
  CHECK(mmapio_pending(m.get()) == 250);
}

TEST_CASE("mmapio_pending: writes through views are not counted",
          "[mmapio_pending][mmapio_view_mut][flush]") {
  TempDir td;
  const std::string p = td.path("f");
  MapPtr m = create_map(p, 2 * kPage);
  void *w = nullptr;
  REQUIRE_OK(mmapio_view_mut(m.get(), 0, 10, &w));
  std::memcpy(w, "0123456789", 10);
  CHECK(mmapio_pending(m.get()) == 0);
  REQUIRE_OK(mmapio_flush(m.get()));
  CHECK(file_range(p, 0, 10) == "0123456789");
}

TEST_CASE("mmapio_flush_range: debits pending by the page-widened length, "
          "not to zero (C1)",
          "[mmapio_flush_range][mmapio_pending][flush]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), 8 * kPage);
  const std::string page = pattern_bytes(static_cast<size_t>(kPage));
  // Three separate pages: 0, 2 and 5.
  REQUIRE_OK(mmapio_update(m.get(), 0, page.data(), page.size()));
  REQUIRE_OK(mmapio_update(m.get(), 2 * kPage, page.data(), page.size()));
  REQUIRE_OK(mmapio_update(m.get(), 5 * kPage, page.data(), page.size()));
  REQUIRE(mmapio_pending(m.get()) == 3 * kPage);

  // One page: debited by one page.
  REQUIRE_OK(mmapio_flush_range(m.get(), 2 * kPage, kPage));
  CHECK(mmapio_pending(m.get()) == 2 * kPage);

  // A sub-page range is widened to its page: one page again.
  REQUIRE_OK(mmapio_flush_range(m.get(), 5 * kPage + 100, 1));
  CHECK(mmapio_pending(m.get()) == kPage);

  // A full flush resets to 0.
  REQUIRE_OK(mmapio_flush(m.get()));
  CHECK(mmapio_pending(m.get()) == 0);
}

TEST_CASE("mmapio_flush_range: a range crossing a page boundary debits two "
          "pages",
          "[mmapio_flush_range][mmapio_pending][flush]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), 8 * kPage);
  const std::string page = pattern_bytes(static_cast<size_t>(kPage));
  for (uint64_t i = 0; i < 3; i++)
    REQUIRE_OK(
        mmapio_update(m.get(), (2 * i + 1) * kPage, page.data(), page.size()));
  REQUIRE(mmapio_pending(m.get()) == 3 * kPage);
  // [kPage - 10, kPage + 10) widens to [0, 2 * kPage).
  REQUIRE_OK(mmapio_flush_range(m.get(), kPage - 10, 20));
  CHECK(mmapio_pending(m.get()) == kPage);
}

TEST_CASE("mmapio_flush_range: pending never goes below 0",
          "[mmapio_flush_range][mmapio_pending][flush]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), 4 * kPage);
  REQUIRE_OK(mmapio_update(m.get(), 100, "0123456789", 10));
  REQUIRE(mmapio_pending(m.get()) == 10);
  // The widened range (one page) is larger than what is pending.
  REQUIRE_OK(mmapio_flush_range(m.get(), 100, 10));
  CHECK(mmapio_pending(m.get()) == 0);
  // Flushing again with nothing pending stays at 0 (no wrap-around).
  REQUIRE_OK(mmapio_flush_range(m.get(), 0, 4 * kPage));
  CHECK(mmapio_pending(m.get()) == 0);
  REQUIRE_OK(mmapio_flush(m.get()));
  CHECK(mmapio_pending(m.get()) == 0);
}

TEST_CASE("mmapio_flush: resets pending to 0",
          "[mmapio_flush][mmapio_pending][flush]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), 4 * kPage);
  const std::string bytes = pattern_bytes(5000);
  REQUIRE_OK(mmapio_update(m.get(), 10, bytes.data(), bytes.size()));
  REQUIRE_OK(mmapio_update(m.get(), 3 * kPage, bytes.data(), 10));
  REQUIRE(mmapio_pending(m.get()) == 5010);
  REQUIRE_OK(mmapio_flush(m.get()));
  CHECK(mmapio_pending(m.get()) == 0);
}
