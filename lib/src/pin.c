/*
 * Pins: caller-owned references that keep a range from being cut.
 *
 * Two kinds. A pin (mmapio_pin_range, segments, cursors) is linked into
 * the handle's list under m->mu and holds a reference. A chunk or page
 * walk, which begins and ends far more often and must cost a few
 * nanoseconds, takes no lock. It writes itself into a slot of its
 * thread (walk_slots.c: no locked instruction, the shrink's side pays
 * a barrier). Where it cannot (no slot free, no barrier on this system)
 * it counts itself in m->walks, with the
 * length the live walks hold, in one atomic word. That length is exact,
 * not a bound: the walks counted there all hold the same length, and a
 * walk of another length (the mapping was resized since the live ones
 * began) takes a pin instead; so a shrink is refused only for bytes a
 * walk holds, and the length goes with the last walk. Against a
 * shrink it follows the store-then-load handshake of Dekker's algorithm,
 * in sequentially consistent order:
 *  - a walk adds itself to m->walks, then reads m->shrinking;
 *  - a shrink sets m->shrinking, then reads m->walks.
 * At least one of them sees the other. A walk that sees a shrink backs
 * out and takes a pin under the mutex instead (which waits for the
 * shrink); a shrink that sees walks holding bytes it would cut fails with
 * BUSY. A walk also re-reads the length after registering: a shrink that
 * finished between its first read and its registration is caught there,
 * and the walk starts again.
 *
 * The same word decides who frees the handle. While any reference is
 * held, the count carries one extra unit for them; the last reference
 * removes it (mmi_release). Whoever takes the count to zero, the last
 * walk or the last reference, frees: one atomic word, so neither reads
 * the handle after the other may have freed it.
 */
#include "internal.h"

#define WALK_COUNT_MAX 0xFFFFu /* bits 0-15 of m->walks */
#define WALK_END_SHIFT 16      /* the walks' length, bits 16-63 */

static uint64_t walk_count(uint64_t w) { return w & WALK_COUNT_MAX; }
static uint64_t walk_end(uint64_t w) { return w >> WALK_END_SHIFT; }

int mmapio_pin_range(mmapio_pin *out, mmapio_map *m, uint64_t off,
                     uint64_t len) {
  if (out == NULL || m == NULL)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "mmapio_pin_range: out and m must not be NULL");
  /* Under mu, so a concurrent shrink either sees this pin or has already
   * shortened the length this check reads. */
  pthread_mutex_lock(&m->mu);
  uint64_t size = atomic_load_explicit(&m->head.len_, memory_order_relaxed);
  if (!mmi_in_bounds(off, len, size)) {
    pthread_mutex_unlock(&m->mu);
    return mmi_fail_bounds("mmapio_pin_range", off, len, size);
  }
  out->map_ = m;
  out->end_ = off + len;
  out->prev_ = &m->pins;
  out->next_ = m->pins.next_;
  m->pins.next_->prev_ = out;
  m->pins.next_ = out;
  atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
  pthread_mutex_unlock(&m->mu);
  return 0;
}

void mmi_hold(mmapio_pin *ref, mmapio_map *m) {
  (void)mmapio_pin_range(ref, m, 0, 0);
}

void mmapio_unpin(mmapio_pin *pin) {
  if (pin == NULL || pin->map_ == NULL)
    return;
  mmapio_map *m = pin->map_;
  pthread_mutex_lock(&m->mu);
  pin->prev_->next_ = pin->next_;
  pin->next_->prev_ = pin->prev_;
  pthread_mutex_unlock(&m->mu);
  pin->map_ = NULL;
  mmi_release(m);
}

uint64_t mmi_pinned_end(const mmapio_map *m) {
  uint64_t end =
      walk_end(atomic_load_explicit(&m->walks, memory_order_seq_cst));
  uint64_t slots = mmi_slots_end(m);
  if (slots > end)
    end = slots;
  for (const mmapio_pin *p = m->pins.next_; p != &m->pins; p = p->next_)
    if (p->end_ > end)
      end = p->end_;
  return end;
}

/* Removes one unit (a walk, or the references' share); when no walk is
 * left, the length goes too. Returns the units left. Whether the
 * one left is a walk or the references' share does not matter for the
 * length: a shrink needs a reference, and with none the length is never
 * read again. */
