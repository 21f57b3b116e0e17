// Memory control through the system-call table (lib/src/unix/syscalls.h):
// failures of madvise (posix_madvise on POSIX-only builds), posix_fadvise,
// MADV_POPULATE_READ, mlock, munlock and mincore that a test cannot
// provoke otherwise, and how touch_pages chooses its way from the page
// probe. Linked to the static library only (mmapio_seam_tests). Every
// test holds a SysGuard, which restores the real calls (and makes
// touch_pages forget what it learned from the fakes) on every exit path.
#include "support_memory.hpp"
#include "support_seam.hpp"

#include <cerrno>
#include <cstring>
#include <set>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

using namespace mmapio_test;

namespace {

int g_fail_errno = 0; // errno the faked populate fails with (0: real)
int g_probe_answer = MMI_PAGE_UNKNOWN;
int g_probe_last_answer = -2; // for the probe of another block; -2: same
unsigned g_populate_sleep_us = 0;
bool g_populate_real = true; // false: succeed at once, doing nothing
std::vector<uintptr_t> g_probes;
std::vector<std::pair<uintptr_t, size_t>> g_populates;
// The tick counter touch.c times its ways with: a stretch of work with a
// populate call in it takes g_populate_ticks, any other g_loop_ticks.
uint64_t g_now = 0;
uint64_t g_loop_ticks = 1;
uint64_t g_populate_ticks = 1;
bool g_populated = false;
// When not empty: a populate call takes cycle[i] ticks per page, the i-th
// call taking the next entry in turn (and g_populate_ticks is set so).
std::vector<uint64_t> g_populate_cycle;
size_t g_populate_turn = 0;
// What the faked mincore says of every page: in the page cache or not. It
// tells touch_pages which kind of pages not mapped a range holds.
bool g_in_core = false;
std::vector<uintptr_t> g_kind_looks; // the pages it was asked about

// The entry behind mmapio_advise in this build.
const char *advise_call() {
  return SysGuard::has("madvise") ? "madvise" : "posix_madvise";
}

int fake_probe(const void *addr) {
  g_probes.push_back(reinterpret_cast<uintptr_t>(addr));
  if (g_probes.size() > 1 && g_probe_last_answer != -2 &&
      reinterpret_cast<uintptr_t>(addr) != g_probes.front())
    return g_probe_last_answer;
  return g_probe_answer;
}

uint64_t fake_ticks() {
  g_now += g_populated ? g_populate_ticks : g_loop_ticks;
  g_populated = false;
  return g_now;
}

// Ticks more than a first read that faulted takes (touch.c).
uint64_t fault_ticks() { return mmi_os_ticks_per_us(); }

int fake_populate(void *addr, size_t len) {
  g_populates.emplace_back(reinterpret_cast<uintptr_t>(addr), len);
  g_populated = true;
  if (!g_populate_cycle.empty())
    g_populate_ticks =
        len / kPage *
        g_populate_cycle[g_populate_turn++ % g_populate_cycle.size()];
  if (g_populate_sleep_us != 0)
    ::usleep(g_populate_sleep_us);
  if (g_fail_errno != 0) {
    errno = g_fail_errno;
    return -1;
  }
  return g_populate_real ? mmi_sys_real.populate(addr, len) : 0;
}

int fake_mincore(void *addr, size_t len, unsigned char *vec) {
  g_kind_looks.push_back(reinterpret_cast<uintptr_t>(addr));
  for (size_t i = 0; i < (len + kPage - 1) / kPage; i++)
    vec[i] = g_in_core ? 1 : 0;
  return 0;
}

// Clears the records (SysGuard calls it on entry and on every exit path).
void clear_records() {
  g_fail_errno = 0;
  g_probe_answer = MMI_PAGE_UNKNOWN;
  g_probe_last_answer = -2;
  g_populate_sleep_us = 0;
  g_populate_real = true;
  g_probes.clear();
  g_populates.clear();
  g_now = 0;
  g_loop_ticks = 1;
  g_populate_ticks = 1;
  g_populated = false;
  g_populate_cycle.clear();
  g_populate_turn = 0;
  g_in_core = false;
  g_kind_looks.clear();
}

// An anonymous region of size bytes that holds at least one whole
// 2 MiB-aligned block.
MapPtr anon_with_block(size_t size) {
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_anon(&m, size));
  REQUIRE(first_aligned_block(mmapio_base(m), size) != nullptr);
  return MapPtr(m);
}

// Fakes how touch_pages sees a range: every probe answers `answer`,
// pages not mapped are of the kind g_in_core says (not in the page cache
// unless a test says otherwise, whatever the loop reads in),
// populate calls are recorded and do nothing (the pages stay as they
// are), and the clock is the fake one (g_*_ticks).
void fake_range(SysGuard &guard, int answer) {
  g_probe_answer = answer;
  guard.set("page_mapping", fake_probe);
  guard.set("mincore", fake_mincore);
  guard.set("populate", fake_populate);
  guard.set("ticks", fake_ticks);
  g_populate_real = false;
}

