// Background flushing seen at the system-call table: the EVERY_MILLIS
// thread's msync calls, the writeback hint's call (the entry writeback),
// sticky errors across the two levels and the flusher, the parent
// directory fsync of MMAPIO_OPT_SYNC_DIR, and a failing inotify
// subscription. Linked to the static library (mmapio_seam_tests); the
// synchronous policies' msync counts are in test_seam.cpp.
//
// Fakes that a library thread may call (the flusher) only touch atomics,
// are installed before the handle (and its thread) exists and are removed
// after it is closed (joined), so the table itself is never raced.
#include "support.hpp"
#include "support_proc.hpp"
#include "support_seam.hpp"

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace mmapio_test;

namespace {

// ------------------------------------------------------------------
// Fakes
// ------------------------------------------------------------------

// msync, callable from the flusher thread.
std::atomic<int> g_msync_calls{0};
std::atomic<int> g_msync_failures{0};
std::atomic<int> g_msync_fail_errno{0}; // 0: call through

int fake_msync(void *addr, size_t len, int flags) {
  g_msync_calls.fetch_add(1);
  const int e = g_msync_fail_errno.load();
  if (e != 0) {
    g_msync_failures.fetch_add(1);
    errno = e;
    return -1;
  }
  return ::msync(addr, len, flags);
}

// The writeback hint's call (single-threaded tests only).
struct WritebackCall {
  int fd;
  uintptr_t addr;
  uint64_t off, len;
};
std::vector<WritebackCall> g_wb_calls;
int g_wb_fail_errno = 0;

int fake_writeback(int fd, void *addr, uint64_t off, uint64_t len) {
  g_wb_calls.push_back({fd, reinterpret_cast<uintptr_t>(addr), off, len});
  if (g_wb_fail_errno != 0) {
    errno = g_wb_fail_errno;
    return -1;
  }
  return 0;
}

// fsync: records whether each fd was a directory.
std::vector<bool> g_fsync_was_dir;
int g_fsync_fail_errno = 0;

int fake_fsync(int fd) {
  struct stat st;
  g_fsync_was_dir.push_back(::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode));
  if (g_fsync_fail_errno != 0) {
    errno = g_fsync_fail_errno;
    return -1;
  }
  return ::fsync(fd);
}

int g_watch_add_errno = 0;
int fake_watch_add(int, const char *, uint32_t) {
  errno = g_watch_add_errno;
  return -1;
}

// Clears the records (SysGuard calls it on entry and on every exit path).
void clear_records() {
  g_msync_calls = 0;
  g_msync_failures = 0;
  g_msync_fail_errno = 0;
  g_wb_calls.clear();
  g_wb_fail_errno = 0;
  g_fsync_was_dir.clear();
  g_fsync_fail_errno = 0;
  g_watch_add_errno = 0;
}

// ------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------

} // namespace

// ------------------------------------------------------------------
// EVERY_MILLIS, counted at msync
// ------------------------------------------------------------------

TEST_CASE("flush policy EVERY_MILLIS: the thread calls msync after an "
          "update, and pending returns to 0",
          "[flush-policy][mmapio_update]") {
  SysGuard guard(clear_records);
  TempDir td;
  guard.set("msync", fake_msync);
  {
    MapPtr m =
        open_policy(td.path("f"), 4 * kPage, MMAPIO_FLUSH_EVERY_MILLIS, 5);
    // The update itself does not flush: the thread does, later.
    REQUIRE_OK(mmapio_update(m.get(), 100, "abc", 3));
    CHECK(poll_until(
        [&] {
          return g_msync_calls.load() >= 1 && mmapio_pending(m.get()) == 0;
        },
        5));
    CHECK(g_msync_failures.load() == 0);
  }
}

