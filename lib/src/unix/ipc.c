/*
 * Descriptors between processes and threads on every unix: passing one
 * over a Unix-domain socket (SCM_RIGHTS), and the parts of a notifier
 * and of waiting that every system does alike.
 */
#include "unix.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#define MMI_MAX_FDS 4 /* descriptors accepted in one message */

typedef union {
  struct cmsghdr align;
  char buf[CMSG_SPACE(sizeof(int) * MMI_MAX_FDS)];
} mmi_cmsg_buf;

int mmi_os_send_fd(int sock, int fd) {
  char byte = 'M';
  struct iovec iov = {&byte, 1};
  mmi_cmsg_buf cb;
  memset(&cb, 0, sizeof cb);
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cb.buf;
  msg.msg_controllen = CMSG_SPACE(sizeof(int));
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  for (;;) {
    ssize_t n = mmi_sys.sendmsg(sock, &msg, MMI_MSG_NOSIGNAL);
    if (n == 1)
      return 0;
    if (n < 0 && errno == EINTR)
      continue;
    if (n >= 0)
      errno = EIO;
    return -1;
  }
}

/* Keeps the first descriptor a message carried in *fd and closes the
 * others. */
static void take_fds(struct msghdr *msg, int *fd) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL;
       c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
      continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int got;
      memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
      if (*fd >= 0) {
        mmi_sys.close(got);
        continue;
      }
      *fd = got;
      /* Without MSG_CMSG_CLOEXEC it arrived inheritable. */
      if (MMI_MSG_CMSG_CLOEXEC == 0)
        mmi_sys.fcntl(got, F_SETFD, FD_CLOEXEC);
    }
  }
}

int mmi_os_recv_fd(int sock, int *fd) {
  char byte;
  struct iovec iov = {&byte, 1};
  mmi_cmsg_buf cb;
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cb.buf;
  msg.msg_controllen = sizeof cb.buf;
  ssize_t n;
  while ((n = mmi_sys.recvmsg(sock, &msg, MMI_MSG_CMSG_CLOEXEC)) < 0 &&
         errno == EINTR) {
  }
  if (n < 0)
    return -1;
  *fd = -1;
  take_fds(&msg, fd);
  if (n == 0 && *fd < 0) {
    errno = ECONNRESET; /* the peer closed without sending */
    return -1;
  }
  return 0;
}

void mmi_os_notifier_clear(int rd) {
  char buf[64];
  ssize_t r;
  /* An eventfd read returns the whole counter and resets it; a pipe is
   * read until it is empty. Both stop with EAGAIN (non-blocking). */
  do
    r = mmi_sys.read(rd, buf, sizeof buf);
  while (r > 0 || (r < 0 && errno == EINTR));
}

void mmi_os_notifier_close(int rd, int wr) {
  if (rd >= 0)
    mmi_sys.close(rd);
  if (wr >= 0 && wr != rd)
    mmi_sys.close(wr);
}

int mmi_os_wait_readable(int fd_a, int fd_b) {
  struct pollfd p[2] = {{fd_a, POLLIN, 0}, {fd_b, POLLIN, 0}};
  for (;;) {
    if (mmi_sys.poll(p, 2, -1) >= 0)
      return 0;
    if (errno != EINTR)
      return errno;
  }
}
