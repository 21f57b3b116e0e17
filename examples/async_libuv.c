/*
 * Durable writes completed through libuv (the libuv variant of
 * async_event_loop.c; built only when pkg-config finds libuv).
 *
 * Shows: the pool's completion descriptor (mmapio_async_pool_fd) watched
 * by a uv_poll_t; its callback reaps the completion records, and the loop
 * ends when the last one is in. The library itself does not depend on
 * libuv: any loop that can wait on a descriptor will do.
 *
 * Run: build/debug/examples/example_async_libuv
 *      It works in a temporary directory under $TMPDIR (or /tmp), removes
 *      it, and exits 0 when all writes completed without error.
 */
#define _POSIX_C_SOURCE 200809L
#include <mmapio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

enum { WRITES = 8 };

typedef struct state {
  mmapio_async_pool *pool;
  int done, bad;
} state;

static void on_readable(uv_poll_t *handle, int status, int events) {
  state *s = handle->data;
  mmapio_completion c[WRITES];
  size_t n;
  (void)events;
  if (status < 0 || mmapio_async_reap(s->pool, c, WRITES, &n) != 0) {
    s->bad++;
    uv_poll_stop(handle);
    return;
  }
  for (size_t k = 0; k < n; k++, s->done++)
    if (c[k].status != 0) {
      printf("write %u: %s: %s\n", (unsigned)(uintptr_t)c[k].user,
             mmapio_error_name(c[k].status), c[k].error.message);
      s->bad++;
    }
  if (s->done == WRITES)
    uv_poll_stop(handle); /* nothing left to wait for: uv_run returns */
}

static int run(mmapio_map *m, mmapio_async_pool *pool) {
  state s = {pool, 0, 0};
  for (int i = 0; i < WRITES; i++) {
    char word[16];
    int len = snprintf(word, sizeof word, "write %d", i);
    int rc = mmapio_async_update(pool, m, (uint64_t)i * 64, word, (size_t)len,
                                 NULL, (void *)(uintptr_t)i);
    if (rc != 0) {
      fprintf(stderr, "mmapio_async_update: %s: %s\n", mmapio_error_name(rc),
              mmapio_last_error()->message);
      return 1;
    }
  }
  uv_loop_t *loop = uv_default_loop();
  uv_poll_t poll;
  poll.data = &s;
  if (uv_poll_init(loop, &poll, mmapio_async_pool_fd(pool)) != 0 ||
      uv_poll_start(&poll, UV_READABLE, on_readable) != 0)
    return 1;
  uv_run(loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&poll, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  printf("libuv delivered %d of %d completions, %d failed\n", s.done, WRITES,
         s.bad);
  char got[8];
  int same =
      mmapio_read(m, 7 * 64, got, 7) == 0 && memcmp(got, "write 7", 7) == 0;
  return s.done == WRITES && s.bad == 0 && same ? 0 : 1;
}

int main(void) {
  const char *tmp = getenv("TMPDIR");
  char dir[4096], path[4200];
  snprintf(dir, sizeof dir, "%s/mmapio-uv-XXXXXX", tmp ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(path, sizeof path, "%s/uv.bin", dir);
  mmapio_map *m = NULL;
  mmapio_async_pool *pool = NULL;
  int rc = mmapio_create(&m, path, 4096);
  if (rc == 0)
    rc = mmapio_async_pool_create(&pool, 1);
  int status = 1;
  if (rc != 0)
    fprintf(stderr, "setting up: %s: %s\n", mmapio_error_name(rc),
            mmapio_last_error()->message);
  else
    status = run(m, pool);
  mmapio_async_pool_destroy(pool);
  uv_loop_close(uv_default_loop());
  mmapio_close(m);
  unlink(path);
  rmdir(dir);
  return status;
}
