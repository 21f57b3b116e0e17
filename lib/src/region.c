/*
 * Address-space mechanics. A region is a reservation of address space
 * whose first `mapped` bytes map the file at the same offsets. A new
 * region maps the file over the whole reservation at once, past its end,
 * and makes what lies beyond the file's end (rounded up to a huge page)
 * PROT_NONE: growing within the reservation is then ftruncate and, once
 * per huge page, an mprotect, with no mapping call. Those pages are not
 * left readable because a reader that walks every readable mapping (a
 * debugger, valgrind's leak check at exit, a core dump) would take a
 * SIGBUS on each page past the end of the file. Shrinking replaces the
 * cut pages with private zero memory ("quarantine"), so a stale pointer
 * reads zeros instead of faulting on a page past the end of the file or
 * aliasing some later mapping; the first shrink also gives the file's
 * mapping past the old length back to PROT_NONE, since truncating a file
 * walks every mapping of it past the new end. Growing over quarantined or
 * reserved pages maps the file there again, over reserved pages up to a
 * huge-page boundary at once. Nothing is unmapped before close.
 *
 * The spare: splitting an area of address space in two (the mprotect
 * above, or mapping into part of a reservation) and merging two back
 * cost as much as mapping, so closing a handle whose reservation has the
 * default size keeps that reservation for the next one, all PROT_NONE,
 * with its first huge page as an area of its own (the head). The next
 * one maps its file over the head, replacing it whole, with one call,
 * and finds the rest reserved; its close makes the head again. One is
 * kept per process: it costs address space, no memory and no commit
 * charge; mmapio_trim gives it back.
 */
#include "internal.h"
#include "os.h"

#include <errno.h>

_Atomic size_t mmi_page_cache;

size_t mmi_page_ask(void) {
  size_t p = mmi_os_page_size();
  atomic_store_explicit(&mmi_page_cache, p, memory_order_relaxed);
  return p;
}

/* The spare reservation (see above): MMI_GROWTH_RESERVE bytes, all
 * PROT_NONE, the first huge page of them an area of its own, or NULL.
 * Taken and given back by exchange, so two threads never share it. */
static _Atomic(unsigned char *) spare;

/* Maps file bytes [from, upto) at `at + from`, or anywhere when at is
 * NULL (then from is 0); the address in *out. */
static int map_file_at(unsigned char *at, const mmapio_map *m, size_t from,
                       size_t upto, unsigned char **out) {
  void *p = mmi_os_map_file(at != NULL ? at + from : NULL, upto - from,
                            mmi_mode(m), m->fd, from);
  if (p == NULL)
    return mmi_fail(MMAPIO_E_IO, errno, "mmap",
                    "mapping file bytes [%zu, %zu) failed", from, upto);
  *out = p;
  return 0;
}

static int map_file(unsigned char *at, const mmapio_map *m, size_t from,
                    size_t upto) {
  unsigned char *p = NULL;
  return map_file_at(at, m, from, upto, &p);
}

static int map_zeros(unsigned char *at, size_t len) {
  if (mmi_os_map_zeros(at, len) != 0)
    return mmi_fail(MMAPIO_E_IO, errno, "mmap",
                    "replacing %zu bytes with private zero memory failed", len);
  return 0;
}

/* Replaces [at, at+len) with reserved address space (PROT_NONE). */
static int map_none(unsigned char *at, size_t len) {
  if (mmi_os_map_none(at, len, false) != 0)
    return mmi_fail(MMAPIO_E_IO, errno, "mmap",
                    "releasing %zu bytes of the reservation failed", len);
  return 0;
}

/* Makes [r->open_end, upto) of the file's mapping accessible, or (open
 * false) [upto, r->open_end) not; upto <= r->mapped. */
static int protect(mmi_region *r, const mmapio_map *m, size_t upto, bool open) {
  size_t lo = open ? r->open_end : upto;
  size_t hi = open ? upto : r->open_end;
  if (hi > lo && mmi_os_protect(r->base + lo, hi - lo, mmi_mode(m), open) != 0)
    return mmi_fail(MMAPIO_E_IO, errno, "mprotect",
                    "%s file bytes [%zu, %zu) failed",
                    open ? "opening" : "closing off", lo, hi);
  r->open_end = upto;
  return 0;
}

