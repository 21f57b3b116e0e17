/*
 * Durable writes completed through an event loop.
 *
 * Shows: an async pool runs writes and flushes off the caller's thread;
 * submitted without a callback, each completion is queued and the pool's
 * descriptor (mmapio_async_pool_fd: an eventfd, or a pipe in POSIX-only
 * builds) polls readable, so any event loop can drive them. Here the loop
 * is plain poll(2); async_libuv.c does the same with libuv. An operation's
 * own error arrives in its completion record (status and error detail),
 * like the out-of-bounds flush submitted on purpose below.
 *
 * Run: build/debug/examples/example_async_event_loop
 *      It works in a temporary directory under $TMPDIR (or /tmp), removes
 *      it, and exits 0 when every completion arrived with the expected
 *      status and the file holds the written records.
 */
#define _POSIX_C_SOURCE 200809L
#include <mmapio.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { RECORDS = 16, RECORD = 4096 };

static int fail(const char *what, int rc) {
  fprintf(stderr, "%s: %s: %s\n", what, mmapio_error_name(rc),
          mmapio_last_error()->message);
  return 1;
}

/* Submits RECORDS durable writes and one flush of a range past the end. */
static int submit(mmapio_async_pool *pool, mmapio_map *m) {
  char rec[RECORD];
  int rc = 0;
  for (int i = 0; rc == 0 && i < RECORDS; i++) {
    memset(rec, 'a' + i, sizeof rec); /* copied: rec may change at once */
    rc = mmapio_async_update(pool, m, (uint64_t)i * RECORD, rec, sizeof rec,
                             NULL, (void *)(uintptr_t)i);
  }
  if (rc == 0)
    rc = mmapio_async_flush_range(pool, m, mmapio_len(m), RECORD, NULL,
                                  (void *)(uintptr_t)RECORDS);
  return rc;
}

/* The event loop: wait for the descriptor, reap, until all are in. */
static int loop(mmapio_async_pool *pool) {
  struct pollfd pfd = {mmapio_async_pool_fd(pool), POLLIN, 0};
  int done = 0, bad = 0;
  while (done < RECORDS + 1) {
    if (poll(&pfd, 1, -1) < 0) {
      perror("poll");
      return 1;
    }
    mmapio_completion c[8];
    size_t n;
    int rc = mmapio_async_reap(pool, c, 8, &n);
    if (rc != 0)
      return fail("mmapio_async_reap", rc);
    for (size_t k = 0; k < n; k++, done++) {
      uintptr_t id = (uintptr_t)c[k].user;
      int want = id < RECORDS ? 0 : MMAPIO_E_OUT_OF_BOUNDS;
      if (c[k].status != 0)
        printf("operation %2u: %s: %s\n", (unsigned)id,
               mmapio_error_name(c[k].status), c[k].error.message);
      bad += c[k].status != want;
    }
  }
  printf("%d completions reaped through poll(), %d unexpected\n", done, bad);
  return bad != 0;
}

static int check(mmapio_map *m) {
  char rec[RECORD];
  for (int i = 0; i < RECORDS; i++) {
    int rc = mmapio_read(m, (uint64_t)i * RECORD, rec, sizeof rec);
    if (rc != 0)
      return fail("mmapio_read", rc);
    if (rec[0] != 'a' + i || rec[RECORD - 1] != 'a' + i) {
      fprintf(stderr, "record %d was not written\n", i);
      return 1;
    }
  }
  printf("all %d records are in the file, durably\n", RECORDS);
  return 0;
}

int main(void) {
  const char *tmp = getenv("TMPDIR");
  char dir[4096], path[4200];
  snprintf(dir, sizeof dir, "%s/mmapio-async-XXXXXX", tmp ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(path, sizeof path, "%s/async.bin", dir);
  mmapio_map *m = NULL;
  mmapio_async_pool *pool = NULL;
  int rc = mmapio_create(&m, path, RECORDS * RECORD);
  if (rc == 0)
    rc = mmapio_async_pool_create(&pool, 2);
  if (rc == 0)
    rc = submit(pool, m);
  int status = rc != 0 ? fail("setting up", rc) : loop(pool) || check(m);
  mmapio_async_pool_destroy(pool);
  mmapio_close(m);
  unlink(path);
  rmdir(dir);
  return status;
}
