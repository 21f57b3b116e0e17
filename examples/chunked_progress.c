/*
 * Process a large file in chunks, with a progress line.
 *
 * Shows: filling a file through writable chunks (mmapio_chunks_mut and its
 * callback), then reading it back with the zero-copy chunk iterator
 * (mmapio_chunks_begin / mmapio_chunks_next: pointer arithmetic, no copy,
 * no allocation per chunk) after mmapio_advise(SEQUENTIAL), printing the
 * progress as it goes, and checking a checksum computed independently.
 *
 * Run: build/debug/examples/example_chunked_progress [MiB]
 *      (default 48 MiB). It works in a temporary directory under $TMPDIR
 *      (or /tmp), removes it, and exits 0 when the checksum matches. On a
 *      terminal the progress is one line rewritten in place.
 */
#define _POSIX_C_SOURCE 200809L
#include <mmapio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK ((size_t)1 << 20)

static int fail(const char *what, int rc) {
  fprintf(stderr, "%s: %s: %s\n", what, mmapio_error_name(rc),
          mmapio_last_error()->message);
  return 1;
}

/* The byte at offset off of the sample: its 4 KiB block's number. */
static unsigned char pattern(uint64_t off) {
  return (unsigned char)(off >> 12);
}

static int fill(uint64_t off, void *data, size_t len, void *ctx) {
  (void)ctx;
  for (size_t i = 0; i < len; i += 4096)
    memset((unsigned char *)data + i, pattern(off + i),
           len - i < 4096 ? len - i : 4096);
  return 0;
}

static void progress(uint64_t done, uint64_t total, int tty) {
  static int last_quarter = 0;
  int percent = (int)(done * 100 / total);
  if (tty)
    fprintf(stderr, "\rprocessed %3d%% (%llu of %llu MiB)", percent,
            (unsigned long long)(done >> 20),
            (unsigned long long)(total >> 20));
  else if (percent / 25 != last_quarter)
    fprintf(stderr, "processed %3d%%\n", percent);
  last_quarter = percent / 25;
  if (tty && done == total)
    fputc('\n', stderr);
}

static int process(const char *path, uint64_t *sum) {
  mmapio_map *m;
  mmapio_chunks it;
  mmapio_chunk c;
  int rc = mmapio_open(&m, path, MMAPIO_MODE_RO);
  if (rc != 0)
    return fail("mmapio_open", rc);
  uint64_t total = mmapio_len(m);
  /* More read-ahead, and pages may go sooner behind the walk. */
  if ((rc = mmapio_advise(m, 0, total, MMAPIO_ADVICE_SEQUENTIAL)) != 0)
    fprintf(stderr, "advice not taken (not an error for the walk): %s\n",
            mmapio_last_error()->message);
  if ((rc = mmapio_chunks_begin(&it, m, CHUNK)) != 0) {
    mmapio_close(m);
    return fail("mmapio_chunks_begin", rc);
  }
  int tty = isatty(STDERR_FILENO);
  while (mmapio_chunks_next(&it, &c)) {
    const unsigned char *p = c.data;
    for (size_t i = 0; i < c.len; i++)
      *sum += p[i];
    progress(c.off + c.len, total, tty);
  }
  mmapio_close(m);
  return 0;
}

static int run(const char *path, uint64_t size) {
  mmapio_map *m;
  int rc = mmapio_create(&m, path, size);
  if (rc != 0)
    return fail("mmapio_create", rc);
  rc = mmapio_chunks_mut(m, CHUNK, fill, NULL);
  mmapio_close(m);
  if (rc != 0)
    return fail("mmapio_chunks_mut", rc);

  uint64_t sum = 0, expected = 0;
  if (process(path, &sum) != 0)
    return 1;
  for (uint64_t off = 0; off < size; off += 4096)
    expected +=
        (uint64_t)pattern(off) * (size - off < 4096 ? size - off : 4096);
  printf("checksum of %llu MiB: %llu (expected %llu)\n",
         (unsigned long long)(size >> 20), (unsigned long long)sum,
         (unsigned long long)expected);
  return sum == expected ? 0 : 1;
}

int main(int argc, char **argv) {
  uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 48;
  if (mib == 0) {
    fprintf(stderr, "usage: %s [MiB > 0]\n", argv[0]);
    return 2;
  }
  const char *tmp = getenv("TMPDIR");
  char dir[4096], path[4200];
  snprintf(dir, sizeof dir, "%s/mmapio-chunks-XXXXXX", tmp ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(path, sizeof path, "%s/large.bin", dir);
  int status = run(path, mib << 20);
  unlink(path);
  rmdir(dir);
  return status;
}
