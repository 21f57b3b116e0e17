/*
 * touch_pages: fault every page of a range in, the fastest way per call,
 * and the residency query.
 *
 * Two kinds of ways to fault pages in, whose costs depend on the
 * processor, the kernel and the state of the range:
 *  - a loop reading one byte per page: bare, checked (the mapping's
 *    extent read again from the handle on every page, as a loop of
 *    mmapio_read does) or paced (a few stack round trips per page).
 *    Over mapped pages the TLB does not hold, every load is a page walk,
 *    and the loads all fall in one cache set; which loop walks fastest
 *    differs by processor (the bare loop on some, the checked one on
 *    others, the paced one where fewer walks in flight help), by more
 *    than any constant could cover;
 *  - one MADV_POPULATE_READ call: over huge pages far faster than the
 *    loop (one step per huge page), over small pages already mapped far
 *    slower (a walk in the kernel per page), and over pages not mapped
 *    faster or slower than the loop's faults, depending on what a fault
 *    taken from user mode costs on this machine.
 * What holds everywhere is fixed: huge pages are populated, small mapped
 * pages are looped. What depends on the machine is measured, never set
 * by a constant: how to loop over mapped pages (bare, checked or paced) and
 * how to fault in pages that are not mapped (loop or populate) are each a
 * choice between ways, per size class of the range, whose cost per page the
 * library learns from its own calls (the tick counter around the work):
 * the loop's way per process (it is the processor's), populate or loop
 * per handle and per kind of page (it is the file's: cached, on the
 * device, or holes; cached or not is told apart), with what the process's
 * other handles learned of that kind as the prior of a new one.
 * Now and then a call of a class runs another way instead, alone over
 * the whole range, and times it, so a change of conditions is noticed:
 * every 128th call when the two cost about the same, rarer the more the
 * other way costs (MMI_EXPLORE_EVERY). A way is never timed on a part of
 * a range beside another on the rest: the parts do not cost alike (over
 * mapped pages, the rate depends on how many pages the TLB holds; over
 * pages not mapped, the first fault reads ahead for the pages after it),
 * so whichever way ran first looked dearer. With three ways, the two
 * not chosen take turns in blocks of calls, so each is timed half as
 * often. A wrong estimate costs speed, never correctness.
 *
 * How the state of a range is known, cheapest first:
 *  - ranges of up to MMAPIO_TOUCH_INLINE_PAGES_ pages, on a handle whose
 *    last look found its pages mapped (the head's touch_mapped_ hint),
 *    are looped inline in the header: no call at all;
 *  - ranges holding whole huge pages are cut into up to MMI_TOUCH_SEGS
 *    segments, each judged by a probe of how its first whole huge page
 *    is mapped (mmi_os_page_mapping: PAGEMAP_SCAN on Linux), and the
 *    answers are cached per handle and range in a small lock-free
 *    table (huge answers are re-checked by the populate call's own
 *    duration, a range with a small one is re-probed every 16th call, one
 *    not mapped on every call);
 *  - other ranges: by the hint; when it says "mapped", ranges of
 *    MMI_TOUCH_TIMED_PAGES pages or more are checked by the time their
 *    first page takes to read (a fault costs microseconds, a mapped page
 *    nanoseconds), smaller ones are looped; when it does not, by a probe
 *    of the first page (its residency where the probe cannot tell), which
 *    costs less than the fault a timed read would take.
 * Whatever finds out sets the hint.
 */
#include "memory.h"
#include "os.h"
#include "touch.h"

#include <errno.h>
#include <stdatomic.h>

/* A populate call slower than this per MiB (plus as much again) did not
 * run over huge pages only: over huge pages it walks one entry per
 * 2 MiB, over small ones one per page, a factor of hundreds. */
#define MMI_HUGE_US_PER_MIB 2u
/* At most this many segments (probes) per range, and at least this many
 * bytes per segment, so that probes stay a small part of the work. */
#define MMI_TOUCH_SEGS 16u
#define MMI_TOUCH_SEG_MIN ((size_t)8 << 20)
/* Ranges of at least this many pages are judged by timing their first
 * page; the two tick readings are then a small part of the loop. */
