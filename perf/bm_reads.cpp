// Group 2: as_slice (mmapio_view) vs read_into (mmapio_read), warm.
//
//   seq_full      sequential true full read: sum every 8-byte word
//   seq_page      sequential, the crate's method: one byte per page, one
//                 view per page (pages per second; no peer rows)
//   seq_read_into copy the file out in 1 MiB pieces (floor: memcpy;
//                 floor_pread: pread)
//   rand_view     a view of len bytes at a random offset, read its first
//                 byte (16 MiB file)
//   rand_read_into copy len bytes from a random offset (floor: memcpy;
//                 floor_pread: pread)
//   view_call     the view call alone (floor: the same bounds check and
//                 pointer arithmetic, inline)
#include "source.hpp"

#include <cstring>

#include <unistd.h>

namespace mperf {

namespace {

constexpr int64_t kRandFile = 16 * MiB;
constexpr size_t kNoff = 4096; // offsets per sequence (power of two)
constexpr size_t kPiece = static_cast<size_t>(MiB);

inline uint64_t sum_words(const unsigned char *p, size_t n) {
  uint64_t s = 0;
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    s += w;
  }
  return s;
}

void seq_full(benchmark::State &st, Impl impl) {
  const size_t len = static_cast<size_t>(st.range(0));
  Source *s = shared_open(st, impl, data_file(st.range(0)));
  mmapio_map *m = s->map();
  const unsigned char *base = s->base();
  for (auto _ : st) {
    const unsigned char *p = base;
    if (impl == Impl::Mmapio) {
      const void *v;
      check(mmapio_view(m, 0, len, &v), "mmapio_view");
      p = static_cast<const unsigned char *>(v);
    }
    keep(sum_words(p, len));
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * len));
  shared_close(st);
}

void seq_page(benchmark::State &st, Impl impl) {
  const size_t len = static_cast<size_t>(st.range(0));
  const size_t pg = page();
  Source *s = shared_open(st, impl, data_file(st.range(0)));
  mmapio_map *m = s->map();
  const unsigned char *base = s->base();
  for (auto _ : st) {
    unsigned sum = 0;
    if (impl == Impl::Mmapio) {
      for (size_t off = 0; off < len; off += pg) {
        const void *v;
        check(mmapio_view(m, off, 1, &v), "mmapio_view");
        sum += *static_cast<const unsigned char *>(v);
      }
    } else {
      for (size_t off = 0; off < len; off += pg)
        sum += base[off];
    }
    keep(sum);
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations() * (len / pg)));
  shared_close(st);
}

// kind: 0 memcpy (floor and peers), 1 pread (floor_pread), 2 mmapio_read.
void seq_read_into(benchmark::State &st, Impl impl, int kind) {
  const size_t len = static_cast<size_t>(st.range(0));
  Source *s = shared_open(st, impl, data_file(st.range(0)));
  std::vector<unsigned char> buf(std::min(len, kPiece));
  mmapio_map *m = s->map();
  const unsigned char *base = s->base();
  const int fd = s->fd();
  benchmark::DoNotOptimize(buf.data());
  for (auto _ : st) {
    for (size_t off = 0; off < len; off += buf.size()) {
      size_t n = std::min(buf.size(), len - off);
      if (kind == 2) {
        check(mmapio_read(m, off, buf.data(), n), "mmapio_read");
      } else if (kind == 1) {
        if (pread(fd, buf.data(), n, static_cast<off_t>(off)) !=
            static_cast<ssize_t>(n))
          die("pread failed");
      } else {
        std::memcpy(buf.data(), base + off, n);
      }
      benchmark::ClobberMemory();
    }
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * len));
  shared_close(st);
}

void rand_view(benchmark::State &st, Impl impl) {
  const size_t len = static_cast<size_t>(st.range(0));
  Source *s = shared_open(st, impl, data_file(kRandFile));
  const auto offs = offsets(kNoff, static_cast<uint64_t>(kRandFile) - len, 1);
  mmapio_map *m = s->map();
  const unsigned char *base = s->base();
  size_t i = static_cast<size_t>(st.thread_index()) * 997;
  unsigned sum = 0;
  if (impl == Impl::Mmapio) {
    for (auto _ : st) {
      const void *v;
      check(mmapio_view(m, offs[i++ & (kNoff - 1)], len, &v), "mmapio_view");
      sum += *static_cast<const unsigned char *>(v);
    }
  } else {
    for (auto _ : st)
      sum += base[offs[i++ & (kNoff - 1)]];
  }
  keep(sum);
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
  shared_close(st);
}

