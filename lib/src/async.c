/*
 * Asynchronous operations on a caller-owned pool of worker threads.
 *
 * A job is queued on `todo`, run by a worker, and then either handed to
 * its callback on that worker or moved to `done`, where it waits for
 * mmapio_async_reap. The pool's notifier (an eventfd or a pipe) is set
 * exactly while `done` is non-empty; both are changed under `mu`, so the
 * descriptor's readability never disagrees with the queue.
 *
 * A job on a handle holds a pin over [0, 0) from submission until just
 * before its completion is delivered: the handle outlives the job even
 * when its owner closes it, and once the completion is seen the pool
 * holds nothing.
 */
#include "internal.h"
#include "os.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct mmi_job {
  struct mmi_job *next;
  mmapio_async_cb cb;  /* NULL: deliver through the done queue */
  mmapio_pin pin;      /* the reference on map, for ops on a handle */
  mmapio_map *map;     /* the handle operated on, or NULL */
  uint64_t off, len;   /* FLUSH_RANGE, UPDATE */
  void *data;          /* UPDATE: owned copy of the bytes */
  char *path, *path2;  /* CREATE, COPY (src, dst), DELETE: owned copies */
  mmapio_completion c; /* op and user set at submission; the rest on run */
} mmi_job;

typedef struct mmi_queue {
  mmi_job *head, *tail;
} mmi_queue;

struct mmapio_async_pool {
  pthread_mutex_t mu;
  pthread_cond_t work;  /* signalled when todo gains a job or stopping */
  mmi_queue todo;       /* guarded by mu */
  mmi_queue done;       /* guarded by mu */
  bool stopping;        /* guarded by mu */
  int note_rd, note_wr; /* the completion notifier */
  unsigned nthreads;    /* threads started */
  pthread_t *threads;
};

static void push(mmi_queue *q, mmi_job *j) {
  j->next = NULL;
  if (q->tail != NULL)
    q->tail->next = j;
  else
    q->head = j;
  q->tail = j;
}

static mmi_job *pop(mmi_queue *q) {
  mmi_job *j = q->head;
  if (j != NULL && (q->head = j->next) == NULL)
    q->tail = NULL;
  return j;
}

static void free_job(mmi_job *j) {
  free(j->data);
  free(j->path);
  free(j->path2);
  free(j);
}

/* ---- running ---- */

static int run(mmi_job *j) {
  mmapio_map *m = j->map;
  switch (j->c.op) {
  case MMAPIO_ASYNC_FLUSH:
    return mmapio_flush(m);
  case MMAPIO_ASYNC_FLUSH_RANGE:
    return mmapio_flush_range(m, j->off, j->len);
  case MMAPIO_ASYNC_UPDATE: {
    int rc = mmapio_update(m, j->off, j->data, (size_t)j->len);
    return rc != 0 ? rc : mmapio_flush_range(m, j->off, j->len);
  }
  case MMAPIO_ASYNC_CREATE:
    return mmapio_create(&j->c.map, j->path, j->off);
  case MMAPIO_ASYNC_COPY:
    return mmapio_copy_file(j->path, j->path2);
  case MMAPIO_ASYNC_DELETE:
    return mmapio_delete_file(j->path);
  }
  return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                  "async: unknown operation %d", (int)j->c.op);
}

static void run_and_deliver(mmapio_async_pool *p, mmi_job *j) {
  j->c.status = run(j);
  if (j->c.status != 0)
    j->c.error = *mmapio_last_error();
  /* Drop the reference before anyone sees the completion, so that its
   * receiver may unmap the handle. */
  if (j->map != NULL) {
    mmapio_unpin(&j->pin);
    j->map = NULL;
  }
  if (j->cb != NULL) {
    j->cb(&j->c);
    free_job(j);
    return;
  }
  pthread_mutex_lock(&p->mu);
  if (p->done.head == NULL)
    mmi_os_notifier_set(p->note_wr);
  push(&p->done, j);
  pthread_mutex_unlock(&p->mu);
}

