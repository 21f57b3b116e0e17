/*
 * Linux: the calls only Linux has, behind the platform functions that
 * need them (os.h). Reading /proc and /sys is in linux_procfs.c. The
 * build compiles this file on Linux unless MMAPIO_POSIX_ONLY; otherwise
 * posix.c answers the same functions.
 */
#include "unix.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

/* ------------------------------------------------------------------ */
/* Entries of the system-call table whose real function is Linux's     */
/* ------------------------------------------------------------------ */

/* The sanitizers' runtimes replace mlock and munlock with calls that do
 * nothing and succeed; going to the kernel directly keeps locks real (and
 * their failures visible) in sanitizer builds too. */
int mmi_real_mlock(const void *addr, size_t len) {
  return (int)syscall(SYS_mlock, addr, len);
}

int mmi_real_munlock(const void *addr, size_t len) {
  return (int)syscall(SYS_munlock, addr, len);
}

/* Linux 5.14; older kernels say EINVAL. */
int mmi_real_populate(void *addr, size_t len) {
  return madvise(addr, len, MADV_POPULATE_READ);
}

/* msync(MS_ASYNC) has been a no-op on Linux since 2.6.19: it starts no
 * I/O. sync_file_range queues the dirty pages of the range for writing
 * and returns without waiting; pages dirtied through a shared mapping are
 * dirty in the page cache, so it covers them too. */
int mmi_real_writeback(int fd, void *addr, uint64_t off, uint64_t len) {
  (void)addr;
  return sync_file_range(fd, (off64_t)off, (off64_t)len, SYNC_FILE_RANGE_WRITE);
}

/* cachestat(2), Linux 6.5; its number is the same on every architecture.
 * Older kernels say ENOSYS. */
int mmi_real_cachestat(int fd, mmi_cachestat_range *range, mmi_cachestat *cs,
                       unsigned flags) {
  return (int)syscall(451, fd, range, cs, flags);
}

/* membarrier(2); not every C library wraps it. */
int mmi_real_membarrier(int cmd, unsigned flags) {
  return (int)syscall(SYS_membarrier, cmd, flags, 0);
}

/* ---- the page probe: PAGEMAP_SCAN (Linux 6.7) on /proc/self/pagemap */

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

int mmi_real_page_mapping(const void *addr) {
  int fd = pagemap_get();
  if (fd < 0)
    return MMI_PAGE_UNKNOWN;
  uintptr_t size = (uintptr_t)sysconf(_SC_PAGESIZE);
  uintptr_t page = (uintptr_t)addr & ~(size - 1);
  struct mmi_page_region r = {0, 0, 0};
  struct mmi_pm_scan_arg a;
  memset(&a, 0, sizeof a);
  a.size = sizeof a;
  a.start = page;
  a.end = page + size;
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
    return MMI_PAGE_UNKNOWN;
  }
  if (r.categories & MMI_PAGE_IS_HUGE)
    return MMI_PAGE_HUGE;
  return (r.categories & MMI_PAGE_IS_PRESENT) ? MMI_PAGE_SMALL
                                              : MMI_PAGE_ABSENT;
}

/* ------------------------------------------------------------------ */
/* Files                                                               */
/* ------------------------------------------------------------------ */

int mmi_os_open_unnamed(const char *dir, unsigned perm) {
  if (MMI_O_TMPFILE == 0) {
    errno = EOPNOTSUPP;
    return -1;
  }
  return mmi_sys.open(dir, MMI_O_TMPFILE | O_RDWR | O_CLOEXEC, (mode_t)perm);
}

int mmi_os_link_unnamed(int fd, const char *path) {
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  return mmi_sys.linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
}

int mmi_os_copy_range(int in, int out, uint64_t off, uint64_t len) {
  loff_t ioff = (loff_t)off, ooff = (loff_t)off;
  while (len > 0) {
    size_t want = len < ((size_t)1 << 30) ? (size_t)len : (size_t)1 << 30;
    ssize_t n = mmi_sys.copy_file_range(in, &ioff, out, &ooff, want, 0);
    if (n < 0 && errno == EINTR)
      continue;
    /* Across file systems, or where the kernel or file system cannot:
     * through a buffer. */
    if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP ||
                  errno == EINVAL))
      return mmi_unix_copy_by_pread(in, out, (uint64_t)ioff, len);
    if (n < 0)
      return errno;
    if (n == 0)
      return EIO; /* the source shrank under us */
    len -= (uint64_t)n;
  }
  return 0;
}

int mmi_os_file_dirty(int fd) {
  mmi_cachestat_range range = {0, 0};
  mmi_cachestat cs;
  if (mmi_sys.cachestat(fd, &range, &cs, 0) != 0)
    return -1; /* older kernels: cannot tell */
  return cs.dirty > 0 || cs.writeback > 0;
}

