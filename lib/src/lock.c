/* Locking pages of a mapping in memory (mlock family). */
#include "memory.h"
#include "os.h"

#include <errno.h>

static int lock_span(const char *fn, const mmapio_map *m, uint64_t off,
                     uint64_t len, bool lock) {
  mmi_span s;
  int rc = mmi_span_of(m, fn, off, len, &s);
  if (rc != 0 || s.len == 0)
    return rc;
  int r = lock ? mmi_os_lock(s.start, s.len) : mmi_os_unlock(s.start, s.len);
  if (r != 0)
    return mmi_fail(lock ? MMAPIO_E_LOCK_FAILED : MMAPIO_E_UNLOCK_FAILED, errno,
                    lock ? "mlock" : "munlock",
                    "%s: %zu bytes from offset %llu", fn, s.len,
                    (unsigned long long)(off & ~((uint64_t)mmi_page() - 1)));
  return 0;
}

int mmapio_lock(mmapio_map *m, uint64_t off, uint64_t len) {
  return lock_span("mmapio_lock", m, off, len, true);
}

int mmapio_unlock(mmapio_map *m, uint64_t off, uint64_t len) {
  return lock_span("mmapio_unlock", m, off, len, false);
}

int mmapio_lock_all(mmapio_map *m) {
  return lock_span("mmapio_lock_all", m, 0, mmapio_len(m), true);
}

int mmapio_unlock_all(mmapio_map *m) {
  return lock_span("mmapio_unlock_all", m, 0, mmapio_len(m), false);
}