static void *worker_main(void *arg) {
  mmapio_async_pool *p = arg;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    mmi_job *j = pop(&p->todo);
    if (j == NULL) {
      if (p->stopping)
        break;
      pthread_cond_wait(&p->work, &p->mu);
      continue;
    }
    pthread_mutex_unlock(&p->mu);
    run_and_deliver(p, j);
    pthread_mutex_lock(&p->mu);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

/* ---- the pool ---- */

static void stop_workers(mmapio_async_pool *p) {
  pthread_mutex_lock(&p->mu);
  p->stopping = true;
  pthread_cond_broadcast(&p->work);
  pthread_mutex_unlock(&p->mu);
  for (unsigned i = 0; i < p->nthreads; i++)
    pthread_join(p->threads[i], NULL);
}

static void free_pool(mmapio_async_pool *p) {
  mmi_os_notifier_close(p->note_rd, p->note_wr);
  pthread_cond_destroy(&p->work);
  pthread_mutex_destroy(&p->mu);
  free(p->threads);
  free(p);
}

int mmapio_async_pool_create(mmapio_async_pool **out, unsigned nthreads) {
  static const char fn[] = "mmapio_async_pool_create";
  if (out == NULL || nthreads == 0 || nthreads > MMAPIO_ASYNC_MAX_THREADS)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "%s: out is NULL or nthreads %u is not in [1, %d]", fn,
                    nthreads, MMAPIO_ASYNC_MAX_THREADS);
  mmapio_async_pool *p = calloc(1, sizeof *p);
  pthread_t *threads = calloc(nthreads, sizeof *threads);
  if (p == NULL || threads == NULL) {
    free(p);
    free(threads);
    return mmi_fail(MMAPIO_E_NO_MEMORY, ENOMEM, NULL,
                    "%s: allocating the pool failed", fn);
  }
  p->threads = threads;
  if (mmi_os_notifier_open(&p->note_rd, &p->note_wr) != 0) {
    int e = errno;
    free(threads);
    free(p);
    return mmi_fail(MMAPIO_E_IO, e, mmi_os_notifier_call(),
                    "%s: creating the completion descriptor failed", fn);
  }
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->work, NULL);
  for (; p->nthreads < nthreads; p->nthreads++) {
    int e = mmi_os_thread_start(&p->threads[p->nthreads], worker_main, p);
    if (e != 0) {
      unsigned started = p->nthreads;
      stop_workers(p);
      free_pool(p);
      return mmi_fail(MMAPIO_E_IO, e, "pthread_create",
                      "%s: starting worker thread %u of %u failed", fn,
                      started + 1, nthreads);
    }
  }
  *out = p;
  return 0;
}

void mmapio_async_pool_destroy(mmapio_async_pool *p) {
  if (p == NULL)
    return;
  pthread_t self = pthread_self();
  for (unsigned i = 0; i < p->nthreads; i++)
    if (pthread_equal(self, p->threads[i])) {
      fputs("mmapio: mmapio_async_pool_destroy called from a completion "
            "callback of the same pool; it would wait for itself\n",
            stderr);
      abort();
    }
  stop_workers(p);
  /* Every job has run; records nobody reaped are discarded, and a handle
   * created for one of them would otherwise leak. */
  for (mmi_job *j; (j = pop(&p->done)) != NULL;) {
    mmapio_close(j->c.map);
    free_job(j);
  }
  free_pool(p);
}

int mmapio_async_pool_fd(const mmapio_async_pool *p) {
  return p == NULL ? -1 : p->note_rd;
}

int mmapio_async_reap(mmapio_async_pool *p, mmapio_completion *out, size_t cap,
                      size_t *out_count) {
  if (p == NULL || out_count == NULL || (out == NULL && cap > 0))
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "mmapio_async_reap: pool, out_count or out is NULL");
  size_t n = 0;
  pthread_mutex_lock(&p->mu);
  mmi_job *j;
  while (n < cap && (j = pop(&p->done)) != NULL) {
    out[n++] = j->c;
    free_job(j);
  }
  if (p->done.head == NULL)
    mmi_os_notifier_clear(p->note_rd);
  pthread_mutex_unlock(&p->mu);
  *out_count = n;
  return 0;
}

/* ---- submitting ---- */

static int fail_null(const char *fn) {
  return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                  "%s: a required pointer argument is NULL", fn);
}

static int fail_alloc(const char *fn) {
  return mmi_fail(MMAPIO_E_NO_MEMORY, ENOMEM, NULL,
                  "%s: allocating the operation failed", fn);
}

