/*
 * The platform layer: the system-call table (see sys.h) and every
 * #if that selects a Linux extension or its POSIX fallback. Logic in
 * other files calls these functions and never tests the platform.
 */
#include "mmapio.h"
#include "platform.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Files past 2 GiB must work in 32-bit builds too (the build defines
 * _FILE_OFFSET_BITS=64). */
_Static_assert(sizeof(off_t) == 8, "mmapio needs a 64-bit off_t");

static int real_fallocate(int fd, off_t off, off_t len) {
  return posix_fallocate(fd, off, len);
}

static const mmi_sys_table real_table = {
    ftruncate, real_fallocate, mmap, msync, fsync, sigaction,
};

mmi_sys_table mmi_sys = {
    ftruncate, real_fallocate, mmap, msync, fsync, sigaction,
};

void mmi_sys_reset(void) { mmi_sys = real_table; }

int mmi_open_flags(void) {
  /* O_NONBLOCK: opening a FIFO must not wait for a peer. It is cleared
   * again once the file is known to be regular. */
  return O_CLOEXEC | O_NONBLOCK;
}

int mmi_create_flags(void) { return MMI_LINUX ? O_TRUNC : 0; }

void mmi_clear_nonblock(int fd, int open_flags) {
#if MMI_LINUX
  (void)fcntl(fd, F_SETFL, open_flags & ~O_NONBLOCK);
#else
  (void)open_flags;
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0)
    (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
#endif
}

int mmi_map_noreserve(void) {
#ifdef MAP_NORESERVE
  return MAP_NORESERVE;
#else
  return 0;
#endif
}

bool mmi_huge_aligned(const void *p) {
  return ((uintptr_t)p & (MMI_HUGE_ALIGN - 1)) == 0;
}

bool mmi_kernel_aligns(size_t len) {
  return MMI_LINUX && sizeof(void *) >= 8 && len % MMI_HUGE_ALIGN == 0;
}

size_t mmi_round_huge(size_t len) {
  if (len < MMI_HUGE_ALIGN || len > SIZE_MAX - MMI_HUGE_ALIGN)
    return len;
  return (len + MMI_HUGE_ALIGN - 1) & ~(MMI_HUGE_ALIGN - 1);
}

static void *reserve_aligned(size_t len, int flags) {
  if (len < MMI_HUGE_ALIGN || len > SIZE_MAX - MMI_HUGE_ALIGN)
    return mmi_sys.mmap(NULL, len, PROT_NONE, flags, -1, 0);
  /* Where the kernel aligns the mapping itself, the first try is the
   * answer; otherwise over-reserve and trim. */
  if (mmi_kernel_aligns(len)) {
    void *first = mmi_sys.mmap(NULL, len, PROT_NONE, flags, -1, 0);
    if (first == MAP_FAILED || mmi_huge_aligned(first))
      return first;
    munmap(first, len);
  }
  unsigned char *p =
      mmi_sys.mmap(NULL, len + MMI_HUGE_ALIGN, PROT_NONE, flags, -1, 0);
  if (p == MAP_FAILED)
    return mmi_sys.mmap(NULL, len, PROT_NONE, flags, -1, 0);
  size_t head = (MMI_HUGE_ALIGN - ((uintptr_t)p & (MMI_HUGE_ALIGN - 1))) &
                (MMI_HUGE_ALIGN - 1);
  if (head > 0)
    munmap(p, head);
  if (MMI_HUGE_ALIGN - head > 0)
    munmap(p + head + len, MMI_HUGE_ALIGN - head);
  return p + head;
}

void *mmi_reserve_at(void *addr, size_t len) {
  int flags = MAP_PRIVATE | MAP_ANONYMOUS | mmi_map_noreserve();
  if (addr == NULL) {
    void *p = reserve_aligned(len, flags);
    return p == MAP_FAILED ? NULL : p;
  }
#if MMI_LINUX && defined(MAP_FIXED_NOREPLACE)
  flags |= MAP_FIXED_NOREPLACE;
#endif
  void *p = mmi_sys.mmap(addr, len, PROT_NONE, flags, -1, 0);
  if (p == MAP_FAILED)
    return NULL;
  /* Without MAP_FIXED_NOREPLACE (or on kernels that ignore it), the hint
   * may not be honoured: that is not the range we asked for. */
  if (p != addr) {
    munmap(p, len);
    errno = EEXIST;
    return NULL;
  }
  return p;
}

