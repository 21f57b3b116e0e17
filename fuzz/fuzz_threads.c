/*
 * Several threads on one read-write handle (a file or an anonymous
 * region; any policy; reservations small enough that growth moves the
 * base) while the main thread resizes it. In rounds: during a round the
 * workers take views, copy, walk, make segments and cursors, touch,
 * flush and count with atomics, and the main thread grows and shrinks
 * the mapping; between rounds the main thread alone writes new bytes.
 *
 * Invariants, not exact values: a worker's call returns 0, or
 * OUT_OF_BOUNDS when the length moved under it; every byte it sees
 * (above the pinned page of counters) is the round's byte or, once a
 * shrink may have cut it, zero; a resize returns 0 or BUSY. After each
 * round everything is exact again: each counter holds every increment,
 * and the bytes are the model's, with zeros wherever the round's
 * smallest length cut them.
 *
 * The workers never write the bytes they read (only the atomics), so a
 * ThreadSanitizer build of the replay reports the library's races, not
 * the test's.
 */
#define _GNU_SOURCE 1

#include "support.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define WORKERS_MAX 4
#define ROUNDS_MAX 4
#define OPS_MAX 12

typedef struct op {
  unsigned kind;
  uint64_t a, b;
} op;

typedef struct worker {
  struct shared *sh;
  unsigned id;
  unsigned nops[ROUNDS_MAX];
  op ops[ROUNDS_MAX][OPS_MAX];
  uint64_t adds;      /* increments of its own and the shared counter */
  uint64_t seen;      /* the shared counter's last value it read */
  unsigned char *buf; /* FZ_MAX bytes */
} worker;

typedef struct shared {
  fz_map *fm;
  uint64_t floor; /* the pinned counters: [0, floor) is never cut */
  unsigned nworkers, rounds, round;
  pthread_barrier_t start, end;
  worker w[WORKERS_MAX];
} shared;

/* What a worker sees at off: the round's byte, or zero once cut. */
static void check_seen(const worker *w, uint64_t off, const void *p, size_t n) {
  const fz_map *fm = w->sh->fm;
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) {
    uint64_t at = off + i;
    if (at >= w->sh->floor && b[i] != 0 && b[i] != fm->bytes[at])
      FZ_CHECK(0, "a worker saw a byte that is neither the round's nor "
                  "zero");
  }
}

static void check_rc(int rc, const char *what) {
  if (rc != 0 && rc != MMAPIO_E_OUT_OF_BOUNDS)
    FZ_RC(rc, 0, what);
}

static void count(worker *w, unsigned times) {
  mmapio_map *m = w->sh->fm->m;
  mmapio_atomic_u64 *mine = NULL, *all = NULL;
  FZ_RC(mmapio_view_atomic_u64_mut(m, 8 * (1 + (uint64_t)w->id), &mine), 0,
        "a counter's atomic view");
  FZ_RC(mmapio_view_atomic_u64_mut(m, 0, &all), 0, "the shared counter");
  for (unsigned i = 0; i < times; i++) {
    mmapio_atomic_u64_fetch_add(mine, 1);
    uint64_t before = mmapio_atomic_u64_fetch_add(all, 1);
    FZ_CHECK(before >= w->seen, "the shared counter went backwards");
    w->seen = before + 1;
  }
  w->adds += times;
}

static void walk(worker *w, size_t size) {
  mmapio_chunks it;
  mmapio_chunk c;
  FZ_RC(mmapio_chunks_begin(&it, w->sh->fm->m, size), 0, "chunks_begin");
  uint64_t next = 0;
  while (mmapio_chunks_next(&it, &c)) {
    FZ_CHECK(c.off == next, "chunks in order");
    check_seen(w, c.off, c.data, c.len);
    next += c.len;
  }
}

static void segment(worker *w, uint64_t off, uint64_t n) {
  mmapio_segment *s = NULL;
  int rc = mmapio_segment_create(&s, w->sh->fm->m, off, n,
                                 (off & 1) ? MMAPIO_SEGMENT_NOPIN : 0);
  check_rc(rc, "segment_create");
  if (rc != 0)
    return;
  const void *v = NULL;
  rc = mmapio_segment_view(s, 0, (size_t)n, &v);
  check_rc(rc, "segment_view");
  if (rc == 0)
    check_seen(w, off, v, (size_t)n);
  mmapio_segment_release(s);
}

