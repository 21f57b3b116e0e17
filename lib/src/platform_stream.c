/*
 * The platform layer of the view sources: custom stdio streams and
 * sendfile. Every #if of stream.c lives here; without the Linux
 * extensions (MMAPIO_POSIX_ONLY, or another OS) streams are unsupported
 * and sendfile reports ENOSYS, which stream.c answers with write(2).
 */
#include "platform.h"
#include "views.h"

#include <errno.h>

#if MMI_LINUX

#include <sys/sendfile.h>

/* glibc's cookie seek takes an off64_t, musl's an off_t (64-bit there). */
#ifdef __GLIBC__
typedef off64_t mmi_cookie_off;
#else
typedef off_t mmi_cookie_off;
#endif

static ssize_t cookie_read(void *cookie, char *buf, size_t len) {
  return mmi_stream_read(cookie, buf, len);
}

static ssize_t cookie_write(void *cookie, const char *buf, size_t len) {
  return mmi_stream_write(cookie, buf, len);
}

static int cookie_seek(void *cookie, mmi_cookie_off *pos, int whence) {
  int64_t p = (int64_t)*pos;
  if (mmi_stream_seek(cookie, &p, whence) != 0)
    return -1;
  *pos = (mmi_cookie_off)p;
  return 0;
}

static int cookie_close(void *cookie) { return mmi_stream_close(cookie); }

FILE *mmi_stream_fopen(void *cookie, const char *mode) {
  cookie_io_functions_t io = {cookie_read, cookie_write, cookie_seek,
                              cookie_close};
  return fopencookie(cookie, mode, io);
}

ssize_t mmi_sendfile(int out_fd, int in_fd, uint64_t off, size_t len) {
  off_t o = (off_t)off;
  return sendfile(out_fd, in_fd, &o, len);
}

#else

FILE *mmi_stream_fopen(void *cookie, const char *mode) {
  (void)cookie;
  (void)mode;
  errno = ENOTSUP;
  return NULL;
}

ssize_t mmi_sendfile(int out_fd, int in_fd, uint64_t off, size_t len) {
  (void)out_fd;
  (void)in_fd;
  (void)off;
  (void)len;
  errno = ENOSYS;
  return -1;
}

#endif