TEST_CASE("flush policy EVERY_MILLIS: writes through a raw pointer are "
          "flushed although pending stays 0",
          "[flush-policy][durability][linux]") {
  SysGuard guard(clear_records);
  TempDir td;
  const std::string p = td.path("f");
  {
    // Start from a clean file, so that only our write makes it dirty.
    MapPtr m0 = open_policy(p, 4 * kPage, MMAPIO_FLUSH_MANUAL, 0);
    REQUIRE_OK(mmapio_flush(m0.get()));
  }
  {
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    const int known = mmi_os_file_dirty(fd);
    ::close(fd);
    if (known == -1)
      MMAPIO_SKIP("the kernel cannot report dirty pages (no cachestat): the "
                  "thread flushes every period, so this proves nothing");
  }
  guard.set("msync", fake_msync);
  {
    mmapio_options o = MMAPIO_OPTIONS_INIT;
    o.flush_policy = MMAPIO_FLUSH_EVERY_MILLIS;
    o.flush_arg = 5;
    mmapio_map *raw = nullptr;
    REQUIRE_OK(mmapio_open_ex(&raw, p.c_str(), &o, MMAPIO_OPEN));
    MapPtr mm(raw);
    void *b = nullptr;
    REQUIRE_OK(mmapio_base_mut(mm.get(), &b));
    const int before = g_msync_calls.load();
    static_cast<unsigned char *>(b)[kPage + 5] = 0x5a;
    CHECK(mmapio_pending(mm.get()) == 0);
    CHECK(poll_until([&] { return g_msync_calls.load() > before; }, 5));
  }
}

TEST_CASE("flush policy EVERY_MILLIS: no msync while nothing is dirty",
          "[flush-policy][linux]") {
  SysGuard guard(clear_records);
  TempDir td;
  const std::string p = td.path("f");
  guard.set("msync", fake_msync);
  MapPtr m = open_policy(p, 4 * kPage, MMAPIO_FLUSH_EVERY_MILLIS, 5);
  if (mmi_os_file_dirty(mmapio_fd(m.get())) == -1)
    MMAPIO_SKIP("the kernel cannot report dirty pages (no cachestat): the "
                "thread flushes every period by design");
  REQUIRE_OK(mmapio_update(m.get(), 0, "x", 1));
  REQUIRE(poll_until(
      [&] {
        return g_msync_calls.load() >= 1 && mmapio_pending(m.get()) == 0 &&
               mmi_os_file_dirty(mmapio_fd(m.get())) == 0;
      },
      5));
  // Clean now: 40 more periods must pass without a call. (If the thread
  // wrongly flushed a clean file, it would do so every period.)
  const int calls = g_msync_calls.load();
  ::usleep(40 * 5 * 1000);
  CHECK(g_msync_calls.load() == calls);
  // Dirty again: it flushes again.
  REQUIRE_OK(mmapio_update(m.get(), kPage, "y", 1));
  CHECK(poll_until([&] { return g_msync_calls.load() > calls; }, 5));
}

TEST_CASE("flush policy EVERY_MILLIS: a failed background flush is sticky "
          "for later flushes and hints",
          "[flush-policy][durability]") {
  SysGuard guard(clear_records);
  TempDir td;
  const std::string p = td.path("f");
  guard.set("msync", fake_msync);
  guard.set("writeback", fake_writeback);
  g_msync_fail_errno = EIO;
  {
    MapPtr m = open_policy(p, 4 * kPage, MMAPIO_FLUSH_EVERY_MILLIS, 5);
    REQUIRE_OK(mmapio_update(m.get(), 0, "abc", 3));
    REQUIRE(poll_until([&] { return g_msync_failures.load() >= 1; }, 5));
    // The thread records the failure just after msync returns, so the
    // count above can be seen first (found under TSan: the flush below
    // then called msync and succeeded). Wait until a flush fails without
    // calling the OS: the handle has recorded it.
    REQUIRE(poll_until(
        [&] {
          const int before = g_msync_calls.load();
          return mmapio_flush(m.get()) == MMAPIO_E_FLUSH_FAILED &&
                 g_msync_calls.load() == before;
        },
        5));
    // The OS is fine again, but the handle remembers.
    g_msync_fail_errno = 0;
    const int calls = g_msync_calls.load();
    mmapio_clear_error();
    CHECK_CODE(mmapio_flush(m.get()), MMAPIO_E_FLUSH_FAILED);
    CHECK(mmapio_last_error()->os_errno == EIO);
    CHECK_CODE(mmapio_flush_range(m.get(), 0, 3), MMAPIO_E_FLUSH_FAILED);
    CHECK_CODE(mmapio_flush_hint(m.get()), MMAPIO_E_FLUSH_FAILED);
    CHECK(mmapio_last_error()->os_errno == EIO);
    CHECK_CODE(mmapio_flush_range_hint(m.get(), 0, 3), MMAPIO_E_FLUSH_FAILED);
    // Nobody called the OS for those: the error came from the handle.
    CHECK(g_msync_calls.load() == calls);
    CHECK(g_wb_calls.empty());
  }
  // A new handle on the same file starts afresh.
  MapPtr again = open_map(p, MMAPIO_MODE_RW);
  CHECK_OK(mmapio_flush(again.get()));
}