// Touches a new handle of size bytes `calls` times and closes it: what it
// learned stays in the process's figures, the prior of the next handle.
void touch_new_handle(size_t size, int calls) {
  MapPtr m = anon_with_block(size);
  for (int i = 0; i < calls; i++)
    REQUIRE_OK(mmapio_touch_pages(m.get()));
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
  SysGuard guard(clear_records);
  MapPtr m = anon_with_block(4 * kMiB);
  guard.fail(advise_call(), EAGAIN);
  check_error(mmapio_advise(m.get(), 5, 10, MMAPIO_ADVICE_WILLNEED),
              MMAPIO_E_ADVICE_FAILED, EAGAIN, advise_call());
}

TEST_CASE("mmapio_prefetch_range: ADVICE_FAILED when posix_fadvise fails",
          "[mmapio_prefetch_range][errors][advise]") {
  SysGuard guard(clear_records);
  TempDir dir;
  Made mk = make_backing(dir, Backing::RO, 4 * kPage);
  guard.fail("posix_fadvise", EIO);
  check_error(mmapio_prefetch_range(mk.map.get(), 1, 2 * kPage),
              MMAPIO_E_ADVICE_FAILED, EIO, "posix_fadvise");
  // len 0 never reaches posix_fadvise (there it would mean "to the end").
  CHECK_OK(mmapio_prefetch_range(mk.map.get(), 0, 0));
}

TEST_CASE("mmapio_lock: LOCK_FAILED when mlock fails",
          "[mmapio_lock][errors][lock]") {
  SysGuard guard(clear_records);
  MapPtr m = anon_with_block(4 * kMiB);
  guard.fail("mlock", EAGAIN);
  check_error(mmapio_lock(m.get(), 0, kPage), MMAPIO_E_LOCK_FAILED, EAGAIN,
              "mlock");
  check_error(mmapio_lock_all(m.get()), MMAPIO_E_LOCK_FAILED, EAGAIN, "mlock");
}

TEST_CASE("mmapio_unlock: UNLOCK_FAILED when munlock fails",
          "[mmapio_unlock][errors][lock]") {
  SysGuard guard(clear_records);
  MapPtr m = anon_with_block(4 * kMiB);
  guard.fail("munlock", ENOMEM);
  check_error(mmapio_unlock(m.get(), 3, kPage), MMAPIO_E_UNLOCK_FAILED, ENOMEM,
              "munlock");
}

TEST_CASE("mmapio_unlock_all: UNLOCK_FAILED when munlock fails",
          "[mmapio_unlock_all][errors][lock]") {
  SysGuard guard(clear_records);
  MapPtr m = anon_with_block(4 * kMiB);
  guard.fail("munlock", EINVAL);
  check_error(mmapio_unlock_all(m.get()), MMAPIO_E_UNLOCK_FAILED, EINVAL,
              "munlock");
}

TEST_CASE("mmapio_resident: IO when mincore fails",
          "[mmapio_resident][errors][touch][linux]") {
  SysGuard guard(clear_records);
  MapPtr m = anon_with_block(4 * kMiB);
  guard.fail("mincore", ENOMEM);
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
  SysGuard guard(clear_records);
  const int e = GENERATE(EFAULT, MMI_EHWPOISON);
  MapPtr m = anon_with_block(8 * kMiB);
  g_probe_answer = MMI_PAGE_HUGE;
  guard.set("page_mapping", fake_probe);
  guard.set("populate", fake_populate);
  g_fail_errno = e;
  check_error(mmapio_touch_pages_range(m.get(), 1, 8 * kMiB - 1),
              MMAPIO_E_FAULT, e, "madvise");
  CHECK(g_populates.size() == 1);
}

TEST_CASE("mmapio_touch_pages_range: NO_MEMORY when populating runs out of "
          "memory",
          "[mmapio_touch_pages_range][errors][touch]") {
  SysGuard guard(clear_records);
  MapPtr m = anon_with_block(8 * kMiB);
  g_probe_answer = MMI_PAGE_HUGE;
  guard.set("page_mapping", fake_probe);
  guard.set("populate", fake_populate);
  g_fail_errno = ENOMEM;
  check_error(mmapio_touch_pages_range(m.get(), 0, 8 * kMiB),
              MMAPIO_E_NO_MEMORY, ENOMEM, "madvise");
}

TEST_CASE("mmapio_touch_pages_range: IO when populating fails otherwise",
          "[mmapio_touch_pages_range][errors][touch]") {
  SysGuard guard(clear_records);
  MapPtr m = anon_with_block(8 * kMiB);
  g_probe_answer = MMI_PAGE_HUGE;
  guard.set("page_mapping", fake_probe);
  guard.set("populate", fake_populate);
  g_fail_errno = EIO;
  check_error(mmapio_touch_pages_range(m.get(), 0, 8 * kMiB), MMAPIO_E_IO, EIO,
              "madvise");
}

