/*
 * touch_pages: fault every page of a range in, the fastest way per call,
 * and the residency query.
 *
 * Two ways, measured on Linux 6.18 (2 vCPU VM; see the issue-4 report):
 *  - a loop reading one byte per page: 1.3-5 us per warm MiB mapped with
 *    small pages;
 *  - one MADV_POPULATE_READ: one system call plus 0.05 us per MiB when
 *    the range is mapped by huge pages (one step per 2 MiB instead of
 *    512 loads), but 30-45 us per MiB over small pages already mapped.
 *    Over pages not mapped yet (cached or not) it is as fast as the loop
 *    or faster, and much steadier: 1 GiB read cold took 0.43-0.58 s and
 *    15 ms of CPU, the loop 0.44-0.93 s and up to 0.65 s of CPU.
 * So the loop is used where the range is mapped with small pages, and
 * populate where it is mapped by huge pages or not mapped. A range is
 * rarely all one or the other: a file read in through faults gets small
 * folios first and huge ones once read-ahead has grown (on ext4, 6.18,
 * the first 40 MiB of a 1 GiB file were small, the rest PMD-mapped). So
 * a range of many huge pages is cut into up to MMI_TOUCH_SEGS segments,
 * each judged by a probe of its first whole huge page, and each run of
 * segments alike is done the way its probes chose. A PAGEMAP_SCAN of one
 * page costs about 1 us, a scan of the whole range as much as the loop,
 * so there is at most one probe per 8 MiB, and the answers are cached
 * per range in a small lock-free table: huge answers are re-checked by
 * the populate call's own duration, a range with a small one is
 * re-probed every 16th call, one not mapped on every call. The table
 * is only a hint: a stale entry chooses a slower way, never a wrong
 * result. Ranges without a whole huge page, and pages the probe cannot
 * tell about (no PAGEMAP_SCAN: kernels before 6.7), take the loop, and
 * so do small ranges not mapped over a hole of the file (FIEMAP says so
 * without I/O): there the fault path allocating zeroed pages beats
 * populate.
 */
#include "memory.h"
#include "platform_memory.h"

#include <errno.h>
#include <stdatomic.h>

/* A populate call slower than this per MiB (plus as much again) did not
 * run over huge pages only: over huge pages it takes about 0.1 us per
 * MiB, over small ones 30 us or more. */
#define MMI_HUGE_US_PER_MIB 2u
/* At most this many segments (probes) per range, and at least this many
 * bytes per segment: 8 MiB loop in 10-40 us, 8 times a probe's cost. */
#define MMI_TOUCH_SEGS 16u
#define MMI_TOUCH_SEG_MIN ((size_t)8 << 20)
/* Stack round trips between two pages of the loop (touch_loop). */
#define MMI_TOUCH_PACE 3u
/* Pages not mapped over a hole of the file (a fresh sparse file: no
 * I/O, the kernel allocates zeroed pages) are looped in ranges up to
 * this size: 15-20 % faster than populate at 8 and 32 MiB; at 1 GiB
 * populate is 10 % faster. */
#define MMI_TOUCH_HOLE_LOOP ((size_t)64 << 20)

/* A cache slot: tag (bits 24-63) | huge segments (bits 8-23, bit i for
 * segment i) | calls since the probe (bits 0-7). */
#define MMI_TOUCH_SLOTS 64u
#define MMI_SLOT_SEG_SHIFT 8
#define MMI_SLOT_SEGS ((uint64_t)0xFFFF << MMI_SLOT_SEG_SHIFT)
#define MMI_SLOT_COUNT (uint64_t)0xFF
#define MMI_SLOT_TAG (~(uint64_t)0xFFFFFF)

static _Atomic uint64_t touch_cache[MMI_TOUCH_SLOTS];

void mmi_touch_cache_clear(void) {
  for (size_t i = 0; i < MMI_TOUCH_SLOTS; i++)
    atomic_store_explicit(&touch_cache[i], 0, memory_order_relaxed);
}

static uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/*
 * One volatile load per page, so the compiler keeps every one, paced by
 * a few stack round trips. Over mapped pages each load is a TLB miss and
 * a page walk; a bare loop issues them as fast as it can (five
 * instructions a page), and that many walks at once run slower than
 * fewer: measured on this VM's AMD EPYC, a warm 1 / 8 / 32 MiB range
 * took 0.71 / 10.3 / 54 us bare and 0.55 / 6.9 / 28-37 us paced, and
 * 256 MiB the same within 2 %. Over pages not mapped each step is a page
 * fault of a microsecond or more, beside which the pacing is nothing.
 */
static void touch_loop(const unsigned char *p, size_t len, size_t page) {
  const volatile unsigned char *v = p;
  for (size_t i = 0; i < len; i += page) {
    (void)v[i];
    for (volatile unsigned k = 0; k < MMI_TOUCH_PACE; k++) {
    }
  }
}

