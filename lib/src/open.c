/* Opening and closing handles (creating files: create.c). */
#include "file_util.h"
#include "internal.h"
#include "os.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
  if (!mmi_resizable(mode))
    return r;
  if (asked != 0) {
    uint64_t a = mmi_round_page(asked);
    return a > r && a <= SIZE_MAX ? (size_t)a : r;
  }
  if (MMI_GROWTH_RESERVE == 0)
    return r;
  size_t floor = MMI_GROWTH_RESERVE;
  size_t twice = mapped <= SIZE_MAX / 2 ? 2 * mapped : mapped;
  return twice > floor ? twice : floor;
}

int mmi_map_fd(mmapio_map **out, int fd, const char *path,
               const mmapio_options *o, uint64_t size, unsigned how) {
  /* The path's copy lives after the handle, in the same allocation: one
   * malloc and one free per open and close, which is most of what the
   * library adds to the system calls of a small open. */
  size_t path_size = path != NULL ? strlen(path) + 1 : 0;
  mmapio_map *m = calloc(1, sizeof *m + path_size);
  if (m == NULL)
    return mmi_fail(MMAPIO_E_NO_MEMORY, ENOMEM, NULL,
                    "allocating a handle failed");
  if (path != NULL)
    m->path = memcpy((char *)(m + 1), path, path_size);
  static _Atomic uint64_t opens;
  m->serial = atomic_fetch_add_explicit(&opens, 1, memory_order_relaxed);
  m->fd = fd;
  m->head.mode_ = (int)o->mode;
  m->anonymous = (how & MMI_HANDLE_ANONYMOUS) != 0;
  m->opt_flags = o->flags;
  m->policy = o->flush_policy;
  m->policy_arg = o->flush_arg;
  m->pins.prev_ = m->pins.next_ = &m->pins;
  size_t mapped = (size_t)mmi_round_page(size);
  size_t reserve = reserve_for(o->mode, mapped, o->reserve);
  int rc = mmi_region_create_fit(&m->live, m, mapped, reserve);
  if (rc != 0) {
    free(m);
    return rc;
  }
  pthread_mutex_init(&m->mu, NULL);
  atomic_init(&m->head.base_, m->live.base);
  atomic_init(&m->head.len_, size);
  if (!mmi_resizable(o->mode)) {
    m->head.fixed_ = 1;
    m->head.fixed_base_ = m->live.base;
    m->head.fixed_len_ = size;
  }
  atomic_init(&m->head.guarded_, false);
  for (size_t pg = mmi_page(); pg > 1; pg >>= 1)
    m->head.page_shift_++;
  atomic_init(&m->head.touch_mapped_, 0);
  atomic_init(&m->refs, 1);
  atomic_init(&m->walks, 1); /* the references' share (pin.c) */
  atomic_init(&m->slot_walked, false);
  m->grave_next = NULL;
  atomic_init(&m->shrinking, false);
  atomic_init(&m->fd_nonblock, (how & MMI_HANDLE_NONBLOCK) != 0);
  if (m->policy == MMAPIO_FLUSH_EVERY_MILLIS && (rc = mmi_flusher_start(m))) {
    mmi_region_release(&m->live);
    pthread_mutex_destroy(&m->mu);
    free(m);
    return rc;
  }
  if (o->flags & (MMAPIO_OPT_HUGEPAGES | MMAPIO_OPT_TOUCH_EAGER))
    mmi_apply_hints(m, o->flags);
  *out = m;
  return 0;
}

/* Maps an existing file that mmi_open_file opened (with O_NONBLOCK); fd
 * is closed on failure. */
static int map_opened(mmapio_map **out, int fd, const mmi_file_info *st,
                      const char *path, const mmapio_options *o,
                      const char *fn) {
  int rc = check_existing_size(fn, st->size, o->mode);
  if (rc == 0)
    rc = mmi_map_fd(out, fd, path, o, st->size, MMI_HANDLE_NONBLOCK);
  if (rc != 0)
    mmi_os_close(fd);
  return rc;
}

static int open_existing(mmapio_map **out, const char *path,
                         const mmapio_options *o, const char *fn) {
  mmi_file_info st;
  unsigned how = o->mode == MMAPIO_MODE_RW ? MMI_OPEN_RDWR : 0;
  int fd = mmi_open_file(fn, path, how, 0, o->flags, &st);
  if (fd < 0)
    return fd;
  return map_opened(out, fd, &st, path, o, fn);
}

/* How many times open_or_create finds the name taken by a create and
 * then gone again before it gives up: each round is another process's
 * create and delete landing exactly between our open and our link, so
 * even a busy directory needs few; without a bound, a name that keeps
 * doing that (or a file system whose link reports EEXIST for a name
 * that open cannot find) would hold the caller forever. */
enum { MMI_CREATE_RACE_ROUNDS = 64 };

