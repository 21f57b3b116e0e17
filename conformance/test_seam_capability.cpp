// mmapio_capability_query through the system-call table: a call the
// kernel refuses is reported as missing, with the call and its errno in
// the reason; a scratch page that cannot be mapped is NO_MEMORY. Linked to
// the static library only (mmapio_seam_tests).
#include "support.hpp"
#include "support_seam.hpp"

#include <cerrno>
#include <cstring>
#include <string>

using namespace mmapio_test;

namespace {

bool says(const mmapio_capability_info &c, const char *what) {
  return std::strstr(c.reason, what) != nullptr;
}

} // namespace

TEST_CASE("mmapio_capability_query: a refused call is reported as missing, "
          "with its errno",
          "[capability][seam][linux]") {
  SysGuard guard;
  SECTION("populate refused (a kernel before 5.14)") {
    guard.fail("populate", EINVAL);
    const mmapio_capability_info c = query_capability(MMAPIO_CAP_POPULATE_READ);
    CHECK_FALSE(c.supported);
    CHECK(says(c, std::strerror(EINVAL)));
  }
  SECTION("populate accepted and ignored (qemu-user)") {
    guard.set(
        "populate", +[](void *, size_t) -> int { return 0; });
    const mmapio_capability_info c = query_capability(MMAPIO_CAP_POPULATE_READ);
    CHECK_FALSE(c.supported);
    CHECK(says(c, "ignored"));
  }
  SECTION("mlock refused, and the limit unknown") {
    guard.fail("mlock", EPERM);
    guard.fail("getrlimit", EPERM);
    const mmapio_capability_info c = query_capability(MMAPIO_CAP_MLOCK);
    CHECK_FALSE(c.supported);
    CHECK(c.value == 0);
    CHECK(says(c, "unknown"));
    CHECK(says(c, std::strerror(EPERM)));
  }
  SECTION("the page probe refused (a kernel before 6.7)") {
    guard.fail("page_mapping", ENOTTY);
    CHECK_FALSE(query_capability(MMAPIO_CAP_PAGEMAP_SCAN).supported);
  }
  if (SysGuard::has("memfd_create")) {
    SECTION("no memory file for the seals' try") {
      guard.fail("memfd_create", EMFILE);
      const mmapio_capability_info c = query_capability(MMAPIO_CAP_MEMFD_SEALS);
      CHECK_FALSE(c.supported);
      CHECK(says(c, "memfd_create"));
      CHECK(says(c, std::strerror(EMFILE)));
    }
    SECTION("the writeback call refused") {
      guard.fail("writeback", ENOSYS);
      const mmapio_capability_info c =
          query_capability(MMAPIO_CAP_WRITEBACK_HINT);
      CHECK_FALSE(c.supported);
      CHECK(says(c, "sync_file_range"));
    }
  }
}

TEST_CASE("mmapio_capability_query: NO_MEMORY when the scratch page cannot "
          "be mapped, and *out untouched",
          "[capability][seam][errors]") {
  SysGuard guard;
  guard.fail("mmap", ENOMEM);
  mmapio_capability_info info;
  std::memset(&info, 0x5A, sizeof info);
  const mmapio_capability_info before = info;
  CHECK_CODE(mmapio_capability_query(MMAPIO_CAP_POPULATE_READ, &info),
             MMAPIO_E_NO_MEMORY);
  CHECK(std::memcmp(&info, &before, sizeof info) == 0);
  CHECK(mmapio_last_error()->os_errno == ENOMEM);
  // Capabilities without a page do not need it.
  CHECK_OK(mmapio_capability_query(MMAPIO_CAP_PAGE_SIZE, &info));
}
