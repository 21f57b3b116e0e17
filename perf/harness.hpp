// The perf harness's shared machinery: options, data files, page-cache
// control (really cold / really warm), raw mappings, the group table.
//
// Naming: every benchmark is BM_<op>_<impl>[/args], where impl is
//   floor[_<kind>]  a raw floor doing identical work over identical ranges
//   mmapio          the library
//   boost, glib     peers (Boost.Interprocess mapped_region, GMappedFile)
// scripts/report.py and scripts/gate.py pair benchmarks by <op> and args.
#ifndef MMAPIO_PERF_HARNESS_HPP
#define MMAPIO_PERF_HARNESS_HPP

#include <benchmark/benchmark.h>

#include "mmapio.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

// Library sides that need API beyond the core land when the header has
// it; CMake probes the header and defines MMAPIO_PERF_HAVE_<AREA>.
#ifndef MMAPIO_PERF_HAVE_ITERATORS
#define MMAPIO_PERF_HAVE_ITERATORS 0
#endif
#ifndef MMAPIO_PERF_HAVE_ATOMICS
#define MMAPIO_PERF_HAVE_ATOMICS 0
#endif
#ifndef MMAPIO_PERF_HAVE_TOUCH
#define MMAPIO_PERF_HAVE_TOUCH 0
#endif
#ifndef MMAPIO_PERF_HAVE_ADVISE
#define MMAPIO_PERF_HAVE_ADVISE 0
#endif
#ifndef MMAPIO_PERF_HAVE_EVERY_MILLIS
#define MMAPIO_PERF_HAVE_EVERY_MILLIS 0
#endif
#ifndef MMAPIO_PERF_HAVE_FLUSH_HINT
#define MMAPIO_PERF_HAVE_FLUSH_HINT 0
#endif
// The gate's own test builds the harness with the gated library paths
// deliberately slowed (target mmapio_perf_slowed); never set otherwise.
#ifndef MMAPIO_PERF_SLOWED
#define MMAPIO_PERF_SLOWED 0
#endif
// The gate's power test (scripts/test_gate.sh --power) builds the harness
// with the library's chunk walk doing PERMILLE / 1000 of its work (target
// mmapio_perf_power); 0 otherwise.
#ifndef MMAPIO_PERF_SLOWDOWN_PERMILLE
#define MMAPIO_PERF_SLOWDOWN_PERMILLE 0
#endif

namespace mperf {

constexpr int64_t KiB = 1024;
constexpr int64_t MiB = 1024 * KiB;
constexpr int64_t GiB = 1024 * MiB;

using Sizes = std::vector<int64_t>;

// ---- options (parsed from --mmapio_* flags by main) ----

struct Options {
  std::string group;    // the group this process runs
  bool quick = false;   // smaller sizes, for CI and --quick
  std::string dir;      // where data files live (disk-backed for cold)
  std::string meta_out; // sidecar JSON: peak RSS, cold-check results
};
const Options &options();

// Sizes for a group: the full list, or the quick subset.
Sizes pick(const Sizes &full, const Sizes &quick);

// ---- errors ----

// Aborts the run with a message (a harness error, not a measurement).
[[noreturn]] void die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
// Dies naming an mmapio call that failed and the library's detail.
[[noreturn]] void fail_call(int rc, const char *what);
// Dies when an mmapio call failed (inline: cheap on hot paths).
inline void check(int rc, const char *what) {
  if (__builtin_expect(rc != 0, 0))
    fail_call(rc, what);
}

// ---- files ----

// A file of `size` bytes with a non-zero pattern, written and fsynced
// once per process, so its pages are on disk and clean (droppable).
// Removed at exit.
const std::string &data_file(int64_t size);
// A fresh path under the harness directory (nothing created). Removed at
// exit if it exists.
std::string scratch_path(const std::string &tag);
// Creates (or truncates) path as a sparse file of size bytes.
void make_sparse(const std::string &path, int64_t size);
// Page size of the system.
size_t page();

// ---- a raw mapping (the floors' side) ----

class RawMap {
public:
  RawMap() = default;
  // Opens path with flags and maps all of it with prot / mapflags.
  RawMap(const std::string &path, int oflags, int prot, int mapflags);
  RawMap(const RawMap &) = delete;
  RawMap &operator=(const RawMap &) = delete;
  ~RawMap();
  unsigned char *data() const { return p_; }
  size_t size() const { return n_; }
  int fd() const { return fd_; }

private:
  int fd_ = -1;
  unsigned char *p_ = nullptr;
  size_t n_ = 0;
};

// RAII for a library handle.
struct Handle {
  mmapio_map *m = nullptr;
  Handle() = default;
  explicit Handle(mmapio_map *mm) : m(mm) {}
  Handle(const Handle &) = delete;
  Handle &operator=(const Handle &) = delete;
  ~Handle() { mmapio_close(m); }
  mmapio_map *get() const { return m; }
};
// Opens path in mode through the library (dies on failure).
mmapio_map *open_map(const std::string &path, mmapio_mode mode);

// ---- page cache ----

// Fraction of [addr, addr+len) resident in the page cache (mincore).
double resident(const void *addr, size_t len);
// Makes the file behind fd (mapped at addr, len bytes) cold: zaps this
// process's page-table entries (MADV_DONTNEED), drops its clean pages
// (POSIX_FADV_DONTNEED), checks with mincore. Returns the resident
// fraction after the drop (0 when really cold).
double make_cold(int fd, void *addr, size_t len);
// Faults in every page of [addr, addr+len) by reading one byte per page,
// again (up to four passes) while a page is missing, and returns the
// resident fraction (1 when really warm).
double make_warm(const void *addr, size_t len);
// For benchmarks: marks the run warm and fails it unless resident is 1.
bool require_warm(benchmark::State &st, const void *addr, size_t len);
// For benchmarks: the largest resident fraction accepted as "cold".
constexpr double kColdMax = 0.01;
// True when the harness directory can hold cold data (not tmpfs).
bool cold_possible();

// ---- timing and data ----

using Clock = std::chrono::steady_clock;
inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
// CPU time of the calling thread (user + system), in seconds.
double thread_cpu_seconds();
// n pseudo-random offsets in [0, limit], multiples of align (fixed seed:
// every implementation reads the same sequence).
std::vector<uint64_t> offsets(size_t n, uint64_t limit, uint64_t align);

// Consumes a value so the compiler keeps the work that produced it.
template <class T> inline void keep(T &&v) { benchmark::DoNotOptimize(v); }

// Records that a library side was not compiled in (API not in this
// build's header); reported in the run's context for the gate.
void api_missing(const char *area);

// ---- groups ----

struct Group {
  const char *name; // e.g. "reads"
  int number;       // SPEC section 14 group number
  const char *title;
  void (*reg)(); // registers the group's benchmarks
};
const std::vector<Group> &groups();

// One registration function per group file.
void register_chunks();  // 1  bm_chunks.cpp
void register_reads();   // 2  bm_reads.cpp
void register_touch();   // 3  bm_touch.cpp
void register_flush();   // 4  bm_flush.cpp
void register_atomics(); // 5  bm_atomics.cpp
void register_open();    // 6  bm_open.cpp
void register_policy();  // 7  bm_policy.cpp
void register_scaling(); // 8  bm_scaling.cpp

// Families that group 8 re-registers over more sizes and threads.
void reads_register_seq(const Sizes &sizes, int threads);
void reads_register_random(const Sizes &lens, int threads);
void chunks_register_over(const Sizes &file_sizes, int64_t chunk);
void touch_register(const char *state, const Sizes &sizes);

} // namespace mperf

#endif
