/*
 * Creating files: the CREATE disposition and the creating half of
 * OPEN_OR_CREATE. Every step that can fail comes before the new file
 * has both its name and its size, so a failure leaves what was at the
 * path as it was, and no new file behind:
 *
 *  - a new name is made with O_EXCL and sized in place; a failure
 *    removes it (OPEN_OR_CREATE instead builds the file unnamed and
 *    links it, so that no other process sees it before it is sized);
 *  - an empty regular file is sized in place; a failure empties it again;
 *  - a regular file with bytes is replaced: a new file beside it is
 *    sized, given the old one's owner and permission bits, and mapped,
 *    and only then takes the name by a rename, which swaps it
 *    atomically.
 *
 * The directory sync of MMAPIO_OPT_SYNC_DIR can only come after the name
 * exists; its failure is FLUSH_FAILED, with the new file in place.
 */
#include "file_util.h"
#include "internal.h"
#include "os.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Gives the empty file fd its size: sparse, or allocated with
 * MMAPIO_OPT_PREALLOCATE (a failed allocation leaves it empty). */
static int size_file(int fd, const mmapio_options *o, const char *fn) {
  const char *call;
  bool pre = (o->flags & MMAPIO_OPT_PREALLOCATE) != 0;
  int e = mmi_set_size(fd, 0, o->size, pre, &call);
  if (e == 0)
    return 0;
  return mmi_fail(pre ? MMAPIO_E_RESIZE_FAILED : MMAPIO_E_IO, e, call,
                  "%s: cannot give the file %llu bytes", fn,
                  (unsigned long long)o->size);
}

/* The last step, once the file has its name: with MMAPIO_OPT_SYNC_DIR
 * the directory that holds `named` is synced. Closes m on failure. */
static int finish(mmapio_map **out, mmapio_map *m, const char *named,
                  const mmapio_options *o, const char *fn) {
  if (o->flags & MMAPIO_OPT_SYNC_DIR) {
    int rc = mmi_fsync_dir(fn, named);
    if (rc != 0) {
      mmapio_close(m);
      return rc;
    }
  }
  *out = m;
  return 0;
}

/* Removes the file fd that this create made at path (through a symbolic
 * link: at its target), if the name still leads to that file. */
static void remove_made(int fd, const char *path) {
  char *real = mmi_os_realpath(path);
  const char *name = real != NULL ? real : path;
  mmi_file_info mine, there;
  if (mmi_os_stat_fd(fd, &mine) == 0 &&
      mmi_os_stat_path(name, true, &there) == 0 && mine.dev == there.dev &&
      mine.ino == there.ino)
    mmi_os_unlink(name);
  free(real);
}

/* Sizes and maps the empty regular file fd where it is. `made`: this
 * create made it, and a failure removes it; otherwise a failure leaves
 * it empty, as it was. `how`: MMI_HANDLE_* bits of the handle. */
static int create_in_place(mmapio_map **out, int fd, bool made,
                           const char *path, const mmapio_options *o,
                           unsigned how, const char *fn) {
  mmapio_map *m = NULL;
  int rc = size_file(fd, o, fn);
  if (rc == 0)
    rc = mmi_map_fd(&m, fd, path, o, o->size, how);
  if (rc == 0)
    return finish(out, m, path, o, fn);
  if (made)
    remove_made(fd, path);
  else
    (void)mmi_os_truncate(fd, 0);
  mmi_os_close(fd);
  return rc;
}

/* Gives the new file fd the replaced file's owner and group where the
 * caller may set them (the group alone, or neither, otherwise), then its
 * permission bits, without the set-ID and sticky bits. */
static int take_attributes(int fd, const mmi_file_info *old, const char *fn) {
  if (mmi_os_chown(fd, old->uid, old->gid) != 0)
    (void)mmi_os_chown(fd, MMI_ID_KEEP, old->gid);
  if (mmi_os_chmod(fd, old->perm & 0777) != 0)
    return mmi_fail(MMAPIO_E_IO, errno, "fchmod",
                    "%s: cannot give the new file mode %03o", fn,
                    old->perm & 0777);
  return 0;
}

/* A new file in dest's directory without a name, or, when
 * `named` or where the platform or the file system has no unnamed files,
 * under a unique temporary name beside dest (*tmp, malloc'd). */
static int open_beside(const char *dest, unsigned perm, bool named, char **tmp,
                       const char *fn) {
  *tmp = NULL;
  if (!named) {
    char *dir = mmi_dirname(dest);
    if (dir == NULL)
      return mmi_fail(MMAPIO_E_NO_MEMORY, ENOMEM, NULL, "%s: out of memory",
                      fn);
    int fd = mmi_os_open_unnamed(dir, perm);
    free(dir);
    if (fd >= 0)
      return fd;
  }
  int fd = mmi_open_unique(dest, perm, tmp);
  if (fd < 0)
    return mmi_fail(MMAPIO_E_IO, errno, "open",
                    "%s: cannot create a file beside '%s'", fn, dest);
  return fd;
}

/* Everything of a create beside dest that can fail before the new file
 * takes its name: the file, its size, the attributes of `like` (the
 * replaced file, or NULL) and the mapping, in *m. */
static int build_beside(mmapio_map **m, char **tmp, bool named,
                        const char *dest, const char *path,
                        const mmi_file_info *like, const mmapio_options *o,
                        const char *fn) {
  int fd = open_beside(dest, like != NULL ? 0600 : o->perm, named, tmp, fn);
  if (fd < 0)
    return fd;
  int rc = size_file(fd, o, fn);
  if (rc == 0 && like != NULL)
    rc = take_attributes(fd, like, fn);
  if (rc == 0)
    rc = mmi_map_fd(m, fd, path, o, o->size, 0);
  if (rc != 0) {
    mmi_os_close(fd);
    if (*tmp != NULL)
      mmi_os_unlink(*tmp);
    free(*tmp);
    *tmp = NULL;
  }
  return rc;
}

