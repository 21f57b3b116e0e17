/*
 * touch_pages: fault every page of a range in, the fastest way per call,
 * and the residency query.
 *
 * Two ways, measured on Linux 6.18 (2 vCPU VM; see the issue-4 report):
 *  - a loop reading one byte per page: 1.3-5 us per warm MiB mapped with
 *    small pages, and the best way for ranges that are not resident
 *    (the fault path's fault-around and read-ahead serve it well);
 *  - one MADV_POPULATE_READ: one system call plus 0.05 us per MiB when
 *    the range is mapped by huge pages (one step per 2 MiB instead of
 *    512 loads), but 30-45 us per MiB over small pages.
 * So the loop is the default, and populate is used when the range is
 * mapped by huge pages. Finding that out costs one PAGEMAP_SCAN of a
 * single page (about 1 us), too much to pay on every call for ranges
 * that populate covers in 1-3 us, so the answer is cached per range in a
 * small lock-free table: a "huge" answer is re-checked by the populate
 * call's own duration, a "small" one is re-probed every fourth call.
 * The table is only a hint: a stale entry chooses a slower way, never a
 * wrong result.
 */
#include "memory.h"
#include "platform_memory.h"

#include <errno.h>
#include <stdatomic.h>

/* Re-probe a range cached as "small pages" after this many calls. */
#define MMI_SMALL_RECHECK 4u
/* A populate call slower than this per MiB (plus as much again) did not
 * run over huge pages only: over huge pages it takes about 0.1 us per
 * MiB, over small ones 30 us or more. */
#define MMI_HUGE_US_PER_MIB 2u

#define MMI_TOUCH_SLOTS 64u
#define MMI_SLOT_HUGE 0x80u
#define MMI_SLOT_COUNT 0x7Fu
#define MMI_SLOT_TAG (~(uint64_t)0xFF)

/* Per range: tag | MMI_SLOT_HUGE | calls since the probe. */
static _Atomic uint64_t touch_cache[MMI_TOUCH_SLOTS];

void mmi_touch_cache_clear(void) {
  for (size_t i = 0; i < MMI_TOUCH_SLOTS; i++)
    atomic_store_explicit(&touch_cache[i], 0, memory_order_relaxed);
}

static uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/* One volatile load per page, so the compiler keeps every one. */
static void touch_loop(const unsigned char *p, size_t len, size_t page) {
  const volatile unsigned char *v = p;
  for (size_t i = 0; i < len; i += page)
    (void)v[i];
}

static int fail_populate(const char *fn, int e, mmi_span s) {
  int code = e == ENOMEM                         ? MMAPIO_E_NO_MEMORY
             : e == EFAULT || e == MMI_EHWPOISON ? MMAPIO_E_FAULT
                                                 : MMAPIO_E_IO;
  return mmi_fail(code, e, "madvise",
                  "%s: MADV_POPULATE_READ of %zu bytes at %p failed", fn, s.len,
                  (void *)s.start);
}

/*
 * Populates s, mapped by huge pages as far as the probe saw. Returns 0,
 * 1 when populate is missing (the caller loops instead; kernels that
 * have the probe, 6.7+, have populate, 5.14+, so this is rare enough not
 * to be remembered), or an error. *slow is set when the call was too
 * slow for a range of huge pages.
 */
static int populate(const char *fn, mmi_span s, bool *slow) {
  uint64_t t0 = mmi_ticks();
  if (mmi_memsys.populate(s.start, s.len) != 0) {
    int e = errno;
    if (e == EINVAL || e == ENOSYS)
      return 1;
    return fail_populate(fn, e, s);
  }
  uint64_t took = mmi_ticks() - t0;
  uint64_t mib = (uint64_t)(s.len >> 20) + 1;
  *slow = took > mib * MMI_HUGE_US_PER_MIB * mmi_ticks_per_us();
  return 0;
}

/*
 * With the fault guard on, a page past the end of a truncated file must
 * give FAULT, not SIGBUS: MADV_POPULATE_READ reports such a page as
 * EFAULT without a signal. Without it (kernels before 5.14), one guarded
 * byte per page.
 */
static int touch_guarded(const char *fn, const mmapio_map *m, mmi_span s,
                         size_t page) {
  bool slow;
  int rc = populate(fn, s, &slow);
  if (rc != 1)
    return rc;
  const unsigned char *base = mmapio_base(m);
  for (size_t i = 0; i < s.len; i += page) {
    unsigned char byte;
    rc = mmi_guarded_copy(fn, &byte, s.start + i, 1, s.start + i,
                          (uint64_t)(s.start + i - base));
    if (rc != 0)
      return rc;
  }
  return 0;
}

