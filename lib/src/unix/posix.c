/*
 * Any other POSIX system (and MMAPIO_POSIX_ONLY builds on Linux): the
 * portable answers to the platform functions that linux.c answers with
 * Linux's calls. Where POSIX has no way to do something, the answer says
 * so (the errno each function documents in os.h), and the library
 * reports UNSUPPORTED or takes its fallback.
 */
#include "unix.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

/* The errno of a function this system cannot do at all. */
static int unsupported(int e) {
  errno = e;
  return -1;
}

/* ------------------------------------------------------------------ */
/* Entries of the system-call table                                    */
/* ------------------------------------------------------------------ */

int mmi_real_mlock(const void *addr, size_t len) { return mlock(addr, len); }

int mmi_real_munlock(const void *addr, size_t len) {
  return munlock(addr, len);
}

/* No call faults a range in: touch_pages loops. */
int mmi_real_populate(void *addr, size_t len) {
  (void)addr;
  (void)len;
  return unsupported(ENOSYS);
}

/* Nothing tells how a page is mapped. */
int mmi_real_page_mapping(const void *addr) {
  (void)addr;
  return MMI_PAGE_UNKNOWN;
}

/* msync(MS_ASYNC) schedules the write where the system implements it. */
int mmi_real_writeback(int fd, void *addr, uint64_t off, uint64_t len) {
  (void)fd;
  (void)off;
  return msync(addr, (size_t)len, MS_ASYNC);
}

/* ------------------------------------------------------------------ */
/* Files                                                               */
/* ------------------------------------------------------------------ */

int mmi_os_open_unnamed(const char *dir, unsigned perm) {
  (void)dir;
  (void)perm;
  return unsupported(EOPNOTSUPP);
}

int mmi_os_link_unnamed(int fd, const char *path) {
  (void)fd;
  (void)path;
  return unsupported(EOPNOTSUPP);
}

int mmi_os_copy_range(int in, int out, uint64_t off, uint64_t len) {
  return mmi_unix_copy_by_pread(in, out, off, len);
}

int mmi_os_file_dirty(int fd) {
  (void)fd;
  return -1;
}

const char *mmi_os_file_system(int fd) {
  (void)fd;
  return "unknown";
}

/* ------------------------------------------------------------------ */
/* Address space, memory control and huge pages                        */
/* ------------------------------------------------------------------ */

bool mmi_os_kernel_aligns(size_t len) {
  (void)len;
  return false;
}

int mmi_os_advise(void *addr, size_t len, mmapio_advice advice) {
  static const int native[] = {POSIX_MADV_NORMAL, POSIX_MADV_RANDOM,
                               POSIX_MADV_SEQUENTIAL, POSIX_MADV_WILLNEED,
                               POSIX_MADV_DONTNEED};
  int e = mmi_sys.posix_madvise(addr, len, native[advice]);
  return e == 0 ? 0 : unsupported(e);
}

const char *mmi_os_advise_call(void) { return "posix_madvise"; }

bool mmi_os_has_thp(void) { return false; }

int mmi_os_thp_advise(void *addr, size_t len) {
  (void)addr;
  (void)len;
  return unsupported(ENOSYS);
}

int mmi_os_thp_collapse(void *addr, size_t len) {
  (void)addr;
  (void)len;
  return unsupported(ENOSYS);
}

size_t mmi_os_pmd_size(void) { return 0; }

void mmi_os_thp_mode(mmi_thp_memory memory, char *out, size_t n) {
  (void)memory;
  if (n > 0)
    out[0] = '\0';
}

void mmi_os_hugetlb_pool(mmi_hugetlb_pool *out) { memset(out, 0, sizeof *out); }

void mmi_os_huge_usage(uintptr_t lo, uintptr_t hi, mmi_huge_usage *out) {
  (void)lo;
  (void)hi;
  memset(out, 0, sizeof *out);
}

/* ------------------------------------------------------------------ */
/* Memory files: shared memory objects, no seals                       */
/* ------------------------------------------------------------------ */

static _Atomic unsigned shm_counter;

