/*
 * Background work on one handle of any kind (any flush policy,
 * EVERY_MILLIS's thread included): an asynchronous pool running flushes,
 * updates, creates, copies and deletes, completed through callbacks
 * (which may submit more) or the pollable descriptor and reap; and
 * watches of the file, stopped from outside or from their own callback,
 * while the file's metadata and bytes change through other descriptors.
 *
 * Every completion must carry the status the synchronous call would
 * return and arrive exactly once; the model takes the updates in
 * submission order (one worker) or from disjoint ranges (several).
 * Watch events must be well formed; when they arrive is the kernel's
 * business. The handle may be closed with operations and watches in
 * flight: they keep it alive.
 */
#define _GNU_SOURCE 1

#include "support.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOBS_MAX 64
#define WATCHES 2

typedef struct job {
  mmapio_async_op op;
  int expect;        /* the status the synchronous call returns */
  uint64_t off, len; /* UPDATE: where its bytes go */
  uint64_t size;     /* CREATE: the size asked */
  char path[300];    /* CREATE, COPY: the file made */
  bool done;         /* its completion arrived (guarded by mu) */
} job;

typedef struct watch {
  mmapio_watch *w;
  pthread_mutex_t mu;
  bool stop_taken; /* the callback or the main thread stopped it */
  bool self_stop;  /* the callback stops it at its next event */
  unsigned events;
} watch;

/* Callbacks that stopped their own watch and have not returned yet: such
 * a watch is never joined, so the input waits for this to reach 0 (with
 * acquire: their last writes come before) before it lets go of `s`. */
static atomic_uint self_stops_running;

typedef struct state {
  fz_map fm;
  mmapio_async_pool *pool;
  unsigned nthreads;
  job jobs[JOBS_MAX];
  unsigned njobs, inflight_updates;
  pthread_mutex_t mu; /* guards jobs, njobs, delivered, nested, fm.m */
  unsigned delivered; /* completions that arrived */
  unsigned nested;    /* submissions made by callbacks */
  bool self_stopped;  /* a watch stopped itself: it lets go later */
  watch watches[WATCHES];
  char src[300]; /* a file copies read: a pattern that never changes */
  unsigned char *src_bytes;
  unsigned seq;
} state;

static state s;

/* ---- Completions ---- */

static job *new_job(mmapio_async_op op, int expect) {
  if (s.njobs == JOBS_MAX)
    return NULL;
  job *j = &s.jobs[s.njobs++];
  memset(j, 0, sizeof *j);
  j->op = op;
  j->expect = expect;
  return j;
}

/* Checks one completion record against its job and counts it. */
static job *arrived(const mmapio_completion *c) {
  job *j = c->user;
  FZ_CHECK(j >= s.jobs && j < s.jobs + JOBS_MAX, "a completion for no job");
  FZ_CHECK(c->op == j->op, "a completion's op");
  FZ_RC(c->status, j->expect, "an asynchronous operation's status");
  FZ_CHECK(c->status == 0 ? c->error.code == 0 : c->error.code == c->status,
           "a completion's error detail");
  FZ_CHECK((c->map != NULL) == (j->op == MMAPIO_ASYNC_CREATE && c->status == 0),
           "a completion carries a handle exactly for a create");
  if (c->map != NULL) {
    FZ_CHECK(mmapio_len(c->map) == j->size, "the created handle's length");
    mmapio_close(c->map);
  }
  pthread_mutex_lock(&s.mu);
  FZ_CHECK(!j->done, "a second completion for one job");
  j->done = true;
  s.delivered++;
  pthread_mutex_unlock(&s.mu);
  return j;
}

static void submit_flush_range_locked(uint64_t off, uint64_t len, bool cb);

static void on_complete(const mmapio_completion *c) {
  job *j = c->user;
  /* A callback may submit: a flush of what an update wrote, unless the
   * owner has let the handle go (this job's reference is gone already). */
  pthread_mutex_lock(&s.mu);
  if (j->op == MMAPIO_ASYNC_UPDATE && s.nested < 8 && s.fm.m != NULL) {
    s.nested++;
    submit_flush_range_locked(j->off, j->len, false);
  }
  pthread_mutex_unlock(&s.mu);
  arrived(c);
}

/* Reaps up to cap queued records; returns how many. */
static size_t reap(size_t cap) {
  mmapio_completion got[8];
  size_t n = 99;
  FZ_RC(mmapio_async_reap(s.pool, got, cap, &n), 0, "mmapio_async_reap");
  FZ_CHECK(n <= cap, "reap took more than asked");
  for (size_t i = 0; i < n; i++)
    arrived(&got[i]);
  return n;
}

