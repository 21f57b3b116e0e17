/*
 * The system-call table (syscalls.h): the live entries, their real
 * functions, and access by name. Both tables are made from the one list,
 * so an entry's name, type and default cannot disagree.
 */
#include "syscalls.h"

#include <string.h>

#define MMI_REAL_(name, real, ret, params, fails) real,
const mmi_sys_table mmi_sys_real = {MMI_SYSCALLS(MMI_REAL_)};
mmi_sys_table mmi_sys = {MMI_SYSCALLS(MMI_REAL_)};
#undef MMI_REAL_

#define MMI_NAME_(name, real, ret, params, fails) #name,
static const char *const names[MMI_SYS_COUNT] = {MMI_SYSCALLS(MMI_NAME_)};
#undef MMI_NAME_

int mmi_sys_index(const char *name) {
  for (int i = 0; i < MMI_SYS_COUNT; i++)
    if (strcmp(names[i], name) == 0)
      return i;
  return -1;
}

const char *mmi_sys_name(int index) {
  return index >= 0 && index < MMI_SYS_COUNT ? names[index] : NULL;
}

int mmi_sys_set(const char *name, mmi_sys_fn fn) {
  switch (mmi_sys_index(name)) {
#define MMI_SET_(name, real, ret, params, fails)                               \
  case MMI_SYS_##name:                                                         \
    mmi_sys.name = fn != NULL ? (ret(*) params)fn : mmi_sys_real.name;         \
    return 0;
    MMI_SYSCALLS(MMI_SET_)
#undef MMI_SET_
  default:
    return -1;
  }
}

mmi_sys_fn mmi_sys_get(const char *name) {
  switch (mmi_sys_index(name)) {
#define MMI_GET_(name, real, ret, params, fails)                               \
  case MMI_SYS_##name:                                                         \
    return (mmi_sys_fn)mmi_sys.name;
    MMI_SYSCALLS(MMI_GET_)
#undef MMI_GET_
  default:
    return NULL;
  }
}

void mmi_sys_reset(void) { mmi_sys = mmi_sys_real; }
