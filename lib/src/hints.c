/* Open-time hints. Owned by the memory-control work (issue 4), which
 * replaces this first version with huge-page tiers and eager touch. */
#include "internal.h"

void mmi_apply_hints(mmapio_map *m, unsigned flags) {
  (void)m;
  (void)flags;
}
