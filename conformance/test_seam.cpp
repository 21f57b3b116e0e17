// Tests that replace entries of the system-call table
// (lib/src/unix/syscalls.h). Linked to the static library only
// (mmapio_seam_tests). Every test that touches the table holds a
// SysGuard, which restores the real calls on every exit path.
#include "support.hpp"
#include "support_proc.hpp"
#include "support_seam.hpp"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

using namespace mmapio_test;

namespace {

// ------------------------------------------------------------------
// Fakes and their records (single-threaded tests)
// ------------------------------------------------------------------

struct MsyncCall {
  uintptr_t addr;
  size_t len;
  int flags;
};

std::vector<MsyncCall> g_msync_calls;
int g_msync_fail_errno = 0; // errno to fail with, 0 = call through
int g_msync_fail_count = 0; // how many more calls fail
int g_ftruncate_calls = 0;
int g_ftruncate_fail_errno = 0;
int g_fallocate_calls = 0;
int g_fallocate_errno = 0; // returned instead of allocating; 0 = real
off_t g_fallocate_off = -1;
off_t g_fallocate_len = -1;
int g_mmap_calls = 0;
int g_mmap_fail_errno = 0;

int counting_msync(void *addr, size_t len, int flags) {
  g_msync_calls.push_back({reinterpret_cast<uintptr_t>(addr), len, flags});
  if (g_msync_fail_errno != 0 && g_msync_fail_count > 0) {
    g_msync_fail_count--;
    errno = g_msync_fail_errno;
    return -1;
  }
  return ::msync(addr, len, flags);
}

int faking_ftruncate(int fd, off_t len) {
  g_ftruncate_calls++;
  if (g_ftruncate_fail_errno != 0) {
    errno = g_ftruncate_fail_errno;
    return -1;
  }
  return ::ftruncate(fd, len);
}

int faking_fallocate(int fd, off_t off, off_t len) {
  g_fallocate_calls++;
  g_fallocate_off = off;
  g_fallocate_len = len;
  if (g_fallocate_errno != 0)
    return g_fallocate_errno;
  return ::posix_fallocate(fd, off, len);
}

void *faking_mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off) {
  g_mmap_calls++;
  if (g_mmap_fail_errno != 0) {
    errno = g_mmap_fail_errno;
    return MAP_FAILED;
  }
  return ::mmap(addr, len, prot, flags, fd, off);
}

// Clears the records (SysGuard calls it on entry and on every exit path).
void clear_records() {
  g_msync_calls.clear();
  g_msync_fail_errno = 0;
  g_msync_fail_count = 0;
  g_ftruncate_calls = 0;
  g_ftruncate_fail_errno = 0;
  g_fallocate_calls = 0;
  g_fallocate_errno = 0;
  g_fallocate_off = g_fallocate_len = -1;
  g_mmap_calls = 0;
  g_mmap_fail_errno = 0;
}

// ------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------

MapPtr open_ex(const std::string &path, const mmapio_options &o,
               mmapio_disposition how) {
  mmapio_map *m = nullptr;
  const int rc = mmapio_open_ex(&m, path.c_str(), &o, how);
  INFO("mmapio_open_ex returned " << mmapio_describe(rc));
  REQUIRE(rc == 0);
  return MapPtr(m);
}

MapPtr create_policy(const std::string &path, uint64_t size,
                     mmapio_flush_policy policy, uint64_t arg) {
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.size = size;
  o.flush_policy = policy;
  o.flush_arg = arg;
  return open_ex(path, o, MMAPIO_CREATE);
}

MapPtr open_rw(const std::string &path) {
  mmapio_map *m = nullptr;
  const int rc = mmapio_open(&m, path.c_str(), MMAPIO_MODE_RW);
  INFO("mmapio_open returned " << mmapio_describe(rc));
  REQUIRE(rc == 0);
  return MapPtr(m);
}

std::string describe_msyncs(const mmapio_map *m) {
  std::string s;
  for (const auto &c : g_msync_calls)
    s += "[base+" + std::to_string(c.addr - base_addr(m)) + ", len " +
         std::to_string(c.len) + ", flags " + std::to_string(c.flags) + "] ";
  return s.empty() ? "none" : s;
}

