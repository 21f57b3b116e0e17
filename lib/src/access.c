/* Views, copies in and out, and accessors: the paths users call in tight
 * loops. No lock, no allocation, no system call on any of them. */
#include "internal.h"

#include <string.h>

static int fail_null(const char *fn) {
  return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                  "%s: a required pointer argument is NULL", fn);
}

static int fail_read_only(const char *fn) {
  return mmi_fail(MMAPIO_E_INVALID_MODE, 0, NULL,
                  "%s: the mapping is read-only", fn);
}

/* Reports the first check of mmapio_addr_ that failed, in the order the
 * header documents them. */
int mmapio_view_fail_(const char *fn, const mmapio_map *m, uint64_t off,
                      uint64_t count, unsigned width, unsigned flags) {
  if (m == NULL || (flags & MMAPIO_VIEW_OUT_NULL_))
    return fail_null(fn);
  if ((flags & MMAPIO_VIEW_WRITABLE_) && mmi_mode(m) == MMAPIO_MODE_RO)
    return fail_read_only(fn);
  if ((off & (width - 1)) != 0)
    return mmi_fail(MMAPIO_E_MISALIGNED, 0, NULL,
                    "%s: offset %llu is not a multiple of %u", fn,
                    (unsigned long long)off, width);
  if (count > UINT64_MAX / width)
    return mmi_fail(MMAPIO_E_OUT_OF_BOUNDS, 0, NULL,
                    "%s: %llu elements of %u bytes overflow", fn,
                    (unsigned long long)count, width);
  return mmi_fail_bounds(fn, off, count * width, mmi_len(m));
}

/* The exported function; callers of the header get the inline one. */
int(mmapio_read)(const mmapio_map *m, uint64_t off, void *buf, size_t len) {
  if (MMI_UNLIKELY(m == NULL || (buf == NULL && len > 0)))
    return fail_null("mmapio_read");
  uint64_t size;
  unsigned char *b = mmi_snapshot(m, &size);
  if (MMI_UNLIKELY(!mmi_in_bounds(off, len, size)))
    return mmi_fail_bounds("mmapio_read", off, len, size);
  return mmi_copy(m, "mmapio_read", buf, b + off, len, b + off, off);
}

int mmapio_update(mmapio_map *m, uint64_t off, const void *src, size_t len) {
  if (MMI_UNLIKELY(m == NULL || (src == NULL && len > 0)))
    return fail_null("mmapio_update");
  if (MMI_UNLIKELY(mmi_mode(m) == MMAPIO_MODE_RO))
    return fail_read_only("mmapio_update");
  uint64_t size;
  unsigned char *b = mmi_snapshot(m, &size);
  if (MMI_UNLIKELY(!mmi_in_bounds(off, len, size)))
    return mmi_fail_bounds("mmapio_update", off, len, size);
  int rc = mmi_copy(m, "mmapio_update", b + off, src, len, b + off, off);
  if (rc != 0)
    return rc;
  if (mmi_mode(m) != MMAPIO_MODE_RW || m->anonymous)
    return 0; /* nothing will ever need flushing: count nothing */
  atomic_fetch_add_explicit(&m->pending, len, memory_order_relaxed);
  if (m->policy == MMAPIO_FLUSH_MANUAL)
    return 0;
  return mmi_after_update(m, off, len);
}

uint64_t mmapio_len(const mmapio_map *m) { return m != NULL ? mmi_len(m) : 0; }

bool mmapio_is_empty(const mmapio_map *m) { return mmapio_len(m) == 0; }

const char *mmapio_path(const mmapio_map *m) {
  return m != NULL ? m->path : NULL;
}

mmapio_mode mmapio_mode_of(const mmapio_map *m) {
  return m != NULL ? mmi_mode(m) : (mmapio_mode)0;
}

mmapio_flush_policy mmapio_flush_policy_of(const mmapio_map *m) {
  return m != NULL ? m->policy : MMAPIO_FLUSH_MANUAL;
}

uint64_t mmapio_pending(const mmapio_map *m) {
  if (m == NULL)
    return 0;
  return atomic_load_explicit(&((mmapio_map *)m)->pending,
                              memory_order_relaxed);
}

int mmapio_fd(const mmapio_map *m) { return m != NULL ? mmi_fd_settle(m) : -1; }

const void *mmapio_base(const mmapio_map *m) {
  if (m == NULL)
    return NULL;
  uint64_t size;
  return mmi_snapshot(m, &size);
}

int mmapio_base_mut(mmapio_map *m, void **out) {
  if (m == NULL || out == NULL)
    return fail_null("mmapio_base_mut");
  if (mmi_mode(m) == MMAPIO_MODE_RO)
    return fail_read_only("mmapio_base_mut");
  uint64_t size;
  *out = mmi_snapshot(m, &size);
  return 0;
}

size_t mmapio_page_size(void) { return mmi_page(); }

int mmapio_align_up(uint64_t value, uint64_t align, uint64_t *out) {
  if (out == NULL || align == 0 || (align & (align - 1)) != 0)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "mmapio_align_up: out is NULL or alignment %llu is not "
                    "a power of two",
                    (unsigned long long)align);
  if (value > UINT64_MAX - (align - 1))
    return mmi_fail(MMAPIO_E_OUT_OF_BOUNDS, 0, NULL,
                    "mmapio_align_up: %llu rounded up to %llu overflows",
                    (unsigned long long)value, (unsigned long long)align);
  *out = (value + align - 1) & ~(align - 1);
  return 0;
}
