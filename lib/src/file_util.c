/* File-system helpers shared by opening, creating and copying. */
#include "file_util.h"
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *kind_name(mmi_file_kind kind) {
  switch (kind) {
  case MMI_KIND_DIRECTORY:
    return "a directory";
  case MMI_KIND_FIFO:
    return "a FIFO";
  case MMI_KIND_CHAR_DEVICE:
    return "a character device";
  case MMI_KIND_BLOCK_DEVICE:
    return "a block device";
  case MMI_KIND_SOCKET:
    return "a socket";
  case MMI_KIND_SYMLINK:
    return "a symbolic link";
  default:
    return "not a regular file";
  }
}

int mmi_fail_not_regular(const char *fn, const char *path, mmi_file_kind kind) {
  return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                  "%s: '%s' is %s; only regular files can be mapped", fn,
                  path ? path : "(fd)", kind_name(kind));
}

int mmi_open_file(const char *fn, const char *path, unsigned how, unsigned perm,
                  unsigned opt_flags, mmi_file_info *st) {
  if (opt_flags & MMAPIO_OPT_NOFOLLOW)
    how |= MMI_OPEN_NOFOLLOW;
  /* Non-blocking: opening a FIFO must not wait for a peer. On a regular
   * file it changes nothing the library does with fd, so it stays until
   * the fd is handed out (mmi_fd_settle): one system call less per open. */
  int fd = mmi_os_open(path, how | MMI_OPEN_NONBLOCK, perm);
  if (fd < 0) {
    int e = errno;
    /* Not-a-regular-file cases the kernel reports before fstat can. */
    if (e == EISDIR)
      return mmi_fail_not_regular(fn, path, MMI_KIND_DIRECTORY);
    if (e == ENXIO)
      return mmi_fail_not_regular(fn, path, MMI_KIND_SOCKET);
    if (e == ELOOP && (opt_flags & MMAPIO_OPT_NOFOLLOW))
      return mmi_fail(MMAPIO_E_IO, e, "open",
                      "%s: '%s' is a symbolic link and NOFOLLOW was asked", fn,
                      path);
    return mmi_fail(MMAPIO_E_IO, e, "open", "%s: cannot open '%s'", fn, path);
  }
  if (mmi_os_stat_fd(fd, st) != 0) {
    int e = errno;
    mmi_os_close(fd);
    return mmi_fail(MMAPIO_E_IO, e, "fstat", "%s: cannot stat '%s'", fn, path);
  }
  if (st->kind != MMI_KIND_REGULAR) {
    mmi_os_close(fd);
    return mmi_fail_not_regular(fn, path, st->kind);
  }
  return fd;
}

int mmi_set_size(int fd, uint64_t from, uint64_t to, bool preallocate,
                 const char **syscall) {
  if (preallocate && to > from) {
    *syscall = "posix_fallocate";
    int e = mmi_os_allocate(fd, from, to - from);
    if (e != 0) {
      /* A partial allocation may have moved the end: put it back. */
      (void)mmi_os_truncate(fd, from);
      return e;
    }
    return 0;
  }
  *syscall = "ftruncate";
  return mmi_os_truncate(fd, to) == 0 ? 0 : errno;
}

char *mmi_dirname(const char *path) {
  const char *slash = strrchr(path, '/');
  if (slash == NULL)
    return strdup(".");
  if (slash == path)
    return strdup("/");
  size_t n = (size_t)(slash - path);
  char *d = malloc(n + 1);
  if (d != NULL) {
    memcpy(d, path, n);
    d[n] = '\0';
  }
  return d;
}

int mmi_fsync_dir(const char *fn, const char *path) {
  char *dir = mmi_dirname(path);
  if (dir == NULL)
    return mmi_fail(MMAPIO_E_FLUSH_FAILED, ENOMEM, NULL,
                    "%s: '%s' is in place, but its directory cannot be "
                    "synced: out of memory",
                    fn, path);
  int fd = mmi_os_open(dir, MMI_OPEN_DIRECTORY, 0);
  int rc = 0;
  if (fd < 0 || mmi_os_fsync(fd) != 0)
    rc = mmi_fail(MMAPIO_E_FLUSH_FAILED, errno, fd < 0 ? "open" : "fsync",
                  "%s: '%s' is in place, but syncing its directory '%s' "
                  "failed: the name may not survive a crash",
                  fn, path, dir);
  if (fd >= 0)
    mmi_os_close(fd);
  free(dir);
  return rc;
}

/* Gives path + a unique suffix to a new file: one created here
 * exclusively (fd < 0; returns its descriptor), or the unnamed file fd,
 * linked there (returns fd). The malloc'd name goes to *out_name. -1 and
 * errno on failure. */
static int name_unique(const char *path, int fd, unsigned perm,
                       char **out_name) {
  static _Atomic unsigned counter;
  size_t cap = strlen(path) + 48;
  char *name = malloc(cap);
  if (name == NULL) {
    errno = ENOMEM;
    return -1;
  }
  unsigned long nsec = (unsigned long)(mmi_os_now_ns() % 1000000000u);
  for (int tries = 0; tries < 1000; tries++) {
    unsigned n = atomic_fetch_add(&counter, 1);
    snprintf(name, cap, "%s.mmapio-%ld-%lx-%x", path, mmi_os_pid(), nsec, n);
    int got =
        fd >= 0
            ? (mmi_os_link_unnamed(fd, name) == 0 ? fd : -1)
            : mmi_os_open(name, MMI_OPEN_RDWR | MMI_OPEN_CREATE | MMI_OPEN_EXCL,
                          perm);
    if (got >= 0) {
      *out_name = name;
      return got;
    }
    if (errno != EEXIST)
      break;
  }
  int e = errno;
  free(name);
  errno = e;
  return -1;
}

int mmi_open_unique(const char *path, unsigned perm, char **out_name) {
  return name_unique(path, -1, perm, out_name);
}

int mmi_link_unique(int fd, const char *path, char **out_name) {
  return name_unique(path, fd, 0, out_name) < 0 ? -1 : 0;
}
