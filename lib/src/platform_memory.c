/*
 * The platform layer of memory control: every #if that selects a Linux
 * extension (MADV_POPULATE_READ, MADV_HUGEPAGE, MADV_COLLAPSE,
 * PAGEMAP_SCAN, memfd_create, seals, MSG_CMSG_CLOEXEC) or its POSIX
 * fallback. Logic in other files calls these functions and never tests
 * the platform.
 */
#include "platform.h"
#include "platform_memory.h"

#include "mmapio.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#if MMI_LINUX
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#endif

/* Constants newer than the oldest C library we build against. */
#if MMI_LINUX
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#endif

/* ------------------------------------------------------------------ */
/* Advice, population, residency, locks                                */
/* ------------------------------------------------------------------ */

static int real_advise(void *addr, size_t len, int advice) {
#if MMI_LINUX
  static const int native[] = {MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL,
                               MADV_WILLNEED, MADV_DONTNEED};
  return madvise(addr, len, native[advice]);
#else
  static const int native[] = {POSIX_MADV_NORMAL, POSIX_MADV_RANDOM,
                               POSIX_MADV_SEQUENTIAL, POSIX_MADV_WILLNEED,
                               POSIX_MADV_DONTNEED};
  int e = posix_madvise(addr, len, native[advice]);
  if (e == 0)
    return 0;
  errno = e;
  return -1;
#endif
}

static int real_fadvise_willneed(int fd, uint64_t off, uint64_t len) {
  return posix_fadvise(fd, (off_t)off, (off_t)len, POSIX_FADV_WILLNEED);
}

static int real_populate(void *addr, size_t len) {
#if MMI_LINUX
  return madvise(addr, len, MADV_POPULATE_READ);
#else
  (void)addr;
  (void)len;
  errno = ENOSYS;
  return -1;
#endif
}

/* The sanitizers' runtimes replace mlock and munlock with calls that do
 * nothing and succeed; going to the kernel directly keeps locks real (and
 * their failures visible) in sanitizer builds too. */
static int real_mlock(const void *addr, size_t len) {
#if MMI_LINUX
  return (int)syscall(SYS_mlock, addr, len);
#else
  return mlock(addr, len);
#endif
}

static int real_munlock(const void *addr, size_t len) {
#if MMI_LINUX
  return (int)syscall(SYS_munlock, addr, len);
#else
  return munlock(addr, len);
#endif
}

static int real_mincore(void *addr, size_t len, unsigned char *vec) {
#if defined(__linux__)
  return mincore(addr, len, vec);
#else
  return mincore(addr, len, (char *)vec); /* the BSDs' signature */
#endif
}

/* ------------------------------------------------------------------ */
/* The page probe: PAGEMAP_SCAN (Linux 6.7) on /proc/self/pagemap      */
/* ------------------------------------------------------------------ */

#if MMI_LINUX
/* The kernel's struct pm_scan_arg and struct page_region (linux/fs.h),
 * spelled out: the C library's kernel headers may predate them. */
struct mmi_pm_scan_arg {
  uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
  uint64_t category_inverted, category_mask, category_anyof_mask;
  uint64_t return_mask;
};
struct mmi_page_region {
  uint64_t start, end, categories;
};
#define MMI_PAGEMAP_SCAN _IOWR('f', 16, struct mmi_pm_scan_arg)
#define MMI_PAGE_IS_PRESENT (1u << 3)
#define MMI_PAGE_IS_HUGE (1u << 6)

/* The process's pagemap descriptor: -1 not opened yet, -2 unusable.
 * /proc/self/pagemap answers for the process that opened it, so a child
 * of fork() must open its own: the atfork handler forgets the parent's.
 * A stale answer would only choose a slower way to touch, never a wrong
 * result. */
static _Atomic int pagemap_fd = -1;
static pthread_once_t pagemap_once = PTHREAD_ONCE_INIT;

static void pagemap_forget_in_child(void) {
  int fd = atomic_exchange(&pagemap_fd, -1);
  if (fd >= 0)
    close(fd);
}

