// Memory control through the seam (lib/src/platform_memory.h): failures of
// madvise, posix_fadvise, MADV_POPULATE_READ, mlock, munlock and mincore
// that a test cannot provoke otherwise, and how touch_pages chooses its
// way from the page probe. Linked to the static library only
// (mmapio_seam_tests). Every test holds a MemSeamGuard, which restores the
// real calls with mmi_memsys_reset() on every exit path.
#include "support_memory.hpp"

#include "platform_memory.h"

#include <cerrno>
#include <cstring>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

using namespace mmapio_mem;

namespace {

const uint64_t kPage = mmapio_page_size();

int g_fail_errno = 0; // errno the faked call fails with (0: real)
int g_probe_answer = MMI_PROBE_UNKNOWN;
int g_probe_last_answer = -2; // for the probe of another block; -2: same
unsigned g_populate_sleep_us = 0;
bool g_populate_real = true; // false: succeed at once, doing nothing
std::vector<uintptr_t> g_probes;
std::vector<std::pair<uintptr_t, size_t>> g_populates;
int g_hole_answer = -1;
std::vector<std::pair<uint64_t, uint64_t>> g_holes; // (off, len) asked

int fail_advise(void *, size_t, int) {
  errno = g_fail_errno;
  return -1;
}
int fail_fadvise(int, uint64_t, uint64_t) { return g_fail_errno; }
int fail_lock(const void *, size_t) {
  errno = g_fail_errno;
  return -1;
}
int fail_mincore(void *, size_t, unsigned char *) {
  errno = g_fail_errno;
  return -1;
}

int fake_probe(const void *addr) {
  g_probes.push_back(reinterpret_cast<uintptr_t>(addr));
  if (g_probes.size() > 1 && g_probe_last_answer != -2 &&
      reinterpret_cast<uintptr_t>(addr) != g_probes.front())
    return g_probe_last_answer;
  return g_probe_answer;
}

int fake_hole(int, uint64_t off, uint64_t len) {
  g_holes.emplace_back(off, len);
  return g_hole_answer;
}

int (*real_populate)(void *, size_t) = nullptr;
int fake_populate(void *addr, size_t len) {
  g_populates.emplace_back(reinterpret_cast<uintptr_t>(addr), len);
  if (g_populate_sleep_us != 0)
    ::usleep(g_populate_sleep_us);
  if (g_fail_errno != 0) {
    errno = g_fail_errno;
    return -1;
  }
  return g_populate_real ? real_populate(addr, len) : 0;
}

class MemSeamGuard {
public:
  MemSeamGuard() { clear(); }
  ~MemSeamGuard() { clear(); }
  MemSeamGuard(const MemSeamGuard &) = delete;
  MemSeamGuard &operator=(const MemSeamGuard &) = delete;

private:
  static void clear() {
    mmi_memsys_reset();
    real_populate = mmi_memsys.populate;
    g_fail_errno = 0;
    g_probe_answer = MMI_PROBE_UNKNOWN;
    g_probe_last_answer = -2;
    g_populate_sleep_us = 0;
    g_populate_real = true;
    g_probes.clear();
    g_populates.clear();
    g_hole_answer = -1;
    g_holes.clear();
  }
};

// An anonymous region of size bytes that holds at least one whole
// 2 MiB-aligned block.
MapPtr anon_with_block(size_t size) {
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_anon(&m, size));
  REQUIRE(first_aligned_block(mmapio_base(m), size) != nullptr);
  return MapPtr(m);
}

void check_error(int rc, int code, int os_errno, const char *syscall) {
  const mmapio_error *e = mmapio_last_error();
  INFO(mmapio_describe(rc));
  CHECK(rc == code);
  CHECK(e->code == code);
  CHECK(e->os_errno == os_errno);
  REQUIRE(e->syscall != nullptr);
  CHECK(std::string(e->syscall) == syscall);
}

} // namespace