// The page-widened [start, end) of [off, off+len).
uint64_t page_floor(uint64_t v) { return v / kPage * kPage; }
uint64_t page_ceil(uint64_t v) { return (v + kPage - 1) / kPage * kPage; }

} // namespace

// ------------------------------------------------------------------
// FLUSH_FAILED
// ------------------------------------------------------------------

TEST_CASE("mmapio_flush: FLUSH_FAILED when msync fails",
          "[mmapio_flush][errors][flush]") {
  SysGuard guard(clear_records);
  TempDir td;
  MapPtr m = create_map(td.path("f"), 4 * kPage);
  REQUIRE_OK(mmapio_update(m.get(), 0, "data", 4));
  const uint64_t pending = mmapio_pending(m.get());

  guard.set("msync", counting_msync);
  g_msync_fail_errno = EIO;
  g_msync_fail_count = 1;
  mmapio_clear_error();
  REQUIRE_CODE(mmapio_flush(m.get()), MMAPIO_E_FLUSH_FAILED);
  const mmapio_error *e = mmapio_last_error();
  CHECK(e->code == MMAPIO_E_FLUSH_FAILED);
  CHECK(e->os_errno == EIO);
  CHECK(e->syscall != nullptr);
  CHECK(g_msync_calls.size() == 1);
  // Nothing was flushed: the pending count is not debited.
  CHECK(mmapio_pending(m.get()) == pending);
}

TEST_CASE("mmapio_flush_range: FLUSH_FAILED when msync fails",
          "[mmapio_flush_range][errors][flush]") {
  SysGuard guard(clear_records);
  TempDir td;
  MapPtr m = create_map(td.path("f"), 4 * kPage);
  REQUIRE_OK(mmapio_update(m.get(), kPage, "data", 4));
  const uint64_t pending = mmapio_pending(m.get());

  guard.set("msync", counting_msync);
  g_msync_fail_errno = EIO;
  g_msync_fail_count = 1;
  mmapio_clear_error();
  REQUIRE_CODE(mmapio_flush_range(m.get(), kPage, 4), MMAPIO_E_FLUSH_FAILED);
  const mmapio_error *e = mmapio_last_error();
  CHECK(e->code == MMAPIO_E_FLUSH_FAILED);
  CHECK(e->os_errno == EIO);
  CHECK(e->syscall != nullptr);
  CHECK(g_msync_calls.size() == 1);
  CHECK(mmapio_pending(m.get()) == pending);
}

TEST_CASE("mmapio_update: FLUSH_FAILED when the flush the policy requires "
          "fails",
          "[mmapio_update][errors][flush]") {
  SysGuard guard(clear_records);
  TempDir td;
  MapPtr m = create_policy(td.path("f"), 4 * kPage, MMAPIO_FLUSH_ALWAYS, 0);

  guard.set("msync", counting_msync);
  g_msync_fail_errno = EIO;
  g_msync_fail_count = 1;
  mmapio_clear_error();
  REQUIRE_CODE(mmapio_update(m.get(), 2 * kPage + 1, "copied", 6),
               MMAPIO_E_FLUSH_FAILED);
  const mmapio_error *e = mmapio_last_error();
  CHECK(e->code == MMAPIO_E_FLUSH_FAILED);
  CHECK(e->os_errno == EIO);
  CHECK(g_msync_calls.size() == 1);
  // The bytes were copied all the same.
  CHECK(read_map(m.get(), 2 * kPage + 1, 6) == "copied");
}

