// The fault guard (SPEC section 10): a file truncated under a mapping
// makes guarded copies return MMAPIO_E_FAULT instead of killing the
// process with SIGBUS. Every case runs in a re-executed child, so the
// test process's own SIGBUS handling is never changed.
#include "support.hpp"
#include "support_proc.hpp"

#include <csignal>
#include <vector>

using mmapio_test::run_child;

namespace {

constexpr uint64_t kPage = 4096;

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

TEST_CASE("mmapio_read: FAULT when the file was truncated under a guarded "
          "copy",
          "[mmapio_read][mmapio_update][mmapio_set_guard][errors][fault]") {
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
  TempDir t;
  CHECK(run_child("guard_chains", {t.path("f.bin")}) == 0);
  CHECK(run_child("guard_default_action", {t.path("g.bin")}) == -SIGBUS);
}

TEST_CASE("mmapio_set_guard: INVALID_ARGUMENT when m is NULL",
          "[mmapio_set_guard][errors][fault]") {
  REQUIRE_CODE(mmapio_set_guard(nullptr, true), MMAPIO_E_INVALID_ARGUMENT);
  REQUIRE_CODE(mmapio_set_guard(nullptr, false), MMAPIO_E_INVALID_ARGUMENT);
}
