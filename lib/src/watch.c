/*
 * Watching the backing file. The platform layer subscribes (inotify on
 * the open file, on Linux) and translates the system's events; this file
 * runs the dispatcher thread, which turns them into mmapio_watch_events.
 * Sizes are tracked with the file's status so that a change of size comes
 * with its byte range, and an event-queue overflow becomes a re-check of
 * the file instead of silence.
 */
#include "internal.h"
#include "os.h"

#include <errno.h>
#include <stdlib.h>

struct mmapio_watch {
  mmapio_map *map;
  mmapio_pin pin; /* keeps map (and its fd) alive while watching */
  mmapio_watch_cb cb;
  void *user;
  int wd;               /* the subscription */
  int wake_rd, wake_wr; /* set by mmapio_watch_stop */
  pthread_t thread;
  _Atomic bool stop;
  bool self_stop;     /* stopped from its own callback (dispatcher only) */
  mmi_file_info last; /* the file's status at the last event: the baseline
                          each event is compared against (dispatcher only,
                          after start) */
};

/* The watch whose callback is running on this thread, if any. */
static _Thread_local mmapio_watch *dispatching;

static int file_state(int fd, mmi_file_info *out) {
  return mmi_os_stat_fd(fd, out) == 0 ? 0 : errno;
}

