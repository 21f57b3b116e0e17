/*
 * Huge pages: the open-time tiers of MMAPIO_OPT_HUGEPAGES after the
 * hugetlb one (which anon.c chooses), whether a mapping is huge-page
 * backed (/proc/self/smaps), and why not. The kernel's settings are read
 * from /sys/kernel/mm/transparent_hugepage and /proc/meminfo; where those
 * files do not exist every answer degrades to "unknown" or "no".
 */
#include "memory.h"
#include "platform_memory.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MMI_THP_DIR "/sys/kernel/mm/transparent_hugepage"

/* ------------------------------------------------------------------ */
/* Reading the kernel's settings                                       */
/* ------------------------------------------------------------------ */

/* The first line of path (without its newline) in buf; false if the
 * file cannot be read. */
static bool read_line(const char *path, char *buf, size_t n) {
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return false;
  bool ok = fgets(buf, (int)n, f) != NULL;
  fclose(f);
  if (ok)
    buf[strcspn(buf, "\n")] = '\0';
  return ok;
}

/* The selected word of a sysfs mode file ("always [madvise] never" ->
 * "madvise") in out; "" when the file cannot be read. */
static void sysfs_mode(const char *path, char *out, size_t n) {
  char line[256];
  out[0] = '\0';
  if (!read_line(path, line, sizeof line))
    return;
  char *open = strchr(line, '[');
  char *close = open != NULL ? strchr(open, ']') : NULL;
  if (close == NULL)
    return;
  size_t len = (size_t)(close - open - 1);
  if (len >= n)
    len = n - 1;
  memcpy(out, open + 1, len);
  out[len] = '\0';
}

/* The THP mode that applies to PMD-size pages: the per-size file when it
 * exists and does not say "inherit", else the global one. */
static void thp_mode(const char *file, char *out, size_t n) {
  char path[128], per_size[32];
  snprintf(path, sizeof path, MMI_THP_DIR "/hugepages-%zukB/%s",
           mmi_pmd_size() / 1024, file);
  sysfs_mode(path, per_size, sizeof per_size);
  if (per_size[0] != '\0' && strcmp(per_size, "inherit") != 0) {
    snprintf(out, n, "%s", per_size);
    return;
  }
  snprintf(path, sizeof path, MMI_THP_DIR "/%s", file);
  sysfs_mode(path, out, n);
}

static _Atomic size_t pmd_cache;

size_t mmi_pmd_size(void) {
  size_t v = atomic_load_explicit(&pmd_cache, memory_order_relaxed);
  if (MMI_LIKELY(v != 0))
    return v;
  char line[64];
  unsigned long long bytes = 0;
  if (read_line(MMI_THP_DIR "/hpage_pmd_size", line, sizeof line))
    bytes = strtoull(line, NULL, 10);
  /* Only a power of two of at least a page is usable as an alignment. */
  v = bytes >= mmi_page() && (bytes & (bytes - 1)) == 0 ? (size_t)bytes
                                                        : (size_t)2 << 20;
  atomic_store_explicit(&pmd_cache, v, memory_order_relaxed);
  return v;
}

typedef struct hugetlb_pool {
  uint64_t page_size; /* default hugetlb page size in bytes, 0 if none */
  uint64_t total, free, reserved;
} hugetlb_pool;

static void read_pool(hugetlb_pool *p) {
  memset(p, 0, sizeof *p);
  FILE *f = fopen("/proc/meminfo", "r");
  if (f == NULL)
    return;
  char line[128];
  unsigned long long v;
  while (fgets(line, sizeof line, f) != NULL) {
    if (sscanf(line, "Hugepagesize: %llu kB", &v) == 1)
      p->page_size = (uint64_t)v * 1024;
    else if (sscanf(line, "HugePages_Total: %llu", &v) == 1)
      p->total = v;
    else if (sscanf(line, "HugePages_Free: %llu", &v) == 1)
      p->free = v;
    else if (sscanf(line, "HugePages_Rsvd: %llu", &v) == 1)
      p->reserved = v;
  }
  fclose(f);
}

static bool pool_fits(const hugetlb_pool *p, uint64_t size) {
  if (p->page_size == 0 || size % p->page_size != 0 || p->free < p->reserved)
    return false;
  return size / p->page_size <= p->free - p->reserved;
}

