/*
 * What walk_slots.c lets the seam tests see (C and C++). Internal.
 */
#ifndef MMAPIO_WALK_SLOTS_H
#define MMAPIO_WALK_SLOTS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Whether walks register in walk slots in this process: 1 yes, -1 no
 * (the barrier is not available: they count themselves in the handle), 0
 * not decided yet (decided by the process's first walk). */
int mmi_slots_state(void);

#ifdef __cplusplus
}
#endif

#endif