TEST_CASE("flush policy EVERY_WRITES(3): an explicit flush restarts the "
          "count",
          "[flush-policy][mmapio_update]") {
  SysGuard guard(clear_records);
  TempDir td;
  MapPtr m = open_policy(td.path("f"), 4 * kPage, MMAPIO_FLUSH_EVERY_WRITES, 3);
  guard.set("msync", fake_msync);
  REQUIRE_OK(mmapio_update(m.get(), 0, "a", 1));
  REQUIRE_OK(mmapio_update(m.get(), 1, "b", 1));
  REQUIRE_OK(mmapio_flush(m.get()));
  CHECK(g_msync_calls.load() == 1);
  // Two more updates are not three since the last flush: no msync.
  REQUIRE_OK(mmapio_update(m.get(), 2, "c", 1));
  REQUIRE_OK(mmapio_update(m.get(), 3, "d", 1));
  CHECK(g_msync_calls.load() == 1);
  REQUIRE_OK(mmapio_update(m.get(), 4, "e", 1));
  CHECK(g_msync_calls.load() == 2);
  CHECK(mmapio_pending(m.get()) == 0);
}

TEST_CASE("flush policy EVERY_BYTES: bytes debited by flush_range do not "
          "count toward the threshold",
          "[flush-policy][mmapio_update]") {
  SysGuard guard(clear_records);
  TempDir td;
  MapPtr m =
      open_policy(td.path("f"), 8 * kPage, MMAPIO_FLUSH_EVERY_BYTES, 2 * kPage);
  guard.set("msync", fake_msync);
  const std::string page = pattern_bytes(static_cast<size_t>(kPage));
  REQUIRE_OK(mmapio_update(m.get(), 0, page.data(), page.size()));
  CHECK(g_msync_calls.load() == 0);
  REQUIRE_OK(mmapio_flush_range(m.get(), 0, kPage));
  CHECK(g_msync_calls.load() == 1);
  CHECK(mmapio_pending(m.get()) == 0);
  // One page pending again: below the threshold, no flush.
  REQUIRE_OK(mmapio_update(m.get(), kPage, page.data(), page.size()));
  CHECK(g_msync_calls.load() == 1);
  // Two pages: the policy flushes the whole mapping.
  REQUIRE_OK(mmapio_update(m.get(), 2 * kPage, page.data(), page.size()));
  CHECK(g_msync_calls.load() == 2);
  CHECK(mmapio_pending(m.get()) == 0);
}

// ------------------------------------------------------------------
// The writeback hint, counted at its call
// ------------------------------------------------------------------