TEST_CASE("mmapio_flush: a failed flush is sticky until the file is reopened",
          "[mmapio_flush][mmapio_flush_range][flush]") {
  SysGuard guard(clear_records);
  TempDir td;
  const std::string p = td.path("f");
  MapPtr m = create_map(p, 4 * kPage);
  REQUIRE_OK(mmapio_update(m.get(), 0, "data", 4));

  guard.set("msync", counting_msync);
  g_msync_fail_errno = EIO;
  g_msync_fail_count = 1;
  REQUIRE_CODE(mmapio_flush(m.get()), MMAPIO_E_FLUSH_FAILED);
  REQUIRE(mmapio_last_error()->os_errno == EIO);

  // The real msync again: the handle keeps failing.
  mmi_sys_reset();
  mmapio_clear_error();
  CHECK_CODE(mmapio_flush(m.get()), MMAPIO_E_FLUSH_FAILED);
  CHECK(mmapio_last_error()->code == MMAPIO_E_FLUSH_FAILED);
  INFO("os_errno of the sticky failure: " << mmapio_last_error()->os_errno);
  mmapio_clear_error();
  CHECK_CODE(mmapio_flush_range(m.get(), 0, 4), MMAPIO_E_FLUSH_FAILED);
  CHECK_CODE(mmapio_flush_range(m.get(), 0, 4 * kPage), MMAPIO_E_FLUSH_FAILED);
  CHECK_CODE(mmapio_flush(m.get()), MMAPIO_E_FLUSH_FAILED);
  // Bounds are still checked first.
  CHECK_CODE(mmapio_flush_range(m.get(), 4 * kPage, 1), MMAPIO_E_OUT_OF_BOUNDS);

  // A new handle on the same file starts afresh, even while the failed
  // one is still open.
  MapPtr fresh = open_rw(p);
  CHECK_OK(mmapio_flush(fresh.get()));
  CHECK_OK(mmapio_flush_range(fresh.get(), 0, 4));
  CHECK(read_map(fresh.get(), 0, 4) == "data");
  // ... and the failed handle is still failing.
  CHECK_CODE(mmapio_flush(m.get()), MMAPIO_E_FLUSH_FAILED);
}

TEST_CASE("mmapio_update: a failed flush is sticky for policy flushes too",
          "[mmapio_update][flush]") {
  SysGuard guard(clear_records);
  TempDir td;
  MapPtr m = create_policy(td.path("f"), 4 * kPage, MMAPIO_FLUSH_ALWAYS, 0);
  guard.set("msync", counting_msync);
  g_msync_fail_errno = EIO;
  g_msync_fail_count = 1;
  REQUIRE_CODE(mmapio_update(m.get(), 0, "one", 3), MMAPIO_E_FLUSH_FAILED);
  mmi_sys_reset();
  CHECK_CODE(mmapio_update(m.get(), kPage, "two", 3), MMAPIO_E_FLUSH_FAILED);
  CHECK(read_map(m.get(), kPage, 3) == "two");
  CHECK_CODE(mmapio_flush(m.get()), MMAPIO_E_FLUSH_FAILED);
}

// ------------------------------------------------------------------
// Flush policies, counted at msync
// ------------------------------------------------------------------

TEST_CASE("flush policy MANUAL: mmapio_update never calls msync",
          "[mmapio_update][flush]") {
  SysGuard guard(clear_records);
  TempDir td;
  MapPtr m = create_policy(td.path("f"), 8 * kPage, MMAPIO_FLUSH_MANUAL, 0);
  guard.set("msync", counting_msync);
  const std::string page = pattern_bytes(static_cast<size_t>(kPage));
  for (uint64_t i = 0; i < 8; i++)
    REQUIRE_OK(mmapio_update(m.get(), i * kPage, page.data(), page.size()));
  INFO("msync calls: " << describe_msyncs(m.get()));
  CHECK(g_msync_calls.empty());
  CHECK(mmapio_pending(m.get()) == 8 * kPage);
  // The explicit flush does.
  REQUIRE_OK(mmapio_flush(m.get()));
  CHECK(g_msync_calls.size() >= 1);
  CHECK(mmapio_pending(m.get()) == 0);
}

