/*
 * A program outside the mmapio tree: scripts/package_test.sh builds it
 * against an installed mmapio (CMake shared and static, pkg-config with
 * plain cc) and runs it. It writes a file through one mapping, reads it
 * back through another and checks the library's version against the
 * header's.
 *
 * usage: consumer DIR   (DIR exists; consumer.bin is made and removed there)
 */
#define _POSIX_C_SOURCE 200809L
#include <mmapio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int fail(const char *what, int rc) {
  fprintf(stderr, "consumer: %s: %s: %s\n", what, mmapio_error_name(rc),
          mmapio_last_error()->message);
  return 1;
}

int main(int argc, char **argv) {
  static const char text[] = "installed and found";
  char path[4096];
  mmapio_map *m;
  const void *p;
  int rc;

  if (argc != 2) {
    fprintf(stderr, "usage: consumer DIR\n");
    return 2;
  }
  if (mmapio_version() / 10000 != MMAPIO_VERSION_MAJOR) {
    fprintf(stderr, "consumer: library %d, header %d\n", mmapio_version(),
            MMAPIO_VERSION_NUMBER);
    return 1;
  }
  snprintf(path, sizeof path, "%s/consumer.bin", argv[1]);
  if ((rc = mmapio_create(&m, path, 4096)) != 0)
    return fail("create", rc);
  rc = mmapio_update(m, 0, text, sizeof text);
  if (rc == 0)
    rc = mmapio_flush(m);
  mmapio_close(m);
  if (rc != 0)
    return fail("update and flush", rc);

  if ((rc = mmapio_open(&m, path, MMAPIO_MODE_RO)) != 0)
    return fail("open", rc);
  rc = mmapio_view(m, 0, sizeof text, &p);
  int same = rc == 0 && memcmp(p, text, sizeof text) == 0;
  mmapio_close(m);
  unlink(path);
  if (rc != 0)
    return fail("view", rc);
  if (!same) {
    fprintf(stderr, "consumer: the bytes read back differ\n");
    return 1;
  }
  printf("consumer: mmapio %d (header %d): wrote, flushed, read back\n",
         mmapio_version(), MMAPIO_VERSION_NUMBER);
  return 0;
}
