/* The public one-call file functions: write, copy, delete. */
#include "file_util.h"
#include "internal.h"
#include "os.h"

#include <errno.h>
#include <stdlib.h>

int mmapio_write_file(const char *path, uint64_t off, const void *data,
                      size_t len) {
  if (path == NULL || (data == NULL && len > 0))
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "mmapio_write_file: path or data is NULL");
  mmapio_map *m;
  int rc = mmapio_open(&m, path, MMAPIO_MODE_RW);
  if (rc != 0)
    return rc;
  rc = mmapio_update(m, off, data, len);
  if (rc == 0)
    rc = mmapio_flush(m);
  mmapio_close(m);
  return rc;
}

/* Copies [0, size) of in to out, skipping holes where the OS says. */
static int copy_bytes(int in, int out, uint64_t size) {
  uint64_t off = 0;
  while (off < size) {
    uint64_t data = mmi_os_seek_data(in, off, size);
    if (data >= size)
      break;
    uint64_t hole = mmi_os_seek_hole(in, data, size);
    int e = mmi_os_copy_range(in, out, data, hole - data);
    if (e != 0)
      return e;
    off = hole;
  }
  return 0;
}

int mmapio_copy_file(const char *src, const char *dst) {
  static const char fn[] = "mmapio_copy_file";
  if (src == NULL || dst == NULL)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "%s: src and dst must not be NULL", fn);
  mmi_file_info st;
  int in = mmi_open_file(fn, src, 0, 0, 0, &st);
  if (in < 0)
    return in;
  char *tmp = NULL;
  int out = mmi_open_unique(dst, st.perm, &tmp);
  if (out < 0) {
    int e = errno;
    mmi_os_close(in);
    return mmi_fail(MMAPIO_E_IO, e, "open",
                    "%s: cannot create a file beside '%s'", fn, dst);
  }
  const char *call = "ftruncate";
  int e = mmi_os_truncate(out, st.size) == 0 ? 0 : errno;
  if (e == 0 && (e = copy_bytes(in, out, st.size)) != 0)
    call = "copy";
  if (e == 0 && mmi_os_chmod(out, st.perm) != 0)
    e = errno, call = "fchmod";
  if (e == 0 && mmi_os_fsync(out) != 0)
    e = errno, call = "fsync";
  if (e == 0 && mmi_os_rename(tmp, dst) != 0)
    e = errno, call = "rename";
  mmi_os_close(in);
  mmi_os_close(out);
  int rc = 0;
  if (e != 0) {
    mmi_os_unlink(tmp);
    rc = mmi_fail(MMAPIO_E_IO, e, call, "%s: copying '%s' to '%s' failed", fn,
                  src, dst);
  }
  free(tmp);
  return rc != 0 ? rc : mmi_fsync_dir(fn, dst);
}

int mmapio_delete_file(const char *path) {
  static const char fn[] = "mmapio_delete_file";
  if (path == NULL)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL, "%s: path is NULL", fn);
  mmi_file_info st;
  if (mmi_os_stat_path(path, false, &st) != 0)
    return mmi_fail(MMAPIO_E_IO, errno, "lstat", "%s: cannot find '%s'", fn,
                    path);
  if (st.kind != MMI_KIND_REGULAR)
    return mmi_fail_not_regular(fn, path, st.kind);
  if (mmi_os_unlink(path) != 0)
    return mmi_fail(MMAPIO_E_IO, errno, "unlink", "%s: cannot remove '%s'", fn,
                    path);
  return 0;
}
