// One mapped file seen through one implementation: the raw floor, the
// library or a peer. Benchmarks open a Source before their loop and use
// base (and, for the library, the handle) inside it.
#ifndef MMAPIO_PERF_SOURCE_HPP
#define MMAPIO_PERF_SOURCE_HPP

#include "harness.hpp"
#include "peers.hpp"

#include <memory>
#include <string>

namespace mperf {

enum class Impl { Floor, Mmapio, Boost, Glib };

// "floor", "mmapio", "boost", "glib".
const char *impl_name(Impl i);

class Source {
public:
  // Maps the whole of path read-only (RO) or read-write (RW, shared).
  Source(Impl impl, const std::string &path, bool writable = false);
  Source(const Source &) = delete;
  Source &operator=(const Source &) = delete;
  ~Source();

  Impl impl() const { return impl_; }
  // Start of the mapping (for the library: mmapio_base / base_mut).
  unsigned char *base() const { return base_; }
  size_t size() const { return size_; }
  // The descriptor behind the mapping (for cache control and pread).
  int fd() const { return fd_; }
  mmapio_map *map() const { return m_; }
  BoostMap *boost() const { return b_; }

private:
  Impl impl_;
  std::unique_ptr<RawMap> raw_;
  mmapio_map *m_ = nullptr;
  BoostMap *b_ = nullptr;
  GlibMap *g_ = nullptr;
  int extra_fd_ = -1; // glib hides its fd; cache control uses this one
  unsigned char *base_ = nullptr;
  size_t size_ = 0;
  int fd_ = -1;
};

// A Source shared by every thread of a benchmark: thread 0 opens it (and
// makes it warm) before the loop, the others wait for it; thread 0
// closes it after the loop, whose end is a barrier for all threads.
Source *shared_open(benchmark::State &st, Impl impl, const std::string &path,
                    bool writable = false, bool warm = true);
void shared_close(benchmark::State &st);

// The five rows of a read_into op (BM_<op>_floor, _floor_pread, _mmapio,
// _boost, _glib); fn's int is 0 memcpy, 1 pread, 2 mmapio_read
// (bm_reads.cpp; group 6 uses it too).
void register_read_into_rows(const std::string &op,
                             void (*fn)(benchmark::State &, Impl, int),
                             const Sizes &sizes, int threads);

} // namespace mperf

#endif
