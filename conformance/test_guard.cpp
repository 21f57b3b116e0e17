// The fault guard (SPEC section 10): a file truncated under a mapping
// makes guarded copies return MMAPIO_E_FAULT instead of killing the
// process with SIGBUS. Every case runs in a re-executed child, so the
// test process's own SIGBUS handling is never changed.
#include "support.hpp"
#include "support_proc.hpp"

#include <csignal>
#include <poll.h>
#include <vector>

using namespace mmapio_test;

namespace {

// Maps path (3 pages), then truncates the file to one page through
// another descriptor, as a peer process would.
mmapio_map *map_then_truncate(const char *path) {
  mmapio_map *m = nullptr;
  if (mmapio_create(&m, path, 3 * kPage) != 0)
    return nullptr;
  int fd = ::open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0 || ::ftruncate(fd, kPage) != 0) {
    mmapio_close(m);
    return nullptr;
  }
  ::close(fd);
  return m;
}

bool sigbus_blocked() {
  sigset_t now;
  sigprocmask(SIG_SETMASK, nullptr, &now);
  return sigismember(&now, SIGBUS) == 1;
}

volatile sig_atomic_t own_handler_ran = 0;
void own_handler(int) { own_handler_ran = 1; }

} // namespace

MMAPIO_CHILD(guard_copy_faults) {
  mmapio_map *m = map_then_truncate(argv[0]);
  if (m == nullptr || mmapio_set_guard(m, true) != 0)
    return 10;
  std::vector<unsigned char> buf(2 * kPage, 1);
  if (mmapio_read(m, kPage, buf.data(), kPage) != MMAPIO_E_FAULT)
    return 11;
  if (mmapio_last_error()->code != MMAPIO_E_FAULT)
    return 12;
  if (mmapio_update(m, 2 * kPage, buf.data(), 16) != MMAPIO_E_FAULT)
    return 13;
  if (mmapio_pending(m) != 0)
    return 14;
  if (sigbus_blocked())
    return 15; // the mask must be as it was
  // Bytes still inside the file are unaffected.
  if (mmapio_read(m, 0, buf.data(), kPage) != 0)
    return 16;
  // A second fault on the same thread works the same way.
  if (mmapio_read(m, 2 * kPage, buf.data(), 8) != MMAPIO_E_FAULT)
    return 17;
  // Once the file is long again, the same range reads fine (zeros).
  int fd = ::open(argv[0], O_RDWR | O_CLOEXEC);
  if (fd < 0 || ::ftruncate(fd, 3 * kPage) != 0)
    return 18;
  ::close(fd);
  if (mmapio_read(m, kPage, buf.data(), kPage) != 0 || buf[0] != 0)
    return 19;
  mmapio_close(m);
  return 0;
}

MMAPIO_CHILD(guard_off_dies) {
  mmapio_map *m = map_then_truncate(argv[0]);
  if (m == nullptr)
    return 10;
  if (std::string(argv[1]) == "on-then-off" &&
      (mmapio_set_guard(m, true) != 0 || mmapio_set_guard(m, false) != 0))
    return 11;
  ::signal(SIGBUS, SIG_DFL);
  unsigned char b[8];
  mmapio_read(m, kPage, b, sizeof b); // SIGBUS kills us here
  return 0;
}

MMAPIO_CHILD(guard_chains) {
  ::signal(SIGBUS, own_handler);
  mmapio_map *m = map_then_truncate(argv[0]);
  if (m == nullptr || mmapio_set_guard(m, true) != 0)
    return 10;
  ::raise(SIGBUS); // not inside a guarded copy: goes to own_handler
  if (!own_handler_ran)
    return 11;
  unsigned char b[8];
  if (mmapio_read(m, kPage, b, sizeof b) != MMAPIO_E_FAULT)
    return 12;
  mmapio_close(m);
  return 0;
}

MMAPIO_CHILD(guard_default_action) {
  ::signal(SIGBUS, SIG_DFL);
  mmapio_map *m = map_then_truncate(argv[0]);
  if (m == nullptr || mmapio_set_guard(m, true) != 0)
    return 10;
  // A SIGBUS outside any guarded copy keeps its default action.
  const void *v = nullptr;
  if (mmapio_view(m, 2 * kPage, 1, &v) != 0)
    return 11;
  return *static_cast<const volatile unsigned char *>(v) + 20;
}

