/*
 * Ask for huge pages, and find out whether you got them, and why not.
 *
 * Shows: MMAPIO_OPT_HUGEPAGES asks for huge pages best effort, in tiers
 * (hugetlb, transparent huge pages, MADV_COLLAPSE, else normal pages);
 * lacking them is never an error. mmapio_is_hugepage_backed answers yes,
 * no or unknown, and mmapio_hugepage_diagnose says why: the THP modes, the
 * alignment, the file system, the hugetlb pool.
 *
 * The verdict depends on the machine (kernel, THP settings, file system):
 * the example prints it and its reasons, and exits 0 whatever it is. It
 * fails only if the library misbehaves (an error, an answer out of range,
 * an empty diagnosis). POSIX-only builds answer "unknown" (no
 * /proc/self/smaps).
 *
 * Run: build/debug/examples/example_hugepages
 *      It maps 8 MiB of anonymous memory and an 8 MiB file in a temporary
 *      directory under $TMPDIR (or /tmp), which it removes.
 */
#define _POSIX_C_SOURCE 200809L
#include <mmapio.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define SIZE ((uint64_t)8 << 20)

static const struct {
  unsigned bit;
  const char *name;
} reasons[] = {
    {MMAPIO_HUGEPAGE_WHY_UNSUPPORTED, "unsupported"},
    {MMAPIO_HUGEPAGE_WHY_THP_DISABLED, "thp-disabled"},
    {MMAPIO_HUGEPAGE_WHY_NOT_ADVISED, "not-advised"},
    {MMAPIO_HUGEPAGE_WHY_MISALIGNED, "misaligned"},
    {MMAPIO_HUGEPAGE_WHY_NOT_RESIDENT, "not-resident"},
    {MMAPIO_HUGEPAGE_WHY_FILE_TYPE, "file-type"},
    {MMAPIO_HUGEPAGE_WHY_PRIVATE_COPY, "private-copy"},
    {MMAPIO_HUGEPAGE_WHY_POOL_EMPTY, "pool-empty"},
};

static int report(const char *what, mmapio_map *m) {
  mmapio_hugepage_state state;
  mmapio_hugepage_report r;
  int rc = mmapio_is_hugepage_backed(m, &state);
  if (rc == 0)
    rc = mmapio_hugepage_diagnose(m, &r);
  if (rc != 0) {
    fprintf(stderr, "%s: %s: %s\n", what, mmapio_error_name(rc),
            mmapio_last_error()->message);
    return 1;
  }
  static const char *verdict[] = {"NOT backed by huge pages",
                                  "backed by huge pages",
                                  "unknown whether backed by huge pages"};
  printf("%s: %s (%llu of %llu resident bytes huge)\n", what, verdict[r.state],
         (unsigned long long)r.huge_bytes,
         (unsigned long long)r.resident_bytes);
  printf("  reasons:");
  for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
    if (r.reasons & reasons[i].bit)
      printf(" %s", reasons[i].name);
  printf("%s\n  diagnosis: %s\n",
         r.reasons                       ? ""
         : r.state == MMAPIO_HUGEPAGE_NO ? " none listed (the kernel gave small"
                                           " pages at fault time)"
                                         : " none",
         r.detail);
  /* The two calls may differ if the kernel changed the pages in between
   * (khugepaged); each answer must be one of the three. */
  return state > MMAPIO_HUGEPAGE_UNKNOWN || r.state > MMAPIO_HUGEPAGE_UNKNOWN ||
                 r.detail[0] == '\0'
             ? 1
             : 0;
}

int main(void) {
  mmapio_map *anon, *file;
  int status = 0;
  int rc = mmapio_anon_ex(&anon, SIZE,
                          MMAPIO_OPT_HUGEPAGES | MMAPIO_OPT_TOUCH_EAGER);
  if (rc != 0) {
    fprintf(stderr, "mmapio_anon_ex: %s: %s\n", mmapio_error_name(rc),
            mmapio_last_error()->message);
    return 1;
  }
  status |= report("anonymous 8 MiB", anon);
  mmapio_close(anon);

  const char *tmp = getenv("TMPDIR");
  char dir[4096], path[4200];
  snprintf(dir, sizeof dir, "%s/mmapio-huge-XXXXXX", tmp ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(path, sizeof path, "%s/huge.bin", dir);
  mmapio_options opts = MMAPIO_OPTIONS_INIT;
  opts.size = SIZE;
  opts.flags = MMAPIO_OPT_HUGEPAGES | MMAPIO_OPT_TOUCH_EAGER;
  if ((rc = mmapio_open_ex(&file, path, &opts, MMAPIO_CREATE)) != 0) {
    fprintf(stderr, "mmapio_open_ex: %s: %s\n", mmapio_error_name(rc),
            mmapio_last_error()->message);
    status = 1;
  } else {
    status |= report("file 8 MiB", file);
    mmapio_close(file);
  }
  unlink(path);
  rmdir(dir);
  return status;
}