/* Where a mapping of the file, or its accessible part, that must reach
 * `need` ends when it may end anywhere up to `limit`: the next huge-page
 * boundary (or limit), so that growing maps or opens pages once per huge
 * page at most. */
static size_t huge_end(size_t need, size_t limit) {
  if (need >= limit - limit % MMI_HUGE_ALIGN)
    return limit;
  return (need + MMI_HUGE_ALIGN - 1) & ~(MMI_HUGE_ALIGN - 1);
}

/* Whether a reservation of reserve bytes has the spare's size: the
 * default one, where there is one (not on 32-bit). */
static bool spare_sized(size_t reserve) {
  return reserve == MMI_GROWTH_RESERVE && reserve > MMI_HUGE_ALIGN;
}

/* Offers a released region, [0, used) of which holds mappings, as the
 * spare: its first huge page an area of PROT_NONE of its own (the head),
 * the rest PROT_NONE. False when it is not kept (the caller unmaps it). */
static bool keep_spare(unsigned char *base, size_t reserve, size_t used) {
  if (!spare_sized(reserve) ||
      atomic_load_explicit(&spare, memory_order_relaxed) != NULL)
    return false;
  if (used > MMI_HUGE_ALIGN &&
      mmi_os_map_none(base + MMI_HUGE_ALIGN, used - MMI_HUGE_ALIGN, false) != 0)
    return false;
  if (mmi_os_map_none(base, MMI_HUGE_ALIGN, true) != 0)
    return false;
  unsigned char *none = NULL;
  return atomic_compare_exchange_strong_explicit(
      &spare, &none, base, memory_order_release, memory_order_relaxed);
}

/* Maps the file over the spare, when there is one and reserve is its
 * size: over its head, which it replaces whole, and past it over the
 * rest. True with r set up or *rc an error (the spare is then given up),
 * false when there is no spare. */
static bool create_in_spare(mmi_region *r, const mmapio_map *m, size_t mapped,
                            size_t reserve, int *rc) {
  if (!spare_sized(reserve) || mapped == 0)
    return false;
  unsigned char *base =
      atomic_exchange_explicit(&spare, NULL, memory_order_acquire);
  if (base == NULL)
    return false;
  size_t upto = huge_end(mapped, reserve);
  *rc = map_file(base, m, 0, MMI_HUGE_ALIGN);
  if (*rc == 0 && upto > MMI_HUGE_ALIGN)
    *rc = map_file(base, m, MMI_HUGE_ALIGN, upto);
  if (*rc != 0) {
    mmi_os_unmap(base, reserve);
    return true;
  }
  r->base = base;
  r->reserve = reserve;
  r->mapped = r->zeros_end = r->open_end = upto;
  return true;
}

int mmi_region_create(mmi_region *r, const mmapio_map *m, size_t mapped,
                      size_t reserve) {
  unsigned char *base = NULL;
  /* A whole number of huge pages, so that the kernel can align it; the
   * file's mapping may end past the file (see above). */
  reserve = mmi_round_huge(reserve);
  int rc = 0;
  if (create_in_spare(r, m, mapped, reserve, &rc))
    return rc;
  bool one_call =
      mapped > 0 && (reserve < MMI_HUGE_ALIGN || mmi_os_kernel_aligns(reserve));
  if (one_call) {
    /* One system call, when the kernel places the mapping on a huge-page
     * boundary (or it is too small to care). */
    rc = map_file_at(NULL, m, 0, reserve, &base);
    if (rc != 0)
      return rc;
    one_call = reserve < MMI_HUGE_ALIGN || mmi_huge_aligned(base);
    if (!one_call)
      mmi_os_unmap(base, reserve);
  }
  if (!one_call) {
    base = mmi_os_reserve(NULL, reserve);
    if (base == NULL)
      return mmi_fail(MMAPIO_E_IO, errno, "mmap",
                      "reserving %zu bytes of address space failed", reserve);
    if (mapped > 0) {
      rc = map_file(base, m, 0, reserve);
      if (rc != 0) {
        mmi_os_unmap(base, reserve);
        return rc;
      }
    }
  }
  r->base = base;
  r->reserve = reserve;
  r->mapped = r->zeros_end = r->open_end = mapped > 0 ? reserve : 0;
  rc = protect(r, m, huge_end(mapped, r->mapped), false);
  if (rc != 0) {
    mmi_os_unmap(base, reserve);
    r->base = NULL;
  }
  return rc;
}

