/*
 * Operation sequences over one handle of any kind (a file RW, RO or COW,
 * an anonymous region, a caller's fd; every flush policy; reservations
 * small enough that growth moves the base), checked against the model in
 * support.c, which the shared operations (views, copies, updates,
 * resizes, flushes) keep up to date. On top of those: raw pointers,
 * pins, the writeback hint, memory control (advice, read-ahead, touch,
 * residency, locks, huge pages), atomics, owned copies, sending a range
 * to a file or a pipe, the guard (no truncation here: every copy goes
 * through it and must behave the same), accessors and error strings,
 * seals and passing an anonymous region over a socket, and unmap.
 */
#define _GNU_SOURCE 1

#include "support.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct state {
  fz_map fm;
  mmapio_pin pins[4];
  int pin_slot[4];
  bool locked; /* some lock may be in force: DONTNEED may be refused */
  bool gone;   /* unmapped: the sequence ends */
} state;

/* The operations every target shares (support.c). */
static void op_step(state *s, fz_input *in) { fz_map_step(&s->fm, in); }

static void op_pointers(state *s, fz_input *in) {
  fz_map *fm = &s->fm;
  FZ_CHECK(mmapio_base(fm->m) != NULL, "mmapio_base");
  void *p = NULL;
  FZ_RC(mmapio_base_mut(fm->m, &p), fz_write_mode(fm), "mmapio_base_mut");
  if (p == NULL)
    return;
  FZ_CHECK(p == mmapio_base(fm->m), "base_mut is the base");
  uint64_t at = fz_take(in, 3) % fm->len;
  unsigned char b = (unsigned char)fz_take(in, 1);
  ((unsigned char *)p)[at] = b;
  fz_model_poke(fm, at, &b, 1);
}

static void op_pin(state *s, fz_input *in) {
  fz_map *fm = &s->fm;
  unsigned i = fz_pick(in, 4);
  if (s->pins[i].map_ != NULL) {
    mmapio_unpin(&s->pins[i]);
    FZ_CHECK(s->pins[i].map_ == NULL, "unpin clears the pin");
    fz_unhold(fm, s->pin_slot[i]);
    mmapio_unpin(&s->pins[i]); /* a released pin: no-op */
    return;
  }
  uint64_t off = fz_edgy(in, fm->len);
  uint64_t n = fz_edgy(in, fm->len > off ? fm->len - off : 0);
  int want = fz_bounds(off, n, fm->len);
  FZ_RC(mmapio_pin_range(&s->pins[i], fm->m, off, n), want, "mmapio_pin_range");
  if (want == 0)
    s->pin_slot[i] = fz_hold(fm, off + n);
}

static void op_hint(state *s, fz_input *in) {
  fz_map *fm = &s->fm;
  uint64_t before = fm->pending;
  if (fz_take(in, 1) & 1) {
    FZ_RC(mmapio_flush_hint(fm->m), 0, "mmapio_flush_hint");
  } else {
    uint64_t off = fz_edgy(in, fm->len);
    uint64_t n = fz_edgy(in, fm->len > off ? fm->len - off : 0);
    FZ_RC(mmapio_flush_range_hint(fm->m, off, n), fz_bounds(off, n, fm->len),
          "mmapio_flush_range_hint");
  }
  FZ_CHECK(fm->pending == before, "a hint changed the model's pending count");
  fz_expect_state(fm);
}

static void op_advise(state *s, fz_input *in) {
  fz_map *fm = &s->fm;
  mmapio_advice advice = (mmapio_advice)fz_pick(in, 6);
  uint64_t off = fz_edgy(in, fm->len);
  uint64_t n = fz_edgy(in, fm->len > off ? fm->len - off : 0);
  int want = advice > MMAPIO_ADVICE_DONTNEED ? MMAPIO_E_INVALID_ARGUMENT
                                             : fz_bounds(off, n, fm->len);
  int rc = mmapio_advise(fm->m, off, n, advice);
  if (rc == MMAPIO_E_ADVICE_FAILED && s->locked &&
      advice == MMAPIO_ADVICE_DONTNEED)
    return; /* DONTNEED over locked pages: refused, nothing changed */
  FZ_RC(rc, want, "mmapio_advise");
  if (rc == 0 && advice == MMAPIO_ADVICE_DONTNEED && fm->kind == FZ_COW &&
      n > 0) {
    /* The handle's private changes in the widened range are dropped. */
    uint64_t page = mmapio_page_size();
    uint64_t start = off & ~(page - 1);
    uint64_t end = start + fz_widened(off, n);
    if (end > fm->len)
      end = fm->len;
    memcpy(fm->bytes + start, fm->file + start, (size_t)(end - start));
  }
  fz_check_views(fm);
}

