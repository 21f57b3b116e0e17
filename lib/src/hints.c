/*
 * Open-time hints: MMAPIO_OPT_HUGEPAGES (tiers 2 and 3; anon.c chose
 * tier 1, hugetlb, before mapping) and MMAPIO_OPT_TOUCH_EAGER. Best
 * effort: nothing here can make an open fail.
 */
#include "memory.h"

void mmi_apply_hints(mmapio_map *m, unsigned flags) {
  if (flags & MMAPIO_OPT_HUGEPAGES)
    mmi_hugepage_prepare(m);
  if (flags & MMAPIO_OPT_TOUCH_EAGER) {
    uint64_t len;
    mmi_span s;
    s.start = mmi_snapshot(m, &len);
    s.len = (size_t)mmi_round_page(len);
    s.off = 0;
    (void)mmi_touch_span("MMAPIO_OPT_TOUCH_EAGER at open", m, s);
    if (flags & MMAPIO_OPT_HUGEPAGES)
      mmi_hugepage_collapse(m);
  }
}