static bool all_delivered(void) {
  pthread_mutex_lock(&s.mu);
  bool all = s.delivered == s.njobs;
  pthread_mutex_unlock(&s.mu);
  return all;
}

/* Waits until every submission has completed; then nothing is queued
 * and the descriptor does not poll readable. */
static void drain(void) {
  struct pollfd p = {mmapio_async_pool_fd(s.pool), POLLIN, 0};
  while (!all_delivered()) {
    poll(&p, 1, 10);
    reap(8);
  }
  FZ_CHECK(poll(&p, 1, 0) == 0 && reap(8) == 0,
           "the descriptor polls readable with nothing queued");
}

/* ---- Submitting ---- */

static void submit_flush_range_locked(uint64_t off, uint64_t len, bool cb) {
  job *j = new_job(MMAPIO_ASYNC_FLUSH_RANGE, fz_bounds(off, len, s.fm.len));
  if (j != NULL)
    FZ_RC(mmapio_async_flush_range(s.pool, s.fm.m, off, len,
                                   cb ? on_complete : NULL, j),
          0, "mmapio_async_flush_range");
}

/* An update's range: anywhere with one worker (they run in order), else
 * its own slice of the mapping, so that concurrent updates never touch
 * the same bytes. Never longer than the buffer it is copied from. */
static void update_range(fz_input *in, uint64_t *off, uint64_t *len) {
  fz_map *fm = &s.fm;
  if (s.nthreads == 1) {
    *off = fz_edgy(in, fm->len);
    *len = fz_edgy(in, fm->len > *off ? fm->len - *off : 0);
    if (*len > FZ_MAX)
      *len = FZ_MAX;
    return;
  }
  uint64_t slice = fm->len / JOBS_MAX;
  *off = slice * s.inflight_updates;
  *len = slice > 0 ? fz_take(in, 3) % (slice + 1) : 0;
}

static void op_submit(fz_input *in) {
  fz_map *fm = &s.fm;
  bool cb = fz_take(in, 1) & 1;
  mmapio_async_cb fn = cb ? on_complete : NULL;
  char name[64];
  job *j = NULL;
  unsigned what = fz_pick(in, 6);
  if (fm->m == NULL && what < 3)
    what = 3; /* the handle is closed: file operations only */
  pthread_mutex_lock(&s.mu);
  switch (what) {
  case 0:
    j = new_job(MMAPIO_ASYNC_FLUSH, 0);
    pthread_mutex_unlock(&s.mu);
    if (j != NULL)
      FZ_RC(mmapio_async_flush(s.pool, fm->m, fn, j), 0, "mmapio_async_flush");
    return;
  case 1:
    submit_flush_range_locked(fz_edgy(in, fm->len), fz_edgy(in, fm->len), cb);
    pthread_mutex_unlock(&s.mu);
    return;
  case 2: {
    uint64_t off, len;
    update_range(in, &off, &len);
    int expect =
        fz_write_mode(fm) ? fz_write_mode(fm) : fz_bounds(off, len, fm->len);
    j = new_job(MMAPIO_ASYNC_UPDATE, expect);
    pthread_mutex_unlock(&s.mu);
    if (j == NULL)
      return;
    j->off = off;
    j->len = len;
    s.inflight_updates++;
    fz_pattern(fm->scratch, (size_t)len, s.seq + (unsigned)(j - s.jobs));
    FZ_RC(mmapio_async_update(s.pool, fm->m, off, fm->scratch, (size_t)len, fn,
                              j),
          0, "mmapio_async_update");
    return;
  }
  case 3: {
    uint64_t size = fz_pick(in, 4) == 0 ? 0 : 1 + fz_take(in, 2);
    j = new_job(MMAPIO_ASYNC_CREATE, size == 0 ? MMAPIO_E_RESIZE_FAILED : 0);
    pthread_mutex_unlock(&s.mu);
    if (j == NULL)
      return;
    j->size = size;
    snprintf(name, sizeof name, "new-%u.bin", (unsigned)(j - s.jobs));
    fz_path(j->path, sizeof j->path, name);
    FZ_RC(mmapio_async_create(s.pool, j->path, size, fn, j), 0,
          "mmapio_async_create");
    return;
  }
  case 4: {
    unsigned from = fz_pick(in, 3); /* the source, missing, a directory */
    j = new_job(MMAPIO_ASYNC_COPY, from == 0   ? 0
                                   : from == 1 ? MMAPIO_E_IO
                                               : MMAPIO_E_INVALID_ARGUMENT);
    pthread_mutex_unlock(&s.mu);
    if (j == NULL)
      return;
    snprintf(name, sizeof name, "copy-%u.bin", (unsigned)(j - s.jobs));
    fz_path(j->path, sizeof j->path, name);
    char missing[300];
    fz_path(missing, sizeof missing, "missing.bin");
    FZ_RC(mmapio_async_copy_file(s.pool,
                                 from == 0   ? s.src
                                 : from == 1 ? missing
                                             : fz_dir(),
                                 j->path, fn, j),
          0, "mmapio_async_copy_file");
    return;
  }
  default: {
    unsigned which = fz_pick(in, 3); /* made here, missing, a directory */
    char path[300];
    snprintf(name, sizeof name, "gone-%u.bin", s.njobs);
    fz_path(path, sizeof path, name);
    if (which == 0)
      fz_write_file(path, (const unsigned char *)"x", 1);
    j = new_job(MMAPIO_ASYNC_DELETE, which == 0   ? 0
                                     : which == 1 ? MMAPIO_E_IO
                                                  : MMAPIO_E_INVALID_ARGUMENT);
    pthread_mutex_unlock(&s.mu);
    if (j != NULL)
      FZ_RC(
          mmapio_async_delete_file(s.pool, which == 2 ? fz_dir() : path, fn, j),
          0, "mmapio_async_delete_file");
    return;
  }
  }
}

