/*
 * Memory on every unix: the page size, reservations and mappings, the
 * memory-control calls whose form is the same everywhere, and flushing
 * mapped pages.
 */
#include "unix.h"

#include <errno.h>
#include <stdatomic.h>

size_t mmi_os_page_size(void) {
  long v = mmi_sys.sysconf(_SC_PAGESIZE);
  return v > 0 ? (size_t)v : 4096;
}

/* ---- reservations and mappings ------------------------------------ */

static void *reserve_anywhere(size_t len, int flags) {
  return mmi_sys.mmap(NULL, len, PROT_NONE, flags, -1, 0);
}

/* A reservation of len bytes at an address of the system's choice, on a
 * MMI_HUGE_ALIGN boundary when len is at least that (see os.h). */
static void *reserve_aligned(size_t len, int flags) {
  if (len < MMI_HUGE_ALIGN || len > SIZE_MAX - MMI_HUGE_ALIGN)
    return reserve_anywhere(len, flags);
  /* Where the kernel aligns the mapping itself, the first try is the
   * answer; otherwise over-reserve and trim. */
  if (mmi_os_kernel_aligns(len)) {
    void *first = reserve_anywhere(len, flags);
    if (first == MAP_FAILED || mmi_huge_aligned(first))
      return first;
    mmi_sys.munmap(first, len);
  }
  unsigned char *p = reserve_anywhere(len + MMI_HUGE_ALIGN, flags);
  if (p == MAP_FAILED)
    return reserve_anywhere(len, flags);
  size_t head = (MMI_HUGE_ALIGN - ((uintptr_t)p & (MMI_HUGE_ALIGN - 1))) &
                (MMI_HUGE_ALIGN - 1);
  if (head > 0)
    mmi_sys.munmap(p, head);
  if (MMI_HUGE_ALIGN - head > 0)
    mmi_sys.munmap(p + head + len, MMI_HUGE_ALIGN - head);
  return p + head;
}

void *mmi_os_reserve(void *addr, size_t len) {
  int flags = MAP_PRIVATE | MAP_ANONYMOUS | MMI_MAP_NORESERVE;
  if (addr == NULL) {
    void *p = reserve_aligned(len, flags);
    return p == MAP_FAILED ? NULL : p;
  }
  void *p = mmi_sys.mmap(addr, len, PROT_NONE, flags | MMI_MAP_FIXED_NOREPLACE,
                         -1, 0);
  if (p == MAP_FAILED)
    return NULL;
  /* Without MAP_FIXED_NOREPLACE (or on kernels that ignore it), the hint
   * may not be honoured: that is not the range asked for. */
  if (p != addr) {
    mmi_sys.munmap(p, len);
    errno = EEXIST;
    return NULL;
  }
  return p;
}

void *mmi_os_map_file(void *at, size_t len, mmapio_mode mode, int fd,
                      uint64_t off) {
  int prot = mode == MMAPIO_MODE_RO ? PROT_READ : PROT_READ | PROT_WRITE;
  /* A private writable mapping would otherwise be charged in full against
   * the commit limit: a COW view of a 1 TiB sparse file must open, and
   * only the pages it writes take memory. */
  int flags =
      mode == MMAPIO_MODE_COW ? MAP_PRIVATE | MMI_MAP_NORESERVE : MAP_SHARED;
  if (at != NULL)
    flags |= MAP_FIXED;
  MMI_REMAP_BEGIN();
  void *p = mmi_sys.mmap(at, len, prot, flags, fd, (off_t)off);
  MMI_REMAP_END();
  return p == MAP_FAILED ? NULL : p;
}

int mmi_os_map_zeros(void *at, size_t len) {
  MMI_REMAP_BEGIN();
  void *p = mmi_sys.mmap(
      at, len, PROT_READ | PROT_WRITE,
      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MMI_MAP_NORESERVE, -1, 0);
  MMI_REMAP_END();
  return p == MAP_FAILED ? -1 : 0;
}