static void pagemap_register_atfork(void) {
  pthread_atfork(NULL, NULL, pagemap_forget_in_child);
}

static int pagemap_get(void) {
  int fd = atomic_load_explicit(&pagemap_fd, memory_order_acquire);
  if (fd != -1)
    return fd;
  pthread_once(&pagemap_once, pagemap_register_atfork);
  int mine = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  int want = mine >= 0 ? mine : -2;
  int expected = -1;
  if (atomic_compare_exchange_strong(&pagemap_fd, &expected, want))
    return want;
  if (mine >= 0)
    close(mine); /* another thread opened it first */
  return expected;
}
#endif

static int real_probe(const void *addr) {
#if MMI_LINUX
  int fd = pagemap_get();
  if (fd < 0)
    return MMI_PROBE_UNKNOWN;
  uintptr_t page = (uintptr_t)addr & ~(uintptr_t)4095;
  struct mmi_page_region r = {0, 0, 0};
  struct mmi_pm_scan_arg a;
  memset(&a, 0, sizeof a);
  a.size = sizeof a;
  a.start = page;
  a.end = page + 4096;
  a.vec = (uintptr_t)&r;
  a.vec_len = 1;
  a.return_mask = MMI_PAGE_IS_PRESENT | MMI_PAGE_IS_HUGE;
  if (ioctl(fd, MMI_PAGEMAP_SCAN, &a) < 0) {
    if (errno == ENOTTY || errno == EINVAL || errno == EOPNOTSUPP) {
      /* A kernel without PAGEMAP_SCAN: stop asking. */
      int expected = fd;
      if (atomic_compare_exchange_strong(&pagemap_fd, &expected, -2))
        close(fd);
    }
    return MMI_PROBE_UNKNOWN;
  }
  if (r.categories & MMI_PAGE_IS_HUGE)
    return MMI_PROBE_HUGE;
  return (r.categories & MMI_PAGE_IS_PRESENT) ? MMI_PROBE_SMALL
                                              : MMI_PROBE_ABSENT;
#else
  (void)addr;
  return MMI_PROBE_UNKNOWN;
#endif
}

/* FS_IOC_FIEMAP asked for one extent: it changes nothing (unlike
 * lseek(SEEK_DATA), which would move a file position the fd may share
 * with its previous owner). Unsupported (tmpfs, some file systems): -1.
 * Delayed-allocation data in the page cache counts as an extent. */
static int real_hole(int fd, uint64_t off, uint64_t len) {
#if MMI_LINUX && defined(FS_IOC_FIEMAP)
  union {
    struct fiemap f;
    unsigned char room[sizeof(struct fiemap) + sizeof(struct fiemap_extent)];
  } q;
  memset(&q, 0, sizeof q);
  q.f.fm_start = off;
  q.f.fm_length = len;
  q.f.fm_extent_count = 1;
  if (ioctl(fd, FS_IOC_FIEMAP, &q.f) != 0)
    return -1;
  return q.f.fm_mapped_extents == 0 ? 1 : 0;
#else
  (void)fd;
  (void)off;
  (void)len;
  return -1;
#endif
}

static const mmi_memsys_table real_table = {
    real_advise,  real_fadvise_willneed, real_populate, real_mlock,
    real_munlock, real_mincore,          real_probe,    real_hole,
};

mmi_memsys_table mmi_memsys = {
    real_advise,  real_fadvise_willneed, real_populate, real_mlock,
    real_munlock, real_mincore,          real_probe,    real_hole,
};

void mmi_memsys_reset(void) {
  mmi_memsys = real_table;
  mmi_touch_cache_clear();
}

/* ------------------------------------------------------------------ */
/* Ticks                                                               */
/* ------------------------------------------------------------------ */

uint64_t mmi_ticks(void) {
#if (defined(__GNUC__) || defined(__clang__)) &&                               \
    (defined(__x86_64__) || defined(__i386__))
  return __builtin_ia32_rdtsc();
#elif (defined(__GNUC__) || defined(__clang__)) && defined(__aarch64__)
  uint64_t v;
  __asm__ __volatile__("mrs %0, cntvct_el0" : "=r"(v));
  return v;
#else
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}

