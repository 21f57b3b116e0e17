/*
 * Internal declarations shared by the library's source files. Names that
 * cross files use the mmi_ prefix; nothing here is exported.
 */
#ifndef MMAPIO_INTERNAL_H
#define MMAPIO_INTERNAL_H

#include "mmapio.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define MMI_LIKELY(x) __builtin_expect(!!(x), 1)
#define MMI_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define MMI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MMI_LIKELY(x) (x)
#define MMI_UNLIKELY(x) (x)
#define MMI_PRINTF(f, a)
#endif

/* An address range that is no longer the live mapping but stays reserved
 * until close, so pointers into it never dangle (growth that moved). */
typedef struct mmi_region {
  unsigned char *base; /* start of the reservation */
  size_t mapped;       /* bytes mapped to the file from base */
  size_t reserve;      /* bytes of address space reserved from base */
} mmi_region;

struct mmapio_map {
  /* First: the base, length and mode that the header's inline views and
   * every access path read without a lock (see mmapio_snapshot_). */
  mmapio_map_head_ head;

  /* Written once at open, read-only afterwards. */
  int fd;                     /* owned; -1 after mmapio_unmap took it */
  mmapio_mode mode;           /* RO, RW or COW */
  bool anonymous;             /* memfd-backed: flush is a no-op */
  unsigned opt_flags;         /* MMAPIO_OPT_* given at open */
  mmapio_flush_policy policy; /* implicit flushing after updates */
  uint64_t policy_arg;        /* bytes or writes for EVERY_* */
  char *path;                 /* copy of the path, or NULL */

  _Atomic unsigned refs;             /* caller's reference + one per pin */
  _Atomic uint64_t pending;          /* bytes updated and not yet flushed */
  _Atomic uint64_t writes;           /* updates since the last policy flush */
  _Atomic int sticky_errno;          /* errno of the first failed flush, or 0 */
  _Atomic(const char *) sticky_call; /* the system call that failed */

  /* Guarded by mu: resize, pins and the regions. */
  pthread_mutex_t mu;
  mmi_region live;     /* the live reservation (base == live.base) */
  mmi_region *retired; /* earlier reservations kept until close */
  size_t nretired;     /* entries in retired */
  mmapio_pin pins;     /* sentinel of the circular pin list */

  struct mmi_flusher *flusher; /* EVERY_MILLIS thread, or NULL */
};

/* ---- errors.c ---- */

/* Records the calling thread's error detail and returns code. os_err and
 * syscall describe the failing system call (0 / NULL when none). */
int mmi_fail(int code, int os_err, const char *syscall, const char *fmt, ...)
    MMI_PRINTF(4, 5);

/* ---- bounds (inline: on every access path) ---- */

/* True when [off, off+len) lies inside [0, size); overflow-safe. */
static inline bool mmi_in_bounds(uint64_t off, uint64_t len, uint64_t size) {
  return off <= size && len <= size - off;
}

/* Fails with OUT_OF_BOUNDS for fn, naming the numbers. */
int mmi_fail_bounds(const char *fn, uint64_t off, uint64_t len, uint64_t size);

/*
 * An addressable (base, length) pair for readers, without a lock: the
 * length, then the base (see mmapio_snapshot_ and resize.c).
 */
static inline unsigned char *mmi_snapshot(const mmapio_map *m, uint64_t *len) {
  return mmapio_snapshot_(m, len);
}

/* ---- mapping.c: address-space mechanics ---- */

size_t mmi_page(void);
uint64_t mmi_round_page(uint64_t v);
/* Reserves reserve bytes (PROT_NONE) and maps [0, mapped) of the file at
 * its start. */
int mmi_region_create(mmi_region *r, const mmapio_map *m, size_t mapped,
                      size_t reserve);
/* Maps file bytes [r->mapped, upto) into the reservation. */
int mmi_region_extend(mmi_region *r, const mmapio_map *m, size_t upto);
/* Replaces [keep, r->mapped) with private zero memory; r->mapped = keep. */
int mmi_region_quarantine(mmi_region *r, size_t keep);
void mmi_region_release(mmi_region *r);
int mmi_prot(mmapio_mode mode);

/* ---- open.c ---- */

/* Drops one reference; the last one closes the fd and frees m. */
void mmi_release(mmapio_map *m);

/* ---- flush.c ---- */

/* Applies the flush policy after an update of [off, off+len). */
int mmi_after_update(mmapio_map *m, uint64_t off, size_t len);

/* ---- flusher.c ---- */

/* Starts the EVERY_MILLIS thread for m (0 or MMAPIO_E_*). */
int mmi_flusher_start(mmapio_map *m);
/* Stops and joins it; no-op when there is none. */
void mmi_flusher_stop(mmapio_map *m);

/* ---- open.c ---- */

/* Builds a handle over fd, which it owns only on success. */
int mmi_map_fd(mmapio_map **out, int fd, mmapio_mode mode, const char *path,
               const mmapio_options *o, uint64_t size);

/* ---- guard.c ---- */

/* memcpy(dst, src, len) where `mapped` (src or dst) is the mapped side at
 * offset off: a SIGBUS inside it returns MMAPIO_E_FAULT, naming fn. */
int mmi_guarded_copy(const char *fn, void *dst, const void *src, size_t len,
                     const void *mapped, uint64_t off);

/* ---- hints.c ---- */

/* Applies the best-effort open hints (huge pages, eager touch) in flags
 * to a new mapping. Never fails: a hint that cannot be honoured is
 * skipped. */
void mmi_apply_hints(mmapio_map *m, unsigned flags);

/* ---- pin.c ---- */

/* The largest end of any live pin (0 if none); caller holds m->mu. */
uint64_t mmi_pinned_end(const mmapio_map *m);

#endif