/* The arguments every submission checks itself. */
static void op_bad_submissions(void) {
  mmapio_map *m = s.fm.m;
  FZ_RC(mmapio_async_flush(NULL, m, NULL, NULL), MMAPIO_E_INVALID_ARGUMENT,
        "async_flush(pool NULL)");
  FZ_RC(mmapio_async_flush(s.pool, NULL, NULL, NULL), MMAPIO_E_INVALID_ARGUMENT,
        "async_flush(m NULL)");
  FZ_RC(mmapio_async_flush_range(s.pool, NULL, 0, 0, NULL, NULL),
        MMAPIO_E_INVALID_ARGUMENT, "async_flush_range(m NULL)");
  FZ_RC(mmapio_async_update(s.pool, m, 0, NULL, 1, NULL, NULL),
        MMAPIO_E_INVALID_ARGUMENT, "async_update(src NULL)");
  FZ_RC(mmapio_async_create(s.pool, NULL, 1, NULL, NULL),
        MMAPIO_E_INVALID_ARGUMENT, "async_create(path NULL)");
  FZ_RC(mmapio_async_copy_file(s.pool, s.src, NULL, NULL, NULL),
        MMAPIO_E_INVALID_ARGUMENT, "async_copy_file(dst NULL)");
  FZ_RC(mmapio_async_delete_file(s.pool, NULL, NULL, NULL),
        MMAPIO_E_INVALID_ARGUMENT, "async_delete_file(path NULL)");
  size_t n = 0;
  FZ_RC(mmapio_async_reap(s.pool, NULL, 1, &n), MMAPIO_E_INVALID_ARGUMENT,
        "async_reap(out NULL)");
  FZ_RC(mmapio_async_reap(NULL, NULL, 0, &n), MMAPIO_E_INVALID_ARGUMENT,
        "async_reap(pool NULL)");
  FZ_CHECK(mmapio_async_pool_fd(NULL) == -1, "async_pool_fd(NULL)");
}

/* Every job of the batch has run: the model takes the updates in
 * submission order, the files made are checked, and a flush makes the
 * pending count known again. */
static void apply_batch(void) {
  fz_map *fm = &s.fm;
  for (unsigned i = 0; i < s.njobs; i++) {
    job *j = &s.jobs[i];
    if (j->op == MMAPIO_ASYNC_UPDATE && j->expect == 0) {
      fz_pattern(fm->scratch, (size_t)j->len, s.seq + i);
      fz_model_poke(fm, j->off, fm->scratch, (size_t)j->len);
    }
    if (j->op == MMAPIO_ASYNC_COPY && j->expect == 0) {
      unsigned char *got = fm->scratch;
      FZ_CHECK(fz_read_file(j->path, got, FZ_MAX) == 4096 &&
                   memcmp(got, s.src_bytes, 4096) == 0,
               "a copy holds the source's bytes");
    }
    if ((j->op == MMAPIO_ASYNC_CREATE || j->op == MMAPIO_ASYNC_COPY) &&
        j->expect == 0)
      unlink(j->path);
  }
  s.seq += s.njobs;
  s.njobs = 0;
  s.delivered = 0;
  s.nested = 0;
  s.inflight_updates = 0;
  if (fm->m != NULL) {
    FZ_RC(mmapio_flush(fm->m), 0, "mmapio_flush after a batch");
    fz_model_flush(fm);
    FZ_RC(mmapio_read(fm->m, 0, fm->scratch, (size_t)fm->len), 0,
          "reading after a batch");
    fz_expect_bytes(fm, 0, fm->scratch, (size_t)fm->len,
                    "the bytes after a batch");
  }
}

