/*
 * What the fuzz targets share besides the input decoder (input.h):
 * failing loudly, a private working directory, and a model of one handle
 * (its bytes, its length, its pending count and what holds it) that the
 * targets check the library against, with the operations every target
 * mixes into its own (views, copies, updates, resizes, flushes).
 */
#ifndef MMAPIO_FUZZ_SUPPORT_H
#define MMAPIO_FUZZ_SUPPORT_H

#include "input.h"

#include <mmapio.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Failing ---- */

/* The input being replayed (replay.c sets it), named when a check fails. */
extern const char *fz_input_name;

/* Prints where and what failed, the library's last error and the input,
 * then aborts (a crash for libFuzzer, a failed test for the replay). */
_Noreturn void fz_fail(const char *file, int line, const char *what);
#define FZ_CHECK(cond, what)                                                   \
  ((cond) ? (void)0 : fz_fail(__FILE__, __LINE__, what))
/* rc must equal want; names both codes when it does not. */
void fz_check_rc(const char *file, int line, const char *what, int rc,
                 int want);
#define FZ_RC(rc, want, what) fz_check_rc(__FILE__, __LINE__, what, rc, want)

/* ---- What the build has ---- */

/* FZ_LINUX_EXTENSIONS (1 or 0, set by fuzz/CMakeLists.txt): whether the
 * build has sealed memory files, stdio streams over a mapping and file
 * watches. Without them (a POSIX-only build, another system) the library
 * answers MMAPIO_E_UNSUPPORTED where it would succeed: FZ_EXT_OK is the
 * code such a call must return once its arguments are valid. */
#ifndef FZ_LINUX_EXTENSIONS
#error "FZ_LINUX_EXTENSIONS must be defined (fuzz/CMakeLists.txt)"
#endif
#define FZ_EXT_OK (FZ_LINUX_EXTENSIONS ? 0 : MMAPIO_E_UNSUPPORTED)

/* ---- Files ---- */

/* The process's private working directory: made on first use under
 * $MMAPIO_FUZZ_DIR, else $TMPDIR, else /tmp, removed with everything in it at
 * exit. Targets write nowhere else. */
const char *fz_dir(void);
/* fz_dir()/name, in out. */
void fz_path(char *out, size_t cap, const char *name);
/* n bytes of a pattern that depends on seed and on each byte's offset. */
void fz_pattern(unsigned char *dst, size_t n, uint64_t seed);
/* Creates or truncates path and writes bytes to it. */
void fz_write_file(const char *path, const unsigned char *bytes, size_t n);
/* Reads up to cap bytes of path into buf through a descriptor of its own
 * (what the file holds, not what a mapping shows); returns its size. */
uint64_t fz_read_file(const char *path, unsigned char *buf, size_t cap);

/* The code a range check of [off, off+len) against size returns. */
static inline int fz_bounds(uint64_t off, uint64_t len, uint64_t size) {
  return off <= size && len <= size - off ? 0 : MMAPIO_E_OUT_OF_BOUNDS;
}
/* [off, off+len) widened to page boundaries: its length (0 for len 0). */
uint64_t fz_widened(uint64_t off, uint64_t len);

/* ---- The model of one handle ---- */

/* The largest length a modelled handle reaches. */
#define FZ_MAX ((size_t)512 * 1024)

/* How a model handle behaves (whatever call opened it). */
typedef enum fz_kind {
  FZ_RW,  /* read-write file: writes reach the file */
  FZ_RO,  /* read-only file */
  FZ_COW, /* copy-on-write file: writes stay in the handle */
  FZ_ANON /* anonymous (memfd) region */
} fz_kind;

/* The calls fz_map_open may choose from (a bit mask). */
#define FZ_OPEN_CREATE 0x01u    /* mmapio_create */
#define FZ_OPEN_EX 0x02u        /* mmapio_open_ex: options, policies */
#define FZ_OPEN_OR_CREATE 0x04u /* mmapio_open_or_create */
#define FZ_OPEN_EXISTING 0x08u  /* mmapio_open: RO, RW or COW */
#define FZ_OPEN_FROM_FD 0x10u   /* mmapio_from_fd: RO, RW or COW */
#define FZ_OPEN_ANON 0x20u      /* mmapio_anon, mmapio_anon_ex */
#define FZ_OPEN_ALL 0x3fu

