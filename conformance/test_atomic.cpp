// Atomic views: getting them (bounds, alignment, mode), the inline
// operations, threads, and processes sharing a file or a memfd region.
//
// Child exit codes (atomic_adder): 0 success, 2 open failed, 4 the view
// failed, 6 bad arguments.
#include "support.hpp"
#include "support_proc.hpp"

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

using namespace mmapio_test;

namespace {

constexpr unsigned long kPerThread = 1000000;

// A read-only mapping of size bytes holding bytes (zero-padded).
MapPtr ro_map(const TempDir &td, uint64_t size, const std::string &bytes = "") {
  std::string content(size, '\0');
  content.replace(0, bytes.size(), bytes);
  const std::string p = make_file(td, "ro", content);
  return open_map(p, MMAPIO_MODE_RO);
}

template <class T> T read_value(mmapio_map *m, uint64_t off) {
  T v{};
  REQUIRE_OK(mmapio_read(m, off, &v, sizeof v));
  return v;
}

// Sentinels that a failing call must leave in its output parameter.
mmapio_atomic_u32 *const kBad32 = reinterpret_cast<mmapio_atomic_u32 *>(0x10);
mmapio_atomic_u64 *const kBad64 = reinterpret_cast<mmapio_atomic_u64 *>(0x10);

} // namespace

// ------------------------------------------------------------------
// Happy paths
// ------------------------------------------------------------------

TEST_CASE("atomic u32: every inline operation acts on the mapped bytes",
          "[mmapio_view_atomic_u32_mut][atomic]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  mmapio_atomic_u32 *a = nullptr;
  REQUIRE_OK(mmapio_view_atomic_u32_mut(m.get(), 12, &a));
  const void *v = nullptr;
  REQUIRE_OK(mmapio_view(m.get(), 12, 4, &v));
  CHECK(static_cast<const void *>(a) == v);

  mmapio_atomic_u32_store(a, 40);
  CHECK(mmapio_atomic_u32_load(a) == 40);
  CHECK(read_value<uint32_t>(m.get(), 12) == 40);
  CHECK(mmapio_atomic_u32_fetch_add(a, 2) == 40);
  CHECK(mmapio_atomic_u32_fetch_sub(a, 10) == 42);
  CHECK(mmapio_atomic_u32_fetch_or(a, 0xF00) == 32);
  CHECK(mmapio_atomic_u32_fetch_and(a, 0xF20) == 0xF20);
  CHECK(mmapio_atomic_u32_exchange(a, 7) == 0xF20);
  uint32_t expected = 8;
  CHECK_FALSE(mmapio_atomic_u32_compare_exchange(a, &expected, 9));
  CHECK(expected == 7);
  CHECK(mmapio_atomic_u32_compare_exchange(a, &expected, 9));
  CHECK(read_value<uint32_t>(m.get(), 12) == 9);
  // fetch_sub wraps like unsigned arithmetic.
  mmapio_atomic_u32_store(a, 0);
  CHECK(mmapio_atomic_u32_fetch_sub(a, 1) == 0);
  CHECK(mmapio_atomic_u32_load(a) == UINT32_MAX);
  // The neighbours are untouched.
  CHECK(read_value<uint32_t>(m.get(), 8) == 0);
  CHECK(read_value<uint32_t>(m.get(), 16) == 0);
}

TEST_CASE("atomic u64: every inline operation acts on the mapped bytes",
          "[mmapio_view_atomic_u64_mut][atomic]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  mmapio_atomic_u64 *a = nullptr;
  REQUIRE_OK(mmapio_view_atomic_u64_mut(m.get(), kPage - 8, &a));
  const uint64_t big = 0x1234567890ULL;
  mmapio_atomic_u64_store(a, big);
  CHECK(mmapio_atomic_u64_load(a) == big);
  CHECK(read_value<uint64_t>(m.get(), kPage - 8) == big);
  CHECK(mmapio_atomic_u64_fetch_add(a, 1) == big);
  CHECK(mmapio_atomic_u64_fetch_sub(a, 1) == big + 1);
  CHECK(mmapio_atomic_u64_fetch_or(a, 1ULL << 63) == big);
  CHECK(mmapio_atomic_u64_fetch_and(a, 0xFF) == (big | 1ULL << 63));
  CHECK(mmapio_atomic_u64_exchange(a, 5) == 0x90);
  uint64_t expected = 6;
  CHECK_FALSE(mmapio_atomic_u64_compare_exchange(a, &expected, 1));
  CHECK(expected == 5);
  CHECK(mmapio_atomic_u64_compare_exchange(a, &expected, 1ULL << 40));
  CHECK(read_value<uint64_t>(m.get(), kPage - 8) == 1ULL << 40);
}