uint64_t mmi_walk_leave(mmapio_map *m) {
  uint64_t w = atomic_load_explicit(&m->walks, memory_order_relaxed);
  uint64_t left, next;
  do {
    left = walk_count(w) - 1;
    next = left <= 1 ? left : (w & ~(uint64_t)WALK_COUNT_MAX) | left;
  } while (!atomic_compare_exchange_weak_explicit(
      &m->walks, &w, next, memory_order_seq_cst, memory_order_relaxed));
  return left;
}

/* Adds a walk of [0, len); false when the count is full or live walks
 * hold another length. The caller holds a reference, so the count has
 * the references' share: above 1, walks are live. */
static bool walk_enter(mmapio_map *m, uint64_t len) {
  uint64_t w = atomic_load_explicit(&m->walks, memory_order_relaxed);
  uint64_t next;
  do {
    if (walk_count(w) == WALK_COUNT_MAX ||
        (walk_count(w) > 1 && walk_end(w) != len))
      return false;
    next = len << WALK_END_SHIFT | (walk_count(w) + 1);
  } while (!atomic_compare_exchange_weak_explicit(
      &m->walks, &w, next, memory_order_seq_cst, memory_order_relaxed));
  return true;
}

mmapio_pin mmi_slot_walk;

/* Times a walk that meets a shrink waits for it to finish before it
 * queues on the mutex: a shrink holds m->mu for microseconds (its barrier
 * and its system calls), and a thread that resizes in a loop takes the
 * mutex again before a walk queued there wakes up. */
#define WALK_SHRINK_WAITS 16
#define WALK_SHRINK_SPINS 4096

unsigned char *mmi_walk_begin(mmapio_pin *pin, mmapio_map *m, uint64_t *len) {
  unsigned char *b;
  if (mmi_walk_begin_fast(pin, m, &b, len))
    return b;
  for (int wait = 0; wait < WALK_SHRINK_WAITS; wait++) {
    uint64_t l;
    b = mmi_snapshot(m, &l);
    mmi_walk_slot *slot = mmi_slot_take(m, l);
    if (slot == NULL)
      break; /* no slot: counted in m->walks */
    if (mmi_walk_in_slot(pin, m, slot, b, l)) {
      *len = l;
      return b;
    }
    for (int spin = 0;
         spin < WALK_SHRINK_SPINS &&
         atomic_load_explicit(&m->shrinking, memory_order_relaxed);
         spin++) {
    }
  }
  return mmi_walk_begin_counted(pin, m, len);
}

unsigned char *mmi_walk_begin_counted(mmapio_pin *pin, mmapio_map *m,
                                      uint64_t *len) {
  for (;;) {
    uint64_t l;
    unsigned char *b = mmi_snapshot(m, &l);
    if (!walk_enter(m, l))
      break;
    if (atomic_load_explicit(&m->shrinking, memory_order_seq_cst)) {
      mmi_walk_leave(m);
      break;
    }
    if (mmi_walk_holds(m, b, l)) {
      pin->map_ = m;
      pin->end_ = l;
      pin->prev_ = pin->next_ = NULL;
      *len = l;
      return b;
    }
    mmi_walk_leave(m); /* a shrink came between: start again */
  }
  /* A shrink is under way, live walks hold another length, or 65535 walks
   * are live: take a pin under the mutex, which waits for a shrink. [0, 0) is
   * always inside the mapping, so this cannot fail; the pin is then widened
   * under mu, where shrinks read the pins. */
  (void)mmapio_pin_range(pin, m, 0, 0);
  pthread_mutex_lock(&m->mu);
  *len = atomic_load_explicit(&m->head.len_, memory_order_relaxed);
  unsigned char *b = atomic_load_explicit(&m->head.base_, memory_order_relaxed);
  pin->end_ = *len;
  pthread_mutex_unlock(&m->mu);
  return b;
}

void mmi_walk_end_counted(mmapio_pin *pin) {
  mmapio_map *m = pin->map_;
  if (m == NULL)
    return;
  if (pin->prev_ != NULL) {
    mmapio_unpin(pin);
    return;
  }
  pin->map_ = NULL;
  if (mmi_walk_leave(m) == 0)
    mmi_free_handle(m);
}

bool mmi_walks_live(const mmapio_map *m) {
  /* The caller holds a reference: one unit is the references' share. */
  return walk_count(atomic_load_explicit(&m->walks, memory_order_seq_cst)) >
             1 ||
         mmi_slots_live(m);
}
