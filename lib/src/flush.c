/* Durable flushing, the pending count, and the flush policies. */
#include "internal.h"
#include "sys.h"

#include <errno.h>
#include <sys/mman.h>

/* Nothing to write back: private or read-only pages, or no file. */
static bool flush_is_noop(const mmapio_map *m) {
  return m->mode != MMAPIO_MODE_RW || m->anonymous;
}

/* Subtracts d from the pending count, never below zero. */
static void debit(mmapio_map *m, uint64_t d) {
  uint64_t cur = atomic_load_explicit(&m->pending, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(
      &m->pending, &cur, cur > d ? cur - d : 0, memory_order_relaxed,
      memory_order_relaxed)) {
  }
}

/* msync(MS_SYNC) of [start, end) (page-aligned); failures are sticky. */
static int sync_pages(mmapio_map *m, const char *fn, uint64_t start,
                      uint64_t end) {
  int earlier = atomic_load_explicit(&m->sticky_errno, memory_order_acquire);
  if (MMI_UNLIKELY(earlier != 0))
    return mmi_fail(MMAPIO_E_FLUSH_FAILED, earlier, "msync",
                    "%s: an earlier flush of this handle failed; reopen the "
                    "file",
                    fn);
  if (end == start)
    return 0;
  uint64_t size;
  unsigned char *b = mmi_snapshot(m, &size);
  if (MMI_UNLIKELY(mmi_sys.msync(b + start, (size_t)(end - start), MS_SYNC) !=
                   0)) {
    int e = errno;
    int zero = 0;
    atomic_compare_exchange_strong(&m->sticky_errno, &zero, e);
    return mmi_fail(MMAPIO_E_FLUSH_FAILED, e, "msync",
                    "%s: syncing bytes [%llu, %llu) failed", fn,
                    (unsigned long long)start, (unsigned long long)end);
  }
  return 0;
}

int mmapio_flush(mmapio_map *m) {
  if (m == NULL)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "mmapio_flush: m is NULL");
  if (flush_is_noop(m))
    return 0;
  uint64_t pending = atomic_load_explicit(&m->pending, memory_order_relaxed);
  int rc = sync_pages(m, "mmapio_flush", 0, mmi_round_page(mmapio_len(m)));
  if (rc == 0) {
    debit(m, pending);
    atomic_store_explicit(&m->writes, 0, memory_order_relaxed);
  }
  return rc;
}

static int flush_range(mmapio_map *m, const char *fn, uint64_t off,
                       uint64_t len) {
  uint64_t size = mmapio_len(m);
  if (!mmi_in_bounds(off, len, size))
    return mmi_fail_bounds(fn, off, len, size);
  if (len == 0 || flush_is_noop(m))
    return 0;
  uint64_t start = off & ~((uint64_t)mmi_page() - 1);
  uint64_t end = mmi_round_page(off + len);
  int rc = sync_pages(m, fn, start, end);
  if (rc == 0)
    debit(m, end - start);
  return rc;
}

int mmapio_flush_range(mmapio_map *m, uint64_t off, uint64_t len) {
  if (m == NULL)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "mmapio_flush_range: m is NULL");
  return flush_range(m, "mmapio_flush_range", off, len);
}

int mmi_after_update(mmapio_map *m, uint64_t off, size_t len) {
  switch (m->policy) {
  case MMAPIO_FLUSH_ALWAYS:
    return flush_range(m, "mmapio_update", off, len);
  case MMAPIO_FLUSH_EVERY_BYTES:
    if (atomic_load_explicit(&m->pending, memory_order_relaxed) >=
        m->policy_arg)
      return mmapio_flush(m);
    return 0;
  case MMAPIO_FLUSH_EVERY_WRITES:
    if (atomic_fetch_add_explicit(&m->writes, 1, memory_order_relaxed) + 1 >=
        m->policy_arg)
      return mmapio_flush(m);
    return 0;
  default:
    return 0;
  }
}
