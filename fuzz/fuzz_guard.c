/*
 * The fault guard against a file that another descriptor truncates and
 * extends under the mapping (any kind: RW, RO, COW, anonymous). With the
 * guard on, every guarded copy that touches a page past the end of the
 * file must return FAULT, never crash, and every copy inside the file
 * must see the model's bytes: read, update, segment_write, touch_pages,
 * and, once they are guarded (issue 11), the cursor, owned chunks,
 * read_bytes and fread. The library's own resize, flushes, sends and
 * turning the guard off and on again are mixed in.
 *
 * The model knows a byte's value except where the kernel leaves it open:
 * bytes written past the end of the file inside its last page (the part
 * of a page a truncate keeps), whose fate after the file grows again is
 * the file system's.
 */
#define _GNU_SOURCE 1

#include "support.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The cursor, owned chunks, read_bytes and fread copy out of the mapping
 * without the guard today (issue 11, item 3): a SIGBUS there kills the
 * process. Set to true once they are guarded; until then they are only
 * called over pages the file covers. */
static const bool all_copies_guarded = false;

typedef struct state {
  fz_map fm;
  int xfd;      /* the other descriptor */
  uint64_t fsz; /* the file's size */
  bool guarded; /* the guard is on */
} state;

static uint64_t round_page(uint64_t v) {
  uint64_t page = mmapio_page_size();
  return (v + page - 1) & ~(page - 1);
}

/* Whether copying [off, off+n) touches a page past the end of the file. */
static bool faults(const state *s, uint64_t off, uint64_t n) {
  return n > 0 && off + n > round_page(s->fsz);
}

/* The file shrinks or grows under the mapping (another descriptor). */
static void truncate_file(state *s, uint64_t to) {
  fz_map *fm = &s->fm;
  if (ftruncate(s->xfd, (off_t)to) != 0) {
    /* A hugetlb region takes only multiples of its page size. */
    FZ_CHECK(fm->kind == FZ_ANON && (fm->flags & MMAPIO_OPT_HUGEPAGES),
             "ftruncate by another fd");
    return;
  }
  if (to < s->fsz) {
    /* The kernel zeroes the cut part of the last page in the page
     * cache and drops every page past it, private copies included. A
     * COW handle's private copy of the last page keeps its bytes. */
    uint64_t keep = round_page(to);
    memset(fm->bytes + keep, 0, FZ_MAX - (size_t)keep);
    memset(fm->known + keep, 1, FZ_MAX - (size_t)keep);
    if (fm->kind == FZ_COW)
      memset(fm->known + to, 0, (size_t)(keep - to));
    else
      memset(fm->bytes + to, 0, (size_t)(keep - to));
    memset(fm->file + to, 0, FZ_MAX - (size_t)to);
  }
  s->fsz = to;
}

/* Bytes a faulting update may or may not have copied: each one is the
 * old or the new value, and from now on the model holds what is there. */
static void settle_after_fault(state *s, uint64_t off, uint64_t n,
                               const unsigned char *src) {
  fz_map *fm = &s->fm;
  uint64_t end = round_page(s->fsz);
  if (off >= end)
    return;
  size_t k = (size_t)((off + n < end ? off + n : end) - off);
  unsigned char got[4096];
  for (size_t done = 0; done < k; done += sizeof got) {
    size_t part = k - done < sizeof got ? k - done : sizeof got;
    FZ_RC(mmapio_read(fm->m, off + done, got, part), 0,
          "reading what a faulting update copied");
    for (size_t i = 0; i < part; i++) {
      uint64_t at = off + done + i;
      FZ_CHECK(got[i] == src[done + i] || got[i] == fm->bytes[at] ||
                   !fm->known[at],
               "a faulting update left a byte neither old nor new");
      fm->bytes[at] = got[i];
      fm->known[at] = at < s->fsz;
    }
  }
}

/* Records a successful write of [off, off+n): past the end of the file
 * (inside its last page) the bytes are the file system's business. */
static void wrote(state *s, uint64_t off, const unsigned char *src, size_t n) {
  fz_map *fm = &s->fm;
  fz_model_update(fm, off, src, n);
  for (uint64_t at = s->fsz > off ? s->fsz : off; at < off + n; at++)
    fm->known[at] = 0;
}

static void op_truncate(state *s, fz_input *in) {
  fz_map *fm = &s->fm;
  uint64_t page = mmapio_page_size(), to;
  switch (fz_pick(in, 5)) {
  case 0:
    to = 0;
    break;
  case 1:
    to = fm->len;
    break;
  case 2:
    to = (fz_edgy(in, fm->len) / page) * page;
    break;
  case 3:
    to = fz_take(in, 3) % FZ_MAX;
    break;
  default:
    to = fz_edgy(in, fm->len);
    break;
  }
  truncate_file(s, to > FZ_MAX ? FZ_MAX : to);
}

/* A read-side or write-side guarded copy, checked; op 0 read, 1 update,
 * 2 segment_write, 3 touch. Calls that would fault with the guard off
 * are not made. */
