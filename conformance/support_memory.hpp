// Helpers of the memory-control tests (test_advise, test_touch, test_lock,
// test_hugepages, test_anon and test_seam_memory): mappings over every
// backing, page-cache dropping, residency, /proc/self/smaps fields, the
// kernel's THP settings and the hugetlb pool.
#ifndef MMAPIO_CONFORMANCE_SUPPORT_MEMORY_HPP
#define MMAPIO_CONFORMANCE_SUPPORT_MEMORY_HPP

#include "support.hpp"
#include "support_proc.hpp"

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <unistd.h>

namespace mmapio_test {

// The four kinds of mapping every memory-control call must handle.
enum class Backing { RW, RO, COW, Anon };

inline const char *backing_name(Backing b) {
  static const char *const names[] = {"RW file", "RO file", "COW file",
                                      "anonymous"};
  return enum_name(b, names);
}

// A mapping of size bytes holding pattern_bytes(size, seed), and its file
// ("" for anonymous).
struct Made {
  MapPtr map;
  std::string path;
};

inline Made make_backing(const TempDir &dir, Backing b, size_t size,
                         unsigned seed = 7) {
  Made out;
  const std::string bytes = pattern_bytes(size, seed);
  mmapio_map *m = nullptr;
  if (b == Backing::Anon) {
    REQUIRE_OK(mmapio_anon(&m, size));
    out.map.reset(m);
    REQUIRE_OK(mmapio_update(m, 0, bytes.data(), bytes.size()));
    return out;
  }
  out.path = dir.path("backing.bin");
  write_bytes(out.path, bytes);
  const mmapio_mode mode = b == Backing::RW   ? MMAPIO_MODE_RW
                           : b == Backing::RO ? MMAPIO_MODE_RO
                                              : MMAPIO_MODE_COW;
  REQUIRE_OK(mmapio_open(&m, out.path.c_str(), mode));
  out.map.reset(m);
  return out;
}

// Writes the file back and drops its pages from the page cache. False
// when that cannot work here (tmpfs keeps its pages: they are the file).
inline bool drop_page_cache(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  ::fsync(fd);
  bool ok = ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0;
  ::close(fd);
  return ok && !on_tmpfs(path.substr(0, path.rfind('/')));
}

// Resident pages of [off, off+len) (mmapio_resident), REQUIREd to work.
inline mmapio_residency residency(const mmapio_map *m, uint64_t off,
                                  uint64_t len) {
  mmapio_residency r{0, 0};
  REQUIRE_OK(mmapio_resident(m, off, len, &r));
  return r;
}

// Sum of the "name:" kB field over every smaps area overlapping
// [addr, addr+len), in bytes; -1 when smaps cannot be read.
inline long long smaps_field(const void *addr, size_t len,
                             const std::string &name) {
  std::ifstream in("/proc/self/smaps");
  if (!in)
    return -1;
  const uintptr_t lo = reinterpret_cast<uintptr_t>(addr), hi = lo + len;
  bool inside = false;
  long long kb = 0;
  std::string line;
  const std::string key = name + ":";
  while (std::getline(in, line)) {
    Vma v;
    if (parse_vma_line(line, &v)) {
      inside = v.start < hi && lo < v.end;
      continue;
    }
    if (inside && line.compare(0, key.size(), key) == 0)
      kb += std::atoll(line.c_str() + key.size());
  }
  return kb * 1024;
}

// The selected word of a sysfs mode file ("always [madvise] never" ->
// "madvise"), or "" when it cannot be read.
inline std::string sysfs_mode(const std::string &path) {
  std::ifstream in(path);
  std::string s;
  if (!std::getline(in, s))
    return "";
  size_t a = s.find('['), b = s.find(']');
  return a != std::string::npos && b != std::string::npos && b > a
             ? s.substr(a + 1, b - a - 1)
             : "";
}

inline std::string thp_anon_mode() {
  return sysfs_mode("/sys/kernel/mm/transparent_hugepage/enabled");
}
inline std::string thp_shmem_mode() {
  return sysfs_mode("/sys/kernel/mm/transparent_hugepage/shmem_enabled");
}

// A /proc/meminfo value ("HugePages_Free", "Hugepagesize" in kB), or -1.
inline long long meminfo(const std::string &key) {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line))
    if (line.compare(0, key.size() + 1, key + ":") == 0)
      return std::atoll(line.c_str() + key.size() + 1);
  return -1;
}

// Minor page faults taken so far by the calling thread.
inline long minor_faults() {
  struct rusage ru;
  ::getrusage(RUSAGE_THREAD, &ru);
  return ru.ru_minflt;
}

// Reads one byte of every page of [p, p+len).
inline unsigned read_every_page(const void *p, size_t len) {
  const volatile unsigned char *v = static_cast<const unsigned char *>(p);
  unsigned sum = 0;
  for (size_t i = 0; i < len; i += mmapio_page_size())
    sum += v[i];
  return sum;
}

