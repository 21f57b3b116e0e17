// Pins: mmapio_pin_range / mmapio_unpin keep a mapping alive and stop a
// shrink from cutting the pinned range.
#include "support.hpp"

#include <sys/mman.h>

using namespace mmapio_test;

namespace {

const uint64_t kSize = 16384;

MapPtr create_map(const TempDir &d, uint64_t size = kSize) {
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_create(&m, d.path("f").c_str(), size));
  return MapPtr(m);
}

// A pin filled with a byte pattern, to see whether a failing call
// touched it.
mmapio_pin patterned_pin() {
  mmapio_pin p;
  std::memset(&p, 0xAB, sizeof p);
  return p;
}

bool still_patterned(const mmapio_pin &p) {
  const mmapio_pin q = patterned_pin();
  return std::memcmp(&p, &q, sizeof p) == 0;
}

// Whether the page at addr is mapped at all (mincore fails with ENOMEM on
// an unmapped range). It asks about the page's first byte only: under
// qemu-user emulating pages larger than the host's, mincore is the host's
// and a whole page would take one entry per host page (mincore_blocker),
// and where the file ends within the page the rest of it is not mapped
// on the host (file_tail_blocker).
bool page_mapped(const void *addr) {
  const uintptr_t ps = mmapio_page_size();
  void *page =
      reinterpret_cast<void *>(reinterpret_cast<uintptr_t>(addr) & ~(ps - 1));
  unsigned char vec = 0;
  return ::mincore(page, 1, &vec) == 0;
}

} // namespace

TEST_CASE("mmapio_pin_range: INVALID_ARGUMENT when m or out is NULL",
          "[mmapio_pin_range][errors][access]") {
  TempDir d;
  MapPtr m = create_map(d);
  SECTION("m is NULL") {
    mmapio_pin p = patterned_pin();
    CHECK_CODE(mmapio_pin_range(&p, nullptr, 0, 1), MMAPIO_E_INVALID_ARGUMENT);
    CHECK(still_patterned(p));
  }
  SECTION("out is NULL") {
    CHECK_CODE(mmapio_pin_range(nullptr, m.get(), 0, 1),
               MMAPIO_E_INVALID_ARGUMENT);
  }
  // No reference was taken: the handle can be consumed.
  int fd = -1;
  REQUIRE_OK(mmapio_unmap(m.release(), &fd));
  ::close(fd);
}

TEST_CASE("mmapio_pin_range: OUT_OF_BOUNDS when off + len exceeds the length",
          "[mmapio_pin_range][errors][access]") {
  TempDir d;
  MapPtr m = create_map(d);
  struct Row {
    uint64_t off, len;
  };
  const Row rows[] = {{0, kSize + 1},  {kSize - 1, 2},
                      {kSize, 1},      {kSize + 1, 0},
                      {UINT64_MAX, 2}, {2, UINT64_MAX},
                      {UINT64_MAX, 0}, {uint64_t(1) << 63, uint64_t(1) << 63}};
  for (const Row &r : rows) {
    INFO("off " << r.off << " len " << r.len);
    mmapio_pin p = patterned_pin();
    CHECK_CODE(mmapio_pin_range(&p, m.get(), r.off, r.len),
               MMAPIO_E_OUT_OF_BOUNDS);
    CHECK(still_patterned(p));
  }
  // No reference was taken by any failed pin.
  int fd = -1;
  REQUIRE_OK(mmapio_unmap(m.release(), &fd));
  ::close(fd);
}

TEST_CASE("mmapio_pin_range: boundaries are accepted",
          "[mmapio_pin_range][access]") {
  TempDir d;
  MapPtr m = create_map(d);
  mmapio_pin a, b, c;
  CHECK_OK(mmapio_pin_range(&a, m.get(), 0, kSize));
  CHECK_OK(mmapio_pin_range(&b, m.get(), kSize, 0));
  CHECK_OK(mmapio_pin_range(&c, m.get(), kSize - 1, 1));
  mmapio_unpin(&a);
  mmapio_unpin(&b);
  mmapio_unpin(&c);
}

TEST_CASE("pins: a shrink below a pinned end is BUSY",
          "[mmapio_pin_range][resize]") {
  TempDir d;
  MapPtr m = create_map(d);
  REQUIRE_OK(mmapio_update(m.get(), 5000, "pinned", 6));
  mmapio_pin pin;
  REQUIRE_OK(mmapio_pin_range(&pin, m.get(), 4096, 4096)); // end 8192

  CHECK_CODE(mmapio_resize(m.get(), 8191, nullptr), MMAPIO_E_BUSY);
  CHECK(mmapio_len(m.get()) == kSize);
  CHECK(stat_of(d.path("f")).st_size == static_cast<off_t>(kSize));
  CHECK_CODE(mmapio_resize(m.get(), 4096, nullptr), MMAPIO_E_BUSY);
  CHECK(mmapio_len(m.get()) == kSize);
  char buf[6];
  REQUIRE_OK(mmapio_read(m.get(), 5000, buf, 6));
  CHECK(std::string(buf, 6) == "pinned");

  // Down to exactly the pinned end is allowed.
  CHECK_OK(mmapio_resize(m.get(), 8192, nullptr));
  CHECK(mmapio_len(m.get()) == 8192);
  // Growing is allowed while pinned.
  CHECK_OK(mmapio_resize(m.get(), 3 * kSize, nullptr));
  CHECK(mmapio_len(m.get()) == 3 * kSize);

  mmapio_unpin(&pin);
  CHECK_OK(mmapio_resize(m.get(), 4096, nullptr));
  CHECK(mmapio_len(m.get()) == 4096);
  CHECK(stat_of(d.path("f")).st_size == 4096);
}