TEST_CASE("atomic views: the read-only views load values on every mode",
          "[mmapio_view_atomic_u32][mmapio_view_atomic_u64][atomic]") {
  TempDir td;
  std::string bytes(16, '\0');
  const uint32_t v32 = 0xCAFEF00Du;
  const uint64_t v64 = 0x0123456789ABCDEFULL;
  std::memcpy(&bytes[4], &v32, 4);
  std::memcpy(&bytes[8], &v64, 8);
  const std::string p =
      make_file(td, "f", bytes + std::string(kPage - 16, '\0'));
  const mmapio_mode mode =
      GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_RW, MMAPIO_MODE_COW);
  CAPTURE(mode);
  MapPtr m = open_map(p, mode);
  const mmapio_atomic_u32 *a = nullptr;
  const mmapio_atomic_u64 *b = nullptr;
  REQUIRE_OK(mmapio_view_atomic_u32(m.get(), 4, &a));
  REQUIRE_OK(mmapio_view_atomic_u64(m.get(), 8, &b));
  CHECK(mmapio_atomic_u32_load(a) == v32);
  CHECK(mmapio_atomic_u64_load(b) == v64);
}

TEST_CASE("atomic arrays: each element is its own atomic at off + i * width",
          "[mmapio_view_atomic_u32_array_mut][mmapio_view_atomic_u64_array_"
          "mut][mmapio_view_atomic_u32_array][mmapio_view_atomic_u64_array]["
          "atomic]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), 2 * kPage);
  const size_t n32 = kPage / 4;
  mmapio_atomic_u32 *a = nullptr;
  REQUIRE_OK(mmapio_view_atomic_u32_array_mut(m.get(), 0, n32, &a));
  for (size_t i = 0; i < n32; i++)
    mmapio_atomic_u32_fetch_add(&a[i], static_cast<uint32_t>(i * 3));
  const size_t n64 = kPage / 8;
  mmapio_atomic_u64 *b = nullptr;
  REQUIRE_OK(mmapio_view_atomic_u64_array_mut(m.get(), kPage, n64, &b));
  for (size_t i = 0; i < n64; i++)
    mmapio_atomic_u64_store(&b[i], (uint64_t)i << 33);

  for (size_t i = 0; i < n32; i += 97)
    CHECK(read_value<uint32_t>(m.get(), 4 * i) == i * 3);
  CHECK(read_value<uint32_t>(m.get(), 4 * (n32 - 1)) == (n32 - 1) * 3);
  for (size_t i = 0; i < n64; i += 31)
    CHECK(read_value<uint64_t>(m.get(), kPage + 8 * i) == (uint64_t)i << 33);

  const mmapio_atomic_u32 *ca = nullptr;
  const mmapio_atomic_u64 *cb = nullptr;
  REQUIRE_OK(mmapio_view_atomic_u32_array(m.get(), 0, n32, &ca));
  REQUIRE_OK(mmapio_view_atomic_u64_array(m.get(), kPage, n64, &cb));
  CHECK(mmapio_atomic_u32_load(&ca[n32 - 1]) == (n32 - 1) * 3);
  CHECK(mmapio_atomic_u64_load(&cb[n64 - 1]) == (uint64_t)(n64 - 1) << 33);

  // An array that ends exactly at the end of the mapping, and an empty one
  // at the end.
  REQUIRE_OK(mmapio_view_atomic_u64_array_mut(m.get(), 0, 2 * kPage / 8, &b));
  REQUIRE_OK(mmapio_view_atomic_u32_array(m.get(), 2 * kPage, 0, &ca));
}

