// Group 5: atomics over a 4 KiB read-write shared mapping.
//   atomic_add64_<impl>, atomic_add32_<impl>  fetch_add(1) on one counter
//       at offset 64, 1 and 2 threads (2: both on the same counter).
//       floor: a C11 atomic_fetch_add, seq_cst (GCC's __atomic builtin,
//       the code <stdatomic.h> expands to) on the mapped word.
//   atomic_view_<impl>  getting a 64-bit atomic view at an aligned offset
//       (floor: the bounds and alignment checks and the pointer, inline).
#include "source.hpp"

namespace mperf {

namespace {

constexpr int64_t kFile = 4 * KiB;
constexpr uint64_t kOff = 64;

template <class T> void atomic_add_floor(benchmark::State &st) {
  Source *s = shared_open(st, Impl::Floor, data_file(kFile), true);
  T *p = reinterpret_cast<T *>(s->base() + kOff);
  for (auto _ : st)
    keep(__atomic_fetch_add(p, 1, __ATOMIC_SEQ_CST));
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
  shared_close(st);
}

void atomic_view_floor(benchmark::State &st) {
  Source *s = shared_open(st, Impl::Floor, data_file(kFile), true);
  unsigned char *base = s->base();
  const uint64_t size = s->size();
  uint64_t off = kOff;
  for (auto _ : st) {
    benchmark::DoNotOptimize(off);
    void *v = nullptr;
    int rc = (off & 7) != 0                      ? -9
             : !(off <= size && 8 <= size - off) ? -3
                                                 : (v = base + off, 0);
    keep(rc);
    keep(v);
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
  shared_close(st);
}

#if MMAPIO_PERF_HAVE_ATOMICS
void atomic_add64_mmapio(benchmark::State &st) {
  Source *s = shared_open(st, Impl::Mmapio, data_file(kFile), true);
  mmapio_atomic_u64 *a = nullptr;
  check(mmapio_view_atomic_u64_mut(s->map(), kOff, &a),
        "mmapio_view_atomic_u64_mut");
  for (auto _ : st)
    keep(mmapio_atomic_u64_fetch_add(a, 1));
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
  shared_close(st);
}

void atomic_add32_mmapio(benchmark::State &st) {
  Source *s = shared_open(st, Impl::Mmapio, data_file(kFile), true);
  mmapio_atomic_u32 *a = nullptr;
  check(mmapio_view_atomic_u32_mut(s->map(), kOff, &a),
        "mmapio_view_atomic_u32_mut");
  for (auto _ : st)
    keep(mmapio_atomic_u32_fetch_add(a, 1));
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
  shared_close(st);
}

void atomic_view_mmapio(benchmark::State &st) {
  Source *s = shared_open(st, Impl::Mmapio, data_file(kFile), true);
  mmapio_map *m = s->map();
  uint64_t off = kOff;
  for (auto _ : st) {
    benchmark::DoNotOptimize(off);
    mmapio_atomic_u64 *v = nullptr;
    int rc = mmapio_view_atomic_u64_mut(m, off, &v);
    keep(rc);
    keep(v);
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
  shared_close(st);
}
#endif

void threads_1_2(benchmark::internal::Benchmark *b) {
  b->Threads(1)->Threads(2)->UseRealTime();
}

} // namespace

void register_atomics() {
  threads_1_2(benchmark::RegisterBenchmark("BM_atomic_add64_floor",
                                           atomic_add_floor<uint64_t>));
  threads_1_2(benchmark::RegisterBenchmark("BM_atomic_add32_floor",
                                           atomic_add_floor<uint32_t>));
  benchmark::RegisterBenchmark("BM_atomic_view_floor", atomic_view_floor);
#if MMAPIO_PERF_HAVE_ATOMICS
  threads_1_2(benchmark::RegisterBenchmark("BM_atomic_add64_mmapio",
                                           atomic_add64_mmapio));
  threads_1_2(benchmark::RegisterBenchmark("BM_atomic_add32_mmapio",
                                           atomic_add32_mmapio));
  benchmark::RegisterBenchmark("BM_atomic_view_mmapio", atomic_view_mmapio);
#else
  api_missing("atomics");
#endif
}

} // namespace mperf