static void op_copy(state *s, fz_input *in, unsigned op) {
  fz_map *fm = &s->fm;
  uint64_t off = fz_edgy(in, fm->len);
  uint64_t n = fz_edgy(in, fm->len > off ? fm->len - off : 0);
  size_t want = n > SIZE_MAX ? SIZE_MAX : (size_t)n;
  int bounds = fz_bounds(off, n, fm->len);
  bool fault = bounds == 0 && faults(s, off, n);
  if (fault && !s->guarded)
    return;
  int expect = fault ? MMAPIO_E_FAULT : bounds;
  unsigned char *buf = fm->scratch;
  fm->seq++;
  switch (op) {
  case 0:
    FZ_RC(mmapio_read(fm->m, off, buf, want), expect, "a guarded read");
    if (expect == 0)
      fz_expect_bytes(fm, off, buf, want, "a guarded read");
    break;
  case 1:
  case 2: {
    /* update checks the mode first; a segment is made (bounds) first. */
    if (fz_write_mode(fm) != 0 && (op == 1 || bounds == 0))
      expect = fz_write_mode(fm);
    if (bounds == 0)
      fz_pattern(buf, want, fm->seq);
    int rc;
    if (op == 1) {
      rc = mmapio_update(fm->m, off, buf, want);
    } else {
      mmapio_segment *sg = NULL;
      rc = mmapio_segment_create(&sg, fm->m, off, n, 0);
      if (rc == 0) {
        rc = mmapio_segment_write(sg, 0, buf, want);
        mmapio_segment_release(sg);
      }
    }
    FZ_RC(rc, expect,
          op == 1 ? "a guarded update"
                  : "a guarded segment "
                    "write");
    if (rc == 0)
      wrote(s, off, buf, want);
    else if (rc == MMAPIO_E_FAULT)
      settle_after_fault(s, off, n, buf);
    break;
  }
  default:
    if (fz_take(in, 1) & 1) {
      expect = faults(s, 0, fm->len) ? MMAPIO_E_FAULT : 0;
      if (expect == 0 || s->guarded)
        FZ_RC(mmapio_touch_pages(fm->m), expect, "a guarded touch_pages");
    } else {
      FZ_RC(mmapio_touch_pages_range(fm->m, off, n), expect,
            "a guarded touch_pages_range");
    }
    break;
  }
}

/* The copy paths issue 11 guards; over pages the file covers only until
 * then. */
static void op_other_copies(state *s, fz_input *in) {
  fz_map *fm = &s->fm;
  uint64_t off = fz_edgy(in, fm->len);
  uint64_t n = fz_edgy(in, fm->len > off ? fm->len - off : 0);
  if (fz_bounds(off, n, fm->len) != 0)
    return;
  bool fault = faults(s, off, n);
  if (fault && !(all_copies_guarded && s->guarded))
    return;
  size_t want = (size_t)n;
  unsigned char *buf = fm->scratch;
  switch (fz_pick(in, 4)) {
  case 0: {
    mmapio_cursor *c = NULL;
    size_t got = 0;
    FZ_RC(mmapio_cursor_open(&c, fm->m), 0, "cursor_open");
    FZ_RC(mmapio_cursor_set_position(c, off), 0, "cursor_set_position");
    FZ_RC(mmapio_cursor_read(c, buf, want, &got), fault ? MMAPIO_E_FAULT : 0,
          "a guarded cursor_read");
    if (!fault)
      fz_expect_bytes(fm, off, buf, got, "a guarded cursor_read");
    mmapio_cursor_close(c);
    break;
  }
  case 1: {
    void *copy = NULL;
    FZ_RC(mmapio_read_bytes(fm->m, off, want, &copy),
          fault ? MMAPIO_E_FAULT : 0, "a guarded read_bytes");
    if (!fault)
      fz_expect_bytes(fm, off, copy, want, "a guarded read_bytes");
    free(copy);
    break;
  }
  case 2: {
    /* A walk in chunks of n bytes; the chunk holding off is copied. The
     * zero-copy steps before it touch nothing. */
    mmapio_chunks it;
    mmapio_owned_chunk c = {NULL, 0, 0};
    size_t size = want > 0 ? want : 1;
    uint64_t at = off / size * size;
    FZ_RC(mmapio_chunks_begin(&it, fm->m, size), 0, "chunks_begin");
    mmapio_chunk z;
    for (uint64_t skip = at / size; skip > 0; skip--)
      FZ_CHECK(mmapio_chunks_next(&it, &z), "a chunk before the end");
    uint64_t clen = fm->len - at < size ? fm->len - at : size;
    bool hits = faults(s, at, clen);
    if (at < fm->len && (!hits || (all_copies_guarded && s->guarded))) {
      FZ_RC(mmapio_chunks_next_owned(&it, &c), hits ? MMAPIO_E_FAULT : 0,
            "a guarded chunks_next_owned");
      if (!hits) {
        FZ_CHECK(c.off == at && c.len == clen, "the owned chunk's range");
        fz_expect_bytes(fm, c.off, c.data, c.len, "an owned chunk");
      }
      free(c.data);
    }
    mmapio_chunks_end(&it);
    break;
  }
  default: {
    FILE *f = NULL;
    FZ_RC(mmapio_fopen(&f, fm->m, "r"), FZ_EXT_OK, "mmapio_fopen");
    if (f == NULL)
      break;
    setvbuf(f, NULL, _IONBF, 0);
    FZ_CHECK(fseeko(f, (off_t)off, SEEK_SET) == 0, "fseeko");
    size_t got = fread(buf, 1, want, f);
    if (fault)
      FZ_CHECK(got < want && ferror(f), "a guarded fread reports the fault");
    else
      FZ_CHECK(got == want, "fread of pages the file covers");
    fz_expect_bytes(fm, off, buf, got, "a guarded fread");
    fclose(f);
    break;
  }
  }
}

