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
 * reserved pages maps the file there again. Nothing is unmapped before
 * close.
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
  if (mmi_os_map_none(at, len) != 0)
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

/* The accessible end for a file of `need` bytes in r: whole huge pages,
 * so that growing costs an mprotect once per huge page at most. */
static size_t open_end_for(const mmi_region *r, size_t need) {
  if (need >= r->mapped - r->mapped % MMI_HUGE_ALIGN)
    return r->mapped;
  return (need + MMI_HUGE_ALIGN - 1) & ~(MMI_HUGE_ALIGN - 1);
}

int mmi_region_create(mmi_region *r, const mmapio_map *m, size_t mapped,
                      size_t reserve) {
  unsigned char *base = NULL;
  /* A whole number of huge pages, so that the kernel can align it; the
   * file's mapping may end past the file (see above). */
  reserve = mmi_round_huge(reserve);
  bool one_call =
      mapped > 0 && (reserve < MMI_HUGE_ALIGN || mmi_os_kernel_aligns(reserve));
  if (one_call) {
    /* One system call, when the kernel places the mapping on a huge-page
     * boundary (or it is too small to care). */
    int rc = map_file_at(NULL, m, 0, reserve, &base);
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
      int rc = map_file(base, m, 0, reserve);
      if (rc != 0) {
        mmi_os_unmap(base, reserve);
        return rc;
      }
    }
  }
  r->base = base;
  r->reserve = reserve;
  r->mapped = r->zeros_end = r->open_end = mapped > 0 ? reserve : 0;
  int rc = protect(r, m, open_end_for(r, mapped), false);
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
    return protect(r, m, open_end_for(r, upto), true);
  /* Past the file's mapping: map it again from the accessible end, over
   * its PROT_NONE part, the zeros of a shrink and the reservation. */
  size_t from = r->open_end;
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
  if (r->mapped == r->reserve && had < r->reserve) {
    /* The first shrink: the file's mapping past the old length goes, so
     * that truncating the file (this shrink's, and every later one's)
     * does not have to walk it. Nothing can point there. */
    int rc = map_none(r->base + had, r->reserve - had);
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
  if (r->base != NULL)
    mmi_os_unmap(r->base, r->reserve);
  r->base = NULL;
  r->reserve = r->mapped = r->open_end = r->zeros_end = 0;
}
