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
#include <string.h>

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
  size_t reserve;      /* bytes of address space reserved from base */
  size_t mapped;       /* [0, mapped) maps the file at the same offsets */
  size_t open_end;     /* [0, open_end) of that can be accessed; the rest
                          of it, past the file's end, is PROT_NONE */
  size_t zeros_end;    /* [mapped, zeros_end): private zeros (a shrink) */
  /* [zeros_end, reserve): PROT_NONE, or until the first shrink the file
   * again (mapped == reserve: the file is mapped over all of it). */
} mmi_region;

/* Up to MMI_WAYS_MAX ways to do the same work, and what each has cost per
 * page lately (ticks per page times 16, the lower quartile of recent
 * calls; 0 when never measured) and how many calls that rests on (0, 1,
 * or 2 for two and more), as touch.c learns them; for a handle's pages not
 * mapped, also the kind of page (MMI_ABSENT_*) the figures are of. Updated
 * without locks: a lost update only delays learning, and threads touching
 * ranges of one class but of different kinds at once may leave one kind's
 * figure under the other's until later calls correct it (a wrong estimate
 * costs speed, never correctness). */
#define MMI_WAYS_MAX 3u
typedef struct mmi_choice {
  _Atomic uint32_t cost[MMI_WAYS_MAX];
  _Atomic uint32_t calls;
  _Atomic unsigned char timed[MMI_WAYS_MAX];
  _Atomic unsigned char kind;
} mmi_choice;

/* touch.c's size classes: ranges of [4^c, 4^(c+1)) pages; the last one is
 * open. */
#define MMI_TOUCH_CLASSES 12u
/* touch.c's kinds of pages not mapped, which it learns apart: a page in
 * the page cache is only mapped, one that is not is read from the device
 * or, for a hole, allocated and zeroed, at many times the cost. Holes are
 * not told from data: SEEK_DATA would move the descriptor's offset, which
 * the caller may share (mmapio_fd, mmapio_from_fd, mmapio_send_fd). */
#define MMI_ABSENT_UNCACHED 0u /* not in the page cache, or not told */
#define MMI_ABSENT_CACHED 1u   /* in the page cache */
#define MMI_ABSENT_KINDS 2u

struct mmapio_map {
  /* First: the base, length and mode that the header's inline views and
   * every access path read without a lock (see mmapio_snapshot_). */
  mmapio_map_head_ head;

  /* Written once at open, read-only afterwards (the mode is the head's:
   * mmi_mode). */
  int fd;                     /* owned; -1 after mmapio_unmap took it */
  bool anonymous;             /* a memory file (anon.c): flush is a no-op */
  unsigned opt_flags;         /* MMAPIO_OPT_* given at open */
  mmapio_flush_policy policy; /* implicit flushing after updates */
  uint64_t policy_arg;        /* bytes or writes for EVERY_* */
  char *path; /* copy of the path (in the handle's allocation), or NULL */
  /* Which open this is, unique in the process: what touch.c's cache of
   * range answers is keyed by. The handle's address and base are not:
   * a closed handle's come back for the next one (malloc, mmap). */
  uint64_t serial;

  _Atomic unsigned refs; /* caller's reference + one per pin */
  /* Chunk and page walks (pin.c): bits 0-15 count the live walks plus
   * one while refs > 0 (the references' share), bits 16-63 hold the
   * length every live walk counted here holds (0 when none). Whoever takes the
   * count to 0 frees the handle: the last walk or the last reference. */
  _Atomic uint64_t walks;
  /* A walk has registered in a walk slot (walk_slots.c); set once. */
  _Atomic bool slot_walked;
  /* Next handle waiting for walks to end after its last reference went
   * (walk_slots.c, under its mutex). */
  struct mmapio_map *grave_next;
  _Atomic bool shrinking; /* a shrink is deciding and cutting (resize.c) */
  /* fd still has the O_NONBLOCK the library opened it with (file_util.c) */
  _Atomic bool fd_nonblock;
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

  struct mmi_flusher *flusher; /* EVERY_MILLIS thread (flush_thread.c) */

  /* How this handle's pages that are not mapped came in lately, by
   * populate or by the loop, per size class (touch.c), for the kind of
   * page its last range of the class held (a range of another kind starts
   * the class again). What that costs depends on the file more than on the
   * machine (pages cached, on the device, or holes), so it is learned per
   * handle: learned per process, one file's pages read from the device and
   * another's holes would decide for each other. Zero at open: until a way
   * is measured here, the process's figure for that kind stands in while
   * this file's costs agree with it (touch.c, choose_absent). */
  mmi_choice absent_ways[MMI_TOUCH_CLASSES];
};