static void op_resize(state *s, fz_input *in) {
  fz_map *fm = &s->fm;
  uint64_t to = 1 + fz_take(in, 3) % FZ_MAX, old = fm->len;
  /* A change of length sets the file's size (to the same length, the
   * library does nothing): past the old end the file holds zeros, and
   * the last page's unknown tail stays unknown. */
  if (fz_map_resize(fm, to) == 0 && to != old)
    s->fsz = to;
}

static void op_flush(state *s, fz_input *in) {
  fz_map *fm = &s->fm;
  if (fz_take(in, 1) & 1) {
    FZ_RC(mmapio_flush(fm->m), 0, "mmapio_flush over a truncated file");
    fz_model_flush(fm);
  } else {
    uint64_t off = fz_edgy(in, fm->len);
    uint64_t n = fz_edgy(in, fm->len > off ? fm->len - off : 0);
    int want = fz_bounds(off, n, fm->len);
    FZ_RC(mmapio_flush_range(fm->m, off, n), want,
          "mmapio_flush_range over a truncated file");
    if (want == 0)
      fz_model_flush_range(fm, off, n);
  }
}

static void op_send(state *s, fz_input *in) {
  fz_map *fm = &s->fm;
  uint64_t off = fz_edgy(in, fm->len);
  uint64_t n = fz_edgy(in, fm->len > off ? fm->len - off : 0);
  int bounds = fz_bounds(off, n, fm->len);
  char out[300];
  fz_path(out, sizeof out, "sent.bin");
  int fd = open(out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  FZ_CHECK(fd >= 0, "creating the file to send to");
  size_t sent = 0;
  int rc = mmapio_send_range(fm->m, off, (size_t)n, fd, &sent);
  close(fd);
  if (bounds != 0) {
    FZ_RC(rc, bounds, "send_range out of bounds");
    return;
  }
  /* Past the end of the file there is nothing to send: sendfile stops
   * there, write(2) from a COW mapping fails with EFAULT. */
  if (rc == MMAPIO_E_IO && off >= s->fsz && n > 0)
    return;
  FZ_RC(rc, 0, "send_range over a truncated file");
  FZ_CHECK(sent <= n && (off + n <= s->fsz ? sent == n : true),
           "send_range sends what the file holds");
  FZ_CHECK(fz_read_file(out, fm->scratch, FZ_MAX) == sent, "the sent size");
  fz_expect_bytes(fm, off, fm->scratch, sent, "the bytes sent");
}

static void op_guard(state *s, fz_input *in) {
  bool on = (fz_take(in, 1) & 1) != 0;
  FZ_RC(mmapio_set_guard(s->fm.m, on), 0, "mmapio_set_guard");
  s->guarded = on;
}

static void op_read(state *s, fz_input *in) { op_copy(s, in, 0); }
static void op_update(state *s, fz_input *in) { op_copy(s, in, 1); }
static void op_segment_write(state *s, fz_input *in) { op_copy(s, in, 2); }
static void op_touch(state *s, fz_input *in) { op_copy(s, in, 3); }

/* The operations, truncation and reads weighted up. */
static void (*const ops[])(state *, fz_input *) = {
    op_truncate, op_truncate,      op_read,  op_read,
    op_update,   op_segment_write, op_touch, op_other_copies,
    op_resize,   op_flush,         op_send,  op_guard};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_input in = {data, size};
  static state s;
  memset(&s, 0, sizeof s);
  fz_map *fm = &s.fm;
  fz_map_open(fm, &in, FZ_OPEN_ALL);
  fz_map_track_unknown(fm);
  s.xfd = fm->kind == FZ_ANON ? dup(mmapio_fd(fm->m))
                              : open(fm->path, O_RDWR | O_CLOEXEC);
  FZ_CHECK(s.xfd >= 0, "opening another descriptor on the file");
  s.fsz = fm->len;
  FZ_RC(mmapio_set_guard(fm->m, true), 0, "mmapio_set_guard");
  s.guarded = true;
  while (fz_more(&in))
    ops[fz_pick(&in, sizeof ops / sizeof ops[0])](&s, &in);
  /* The file covers the mapping again, then the usual end. */
  truncate_file(&s, fm->len);
  close(s.xfd);
  fz_map_finish(fm);
  return 0;
}
