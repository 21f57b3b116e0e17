/*
 * The platform layer of the background work: every #if that the
 * writeback hint, the completion notifier, file watching and the
 * library's threads need. Logic files (writeback.c, async.c, watch.c,
 * flusher.c) call these and never test the platform.
 */
#include "platform.h"
#include "platform_background.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#if MMI_LINUX
#include <sys/eventfd.h>
#include <sys/inotify.h>
#endif

/* ---- writeback ---- */

static int real_writeback(int fd, void *addr, uint64_t off, uint64_t len) {
#if MMI_LINUX
  /* msync(MS_ASYNC) has been a no-op on Linux since 2.6.19: it starts no
   * I/O. sync_file_range queues the dirty pages of the range for writing
   * and returns without waiting; pages dirtied through a shared mapping
   * are dirty in the page cache, so it covers them too. */
  (void)addr;
  return sync_file_range(fd, (off64_t)off, (off64_t)len, SYNC_FILE_RANGE_WRITE);
#else
  (void)fd;
  (void)off;
  return mmi_sys.msync(addr, (size_t)len, MS_ASYNC);
#endif
}

const char *mmi_writeback_call(void) {
  return MMI_LINUX ? "sync_file_range" : "msync";
}

/* ---- watching ---- */

static int real_watch_init(void) {
#if MMI_LINUX
  return inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
#else
  errno = ENOSYS;
  return -1;
#endif
}

static int real_watch_add(int ifd, const char *path, uint32_t mask) {
#if MMI_LINUX
  return inotify_add_watch(ifd, path, mask);
#else
  (void)ifd;
  (void)path;
  (void)mask;
  errno = ENOSYS;
  return -1;
#endif
}

static const mmi_bgsys_table real_bgsys = {real_writeback, real_watch_init,
                                           real_watch_add};

mmi_bgsys_table mmi_bgsys = {real_writeback, real_watch_init, real_watch_add};

void mmi_bgsys_reset(void) { mmi_bgsys = real_bgsys; }

bool mmi_watch_supported(void) { return MMI_LINUX; }

int mmi_watch_open(int fd, const char *path, int *ifd, const char **call) {
#if MMI_LINUX
  *call = "inotify_init1";
  int w = mmi_bgsys.watch_init();
  if (w < 0)
    return errno;
  /* Watch the open file itself, through /proc, so a rename or a from_fd
   * handle without a path still watches the right inode. */
  const uint32_t mask = IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF;
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  *call = "inotify_add_watch";
  int e = 0;
  if (mmi_bgsys.watch_add(w, proc, mask) < 0) {
    e = errno;
    if (e == ENOENT && path != NULL) /* no /proc: fall back to the name */
      e = mmi_bgsys.watch_add(w, path, mask) < 0 ? errno : 0;
  }
  if (e != 0) {
    close(w);
    return e;
  }
  *ifd = w;
  return 0;
#else
  (void)fd;
  (void)path;
  (void)ifd;
  *call = NULL;
  return ENOSYS;
#endif
}

#if MMI_LINUX
static unsigned translate(uint32_t mask) {
  unsigned k = 0;
  if (mask & IN_MODIFY)
    k |= MMI_WEV_MODIFY;
  if (mask & IN_ATTRIB)
    k |= MMI_WEV_ATTRIB;
  if (mask & IN_MOVE_SELF)
    k |= MMI_WEV_MOVED;
  if (mask & IN_DELETE_SELF)
    k |= MMI_WEV_DELETED;
  if (mask & IN_IGNORED)
    k |= MMI_WEV_IGNORED;
  if (mask & IN_Q_OVERFLOW)
    k |= MMI_WEV_OVERFLOW;
  return k;
}
#endif

int mmi_watch_read(int ifd, unsigned *kinds, size_t cap, size_t *n) {
  *n = 0;
#if MMI_LINUX
  /* A watched file's events carry no name, so each is exactly one
   * struct inotify_event; the buffer holds at most cap of them. */
  _Alignas(struct inotify_event) char buf[64 * sizeof(struct inotify_event)];
  size_t want = cap < 64 ? cap * sizeof(struct inotify_event) : sizeof buf;
  ssize_t got;
  do
    got = read(ifd, buf, want);
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
#else
  (void)ifd;
  (void)kinds;
  (void)cap;
  return ENOSYS;
#endif
}

int mmi_wait_readable(int fd_a, int fd_b) {
  struct pollfd p[2] = {{fd_a, POLLIN, 0}, {fd_b, POLLIN, 0}};
  for (;;) {
    if (poll(p, 2, -1) >= 0)
      return 0;
    if (errno != EINTR)
      return errno;
  }
}

/* ---- notifiers ---- */

int mmi_notifier_open(int *rd, int *wr) {
#if MMI_LINUX
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0)
    return -1;
  *rd = *wr = fd;
  return 0;
#else
  int p[2];
  if (pipe(p) != 0)
    return -1;
  for (int i = 0; i < 2; i++) {
    if (fcntl(p[i], F_SETFD, FD_CLOEXEC) != 0 ||
        fcntl(p[i], F_SETFL, fcntl(p[i], F_GETFL) | O_NONBLOCK) != 0) {
      int e = errno;
      close(p[0]);
      close(p[1]);
      errno = e;
      return -1;
    }
  }
  *rd = p[0];
  *wr = p[1];
  return 0;
#endif
}

const char *mmi_notifier_call(void) { return MMI_LINUX ? "eventfd" : "pipe"; }

void mmi_notifier_set(int wr) {
#if MMI_LINUX
  uint64_t one = 1;
  ssize_t r;
  do
    r = write(wr, &one, sizeof one);
  while (r < 0 && errno == EINTR);
#else
  char one = 1;
  ssize_t r;
  do
    r = write(wr, &one, 1);
  while (r < 0 && errno == EINTR);
#endif
  /* EAGAIN: the counter or pipe is full, so rd is readable already. */
  (void)r;
}

void mmi_notifier_clear(int rd) {
  char buf[64];
  ssize_t r;
  /* An eventfd read returns the whole counter and resets it; a pipe is
   * read until it is empty. Both stop with EAGAIN (non-blocking). */
  do
    r = read(rd, buf, sizeof buf);
  while (r > 0 || (r < 0 && errno == EINTR));
}

void mmi_notifier_close(int rd, int wr) {
  if (rd >= 0)
    close(rd);
  if (wr >= 0 && wr != rd)
    close(wr);
}

/* ---- threads ---- */

int mmi_thread_start(pthread_t *t, void *(*fn)(void *), void *arg) {
  /* Synchronous signals stay unblocked: a fault in a library thread must
   * reach the handler (the SIGBUS guard), and a blocked one kills. */
  static const int sync_sigs[] = {SIGBUS, SIGSEGV, SIGFPE, SIGILL, SIGTRAP};
  sigset_t all, old;
  sigfillset(&all);
  for (size_t i = 0; i < sizeof sync_sigs / sizeof *sync_sigs; i++)
    sigdelset(&all, sync_sigs[i]);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int e = pthread_create(t, NULL, fn, arg);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return e;
}
