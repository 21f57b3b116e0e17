// Group 1: zero-copy chunks vs owned chunks over a 16 MiB file (warm), at
// 4 KiB and 64 KiB, and pages / owned pages. Args: file size, chunk size.
//
// Every chunk is consumed the same way: its first byte and its length
// are added to a sum. Rates are chunks per second.
//   chunks, pages             floor: a bare pointer loop
//   chunks_owned, pages_owned floor: malloc + memcpy + free per chunk
// The pair chunks_owned / chunks is gate 1's first speedup.
#include "source.hpp"

#include <chrono>
#include <cstdlib>
#include <cstring>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace mperf {

namespace {

void chunks_floor(benchmark::State &st) {
  const size_t len = static_cast<size_t>(st.range(0));
  const size_t cs = static_cast<size_t>(st.range(1));
  Source s(Impl::Floor, data_file(st.range(0)));
  if (!require_warm(st, s.base(), s.size()))
    return;
  const unsigned char *base = s.base();
  for (auto _ : st) {
    uint64_t sum = 0;
    for (size_t off = 0; off < len; off += cs) {
      size_t n = len - off < cs ? len - off : cs;
      sum += base[off] + n;
    }
    keep(sum);
  }
  st.SetItemsProcessed(
      static_cast<int64_t>(st.iterations() * ((len + cs - 1) / cs)));
}

void chunks_owned_floor(benchmark::State &st) {
  const size_t len = static_cast<size_t>(st.range(0));
  const size_t cs = static_cast<size_t>(st.range(1));
  Source s(Impl::Floor, data_file(st.range(0)));
  if (!require_warm(st, s.base(), s.size()))
    return;
  const unsigned char *base = s.base();
  for (auto _ : st) {
    uint64_t sum = 0;
    for (size_t off = 0; off < len; off += cs) {
      size_t n = len - off < cs ? len - off : cs;
      auto *c = static_cast<unsigned char *>(std::malloc(n));
      if (c == nullptr)
        die("malloc(%zu) failed", n);
      std::memcpy(c, base + off, n);
      benchmark::DoNotOptimize(c);
      sum += c[0] + n;
      std::free(c);
    }
    keep(sum);
  }
  st.SetItemsProcessed(
      static_cast<int64_t>(st.iterations() * ((len + cs - 1) / cs)));
}

#if MMAPIO_PERF_SLOWDOWN_PERMILLE > 1000
// The power build's clock: the time-stamp counter where there is one (a
// few cycles to read; the fence keeps it after the walk's loads), else
// the monotonic clock.
inline uint64_t power_ticks() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_lfence();
  return __rdtsc();
#else
  return static_cast<uint64_t>(
      std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}
#endif

#if MMAPIO_PERF_HAVE_ITERATORS
// Zero-copy walk with mmapio_chunks_next (static inline). The slowed twin
// (gate self-test) copies every chunk before use: zero-copy lost, as in a
// regression that made the iterator copy.
void walk(benchmark::State &st, bool pages) {
  const size_t len = static_cast<size_t>(st.range(0));
  const size_t cs = static_cast<size_t>(st.range(1));
  Source s(Impl::Mmapio, data_file(st.range(0)));
  if (!require_warm(st, s.base(), s.size()))
    return;
  mmapio_map *m = s.map();
#if MMAPIO_PERF_SLOWED
  std::vector<unsigned char> scratch(cs);
  benchmark::DoNotOptimize(scratch.data());
#endif
  for (auto _ : st) {
#if MMAPIO_PERF_SLOWDOWN_PERMILLE > 1000
    const uint64_t t0 = power_ticks();
#endif
    mmapio_chunks it;
    mmapio_chunk c;
    check(pages ? mmapio_pages_begin(&it, m) : mmapio_chunks_begin(&it, m, cs),
          "mmapio_chunks_begin");
    uint64_t sum = 0;
    while (mmapio_chunks_next(&it, &c)) {
#if MMAPIO_PERF_SLOWED
      std::memcpy(scratch.data(), c.data, c.len);
      benchmark::ClobberMemory();
      sum += scratch[0] + c.len;
#else
      sum += *static_cast<const unsigned char *>(c.data) + c.len;
#endif
    }
#if MMAPIO_PERF_SLOWDOWN_PERMILLE > 1000
    // The gate's power test: the walk takes PERMILLE / 1000 of its own
    // time, waiting out the rest on the processor's counter, as a chunk
    // walk that got that much slower would. Walking part of the range
    // again instead was slower by less than asked, or not at all, where
    // the chunks walked again were still cached.
    const uint64_t took = power_ticks() - t0;
    const uint64_t until = t0 + took * MMAPIO_PERF_SLOWDOWN_PERMILLE / 1000;
    while (power_ticks() < until) {
    }
#endif
    keep(sum);
  }
  st.SetItemsProcessed(
      static_cast<int64_t>(st.iterations() * ((len + cs - 1) / cs)));
}

void walk_owned(benchmark::State &st, bool pages) {
  const size_t len = static_cast<size_t>(st.range(0));
  const size_t cs = static_cast<size_t>(st.range(1));
  Source s(Impl::Mmapio, data_file(st.range(0)));
  if (!require_warm(st, s.base(), s.size()))
    return;
  mmapio_map *m = s.map();
  for (auto _ : st) {
    mmapio_chunks it;
    mmapio_owned_chunk c;
    check(pages ? mmapio_pages_begin(&it, m) : mmapio_chunks_begin(&it, m, cs),
          "mmapio_chunks_begin");
    uint64_t sum = 0;
    for (;;) {
      check(mmapio_chunks_next_owned(&it, &c), "mmapio_chunks_next_owned");
      if (c.data == nullptr)
        break;
      benchmark::DoNotOptimize(c.data);
      sum += *static_cast<unsigned char *>(c.data) + c.len;
      std::free(c.data);
    }
    keep(sum);
  }
  st.SetItemsProcessed(
      static_cast<int64_t>(st.iterations() * ((len + cs - 1) / cs)));
}

void chunks_mmapio(benchmark::State &st) { walk(st, false); }
void chunks_owned_mmapio(benchmark::State &st) { walk_owned(st, false); }
void pages_mmapio(benchmark::State &st) { walk(st, true); }
void pages_owned_mmapio(benchmark::State &st) { walk_owned(st, true); }
#endif

using Fn = void (*)(benchmark::State &);

void add(const char *name, Fn fn, const Sizes &files, int64_t chunk) {
  auto *b = benchmark::RegisterBenchmark(name, fn);
  for (int64_t f : files)
    b->Args({f, chunk});
}

} // namespace

void chunks_register_over(const Sizes &files, int64_t chunk) {
  add("BM_chunks_floor", chunks_floor, files, chunk);
  add("BM_chunks_owned_floor", chunks_owned_floor, files, chunk);
#if MMAPIO_PERF_HAVE_ITERATORS
  add("BM_chunks_mmapio", chunks_mmapio, files, chunk);
  add("BM_chunks_owned_mmapio", chunks_owned_mmapio, files, chunk);
#else
  api_missing("iterators");
#endif
}

void register_chunks() {
  const Sizes file = {16 * MiB};
  chunks_register_over(file, 4 * KiB);
  chunks_register_over(file, 64 * KiB);
  // Pages are chunks of the page size; their own names keep the
  // library's pages()/pages_owned() calls apart from chunks().
  const auto pg = static_cast<int64_t>(page());
  add("BM_pages_floor", chunks_floor, file, pg);
  add("BM_pages_owned_floor", chunks_owned_floor, file, pg);
#if MMAPIO_PERF_HAVE_ITERATORS
  add("BM_pages_mmapio", pages_mmapio, file, pg);
  add("BM_pages_owned_mmapio", pages_owned_mmapio, file, pg);
#endif
}

} // namespace mperf