int mmi_touch_span(const char *fn, const mmapio_map *m, mmi_span s) {
  size_t page = mmi_page();
  if (s.len == 0)
    return 0;
  if (MMI_UNLIKELY(atomic_load_explicit(&((mmapio_map *)m)->guarded,
                                        memory_order_relaxed)))
    return touch_guarded(fn, m, s, page);
  size_t pmd = mmi_pmd_size();
  uintptr_t lo = (uintptr_t)s.start;
  uintptr_t first = (lo + pmd - 1) & ~(uintptr_t)(pmd - 1);
  /* No whole huge page fits in the range: the loop is the faster way. */
  if (first < lo || first + pmd > lo + s.len || first + pmd < first) {
    touch_loop(s.start, s.len, page);
    return 0;
  }

  uint64_t h = mix((uint64_t)(uintptr_t)m ^ mix((uint64_t)lo ^ mix(s.len)));
  uint64_t tag = h & MMI_SLOT_TAG;
  if (tag == 0)
    tag = 0x100;
  _Atomic uint64_t *slot = &touch_cache[h % MMI_TOUCH_SLOTS];
  uint64_t v = atomic_load_explicit(slot, memory_order_relaxed);
  int kind;
  if ((v & MMI_SLOT_TAG) == tag && (v & MMI_SLOT_HUGE)) {
    kind = MMI_PROBE_HUGE;
  } else if ((v & MMI_SLOT_TAG) == tag &&
             (v & MMI_SLOT_COUNT) + 1 < MMI_SMALL_RECHECK) {
    atomic_store_explicit(slot, v + 1, memory_order_relaxed);
    kind = MMI_PROBE_SMALL;
  } else {
    kind = mmi_memsys.probe((const void *)first);
    if (kind == MMI_PROBE_HUGE)
      atomic_store_explicit(slot, tag | MMI_SLOT_HUGE, memory_order_relaxed);
    else if (kind == MMI_PROBE_SMALL)
      atomic_store_explicit(slot, tag, memory_order_relaxed);
    /* Not resident: the loop faults it in; probe again next time. */
  }

  if (kind == MMI_PROBE_HUGE) {
    bool slow = false;
    int rc = populate(fn, s, &slow);
    if (rc <= 0) {
      if (rc == 0 && slow) {
        /* Part of the range was not resident, or not huge. If the last
         * huge page's worth is mapped small, say "small" for a while. */
        uintptr_t last = (lo + s.len - pmd) & ~(uintptr_t)(pmd - 1);
        uint64_t now = mmi_memsys.probe((const void *)last) == MMI_PROBE_HUGE
                           ? (tag | MMI_SLOT_HUGE)
                           : tag;
        atomic_store_explicit(slot, now, memory_order_relaxed);
      }
      return rc;
    }
  }
  touch_loop(s.start, s.len, page);
  return 0;
}

int mmapio_touch_pages_range(mmapio_map *m, uint64_t off, uint64_t len) {
  static const char fn[] = "mmapio_touch_pages_range";
  mmi_span s;
  int rc = mmi_span_of(m, fn, off, len, &s);
  return rc != 0 ? rc : mmi_touch_span(fn, m, s);
}

int mmapio_touch_pages(mmapio_map *m) {
  static const char fn[] = "mmapio_touch_pages";
  mmi_span s;
  int rc = mmi_span_of(m, fn, 0, mmapio_len(m), &s);
  return rc != 0 ? rc : mmi_touch_span(fn, m, s);
}

int mmapio_resident(const mmapio_map *m, uint64_t off, uint64_t len,
                    mmapio_residency *out) {
  static const char fn[] = "mmapio_resident";
  if (out == NULL)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL, "%s: out is NULL", fn);
  mmi_span s;
  int rc = mmi_span_of(m, fn, off, len, &s);
  if (rc != 0)
    return rc;
  size_t page = mmi_page();
  uint64_t resident = 0;
  unsigned char vec[1024];
  for (size_t done = 0; done < s.len;) {
    size_t chunk = s.len - done;
    if (chunk > sizeof vec * page)
      chunk = sizeof vec * page;
    if (mmi_memsys.mincore(s.start + done, chunk, vec) != 0)
      return mmi_fail(MMAPIO_E_IO, errno, "mincore",
                      "%s: mincore of %zu bytes at offset %zu failed", fn,
                      chunk, done);
    for (size_t i = 0; i < chunk / page; i++)
      resident += vec[i] & 1u;
    done += chunk;
  }
  out->pages = s.len / page;
  out->resident_pages = resident;
  return 0;
}
