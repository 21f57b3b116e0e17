/*
 * The EVERY_MILLIS policy: one thread per handle wakes every period and
 * flushes durably when anything is dirty — bytes counted by
 * mmapio_update, or dirty page-cache pages of the file, which also
 * covers writes through views, raw pointers and atomics. It is joined
 * before the handle's memory goes (close or unmap). A failure is sticky
 * (flush.c) and reported by the next explicit flush. The thread runs
 * with asynchronous signals blocked (mmi_os_thread_start).
 *
 * Cost. Each period costs one msync with MS_SYNC (plus one cachestat when
 * no update is pending), the same calls as a bare thread that msyncs
 * the mapping every period. What the writer pays is the kernel's: the
 * flush cleans each dirty page (write-protects its PTE, with a TLB
 * shootdown to the writer's CPU), so the next write to that page takes
 * a write-protect fault (page_mkwrite); the flush itself takes CPU for
 * the cleaning and the I/O submission. Both scale with the pages dirtied
 * per period, not with anything the library adds (perf/bm_policy.cpp).
 * The next period starts when the flush returns, not on a fixed clock:
 * a flush slower than the period is not followed at once by another,
 * which would double that cost; a write made after a flush began is
 * durable within two flushes and one period.
 */
#include "internal.h"
#include "os.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

struct mmi_flusher {
  pthread_t thread;
  pthread_mutex_t mu;  /* guards stop */
  pthread_cond_t wake; /* signalled by mmi_flusher_stop */
  bool stop;           /* guarded by mu */
  uint64_t period_ms;  /* the policy's argument */
  mmapio_map *map;     /* the handle flushed; outlives the thread */
};

static bool has_dirty(mmapio_map *m) {
  if (atomic_load_explicit(&m->pending, memory_order_relaxed) > 0)
    return true;
  /* Unknown (no cachestat) counts as dirty: flushing is the safe side. */
  return mmi_os_file_dirty(m->fd) != 0;
}

/* ms from now on the clock the condition variable waits on. */
static void deadline_after(struct timespec *ts, uint64_t ms) {
  uint64_t now = mmi_os_now_ns();
  ts->tv_sec = (time_t)(now / 1000000000u) + (time_t)(ms / 1000);
  ts->tv_nsec = (long)(now % 1000000000u) + (long)(ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

static void *flusher_main(void *arg) {
  struct mmi_flusher *f = arg;
  pthread_mutex_lock(&f->mu);
  while (!f->stop) {
    struct timespec ts;
    deadline_after(&ts, f->period_ms);
    while (!f->stop &&
           pthread_cond_timedwait(&f->wake, &f->mu, &ts) != ETIMEDOUT) {
    }
    if (f->stop)
      break;
    pthread_mutex_unlock(&f->mu);
    if (has_dirty(f->map))
      (void)mmapio_flush(f->map);
    pthread_mutex_lock(&f->mu);
  }
  pthread_mutex_unlock(&f->mu);
  return NULL;
}

int mmi_flusher_start(mmapio_map *m) {
  struct mmi_flusher *f = calloc(1, sizeof *f);
  if (f == NULL)
    return mmi_fail(MMAPIO_E_NO_MEMORY, ENOMEM, NULL,
                    "allocating the flusher failed");
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&f->wake, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&f->mu, NULL);
  f->period_ms = m->policy_arg;
  f->map = m;
  int e = mmi_os_thread_start(&f->thread, flusher_main, f);
  if (e != 0) {
    pthread_cond_destroy(&f->wake);
    pthread_mutex_destroy(&f->mu);
    free(f);
    return mmi_fail(MMAPIO_E_IO, e, "pthread_create",
                    "starting the EVERY_MILLIS flusher thread failed");
  }
  m->flusher = f;
  return 0;
}

void mmi_flusher_stop(mmapio_map *m) {
  struct mmi_flusher *f = m->flusher;
  if (f == NULL)
    return;
  pthread_mutex_lock(&f->mu);
  f->stop = true;
  pthread_cond_signal(&f->wake);
  pthread_mutex_unlock(&f->mu);
  pthread_join(f->thread, NULL);
  pthread_cond_destroy(&f->wake);
  pthread_mutex_destroy(&f->mu);
  free(f);
  m->flusher = NULL;
}
