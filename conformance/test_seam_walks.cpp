// Walk slots and the barrier they need (lib/src/walk_slots.c): a chunk or
// page walk registers in a slot of its thread with no locked instruction,
// and a shrink of a handle a slot walk has been on runs membarrier before
// it reads the slots. Through the system-call table: what a failed
// barrier does to a shrink, and how walks behave where the barrier cannot
// be had at all. Linked to the static library only (mmapio_seam_tests).
#include "support.hpp"
#include "support_seam.hpp"
#include "walk_slots.h"

#include <cerrno>

using namespace mmapio_test;

namespace {

long g_barrier_calls = 0;
// The real entry, looked up by name: POSIX-only builds have none (the
// tests skip there before using it).
using membarrier_fn = int (*)(int, unsigned);
membarrier_fn g_real_membarrier = nullptr;

int counted_membarrier(int cmd, unsigned flags) {
  g_barrier_calls++;
  return g_real_membarrier(cmd, flags);
}

// Counts the membarrier calls from here on, passing them through.
void count_barriers(SysGuard &guard) {
  mmi_sys_reset();
  g_real_membarrier =
      reinterpret_cast<membarrier_fn>(mmi_sys_get("membarrier"));
  REQUIRE(g_real_membarrier != nullptr);
  guard.set("membarrier", &counted_membarrier);
  g_barrier_calls = 0;
}

// A walk on m, begun and ended: after it the process has decided whether
// walks use slots (mmi_slots_state).
void walk_once(mmapio_map *m) {
  mmapio_chunks it;
  REQUIRE_OK(mmapio_chunks_begin(&it, m, kPage));
  mmapio_chunks_end(&it);
}

} // namespace

TEST_CASE("mmapio_resize: RESIZE_FAILED when the barrier a shrink needs "
          "after a walk fails, and nothing changes",
          "[mmapio_resize][resize][iterator][seam]") {
  if (!SysGuard::has("membarrier"))
    MMAPIO_SKIP("this build has no membarrier entry (POSIX-only build: "
                "walks never use slots)");
  SysGuard guard;
  TempDir td;
  MapPtr m = create_map(td.path("f"), 4 * kPage);
  const std::string bytes = pattern_bytes(4 * kPage, 5);
  REQUIRE_OK(mmapio_update(m.get(), 0, bytes.data(), bytes.size()));
  walk_once(m.get());
  if (mmi_slots_state() != 1)
    MMAPIO_SKIP("walks do not use slots in this process (membarrier was "
                "refused when the first walk decided)");
  const void *base = mmapio_base(m.get());
  guard.fail("membarrier", EPERM);
  CHECK_CODE(mmapio_resize(m.get(), kPage, nullptr), MMAPIO_E_RESIZE_FAILED);
  const mmapio_error *e = mmapio_last_error();
  CHECK(e->os_errno == EPERM);
  CHECK(std::string(e->syscall) == "membarrier");
  CHECK(mmapio_len(m.get()) == 4 * kPage);
  CHECK(mmapio_base(m.get()) == base);
  CHECK(file_size(td.path("f")) == 4 * kPage);
  std::string now(4 * kPage, '\0');
  REQUIRE_OK(mmapio_read(m.get(), 0, now.data(), now.size()));
  CHECK(now == bytes);
  // Growing needs no barrier; with the barrier back the shrink works.
  REQUIRE_OK(mmapio_resize(m.get(), 8 * kPage, nullptr));
  mmi_sys_reset();
  REQUIRE_OK(mmapio_resize(m.get(), kPage, nullptr));
  CHECK(mmapio_len(m.get()) == kPage);
}

TEST_CASE("walks: a shrink runs the barrier only on a handle a slot walk "
          "has been on",
          "[mmapio_resize][resize][iterator][seam]") {
  if (!SysGuard::has("membarrier"))
    MMAPIO_SKIP("this build has no membarrier entry (POSIX-only build)");
  SysGuard guard;
  TempDir td;
  MapPtr walked = create_map(td.path("a"), 4 * kPage);
  MapPtr never = create_map(td.path("b"), 4 * kPage);
  walk_once(walked.get());
  if (mmi_slots_state() != 1)
    MMAPIO_SKIP("walks do not use slots in this process");
  count_barriers(guard);
  REQUIRE_OK(mmapio_resize(never.get(), kPage, nullptr));
  CHECK(g_barrier_calls == 0);
  REQUIRE_OK(mmapio_resize(walked.get(), kPage, nullptr));
  CHECK(g_barrier_calls == 1);
  // Beginning and ending walks make no system call.
  g_barrier_calls = 0;
  for (int i = 0; i < 100; i++)
    walk_once(walked.get());
  CHECK(g_barrier_calls == 0);
}

TEST_CASE("walks: where membarrier is refused, walks count themselves in "
          "the handle and still hold their range",
          "[mmapio_chunks_begin][mmapio_resize][resize][iterator][seam]") {
  if (!SysGuard::has("membarrier"))
    MMAPIO_SKIP("this build has no membarrier entry (POSIX-only build: "
                "the suite's other walk tests cover this way)");
  if (mmi_slots_state() != 0)
    MMAPIO_SKIP("an earlier test in this process already walked, which "
                "decided the way (ctest runs this test alone)");
  SysGuard guard;
  guard.fail("membarrier", ENOSYS);
  TempDir td;
  MapPtr m = create_map(td.path("f"), 4 * kPage);
  mmapio_chunks it;
  REQUIRE_OK(mmapio_chunks_begin(&it, m.get(), kPage));
  CHECK(mmi_slots_state() == -1);
  CHECK_CODE(mmapio_resize(m.get(), 2 * kPage, nullptr), MMAPIO_E_BUSY);
  mmapio_chunks_end(&it);
  count_barriers(guard);
  REQUIRE_OK(mmapio_resize(m.get(), 2 * kPage, nullptr));
  walk_once(m.get());
  m.reset(); // the close needs no barrier either
  CHECK(g_barrier_calls == 0);
}