#define MMI_TOUCH_TIMED_PAGES 256u
/* A first read slower than this (in microseconds) took a fault: a read
 * of a mapped page, even a page walk through nested page tables, takes
 * a fraction of it. */
#define MMI_FAULT_US_MIN 0.5
/* Ranges of pages not mapped of at least this many pages (size class 4 and
 * up; where the first page was read to look, the pages after it) are told
 * apart by kind, at the cost of a system call, a small part of faulting
 * so many pages in. */
#define MMI_TOUCH_KIND_PAGES 256u
/* Stack round trips between two pages of the paced loop. */
#define MMI_TOUCH_PACE 3u
/* Every this many calls of a size class, a trusted run times its first
 * page (and the chosen way over mapped pages). */
#define MMI_CHECK_EVERY 16u
/* A way not chosen runs instead of the chosen one, over the whole range,
 * every 128 << k calls, 2^k its cost over the chosen way's (k at most
 * 6): a call that costs r times as much, every 128 << k calls with
 * 2^k >= r, keeps exploring under 1/128 of the calls' time (with three
 * ways, each not chosen is timed so in every other block of calls). */
#define MMI_EXPLORE_EVERY 128u
#define MMI_EXPLORE_SHIFT_MAX 6u

/* ------------------------------------------------------------------ */
/* Learned choices                                                     */
/* ------------------------------------------------------------------ */

/* The loop over mapped pages, bare, checked or paced, is the processor's
 * choice: learned per process. Pages not mapped are the file's: learned per
 * handle (mmapio_map.absent_ways), and also here, per process, as the
 * prior a handle goes by until it has measured for itself (absent_prior):
 * running the way not measured on a new handle's first call would cost
 * that call up to the slower way's price, and most handles touch a
 * range once. Both go by the kind of page (absent_kind): pages in the page
 * cache are only mapped, pages that are not are read or allocated, at many
 * times the cost, so one kind's figures are no guide for the other. The
 * process keeps each kind's; a handle, the kind its last range of a class
 * held (a handle's ranges are mostly of one kind, and its figures are part
 * of its heap). */
#define MMI_WAY_BARE 0u
#define MMI_WAY_CHECKED 1u
#define MMI_WAY_PACED 2u
#define MMI_MAPPED_WAYS 3u
_Static_assert(MMI_MAPPED_WAYS >= 2 && MMI_MAPPED_WAYS <= MMI_WAYS_MAX,
               "the ways over mapped pages fit an mmi_choice");
#define MMI_WAY_POPULATE 0u
#define MMI_WAY_LOOP 1u
static mmi_choice mapped_ways[MMI_TOUCH_CLASSES];
static mmi_choice absent_prior[MMI_TOUCH_CLASSES][MMI_ABSENT_KINDS];

static unsigned size_class(size_t pages) {
  unsigned c = 0;
  while (pages >= 4 && c + 1 < MMI_TOUCH_CLASSES) {
    pages >>= 2;
    c++;
  }
  return c;
}

typedef struct mmi_pick {
  unsigned way;   /* the way to do the work */
  unsigned other; /* the way that runs instead when other_too */
  bool other_too; /* run and time the other way instead */
  bool check;     /* time the chosen way, and in a trusted run the
                     first page */
} mmi_pick;

/* The pick for the n-th call of a class whose `ways` ways cost cost[] (0:
 * not measured): the cheapest way, and as the other, a way not measured
 * yet or else the ways not chosen in turn, one per block of as many calls
 * as the rarest exploring spans (so that each is explored at its own rate
 * within its block), every `base` << k calls (a power of two). With no
 * way measured, the first way runs and is timed; a way not measured runs
 * on the next call. */
static mmi_pick pick(uint32_t n, const uint32_t *cost, unsigned ways,
                     uint32_t base) {
  mmi_pick p;
  p.way = 0;
  for (unsigned w = 1; w < ways; w++)
    if (cost[w] != 0 && (cost[p.way] == 0 || cost[w] < cost[p.way]))
      p.way = w;
  unsigned turn = (n / (base << MMI_EXPLORE_SHIFT_MAX)) % (ways - 1);
  p.other = (p.way + 1 + turn) % ways;
  for (unsigned w = 0; w < ways; w++)
    if (w != p.way && cost[w] == 0) {
      p.other = w;
      break;
    }
  uint32_t won = cost[p.way], lost = cost[p.other];
  unsigned k = 0;
  while (k < MMI_EXPLORE_SHIFT_MAX && (uint64_t)won << k < lost)
    k++;
  uint32_t every = base << k;
  p.check = won == 0 || n % MMI_CHECK_EVERY == MMI_CHECK_EVERY - 1;
  p.other_too = won != 0 && (lost == 0 || (n & (every - 1)) == every - 1);
  return p;
}

