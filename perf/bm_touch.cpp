// Group 3: touch_pages (fault every page in now) over a read-only mapping,
// in three states, each benchmark labelled with its state:
//   warm    every page resident and mapped before the loop (checked);
//   cold    before every iteration (untimed): this process's page-table
//           entries zapped, the file's clean pages dropped with
//           POSIX_FADV_DONTNEED, and mincore checked to show at most 1 %
//           resident, or the benchmark fails;
//   sparse  before every iteration (untimed): the file truncated to 0 and
//           back, a fresh sparse file with nothing cached (checked).
// Cold and sparse iterations also prime the page allocator, untimed (see
// prime_allocator). Time: warm, the process's CPU time; cold, wall-clock time
// (it waits for the device); sparse, the thread's CPU time (page allocation in
// the kernel, no device). Implementations (one byte read per page unless said):
//   touch_<state>_floor           a bare loop, one byte per page
//   touch_<state>_floor_populate  one madvise(MADV_POPULATE_READ)
//   touch_<state>_mmapio          mmapio touch_pages
//   touch_naive_<state>_floor     one memcpy of one byte per page
//   touch_naive_<state>_mmapio    one mmapio_read of one byte per page
// touch_naive / touch is gate 1's second speedup.
#include "source.hpp"

#include <cerrno>
#include <cstring>
#include <mutex>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace mperf {

namespace {

enum class State { Warm, Cold, Sparse };
enum class Kind { Loop, Populate, Lib, NaiveFloor, NaiveLib };

const char *state_name(State s) {
  return s == State::Warm ? "warm" : s == State::Cold ? "cold" : "sparse";
}

// One pass of the kind's work over [0, len) of s. Returns false (and
// fails the benchmark) when the kernel refuses MADV_POPULATE_READ.
inline bool touch_once(benchmark::State &st, Kind kind, const Source &s,
                       size_t len) {
  const size_t pg = page();
  const unsigned char *base = s.base();
  unsigned sum = 0;
  switch (kind) {
  case Kind::Loop:
    for (size_t off = 0; off < len; off += pg)
      sum += base[off];
    break;
  case Kind::Populate:
    if (madvise(const_cast<unsigned char *>(base), len, MADV_POPULATE_READ) !=
        0) {
      st.SkipWithError(errno == EINVAL ? "MADV_POPULATE_READ unsupported"
                                       : "madvise(MADV_POPULATE_READ) failed");
      return false;
    }
    break;
  case Kind::NaiveFloor:
    for (size_t off = 0; off < len; off += pg) {
      unsigned char b;
      std::memcpy(&b, base + off, 1);
      sum += b;
    }
    break;
  case Kind::NaiveLib:
    for (size_t off = 0; off < len; off += pg) {
      unsigned char b;
      check(mmapio_read(s.map(), off, &b, 1), "mmapio_read");
      sum += b;
    }
    break;
  case Kind::Lib:
#if MMAPIO_PERF_HAVE_TOUCH && MMAPIO_PERF_SLOWED
    // The gate's self-test: the crate's pre-0.9.7 path, a lock and a call
    // per page, standing in for a touch_pages that regressed to it.
    for (size_t off = 0; off < len; off += pg) {
      static std::mutex mu;
      std::lock_guard<std::mutex> lock(mu);
      unsigned char b;
      check(mmapio_read(s.map(), off, &b, 1), "mmapio_read");
      sum += b;
    }
#elif MMAPIO_PERF_HAVE_TOUCH
    check(mmapio_touch_pages(s.map()), "mmapio_touch_pages");
#endif
    break;
  }
  keep(sum);
  return true;
}

// Faults in, and frees again, len bytes of huge-page-advised anonymous
// memory, so the page-cache folios the timed touch allocates next come
// from blocks the machine has just backed. On a VM whose balloon reports
// free 2 MiB blocks to the host (virtio free page reporting), a block
// that sat free for a couple of seconds is discarded by the host, and
// the guest's first write to it (the kernel zeroing a new folio) takes a
// host fault: measured here, a 1 GiB sparse touch took 2.2-2.7 s of CPU
// that way against 0.1-0.3 s on backed memory, for every implementation
// alike, flipping between the two from one repetition to the next. That
// is the hypervisor's cost, not the kernel's or the library's.
void prime_allocator(size_t len) {
  void *p = mmap(nullptr, len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    return; // best effort: the measurement stays valid, only noisier
  (void)madvise(p, len, MADV_HUGEPAGE);
  auto *b = static_cast<volatile unsigned char *>(p);
  for (size_t off = 0; off < len; off += page())
    b[off] = 1;
  munmap(p, len);
}

void fail_resident(benchmark::State &st, const char *what, double r) {
  char msg[128];
  std::snprintf(msg, sizeof msg, "%s: %.1f%% still resident after the drop",
                what, r * 100.0);
  st.SkipWithError(msg);
}

// The warm timing loop, one instance per kind: with the kind a run-time
// value, the compiler gave some kinds a loop of their own and left others
// to dispatch on the kind every iteration, a cost the measured path did
// not have (it fell on the library's, one load of a page, alone).
template <Kind K>
void warm_iterations(benchmark::State &st, const Source &s, size_t len) {
  for (auto _ : st)
    if (!touch_once(st, K, s, len))
      break;
}

void touch(benchmark::State &st, State state, Kind kind) {
  const int64_t size = st.range(0);
  const auto len = static_cast<size_t>(size);
  const Impl impl =
      kind == Kind::Lib || kind == Kind::NaiveLib ? Impl::Mmapio : Impl::Floor;
  st.SetLabel(state_name(state));
  if (state != State::Warm && !cold_possible()) {
    st.SkipWithError("cold/sparse runs need a disk-backed MMAPIO_PERF_DIR");
    return;
  }
  std::string path;
  int rwfd = -1; // sparse: truncates the file between iterations
  if (state == State::Sparse) {
    path = scratch_path("sparse");
    make_sparse(path, size);
    rwfd = open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (rwfd < 0)
      die("open %s: %s", path.c_str(), strerror(errno));
  } else {
    path = data_file(size);
  }
  {
    Source s(impl, path);
    double worst = 0.0;
    if (state == State::Warm) {
      if (require_warm(st, s.base(), len)) {
        // Indexed by Kind, in its order.
        static void (*const loops[])(benchmark::State &, const Source &,
                                     size_t) = {
            warm_iterations<Kind::Loop>, warm_iterations<Kind::Populate>,
            warm_iterations<Kind::Lib>, warm_iterations<Kind::NaiveFloor>,
            warm_iterations<Kind::NaiveLib>};
        loops[static_cast<int>(kind)](st, s, len);
      }
    } else {
      for (auto _ : st) {
        double r;
        if (state == State::Cold) {
          r = make_cold(s.fd(), s.base(), len);
        } else {
          if (ftruncate(rwfd, 0) != 0 || ftruncate(rwfd, size) != 0)
            die("ftruncate %s: %s", path.c_str(), strerror(errno));
          r = resident(s.base(), len);
        }
        worst = std::max(worst, r);
        prime_allocator(len);
        if (r > kColdMax) {
          fail_resident(st, state_name(state), r);
          break;
        }
        bool ok;
        if (state == State::Cold) {
          auto t0 = Clock::now();
          ok = touch_once(st, kind, s, len);
          st.SetIterationTime(seconds_since(t0));
        } else {
          // Sparse: the work is the kernel allocating and zeroing pages in
          // this thread, no device; its CPU time is what other load on
          // the machine disturbs least.
          double c0 = thread_cpu_seconds();
          ok = touch_once(st, kind, s, len);
          st.SetIterationTime(thread_cpu_seconds() - c0);
        }
        if (!ok)
          break;
      }
      st.counters["resident_pct_max"] = worst * 100.0;
    }
  }
  if (rwfd >= 0)
    close(rwfd);
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * size);
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations() * (len / page())));
}

} // namespace

