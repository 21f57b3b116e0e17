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
 * INVALID_ARGUMENT for a NULL m or OUT_OF_BOUNDS.
 */
int mmi_span_of(const mmapio_map *m, const char *fn, uint64_t off, uint64_t len,
                mmi_span *out);

/* ---- touch.c ---- */

/* Faults the pages of s in (see mmapio_touch_pages_range). 0 or a
 * negative MMAPIO_E_* for fn. */
int mmi_touch_span(const char *fn, const mmapio_map *m, mmi_span s);

/* ---- hugepage.c ---- */

/* The size of a PMD-level huge page: what the system says, else 2 MiB
 * (x86-64's). */
size_t mmi_pmd_size(void);
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
