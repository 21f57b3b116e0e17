/*
 * The fault guard. When another process truncates a mapped file, touching
 * a page past the new end raises SIGBUS, which kills the process. With
 * the guard on for a handle, its copy paths run through
 * mmi_guarded_copy: a SIGBUS inside the copy's mapped side makes it
 * return MMAPIO_E_FAULT instead. The signal mechanics (the handler, the
 * frame a fault jumps back to, chaining to the handler installed before)
 * are the platform layer's (os.h: mmi_os_guard_*); this file decides
 * when the guard may be turned on and what a fault reports.
 */
#include "internal.h"
#include "os.h"

int mmapio_set_guard(mmapio_map *m, bool on) {
  if (m == NULL)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "mmapio_set_guard: m is NULL");
  int e;
  if (on && (e = mmi_os_guard_install()) != 0)
    return mmi_fail(MMAPIO_E_IO, e, "sigaction",
                    "mmapio_set_guard: installing the SIGBUS handler "
                    "failed");
  /* A handler the application installs after ours gets every SIGBUS,
   * and then the guard can no longer work. */
  if (on && !mmi_os_guard_active())
    return mmi_fail(MMAPIO_E_BUSY, 0, NULL,
                    "mmapio_set_guard: another SIGBUS handler replaced the "
                    "guard's, so a fault would not reach it; install your "
                    "own handler before the first mmapio_set_guard(m, true)");
  atomic_store_explicit(&m->head.guarded_, on, memory_order_seq_cst);
  /* The inline touch trusts the hint without looking at the guard: the
   * hint goes (touch.c, set_mapped_hint, says why this order suffices). */
  if (on)
    atomic_store_explicit(&m->head.touch_mapped_, 0, memory_order_seq_cst);
  return 0;
}

int mmi_guarded_copy(const char *fn, void *dst, const void *src, size_t len,
                     const void *mapped, uint64_t off) {
  uintptr_t at = 0;
  if (len == 0 || mmi_os_guarded_copy(dst, src, len, mapped, &at))
    return 0;
  uintptr_t lo = (uintptr_t)mapped;
  return mmi_fail(MMAPIO_E_FAULT, 0, NULL,
                  "%s: SIGBUS at offset %llu while copying [%llu, +%zu): "
                  "the file is shorter than the mapping (truncated by "
                  "another process?)",
                  fn, (unsigned long long)(off + (at - lo)),
                  (unsigned long long)off, len);
}
