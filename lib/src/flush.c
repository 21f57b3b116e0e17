/* Flushing at both levels (durable and the writeback hint), the pending
 * count, and the flush policies that run after an update. */
#include "internal.h"
#include "os.h"

#include <errno.h>

/* Nothing to write back: private or read-only pages, or no file. */
static bool flush_is_noop(const mmapio_map *m) {
  return mmi_mode(m) != MMAPIO_MODE_RW || m->anonymous;
}

/* Subtracts d from the pending count, never below zero. */
static void debit(mmapio_map *m, uint64_t d) {
  uint64_t cur = atomic_load_explicit(&m->pending, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(
      &m->pending, &cur, cur > d ? cur - d : 0, memory_order_relaxed,
      memory_order_relaxed)) {
  }
}

/* The two levels: durable (data on disk on return: msync with MS_SYNC)
 * and the writeback hint (writeback started, no durability claim). */
typedef enum level { DURABLE, HINT } level;

/* Syncs [start, end) (page-aligned) at level; failures are sticky. */
static int sync_pages(mmapio_map *m, const char *fn, uint64_t start,
                      uint64_t end, level lv) {
  int earlier = atomic_load_explicit(&m->sticky_errno, memory_order_acquire);
  if (MMI_UNLIKELY(earlier != 0))
    return mmi_fail(MMAPIO_E_FLUSH_FAILED, earlier,
                    atomic_load_explicit(&m->sticky_call, memory_order_acquire),
                    "%s: an earlier flush of this handle failed; reopen the "
                    "file",
                    fn);
  if (end == start)
    return 0;
  uint64_t size;
  unsigned char *b = mmi_snapshot(m, &size);
  const char *call = lv == DURABLE ? "msync" : mmi_os_writeback_call();
  int rc = lv == DURABLE
               ? mmi_os_sync(b + start, (size_t)(end - start))
               : mmi_os_writeback(m->fd, b + start, start, end - start);
  if (MMI_UNLIKELY(rc != 0)) {
    int e = errno;
    int zero = 0;
    atomic_store_explicit(&m->sticky_call, call, memory_order_release);
    atomic_compare_exchange_strong(&m->sticky_errno, &zero, e);
    return mmi_fail(MMAPIO_E_FLUSH_FAILED, e, call,
                    "%s: %s bytes [%llu, %llu) failed", fn,
                    lv == DURABLE ? "syncing" : "starting writeback of",
                    (unsigned long long)start, (unsigned long long)end);
  }
  return 0;
}

static int flush_all(mmapio_map *m, const char *fn, level lv) {
  if (m == NULL)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL, "%s: m is NULL", fn);
  if (flush_is_noop(m))
    return 0;
  uint64_t pending = atomic_load_explicit(&m->pending, memory_order_relaxed);
  int rc = sync_pages(m, fn, 0, mmi_round_page(mmi_len(m)), lv);
  if (rc == 0 && lv == DURABLE) {
    debit(m, pending);
    atomic_store_explicit(&m->writes, 0, memory_order_relaxed);
  }
  return rc;
}

static int flush_range(mmapio_map *m, const char *fn, uint64_t off,
                       uint64_t len, level lv) {
  if (m == NULL)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL, "%s: m is NULL", fn);
  uint64_t size = mmi_len(m);
  if (!mmi_in_bounds(off, len, size))
    return mmi_fail_bounds(fn, off, len, size);
  if (len == 0 || flush_is_noop(m))
    return 0;
  uint64_t start = off & ~((uint64_t)mmi_page() - 1);
  uint64_t end = mmi_round_page(off + len);
  int rc = sync_pages(m, fn, start, end, lv);
  if (rc == 0 && lv == DURABLE)
    debit(m, end - start);
  return rc;
}

int mmapio_flush(mmapio_map *m) {
  return flush_all(m, "mmapio_flush", DURABLE);
}

int mmapio_flush_range(mmapio_map *m, uint64_t off, uint64_t len) {
  return flush_range(m, "mmapio_flush_range", off, len, DURABLE);
}

int mmapio_flush_hint(mmapio_map *m) {
  return flush_all(m, "mmapio_flush_hint", HINT);
}

int mmapio_flush_range_hint(mmapio_map *m, uint64_t off, uint64_t len) {
  return flush_range(m, "mmapio_flush_range_hint", off, len, HINT);
}

int mmi_after_update(mmapio_map *m, uint64_t off, size_t len) {
  switch (m->policy) {
  case MMAPIO_FLUSH_ALWAYS:
    return flush_range(m, "mmapio_update", off, len, DURABLE);
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
