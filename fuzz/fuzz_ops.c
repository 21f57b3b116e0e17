/*
 * Runs a sequence of operations decoded from the input against a real
 * mapping and a plain shadow buffer, and aborts on any disagreement:
 * views, copies, updates, writable views, resizes, flushes and pins
 * must behave exactly like the model, out-of-bounds included.
 */
#define _POSIX_C_SOURCE 200809L

#include "input.h"

#include <mmapio.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SIZE (256u * 1024u)

static void check(int cond, const char *what) {
  if (!cond) {
    fprintf(stderr, "fuzz_ops: %s (last error: %s)\n", what,
            mmapio_last_error()->message);
    abort();
  }
}

static char *temp_path(void) {
  static char path[64];
  snprintf(path, sizeof path, "/tmp/mmapio-fuzz-%ld.bin", (long)getpid());
  return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_input in = {data, size};
  uint64_t len = 1 + fz_take(&in, 3) % MAX_SIZE;
  mmapio_map *m;
  const char *path = temp_path();
  check(mmapio_create(&m, path, len) == 0, "create");
  unsigned char *shadow = calloc(1, MAX_SIZE);
  unsigned char *buf = malloc(MAX_SIZE);
  check(shadow != NULL && buf != NULL, "allocation");
  mmapio_pin pin = {0};
  uint64_t pinned_end = 0;

  while (fz_more(&in)) {
    uint8_t op = (uint8_t)fz_take(&in, 1) % 8;
    uint64_t off = fz_edgy(&in, len);
    uint64_t n = fz_edgy(&in, len > off ? len - off : 0);
    size_t want = n <= MAX_SIZE ? (size_t)n : MAX_SIZE;
    int fits = off <= len && n <= len - off;
    switch (op) {
    case 0: {
      const void *v = NULL;
      int rc = mmapio_view(m, off, want, &v);
      fits = off <= len && want <= len - off;
      check(rc == (fits ? 0 : MMAPIO_E_OUT_OF_BOUNDS), "view result");
      if (fits)
        check(memcmp(v, shadow + off, want) == 0, "view bytes");
      break;
    }
    case 1: {
      int rc = mmapio_read(m, off, buf, want);
      fits = off <= len && want <= len - off;
      check(rc == (fits ? 0 : MMAPIO_E_OUT_OF_BOUNDS), "read result");
      if (fits)
        check(memcmp(buf, shadow + off, want) == 0, "read bytes");
      break;
    }
    case 2: {
      memset(buf, (int)(off * 31 + n), want);
      int rc = mmapio_update(m, off, buf, want);
      fits = off <= len && want <= len - off;
      check(rc == (fits ? 0 : MMAPIO_E_OUT_OF_BOUNDS), "update result");
      if (fits)
        memcpy(shadow + off, buf, want);
      break;
    }
    case 3: {
      void *v = NULL;
      int rc = mmapio_view_mut(m, off, want, &v);
      fits = off <= len && want <= len - off;
      check(rc == (fits ? 0 : MMAPIO_E_OUT_OF_BOUNDS), "view_mut result");
      if (fits && want > 0) {
        memset(v, 0x5a, want);
        memset(shadow + off, 0x5a, want);
      }
      break;
    }
    case 4: {
      uint64_t to = n % (MAX_SIZE + 1);
      int rc = mmapio_resize(m, to, NULL);
      if (to == 0)
        check(rc == MMAPIO_E_RESIZE_FAILED, "resize to 0");
      else if (to < pinned_end)
        check(rc == MMAPIO_E_BUSY, "shrink below a pin");
      else {
        check(rc == 0, "resize");
        if (to > len)
          memset(shadow + len, 0, (size_t)(to - len));
        len = to;
      }
      break;
    }
    case 5: {
      int rc = mmapio_flush_range(m, off, n);
      check(rc == (fits ? 0 : MMAPIO_E_OUT_OF_BOUNDS), "flush_range result");
      break;
    }
    case 6:
      if (pin.map_ != NULL) {
        mmapio_unpin(&pin);
        pinned_end = 0;
      } else {
        int rc = mmapio_pin_range(&pin, m, off, n);
        check(rc == (fits ? 0 : MMAPIO_E_OUT_OF_BOUNDS), "pin result");
        if (rc == 0)
          pinned_end = off + n;
      }
      break;
    default:
      check(mmapio_len(m) == len, "length");
      check(mmapio_flush(m) == 0, "flush");
      check(mmapio_pending(m) == 0, "pending after flush");
      break;
    }
  }
  check(mmapio_len(m) == len, "final length");
  check(mmapio_read(m, 0, buf, (size_t)len) == 0, "final read");
  check(memcmp(buf, shadow, (size_t)len) == 0, "final bytes");
  mmapio_unpin(&pin);
  mmapio_close(m);
  unlink(path);
  free(shadow);
  free(buf);
  return 0;
}