/* A new job for op, with copies of the paths (either may be NULL). */
static mmi_job *new_job(mmapio_async_op op, mmapio_async_cb cb, void *user,
                        const char *path, const char *path2) {
  mmi_job *j = calloc(1, sizeof *j);
  if (j == NULL)
    return NULL;
  j->cb = cb;
  j->c.op = op;
  j->c.user = user;
  if ((path != NULL && (j->path = strdup(path)) == NULL) ||
      (path2 != NULL && (j->path2 = strdup(path2)) == NULL)) {
    free_job(j);
    return NULL;
  }
  return j;
}

static void submit(mmapio_async_pool *p, mmi_job *j) {
  pthread_mutex_lock(&p->mu);
  push(&p->todo, j);
  pthread_cond_signal(&p->work);
  pthread_mutex_unlock(&p->mu);
}

/* Queues j, an operation on m, holding a reference on m until it has
 * run. */
static int submit_on(mmapio_async_pool *p, mmi_job *j, mmapio_map *m) {
  int rc = mmapio_pin_range(&j->pin, m, 0, 0);
  if (rc != 0) {
    free_job(j);
    return rc;
  }
  j->map = m;
  submit(p, j);
  return 0;
}

int mmapio_async_flush(mmapio_async_pool *p, mmapio_map *m, mmapio_async_cb cb,
                       void *user) {
  static const char fn[] = "mmapio_async_flush";
  if (p == NULL || m == NULL)
    return fail_null(fn);
  mmi_job *j = new_job(MMAPIO_ASYNC_FLUSH, cb, user, NULL, NULL);
  if (j == NULL)
    return fail_alloc(fn);
  return submit_on(p, j, m);
}

int mmapio_async_flush_range(mmapio_async_pool *p, mmapio_map *m, uint64_t off,
                             uint64_t len, mmapio_async_cb cb, void *user) {
  static const char fn[] = "mmapio_async_flush_range";
  if (p == NULL || m == NULL)
    return fail_null(fn);
  mmi_job *j = new_job(MMAPIO_ASYNC_FLUSH_RANGE, cb, user, NULL, NULL);
  if (j == NULL)
    return fail_alloc(fn);
  j->off = off;
  j->len = len;
  return submit_on(p, j, m);
}

int mmapio_async_update(mmapio_async_pool *p, mmapio_map *m, uint64_t off,
                        const void *src, size_t len, mmapio_async_cb cb,
                        void *user) {
  static const char fn[] = "mmapio_async_update";
  if (p == NULL || m == NULL || (src == NULL && len > 0))
    return fail_null(fn);
  mmi_job *j = new_job(MMAPIO_ASYNC_UPDATE, cb, user, NULL, NULL);
  if (j == NULL || (len > 0 && (j->data = malloc(len)) == NULL)) {
    free(j);
    return fail_alloc(fn);
  }
  if (len > 0)
    memcpy(j->data, src, len);
  j->off = off;
  j->len = len;
  return submit_on(p, j, m);
}

int mmapio_async_create(mmapio_async_pool *p, const char *path, uint64_t size,
                        mmapio_async_cb cb, void *user) {
  static const char fn[] = "mmapio_async_create";
  if (p == NULL || path == NULL)
    return fail_null(fn);
  mmi_job *j = new_job(MMAPIO_ASYNC_CREATE, cb, user, path, NULL);
  if (j == NULL)
    return fail_alloc(fn);
  j->off = size;
  submit(p, j);
  return 0;
}

int mmapio_async_copy_file(mmapio_async_pool *p, const char *src,
                           const char *dst, mmapio_async_cb cb, void *user) {
  static const char fn[] = "mmapio_async_copy_file";
  if (p == NULL || src == NULL || dst == NULL)
    return fail_null(fn);
  mmi_job *j = new_job(MMAPIO_ASYNC_COPY, cb, user, src, dst);
  if (j == NULL)
    return fail_alloc(fn);
  submit(p, j);
  return 0;
}

int mmapio_async_delete_file(mmapio_async_pool *p, const char *path,
                             mmapio_async_cb cb, void *user) {
  static const char fn[] = "mmapio_async_delete_file";
  if (p == NULL || path == NULL)
    return fail_null(fn);
  mmi_job *j = new_job(MMAPIO_ASYNC_DELETE, cb, user, path, NULL);
  if (j == NULL)
    return fail_alloc(fn);
  submit(p, j);
  return 0;
}
