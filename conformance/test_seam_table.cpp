// The system-call table itself (lib/src/unix/syscalls.h): every entry of
// this build is found, replaced and restored by its name, and a call the
// library could not fail before the table held every call (fstat at open)
// fails by name too. Linked to the static library (mmapio_seam_tests).
#include "support.hpp"
#include "support_proc.hpp"
#include "support_seam.hpp"

#include <set>
#include <string>

using namespace mmapio_test;

namespace seam = seam_detail;

TEST_CASE("system-call table: every entry is replaced and restored by name",
          "[seam]") {
  SysGuard guard;
  std::set<std::string> names;
  for (int i = 0; i < MMI_SYS_COUNT; i++) {
    const char *name = mmi_sys_name(i);
    REQUIRE(name != nullptr);
    CAPTURE(name);
    CHECK(names.insert(name).second); // names are unique
    CHECK(mmi_sys_index(name) == i);
    const mmi_sys_fn real = mmi_sys_get(name);
    REQUIRE(real != nullptr);
    if (seam::how[i] == MMI_FAILS_NEVER)
      continue;
    guard.fail(name, EIO);
    CHECK(mmi_sys_get(name) == seam::failing[i]);
    // NULL restores the real function.
    REQUIRE(mmi_sys_set(name, nullptr) == 0);
    CHECK(mmi_sys_get(name) == real);
    guard.fail(name, EIO);
  }
  // One call restores every entry.
  mmi_sys_reset();
  for (int i = 0; i < MMI_SYS_COUNT; i++) {
    CAPTURE(mmi_sys_name(i));
    CHECK(mmi_sys_get(mmi_sys_name(i)) != seam::failing[i]);
  }
  CHECK(mmi_sys_name(MMI_SYS_COUNT) == nullptr);
  CHECK(mmi_sys_index("no_such_call") == -1);
  CHECK(mmi_sys_set("no_such_call", nullptr) == -1);
  CHECK(mmi_sys_get("no_such_call") == nullptr);
}

TEST_CASE("mmapio_open: IO when fstat fails, and the descriptor is closed",
          "[mmapio_open][errors][open][linux]") {
  SysGuard guard;
  TempDir td;
  const std::string p = make_file(td, "f", pattern_bytes(4096));
  const size_t fds = count_dir("/proc/self/fd");
  guard.fail("fstat", EIO);
  mmapio_map *m = map_sentinel();
  CHECK_CODE(mmapio_open(&m, p.c_str(), MMAPIO_MODE_RO), MMAPIO_E_IO);
  const mmapio_error *e = mmapio_last_error();
  CHECK(e->os_errno == EIO);
  REQUIRE(e->syscall != nullptr);
  CHECK(std::string(e->syscall) == "fstat");
  CHECK(m == map_sentinel());
  mmi_sys_reset();
  CHECK(count_dir("/proc/self/fd") == fds);
}