static void op_touch(state *s, fz_input *in) {
  fz_map *fm = &s->fm;
  uint64_t off = fz_edgy(in, fm->len);
  uint64_t n = fz_edgy(in, fm->len > off ? fm->len - off : 0);
  int want = fz_bounds(off, n, fm->len);
  switch (fz_pick(in, 5)) {
  case 0:
    FZ_RC(mmapio_touch_pages(fm->m), 0, "mmapio_touch_pages");
    break;
  case 1:
    FZ_RC(mmapio_touch_pages_range(fm->m, off, n), want,
          "mmapio_touch_pages_range");
    break;
  case 2:
    FZ_RC((mmapio_touch_pages_range)(fm->m, off, n), want,
          "mmapio_touch_pages_range (exported)");
    break;
  case 3:
    FZ_RC(mmapio_prefetch_range(fm->m, off, n), want, "mmapio_prefetch_range");
    break;
  default: {
    mmapio_residency r = {0, 0};
    FZ_RC(mmapio_resident(fm->m, off, n, &r), want, "mmapio_resident");
    if (want == 0)
      FZ_CHECK(r.pages == fz_widened(off, n) / mmapio_page_size() &&
                   r.resident_pages <= r.pages,
               "mmapio_resident's counts");
    FZ_RC(mmapio_resident(fm->m, off, n, NULL), MMAPIO_E_INVALID_ARGUMENT,
          "mmapio_resident with out NULL");
    break;
  }
  }
}

static void op_lock(state *s, fz_input *in) {
  fz_map *fm = &s->fm;
  uint64_t off = fz_edgy(in, fm->len);
  uint64_t n = fz_edgy(in, fm->len > off ? fm->len - off : 0);
  int want = fz_bounds(off, n, fm->len);
  int rc;
  switch (fz_pick(in, 4)) {
  case 0:
    rc = mmapio_lock(fm->m, off, n);
    if (rc != MMAPIO_E_LOCK_FAILED) /* a limit may refuse it */
      FZ_RC(rc, want, "mmapio_lock");
    s->locked = true; /* even a failed lock may have locked some pages */
    break;
  case 1:
    FZ_RC(mmapio_unlock(fm->m, off, n), want, "mmapio_unlock");
    break;
  case 2:
    rc = mmapio_lock_all(fm->m);
    if (rc != MMAPIO_E_LOCK_FAILED)
      FZ_RC(rc, 0, "mmapio_lock_all");
    s->locked = true;
    break;
  default:
    FZ_RC(mmapio_unlock_all(fm->m), 0, "mmapio_unlock_all");
    s->locked = false;
    break;
  }
}

/* The model's value of the width-byte atomic at off. */
static uint64_t model_value(const fz_map *fm, uint64_t off, unsigned width) {
  if (width == 4) {
    uint32_t v;
    memcpy(&v, fm->bytes + off, 4);
    return v;
  }
  uint64_t v;
  memcpy(&v, fm->bytes + off, 8);
  return v;
}

static void set_model_value(fz_map *fm, uint64_t off, unsigned width,
                            uint64_t v) {
  if (width == 4) {
    uint32_t w = (uint32_t)v;
    fz_model_poke(fm, off, &w, 4);
  } else {
    fz_model_poke(fm, off, &v, 8);
  }
}

/* The value atomic operation op (0 load, 1 store, 2 exchange,
 * 3 compare_exchange, 4 fetch_add, 5 fetch_sub, 6 fetch_and, 7 fetch_or)
 * leaves in an atomic that held old, with v and the width's mask. The
 * compare_exchange is given the old value as expected when v is odd (it
 * succeeds), else another one (it fails). */
