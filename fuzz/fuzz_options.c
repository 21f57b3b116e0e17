/*
 * Feeds arbitrary options and dispositions to mmapio_open_ex: every call
 * must return 0 or a documented code, never crash, and a failed call
 * must not alter an existing file's bytes.
 */
#define _POSIX_C_SOURCE 200809L

#include "input.h"

#include <mmapio.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char marker[] = "mmapio fuzz marker";

static void fail(const char *what) {
  fprintf(stderr, "fuzz_options: %s (last error: %s)\n", what,
          mmapio_last_error()->message);
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_input in = {data, size};
  char path[64];
  snprintf(path, sizeof path, "/tmp/mmapio-fuzzopt-%ld.bin", (long)getpid());
  int exists = (int)(fz_take(&in, 1) & 1);
  unlink(path);
  if (exists) {
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, marker, sizeof marker) != (ssize_t)sizeof marker)
      fail("preparing the file");
    close(fd);
  }
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.version = (fz_take(&in, 1) % 8) == 0 ? (unsigned)fz_take(&in, 1)
                                         : MMAPIO_OPTIONS_VERSION;
  o.mode = (mmapio_mode)(fz_take(&in, 1) % 5);
  o.size = fz_edgy(&in, 1u << 20);
  /* No SYNC_DIR/TOUCH_EAGER/HUGEPAGES: slow, and not what is fuzzed. */
  o.flags =
      (unsigned)fz_take(&in, 1) &
      ~(MMAPIO_OPT_SYNC_DIR | MMAPIO_OPT_TOUCH_EAGER | MMAPIO_OPT_HUGEPAGES);
  o.perm = (unsigned)fz_take(&in, 2) & 0777;
  o.flush_policy = (mmapio_flush_policy)(fz_take(&in, 1) % 7);
  o.flush_arg = fz_edgy(&in, 64);
  if (o.flush_policy == MMAPIO_FLUSH_EVERY_MILLIS && o.flush_arg > 0)
    o.flush_arg = 1 + o.flush_arg % 4;
  o.reserve = fz_edgy(&in, 1u << 24);
  mmapio_disposition how = (mmapio_disposition)(fz_take(&in, 1) % 5);

  mmapio_map *m = NULL;
  int rc = mmapio_open_ex(&m, path, &o, how);
  if (rc == 0) {
    if (m == NULL || mmapio_mode_of(m) != o.mode)
      fail("success without a proper handle");
    mmapio_close(m);
  } else {
    if (strcmp(mmapio_error_name(rc), "MMAPIO_E_UNKNOWN") == 0 || rc > 0)
      fail("undocumented return code");
    if (m != NULL)
      fail("output touched on failure");
    if (exists) {
      char got[sizeof marker] = {0};
      int fd = open(path, O_RDONLY | O_CLOEXEC);
      if (fd < 0 || read(fd, got, sizeof got) != (ssize_t)sizeof got ||
          memcmp(got, marker, sizeof got) != 0)
        fail("a failed open changed the existing file");
      close(fd);
    }
  }
  unlink(path);
  return 0;
}