/* The handle's mode (RO, RW or COW), fixed at open. */
static inline mmapio_mode mmi_mode(const mmapio_map *m) {
  return (mmapio_mode)m->head.mode_;
}

/* Whether a handle of this mode can change its length or base: only
 * read-write handles resize. The others' extent is fixed at open, which
 * the inline views rely on (mmapio_map_head_.fixed_). */
static inline bool mmi_resizable(mmapio_mode mode) {
  return mode == MMAPIO_MODE_RW;
}

/* The handle's current length (mmapio_len without the NULL check). */
static inline uint64_t mmi_len(const mmapio_map *m) {
  return atomic_load_explicit(&((mmapio_map *)m)->head.len_,
                              memory_order_acquire);
}

/* ---- errors.c ---- */

/* Records the calling thread's error detail and returns code. os_err and
 * syscall describe the failing system call (0 / NULL when none). */
int mmi_fail(int code, int os_err, const char *syscall, const char *fmt, ...)
    MMI_PRINTF(4, 5);

/* Puts back the calling thread's error detail as saved (a copy of
 * *mmapio_last_error()): a call that fails, then succeeds another way,
 * leaves the detail as the caller last saw it. */
void mmi_error_restore(const mmapio_error *saved);

/* ---- bounds (inline: on every access path) ---- */

/* True when [off, off+len) lies inside [0, size); overflow-safe. */
static inline bool mmi_in_bounds(uint64_t off, uint64_t len, uint64_t size) {
  return off <= size && len <= size - off;
}

/* Fails with OUT_OF_BOUNDS for fn, naming the numbers. */
int mmi_fail_bounds(const char *fn, uint64_t off, uint64_t len, uint64_t size);

/*
 * An addressable (base, length) pair for readers, without a lock: the
 * length, then the base (see mmapio_snapshot_ and resize.c), or the
 * copies fixed at open of a handle that never resizes.
 */
static inline unsigned char *mmi_snapshot(const mmapio_map *m, uint64_t *len) {
  return mmapio_snapshot_(m, len);
}

/* Tells touch_pages that pages of m may no longer be mapped (after a
 * resize or MADV_DONTNEED), so its next small touch looks before it loops
 * (touch.c). Written only when it changes: every view reads this line. */
static inline void mmi_touch_forget(mmapio_map *m) {
  if (atomic_load_explicit(&m->head.touch_mapped_, memory_order_relaxed))
    atomic_store_explicit(&m->head.touch_mapped_, 0, memory_order_relaxed);
}

/* ---- region.c: address-space mechanics ---- */

/* The page size, asked of the system once (region.c). Inline, as the
 * rounding below: the small paths read it on every call. */
extern _Atomic size_t mmi_page_cache;
size_t mmi_page_ask(void);
static inline size_t mmi_page(void) {
  size_t p = atomic_load_explicit(&mmi_page_cache, memory_order_relaxed);
  return MMI_LIKELY(p != 0) ? p : mmi_page_ask();
}
static inline uint64_t mmi_round_page(uint64_t v) {
  uint64_t p = mmi_page();
  return (v + p - 1) & ~(p - 1);
}

/* The address space an RW handle reserves at least, to grow in place
 * (twice its length above this); 0 where the address space is too small
 * to reserve ahead (32-bit), where a handle reserves only its length. */
#define MMI_GROWTH_RESERVE (sizeof(void *) >= 8 ? (size_t)1 << 30 : 0)
/* Reserves reserve bytes of address space and maps the file over all of
 * them, or over the first huge pages of the spare reservation that a
 * closed handle left (region.c); nothing when mapped is 0 (an empty
 * file). */
int mmi_region_create(mmi_region *r, const mmapio_map *m, size_t mapped,
                      size_t reserve);
/* mmi_region_create, and where reserve cannot be had (an address space
 * too small or limited for it), again for only the mapped bytes. When
 * the second try succeeds, the calling thread's error detail is left as
 * it was before the first: the call as a whole succeeded. */
int mmi_region_create_fit(mmi_region *r, const mmapio_map *m, size_t mapped,
                          size_t reserve);
/* Makes [0, upto) map the file again (upto <= r->reserve): maps it over
 * the zeros a shrink left there. */