// ------------------------------------------------------------------
// Failures of the system calls
// ------------------------------------------------------------------

TEST_CASE("mmapio_advise: ADVICE_FAILED when madvise fails",
          "[mmapio_advise][errors][advise]") {
  MemSeamGuard guard;
  MapPtr m = anon_with_block(4 * kMiB);
  g_fail_errno = EAGAIN;
  mmi_memsys.advise = fail_advise;
  check_error(mmapio_advise(m.get(), 5, 10, MMAPIO_ADVICE_WILLNEED),
              MMAPIO_E_ADVICE_FAILED, EAGAIN, "madvise");
}

TEST_CASE("mmapio_prefetch_range: ADVICE_FAILED when posix_fadvise fails",
          "[mmapio_prefetch_range][errors][advise]") {
  MemSeamGuard guard;
  TempDir dir;
  Made mk = make_backing(dir, Backing::RO, 4 * kPage);
  g_fail_errno = EIO;
  mmi_memsys.fadvise_willneed = fail_fadvise;
  check_error(mmapio_prefetch_range(mk.map.get(), 1, 2 * kPage),
              MMAPIO_E_ADVICE_FAILED, EIO, "posix_fadvise");
  // len 0 never reaches posix_fadvise (there it would mean "to the end").
  CHECK_OK(mmapio_prefetch_range(mk.map.get(), 0, 0));
}

TEST_CASE("mmapio_lock: LOCK_FAILED when mlock fails",
          "[mmapio_lock][errors][lock]") {
  MemSeamGuard guard;
  MapPtr m = anon_with_block(4 * kMiB);
  g_fail_errno = EAGAIN;
  mmi_memsys.mlock = fail_lock;
  check_error(mmapio_lock(m.get(), 0, kPage), MMAPIO_E_LOCK_FAILED, EAGAIN,
              "mlock");
  check_error(mmapio_lock_all(m.get()), MMAPIO_E_LOCK_FAILED, EAGAIN, "mlock");
}

TEST_CASE("mmapio_unlock: UNLOCK_FAILED when munlock fails",
          "[mmapio_unlock][errors][lock]") {
  MemSeamGuard guard;
  MapPtr m = anon_with_block(4 * kMiB);
  g_fail_errno = ENOMEM;
  mmi_memsys.munlock = fail_lock;
  check_error(mmapio_unlock(m.get(), 3, kPage), MMAPIO_E_UNLOCK_FAILED, ENOMEM,
              "munlock");
}

TEST_CASE("mmapio_unlock_all: UNLOCK_FAILED when munlock fails",
          "[mmapio_unlock_all][errors][lock]") {
  MemSeamGuard guard;
  MapPtr m = anon_with_block(4 * kMiB);
  g_fail_errno = EINVAL;
  mmi_memsys.munlock = fail_lock;
  check_error(mmapio_unlock_all(m.get()), MMAPIO_E_UNLOCK_FAILED, EINVAL,
              "munlock");
}

TEST_CASE("mmapio_resident: IO when mincore fails",
          "[mmapio_resident][errors][touch]") {
  MemSeamGuard guard;
  MapPtr m = anon_with_block(4 * kMiB);
  g_fail_errno = ENOMEM;
  mmi_memsys.mincore = fail_mincore;
  mmapio_residency r{9, 9};
  check_error(mmapio_resident(m.get(), 0, kPage, &r), MMAPIO_E_IO, ENOMEM,
              "mincore");
  CHECK(r.pages == 9);
}

// Populating fails (MADV_POPULATE_READ, taken for ranges the probe says are
// mapped by huge pages).
struct PopulateFailure {
  int os_errno;
  int code;
};

