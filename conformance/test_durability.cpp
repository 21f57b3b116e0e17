// Durability: after mmapio_flush / mmapio_flush_range the written pages
// are clean (written back), whatever path wrote them: mmapio_update, a
// writable view, or the raw base pointer. "Clean" is read from the
// kernel's own accounting, /proc/self/smaps (Private_Dirty +
// Shared_Dirty of the mapping's VMAs). A flush that skips the system call
// when its byte counter is 0 (the Rust crate's bug) leaves view and raw
// pointer writes dirty, and MS_ASYNC leaves them dirty too.
//
// On tmpfs there is no writeback (pages stay dirty after msync), and
// without /proc/self/smaps nothing can be measured: both skip, saying so.
#include "support.hpp"
#include "support_proc.hpp"

#include <cstdint>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <unistd.h>

using namespace mmapio_test;

namespace {} // namespace

TEST_CASE("durability: mmapio_flush writes back every dirty page, whatever "
          "path wrote it",
          "[mmapio_flush][durability][linux]") {
  const WritePath w =
      GENERATE(WritePath::view_mut, WritePath::base_mut, WritePath::update);
  CAPTURE(path_name(w));
  TempDir td;
  const std::string why = cannot_measure(td.dir());
  if (!why.empty())
    MMAPIO_SKIP(why);

  const std::string p = td.path("f");
  MapPtr m = create_map(p, 8 * kPage);
  // Several pages, whole and partial.
  const std::string a = pattern_bytes(static_cast<size_t>(kPage), 1);
  const std::string b = pattern_bytes(100, 2);
  const std::string c = "\x7f";
  write_via(w, m.get(), 1 * kPage, a);
  write_via(w, m.get(), 3 * kPage + 50, b);
  write_via(w, m.get(), 7 * kPage - 1, c);

  const size_t before = dirty_of(m.get());
  INFO("dirty bytes before the flush: " << before);
  REQUIRE(before != SIZE_MAX);
  REQUIRE(before > 0);

  REQUIRE_OK(mmapio_flush(m.get()));
  const size_t after = dirty_of(m.get());
  INFO("dirty bytes after the flush: " << after);
  CHECK(after == 0);

  CHECK(pread_file(p, 1 * kPage, a.size()) == a);
  CHECK(pread_file(p, 3 * kPage + 50, b.size()) == b);
  CHECK(pread_file(p, 7 * kPage - 1, c.size()) == c);
}

TEST_CASE("durability: mmapio_flush writes back pages dirtied again after an "
          "earlier flush",
          "[mmapio_flush][durability][linux]") {
  const WritePath w =
      GENERATE(WritePath::view_mut, WritePath::base_mut, WritePath::update);
  CAPTURE(path_name(w));
  TempDir td;
  const std::string why = cannot_measure(td.dir());
  if (!why.empty())
    MMAPIO_SKIP(why);

  const std::string p = td.path("f");
  MapPtr m = create_map(p, 4 * kPage);
  write_via(w, m.get(), 0, pattern_bytes(200, 4));
  REQUIRE_OK(mmapio_flush(m.get()));
  REQUIRE(dirty_of(m.get()) == 0);

  const std::string again = pattern_bytes(300, 5);
  write_via(w, m.get(), 2 * kPage + 9, again);
  const size_t before = dirty_of(m.get());
  INFO("dirty bytes before the second flush: " << before);
  REQUIRE(before > 0);
  REQUIRE_OK(mmapio_flush(m.get()));
  CHECK(dirty_of(m.get()) == 0);
  CHECK(pread_file(p, 2 * kPage + 9, again.size()) == again);
}

TEST_CASE("durability: mmapio_flush_range over exactly the written range "
          "writes it back",
          "[mmapio_flush_range][durability][linux]") {
  const WritePath w =
      GENERATE(WritePath::view_mut, WritePath::base_mut, WritePath::update);
  CAPTURE(path_name(w));
  TempDir td;
  const std::string why = cannot_measure(td.dir());
  if (!why.empty())
    MMAPIO_SKIP(why);

  const std::string p = td.path("f");
  MapPtr m = create_map(p, 8 * kPage);
  // Unaligned at both ends: [2 pages + 7, 5 pages - 3), touching pages 2-4.
  const uint64_t off = 2 * kPage + 7;
  const std::string bytes =
      pattern_bytes(static_cast<size_t>(3 * kPage - 10), 6);
  write_via(w, m.get(), off, bytes);

  const size_t before = dirty_of(m.get());
  INFO("dirty bytes before the flush: " << before);
  REQUIRE(before > 0);

  REQUIRE_OK(mmapio_flush_range(m.get(), off, bytes.size()));
  const size_t after = dirty_of(m.get());
  INFO("dirty bytes after the flush: " << after);
  CHECK(after == 0);
  CHECK(pread_file(p, off, bytes.size()) == bytes);
}

TEST_CASE("durability: mmapio_flush_range over several separate written "
          "ranges writes them all back",
          "[mmapio_flush_range][durability][linux]") {
  const WritePath w =
      GENERATE(WritePath::view_mut, WritePath::base_mut, WritePath::update);
  CAPTURE(path_name(w));
  TempDir td;
  const std::string why = cannot_measure(td.dir());
  if (!why.empty())
    MMAPIO_SKIP(why);

  const std::string p = td.path("f");
  MapPtr m = create_map(p, 8 * kPage);
  const std::string x = pattern_bytes(10, 7);
  const uint64_t offs[] = {0, 4 * kPage - 5 /* crosses a page boundary */,
                           6 * kPage + 1};
  for (uint64_t off : offs)
    write_via(w, m.get(), off, x);
  REQUIRE(dirty_of(m.get()) > 0);
  for (uint64_t off : offs)
    REQUIRE_OK(mmapio_flush_range(m.get(), off, x.size()));
  CHECK(dirty_of(m.get()) == 0);
  for (uint64_t off : offs)
    CHECK(pread_file(p, off, x.size()) == x);
}
