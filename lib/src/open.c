/* Opening, creating and closing handles. */
#include "file.h"
#include "internal.h"
#include "platform.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

uint64_t mmapio_max_size(void) {
  return sizeof(void *) >= 8 ? (uint64_t)1 << 47 : (uint64_t)1 << 31;
}

int mmapio_options_init(mmapio_options *out) {
  if (out == NULL)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "mmapio_options_init: out is NULL");
  const mmapio_options defaults = MMAPIO_OPTIONS_INIT;
  *out = defaults;
  return 0;
}

static bool valid_mode(mmapio_mode mode) {
  return mode == MMAPIO_MODE_RO || mode == MMAPIO_MODE_RW ||
         mode == MMAPIO_MODE_COW;
}

static int check_new_size(const char *fn, uint64_t size) {
  if (size == 0 || size > mmapio_max_size())
    return mmi_fail(
        MMAPIO_E_RESIZE_FAILED, 0, NULL, "%s: size %llu is not in [1, %llu]",
        fn, (unsigned long long)size, (unsigned long long)mmapio_max_size());
  return 0;
}

static int check_existing_size(const char *fn, uint64_t size,
                               mmapio_mode mode) {
  if (size == 0 && mode != MMAPIO_MODE_RO)
    return mmi_fail(MMAPIO_E_RESIZE_FAILED, 0, NULL,
                    "%s: the file is empty; only a read-only mapping may "
                    "be empty",
                    fn);
  if (size > mmapio_max_size() || size > SIZE_MAX)
    return mmi_fail(MMAPIO_E_IO, EOVERFLOW, NULL,
                    "%s: file size %llu exceeds what can be mapped (%llu)", fn,
                    (unsigned long long)size,
                    (unsigned long long)mmapio_max_size());
  return 0;
}

/* Address space to reserve for a mapping of `mapped` bytes. */
static size_t reserve_for(mmapio_mode mode, size_t mapped, uint64_t asked) {
  size_t page = mmi_page();
  size_t r = mapped > page ? mapped : page;
  if (mode != MMAPIO_MODE_RW)
    return r;
  if (asked != 0) {
    uint64_t a = mmi_round_page(asked);
    return a > r && a <= SIZE_MAX ? (size_t)a : r;
  }
  if (sizeof(void *) < 8)
    return r;
  size_t floor = (size_t)1 << 30;
  size_t twice = mapped <= SIZE_MAX / 2 ? 2 * mapped : mapped;
  return twice > floor ? twice : floor;
}

int mmi_map_fd(mmapio_map **out, int fd, mmapio_mode mode, const char *path,
               const mmapio_options *o, uint64_t size) {
  mmapio_map *m = calloc(1, sizeof *m);
  if (m == NULL)
    return mmi_fail(MMAPIO_E_NO_MEMORY, ENOMEM, NULL,
                    "allocating a handle failed");
  if (path != NULL && (m->path = strdup(path)) == NULL) {
    free(m);
    return mmi_fail(MMAPIO_E_NO_MEMORY, ENOMEM, NULL,
                    "copying the path failed");
  }
  m->fd = fd;
  m->mode = mode;
  m->opt_flags = o->flags;
  m->policy = o->flush_policy;
  m->policy_arg = o->flush_arg;
  m->pins.prev_ = m->pins.next_ = &m->pins;
  size_t mapped = (size_t)mmi_round_page(size);
  size_t reserve = reserve_for(mode, mapped, o->reserve);
  int rc = mmi_region_create(&m->live, m, mapped, reserve);
  if (rc != 0 && reserve > mapped && mapped > 0)
    rc = mmi_region_create(&m->live, m, mapped, mapped);
  if (rc != 0) {
    free(m->path);
    free(m);
    return rc;
  }
  pthread_mutex_init(&m->mu, NULL);
  atomic_init(&m->head.base_, m->live.base);
  atomic_init(&m->head.len_, size);
  atomic_init(&m->head.guarded_, false);
  m->head.mode_ = (int)mode;
  atomic_init(&m->refs, 1);
  if (m->policy == MMAPIO_FLUSH_EVERY_MILLIS && (rc = mmi_flusher_start(m))) {
    mmi_region_release(&m->live);
    pthread_mutex_destroy(&m->mu);
    free(m->path);
    free(m);
    return rc;
  }
  if (o->flags & (MMAPIO_OPT_HUGEPAGES | MMAPIO_OPT_TOUCH_EAGER))
    mmi_apply_hints(m, o->flags);
  *out = m;
  return 0;
}

static int open_existing(mmapio_map **out, const char *path,
                         const mmapio_options *o, const char *fn) {
  struct stat st;
  int flags = o->mode == MMAPIO_MODE_RW ? O_RDWR : O_RDONLY;
  int fd = mmi_open_file(fn, path, flags, 0, o->flags, &st);
  if (fd < 0)
    return fd;
  int rc = check_existing_size(fn, (uint64_t)st.st_size, o->mode);
  if (rc == 0)
    rc = mmi_map_fd(out, fd, o->mode, path, o, (uint64_t)st.st_size);
  if (rc != 0)
    close(fd);
  return rc;
}