size_t mmi_hugetlb_fit(uint64_t size) {
  hugetlb_pool p;
  read_pool(&p);
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
  if (mapped == 0 || mmi_fd_is_hugetlb(m->fd))
    return; /* hugetlb pages are huge already */
  (void)mmi_thp_advise(b, mapped);
  if (!m->anonymous)
    return;
  /* A memory file (shmem) gets huge pages at fault time only when its
   * THP mode allows; under "never" MADV_COLLAPSE still can, but only over
   * resident pages. So fault in one page per huge page (the region is new
   * and zero-filled: storing a zero changes nothing anyone can see) and
   * collapse. "deny" forbids even that. */
  char mode[32];
  thp_mode("shmem_enabled", mode, sizeof mode);
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
  (void)mmi_thp_collapse(first, n);
}

void mmi_hugepage_collapse(mmapio_map *m) {
  /* The kernel refuses to collapse a file that is open for writing; RW
   * handles would only pay for the refusal. Anonymous regions were
   * handled by mmi_hugepage_prepare. */
  if (m->mode == MMAPIO_MODE_RW || m->anonymous)
    return;
  uint64_t len;
  unsigned char *b = mmi_snapshot(m, &len);
  unsigned char *first;
  size_t n;
  aligned_blocks(b, (size_t)mmi_round_page(len), &first, &n);
  if (n > 0)
    (void)mmi_thp_collapse(first, n);
}

/* ------------------------------------------------------------------ */
/* /proc/self/smaps                                                    */
/* ------------------------------------------------------------------ */

typedef struct smaps_sum {
  bool readable;    /* smaps could be read */
  uint64_t rss_kb;  /* Rss + hugetlb pages of the areas */
  uint64_t huge_kb; /* the five huge-page counters */
  bool hugetlb;     /* an area is hugetlb (VmFlags ht) */
  bool advised;     /* an area has MADV_HUGEPAGE (hg) */
  bool not_advised; /* an area lacks it */
  bool nohuge;      /* an area has MADV_NOHUGEPAGE (nh) */
} smaps_sum;

static bool field(const char *line, const char *name, uint64_t *kb) {
  size_t n = strlen(name);
  if (strncmp(line, name, n) != 0 || line[n] != ':')
    return false;
  *kb = strtoull(line + n + 1, NULL, 10);
  return true;
}

static bool has_flag(const char *flags, const char *flag) {
  for (const char *p = flags; *p != '\0';) {
    while (*p == ' ')
      p++;
    size_t n = strcspn(p, " \n");
    if (n == strlen(flag) && strncmp(p, flag, n) == 0)
      return true;
    p += n;
    if (*p == '\n')
      break;
  }
  return false;
}

/* Sums the counters of every memory area that overlaps [lo, hi). The
 * library's mapping is surrounded by its own reservation (PROT_NONE, no
 * pages), so those areas are exactly the mapping's. */
static void smaps_scan(uintptr_t lo, uintptr_t hi, smaps_sum *s) {
  memset(s, 0, sizeof *s);
  const char *path = mmi_smaps_path();
  FILE *f = path != NULL ? fopen(path, "r") : NULL;
  if (f == NULL)
    return;
  s->readable = true;
  char line[512];
  bool line_start = true, in = false;
  while (fgets(line, sizeof line, f) != NULL) {
    size_t n = strlen(line);
    bool whole = line_start;
    line_start = n > 0 && line[n - 1] == '\n';
    if (!whole)
      continue; /* the rest of a long line (a long path) */
    unsigned long long a, b;
    if (isxdigit((unsigned char)line[0]) &&
        sscanf(line, "%llx-%llx ", &a, &b) == 2) {
      in = lo < hi && (uintptr_t)a < hi && lo < (uintptr_t)b;
      continue;
    }
    if (!in)
      continue;
    uint64_t kb;
    if (field(line, "Rss", &kb))
      s->rss_kb += kb;
    else if (field(line, "AnonHugePages", &kb) ||
             field(line, "ShmemPmdMapped", &kb) ||
             field(line, "FilePmdMapped", &kb))
      s->huge_kb += kb;
    else if (field(line, "Private_Hugetlb", &kb) ||
             field(line, "Shared_Hugetlb", &kb)) {
      s->huge_kb += kb;
      s->rss_kb += kb;
    } else if (strncmp(line, "VmFlags:", 8) == 0) {
      s->hugetlb |= has_flag(line + 8, "ht");
      bool hg = has_flag(line + 8, "hg");
      s->advised |= hg;
      s->not_advised |= !hg;
      s->nohuge |= has_flag(line + 8, "nh");
    }
  }
  fclose(f);
}