static void settle(void) {
  drain();
  apply_batch();
}

/* ---- Watches ---- */

static void on_event(const mmapio_watch_event *ev, void *user) {
  watch *w = user;
  FZ_CHECK(ev->kind >= MMAPIO_WATCH_MODIFIED &&
               ev->kind <= MMAPIO_WATCH_REMOVED,
           "a watch event's kind");
  FZ_CHECK(
      !ev->range_known ||
          (ev->kind == MMAPIO_WATCH_MODIFIED && ev->length > 0 &&
           (ev->offset == ev->size || ev->offset + ev->length == ev->size)),
      "a watch event's range is the size's change");
  pthread_mutex_lock(&w->mu);
  w->events++;
  mmapio_watch *self = w->self_stop && !w->stop_taken ? w->w : NULL;
  if (self != NULL) {
    w->stop_taken = true;
    atomic_fetch_add_explicit(&self_stops_running, 1, memory_order_relaxed);
  }
  pthread_mutex_unlock(&w->mu);
  if (self != NULL) {
    mmapio_watch_stop(self); /* from its own callback */
    pthread_mutex_lock(&s.mu);
    s.self_stopped = true;
    pthread_mutex_unlock(&s.mu);
    atomic_fetch_sub_explicit(&self_stops_running, 1, memory_order_release);
  }
}

/* Stops a watch unless its callback did. */
static void watch_end(watch *w) {
  if (w->w == NULL)
    return;
  pthread_mutex_lock(&w->mu);
  mmapio_watch *mine = w->stop_taken ? NULL : w->w;
  w->stop_taken = true;
  w->w = NULL;
  pthread_mutex_unlock(&w->mu);
  mmapio_watch_stop(mine);
}

static void op_watch(fz_input *in) {
  fz_map *fm = &s.fm;
  watch *w = &s.watches[fz_pick(in, WATCHES)];
  if (w->w != NULL) {
    watch_end(w);
    return;
  }
  if (fm->m == NULL)
    return;
  mmapio_watch *got = NULL;
  FZ_RC(mmapio_watch_start(&got, fm->m, NULL, w), MMAPIO_E_INVALID_ARGUMENT,
        "watch_start(cb NULL)");
  /* Events may come before w->w is set: the callback stops only a
   * watch it can see. */
  pthread_mutex_lock(&w->mu);
  w->stop_taken = false;
  w->self_stop = fz_take(in, 1) & 1;
  w->events = 0;
  int rc = mmapio_watch_start(&got, fm->m, on_event, w);
  w->w = got;
  pthread_mutex_unlock(&w->mu);
  FZ_RC(rc, fm->kind == FZ_ANON ? MMAPIO_E_INVALID_ARGUMENT : FZ_EXT_OK,
        "mmapio_watch_start");
}

/* Changes the watched file through other descriptors and names: bytes
 * (rewritten as they are), size, mode, names. */
static void op_poke_file(fz_input *in) {
  fz_map *fm = &s.fm;
  if (fm->kind == FZ_ANON)
    return;
  char other[300];
  fz_path(other, sizeof other, "other-name.bin");
  switch (fz_pick(in, 4)) {
  case 0: {
    /* The same byte again: only while the model knows the file's bytes
     * (no update of this batch may have run yet). */
    if (s.inflight_updates > 0)
      break;
    int fd = open(fm->path, O_WRONLY | O_CLOEXEC);
    FZ_CHECK(fd >= 0, "opening the file to write it");
    const unsigned char *now = fm->kind == FZ_RW ? fm->bytes : fm->file;
    uint64_t off = fz_take(in, 3) % fm->len;
    FZ_CHECK(pwrite(fd, now + off, 1, (off_t)off) == 1, "pwrite");
    close(fd);
    break;
  }
  case 1:
    FZ_CHECK(chmod(fm->path, 0600 | (fz_take(in, 1) & 066)) == 0, "chmod");
    break;
  case 2:
    FZ_CHECK(rename(fm->path, other) == 0 && rename(other, fm->path) == 0,
             "renaming the file away and back");
    break;
  default:
    FZ_CHECK(link(fm->path, other) == 0 && unlink(other) == 0,
             "a second name, made and removed");
    break;
  }
}

