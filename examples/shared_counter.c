/*
 * A counter shared between processes through an atomic view.
 *
 * Shows: mmapio_view_atomic_u64_mut gives a C11 _Atomic uint64_t inside a
 * shared file mapping; lock-free atomics are address-free, so processes
 * that map the same file (here, forked children inheriting the handle)
 * increment one counter without losing an update. A misaligned offset is
 * refused with MMAPIO_E_MISALIGNED.
 *
 * Run: build/debug/examples/example_shared_counter
 *      Four children add 100000 each. It works in a temporary directory
 *      under $TMPDIR (or /tmp), removes it, and exits 0 when the counter
 *      reads 400000.
 */
#define _POSIX_C_SOURCE 200809L
#include <mmapio.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

enum { CHILDREN = 4, ADDS = 100000 };

static int fail(const char *what, int rc) {
  fprintf(stderr, "%s: %s: %s\n", what, mmapio_error_name(rc),
          mmapio_last_error()->message);
  return 1;
}

static int count(mmapio_map *m) {
  mmapio_atomic_u64 *counter;
  int rc = mmapio_view_atomic_u64_mut(m, 4, &counter);
  printf("an atomic view at offset 4: %s: %s\n", mmapio_error_name(rc),
         mmapio_last_error()->message);
  if (rc != MMAPIO_E_MISALIGNED)
    return 1;
  if ((rc = mmapio_view_atomic_u64_mut(m, 0, &counter)) != 0)
    return fail("mmapio_view_atomic_u64_mut", rc);
  mmapio_atomic_u64_store(counter, 0);

  for (int i = 0; i < CHILDREN; i++) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      return 1;
    }
    if (pid == 0) { /* the child shares the mapping, and so the counter */
      for (int n = 0; n < ADDS; n++)
        mmapio_atomic_u64_fetch_add(counter, 1);
      _exit(0);
    }
  }
  int ok = 1, status;
  for (int i = 0; i < CHILDREN; i++)
    ok &= wait(&status) > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  uint64_t total = mmapio_atomic_u64_load(counter);
  printf("%d processes added %d each: the counter reads %llu\n", CHILDREN, ADDS,
         (unsigned long long)total);
  return ok && total == (uint64_t)CHILDREN * ADDS ? 0 : 1;
}

int main(void) {
  const char *tmp = getenv("TMPDIR");
  char dir[4096], path[4200];
  snprintf(dir, sizeof dir, "%s/mmapio-counter-XXXXXX", tmp ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(path, sizeof path, "%s/counter.bin", dir);
  mmapio_map *m;
  int rc = mmapio_create(&m, path, 4096);
  int status = rc != 0 ? fail("mmapio_create", rc) : count(m);
  if (rc == 0)
    mmapio_close(m);
  unlink(path);
  rmdir(dir);
  return status;
}
