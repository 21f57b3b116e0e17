/* Pins: caller-owned references that keep a range from being cut. */
#include "internal.h"

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
  uint64_t end = 0;
  for (const mmapio_pin *p = m->pins.next_; p != &m->pins; p = p->next_)
    if (p->end_ > end)
      end = p->end_;
  return end;
}
