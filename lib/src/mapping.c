/*
 * Address-space mechanics. A region is a PROT_NONE reservation whose
 * first `mapped` bytes map the file at the same offsets (a region with no
 * room to grow is just the file's mapping). Growing maps
 * more of the file into the reservation; shrinking replaces the cut
 * pages with private zero memory ("quarantine"), so a stale pointer
 * reads zeros instead of faulting on a page past the end of the file or
 * aliasing some later mapping. Nothing is unmapped before close.
 */
#include "internal.h"
#include "platform.h"
#include "sys.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

static _Atomic size_t page_cache;

size_t mmi_page(void) {
  size_t p = atomic_load_explicit(&page_cache, memory_order_relaxed);
  if (MMI_UNLIKELY(p == 0)) {
    long v = sysconf(_SC_PAGESIZE);
    p = v > 0 ? (size_t)v : 4096;
    atomic_store_explicit(&page_cache, p, memory_order_relaxed);
  }
  return p;
}

uint64_t mmi_round_page(uint64_t v) {
  uint64_t p = mmi_page();
  return (v + p - 1) & ~(p - 1);
}

int mmi_prot(mmapio_mode mode) {
  return mode == MMAPIO_MODE_RO ? PROT_READ : PROT_READ | PROT_WRITE;
}

static int share_flag(const mmapio_map *m) {
  return m->mode == MMAPIO_MODE_COW ? MAP_PRIVATE : MAP_SHARED;
}

/* Maps file bytes [from, upto) at `at + from`, or anywhere when at is
 * NULL (then from is 0); the address in *out. */
static int map_file_at(unsigned char *at, const mmapio_map *m, size_t from,
                       size_t upto, unsigned char **out) {
  /* A private writable mapping would otherwise be charged in full against
   * the commit limit: a COW view of a 1 TiB sparse file must open, and
   * only the pages it writes take memory. */
  int noreserve = m->mode == MMAPIO_MODE_COW ? mmi_map_noreserve() : 0;
  int fixed = at != NULL ? MAP_FIXED : 0;
  mmi_remap_begin();
  void *p = mmi_sys.mmap(at != NULL ? at + from : NULL, upto - from,
                         mmi_prot(m->mode), share_flag(m) | fixed | noreserve,
                         m->fd, (off_t)from);
  mmi_remap_end();
  if (p == MAP_FAILED)
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
  mmi_remap_begin();
  void *p = mmi_sys.mmap(
      at, len, PROT_READ | PROT_WRITE,
      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | mmi_map_noreserve(), -1, 0);
  mmi_remap_end();
  if (p == MAP_FAILED)
    return mmi_fail(MMAPIO_E_IO, errno, "mmap",
                    "replacing %zu bytes with private zero memory failed", len);
  return 0;
}

int mmi_region_create(mmi_region *r, const mmapio_map *m, size_t mapped,
                      size_t reserve) {
  unsigned char *base = NULL;
  if (mapped > 0 && reserve == mapped &&
      (mapped < MMI_HUGE_ALIGN || mmi_kernel_aligns(mapped))) {
    /* No room beyond the file: the file's own mapping is the whole
     * reservation, one system call, when the kernel places it on a
     * huge-page boundary (or it is too small to care). */
    int rc = map_file_at(NULL, m, 0, mapped, &base);
    if (rc != 0)
      return rc;
    if (mapped < MMI_HUGE_ALIGN || mmi_huge_aligned(base)) {
      r->base = base;
      r->mapped = r->reserve = mapped;
      return 0;
    }
    munmap(base, mapped);
  }
  /* A whole number of huge pages, so that the kernel can align it. */
  reserve = mmi_round_huge(reserve);
  base = mmi_reserve_at(NULL, reserve);
  if (base == NULL)
    return mmi_fail(MMAPIO_E_IO, errno, "mmap",
                    "reserving %zu bytes of address space failed", reserve);
  if (mapped > 0) {
    int rc = map_file(base, m, 0, mapped);
    if (rc != 0) {
      munmap(base, reserve);
      return rc;
    }
  }
  r->base = base;
  r->mapped = mapped;
  r->reserve = reserve;
  return 0;
}

int mmi_region_extend(mmi_region *r, const mmapio_map *m, size_t upto) {
  if (upto <= r->mapped)
    return 0;
  int rc = map_file(r->base, m, r->mapped, upto);
  if (rc != 0) {
    /* A failed MAP_FIXED may have dropped what was there; put back
     * memory that is safe to touch. The detail of rc is kept. */
    int saved = errno;
    map_zeros(r->base + r->mapped, upto - r->mapped);
    errno = saved;
    return rc;
  }
  r->mapped = upto;
  return 0;
}

int mmi_region_quarantine(mmi_region *r, size_t keep) {
  if (keep >= r->mapped)
    return 0;
  int rc = map_zeros(r->base + keep, r->mapped - keep);
  if (rc == 0)
    r->mapped = keep;
  return rc;
}

void mmi_region_release(mmi_region *r) {
  if (r->base != NULL)
    munmap(r->base, r->reserve);
  r->base = NULL;
  r->mapped = r->reserve = 0;
}