int mmi_os_memfd(bool hugetlb) {
  if (hugetlb)
    return unsupported(EOPNOTSUPP);
  /* A unique name, unlinked at once: the object lives as long as its
   * descriptors and mappings, like a memfd. shm_open sets FD_CLOEXEC. */
  for (int tries = 0; tries < 64; tries++) {
    char name[64];
    unsigned n = atomic_fetch_add(&shm_counter, 1);
    snprintf(name, sizeof name, "/mmapio-%ld-%u-%lx", mmi_os_pid(), n,
             (unsigned long)(uintptr_t)&n);
    int fd = mmi_sys.shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) {
      mmi_sys.shm_unlink(name);
      return fd;
    }
    if (errno != EEXIST)
      return -1;
  }
  return unsupported(EEXIST);
}

const char *mmi_os_memfd_call(void) { return "shm_open"; }

bool mmi_os_has_seals(void) { return false; }

int mmi_os_seals_add(int fd, unsigned seals) {
  (void)fd;
  (void)seals;
  return unsupported(EOPNOTSUPP);
}

int mmi_os_seals_get(int fd, unsigned *seals) {
  (void)fd;
  (void)seals;
  return unsupported(EOPNOTSUPP);
}

/* ------------------------------------------------------------------ */
/* Background work: writeback, notifiers, watching                     */
/* ------------------------------------------------------------------ */

/* POSIX has no barrier that reaches other threads: the callers keep to
 * their path that needs none. */
int mmi_os_barrier_setup(void) {
  errno = ENOSYS;
  return -1;
}

int mmi_os_barrier_all(void) {
  errno = ENOSYS;
  return -1;
}

const char *mmi_os_barrier_call(void) { return "membarrier"; }

const char *mmi_os_writeback_call(void) { return "msync"; }

bool mmi_os_has_writeback(void) { return false; }

/* A pipe: readable while it holds a byte. */
int mmi_os_notifier_open(int *rd, int *wr) {
  int p[2];
  if (mmi_sys.pipe(p) != 0)
    return -1;
  for (int i = 0; i < 2; i++) {
    int fl = mmi_sys.fcntl(p[i], F_GETFL, 0);
    if (mmi_sys.fcntl(p[i], F_SETFD, FD_CLOEXEC) != 0 || fl < 0 ||
        mmi_sys.fcntl(p[i], F_SETFL, fl | O_NONBLOCK) != 0) {
      int e = errno;
      mmi_sys.close(p[0]);
      mmi_sys.close(p[1]);
      return unsupported(e);
    }
  }
  *rd = p[0];
  *wr = p[1];
  return 0;
}

const char *mmi_os_notifier_call(void) { return "pipe"; }

void mmi_os_notifier_set(int wr) {
  char one = 1;
  ssize_t r;
  do
    r = mmi_sys.write(wr, &one, 1);
  while (r < 0 && errno == EINTR);
  /* EAGAIN: the pipe is full, so it is readable already. */
  (void)r;
}

bool mmi_os_has_watch(void) { return false; }

int mmi_os_watch_open(int fd, const char *path, int *wd, const char **call) {
  (void)fd;
  (void)path;
  (void)wd;
  *call = NULL;
  return ENOSYS;
}

int mmi_os_watch_read(int wd, unsigned *kinds, size_t cap, size_t *n) {
  (void)wd;
  (void)kinds;
  (void)cap;
  *n = 0;
  return ENOSYS;
}

/* ------------------------------------------------------------------ */
/* Streams and hand-off                                                */
/* ------------------------------------------------------------------ */

bool mmi_os_has_streams(void) { return false; }

FILE *mmi_os_fopen(mmi_stream *s, const char *mode) {
  (void)s;
  (void)mode;
  errno = ENOTSUP;
  return NULL;
}

ssize_t mmi_os_sendfile(int out_fd, int in_fd, uint64_t off, size_t len) {
  (void)out_fd;
  (void)in_fd;
  (void)off;
  (void)len;
  return unsupported(ENOSYS);
}
