// mmapio_set_guard's IO error, through the system-call table. The child
// replaces the entry with the table's C interface (a child reports
// through its exit status; no Catch2 there).
#include "support.hpp"
#include "support_proc.hpp"
#include "support_seam.hpp"

using namespace mmapio_test;

namespace {
int failing_sigaction(int, const struct sigaction *, struct sigaction *) {
  errno = EINVAL;
  return -1;
}
} // namespace

MMAPIO_CHILD(guard_sigaction_fails) {
  mmapio_map *m = nullptr;
  if (mmapio_create(&m, argv[0], 4096) != 0)
    return 10;
  if (mmi_sys_set("sigaction",
                  reinterpret_cast<mmi_sys_fn>(failing_sigaction)) != 0)
    return 13;
  int rc = mmapio_set_guard(m, true);
  mmi_sys_reset();
  if (rc != MMAPIO_E_IO || mmapio_last_error()->os_errno != EINVAL)
    return 11;
  // Nothing was left half-installed: a later attempt works.
  if (mmapio_set_guard(m, true) != 0)
    return 12;
  mmapio_close(m);
  return 0;
}

TEST_CASE("mmapio_set_guard: IO when the SIGBUS handler cannot be installed",
          "[mmapio_set_guard][errors][fault]") {
  TempDir t;
  REQUIRE(run_child("guard_sigaction_fails", {t.path("f.bin")}) == 0);
}
