/* File-system helpers shared by opening, creating and copying. */
#include "file.h"
#include "internal.h"
#include "platform.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *kind_of(mode_t mode) {
  if (S_ISDIR(mode))
    return "a directory";
  if (S_ISFIFO(mode))
    return "a FIFO";
  if (S_ISCHR(mode))
    return "a character device";
  if (S_ISBLK(mode))
    return "a block device";
  if (S_ISSOCK(mode))
    return "a socket";
  if (S_ISLNK(mode))
    return "a symbolic link";
  return "not a regular file";
}

int mmi_fail_not_regular(const char *fn, const char *path, mode_t mode) {
  return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                  "%s: '%s' is %s; only regular files can be mapped", fn,
                  path ? path : "(fd)", kind_of(mode));
}

int mmi_open_file(const char *fn, const char *path, int flags, unsigned perm,
                  unsigned opt_flags, struct stat *st) {
  if (opt_flags & MMAPIO_OPT_NOFOLLOW)
    flags |= O_NOFOLLOW;
  const int all = flags | mmi_open_flags();
  int fd = open(path, all, (mode_t)perm);
  if (fd < 0) {
    int e = errno;
    /* Not-a-regular-file cases the kernel reports before fstat can. */
    if (e == EISDIR)
      return mmi_fail_not_regular(fn, path, S_IFDIR);
    if (e == ENXIO)
      return mmi_fail_not_regular(fn, path, S_IFSOCK);
    if (e == ELOOP && (opt_flags & MMAPIO_OPT_NOFOLLOW))
      return mmi_fail(MMAPIO_E_IO, e, "open",
                      "%s: '%s' is a symbolic link and NOFOLLOW was asked", fn,
                      path);
    return mmi_fail(MMAPIO_E_IO, e, "open", "%s: cannot open '%s'", fn, path);
  }
  if (fstat(fd, st) != 0) {
    int e = errno;
    close(fd);
    return mmi_fail(MMAPIO_E_IO, e, "fstat", "%s: cannot stat '%s'", fn, path);
  }
  if (!S_ISREG(st->st_mode)) {
    close(fd);
    return mmi_fail_not_regular(fn, path, st->st_mode);
  }
  /* O_NONBLOCK only guarded the open against FIFOs; drop it. */
  mmi_clear_nonblock(fd, all);
  return fd;
}

int mmi_set_size(int fd, uint64_t from, uint64_t to, bool preallocate,
                 const char **syscall) {
  if (preallocate && to > from) {
    *syscall = "posix_fallocate";
    int e = mmi_sys.fallocate(fd, (off_t)from, (off_t)(to - from));
    if (e != 0) {
      /* A partial allocation may have moved the end: put it back. */
      (void)mmi_sys.ftruncate(fd, (off_t)from);
      return e;
    }
    return 0;
  }
  *syscall = "ftruncate";
  return mmi_sys.ftruncate(fd, (off_t)to) == 0 ? 0 : errno;
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
    return mmi_fail(MMAPIO_E_NO_MEMORY, ENOMEM, NULL, "%s: out of memory", fn);
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int rc = 0;
  if (fd < 0)
    rc = mmi_fail(MMAPIO_E_IO, errno, "open", "%s: cannot open directory '%s'",
                  fn, dir);
  else if (mmi_sys.fsync(fd) != 0)
    rc = mmi_fail(MMAPIO_E_IO, errno, "fsync", "%s: cannot sync directory '%s'",
                  fn, dir);
  if (fd >= 0)
    close(fd);
  free(dir);
  return rc;
}

int mmi_open_unique(const char *path, unsigned perm, char **out_name) {
  static _Atomic unsigned counter;
  size_t cap = strlen(path) + 48;
  char *name = malloc(cap);
  if (name == NULL) {
    errno = ENOMEM;
    return -1;
  }
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  for (int tries = 0; tries < 1000; tries++) {
    unsigned n = atomic_fetch_add(&counter, 1);
    snprintf(name, cap, "%s.mmapio-%ld-%lx-%x", path, (long)getpid(),
             (unsigned long)ts.tv_nsec, n);
    int fd = open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)perm);
    if (fd >= 0) {
      *out_name = name;
      return fd;
    }
    if (errno != EEXIST)
      break;
  }
  int e = errno;
  free(name);
  errno = e;
  return -1;
}
