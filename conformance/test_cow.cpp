// Copy-on-write: a COW handle is writable, its writes are visible through
// that handle only, never in the file, in other handles of the same file
// or after reopening. It cannot be resized, and flushing it is a no-op.
#include "support.hpp"
#include "support_proc.hpp"

#include <cstdint>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <unistd.h>

using namespace mmapio_test;

TEST_CASE("COW: writes are visible in the handle only, never in the file, "
          "other handles or after reopening",
          "[mmapio_open][mmapio_view_mut][mmapio_update][cow]") {
  const WritePath w =
      GENERATE(WritePath::view_mut, WritePath::base_mut, WritePath::update);
  CAPTURE(path_name(w));
  TempDir td;
  const std::string p = td.path("f");
  const uint64_t size = 4 * kPage;
  const std::string original = pattern_bytes(static_cast<size_t>(size), 21);
  write_bytes(p, original);

  MapPtr cow = open_map(p, MMAPIO_MODE_COW);
  MapPtr ro = open_map(p, MMAPIO_MODE_RO);
  MapPtr rw = open_map(p, MMAPIO_MODE_RW);
  REQUIRE(mmapio_mode_of(cow.get()) == MMAPIO_MODE_COW);

  // Whole page, a page-crossing range, and one byte at the very end.
  struct Write {
    uint64_t off;
    std::string bytes;
  };
  const Write writes[] = {
      {0, std::string(static_cast<size_t>(kPage), 'A')},
      {2 * kPage - 50, std::string(100, 'B')},
      {size - 1, std::string(1, 'C')},
  };
  std::string expected = original;
  for (const auto &wr : writes) {
    write_via(w, cow.get(), wr.off, wr.bytes);
    expected.replace(static_cast<size_t>(wr.off), wr.bytes.size(), wr.bytes);
  }
  REQUIRE(expected != original);

  // Visible in the COW handle, through mmapio_read and its base.
  CHECK(read_map(cow.get(), 0, static_cast<size_t>(size)) == expected);
  CHECK(std::string(static_cast<const char *>(mmapio_base(cow.get())),
                    static_cast<size_t>(size)) == expected);

  // Not in the file, not in the other handles.
  CHECK(pread_file(p, 0, static_cast<size_t>(size)) == original);
  CHECK(read_map(ro.get(), 0, static_cast<size_t>(size)) == original);
  CHECK(read_map(rw.get(), 0, static_cast<size_t>(size)) == original);

  // A handle opened afterwards does not see them either.
  MapPtr ro2 = open_map(p, MMAPIO_MODE_RO);
  CHECK(read_map(ro2.get(), 0, static_cast<size_t>(size)) == original);
  MapPtr cow2 = open_map(p, MMAPIO_MODE_COW);
  CHECK(read_map(cow2.get(), 0, static_cast<size_t>(size)) == original);

  // Closing the COW handle does not write anything back either.
  cow.reset();
  CHECK(pread_file(p, 0, static_cast<size_t>(size)) == original);
  MapPtr again = open_map(p, MMAPIO_MODE_COW);
  CHECK(read_map(again.get(), 0, static_cast<size_t>(size)) == original);
}

TEST_CASE("COW: two COW handles of one file do not see each other's writes",
          "[mmapio_open][cow]") {
  TempDir td;
  const std::string p = td.path("f");
  const std::string original =
      pattern_bytes(static_cast<size_t>(2 * kPage), 22);
  write_bytes(p, original);
  MapPtr a = open_map(p, MMAPIO_MODE_COW);
  MapPtr b = open_map(p, MMAPIO_MODE_COW);
  REQUIRE_OK(mmapio_update(a.get(), 10, "from-a", 6));
  REQUIRE_OK(mmapio_update(b.get(), 10, "from-b", 6));
  CHECK(read_map(a.get(), 10, 6) == "from-a");
  CHECK(read_map(b.get(), 10, 6) == "from-b");
  CHECK(pread_file(p, 10, 6) == original.substr(10, 6));
}

TEST_CASE("COW: resize is refused with INVALID_MODE and nothing changes",
          "[mmapio_resize][cow]") {
  TempDir td;
  const std::string p = td.path("f");
  const std::string original =
      pattern_bytes(static_cast<size_t>(2 * kPage), 23);
  write_bytes(p, original);
  MapPtr m = open_map(p, MMAPIO_MODE_COW);
  REQUIRE_OK(mmapio_update(m.get(), 0, "private", 7));
  const void *base = mmapio_base(m.get());
  const uint64_t to = GENERATE_COPY(4 * kPage, kPage, 2 * kPage);
  CAPTURE(to);
  bool moved = true;
  REQUIRE_CODE(mmapio_resize(m.get(), to, &moved), MMAPIO_E_INVALID_MODE);
  CHECK(moved == true);
  CHECK(mmapio_len(m.get()) == 2 * kPage);
  CHECK(mmapio_base(m.get()) == base);
  CHECK(read_map(m.get(), 0, 7) == "private");
  CHECK(stat_of(p).st_size == static_cast<off_t>(2 * kPage));
  CHECK(read_bytes(p) == original);
}

TEST_CASE("COW: flush and flush_range return 0 and do not write the file",
          "[mmapio_flush][mmapio_flush_range][cow]") {
  const WritePath w =
      GENERATE(WritePath::view_mut, WritePath::base_mut, WritePath::update);
  CAPTURE(path_name(w));
  TempDir td;
  const std::string p = td.path("f");
  const std::string original =
      pattern_bytes(static_cast<size_t>(3 * kPage), 24);
  write_bytes(p, original);
  MapPtr m = open_map(p, MMAPIO_MODE_COW);
  write_via(w, m.get(), kPage + 1, std::string(2 * kPage - 2, 'Z'));

  CHECK_OK(mmapio_flush(m.get()));
  CHECK_OK(mmapio_flush_range(m.get(), 0, 3 * kPage));
  CHECK_OK(mmapio_flush_range(m.get(), kPage + 1, 10));
  CHECK(read_bytes(p) == original);
  // The handle still sees its own bytes after the flushes.
  CHECK(read_map(m.get(), kPage + 1, 4) == "ZZZZ");
  m.reset();
  CHECK(read_bytes(p) == original);
}
