// Helpers of the view tests (test_iterator, test_segment, test_stream):
// making allocation fail inside a forked child (run_in_child), for the
// NO_MEMORY cases.
#ifndef MMAPIO_CONFORMANCE_SUPPORT_VIEWS_HPP
#define MMAPIO_CONFORMANCE_SUPPORT_VIEWS_HPP

#include <cstddef>
#include <cstdio>
#include <cstdlib>

#include <sys/resource.h>
#include <unistd.h>

namespace mmapio_views_test {

// Lets the calling process map at most `extra` more bytes of address
// space (RLIMIT_AS = current size + extra). Only for forked children.
inline bool limit_address_space(size_t extra) {
  unsigned long pages = 0;
  std::FILE *f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr)
    return false;
  const bool ok = std::fscanf(f, "%lu", &pages) == 1;
  std::fclose(f);
  if (!ok)
    return false;
  const rlim_t now =
      static_cast<rlim_t>(pages) * static_cast<rlim_t>(sysconf(_SC_PAGESIZE));
  struct rlimit rl;
  if (getrlimit(RLIMIT_AS, &rl) != 0)
    return false;
  rl.rlim_cur = now + extra;
  return setrlimit(RLIMIT_AS, &rl) == 0;
}

// Makes every later malloc of the calling process fail: caps the address
// space at its current size, then takes every free block the allocator
// still has, largest first (they are never freed: only for forked
// children, which exit soon after).
inline bool exhaust_heap() {
  if (!limit_address_space(0))
    return false;
  // Through a volatile, or the compiler may drop an allocation it sees
  // unused and fold its NULL test.
  void *volatile block = nullptr;
  for (size_t sz = size_t{1} << 24; sz >= 1024; sz /= 2)
    while ((block = std::malloc(sz)) != nullptr) {
    }
  for (size_t sz = 1024; sz >= 8; sz -= 8)
    while ((block = std::malloc(sz)) != nullptr) {
    }
  block = std::malloc(1);
  return block == nullptr;
}

} // namespace mmapio_views_test

#endif