int mmi_region_create_fit(mmi_region *r, const mmapio_map *m, size_t mapped,
                          size_t reserve) {
  mmapio_error kept = *mmapio_last_error();
  int rc = mmi_region_create(r, m, mapped, reserve);
  if (rc == 0 || reserve <= mapped || mapped == 0)
    return rc;
  rc = mmi_region_create(r, m, mapped, mapped);
  if (rc == 0)
    mmi_error_restore(&kept);
  return rc;
}

int mmi_region_extend(mmi_region *r, const mmapio_map *m, size_t upto) {
  if (upto <= r->open_end)
    return 0;
  if (upto <= r->mapped)
    return protect(r, m, huge_end(upto, r->mapped), true);
  /* Past the file's mapping: map it again from the accessible end, over
   * its PROT_NONE part, the zeros of a shrink and the reservation; into
   * the reservation up to a huge-page boundary (zeros stay zeros past
   * the end, for stale pointers). */
  size_t from = r->open_end;
  if (upto > r->zeros_end)
    upto = huge_end(upto, r->reserve);
  int rc = map_file(r->base, m, from, upto);
  if (rc != 0) {
    /* A failed MAP_FIXED may have dropped what was there; put back
     * memory that is safe to touch. The detail of rc is kept. */
    int saved = errno;
    map_zeros(r->base + from, upto - from);
    r->mapped = from;
    if (upto > r->zeros_end)
      r->zeros_end = upto;
    errno = saved;
    return rc;
  }
  r->mapped = r->open_end = upto;
  if (upto > r->zeros_end)
    r->zeros_end = upto;
  return 0;
}

int mmi_region_quarantine(mmi_region *r, size_t keep, size_t had) {
  if (had > r->mapped)
    had = r->mapped;
  if (keep >= had)
    return 0;
  if (had < r->mapped) {
    /* The file's mapping past the old length (the first shrink's, or a
     * huge page's rest after growth) goes, so that truncating the file
     * (this shrink's, and every later one's) does not have to walk it.
     * Nothing can point there; there are no zeros past it. */
    int rc = map_none(r->base + had, r->mapped - had);
    if (rc != 0)
      return rc;
    r->mapped = r->zeros_end = had;
    if (r->open_end > had)
      r->open_end = had;
  }
  int rc = map_zeros(r->base + keep, had - keep);
  if (rc == 0) {
    r->mapped = keep;
    if (r->open_end > keep)
      r->open_end = keep;
  }
  return rc;
}

int mmi_region_widen(mmi_region *r, size_t reserve) {
  if (mmi_os_reserve(r->base + r->reserve, reserve - r->reserve) == NULL)
    return 1;
  r->reserve = reserve;
  return 0;
}

void mmi_region_release(mmi_region *r) {
  size_t used = r->mapped > r->zeros_end ? r->mapped : r->zeros_end;
  if (r->base != NULL && !keep_spare(r->base, r->reserve, used))
    mmi_os_unmap(r->base, r->reserve);
  r->base = NULL;
  r->reserve = r->mapped = r->open_end = r->zeros_end = 0;
}

void mmapio_trim(void) {
  unsigned char *base =
      atomic_exchange_explicit(&spare, NULL, memory_order_acquire);
  if (base != NULL)
    mmi_os_unmap(base, MMI_GROWTH_RESERVE);
}