TEST_CASE("pins: the farthest pin governs, a zero-length pin counts",
          "[mmapio_pin_range][resize]") {
  TempDir d;
  MapPtr m = create_map(d);
  mmapio_pin near, far;
  REQUIRE_OK(mmapio_pin_range(&near, m.get(), 0, 100));
  REQUIRE_OK(mmapio_pin_range(&far, m.get(), 12000, 0)); // end 12000
  CHECK_CODE(mmapio_resize(m.get(), 11999, nullptr), MMAPIO_E_BUSY);
  CHECK(mmapio_len(m.get()) == kSize);
  mmapio_unpin(&far);
  CHECK_CODE(mmapio_resize(m.get(), 99, nullptr), MMAPIO_E_BUSY);
  CHECK_OK(mmapio_resize(m.get(), 100, nullptr));
  mmapio_unpin(&near);
  CHECK_OK(mmapio_resize(m.get(), 1, nullptr));
  CHECK(mmapio_len(m.get()) == 1);
}

TEST_CASE("pins: close with a live pin keeps the mapping until unpin",
          "[mmapio_pin_range][mmapio_unpin][access]") {
  TempDir d;
  const std::string p = make_file(d, "f", pattern_bytes(kSize, 4));
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_open(&m, p.c_str(), MMAPIO_MODE_RO));
  const void *v = nullptr;
  REQUIRE_OK(mmapio_view(m, 0, kSize, &v));
  const int fd = mmapio_fd(m);
  mmapio_pin pin;
  REQUIRE_OK(mmapio_pin_range(&pin, m, 0, kSize));

  mmapio_close(m); // drops only the caller's reference
  const char *bytes = static_cast<const char *>(v);
  CHECK_BYTES(std::string(bytes, kSize), pattern_bytes(kSize, 4));
  CHECK(::fcntl(fd, F_GETFD) != -1);
  CHECK(page_mapped(bytes));

  mmapio_unpin(&pin); // the last reference: now really closed
  errno = 0;
  CHECK(::fcntl(fd, F_GETFD) == -1);
  CHECK(errno == EBADF);
  CHECK_FALSE(page_mapped(bytes));
  // A released pin is a no-op the second time, even with the map gone.
  mmapio_unpin(&pin);
}

TEST_CASE("mmapio_unpin: NULL and a released pin are no-ops",
          "[mmapio_unpin][access]") {
  mmapio_clear_error();
  mmapio_unpin(nullptr);
  CHECK(mmapio_last_error()->code == 0);

  TempDir d;
  MapPtr m = create_map(d);
  mmapio_pin a, b;
  REQUIRE_OK(mmapio_pin_range(&a, m.get(), 0, kSize));
  REQUIRE_OK(mmapio_pin_range(&b, m.get(), 0, 10));
  mmapio_unpin(&a);
  mmapio_unpin(&a); // no-op: must not drop b's or the caller's reference
  CHECK_CODE(mmapio_resize(m.get(), 5, nullptr), MMAPIO_E_BUSY);
  mmapio_unpin(&b);
  CHECK_OK(mmapio_resize(m.get(), 5, nullptr));
  int fd = -1;
  REQUIRE_OK(mmapio_unmap(m.release(), &fd));
  ::close(fd);
}

TEST_CASE("pins: unmap is refused until every pin is released",
          "[mmapio_pin_range][mmapio_unmap][open]") {
  TempDir d;
  MapPtr m = create_map(d);
  mmapio_pin a, b;
  REQUIRE_OK(mmapio_pin_range(&a, m.get(), 0, 1));
  REQUIRE_OK(mmapio_pin_range(&b, m.get(), 1, 1));
  int fd = -7;
  CHECK_CODE(mmapio_unmap(m.get(), &fd), MMAPIO_E_BUSY);
  mmapio_unpin(&a);
  CHECK_CODE(mmapio_unmap(m.get(), &fd), MMAPIO_E_BUSY);
  CHECK(fd == -7);
  mmapio_unpin(&b);
  REQUIRE_OK(mmapio_unmap(m.release(), &fd));
  CHECK(fd >= 0);
  ::close(fd);
}