static int fail_populate(const char *fn, int e, mmi_span s) {
  int code = e == ENOMEM                         ? MMAPIO_E_NO_MEMORY
             : e == EFAULT || e == MMI_EHWPOISON ? MMAPIO_E_FAULT
                                                 : MMAPIO_E_IO;
  return mmi_fail(code, e, "madvise",
                  "%s: MADV_POPULATE_READ of %zu bytes at %p failed", fn, s.len,
                  (void *)s.start);
}

/*
 * Populates s, mapped by huge pages as far as the probe saw. Returns 0,
 * 1 when populate is missing (the caller loops instead; kernels that
 * have the probe, 6.7+, have populate, 5.14+, so this is rare enough not
 * to be remembered), or an error. *slow is set when the call was too
 * slow for a range of huge pages.
 */
static int populate(const char *fn, mmi_span s, bool *slow) {
  uint64_t t0 = mmi_ticks();
  if (mmi_memsys.populate(s.start, s.len) != 0) {
    int e = errno;
    if (e == EINVAL || e == ENOSYS)
      return 1;
    return fail_populate(fn, e, s);
  }
  uint64_t took = mmi_ticks() - t0;
  uint64_t mib = (uint64_t)(s.len >> 20) + 1;
  *slow = took > mib * MMI_HUGE_US_PER_MIB * mmi_ticks_per_us();
  return 0;
}

/*
 * With the fault guard on, a page past the end of a truncated file must
 * give FAULT, not SIGBUS: MADV_POPULATE_READ reports such a page as
 * EFAULT without a signal. Without it (kernels before 5.14), one guarded
 * byte per page.
 */
static int touch_guarded(const char *fn, const mmapio_map *m, mmi_span s,
                         size_t page) {
  bool slow;
  int rc = populate(fn, s, &slow);
  if (rc != 1)
    return rc;
  const unsigned char *base = mmapio_base(m);
  for (size_t i = 0; i < s.len; i += page) {
    unsigned char byte;
    rc = mmi_guarded_copy(fn, &byte, s.start + i, 1, s.start + i,
                          (uint64_t)(s.start + i - base));
    if (rc != 0)
      return rc;
  }
  return 0;
}

/* How s is cut: segment i starts at its first whole huge page, block
 * i * blocks / segs from the first one (segment 0 starts at s.start,
 * and the last ends at the end of s). */
typedef struct touch_plan {
  uintptr_t first; /* the first whole huge page of s */
  size_t pmd;
  size_t blocks; /* whole huge pages in s */
  unsigned segs; /* 1 .. MMI_TOUCH_SEGS */
} touch_plan;

static uintptr_t seg_probe_at(const touch_plan *p, unsigned i) {
  return p->first + (uintptr_t)(i * p->blocks / p->segs) * p->pmd;
}

static uintptr_t seg_start(const touch_plan *p, mmi_span s, unsigned i) {
  return i == 0 ? (uintptr_t)s.start : seg_probe_at(p, i);
}

/* Probes every segment: *pop gets a bit per segment to populate, those
 * mapped by huge pages and those not mapped at all, except, in ranges up
 * to MMI_TOUCH_HOLE_LOOP, unmapped segments over a hole of the file.
 * Returns true when every answer was huge or small, so that it can be
 * remembered. */
static bool probe_segments(const mmapio_map *m, mmi_span s, const touch_plan *p,
                           uint64_t *pop) {
  bool known = true;
  *pop = 0;
  for (unsigned i = 0; i < p->segs; i++) {
    int kind = mmi_memsys.probe((const void *)seg_probe_at(p, i));
    if (kind == MMI_PROBE_ABSENT && s.len <= MMI_TOUCH_HOLE_LOOP) {
      uintptr_t a = seg_start(p, s, i);
      uintptr_t b = i + 1 == p->segs ? (uintptr_t)s.start + s.len
                                     : seg_start(p, s, i + 1);
      uint64_t off = s.off + (uint64_t)(a - (uintptr_t)s.start);
      if (mmi_memsys.hole(m->fd, off, (uint64_t)(b - a)) == 1)
        kind = MMI_PROBE_UNKNOWN; /* loop it; ask again next time */
    }
    if (kind == MMI_PROBE_HUGE || kind == MMI_PROBE_ABSENT)
      *pop |= (uint64_t)1 << i;
    if (kind != MMI_PROBE_HUGE && kind != MMI_PROBE_SMALL)
      known = false;
  }
  return known;
}