TEST_CASE("flush policy ALWAYS: each update calls msync once over its "
          "page-widened range",
          "[mmapio_update][flush]") {
  SysGuard guard(clear_records);
  TempDir td;
  MapPtr m = create_policy(td.path("f"), 8 * kPage, MMAPIO_FLUSH_ALWAYS, 0);
  REQUIRE(mmapio_flush_policy_of(m.get()) == MMAPIO_FLUSH_ALWAYS);
  guard.set("msync", counting_msync);

  struct Case {
    uint64_t off;
    size_t len;
  };
  const Case cases[] = {
      {kPage + 904, 100},                              // inside one page
      {kPage - 10, 20},                                // crossing a boundary
      {3 * kPage, static_cast<size_t>(kPage)},         // exactly one page
      {4 * kPage + 1, static_cast<size_t>(2 * kPage)}, // three pages
      {8 * kPage - 1, 1},                              // the last byte
  };
  const std::string bytes = pattern_bytes(static_cast<size_t>(3 * kPage));
  for (const auto &c : cases) {
    CAPTURE(c.off, c.len);
    g_msync_calls.clear();
    REQUIRE_OK(mmapio_update(m.get(), c.off, bytes.data(), c.len));
    INFO("msync calls: " << describe_msyncs(m.get()));
    REQUIRE(g_msync_calls.size() == 1);
    const MsyncCall &call = g_msync_calls[0];
    CHECK(call.addr == base_addr(m.get()) + page_floor(c.off));
    CHECK(call.len == page_ceil(c.off + c.len) - page_floor(c.off));
    CHECK((call.flags & MS_SYNC) != 0);
    CHECK(mmapio_pending(m.get()) == 0);
  }
}

TEST_CASE("flush policy EVERY_WRITES(3): msync after every third update",
          "[mmapio_update][flush]") {
  SysGuard guard(clear_records);
  TempDir td;
  MapPtr m =
      create_policy(td.path("f"), 8 * kPage, MMAPIO_FLUSH_EVERY_WRITES, 3);
  guard.set("msync", counting_msync);
  const size_t expected[] = {0, 0, 1, 1, 1, 2, 2, 2, 3};
  for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
    CAPTURE(i + 1);
    REQUIRE_OK(mmapio_update(m.get(), (i % 8) * kPage + 7, "x", 1));
    INFO("msync calls: " << describe_msyncs(m.get()));
    CHECK(g_msync_calls.size() == expected[i]);
    if ((i + 1) % 3 == 0)
      CHECK(mmapio_pending(m.get()) == 0);
    else
      CHECK(mmapio_pending(m.get()) == (i + 1) % 3);
  }
}

TEST_CASE("flush policy EVERY_BYTES(10000): 4096-byte updates flush at the "
          "third",
          "[mmapio_update][flush]") {
  SysGuard guard(clear_records);
  TempDir td;
  MapPtr m =
      create_policy(td.path("f"), 8 * 4096, MMAPIO_FLUSH_EVERY_BYTES, 10000);
  guard.set("msync", counting_msync);
  const std::string chunk = pattern_bytes(4096);
  const size_t expected[] = {0, 0, 1, 1, 1, 2};
  for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
    CAPTURE(i + 1);
    REQUIRE_OK(mmapio_update(m.get(), i * 4096, chunk.data(), chunk.size()));
    INFO("msync calls: " << describe_msyncs(m.get()));
    CHECK(g_msync_calls.size() == expected[i]);
    CHECK(mmapio_pending(m.get()) == ((i + 1) % 3) * 4096);
  }
}

TEST_CASE("mmapio_flush: a clean mapping still calls msync",
          "[mmapio_flush][flush]") {
  SysGuard guard(clear_records);
  TempDir td;
  MapPtr m = create_map(td.path("f"), 4 * kPage);
  guard.set("msync", counting_msync);
  REQUIRE(mmapio_pending(m.get()) == 0);
  REQUIRE_OK(mmapio_flush(m.get()));
  INFO("msync calls: " << describe_msyncs(m.get()));
  REQUIRE(g_msync_calls.size() >= 1);
  // It covers the whole mapping, synchronously.
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  for (const auto &c : g_msync_calls) {
    CHECK((c.flags & MS_SYNC) != 0);
    lo = c.addr < lo ? c.addr : lo;
    hi = c.addr + c.len > hi ? c.addr + c.len : hi;
  }
  CHECK(lo <= base_addr(m.get()));
  CHECK(hi >= base_addr(m.get()) + 4 * kPage);

  // Writes through a view leave pending at 0; flush must still sync.
  void *w = nullptr;
  REQUIRE_OK(mmapio_view_mut(m.get(), 0, 1, &w));
  *static_cast<char *>(w) = 'v';
  g_msync_calls.clear();
  REQUIRE_OK(mmapio_flush(m.get()));
  CHECK(g_msync_calls.size() >= 1);
  g_msync_calls.clear();
  REQUIRE_OK(mmapio_flush_range(m.get(), 0, 1));
  CHECK(g_msync_calls.size() == 1);
}