/* Counts the call of class c and returns its number. */
static uint32_t next_call(mmi_choice *c) {
  uint32_t n = atomic_load_explicit(&c->calls, memory_order_relaxed);
  atomic_store_explicit(&c->calls, n + 1, memory_order_relaxed);
  return n;
}

static uint32_t cost_of(const mmi_choice *c, unsigned way) {
  return atomic_load_explicit(&c->cost[way], memory_order_relaxed);
}

/* The pick among the ways over mapped pages. */
static mmi_pick choose_mapped(mmi_choice *c) {
  uint32_t n = next_call(c);
  uint32_t cost[MMI_MAPPED_WAYS];
  for (unsigned w = 0; w < MMI_MAPPED_WAYS; w++)
    cost[w] = cost_of(c, w);
  return pick(n, cost, MMI_MAPPED_WAYS, MMI_EXPLORE_EVERY);
}

/* Whether c's figure for way rests on two calls or more. */
static bool timed_twice(const mmi_choice *c, unsigned way) {
  return atomic_load_explicit(&c->timed[way], memory_order_relaxed) >= 2;
}

/* A handle's pick for pages not mapped: its own costs, and the process's
 * where they hold for this file. A way the handle timed twice or more at
 * over twice what the process has seen means another kind of file
 * (another device, say): its way not yet measured is then timed rather
 * than guessed. One timing does not decide that, and a way timed once
 * counts at the lower of its figure and the process's: one call can be
 * slow for reasons of its own (a host fault under a hypervisor), and
 * taken so it made a handle give up the faster way for its whole life (in
 * the harness, a sparse 8 MiB file's first populate at ten times its usual
 * cost sent a new handle to the loop, at 4 times populate's time, for all
 * its hundreds of calls). */
static mmi_pick choose_absent(mmi_choice *own, const mmi_choice *prior) {
  uint32_t n = next_call(own);
  uint32_t cost[2], seen[2];
  bool alike = true;
  for (unsigned w = 0; w < 2; w++) {
    cost[w] = cost_of(own, w);
    seen[w] = cost_of(prior, w);
    if (timed_twice(own, w) && seen[w] != 0 && cost[w] / 2 > seen[w])
      alike = false;
  }
  for (unsigned w = 0; w < 2 && alike; w++)
    if (cost[w] == 0 ||
        (!timed_twice(own, w) && seen[w] != 0 && seen[w] < cost[w]))
      cost[w] = seen[w];
  return pick(n, cost, 2, MMI_EXPLORE_EVERY);
}

static void learn(mmi_choice *c, unsigned way, uint64_t ticks, size_t pages) {
  if (pages == 0)
    return;
  uint64_t rate = ticks * 16 / pages;
  if (rate == 0)
    rate = 1;
  if (rate > UINT32_MAX / 4)
    rate = UINT32_MAX / 4;
  /* The cost kept is the lower quartile of the calls' costs, tracked a
   * step at a time: a call below it moves it down by up to 3/16 of it, a
   * call above it up by up to 1/16, which settles about where one call
   * in four falls below. On a shared machine a call now and then takes twice as
   * long for reasons of its own (an interrupt, another process): such a
   * call moves the figure a sixteenth, where an average would let it flip
   * the choice. A way that really got twice as slow doubles its cost
   * within a dozen timed calls. The lowest call alone (what this kept before)
   * favoured the way with the widest spread, and the way timed most
   * often, over the way that is usually faster (PERFORMANCE.md, "Why the
   * library does what it does"). */
  uint32_t old = atomic_load_explicit(&c->cost[way], memory_order_relaxed);
  unsigned char timed =
      atomic_load_explicit(&c->timed[way], memory_order_relaxed);
  uint32_t next;
  if (old == 0 || (timed == 1 && rate < old)) {
    /* A figure that rests on one call gives way to a lower second: the
     * first call of a kind is the one most exposed (new page tables, a
     * cold cache, a host fault). */
    next = (uint32_t)rate;
  } else if (rate < old) {
    uint32_t step = old * 3u / 16u + 1u;
    next = old - rate < step ? (uint32_t)rate : old - step;
  } else {
    uint32_t step = old / 16u + 1u;
    next = rate - old < step ? (uint32_t)rate : old + step;
  }
  atomic_store_explicit(&c->cost[way], next == 0 ? 1 : next,
                        memory_order_relaxed);
  if (timed < 2)
    atomic_store_explicit(&c->timed[way], (unsigned char)(timed + 1),
                          memory_order_relaxed);
}