int mmi_region_extend(mmi_region *r, const mmapio_map *m, size_t upto);
/* Replaces [keep, had) with private zero memory, had being the length
 * (page-rounded) before the shrink; bytes past it were never part of
 * the mapping, so nothing can point there. */
int mmi_region_quarantine(mmi_region *r, size_t keep, size_t had);
/* Grows the reservation in place to reserve bytes (PROT_NONE). 0, or 1
 * when the address space past it is taken (nothing changed). */
int mmi_region_widen(mmi_region *r, size_t reserve);
void mmi_region_release(mmi_region *r);

/* ---- open.c ---- */

/* How a handle is built (mmi_map_fd): over a memory file (anon.c); over
 * an fd that still has the O_NONBLOCK the library opened it with, which
 * mmi_fd_settle clears before the fd is handed out. */
#define MMI_HANDLE_ANONYMOUS 1u
#define MMI_HANDLE_NONBLOCK 2u

/* Builds a complete handle over fd, of o->mode, with o's flags, policy
 * and reservation, for a file of size bytes; `how` is MMI_HANDLE_* bits.
 * The handle owns fd only on success. */
int mmi_map_fd(mmapio_map **out, int fd, const char *path,
               const mmapio_options *o, uint64_t size, unsigned how);
/* m's fd, blocking (mmapio_fd, mmapio_unmap). */
int mmi_fd_settle(const mmapio_map *m);

/* Drops one reference; the last one closes the fd and frees m, unless a
 * walk is still live (then the walk's end frees it). */
void mmi_release(mmapio_map *m);
/* The rest of the release once no walk slot holds m: gives up the
 * references' share of m->walks, and frees m when no walk counted there is
 * live (walk_slots.c calls it for handles that waited). */
void mmi_release_walks(mmapio_map *m);
/* Closes the fd and frees m. Called by whoever took m->walks to 0 (the
 * last walk or the last reference; see pin.c), which happens once. */
void mmi_free_handle(mmapio_map *m);

/* ---- flush.c ---- */

/* Applies the flush policy after an update of [off, off+len). */
int mmi_after_update(mmapio_map *m, uint64_t off, size_t len);

/* ---- flush_thread.c ---- */

/* Starts the EVERY_MILLIS thread for m (0 or MMAPIO_E_*). */
int mmi_flusher_start(mmapio_map *m);
/* Stops and joins it; no-op when there is none. */
void mmi_flusher_stop(mmapio_map *m);

/* ---- create.c ---- */

/* CREATE (see mmapio_open_ex): o->size is already checked. */
int mmi_create(mmapio_map **out, const char *path, const mmapio_options *o,
               const char *fn);
/* The creating half of OPEN_OR_CREATE: path gets its name only once
 * sized and mapped. 0, MMI_LOST_RACE when another process created it
 * first, or a negative MMAPIO_E_*. */
#define MMI_LOST_RACE 1
int mmi_create_exclusive(mmapio_map **out, const char *path,
                         const mmapio_options *o, const char *fn);

/* ---- guard.c ---- */

/* memcpy(dst, src, len) where `mapped` (src or dst) is the mapped side at
 * offset off: a SIGBUS inside it returns MMAPIO_E_FAULT, naming fn. */
int mmi_guarded_copy(const char *fn, void *dst, const void *src, size_t len,
                     const void *mapped, uint64_t off);

/* Every library copy into or out of m's mapping: memcpy, or, when the
 * guard is on for m, mmi_guarded_copy (the one flag load is all the
 * unguarded path pays). `mapped` is the mapped side (src or dst), at
 * offset off. 0 or MMAPIO_E_FAULT. */
static inline int mmi_copy(const mmapio_map *m, const char *fn, void *dst,
                           const void *src, size_t len, const void *mapped,
                           uint64_t off) {
  if (MMI_UNLIKELY(atomic_load_explicit(&((mmapio_map *)m)->head.guarded_,
                                        memory_order_relaxed)))
    return mmi_guarded_copy(fn, dst, src, len, mapped, off);
  if (len > 0)
    memcpy(dst, src, len);
  return 0;
}

/* ---- hints.c ---- */

/* Applies the best-effort open hints (huge pages, eager touch) in flags
 * to a new mapping. Never fails: a hint that cannot be honoured is
 * skipped. */
void mmi_apply_hints(mmapio_map *m, unsigned flags);