/* A pointer a view handed out, kept to check "Pointer validity": while
 * the length never dropped below a byte, the byte reads as the model
 * says; once it was cut, it reads as the model or as zero, and never
 * faults. */
typedef struct fz_view {
  const unsigned char *p;
  uint64_t off, len; /* what the view covered */
  uint64_t kept;     /* the smallest length since it was taken */
} fz_view;

#define FZ_HOLDS 16
#define FZ_VIEWS 8

typedef struct fz_map {
  mmapio_map *m; /* NULL once closed or unmapped */
  fz_kind kind;  /* how it behaves */
  mmapio_flush_policy policy;
  uint64_t policy_arg;
  unsigned flags;           /* MMAPIO_OPT_* it was opened with */
  unsigned seals;           /* MMAPIO_SEAL_* an anonymous region has */
  char path[256];           /* the file ("" when anonymous) */
  bool path_given;          /* mmapio_path returns path (else NULL) */
  uint64_t len;             /* the length */
  uint64_t pending;         /* exact, or a bound under EVERY_MILLIS */
  uint64_t writes;          /* updates counted by EVERY_WRITES */
  unsigned char *bytes;     /* FZ_MAX: what the handle shows */
  unsigned char *file;      /* FZ_MAX: what the file holds (RO, COW) */
  unsigned char *known;     /* FZ_MAX, or NULL: 0 where a byte is unknown */
  unsigned char *scratch;   /* FZ_MAX bytes for the targets' copies */
  uint64_t holds[FZ_HOLDS]; /* ends of pins, segments, walks; 0 = free */
  bool held[FZ_HOLDS];
  fz_view views[FZ_VIEWS];
  unsigned nviews;
  unsigned seq; /* varies the bytes written */
} fz_map;

/* Opens a handle with one of the calls in `calls` (FZ_OPEN_*), chosen by
 * the input with its options, and sets the model up; aborts if a call
 * that must succeed fails. */
void fz_map_open(fz_map *fm, fz_input *in, unsigned calls);
/* Checks every byte, the length and the pending count, then closes the
 * handle (if still open) and checks the file: an RW file holds the
 * handle's bytes, an RO or COW file is unchanged. Frees the model. */
void fz_map_finish(fz_map *fm);

/* From now on the model may hold unknown bytes (fz_map.known), which
 * comparisons skip; every byte starts known. */
void fz_map_track_unknown(fz_map *fm);

/* The holders of ranges that block a shrink: a slot, or -1 if full. */
int fz_hold(fz_map *fm, uint64_t end);
void fz_unhold(fz_map *fm, int slot);
uint64_t fz_pinned_end(const fz_map *fm);

/* The code a writing call returns on this handle before any bounds
 * check: INVALID_MODE on RO, else 0. */
int fz_write_mode(const fz_map *fm);
/* Records len bytes of src written at off by mmapio_update (or a path
 * documented to behave like it): the bytes, the pending count and the
 * flush policy's implicit flush. */
void fz_model_update(fz_map *fm, uint64_t off, const void *src, size_t len);
/* Records bytes written through a pointer (not counted as pending). */
void fz_model_poke(fz_map *fm, uint64_t off, const void *src, size_t len);
/* Records a durable flush_range of [off, off+len) / of everything. */
void fz_model_flush_range(fz_map *fm, uint64_t off, uint64_t len);
void fz_model_flush(fz_map *fm);

/* Compares n bytes at got with the model at off (unknown bytes pass). */
void fz_expect_bytes(const fz_map *fm, uint64_t off, const void *got, size_t n,
                     const char *what);
/* Checks the library's length and pending count against the model. */
void fz_expect_state(const fz_map *fm);
/* Remembers a view's pointer for fz_check_views. */
void fz_note_view(fz_map *fm, const void *p, uint64_t off, uint64_t len);
/* Reads every remembered view's bytes (see fz_view). */
void fz_check_views(const fz_map *fm);

/* mmapio_resize(to) checked against the model (mode, size limits,
 * seals, holders, whether the base moved); returns its code. */
int fz_map_resize(fz_map *fm, uint64_t to);

/* One of the operations every target mixes in, chosen by the input:
 * view, read, update, writable view, resize, flush_range, flush, state
 * and remembered views. */
void fz_map_step(fz_map *fm, fz_input *in);

#endif