TEST_CASE("mmapio_flush_hint: one writeback call over the whole mapping, "
          "even with nothing pending",
          "[mmapio_flush_hint][durability]") {
  SysGuard guard(clear_records);
  TempDir td;
  MapPtr m = open_policy(td.path("f"), 3 * kPage + 10, MMAPIO_FLUSH_MANUAL, 0);
  guard.set("writeback", fake_writeback);
  guard.set("msync", fake_msync);
  void *w = nullptr;
  REQUIRE_OK(mmapio_view_mut(m.get(), 5, 1, &w));
  *static_cast<char *>(w) = 'v'; // a write the pending count never sees
  REQUIRE(mmapio_pending(m.get()) == 0);
  REQUIRE_OK(mmapio_flush_hint(m.get()));
  REQUIRE(g_wb_calls.size() == 1);
  CHECK(g_wb_calls[0].fd == mmapio_fd(m.get()));
  CHECK(g_wb_calls[0].off == 0);
  CHECK(g_wb_calls[0].len == 4 * kPage);
  CHECK(g_wb_calls[0].addr == base_addr(m.get()));
  // The hint is not the durable level: no msync(MS_SYNC).
  CHECK(g_msync_calls.load() == 0);
}

TEST_CASE("mmapio_flush_hint: leaves the pending count alone",
          "[mmapio_flush_hint][durability]") {
  SysGuard guard(clear_records);
  TempDir td;
  MapPtr m = open_policy(td.path("f"), 4 * kPage, MMAPIO_FLUSH_MANUAL, 0);
  guard.set("writeback", fake_writeback);
  REQUIRE_OK(mmapio_update(m.get(), 0, "abcd", 4));
  REQUIRE_OK(mmapio_flush_hint(m.get()));
  REQUIRE_OK(mmapio_flush_range_hint(m.get(), 0, 4));
  CHECK(mmapio_pending(m.get()) == 4);
  CHECK(g_wb_calls.size() == 2);
}

TEST_CASE("mmapio_flush_range_hint: the range is widened to pages",
          "[mmapio_flush_range_hint][durability]") {
  SysGuard guard(clear_records);
  TempDir td;
  MapPtr m = open_policy(td.path("f"), 8 * kPage, MMAPIO_FLUSH_MANUAL, 0);
  guard.set("writeback", fake_writeback);
  struct Case {
    uint64_t off, len, start, end;
  };
  const Case cases[] = {
      {kPage + 100, 10, kPage, 2 * kPage},
      {kPage - 1, 2, 0, 2 * kPage},
      {3 * kPage, kPage, 3 * kPage, 4 * kPage},
      {8 * kPage - 1, 1, 7 * kPage, 8 * kPage},
  };
  for (const auto &c : cases) {
    CAPTURE(c.off, c.len);
    g_wb_calls.clear();
    REQUIRE_OK(mmapio_flush_range_hint(m.get(), c.off, c.len));
    REQUIRE(g_wb_calls.size() == 1);
    CHECK(g_wb_calls[0].off == c.start);
    CHECK(g_wb_calls[0].len == c.end - c.start);
    CHECK(g_wb_calls[0].addr == base_addr(m.get()) + c.start);
  }
  // len 0 is a no-op.
  g_wb_calls.clear();
  REQUIRE_OK(mmapio_flush_range_hint(m.get(), 3, 0));
  CHECK(g_wb_calls.empty());
}

TEST_CASE("mmapio_flush_hint: RO and COW mappings make no call",
          "[mmapio_flush_hint][durability]") {
  SysGuard guard(clear_records);
  TempDir td;
  const std::string p =
      make_file(td, "f", pattern_bytes(2 * static_cast<size_t>(kPage)));
  const mmapio_mode mode = GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_COW);
  CAPTURE(mode);
  MapPtr m = open_map(p, mode);
  guard.set("writeback", fake_writeback);
  CHECK_OK(mmapio_flush_hint(m.get()));
  CHECK_OK(mmapio_flush_range_hint(m.get(), 0, 10));
  CHECK(g_wb_calls.empty());
}

