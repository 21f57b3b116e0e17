/*
 * Read a file zero-copy.
 *
 * Shows: mmapio_open read-only, one mmapio_view over the whole file (a
 * pointer into the page cache: no read(), no copy, no allocation), and the
 * error path when a view would leave the mapping (MMAPIO_E_OUT_OF_BOUNDS,
 * with mmapio_error_name and mmapio_last_error()->message).
 *
 * Run: build/debug/examples/example_read_zero_copy
 *      (configure with -DMMAPIO_BUILD_EXAMPLES=ON; ctest -L example runs
 *      all ten). It writes a text file in a temporary directory under
 *      $TMPDIR (or /tmp), counts its lines through the view, removes the
 *      directory, and exits 0 when the count is right.
 */
#define _POSIX_C_SOURCE 200809L
#include <mmapio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { LINES = 1000 };

static int fail(const char *what, int rc) {
  fprintf(stderr, "%s failed: %s: %s\n", what, mmapio_error_name(rc),
          mmapio_last_error()->message);
  return 1;
}

/* Writes LINES numbered lines to path with stdio: the file to read. */
static int write_text(const char *path) {
  FILE *f = fopen(path, "w");
  if (f == NULL)
    return -1;
  for (int i = 1; i <= LINES; i++)
    fprintf(f, "line %d of the sample\n", i);
  return fclose(f);
}

static int run(const char *path) {
  mmapio_map *m;
  const void *p;
  int rc = mmapio_open(&m, path, MMAPIO_MODE_RO);
  if (rc != 0)
    return fail("mmapio_open", rc);

  /* One view over all of it: the bytes are read where they lie. */
  uint64_t len = mmapio_len(m);
  if ((rc = mmapio_view(m, 0, (size_t)len, &p)) != 0) {
    mmapio_close(m);
    return fail("mmapio_view", rc);
  }
  const char *text = p, *end = text + len;
  int lines = 0;
  for (const char *nl; (nl = memchr(text, '\n', (size_t)(end - text)));
       text = nl + 1)
    lines++;
  printf("%s: %llu bytes, %d lines, read through one view\n", path,
         (unsigned long long)len, lines);

  /* A view past the end is refused, never a pointer to unmapped memory. */
  rc = mmapio_view(m, len - 4, 16, &p);
  printf("a 16-byte view at %llu: %s: %s\n", (unsigned long long)(len - 4),
         mmapio_error_name(rc), mmapio_last_error()->message);
  mmapio_close(m);
  if (rc != MMAPIO_E_OUT_OF_BOUNDS || lines != LINES) {
    fprintf(stderr, "expected %d lines and OUT_OF_BOUNDS\n", LINES);
    return 1;
  }
  return 0;
}

int main(void) {
  const char *tmp = getenv("TMPDIR");
  char dir[4096], path[4200];
  snprintf(dir, sizeof dir, "%s/mmapio-read-XXXXXX", tmp ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(path, sizeof path, "%s/sample.txt", dir);
  int status = write_text(path) == 0 ? run(path) : (perror(path), 1);
  unlink(path);
  rmdir(dir);
  return status;
}