static uint64_t after(unsigned op, uint64_t old, uint64_t v, uint64_t mask) {
  switch (op) {
  case 0:
    return old;
  case 1:
  case 2:
    return v & mask;
  case 3:
    return (v & 1) ? v & mask : old;
  case 4:
    return (old + v) & mask;
  case 5:
    return (old - v) & mask;
  case 6:
    return old & v;
  default:
    return (old | v) & mask;
  }
}

/* Runs op on a 32-bit atomic that holds old; returns what the call
 * returned (store returns nothing: old). */
static uint64_t call32(mmapio_atomic_u32 *a, unsigned op, uint32_t v,
                       uint32_t old) {
  uint32_t expected = (v & 1) ? old : old ^ 1;
  switch (op) {
  case 0:
    return mmapio_atomic_u32_load(a);
  case 1:
    mmapio_atomic_u32_store(a, v);
    return old;
  case 2:
    return mmapio_atomic_u32_exchange(a, v);
  case 3:
    FZ_CHECK(mmapio_atomic_u32_compare_exchange(a, &expected, v) ==
                     ((v & 1) != 0) &&
                 expected == old,
             "atomic u32 compare_exchange");
    return old;
  case 4:
    return mmapio_atomic_u32_fetch_add(a, v);
  case 5:
    return mmapio_atomic_u32_fetch_sub(a, v);
  case 6:
    return mmapio_atomic_u32_fetch_and(a, v);
  default:
    return mmapio_atomic_u32_fetch_or(a, v);
  }
}

static uint64_t call64(mmapio_atomic_u64 *a, unsigned op, uint64_t v,
                       uint64_t old) {
  uint64_t expected = (v & 1) ? old : old ^ 1;
  switch (op) {
  case 0:
    return mmapio_atomic_u64_load(a);
  case 1:
    mmapio_atomic_u64_store(a, v);
    return old;
  case 2:
    return mmapio_atomic_u64_exchange(a, v);
  case 3:
    FZ_CHECK(mmapio_atomic_u64_compare_exchange(a, &expected, v) ==
                     ((v & 1) != 0) &&
                 expected == old,
             "atomic u64 compare_exchange");
    return old;
  case 4:
    return mmapio_atomic_u64_fetch_add(a, v);
  case 5:
    return mmapio_atomic_u64_fetch_sub(a, v);
  case 6:
    return mmapio_atomic_u64_fetch_and(a, v);
  default:
    return mmapio_atomic_u64_fetch_or(a, v);
  }
}

/* The code an atomic view returns: the header's order of checks. */
static int atomic_expect(const fz_map *fm, bool mut, uint64_t off,
                         uint64_t count, unsigned width) {
  if (mut && fm->kind == FZ_RO)
    return MMAPIO_E_INVALID_MODE;
  if (off % width != 0)
    return MMAPIO_E_MISALIGNED;
  if (count > UINT64_MAX / width)
    return MMAPIO_E_OUT_OF_BOUNDS;
  return fz_bounds(off, count * width, fm->len);
}

