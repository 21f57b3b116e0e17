/*
 * Walk slots: how a chunk or page walk registers itself without a locked
 * instruction.
 *
 * Each thread that walks owns a record of MMI_WALK_SLOTS slots; a walk
 * writes its handle and length into a free slot of its thread's record and
 * clears it at the end (from whichever thread ends it: only the walk
 * writes its slot while it is taken, and only the owning thread takes a
 * free one). The records are a fixed array, so that walking never
 * allocates; a thread that exits leaves its record to the next thread,
 * and threads beyond the array's count use the other way (below).
 *
 * The rare sides read the slots: a shrink, to refuse cutting what a walk
 * holds, and the release of a handle's last reference, to leave the free
 * to the walks still on it. Both are Dekker handshakes with the walk:
 *  - begin: write the slot, then read m->shrinking; shrink: set
 *    m->shrinking, then read the slots;
 *  - end: clear the slot, then read graves; release: add the handle to
 *    the graves, then read the slots.
 * The frequent side orders its write before its read with a compiler
 * barrier only; the rare side calls mmi_os_barrier_all between its two
 * steps, which runs a full barrier on every thread that is running (the
 * asymmetric form of the handshake), so at least one side sees the other.
 *
 * A handle whose last reference goes while walks hold it waits in the
 * graves; whoever finds it held by no slot (the release itself or a walk
 * ending) takes it out under graves_mu and finishes the release. Reading a
 * slot clear is always safe: a walk clears its slot as the last thing it
 * does with the handle. Reading it taken may be stale (the walk has just
 * ended); that walk then sees the grave and looks again.
 *
 * Where the barrier is not available (mmi_os_barrier_setup fails), every
 * record is owned, or a thread's slots are all taken, walks count
 * themselves in m->walks with compare-and-swap instead (pin.c).
 */
#include "walk_slots.h"

#include "internal.h"
#include "os.h"

#include <errno.h>
#include <pthread.h>

/* Threads that hold slots at once: many threads walking at the same time
 * are rare; past the limit (and past MMI_WALK_SLOTS nested walks in one
 * thread) walks take the slower way. */
#define MMI_WALK_RECORDS 64

static mmi_walk_record records[MMI_WALK_RECORDS];
static _Atomic unsigned nrecords; /* records ever owned: the scans' bound */
_Thread_local mmi_walk_record *mmi_walk_mine MMI_TLS_FAST_;
/* Set when the thread found no record: it then always takes the other
 * way, rather than looking again on every walk. */
static _Thread_local bool none MMI_TLS_FAST_;
/* 1: the barrier works and slots are used; -1: it does not. */
static _Atomic int slots_state;
static pthread_once_t slots_once = PTHREAD_ONCE_INIT;
static pthread_key_t owner_key;
static bool key_made; /* owner_key exists (set once, by slots_init) */

static pthread_mutex_t graves_mu = PTHREAD_MUTEX_INITIALIZER;
static mmapio_map *graves;   /* linked by grave_next; under graves_mu */
_Atomic unsigned mmi_graves; /* entries in graves */

/* The thread's record is free for another thread once it exits;
 * slots still taken (walks the thread handed on) stay taken until those
 * walks end. */
static void disown(void *rec) {
  atomic_store_explicit(&((mmi_walk_record *)rec)->owned, false,
                        memory_order_release);
}

/* The key's destructor is this library's code: were the library unloaded
 * (dlclose) while threads that walked live on, their exits would call
 * into unmapped code. Deleting the key on unload stops that. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((destructor)) static void slots_unload(void) {
  if (atomic_load_explicit(&slots_state, memory_order_acquire) != 0 && key_made)
    (void)pthread_key_delete(owner_key);
}
#endif

static void slots_init(void) {
  key_made = pthread_key_create(&owner_key, disown) == 0;
  int state = key_made && mmi_os_barrier_setup() == 0 ? 1 : -1;
  atomic_store_explicit(&slots_state, state, memory_order_release);
}

/* The calling thread's record, one no live thread owns; NULL when slots
 * are not used or every record is owned. */
