/*
 * The objects that outlive a call, over one handle of any kind, mixed
 * with the shared operations (updates, resizes that move the base,
 * flushes): segments (pinned and NOPIN, retained and released), chunk
 * and page walks (zero-copy and owned, ended early or run out), the
 * writable walk with a callback that writes, stops early and resizes,
 * cursors (read, seek, positions) and FILE * streams (read, write, seek,
 * tell). Everything is checked against the model; the handle is closed
 * either last or before the objects that still hold it, which must keep
 * it alive and usable until the last one lets go.
 */
#define _GNU_SOURCE 1

#include "support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEGS 4
#define WALKS 2
#define CURSORS 2
#define STREAMS 2

typedef struct seg {
  mmapio_segment *s;
  uint64_t off, len;
  bool nopin;
  unsigned refs;
  int hold; /* the model's holder slot (pinned segments) */
} seg;

typedef struct walk {
  mmapio_chunks it;
  bool live;
  uint64_t pos, end;
  size_t size;
  int hold;
} walk;

typedef struct cursor {
  mmapio_cursor *c;
  uint64_t pos;
} cursor;

typedef struct stream {
  FILE *f;
  uint64_t pos;
  bool writable;
} stream;

typedef struct state {
  fz_map fm;
  mmapio_map *m; /* the handle, also after the caller's close */
  seg segs[SEGS];
  walk walks[WALKS];
  cursor cursors[CURSORS];
  stream streams[STREAMS];
} state;

static uint64_t off_in(fz_input *in, uint64_t len) { return fz_edgy(in, len); }
static uint64_t len_in(fz_input *in, uint64_t len, uint64_t off) {
  return fz_edgy(in, len > off ? len - off : 0);
}

/* ---- Segments ---- */

static void seg_drop(state *s, seg *g) {
  mmapio_segment_release(g->s);
  if (--g->refs > 0)
    return;
  fz_unhold(&s->fm, g->hold);
  memset(g, 0, sizeof *g);
}

static void op_seg_create(state *s, fz_input *in) {
  fz_map *fm = &s->fm;
  seg *g = &s->segs[fz_pick(in, SEGS)];
  if (g->s != NULL) {
    seg_drop(s, g);
    return;
  }
  uint64_t off = off_in(in, fm->len), len = len_in(in, fm->len, off);
  unsigned flags = fz_pick(in, 3); /* 2 is an unknown flag */
  int want = flags > MMAPIO_SEGMENT_NOPIN ? MMAPIO_E_INVALID_ARGUMENT
                                          : fz_bounds(off, len, fm->len);
  mmapio_segment *sg = NULL;
  FZ_RC(mmapio_segment_create(&sg, s->m, off, len, flags), want,
        "mmapio_segment_create");
  if (want != 0) {
    FZ_CHECK(sg == NULL, "a failed segment_create touched its output");
    return;
  }
  g->s = sg;
  g->off = off;
  g->len = len;
  g->nopin = flags == MMAPIO_SEGMENT_NOPIN;
  g->refs = 1;
  g->hold = g->nopin ? -1 : fz_hold(fm, off + len);
}

static void op_seg_retain(state *s, fz_input *in) {
  seg *g = &s->segs[fz_pick(in, SEGS)];
  if (g->s == NULL) {
    FZ_CHECK(mmapio_segment_retain(NULL) == NULL, "segment_retain(NULL)");
    mmapio_segment_release(NULL);
    return;
  }
  FZ_CHECK(mmapio_segment_retain(g->s) == g->s, "segment_retain returns s");
  g->refs++;
}

/* The code a segment accessor returns for [off, off+len) of g. */
static int seg_expect(const state *s, const seg *g, uint64_t off,
                      uint64_t len) {
  if (fz_bounds(off, len, g->len) != 0 || g->off + g->len > s->fm.len)
    return MMAPIO_E_OUT_OF_BOUNDS;
  return 0;
}

