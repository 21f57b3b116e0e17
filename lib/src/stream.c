/*
 * Streams and hand-off: the reader cursor, the FILE * over a mapping
 * (the platform makes the FILE *: mmi_os_fopen), the owned copy of a
 * range, and sending a range to a descriptor without a user-space copy.
 *
 * A cursor and a stream hold a reference on the mapping but pin nothing:
 * each call reads the current (base, length) snapshot, so they follow
 * growth and never block a shrink.
 */
#include "internal.h"
#include "os.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct mmapio_cursor {
  mmapio_map *map;   /* kept alive by ref */
  uint64_t pos;      /* the position; may lie past the end */
  bool writable;     /* a FILE * opened "r+" */
  mmapio_pin ref;    /* a reference that pins no byte */
  mmi_stream stream; /* a FILE *'s operations on this cursor */
};

static const mmi_stream_ops stream_ops;

static mmapio_cursor *cursor_new(mmapio_map *m, bool writable) {
  mmapio_cursor *c = malloc(sizeof *c);
  if (c == NULL)
    return NULL;
  c->map = m;
  c->pos = 0;
  c->writable = writable;
  mmi_hold(&c->ref, m);
  c->stream.ops = &stream_ops;
  c->stream.cookie = c;
  return c;
}

/* The position off bytes from whence, in [0, INT64_MAX] (a FILE offset
 * is signed); false when whence is unknown or the result falls outside. */
static bool seek_target(const mmapio_cursor *c, int64_t off, int whence,
                        uint64_t *out) {
  uint64_t from;
  switch (whence) {
  case MMAPIO_SEEK_SET:
    from = 0;
    break;
  case MMAPIO_SEEK_CUR:
    from = c->pos;
    break;
  case MMAPIO_SEEK_END:
    from = mmi_len(c->map);
    break;
  default:
    return false;
  }
  if (off < 0) {
    uint64_t back = (uint64_t)(-(off + 1)) + 1; /* |off| without overflow */
    if (back > from)
      return false;
    *out = from - back;
  } else {
    if ((uint64_t)off > (uint64_t)INT64_MAX - from || from > INT64_MAX)
      return false;
    *out = from + (uint64_t)off;
  }
  return true;
}

/* Copies up to len bytes at the position into buf, the number in *out_n,
 * and advances the position by it. 0, or FAULT (guarded; the position
 * stays). */
static int cursor_copy(mmapio_cursor *c, const char *fn, void *buf, size_t len,
                       size_t *out_n) {
  uint64_t size;
  unsigned char *b = mmi_snapshot(c->map, &size);
  size_t n = 0;
  if (c->pos < size && len > 0) {
    n = size - c->pos < len ? (size_t)(size - c->pos) : len;
    const unsigned char *from = b + (size_t)c->pos;
    int rc = mmi_copy(c->map, fn, buf, from, n, from, c->pos);
    if (rc != 0)
      return rc;
  }
  c->pos += n;
  *out_n = n;
  return 0;
}

int mmapio_cursor_open(mmapio_cursor **out, mmapio_map *m) {
  if (out == NULL || m == NULL)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "mmapio_cursor_open: out and m must not be NULL");
  mmapio_cursor *c = cursor_new(m, false);
  if (c == NULL)
    return mmi_fail(MMAPIO_E_NO_MEMORY, ENOMEM, NULL,
                    "mmapio_cursor_open: allocating a cursor failed");
  *out = c;
  return 0;
}

void mmapio_cursor_close(mmapio_cursor *c) {
  if (c == NULL)
    return;
  mmapio_unpin(&c->ref);
  free(c);
}

int mmapio_cursor_read(mmapio_cursor *c, void *buf, size_t len, size_t *out_n) {
  if (c == NULL || out_n == NULL || (buf == NULL && len > 0))
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "mmapio_cursor_read: c and out_n must not be NULL, nor "
                    "buf with len %zu",
                    len);
  return cursor_copy(c, "mmapio_cursor_read", buf, len, out_n);
}