TEST_CASE("mmapio_touch_pages_range: FAULT when populating meets a bad "
          "page",
          "[mmapio_touch_pages_range][errors][touch]") {
  MemSeamGuard guard;
  const int e = GENERATE(EFAULT, MMI_EHWPOISON);
  MapPtr m = anon_with_block(8 * kMiB);
  g_probe_answer = MMI_PROBE_HUGE;
  mmi_memsys.probe = fake_probe;
  mmi_memsys.populate = fake_populate;
  g_fail_errno = e;
  check_error(mmapio_touch_pages_range(m.get(), 1, 8 * kMiB - 1),
              MMAPIO_E_FAULT, e, "madvise");
  CHECK(g_populates.size() == 1);
}

TEST_CASE("mmapio_touch_pages_range: NO_MEMORY when populating runs out of "
          "memory",
          "[mmapio_touch_pages_range][errors][touch]") {
  MemSeamGuard guard;
  MapPtr m = anon_with_block(8 * kMiB);
  g_probe_answer = MMI_PROBE_HUGE;
  mmi_memsys.probe = fake_probe;
  mmi_memsys.populate = fake_populate;
  g_fail_errno = ENOMEM;
  check_error(mmapio_touch_pages_range(m.get(), 0, 8 * kMiB),
              MMAPIO_E_NO_MEMORY, ENOMEM, "madvise");
}

TEST_CASE("mmapio_touch_pages_range: IO when populating fails otherwise",
          "[mmapio_touch_pages_range][errors][touch]") {
  MemSeamGuard guard;
  MapPtr m = anon_with_block(8 * kMiB);
  g_probe_answer = MMI_PROBE_HUGE;
  mmi_memsys.probe = fake_probe;
  mmi_memsys.populate = fake_populate;
  g_fail_errno = EIO;
  check_error(mmapio_touch_pages_range(m.get(), 0, 8 * kMiB), MMAPIO_E_IO, EIO,
              "madvise");
}

namespace {
void touch_all_fails_with(PopulateFailure f) {
  MemSeamGuard guard;
  MapPtr m = anon_with_block(8 * kMiB);
  g_probe_answer = MMI_PROBE_HUGE;
  mmi_memsys.probe = fake_probe;
  mmi_memsys.populate = fake_populate;
  g_fail_errno = f.os_errno;
  check_error(mmapio_touch_pages(m.get()), f.code, f.os_errno, "madvise");
}
} // namespace

TEST_CASE("mmapio_touch_pages: FAULT when populating meets a bad address",
          "[mmapio_touch_pages][errors][touch]") {
  touch_all_fails_with(PopulateFailure{EFAULT, MMAPIO_E_FAULT});
}

TEST_CASE("mmapio_touch_pages: NO_MEMORY when populating runs out of memory",
          "[mmapio_touch_pages][errors][touch]") {
  touch_all_fails_with(PopulateFailure{ENOMEM, MMAPIO_E_NO_MEMORY});
}

TEST_CASE("mmapio_touch_pages: IO when populating fails otherwise",
          "[mmapio_touch_pages][errors][touch]") {
  touch_all_fails_with(PopulateFailure{EIO, MMAPIO_E_IO});
}

// ------------------------------------------------------------------
// How touch chooses: the loop, or one populate call
// ------------------------------------------------------------------

TEST_CASE("mmapio_touch_pages: huge pages are populated in one call, and "
          "the answer is remembered",
          "[mmapio_touch_pages][touch][hugepages]") {
  MemSeamGuard guard;
  MapPtr m = anon_with_block(8 * kMiB);
  g_probe_answer = MMI_PROBE_HUGE;
  mmi_memsys.probe = fake_probe;
  mmi_memsys.populate = fake_populate;
  // As fast as over huge pages: the cached answer is never doubted.
  g_populate_real = false;
  for (int i = 0; i < 5; i++)
    REQUIRE_OK(mmapio_touch_pages(m.get()));
  // One probe, of the first aligned block; one call per touch, over the
  // whole (page-widened) mapping.
  REQUIRE(g_probes.size() == 1);
  CHECK(g_probes[0] == reinterpret_cast<uintptr_t>(first_aligned_block(
                           mmapio_base(m.get()), 8 * kMiB)));
  REQUIRE(g_populates.size() == 5);
  for (const auto &p : g_populates) {
    CHECK(p.first == reinterpret_cast<uintptr_t>(mmapio_base(m.get())));
    CHECK(p.second == 8 * kMiB);
  }
  // Forgetting the cached answer (the guard does it too) asks again.
  mmi_touch_cache_clear();
  REQUIRE_OK(mmapio_touch_pages(m.get()));
  CHECK(g_probes.size() == 2);
}