static void op_seg_access(state *s, fz_input *in) {
  fz_map *fm = &s->fm;
  seg *g = &s->segs[fz_pick(in, SEGS)];
  if (g->s == NULL) {
    const void *v;
    FZ_RC(mmapio_segment_view(NULL, 0, 0, &v), MMAPIO_E_INVALID_ARGUMENT,
          "segment_view(NULL)");
    FZ_RC(mmapio_segment_write(NULL, 0, "", 0), MMAPIO_E_INVALID_ARGUMENT,
          "segment_write(NULL)");
    return;
  }
  uint64_t off = off_in(in, g->len), len = len_in(in, g->len, off);
  size_t want = len > SIZE_MAX ? SIZE_MAX : (size_t)len;
  int bounds = seg_expect(s, g, off, len);
  int writing = fz_write_mode(fm) ? fz_write_mode(fm) : bounds;
  unsigned char *buf = fm->scratch;
  fm->seq++;
  switch (fz_pick(in, 3)) {
  case 0: {
    const void *v = NULL;
    FZ_RC(mmapio_segment_view(g->s, off, want, &v), bounds,
          "mmapio_segment_view");
    if (bounds == 0)
      fz_expect_bytes(fm, g->off + off, v, want, "mmapio_segment_view");
    break;
  }
  case 1: {
    void *v = NULL;
    FZ_RC(mmapio_segment_view_mut(g->s, off, want, &v), writing,
          "mmapio_segment_view_mut");
    if (writing == 0 && want > 0) {
      memset(v, (int)fm->seq, want);
      fz_model_poke(fm, g->off + off, v, want);
    }
    break;
  }
  default:
    if (writing == 0)
      fz_pattern(buf, want, fm->seq);
    FZ_RC(mmapio_segment_write(g->s, off, buf, want), writing,
          "mmapio_segment_write");
    if (writing == 0)
      fz_model_update(fm, g->off + off, buf, want);
    break;
  }
}

static void op_seg_info(state *s, fz_input *in) {
  seg *g = &s->segs[fz_pick(in, SEGS)];
  FZ_CHECK(mmapio_segment_len(g->s) == g->len &&
               mmapio_segment_offset(g->s) == g->off,
           "segment length and offset");
  if (g->s == NULL) {
    FZ_CHECK(mmapio_segment_parent(NULL) == NULL &&
                 !mmapio_segment_is_valid(NULL),
             "segment accessors of NULL");
    return;
  }
  FZ_CHECK(mmapio_segment_parent(g->s) == s->m, "segment_parent");
  FZ_CHECK(mmapio_segment_is_valid(g->s) == (g->off + g->len <= s->fm.len),
           "segment_is_valid");
}

/* ---- Walks ---- */

static void walk_ended(state *s, walk *w) {
  w->live = false;
  fz_unhold(&s->fm, w->hold);
}

static size_t chunk_size(const fz_map *fm, fz_input *in) {
  switch (fz_pick(in, 5)) {
  case 0:
    return 0; /* refused */
  case 1:
    return mmapio_page_size();
  case 2:
    return (size_t)fm->len + fz_pick(in, 2);
  default:
    return 1 + (size_t)fz_take(in, 2);
  }
}

static void op_walk_begin(state *s, fz_input *in) {
  fz_map *fm = &s->fm;
  walk *w = &s->walks[fz_pick(in, WALKS)];
  if (w->live) {
    mmapio_chunks_end(&w->it);
    walk_ended(s, w);
    w->end = w->pos;           /* an ended walk reports its end */
    mmapio_chunks_end(&w->it); /* a walk that ended: no-op */
    return;
  }
  bool pages = fz_take(in, 1) & 1;
  size_t size = pages ? mmapio_page_size() : chunk_size(fm, in);
  int rc = pages ? mmapio_pages_begin(&w->it, s->m)
                 : mmapio_chunks_begin(&w->it, s->m, size);
  FZ_RC(rc, size == 0 ? MMAPIO_E_INVALID_ARGUMENT : 0, "chunks_begin");
  if (rc != 0)
    return;
  w->live = true;
  w->pos = 0;
  w->end = fm->len;
  w->size = size;
  w->hold = fz_hold(fm, fm->len);
}

