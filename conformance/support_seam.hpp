// The seam tests' hold on the library's system-call table
// (lib/src/unix/syscalls.h). Linked to the static library only
// (mmapio_seam_tests).
//
//   SysGuard guard;          restores every entry of the table, and makes
//   SysGuard guard(clear);   touch_pages forget what it learned from the
//                            replaced ones, on construction and on every
//                            exit path (clear: the test's own records)
//   guard.set(name, fake)    replaces the entry called name with a fake
//                            of the entry's type
//   guard.fail(name, err)    makes every call of the entry fail with err,
//                            the way that entry reports failure
//   SysGuard::has(name)      whether this build's table has the entry
//                            (Linux-only calls are absent elsewhere)
// mmi_sys_reset() restores every entry in the middle of a test without
// clearing the test's records.
#ifndef MMAPIO_CONFORMANCE_SUPPORT_SEAM_HPP
#define MMAPIO_CONFORMANCE_SUPPORT_SEAM_HPP

#include <catch2/catch.hpp>

#include "os.h"
#include "touch.h"
#include "unix/syscalls.h"

#include <cerrno>
#include <type_traits>

namespace mmapio_test {

namespace seam_detail {

// The errno each entry's failing fake reports.
inline int fail_errno[MMI_SYS_COUNT];

template <typename R> R failure(int how, int index) {
  const int e = fail_errno[index];
  if constexpr (std::is_pointer_v<R>) {
    errno = e;
    return how == MMI_FAILS_MAP ? reinterpret_cast<R>(MAP_FAILED) : nullptr;
  } else {
    if (how == MMI_FAILS_ERRNO)
      return static_cast<R>(e);
    errno = e;
    return static_cast<R>(-1);
  }
}

// One failing fake per entry, of the entry's type, made from the table's
// own list.
#define MMAPIO_TEST_FAILING_(name, real, ret, params, fails)                   \
  inline ret failing_##name params {                                           \
    return failure<ret>(fails, MMI_SYS_##name);                                \
  }
MMI_SYSCALLS(MMAPIO_TEST_FAILING_)
#undef MMAPIO_TEST_FAILING_

#define MMAPIO_TEST_FAILING_FN_(name, real, ret, params, fails)                \
  reinterpret_cast<mmi_sys_fn>(&failing_##name),
inline const mmi_sys_fn failing[MMI_SYS_COUNT] = {
    MMI_SYSCALLS(MMAPIO_TEST_FAILING_FN_)};
#undef MMAPIO_TEST_FAILING_FN_

#define MMAPIO_TEST_HOW_(name, real, ret, params, fails) fails,
inline const int how[MMI_SYS_COUNT] = {MMI_SYSCALLS(MMAPIO_TEST_HOW_)};
#undef MMAPIO_TEST_HOW_

} // namespace seam_detail

class SysGuard {
public:
  SysGuard() { reset(); }
  explicit SysGuard(void (*clear)()) : clear_(clear) { reset(); }
  ~SysGuard() { reset(); }
  SysGuard(const SysGuard &) = delete;
  SysGuard &operator=(const SysGuard &) = delete;

  static bool has(const char *name) { return mmi_sys_index(name) >= 0; }

  template <typename F> void set(const char *name, F *fake) {
    INFO("system-call table entry " << name);
    REQUIRE(mmi_sys_set(name, reinterpret_cast<mmi_sys_fn>(fake)) == 0);
  }

  void fail(const char *name, int err) {
    const int i = mmi_sys_index(name);
    INFO("system-call table entry " << name);
    REQUIRE(i >= 0);
    REQUIRE(seam_detail::how[i] != MMI_FAILS_NEVER);
    seam_detail::fail_errno[i] = err;
    REQUIRE(mmi_sys_set(name, seam_detail::failing[i]) == 0);
  }

private:
  void reset() {
    mmi_sys_reset();
    mmi_touch_cache_clear();
    if (clear_ != nullptr)
      clear_();
  }

  void (*clear_)() = nullptr;
};

} // namespace mmapio_test

#endif
