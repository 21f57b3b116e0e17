/*
 * A log appender with a flush policy.
 *
 * Shows: a log file opened (or created) with MMAPIO_FLUSH_EVERY_BYTES, so
 * the library makes the log durable by itself each time 4 KiB of appends
 * are pending (mmapio_pending shows the count rise and fall); appends by
 * mmapio_update at the end recorded in the file's header; growing the
 * file with mmapio_resize when it is full; reading the records back after
 * a reopen.
 *
 * Run: build/debug/examples/example_log_appender
 *      It appends 500 records in a temporary directory under $TMPDIR (or
 *      /tmp), removes it, and exits 0 when all 500 read back in order.
 */
#define _POSIX_C_SOURCE 200809L
#include <mmapio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { HEADER = 64, RECORDS = 500 };
static const char magic[8] = "mmaplog";

static int fail(const char *what, int rc) {
  fprintf(stderr, "%s: %s: %s\n", what, mmapio_error_name(rc),
          mmapio_last_error()->message);
  return 1;
}

/* Appends one line; the header's second word is where the log ends. */
static int append(mmapio_map *m, const char *line) {
  uint64_t end;
  int rc = mmapio_read(m, 8, &end, sizeof end);
  size_t n = strlen(line);
  if (rc == 0 && end + n > mmapio_len(m))
    rc = mmapio_resize(m, mmapio_len(m) * 2, NULL);
  if (rc == 0)
    rc = mmapio_update(m, end, line, n);
  end += n;
  if (rc == 0) /* the new end last: a reader never sees a torn record */
    rc = mmapio_update(m, 8, &end, sizeof end);
  return rc;
}

static int write_log(const char *path) {
  mmapio_options opts = MMAPIO_OPTIONS_INIT;
  opts.size = 8 * 1024;
  opts.flush_policy = MMAPIO_FLUSH_EVERY_BYTES;
  opts.flush_arg = 4096;
  mmapio_map *m;
  int rc = mmapio_open_ex(&m, path, &opts, MMAPIO_OPEN_OR_CREATE);
  if (rc != 0)
    return fail("mmapio_open_ex(OPEN_OR_CREATE)", rc);
  uint64_t start = HEADER;
  if ((rc = mmapio_update(m, 0, magic, sizeof magic)) == 0)
    rc = mmapio_update(m, 8, &start, sizeof start);

  unsigned policy_flushes = 0;
  for (int i = 0; rc == 0 && i < RECORDS; i++) {
    char line[64];
    uint64_t before = mmapio_pending(m);
    snprintf(line, sizeof line, "record %03d: something happened\n", i);
    rc = append(m, line);
    policy_flushes += mmapio_pending(m) < before;
  }
  printf("%d records, %llu bytes of log, %u flushes by the policy, "
         "%llu bytes pending\n",
         RECORDS, (unsigned long long)mmapio_len(m), policy_flushes,
         (unsigned long long)mmapio_pending(m));
  if (rc == 0) /* the tail that has not reached 4 KiB yet */
    rc = mmapio_flush(m);
  mmapio_close(m);
  return rc != 0 ? fail("appending", rc) : policy_flushes > 0 ? 0 : 1;
}

static int read_log(const char *path) {
  mmapio_map *m;
  const void *p;
  uint64_t end;
  int rc = mmapio_open(&m, path, MMAPIO_MODE_RO);
  if (rc != 0)
    return fail("mmapio_open", rc);
  if ((rc = mmapio_read(m, 8, &end, sizeof end)) == 0)
    rc = mmapio_view(m, HEADER, (size_t)(end - HEADER), &p);
  if (rc != 0) {
    mmapio_close(m);
    return fail("reading the log", rc);
  }
  int next = 0;
  for (const char *s = p, *stop = s + (end - HEADER); s < stop; next++) {
    const char *nl = memchr(s, '\n', (size_t)(stop - s));
    if (nl == NULL || atoi(s + 7) != next)
      break;
    s = nl + 1;
  }
  mmapio_close(m);
  printf("reopened: %d records read back in order\n", next);
  return next == RECORDS ? 0 : 1;
}

int main(void) {
  const char *tmp = getenv("TMPDIR");
  char dir[4096], path[4200];
  snprintf(dir, sizeof dir, "%s/mmapio-log-XXXXXX", tmp ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(path, sizeof path, "%s/app.log", dir);
  int status = write_log(path);
  if (status == 0)
    status = read_log(path);
  unlink(path);
  rmdir(dir);
  return status;
}