static const struct {
  unsigned long magic;
  const char *name;
} fs_names[] = {
    {0xEF53UL, "ext4"},          {0x58465342UL, "xfs"},
    {0x9123683EUL, "btrfs"},     {0x01021994UL, "tmpfs"},
    {0x958458f6UL, "hugetlbfs"}, {0x858458f6UL, "ramfs"},
    {0x6969UL, "nfs"},           {0xF2F52010UL, "f2fs"},
    {0xCA451A4EUL, "bcachefs"},  {0x65735546UL, "fuse"},
    {0x794C7630UL, "overlayfs"}, {0xE0F5E1E2UL, "erofs"},
    {0x2FC12FC1UL, "zfs"},       {0xFF534D42UL, "cifs"},
    {0xFE534D42UL, "smb2"},      {0x4D44UL, "vfat"},
    {0x2011BAB0UL, "exfat"},     {0x73717368UL, "squashfs"},
    {0x01021997UL, "9p"},        {0x00C36400UL, "ceph"},
};

const char *mmi_os_file_system(int fd) {
  struct statfs sf;
  if (mmi_sys.fstatfs(fd, &sf) != 0)
    return "unknown";
  unsigned long magic = (unsigned long)sf.f_type & 0xFFFFFFFFUL;
  for (size_t i = 0; i < sizeof fs_names / sizeof fs_names[0]; i++)
    if (fs_names[i].magic == magic)
      return fs_names[i].name;
  return "unknown";
}

/* ------------------------------------------------------------------ */
/* Address space and memory control                                    */
/* ------------------------------------------------------------------ */

/* Linux places mappings whose length is a multiple of 2 MiB on a 2 MiB
 * boundary, in 64-bit processes only. */
bool mmi_os_kernel_aligns(size_t len) {
  return sizeof(void *) >= 8 && len % MMI_HUGE_ALIGN == 0;
}

int mmi_os_advise(void *addr, size_t len, mmapio_advice advice) {
  static const int native[] = {MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL,
                               MADV_WILLNEED, MADV_DONTNEED};
  return mmi_sys.madvise(addr, len, native[advice]);
}

const char *mmi_os_advise_call(void) { return "madvise"; }

bool mmi_os_has_thp(void) { return true; }

int mmi_os_thp_advise(void *addr, size_t len) {
  return mmi_sys.madvise(addr, len, MADV_HUGEPAGE);
}

int mmi_os_thp_collapse(void *addr, size_t len) {
  return mmi_sys.madvise(addr, len, MADV_COLLAPSE);
}

/* ------------------------------------------------------------------ */
/* Memory files and seals                                              */
/* ------------------------------------------------------------------ */

int mmi_os_memfd(bool hugetlb) {
  unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
  if (hugetlb)
    flags |= MFD_HUGETLB;
  return mmi_sys.memfd_create("mmapio-anon", flags);
}

const char *mmi_os_memfd_call(void) { return "memfd_create"; }

bool mmi_os_has_seals(void) { return true; }

int mmi_os_seals_add(int fd, unsigned seals) {
  int native = 0;
  if (seals & MMAPIO_SEAL_SHRINK)
    native |= F_SEAL_SHRINK;
  if (seals & MMAPIO_SEAL_GROW)
    native |= F_SEAL_GROW;
  return mmi_sys.fcntl(fd, F_ADD_SEALS, native) == 0 ? 0 : -1;
}

int mmi_os_seals_get(int fd, unsigned *seals) {
  int native = mmi_sys.fcntl(fd, F_GET_SEALS, 0);
  if (native < 0)
    return -1;
  *seals = ((native & F_SEAL_SHRINK) ? MMAPIO_SEAL_SHRINK : 0u) |
           ((native & F_SEAL_GROW) ? MMAPIO_SEAL_GROW : 0u);
  return 0;
}

/* ------------------------------------------------------------------ */
/* Background work: writeback, notifiers, watching                     */
/* ------------------------------------------------------------------ */

/* membarrier's commands (linux/membarrier.h), spelled out: the C
 * library's kernel headers may predate them. */
enum {
  MMI_MEMBARRIER_QUERY = 0,
  MMI_MEMBARRIER_PRIVATE_EXPEDITED = 8,
  MMI_MEMBARRIER_REGISTER_PRIVATE_EXPEDITED = 16
};

int mmi_os_barrier_setup(void) {
  int cmds = mmi_sys.membarrier(MMI_MEMBARRIER_QUERY, 0);
  if (cmds < 0)
    return -1;
  if ((cmds & MMI_MEMBARRIER_PRIVATE_EXPEDITED) == 0) {
    errno = ENOSYS;
    return -1;
  }
  return mmi_sys.membarrier(MMI_MEMBARRIER_REGISTER_PRIVATE_EXPEDITED, 0) == 0
             ? 0
             : -1;
}

/* The expedited form interrupts only the processors running this
 * process's threads; a thread not running passes a barrier when it is
 * scheduled again. EPERM says the process is not registered: a child of
 * fork may not inherit its parent's registration, so it registers then. */
