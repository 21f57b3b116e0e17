// mmapio_capability_query: every capability answers, with a name and a
// reason; the answers agree with what the functions behind them do; the
// query keeps nothing; and its documented errors.
#include "support.hpp"
#include "support_proc.hpp"

#include <climits>
#include <fstream>
#include <set>
#include <sstream>

#include <sys/mman.h>
#include <sys/resource.h>

using namespace mmapio_test;

namespace {

// The lines of /proc/self/maps: the query's scratch page must be gone.
std::string maps_now() {
  std::ifstream in("/proc/self/maps");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace

TEST_CASE("mmapio_capability_query: every capability answers with its name "
          "and a reason, and keeps nothing",
          "[capability][linux]") {
  std::set<std::string> names;
  // Once first: the C library's own first-use state (the pagemap
  // descriptor the library keeps open, locale data of strerror) is then
  // part of what later queries are compared with.
  for (int c = 0; c < MMAPIO_CAP_COUNT; c++)
    query_capability(static_cast<mmapio_capability>(c));
  const size_t fds = fd_count();
  const std::string maps = maps_now();
  for (int c = 0; c < MMAPIO_CAP_COUNT; c++) {
    const mmapio_capability_info info =
        query_capability(static_cast<mmapio_capability>(c));
    REQUIRE(info.name != nullptr);
    CHECK(std::strlen(info.name) > 0);
    CHECK(names.insert(info.name).second);
    const size_t len = strnlen(info.reason, sizeof info.reason);
    CHECK(len > 0);
    CHECK(len < sizeof info.reason); // terminated
  }
  CHECK(fd_count() == fds);
#ifndef MMAPIO_SUPPORT_SANITIZED_
  // (A sanitizer's runtime maps and unmaps its own memory meanwhile.)
  CHECK(maps_now() == maps);
#else
  (void)maps;
#endif
}

TEST_CASE("mmapio_capability_query: INVALID_ARGUMENT when out is NULL or "
          "the value is not a capability, and *out untouched",
          "[capability][errors]") {
  CHECK_CODE(mmapio_capability_query(MMAPIO_CAP_PAGE_SIZE, nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
  // Values no enumerator has go through a function pointer taking int in
  // the enum's place (the C ABI passes the enum as int), so C++ never
  // holds an invalid enum value.
  using QueryIntFn = int (*)(int, mmapio_capability_info *);
  const auto query_int = reinterpret_cast<QueryIntFn>(&mmapio_capability_query);
  for (int bad : {-1, static_cast<int>(MMAPIO_CAP_COUNT), INT_MAX}) {
    INFO("capability " << bad);
    mmapio_capability_info info;
    std::memset(&info, 0x5A, sizeof info);
    mmapio_capability_info before = info;
    CHECK_CODE(query_int(bad, &info), MMAPIO_E_INVALID_ARGUMENT);
    CHECK(std::memcmp(&info, &before, sizeof info) == 0);
    CHECK(std::strstr(mmapio_last_error()->message, "capability") != nullptr);
  }
}

TEST_CASE("mmapio_capability_query: the page size, the memlock limit and "
          "the growth reservation are this process's",
          "[capability]") {
  const mmapio_capability_info page = query_capability(MMAPIO_CAP_PAGE_SIZE);
  CHECK(page.supported);
  CHECK(page.value == mmapio_page_size());

  const mmapio_capability_info lock = query_capability(MMAPIO_CAP_MLOCK);
  struct rlimit rl;
  REQUIRE(::getrlimit(RLIMIT_MEMLOCK, &rl) == 0);
  CHECK(lock.value == (rl.rlim_cur == RLIM_INFINITY
                           ? UINT64_MAX
                           : static_cast<uint64_t>(rl.rlim_cur)));

  const mmapio_capability_info growth =
      query_capability(MMAPIO_CAP_STABLE_GROWTH);
  CHECK(growth.supported == (sizeof(void *) == 8));
  if (growth.supported) {
    // Growing within what is reserved keeps the base.
    TempDir td;
    const std::string p = td.path("grow");
    MapPtr guard = create_map(p, kPage);
    mmapio_map *m = guard.get();
    const void *base = mmapio_base(m);
    bool moved = true;
    REQUIRE_OK(mmapio_resize(m, growth.value / 2, &moved));
    CHECK_FALSE(moved);
    CHECK(mmapio_base(m) == base);
  }
}

TEST_CASE("mmapio_capability_query: each answer agrees with the function "
          "behind it",
          "[capability][linux]") {
  TempDir td;
  const std::string p = make_file(td, "f", pattern_bytes(4 * kPage, 1));
  MapPtr file = open_map(p, MMAPIO_MODE_RW);
  mmapio_map *m = file.get();

  SECTION("watch") {
    const mmapio_capability_info c = query_capability(MMAPIO_CAP_WATCH);
    mmapio_watch *w = nullptr;
    const int rc = mmapio_watch_start(
        &w, m, [](const mmapio_watch_event *, void *) {}, nullptr);
    CHECK((rc != MMAPIO_E_UNSUPPORTED) == c.supported);
    mmapio_watch_stop(w);
  }
  SECTION("streams") {
    const mmapio_capability_info c = query_capability(MMAPIO_CAP_STREAMS);
    FILE *f = nullptr;
    const int rc = mmapio_fopen(&f, m, "r");
    CHECK((rc != MMAPIO_E_UNSUPPORTED) == c.supported);
    if (f != nullptr)
      std::fclose(f);
  }
  SECTION("memory-file seals") {
    const mmapio_capability_info c = query_capability(MMAPIO_CAP_MEMFD_SEALS);
    mmapio_map *a = nullptr;
    REQUIRE_OK(mmapio_anon(&a, kPage));
    MapPtr anon(a);
    const int rc = mmapio_anon_seal(a, MMAPIO_SEAL_GROW);
    CHECK((rc == MMAPIO_OK) == c.supported);
    if (!c.supported)
      CHECK(rc == MMAPIO_E_UNSUPPORTED);
  }
  SECTION("mlock") {
    const mmapio_capability_info c = query_capability(MMAPIO_CAP_MLOCK);
    if (c.supported && c.value >= kPage) {
      CHECK_OK(mmapio_lock(m, 0, kPage));
      CHECK_OK(mmapio_unlock(m, 0, kPage));
    }
  }
  SECTION("populate_read") {
    const mmapio_capability_info c = query_capability(MMAPIO_CAP_POPULATE_READ);
#ifdef MADV_POPULATE_READ
    // Supported only where the kernel takes the advice.
    if (c.supported) {
      void *v = nullptr;
      REQUIRE_OK(mmapio_base_mut(m, &v));
      CHECK(::madvise(v, kPage, MADV_POPULATE_READ) == 0);
    }
#else
    CHECK_FALSE(c.supported);
#endif
  }
  SECTION("hugetlb: the pool's free pages") {
    const mmapio_capability_info c = query_capability(MMAPIO_CAP_HUGETLB);
    std::ifstream in("/proc/meminfo");
    std::string key;
    uint64_t v = 0, free_pages = 0, reserved = 0, size_kb = 0;
    while (in >> key >> v) {
      if (key == "HugePages_Free:")
        free_pages = v;
      else if (key == "HugePages_Rsvd:")
        reserved = v;
      else if (key == "Hugepagesize:")
        size_kb = v;
      in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
    }
    if (size_kb == 0) {
      CHECK_FALSE(c.supported);
    } else {
      const uint64_t usable = free_pages > reserved ? free_pages - reserved : 0;
      CHECK(c.value == usable);
      CHECK(c.supported == (usable > 0));
    }
  }
}