static void op_atomic(state *s, fz_input *in) {
  fz_map *fm = &s->fm;
  unsigned sel = (unsigned)fz_take(in, 1);
  unsigned width = (sel & 1) ? 8 : 4;
  bool array = (sel & 2) != 0, mut = (sel & 4) != 0;
  uint64_t off = fz_edgy(in, fm->len);
  if (sel & 0x30)
    off &= ~(uint64_t)(width - 1);
  uint64_t count = array ? fz_edgy(in, fm->len / width + 1) : 1;
  int want = atomic_expect(fm, mut, off, count, width);
  unsigned op = mut ? fz_pick(in, 8) : 0;
  uint64_t v = fz_take(in, 8);
  uint64_t idx = count > 0 ? fz_take(in, 3) % count : 0;
  size_t cnt = count > SIZE_MAX ? SIZE_MAX : (size_t)count;
  const void *p = NULL;
  int rc;
  mmapio_atomic_u32 *w32 = NULL;
  mmapio_atomic_u64 *w64 = NULL;
  if (width == 4) {
    const mmapio_atomic_u32 *c = NULL;
    rc = mut ? (array ? mmapio_view_atomic_u32_array_mut(fm->m, off, cnt, &w32)
                      : mmapio_view_atomic_u32_mut(fm->m, off, &w32))
             : (array ? mmapio_view_atomic_u32_array(fm->m, off, cnt, &c)
                      : mmapio_view_atomic_u32(fm->m, off, &c));
    p = mut ? (const void *)w32 : (const void *)c;
    w32 = (mmapio_atomic_u32 *)(uintptr_t)p; /* only loaded when const */
  } else {
    const mmapio_atomic_u64 *c = NULL;
    rc = mut ? (array ? mmapio_view_atomic_u64_array_mut(fm->m, off, cnt, &w64)
                      : mmapio_view_atomic_u64_mut(fm->m, off, &w64))
             : (array ? mmapio_view_atomic_u64_array(fm->m, off, cnt, &c)
                      : mmapio_view_atomic_u64(fm->m, off, &c));
    p = mut ? (const void *)w64 : (const void *)c;
    w64 = (mmapio_atomic_u64 *)(uintptr_t)p;
  }
  FZ_RC(rc, want, "an atomic view");
  if (rc == 0 && count > 0) {
    uint64_t at = off + idx * width;
    uint64_t old = model_value(fm, at, width);
    uint64_t got = width == 4
                       ? call32(w32 + idx, op, (uint32_t)v, (uint32_t)old)
                       : call64(w64 + idx, op, v, old);
    FZ_CHECK(got == old, "an atomic returned another value than the model");
    set_model_value(fm, at, width,
                    after(op, old, v, width == 4 ? UINT32_MAX : UINT64_MAX));
  }
  if (rc == 0)
    FZ_CHECK((const unsigned char *)p ==
                 (const unsigned char *)mmapio_base(fm->m) + off,
             "an atomic view points at its offset");
  else
    FZ_CHECK(p == NULL, "a failed atomic view touched its output");
}

static void op_read_bytes(state *s, fz_input *in) {
  fz_map *fm = &s->fm;
  uint64_t off = fz_edgy(in, fm->len);
  uint64_t n = fz_edgy(in, fm->len > off ? fm->len - off : 0);
  size_t want = n > SIZE_MAX ? SIZE_MAX : (size_t)n;
  void *copy = NULL;
  int rc = mmapio_read_bytes(fm->m, off, want, &copy);
  FZ_RC(rc, fz_bounds(off, n, fm->len), "mmapio_read_bytes");
  if (rc == 0) {
    FZ_CHECK(copy != NULL, "read_bytes gives a buffer even for 0 bytes");
    fz_expect_bytes(fm, off, copy, want, "mmapio_read_bytes");
    free(copy);
  } else {
    FZ_CHECK(copy == NULL, "a failed read_bytes touched its output");
  }
  FZ_RC(mmapio_read_bytes(fm->m, 0, 0, NULL), MMAPIO_E_INVALID_ARGUMENT,
        "mmapio_read_bytes with out NULL");
}

/* Reads what a pipe holds into buf (it is non-blocking). */
static size_t drain(int fd, unsigned char *buf, size_t cap) {
  size_t got = 0;
  for (ssize_t r; got < cap && (r = read(fd, buf + got, cap - got)) > 0;)
    got += (size_t)r;
  return got;
}