int mmi_os_map_none(void *at, size_t len, bool apart) {
  /* Without MAP_NORESERVE, which a PROT_NONE mapping needs no more than
   * with it (it is never charged), the flags differ from the rest of the
   * reservation's, and Linux merges only areas whose flags are equal. */
  int flags =
      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | (apart ? 0 : MMI_MAP_NORESERVE);
  MMI_REMAP_BEGIN();
  void *p = mmi_sys.mmap(at, len, PROT_NONE, flags, -1, 0);
  MMI_REMAP_END();
  return p == MAP_FAILED ? -1 : 0;
}

int mmi_os_protect(void *at, size_t len, mmapio_mode mode, bool open) {
  int prot = !open                    ? PROT_NONE
             : mode == MMAPIO_MODE_RO ? PROT_READ
                                      : PROT_READ | PROT_WRITE;
  return mmi_sys.mprotect(at, len, prot);
}

void mmi_os_unmap(void *addr, size_t len) { (void)mmi_sys.munmap(addr, len); }

/* ---- memory control ----------------------------------------------- */

int mmi_real_mincore(void *addr, size_t len, unsigned char *vec) {
  /* void *: Linux takes unsigned char *, the BSDs char *. */
  return mincore(addr, len, (void *)vec);
}

int mmi_os_prefetch(int fd, uint64_t off, uint64_t len) {
  return mmi_sys.posix_fadvise(fd, (off_t)off, (off_t)len, POSIX_FADV_WILLNEED);
}

int mmi_os_populate(void *addr, size_t len) {
  return mmi_sys.populate(addr, len);
}

int mmi_os_lock(const void *addr, size_t len) {
  return mmi_sys.mlock(addr, len);
}

int mmi_os_unlock(const void *addr, size_t len) {
  return mmi_sys.munlock(addr, len);
}

/* An int resource: glibc declares getrlimit with an enum of its own. */
int mmi_real_getrlimit(int resource, struct rlimit *rl) {
  return getrlimit(resource, rl);
}

int mmi_os_memlock_limit(uint64_t *bytes) {
  struct rlimit rl;
  if (mmi_sys.getrlimit(RLIMIT_MEMLOCK, &rl) != 0)
    return -1;
  *bytes = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
  return 0;
}

int mmi_os_residency(void *addr, size_t len, unsigned char *vec) {
  return mmi_sys.mincore(addr, len, vec);
}

int mmi_os_page_mapping(const void *addr) { return mmi_sys.page_mapping(addr); }

uint64_t mmi_os_ticks(void) { return mmi_sys.ticks(); }

/* Ticks per microsecond: the architecture's figure where it has one,
 * else measured once against the monotonic clock over about 20
 * microseconds and kept. The real counter is read, not the table's entry,
 * so a test's fake counter cannot skew the rate it is compared with. */
uint64_t mmi_os_ticks_per_us(void) {
  static _Atomic uint64_t measured;
  uint64_t known = mmi_arch_ticks_per_us();
  if (known != 0)
    return known;
  uint64_t r = atomic_load_explicit(&measured, memory_order_relaxed);
  if (r != 0)
    return r;
  struct timespec a, b;
  if (mmi_sys.clock_gettime(CLOCK_MONOTONIC, &a) != 0)
    return 1000; /* as if the counter were the clock; not kept */
  uint64_t c0 = mmi_arch_ticks(), ns = 0;
  for (int i = 0; i < 1000000 && ns < 20000; i++) {
    if (mmi_sys.clock_gettime(CLOCK_MONOTONIC, &b) != 0)
      return 1000;
    ns = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000u + (uint64_t)b.tv_nsec -
         (uint64_t)a.tv_nsec;
  }
  uint64_t ticks = mmi_arch_ticks() - c0;
  r = ns > 0 ? ticks * 1000 / ns : 0;
  if (r == 0)
    r = 1;
  atomic_store_explicit(&measured, r, memory_order_relaxed);
  return r;
}

/* ---- flushing ----------------------------------------------------- */

int mmi_os_sync(void *addr, size_t len) {
  return mmi_sys.msync(addr, len, MS_SYNC);
}

int mmi_os_writeback(int fd, void *addr, uint64_t off, uint64_t len) {
  return mmi_sys.writeback(fd, addr, off, len);
}
