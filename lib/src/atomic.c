/*
 * Atomic views: the address of a 32- or 64-bit atomic (or an array of
 * them) inside the mapping. Getting one is a bounds and alignment check
 * on a lock-free snapshot; the operations are inline in the header.
 *
 * Each function is the inline fast path (every check passes) plus one
 * cold call that works out which check failed and reports it.
 */
#include "internal.h"

/* The address of element 0 when every check passes, else NULL (no
 * mapping lives at address 0). *size is the length the bounds check saw. */
static inline unsigned char *atomic_addr(const mmapio_map *m, bool writable,
                                         uint64_t off, size_t count,
                                         unsigned width, const void *out,
                                         uint64_t *size) {
  if (MMI_UNLIKELY(
          m == NULL || out == NULL || (writable && m->mode == MMAPIO_MODE_RO) ||
          (off & (width - 1)) != 0 || (uint64_t)count > UINT64_MAX / width))
    return NULL;
  unsigned char *b = mmi_snapshot(m, size);
  if (MMI_UNLIKELY(!mmi_in_bounds(off, (uint64_t)count * width, *size)))
    return NULL;
  return b + off;
}

/* Reports the first check of atomic_addr that fails, in the order the
 * header documents them. */
static int atomic_fail(const char *fn, const mmapio_map *m, bool writable,
                       uint64_t off, size_t count, unsigned width,
                       const void *out, uint64_t size) {
  if (m == NULL || out == NULL)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "%s: a required pointer argument is NULL", fn);
  if (writable && m->mode == MMAPIO_MODE_RO)
    return mmi_fail(MMAPIO_E_INVALID_MODE, 0, NULL,
                    "%s: the mapping is read-only", fn);
  if ((off & (width - 1)) != 0)
    return mmi_fail(MMAPIO_E_MISALIGNED, 0, NULL,
                    "%s: offset %llu is not a multiple of %u", fn,
                    (unsigned long long)off, width);
  if ((uint64_t)count > UINT64_MAX / width)
    return mmi_fail(MMAPIO_E_OUT_OF_BOUNDS, 0, NULL,
                    "%s: %llu elements of %u bytes overflow", fn,
                    (unsigned long long)count, width);
  return mmi_fail_bounds(fn, off, (uint64_t)count * width, size);
}

int mmapio_view_atomic_u32(const mmapio_map *m, uint64_t off,
                           const mmapio_atomic_u32 **out) {
  uint64_t size = 0;
  unsigned char *p = atomic_addr(m, false, off, 1, 4, out, &size);
  if (MMI_UNLIKELY(p == NULL))
    return atomic_fail("mmapio_view_atomic_u32", m, false, off, 1, 4, out,
                       size);
  *out = (const mmapio_atomic_u32 *)p;
  return 0;
}

int mmapio_view_atomic_u32_mut(mmapio_map *m, uint64_t off,
                               mmapio_atomic_u32 **out) {
  uint64_t size = 0;
  unsigned char *p = atomic_addr(m, true, off, 1, 4, out, &size);
  if (MMI_UNLIKELY(p == NULL))
    return atomic_fail("mmapio_view_atomic_u32_mut", m, true, off, 1, 4, out,
                       size);
  *out = (mmapio_atomic_u32 *)p;
  return 0;
}

int mmapio_view_atomic_u64(const mmapio_map *m, uint64_t off,
                           const mmapio_atomic_u64 **out) {
  uint64_t size = 0;
  unsigned char *p = atomic_addr(m, false, off, 1, 8, out, &size);
  if (MMI_UNLIKELY(p == NULL))
    return atomic_fail("mmapio_view_atomic_u64", m, false, off, 1, 8, out,
                       size);
  *out = (const mmapio_atomic_u64 *)p;
  return 0;
}

int mmapio_view_atomic_u64_mut(mmapio_map *m, uint64_t off,
                               mmapio_atomic_u64 **out) {
  uint64_t size = 0;
  unsigned char *p = atomic_addr(m, true, off, 1, 8, out, &size);
  if (MMI_UNLIKELY(p == NULL))
    return atomic_fail("mmapio_view_atomic_u64_mut", m, true, off, 1, 8, out,
                       size);
  *out = (mmapio_atomic_u64 *)p;
  return 0;
}

int mmapio_view_atomic_u32_array(const mmapio_map *m, uint64_t off,
                                 size_t count, const mmapio_atomic_u32 **out) {
  uint64_t size = 0;
  unsigned char *p = atomic_addr(m, false, off, count, 4, out, &size);
  if (MMI_UNLIKELY(p == NULL))
    return atomic_fail("mmapio_view_atomic_u32_array", m, false, off, count, 4,
                       out, size);
  *out = (const mmapio_atomic_u32 *)p;
  return 0;
}

int mmapio_view_atomic_u32_array_mut(mmapio_map *m, uint64_t off, size_t count,
                                     mmapio_atomic_u32 **out) {
  uint64_t size = 0;
  unsigned char *p = atomic_addr(m, true, off, count, 4, out, &size);
  if (MMI_UNLIKELY(p == NULL))
    return atomic_fail("mmapio_view_atomic_u32_array_mut", m, true, off, count,
                       4, out, size);
  *out = (mmapio_atomic_u32 *)p;
  return 0;
}

int mmapio_view_atomic_u64_array(const mmapio_map *m, uint64_t off,
                                 size_t count, const mmapio_atomic_u64 **out) {
  uint64_t size = 0;
  unsigned char *p = atomic_addr(m, false, off, count, 8, out, &size);
  if (MMI_UNLIKELY(p == NULL))
    return atomic_fail("mmapio_view_atomic_u64_array", m, false, off, count, 8,
                       out, size);
  *out = (const mmapio_atomic_u64 *)p;
  return 0;
}

int mmapio_view_atomic_u64_array_mut(mmapio_map *m, uint64_t off, size_t count,
                                     mmapio_atomic_u64 **out) {
  uint64_t size = 0;
  unsigned char *p = atomic_addr(m, true, off, count, 8, out, &size);
  if (MMI_UNLIKELY(p == NULL))
    return atomic_fail("mmapio_view_atomic_u64_array_mut", m, true, off, count,
                       8, out, size);
  *out = (mmapio_atomic_u64 *)p;
  return 0;
}