namespace {
void touch_all_fails_with(PopulateFailure f) {
  SysGuard guard(clear_records);
  MapPtr m = anon_with_block(8 * kMiB);
  g_probe_answer = MMI_PAGE_HUGE;
  guard.set("page_mapping", fake_probe);
  guard.set("populate", fake_populate);
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
  SysGuard guard(clear_records);
  MapPtr m = anon_with_block(8 * kMiB);
  // As fast as over huge pages: the cached answer is never doubted. The
  // clock is the fake one, so that a preemption on a loaded machine does
  // not make a populate look slow.
  fake_range(guard, MMI_PAGE_HUGE);
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
          "[mmapio_touch_pages][touch][linux]") {
  if (!pagemap_blocker().empty())
    MMAPIO_SKIP(pagemap_blocker());
  SysGuard guard(clear_records);
  MapPtr m = anon_with_block(8 * kMiB);
  g_probe_answer = MMI_PAGE_SMALL;
  guard.set("page_mapping", fake_probe);
  guard.set("populate", fake_populate);
  const unsigned n = 2 * MMI_TOUCH_SMALL_RECHECK + 1;
  for (unsigned i = 0; i < n; i++)
    REQUIRE_OK(mmapio_touch_pages(m.get()));
  CHECK(g_populates.empty());
  CHECK(g_probes.size() == 3); // the first call, and each recheck
  CHECK(present_pages(mmapio_base(m.get()), 8 * kMiB) == 8 * kMiB / kPage);
}

TEST_CASE("mmapio_touch_pages: a handle does not inherit what was cached "
          "for a closed one at the same addresses",
          "[mmapio_touch_pages][touch][linux]") {
  if (!pagemap_blocker().empty())
    MMAPIO_SKIP(pagemap_blocker());
  SysGuard guard(clear_records);
  guard.set("page_mapping", fake_probe);
  guard.set("populate", fake_populate);
  // Handles opened and closed one after another: the allocator soon
  // gives a new handle the address of a closed one, and mmap its base.
  // Each first touch must look at its own pages: a cached "small pages"
  // answer of a closed handle would loop over pages that are not mapped
  // for MMI_TOUCH_SMALL_RECHECK calls.
  const size_t size = 8 * kMiB;
  std::set<std::pair<uintptr_t, uintptr_t>> seen;
  bool reused = false;
  for (int i = 0; i < 64; i++) {
    MapPtr m = anon_with_block(size);
    auto id = std::make_pair(reinterpret_cast<uintptr_t>(m.get()),
                             reinterpret_cast<uintptr_t>(mmapio_base(m.get())));
    reused = reused || !seen.insert(id).second;
    g_probe_answer = MMI_PAGE_SMALL;
    g_probes.clear();
    REQUIRE_OK(mmapio_touch_pages(m.get()));
    CAPTURE(i);
    CHECK(g_probes.size() == 1);
  }
  if (!reused)
    WARN("no handle reused a closed one's addresses here (this allocator "
         "or a sanitizer's quarantine): nothing cached could be inherited");
}

TEST_CASE("mmapio_touch_pages: pages the probe cannot tell about are "
          "judged by the time their first page takes",
          "[mmapio_touch_pages][touch][linux]") {
  if (!populate_blocker().empty())
    MMAPIO_SKIP(populate_blocker());
  SysGuard guard(clear_records);
  MapPtr m = anon_with_block(8 * kMiB);
  g_probe_answer = MMI_PAGE_UNKNOWN; // a kernel without PAGEMAP_SCAN
  guard.set("page_mapping", fake_probe);
  guard.set("populate", fake_populate);
  guard.set("ticks", fake_ticks);
  SECTION("a read, not a fault: the loop, and nothing remembered") {
    g_loop_ticks = 1;
    for (int i = 0; i < 3; i++)
      REQUIRE_OK(mmapio_touch_pages(m.get()));
    CHECK(g_populates.empty());
    CHECK(g_probes.size() == 3); // nothing to remember: asked every time
  }
  SECTION("a fault: the way learned for pages not mapped") {
    g_loop_ticks = fault_ticks() * 4;
    g_populate_ticks = 1;
    REQUIRE_OK(mmapio_touch_pages(m.get()));
    CHECK_FALSE(g_populates.empty());
  }
  CHECK(present_pages(mmapio_base(m.get()), 8 * kMiB) == 8 * kMiB / kPage);
}

TEST_CASE("mmapio_touch_pages: pages not mapped take the way that measured "
          "faster, and the other runs alone over the whole range, the rarer "
          "the more it costs",
          "[mmapio_touch_pages][touch][linux]") {
  if (!pagemap_blocker().empty())
    MMAPIO_SKIP(pagemap_blocker());
  SysGuard guard(clear_records);
  const size_t size = 8 * kMiB;
  MapPtr m = anon_with_block(size);
  const uintptr_t lo = reinterpret_cast<uintptr_t>(mmapio_base(m.get()));
  fake_range(guard, MMI_PAGE_ABSENT); // the populated part stays unmapped
  // Which way is faster, by how much, and how often the other then runs
  // instead (touch.c, MMI_EXPLORE_EVERY): every 128 << k calls, 2^k at
  // least that ratio, at most every 8192nd. A timed call takes g_*_ticks.
  struct Plan {
    bool populate_faster;
    uint64_t ratio;
    int every;
  };
  const Plan plan = GENERATE(Plan{true, 3, 512}, Plan{true, 100000, 8192},
                             Plan{false, 3, 512});
  CAPTURE(plan.populate_faster, plan.ratio, plan.every);
  g_populate_ticks = plan.populate_faster ? 2048 : 2048 * plan.ratio;
  g_loop_ticks = plan.populate_faster ? 2048 * plan.ratio : 2048;
  // The first call knows neither cost: populate over the whole range,
  // timed; the second runs the loop, not yet measured, over all of it.
  REQUIRE_OK(mmapio_touch_pages(m.get()));
  REQUIRE(g_populates.size() == 1);
  CHECK(g_populates[0].first == lo);
  CHECK(g_populates[0].second == size);
  g_populates.clear();
  REQUIRE_OK(mmapio_touch_pages(m.get()));
  CHECK(g_populates.empty());
  CHECK(present_pages(mmapio_base(m.get()), size) == size / kPage);
  // Then the faster way, and on the plan.every-th call and its multiples
  // the other way instead; every call over the whole range.
  const int calls = 2 * plan.every;
  for (int i = 2; i < calls; i++)
    REQUIRE_OK(mmapio_touch_pages(m.get()));
  for (const auto &p : g_populates)
    CHECK(p.second == size);
  CHECK(g_populates.size() == (plan.populate_faster
                                   ? static_cast<size_t>(calls - 4)
                                   : static_cast<size_t>(2)));
  CHECK(g_probes.size() == static_cast<size_t>(calls)); // asked every time
}

TEST_CASE("mmapio_touch_pages: over pages not mapped a way is timed alone "
          "over the whole range, so the read-ahead that the first fault "
          "pays for the pages after it does not decide",
          "[mmapio_touch_pages][touch][linux]") {
  if (!pagemap_blocker().empty())
    MMAPIO_SKIP(pagemap_blocker());
  SysGuard guard(clear_records);
  const size_t size = 8 * kMiB;
  MapPtr m = anon_with_block(size);
  fake_range(guard, MMI_PAGE_ABSENT);
  // The first fault in a range reads ahead, so whichever way runs first
  // pays for nearly all of it, and the pages after come cheap: the fake
  // clock charges a stretch of work the same whatever its length. Over
  // the whole range the loop is a little faster. Timed on the first
  // eighth of the range, with populate on the rest, the loop looked
  // eight times dearer and never ran again (sparse files in the
  // harness: touch_pages populated, 7 % slower than the loop).
  g_populate_ticks = 2048;
  g_loop_ticks = 1900;
  for (int i = 0; i < 200; i++)
    REQUIRE_OK(mmapio_touch_pages(m.get()));
  g_populates.clear();
  for (int i = 0; i < 100; i++)
    REQUIRE_OK(mmapio_touch_pages(m.get()));
  INFO(g_populates.size() << " populate calls");
  CHECK(g_populates.size() <= 1); // only when it is timed
  for (const auto &p : g_populates)
    CHECK(p.second == size);
}

TEST_CASE("mmapio_touch_pages: a way that is now and then fast but usually "
          "slow loses to a way that is steadily faster",
          "[mmapio_touch_pages][touch][linux]") {
  if (!pagemap_blocker().empty())
    MMAPIO_SKIP(pagemap_blocker());
  SysGuard guard(clear_records);
  const size_t size = 8 * kMiB;
  MapPtr m = anon_with_block(size);
  fake_range(guard, MMI_PAGE_ABSENT);
  // Per page, in touch.c's units (16 times ticks per page): populate takes
  // 32 on one call in eight and 96 on the others; the loop takes 64
  // (8192 ticks over the 2048 pages). The first call populates, at its
  // fast figure, so populate is chosen first. Kept as its lowest figure,
  // populate's cost would stay under the loop's 64 for good (a slow call
  // raises it a sixteenth of the difference, and every eighth call
  // brings it back to 32); its usual figure is half again the loop's.
  g_populate_cycle = {2, 6, 6, 6, 6, 6, 6, 6};
  g_loop_ticks = 8192;
  REQUIRE_OK(mmapio_touch_pages(m.get()));
  REQUIRE(g_populates.size() == 1);
  CHECK(g_populates[0].second == size);
  for (int i = 0; i < 96; i++)
    REQUIRE_OK(mmapio_touch_pages(m.get()));
  // By now the loop does the work: over the next 64 calls, populate runs
  // only when it is timed (at most once), over the whole range.
  g_populates.clear();
  for (int i = 0; i < 64; i++)
    REQUIRE_OK(mmapio_touch_pages(m.get()));
  INFO(g_populates.size() << " populate calls");
  CHECK(g_populates.size() <= 1);
  for (const auto &p : g_populates)
    CHECK(p.second == size);
}

TEST_CASE("mmapio_touch_pages: how pages not mapped came in is learned per "
          "handle: one file's cost does not choose for another",
          "[mmapio_touch_pages][touch][linux]") {
  if (!pagemap_blocker().empty())
    MMAPIO_SKIP(pagemap_blocker());
  SysGuard guard(clear_records);
  const size_t size = 8 * kMiB;
  MapPtr holes = anon_with_block(size);
  MapPtr cold = anon_with_block(size);
  fake_range(guard, MMI_PAGE_ABSENT);
  const uintptr_t lo = reinterpret_cast<uintptr_t>(mmapio_base(cold.get()));
  // The first handle's pages come in far faster by the loop: its first
  // call populates, its second loops, and from then on it loops
  // (populate runs again only every 8192nd call).
  g_loop_ticks = 2048;
  g_populate_ticks = 2048 * 100000;
  for (int i = 0; i < 4; i++)
    REQUIRE_OK(mmapio_touch_pages(holes.get()));
  CHECK(g_populates.size() == 1);
  // The other handle's pages take the loop 100 times as long, and come in
  // faster by populate. Its first call goes by what the process learned:
  // the loop.
  g_populates.clear();
  g_loop_ticks = 2048 * 100;
  g_populate_ticks = 2048;
  REQUIRE_OK(mmapio_touch_pages(cold.get()));
  CHECK(g_populates.empty());
  // One call may be slow for reasons of its own: the loop is timed again.
  REQUIRE_OK(mmapio_touch_pages(cold.get()));
  CHECK(g_populates.empty());
  // Twice the loop cost this file far more than the process had seen: the
  // process's figure for populate no longer stands in, so the next call
  // times populate, and from then on it populates.
  for (int i = 0; i < 2; i++) {
    REQUIRE_OK(mmapio_touch_pages(cold.get()));
    REQUIRE(g_populates.size() == static_cast<size_t>(i + 1));
    CHECK(g_populates[i].first == lo);
    CHECK(g_populates[i].second == size);
  }
  // And the first goes on looping: what the second learned is its own.
  // It had timed populate once, far dearer than the process has seen since,
  // so it times it once more (one call can be slow for reasons of its
  // own); with two timings its own figure stands, and it loops.
  g_populates.clear();
  g_loop_ticks = 2048;
  g_populate_ticks = 2048 * 100000;
  REQUIRE_OK(mmapio_touch_pages(holes.get()));
  CHECK(g_populates.size() == 1);
  for (int i = 0; i < 8; i++)
    REQUIRE_OK(mmapio_touch_pages(holes.get()));
  CHECK(g_populates.size() == 1);
}

TEST_CASE("mmapio_touch_pages: a new handle's first call over pages not "
          "mapped goes by what the process learned, timing nothing on the "
          "side, and one slow call of that way does not make it give it up",
          "[mmapio_touch_pages][touch][linux]") {
  if (!pagemap_blocker().empty())
    MMAPIO_SKIP(pagemap_blocker());
  SysGuard guard(clear_records);
  const size_t size = 8 * kMiB;
  fake_range(guard, MMI_PAGE_ABSENT);
  // Files alike, whose pages come in by populate at a quarter of the loop's
  // time (the harness's sparse files); in touch.c's units populate 16, the
  // loop 64 a page.
  g_populate_ticks = 2048;
  g_loop_ticks = 2048 * 4;
  touch_new_handle(size, 2); // populate, then the loop, each timed
  REQUIRE(g_populates.size() == 1);
  CHECK(g_populates[0].second == size);
  // Each new handle of the same kind populates the whole range at once:
  // not the slower loop on its first (often its only) call.
  for (int i = 0; i < 3; i++) {
    g_populates.clear();
    MapPtr next = anon_with_block(size);
    const uintptr_t lo = reinterpret_cast<uintptr_t>(mmapio_base(next.get()));
    REQUIRE_OK(mmapio_touch_pages(next.get()));
    REQUIRE(g_populates.size() == 1);
    CHECK(g_populates[0].first == lo);
    CHECK(g_populates[0].second == size);
  }
  // A new handle's first populate takes ten times its usual time (a host
  // fault, say), then every call its usual time. Taken as it came, that
  // call made the handle time the loop next and keep it: every later call
  // looped, at 4 times the cost, for 512 calls.
  g_populate_cycle.assign(64, 1);
  g_populate_cycle[0] = 10;
  MapPtr slow_first = anon_with_block(size);
  g_populates.clear();
  for (int i = 0; i < 64; i++)
    REQUIRE_OK(mmapio_touch_pages(slow_first.get()));
  CHECK(g_populates.size() == 64);
}

TEST_CASE("mmapio_touch_pages: what the process learned of pages not "
          "mapped is kept per kind: pages in the page cache and pages not "
          "in it do not choose for each other",
          "[mmapio_touch_pages][touch][linux]") {
  if (!pagemap_blocker().empty())
    MMAPIO_SKIP(pagemap_blocker());
  SysGuard guard(clear_records);
  // At least 256 pages, the least range told apart by kind.
  const size_t size = std::max<size_t>(8 * kMiB, 256 * kPage);
  fake_range(guard, MMI_PAGE_ABSENT);
  // Two kinds of file by turns in one process, whose ways compare the
  // other way round (figures made up for the mechanism): pages not cached
  // come in faster by populate, cached ones by the loop. Learned as one
  // prior, each new handle went by the kind that ran last.
  struct Kind {
    const char *name;
    bool in_core;
    uint64_t populate_ticks, loop_ticks; // over the whole range
  };
  const Kind kinds[] = {{"not cached", false, 1024, 2048 * 100},
                        {"cached", true, 2048 * 100, 2048}};
  auto as = [](const Kind &k) {
    g_in_core = k.in_core;
    g_populate_ticks = k.populate_ticks;
    g_loop_ticks = k.loop_ticks;
  };
  auto populate_faster = [](const Kind &k) {
    return k.populate_ticks < k.loop_ticks;
  };
  // The first handle of each kind: a call of each way, timed.
  for (const Kind &k : kinds) {
    as(k);
    g_populates.clear();
    touch_new_handle(size, 4);
    CAPTURE(k.name);
    CHECK(g_populates.size() == (populate_faster(k) ? 3u : 1u));
  }
  // Each new handle's first call takes its kind's faster way, whichever
  // kind came before.
  for (int round = 0; round < 2; round++)
    for (const Kind &k : kinds) {
      as(k);
      MapPtr next = anon_with_block(size);
      g_populates.clear();
      REQUIRE_OK(mmapio_touch_pages(next.get()));
      CAPTURE(round, k.name);
      CHECK(g_populates.size() == (populate_faster(k) ? 1u : 0u));
    }
  // A handle whose pages change kind (read by another process since, say)
  // goes by what the process learned of the new kind, not by its own
  // figures of the old one (populate over pages not cached, cheaper than
  // the loop over cached ones).
  as(kinds[0]);
  MapPtr h = anon_with_block(size);
  for (int i = 0; i < 4; i++)
    REQUIRE_OK(mmapio_touch_pages(h.get()));
  as(kinds[1]);
  g_populates.clear();
  REQUIRE_OK(mmapio_touch_pages(h.get()));
  CHECK(g_populates.empty());
}

TEST_CASE("mmapio_touch_pages_range: ranges of fewer than 256 pages not "
          "mapped are not told apart by kind (no system call to look), "
          "larger ones by their last page",
          "[mmapio_touch_pages_range][touch][linux]") {
  if (!pagemap_blocker().empty())
    MMAPIO_SKIP(pagemap_blocker());
  SysGuard guard(clear_records);
  MapPtr m = anon_with_block(std::max<size_t>(8 * kMiB, 512 * kPage));
  fake_range(guard, MMI_PAGE_ABSENT);
  // Ranges from the mapping's start, whose base is 2 MiB-aligned, of
  // less than a huge page (2 MiB where the system does not say, as the
  // library takes it): the probe of the first page decides.
  REQUIRE(mmi_huge_aligned(mmapio_base(m.get())));
  REQUIRE(256 * kPage < std::max<size_t>(mmi_os_pmd_size(), 2 * kMiB));
  REQUIRE_OK(mmapio_touch_pages_range(m.get(), 0, 255 * kPage));
  CHECK(g_kind_looks.empty());
  // 256 pages: one look, at the last page (the first may just have been
  // read, and read ahead for the pages after it).
  REQUIRE_OK(mmapio_touch_pages_range(m.get(), 0, 256 * kPage));
  REQUIRE(g_kind_looks.size() == 1);
  CHECK(g_kind_looks[0] ==
        reinterpret_cast<uintptr_t>(mmapio_base(m.get())) + 255 * kPage);
}

TEST_CASE("mmapio_touch_pages: the real probe tells pages not mapped from "
          "small ones",
          "[mmapio_touch_pages][touch][linux]") {
  MMAPIO_REQUIRE_CAP(MMAPIO_CAP_PAGEMAP_SCAN);
  SysGuard guard(clear_records);
  MapPtr m = anon_with_block(8 * kMiB);
  const unsigned char *blk =
      first_aligned_block(mmapio_base(m.get()), 8 * kMiB);
  const int fresh = mmi_os_page_mapping(blk);
  CHECK(fresh == MMI_PAGE_ABSENT);
  volatile unsigned char sink =
      *reinterpret_cast<const volatile unsigned char *>(blk);
  (void)sink;
  const int mapped = mmi_os_page_mapping(blk);
  CHECK((mapped == MMI_PAGE_SMALL || mapped == MMI_PAGE_HUGE));
}

TEST_CASE("mmapio_touch_pages_range: a small range without a whole huge "
          "page probes its first page until a look finds it mapped",
          "[mmapio_touch_pages_range][touch][linux]") {
  if (!pagemap_blocker().empty())
    MMAPIO_SKIP(pagemap_blocker());
  SysGuard guard(clear_records);
  MapPtr m = anon_with_block(8 * kMiB);
  g_probe_answer = MMI_PAGE_SMALL;
  guard.set("page_mapping", fake_probe);
  guard.set("populate", fake_populate);
  const auto *base = static_cast<const unsigned char *>(mmapio_base(m.get()));
  const unsigned char *blk = first_aligned_block(base, 8 * kMiB);
  const uint64_t off = static_cast<uint64_t>(blk - base);
  // 20 pages starting one page into the block: no whole huge page.
  REQUIRE_OK(mmapio_touch_pages_range(m.get(), off + kPage, 20 * kPage));
  REQUIRE(g_probes.size() == 1);
  CHECK(g_probes[0] == reinterpret_cast<uintptr_t>(blk + kPage));
  // Found mapped: the next small touches neither probe nor populate.
  REQUIRE_OK(mmapio_touch_pages_range(m.get(), 0, kPage));
  REQUIRE_OK(mmapio_touch_pages_range(m.get(), off + kPage, 20 * kPage));
  CHECK(g_probes.size() == 1);
  CHECK(g_populates.empty());
  CHECK(present_pages(blk + kPage, 20 * kPage) == 20);
  // A resize may leave pages unmapped: the next small touch looks again.
  REQUIRE_OK(mmapio_resize(m.get(), 9 * kMiB, nullptr));
  REQUIRE_OK(mmapio_touch_pages_range(m.get(), 0, kPage));
  CHECK(g_probes.size() == 2);
  // So does MADV_DONTNEED.
  REQUIRE_OK(mmapio_advise(m.get(), 0, kPage, MMAPIO_ADVICE_DONTNEED));
  g_probe_answer = MMI_PAGE_ABSENT;
  guard.set("ticks", fake_ticks);
  g_loop_ticks = 1000000; // the loop measures slow: populate, once both
                          // ways have been timed
  for (int i = 0; i < 3; i++)
    REQUIRE_OK(mmapio_touch_pages_range(m.get(), 0, 16 * kPage));
  // Not mapped: every call looks again.
  CHECK(g_probes.size() == 2 + 3);
  CHECK_FALSE(g_populates.empty());
}

TEST_CASE("mmapio_touch_pages_range: a large range without a whole huge page "
          "is probed while the hint does not say mapped, and then trusted, its "
          "first page timed on the calls that time the loop",
          "[mmapio_touch_pages_range][touch]") {
  SysGuard guard(clear_records);
  const uint64_t len = 300 * kPage; // over 256 pages, no whole huge page
  // From a page into a 2 MiB block, a range holds the next whole block
  // once it reaches 4 MiB: pages larger than 4 KiB make that impossible.
  if (kPage + len >= 4 * kMiB)
    MMAPIO_SKIP("with " << kPage
                        << "-byte pages a range of over 256 pages from a page "
                           "into a 2 MiB block always holds the next whole "
                           "block");
  MapPtr m = anon_with_block(8 * kMiB);
  guard.set("page_mapping", fake_probe);
  guard.set("populate", fake_populate);
  guard.set("ticks", fake_ticks);
  const auto *base = static_cast<const unsigned char *>(mmapio_base(m.get()));
  const uint64_t off =
      static_cast<uint64_t>(first_aligned_block(base, 8 * kMiB) - base) + kPage;
  // A fresh handle: a probe, no timed read (which would take a fault).
  g_probe_answer = MMI_PAGE_SMALL;
  REQUIRE_OK(mmapio_touch_pages_range(m.get(), off, len));
  CHECK(g_probes.size() == 1);
  const uint64_t now = g_now;
  // Found mapped: the next three calls, the first of their size class,
  // each time a way of looping not measured yet (bare, light, paced) and
  // their first page, and probe nothing; a fast read keeps the loop.
  for (int i = 0; i < 3; i++) {
    const uint64_t before = g_now;
    REQUIRE_OK(mmapio_touch_pages_range(m.get(), off, len));
    CHECK(g_probes.size() == 1);
    CHECK(g_now > before);
    CHECK(g_populates.empty());
  }
  CHECK(g_now > now);
  // The pages went away: calls that do not time their loop trust the hint
  // (no probe, no populate, no reading of the clock); the next that does
  // (at most 16 calls later) finds its first read faulted and sends the
  // rest the way learned for pages not mapped.
  g_loop_ticks = fault_ticks() * 4;
  int calls = 0;
  while (g_populates.empty() && calls < 16) {
    const uint64_t before = g_now;
    REQUIRE_OK(mmapio_touch_pages_range(m.get(), off, len));
    calls++;
    CHECK(g_probes.size() == 1);
    if (g_populates.empty())
      CHECK(g_now == before);
  }
  INFO(calls << " calls");
  CHECK(calls > 1);
  CHECK_FALSE(g_populates.empty());
  // The hint now says not mapped: the next call probes again.
  REQUIRE_OK(mmapio_touch_pages_range(m.get(), off, len));
  CHECK(g_probes.size() == 2);
}

TEST_CASE("mmapio_touch_pages_range: once a look found pages mapped, a small "
          "range is looped inline, page by page",
          "[mmapio_touch_pages_range][touch][linux]") {
  if (!pagemap_blocker().empty())
    MMAPIO_SKIP(pagemap_blocker());
  SysGuard guard(clear_records);
  MapPtr m = anon_with_block(8 * kMiB);
  g_probe_answer = MMI_PAGE_SMALL;
  guard.set("page_mapping", fake_probe);
  guard.set("populate", fake_populate);
  const auto *base = static_cast<const unsigned char *>(mmapio_base(m.get()));
  REQUIRE_OK(mmapio_touch_pages_range(m.get(), 0, 1)); // sets the hint
  REQUIRE(g_probes.size() == 1);
  // Pages 100..116 are not mapped yet; an unaligned range over 17 of them.
  const uint64_t off = 100 * kPage + 5;
  REQUIRE(present_pages(base + 99 * kPage, 19 * kPage) == 0);
  REQUIRE_OK(mmapio_touch_pages_range(m.get(), off, 16 * kPage));
  CHECK(g_probes.size() == 1);
  CHECK(present_pages(base + 99 * kPage, kPage) == 0);
  CHECK(present_pages(base + 100 * kPage, 17 * kPage) == 17);
  CHECK(present_pages(base + 117 * kPage, kPage) == 0);
  // Length 0, and the checks of a view.
  CHECK_OK(mmapio_touch_pages_range(m.get(), 8 * kMiB, 0));
  CHECK_CODE(mmapio_touch_pages_range(m.get(), 8 * kMiB - kPage, kPage + 1),
             MMAPIO_E_OUT_OF_BOUNDS);
  CHECK_CODE(mmapio_touch_pages_range(nullptr, 0, 1),
             MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_touch_pages: a slow populate takes the loop until the "
          "next probe",
          "[mmapio_touch_pages][touch][hugepages][linux]") {
  if (!pagemap_blocker().empty())
    MMAPIO_SKIP(pagemap_blocker());
  SysGuard guard(clear_records);
  MapPtr m = anon_with_block(8 * kMiB);
  g_probe_answer = MMI_PAGE_HUGE;
  g_populate_sleep_us = 50000; // far slower than huge pages go
  g_populate_real = false;
  guard.set("page_mapping", fake_probe);
  guard.set("populate", fake_populate);
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
          "[mmapio_touch_pages][touch][hugepages][linux]") {
  if (!populate_blocker().empty())
    MMAPIO_SKIP(populate_blocker());
  SysGuard guard(clear_records);
  const size_t size = 64 * kMiB;
  MapPtr m = anon_with_block(size);
  const auto *base = static_cast<const unsigned char *>(mmapio_base(m.get()));
  const uintptr_t lo = reinterpret_cast<uintptr_t>(base);
  guard.set("page_mapping", fake_probe);
  guard.set("populate", fake_populate);
  g_populate_real = false; // the populated part stays unmapped
  SECTION("small first, huge after (a file read in by faults)") {
    g_probe_answer = MMI_PAGE_SMALL;
    g_probe_last_answer = MMI_PAGE_HUGE;
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
    g_probe_answer = MMI_PAGE_HUGE;
    g_probe_last_answer = MMI_PAGE_SMALL;
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
    g_probe_answer = MMI_PAGE_HUGE;
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
    guard.set("ticks", fake_ticks);
    g_loop_ticks = 1000000; // a fault: the first page tells "not mapped"
    const struct {
      int first, after;
    } cases[] = {{MMI_PAGE_UNKNOWN, MMI_PAGE_HUGE},
                 {MMI_PAGE_SMALL, MMI_PAGE_ABSENT}};
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
      // Segments 1..7 are one run, done one way.
      const uintptr_t split = g_probes[1];
      bool run_populated = false;
      for (const auto &p : g_populates)
        run_populated |= p.first + p.second == lo + size && p.first >= split;
      CHECK(run_populated);
    }
  }
}

TEST_CASE("mmapio_touch_pages: a small range is probed once, a large one "
          "at most 16 times",
          "[mmapio_touch_pages][touch]") {
  SysGuard guard(clear_records);
  guard.set("page_mapping", fake_probe);
  guard.set("populate", fake_populate);
  g_probe_answer = MMI_PAGE_SMALL;
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
          "[mmapio_touch_pages][touch][linux]") {
  if (!pagemap_blocker().empty())
    MMAPIO_SKIP(pagemap_blocker());
  SysGuard guard(clear_records);
  MapPtr m = anon_with_block(8 * kMiB);
  g_probe_answer = MMI_PAGE_HUGE;
  guard.set("page_mapping", fake_probe);
  guard.set("populate", fake_populate);
  g_fail_errno = EINVAL; // what a kernel before 5.14 says
  REQUIRE_OK(mmapio_touch_pages(m.get()));
  CHECK(g_populates.size() == 1);
  CHECK(present_pages(mmapio_base(m.get()), 8 * kMiB) == 8 * kMiB / kPage);
}