// ------------------------------------------------------------------
// Preallocation
// ------------------------------------------------------------------

TEST_CASE("mmapio_open_ex: MMAPIO_OPT_PREALLOCATE allocates the whole size "
          "on create",
          "[mmapio_open_ex][sparse]") {
  SysGuard guard(clear_records);
  TempDir td;
  const std::string p = td.path("f");
  guard.set("posix_fallocate", faking_fallocate);
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.size = 16 * kPage;
  o.flags = MMAPIO_OPT_PREALLOCATE;
  MapPtr m = open_ex(p, o, MMAPIO_CREATE);
  CHECK(g_fallocate_calls >= 1);
  CHECK(g_fallocate_off == 0);
  CHECK(static_cast<uint64_t>(g_fallocate_len) == 16 * kPage);
  CHECK(file_size(p) == 16 * kPage);
  CHECK(mmapio_len(m.get()) == 16 * kPage);
}

TEST_CASE("mmapio_open_ex: RESIZE_FAILED when preallocation fails "
          "(injected ENOSPC)",
          "[mmapio_open_ex][errors][open]") {
  SysGuard guard(clear_records);
  TempDir td;
  const std::string p = td.path("f");
  const mmapio_disposition how = GENERATE(MMAPIO_CREATE, MMAPIO_OPEN_OR_CREATE);
  CAPTURE(static_cast<int>(how));
  guard.set("posix_fallocate", faking_fallocate);
  g_fallocate_errno = ENOSPC;
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.size = 16 * kPage;
  o.flags = MMAPIO_OPT_PREALLOCATE;

  mmapio_map *sentinel = reinterpret_cast<mmapio_map *>(&o);
  mmapio_map *out = sentinel;
  mmapio_clear_error();
  REQUIRE_CODE(mmapio_open_ex(&out, p.c_str(), &o, how),
               MMAPIO_E_RESIZE_FAILED);
  const mmapio_error *e = mmapio_last_error();
  CHECK(e->code == MMAPIO_E_RESIZE_FAILED);
  CHECK(e->os_errno == ENOSPC);
  CHECK(out == sentinel);
  CHECK(g_fallocate_calls >= 1);
  if (how == MMAPIO_OPEN_OR_CREATE) {
    // "The file appears under its name only once fully sized": never.
    CHECK_FALSE(path_exists(p));
  }
}

TEST_CASE("mmapio_resize: RESIZE_FAILED when preallocation fails",
          "[mmapio_resize][errors][resize]") {
  SysGuard guard(clear_records);
  TempDir td;
  const std::string p = td.path("f");
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.size = 2 * kPage;
  o.flags = MMAPIO_OPT_PREALLOCATE;
  MapPtr m = open_ex(p, o, MMAPIO_CREATE);
  const std::string content = pattern_bytes(static_cast<size_t>(2 * kPage));
  REQUIRE_OK(mmapio_update(m.get(), 0, content.data(), content.size()));
  const void *base = mmapio_base(m.get());
  const void *view = nullptr;
  REQUIRE_OK(mmapio_view(m.get(), 0, content.size(), &view));

  guard.set("posix_fallocate", faking_fallocate);
  g_fallocate_errno = ENOSPC;
  bool moved = true;
  mmapio_clear_error();
  REQUIRE_CODE(mmapio_resize(m.get(), 8 * kPage, &moved),
               MMAPIO_E_RESIZE_FAILED);
  CHECK(mmapio_last_error()->os_errno == ENOSPC);
  CHECK(g_fallocate_calls >= 1);
  CHECK(moved == true);
  CHECK(mmapio_len(m.get()) == 2 * kPage);
  CHECK(mmapio_base(m.get()) == base);
  CHECK(file_size(p) == 2 * kPage);
  CHECK(std::memcmp(view, content.data(), content.size()) == 0);
  CHECK(read_map(m.get(), 0, content.size()) == content);

  // With the real call back, the same resize succeeds.
  mmi_sys_reset();
  CHECK_OK(mmapio_resize(m.get(), 8 * kPage, nullptr));
  CHECK(file_size(p) == 8 * kPage);
}