/* Gives the file of m (unnamed when tmp is NULL) the name dest: a link
 * that fails with EEXIST when the name is taken (exclusive), or a rename
 * over whatever is there, for which an unnamed file first gets a
 * temporary name. No temporary name is left behind. 0, or an errno value
 * with the failing call in *call. */
static int publish(const mmapio_map *m, char *tmp, const char *dest,
                   bool exclusive, const char **call) {
  *call = "link";
  if (exclusive) {
    int e = 0;
    if ((tmp == NULL ? mmi_os_link_unnamed(m->fd, dest)
                     : mmi_os_link(tmp, dest)) != 0)
      e = errno;
    if (tmp != NULL)
      mmi_os_unlink(tmp);
    return e;
  }
  char *named = NULL;
  if (tmp == NULL) {
    if (mmi_link_unique(m->fd, dest, &named) != 0)
      return errno;
    tmp = named;
  }
  *call = "rename";
  int e = mmi_os_rename(tmp, dest) == 0 ? 0 : errno;
  if (e != 0)
    mmi_os_unlink(tmp);
  free(named);
  return e;
}

/* A new file beside dest, built and then named dest (see publish).
 * Returns 0 with the handle in *m, MMI_LOST_RACE when exclusive and the
 * name is taken, or a negative MMAPIO_E_*. */
static int create_beside(mmapio_map **m, const char *dest, const char *path,
                         const mmi_file_info *like, bool exclusive,
                         const mmapio_options *o, const char *fn) {
  for (bool named = false;; named = true) {
    char *tmp = NULL;
    int rc = build_beside(m, &tmp, named, dest, path, like, o, fn);
    if (rc != 0)
      return rc;
    const char *call;
    int e = publish(*m, tmp, dest, exclusive, &call);
    bool unnamed = tmp == NULL;
    free(tmp);
    if (e == 0)
      return 0;
    mmapio_close(*m);
    if (exclusive && e == EEXIST)
      return MMI_LOST_RACE;
    /* An unnamed file that cannot be linked (no /proc, or the file
     * system refuses): build it again under a temporary name. */
    if (unnamed && !named && strcmp(call, "link") == 0)
      continue;
    return mmi_fail(MMAPIO_E_IO, e, call,
                    "%s: cannot give the new file the name '%s'", fn, dest);
  }
}

/* Replaces the regular file `old` found at path (through a symbolic
 * link: the file it names, and the link stays). */
static int create_replacing(mmapio_map **out, const char *path,
                            const mmi_file_info *old, const mmapio_options *o,
                            const char *fn) {
  char *real = NULL;
  mmi_file_info st;
  if (mmi_os_stat_path(path, false, &st) == 0 && st.kind == MMI_KIND_SYMLINK) {
    real = mmi_os_realpath(path);
    int e = real == NULL ? errno : 0;
    if (e == 0 && (mmi_os_stat_path(real, true, &st) != 0 ||
                   st.dev != old->dev || st.ino != old->ino))
      e = ESTALE; /* the link changed under us */
    if (e != 0) {
      free(real);
      return mmi_fail(MMAPIO_E_IO, e, "realpath",
                      "%s: cannot tell which file the symbolic link '%s' "
                      "names",
                      fn, path);
    }
  }
  const char *dest = real != NULL ? real : path;
  mmapio_map *m = NULL;
  int rc = create_beside(&m, dest, path, old, false, o, fn);
  if (rc == 0)
    rc = finish(out, m, dest, o, fn);
  free(real);
  return rc;
}

int mmi_create(mmapio_map **out, const char *path, const mmapio_options *o,
               const char *fn) {
  /* An exclusive create makes a new name here, never follows a symbolic
   * link, never opens what exists: the file is ours and regular. */
  int fd = mmi_os_open(path, MMI_OPEN_RDWR | MMI_OPEN_CREATE | MMI_OPEN_EXCL,
                       o->perm);
  if (fd >= 0)
    return create_in_place(out, fd, true, path, o, 0, fn);
  if (errno != EEXIST)
    return mmi_fail(MMAPIO_E_IO, errno, "open", "%s: cannot create '%s'", fn,
                    path);
  /* Something is there. Opening it for writing, as a truncation would,
   * refuses non-regular files without blocking; a name that leads
   * nowhere (a dangling symbolic link, or a file removed meanwhile) has
   * its file made through it. */
  mmi_file_info st;
  bool made = false;
  fd = mmi_open_file(fn, path, MMI_OPEN_RDWR, 0, o->flags, &st);
  if (fd < 0 && mmapio_last_error()->os_errno == ENOENT) {
    made = true;
    fd = mmi_open_file(fn, path, MMI_OPEN_RDWR | MMI_OPEN_CREATE, o->perm,
                       o->flags, &st);
  }
  if (fd < 0)
    return fd;
  if (st.size == 0)
    return create_in_place(out, fd, made, path, o, MMI_HANDLE_NONBLOCK, fn);
  mmi_os_close(fd);
  return create_replacing(out, path, &st, o, fn);
}

int mmi_create_exclusive(mmapio_map **out, const char *path,
                         const mmapio_options *o, const char *fn) {
  mmapio_map *m = NULL;
  int rc = create_beside(&m, path, path, NULL, true, o, fn);
  return rc != 0 ? rc : finish(out, m, path, o, fn);
}
