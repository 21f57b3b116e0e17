/*
 * Segments: reference-counted sub-ranges of a mapping. A segment holds a
 * reference on its mapping and, unless MMAPIO_SEGMENT_NOPIN, a pin on its
 * range; every accessor still checks the range against the mapping's
 * current length, which is what makes unpinned segments safe.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

struct mmapio_segment {
  _Atomic unsigned refs; /* references to the segment */
  mmapio_map *map;       /* the parent; kept alive by pin */
  uint64_t off;          /* offset in the parent */
  uint64_t len;          /* length; off + len does not overflow */
  mmapio_pin pin;        /* [off, off+len), or [0, 0) with NOPIN */
};

int mmapio_segment_create(mmapio_segment **out, mmapio_map *m, uint64_t off,
                          uint64_t len, unsigned flags) {
  static const char fn[] = "mmapio_segment_create";
  if (out == NULL || m == NULL || (flags & ~MMAPIO_SEGMENT_NOPIN) != 0)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "%s: out and m must not be NULL; flags 0x%x has unknown "
                    "bits",
                    fn, flags);
  uint64_t size = mmi_len(m);
  if (!mmi_in_bounds(off, len, size))
    return mmi_fail_bounds(fn, off, len, size);
  mmapio_segment *s = malloc(sizeof *s);
  if (s == NULL)
    return mmi_fail(MMAPIO_E_NO_MEMORY, ENOMEM, NULL,
                    "%s: allocating a segment failed", fn);
  if (flags & MMAPIO_SEGMENT_NOPIN) {
    mmi_hold(&s->pin, m);
  } else {
    /* Fails only if a shrink came after the check above. */
    int rc = mmapio_pin_range(&s->pin, m, off, len);
    if (rc != 0) {
      free(s);
      return rc;
    }
  }
  atomic_init(&s->refs, 1);
  s->map = m;
  s->off = off;
  s->len = len;
  *out = s;
  return 0;
}

mmapio_segment *mmapio_segment_retain(mmapio_segment *s) {
  if (s != NULL)
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
  return s;
}

void mmapio_segment_release(mmapio_segment *s) {
  if (s == NULL ||
      atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
    return;
  mmapio_unpin(&s->pin);
  free(s);
}

/* The address of [off, off+len) of s, checked against the segment and
 * against the mapping's current length. */
static int seg_range(const char *fn, const mmapio_segment *s, uint64_t off,
                     uint64_t len, unsigned char **out) {
  if (MMI_UNLIKELY(!mmi_in_bounds(off, len, s->len)))
    return mmi_fail(MMAPIO_E_OUT_OF_BOUNDS, 0, NULL,
                    "%s: range [%llu, +%llu) exceeds the segment's length "
                    "%llu",
                    fn, (unsigned long long)off, (unsigned long long)len,
                    (unsigned long long)s->len);
  uint64_t size;
  unsigned char *b = mmi_snapshot(s->map, &size);
  if (MMI_UNLIKELY(s->off + s->len > size))
    return mmi_fail(MMAPIO_E_OUT_OF_BOUNDS, 0, NULL,
                    "%s: the mapping shrank to %llu bytes, below the "
                    "segment's end %llu",
                    fn, (unsigned long long)size,
                    (unsigned long long)(s->off + s->len));
  *out = b + (size_t)(s->off + off);
  return 0;
}

int mmapio_segment_view(const mmapio_segment *s, uint64_t off, size_t len,
                        const void **out) {
  if (MMI_UNLIKELY(s == NULL || out == NULL))
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "mmapio_segment_view: s and out must not be NULL");
  unsigned char *p = NULL;
  int rc = seg_range("mmapio_segment_view", s, off, len, &p);
  if (MMI_LIKELY(rc == 0))
    *out = p;
  return rc;
}

int mmapio_segment_view_mut(mmapio_segment *s, uint64_t off, size_t len,
                            void **out) {
  if (MMI_UNLIKELY(s == NULL || out == NULL))
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "mmapio_segment_view_mut: s and out must not be NULL");
  if (MMI_UNLIKELY(mmi_mode(s->map) == MMAPIO_MODE_RO))
    return mmi_fail(MMAPIO_E_INVALID_MODE, 0, NULL,
                    "mmapio_segment_view_mut: the mapping is read-only");
  unsigned char *p = NULL;
  int rc = seg_range("mmapio_segment_view_mut", s, off, len, &p);
  if (MMI_LIKELY(rc == 0))
    *out = p;
  return rc;
}

int mmapio_segment_write(mmapio_segment *s, uint64_t off, const void *src,
                         size_t len) {
  if (s == NULL || (src == NULL && len > 0))
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "mmapio_segment_write: s is NULL, or src is NULL with "
                    "len %zu",
                    len);
  if (mmi_mode(s->map) == MMAPIO_MODE_RO)
    return mmi_fail(MMAPIO_E_INVALID_MODE, 0, NULL,
                    "mmapio_segment_write: the mapping is read-only");
  unsigned char *p = NULL;
  int rc = seg_range("mmapio_segment_write", s, off, len, &p);
  if (rc != 0)
    return rc;
  /* The update itself (copy, pending count, flush policy) is the
   * mapping's; it re-checks the bounds against a concurrent shrink. */
  return mmapio_update(s->map, s->off + off, src, len);
}

uint64_t mmapio_segment_len(const mmapio_segment *s) {
  return s != NULL ? s->len : 0;
}

uint64_t mmapio_segment_offset(const mmapio_segment *s) {
  return s != NULL ? s->off : 0;
}

mmapio_map *mmapio_segment_parent(const mmapio_segment *s) {
  return s != NULL ? s->map : NULL;
}

bool mmapio_segment_is_valid(const mmapio_segment *s) {
  return s != NULL && s->off + s->len <= mmi_len(s->map);
}