static void op_walk_next(state *s, fz_input *in) {
  fz_map *fm = &s->fm;
  walk *w = &s->walks[fz_pick(in, WALKS)];
  if (!w->live && w->size == 0)
    return; /* never begun */
  uint64_t left = w->end - w->pos;
  size_t n = left < w->size ? (size_t)left : w->size;
  if (fz_take(in, 1) & 1) {
    mmapio_chunk c;
    bool more = mmapio_chunks_next(&w->it, &c);
    FZ_CHECK(more == (left > 0), "chunks_next reports the end");
    if (!more) {
      if (w->live)
        walk_ended(s, w);
      return;
    }
    FZ_CHECK(c.off == w->pos && c.len == n, "a chunk's offset and length");
    fz_expect_bytes(fm, c.off, c.data, c.len, "a zero-copy chunk");
  } else {
    mmapio_owned_chunk c;
    FZ_RC(mmapio_chunks_next_owned(&w->it, &c), 0, "chunks_next_owned");
    if (left == 0) {
      FZ_CHECK(c.data == NULL && c.len == 0, "the end of an owned walk");
      if (w->live)
        walk_ended(s, w);
      return;
    }
    FZ_CHECK(c.off == w->pos && c.len == n && c.data != NULL,
             "an owned chunk's offset and length");
    fz_expect_bytes(fm, c.off, c.data, c.len, "an owned chunk");
    free(c.data);
  }
  w->pos += n;
}

typedef struct mut_walk {
  state *s;
  fz_input *in;
  uint64_t expect_off, len; /* the next chunk; the walk's length */
  size_t size;
  unsigned index, stop_at, resize_at;
  int stop_rc;
} mut_walk;

static int on_chunk(uint64_t off, void *data, size_t len, void *ctx) {
  mut_walk *mw = ctx;
  fz_map *fm = &mw->s->fm;
  uint64_t left = mw->len - mw->expect_off;
  FZ_CHECK(off == mw->expect_off &&
               len == (left < mw->size ? (size_t)left : mw->size),
           "chunks_mut's chunk offset and length");
  fz_expect_bytes(fm, off, data, len, "a writable chunk");
  memset(data, (int)(off + mw->index), len);
  fz_model_poke(fm, off, data, len);
  mw->expect_off += len;
  if (mw->index == mw->resize_at) /* growth is allowed, a cut is BUSY */
    fz_map_resize(fm, mw->index % 2 ? fm->len + 1 + fz_take(mw->in, 2)
                                    : fm->len / 2);
  return mw->index++ == mw->stop_at ? mw->stop_rc : 0;
}

static void op_chunks_mut(state *s, fz_input *in) {
  fz_map *fm = &s->fm;
  mut_walk mw = {s, in, 0, fm->len, chunk_size(fm, in), 0, 0, 0, 0};
  mw.stop_at = fz_pick(in, 8) == 0 ? UINT32_MAX : fz_pick(in, 16);
  mw.resize_at = fz_pick(in, 4) == 0 ? fz_pick(in, 8) : UINT32_MAX;
  static const int stops[] = {1, -3, 77, MMAPIO_E_BUSY};
  mw.stop_rc = stops[fz_pick(in, 4)];
  if (mw.size == 0) {
    FZ_RC(mmapio_chunks_mut(s->m, 0, on_chunk, &mw), MMAPIO_E_INVALID_ARGUMENT,
          "chunks_mut with chunk size 0");
    return;
  }
  FZ_RC(mmapio_chunks_mut(s->m, mw.size, NULL, &mw), MMAPIO_E_INVALID_ARGUMENT,
        "chunks_mut with fn NULL");
  if (fm->kind == FZ_RO) {
    FZ_RC(mmapio_chunks_mut(s->m, mw.size, on_chunk, &mw),
          MMAPIO_E_INVALID_MODE, "chunks_mut on a read-only mapping");
    return;
  }
  int hold = fz_hold(fm, fm->len);
  uint64_t chunks = (mw.len + mw.size - 1) / mw.size;
  int rc = mmapio_chunks_mut(s->m, mw.size, on_chunk, &mw);
  fz_unhold(fm, hold);
  bool stopped = mw.stop_at < chunks;
  FZ_RC(rc, stopped ? mw.stop_rc : 0, "mmapio_chunks_mut");
  FZ_CHECK(mw.index == (stopped ? mw.stop_at + 1 : chunks),
           "chunks_mut called fn once per chunk, up to the stop");
}

