/*
 * Huge pages: the open-time tiers of MMAPIO_OPT_HUGEPAGES after the
 * hugetlb one (which anon.c chooses), whether a mapping is huge-page
 * backed, and why not. What the kernel says (its THP modes, the hugetlb
 * pool, what backs each memory area) comes from the platform layer
 * (os.h); where the system does not say, every answer degrades to
 * "unknown" or "no".
 */
#include "memory.h"
#include "os.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

_Atomic size_t mmi_pmd_cache;

size_t mmi_pmd_ask(void) {
  size_t v;
  size_t bytes = mmi_os_pmd_size();
  /* Only a power of two of at least a page is usable as an alignment;
   * where the system does not say, x86-64's 2 MiB. */
  v = bytes >= mmi_page() && (bytes & (bytes - 1)) == 0 ? bytes
                                                        : (size_t)2 << 20;
  atomic_store_explicit(&mmi_pmd_cache, v, memory_order_relaxed);
  return v;
}

static bool pool_fits(const mmi_hugetlb_pool *p, uint64_t size) {
  if (p->page_size == 0 || size % p->page_size != 0 || p->free < p->reserved)
    return false;
  return size / p->page_size <= p->free - p->reserved;
}

size_t mmi_hugetlb_fit(uint64_t size) {
  mmi_hugetlb_pool p;
  mmi_os_hugetlb_pool(&p);
  return pool_fits(&p, size) ? (size_t)p.page_size : 0;
}

/* ------------------------------------------------------------------ */
/* Open-time tiers                                                     */
/* ------------------------------------------------------------------ */

/* The 2 MiB-aligned blocks inside [b, b+len): [*first, *first + *n). */
static void aligned_blocks(const unsigned char *b, size_t len,
                           unsigned char **first, size_t *n) {
  size_t pmd = mmi_pmd_size();
  uintptr_t lo = (uintptr_t)b;
  uintptr_t a = (lo + pmd - 1) & ~(uintptr_t)(pmd - 1);
  uintptr_t end = (lo + len) & ~(uintptr_t)(pmd - 1);
  *first = (unsigned char *)a;
  *n = a >= lo && end > a ? (size_t)(end - a) : 0;
}

void mmi_hugepage_prepare(mmapio_map *m) {
  uint64_t len;
  unsigned char *b = mmi_snapshot(m, &len);
  size_t mapped = (size_t)mmi_round_page(len);
  if (mapped == 0 || strcmp(mmi_os_file_system(m->fd), "hugetlbfs") == 0)
    return; /* hugetlb pages are huge already */
  (void)mmi_os_thp_advise(b, mapped);
  if (!m->anonymous)
    return;
  /* A memory file (shmem) gets huge pages at fault time only when its
   * THP mode allows; under "never" MADV_COLLAPSE still can, but only over
   * resident pages. So fault in one page per huge page (the region is new
   * and zero-filled: storing a zero changes nothing anyone can see) and
   * collapse. "deny" forbids even that. */
  char mode[32];
  mmi_os_thp_mode(MMI_THP_SHMEM, mode, sizeof mode);
  if (strcmp(mode, "never") != 0)
    return;
  unsigned char *first;
  size_t n;
  aligned_blocks(b, mapped, &first, &n);
  if (n == 0)
    return;
  size_t pmd = mmi_pmd_size();
  for (size_t off = 0; off < n; off += pmd)
    *(volatile unsigned char *)(first + off) = 0;
  (void)mmi_os_thp_collapse(first, n);
}

void mmi_hugepage_collapse(mmapio_map *m) {
  /* The kernel refuses to collapse a file that is open for writing; RW
   * handles would only pay for the refusal. Anonymous regions were
   * handled by mmi_hugepage_prepare. */
  if (mmi_mode(m) == MMAPIO_MODE_RW || m->anonymous)
    return;
  uint64_t len;
  unsigned char *b = mmi_snapshot(m, &len);
  unsigned char *first;
  size_t n;
  aligned_blocks(b, (size_t)mmi_round_page(len), &first, &n);
  if (n > 0)
    (void)mmi_os_thp_collapse(first, n);
}

