/*
 * What the unix files share among themselves (beyond os.h, which they
 * implement, and the system-call table). Internal to lib/src/unix/.
 */
#ifndef MMAPIO_UNIX_UNIX_H
#define MMAPIO_UNIX_UNIX_H

#include "../os.h"
#include "syscalls.h"

/* Copies len bytes at off from in to the same offset of out through a
 * buffer (pread and pwrite): 0 or an errno value. The copy every system
 * can make; Linux tries the kernel's first (files.c). */
int mmi_unix_copy_by_pread(int in, int out, uint64_t off, uint64_t len);

#endif
