/*
 * Resize. Readers take no lock (mmi_snapshot), so every step keeps each
 * (base, length) pair a reader can observe fully addressable:
 *  - growth maps the new pages first, then publishes the length;
 *  - growth that must move publishes the new base, then the length, and
 *    keeps the old reservation mapped until close; the new reservation
 *    maps more than any earlier reservation held, so a reader that reads
 *    the length and then the base (mmapio_snapshot_) may see a later
 *    base than the length's, never an earlier one, and either covers it;
 *  - a shrink publishes the length first, then quarantines the cut pages
 *    (private zeros) in every reservation, and only then truncates the
 *    file, so no reader can touch a page past the end of the file.
 * Writers are serialised by m->mu.
 */
#include "file_util.h"
#include "internal.h"
#include "os.h"

#include <errno.h>
#include <stdlib.h>

static int fail_resize(int e, const char *call, uint64_t from, uint64_t to) {
  return mmi_fail(MMAPIO_E_RESIZE_FAILED, e, call,
                  "mmapio_resize: from %llu to %llu bytes failed",
                  (unsigned long long)from, (unsigned long long)to);
}

/* Moves the live mapping to a new, larger reservation. */
static int move_live(mmapio_map *m, size_t need, size_t want) {
  mmi_region *grown =
      realloc(m->retired, (m->nretired + 1) * sizeof *m->retired);
  if (grown == NULL)
    return mmi_fail(MMAPIO_E_NO_MEMORY, ENOMEM, NULL,
                    "mmapio_resize: out of memory");
  m->retired = grown;
  mmi_region fresh;
  int rc = mmi_region_create_fit(&fresh, m, need, want);
  if (rc != 0)
    return rc;
  m->retired[m->nretired++] = m->live;
  m->live = fresh;
  atomic_store_explicit(&m->head.base_, fresh.base, memory_order_release);
  return 0;
}

/* Makes file bytes [0, need) addressable from the live base (or a new
 * one, reported in *moved). */
static int map_upto(mmapio_map *m, size_t need, bool *moved) {
  mmi_region *r = &m->live;
  if (need <= r->reserve)
    return mmi_region_extend(r, m, need);
  size_t want = need <= SIZE_MAX / 2 ? 2 * need : need;
  if (mmi_region_widen(r, want) == 0)
    return mmi_region_extend(r, m, need);
  int rc = move_live(m, need, want);
  if (rc == 0)
    *moved = true;
  return rc;
}

static int grow(mmapio_map *m, uint64_t old, uint64_t size, bool *moved) {
  const char *call;
  bool pre = (m->opt_flags & MMAPIO_OPT_PREALLOCATE) != 0;
  int e = mmi_set_size(m->fd, old, size, pre, &call);
  if (e != 0)
    return fail_resize(e, call, old, size);
  int rc = map_upto(m, (size_t)mmi_round_page(size), moved);
  if (rc != 0) {
    (void)mmi_os_truncate(m->fd, old);
    int detail_errno = mmapio_last_error()->os_errno;
    return fail_resize(detail_errno, "mmap", old, size);
  }
  atomic_store_explicit(&m->head.len_, size, memory_order_release);
  return 0;
}

/* Maps [0, upto) again in every reservation that has room for it. */
static void remap_all(mmapio_map *m, size_t upto) {
  mmi_region_extend(&m->live, m, upto);
  for (size_t i = 0; i < m->nretired; i++) {
    mmi_region *r = &m->retired[i];
    mmi_region_extend(r, m, upto < r->reserve ? upto : r->reserve);
  }
}

/* Cuts the mapping to size; m->shrinking is set, so walks that begin
 * meanwhile wait on m->mu (pin.c). */
static int cut(mmapio_map *m, uint64_t old, uint64_t size) {
  uint64_t pinned = mmi_pinned_end(m);
  if (pinned > size)
    return mmi_fail(MMAPIO_E_BUSY, 0, NULL,
                    "mmapio_resize: a pin or walk holds bytes up to %llu; "
                    "cannot shrink to %llu",
                    (unsigned long long)pinned, (unsigned long long)size);
  size_t keep = (size_t)mmi_round_page(size);
  size_t had = (size_t)mmi_round_page(old);
  atomic_store_explicit(&m->head.len_, size, memory_order_release);
  int rc = mmi_region_quarantine(&m->live, keep, had);
  for (size_t i = 0; rc == 0 && i < m->nretired; i++)
    rc = mmi_region_quarantine(&m->retired[i], keep, had);
  int e = 0;
  const char *call = "mmap";
  if (rc != 0)
    e = mmapio_last_error()->os_errno;
  else if (mmi_os_truncate(m->fd, size) != 0) {
    e = errno;
    call = "ftruncate";
    rc = -1;
  }
  if (rc != 0) {
    remap_all(m, had);
    atomic_store_explicit(&m->head.len_, old, memory_order_release);
    return fail_resize(e, call, old, size);
  }
  return 0;
}

/* The flag is set by an exchange, not a store: the handshake with walks
 * (pin.c) needs this store ordered before the load of m->walks, and a
 * read-modify-write is a full barrier everywhere, also where a
 * store-release and a load-acquire may pass each other (qemu's
 * translation of aarch64 to x86 let walks be cut). A shrink is a slow
 * path: the cost does not show. Walks in walk slots order their side with
 * a compiler barrier only, so when any ever took a slot on m the shrink
 * runs a barrier on every thread before it reads them (walk_slots.c); a
 * system that refuses it fails the shrink, which then changes nothing. */
static int shrink(mmapio_map *m, uint64_t old, uint64_t size) {
  (void)atomic_exchange_explicit(&m->shrinking, true, memory_order_seq_cst);
  int rc = mmi_slots_fence(m) == 0
               ? cut(m, old, size)
               : fail_resize(errno, mmi_os_barrier_call(), old, size);
  atomic_store_explicit(&m->shrinking, false, memory_order_release);
  return rc;
}

int mmapio_resize(mmapio_map *m, uint64_t new_size, bool *moved) {
  if (m == NULL)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "mmapio_resize: m is NULL");
  if (!mmi_resizable(mmi_mode(m)))
    return mmi_fail(MMAPIO_E_INVALID_MODE, 0, NULL,
                    "mmapio_resize: only read-write mappings can be resized");
  if (new_size == 0 || new_size > mmapio_max_size())
    return mmi_fail(MMAPIO_E_RESIZE_FAILED, 0, NULL,
                    "mmapio_resize: size %llu is not in [1, %llu]",
                    (unsigned long long)new_size,
                    (unsigned long long)mmapio_max_size());
  bool moved_here = false;
  pthread_mutex_lock(&m->mu);
  uint64_t old = atomic_load_explicit(&m->head.len_, memory_order_relaxed);
  int rc = 0;
  if (new_size > old)
    rc = grow(m, old, new_size, &moved_here);
  else if (new_size < old)
    rc = shrink(m, old, new_size);
  pthread_mutex_unlock(&m->mu);
  if (rc == 0 && new_size != old)
    mmi_touch_forget(m);
  if (rc == 0 && moved != NULL)
    *moved = moved_here;
  return rc;
}