void rand_read_into(benchmark::State &st, Impl impl, int kind) {
  const size_t len = static_cast<size_t>(st.range(0));
  Source *s = shared_open(st, impl, data_file(kRandFile));
  const auto offs = offsets(kNoff, static_cast<uint64_t>(kRandFile) - len, 1);
  std::vector<unsigned char> buf(len);
  mmapio_map *m = s->map();
  const unsigned char *base = s->base();
  const int fd = s->fd();
  size_t i = static_cast<size_t>(st.thread_index()) * 997;
  benchmark::DoNotOptimize(buf.data());
  if (kind == 2) {
    for (auto _ : st) {
      check(mmapio_read(m, offs[i++ & (kNoff - 1)], buf.data(), len),
            "mmapio_read");
      benchmark::ClobberMemory();
    }
  } else if (kind == 1) {
    for (auto _ : st) {
      if (pread(fd, buf.data(), len,
                static_cast<off_t>(offs[i++ & (kNoff - 1)])) !=
          static_cast<ssize_t>(len))
        die("pread failed");
      benchmark::ClobberMemory();
    }
  } else {
    for (auto _ : st) {
      std::memcpy(buf.data(), base + offs[i++ & (kNoff - 1)], len);
      benchmark::ClobberMemory();
    }
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * len));
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
  shared_close(st);
}

void view_call(benchmark::State &st, Impl impl) {
  constexpr size_t len = 64;
  Source *s = shared_open(st, impl, data_file(kRandFile));
  const auto offs = offsets(kNoff, static_cast<uint64_t>(kRandFile) - len, 1);
  mmapio_map *m = s->map();
  const unsigned char *base = s->base();
  const uint64_t size = s->size();
  size_t i = 0;
  if (impl == Impl::Mmapio) {
    for (auto _ : st) {
      const void *v = nullptr;
      int rc = mmapio_view(m, offs[i++ & (kNoff - 1)], len, &v);
      keep(rc);
      keep(v);
    }
  } else {
    for (auto _ : st) {
      uint64_t off = offs[i++ & (kNoff - 1)];
      const void *v = nullptr;
      int rc = off <= size && len <= size - off ? (v = base + off, 0) : -3;
      keep(rc);
      keep(v);
    }
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
  shared_close(st);
}

benchmark::internal::Benchmark *with_threads(benchmark::internal::Benchmark *b,
                                             int threads) {
  if (threads > 1)
    b->Threads(threads)->UseRealTime();
  return b;
}

const Impl kAll[] = {Impl::Floor, Impl::Mmapio, Impl::Boost, Impl::Glib};

} // namespace

// The floor's memcpy (kind 0) and pread (1), the library (2), and the
// peers copying out with memcpy.
void register_read_into_rows(const std::string &op,
                             void (*fn)(benchmark::State &, Impl, int),
                             const Sizes &sizes, int threads) {
  const struct {
    const char *side;
    Impl impl;
    int kind;
  } rows[] = {{"floor", Impl::Floor, 0},
              {"floor_pread", Impl::Floor, 1},
              {"mmapio", Impl::Mmapio, 2},
              {"boost", Impl::Boost, 0},
              {"glib", Impl::Glib, 0}};
  for (const auto &r : rows) {
    auto *b = benchmark::RegisterBenchmark(("BM_" + op + "_" + r.side).c_str(),
                                           fn, r.impl, r.kind);
    for (int64_t z : sizes)
      b->Arg(z);
    with_threads(b, threads);
  }
}

void reads_register_seq(const Sizes &sizes, int threads) {
  for (Impl impl : kAll) {
    std::string n = impl_name(impl);
    auto *a = benchmark::RegisterBenchmark(("BM_seq_full_" + n).c_str(),
                                           seq_full, impl);
    for (int64_t z : sizes)
      a->Arg(z);
    with_threads(a, threads);
    // One view per page: the peers have no view call, so their rows would
    // repeat the floor's pointer loop.
    if (impl == Impl::Boost || impl == Impl::Glib)
      continue;
    auto *b = benchmark::RegisterBenchmark(("BM_seq_page_" + n).c_str(),
                                           seq_page, impl);
    for (int64_t z : sizes)
      b->Arg(z);
    with_threads(b, threads);
  }
  // read_into vs memcpy vs pread; peers copy out with memcpy.
  register_read_into_rows("seq_read_into", seq_read_into, sizes, threads);
}

void reads_register_random(const Sizes &lens, int threads) {
  for (Impl impl : kAll) {
    auto *b = benchmark::RegisterBenchmark(
        (std::string("BM_rand_view_") + impl_name(impl)).c_str(), rand_view,
        impl);
    for (int64_t z : lens)
      b->Arg(z);
    with_threads(b, threads);
  }
  register_read_into_rows("rand_read_into", rand_read_into, lens, threads);
}

void register_reads() {
  reads_register_seq(pick({1 * MiB, 16 * MiB, 256 * MiB}, {1 * MiB, 16 * MiB}),
                     1);
  reads_register_random({64, 256, 4 * KiB, 64 * KiB}, 1);
  benchmark::RegisterBenchmark("BM_view_call_floor", view_call, Impl::Floor);
  benchmark::RegisterBenchmark("BM_view_call_mmapio", view_call, Impl::Mmapio);
}

} // namespace mperf
