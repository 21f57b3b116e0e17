/* The fuzz targets' shared support: see support.h. */
#define _GNU_SOURCE 1

#include "support.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *fz_input_name;

/* ---- Failing ---- */

_Noreturn void fz_fail(const char *file, int line, const char *what) {
  const mmapio_error *e = mmapio_last_error();
  const char *base = strrchr(file, '/');
  fprintf(stderr,
          "%s:%d: check failed: %s\n  last error: %s (%d): %s [errno %d, "
          "%s]\n",
          base != NULL ? base + 1 : file, line, what,
          mmapio_error_name(e->code), e->code, e->message, e->os_errno,
          e->syscall != NULL ? e->syscall : "no system call");
  if (fz_input_name != NULL)
    fprintf(stderr, "  input: %s\n", fz_input_name);
  abort();
}

void fz_check_rc(const char *file, int line, const char *what, int rc,
                 int want) {
  if (rc == want)
    return;
  char msg[256];
  snprintf(msg, sizeof msg, "%s returned %s (%d), expected %s (%d)", what,
           mmapio_error_name(rc), rc, mmapio_error_name(want), want);
  fz_fail(file, line, msg);
}

/* ---- Files ---- */

static char dir[4096];

static int remove_entry(const char *p, const struct stat *st, int flag,
                        struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  remove(p);
  return 0;
}