static void op_send(state *s, fz_input *in) {
  fz_map *fm = &s->fm;
  uint64_t off = fz_edgy(in, fm->len);
  uint64_t n = fz_edgy(in, fm->len > off ? fm->len - off : 0);
  size_t want = n > SIZE_MAX ? SIZE_MAX : (size_t)n;
  int bounds = fz_bounds(off, n, fm->len);
  size_t sent = (size_t)-1;
  unsigned char *back = fm->scratch;
  switch (fz_pick(in, 3)) {
  case 0: { /* a regular file: everything is sent */
    char out[300];
    fz_path(out, sizeof out, "sent.bin");
    int fd = open(out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FZ_CHECK(fd >= 0, "creating the file to send to");
    FZ_RC(mmapio_send_range(fm->m, off, want, fd, &sent), bounds,
          "mmapio_send_range to a file");
    close(fd);
    if (bounds == 0) {
      FZ_CHECK(sent == want, "send_range to a file sent everything");
      FZ_CHECK(fz_read_file(out, back, FZ_MAX) == sent, "the sent size");
      fz_expect_bytes(fm, off, back, sent, "the bytes sent to a file");
    }
    break;
  }
  case 1: { /* a non-blocking pipe: a partial send is allowed */
    int p[2];
    FZ_CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0, "pipe2");
    FZ_RC(mmapio_send_range(fm->m, off, want, p[1], &sent), bounds,
          "mmapio_send_range to a pipe");
    if (bounds == 0) {
      FZ_CHECK(sent <= want, "send_range sent more than asked");
      FZ_CHECK(drain(p[0], back, FZ_MAX) == sent, "the pipe holds what was "
                                                  "sent");
      fz_expect_bytes(fm, off, back, sent, "the bytes sent to a pipe");
    }
    close(p[0]);
    close(p[1]);
    break;
  }
  default: { /* a descriptor that is not open, or a negative one */
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    close(fd);
    int rc = mmapio_send_range(fm->m, off, want, fd, &sent);
    FZ_RC(rc,
          bounds != 0 ? bounds
          : want == 0 ? 0
                      : MMAPIO_E_IO,
          "mmapio_send_range to a closed fd");
    FZ_RC(mmapio_send_range(fm->m, off, want, -1, &sent),
          MMAPIO_E_INVALID_ARGUMENT, "mmapio_send_range to fd -1");
    break;
  }
  }
}

static void op_hugepages(state *s, fz_input *in) {
  (void)in;
  fz_map *fm = &s->fm;
  mmapio_hugepage_state st = (mmapio_hugepage_state)99;
  FZ_RC(mmapio_is_hugepage_backed(fm->m, &st), 0, "mmapio_is_hugepage_backed");
  FZ_CHECK(st <= MMAPIO_HUGEPAGE_UNKNOWN, "a huge-page state out of range");
  mmapio_hugepage_report r;
  memset(&r, 0xff, sizeof r);
  FZ_RC(mmapio_hugepage_diagnose(fm->m, &r), 0, "mmapio_hugepage_diagnose");
  FZ_CHECK(r.state <= MMAPIO_HUGEPAGE_UNKNOWN && (r.reasons & ~0xffu) == 0 &&
               memchr(r.detail, '\0', sizeof r.detail) != NULL,
           "a huge-page report out of range");
  FZ_RC(mmapio_is_hugepage_backed(fm->m, NULL), MMAPIO_E_INVALID_ARGUMENT,
        "mmapio_is_hugepage_backed with out NULL");
  FZ_RC(mmapio_hugepage_diagnose(NULL, &r), MMAPIO_E_INVALID_ARGUMENT,
        "mmapio_hugepage_diagnose with m NULL");
}