/* Unmap is refused while a watch holds the handle; an operation holds
 * it until just before its completion is delivered, so one in flight
 * may or may not, and so may a watch whose callback stops it (at an
 * event that can come at any time, also during the unmap). */
static void op_unmap(void) {
  fz_map *fm = &s.fm;
  if (fm->m == NULL)
    return;
  pthread_mutex_lock(&s.mu);
  bool watched = false, maybe = s.delivered < s.njobs || s.self_stopped;
  for (int i = 0; i < WATCHES; i++)
    if (s.watches[i].w != NULL) {
      if (s.watches[i].self_stop)
        maybe = true;
      else
        watched = true;
    }
  int fd = -1;
  int rc = mmapio_unmap(fm->m, &fd);
  if (rc == 0)
    fm->m = NULL;
  pthread_mutex_unlock(&s.mu);
  if (rc == 0)
    close(fd);
  if (watched)
    FZ_RC(rc, MMAPIO_E_BUSY, "unmap of a watched handle");
  else if (!maybe || rc != MMAPIO_E_BUSY)
    FZ_RC(rc, 0, "mmapio_unmap");
}

/* ---- The run ---- */

static void pool_create(fz_input *in) {
  mmapio_async_pool *p = NULL;
  FZ_RC(mmapio_async_pool_create(&p, 0), MMAPIO_E_INVALID_ARGUMENT,
        "pool_create(0 threads)");
  FZ_RC(mmapio_async_pool_create(&p, MMAPIO_ASYNC_MAX_THREADS + 1),
        MMAPIO_E_INVALID_ARGUMENT, "pool_create(too many threads)");
  FZ_RC(mmapio_async_pool_create(NULL, 1), MMAPIO_E_INVALID_ARGUMENT,
        "pool_create(out NULL)");
  s.nthreads = 1 + fz_pick(in, 3);
  FZ_RC(mmapio_async_pool_create(&s.pool, s.nthreads), 0,
        "mmapio_async_pool_create");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_input in = {data, size};
  static unsigned char src_bytes[4096];
  static bool once;
  if (!once) {
    pthread_mutex_init(&s.mu, NULL);
    for (int i = 0; i < WATCHES; i++)
      pthread_mutex_init(&s.watches[i].mu, NULL);
    once = true;
  }
  fz_map *fm = &s.fm;
  fz_map_open(fm, &in,
              FZ_OPEN_CREATE | FZ_OPEN_EX | FZ_OPEN_EXISTING | FZ_OPEN_ANON);
  s.src_bytes = src_bytes;
  fz_pattern(src_bytes, sizeof src_bytes, 7);
  fz_path(s.src, sizeof s.src, "src.bin");
  fz_write_file(s.src, src_bytes, sizeof src_bytes);
  pool_create(&in);
  while (fz_more(&in)) {
    switch (fz_pick(&in, 10)) {
    case 0:
    case 1:
    case 2:
      op_submit(&in);
      break;
    case 3:
      reap(fz_pick(&in, 9));
      break;
    case 4:
      settle();
      if (fm->m != NULL)
        fz_map_step(fm, &in);
      break;
    case 5:
      op_watch(&in);
      break;
    case 6:
      op_poke_file(&in);
      break;
    case 7:
      op_bad_submissions();
      break;
    case 8:
      op_unmap();
      break;
    default:
      /* The owner lets go with work in flight; it keeps the handle. */
      if (fm->m != NULL && fz_take(&in, 1) == 0) {
        pthread_mutex_lock(&s.mu);
        mmapio_close(fm->m);
        fm->m = NULL;
        pthread_mutex_unlock(&s.mu);
      }
      break;
    }
  }
  /* Destroying the pool finishes what is in flight and discards records
   * nobody reaped (closing the handles of creates). */
  if (fz_take(&in, 1) & 1)
    drain();
  for (int i = 0; i < WATCHES; i++)
    watch_end(&s.watches[i]);
  mmapio_async_pool_destroy(s.pool);
  mmapio_async_pool_destroy(NULL);
  s.pool = NULL;
  apply_batch();
  while (atomic_load_explicit(&self_stops_running, memory_order_acquire) != 0)
    sched_yield();
  s.self_stopped = false;
  fz_map_finish(fm);
  return 0;
}