static void remove_dir(void) {
  nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fz_dir(void) {
  if (dir[0] != '\0')
    return dir;
  /* $MMAPIO_FUZZ_DIR first: fuzz/replay_small_tmp.sh points it at a small
   * tmpfs (TMPDIR stays where the sanitizer runtimes write). */
  const char *base = getenv("MMAPIO_FUZZ_DIR");
  if (base == NULL || base[0] == '\0')
    base = getenv("TMPDIR");
  if (base == NULL || base[0] == '\0')
    base = "/tmp";
  snprintf(dir, sizeof dir, "%s/mmapio-fuzz-XXXXXX", base);
  if (mkdtemp(dir) == NULL) {
    fprintf(stderr, "fuzz: cannot make a directory under %s: %s\n", base,
            strerror(errno));
    abort();
  }
  atexit(remove_dir);
  return dir;
}

void fz_path(char *out, size_t cap, const char *name) {
  snprintf(out, cap, "%s/%s", fz_dir(), name);
}

void fz_pattern(unsigned char *dst, size_t n, uint64_t seed) {
  uint64_t x = seed * 0x9e3779b97f4a7c15u + 1;
  for (size_t i = 0; i < n; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    memcpy(dst + i, &x, n - i < 8 ? n - i : 8);
  }
}

void fz_write_file(const char *path, const unsigned char *bytes, size_t n) {
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  FZ_CHECK(fd >= 0, "creating a file to map");
  for (size_t done = 0; done < n;) {
    ssize_t w = write(fd, bytes + done, n - done);
    FZ_CHECK(w > 0, "writing a file to map");
    done += (size_t)w;
  }
  close(fd);
}

uint64_t fz_read_file(const char *path, unsigned char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  FZ_CHECK(fd >= 0, "opening the file to read it back");
  struct stat st;
  FZ_CHECK(fstat(fd, &st) == 0, "fstat of the file read back");
  size_t want = (uint64_t)st.st_size < cap ? (size_t)st.st_size : cap;
  for (size_t done = 0; done < want;) {
    ssize_t r = pread(fd, buf + done, want - done, (off_t)done);
    FZ_CHECK(r > 0, "reading the file back");
    done += (size_t)r;
  }
  close(fd);
  return (uint64_t)st.st_size;
}

uint64_t fz_widened(uint64_t off, uint64_t len) {
  if (len == 0)
    return 0;
  uint64_t page = mmapio_page_size();
  uint64_t start = off & ~(page - 1);
  uint64_t end = (off + len + page - 1) & ~(page - 1);
  return end - start;
}

/* ---- Opening ---- */

/* The options of an open_ex create: every policy, the cheap flags and
 * reservations small enough that growth must move the base. */
static mmapio_options chosen_options(fz_input *in, uint64_t len) {
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.size = len;
  o.flush_policy = (mmapio_flush_policy)fz_pick(in, 5);
  switch (o.flush_policy) {
  case MMAPIO_FLUSH_EVERY_BYTES:
    o.flush_arg = 1 + fz_take(in, 2);
    break;
  case MMAPIO_FLUSH_EVERY_WRITES:
    o.flush_arg = 1 + fz_pick(in, 8);
    break;
  case MMAPIO_FLUSH_EVERY_MILLIS:
    o.flush_arg = 1 + fz_pick(in, 3);
    break;
  default:
    o.flush_arg = fz_take(in, 1);
    break;
  }
  unsigned f = (unsigned)fz_take(in, 1);
  o.flags = f & (MMAPIO_OPT_PREALLOCATE | MMAPIO_OPT_HUGEPAGES |
                 MMAPIO_OPT_TOUCH_EAGER | MMAPIO_OPT_NOFOLLOW);
  if ((f & 0xe0) == 0xe0) /* rare: an fsync of the directory is slow */
    o.flags |= MMAPIO_OPT_SYNC_DIR;
  o.perm = 0600 | ((unsigned)fz_take(in, 1) & 077);
  switch (fz_pick(in, 4)) {
  case 0:
    o.reserve = 0; /* the default, which growth here never leaves */
    break;
  case 1:
    o.reserve = mmapio_page_size();
    break;
  case 2:
    o.reserve = len;
    break;
  default:
    o.reserve = fz_take(in, 3);
    break;
  }
  return o;
}

/* The model's buffers live as long as the process: a fresh 512 KiB
 * allocation per input would be an mmap and a munmap each time. Only
 * what the last input dirtied is cleared. */
static void model_alloc(fz_map *fm) {
  static unsigned char *bytes, *file, *scratch;
  if (bytes == NULL) {
    bytes = malloc(FZ_MAX);
    file = malloc(FZ_MAX);
    scratch = malloc(FZ_MAX);
    FZ_CHECK(bytes && file && scratch, "allocating the model");
    memset(bytes, 0, FZ_MAX);
    memset(file, 0, FZ_MAX);
  }
  memset(fm, 0, sizeof *fm);
  fm->bytes = bytes;
  fm->file = file;
  fm->scratch = scratch;
}

/* A file of len pattern bytes at fm->path, which the model shows. */
static void prefill(fz_map *fm, uint64_t len, uint64_t seed) {
  fz_pattern(fm->file, (size_t)len, seed);
  memcpy(fm->bytes, fm->file, (size_t)len);
  fz_write_file(fm->path, fm->file, (size_t)len);
}

static fz_kind kind_of_mode(mmapio_mode mode) {
  return mode == MMAPIO_MODE_RO    ? FZ_RO
         : mode == MMAPIO_MODE_COW ? FZ_COW
                                   : FZ_RW;
}

static void open_from_fd(fz_map *fm, fz_input *in, mmapio_mode mode) {
  static const int access_modes[] = {O_RDONLY, O_RDWR, O_WRONLY};
  int acc = access_modes[fz_pick(in, 3)];
  bool named = fz_take(in, 1) & 1;
  int fd = open(fm->path, acc | O_CLOEXEC);
  FZ_CHECK(fd >= 0, "opening the file for mmapio_from_fd");
  bool fits = acc == O_RDWR || (acc == O_RDONLY && mode != MMAPIO_MODE_RW);
  mmapio_map *m = NULL;
  int rc = mmapio_from_fd(&m, fd, mode, named ? fm->path : NULL);
  if (!fits) {
    FZ_RC(rc, MMAPIO_E_INVALID_MODE, "mmapio_from_fd, access mode not fit");
    FZ_CHECK(m == NULL && fcntl(fd, F_GETFD) >= 0,
             "a failed from_fd touched its output or closed the fd");
    close(fd);
    fd = open(fm->path,
              (mode == MMAPIO_MODE_RW ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    FZ_CHECK(fd >= 0, "reopening the file for mmapio_from_fd");
    rc = mmapio_from_fd(&m, fd, mode, named ? fm->path : NULL);
  }
  FZ_RC(rc, 0, "mmapio_from_fd");
  FZ_CHECK(mmapio_fd(m) == fd, "from_fd: the handle owns the fd given");
  fm->m = m;
  fm->path_given = named;
}

static void open_anon(fz_map *fm, fz_input *in, uint64_t len) {
  unsigned f = (unsigned)fz_take(in, 1);
  const unsigned ok = MMAPIO_OPT_HUGEPAGES | MMAPIO_OPT_TOUCH_EAGER;
  int rc;
  if (f & 0x80) {
    rc = mmapio_anon(&fm->m, len);
    f = 0;
  } else {
    if (f & ~ok) {
      mmapio_map *m = NULL;
      FZ_RC(mmapio_anon_ex(&m, len, f), MMAPIO_E_INVALID_ARGUMENT,
            "mmapio_anon_ex with an unknown flag");
      FZ_CHECK(m == NULL, "a failed anon_ex touched its output");
      f &= ok;
    }
    rc = mmapio_anon_ex(&fm->m, len, f);
  }
  FZ_RC(rc, 0, "mmapio_anon");
  fm->kind = FZ_ANON;
  fm->flags = f;
}

void fz_map_open(fz_map *fm, fz_input *in, unsigned calls) {
  model_alloc(fm);
  fz_path(fm->path, sizeof fm->path, "map.bin");
  unlink(fm->path);
  unsigned choice[8], n = 0;
  for (unsigned bit = 1; bit <= FZ_OPEN_ANON; bit <<= 1)
    if (calls & bit)
      choice[n++] = bit;
  FZ_CHECK(n > 0, "fz_map_open: no call to open with");
  unsigned call = choice[fz_pick(in, n)];
  uint64_t len = 1 + fz_take(in, 3) % (128u * 1024);
  uint64_t seed = fz_take(in, 1);
  mmapio_mode mode = (mmapio_mode)(1 + fz_pick(in, 3));
  fm->kind = FZ_RW;
  fm->path_given = true;
  int rc = 0;
  switch (call) {
  case FZ_OPEN_CREATE:
    if (fz_take(in, 1) & 1) /* create truncates an existing file */
      prefill(fm, 1 + seed * 977, seed);
    memset(fm->bytes, 0, FZ_MAX);
    rc = mmapio_create(&fm->m, fm->path, len);
    break;
  case FZ_OPEN_EX: {
    mmapio_options o = chosen_options(in, len);
    rc = mmapio_open_ex(&fm->m, fm->path, &o,
                        (fz_take(in, 1) & 1) ? MMAPIO_CREATE
                                             : MMAPIO_OPEN_OR_CREATE);
    fm->policy = o.flush_policy;
    fm->policy_arg = o.flush_arg;
    fm->flags = o.flags;
    break;
  }
  case FZ_OPEN_OR_CREATE:
    if (fz_take(in, 1) & 1) { /* an existing file is opened, not resized */
      prefill(fm, len, seed);
      rc = mmapio_open_or_create(&fm->m, fm->path, 1 + fz_take(in, 2));
    } else {
      rc = mmapio_open_or_create(&fm->m, fm->path, len);
    }
    break;
  case FZ_OPEN_EXISTING:
    prefill(fm, len, seed);
    rc = mmapio_open(&fm->m, fm->path, mode);
    fm->kind = kind_of_mode(mode);
    break;
  case FZ_OPEN_FROM_FD:
    prefill(fm, len, seed);
    open_from_fd(fm, in, mode);
    fm->kind = kind_of_mode(mode);
    break;
  default:
    open_anon(fm, in, len);
    fm->path[0] = '\0';
    fm->path_given = false;
    break;
  }
  FZ_RC(rc, 0, "opening the handle");
  fm->len = len;
  FZ_CHECK(mmapio_len(fm->m) == len, "length after open");
  FZ_CHECK(mmapio_mode_of(fm->m) == (fm->kind == FZ_RO    ? MMAPIO_MODE_RO
                                     : fm->kind == FZ_COW ? MMAPIO_MODE_COW
                                                          : MMAPIO_MODE_RW),
           "mode after open");
  FZ_CHECK(mmapio_flush_policy_of(fm->m) == fm->policy, "policy after open");
  const char *p = mmapio_path(fm->m);
  FZ_CHECK(fm->path_given ? p != NULL && strcmp(p, fm->path) == 0 : p == NULL,
           "path after open");
}

static void check_file(const fz_map *fm) {
  if (fm->kind == FZ_ANON)
    return;
  unsigned char *got = fm->scratch;
  uint64_t size = fz_read_file(fm->path, got, FZ_MAX);
  if (fm->kind == FZ_RW) {
    if (fm->known == NULL)
      FZ_CHECK(size == fm->len, "the file's size is the handle's length");
    fz_expect_bytes(fm, 0, got, (size_t)(size < fm->len ? size : fm->len),
                    "the file holds the handle's bytes");
  } else {
    /* RO and COW: whatever the handle did, the file is as it was. */
    FZ_CHECK(size == fm->len && memcmp(got, fm->file, (size_t)size) == 0,
             "an RO or COW handle changed its file");
  }
}

void fz_map_finish(fz_map *fm) {
  if (fm->m != NULL) {
    fz_expect_state(fm);
    FZ_RC(mmapio_read(fm->m, 0, fm->scratch, (size_t)fm->len), 0,
          "reading everything at the end");
    fz_expect_bytes(fm, 0, fm->scratch, (size_t)fm->len, "the final bytes");
    FZ_RC(mmapio_flush(fm->m), 0, "the final flush");
    mmapio_close(fm->m);
    fm->m = NULL;
  }
  check_file(fm);
  /* The next input starts from zeroed buffers. */
  memset(fm->bytes, 0, FZ_MAX);
  memset(fm->file, 0, FZ_MAX);
  memset(fm, 0, sizeof *fm);
}

void fz_map_track_unknown(fz_map *fm) {
  static unsigned char *known;
  if (known == NULL) {
    known = malloc(FZ_MAX);
    FZ_CHECK(known != NULL, "allocating the model's mask");
  }
  memset(known, 1, FZ_MAX);
  fm->known = known;
}

/* ---- Holders ---- */

int fz_hold(fz_map *fm, uint64_t end) {
  for (int i = 0; i < FZ_HOLDS; i++)
    if (!fm->held[i]) {
      fm->held[i] = true;
      fm->holds[i] = end;
      return i;
    }
  return -1;
}

void fz_unhold(fz_map *fm, int slot) {
  if (slot >= 0 && slot < FZ_HOLDS)
    fm->held[slot] = false;
}

uint64_t fz_pinned_end(const fz_map *fm) {
  uint64_t end = 0;
  for (int i = 0; i < FZ_HOLDS; i++)
    if (fm->held[i] && fm->holds[i] > end)
      end = fm->holds[i];
  return end;
}

/* ---- The model's writes and flushes ---- */

int fz_write_mode(const fz_map *fm) {
  return fm->kind == FZ_RO ? MMAPIO_E_INVALID_MODE : 0;
}

static void mark_known(fz_map *fm, uint64_t off, size_t len) {
  if (fm->known != NULL)
    memset(fm->known + off, 1, len);
}

void fz_model_poke(fz_map *fm, uint64_t off, const void *src, size_t len) {
  memcpy(fm->bytes + off, src, len);
  mark_known(fm, off, len);
}

static void debit(fz_map *fm, uint64_t d) {
  fm->pending = fm->pending > d ? fm->pending - d : 0;
}

void fz_model_flush_range(fz_map *fm, uint64_t off, uint64_t len) {
  if (fm->kind == FZ_RW)
    debit(fm, fz_widened(off, len));
}

void fz_model_flush(fz_map *fm) {
  if (fm->kind != FZ_RW)
    return;
  fm->pending = 0;
  fm->writes = 0;
}

void fz_model_update(fz_map *fm, uint64_t off, const void *src, size_t len) {
  fz_model_poke(fm, off, src, len);
  if (fm->kind != FZ_RW)
    return;
  fm->pending += len;
  switch (fm->policy) {
  case MMAPIO_FLUSH_ALWAYS:
    fz_model_flush_range(fm, off, len);
    break;
  case MMAPIO_FLUSH_EVERY_BYTES:
    if (fm->pending >= fm->policy_arg)
      fz_model_flush(fm);
    break;
  case MMAPIO_FLUSH_EVERY_WRITES:
    if (++fm->writes >= fm->policy_arg)
      fz_model_flush(fm);
    break;
  default:
    break;
  }
}

/* ---- Checks ---- */

void fz_expect_bytes(const fz_map *fm, uint64_t off, const void *got, size_t n,
                     const char *what) {
  const unsigned char *g = got;
  if (n == 0 || memcmp(g, fm->bytes + off, n) == 0)
    return;
  for (size_t i = 0; i < n; i++) {
    uint64_t at = off + i;
    if (g[i] == fm->bytes[at] || (fm->known != NULL && !fm->known[at]))
      continue;
    char msg[256];
    snprintf(msg, sizeof msg, "%s: byte %llu is 0x%02x, the model says 0x%02x",
             what, (unsigned long long)at, g[i], fm->bytes[at]);
    fz_fail(__FILE__, __LINE__, msg);
  }
}

void fz_expect_state(const fz_map *fm) {
  FZ_CHECK(mmapio_len(fm->m) == fm->len, "mmapio_len is the model's length");
  FZ_CHECK(mmapio_is_empty(fm->m) == (fm->len == 0), "mmapio_is_empty");
  uint64_t pending = mmapio_pending(fm->m);
  if (fm->policy == MMAPIO_FLUSH_EVERY_MILLIS)
    FZ_CHECK(pending <= fm->pending, "pending above what was written");
  else if (pending != fm->pending) {
    char msg[128];
    snprintf(msg, sizeof msg, "mmapio_pending is %llu, the model says %llu",
             (unsigned long long)pending, (unsigned long long)fm->pending);
    fz_fail(__FILE__, __LINE__, msg);
  }
}

void fz_note_view(fz_map *fm, const void *p, uint64_t off, uint64_t len) {
  fz_view *v =
      &fm->views[fm->nviews < FZ_VIEWS ? fm->nviews++ : fm->seq % FZ_VIEWS];
  v->p = p;
  v->off = off;
  v->len = len;
  v->kept = fm->len;
}

void fz_check_views(const fz_map *fm) {
  for (unsigned i = 0; i < fm->nviews; i++) {
    const fz_view *v = &fm->views[i];
    if (memcmp(v->p, fm->bytes + v->off, (size_t)v->len) == 0)
      continue;
    for (uint64_t j = 0; j < v->len; j++) {
      uint64_t at = v->off + j;
      unsigned char b = v->p[j];
      if (b == fm->bytes[at] || (fm->known != NULL && !fm->known[at]))
        continue;
      FZ_CHECK(at >= v->kept && b == 0,
               "a pointer from an earlier view reads other bytes than the "
               "model (or non-zero bytes after a shrink cut them)");
    }
  }
}

/* ---- Resize ---- */

static int expected_resize(const fz_map *fm, uint64_t to) {
  if (fm->kind == FZ_RO || fm->kind == FZ_COW)
    return MMAPIO_E_INVALID_MODE;
  if (to == 0 || to > mmapio_max_size() || to > FZ_MAX)
    return MMAPIO_E_RESIZE_FAILED; /* above FZ_MAX: only max_size is asked */
  if (to < fm->len && fz_pinned_end(fm) > to)
    return MMAPIO_E_BUSY;
  if ((to > fm->len && (fm->seals & MMAPIO_SEAL_GROW)) ||
      (to < fm->len && (fm->seals & MMAPIO_SEAL_SHRINK)))
    return MMAPIO_E_RESIZE_FAILED;
  return 0;
}

int fz_map_resize(fz_map *fm, uint64_t to) {
  if (to > FZ_MAX && to <= mmapio_max_size())
    to = mmapio_max_size(); /* beyond what this file system or address
                               space can take: it must fail cleanly */
  int want = expected_resize(fm, to);
  const void *base = mmapio_base(fm->m);
  bool moved = false;
  int rc = mmapio_resize(fm->m, to, &moved);
  /* A hugetlb region keeps its size a multiple of the huge page size. */
  if (rc == MMAPIO_E_RESIZE_FAILED && want == 0 && fm->kind == FZ_ANON &&
      (fm->flags & MMAPIO_OPT_HUGEPAGES))
    want = rc;
  FZ_RC(rc, want, "mmapio_resize");
  const void *now = mmapio_base(fm->m);
  if (rc != 0) {
    FZ_CHECK(now == base, "a failed resize moved the base");
    FZ_CHECK(mmapio_len(fm->m) == fm->len, "a failed resize changed length");
    return rc;
  }
  FZ_CHECK(moved == (now != base), "resize: *moved disagrees with the base");
  if (to < fm->len) {
    memset(fm->bytes + to, 0, (size_t)(fm->len - to));
    if (fm->known != NULL)
      memset(fm->known + to, 1, (size_t)(fm->len - to));
  }
  fm->len = to;
  for (unsigned i = 0; i < fm->nviews; i++)
    if (fm->views[i].kept > to)
      fm->views[i].kept = to;
  FZ_CHECK(mmapio_len(fm->m) == to, "length after resize");
  return 0;
}

/* ---- The shared operations ---- */

static uint64_t pick_resize(const fz_map *fm, fz_input *in) {
  uint64_t pinned = fz_pinned_end(fm);
  switch (fz_pick(in, 8)) {
  case 0:
    return fz_edgy(in, FZ_MAX);
  case 1:
    return fm->len / 2;
  case 2:
    return fm->len + mmapio_page_size() + fz_take(in, 1);
  case 3:
    return fm->len * 2 + fz_take(in, 2);
  case 4:
    return pinned;
  case 5:
    return pinned > 0 ? pinned - 1 : 0;
  case 6:
    return mmapio_max_size() + fz_take(in, 1);
  default:
    return 1 + fz_take(in, 3) % FZ_MAX;
  }
}

void fz_map_step(fz_map *fm, fz_input *in) {
  uint64_t off = fz_edgy(in, fm->len);
  uint64_t n = fz_edgy(in, fm->len > off ? fm->len - off : 0);
  size_t want = n > SIZE_MAX ? SIZE_MAX : (size_t)n;
  int fits = fz_bounds(off, n, fm->len);
  unsigned char *buf = fm->scratch;
  fm->seq++;
  switch (fz_pick(in, 8)) {
  case 0: {
    const void *v = NULL;
    FZ_RC(mmapio_view(fm->m, off, want, &v), fits, "mmapio_view");
    if (fits == 0) {
      fz_expect_bytes(fm, off, v, want, "mmapio_view");
      if (fz_take(in, 1) & 1)
        fz_note_view(fm, v, off, n);
    }
    break;
  }
  case 1: {
    int rc = (fz_take(in, 1) & 1) ? (mmapio_read)(fm->m, off, buf, want)
                                  : mmapio_read(fm->m, off, buf, want);
    FZ_RC(rc, fits, "mmapio_read");
    if (fits == 0)
      fz_expect_bytes(fm, off, buf, want, "mmapio_read");
    break;
  }
  case 2: {
    int expect = fz_write_mode(fm) ? fz_write_mode(fm) : fits;
    if (expect == 0)
      fz_pattern(buf, want, fm->seq);
    FZ_RC(mmapio_update(fm->m, off, buf, want), expect, "mmapio_update");
    if (expect == 0)
      fz_model_update(fm, off, buf, want);
    break;
  }
  case 3: {
    void *v = NULL;
    int expect = fz_write_mode(fm) ? fz_write_mode(fm) : fits;
    FZ_RC(mmapio_view_mut(fm->m, off, want, &v), expect, "mmapio_view_mut");
    if (expect == 0 && want > 0) {
      memset(v, (int)(0x41 + fm->seq % 26), want);
      fz_model_poke(fm, off, v, want);
      fz_note_view(fm, v, off, n);
    }
    break;
  }
  case 4:
    fz_map_resize(fm, pick_resize(fm, in));
    break;
  case 5:
    FZ_RC(mmapio_flush_range(fm->m, off, n), fits, "mmapio_flush_range");
    if (fits == 0)
      fz_model_flush_range(fm, off, n);
    break;
  case 6:
    FZ_RC(mmapio_flush(fm->m), 0, "mmapio_flush");
    fz_model_flush(fm);
    break;
  default:
    fz_expect_state(fm);
    fz_check_views(fm);
    break;
  }
}