/* ------------------------------------------------------------------ */
/* Huge-page backing                                                   */
/* ------------------------------------------------------------------ */

static mmapio_hugepage_state state_of(const mmi_huge_usage *s) {
  if (!s->known)
    return MMAPIO_HUGEPAGE_UNKNOWN;
  return s->hugetlb || s->huge_kb > 0 ? MMAPIO_HUGEPAGE_YES
                                      : MMAPIO_HUGEPAGE_NO;
}

/* Checks fn's arguments and finds what backs m's mapping. The library's
 * mapping is surrounded by its own reservation (no pages), so the memory
 * areas that overlap it are exactly the mapping's. */
static int scan_map(const char *fn, const mmapio_map *m, const void *out,
                    mmi_huge_usage *s, unsigned char **base, uint64_t *len) {
  if (m == NULL || out == NULL)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "%s: m and out must not be NULL", fn);
  *base = mmi_snapshot(m, len);
  uintptr_t lo = (uintptr_t)*base;
  mmi_os_huge_usage(lo, lo + (uintptr_t)mmi_round_page(*len), s);
  return 0;
}

int mmapio_is_hugepage_backed(const mmapio_map *m, mmapio_hugepage_state *out) {
  mmi_huge_usage s;
  unsigned char *base;
  uint64_t len;
  int rc = scan_map("mmapio_is_hugepage_backed", m, out, &s, &base, &len);
  if (rc == 0)
    *out = state_of(&s);
  return rc;
}

/* ------------------------------------------------------------------ */
/* The diagnosis                                                       */
/* ------------------------------------------------------------------ */

typedef struct text {
  char *buf;
  size_t cap, len;
} text;

static void say(text *t, const char *fmt, ...) MMI_PRINTF(2, 3);
static void say(text *t, const char *fmt, ...) {
  if (t->len + 1 >= t->cap)
    return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
  va_end(ap);
  if (n > 0)
    t->len = t->len + (size_t)n < t->cap ? t->len + (size_t)n : t->cap - 1;
}

/* What kind of memory backs m, for the THP rules. */
enum kind { KIND_SHMEM, KIND_HUGETLB, KIND_FILE };