TEST_CASE("mmapio_touch_pages: small pages use the loop and are probed "
          "every MMI_TOUCH_SMALL_RECHECK calls",
          "[mmapio_touch_pages][touch]") {
  MemSeamGuard guard;
  MapPtr m = anon_with_block(8 * kMiB);
  g_probe_answer = MMI_PROBE_SMALL;
  mmi_memsys.probe = fake_probe;
  mmi_memsys.populate = fake_populate;
  const unsigned n = 2 * MMI_TOUCH_SMALL_RECHECK + 1;
  for (unsigned i = 0; i < n; i++)
    REQUIRE_OK(mmapio_touch_pages(m.get()));
  CHECK(g_populates.empty());
  CHECK(g_probes.size() == 3); // the first call, and each recheck
  CHECK(present_pages(mmapio_base(m.get()), 8 * kMiB) == 8 * kMiB / kPage);
}

TEST_CASE("mmapio_touch_pages: pages the probe cannot tell about use the "
          "loop",
          "[mmapio_touch_pages][touch]") {
  MemSeamGuard guard;
  MapPtr m = anon_with_block(8 * kMiB);
  g_probe_answer = MMI_PROBE_UNKNOWN; // a kernel without PAGEMAP_SCAN
  mmi_memsys.probe = fake_probe;
  mmi_memsys.populate = fake_populate;
  for (int i = 0; i < 3; i++)
    REQUIRE_OK(mmapio_touch_pages(m.get()));
  CHECK(g_populates.empty());
  CHECK(g_probes.size() == 3); // nothing to remember: asked every time
  CHECK(present_pages(mmapio_base(m.get()), 8 * kMiB) == 8 * kMiB / kPage);
}

TEST_CASE("mmapio_touch_pages: pages not mapped are populated, and asked "
          "about again",
          "[mmapio_touch_pages][touch]") {
  MemSeamGuard guard;
  MapPtr m = anon_with_block(8 * kMiB);
  g_probe_answer = MMI_PROBE_ABSENT;
  mmi_memsys.probe = fake_probe;
  mmi_memsys.populate = fake_populate;
  g_populate_sleep_us = 50000; // as slow as reading from a device
  for (int i = 0; i < 3; i++)
    REQUIRE_OK(mmapio_touch_pages(m.get()));
  REQUIRE(g_populates.size() == 3);
  for (const auto &p : g_populates) {
    CHECK(p.first == reinterpret_cast<uintptr_t>(mmapio_base(m.get())));
    CHECK(p.second == 8 * kMiB);
  }
  CHECK(g_probes.size() == 3);
  CHECK(present_pages(mmapio_base(m.get()), 8 * kMiB) == 8 * kMiB / kPage);
}