static mmi_walk_record *attach(void) {
  (void)pthread_once(&slots_once, slots_init);
  if (atomic_load_explicit(&slots_state, memory_order_acquire) != 1) {
    none = true;
    return NULL;
  }
  for (unsigned i = 0; i < MMI_WALK_RECORDS; i++) {
    mmi_walk_record *r = &records[i];
    bool owned = false;
    if (atomic_load_explicit(&r->owned, memory_order_relaxed) ||
        !atomic_compare_exchange_strong_explicit(&r->owned, &owned, true,
                                                 memory_order_acquire,
                                                 memory_order_relaxed))
      continue;
    unsigned n = atomic_load_explicit(&nrecords, memory_order_relaxed);
    while (n <= i && !atomic_compare_exchange_weak_explicit(
                         &nrecords, &n, i + 1, memory_order_release,
                         memory_order_relaxed)) {
    }
    if (pthread_setspecific(owner_key, r) != 0) {
      disown(r);
      break;
    }
    mmi_walk_mine = r;
    return r;
  }
  none = true;
  return NULL;
}

mmi_walk_slot *mmi_slot_take_first(mmapio_map *m, uint64_t len) {
  if (mmi_walk_mine == NULL && (none || attach() == NULL))
    return NULL;
  /* The first walk of a handle says so with an exchange, a full barrier:
   * a shrink reads the flag after setting m->shrinking, so either it sees
   * the flag (and then the slot, after its barrier) or this walk sees the
   * shrink. */
  if (!atomic_load_explicit(&m->slot_walked, memory_order_acquire))
    (void)atomic_exchange_explicit(&m->slot_walked, true, memory_order_seq_cst);
  return mmi_slot_take_fast(m, len); /* NULL: every slot is taken */
}

/* Whether a slot holds m; the largest length one holds in *end. */
static bool slots_hold(const mmapio_map *m, uint64_t *end) {
  bool held = false;
  unsigned n = atomic_load_explicit(&nrecords, memory_order_acquire);
  for (mmi_walk_record *r = records; r < records + n; r++)
    for (int i = 0; i < MMI_WALK_SLOTS; i++) {
      if (atomic_load_explicit(&r->map[i], memory_order_acquire) != m)
        continue;
      held = true;
      uint64_t len = atomic_load_explicit(&r->len[i], memory_order_relaxed);
      if (end != NULL && len > *end)
        *end = len;
    }
  return held;
}

/* Finishes the release of every grave no slot holds. */
void mmi_slots_reap(void) {
  mmapio_map *done = NULL;
  pthread_mutex_lock(&graves_mu);
  unsigned left = 0;
  for (mmapio_map **at = &graves; *at != NULL;) {
    mmapio_map *m = *at;
    if (slots_hold(m, NULL)) {
      at = &m->grave_next;
      left++;
      continue;
    }
    *at = m->grave_next;
    m->grave_next = done;
    done = m;
  }
  atomic_store_explicit(&mmi_graves, left, memory_order_relaxed);
  pthread_mutex_unlock(&graves_mu);
  while (done != NULL) {
    mmapio_map *m = done;
    done = m->grave_next;
    mmi_release_walks(m);
  }
}

void mmi_slot_retire(mmapio_map *m) {
  pthread_mutex_lock(&graves_mu);
  m->grave_next = graves;
  graves = m;
  atomic_store_explicit(
      &mmi_graves, atomic_load_explicit(&mmi_graves, memory_order_relaxed) + 1,
      memory_order_relaxed);
  pthread_mutex_unlock(&graves_mu);
  /* Without the barrier a walk that has just ended may not have seen the
   * grave, nor this the end: m then waits for the next walk to end or
   * the next release, which look again. */
  (void)mmi_os_barrier_all();
  mmi_slots_reap();
}

int mmi_slots_fence(const mmapio_map *m) {
  if (!atomic_load_explicit(&m->slot_walked, memory_order_seq_cst))
    return 0;
  return mmi_os_barrier_all();
}

uint64_t mmi_slots_end(const mmapio_map *m) {
  uint64_t end = 0;
  if (atomic_load_explicit(&m->slot_walked, memory_order_seq_cst))
    (void)slots_hold(m, &end);
  return end;
}

bool mmi_slots_live(const mmapio_map *m) {
  return atomic_load_explicit(&m->slot_walked, memory_order_acquire) &&
         slots_hold(m, NULL);
}

int mmi_slots_state(void) {
  return atomic_load_explicit(&slots_state, memory_order_acquire);
}