TEST_CASE("mmapio_flush_hint: FLUSH_FAILED when the OS refuses to start "
          "writeback",
          "[mmapio_flush_hint][errors][durability]") {
  SysGuard guard(clear_records);
  TempDir td;
  MapPtr m = open_policy(td.path("f"), 4 * kPage, MMAPIO_FLUSH_MANUAL, 0);
  guard.set("writeback", fake_writeback);
  g_wb_fail_errno = EIO;
  mmapio_clear_error();
  CHECK_CODE(mmapio_flush_hint(m.get()), MMAPIO_E_FLUSH_FAILED);
  const mmapio_error *e = mmapio_last_error();
  CHECK(e->code == MMAPIO_E_FLUSH_FAILED);
  CHECK(e->os_errno == EIO);
  REQUIRE(e->syscall != nullptr);
  CHECK(std::string(e->syscall) == mmi_os_writeback_call());
}

TEST_CASE("mmapio_flush_range_hint: FLUSH_FAILED when the OS refuses to "
          "start writeback",
          "[mmapio_flush_range_hint][errors][durability]") {
  SysGuard guard(clear_records);
  TempDir td;
  MapPtr m = open_policy(td.path("f"), 4 * kPage, MMAPIO_FLUSH_MANUAL, 0);
  guard.set("writeback", fake_writeback);
  g_wb_fail_errno = ENOSPC;
  CHECK_CODE(mmapio_flush_range_hint(m.get(), kPage, 10),
             MMAPIO_E_FLUSH_FAILED);
  CHECK(mmapio_last_error()->os_errno == ENOSPC);
}

TEST_CASE("mmapio_flush_hint: FLUSH_FAILED when an earlier flush failed "
          "(sticky)",
          "[mmapio_flush_hint][errors][durability]") {
  SysGuard guard(clear_records);
  TempDir td;
  const std::string p = td.path("f");
  MapPtr m = open_policy(p, 4 * kPage, MMAPIO_FLUSH_MANUAL, 0);
  guard.set("writeback", fake_writeback);
  guard.set("msync", fake_msync);
  g_msync_fail_errno = EIO;
  REQUIRE_CODE(mmapio_flush(m.get()), MMAPIO_E_FLUSH_FAILED);
  g_msync_fail_errno = 0;
  // The durable level failed: the hint fails without asking the OS.
  CHECK_CODE(mmapio_flush_hint(m.get()), MMAPIO_E_FLUSH_FAILED);
  CHECK(mmapio_last_error()->os_errno == EIO);
  CHECK(g_wb_calls.empty());
  // Reopening starts afresh.
  m.reset();
  MapPtr again = open_map(p, MMAPIO_MODE_RW);
  CHECK_OK(mmapio_flush_hint(again.get()));
  CHECK(g_wb_calls.size() == 1);
}

TEST_CASE("mmapio_flush_range_hint: FLUSH_FAILED when an earlier flush "
          "failed (sticky)",
          "[mmapio_flush_range_hint][errors][durability]") {
  SysGuard guard(clear_records);
  TempDir td;
  MapPtr m = open_policy(td.path("f"), 4 * kPage, MMAPIO_FLUSH_MANUAL, 0);
  guard.set("writeback", fake_writeback);
  guard.set("msync", fake_msync);
  g_msync_fail_errno = EIO;
  REQUIRE_CODE(mmapio_flush_range(m.get(), 0, 1), MMAPIO_E_FLUSH_FAILED);
  g_msync_fail_errno = 0;
  CHECK_CODE(mmapio_flush_range_hint(m.get(), 0, 1), MMAPIO_E_FLUSH_FAILED);
  CHECK(mmapio_last_error()->os_errno == EIO);
  CHECK(g_wb_calls.empty());
}