int mmi_touch_span(const char *fn, const mmapio_map *m, mmi_span s) {
  size_t page = mmi_page();
  if (s.len == 0)
    return 0;
  if (MMI_UNLIKELY(atomic_load_explicit(&((mmapio_map *)m)->head.guarded_,
                                        memory_order_relaxed)))
    return touch_guarded(fn, m, s, page);
  touch_plan p;
  p.pmd = mmi_pmd_size();
  uintptr_t lo = (uintptr_t)s.start;
  p.first = (lo + p.pmd - 1) & ~(uintptr_t)(p.pmd - 1);
  /* No whole huge page fits in the range: the loop is the faster way. */
  if (p.first < lo || p.first + p.pmd > lo + s.len ||
      p.first + p.pmd < p.first) {
    touch_loop(s.start, s.len, page);
    return 0;
  }
  p.blocks = (lo + s.len - p.first) / p.pmd;
  size_t segs = s.len / MMI_TOUCH_SEG_MIN;
  segs = segs > MMI_TOUCH_SEGS ? MMI_TOUCH_SEGS : segs;
  segs = segs > p.blocks ? p.blocks : segs;
  p.segs = segs == 0 ? 1u : (unsigned)segs;

  uint64_t h = mix((uint64_t)(uintptr_t)m ^ mix((uint64_t)lo ^ mix(s.len)));
  uint64_t tag = h & MMI_SLOT_TAG;
  if (tag == 0)
    tag = (uint64_t)1 << 24;
  _Atomic uint64_t *slot = &touch_cache[h % MMI_TOUCH_SLOTS];
  uint64_t all = ((uint64_t)1 << p.segs) - 1;
  uint64_t v = atomic_load_explicit(slot, memory_order_relaxed);
  uint64_t huge; /* the segments to populate */
  bool known = true;
  if ((v & MMI_SLOT_TAG) == tag &&
      (((v & MMI_SLOT_SEGS) >> MMI_SLOT_SEG_SHIFT) == all ||
       (v & MMI_SLOT_COUNT) + 1 < MMI_TOUCH_SMALL_RECHECK)) {
    huge = (v & MMI_SLOT_SEGS) >> MMI_SLOT_SEG_SHIFT;
    if (huge != all)
      atomic_store_explicit(slot, v + 1, memory_order_relaxed);
  } else {
    /* Answers other than huge or small are asked again next time. */
    known = probe_segments(m, s, &p, &huge);
    if (known)
      atomic_store_explicit(slot, tag | huge << MMI_SLOT_SEG_SHIFT,
                            memory_order_relaxed);
  }

  /* Runs of segments alike: populate the huge ones, loop the others. */
  uint64_t slow_segs = 0;
  for (unsigned i = 0; i < p.segs;) {
    bool is_huge = (huge >> i) & 1u;
    unsigned j = i + 1;
    while (j < p.segs && (bool)((huge >> j) & 1u) == is_huge)
      j++;
    uintptr_t a = seg_start(&p, s, i);
    uintptr_t b = j == p.segs ? lo + s.len : seg_start(&p, s, j);
    mmi_span run = {(unsigned char *)a, b - a, s.off + (a - lo)};
    int rc = 1;
    if (is_huge) {
      bool slow = false;
      rc = populate(fn, run, &slow);
      if (rc < 0)
        return rc;
      if (slow) /* not all huge, or not all resident */
        slow_segs |= (((uint64_t)1 << j) - 1) & ~(((uint64_t)1 << i) - 1);
    }
    if (rc == 1)
      touch_loop(run.start, run.len, page);
    i = j;
  }
  /* Huge segments that populate slowly are looped until the next probe
   * (a populate of pages not mapped is slow anyway: not a sign). */
  if (slow_segs != 0 && known)
    atomic_store_explicit(slot, tag | (huge & ~slow_segs) << MMI_SLOT_SEG_SHIFT,
                          memory_order_relaxed);
  return 0;
}

int mmapio_touch_pages_range(mmapio_map *m, uint64_t off, uint64_t len) {
  static const char fn[] = "mmapio_touch_pages_range";
  mmi_span s;
  int rc = mmi_span_of(m, fn, off, len, &s);
  return rc != 0 ? rc : mmi_touch_span(fn, m, s);
}

int mmapio_touch_pages(mmapio_map *m) {
  static const char fn[] = "mmapio_touch_pages";
  mmi_span s;
  int rc = mmi_span_of(m, fn, 0, mmapio_len(m), &s);
  return rc != 0 ? rc : mmi_touch_span(fn, m, s);
}

int mmapio_resident(const mmapio_map *m, uint64_t off, uint64_t len,
                    mmapio_residency *out) {
  static const char fn[] = "mmapio_resident";
  if (out == NULL)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL, "%s: out is NULL", fn);
  mmi_span s;
  int rc = mmi_span_of(m, fn, off, len, &s);
  if (rc != 0)
    return rc;
  size_t page = mmi_page();
  uint64_t resident = 0;
  unsigned char vec[1024];
  for (size_t done = 0; done < s.len;) {
    size_t chunk = s.len - done;
    if (chunk > sizeof vec * page)
      chunk = sizeof vec * page;
    if (mmi_memsys.mincore(s.start + done, chunk, vec) != 0)
      return mmi_fail(MMAPIO_E_IO, errno, "mincore",
                      "%s: mincore of %zu bytes at offset %zu failed", fn,
                      chunk, done);
    for (size_t i = 0; i < chunk / page; i++)
      resident += vec[i] & 1u;
    done += chunk;
  }
  out->pages = s.len / page;
  out->resident_pages = resident;
  return 0;
}