// ------------------------------------------------------------------
// Resize failures
// ------------------------------------------------------------------

TEST_CASE("mmapio_resize: RESIZE_FAILED when ftruncate fails",
          "[mmapio_resize][errors][resize]") {
  SysGuard guard(clear_records);
  TempDir td;
  const std::string p = td.path("f");
  const uint64_t from = 4 * kPage;
  MapPtr m = create_map(p, from);
  const std::string content = pattern_bytes(static_cast<size_t>(from), 31);
  REQUIRE_OK(mmapio_update(m.get(), 0, content.data(), content.size()));
  const void *base = mmapio_base(m.get());
  const void *view = nullptr;
  REQUIRE_OK(mmapio_view(m.get(), 0, content.size(), &view));

  struct Case {
    uint64_t to;
    int err;
    const char *what;
  };
  const Case c = GENERATE_COPY(values<Case>({
      {16 * kPage, EFBIG, "grow, EFBIG"},
      {8 * kPage + 1, ENOSPC, "grow, ENOSPC"},
      {kPage, EPERM, "shrink to one page, EPERM"},
      {kPage + 100, EIO, "shrink to a partial page, EIO"},
  }));
  CAPTURE(c.what);

  guard.set("ftruncate", faking_ftruncate);
  g_ftruncate_fail_errno = c.err;
  bool moved = true;
  mmapio_clear_error();
  REQUIRE_CODE(mmapio_resize(m.get(), c.to, &moved), MMAPIO_E_RESIZE_FAILED);
  const mmapio_error *e = mmapio_last_error();
  CHECK(e->os_errno == c.err);
  CHECK(e->syscall != nullptr);
  CHECK(g_ftruncate_calls >= 1);
  mmi_sys_reset();

  CHECK(moved == true);
  CHECK(mmapio_len(m.get()) == from);
  CHECK(mmapio_base(m.get()) == base);
  CHECK(file_size(p) == from);
  CHECK(std::memcmp(view, content.data(), content.size()) == 0);
  CHECK(read_map(m.get(), 0, content.size()) == content);
  // The bytes beyond a failed shrink's target are still the file's.
  void *w = nullptr;
  REQUIRE_OK(mmapio_view_mut(m.get(), from - 3, 3, &w));
  std::memcpy(w, "end", 3);
  REQUIRE_OK(mmapio_flush(m.get()));
  CHECK(read_bytes(p).substr(static_cast<size_t>(from - 3)) == "end");

  // And the handle still resizes once the call works.
  CHECK_OK(mmapio_resize(m.get(), c.to, nullptr));
  CHECK(mmapio_len(m.get()) == c.to);
  CHECK(file_size(p) == c.to);
}

constexpr size_t kHuge = size_t{2} << 20;

