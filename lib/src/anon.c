/*
 * Anonymous mappings: a memory file (memfd, or shm_open on POSIX-only
 * builds) mapped read-write through the ordinary handle machinery, so
 * resize, views, pins and the rest work unchanged; seals; and passing the
 * region to another process over a Unix-domain socket.
 */
#include "memory.h"
#include "os.h"

#include <errno.h>

#define MMI_SEALS_ALL (MMAPIO_SEAL_SHRINK | MMAPIO_SEAL_GROW)
#define MMI_ANON_FLAGS (MMAPIO_OPT_HUGEPAGES | MMAPIO_OPT_TOUCH_EAGER)

/* Maps fd (size bytes, owned by the handle on success) as an anonymous
 * handle, with the open-time hints in flags. */
static int map_anon(mmapio_map **out, int fd, uint64_t size, unsigned flags) {
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.flags = flags;
  return mmi_map_fd(out, fd, NULL, &o, size, MMI_HANDLE_ANONYMOUS);
}

/* A new memory file of size bytes, mapped. */
static int create(const char *fn, mmapio_map **out, uint64_t size,
                  unsigned flags, bool hugetlb) {
  int fd = mmi_os_memfd(hugetlb);
  if (fd < 0)
    return mmi_fail(MMAPIO_E_IO, errno, mmi_os_memfd_call(),
                    "%s: cannot create a memory file%s", fn,
                    hugetlb ? " of hugetlb pages" : "");
  if (mmi_os_truncate(fd, size) != 0) {
    int e = errno;
    mmi_os_close(fd);
    return mmi_fail(MMAPIO_E_IO, e, "ftruncate",
                    "%s: cannot give the memory file %llu bytes", fn,
                    (unsigned long long)size);
  }
  int rc = map_anon(out, fd, size, flags);
  if (rc != 0)
    mmi_os_close(fd);
  return rc;
}

int mmapio_anon_ex(mmapio_map **out, uint64_t size, unsigned flags) {
  static const char fn[] = "mmapio_anon_ex";
  if (out == NULL || (flags & ~MMI_ANON_FLAGS) != 0)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "%s: out is NULL or flags 0x%x has a bit other than "
                    "HUGEPAGES and TOUCH_EAGER",
                    fn, flags);
  if (size == 0 || size > mmapio_max_size() || size > SIZE_MAX)
    return mmi_fail(
        MMAPIO_E_RESIZE_FAILED, 0, NULL, "%s: size %llu is not in [1, %llu]",
        fn, (unsigned long long)size, (unsigned long long)mmapio_max_size());
  /* Tier 1 of the huge pages: hugetlb when the pool can hold it all. Its
   * failure (no aligned address, the pool emptied meanwhile) only means
   * the next tiers. */
  if ((flags & MMAPIO_OPT_HUGEPAGES) && mmi_hugetlb_fit(size) != 0 &&
      create(fn, out, size, flags, true) == 0)
    return 0;
  return create(fn, out, size, flags, false);
}

int mmapio_anon(mmapio_map **out, uint64_t size) {
  return mmapio_anon_ex(out, size, 0);
}

static int fail_not_anon(const char *fn) {
  return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                  "%s: a required argument is NULL or the mapping is not "
                  "anonymous",
                  fn);
}

static int fail_no_seals(const char *fn) {
  return mmi_fail(MMAPIO_E_UNSUPPORTED, 0, NULL,
                  "%s: memory files cannot be sealed on this platform or "
                  "build",
                  fn);
}

int mmapio_anon_seal(mmapio_map *m, unsigned seals) {
  static const char fn[] = "mmapio_anon_seal";
  if (m == NULL || !m->anonymous)
    return fail_not_anon(fn);
  if (seals == 0 || (seals & ~MMI_SEALS_ALL) != 0)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "%s: seals 0x%x is 0 or has an unknown bit", fn, seals);
  if (!mmi_os_has_seals())
    return fail_no_seals(fn);
  if (mmi_os_seals_add(m->fd, seals) != 0)
    return mmi_fail(MMAPIO_E_IO, errno, "fcntl", "%s: adding seals 0x%x failed",
                    fn, seals);
  return 0;
}

int mmapio_anon_seals(const mmapio_map *m, unsigned *out) {
  static const char fn[] = "mmapio_anon_seals";
  if (m == NULL || out == NULL || !m->anonymous)
    return fail_not_anon(fn);
  if (!mmi_os_has_seals())
    return fail_no_seals(fn);
  unsigned seals;
  if (mmi_os_seals_get(m->fd, &seals) != 0)
    return mmi_fail(MMAPIO_E_IO, errno, "fcntl", "%s: F_GET_SEALS failed", fn);
  *out = seals;
  return 0;
}

int mmapio_anon_send(const mmapio_map *m, int sock) {
  static const char fn[] = "mmapio_anon_send";
  if (m == NULL || !m->anonymous || sock < 0)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "%s: m is NULL or not anonymous, or socket %d is "
                    "negative",
                    fn, sock);
  if (mmi_os_send_fd(sock, m->fd) != 0)
    return mmi_fail(MMAPIO_E_IO, errno, "sendmsg",
                    "%s: sending the region on socket %d failed", fn, sock);
  return 0;
}

/* Checks a received descriptor; 0 and its size, or an error (the caller
 * closes fd). */
static int check_received(const char *fn, int fd, unsigned required,
                          uint64_t *size) {
  mmi_file_info st;
  if (mmi_os_stat_fd(fd, &st) != 0)
    return mmi_fail(MMAPIO_E_IO, errno, "fstat",
                    "%s: cannot stat the received descriptor", fn);
  if (st.kind != MMI_KIND_REGULAR)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "%s: the received descriptor is not a memory file", fn);
  if (required != 0) {
    unsigned have = 0;
    if (mmi_os_seals_get(fd, &have) != 0)
      have = 0; /* not a sealable file: it has no seals */
    if ((have & required) != required)
      return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                      "%s: the region has seals 0x%x; 0x%x are required", fn,
                      have, required);
  }
  if (st.size == 0)
    return mmi_fail(MMAPIO_E_RESIZE_FAILED, 0, NULL,
                    "%s: the received region is empty", fn);
  if (st.size > mmapio_max_size() || st.size > SIZE_MAX)
    return mmi_fail(MMAPIO_E_IO, EOVERFLOW, NULL,
                    "%s: the region's %llu bytes cannot be mapped", fn,
                    (unsigned long long)st.size);
  *size = st.size;
  return 0;
}

int mmapio_anon_recv(mmapio_map **out, int sock, unsigned required_seals) {
  static const char fn[] = "mmapio_anon_recv";
  if (out == NULL || sock < 0 || (required_seals & ~MMI_SEALS_ALL) != 0)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "%s: out is NULL, socket %d is negative or seals 0x%x "
                    "has an unknown bit",
                    fn, sock, required_seals);
  if (required_seals != 0 && !mmi_os_has_seals())
    return fail_no_seals(fn);
  int fd;
  if (mmi_os_recv_fd(sock, &fd) != 0)
    return mmi_fail(MMAPIO_E_IO, errno, "recvmsg",
                    "%s: receiving on socket %d failed", fn, sock);
  if (fd < 0)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "%s: the message on socket %d carried no descriptor", fn,
                    sock);
  uint64_t size = 0;
  int rc = check_received(fn, fd, required_seals, &size);
  if (rc == 0)
    rc = map_anon(out, fd, size, 0);
  if (rc != 0)
    mmi_os_close(fd);
  return rc;
}