TEST_CASE("atomic views: values written through them reach the file",
          "[mmapio_view_atomic_u64_mut][atomic]") {
  TempDir td;
  const std::string p = td.path("f");
  {
    MapPtr m = create_map(p, kPage);
    mmapio_atomic_u64 *a = nullptr;
    REQUIRE_OK(mmapio_view_atomic_u64_mut(m.get(), 64, &a));
    mmapio_atomic_u64_fetch_add(a, 0xABCDEF);
    REQUIRE_OK(mmapio_flush(m.get()));
  }
  const std::string bytes = read_bytes(p);
  uint64_t v = 0;
  std::memcpy(&v, bytes.data() + 64, 8);
  CHECK(v == 0xABCDEF);
}

TEST_CASE("atomic views: a COW view is private to its handle",
          "[mmapio_view_atomic_u32_mut][atomic][cow]") {
  TempDir td;
  const std::string p = make_file(td, "f", std::string(kPage, '\0'));
  MapPtr cow = open_map(p, MMAPIO_MODE_COW);
  MapPtr rw = open_map(p, MMAPIO_MODE_RW);
  mmapio_atomic_u32 *a = nullptr;
  REQUIRE_OK(mmapio_view_atomic_u32_mut(cow.get(), 0, &a));
  mmapio_atomic_u32_fetch_add(a, 5);
  CHECK(mmapio_atomic_u32_load(a) == 5);
  CHECK(read_value<uint32_t>(rw.get(), 0) == 0);
}

TEST_CASE("atomic views: a view taken before growth stays the same object",
          "[mmapio_view_atomic_u64_mut][mmapio_resize][atomic][resize]") {
  // Growth in place reads the file through the mapping past its old end.
  if (!file_tail_blocker().empty())
    MMAPIO_SKIP(file_tail_blocker());
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  mmapio_atomic_u64 *a = nullptr;
  REQUIRE_OK(mmapio_view_atomic_u64_mut(m.get(), 8, &a));
  mmapio_atomic_u64_store(a, 11);
  bool moved = true;
  REQUIRE_OK(mmapio_resize(m.get(), 64 * kPage, &moved));
  mmapio_atomic_u64_fetch_add(a, 1);
  CHECK(read_value<uint64_t>(m.get(), 8) == 12);
  // The grown part has atomics too.
  mmapio_atomic_u64 *b = nullptr;
  REQUIRE_OK(mmapio_view_atomic_u64_mut(m.get(), 63 * kPage, &b));
  CHECK(mmapio_atomic_u64_fetch_add(b, 1) == 0);
}

TEST_CASE("atomic views: two threads x 10^6 fetch_add reach the exact sum",
          "[mmapio_view_atomic_u64_mut][mmapio_view_atomic_u32_mut][atomic]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  auto work = [&m] {
    // Each thread gets its own views: getting one is thread-safe.
    mmapio_atomic_u64 *a = nullptr;
    mmapio_atomic_u32 *b = nullptr;
    if (mmapio_view_atomic_u64_mut(m.get(), 0, &a) != 0 ||
        mmapio_view_atomic_u32_mut(m.get(), 64, &b) != 0)
      return;
    for (unsigned long i = 0; i < kPerThread; i++) {
      mmapio_atomic_u64_fetch_add(a, 1);
      mmapio_atomic_u32_fetch_add(b, 1);
    }
  };
  std::thread t1(work), t2(work);
  t1.join();
  t2.join();
  CHECK(read_value<uint64_t>(m.get(), 0) == 2 * kPerThread);
  CHECK(read_value<uint32_t>(m.get(), 64) == 2 * kPerThread);
}

// ------------------------------------------------------------------
// Across processes
// ------------------------------------------------------------------

namespace {

const uint64_t kCounterOff = 128;
const uint64_t kGateOff = 192;

// Every child increments the gate and spins (yielding) until all n are
// there, so their loops overlap. A gate that never fills (a sibling died)
// gives up after a few seconds; the sum check still decides the test.
void child_gate(mmapio_atomic_u32 *gate, uint32_t n) {
  mmapio_atomic_u32_fetch_add(gate, 1);
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  while (mmapio_atomic_u32_load(gate) < n) {
    sched_yield();
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - start.tv_sec > 10)
      break;
  }
}

} // namespace

