/* Advice over the mapping and read-ahead of the file. */
#include "memory.h"
#include "os.h"

#include <errno.h>

int mmapio_advise(mmapio_map *m, uint64_t off, uint64_t len,
                  mmapio_advice advice) {
  static const char fn[] = "mmapio_advise";
  if ((unsigned)advice > MMAPIO_ADVICE_DONTNEED)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL, "%s: unknown advice %d",
                    fn, (int)advice);
  mmi_span s;
  int rc = mmi_span_of(m, fn, off, len, &s);
  if (rc != 0 || s.len == 0)
    return rc;
  if (mmi_os_advise(s.start, s.len, advice) != 0)
    return mmi_fail(MMAPIO_E_ADVICE_FAILED, errno, mmi_os_advise_call(),
                    "%s: advice %d for bytes [%llu, +%llu) failed", fn,
                    (int)advice, (unsigned long long)off,
                    (unsigned long long)len);
  if (advice == MMAPIO_ADVICE_DONTNEED)
    mmi_touch_forget(m);
  return 0;
}

int mmapio_prefetch_range(mmapio_map *m, uint64_t off, uint64_t len) {
  static const char fn[] = "mmapio_prefetch_range";
  mmi_span s;
  int rc = mmi_span_of(m, fn, off, len, &s);
  /* len 0 would mean "to the end of the file" to the system. */
  if (rc != 0 || len == 0)
    return rc;
  int e = mmi_os_prefetch(m->fd, off, len);
  if (e != 0)
    return mmi_fail(MMAPIO_E_ADVICE_FAILED, e, "posix_fadvise",
                    "%s: read-ahead of file bytes [%llu, +%llu) failed", fn,
                    (unsigned long long)off, (unsigned long long)len);
  return 0;
}
