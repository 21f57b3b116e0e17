/*
 * Grow a file without moving the views taken before.
 *
 * Shows: a read-write mapping reserves address space past the end of the
 * file (options.reserve), so mmapio_resize grows it in place: a pointer
 * taken before the growth stays valid and the base does not move. Growth
 * past the reservation may move the base; mmapio_resize says so, and old
 * pointers still stay valid until close. A pinned range (mmapio_pin_range)
 * makes a shrink that would cut it fail with MMAPIO_E_BUSY.
 *
 * Run: build/debug/examples/example_grow_in_place
 *      It works in a temporary directory under $TMPDIR (or /tmp) on a
 *      sparse file (up to 96 MiB, no blocks written but a few pages),
 *      removes it, and exits 0 when every pointer held.
 */
#define _POSIX_C_SOURCE 200809L
#include <mmapio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIB (1024u * 1024u)

static int fail(const char *what, int rc) {
  fprintf(stderr, "%s: %s: %s\n", what, mmapio_error_name(rc),
          mmapio_last_error()->message);
  return 1;
}

static int grow(mmapio_map *m, uint64_t size, bool *moved) {
  int rc = mmapio_resize(m, size, moved);
  if (rc == 0)
    printf("resized to %3llu MiB: base %p, %s\n",
           (unsigned long long)(size / MIB), mmapio_base(m),
           *moved ? "moved (old pointers still valid)" : "in place");
  return rc;
}

static int run(mmapio_map *m) {
  void *first;
  bool moved;
  int rc;
  /* A pointer to the first page, taken before any growth. */
  if ((rc = mmapio_view_mut(m, 0, 6, &first)) != 0)
    return fail("mmapio_view_mut", rc);
  memcpy(first, "before", 6);

  /* Inside the 64 MiB reservation: the base stays where it is. */
  if ((rc = grow(m, 48 * MIB, &moved)) != 0)
    return fail("mmapio_resize(48 MiB)", rc);
  if (moved || mmapio_base(m) != first) {
    fprintf(stderr, "growth inside the reservation moved the base\n");
    return 1;
  }
  void *far;
  if ((rc = mmapio_view_mut(m, 47 * MIB, 5, &far)) != 0)
    return fail("mmapio_view_mut(47 MiB)", rc);
  memcpy(far, "grown", 5);

  /* Past the reservation: in place if the address space allows. */
  if ((rc = grow(m, 96 * MIB, &moved)) != 0)
    return fail("mmapio_resize(96 MiB)", rc);
  if (memcmp(first, "before", 6) != 0) {
    fprintf(stderr, "the first pointer lost its bytes\n");
    return 1;
  }

  /* A pin refuses the shrink that would cut it; unpinned, it goes. */
  mmapio_pin pin;
  if ((rc = mmapio_pin_range(&pin, m, 0, 48 * MIB)) != 0)
    return fail("mmapio_pin_range", rc);
  rc = mmapio_resize(m, 1 * MIB, &moved);
  printf("shrink below a pinned range: %s: %s\n", mmapio_error_name(rc),
         mmapio_last_error()->message);
  mmapio_unpin(&pin);
  if (rc != MMAPIO_E_BUSY) {
    fprintf(stderr, "expected MMAPIO_E_BUSY\n");
    return 1;
  }
  if ((rc = mmapio_resize(m, 1 * MIB, &moved)) != 0)
    return fail("mmapio_resize(1 MiB)", rc);
  printf("shrunk to 1 MiB; the first pointer reads \"%.6s\"\n",
         (const char *)first);
  return memcmp(first, "before", 6) == 0 ? 0 : 1;
}

int main(void) {
  const char *tmp = getenv("TMPDIR");
  char dir[4096], path[4200];
  snprintf(dir, sizeof dir, "%s/mmapio-grow-XXXXXX", tmp ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(path, sizeof path, "%s/growing.bin", dir);

  mmapio_options opts = MMAPIO_OPTIONS_INIT;
  opts.size = 1 * MIB;
  opts.reserve = 64 * MIB; /* address space for growth in place */
  mmapio_map *m = NULL;    /* untouched by a failed open; close takes NULL */
  int rc = mmapio_open_ex(&m, path, &opts, MMAPIO_CREATE);
  int status = rc != 0 ? fail("mmapio_open_ex", rc) : run(m);
  mmapio_close(m);
  unlink(path);
  rmdir(dir);
  return status;
}