TEST_CASE("mmapio_touch_pages: pages not mapped over a hole of the file "
          "use the loop up to 64 MiB",
          "[mmapio_touch_pages][touch]") {
  MemSeamGuard guard;
  mmi_memsys.probe = fake_probe;
  mmi_memsys.populate = fake_populate;
  mmi_memsys.hole = fake_hole;
  g_probe_answer = MMI_PROBE_ABSENT;
  g_populate_real = false;

  SECTION("a hole: looped, asked about the segment's own bytes") {
    g_hole_answer = 1;
    MapPtr m = anon_with_block(16 * kMiB);
    REQUIRE_OK(mmapio_touch_pages_range(m.get(), kPage, 15 * kMiB));
    CHECK(g_populates.empty());
    REQUIRE(g_holes.size() == 1);
    CHECK(g_holes[0].first == kPage);
    CHECK(g_holes[0].second == 15 * kMiB);
    CHECK(present_pages(
              static_cast<const unsigned char *>(mmapio_base(m.get())) + kPage,
              15 * kMiB) == 15 * kMiB / kPage);
    // Not remembered: asked again on the next call.
    REQUIRE_OK(mmapio_touch_pages_range(m.get(), kPage, 15 * kMiB));
    CHECK(g_holes.size() == 2);
  }
  SECTION("data, or cannot tell: populated") {
    for (int answer : {0, -1}) {
      g_hole_answer = answer;
      g_populates.clear();
      MapPtr m = anon_with_block(8 * kMiB);
      REQUIRE_OK(mmapio_touch_pages(m.get()));
      CHECK(g_populates.size() == 1);
    }
  }
  SECTION("above 64 MiB: populated without asking") {
    g_hole_answer = 1;
    MapPtr m = anon_with_block(80 * kMiB);
    REQUIRE_OK(mmapio_touch_pages(m.get()));
    CHECK(g_holes.empty());
    CHECK(g_populates.size() == 1);
  }
}

TEST_CASE("mmapio_touch_pages: the real hole query tells a hole from data",
          "[mmapio_touch_pages][touch]") {
  MemSeamGuard guard;
  TempDir td;
  const std::string p = td.path("sparse");
  const int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(::ftruncate(fd, static_cast<off_t>(4 * kMiB)) == 0);
  const int fresh = mmi_memsys.hole(fd, 0, 4 * kMiB);
  if (fresh == -1) {
    ::close(fd);
    MMAPIO_SKIP("the file system of " << p << " has no FIEMAP");
  }
  CHECK(fresh == 1);
  const char data[] = "data";
  REQUIRE(::pwrite(fd, data, sizeof data, static_cast<off_t>(kMiB)) ==
          static_cast<ssize_t>(sizeof data));
  REQUIRE(::fsync(fd) == 0);
  CHECK(mmi_memsys.hole(fd, 0, 4 * kMiB) == 0);
  CHECK(mmi_memsys.hole(fd, kMiB, kPage) == 0);
  CHECK(mmi_memsys.hole(fd, 2 * kMiB, 2 * kMiB) == 1);
  ::close(fd);
}

TEST_CASE("mmapio_touch_pages: the real probe tells pages not mapped from "
          "small ones",
          "[mmapio_touch_pages][touch]") {
  MemSeamGuard guard;
  MapPtr m = anon_with_block(8 * kMiB);
  const unsigned char *blk =
      first_aligned_block(mmapio_base(m.get()), 8 * kMiB);
  const int fresh = mmi_memsys.probe(blk);
  if (fresh == MMI_PROBE_UNKNOWN) {
    WARN("SKIPPED: no PAGEMAP_SCAN here (Linux 6.7 or later has it)");
    return;
  }
  CHECK(fresh == MMI_PROBE_ABSENT);
  volatile unsigned char sink =
      *reinterpret_cast<const volatile unsigned char *>(blk);
  (void)sink;
  const int mapped = mmi_memsys.probe(blk);
  CHECK((mapped == MMI_PROBE_SMALL || mapped == MMI_PROBE_HUGE));
}