/* ---- Cursors and streams ---- */

/* Where a seek of off from whence lands, as the header says; false when
 * it is refused. */
static bool seek_model(uint64_t pos, uint64_t len, int64_t off, int whence,
                       uint64_t *to) {
  uint64_t from = whence == 0 ? 0 : whence == 1 ? pos : len;
  if (whence < 0 || whence > 2)
    return false;
  if (off < 0) {
    uint64_t back = (uint64_t)(-(off + 1)) + 1;
    if (back > from)
      return false;
    *to = from - back;
    return true;
  }
  if (from > INT64_MAX || (uint64_t)off > (uint64_t)INT64_MAX - from)
    return false;
  *to = from + (uint64_t)off;
  return true;
}

static int64_t seek_offset(fz_input *in, uint64_t len) {
  switch (fz_pick(in, 4)) {
  case 0:
    return (int64_t)fz_take(in, 8);
  case 1:
    return -(int64_t)fz_edgy(in, len);
  default:
    return (int64_t)fz_edgy(in, len);
  }
}

/* What reading n bytes at pos gives: min(n, len - pos), 0 past the end. */
static size_t readable(uint64_t pos, uint64_t len, uint64_t n) {
  if (pos >= len)
    return 0;
  return len - pos < n ? (size_t)(len - pos) : (size_t)n;
}

static void op_cursor(state *s, fz_input *in) {
  fz_map *fm = &s->fm;
  cursor *c = &s->cursors[fz_pick(in, CURSORS)];
  if (c->c == NULL) {
    mmapio_cursor *got = NULL;
    FZ_RC(mmapio_cursor_open(&got, NULL), MMAPIO_E_INVALID_ARGUMENT,
          "cursor_open(m NULL)");
    FZ_RC(mmapio_cursor_open(&got, s->m), 0, "mmapio_cursor_open");
    c->c = got;
    c->pos = 0;
    return;
  }
  FZ_CHECK(mmapio_cursor_position(c->c) == c->pos, "cursor_position");
  switch (fz_pick(in, 5)) {
  case 0: {
    uint64_t n = fz_edgy(in, fm->len);
    size_t want = n > FZ_MAX ? FZ_MAX : (size_t)n, got = (size_t)-1;
    FZ_RC(mmapio_cursor_read(c->c, fm->scratch, want, &got), 0,
          "mmapio_cursor_read");
    FZ_CHECK(got == readable(c->pos, fm->len, want), "cursor_read's count");
    fz_expect_bytes(fm, c->pos, fm->scratch, got, "mmapio_cursor_read");
    c->pos += got;
    FZ_RC(mmapio_cursor_read(c->c, NULL, 1, &got), MMAPIO_E_INVALID_ARGUMENT,
          "cursor_read(buf NULL)");
    break;
  }
  case 1: {
    int64_t off = seek_offset(in, fm->len);
    int whence = (int)fz_pick(in, 4);
    uint64_t to = 0, got = 7;
    bool ok = seek_model(c->pos, fm->len, off, whence, &to);
    FZ_RC(mmapio_cursor_seek(c->c, off, whence, &got),
          ok ? 0 : MMAPIO_E_INVALID_ARGUMENT, "mmapio_cursor_seek");
    FZ_CHECK(ok ? got == to : got == 7, "cursor_seek's position");
    if (ok)
      c->pos = to;
    break;
  }
  case 2: {
    uint64_t to = fz_take(in, 1) & 1 ? fz_take(in, 8) : fz_edgy(in, fm->len);
    FZ_RC(mmapio_cursor_set_position(c->c, to), 0, "cursor_set_position");
    c->pos = to;
    FZ_RC(mmapio_cursor_set_position(NULL, to), MMAPIO_E_INVALID_ARGUMENT,
          "cursor_set_position(NULL)");
    break;
  }
  case 3: {
    /* A position past INT64_MAX (set_position allows it) is no place to
     * seek to, not even by 0. */
    uint64_t to = 0;
    FZ_RC(mmapio_cursor_seek(c->c, 0, MMAPIO_SEEK_CUR, NULL),
          seek_model(c->pos, fm->len, 0, MMAPIO_SEEK_CUR, &to)
              ? 0
              : MMAPIO_E_INVALID_ARGUMENT,
          "cursor_seek with out_pos NULL");
    FZ_CHECK(mmapio_cursor_position(NULL) == 0, "cursor_position(NULL)");
    break;
  }
  default:
    mmapio_cursor_close(c->c);
    mmapio_cursor_close(NULL);
    c->c = NULL;
    break;
  }
}