uint64_t mmi_ticks_per_us(void) {
#if (defined(__GNUC__) || defined(__clang__)) &&                               \
    (defined(__x86_64__) || defined(__i386__))
  /* The TSC runs at the nominal clock, 1-5 GHz: 2.5 GHz is within the
   * margin the callers allow. */
  return 2500;
#elif (defined(__GNUC__) || defined(__clang__)) && defined(__aarch64__)
  uint64_t f;
  __asm__ __volatile__("mrs %0, cntfrq_el0" : "=r"(f));
  return f >= 1000000 ? f / 1000000 : 1;
#else
  return 1000;
#endif
}

/* ------------------------------------------------------------------ */
/* Huge pages                                                          */
/* ------------------------------------------------------------------ */

bool mmi_thp_built(void) {
#if MMI_LINUX && defined(MADV_HUGEPAGE)
  return true;
#else
  return false;
#endif
}

int mmi_thp_advise(void *addr, size_t len) {
#if MMI_LINUX && defined(MADV_HUGEPAGE)
  return madvise(addr, len, MADV_HUGEPAGE);
#else
  (void)addr;
  (void)len;
  errno = ENOSYS;
  return -1;
#endif
}

int mmi_thp_collapse(void *addr, size_t len) {
#if MMI_LINUX
  return madvise(addr, len, MADV_COLLAPSE);
#else
  (void)addr;
  (void)len;
  errno = ENOSYS;
  return -1;
#endif
}

#define MMI_HUGETLBFS_MAGIC 0x958458f6UL

static const struct {
  unsigned long magic;
  const char *name;
} fs_names[] = {
    {0xEF53UL, "ext4"},
    {0x58465342UL, "xfs"},
    {0x9123683EUL, "btrfs"},
    {0x01021994UL, "tmpfs"},
    {MMI_HUGETLBFS_MAGIC, "hugetlbfs"},
    {0x858458f6UL, "ramfs"},
    {0x6969UL, "nfs"},
    {0xF2F52010UL, "f2fs"},
    {0xCA451A4EUL, "bcachefs"},
    {0x65735546UL, "fuse"},
    {0x794C7630UL, "overlayfs"},
    {0xE0F5E1E2UL, "erofs"},
    {0x2FC12FC1UL, "zfs"},
    {0xFF534D42UL, "cifs"},
    {0xFE534D42UL, "smb2"},
    {0x4D44UL, "vfat"},
    {0x2011BAB0UL, "exfat"},
    {0x73717368UL, "squashfs"},
    {0x01021997UL, "9p"},
    {0x00C36400UL, "ceph"},
};

int mmi_fd_fs(int fd, unsigned long *magic, const char **name) {
  *magic = 0;
  *name = "unknown";
#if MMI_LINUX
  struct statfs sf;
  if (fstatfs(fd, &sf) != 0)
    return -1;
  *magic = (unsigned long)sf.f_type & 0xFFFFFFFFUL;
  for (size_t i = 0; i < sizeof fs_names / sizeof fs_names[0]; i++)
    if (fs_names[i].magic == *magic)
      *name = fs_names[i].name;
  return 0;
#else
  (void)fd;
  (void)fs_names;
  errno = ENOSYS;
  return -1;
#endif
}

bool mmi_fd_is_hugetlb(int fd) {
  unsigned long magic;
  const char *name;
  return mmi_fd_fs(fd, &magic, &name) == 0 && magic == MMI_HUGETLBFS_MAGIC;
}

const char *mmi_smaps_path(void) {
#if MMI_LINUX
  return "/proc/self/smaps";
#else
  return NULL;
#endif
}

/* ------------------------------------------------------------------ */
/* Memory files and seals                                              */
/* ------------------------------------------------------------------ */

#if !MMI_LINUX
static _Atomic unsigned shm_counter;
#endif