// How many pages of [p, p+len) have a present page-table entry in this
// process (bit 63 of /proc/self/pagemap): pages mapped, whatever the page
// cache holds. SIZE_MAX when pagemap cannot be read.
inline size_t present_pages(const void *p, size_t len) {
  const size_t page = mmapio_page_size();
  const uintptr_t lo = reinterpret_cast<uintptr_t>(p) & ~uintptr_t(page - 1);
  const uintptr_t hi = reinterpret_cast<uintptr_t>(p) + len;
  int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return SIZE_MAX;
  size_t present = 0;
  uint64_t buf[512];
  for (uintptr_t a = lo; a < hi;) {
    size_t n = (hi - a + page - 1) / page;
    if (n > 512)
      n = 512;
    ssize_t got = ::pread(fd, buf, n * 8, static_cast<off_t>(a / page * 8));
    if (got != static_cast<ssize_t>(n * 8)) {
      ::close(fd);
      return SIZE_MAX;
    }
    for (size_t i = 0; i < n; i++)
      present += (buf[i] >> 63) & 1;
    a += n * page;
  }
  ::close(fd);
  return present;
}

// A fresh private anonymous mapping of n pages (nullptr if none).
inline void *probe_pages(size_t n) {
  void *p = ::mmap(nullptr, n * mmapio_page_size(), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

// Why MADV_POPULATE_READ cannot report a fault here, or "": over address
// space with nothing mapped a kernel that has the advice fails (ENOMEM),
// one without it says EINVAL; qemu-user accepts the advice and ignores
// it, so a populate over pages past a file's end succeeds too. Probed
// once per process.
inline std::string populate_ignored_blocker() {
  static const std::string why = [] {
    std::string r;
#ifdef MADV_POPULATE_READ
    const size_t page = mmapio_page_size();
    void *q = probe_pages(4);
    if (q != nullptr && ::munmap(q, 4 * page) == 0 &&
        ::madvise(q, 4 * page, MADV_POPULATE_READ) == 0)
      r = "madvise(MADV_POPULATE_READ) succeeds where nothing is mapped "
          "(qemu-user accepts the advice and ignores it), so a populate "
          "over pages past a file's end reports no fault";
#endif
    return r;
  }();
  return why;
}

// Why present_pages cannot be trusted here, or "": pages this process
// wrote by hand must show as present in /proc/self/pagemap. Under
// qemu-user the pagemap is the emulator's host process's, at the host's
// page size. Probed once per process.
inline std::string pagemap_blocker() {
  static const std::string why = [] {
    // An emulator that behaves so is known for what it is, however its
    // addresses happen to fall: qemu-user's pagemap is its host process's,
    // and whether the probe below finds the guest's pages there depends
    // on where qemu placed the guest (it did in some runs on s390x, and
    // then missed pages a test had read).
    if (!populate_ignored_blocker().empty())
      return std::string("/proc/self/pagemap is the host's view of an "
                         "emulator (one that accepts MADV_POPULATE_READ "
                         "where nothing is mapped)");
    const size_t page = mmapio_page_size();
    void *p = probe_pages(16);
    if (p == nullptr)
      return std::string("no anonymous mapping for the probe");
    for (size_t i = 0; i < 16; i++)
      static_cast<volatile unsigned char *>(p)[i * page] = 1;
    const bool ok = present_pages(p, 16 * page) == 16;
    ::munmap(p, 16 * page);
    return ok ? std::string()
              : std::string("/proc/self/pagemap does not show the pages this "
                            "process wrote (an emulator's pagemap)");
  }();
  return why;
}

// Why the pages mmapio_touch_pages maps cannot be counted here, or "":
// pagemap_blocker, or MADV_POPULATE_READ (which touch_pages may use)
// succeeds without mapping the pages, as under qemu-user, which accepts
// the advice and ignores it. Probed once per process.
inline std::string populate_blocker() {
  static const std::string why = [] {
    if (!pagemap_blocker().empty())
      return pagemap_blocker();
    std::string r;
#ifdef MADV_POPULATE_READ
    const size_t page = mmapio_page_size();
    void *q = probe_pages(16);
    if (q != nullptr && ::madvise(q, 16 * page, MADV_POPULATE_READ) == 0 &&
        present_pages(q, 16 * page) != 16)
      r = "madvise(MADV_POPULATE_READ) succeeds without mapping the pages "
          "(qemu-user ignores the advice)";
    if (q != nullptr)
      ::munmap(q, 16 * page);
#endif
    return r;
  }();
  return why;
}

// Pages in [p, p+len) once widened to page boundaries.
inline size_t pages_in(const void *p, size_t len) {
  const size_t page = mmapio_page_size();
  const uintptr_t lo = reinterpret_cast<uintptr_t>(p) & ~uintptr_t(page - 1);
  const uintptr_t hi = reinterpret_cast<uintptr_t>(p) + len;
  return (hi - lo + page - 1) / page;
}

constexpr uint64_t kMiB = 1024 * 1024;

// Whether the library was built with its Linux extensions (not
// MMAPIO_POSIX_ONLY): only those builds seal memory files.
inline bool linux_build() {
  mmapio_map *m = nullptr;
  if (mmapio_anon(&m, mmapio_page_size()) != 0)
    return false;
  unsigned seals = 0;
  const bool yes = mmapio_anon_seals(m, &seals) == 0;
  mmapio_close(m);
  return yes;
}

// The start of the first 2 MiB-aligned 2 MiB block inside [p, p+len), or
// nullptr when none fits.
inline const unsigned char *first_aligned_block(const void *p, size_t len) {
  const uintptr_t lo = reinterpret_cast<uintptr_t>(p);
  const uintptr_t a = (lo + 2 * kMiB - 1) & ~uintptr_t(2 * kMiB - 1);
  return a + 2 * kMiB <= lo + len ? reinterpret_cast<const unsigned char *>(a)
                                  : nullptr;
}

} // namespace mmapio_test

#endif