TEST_CASE("mmapio_touch_pages_range: ranges without a whole huge page "
          "never probe",
          "[mmapio_touch_pages_range][touch]") {
  MemSeamGuard guard;
  MapPtr m = anon_with_block(8 * kMiB);
  g_probe_answer = MMI_PROBE_HUGE;
  mmi_memsys.probe = fake_probe;
  mmi_memsys.populate = fake_populate;
  const unsigned char *blk =
      first_aligned_block(mmapio_base(m.get()), 8 * kMiB);
  const uint64_t off = static_cast<uint64_t>(
      blk - static_cast<const unsigned char *>(mmapio_base(m.get())));
  // 2 MiB starting one page into the block cannot hold a whole block.
  REQUIRE_OK(mmapio_touch_pages_range(m.get(), off + kPage, 2 * kMiB));
  REQUIRE_OK(mmapio_touch_pages_range(m.get(), 0, kPage));
  CHECK(g_probes.empty());
  CHECK(g_populates.empty());
  CHECK(present_pages(blk + kPage, 2 * kMiB) == 2 * kMiB / kPage);
}

TEST_CASE("mmapio_touch_pages: a slow populate takes the loop until the "
          "next probe",
          "[mmapio_touch_pages][touch][hugepages]") {
  MemSeamGuard guard;
  MapPtr m = anon_with_block(8 * kMiB);
  g_probe_answer = MMI_PROBE_HUGE;
  g_populate_sleep_us = 50000; // far slower than huge pages go
  g_populate_real = false;
  mmi_memsys.probe = fake_probe;
  mmi_memsys.populate = fake_populate;
  REQUIRE_OK(mmapio_touch_pages(m.get()));
  REQUIRE(g_populates.size() == 1);
  REQUIRE(g_probes.size() == 1);
  // Not all huge after all: the next calls take the loop without asking.
  for (unsigned i = 1; i < MMI_TOUCH_SMALL_RECHECK; i++)
    REQUIRE_OK(mmapio_touch_pages(m.get()));
  CHECK(g_populates.size() == 1);
  CHECK(g_probes.size() == 1);
  CHECK(present_pages(mmapio_base(m.get()), 8 * kMiB) == 8 * kMiB / kPage);
  // The recheck asks again, and believes the answer.
  REQUIRE_OK(mmapio_touch_pages(m.get()));
  CHECK(g_probes.size() == 2);
  CHECK(g_populates.size() == 2);
}

// A range of many huge pages is judged in segments of at least 8 MiB, at
// most 16, each by a probe of its first whole huge page.

// The probes of a 64 MiB region: 8 segments, the first probe at the
// first aligned block, each 2 MiB-aligned, increasing, inside the region.
void check_segment_probes(const void *base, size_t size) {
  REQUIRE(g_probes.size() == 8);
  CHECK(g_probes[0] ==
        reinterpret_cast<uintptr_t>(first_aligned_block(base, size)));
  const uintptr_t lo = reinterpret_cast<uintptr_t>(base);
  for (size_t i = 0; i < g_probes.size(); i++) {
    CHECK(g_probes[i] % (2 * kMiB) == 0);
    CHECK(g_probes[i] + 2 * kMiB <= lo + size);
    if (i > 0)
      CHECK(g_probes[i] > g_probes[i - 1]);
  }
}