static mmapio_hugepage_state state_of(const smaps_sum *s) {
  if (!s->readable)
    return MMAPIO_HUGEPAGE_UNKNOWN;
  return s->hugetlb || s->huge_kb > 0 ? MMAPIO_HUGEPAGE_YES
                                      : MMAPIO_HUGEPAGE_NO;
}

static void scan_map(const mmapio_map *m, smaps_sum *s, unsigned char **base,
                     uint64_t *len) {
  *base = mmi_snapshot(m, len);
  uintptr_t lo = (uintptr_t)*base;
  smaps_scan(lo, lo + (uintptr_t)mmi_round_page(*len), s);
}

int mmapio_is_hugepage_backed(const mmapio_map *m, mmapio_hugepage_state *out) {
  if (m == NULL || out == NULL)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "mmapio_is_hugepage_backed: m and out must not be NULL");
  smaps_sum s;
  unsigned char *base;
  uint64_t len;
  scan_map(m, &s, &base, &len);
  *out = state_of(&s);
  return 0;
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
  if (m == NULL || out == NULL)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "mmapio_hugepage_diagnose: m and out must not be NULL");
  smaps_sum s;
  unsigned char *base;
  uint64_t len;
  scan_map(m, &s, &base, &len);

  mmapio_hugepage_report r;
  memset(&r, 0, sizeof r);
  r.state = state_of(&s);
  r.huge_bytes = s.huge_kb * 1024;
  r.resident_bytes = s.rss_kb * 1024;
  text t = {r.detail, sizeof r.detail, 0};

  unsigned long magic = 0;
  const char *fs = "unknown";
  (void)mmi_fd_fs(m->fd, &magic, &fs);
  enum kind kind = s.hugetlb || strcmp(fs, "hugetlbfs") == 0  ? KIND_HUGETLB
                   : m->anonymous || strcmp(fs, "tmpfs") == 0 ? KIND_SHMEM
                                                              : KIND_FILE;
  char anon_mode[32], shmem_mode[32];
  thp_mode("enabled", anon_mode, sizeof anon_mode);
  thp_mode("shmem_enabled", shmem_mode, sizeof shmem_mode);
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
               (s.readable && s.rss_kb > 0 && s.huge_kb >= s.rss_kb);
  if (!whole) {
    unsigned why = 0;
    if (!mmi_thp_built() || anon_mode[0] == '\0')
      why |= MMAPIO_HUGEPAGE_WHY_UNSUPPORTED;
    if (kind == KIND_SHMEM &&
        (strcmp(shmem_mode, "never") == 0 || strcmp(shmem_mode, "deny") == 0))
      why |= MMAPIO_HUGEPAGE_WHY_THP_DISABLED;
    if (m->mode == MMAPIO_MODE_COW &&
        (strcmp(anon_mode, "never") == 0 || strcmp(anon_mode, "deny") == 0))
      why |= MMAPIO_HUGEPAGE_WHY_THP_DISABLED;
    if (s.not_advised &&
        ((kind == KIND_SHMEM && strcmp(shmem_mode, "advise") == 0) ||
         kind == KIND_FILE))
      why |= MMAPIO_HUGEPAGE_WHY_NOT_ADVISED;
    if (blocks == 0)
      why |= MMAPIO_HUGEPAGE_WHY_MISALIGNED;
    if (s.readable && s.rss_kb == 0)
      why |= MMAPIO_HUGEPAGE_WHY_NOT_RESIDENT;
    if (kind == KIND_FILE && m->mode != MMAPIO_MODE_COW && s.rss_kb > 0 &&
        blocks > 0)
      why |= MMAPIO_HUGEPAGE_WHY_FILE_TYPE;
    if (m->mode == MMAPIO_MODE_COW)
      why |= MMAPIO_HUGEPAGE_WHY_PRIVATE_COPY;
    hugetlb_pool pool;
    read_pool(&pool);
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