static bool same_time(struct timespec a, struct timespec b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static void emit(mmapio_watch *w, mmapio_watch_kind kind,
                 const mmi_file_info *now, bool overflowed) {
  if (atomic_load_explicit(&w->stop, memory_order_acquire))
    return;
  mmapio_watch_event ev = {kind, false, 0, 0, now->size, overflowed};
  if (kind == MMAPIO_WATCH_MODIFIED && now->size != w->last.size) {
    bool grew = now->size > w->last.size;
    ev.range_known = true;
    ev.offset = grew ? w->last.size : now->size;
    ev.length = grew ? now->size - w->last.size : w->last.size - now->size;
  }
  dispatching = w;
  w->cb(&ev, w->user);
  dispatching = NULL;
}

/* Events were lost: compare the file with the last known state and
 * report at least one change. */
static void rescan(mmapio_watch *w, const mmi_file_info *now) {
  const mmi_file_info *was = &w->last;
  if (now->nlink == 0 && was->nlink != 0)
    emit(w, MMAPIO_WATCH_REMOVED, now, true);
  if (now->size == was->size && same_time(now->mtime, was->mtime) &&
      !same_time(now->ctime, was->ctime))
    emit(w, MMAPIO_WATCH_METADATA, now, true);
  else
    emit(w, MMAPIO_WATCH_MODIFIED, now, true);
}

static void handle(mmapio_watch *w, unsigned k) {
  mmi_file_info now = w->last;
  (void)file_state(w->map->fd, &now); /* keeps the baseline on failure */
  /* The link count is the baseline of removal, and only the events that
   * report a change of links move it: when a write and then an unlink
   * come in one batch, the write's fstat already sees no link, and the
   * unlink's own event must still find the old count to say REMOVED. */
  if (!(k & (MMI_WEV_OVERFLOW | MMI_WEV_ATTRIB | MMI_WEV_DELETED |
             MMI_WEV_IGNORED)))
    now.nlink = w->last.nlink;
  if (k & MMI_WEV_OVERFLOW) {
    rescan(w, &now);
  } else {
    if (k & MMI_WEV_MODIFY)
      emit(w, MMAPIO_WATCH_MODIFIED, &now, false);
    if (k & MMI_WEV_ATTRIB)
      emit(w,
           now.nlink == 0 && w->last.nlink != 0 ? MMAPIO_WATCH_REMOVED
                                                : MMAPIO_WATCH_METADATA,
           &now, false);
    if (k & MMI_WEV_MOVED)
      emit(w, MMAPIO_WATCH_METADATA, &now, false);
    /* The inode is gone or the kernel dropped the watch (e.g. the file
     * system went away): report removal unless it was reported. */
    if ((k & (MMI_WEV_DELETED | MMI_WEV_IGNORED)) && w->last.nlink != 0) {
      now.nlink = 0;
      emit(w, MMAPIO_WATCH_REMOVED, &now, false);
    }
  }
  w->last = now;
}

static void release(mmapio_watch *w) {
  mmi_os_close(w->wd);
  mmi_os_notifier_close(w->wake_rd, w->wake_wr);
  mmapio_unpin(&w->pin);
  free(w);
}

static void *dispatcher_main(void *arg) {
  mmapio_watch *w = arg;
  unsigned kinds[64];
  while (!atomic_load_explicit(&w->stop, memory_order_acquire)) {
    size_t n = 0;
    int e = mmi_os_watch_read(w->wd, kinds, sizeof kinds / sizeof *kinds, &n);
    if (e != 0) {
      /* EAGAIN: wait for more. Anything else cannot be recovered from;
       * wait for the stop. */
      (void)mmi_os_wait_readable(e == EAGAIN ? w->wd : -1, w->wake_rd);
      continue;
    }
    for (size_t i = 0; i < n; i++)
      handle(w, kinds[i]);
  }
  if (w->self_stop) {
    pthread_detach(pthread_self());
    release(w);
  }
  return NULL;
}

int mmapio_watch_start(mmapio_watch **out, mmapio_map *m, mmapio_watch_cb cb,
                       void *user) {
  static const char fn[] = "mmapio_watch_start";
  if (out == NULL || m == NULL || cb == NULL)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "%s: out, m and cb must not be NULL", fn);
  if (m->anonymous)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "%s: an anonymous mapping has no file to watch", fn);
  if (!mmi_os_has_watch())
    return mmi_fail(MMAPIO_E_UNSUPPORTED, 0, NULL,
                    "%s: file watching (inotify) is not available in this "
                    "build",
                    fn);
  mmapio_watch *w = calloc(1, sizeof *w);
  if (w == NULL)
    return mmi_fail(MMAPIO_E_NO_MEMORY, ENOMEM, NULL,
                    "%s: allocating the watch failed", fn);
  w->map = m;
  w->cb = cb;
  w->user = user;
  w->wd = w->wake_rd = w->wake_wr = -1;
  atomic_init(&w->stop, false);
  const char *call = NULL;
  int e = mmi_os_watch_open(m->fd, m->path, &w->wd, &call);
  if (e == 0 && mmi_os_notifier_open(&w->wake_rd, &w->wake_wr) != 0)
    e = errno, call = mmi_os_notifier_call();
  /* Subscribed first, so no change after this baseline goes unseen. */
  if (e == 0 && (e = file_state(m->fd, &w->last)) != 0)
    call = "fstat";
  if (e == 0 && (e = mmapio_pin_range(&w->pin, m, 0, 0)) != 0) {
    e = EINVAL; /* cannot happen: m is not NULL */
    call = NULL;
  }
  if (e == 0 &&
      (e = mmi_os_thread_start(&w->thread, dispatcher_main, w)) != 0) {
    mmapio_unpin(&w->pin);
    call = "pthread_create";
  }
  if (e != 0) {
    if (w->wd >= 0)
      mmi_os_close(w->wd);
    mmi_os_notifier_close(w->wake_rd, w->wake_wr);
    free(w);
    return mmi_fail(MMAPIO_E_WATCH_FAILED, e, call, "%s: cannot watch '%s'", fn,
                    m->path != NULL ? m->path : "(fd)");
  }
  *out = w;
  return 0;
}

void mmapio_watch_stop(mmapio_watch *w) {
  if (w == NULL)
    return;
  atomic_store_explicit(&w->stop, true, memory_order_release);
  if (dispatching == w) {
    /* From its own callback: the dispatcher cleans up once it returns. */
    w->self_stop = true;
    return;
  }
  mmi_os_notifier_set(w->wake_wr);
  pthread_join(w->thread, NULL);
  release(w);
}