/* Accessors, utilities and the error strings, with and without a handle. */
static void op_accessors(state *s, fz_input *in) {
  fz_map *fm = &s->fm;
  fz_expect_state(fm);
  FZ_CHECK(mmapio_fd(fm->m) >= 0 && mmapio_base(fm->m) != NULL,
           "fd and base of a live handle");
  FZ_CHECK(mmapio_len(NULL) == 0 && mmapio_is_empty(NULL) &&
               mmapio_path(NULL) == NULL && mmapio_mode_of(NULL) == 0 &&
               mmapio_flush_policy_of(NULL) == MMAPIO_FLUSH_MANUAL &&
               mmapio_pending(NULL) == 0 && mmapio_fd(NULL) == -1 &&
               mmapio_base(NULL) == NULL,
           "accessors of NULL");
  void *p = NULL;
  FZ_RC(mmapio_base_mut(NULL, &p), MMAPIO_E_INVALID_ARGUMENT,
        "mmapio_base_mut(NULL)");
  size_t page = mmapio_page_size();
  FZ_CHECK(page >= 512 && (page & (page - 1)) == 0, "the page size");
  FZ_CHECK(mmapio_version() == MMAPIO_VERSION_NUMBER, "mmapio_version");
  FZ_CHECK(mmapio_max_size() ==
               (sizeof(void *) >= 8 ? (uint64_t)1 << 47 : (uint64_t)1 << 31),
           "mmapio_max_size");
  uint64_t v = fz_take(in, 8), a = fz_edgy(in, 1u << 20), r = 7;
  if (fz_take(in, 1) & 1)
    v = UINT64_MAX - fz_take(in, 2);
  int want = a == 0 || (a & (a - 1)) != 0 ? MMAPIO_E_INVALID_ARGUMENT
             : v > UINT64_MAX - (a - 1)   ? MMAPIO_E_OUT_OF_BOUNDS
                                          : 0;
  FZ_RC(mmapio_align_up(v, a, &r), want, "mmapio_align_up");
  FZ_CHECK(want != 0 ? r == 7 : r >= v && r - v < a && r % a == 0,
           "mmapio_align_up's result");
  FZ_RC(mmapio_align_up(v, 1, NULL), MMAPIO_E_INVALID_ARGUMENT,
        "mmapio_align_up(out NULL)");
  int code = (int)(int8_t)fz_take(in, 1);
  const char *name = mmapio_error_name(code), *text = mmapio_strerror(code);
  bool known = code <= 0 && code >= MMAPIO_E_NO_MEMORY;
  FZ_CHECK(name != NULL && text != NULL && text[0] != '\0',
           "error strings are never NULL or empty");
  FZ_CHECK(known ? strcmp(name, "MMAPIO_E_UNKNOWN") != 0 &&
                       strcmp(text, "unknown error") != 0
                 : strcmp(name, "MMAPIO_E_UNKNOWN") == 0 &&
                       strcmp(text, "unknown error") == 0,
           "error strings of a known or unknown code");
  mmapio_options o;
  memset(&o, 0xa5, sizeof o);
  const mmapio_options defaults = MMAPIO_OPTIONS_INIT;
  FZ_RC(mmapio_options_init(&o), 0, "mmapio_options_init");
  FZ_CHECK(
      o.version == defaults.version && o.mode == defaults.mode &&
          o.size == defaults.size && o.flags == defaults.flags &&
          o.perm == defaults.perm && o.flush_policy == defaults.flush_policy &&
          o.flush_arg == defaults.flush_arg && o.reserve == defaults.reserve,
      "options_init's defaults");
  FZ_RC(mmapio_options_init(NULL), MMAPIO_E_INVALID_ARGUMENT,
        "mmapio_options_init(NULL)");
  FZ_CHECK(mmapio_last_error()->code == MMAPIO_E_INVALID_ARGUMENT,
           "the last error is the last failure");
  mmapio_clear_error();
  FZ_CHECK(mmapio_last_error()->code == 0, "mmapio_clear_error");
  mmapio_close(NULL);
}

static void op_guard(state *s, fz_input *in) {
  FZ_RC(mmapio_set_guard(s->fm.m, fz_take(in, 1) & 1), 0, "mmapio_set_guard");
  FZ_RC(mmapio_set_guard(NULL, true), MMAPIO_E_INVALID_ARGUMENT,
        "mmapio_set_guard(NULL)");
}

static void op_seal(state *s, fz_input *in) {
  fz_map *fm = &s->fm;
  unsigned seals = (unsigned)fz_take(in, 1) % 6; /* 4 and 5: unknown bits */
  unsigned have = 0;
  if (fm->kind != FZ_ANON) {
    FZ_RC(mmapio_anon_seal(fm->m, MMAPIO_SEAL_GROW), MMAPIO_E_INVALID_ARGUMENT,
          "mmapio_anon_seal on a file");
    FZ_RC(mmapio_anon_seals(fm->m, &have), MMAPIO_E_INVALID_ARGUMENT,
          "mmapio_anon_seals on a file");
    return;
  }
  int want = seals == 0 || seals > 3 ? MMAPIO_E_INVALID_ARGUMENT : FZ_EXT_OK;
  FZ_RC(mmapio_anon_seal(fm->m, seals), want, "mmapio_anon_seal");
  if (want == 0)
    fm->seals |= seals;
  FZ_RC(mmapio_anon_seals(fm->m, &have), FZ_EXT_OK, "mmapio_anon_seals");
  if (!FZ_LINUX_EXTENSIONS)
    return;
  FZ_CHECK(have == fm->seals, "the seals are the ones added");
}

