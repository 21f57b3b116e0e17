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
//
// Before the timing every variant writes the file, makes it durable and
// writes it again: the timed flushes overwrite allocated blocks instead
// of one of them also allocating the sparse file's, and MANUAL starts,
// as it stays, with every page dirty and writable (the steady state).
//
// Why the floor itself is far above 5 %: a durable flush cleans every
// dirty page (folio_mkclean: write-protects its PTE, one TLB-shootdown
// IPI per page to the writer's CPU), so the next pass takes one
// write-protect fault per page (ext4_page_mkwrite) — 1024 per flush of
// the fully rewritten 4 MiB, a few microseconds each on this VM. The
// counters make that visible next to the wall time, for both sides; they
// are read around the timed loop, never inside it, and are no substitute
// for the wall time, which also carries the flusher's cost:
//   faults_per_pass   minor faults of the writing thread per pass
//   sys_us_per_pass   system time of the writing thread per pass (us)
//   flushes_per_s     EVERY_MILLIS only: durable flushes per second,
//                     counted as those faults / pages of the file (every
//                     pass rewrites every page, so a flush costs exactly
//                     one fault a page)
// The flush rate follows the device (a period starts when the previous
// flush returns), so besides the two ratios to MANUAL compare the
// overhead per flush, (policy - manual pass time) / flushes per pass.
#include "source.hpp"

#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <thread>

#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

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

// What the writing thread paid in the kernel during the timed loop.
class WriterCost {
public:
  WriterCost() : start_(std::chrono::steady_clock::now()) {
    getrusage(RUSAGE_THREAD, &before_);
  }
  void report(benchmark::State &st, Policy pol) const {
    rusage after;
    getrusage(RUSAGE_THREAD, &after);
    const double passes =
        st.iterations() > 0 ? static_cast<double>(st.iterations()) : 1.0;
    const double sys_us =
        static_cast<double>(after.ru_stime.tv_sec - before_.ru_stime.tv_sec) *
            1e6 +
        static_cast<double>(after.ru_stime.tv_usec - before_.ru_stime.tv_usec);
    st.counters["faults_per_pass"] =
        static_cast<double>(after.ru_minflt - before_.ru_minflt) / passes;
    st.counters["sys_us_per_pass"] = sys_us / passes;
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
            .count();
    const double pages =
        static_cast<double>(kFile) / static_cast<double>(sysconf(_SC_PAGESIZE));
    if (pol == Policy::EveryMillis)
      st.counters["flushes_per_s"] =
          static_cast<double>(after.ru_minflt - before_.ru_minflt) / pages /
          (secs > 0 ? secs : 1.0);
  }

private:
  std::chrono::steady_clock::time_point start_;
  rusage before_{};
};

void write_loop(benchmark::State &st, Impl impl, Policy pol) {
  const std::string path = scratch_path("policy");
  make_sparse(path, kFile);
  std::vector<unsigned char> src(kPiece, 0x5a);
  unsigned char tick = 0;
  st.SetLabel("steady state: written, flushed, written before the loop");
  if (impl == Impl::Mmapio) {
    Handle h(open_with(path, pol));
    for (int pass = 0; pass < 2; pass++) {
      for (size_t off = 0; off < static_cast<size_t>(kFile); off += kPiece)
        check(mmapio_update(h.get(), off, src.data(), kPiece), "mmapio_update");
      if (pass == 0)
        check(mmapio_flush(h.get()), "mmapio_flush");
    }
    WriterCost cost;
    for (auto _ : st) {
      src[0] = tick++;
      for (size_t off = 0; off < static_cast<size_t>(kFile); off += kPiece)
        check(mmapio_update(h.get(), off, src.data(), kPiece), "mmapio_update");
    }
    cost.report(st, pol);
  } else {
    Source s(Impl::Floor, path, true);
    unsigned char *base = s.base();
    for (int pass = 0; pass < 2; pass++) {
      for (size_t off = 0; off < static_cast<size_t>(kFile); off += kPiece)
        std::memcpy(base + off, src.data(), kPiece);
      if (pass == 0 && msync(base, static_cast<size_t>(kFile), MS_SYNC) != 0)
        die("msync: %s", strerror(errno));
    }
    std::atomic<bool> stop{false};
    std::thread flusher;
    if (pol == Policy::EveryMillis)
      flusher = std::thread([&] {
        while (!stop.load(std::memory_order_relaxed)) {
          std::this_thread::sleep_for(std::chrono::milliseconds(kMillis));
          msync(base, static_cast<size_t>(kFile), MS_SYNC);
        }
      });
    WriterCost cost;
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
    cost.report(st, pol);
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