int mmapio_hugepage_diagnose(const mmapio_map *m, mmapio_hugepage_report *out) {
  mmi_huge_usage s;
  unsigned char *base = NULL;
  uint64_t len = 0;
  int rc = scan_map("mmapio_hugepage_diagnose", m, out, &s, &base, &len);
  if (rc != 0)
    return rc;

  mmapio_hugepage_report r;
  memset(&r, 0, sizeof r);
  r.state = state_of(&s);
  r.huge_bytes = s.huge_kb * 1024;
  r.resident_bytes = s.rss_kb * 1024;
  text t = {r.detail, sizeof r.detail, 0};

  const char *fs = mmi_os_file_system(m->fd);
  enum kind kind = s.hugetlb || strcmp(fs, "hugetlbfs") == 0  ? KIND_HUGETLB
                   : m->anonymous || strcmp(fs, "tmpfs") == 0 ? KIND_SHMEM
                                                              : KIND_FILE;
  char anon_mode[32], shmem_mode[32];
  mmi_os_thp_mode(MMI_THP_ANON, anon_mode, sizeof anon_mode);
  mmi_os_thp_mode(MMI_THP_SHMEM, shmem_mode, sizeof shmem_mode);
  size_t pmd = mmi_pmd_size();
  unsigned char *first;
  size_t blocks;
  aligned_blocks(base, (size_t)mmi_round_page(len), &first, &blocks);

  say(&t, "%s: %llu of %llu resident kB in huge pages; ",
      r.state == MMAPIO_HUGEPAGE_YES  ? "huge pages"
      : r.state == MMAPIO_HUGEPAGE_NO ? "no huge pages"
                                      : "unknown (smaps unreadable)",
      (unsigned long long)s.huge_kb, (unsigned long long)s.rss_kb);
  say(&t, "%s on %s; base %p %s 2 MiB-aligned, %llu bytes; ",
      m->anonymous ? "memory file" : "file", fs, (void *)base,
      ((uintptr_t)base & (pmd - 1)) == 0 ? "is" : "not",
      (unsigned long long)len);
  say(&t, "THP enabled [%s] shmem_enabled [%s]", anon_mode[0] ? anon_mode : "?",
      shmem_mode[0] ? shmem_mode : "?");

  /* Reasons are given when something is not huge. */
  bool whole = kind == KIND_HUGETLB ||
               (s.known && s.rss_kb > 0 && s.huge_kb >= s.rss_kb);
  if (!whole) {
    unsigned why = 0;
    if (!mmi_os_has_thp() || anon_mode[0] == '\0')
      why |= MMAPIO_HUGEPAGE_WHY_UNSUPPORTED;
    if (kind == KIND_SHMEM &&
        (strcmp(shmem_mode, "never") == 0 || strcmp(shmem_mode, "deny") == 0))
      why |= MMAPIO_HUGEPAGE_WHY_THP_DISABLED;
    if (mmi_mode(m) == MMAPIO_MODE_COW &&
        (strcmp(anon_mode, "never") == 0 || strcmp(anon_mode, "deny") == 0))
      why |= MMAPIO_HUGEPAGE_WHY_THP_DISABLED;
    if (s.not_advised &&
        ((kind == KIND_SHMEM && strcmp(shmem_mode, "advise") == 0) ||
         kind == KIND_FILE))
      why |= MMAPIO_HUGEPAGE_WHY_NOT_ADVISED;
    if (blocks == 0)
      why |= MMAPIO_HUGEPAGE_WHY_MISALIGNED;
    if (s.known && s.rss_kb == 0)
      why |= MMAPIO_HUGEPAGE_WHY_NOT_RESIDENT;
    if (kind == KIND_FILE && mmi_mode(m) != MMAPIO_MODE_COW && s.rss_kb > 0 &&
        blocks > 0)
      why |= MMAPIO_HUGEPAGE_WHY_FILE_TYPE;
    if (mmi_mode(m) == MMAPIO_MODE_COW)
      why |= MMAPIO_HUGEPAGE_WHY_PRIVATE_COPY;
    mmi_hugetlb_pool pool;
    mmi_os_hugetlb_pool(&pool);
    if (m->anonymous && (m->opt_flags & MMAPIO_OPT_HUGEPAGES) &&
        !pool_fits(&pool, len))
      why |= MMAPIO_HUGEPAGE_WHY_POOL_EMPTY;
    r.reasons = why;

    if (why & MMAPIO_HUGEPAGE_WHY_UNSUPPORTED)
      say(&t, "; no transparent huge pages in this kernel or build");
    if (why & MMAPIO_HUGEPAGE_WHY_THP_DISABLED)
      say(&t, "; THP is disabled for this memory");
    if (why & MMAPIO_HUGEPAGE_WHY_NOT_ADVISED)
      say(&t, "; not advised (MMAPIO_OPT_HUGEPAGES)%s",
          s.nohuge ? ", MADV_NOHUGEPAGE set" : "");
    if (why & MMAPIO_HUGEPAGE_WHY_MISALIGNED)
      say(&t, "; no 2 MiB-aligned 2 MiB block inside the mapping");
    if (why & MMAPIO_HUGEPAGE_WHY_NOT_RESIDENT)
      say(&t, "; nothing resident yet (THP comes with faults)");
    if (why & MMAPIO_HUGEPAGE_WHY_FILE_TYPE)
      say(&t, "; %s gave no PMD-size page-cache folios here", fs);
    if (why & MMAPIO_HUGEPAGE_WHY_PRIVATE_COPY)
      say(&t, "; COW copies are small pages");
    if (why & MMAPIO_HUGEPAGE_WHY_POOL_EMPTY)
      say(&t, "; hugetlb pool: %llu free, %llu reserved of %llu pages",
          (unsigned long long)pool.free, (unsigned long long)pool.reserved,
          (unsigned long long)pool.total);
  }
  *out = r;
  return 0;
}