static void forget_costs(mmi_choice *c) {
  for (unsigned w = 0; w < MMI_WAYS_MAX; w++) {
    atomic_store_explicit(&c->cost[w], 0, memory_order_relaxed);
    atomic_store_explicit(&c->timed[w], 0, memory_order_relaxed);
  }
}

static void forget(mmi_choice *c) {
  forget_costs(c);
  atomic_store_explicit(&c->calls, 0, memory_order_relaxed);
}

/* Forgets the costs and the call counts, so that the next call of each
 * class is its first. */
static void forget_choices(void) {
  for (unsigned i = 0; i < MMI_TOUCH_CLASSES; i++) {
    forget(&mapped_ways[i]);
    for (unsigned k = 0; k < MMI_ABSENT_KINDS; k++)
      forget(&absent_prior[i][k]);
  }
}

/* ------------------------------------------------------------------ */
/* The ways                                                            */
/* ------------------------------------------------------------------ */

/* One load per page, the way `way` says: bare, or paced by
 * MMI_TOUCH_PACE stack round trips per page. The loads are volatile, so
 * the compiler keeps every one, and their bytes are summed into a
 * volatile local: on some processors a loop whose loads feed an add
 * walks mapped pages faster than the same loads left unused
 * (PERFORMANCE.md, "Why the library does what it does"). */
static void touch_loop(const unsigned char *p, size_t len, size_t page,
                       unsigned way) {
  const volatile unsigned char *v = p;
  unsigned sum = 0;
  if (way == MMI_WAY_BARE) {
    for (size_t i = 0; i < len; i += page)
      sum += v[i];
  } else {
    for (size_t i = 0; i < len; i += page) {
      sum += v[i];
      for (volatile unsigned k = 0; k < MMI_TOUCH_PACE; k++) {
      }
    }
  }
  volatile unsigned kept = sum;
  (void)kept;
}

/* The checked loop: per page, the mapping's base and length read again
 * from the handle (through a volatile pointer, so that the compiler keeps
 * neither in a register), a stop at the length, and the load at that
 * base: the shape of a loop of one mmapio_read per page. On some
 * processors a loop whose every load waits for the handle's fields walks
 * mapped pages faster than one that keeps the base in a register
 * (PERFORMANCE.md, "Why the library does what it does"). A shrink that
 * cuts the range meanwhile ends the loop early: nothing is left to
 * touch there. */
static void touch_checked(const mmapio_map *m, mmi_span s, size_t page) {
  const mmapio_map *volatile handle = m;
  unsigned sum = 0;
  for (size_t i = 0; i < s.len; i += page) {
    uint64_t n;
    const unsigned char *b = mmi_snapshot(handle, &n);
    if (MMI_UNLIKELY(s.off + i >= n))
      break;
    sum += *(const volatile unsigned char *)(b + s.off + i);
  }
  volatile unsigned kept = sum;
  (void)kept;
}

