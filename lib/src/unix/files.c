/*
 * Files on every unix: opening, what a file is, its size and names,
 * copies through a buffer, and the clock and process id that unique
 * names are made of.
 */
#include "unix.h"

#include <errno.h>

int mmi_real_open(const char *path, int flags, mode_t mode) {
  return open(path, flags, mode);
}

int mmi_real_fcntl(int fd, int cmd, int arg) { return fcntl(fd, cmd, arg); }

int mmi_os_open(const char *path, unsigned how, unsigned perm) {
  int flags = (how & MMI_OPEN_RDWR) ? O_RDWR : O_RDONLY;
  if (how & MMI_OPEN_CREATE)
    flags |= O_CREAT;
  if (how & MMI_OPEN_EXCL)
    flags |= O_EXCL;
  if (how & MMI_OPEN_NOFOLLOW)
    flags |= O_NOFOLLOW;
  if (how & MMI_OPEN_DIRECTORY)
    flags |= O_DIRECTORY;
  if (how & MMI_OPEN_NONBLOCK)
    flags |= O_NONBLOCK;
  return mmi_sys.open(path, flags | O_CLOEXEC, (mode_t)perm);
}

int mmi_os_close(int fd) { return mmi_sys.close(fd); }

static mmi_file_kind kind_of(mode_t mode) {
  static const struct {
    mode_t type;
    mmi_file_kind kind;
  } kinds[] = {
      {S_IFREG, MMI_KIND_REGULAR},      {S_IFDIR, MMI_KIND_DIRECTORY},
      {S_IFIFO, MMI_KIND_FIFO},         {S_IFCHR, MMI_KIND_CHAR_DEVICE},
      {S_IFBLK, MMI_KIND_BLOCK_DEVICE}, {S_IFSOCK, MMI_KIND_SOCKET},
      {S_IFLNK, MMI_KIND_SYMLINK},
  };
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if ((mode & S_IFMT) == kinds[i].type)
      return kinds[i].kind;
  return MMI_KIND_OTHER;
}

static void info_of(const struct stat *st, mmi_file_info *out) {
  out->size = (uint64_t)st->st_size;
  out->kind = kind_of(st->st_mode);
  out->perm = (unsigned)(st->st_mode & 07777);
  out->dev = (uint64_t)st->st_dev;
  out->ino = (uint64_t)st->st_ino;
  out->uid = (uint32_t)st->st_uid;
  out->gid = (uint32_t)st->st_gid;
  out->nlink = (uint64_t)st->st_nlink;
  out->mtime = st->st_mtim;
  out->ctime = st->st_ctim;
}

int mmi_os_stat_fd(int fd, mmi_file_info *out) {
  struct stat st;
  if (mmi_sys.fstat(fd, &st) != 0)
    return -1;
  info_of(&st, out);
  return 0;
}

int mmi_os_stat_path(const char *path, bool follow, mmi_file_info *out) {
  struct stat st;
  if ((follow ? mmi_sys.stat(path, &st) : mmi_sys.lstat(path, &st)) != 0)
    return -1;
  info_of(&st, out);
  return 0;
}

int mmi_os_fd_access(int fd, bool *readable, bool *writable) {
  int fl = mmi_sys.fcntl(fd, F_GETFL, 0);
  if (fl < 0)
    return -1;
  int acc = fl & O_ACCMODE;
  *readable = acc == O_RDONLY || acc == O_RDWR;
  *writable = acc == O_WRONLY || acc == O_RDWR;
  return 0;
}

void mmi_os_clear_nonblock(int fd) {
  /* F_GETFL, then F_SETFL of what it said: some systems let F_SETFL
   * change flags such as O_LARGEFILE. */
  int fl = mmi_sys.fcntl(fd, F_GETFL, 0);
  if (fl >= 0 && (fl & O_NONBLOCK))
    (void)mmi_sys.fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
}

int mmi_os_truncate(int fd, uint64_t size) {
  return mmi_sys.ftruncate(fd, (off_t)size);
}

int mmi_os_allocate(int fd, uint64_t off, uint64_t len) {
  return mmi_sys.posix_fallocate(fd, (off_t)off, (off_t)len);
}

int mmi_os_fsync(int fd) { return mmi_sys.fsync(fd); }

int mmi_os_chown(int fd, uint32_t uid, uint32_t gid) {
  return mmi_sys.fchown(fd, uid == MMI_ID_KEEP ? (uid_t)-1 : (uid_t)uid,
                        gid == MMI_ID_KEEP ? (gid_t)-1 : (gid_t)gid);
}

int mmi_os_chmod(int fd, unsigned perm) {
  return mmi_sys.fchmod(fd, (mode_t)perm);
}

char *mmi_os_realpath(const char *path) { return mmi_sys.realpath(path, NULL); }

int mmi_os_link(const char *from, const char *to) {
  return mmi_sys.link(from, to);
}

int mmi_os_rename(const char *from, const char *to) {
  return mmi_sys.rename(from, to);
}

int mmi_os_unlink(const char *path) { return mmi_sys.unlink(path); }

uint64_t mmi_os_seek_data(int fd, uint64_t off, uint64_t size) {
  if (MMI_SEEK_DATA < 0)
    return off; /* unknown: treat everything as data */
  off_t r = mmi_sys.lseek(fd, (off_t)off, MMI_SEEK_DATA);
  if (r >= 0)
    return (uint64_t)r;
  return errno == ENXIO ? size /* only a hole remains */ : off;
}

uint64_t mmi_os_seek_hole(int fd, uint64_t off, uint64_t size) {
  if (MMI_SEEK_HOLE < 0)
    return size;
  off_t r = mmi_sys.lseek(fd, (off_t)off, MMI_SEEK_HOLE);
  return r >= 0 && (uint64_t)r < size ? (uint64_t)r : size;
}

int mmi_unix_copy_by_pread(int in, int out, uint64_t off, uint64_t len) {
  char buf[65536];
  while (len > 0) {
    size_t want = len < sizeof buf ? (size_t)len : sizeof buf;
    ssize_t n = mmi_sys.pread(in, buf, want, (off_t)off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n == 0 ? EIO : errno;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = mmi_sys.pwrite(out, buf + done, (size_t)(n - done),
                                 (off_t)off + done);
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

long mmi_os_pid(void) { return (long)mmi_sys.getpid(); }

uint64_t mmi_os_now_ns(void) {
  struct timespec ts = {0, 0};
  (void)mmi_sys.clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

ssize_t mmi_os_write(int fd, const void *buf, size_t len) {
  return mmi_sys.write(fd, buf, len);
}