/* Sizes a freshly created fd; on failure the fd is closed. */
static int size_new(int fd, const char *fn, const mmapio_options *o) {
  const char *call;
  bool pre = (o->flags & MMAPIO_OPT_PREALLOCATE) != 0;
  int e = mmi_set_size(fd, 0, o->size, pre, &call);
  if (e == 0)
    return 0;
  close(fd);
  return mmi_fail(pre ? MMAPIO_E_RESIZE_FAILED : MMAPIO_E_IO, e, call,
                  "%s: cannot give the file %llu bytes", fn,
                  (unsigned long long)o->size);
}

/* The end of every create: make the name durable if asked, then map the
 * new file RW. The fd is closed on failure. */
static int map_created(mmapio_map **out, int fd, const char *path,
                       const mmapio_options *o, const char *fn) {
  int rc = 0;
  if (o->flags & MMAPIO_OPT_SYNC_DIR)
    rc = mmi_fsync_dir(fn, path);
  if (rc == 0)
    rc = mmi_map_fd(out, fd, MMAPIO_MODE_RW, path, o, o->size);
  if (rc != 0)
    close(fd);
  return rc;
}

static int create_truncate(mmapio_map **out, const char *path,
                           const mmapio_options *o, const char *fn) {
  int rc = check_new_size(fn, o->size);
  if (rc != 0)
    return rc;
  /* Naming a device or FIFO by mistake must change nothing: the open
   * truncates only where it leaves other files alone (mmi_create_flags);
   * elsewhere the file is emptied once fstat has shown it is regular. */
  struct stat st;
  int fd = mmi_open_file(fn, path, O_RDWR | O_CREAT | mmi_create_flags(),
                         o->perm, o->flags, &st);
  if (fd < 0)
    return fd;
  if (st.st_size != 0 && mmi_sys.ftruncate(fd, 0) != 0) {
    int e = errno;
    close(fd);
    return mmi_fail(MMAPIO_E_IO, e, "ftruncate", "%s: cannot truncate '%s'", fn,
                    path);
  }
  if ((rc = size_new(fd, fn, o)) != 0)
    return rc;
  return map_created(out, fd, path, o, fn);
}

/*
 * Creates path fully sized before it has its name, then links it in
 * place; link fails with EEXIST when another process won the race.
 * Returns the fd, MMI_LOST_RACE, or a negative MMAPIO_E_*.
 */
#define MMI_LOST_RACE 1
static int create_exclusive(const char *path, const mmapio_options *o,
                            const char *fn) {
  char *dir = mmi_dirname(path);
  if (dir == NULL)
    return mmi_fail(MMAPIO_E_NO_MEMORY, ENOMEM, NULL, "%s: out of memory", fn);
  int fd = mmi_open_tmpfile(dir, o->perm);
  free(dir);
  if (fd >= 0) {
    int rc = size_new(fd, fn, o);
    if (rc != 0)
      return rc;
    if (mmi_link_tmpfile(fd, path) == 0)
      return fd;
    int e = errno;
    close(fd);
    if (e == EEXIST)
      return MMI_LOST_RACE;
    /* Otherwise (no /proc, a file system without links to unnamed
     * files) fall through to a named temporary file. */
  }
  char *tmp = NULL;
  fd = mmi_open_unique(path, o->perm, &tmp);
  if (fd < 0)
    return mmi_fail(MMAPIO_E_IO, errno, "open",
                    "%s: cannot create a file beside '%s'", fn, path);
  int rc = size_new(fd, fn, o);
  if (rc == 0 && link(tmp, path) != 0) {
    int e = errno;
    close(fd);
    rc = e == EEXIST ? MMI_LOST_RACE
                     : mmi_fail(MMAPIO_E_IO, e, "link",
                                "%s: cannot name the new file '%s'", fn, path);
  }
  unlink(tmp);
  free(tmp);
  return rc == 0 ? fd : rc;
}

static int open_or_create(mmapio_map **out, const char *path,
                          const mmapio_options *o, const char *fn) {
  for (;;) {
    struct stat st;
    int fd = mmi_open_file(fn, path, O_RDWR, 0, o->flags, &st);
    if (fd >= 0) {
      int rc = check_existing_size(fn, (uint64_t)st.st_size, o->mode);
      if (rc == 0)
        rc = mmi_map_fd(out, fd, o->mode, path, o, (uint64_t)st.st_size);
      if (rc != 0)
        close(fd);
      return rc;
    }
    if (mmapio_last_error()->os_errno != ENOENT)
      return fd;
    int rc = check_new_size(fn, o->size);
    if (rc != 0)
      return rc;
    fd = create_exclusive(path, o, fn);
    if (fd == MMI_LOST_RACE)
      continue; /* somebody else created it: open theirs */
    if (fd < 0)
      return fd;
    return map_created(out, fd, path, o, fn);
  }
}