// An mmap that places every mapping it chooses the address of (addr NULL)
// of 2 MiB or more one page past a 2 MiB boundary, as a kernel that does
// not align large mappings might.
void *misplacing_mmap(void *addr, size_t len, int prot, int flags, int fd,
                      off_t off) {
  g_mmap_calls++;
  if (addr != nullptr || len < kHuge)
    return ::mmap(addr, len, prot, flags, fd, off);
  const size_t page = static_cast<size_t>(kPage);
  const size_t span = len + 2 * kHuge;
  auto *area = static_cast<unsigned char *>(
      ::mmap(nullptr, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (area == MAP_FAILED)
    return MAP_FAILED;
  const uintptr_t a = reinterpret_cast<uintptr_t>(area);
  unsigned char *at = area + ((kHuge - (a & (kHuge - 1))) & (kHuge - 1)) + page;
  ::munmap(area, span); // at .. at+len lies inside what was just free
  void *p = ::mmap(at, len, prot, flags | MAP_FIXED, fd, off);
  return p;
}

TEST_CASE("mmapio_open: mappings of 2 MiB or more start on a 2 MiB boundary "
          "even where the kernel places them anywhere",
          "[mmapio_open][mmapio_create][hugepages][linux]") {
  SysGuard guard(clear_records);
  TempDir td;
  const std::string p = td.path("f");
  const uint64_t size = 4 * kHuge;
  const std::string content = pattern_bytes(static_cast<size_t>(size), 7);
  {
    MapPtr w = create_map(p, size);
    REQUIRE_OK(mmapio_update(w.get(), 0, content.data(), content.size()));
  }
  const mmapio_mode mode =
      GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_COW, MMAPIO_MODE_RW);
  CAPTURE(mode);
  // RW maps the file past its end (the second line below).
  if (mode == MMAPIO_MODE_RW && !file_tail_blocker().empty())
    MMAPIO_SKIP(file_tail_blocker());
  // The reservation a closed handle left would be used as it is.
  mmapio_trim();
  guard.set("mmap", misplacing_mmap);
  MapPtr m = open_map(p, mode);
  mmi_sys_reset();
  CHECK(reinterpret_cast<uintptr_t>(mmapio_base(m.get())) % kHuge == 0);
  // Only the live mapping maps the file: a misplaced first try is gone.
  // (RW splits it in two, the accessible part and the PROT_NONE part past
  // the end, one after the other from the base; 32-bit builds reserve no
  // room to grow by default, so there is no part past the end.)
  int lines = 0;
  uintptr_t next = reinterpret_cast<uintptr_t>(mmapio_base(m.get()));
  for (const Vma &v : read_maps())
    if (v.path == p) {
      lines++;
      CHECK(v.start == next);
      next = v.end;
    }
  const bool room_to_grow = mode == MMAPIO_MODE_RW && sizeof(void *) == 8;
  CHECK(lines == (room_to_grow ? 2 : 1));
  CHECK(mmapio_len(m.get()) == size);
  CHECK(read_map(m.get(), 0, content.size()) == content);
}

TEST_CASE("mmapio_resize: RESIZE_FAILED when mmap fails",
          "[mmapio_resize][errors][resize][linux]") {
  SysGuard guard(clear_records);
  TempDir td;
  const std::string p = td.path("f");
  const bool past_reservation = GENERATE(false, true);
  CAPTURE(past_reservation);
  const uint64_t from = 4 * kPage;
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.size = from;
  // 0: the default, which has room to grow on 64-bit only.
  o.reserve = past_reservation                 ? from
              : mmapio_test_default_headroom() ? 0
                                               : 64 * kPage;
  MapPtr m = open_ex(p, o, MMAPIO_CREATE);
  const std::string content = pattern_bytes(static_cast<size_t>(from), 32);
  REQUIRE_OK(mmapio_update(m.get(), 0, content.data(), content.size()));
  const void *base = mmapio_base(m.get());
  const void *view = nullptr;
  REQUIRE_OK(mmapio_view(m.get(), 0, content.size(), &view));

  uint64_t to = 16 * kPage;
  std::unique_ptr<GrowthBlocker> blocker;
  if (!past_reservation) {
    // The file is mapped over the whole reservation: growth inside it maps
    // nothing. Growth over pages that a shrink replaced with zeros maps
    // the file there again, and that is the mmap that fails below.
    guard.set("mmap", faking_mmap);
    REQUIRE_OK(mmapio_resize(m.get(), 2 * from, nullptr));
    CHECK(g_mmap_calls == 0);
    REQUIRE_OK(mmapio_resize(m.get(), from, nullptr));
    mmi_sys_reset();
    g_mmap_calls = 0;
  }
  if (past_reservation) {
    blocker.reset(new GrowthBlocker(base));
    if (!blocker->ok())
      MMAPIO_SKIP("could not occupy the address space after the reservation");
    to = static_cast<uint64_t>(blocker->reservation_end() -
                               reinterpret_cast<uintptr_t>(base)) +
         16 * kPage;
  }
  CAPTURE(to);

  guard.set("mmap", faking_mmap);
  g_mmap_fail_errno = ENOMEM;
  bool moved = true;
  mmapio_clear_error();
  REQUIRE_CODE(mmapio_resize(m.get(), to, &moved), MMAPIO_E_RESIZE_FAILED);
  CHECK(mmapio_last_error()->os_errno == ENOMEM);
  CHECK(g_mmap_calls >= 1);
  mmi_sys_reset();

  CHECK(moved == true);
  CHECK(mmapio_len(m.get()) == from);
  CHECK(mmapio_base(m.get()) == base);
  CHECK(file_size(p) == from);
  CHECK(std::memcmp(view, content.data(), content.size()) == 0);
  CHECK(read_map(m.get(), 0, content.size()) == content);
  char buf[1];
  CHECK_CODE(mmapio_read(m.get(), from, buf, 1), MMAPIO_E_OUT_OF_BOUNDS);

  // With the real call back, the same resize succeeds and the new bytes
  // are zero.
  bool moved2 = false;
  REQUIRE_OK(mmapio_resize(m.get(), to, &moved2));
  CHECK(moved2 == past_reservation);
  CHECK(mmapio_len(m.get()) == to);
  CHECK(file_size(p) == to);
  CHECK(read_map(m.get(), 0, content.size()) == content);
  CHECK(read_map(m.get(), from, static_cast<size_t>(kPage)) ==
        std::string(static_cast<size_t>(kPage), '\0'));
  CHECK(std::memcmp(view, content.data(), content.size()) == 0);
}

TEST_CASE("mmapio_write_file: FLUSH_FAILED when the bytes cannot be made "
          "durable",
          "[mmapio_write_file][errors][flush]") {
  SysGuard guard(clear_records);
  TempDir td;
  const std::string path = td.path("f");
  { MapPtr m = create_map(path, kPage); }
  guard.set("msync", counting_msync);
  g_msync_fail_errno = EIO;
  g_msync_fail_count = 1;
  REQUIRE_CODE(mmapio_write_file(path.c_str(), 10, "abc", 3),
               MMAPIO_E_FLUSH_FAILED);
  CHECK(mmapio_last_error()->os_errno == EIO);
  CHECK(g_msync_calls.size() == 1);
  // The bytes were written (through the shared mapping), only their
  // durability is in doubt.
  CHECK(read_bytes(path).substr(10, 3) == "abc");
}

namespace {
// 'u' per munmap or mapping over (the spare reservation a read-write
// handle leaves, mmapio_close), 'c' per close, in order.
std::string g_teardown_calls;
int recording_munmap(void *addr, size_t len) {
  g_teardown_calls += 'u';
  return ::munmap(addr, len);
}
void *recording_mmap(void *addr, size_t len, int prot, int flags, int fd,
                     off_t off) {
  if ((flags & MAP_FIXED) != 0)
    g_teardown_calls += 'u';
  return ::mmap(addr, len, prot, flags, fd, off);
}
int recording_close(int fd) {
  g_teardown_calls += 'c';
  return ::close(fd);
}
} // namespace

TEST_CASE("mmapio_close: unmaps before it closes the descriptor in every "
          "mode",
          "[mmapio_close][open]") {
  // Linux finishes a file's last reference at once when close(2) drops it,
  // but as deferred work on the way back to user space when munmap does;
  // closing last is what keeps open + close at the raw calls' cost.
  TempDir td;
  const std::string path = td.path("f");
  { MapPtr m = create_map(path, 3 * kPage); }
  for (mmapio_mode mode : {MMAPIO_MODE_RO, MMAPIO_MODE_RW, MMAPIO_MODE_COW}) {
    INFO("mode " << static_cast<int>(mode));
    SysGuard guard;
    MapPtr m = open_map(path, mode);
    guard.set("munmap", recording_munmap);
    guard.set("mmap", recording_mmap);
    guard.set("close", recording_close);
    g_teardown_calls.clear();
    m.reset();
    REQUIRE(g_teardown_calls.find('u') != std::string::npos);
    CHECK(g_teardown_calls.back() == 'c');
    CHECK(g_teardown_calls.find('u', g_teardown_calls.find('c')) ==
          std::string::npos);
  }
}