int mmi_memfd(bool hugetlb) {
#if MMI_LINUX
  unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
  if (hugetlb)
    flags |= MFD_HUGETLB;
  return memfd_create("mmapio-anon", flags);
#else
  if (hugetlb) {
    errno = EOPNOTSUPP;
    return -1;
  }
  /* A unique name, unlinked at once: the object lives as long as its
   * descriptors and mappings, like a memfd. shm_open sets FD_CLOEXEC. */
  for (int tries = 0; tries < 64; tries++) {
    char name[64];
    unsigned n = atomic_fetch_add(&shm_counter, 1);
    snprintf(name, sizeof name, "/mmapio-%ld-%u-%lx", (long)getpid(), n,
             (unsigned long)(uintptr_t)&n);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) {
      shm_unlink(name);
      return fd;
    }
    if (errno != EEXIST)
      return -1;
  }
  errno = EEXIST;
  return -1;
#endif
}

const char *mmi_memfd_call(void) {
  return MMI_LINUX ? "memfd_create" : "shm_open";
}

bool mmi_seals_built(void) { return MMI_LINUX; }

int mmi_seals_add(int fd, unsigned seals) {
#if MMI_LINUX
  int native = 0;
  if (seals & MMAPIO_SEAL_SHRINK)
    native |= F_SEAL_SHRINK;
  if (seals & MMAPIO_SEAL_GROW)
    native |= F_SEAL_GROW;
  return fcntl(fd, F_ADD_SEALS, native) == 0 ? 0 : -1;
#else
  (void)fd;
  (void)seals;
  errno = EOPNOTSUPP;
  return -1;
#endif
}

int mmi_seals_get(int fd, unsigned *seals) {
#if MMI_LINUX
  int native = fcntl(fd, F_GET_SEALS);
  if (native < 0)
    return -1;
  *seals = ((native & F_SEAL_SHRINK) ? MMAPIO_SEAL_SHRINK : 0u) |
           ((native & F_SEAL_GROW) ? MMAPIO_SEAL_GROW : 0u);
  return 0;
#else
  (void)fd;
  (void)seals;
  errno = EOPNOTSUPP;
  return -1;
#endif
}

/* ------------------------------------------------------------------ */
/* Descriptor passing (SCM_RIGHTS)                                     */
/* ------------------------------------------------------------------ */

#define MMI_MAX_FDS 4 /* descriptors accepted in one message */

typedef union {
  struct cmsghdr align;
  char buf[CMSG_SPACE(sizeof(int) * MMI_MAX_FDS)];
} mmi_cmsg_buf;

int mmi_send_fd(int sock, int fd) {
  char byte = 'M';
  struct iovec iov = {&byte, 1};
  mmi_cmsg_buf cb;
  memset(&cb, 0, sizeof cb);
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cb.buf;
  msg.msg_controllen = CMSG_SPACE(sizeof(int));
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  int flags = 0;
#ifdef MSG_NOSIGNAL
  flags |= MSG_NOSIGNAL;
#endif
  for (;;) {
    ssize_t n = sendmsg(sock, &msg, flags);
    if (n == 1)
      return 0;
    if (n < 0 && errno == EINTR)
      continue;
    if (n >= 0)
      errno = EIO;
    return -1;
  }
}

int mmi_recv_fd(int sock, int *fd) {
  char byte;
  struct iovec iov = {&byte, 1};
  mmi_cmsg_buf cb;
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cb.buf;
  msg.msg_controllen = sizeof cb.buf;
  int flags = 0;
#if MMI_LINUX
  flags |= MSG_CMSG_CLOEXEC;
#endif
  ssize_t n;
  while ((n = recvmsg(sock, &msg, flags)) < 0 && errno == EINTR) {
  }
  if (n < 0)
    return -1;
  *fd = -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL;
       c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
      continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int got;
      memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
      if (*fd < 0) {
        *fd = got;
#if !MMI_LINUX
        fcntl(got, F_SETFD, FD_CLOEXEC);
#endif
      } else {
        close(got); /* only the first descriptor is taken */
      }
    }
  }
  if (n == 0 && *fd < 0) {
    errno = ECONNRESET; /* the peer closed without sending */
    return -1;
  }
  return 0;
}