static int check_options(const char *fn, const mmapio_options *o,
                         mmapio_disposition how) {
  const char *why = NULL;
  if (o->version != MMAPIO_OPTIONS_VERSION)
    why = "options.version is not MMAPIO_OPTIONS_VERSION";
  else if (!valid_mode(o->mode))
    why = "unknown mode";
  else if (o->flags & ~MMAPIO_OPT_ALL_)
    why = "unknown flag";
  else if (how != MMAPIO_OPEN && how != MMAPIO_CREATE &&
           how != MMAPIO_OPEN_OR_CREATE)
    why = "unknown disposition";
  else if (how != MMAPIO_OPEN && o->mode != MMAPIO_MODE_RW)
    why = "creating requires mode RW";
  else if ((unsigned)o->flush_policy > MMAPIO_FLUSH_EVERY_MILLIS)
    why = "unknown flush policy";
  else if (o->flush_policy != MMAPIO_FLUSH_MANUAL && o->mode != MMAPIO_MODE_RW)
    why = "a flush policy needs mode RW";
  else if (o->flush_policy >= MMAPIO_FLUSH_EVERY_BYTES && o->flush_arg == 0)
    why = "an EVERY_* flush policy needs flush_arg > 0";
  if (why == NULL)
    return 0;
  return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL, "%s: %s", fn, why);
}

int mmapio_open_ex(mmapio_map **out, const char *path,
                   const mmapio_options *opts, mmapio_disposition how) {
  static const char fn[] = "mmapio_open_ex";
  if (out == NULL || path == NULL || opts == NULL)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "%s: out, path and opts must not be NULL", fn);
  int rc = check_options(fn, opts, how);
  if (rc != 0)
    return rc;
  switch (how) {
  case MMAPIO_CREATE:
    return create_truncate(out, path, opts, fn);
  case MMAPIO_OPEN_OR_CREATE:
    return open_or_create(out, path, opts, fn);
  default:
    return open_existing(out, path, opts, fn);
  }
}

int mmapio_create(mmapio_map **out, const char *path, uint64_t size) {
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.size = size;
  return mmapio_open_ex(out, path, &o, MMAPIO_CREATE);
}

int mmapio_open(mmapio_map **out, const char *path, mmapio_mode mode) {
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.mode = mode;
  return mmapio_open_ex(out, path, &o, MMAPIO_OPEN);
}

int mmapio_open_or_create(mmapio_map **out, const char *path,
                          uint64_t default_size) {
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.size = default_size;
  return mmapio_open_ex(out, path, &o, MMAPIO_OPEN_OR_CREATE);
}

int mmapio_from_fd(mmapio_map **out, int fd, mmapio_mode mode,
                   const char *path) {
  static const char fn[] = "mmapio_from_fd";
  if (out == NULL || fd < 0 || !valid_mode(mode))
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "%s: out is NULL, fd %d is negative or mode %d unknown", fn,
                    fd, (int)mode);
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0)
    return mmi_fail(MMAPIO_E_IO, errno, "fcntl", "%s: fd %d is not usable", fn,
                    fd);
  int acc = fl & O_ACCMODE;
  if ((mode == MMAPIO_MODE_RW && acc != O_RDWR) || acc == O_WRONLY)
    return mmi_fail(MMAPIO_E_INVALID_MODE, 0, NULL,
                    "%s: fd %d was opened %s, which does not permit mode %d",
                    fn, fd,
                    acc == O_RDONLY   ? "O_RDONLY"
                    : acc == O_WRONLY ? "O_WRONLY"
                                      : "O_RDWR",
                    (int)mode);
  struct stat st;
  if (fstat(fd, &st) != 0)
    return mmi_fail(MMAPIO_E_IO, errno, "fstat", "%s: cannot stat fd %d", fn,
                    fd);
  if (!S_ISREG(st.st_mode))
    return mmi_fail_not_regular(fn, path, st.st_mode);
  int rc = check_existing_size(fn, (uint64_t)st.st_size, mode);
  if (rc != 0)
    return rc;
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.mode = mode;
  return mmi_map_fd(out, fd, mode, path, &o, (uint64_t)st.st_size);
}

static void teardown(mmapio_map *m) {
  mmi_flusher_stop(m);
  mmi_region_release(&m->live);
  for (size_t i = 0; i < m->nretired; i++)
    mmi_region_release(&m->retired[i]);
  free(m->retired);
  free(m->path);
  pthread_mutex_destroy(&m->mu);
  free(m);
}

void mmi_release(mmapio_map *m) {
  if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
    return;
  if (m->fd >= 0)
    close(m->fd);
  teardown(m);
}

void mmapio_close(mmapio_map *m) {
  if (m != NULL)
    mmi_release(m);
}

int mmapio_unmap(mmapio_map *m, int *out_fd) {
  if (m == NULL || out_fd == NULL)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "mmapio_unmap: m and out_fd must not be NULL");
  unsigned refs = atomic_load_explicit(&m->refs, memory_order_acquire);
  if (refs != 1)
    return mmi_fail(MMAPIO_E_BUSY, 0, NULL,
                    "mmapio_unmap: %u other references (pins) are alive",
                    refs - 1);
  *out_fd = m->fd;
  teardown(m);
  return 0;
}
