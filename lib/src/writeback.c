/*
 * The writeback hint, the second flushing level: it starts writing the
 * dirty pages back and returns without waiting, so it makes no claim of
 * durability and leaves the pending count alone. Like the durable level
 * it always makes the system call (whatever path dirtied the pages), and
 * its failures are sticky in the same way (flush.c).
 */
#include "internal.h"
#include "platform_background.h"

#include <errno.h>

static int start_writeback(mmapio_map *m, const char *fn, uint64_t start,
                           uint64_t end) {
  int earlier = atomic_load_explicit(&m->sticky_errno, memory_order_acquire);
  if (MMI_UNLIKELY(earlier != 0))
    return mmi_fail(MMAPIO_E_FLUSH_FAILED, earlier, NULL,
                    "%s: an earlier flush of this handle failed; reopen the "
                    "file",
                    fn);
  if (end == start)
    return 0;
  uint64_t size;
  unsigned char *b = mmi_snapshot(m, &size);
  if (MMI_UNLIKELY(mmi_bgsys.writeback(m->fd, b + start, start, end - start) !=
                   0)) {
    int e = errno;
    int zero = 0;
    atomic_compare_exchange_strong(&m->sticky_errno, &zero, e);
    return mmi_fail(MMAPIO_E_FLUSH_FAILED, e, mmi_writeback_call(),
                    "%s: starting writeback of bytes [%llu, %llu) failed", fn,
                    (unsigned long long)start, (unsigned long long)end);
  }
  return 0;
}

/* Nothing to write back: private or read-only pages, or no file. */
static bool hint_is_noop(const mmapio_map *m) {
  return m->mode != MMAPIO_MODE_RW || m->anonymous;
}

int mmapio_flush_hint(mmapio_map *m) {
  static const char fn[] = "mmapio_flush_hint";
  if (m == NULL)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL, "%s: m is NULL", fn);
  if (hint_is_noop(m))
    return 0;
  return start_writeback(m, fn, 0, mmi_round_page(mmapio_len(m)));
}

int mmapio_flush_range_hint(mmapio_map *m, uint64_t off, uint64_t len) {
  static const char fn[] = "mmapio_flush_range_hint";
  if (m == NULL)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL, "%s: m is NULL", fn);
  uint64_t size = mmapio_len(m);
  if (!mmi_in_bounds(off, len, size))
    return mmi_fail_bounds(fn, off, len, size);
  if (len == 0 || hint_is_noop(m))
    return 0;
  uint64_t start = off & ~((uint64_t)mmi_page() - 1);
  return start_writeback(m, fn, start, mmi_round_page(off + len));
}
