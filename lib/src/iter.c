/*
 * Iterators: chunks and pages (zero-copy; next() is inline in the
 * header), their owned-copy form, and the writable walk with a callback.
 * A walk pins the length it started with, so a shrink cannot cut it
 * (pin.c: without a lock).
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Sets it up for a walk of [0, len) at base b in chunks of chunk_size. */
static void chunks_start(mmapio_chunks *it, const unsigned char *b,
                         uint64_t len, size_t chunk_size) {
  it->base_ = b;
  it->pos_ = 0;
  it->end_ = len;
  it->size_ = chunk_size;
}

/* The rest of mmapio_chunks_begin, out of its fast path's way. */
MMI_OUT_OF_LINE_ static int chunks_begin_slow(mmapio_chunks *it, mmapio_map *m,
                                              size_t chunk_size) {
  if (it == NULL || m == NULL || chunk_size == 0)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "mmapio_chunks_begin: it and m must not be NULL and the "
                    "chunk size (%zu) must not be 0",
                    chunk_size);
  uint64_t len;
  const unsigned char *b = mmi_walk_begin(&it->pin_, m, &len);
  chunks_start(it, b, len, chunk_size);
  return 0;
}

int mmapio_chunks_begin(mmapio_chunks *it, mmapio_map *m, size_t chunk_size) {
  unsigned char *b;
  uint64_t len;
  if (it == NULL || m == NULL || chunk_size == 0 ||
      !mmi_walk_begin_fast(&it->pin_, m, &b, &len))
    return chunks_begin_slow(it, m, chunk_size);
  chunks_start(it, b, len, chunk_size);
  return 0;
}

int mmapio_pages_begin(mmapio_chunks *it, mmapio_map *m) {
  if (it == NULL || m == NULL)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "mmapio_pages_begin: it and m must not be NULL");
  return mmapio_chunks_begin(it, m, mmi_page());
}

void mmapio_chunks_end(mmapio_chunks *it) {
  if (it == NULL)
    return;
  it->end_ = it->pos_;
  mmi_walk_end(&it->pin_); /* a no-op once ended */
}

int mmapio_chunks_next_owned(mmapio_chunks *it, mmapio_owned_chunk *out) {
  if (it == NULL || out == NULL)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "mmapio_chunks_next_owned: it and out must not be NULL");
  uint64_t left = it->end_ - it->pos_;
  if (left == 0) {
    mmapio_chunks_end(it);
    out->data = NULL;
    out->len = 0;
    out->off = it->pos_;
    return 0;
  }
  size_t n = left < it->size_ ? (size_t)left : it->size_;
  void *copy = malloc(n);
  if (copy == NULL)
    return mmi_fail(MMAPIO_E_NO_MEMORY, ENOMEM, NULL,
                    "mmapio_chunks_next_owned: cannot allocate %zu bytes for "
                    "the chunk at %llu",
                    n, (unsigned long long)it->pos_);
  const unsigned char *from = it->base_ + (size_t)it->pos_;
  int rc = mmi_copy(it->pin_.map_, "mmapio_chunks_next_owned", copy, from, n,
                    from, it->pos_);
  if (rc != 0) {
    free(copy);
    return rc; /* the walk has not advanced */
  }
  out->data = copy;
  out->len = n;
  out->off = it->pos_;
  it->pos_ += n;
  return 0;
}

int mmapio_chunks_mut(mmapio_map *m, size_t chunk_size, mmapio_chunk_fn fn,
                      void *ctx) {
  if (m == NULL || fn == NULL || chunk_size == 0)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "mmapio_chunks_mut: m and fn must not be NULL and the "
                    "chunk size (%zu) must not be 0",
                    chunk_size);
  if (mmi_mode(m) == MMAPIO_MODE_RO)
    return mmi_fail(MMAPIO_E_INVALID_MODE, 0, NULL,
                    "mmapio_chunks_mut: the mapping is read-only");
  mmapio_pin pin;
  uint64_t len;
  unsigned char *b = mmi_walk_begin(&pin, m, &len);
  int rc = 0;
  for (uint64_t off = 0; off < len && rc == 0;) {
    size_t n = len - off < chunk_size ? (size_t)(len - off) : chunk_size;
    rc = fn(off, b + (size_t)off, n, ctx);
    off += n;
  }
  mmi_walk_end(&pin);
  return rc;
}