static int open_or_create(mmapio_map **out, const char *path,
                          const mmapio_options *o, const char *fn) {
  for (int round = 0;; round++) {
    mmi_file_info st;
    int fd = mmi_open_file(fn, path, MMI_OPEN_RDWR, 0, o->flags, &st);
    if (fd >= 0)
      return map_opened(out, fd, &st, path, o, fn);
    if (mmapio_last_error()->os_errno != ENOENT)
      return fd;
    int rc = check_new_size(fn, o->size);
    if (rc == 0)
      rc = mmi_create_exclusive(out, path, o, fn);
    if (rc != MMI_LOST_RACE)
      return rc;
    /* The name is taken but opening it found nothing: somebody else
     * created it first (open theirs), or it is a symbolic link to a
     * missing file, which the exclusive create never follows and the
     * open always will: that would never end. */
    if (mmi_os_stat_path(path, false, &st) == 0 &&
        st.kind == MMI_KIND_SYMLINK && mmi_os_stat_path(path, true, &st) != 0 &&
        errno == ENOENT)
      return mmi_fail(MMAPIO_E_IO, ENOENT, "open",
                      "%s: '%s' is a symbolic link to a missing file; "
                      "nothing is created through it",
                      fn, path);
    if (round + 1 == MMI_CREATE_RACE_ROUNDS)
      return mmi_fail(MMAPIO_E_IO, EEXIST, "link",
                      "%s: '%s' was found missing and then taken %d times "
                      "in a row; giving up",
                      fn, path, MMI_CREATE_RACE_ROUNDS);
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
    rc = check_new_size(fn, opts->size);
    return rc != 0 ? rc : mmi_create(out, path, opts, fn);
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
  bool readable, writable;
  if (mmi_os_fd_access(fd, &readable, &writable) != 0)
    return mmi_fail(MMAPIO_E_IO, errno, "fcntl", "%s: fd %d is not usable", fn,
                    fd);
  if ((mode == MMAPIO_MODE_RW && !(readable && writable)) || !readable)
    return mmi_fail(MMAPIO_E_INVALID_MODE, 0, NULL,
                    "%s: fd %d was opened %s, which does not permit mode %d",
                    fn, fd,
                    !writable   ? "O_RDONLY"
                    : !readable ? "O_WRONLY"
                                : "O_RDWR",
                    (int)mode);
  mmi_file_info st;
  if (mmi_os_stat_fd(fd, &st) != 0)
    return mmi_fail(MMAPIO_E_IO, errno, "fstat", "%s: cannot stat fd %d", fn,
                    fd);
  if (st.kind != MMI_KIND_REGULAR)
    return mmi_fail_not_regular(fn, path, st.kind);
  int rc = check_existing_size(fn, st.size, mode);
  if (rc != 0)
    return rc;
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.mode = mode;
  return mmi_map_fd(out, fd, path, &o, st.size, 0);
}

static void teardown(mmapio_map *m) {
  mmi_flusher_stop(m);
  mmi_region_release(&m->live);
  for (size_t i = 0; i < m->nretired; i++)
    mmi_region_release(&m->retired[i]);
  free(m->retired);
  pthread_mutex_destroy(&m->mu);
  free(m);
}

int mmi_fd_settle(const mmapio_map *m) {
  mmapio_map *w = (mmapio_map *)m;
  if (atomic_load_explicit(&w->fd_nonblock, memory_order_relaxed) &&
      atomic_exchange_explicit(&w->fd_nonblock, false, memory_order_relaxed))
    mmi_os_clear_nonblock(w->fd);
  return w->fd;
}

/* Unmaps before closing: the file's last reference then goes with the
 * close, which Linux finishes on the spot, rather than with the unmap,
 * whose last reference is finished as deferred work (task work) on the
 * way back to user space, a round trip open + close need not pay. */
void mmi_free_handle(mmapio_map *m) {
  int fd = m->fd;
  teardown(m);
  if (fd >= 0)
    mmi_os_close(fd);
}

/* The last reference waits for the walks in walk slots, if any ever
 * took one on m (walk_slots.c), then gives up the references' share of
 * m->walks; if no walk counted there is live that frees the handle, else
 * the last of them will (pin.c). */
void mmi_release(mmapio_map *m) {
  if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
    return;
  if (atomic_load_explicit(&m->slot_walked, memory_order_acquire))
    mmi_slot_retire(m);
  else
    mmi_release_walks(m);
}

void mmi_release_walks(mmapio_map *m) {
  if (mmi_walk_leave(m) == 0)
    mmi_free_handle(m);
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
  if (refs != 1 || mmi_walks_live(m))
    return mmi_fail(MMAPIO_E_BUSY, 0, NULL,
                    "mmapio_unmap: %u other references (pins) and %s are "
                    "alive",
                    refs - 1, mmi_walks_live(m) ? "walks" : "no walk");
  *out_fd = mmi_fd_settle(m);
  teardown(m);
  return 0;
}