/* The loop over mapped pages that `way` names. */
static void mapped_way(const mmapio_map *m, mmi_span s, size_t page,
                       unsigned way) {
  if (way == MMI_WAY_CHECKED)
    touch_checked(m, s, page);
  else
    touch_loop(s.start, s.len, page, way);
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
 * One MADV_POPULATE_READ of s. Returns 0, 1 when populate is missing (the
 * caller loops instead; kernels before 5.14), or an error. *took gets
 * the ticks it took.
 */
static int populate(const char *fn, mmi_span s, uint64_t *took) {
  uint64_t t0 = mmi_os_ticks();
  if (mmi_os_populate(s.start, s.len) != 0) {
    int e = errno;
    if (e == EINVAL || e == ENOSYS)
      return 1;
    return fail_populate(fn, e, s);
  }
  *took = mmi_os_ticks() - t0;
  return 0;
}

/* Whether a populate of len bytes that took `took` ticks ran over huge
 * pages only. */
static bool populate_was_huge(size_t len, uint64_t took) {
  uint64_t mib = (uint64_t)(len >> 20) + 1;
  return took <= mib * MMI_HUGE_US_PER_MIB * mmi_os_ticks_per_us();
}

static mmi_span sub_span(mmi_span s, size_t from, size_t to) {
  mmi_span r = {s.start + from, to - from, s.off + from};
  return r;
}

/* Mapped small pages, at least MMI_TOUCH_TIMED_PAGES of them: the loop,
 * bare, checked or paced, the way p says (c is their size class). A way is
 * timed over the whole range, never a part: how fast a loop walks mapped
 * pages depends on how many it walks (how many the TLB holds), so an
 * eighth's rate is not the whole range's, and two ways timed on parts of
 * different lengths were compared wrongly (PERFORMANCE.md, "Why the
 * library does what it does"). A call that explores runs the other way
 * alone; a checking call (every MMI_CHECK_EVERY-th) times the chosen
 * one; the rest read no clock. */
static void mapped_ways_run(const mmapio_map *m, mmi_span s, size_t page,
                            mmi_choice *c, mmi_pick p) {
  unsigned way = p.other_too ? p.other : p.way;
  if (!p.other_too && !p.check) {
    mapped_way(m, s, page, way);
    return;
  }
  uint64_t t0 = mmi_os_ticks();
  mapped_way(m, s, page, way);
  learn(c, way, mmi_os_ticks() - t0, s.len / page);
}

/* Mapped small pages: the loop, bare, checked or paced, as learned. */
static void mapped_run(const mmapio_map *m, mmi_span s, size_t page) {
  size_t pages = s.len / page;
  if (pages < MMI_TOUCH_TIMED_PAGES) {
    touch_loop(s.start, s.len, page, MMI_WAY_BARE);
    return;
  }
  mmi_choice *c = &mapped_ways[size_class(pages)];
  mapped_ways_run(m, s, page, c, choose_mapped(c));
}

/* What a way cost over pages not mapped: learned by the handle (c) and
 * by the process, as the prior of new handles. */
static void learn_absent(mmi_choice *c, mmi_choice *prior, unsigned way,
                         uint64_t ticks, size_t pages) {
  learn(c, way, ticks, pages);
  learn(prior, way, ticks, pages);
}

/* Pages not mapped: populate or the loop, as learned. */
static int absent_way(const char *fn, mmi_span s, size_t page, unsigned way,
                      mmi_choice *c, mmi_choice *prior) {
  size_t pages = s.len / page;
  if (way == MMI_WAY_POPULATE) {
    uint64_t took;
    int rc = populate(fn, s, &took);
    if (rc <= 0) {
      if (rc == 0)
        learn_absent(c, prior, way, took, pages);
      return rc;
    }
    /* No populate here (the kernel's, so the process's too): make it the
     * way never chosen. */
    atomic_store_explicit(&c->cost[MMI_WAY_POPULATE], UINT32_MAX / 4,
                          memory_order_relaxed);
    atomic_store_explicit(&prior->cost[MMI_WAY_POPULATE], UINT32_MAX / 4,
                          memory_order_relaxed);
  }
  uint64_t t0 = mmi_os_ticks();
  touch_loop(s.start, s.len, page, MMI_WAY_BARE);
  learn_absent(c, prior, MMI_WAY_LOOP, mmi_os_ticks() - t0, pages);
  return 0;
}

/* Whether s's pages not mapped are in the page cache (MMI_ABSENT_*),
 * which sets what faulting them in costs. Told by the range's last page
 * (mincore), since its first may just have been read (a timed first read
 * reads ahead for the pages after it). Ranges of fewer than
 * MMI_TOUCH_KIND_PAGES pages are not told apart. */
static unsigned absent_kind(mmi_span s, size_t page) {
  if (s.len / page < MMI_TOUCH_KIND_PAGES)
    return MMI_ABSENT_UNCACHED;
  size_t last = (s.len - 1) / page * page;
  unsigned char in_core = 0;
  if (mmi_os_residency(s.start + last, page, &in_core) == 0 && (in_core & 1))
    return MMI_ABSENT_CACHED;
  return MMI_ABSENT_UNCACHED;
}

static int absent_run(const char *fn, const mmapio_map *m, mmi_span s,
                      size_t page) {
  unsigned cls = size_class(s.len / page);
  unsigned kind = absent_kind(s, page);
  mmi_choice *c = &((mmapio_map *)m)->absent_ways[cls];
  mmi_choice *prior = &absent_prior[cls][kind];
  /* The handle keeps one kind's figures per class: the pages of a range
   * of another kind cost what the process has seen of that kind. The
   * count of calls stays, so that ranges whose kind changes from call to
   * call still time the way not chosen on schedule. */
  if (atomic_load_explicit(&c->kind, memory_order_relaxed) != kind) {
    forget_costs(c);
    atomic_store_explicit(&c->kind, (unsigned char)kind, memory_order_relaxed);
  }
  mmi_pick p = choose_absent(c, prior);
  return absent_way(fn, s, page, p.other_too ? p.other : p.way, c, prior);
}

/* ------------------------------------------------------------------ */
/* What the range holds                                                */
/* ------------------------------------------------------------------ */

/* The hint is the page shift, which the header's inline touch reads
 * with it, and is never left set while the guard is on (the inline touch
 * does not look at the guard). Here the hint is stored, then the guard
 * loaded, and the hint withdrawn if the guard is on; mmapio_set_guard
 * stores the guard, then clears the hint; all in sequentially consistent
 * order, so either this sees the guard or the clear comes after this
 * store. Written only when it changes: the head's line is read by every
 * view. */
static void set_mapped_hint(const mmapio_map *m, bool mapped) {
  mmapio_map_head_ *h = &((mmapio_map *)m)->head;
  unsigned char v = mapped ? h->page_shift_ : 0u;
  if (atomic_load_explicit(&h->touch_mapped_, memory_order_relaxed) == v)
    return;
  atomic_store_explicit(&h->touch_mapped_, v, memory_order_seq_cst);
  if (v != 0 && atomic_load_explicit(&h->guarded_, memory_order_seq_cst))
    atomic_store_explicit(&h->touch_mapped_, 0, memory_order_relaxed);
}

/* Whether reading the first page of s took a fault (timed). */
static bool first_page_faults(mmi_span s) {
  uint64_t t0 = mmi_os_ticks();
  (void)*(const volatile unsigned char *)s.start;
  uint64_t took = mmi_os_ticks() - t0;
  return took >= (uint64_t)(MMI_FAULT_US_MIN * (double)mmi_os_ticks_per_us());
}

/* A range whose state nothing cached tells: the first page decides
 * whether the rest is mapped. */
static int unknown_run(const char *fn, const mmapio_map *m, mmi_span s,
                       size_t page) {
  bool faulted = first_page_faults(s);
  set_mapped_hint(m, !faulted);
  mmi_span rest = sub_span(s, page, s.len);
  if (!faulted) {
    mapped_run(m, rest, page);
    return 0;
  }
  return rest.len == 0 ? 0 : absent_run(fn, m, rest, page);
}

/* A range of at least MMI_TOUCH_TIMED_PAGES pages last seen mapped. The
 * hint is trusted, with no look first: every MMI_CHECK_EVERY-th call
 * of a size class, and every call that times a way not chosen, times
 * the first page, and a fault there (the pages were dropped since: reclaim, or
 * an madvise the library did not make) sends the rest the way of pages not
 * mapped and clears the hint. Until such a call comes, dropped pages are
 * looped in: correct, at the loop's speed. */
static int trusted_run(const char *fn, const mmapio_map *m, mmi_span s,
                       size_t page, size_t pages) {
  mmi_choice *c = &mapped_ways[size_class(pages)];
  mmi_pick p = choose_mapped(c);
  if ((p.check || p.other_too) && first_page_faults(s)) {
    set_mapped_hint(m, false);
    return absent_run(fn, m, sub_span(s, page, s.len), page);
  }
  mapped_ways_run(m, s, page, c, p);
  return 0;
}

/* A range the hint tells about, else a probe of its first page. */
static int hinted_range(const char *fn, const mmapio_map *m, mmi_span s,
                        size_t page) {
  bool mapped =
      atomic_load_explicit(&m->head.touch_mapped_, memory_order_relaxed) != 0;
  if (!mapped) {
    int kind = mmi_os_page_mapping(s.start);
    if (kind == MMI_PAGE_UNKNOWN) {
      unsigned char in_core = 0;
      kind = mmi_os_residency(s.start, page, &in_core) == 0 && !(in_core & 1)
                 ? MMI_PAGE_ABSENT
                 : MMI_PAGE_SMALL;
    }
    mapped = kind != MMI_PAGE_ABSENT;
    set_mapped_hint(m, mapped);
  }
  if (mapped) {
    touch_loop(s.start, s.len, page, MMI_WAY_BARE);
    return 0;
  }
  return absent_run(fn, m, s, page);
}

/*
 * With the fault guard on, a page past the end of a truncated file must
 * give FAULT, not SIGBUS: MADV_POPULATE_READ reports such a page as
 * EFAULT without a signal. Without it (kernels before 5.14), one guarded
 * byte per page.
 */
static int touch_guarded(const char *fn, const mmapio_map *m, mmi_span s,
                         size_t page) {
  uint64_t took;
  int rc = populate(fn, s, &took);
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

/* ------------------------------------------------------------------ */
/* Ranges holding whole huge pages                                     */
/* ------------------------------------------------------------------ */

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
  forget_choices();
}

static uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  return x ^ (x >> 31);
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

/* Probes every segment into kinds[] (MMI_PAGE_*). Returns true when
 * every answer was huge or small, so that it can be remembered. */
static bool probe_segments(const touch_plan *p, int *kinds) {
  bool known = true;
  for (unsigned i = 0; i < p->segs; i++) {
    kinds[i] = mmi_os_page_mapping((const void *)seg_probe_at(p, i));
    if (kinds[i] != MMI_PAGE_HUGE && kinds[i] != MMI_PAGE_SMALL)
      known = false;
  }
  return known;
}

static int huge_range(const char *fn, const mmapio_map *m, mmi_span s,
                      touch_plan *p, size_t page) {
  uintptr_t lo = (uintptr_t)s.start;
  p->blocks = (lo + s.len - p->first) / p->pmd;
  size_t segs = s.len / MMI_TOUCH_SEG_MIN;
  segs = segs > MMI_TOUCH_SEGS ? MMI_TOUCH_SEGS : segs;
  segs = segs > p->blocks ? p->blocks : segs;
  p->segs = segs == 0 ? 1u : (unsigned)segs;

  uint64_t h = mix(m->serial ^ mix((uint64_t)lo ^ mix(s.len)));
  uint64_t tag = h & MMI_SLOT_TAG;
  if (tag == 0)
    tag = (uint64_t)1 << 24;
  _Atomic uint64_t *slot = &touch_cache[h % MMI_TOUCH_SLOTS];
  uint64_t all = ((uint64_t)1 << p->segs) - 1;
  uint64_t v = atomic_load_explicit(slot, memory_order_relaxed);
  int kinds[MMI_TOUCH_SEGS];
  bool probed = false, known = false;
  if ((v & MMI_SLOT_TAG) == tag &&
      (((v & MMI_SLOT_SEGS) >> MMI_SLOT_SEG_SHIFT) == all ||
       (v & MMI_SLOT_COUNT) + 1 < MMI_TOUCH_SMALL_RECHECK)) {
    uint64_t huge = (v & MMI_SLOT_SEGS) >> MMI_SLOT_SEG_SHIFT;
    for (unsigned i = 0; i < p->segs; i++)
      kinds[i] = (huge >> i) & 1u ? MMI_PAGE_HUGE : MMI_PAGE_SMALL;
    if (huge != all)
      atomic_store_explicit(slot, v + 1, memory_order_relaxed);
  } else {
    /* Answers other than huge or small are asked again next time. */
    probed = true;
    known = probe_segments(p, kinds);
  }

  /* Runs of segments alike, each done its kind's way. */
  uint64_t huge = 0, slow = 0;
  bool any_mapped = false, any_absent = false;
  for (unsigned i = 0; i < p->segs;) {
    unsigned j = i + 1;
    while (j < p->segs && kinds[j] == kinds[i])
      j++;
    uint64_t bits = (((uint64_t)1 << j) - 1) & ~(((uint64_t)1 << i) - 1);
    uintptr_t a = seg_start(p, s, i);
    uintptr_t b = j == p->segs ? lo + s.len : seg_start(p, s, j);
    mmi_span run = sub_span(s, a - lo, b - lo);
    int rc = 0;
    switch (kinds[i]) {
    case MMI_PAGE_HUGE: {
      huge |= bits;
      any_mapped = true;
      uint64_t took;
      rc = populate(fn, run, &took);
      if (rc == 1) {
        touch_loop(run.start, run.len, page, MMI_WAY_BARE);
        rc = 0;
      } else if (rc == 0 && !populate_was_huge(run.len, took)) {
        slow |= bits; /* not all huge, or not all resident */
      }
      break;
    }
    case MMI_PAGE_SMALL:
      any_mapped = true;
      mapped_run(m, run, page);
      break;
    case MMI_PAGE_ABSENT:
      any_absent = true;
      rc = absent_run(fn, m, run, page);
      break;
    default:
      rc = unknown_run(fn, m, run, page);
      break;
    }
    if (rc != 0)
      return rc;
    i = j;
  }
  if (any_mapped != any_absent)
    set_mapped_hint(m, any_mapped);
  /* What a probe found is remembered; huge segments that populate slowly
   * are looped until the next probe. */
  if (probed ? known : slow != 0)
    atomic_store_explicit(slot, tag | (huge & ~slow) << MMI_SLOT_SEG_SHIFT,
                          memory_order_relaxed);
  return 0;
}

/* ------------------------------------------------------------------ */
/* The entry points                                                    */
/* ------------------------------------------------------------------ */

/* The span comes as its fields, in registers: a struct passed by value
 * goes through the stack, stored and loaded back in pieces of different
 * widths, which stalls the store buffer on every call (see mmi_span_of). */
static int touch_span(const char *fn, const mmapio_map *m, unsigned char *start,
                      size_t len, uint64_t off) {
  mmi_span s = {start, len, off};
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
  if (p.first >= lo && p.first + p.pmd <= lo + s.len &&
      p.first + p.pmd > p.first)
    return huge_range(fn, m, s, &p, page);
  /* Pages last seen mapped: ranges large enough to time trust the hint
   * and check it when they time their loop. Otherwise the hint, or a
   * probe: cheaper than the fault a timed first read of pages not mapped
   * would take. */
  size_t pages = s.len >> m->head.page_shift_; /* a division costs more */
  if (pages >= MMI_TOUCH_TIMED_PAGES &&
      atomic_load_explicit(&m->head.touch_mapped_, memory_order_relaxed))
    return trusted_run(fn, m, s, page, pages);
  return hinted_range(fn, m, s, page);
}

int mmi_touch_span(const char *fn, const mmapio_map *m, mmi_span s) {
  return touch_span(fn, m, s.start, s.len, s.off);
}

int(mmapio_touch_pages_range)(mmapio_map *m, uint64_t off, uint64_t len) {
  static const char fn[] = "mmapio_touch_pages_range";
  mmi_span s;
  int rc = mmi_span_of(m, fn, off, len, &s);
  return rc != 0 ? rc : touch_span(fn, m, s.start, s.len, s.off);
}

int(mmapio_touch_pages)(mmapio_map *m) {
  static const char fn[] = "mmapio_touch_pages";
  mmi_span s;
  int rc = mmi_span_of(m, fn, 0, mmapio_len(m), &s);
  return rc != 0 ? rc : touch_span(fn, m, s.start, s.len, s.off);
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
    if (mmi_os_residency(s.start + done, chunk, vec) != 0)
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