static void cursor(worker *w, uint64_t off, uint64_t n) {
  mmapio_cursor *c = NULL;
  size_t got = 0;
  FZ_RC(mmapio_cursor_open(&c, w->sh->fm->m), 0, "cursor_open");
  FZ_RC(mmapio_cursor_set_position(c, off), 0, "cursor_set_position");
  FZ_RC(mmapio_cursor_read(c, w->buf, (size_t)n, &got), 0, "cursor_read");
  FZ_CHECK(got <= n, "cursor_read's count");
  check_seen(w, off, w->buf, got);
  mmapio_cursor_close(c);
}

static void run(worker *w, const op *o) {
  mmapio_map *m = w->sh->fm->m;
  uint64_t off = o->a, n = o->b;
  switch (o->kind) {
  case 0: {
    const void *v = NULL;
    int rc = mmapio_view(m, off, (size_t)n, &v);
    check_rc(rc, "mmapio_view");
    if (rc == 0)
      check_seen(w, off, v, (size_t)n);
    break;
  }
  case 1: {
    int rc = mmapio_read(m, off, w->buf, (size_t)n);
    check_rc(rc, "mmapio_read");
    if (rc == 0)
      check_seen(w, off, w->buf, (size_t)n);
    break;
  }
  case 2: {
    void *copy = NULL;
    int rc = mmapio_read_bytes(m, off, (size_t)n, &copy);
    check_rc(rc, "mmapio_read_bytes");
    if (rc == 0)
      check_seen(w, off, copy, (size_t)n);
    free(copy);
    break;
  }
  case 3:
    cursor(w, off, n);
    break;
  case 4:
    walk(w, 1 + (size_t)(n % (64u * 1024)));
    break;
  case 5:
    segment(w, off, n);
    break;
  case 6:
  case 7:
    count(w, 1 + (unsigned)(n % 8));
    break;
  case 8:
    check_rc(mmapio_touch_pages_range(m, off, n), "touch_pages_range");
    break;
  case 9:
    check_rc((n & 1) ? mmapio_flush(m) : mmapio_flush_range(m, off, n),
             "a flush");
    break;
  default: {
    mmapio_residency r;
    check_rc(mmapio_resident(m, off, n, &r), "mmapio_resident");
    check_rc(mmapio_advise(m, off, n, MMAPIO_ADVICE_WILLNEED), "advise");
    break;
  }
  }
}

static void *worker_main(void *arg) {
  worker *w = arg;
  for (unsigned r = 0; r < w->sh->rounds; r++) {
    pthread_barrier_wait(&w->sh->start);
    for (unsigned i = 0; i < w->nops[r]; i++)
      run(w, &w->ops[r][i]);
    pthread_barrier_wait(&w->sh->end);
  }
  return NULL;
}

/* The main thread's part of a round: resizes; returns the smallest
 * length the mapping had. */
static uint64_t resize_round(shared *sh, fz_input *in) {
  fz_map *fm = sh->fm;
  uint64_t len = fm->len, lowest = len;
  for (unsigned i = fz_pick(in, 8); i > 0; i--) {
    uint64_t to = sh->floor / 2 + fz_take(in, 3) % (FZ_MAX - sh->floor / 2);
    const void *base = mmapio_base(fm->m);
    bool moved = false;
    int rc = mmapio_resize(fm->m, to, &moved);
    if (to < sh->floor) {
      FZ_RC(rc, MMAPIO_E_BUSY, "a shrink below the pinned counters");
      continue;
    }
    if (rc == MMAPIO_E_BUSY && to < len)
      continue; /* a worker's walk or segment holds the range */
    FZ_RC(rc, 0, "mmapio_resize");
    FZ_CHECK(moved == (mmapio_base(fm->m) != base), "resize's *moved");
    len = to;
    if (to < lowest)
      lowest = to;
  }
  return lowest;
}

/* The main thread alone, between rounds: counters and bytes exact, then
 * new bytes written. */
