/*
 * What touch.c lets the seam tests see and reset (C and C++). Internal.
 */
#ifndef MMAPIO_TOUCH_H
#define MMAPIO_TOUCH_H

#ifdef __cplusplus
extern "C" {
#endif

/* A range cached with a "small pages" segment is probed again on every
 * this many calls: rarely enough that the probes stay a small part of
 * the loops they choose between, often enough that pages collapsed into
 * huge ones meanwhile are noticed (the figures behind it: PERFORMANCE.md,
 * "Why the library does what it does"). */
#define MMI_TOUCH_SMALL_RECHECK 16u

/* Forgets the cached page probes and the costs learned, so that the next
 * touch starts from nothing (the seam tests, after replacing the calls
 * touch times and probes with). */
void mmi_touch_cache_clear(void);

#ifdef __cplusplus
}
#endif

#endif
