// View functions whose documented errors need a failing system call:
// linked to the static library (mmapio_seam_tests). Every test that
// touches the system-call table holds a SysGuard, which restores the real
// calls.
#include "support.hpp"
#include "support_seam.hpp"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

using namespace mmapio_test;

namespace {

int msync_calls = 0;

int failing_msync(void *, size_t, int) {
  msync_calls++;
  errno = EIO;
  return -1;
}

} // namespace

TEST_CASE("mmapio_segment_write: FLUSH_FAILED when the flush the policy "
          "requires fails",
          "[mmapio_segment_write][errors][segment]") {
  TempDir td;
  MapPtr m = open_policy(td.path("f"), 2 * kPage, MMAPIO_FLUSH_ALWAYS, 0);
  mmapio_segment *raw = nullptr;
  REQUIRE_OK(mmapio_segment_create(&raw, m.get(), kPage, kPage, 0));
  std::unique_ptr<mmapio_segment, SegmentReleaser> s(raw);
  SysGuard guard;
  msync_calls = 0;
  guard.set("msync", failing_msync);
  CHECK_CODE(mmapio_segment_write(s.get(), 4, "data", 4),
             MMAPIO_E_FLUSH_FAILED);
  CHECK(msync_calls == 1);
  CHECK(mmapio_last_error()->os_errno == EIO);
  // The bytes were copied all the same.
  char got[4];
  REQUIRE_OK(mmapio_read(m.get(), kPage + 4, got, 4));
  CHECK(std::memcmp(got, "data", 4) == 0);
}

TEST_CASE("mmapio_fopen: a write whose policy flush fails is an EIO error of "
          "the stream",
          "[mmapio_fopen][stream]") {
  MMAPIO_REQUIRE_CAP(MMAPIO_CAP_STREAMS);
  TempDir td;
  MapPtr m = open_policy(td.path("f"), kPage, MMAPIO_FLUSH_ALWAYS, 0);
  FILE *f = nullptr;
  const int rc = mmapio_fopen(&f, m.get(), "r+");
  REQUIRE_OK(rc);
  SysGuard guard;
  guard.set("msync", failing_msync);
  REQUIRE(std::fputs("abc", f) >= 0);
  errno = 0;
  CHECK(std::fflush(f) == EOF);
  CHECK(errno == EIO);
  CHECK(std::ferror(f));
  std::fclose(f);
}
