// Group 6: the per-call costs around a mapping. Wall-clock time.
//   create_<impl>/size   create a new file of size bytes, map it RW, unmap,
//                        close (the previous file is unlinked untimed).
//                        floor: open(O_CREAT|O_TRUNC) + ftruncate + mmap
//                        + munmap + close
//   open_ro_<impl>       open the 1 MiB file read-only, map, unmap, close;
//                        boost file_mapping + mapped_region, GLib
//                        g_mapped_file_new(FALSE)
//   open_cow_<impl>      the same, copy-on-write (MAP_PRIVATE writable;
//                        boost copy_on_write, GLib g_mapped_file_new(TRUE))
//   resize_<impl>        1 MiB -> 8 MiB -> 1 MiB; floor: ftruncate + mremap
//                        twice
//   advise_<impl>        one WILLNEED advice over a warm 1 MiB mapping;
//                        floor: one madvise; boost: mapped_region::advise
//   read_into_<impl>/len copy [0, len) out of a warm file of len bytes;
//                        floor memcpy, floor_pread pread, peers memcpy
#include "source.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mperf {

namespace {

constexpr int64_t kOpenFile = 1 * MiB;

void create(benchmark::State &st, Impl impl) {
  const int64_t size = st.range(0);
  const std::string path = scratch_path("create");
  st.SetLabel("new file");
  for (auto _ : st) {
    unlink(path.c_str());
    auto t0 = Clock::now();
    if (impl == Impl::Mmapio) {
      mmapio_map *m = nullptr;
      check(mmapio_create(&m, path.c_str(), static_cast<uint64_t>(size)),
            "mmapio_create");
      mmapio_close(m);
    } else {
      int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0 || ftruncate(fd, size) != 0)
        die("create %s: %s", path.c_str(), strerror(errno));
      void *p = mmap(nullptr, static_cast<size_t>(size), PROT_READ | PROT_WRITE,
                     MAP_SHARED, fd, 0);
      if (p == MAP_FAILED)
        die("mmap: %s", strerror(errno));
      munmap(p, static_cast<size_t>(size));
      close(fd);
    }
    st.SetIterationTime(seconds_since(t0));
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
}

void open_close(benchmark::State &st, Impl impl, bool cow) {
  const std::string &path = data_file(kOpenFile);
  st.SetLabel("warm (file cached)");
  for (auto _ : st) {
    switch (impl) {
    case Impl::Mmapio: {
      mmapio_map *m = nullptr;
      check(
          mmapio_open(&m, path.c_str(), cow ? MMAPIO_MODE_COW : MMAPIO_MODE_RO),
          "mmapio_open");
      mmapio_close(m);
      break;
    }
    case Impl::Floor: {
      int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
      struct stat sb;
      if (fd < 0 || fstat(fd, &sb) != 0)
        die("open %s: %s", path.c_str(), strerror(errno));
      const auto n = static_cast<size_t>(sb.st_size);
      void *p = mmap(nullptr, n, cow ? PROT_READ | PROT_WRITE : PROT_READ,
                     cow ? MAP_PRIVATE : MAP_SHARED, fd, 0);
      if (p == MAP_FAILED)
        die("mmap: %s", strerror(errno));
      munmap(p, n);
      close(fd);
      break;
    }
    case Impl::Boost:
      boost_close(boost_open(path, cow ? PeerMode::COW : PeerMode::RO));
      break;
    case Impl::Glib:
      glib_close(glib_open(path, cow));
      break;
    }
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
}

void resize(benchmark::State &st, Impl impl) {
  const std::string path = scratch_path("resize");
  make_sparse(path, 1 * MiB);
  st.SetLabel("sparse, no page touched");
  if (impl == Impl::Mmapio) {
    Handle h(open_map(path, MMAPIO_MODE_RW));
    for (auto _ : st) {
      check(mmapio_resize(h.get(), 8 * MiB, nullptr), "mmapio_resize");
      check(mmapio_resize(h.get(), 1 * MiB, nullptr), "mmapio_resize");
    }
  } else {
    int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
    void *p = fd < 0 ? MAP_FAILED
                     : mmap(nullptr, 1 * MiB, PROT_READ | PROT_WRITE,
                            MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
      die("map %s: %s", path.c_str(), strerror(errno));
    for (auto _ : st) {
      if (ftruncate(fd, 8 * MiB) != 0 ||
          (p = mremap(p, 1 * MiB, 8 * MiB, MREMAP_MAYMOVE)) == MAP_FAILED ||
          ftruncate(fd, 1 * MiB) != 0 ||
          (p = mremap(p, 8 * MiB, 1 * MiB, 0)) == MAP_FAILED)
        die("floor resize: %s", strerror(errno));
    }
    munmap(p, 1 * MiB);
    close(fd);
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
}

void advise(benchmark::State &st, Impl impl) {
  Source s(impl, data_file(kOpenFile));
  if (!require_warm(st, s.base(), s.size()))
    return;
  for (auto _ : st) {
    if (impl == Impl::Boost) {
      if (!boost_advise_willneed(s.boost()))
        die("boost mapped_region::advise failed");
    } else if (impl == Impl::Mmapio) {
#if MMAPIO_PERF_HAVE_ADVISE
      check(mmapio_advise(s.map(), 0, s.size(), MMAPIO_ADVICE_WILLNEED),
            "mmapio_advise");
#endif
    } else if (madvise(s.base(), s.size(), MADV_WILLNEED) != 0) {
      die("madvise: %s", strerror(errno));
    }
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
}

// kind: 0 memcpy (floor and peers), 1 pread (floor_pread), 2 mmapio_read.
void read_into(benchmark::State &st, Impl impl, int kind) {
  const auto len = static_cast<size_t>(st.range(0));
  Source s(impl, data_file(st.range(0)));
  if (!require_warm(st, s.base(), s.size()))
    return;
  std::vector<unsigned char> buf(len);
  benchmark::DoNotOptimize(buf.data());
  const unsigned char *base = s.base();
  for (auto _ : st) {
    if (kind == 2) {
      check(mmapio_read(s.map(), 0, buf.data(), len), "mmapio_read");
    } else if (kind == 1) {
      if (pread(s.fd(), buf.data(), len, 0) != static_cast<ssize_t>(len))
        die("pread failed");
    } else {
      std::memcpy(buf.data(), base, len);
    }
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * len));
}

} // namespace

void register_open() {
  for (Impl impl : {Impl::Floor, Impl::Mmapio}) {
    auto *b = benchmark::RegisterBenchmark(
        (std::string("BM_create_") + impl_name(impl)).c_str(), create, impl);
    b->Arg(4 * KiB)->Arg(64 * KiB)->Arg(1 * MiB)->UseManualTime();
  }
  for (Impl impl : {Impl::Floor, Impl::Mmapio, Impl::Boost, Impl::Glib}) {
    benchmark::RegisterBenchmark(
        (std::string("BM_open_ro_") + impl_name(impl)).c_str(), open_close,
        impl, false)
        ->UseRealTime();
    benchmark::RegisterBenchmark(
        (std::string("BM_open_cow_") + impl_name(impl)).c_str(), open_close,
        impl, true)
        ->UseRealTime();
  }
  for (Impl impl : {Impl::Floor, Impl::Mmapio})
    benchmark::RegisterBenchmark(
        (std::string("BM_resize_") + impl_name(impl)).c_str(), resize, impl)
        ->UseRealTime();
  for (Impl impl : {Impl::Floor, Impl::Boost})
    benchmark::RegisterBenchmark(
        (std::string("BM_advise_") + impl_name(impl)).c_str(), advise, impl);
#if MMAPIO_PERF_HAVE_ADVISE
  benchmark::RegisterBenchmark("BM_advise_mmapio", advise, Impl::Mmapio);
#else
  api_missing("advise");
#endif
  register_read_into_rows("read_into", read_into, {4 * KiB, 64 * KiB, 1 * MiB},
                          1);
}

} // namespace mperf
