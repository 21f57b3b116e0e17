// Group 7: 4 MiB written as 64 KiB update_region calls into a 4 MiB
// read-write shared mapping, under each flush policy. Wall-clock time.
//   write_manual_<impl>       MANUAL; floor: memcpy per piece
//   write_every_bytes_<impl>  EVERY_BYTES(64 KiB); floor: memcpy, then
//                             msync(MS_SYNC) of the whole mapping after
//                             each piece (what the policy does)
//   write_every_millis_<impl> EVERY_MILLIS(10); floor: memcpy while a
//                             thread msyncs (MS_SYNC) the whole mapping
//                             every 10 ms
// The target: EVERY_MILLIS adds at most 5 % to the MANUAL write loop.
#include "source.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include <sys/mman.h>

namespace mperf {

namespace {

constexpr int64_t kFile = 4 * MiB;
constexpr size_t kPiece = 64 * KiB;
constexpr unsigned kMillis = 10;

enum class Policy { Manual, EveryBytes, EveryMillis };

mmapio_map *open_with(const std::string &path, Policy p) {
  mmapio_options o;
  check(mmapio_options_init(&o), "mmapio_options_init");
  o.mode = MMAPIO_MODE_RW;
  if (p == Policy::EveryBytes) {
    o.flush_policy = MMAPIO_FLUSH_EVERY_BYTES;
    o.flush_arg = kPiece;
  } else if (p == Policy::EveryMillis) {
#if MMAPIO_PERF_HAVE_EVERY_MILLIS
    o.flush_policy = MMAPIO_FLUSH_EVERY_MILLIS;
    o.flush_arg = kMillis;
#endif
  }
  mmapio_map *m = nullptr;
  check(mmapio_open_ex(&m, path.c_str(), &o, MMAPIO_OPEN), "mmapio_open_ex");
  return m;
}

void write_loop(benchmark::State &st, Impl impl, Policy pol) {
  const std::string path = scratch_path("policy");
  make_sparse(path, kFile);
  std::vector<unsigned char> src(kPiece, 0x5a);
  unsigned char tick = 0;
  st.SetLabel("warm after the first pass");
  if (impl == Impl::Mmapio) {
    Handle h(open_with(path, pol));
    for (auto _ : st) {
      src[0] = tick++;
      for (size_t off = 0; off < static_cast<size_t>(kFile); off += kPiece)
        check(mmapio_update(h.get(), off, src.data(), kPiece), "mmapio_update");
    }
  } else {
    Source s(Impl::Floor, path, true);
    unsigned char *base = s.base();
    std::atomic<bool> stop{false};
    std::thread flusher;
    if (pol == Policy::EveryMillis)
      flusher = std::thread([&] {
        while (!stop.load(std::memory_order_relaxed)) {
          std::this_thread::sleep_for(std::chrono::milliseconds(kMillis));
          msync(base, static_cast<size_t>(kFile), MS_SYNC);
        }
      });
    for (auto _ : st) {
      src[0] = tick++;
      for (size_t off = 0; off < static_cast<size_t>(kFile); off += kPiece) {
        std::memcpy(base + off, src.data(), kPiece);
        if (pol == Policy::EveryBytes &&
            msync(base, static_cast<size_t>(kFile), MS_SYNC) != 0)
          die("msync: %s", strerror(errno));
      }
      benchmark::ClobberMemory();
    }
    stop = true;
    if (flusher.joinable())
      flusher.join();
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * kFile);
}

} // namespace

void register_policy() {
  const struct {
    const char *op;
    Policy pol;
  } pols[] = {{"write_manual", Policy::Manual},
              {"write_every_bytes", Policy::EveryBytes},
              {"write_every_millis", Policy::EveryMillis}};
  for (const auto &p : pols) {
    for (Impl impl : {Impl::Floor, Impl::Mmapio}) {
      if (impl == Impl::Mmapio && p.pol == Policy::EveryMillis &&
          !MMAPIO_PERF_HAVE_EVERY_MILLIS) {
        api_missing("every_millis");
        continue;
      }
      benchmark::RegisterBenchmark(
          (std::string("BM_") + p.op + "_" + impl_name(impl)).c_str(),
          write_loop, impl, p.pol)
          ->UseRealTime()
          // Long enough for each repetition to span many 10 ms periods.
          ->MinTime(0.5);
    }
  }
}

} // namespace mperf
