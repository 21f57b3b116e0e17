/*
 * Linux: what the kernel says in /sys and /proc about huge pages: the
 * PMD size and the transparent-huge-page modes
 * (/sys/kernel/mm/transparent_hugepage), the hugetlb pool (/proc/meminfo)
 * and what backs this process's memory areas (/proc/self/smaps). Where
 * a file cannot be read, the answer is "the system does not say".
 */
#include "unix.h"

#include <ctype.h>
#include <string.h>

#define MMI_THP_DIR "/sys/kernel/mm/transparent_hugepage"

/* The first line of path (without its newline) in buf; false if the
 * file cannot be read. */
static bool read_line(const char *path, char *buf, size_t n) {
  FILE *f = mmi_sys.fopen(path, "r");
  if (f == NULL)
    return false;
  bool ok = fgets(buf, (int)n, f) != NULL;
  fclose(f);
  if (ok)
    buf[strcspn(buf, "\n")] = '\0';
  return ok;
}

size_t mmi_os_pmd_size(void) {
  char line[64];
  if (!read_line(MMI_THP_DIR "/hpage_pmd_size", line, sizeof line))
    return 0;
  unsigned long long bytes = strtoull(line, NULL, 10);
  return bytes <= SIZE_MAX ? (size_t)bytes : 0;
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

/* The mode that applies to PMD-size pages: the per-size file when it
 * exists and does not say "inherit", else the global one. */
void mmi_os_thp_mode(mmi_thp_memory memory, char *out, size_t n) {
  const char *file = memory == MMI_THP_SHMEM ? "shmem_enabled" : "enabled";
  size_t pmd = mmi_os_pmd_size();
  char path[128], per_size[32];
  snprintf(path, sizeof path, MMI_THP_DIR "/hugepages-%zukB/%s",
           (pmd != 0 ? pmd : (size_t)2 << 20) / 1024, file);
  sysfs_mode(path, per_size, sizeof per_size);
  if (per_size[0] != '\0' && strcmp(per_size, "inherit") != 0) {
    snprintf(out, n, "%s", per_size);
    return;
  }
  snprintf(path, sizeof path, MMI_THP_DIR "/%s", file);
  sysfs_mode(path, out, n);
}

void mmi_os_hugetlb_pool(mmi_hugetlb_pool *p) {
  memset(p, 0, sizeof *p);
  FILE *f = mmi_sys.fopen("/proc/meminfo", "r");
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

/* ---- /proc/self/smaps --------------------------------------------- */

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

/* Adds what one line inside a counted area says to s. */
static void count_line(const char *line, mmi_huge_usage *s) {
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

void mmi_os_huge_usage(uintptr_t lo, uintptr_t hi, mmi_huge_usage *s) {
  memset(s, 0, sizeof *s);
  FILE *f = mmi_sys.fopen("/proc/self/smaps", "r");
  if (f == NULL)
    return;
  s->known = true;
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
    if (in)
      count_line(line, s);
  }
  fclose(f);
}
