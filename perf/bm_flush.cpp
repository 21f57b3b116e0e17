// Group 4: flushing after a write, on a 1 MiB read-write shared mapping.
// Every iteration writes len bytes at offset 0 (so the page is dirty each
// time) and then flushes; the write is part of the timed work on every
// side. Wall-clock time (the flush waits for the device).
//   flush_range_<impl>/len  durable: floor msync(MS_SYNC) of the pages of
//                           [0, len); mmapio_update + mmapio_flush_range;
//                           boost mapped_region::flush(0, len, sync)
//   flush_hint_<impl>/len   writeback started, no durability claim: floor
//                           sync_file_range(SYNC_FILE_RANGE_WRITE) of the
//                           pages; mmapio_update + mmapio_flush_range_hint
//   flush_all_<impl>        64 bytes written, then the whole mapping made
//                           durable: floor msync(MS_SYNC) of 1 MiB;
//                           mmapio_flush; boost flush(0, 0, sync)
#include "source.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace mperf {

namespace {

constexpr int64_t kFile = 1 * MiB;

size_t round_page(size_t n) { return (n + page() - 1) & ~(page() - 1); }

enum class Level { Durable, Hint };

void flush_range(benchmark::State &st, Impl impl, Level level) {
  const auto len = static_cast<size_t>(st.range(0));
  const std::string path = scratch_path("flush");
  make_sparse(path, kFile);
  Source s(impl, path, true);
  std::vector<unsigned char> src(len, 0x5a);
  unsigned char *base = s.base();
  mmapio_map *m = s.map();
  st.SetLabel(level == Level::Durable ? "warm, durable" : "warm, hint");
  unsigned char tick = 0;
  for (auto _ : st) {
    src[0] = tick++; // new bytes every time
    if (impl == Impl::Mmapio) {
      check(mmapio_update(m, 0, src.data(), len), "mmapio_update");
      if (level == Level::Durable) {
        check(mmapio_flush_range(m, 0, len), "mmapio_flush_range");
      } else {
#if MMAPIO_PERF_HAVE_FLUSH_HINT
        check(mmapio_flush_range_hint(m, 0, len), "mmapio_flush_range_hint");
#endif
      }
    } else {
      std::memcpy(base, src.data(), len);
      if (level == Level::Hint) {
        if (sync_file_range(s.fd(), 0, static_cast<off_t>(round_page(len)),
                            SYNC_FILE_RANGE_WRITE) != 0)
          die("sync_file_range: %s", strerror(errno));
      } else if (impl == Impl::Boost) {
        if (!boost_flush(s.boost(), 0, len, false))
          die("boost mapped_region::flush failed");
      } else if (msync(base, round_page(len), MS_SYNC) != 0) {
        die("msync: %s", strerror(errno));
      }
    }
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * len));
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
}

void flush_all(benchmark::State &st, Impl impl) {
  const std::string path = scratch_path("flush-all");
  make_sparse(path, kFile);
  Source s(impl, path, true);
  unsigned char src[64];
  std::memset(src, 0x5a, sizeof src);
  unsigned char *base = s.base();
  mmapio_map *m = s.map();
  st.SetLabel("warm, durable");
  unsigned char tick = 0;
  for (auto _ : st) {
    src[0] = tick++;
    if (impl == Impl::Mmapio) {
      check(mmapio_update(m, 0, src, sizeof src), "mmapio_update");
      check(mmapio_flush(m), "mmapio_flush");
    } else {
      std::memcpy(base, src, sizeof src);
      if (impl == Impl::Boost) {
        if (!boost_flush(s.boost(), 0, 0, false))
          die("boost mapped_region::flush failed");
      } else if (msync(base, static_cast<size_t>(kFile), MS_SYNC) != 0) {
        die("msync: %s", strerror(errno));
      }
    }
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
}

} // namespace

void register_flush() {
  const Sizes lens = {64, 256, 1 * KiB, 4 * KiB, 8 * KiB};
  const struct {
    const char *name;
    Impl impl;
    Level level;
  } ranges[] = {
      {"BM_flush_range_floor", Impl::Floor, Level::Durable},
      {"BM_flush_range_mmapio", Impl::Mmapio, Level::Durable},
      {"BM_flush_range_boost", Impl::Boost, Level::Durable},
      {"BM_flush_hint_floor", Impl::Floor, Level::Hint},
      {"BM_flush_hint_mmapio", Impl::Mmapio, Level::Hint},
  };
  for (const auto &r : ranges) {
    if (r.impl == Impl::Mmapio && r.level == Level::Hint &&
        !MMAPIO_PERF_HAVE_FLUSH_HINT) {
      api_missing("flush_hint");
      continue;
    }
    auto *b =
        benchmark::RegisterBenchmark(r.name, flush_range, r.impl, r.level);
    for (int64_t z : lens)
      b->Arg(z);
    b->UseRealTime();
  }
  for (Impl impl : {Impl::Floor, Impl::Mmapio, Impl::Boost})
    benchmark::RegisterBenchmark(
        (std::string("BM_flush_all_") + impl_name(impl)).c_str(), flush_all,
        impl)
        ->UseRealTime();
}

} // namespace mperf