TEST_CASE("mmapio_touch_pages: the huge part of a range is populated, the "
          "small part looped",
          "[mmapio_touch_pages][touch][hugepages]") {
  MemSeamGuard guard;
  const size_t size = 64 * kMiB;
  MapPtr m = anon_with_block(size);
  const auto *base = static_cast<const unsigned char *>(mmapio_base(m.get()));
  const uintptr_t lo = reinterpret_cast<uintptr_t>(base);
  mmi_memsys.probe = fake_probe;
  mmi_memsys.populate = fake_populate;
  g_populate_real = false; // the populated part stays unmapped
  SECTION("small first, huge after (a file read in by faults)") {
    g_probe_answer = MMI_PROBE_SMALL;
    g_probe_last_answer = MMI_PROBE_HUGE;
    REQUIRE_OK(mmapio_touch_pages(m.get()));
    check_segment_probes(base, size);
    REQUIRE(g_populates.size() == 1);
    const uintptr_t split = g_probes[1];
    CHECK(g_populates[0].first == split);
    CHECK(g_populates[0].second == lo + size - split);
    CHECK(present_pages(base, split - lo) == (split - lo) / kPage);
    CHECK(present_pages(base + (split - lo), lo + size - split) == 0);
  }
  SECTION("huge first, small after") {
    g_probe_answer = MMI_PROBE_HUGE;
    g_probe_last_answer = MMI_PROBE_SMALL;
    REQUIRE_OK(mmapio_touch_pages(m.get()));
    check_segment_probes(base, size);
    REQUIRE(g_populates.size() == 1);
    const uintptr_t split = g_probes[1];
    CHECK(g_populates[0].first == lo);
    CHECK(g_populates[0].second == split - lo);
    CHECK(present_pages(base, split - lo) == 0);
    CHECK(present_pages(base + (split - lo), lo + size - split) ==
          (lo + size - split) / kPage);
  }
  SECTION("all huge: one call for the whole range, and no more probes") {
    g_probe_answer = MMI_PROBE_HUGE;
    for (int i = 0; i < 5; i++)
      REQUIRE_OK(mmapio_touch_pages(m.get()));
    check_segment_probes(base, size);
    REQUIRE(g_populates.size() == 5);
    for (const auto &p : g_populates) {
      CHECK(p.first == lo);
      CHECK(p.second == size);
    }
    CHECK(present_pages(base, size) == 0);
  }
  SECTION("a segment unknown, or not mapped: nothing is remembered") {
    const struct {
      int first, after;
    } cases[] = {{MMI_PROBE_UNKNOWN, MMI_PROBE_HUGE},
                 {MMI_PROBE_SMALL, MMI_PROBE_ABSENT}};
    for (const auto &c : cases) {
      CAPTURE(c.first, c.after);
      g_probes.clear();
      g_populates.clear();
      mmi_touch_cache_clear();
      g_probe_answer = c.first;
      g_probe_last_answer = c.after;
      REQUIRE_OK(mmapio_touch_pages(m.get()));
      check_segment_probes(base, size);
      REQUIRE_OK(mmapio_touch_pages(m.get()));
      CHECK(g_probes.size() == 16);
      REQUIRE(g_populates.size() == 2);
      CHECK(g_populates[1].first == g_probes[1]);
      CHECK(g_populates[1].second == lo + size - g_probes[1]);
      CHECK(present_pages(base, g_probes[1] - lo) ==
            (g_probes[1] - lo) / kPage);
    }
  }
}

TEST_CASE("mmapio_touch_pages: a small range is probed once, a large one "
          "at most 16 times",
          "[mmapio_touch_pages][touch]") {
  MemSeamGuard guard;
  mmi_memsys.probe = fake_probe;
  mmi_memsys.populate = fake_populate;
  g_probe_answer = MMI_PROBE_SMALL;
  MapPtr small = anon_with_block(15 * kMiB); // under two 8 MiB segments
  REQUIRE_OK(mmapio_touch_pages(small.get()));
  CHECK(g_probes.size() == 1);
  g_probes.clear();
  MapPtr large = anon_with_block(256 * kMiB);
  REQUIRE_OK(mmapio_touch_pages(large.get()));
  CHECK(g_probes.size() == 16);
  CHECK(g_populates.empty());
}

TEST_CASE("mmapio_touch_pages: without MADV_POPULATE_READ the loop does it",
          "[mmapio_touch_pages][touch]") {
  MemSeamGuard guard;
  MapPtr m = anon_with_block(8 * kMiB);
  g_probe_answer = MMI_PROBE_HUGE;
  mmi_memsys.probe = fake_probe;
  mmi_memsys.populate = fake_populate;
  g_fail_errno = EINVAL; // what a kernel before 5.14 says
  REQUIRE_OK(mmapio_touch_pages(m.get()));
  CHECK(g_populates.size() == 1);
  CHECK(present_pages(mmapio_base(m.get()), 8 * kMiB) == 8 * kMiB / kPage);
}