static void op_stream_open(state *s, fz_input *in) {
  fz_map *fm = &s->fm;
  stream *st = &s->streams[fz_pick(in, STREAMS)];
  if (st->f != NULL) {
    FZ_CHECK(fclose(st->f) == 0, "fclose of a stream");
    st->f = NULL;
    return;
  }
  static const char *const modes[] = {"r", "rb", "r+", "rb+", "r+b",
                                      "w", "a",  "",   "rw",  NULL};
  const char *mode = modes[fz_pick(in, 10)];
  bool known = mode != NULL && (mode[0] == 'r') && (strcmp(mode, "rw") != 0);
  bool writable = known && strchr(mode, '+') != NULL;
  int want = !known                          ? MMAPIO_E_INVALID_ARGUMENT
             : writable && fm->kind == FZ_RO ? MMAPIO_E_INVALID_MODE
                                             : FZ_EXT_OK;
  FILE *f = NULL;
  FZ_RC(mmapio_fopen(&f, s->m, mode), want, "mmapio_fopen");
  if (want != 0) {
    FZ_CHECK(f == NULL, "a failed fopen touched its output");
    return;
  }
  /* Unbuffered, so every call reaches the mapping and the model can say
   * what it returns. */
  FZ_CHECK(setvbuf(f, NULL, _IONBF, 0) == 0, "setvbuf");
  st->f = f;
  st->pos = 0;
  st->writable = writable;
}

static void op_stream_io(state *s, fz_input *in) {
  fz_map *fm = &s->fm;
  stream *st = &s->streams[fz_pick(in, STREAMS)];
  if (st->f == NULL)
    return;
  FILE *f = st->f;
  clearerr(f);
  uint64_t n = fz_edgy(in, fm->len);
  size_t want = n > FZ_MAX ? FZ_MAX : (size_t)n;
  unsigned char *buf = fm->scratch;
  fm->seq++;
  switch (fz_pick(in, 5)) {
  case 0: {
    size_t got = fread(buf, 1, want, f);
    FZ_CHECK(got == readable(st->pos, fm->len, want), "fread's count");
    fz_expect_bytes(fm, st->pos, buf, got, "fread");
    st->pos += got;
    break;
  }
  case 1: {
    int c = fgetc(f);
    FZ_CHECK(st->pos < fm->len ? c == fm->bytes[st->pos] : c == EOF, "fgetc");
    if (c != EOF)
      st->pos++;
    break;
  }
  case 2: {
    fz_pattern(buf, want, fm->seq);
    size_t got = fwrite(buf, 1, want, f);
    size_t room = st->writable ? readable(st->pos, fm->len, want) : 0;
    FZ_CHECK(got == room, "fwrite's count");
    if (got > 0)
      fz_model_update(fm, st->pos, buf, got);
    st->pos += got;
    break;
  }
  case 3: {
    int64_t off = seek_offset(in, fm->len);
    int whence = (int)fz_pick(in, 3);
    uint64_t to = 0;
    bool ok = seek_model(st->pos, fm->len, off, whence, &to);
    int rc = fseeko(f, (off_t)off, whence);
    FZ_CHECK(ok ? rc == 0 : rc == -1, "fseeko");
    if (ok)
      st->pos = to;
    break;
  }
  default:
    FZ_CHECK(ftello(f) == (off_t)st->pos, "ftello is the stream's position");
    break;
  }
}

