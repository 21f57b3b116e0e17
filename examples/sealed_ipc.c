/*
 * Shared state between processes through a sealed anonymous region.
 *
 * Shows: mmapio_anon makes a memory-file-backed region; mmapio_anon_seal
 * fixes its size for every process that holds it (MMAPIO_SEAL_SHRINK |
 * MMAPIO_SEAL_GROW: not even the owner can resize it now); mmapio_anon_send
 * passes it over a Unix-domain socket (SCM_RIGHTS) and mmapio_anon_recv
 * maps it in the other process, requiring the seals, so a peer cannot
 * shrink the memory under it. The receiver refuses a region without them.
 * Both processes then use one struct in the region, with an atomic
 * counter.
 *
 * Seals are Linux-only: in POSIX-only builds mmapio_anon_seal returns the
 * documented MMAPIO_E_UNSUPPORTED; the example says "unsupported here"
 * with the reason and shares the region without seals.
 *
 * Run: build/debug/examples/example_sealed_ipc
 *      No file is created. It exits 0 when the child's writes are seen
 *      by the parent.
 */
#define _POSIX_C_SOURCE 200809L
#include <mmapio.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* The shared state: a counter and a message, at fixed offsets. */
#define COUNTER_OFF 0
#define MESSAGE_OFF 64
#define SIZE 4096
#define SEALS (MMAPIO_SEAL_SHRINK | MMAPIO_SEAL_GROW)

static int fail(const char *what, int rc) {
  fprintf(stderr, "%s: %s: %s\n", what, mmapio_error_name(rc),
          mmapio_last_error()->message);
  return 1;
}

/* The child: receives regions until one carries the seals it requires,
 * then writes into it. Its exit status is its verdict. */
static int child(int sock, unsigned required) {
  mmapio_map *m;
  int rc;
  while ((rc = mmapio_anon_recv(&m, sock, required)) ==
         MMAPIO_E_INVALID_ARGUMENT)
    printf("child: refused a region: %s\n", mmapio_last_error()->message);
  if (rc != 0)
    return fail("child: mmapio_anon_recv", rc);
  mmapio_atomic_u64 *counter;
  static const char msg[] = "hello from the child";
  if ((rc = mmapio_view_atomic_u64_mut(m, COUNTER_OFF, &counter)) == 0)
    rc = mmapio_update(m, MESSAGE_OFF, msg, sizeof msg);
  if (rc == 0)
    mmapio_atomic_u64_fetch_add(counter, 41);
  mmapio_close(m);
  fflush(stdout); /* the child leaves with _exit, which does not flush */
  return rc != 0 ? fail("child: writing", rc) : 0;
}

/* The parent: an unsealed region first (refused), then the sealed one. */
static int parent(int sock, mmapio_map *m, unsigned seals) {
  int rc;
  if (seals != 0) {
    mmapio_map *plain;
    if ((rc = mmapio_anon(&plain, SIZE)) != 0)
      return fail("mmapio_anon", rc);
    rc = mmapio_anon_send(plain, sock);
    mmapio_close(plain);
    if (rc != 0)
      return fail("mmapio_anon_send(unsealed)", rc);
  }
  if ((rc = mmapio_anon_send(m, sock)) != 0)
    return fail("mmapio_anon_send", rc);
  return 0;
}

static int share(mmapio_map *m, unsigned seals) {
  int sv[2], status;
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
    perror("socketpair");
    return 1;
  }
  fflush(stdout); /* or the child would print the parent's buffer again */
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    close(sv[0]);
    _exit(child(sv[1], seals));
  }
  close(sv[1]);
  int rc = parent(sv[0], m, seals);
  close(sv[0]);
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0 || rc != 0) {
    fprintf(stderr, "the child failed\n");
    return 1;
  }
  const mmapio_atomic_u64 *counter;
  const void *msg;
  if ((rc = mmapio_view_atomic_u64(m, COUNTER_OFF, &counter)) == 0)
    rc = mmapio_view(m, MESSAGE_OFF, 21, &msg);
  if (rc != 0)
    return fail("mmapio_view", rc);
  uint64_t n = mmapio_atomic_u64_load(counter);
  printf("parent: counter %llu, message \"%s\"\n", (unsigned long long)n,
         (const char *)msg);
  return n == 42 && strcmp(msg, "hello from the child") == 0 ? 0 : 1;
}

int main(void) {
  mmapio_map *m;
  mmapio_atomic_u64 *counter;
  int rc = mmapio_anon(&m, SIZE);
  if (rc != 0)
    return fail("mmapio_anon", rc);
  unsigned seals = SEALS;
  if ((rc = mmapio_anon_seal(m, SEALS)) == MMAPIO_E_UNSUPPORTED) {
    printf("unsupported here: %s; sharing without seals\n",
           mmapio_last_error()->message);
    seals = 0;
  } else if (rc != 0) {
    mmapio_close(m);
    return fail("mmapio_anon_seal", rc);
  } else {
    rc = mmapio_resize(m, 2 * SIZE, NULL);
    printf("growing the sealed region: %s: %s\n", mmapio_error_name(rc),
           mmapio_last_error()->message);
    if (rc != MMAPIO_E_RESIZE_FAILED) {
      mmapio_close(m);
      return 1;
    }
  }
  if ((rc = mmapio_view_atomic_u64_mut(m, COUNTER_OFF, &counter)) != 0) {
    mmapio_close(m);
    return fail("mmapio_view_atomic_u64_mut", rc);
  }
  mmapio_atomic_u64_store(counter, 1);
  int status = share(m, seals);
  mmapio_close(m);
  return status;
}
