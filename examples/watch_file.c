/*
 * Watch a file for changes.
 *
 * Shows: mmapio_watch_start subscribes to changes of the mapped file made
 * through system calls by any process (here: write(), ftruncate() and
 * unlink() by this one); the callback runs on the watch's own thread, with
 * the kind of change and, when the size changed, the byte range.
 * mmapio_watch_stop ends it. Writes through a mapping are not reported:
 * the kernel does not notify them.
 *
 * Linux only (inotify): elsewhere, and in POSIX-only builds, the documented
 * outcome is MMAPIO_E_UNSUPPORTED; the example then says "unsupported
 * here" with the reason and exits 0.
 *
 * Run: build/debug/examples/example_watch_file
 *      It works in a temporary directory under $TMPDIR (or /tmp), removes
 *      it, and exits 0 once it has seen a MODIFIED and the REMOVED event.
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <mmapio.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct seen {
  pthread_mutex_t lock;
  pthread_cond_t changed;
  int modified, removed;
} seen;

static const char *kind_name(mmapio_watch_kind k) {
  return k == MMAPIO_WATCH_MODIFIED   ? "MODIFIED"
         : k == MMAPIO_WATCH_METADATA ? "METADATA"
                                      : "REMOVED";
}

/* Runs on the watch's dispatcher thread, one event at a time. */
static void on_change(const mmapio_watch_event *ev, void *user) {
  seen *s = user;
  if (ev->range_known)
    printf("event: %-8s bytes [%llu, +%llu), size now %llu\n",
           kind_name(ev->kind), (unsigned long long)ev->offset,
           (unsigned long long)ev->length, (unsigned long long)ev->size);
  else
    printf("event: %-8s size now %llu\n", kind_name(ev->kind),
           (unsigned long long)ev->size);
  fflush(stdout);
  pthread_mutex_lock(&s->lock);
  s->modified += ev->kind == MMAPIO_WATCH_MODIFIED;
  s->removed += ev->kind == MMAPIO_WATCH_REMOVED;
  pthread_cond_signal(&s->changed);
  pthread_mutex_unlock(&s->lock);
}

/* What another program might do to the file, with plain system calls. */
static int change(const char *path) {
  int fd = open(path, O_WRONLY);
  if (fd < 0)
    return -1;
  int rc = pwrite(fd, "news", 4, 100) == 4 && ftruncate(fd, 8192) == 0;
  close(fd);
  return rc && unlink(path) == 0 ? 0 : -1;
}

static int watch(mmapio_map *m, const char *path) {
  seen s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
  mmapio_watch *w;
  int rc = mmapio_watch_start(&w, m, on_change, &s);
  if (rc == MMAPIO_E_UNSUPPORTED) {
    printf("unsupported here: %s\n", mmapio_last_error()->message);
    unlink(path);
    return 0;
  }
  if (rc != 0) {
    fprintf(stderr, "mmapio_watch_start: %s: %s\n", mmapio_error_name(rc),
            mmapio_last_error()->message);
    unlink(path);
    return 1;
  }
  if (change(path) != 0) {
    perror("changing the file");
    mmapio_watch_stop(w);
    return 1;
  }
  /* The watch reports every change (merged at worst): wait for the last. */
  pthread_mutex_lock(&s.lock);
  while (s.removed == 0)
    pthread_cond_wait(&s.changed, &s.lock);
  pthread_mutex_unlock(&s.lock);
  mmapio_watch_stop(w);
  printf("seen: %d MODIFIED, %d REMOVED; the mapping is still %llu bytes\n",
         s.modified, s.removed, (unsigned long long)mmapio_len(m));
  return s.modified > 0 ? 0 : 1;
}

int main(void) {
  const char *tmp = getenv("TMPDIR");
  char dir[4096], path[4200];
  snprintf(dir, sizeof dir, "%s/mmapio-watch-XXXXXX", tmp ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(path, sizeof path, "%s/watched.bin", dir);
  mmapio_map *m = NULL;
  int rc = mmapio_create(&m, path, 4096);
  int status = 1;
  if (rc != 0)
    fprintf(stderr, "mmapio_create: %s: %s\n", mmapio_error_name(rc),
            mmapio_last_error()->message);
  else
    status = watch(m, path);
  mmapio_close(m);
  unlink(path); /* if watching never got to remove it */
  rmdir(dir);
  return status;
}