/* ---- pin.c ---- */

/* Takes a reference on m (not NULL) that pins no byte: a pin of [0, 0),
 * which no shrink can cut. Released with mmapio_unpin(). */
void mmi_hold(mmapio_pin *ref, mmapio_map *m);

/* The largest end of any live pin or walk (0 if none); caller holds m->mu
 * and has set m->shrinking, so that no walk can begin unseen. */
uint64_t mmi_pinned_end(const mmapio_map *m);

/* ---- walk_slots.c: walks registered without a locked instruction ---- */

/* A function kept out of line, so that its caller's fast path keeps no
 * stack frame for it. */
#if defined(__GNUC__) || defined(__clang__)
#define MMI_OUT_OF_LINE_ __attribute__((noinline, cold))
#else
#define MMI_OUT_OF_LINE_
#endif

/* A walk slot: the handle a walk holds, or NULL when free. */
typedef _Atomic(struct mmapio_map *) mmi_walk_slot;

/* Walks one thread holds at once, in slots (walk_slots.c). */
#define MMI_WALK_SLOTS 8

/* One thread's slots. */
typedef struct mmi_walk_record {
  mmi_walk_slot map[MMI_WALK_SLOTS];    /* NULL: free */
  _Atomic uint64_t len[MMI_WALK_SLOTS]; /* the length the walk holds */
  _Atomic bool owned;                   /* a live thread takes from it */
} mmi_walk_record;

/* The calling thread's record, read on every walk, or NULL. The
 * initial-exec model reads it at a fixed offset from the thread pointer,
 * where a shared library's default model calls __tls_get_addr. */
#if defined(__GNUC__) || defined(__clang__)
#define MMI_TLS_FAST_ __attribute__((tls_model("initial-exec")))
#else
#define MMI_TLS_FAST_
#endif
extern _Thread_local mmi_walk_record *mmi_walk_mine MMI_TLS_FAST_;
/* Handles waiting for walks to end after their last reference went. */
extern _Atomic unsigned mmi_graves;

/* mmi_slot_take when the thread has no record yet or m has no slot walk
 * yet. */
mmi_walk_slot *mmi_slot_take_first(mmapio_map *m, uint64_t len);
/* Finishes the release of every waiting handle no slot holds. */
void mmi_slots_reap(void);

/* mmi_slot_take for a thread that has a record, on a handle a slot walk
 * has been on: NULL when that is not so, or no slot is free. No call, so
 * that the walk's fast path needs no stack frame. */
static inline mmi_walk_slot *mmi_slot_take_fast(mmapio_map *m, uint64_t len) {
  mmi_walk_record *r = mmi_walk_mine;
  if (r == NULL || !atomic_load_explicit(&m->slot_walked, memory_order_acquire))
    return NULL;
  for (int i = 0; i < MMI_WALK_SLOTS; i++) {
    if (atomic_load_explicit(&r->map[i], memory_order_relaxed) != NULL)
      continue;
    atomic_store_explicit(&r->len[i], len, memory_order_relaxed);
    atomic_store_explicit(&r->map[i], m, memory_order_release);
    /* The handshake's order on this side (walk_slots.c). */
    atomic_signal_fence(memory_order_seq_cst);
    return &r->map[i];
  }
  return NULL;
}

/* Registers a walk of [0, len) of m in a slot of the calling thread: the
 * slot, or NULL when the thread has none free or slots are not in use
 * (then the walk counts itself in m->walks). The caller reads
 * m->shrinking next (seq_cst), and clears the slot if a shrink is under
 * way. Inline: this and mmi_slot_clear are all a walk's registration
 * costs. */
static inline mmi_walk_slot *mmi_slot_take(mmapio_map *m, uint64_t len) {
  mmi_walk_slot *slot = mmi_slot_take_fast(m, len);
  return slot != NULL ? slot : mmi_slot_take_first(m, len);
}

/* Ends a slot's walk; the walk must not touch the handle afterwards. */
static inline void mmi_slot_clear(mmi_walk_slot *slot) {
  atomic_store_explicit(slot, NULL, memory_order_release);
  /* The handshake's order on this side (walk_slots.c). */
  atomic_signal_fence(memory_order_seq_cst);
  if (atomic_load_explicit(&mmi_graves, memory_order_relaxed) != 0)
    mmi_slots_reap();
}

/* The last reference to m is gone: m waits until no slot holds it, then
 * mmi_release_walks(m) runs (maybe before this returns). */