static void settle(shared *sh, fz_input *in, uint64_t lowest) {
  fz_map *fm = sh->fm;
  uint64_t len = mmapio_len(fm->m);
  if (lowest < fm->len)
    memset(fm->bytes + lowest, 0, (size_t)(fm->len - lowest));
  fm->len = len;
  uint64_t total = 0, v;
  for (unsigned i = 0; i < sh->nworkers; i++) {
    total += sh->w[i].adds;
    FZ_RC(mmapio_read(fm->m, 8 * (1 + (uint64_t)i), &v, 8), 0, "a counter");
    FZ_CHECK(v == sh->w[i].adds, "a worker's counter lost increments");
    fz_model_poke(fm, 8 * (1 + (uint64_t)i), &v, 8);
  }
  FZ_RC(mmapio_read(fm->m, 0, &v, 8), 0, "the shared counter");
  FZ_CHECK(v == total, "the shared counter lost increments");
  fz_model_poke(fm, 0, &v, 8);
  FZ_RC(mmapio_read(fm->m, 0, fm->scratch, (size_t)len), 0, "reading all");
  fz_expect_bytes(fm, 0, fm->scratch, (size_t)len, "the bytes after a round");
  FZ_RC(mmapio_flush(fm->m), 0, "mmapio_flush after a round");
  fz_model_flush(fm);
  for (unsigned i = fz_pick(in, 4); i > 0; i--) {
    uint64_t off = sh->floor + fz_take(in, 3) % (len - sh->floor + 1);
    uint64_t n = fz_take(in, 2) % (len - off + 1);
    fz_pattern(fm->scratch, (size_t)n, ++fm->seq);
    FZ_RC(mmapio_update(fm->m, off, fm->scratch, (size_t)n), 0,
          "mmapio_update between rounds");
    fz_model_update(fm, off, fm->scratch, (size_t)n);
  }
}

static void decode_ops(shared *sh, fz_input *in) {
  for (unsigned r = 0; r < sh->rounds; r++)
    for (unsigned t = 0; t < sh->nworkers; t++) {
      worker *w = &sh->w[t];
      w->nops[r] = 1 + fz_pick(in, OPS_MAX);
      for (unsigned i = 0; i < w->nops[r]; i++) {
        op *o = &w->ops[r][i];
        o->kind = fz_pick(in, 11);
        o->a = fz_take(in, 3) % (FZ_MAX + 2);
        o->b = fz_take(in, 3) % (FZ_MAX + 2 - o->a);
      }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_input in = {data, size};
  static unsigned char bufs[WORKERS_MAX][FZ_MAX];
  static shared sh;
  static fz_map fm;
  memset(&sh, 0, sizeof sh);
  sh.fm = &fm;
  fz_map_open(&fm, &in, FZ_OPEN_CREATE | FZ_OPEN_EX | FZ_OPEN_ANON);
  sh.floor = mmapio_page_size();
  if (fm.len < sh.floor)
    FZ_RC(fz_map_resize(&fm, sh.floor), 0, "growing to the counters' page");
  mmapio_pin counters;
  FZ_RC(mmapio_pin_range(&counters, fm.m, 0, sh.floor), 0, "pinning counters");
  sh.nworkers = 1 + fz_pick(&in, WORKERS_MAX);
  sh.rounds = 1 + fz_pick(&in, ROUNDS_MAX);
  decode_ops(&sh, &in);
  pthread_barrier_init(&sh.start, NULL, sh.nworkers + 1);
  pthread_barrier_init(&sh.end, NULL, sh.nworkers + 1);
  pthread_t tids[WORKERS_MAX];
  for (unsigned t = 0; t < sh.nworkers; t++) {
    sh.w[t].sh = &sh;
    sh.w[t].id = t;
    sh.w[t].buf = bufs[t];
    FZ_CHECK(pthread_create(&tids[t], NULL, worker_main, &sh.w[t]) == 0,
             "pthread_create");
  }
  for (unsigned r = 0; r < sh.rounds; r++) {
    pthread_barrier_wait(&sh.start);
    uint64_t lowest = resize_round(&sh, &in);
    pthread_barrier_wait(&sh.end);
    settle(&sh, &in, lowest);
  }
  for (unsigned t = 0; t < sh.nworkers; t++)
    pthread_join(tids[t], NULL);
  pthread_barrier_destroy(&sh.start);
  pthread_barrier_destroy(&sh.end);
  mmapio_unpin(&counters);
  fz_map_finish(&fm);
  return 0;
}