void touch_register(const char *state_str, const Sizes &sizes) {
  const std::string sn = state_str;
  const State state = sn == "warm"   ? State::Warm
                      : sn == "cold" ? State::Cold
                                     : State::Sparse;
  struct {
    std::string name;
    Kind kind;
  } const kinds[] = {
      {"BM_touch_" + sn + "_floor", Kind::Loop},
      {"BM_touch_" + sn + "_floor_populate", Kind::Populate},
      {"BM_touch_" + sn + "_mmapio", Kind::Lib},
      {"BM_touch_naive_" + sn + "_floor", Kind::NaiveFloor},
      {"BM_touch_naive_" + sn + "_mmapio", Kind::NaiveLib},
  };
  for (const auto &k : kinds) {
    if (k.kind == Kind::Lib && !MMAPIO_PERF_HAVE_TOUCH) {
      api_missing("touch");
      continue;
    }
    auto *b =
        benchmark::RegisterBenchmark(k.name.c_str(), touch, state, k.kind);
    for (int64_t z : sizes)
      b->Arg(z);
    // A cold iteration's time comes from the device, far noisier than
    // memory: every repetition averages at least 0.25 s of them.
    if (state != State::Warm)
      b->UseManualTime()->MinTime(0.25);
  }
}

void register_touch() {
  const Sizes sizes =
      pick({1 * MiB, 8 * MiB, 32 * MiB, 1 * GiB}, {1 * MiB, 8 * MiB, 32 * MiB});
  touch_register("warm", sizes);
  touch_register("cold", sizes);
  touch_register("sparse", sizes);
}

} // namespace mperf