/* A buffered read of everything: no other call in between. */
static void op_stream_slurp(state *s) {
  fz_map *fm = &s->fm;
  FILE *f = NULL;
  FZ_RC(mmapio_fopen(&f, s->m, "rb"), FZ_EXT_OK, "mmapio_fopen(rb)");
  if (f == NULL)
    return;
  size_t got = fread(fm->scratch, 1, FZ_MAX, f);
  FZ_CHECK(got == fm->len && (got == FZ_MAX || feof(f)),
           "a buffered fread reads everything");
  fz_expect_bytes(fm, 0, fm->scratch, got, "a buffered fread");
  FZ_CHECK(fclose(f) == 0, "fclose");
}

static void op_step(state *s, fz_input *in) { fz_map_step(&s->fm, in); }

static void op_slurp(state *s, fz_input *in) {
  (void)in;
  op_stream_slurp(s);
}

/* The operations, the shared ones and the walk's steps weighted up. */
static void (*const ops[])(state *, fz_input *) = {
    op_step,        op_step,       op_step,       op_seg_create,
    op_seg_retain,  op_seg_access, op_seg_info,   op_walk_begin,
    op_walk_next,   op_walk_next,  op_chunks_mut, op_cursor,
    op_stream_open, op_stream_io,  op_stream_io,  op_slurp};

/* ---- The end ---- */

/* Closes the handle first or last; objects that hold it keep it alive. */
static void finish(state *s, fz_input *in) {
  fz_map *fm = &s->fm;
  bool early = fz_take(in, 1) & 1;
  if (early) {
    fz_expect_state(fm);
    mmapio_close(fm->m);
    fm->m = NULL;
    fm->nviews = 0;
  }
  for (int i = 0; i < SEGS; i++) {
    seg *g = &s->segs[i];
    const void *v = NULL;
    if (g->s != NULL && mmapio_segment_view(g->s, 0, (size_t)g->len, &v) == 0)
      fz_expect_bytes(fm, g->off, v, (size_t)g->len, "a segment at the end");
    while (g->s != NULL)
      seg_drop(s, g);
  }
  for (int i = 0; i < WALKS; i++)
    if (s->walks[i].live)
      mmapio_chunks_end(&s->walks[i].it);
  for (int i = 0; i < CURSORS; i++)
    if (s->cursors[i].c != NULL) {
      size_t got = 0;
      FZ_RC(mmapio_cursor_seek(s->cursors[i].c, 0, MMAPIO_SEEK_SET, NULL), 0,
            "cursor_seek at the end");
      FZ_RC(mmapio_cursor_read(s->cursors[i].c, fm->scratch, FZ_MAX, &got), 0,
            "cursor_read at the end");
      FZ_CHECK(got == fm->len, "a cursor reads the whole mapping at the end");
      fz_expect_bytes(fm, 0, fm->scratch, got, "a cursor at the end");
      mmapio_cursor_close(s->cursors[i].c);
    }
  for (int i = 0; i < STREAMS; i++)
    if (s->streams[i].f != NULL)
      FZ_CHECK(fclose(s->streams[i].f) == 0, "fclose at the end");
  fz_map_finish(fm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_input in = {data, size};
  static state s;
  memset(&s, 0, sizeof s);
  for (int i = 0; i < SEGS; i++)
    s.segs[i].hold = -1;
  fz_map_open(&s.fm, &in, FZ_OPEN_ALL);
  s.m = s.fm.m;
  while (fz_more(&in))
    ops[fz_pick(&in, sizeof ops / sizeof ops[0])](&s, &in);
  finish(&s, &in);
  return 0;
}