int mmapio_cursor_seek(mmapio_cursor *c, int64_t off, int whence,
                       uint64_t *out_pos) {
  uint64_t to;
  if (c == NULL || !seek_target(c, off, whence, &to))
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "mmapio_cursor_seek: c is NULL, whence %d is unknown, or "
                    "offset %lld from it leaves [0, INT64_MAX]",
                    whence, (long long)off);
  c->pos = to;
  if (out_pos != NULL)
    *out_pos = to;
  return 0;
}

uint64_t mmapio_cursor_position(const mmapio_cursor *c) {
  return c != NULL ? c->pos : 0;
}

int mmapio_cursor_set_position(mmapio_cursor *c, uint64_t pos) {
  if (c == NULL)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "mmapio_cursor_set_position: c is NULL");
  c->pos = pos;
  return 0;
}

/* ---- FILE * ---- */

/* The stream operations (os.h's mmi_stream_ops conventions). A guarded
 * copy that faults is a read error, EFAULT (as a read of a bad buffer
 * says); so is a guarded write below. */
static ssize_t stream_read(void *cookie, char *buf, size_t len) {
  size_t n;
  if (cursor_copy(cookie, "fread", buf, len, &n) != 0) {
    errno = EFAULT;
    return -1;
  }
  return (ssize_t)n;
}

static ssize_t stream_write(void *cookie, const char *buf, size_t len) {
  mmapio_cursor *c = cookie;
  uint64_t size = mmi_len(c->map);
  if (c->pos >= size) {
    errno = ENOSPC; /* the mapping is never grown by a stream */
    return 0;
  }
  size_t n = size - c->pos < len ? (size_t)(size - c->pos) : len;
  int rc = mmapio_update(c->map, c->pos, buf, n);
  if (rc != 0) {
    /* OUT_OF_BOUNDS: a shrink won the race; FAULT: a guarded copy hit a
     * truncated file; else the policy's flush failed. */
    errno = rc == MMAPIO_E_OUT_OF_BOUNDS ? ENOSPC
            : rc == MMAPIO_E_FAULT       ? EFAULT
                                         : EIO;
    return 0;
  }
  c->pos += n;
  if (n < len)
    errno = ENOSPC;
  return (ssize_t)n;
}

static int stream_seek(void *cookie, int64_t *pos, int whence) {
  mmapio_cursor *c = cookie;
  uint64_t to;
  int w = whence == SEEK_SET   ? MMAPIO_SEEK_SET
          : whence == SEEK_CUR ? MMAPIO_SEEK_CUR
          : whence == SEEK_END ? MMAPIO_SEEK_END
                               : -1;
  if (!seek_target(c, *pos, w, &to)) {
    errno = EINVAL;
    return -1;
  }
  c->pos = to;
  *pos = (int64_t)to;
  return 0;
}

static int stream_close(void *cookie) {
  mmapio_cursor_close(cookie);
  return 0;
}

static const mmi_stream_ops stream_ops = {stream_read, stream_write,
                                          stream_seek, stream_close};

/* "r", "rb" -> read only; "r+", "rb+", "r+b" -> read and write. */
static bool parse_mode(const char *mode, bool *writable) {
  static const char *const modes[] = {"r", "rb", "r+", "rb+", "r+b"};
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    if (strcmp(mode, modes[i]) == 0) {
      *writable = i >= 2;
      return true;
    }
  }
  return false;
}