// argv: "file" PATH | "fd" N, count, processes. Maps the file (or the
// inherited memfd) RW and does count fetch_adds on the u64 at kCounterOff.
MMAPIO_CHILD(atomic_adder) {
  if (argc < 4)
    return 6;
  const unsigned long n = std::strtoul(argv[2], nullptr, 10);
  const uint32_t procs =
      static_cast<uint32_t>(std::strtoul(argv[3], nullptr, 10));
  mmapio_map *m = nullptr;
  int rc;
  if (std::strcmp(argv[0], "fd") == 0) {
    const int fd = ::fcntl(std::atoi(argv[1]), F_DUPFD_CLOEXEC, 3);
    if (fd < 0)
      return 2;
    rc = mmapio_from_fd(&m, fd, MMAPIO_MODE_RW, nullptr);
    if (rc != 0)
      ::close(fd);
  } else {
    rc = mmapio_open(&m, argv[1], MMAPIO_MODE_RW);
  }
  if (rc != 0)
    return 2;
  mmapio_atomic_u64 *counter = nullptr;
  mmapio_atomic_u32 *gate = nullptr;
  if (mmapio_view_atomic_u64_mut(m, kCounterOff, &counter) != 0 ||
      mmapio_view_atomic_u32_mut(m, kGateOff, &gate) != 0) {
    mmapio_close(m);
    return 4;
  }
  child_gate(gate, procs);
  for (unsigned long i = 0; i < n; i++)
    mmapio_atomic_u64_fetch_add(counter, 1);
  mmapio_close(m);
  return 0;
}

TEST_CASE("atomic views across processes: two processes x 10^6 fetch_add on "
          "one file reach the exact sum",
          "[mmapio_view_atomic_u64_mut][atomic][ipc]") {
  TempDir td;
  const std::string p = td.path("counter");
  MapPtr m = create_map(p, kPage);
  const unsigned long per_child = 1000000;
  const std::vector<std::string> args = {"file", p, std::to_string(per_child),
                                         "2"};
  const pid_t a = spawn_child("atomic_adder", args);
  const pid_t b = spawn_child("atomic_adder", args);
  const int sa = wait_child(a), sb = wait_child(b);
  INFO("children: " << describe_status(sa) << ", " << describe_status(sb));
  REQUIRE(sa == 0);
  REQUIRE(sb == 0);
  const mmapio_atomic_u64 *c = nullptr;
  REQUIRE_OK(mmapio_view_atomic_u64(m.get(), kCounterOff, &c));
  CHECK(mmapio_atomic_u64_load(c) == 2 * per_child);
}

TEST_CASE("atomic views across processes: two processes x 10^6 fetch_add on "
          "a shared anonymous (memfd) region reach the exact sum",
          "[mmapio_view_atomic_u64_mut][atomic][ipc][linux]") {
  // The region has no name: the children inherit its descriptor.
  const int fd = ::memfd_create("mmapio-atomic-test", 0);
  if (fd < 0)
    MMAPIO_SKIP("memfd_create failed: " << std::strerror(errno));
  REQUIRE(::ftruncate(fd, static_cast<off_t>(kPage)) == 0);
  const int mine = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  REQUIRE(mine >= 0);
  mmapio_map *raw = nullptr;
  REQUIRE_OK(mmapio_from_fd(&raw, mine, MMAPIO_MODE_RW, nullptr));
  MapPtr m(raw);
  const unsigned long per_child = 1000000;
  const std::vector<std::string> args = {"fd", std::to_string(fd),
                                         std::to_string(per_child), "2"};
  const pid_t a = spawn_child("atomic_adder", args);
  const pid_t b = spawn_child("atomic_adder", args);
  ::close(fd);
  const int sa = wait_child(a), sb = wait_child(b);
  INFO("children: " << describe_status(sa) << ", " << describe_status(sb));
  REQUIRE(sa == 0);
  REQUIRE(sb == 0);
  CHECK(read_value<uint64_t>(m.get(), kCounterOff) == 2 * per_child);
  CHECK(read_value<uint32_t>(m.get(), kGateOff) == 2);
}

