// Locking pages in memory: mmapio_lock, mmapio_unlock, mmapio_lock_all,
// mmapio_unlock_all, on every backing; the failure when RLIMIT_MEMLOCK
// and the lack of privilege stop it.
#include "support_memory.hpp"

#include <grp.h>
#include <sys/mman.h>
#include <sys/syscall.h>

using namespace mmapio_test;

namespace {

// Bytes of [p, p+len) that smaps counts as locked.
long long locked_bytes(const mmapio_map *m, uint64_t len) {
  return smaps_field(mmapio_base(m), len, "Locked");
}

// For a forked child only: makes every later mlock fail. RLIMIT_MEMLOCK
// is set to limit_bytes, and a root process gives up its privilege
// (CAP_IPC_LOCK bypasses the limit) by becoming nobody. Returns 0 when a
// raw mlock of one page now fails, else a reason code for the parent.
int forbid_mlock(rlim_t limit_bytes) {
  struct rlimit rl;
  rl.rlim_cur = rl.rlim_max = limit_bytes;
  if (::setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
    return 1;
  if (::geteuid() == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 ||
        ::setuid(65534) != 0)
      return 2;
  }
  // The check goes to the kernel directly: sanitizer runtimes turn the
  // libc mlock into a no-op.
  void *p = ::mmap(nullptr, 4 * kPage, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return 3;
  const long r = ::syscall(SYS_mlock, p, 4 * kPage);
  ::munmap(p, 4 * kPage);
  return r == 0 ? 4 : 0;
}

const char *forbid_reason(int why) {
  switch (why) {
  case 1:
    return "setrlimit(RLIMIT_MEMLOCK) failed";
  case 2:
    return "could not drop root privileges (setuid nobody)";
  case 3:
    return "mmap failed";
  default:
    return "mlock still succeeds with RLIMIT_MEMLOCK lowered and "
           "privileges dropped";
  }
}

// Runs lock_fn(m) in a child that may not lock more than limit bytes and
// checks that it fails with LOCK_FAILED and a limit/privilege errno.
template <class LockFn>
void expect_lock_refused(mmapio_map *m, rlim_t limit, LockFn lock_fn) {
  ChildOutcome r = run_in_child([&](int &extra) -> int {
    extra = forbid_mlock(limit);
    if (extra != 0)
      return 0;
    return lock_fn(m);
  });
  INFO(r.describe());
  REQUIRE(r.reported);
  if (r.extra != 0)
    MMAPIO_SKIP("cannot make mlock fail here: " << forbid_reason(r.extra));
  CHECK(r.rc == MMAPIO_E_LOCK_FAILED);
  CHECK(r.code == MMAPIO_E_LOCK_FAILED);
  CHECK((r.os_errno == EPERM || r.os_errno == ENOMEM || r.os_errno == EAGAIN));
  CHECK(std::string(r.syscall) == "mlock");
}

} // namespace

// ------------------------------------------------------------------
// mmapio_lock
// ------------------------------------------------------------------

TEST_CASE("mmapio_lock: INVALID_ARGUMENT when m is NULL",
          "[mmapio_lock][errors][lock]") {
  REQUIRE_CODE(mmapio_lock(nullptr, 0, 1), MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_lock: OUT_OF_BOUNDS when the range leaves the mapping",
          "[mmapio_lock][errors][lock][linux]") {
  TempDir dir;
  Made mk = make_backing(dir, Backing::RW, 2 * kPage);
  CHECK_CODE(mmapio_lock(mk.map.get(), 0, 2 * kPage + 1),
             MMAPIO_E_OUT_OF_BOUNDS);
  CHECK_CODE(mmapio_lock(mk.map.get(), kPage, UINT64_MAX),
             MMAPIO_E_OUT_OF_BOUNDS);
  CHECK(locked_bytes(mk.map.get(), 2 * kPage) == 0);
}

TEST_CASE("mmapio_lock: LOCK_FAILED when RLIMIT_MEMLOCK and privilege stop "
          "it",
          "[mmapio_lock][errors][lock]") {
  TempDir dir;
  const Backing b = GENERATE(Backing::RW, Backing::Anon);
  // 0: unprivileged with no allowance (EPERM); 1 page: over the limit
  // (ENOMEM).
  const rlim_t limit = GENERATE(rlim_t(0), rlim_t(4096));
  INFO(backing_name(b) << ", RLIMIT_MEMLOCK " << limit);
  Made mk = make_backing(dir, b, 64 * kPage);
  expect_lock_refused(mk.map.get(), limit, [](mmapio_map *m) {
    return mmapio_lock(m, 10, 32 * kPage);
  });
}

TEST_CASE("mmapio_lock: locks the widened range and faults it in",
          "[mmapio_lock][lock][linux]") {
  if (!pagemap_blocker().empty())
    MMAPIO_SKIP(pagemap_blocker());
  TempDir dir;
  const Backing b =
      GENERATE(Backing::RW, Backing::RO, Backing::COW, Backing::Anon);
  INFO(backing_name(b));
  Made mk = make_backing(dir, b, 32 * kPage);
  mmapio_map *m = mk.map.get();
  const unsigned char *base =
      static_cast<const unsigned char *>(mmapio_base(m));
  // [2 kPage + 1, 5 kPage + 1) widens to pages 2..5.
  REQUIRE_OK(mmapio_lock(m, 2 * kPage + 1, 3 * kPage));
  CHECK(locked_bytes(m, 32 * kPage) == static_cast<long long>(4 * kPage));
  CHECK(smaps_field(base + 2 * kPage, 4 * kPage, "Locked") ==
        static_cast<long long>(4 * kPage));
  CHECK(present_pages(base + 2 * kPage, 4 * kPage) == 4);
  // Locking again is not an error and locks nothing twice.
  REQUIRE_OK(mmapio_lock(m, 2 * kPage, 4 * kPage));
  CHECK(locked_bytes(m, 32 * kPage) == static_cast<long long>(4 * kPage));
  // The bytes are unchanged.
  std::string got(32 * kPage, '\0');
  REQUIRE_OK(mmapio_read(m, 0, &got[0], got.size()));
  CHECK(got == pattern_bytes(32 * kPage, 7));
  REQUIRE_OK(mmapio_unlock(m, 0, 32 * kPage));
  CHECK(locked_bytes(m, 32 * kPage) == 0);
}

TEST_CASE("mmapio_lock: len 0 locks nothing", "[mmapio_lock][lock][linux]") {
  TempDir dir;
  Made mk = make_backing(dir, Backing::Anon, 4 * kPage);
  REQUIRE_OK(mmapio_lock(mk.map.get(), kPage, 0));
  CHECK(locked_bytes(mk.map.get(), 4 * kPage) == 0);
}

TEST_CASE("mmapio_lock: a shrink releases the cut pages, close the rest",
          "[mmapio_lock][lock][resize][linux]") {
  if (!pagemap_blocker().empty())
    MMAPIO_SKIP(pagemap_blocker());
  TempDir dir;
  Made mk = make_backing(dir, Backing::RW, 16 * kPage);
  mmapio_map *m = mk.map.get();
  REQUIRE_OK(mmapio_lock_all(m));
  REQUIRE(locked_bytes(m, 16 * kPage) == static_cast<long long>(16 * kPage));
  REQUIRE_OK(mmapio_resize(m, 4 * kPage, nullptr));
  // Truncating the file may have split a large page-cache folio and so
  // unmapped the kept pages too; they stay locked and lock again as they
  // are faulted back in.
  REQUIRE_OK(mmapio_touch_pages(m));
  CHECK(locked_bytes(m, 16 * kPage) == static_cast<long long>(4 * kPage));
  // Growth adds unlocked pages.
  REQUIRE_OK(mmapio_resize(m, 8 * kPage, nullptr));
  REQUIRE_OK(mmapio_touch_pages(m));
  CHECK(locked_bytes(m, 8 * kPage) == static_cast<long long>(4 * kPage));
  CHECK(present_pages(mmapio_base(m), 8 * kPage) == 8);
}

// ------------------------------------------------------------------
// mmapio_unlock
// ------------------------------------------------------------------

TEST_CASE("mmapio_unlock: INVALID_ARGUMENT when m is NULL",
          "[mmapio_unlock][errors][lock]") {
  REQUIRE_CODE(mmapio_unlock(nullptr, 0, 1), MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_unlock: OUT_OF_BOUNDS when the range leaves the mapping",
          "[mmapio_unlock][errors][lock][linux]") {
  TempDir dir;
  Made mk = make_backing(dir, Backing::Anon, 2 * kPage);
  REQUIRE_OK(mmapio_lock_all(mk.map.get()));
  CHECK_CODE(mmapio_unlock(mk.map.get(), 1, 2 * kPage), MMAPIO_E_OUT_OF_BOUNDS);
  CHECK(locked_bytes(mk.map.get(), 2 * kPage) ==
        static_cast<long long>(2 * kPage));
}

// MMAPIO_E_UNLOCK_FAILED (munlock failing) of mmapio_unlock and
// mmapio_unlock_all is tested through the seam: test_seam_memory.cpp.

TEST_CASE("mmapio_unlock: unlocks part of a locked range",
          "[mmapio_unlock][lock][linux]") {
  TempDir dir;
  const Backing b = GENERATE(Backing::RW, Backing::Anon);
  INFO(backing_name(b));
  Made mk = make_backing(dir, b, 8 * kPage);
  mmapio_map *m = mk.map.get();
  REQUIRE_OK(mmapio_lock_all(m));
  REQUIRE_OK(mmapio_unlock(m, kPage + 3, 1)); // page 1
  CHECK(locked_bytes(m, 8 * kPage) == static_cast<long long>(7 * kPage));
  // Unlocking pages that are not locked is not an error.
  CHECK_OK(mmapio_unlock(m, kPage, kPage));
  CHECK_OK(mmapio_unlock_all(m));
  CHECK(locked_bytes(m, 8 * kPage) == 0);
}

// ------------------------------------------------------------------
// mmapio_lock_all / mmapio_unlock_all
// ------------------------------------------------------------------

TEST_CASE("mmapio_lock_all: INVALID_ARGUMENT when m is NULL",
          "[mmapio_lock_all][errors][lock]") {
  REQUIRE_CODE(mmapio_lock_all(nullptr), MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_lock_all: LOCK_FAILED when RLIMIT_MEMLOCK and privilege "
          "stop it",
          "[mmapio_lock_all][errors][lock]") {
  TempDir dir;
  const rlim_t limit = GENERATE(rlim_t(0), rlim_t(4096));
  INFO("RLIMIT_MEMLOCK " << limit);
  Made mk = make_backing(dir, Backing::COW, 16 * kPage);
  expect_lock_refused(mk.map.get(), limit,
                      [](mmapio_map *m) { return mmapio_lock_all(m); });
}

TEST_CASE("mmapio_lock_all: locks every page of the mapping",
          "[mmapio_lock_all][lock][linux]") {
  if (!pagemap_blocker().empty())
    MMAPIO_SKIP(pagemap_blocker());
  TempDir dir;
  const Backing b =
      GENERATE(Backing::RW, Backing::RO, Backing::COW, Backing::Anon);
  INFO(backing_name(b));
  Made mk = make_backing(dir, b, 10 * kPage + 1);
  mmapio_map *m = mk.map.get();
  REQUIRE_OK(mmapio_lock_all(m));
  CHECK(locked_bytes(m, 11 * kPage) == static_cast<long long>(11 * kPage));
  CHECK(present_pages(mmapio_base(m), 11 * kPage) == 11);
  REQUIRE_OK(mmapio_unlock_all(m));
  CHECK(locked_bytes(m, 11 * kPage) == 0);
}

TEST_CASE("mmapio_unlock_all: INVALID_ARGUMENT when m is NULL",
          "[mmapio_unlock_all][errors][lock]") {
  REQUIRE_CODE(mmapio_unlock_all(nullptr), MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_unlock_all: a mapping never locked is fine",
          "[mmapio_unlock_all][lock][linux]") {
  TempDir dir;
  Made mk = make_backing(dir, Backing::RO, 3 * kPage);
  CHECK_OK(mmapio_unlock_all(mk.map.get()));
  CHECK(locked_bytes(mk.map.get(), 3 * kPage) == 0);
}