int mmapio_fopen(FILE **out, mmapio_map *m, const char *mode) {
  static const char fn[] = "mmapio_fopen";
  bool writable = false;
  if (out == NULL || m == NULL || mode == NULL)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "%s: out, m and mode must not be NULL", fn);
  if (!parse_mode(mode, &writable))
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "%s: mode \"%s\" is not r, rb, r+, rb+ or r+b", fn, mode);
  if (writable && mmi_mode(m) == MMAPIO_MODE_RO)
    return mmi_fail(MMAPIO_E_INVALID_MODE, 0, NULL,
                    "%s: mode \"%s\" needs a writable mapping", fn, mode);
  mmapio_cursor *c = cursor_new(m, writable);
  if (c == NULL)
    return mmi_fail(MMAPIO_E_NO_MEMORY, ENOMEM, NULL,
                    "%s: allocating the stream failed", fn);
  if (!mmi_os_has_streams()) {
    mmapio_cursor_close(c);
    return mmi_fail(MMAPIO_E_UNSUPPORTED, 0, NULL,
                    "%s: this build has no custom stdio streams "
                    "(fopencookie)",
                    fn);
  }
  FILE *f = mmi_os_fopen(&c->stream, writable ? "r+" : "r");
  if (f == NULL) {
    int e = errno;
    mmapio_cursor_close(c);
    /* fopencookie fails only to allocate its FILE. */
    return mmi_fail(MMAPIO_E_NO_MEMORY, e, "fopencookie",
                    "%s: allocating the stream failed", fn);
  }
  *out = f;
  return 0;
}

/* ---- Hand-off ---- */

int mmapio_read_bytes(const mmapio_map *m, uint64_t off, size_t len,
                      void **out) {
  static const char fn[] = "mmapio_read_bytes";
  if (m == NULL || out == NULL)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "%s: m and out must not be NULL", fn);
  uint64_t size;
  unsigned char *b = mmi_snapshot(m, &size);
  if (!mmi_in_bounds(off, len, size))
    return mmi_fail_bounds(fn, off, len, size);
  void *copy = malloc(len > 0 ? len : 1);
  if (copy == NULL)
    return mmi_fail(MMAPIO_E_NO_MEMORY, ENOMEM, NULL,
                    "%s: cannot allocate %zu bytes", fn, len);
  int rc = mmi_copy(m, fn, copy, b + (size_t)off, len, b + (size_t)off, off);
  if (rc != 0) {
    free(copy);
    return rc;
  }
  *out = copy;
  return 0;
}

static bool would_block(int e) { return e == EAGAIN || e == EWOULDBLOCK; }

int mmapio_send_range(const mmapio_map *m, uint64_t off, size_t len, int out_fd,
                      size_t *out_sent) {
  static const char fn[] = "mmapio_send_range";
  if (m == NULL || out_sent == NULL || out_fd < 0)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "%s: m and out_sent must not be NULL and out_fd (%d) "
                    "must not be negative",
                    fn, out_fd);
  uint64_t size;
  const unsigned char *b = mmi_snapshot(m, &size);
  if (!mmi_in_bounds(off, len, size))
    return mmi_fail_bounds(fn, off, len, size);
  /* A COW mapping's private changes are not in the file: send those
   * bytes from memory. write(2) from the mapping is no user-space copy
   * either, only one more kernel copy than sendfile. */
  bool from_file = mmi_mode(m) != MMAPIO_MODE_COW && m->fd >= 0;
  const size_t max_call = (size_t)1 << 30;
  size_t sent = 0;
  while (sent < len) {
    size_t want = len - sent < max_call ? len - sent : max_call;
    ssize_t n;
    const char *call;
    if (from_file) {
      call = "sendfile";
      n = mmi_os_sendfile(out_fd, m->fd, off + sent, want);
      if (n < 0 && (errno == ENOSYS || errno == EINVAL)) {
        from_file = false; /* no sendfile, or not between these fds */
        continue;
      }
    } else {
      call = "write";
      n = mmi_os_write(out_fd, b + (size_t)off + sent, want);
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (would_block(errno) || sent > 0))
      break; /* like send(2): report what went out; the next call fails */
    if (n < 0)
      return mmi_fail(MMAPIO_E_IO, errno, call,
                      "%s: sending [%llu, +%zu) to fd %d failed", fn,
                      (unsigned long long)off, len, out_fd);
    if (n == 0) {
      if (sent > 0)
        break;
      /* The file ended before the mapping: truncated behind our back. */
      return mmi_fail(MMAPIO_E_IO, EIO, call,
                      "%s: the file ended at %llu, inside the mapping", fn,
                      (unsigned long long)off);
    }
    sent += (size_t)n;
  }
  *out_sent = sent;
  return 0;
}
