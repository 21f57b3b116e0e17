/*
 * Create a file, write it, and make it durable.
 *
 * Shows: creating through the options struct (the builder) with
 * MMAPIO_OPT_SYNC_DIR, so the new file's name is durable too; writing by
 * copy (mmapio_update, counted in mmapio_pending) and in place through a
 * writable view; one mmapio_flush that makes both durable (msync MS_SYNC:
 * on return the bytes are on stable storage); reading them back through a
 * fresh read-only mapping.
 *
 * Run: build/debug/examples/example_create_write_flush
 *      It works in a temporary directory under $TMPDIR (or /tmp), removes
 *      it, and exits 0 when the reopened file holds what was written.
 */
#define _POSIX_C_SOURCE 200809L
#include <mmapio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char header[16] = "mmapio example\n";
static const char record[] = "written in place through a view";

static int fail(const char *what, int rc) {
  fprintf(stderr, "%s: %s: %s\n", what, mmapio_error_name(rc),
          mmapio_last_error()->message);
  return 1;
}

static int write_file(const char *path) {
  mmapio_options opts = MMAPIO_OPTIONS_INIT;
  opts.size = 64 * 1024; /* sparse: no block is allocated until written */
  opts.flags = MMAPIO_OPT_SYNC_DIR;
  opts.perm = 0600;
  mmapio_map *m;
  void *at;
  int rc = mmapio_open_ex(&m, path, &opts, MMAPIO_CREATE);
  if (rc != 0)
    return fail("mmapio_open_ex(CREATE)", rc);

  /* By copy: counted as pending until a flush. */
  if ((rc = mmapio_update(m, 0, header, sizeof header)) != 0)
    goto out;
  /* In place: not counted, but a flush covers it all the same. */
  if ((rc = mmapio_view_mut(m, 4096, sizeof record, &at)) != 0)
    goto out;
  memcpy(at, record, sizeof record);
  printf("pending before flush: %llu bytes\n",
         (unsigned long long)mmapio_pending(m));
  if ((rc = mmapio_flush(m)) != 0)
    goto out;
  printf("pending after flush:  %llu bytes (both writes are durable)\n",
         (unsigned long long)mmapio_pending(m));
out:
  mmapio_close(m);
  return rc != 0 ? fail("writing", rc) : 0;
}

static int check_file(const char *path) {
  mmapio_map *m;
  char got[sizeof record];
  int rc = mmapio_open(&m, path, MMAPIO_MODE_RO);
  if (rc != 0)
    return fail("mmapio_open(RO)", rc);
  if ((rc = mmapio_read(m, 4096, got, sizeof got)) != 0) {
    mmapio_close(m);
    return fail("mmapio_read", rc);
  }
  const void *head;
  rc = mmapio_view(m, 0, sizeof header, &head);
  int same = rc == 0 && memcmp(head, header, sizeof header) == 0 &&
             memcmp(got, record, sizeof record) == 0;
  printf("reopened %s (%llu bytes): %s\n", path,
         (unsigned long long)mmapio_len(m), same ? "contents match" : "DIFFER");
  mmapio_close(m);
  return same ? 0 : 1;
}

int main(void) {
  const char *tmp = getenv("TMPDIR");
  char dir[4096], path[4200];
  snprintf(dir, sizeof dir, "%s/mmapio-create-XXXXXX", tmp ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(path, sizeof path, "%s/data.bin", dir);
  int status = write_file(path);
  if (status == 0)
    status = check_file(path);
  unlink(path);
  rmdir(dir);
  return status;
}