// The copy paths other than read and update, each on its own mapping
// (argv[0] is a directory): a truncated file makes each return FAULT
// with its output untouched and its position unchanged.
MMAPIO_CHILD(guard_copies_fault) {
  const std::string dir = argv[0];
  const std::string which = argv[1];
  mmapio_map *m = map_then_truncate((dir + "/f").c_str());
  if (m == nullptr || mmapio_set_guard(m, true) != 0)
    return 10;
  std::vector<unsigned char> buf(2 * kPage, 1);
  int rc = 0;
  if (which == "cursor") {
    mmapio_cursor *c = nullptr;
    size_t n = 12345;
    if (mmapio_cursor_open(&c, m) != 0 ||
        mmapio_cursor_set_position(c, kPage) != 0)
      return 11;
    rc = mmapio_cursor_read(c, buf.data(), kPage, &n);
    if (n != 12345 || mmapio_cursor_position(c) != kPage)
      return 12;
    mmapio_cursor_close(c);
  } else if (which == "chunks") {
    mmapio_chunks it;
    mmapio_owned_chunk oc = {nullptr, 7, 7};
    if (mmapio_chunks_begin(&it, m, kPage) != 0 ||
        mmapio_chunks_next_owned(&it, &oc) != 0)
      return 11;
    std::free(oc.data);
    oc = {nullptr, 7, 7};
    rc = mmapio_chunks_next_owned(&it, &oc);
    // Untouched, and the walk has not advanced: it faults again.
    if (oc.data != nullptr || oc.len != 7 || oc.off != 7 ||
        mmapio_chunks_next_owned(&it, &oc) != rc)
      return 12;
    mmapio_chunks_end(&it);
  } else if (which == "bytes") {
    void *out = &buf;
    rc = mmapio_read_bytes(m, kPage, 16, &out);
    if (out != &buf)
      return 12;
  } else if (which == "segment") {
    mmapio_segment *s = nullptr;
    if (mmapio_segment_create(&s, m, kPage, 2 * kPage, 0) != 0)
      return 11;
    rc = mmapio_segment_write(s, 0, buf.data(), 16);
    mmapio_segment_release(s);
    if (mmapio_pending(m) != 0)
      return 12;
  } else if (which == "async") {
    // The update runs on a worker thread; its completion has the code.
    mmapio_async_pool *pool = nullptr;
    if (mmapio_async_pool_create(&pool, 1) != 0 ||
        mmapio_async_update(pool, m, kPage, buf.data(), 16, nullptr, nullptr) !=
            0)
      return 11;
    mmapio_completion c;
    size_t got = 0;
    while (got == 0) {
      struct pollfd pfd = {mmapio_async_pool_fd(pool), POLLIN, 0};
      if (::poll(&pfd, 1, -1) < 0 || mmapio_async_reap(pool, &c, 1, &got) != 0)
        return 12;
    }
    mmapio_async_pool_destroy(pool);
    if (c.op != MMAPIO_ASYNC_UPDATE || c.error.code != c.status)
      return 12;
    rc = c.status;
  } else {
    return 13;
  }
  if (rc != MMAPIO_E_FAULT ||
      (which != "async" && mmapio_last_error()->code != MMAPIO_E_FAULT))
    return 14;
  if (sigbus_blocked())
    return 15;
  mmapio_close(m);
  return 0;
}

// A FILE * over a guarded mapping: fread and fwrite (at fflush) past the
// file's new end fail with EFAULT; the stream is still usable before it.
MMAPIO_CHILD(guard_stream_faults) {
  mmapio_map *m = map_then_truncate(argv[0]);
  if (m == nullptr || mmapio_set_guard(m, true) != 0)
    return 10;
  FILE *f = nullptr;
  const int rc = mmapio_fopen(&f, m, "r+");
  if (rc == MMAPIO_E_UNSUPPORTED)
    return 77;
  if (rc != 0)
    return 11;
  std::setvbuf(f, nullptr, _IONBF, 0);
  unsigned char buf[64] = {0};
  if (std::fread(buf, 1, sizeof buf, f) != sizeof buf)
    return 12; // the first page is still in the file
  if (std::fseek(f, static_cast<long>(kPage), SEEK_SET) != 0)
    return 13;
  errno = 0;
  if (std::fread(buf, 1, sizeof buf, f) != 0 || !std::ferror(f) ||
      errno != EFAULT)
    return 14;
  std::clearerr(f);
  if (std::fseek(f, static_cast<long>(2 * kPage), SEEK_SET) != 0)
    return 15;
  errno = 0;
  if (std::fwrite(buf, 1, 16, f) == 16 || errno != EFAULT)
    return 16;
  if (mmapio_pending(m) != 0)
    return 17;
  std::fclose(f);
  mmapio_close(m);
  return 0;
}

// The application installs its own SIGBUS handler after the guard's: a
// later mmapio_set_guard(m, true) must say that the guard cannot work.
MMAPIO_CHILD(guard_handler_replaced) {
  mmapio_map *m = map_then_truncate(argv[0]);
  if (m == nullptr || mmapio_set_guard(m, true) != 0)
    return 10;
  ::signal(SIGBUS, own_handler);
  if (mmapio_set_guard(m, true) != MMAPIO_E_BUSY ||
      mmapio_last_error()->code != MMAPIO_E_BUSY)
    return 11;
  // Turning it off always works.
  if (mmapio_set_guard(m, false) != 0)
    return 12;
  if (mmapio_set_guard(m, true) != MMAPIO_E_BUSY)
    return 13;
  mmapio_close(m);
  return 0;
}

