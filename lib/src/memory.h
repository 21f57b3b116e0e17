/*
 * Internal declarations shared by the memory-control files (advise.c,
 * touch.c, lock.c, hugepage.c, anon.c, hints.c). Not exported.
 */
#ifndef MMAPIO_MEMORY_H
#define MMAPIO_MEMORY_H

#include "internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A range of the live mapping widened to page boundaries: addresses
 * [start, start + len), at offset off of the mapping (and of its file). */
typedef struct mmi_span {
  unsigned char *start;
  size_t len;
  uint64_t off;
} mmi_span;

/*
 * Checks m and [off, off+len) against the current length for fn and
 * widens the range to pages. Returns 0 (len 0 gives an empty span),
 * INVALID_ARGUMENT for a NULL m or OUT_OF_BOUNDS. Inline, so the span
 * stays in registers: written to memory by one function and read back
 * by another with wider loads, it cost a stall of the store buffer on
 * every call.
 */
static inline int mmi_span_of(const mmapio_map *m, const char *fn, uint64_t off,
                              uint64_t len, mmi_span *out) {
  out->start = NULL;
  out->len = 0;
  out->off = 0;
  if (MMI_UNLIKELY(m == NULL))
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL, "%s: m is NULL", fn);
  uint64_t size;
  unsigned char *b = mmi_snapshot(m, &size);
  if (MMI_UNLIKELY(!mmi_in_bounds(off, len, size)))
    return mmi_fail_bounds(fn, off, len, size);
  if (len == 0) {
    out->start = b + off;
    out->len = 0;
    out->off = off;
    return 0;
  }
  /* The mapping covers [0, size) rounded up to a page, so the widened
   * range stays inside it, and it fits in size_t (size was mapped). */
  uint64_t start = off & ~((uint64_t)mmi_page() - 1);
  uint64_t end = mmi_round_page(off + len);
  out->start = b + start;
  out->len = (size_t)(end - start);
  out->off = start;
  return 0;
}

/* ---- touch.c ---- */

/* Faults the pages of s in (see mmapio_touch_pages_range). 0 or a
 * negative MMAPIO_E_* for fn. */
int mmi_touch_span(const char *fn, const mmapio_map *m, mmi_span s);

/* ---- hugepage.c ---- */

/* The size of a PMD-level huge page: what the system says, else 2 MiB
 * (x86-64's); asked once, read inline like mmi_page. */
extern _Atomic size_t mmi_pmd_cache;
size_t mmi_pmd_ask(void);
static inline size_t mmi_pmd_size(void) {
  size_t v = atomic_load_explicit(&mmi_pmd_cache, memory_order_relaxed);
  return MMI_LIKELY(v != 0) ? v : mmi_pmd_ask();
}
/* The default hugetlb page size when the pool has enough free pages for
 * size bytes (a multiple of it), else 0. */
size_t mmi_hugetlb_fit(uint64_t size);
/* Tiers 2 and 3 of MMAPIO_OPT_HUGEPAGES for a new mapping (see the
 * header): MADV_HUGEPAGE, and for anonymous memory whose THP mode gives
 * no huge pages at fault time, commit and MADV_COLLAPSE. Best effort. */
void mmi_hugepage_prepare(mmapio_map *m);
/* MADV_COLLAPSE of the resident mapping after an eager touch (files).
 * Best effort. */
void mmi_hugepage_collapse(mmapio_map *m);

#endif