/* Passes the region over a socket and checks both ends share it. */
static void op_share(state *s, fz_input *in) {
  fz_map *fm = &s->fm;
  int sv[2];
  FZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0,
           "socketpair");
  mmapio_map *peer = NULL;
  if (fm->kind != FZ_ANON) {
    FZ_RC(mmapio_anon_send(fm->m, sv[0]), MMAPIO_E_INVALID_ARGUMENT,
          "mmapio_anon_send of a file");
  } else if (fz_take(in, 1) & 1) {
    close(sv[0]); /* the sender is gone before sending */
    sv[0] = -1;
    FZ_RC(mmapio_anon_recv(&peer, sv[1], 0), MMAPIO_E_IO,
          "mmapio_anon_recv from a closed peer");
    FZ_RC(mmapio_anon_send(fm->m, sv[1]), MMAPIO_E_IO,
          "mmapio_anon_send to a closed peer");
  } else {
    unsigned required = fz_pick(in, 4);
    FZ_RC(mmapio_anon_send(fm->m, sv[0]), 0, "mmapio_anon_send");
    int want = required != 0 && !FZ_LINUX_EXTENSIONS ? MMAPIO_E_UNSUPPORTED
               : (required & ~fm->seals)             ? MMAPIO_E_INVALID_ARGUMENT
                                                     : 0;
    FZ_RC(mmapio_anon_recv(&peer, sv[1], required), want, "mmapio_anon_recv");
    if (want == 0) {
      FZ_CHECK(mmapio_len(peer) == fm->len, "the received region's length");
      FZ_RC(mmapio_read(peer, 0, fm->scratch, (size_t)fm->len), 0,
            "reading the received region");
      fz_expect_bytes(fm, 0, fm->scratch, (size_t)fm->len,
                      "the received region's bytes");
      uint64_t at = fz_take(in, 3) % fm->len;
      unsigned char b = (unsigned char)fz_take(in, 1);
      FZ_RC(mmapio_update(peer, at, &b, 1), 0, "writing the received region");
      fz_model_poke(fm, at, &b, 1);
      mmapio_close(peer);
    } else {
      FZ_CHECK(peer == NULL, "a failed anon_recv touched its output");
    }
  }
  FZ_RC(mmapio_anon_recv(&peer, -1, 0), MMAPIO_E_INVALID_ARGUMENT,
        "mmapio_anon_recv(sock -1)");
  FZ_RC(mmapio_anon_recv(&peer, sv[1], 8), MMAPIO_E_INVALID_ARGUMENT,
        "mmapio_anon_recv with an unknown seal");
  if (sv[0] >= 0)
    close(sv[0]);
  close(sv[1]);
}

/* Ends the sequence when it succeeds. */
static void op_unmap(state *s, fz_input *in) {
  (void)in;
  fz_map *fm = &s->fm;
  int fd = -1;
  FZ_RC(mmapio_unmap(NULL, &fd), MMAPIO_E_INVALID_ARGUMENT,
        "mmapio_unmap(NULL)");
  int want = fz_pinned_end(fm) > 0 ? MMAPIO_E_BUSY : 0;
  for (int i = 0; i < 4; i++)
    if (s->pins[i].map_ != NULL)
      want = MMAPIO_E_BUSY;
  FZ_RC(mmapio_unmap(fm->m, &fd), want, "mmapio_unmap");
  if (want != 0)
    return;
  struct stat st;
  FZ_CHECK(fd >= 0 && fstat(fd, &st) == 0, "unmap hands back an open fd");
  FZ_CHECK((uint64_t)st.st_size == fm->len, "the fd's file has the length");
  close(fd);
  fm->m = NULL;
  fm->nviews = 0;
  s->gone = true;
}

/* The operations, the shared ones weighted up. */
static void (*const ops[])(state *, fz_input *) = {
    op_step,      op_step,  op_step,      op_pointers, op_pin,        op_hint,
    op_advise,    op_touch, op_lock,      op_atomic,   op_read_bytes, op_send,
    op_hugepages, op_guard, op_accessors, op_seal,     op_share,      op_unmap};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_input in = {data, size};
  static state s;
  memset(&s, 0, sizeof s);
  fz_map_open(&s.fm, &in, FZ_OPEN_ALL);
  while (!s.gone && fz_more(&in))
    ops[fz_pick(&in, sizeof ops / sizeof ops[0])](&s, &in);
  for (int i = 0; i < 4; i++)
    mmapio_unpin(&s.pins[i]);
  fz_map_finish(&s.fm);
  return 0;
}