TEST_CASE("mmapio_read: FAULT when the file was truncated under a guarded "
          "copy",
          "[mmapio_read][mmapio_update][mmapio_set_guard][errors][fault]") {
  if (!sigbus_address_blocker().empty())
    MMAPIO_SKIP(sigbus_address_blocker());
  TempDir t;
  int st = run_child("guard_copy_faults", {t.path("f.bin")});
  INFO("child status " << st
                       << " (10 setup, 11-13 wrong code, 14 pending, 15 "
                          "mask, 16-19 recovery)");
  REQUIRE(st == 0);
}

TEST_CASE("mmapio_update: FAULT when the file was truncated under a guarded "
          "copy",
          "[mmapio_update][errors][fault]") {
  if (!sigbus_address_blocker().empty())
    MMAPIO_SKIP(sigbus_address_blocker());
  // Covered by the same child as mmapio_read (code 13 there); run it again
  // so the error has its own named test.
  TempDir t;
  REQUIRE(run_child("guard_copy_faults", {t.path("f.bin")}) == 0);
}

TEST_CASE("guard: without it, a truncated file kills the reader with SIGBUS",
          "[mmapio_set_guard][fault]") {
  TempDir t;
  auto how = GENERATE(std::string("never-on"), std::string("on-then-off"));
  INFO(how);
  CHECK(run_child("guard_off_dies", {t.path("f.bin"), how}) == -SIGBUS);
}

TEST_CASE("guard: a SIGBUS outside guarded copies goes to the previous "
          "handler, or gets the default action",
          "[mmapio_set_guard][fault]") {
  if (!sigbus_address_blocker().empty())
    MMAPIO_SKIP(sigbus_address_blocker());
  TempDir t;
  CHECK(run_child("guard_chains", {t.path("f.bin")}) == 0);
  CHECK(run_child("guard_default_action", {t.path("g.bin")}) == -SIGBUS);
}

TEST_CASE("mmapio_set_guard: INVALID_ARGUMENT when m is NULL",
          "[mmapio_set_guard][errors][fault]") {
  REQUIRE_CODE(mmapio_set_guard(nullptr, true), MMAPIO_E_INVALID_ARGUMENT);
  REQUIRE_CODE(mmapio_set_guard(nullptr, false), MMAPIO_E_INVALID_ARGUMENT);
}

namespace {
// Runs guard_copies_fault for one copy path; it must exit 0.
void require_copy_faults(const char *which) {
  if (!sigbus_address_blocker().empty())
    MMAPIO_SKIP(sigbus_address_blocker());
  TempDir t;
  const int st = run_child("guard_copies_fault", {t.dir(), which});
  INFO(which << ": child status " << st
             << " (10-12 setup or output touched, position moved, walk "
                "advanced, pending counted; 14 wrong code; 15 signal mask; "
                "-7 killed by SIGBUS)");
  REQUIRE(st == 0);
}
} // namespace

TEST_CASE("mmapio_cursor_read: FAULT when the file was truncated under a "
          "guarded copy",
          "[mmapio_cursor_read][errors][fault]") {
  require_copy_faults("cursor");
}

TEST_CASE("mmapio_chunks_next_owned: FAULT when the file was truncated under "
          "a guarded copy",
          "[mmapio_chunks_next_owned][errors][fault]") {
  require_copy_faults("chunks");
}

TEST_CASE("mmapio_read_bytes: FAULT when the file was truncated under a "
          "guarded copy",
          "[mmapio_read_bytes][errors][fault]") {
  require_copy_faults("bytes");
}

TEST_CASE("mmapio_segment_write: FAULT when the file was truncated under a "
          "guarded copy",
          "[mmapio_segment_write][errors][fault]") {
  require_copy_faults("segment");
}

TEST_CASE("mmapio_async_update: the completion has FAULT when the file was "
          "truncated under a guarded copy",
          "[mmapio_async_update][async][fault]") {
  require_copy_faults("async");
}

TEST_CASE("mmapio_fopen: with the guard on, fread and fwrite fail with "
          "EFAULT where the file was truncated",
          "[mmapio_fopen][fault][linux]") {
  if (!sigbus_address_blocker().empty())
    MMAPIO_SKIP(sigbus_address_blocker());
  MMAPIO_REQUIRE_CAP(MMAPIO_CAP_STREAMS);
  TempDir t;
  const int st = run_child("guard_stream_faults", {t.path("f.bin")});
  INFO("child status " << st
                       << " (10-13 setup, 14 fread, 15-16 fwrite, 17 "
                          "pending; -7: SIGBUS)");
  REQUIRE(st == 0);
}

TEST_CASE("mmapio_set_guard: BUSY when another SIGBUS handler replaced the "
          "guard's",
          "[mmapio_set_guard][errors][fault]") {
  TempDir t;
  const int st = run_child("guard_handler_replaced", {t.path("f.bin")});
  INFO("child status " << st
                       << " (10 setup, 11 and 13 not BUSY, 12 turning off "
                          "failed)");
  REQUIRE(st == 0);
}