int mmi_open_tmpfile(const char *dir, unsigned perm) {
#if MMI_LINUX && defined(O_TMPFILE)
  return open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, (mode_t)perm);
#else
  (void)dir;
  (void)perm;
  errno = EOPNOTSUPP;
  return -1;
#endif
}

int mmi_link_tmpfile(int fd, const char *path) {
#if MMI_LINUX
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  return linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
#else
  (void)fd;
  (void)path;
  errno = EOPNOTSUPP;
  return -1;
#endif
}

uint64_t mmi_seek_data(int fd, uint64_t off, uint64_t size) {
#ifdef SEEK_DATA
  off_t r = lseek(fd, (off_t)off, SEEK_DATA);
  if (r >= 0)
    return (uint64_t)r;
  if (errno == ENXIO)
    return size; /* only a hole remains */
#endif
  (void)fd;
  (void)size;
  return off; /* unknown: treat everything as data */
}

uint64_t mmi_seek_hole(int fd, uint64_t off, uint64_t size) {
#ifdef SEEK_HOLE
  off_t r = lseek(fd, (off_t)off, SEEK_HOLE);
  if (r >= 0)
    return (uint64_t)r < size ? (uint64_t)r : size;
#endif
  (void)fd;
  (void)off;
  return size;
}

static int copy_by_pread(int in, int out, uint64_t off, uint64_t len) {
  char buf[65536];
  while (len > 0) {
    size_t want = len < sizeof buf ? (size_t)len : sizeof buf;
    ssize_t n = pread(in, buf, want, (off_t)off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n == 0 ? EIO : errno;
    for (ssize_t done = 0; done < n;) {
      ssize_t w =
          pwrite(out, buf + done, (size_t)(n - done), (off_t)off + done);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        return errno;
      done += w;
    }
    off += (uint64_t)n;
    len -= (uint64_t)n;
  }
  return 0;
}

int mmi_copy_range(int in, int out, uint64_t off, uint64_t len) {
#if MMI_LINUX
  loff_t ioff = (loff_t)off, ooff = (loff_t)off;
  while (len > 0) {
    size_t want = len < ((size_t)1 << 30) ? (size_t)len : (size_t)1 << 30;
    ssize_t n = copy_file_range(in, &ioff, out, &ooff, want, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP ||
                  errno == EINVAL))
      return copy_by_pread(in, out, (uint64_t)ioff, len);
    if (n < 0)
      return errno;
    if (n == 0)
      return EIO; /* the source shrank under us */
    len -= (uint64_t)n;
  }
  return 0;
#else
  return copy_by_pread(in, out, off, len);
#endif
}

int mmi_file_dirty(int fd) {
#if MMI_LINUX
  /* cachestat(2), Linux 6.5; the number is the same on every
   * architecture. Older kernels say ENOSYS: unknown. */
  struct {
    uint64_t off, len;
  } range = {0, 0};
  struct {
    uint64_t cache, dirty, writeback, evicted, recently_evicted;
  } cs;
  if (syscall(451, fd, &range, &cs, 0) == 0)
    return cs.dirty > 0 || cs.writeback > 0;
#else
  (void)fd;
#endif
  return -1;
}

/* MMAPIO_TSAN_: the public header's ThreadSanitizer test. */
#ifdef MMAPIO_TSAN_
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);
void mmi_remap_begin(void) { __tsan_ignore_thread_begin(); }
void mmi_remap_end(void) { __tsan_ignore_thread_end(); }
#else
void mmi_remap_begin(void) {}
void mmi_remap_end(void) {}
#endif