int mmi_os_barrier_all(void) {
  if (mmi_sys.membarrier(MMI_MEMBARRIER_PRIVATE_EXPEDITED, 0) == 0)
    return 0;
  if (errno != EPERM || mmi_os_barrier_setup() != 0)
    return -1;
  return mmi_sys.membarrier(MMI_MEMBARRIER_PRIVATE_EXPEDITED, 0) == 0 ? 0 : -1;
}

const char *mmi_os_barrier_call(void) { return "membarrier"; }

const char *mmi_os_writeback_call(void) { return "sync_file_range"; }

bool mmi_os_has_writeback(void) { return true; }

/* An eventfd: one descriptor, readable while its counter is not 0. */
int mmi_os_notifier_open(int *rd, int *wr) {
  int fd = mmi_sys.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0)
    return -1;
  *rd = *wr = fd;
  return 0;
}

const char *mmi_os_notifier_call(void) { return "eventfd"; }

void mmi_os_notifier_set(int wr) {
  uint64_t one = 1;
  ssize_t r;
  do
    r = mmi_sys.write(wr, &one, sizeof one);
  while (r < 0 && errno == EINTR);
  /* EAGAIN: the counter is full, so it is readable already. */
  (void)r;
}

bool mmi_os_has_watch(void) { return true; }

int mmi_os_watch_open(int fd, const char *path, int *wd, const char **call) {
  *call = "inotify_init1";
  int w = mmi_sys.inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (w < 0)
    return errno;
  /* Watch the open file itself, through /proc, so a rename or a from_fd
   * handle without a path still watches the right inode. */
  const uint32_t mask = IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF;
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  *call = "inotify_add_watch";
  int e = 0;
  if (mmi_sys.inotify_add_watch(w, proc, mask) < 0) {
    e = errno;
    if (e == ENOENT && path != NULL) /* no /proc: fall back to the name */
      e = mmi_sys.inotify_add_watch(w, path, mask) < 0 ? errno : 0;
  }
  if (e != 0) {
    mmi_sys.close(w);
    return e;
  }
  *wd = w;
  return 0;
}

/* The MMI_WEV_* bits of an inotify event mask. */
static unsigned translate(uint32_t mask) {
  static const struct {
    uint32_t in;
    unsigned wev;
  } kinds[] = {
      {IN_MODIFY, MMI_WEV_MODIFY},   {IN_ATTRIB, MMI_WEV_ATTRIB},
      {IN_MOVE_SELF, MMI_WEV_MOVED}, {IN_DELETE_SELF, MMI_WEV_DELETED},
      {IN_IGNORED, MMI_WEV_IGNORED}, {IN_Q_OVERFLOW, MMI_WEV_OVERFLOW},
  };
  unsigned k = 0;
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (mask & kinds[i].in)
      k |= kinds[i].wev;
  return k;
}

int mmi_os_watch_read(int wd, unsigned *kinds, size_t cap, size_t *n) {
  *n = 0;
  /* A watched file's events carry no name, so each is exactly one
   * struct inotify_event; the buffer holds at most cap of them. */
  _Alignas(struct inotify_event) char buf[64 * sizeof(struct inotify_event)];
  size_t want = cap < 64 ? cap * sizeof(struct inotify_event) : sizeof buf;
  ssize_t got;
  do
    got = mmi_sys.read(wd, buf, want);
  while (got < 0 && errno == EINTR);
  if (got < 0)
    return errno;
  for (size_t at = 0; at + sizeof(struct inotify_event) <= (size_t)got;) {
    const struct inotify_event *ev = (const void *)(buf + at);
    if (*n < cap)
      kinds[(*n)++] = translate(ev->mask);
    at += sizeof *ev + ev->len;
  }
  return 0;
}

/* ------------------------------------------------------------------ */
/* Streams and hand-off                                                */
/* ------------------------------------------------------------------ */

static ssize_t cookie_read(void *s, char *buf, size_t len) {
  const mmi_stream *st = s;
  return st->ops->read(st->cookie, buf, len);
}

static ssize_t cookie_write(void *s, const char *buf, size_t len) {
  const mmi_stream *st = s;
  return st->ops->write(st->cookie, buf, len);
}

static int cookie_seek(void *s, mmi_cookie_off *pos, int whence) {
  const mmi_stream *st = s;
  int64_t p = (int64_t)*pos;
  if (st->ops->seek(st->cookie, &p, whence) != 0)
    return -1;
  *pos = (mmi_cookie_off)p;
  return 0;
}

static int cookie_close(void *s) {
  const mmi_stream *st = s;
  return st->ops->close(st->cookie);
}

bool mmi_os_has_streams(void) { return true; }

FILE *mmi_os_fopen(mmi_stream *s, const char *mode) {
  cookie_io_functions_t io = {cookie_read, cookie_write, cookie_seek,
                              cookie_close};
  return mmi_sys.fopencookie(s, mode, io);
}

ssize_t mmi_os_sendfile(int out_fd, int in_fd, uint64_t off, size_t len) {
  off_t o = (off_t)off;
  return mmi_sys.sendfile(out_fd, in_fd, &o, len);
}
