/* The fuzz targets' shared input decoder: reads little-endian integers
 * from the fuzzer's bytes, yielding zeros once they run out. */
#ifndef MMAPIO_FUZZ_INPUT_H
#define MMAPIO_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

typedef struct fz_input {
  const uint8_t *p;
  size_t n;
} fz_input;

static inline int fz_more(const fz_input *in) { return in->n > 0; }

static inline uint64_t fz_take(fz_input *in, unsigned bytes) {
  uint64_t v = 0;
  for (unsigned i = 0; i < bytes && in->n > 0; i++, in->p++, in->n--)
    v |= (uint64_t)in->p[0] << (8 * i);
  return v;
}

/* One byte as a choice among n (n <= 256). */
static inline unsigned fz_pick(fz_input *in, unsigned n) {
  return (unsigned)(fz_take(in, 1) % n);
}

/* A value in [0, bound], biased towards the edges that bounds checks get
 * wrong: 0, bound, bound +- 1, and values near UINT64_MAX. */
static inline uint64_t fz_edgy(fz_input *in, uint64_t bound) {
  uint8_t sel = (uint8_t)fz_take(in, 1);
  uint64_t raw = fz_take(in, 4);
  switch (sel % 8) {
  case 0:
    return 0;
  case 1:
    return bound;
  case 2:
    return bound + 1;
  case 3:
    return bound > 0 ? bound - 1 : 0;
  case 4:
    return UINT64_MAX - (raw % 16);
  default:
    return bound > 0 ? raw % (bound + 1) : 0;
  }
}

#endif