// ------------------------------------------------------------------
// Errors: mmapio_view_atomic_u32
// ------------------------------------------------------------------

TEST_CASE("mmapio_view_atomic_u32: INVALID_ARGUMENT when m or out is NULL",
          "[mmapio_view_atomic_u32][errors][atomic]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  const mmapio_atomic_u32 *a = kBad32;
  CHECK_CODE(mmapio_view_atomic_u32(nullptr, 0, &a), MMAPIO_E_INVALID_ARGUMENT);
  CHECK(a == kBad32);
  CHECK_CODE(mmapio_view_atomic_u32(m.get(), 0, nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_view_atomic_u32: MISALIGNED when off is not a multiple of 4",
          "[mmapio_view_atomic_u32][errors][atomic]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  for (uint64_t off : {1, 2, 3, 5, 4095}) {
    CAPTURE(off);
    const mmapio_atomic_u32 *a = kBad32;
    CHECK_CODE(mmapio_view_atomic_u32(m.get(), off, &a), MMAPIO_E_MISALIGNED);
    CHECK(a == kBad32);
    CHECK(mmapio_last_error()->code == MMAPIO_E_MISALIGNED);
  }
}

TEST_CASE("mmapio_view_atomic_u32: OUT_OF_BOUNDS when off + 4 exceeds the "
          "length",
          "[mmapio_view_atomic_u32][errors][atomic]") {
  TempDir td;
  MapPtr m = ro_map(td, 4 * 3);
  const mmapio_atomic_u32 *a = kBad32;
  REQUIRE_OK(mmapio_view_atomic_u32(m.get(), 8, &a));
  a = kBad32;
  for (uint64_t off :
       {uint64_t{12}, uint64_t{16}, uint64_t{1} << 40, UINT64_MAX - 3}) {
    CAPTURE(off);
    CHECK_CODE(mmapio_view_atomic_u32(m.get(), off, &a),
               MMAPIO_E_OUT_OF_BOUNDS);
    CHECK(a == kBad32);
  }
}

// ------------------------------------------------------------------
// Errors: mmapio_view_atomic_u32_mut
// ------------------------------------------------------------------

TEST_CASE("mmapio_view_atomic_u32_mut: INVALID_ARGUMENT when m or out is NULL",
          "[mmapio_view_atomic_u32_mut][errors][atomic]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  mmapio_atomic_u32 *a = kBad32;
  CHECK_CODE(mmapio_view_atomic_u32_mut(nullptr, 0, &a),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(a == kBad32);
  CHECK_CODE(mmapio_view_atomic_u32_mut(m.get(), 0, nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_view_atomic_u32_mut: INVALID_MODE when the mapping is "
          "read-only",
          "[mmapio_view_atomic_u32_mut][errors][atomic]") {
  TempDir td;
  MapPtr m = ro_map(td, kPage);
  mmapio_atomic_u32 *a = kBad32;
  CHECK_CODE(mmapio_view_atomic_u32_mut(m.get(), 0, &a), MMAPIO_E_INVALID_MODE);
  CHECK(a == kBad32);
}

TEST_CASE("mmapio_view_atomic_u32_mut: MISALIGNED when off is not a multiple "
          "of 4",
          "[mmapio_view_atomic_u32_mut][errors][atomic]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  mmapio_atomic_u32 *a = kBad32;
  CHECK_CODE(mmapio_view_atomic_u32_mut(m.get(), 6, &a), MMAPIO_E_MISALIGNED);
  CHECK(a == kBad32);
}

TEST_CASE("mmapio_view_atomic_u32_mut: OUT_OF_BOUNDS when off + 4 exceeds the "
          "length",
          "[mmapio_view_atomic_u32_mut][errors][atomic]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  mmapio_atomic_u32 *a = kBad32;
  CHECK_CODE(mmapio_view_atomic_u32_mut(m.get(), kPage, &a),
             MMAPIO_E_OUT_OF_BOUNDS);
  CHECK(a == kBad32);
  REQUIRE_OK(mmapio_view_atomic_u32_mut(m.get(), kPage - 4, &a));
}

// ------------------------------------------------------------------
// Errors: mmapio_view_atomic_u64
// ------------------------------------------------------------------

TEST_CASE("mmapio_view_atomic_u64: INVALID_ARGUMENT when m or out is NULL",
          "[mmapio_view_atomic_u64][errors][atomic]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  const mmapio_atomic_u64 *a = kBad64;
  CHECK_CODE(mmapio_view_atomic_u64(nullptr, 0, &a), MMAPIO_E_INVALID_ARGUMENT);
  CHECK(a == kBad64);
  CHECK_CODE(mmapio_view_atomic_u64(m.get(), 0, nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_view_atomic_u64: MISALIGNED when off is not a multiple of 8",
          "[mmapio_view_atomic_u64][errors][atomic]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  for (uint64_t off : {1, 4, 7, 12, 4092}) {
    CAPTURE(off);
    const mmapio_atomic_u64 *a = kBad64;
    CHECK_CODE(mmapio_view_atomic_u64(m.get(), off, &a), MMAPIO_E_MISALIGNED);
    CHECK(a == kBad64);
  }
}

TEST_CASE("mmapio_view_atomic_u64: OUT_OF_BOUNDS when off + 8 exceeds the "
          "length",
          "[mmapio_view_atomic_u64][errors][atomic]") {
  TempDir td;
  MapPtr m = ro_map(td, 20);
  const mmapio_atomic_u64 *a = kBad64;
  REQUIRE_OK(mmapio_view_atomic_u64(m.get(), 8, &a));
  a = kBad64;
  for (uint64_t off : {uint64_t{16}, uint64_t{24}, UINT64_MAX - 7}) {
    CAPTURE(off);
    CHECK_CODE(mmapio_view_atomic_u64(m.get(), off, &a),
               MMAPIO_E_OUT_OF_BOUNDS);
    CHECK(a == kBad64);
  }
}

// ------------------------------------------------------------------
// Errors: mmapio_view_atomic_u64_mut
// ------------------------------------------------------------------

TEST_CASE("mmapio_view_atomic_u64_mut: INVALID_ARGUMENT when m or out is NULL",
          "[mmapio_view_atomic_u64_mut][errors][atomic]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  mmapio_atomic_u64 *a = kBad64;
  CHECK_CODE(mmapio_view_atomic_u64_mut(nullptr, 0, &a),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(a == kBad64);
  CHECK_CODE(mmapio_view_atomic_u64_mut(m.get(), 0, nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_view_atomic_u64_mut: INVALID_MODE when the mapping is "
          "read-only",
          "[mmapio_view_atomic_u64_mut][errors][atomic]") {
  TempDir td;
  MapPtr m = ro_map(td, kPage);
  mmapio_atomic_u64 *a = kBad64;
  CHECK_CODE(mmapio_view_atomic_u64_mut(m.get(), 0, &a), MMAPIO_E_INVALID_MODE);
  CHECK(a == kBad64);
}

TEST_CASE("mmapio_view_atomic_u64_mut: MISALIGNED when off is not a multiple "
          "of 8",
          "[mmapio_view_atomic_u64_mut][errors][atomic]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  mmapio_atomic_u64 *a = kBad64;
  CHECK_CODE(mmapio_view_atomic_u64_mut(m.get(), 4, &a), MMAPIO_E_MISALIGNED);
  CHECK(a == kBad64);
}

TEST_CASE("mmapio_view_atomic_u64_mut: OUT_OF_BOUNDS when off + 8 exceeds the "
          "length",
          "[mmapio_view_atomic_u64_mut][errors][atomic]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  mmapio_atomic_u64 *a = kBad64;
  CHECK_CODE(mmapio_view_atomic_u64_mut(m.get(), kPage, &a),
             MMAPIO_E_OUT_OF_BOUNDS);
  CHECK(a == kBad64);
  REQUIRE_OK(mmapio_view_atomic_u64_mut(m.get(), kPage - 8, &a));
}

// ------------------------------------------------------------------
// Errors: the array views
// ------------------------------------------------------------------

TEST_CASE("mmapio_view_atomic_u32_array: INVALID_ARGUMENT when m or out is "
          "NULL",
          "[mmapio_view_atomic_u32_array][errors][atomic]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  const mmapio_atomic_u32 *a = kBad32;
  CHECK_CODE(mmapio_view_atomic_u32_array(nullptr, 0, 1, &a),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(a == kBad32);
  CHECK_CODE(mmapio_view_atomic_u32_array(m.get(), 0, 1, nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_view_atomic_u32_array: MISALIGNED when off is not a "
          "multiple of 4",
          "[mmapio_view_atomic_u32_array][errors][atomic]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  const mmapio_atomic_u32 *a = kBad32;
  CHECK_CODE(mmapio_view_atomic_u32_array(m.get(), 2, 4, &a),
             MMAPIO_E_MISALIGNED);
  CHECK_CODE(mmapio_view_atomic_u32_array(m.get(), 2, 0, &a),
             MMAPIO_E_MISALIGNED);
  CHECK(a == kBad32);
}

TEST_CASE("mmapio_view_atomic_u32_array: OUT_OF_BOUNDS when off + 4 * count "
          "exceeds the length",
          "[mmapio_view_atomic_u32_array][errors][atomic]") {
  TempDir td;
  MapPtr m = ro_map(td, kPage);
  const mmapio_atomic_u32 *a = kBad32;
  CHECK_CODE(mmapio_view_atomic_u32_array(m.get(), 0, kPage / 4 + 1, &a),
             MMAPIO_E_OUT_OF_BOUNDS);
  CHECK_CODE(mmapio_view_atomic_u32_array(m.get(), 8, kPage / 4 - 1, &a),
             MMAPIO_E_OUT_OF_BOUNDS);
  // 4 * count overflows.
  CHECK_CODE(mmapio_view_atomic_u32_array(m.get(), 0, SIZE_MAX, &a),
             MMAPIO_E_OUT_OF_BOUNDS);
  CHECK(a == kBad32);
}

TEST_CASE("mmapio_view_atomic_u32_array_mut: INVALID_ARGUMENT when m or out "
          "is NULL",
          "[mmapio_view_atomic_u32_array_mut][errors][atomic]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  mmapio_atomic_u32 *a = kBad32;
  CHECK_CODE(mmapio_view_atomic_u32_array_mut(nullptr, 0, 1, &a),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(a == kBad32);
  CHECK_CODE(mmapio_view_atomic_u32_array_mut(m.get(), 0, 1, nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_view_atomic_u32_array_mut: INVALID_MODE when the mapping is "
          "read-only",
          "[mmapio_view_atomic_u32_array_mut][errors][atomic]") {
  TempDir td;
  MapPtr m = ro_map(td, kPage);
  mmapio_atomic_u32 *a = kBad32;
  CHECK_CODE(mmapio_view_atomic_u32_array_mut(m.get(), 0, 4, &a),
             MMAPIO_E_INVALID_MODE);
  CHECK(a == kBad32);
}

TEST_CASE("mmapio_view_atomic_u32_array_mut: MISALIGNED when off is not a "
          "multiple of 4",
          "[mmapio_view_atomic_u32_array_mut][errors][atomic]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  mmapio_atomic_u32 *a = kBad32;
  CHECK_CODE(mmapio_view_atomic_u32_array_mut(m.get(), 1, 4, &a),
             MMAPIO_E_MISALIGNED);
  CHECK(a == kBad32);
}

TEST_CASE("mmapio_view_atomic_u32_array_mut: OUT_OF_BOUNDS when off + 4 * "
          "count exceeds the length",
          "[mmapio_view_atomic_u32_array_mut][errors][atomic]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  mmapio_atomic_u32 *a = kBad32;
  CHECK_CODE(mmapio_view_atomic_u32_array_mut(m.get(), 4, kPage / 4, &a),
             MMAPIO_E_OUT_OF_BOUNDS);
  CHECK_CODE(mmapio_view_atomic_u32_array_mut(m.get(), 4, SIZE_MAX / 2, &a),
             MMAPIO_E_OUT_OF_BOUNDS);
  CHECK(a == kBad32);
}

TEST_CASE("mmapio_view_atomic_u64_array: INVALID_ARGUMENT when m or out is "
          "NULL",
          "[mmapio_view_atomic_u64_array][errors][atomic]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  const mmapio_atomic_u64 *a = kBad64;
  CHECK_CODE(mmapio_view_atomic_u64_array(nullptr, 0, 1, &a),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(a == kBad64);
  CHECK_CODE(mmapio_view_atomic_u64_array(m.get(), 0, 1, nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_view_atomic_u64_array: MISALIGNED when off is not a "
          "multiple of 8",
          "[mmapio_view_atomic_u64_array][errors][atomic]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  const mmapio_atomic_u64 *a = kBad64;
  CHECK_CODE(mmapio_view_atomic_u64_array(m.get(), 4, 2, &a),
             MMAPIO_E_MISALIGNED);
  CHECK(a == kBad64);
}

TEST_CASE("mmapio_view_atomic_u64_array: OUT_OF_BOUNDS when off + 8 * count "
          "exceeds the length",
          "[mmapio_view_atomic_u64_array][errors][atomic]") {
  TempDir td;
  MapPtr m = ro_map(td, kPage);
  const mmapio_atomic_u64 *a = kBad64;
  CHECK_CODE(mmapio_view_atomic_u64_array(m.get(), 8, kPage / 8, &a),
             MMAPIO_E_OUT_OF_BOUNDS);
  CHECK_CODE(mmapio_view_atomic_u64_array(m.get(), 0, SIZE_MAX / 4, &a),
             MMAPIO_E_OUT_OF_BOUNDS);
  CHECK(a == kBad64);
}

TEST_CASE("mmapio_view_atomic_u64_array_mut: INVALID_ARGUMENT when m or out "
          "is NULL",
          "[mmapio_view_atomic_u64_array_mut][errors][atomic]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  mmapio_atomic_u64 *a = kBad64;
  CHECK_CODE(mmapio_view_atomic_u64_array_mut(nullptr, 0, 1, &a),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(a == kBad64);
  CHECK_CODE(mmapio_view_atomic_u64_array_mut(m.get(), 0, 1, nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_view_atomic_u64_array_mut: INVALID_MODE when the mapping is "
          "read-only",
          "[mmapio_view_atomic_u64_array_mut][errors][atomic]") {
  TempDir td;
  MapPtr m = ro_map(td, kPage);
  mmapio_atomic_u64 *a = kBad64;
  CHECK_CODE(mmapio_view_atomic_u64_array_mut(m.get(), 0, 1, &a),
             MMAPIO_E_INVALID_MODE);
  CHECK(a == kBad64);
}

TEST_CASE("mmapio_view_atomic_u64_array_mut: MISALIGNED when off is not a "
          "multiple of 8",
          "[mmapio_view_atomic_u64_array_mut][errors][atomic]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  mmapio_atomic_u64 *a = kBad64;
  CHECK_CODE(mmapio_view_atomic_u64_array_mut(m.get(), 12, 1, &a),
             MMAPIO_E_MISALIGNED);
  CHECK(a == kBad64);
}

TEST_CASE("mmapio_view_atomic_u64_array_mut: OUT_OF_BOUNDS when off + 8 * "
          "count exceeds the length",
          "[mmapio_view_atomic_u64_array_mut][errors][atomic]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  mmapio_atomic_u64 *a = kBad64;
  CHECK_CODE(mmapio_view_atomic_u64_array_mut(m.get(), 0, kPage / 8 + 1, &a),
             MMAPIO_E_OUT_OF_BOUNDS);
  CHECK_CODE(mmapio_view_atomic_u64_array_mut(m.get(), 0, SIZE_MAX / 8 + 1, &a),
             MMAPIO_E_OUT_OF_BOUNDS);
  CHECK(a == kBad64);
}