TEST_CASE("mmapio_flush_hint: a failed hint is sticky for the durable "
          "level too",
          "[mmapio_flush_hint][durability]") {
  SysGuard guard(clear_records);
  TempDir td;
  MapPtr m = open_policy(td.path("f"), 4 * kPage, MMAPIO_FLUSH_MANUAL, 0);
  guard.set("writeback", fake_writeback);
  guard.set("msync", fake_msync);
  g_wb_fail_errno = EIO;
  REQUIRE_CODE(mmapio_flush_hint(m.get()), MMAPIO_E_FLUSH_FAILED);
  g_wb_fail_errno = 0;
  CHECK_CODE(mmapio_flush(m.get()), MMAPIO_E_FLUSH_FAILED);
  CHECK(mmapio_last_error()->os_errno == EIO);
  CHECK_CODE(mmapio_flush_hint(m.get()), MMAPIO_E_FLUSH_FAILED);
  CHECK(g_msync_calls.load() == 0);
  CHECK(g_wb_calls.size() == 1);
}

// ------------------------------------------------------------------
// MMAPIO_OPT_SYNC_DIR, counted at fsync
// ------------------------------------------------------------------

TEST_CASE("MMAPIO_OPT_SYNC_DIR: creating fsyncs the parent directory once",
          "[mmapio_open_ex][durability]") {
  SysGuard guard(clear_records);
  TempDir td;
  guard.set("fsync", fake_fsync);
  const mmapio_disposition how = GENERATE(MMAPIO_CREATE, MMAPIO_OPEN_OR_CREATE);
  CAPTURE(how);
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.size = 2 * kPage;
  o.flags = MMAPIO_OPT_SYNC_DIR;
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_open_ex(&m, td.path("f").c_str(), &o, how));
  mmapio_close(m);
  REQUIRE(g_fsync_was_dir.size() == 1);
  CHECK(g_fsync_was_dir[0]);
}

TEST_CASE("MMAPIO_OPT_SYNC_DIR: no directory fsync without the flag, or "
          "when OPEN_OR_CREATE opens an existing file",
          "[mmapio_open_ex][durability]") {
  SysGuard guard(clear_records);
  TempDir td;
  const std::string p = td.path("f");
  guard.set("fsync", fake_fsync);
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.size = 2 * kPage;
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_open_ex(&m, p.c_str(), &o, MMAPIO_CREATE));
  mmapio_close(m);
  CHECK(g_fsync_was_dir.empty());
  o.flags = MMAPIO_OPT_SYNC_DIR;
  REQUIRE_OK(mmapio_open_ex(&m, p.c_str(), &o, MMAPIO_OPEN_OR_CREATE));
  mmapio_close(m);
  CHECK(g_fsync_was_dir.empty());
}

// ------------------------------------------------------------------
// Watching: a subscription the kernel refuses
// ------------------------------------------------------------------

namespace {} // namespace

TEST_CASE("mmapio_watch_start: WATCH_FAILED when the watch limit is "
          "reached",
          "[mmapio_watch_start][errors][watch][linux]") {
  MMAPIO_REQUIRE_CAP(MMAPIO_CAP_WATCH);
  SysGuard guard(clear_records);
  TempDir td;
  MapPtr m = open_policy(td.path("f"), kPage, MMAPIO_FLUSH_MANUAL, 0);
  guard.set("inotify_add_watch", fake_watch_add);
  g_watch_add_errno = ENOSPC; // what inotify says at max_user_watches
  const size_t fds = count_dir("/proc/self/fd");
  const size_t threads = count_dir("/proc/self/task");
  mmapio_watch *w = nullptr;
  const int rc = mmapio_watch_start(&w, m.get(), ignore_event, nullptr);
  CHECK_CODE(rc, MMAPIO_E_WATCH_FAILED);
  CHECK(w == nullptr);
  const mmapio_error *e = mmapio_last_error();
  CHECK(e->os_errno == ENOSPC);
  REQUIRE(e->syscall != nullptr);
  CHECK(std::string(e->syscall) == "inotify_add_watch");
  CHECK(count_dir("/proc/self/fd") == fds);
  CHECK(count_dir("/proc/self/task") == threads);
  // Nothing holds the handle: it can be unmapped.
  int fd = -1;
  CHECK_OK(mmapio_unmap(m.release(), &fd));
  ::close(fd);
}