void mmi_slot_retire(mmapio_map *m);
/* A shrink has set m->shrinking: makes every slot taken on m before that
 * visible to mmi_slots_end (the barrier, when a walk ever took a slot on
 * m). 0, or -1 and errno. */
int mmi_slots_fence(const mmapio_map *m);
/* The largest length a slot holds on m (0 if none). */
uint64_t mmi_slots_end(const mmapio_map *m);
/* Whether a slot holds m. */
bool mmi_slots_live(const mmapio_map *m);

/* ---- pin.c: chunk and page walks ---- */

/* What pin->prev_ points to for a walk in a walk slot (pin->next_ is then
 * the slot). */
extern mmapio_pin mmi_slot_walk;

/* mmi_walk_begin's way when no slot can be had: counted in m->walks, or
 * a pin under the mutex while a shrink is under way. */
unsigned char *mmi_walk_begin_counted(mmapio_pin *pin, mmapio_map *m,
                                      uint64_t *len);
/* mmi_walk_end for a walk mmi_walk_begin_counted began. */
void mmi_walk_end_counted(mmapio_pin *pin);

/* The length and base still those a walk read first: no shrink or move
 * finished between that read and the walk's registration. */
static inline bool mmi_walk_holds(const mmapio_map *m, const unsigned char *b,
                                  uint64_t l) {
  uint64_t now = atomic_load_explicit(&m->head.len_, memory_order_acquire);
  return now >= l &&
         atomic_load_explicit(&m->head.base_, memory_order_relaxed) == b;
}

/* A walk of [0, l) of m, read at base b, has taken slot: true, and pin
 * holds the walk, when no shrink is under way and none (nor a move)
 * finished since b and l were read; else the slot is given back and
 * false returned (mmi_walk_begin waits for the shrink). No grave can
 * wait on m while it is being walked, so giving the slot back leaves
 * nothing to reap. */
static inline bool mmi_walk_in_slot(mmapio_pin *pin, mmapio_map *m,
                                    mmi_walk_slot *slot, const unsigned char *b,
                                    uint64_t l) {
  if (atomic_load_explicit(&m->shrinking, memory_order_seq_cst) ||
      !mmi_walk_holds(m, b, l)) {
    atomic_store_explicit(slot, NULL, memory_order_release);
    return false;
  }
  pin->map_ = m;
  pin->end_ = l;
  pin->prev_ = &mmi_slot_walk;
  pin->next_ = (mmapio_pin *)(void *)slot;
  return true;
}

/* mmi_walk_begin's common case, with no call: true, the base in *base
 * and the length in *len, when the walk took a slot; false (nothing
 * done) when mmi_walk_begin must decide. */
static inline bool mmi_walk_begin_fast(mmapio_pin *pin, mmapio_map *m,
                                       unsigned char **base, uint64_t *len) {
  uint64_t l;
  unsigned char *b = mmi_snapshot(m, &l);
  mmi_walk_slot *slot = mmi_slot_take_fast(m, l);
  if (slot == NULL || !mmi_walk_in_slot(pin, m, slot, b, l))
    return false;
  *base = b;
  *len = l;
  return true;
}

/* Pins [0, current length) of m for a chunk or page walk, without the
 * mutex unless a shrink is under way, and returns a base that covers
 * that length, in *len, until mmi_walk_end(pin). The walk holds m alive
 * but takes no reference. pin->prev_ says how it is held: &mmi_slot_walk
 * in a walk slot, NULL counted in m->walks, else a pin in the list. */
unsigned char *mmi_walk_begin(mmapio_pin *pin, mmapio_map *m, uint64_t *len);

/* Ends a walk begun with mmi_walk_begin; a no-op once ended. */
static inline void mmi_walk_end(mmapio_pin *pin) {
  if (pin->map_ != NULL && pin->prev_ == &mmi_slot_walk) {
    pin->map_ = NULL;
    mmi_slot_clear((mmi_walk_slot *)(void *)pin->next_);
    return;
  }
  mmi_walk_end_counted(pin);
}

/* Whether a walk is live (for mmapio_unmap; the caller holds a
 * reference). */
bool mmi_walks_live(const mmapio_map *m);
/* Removes one unit of m->walks (a walk, or the references' share, see
 * pin.c) and returns the units left: 0 means the caller frees m. */
uint64_t mmi_walk_leave(mmapio_map *m);

#endif
