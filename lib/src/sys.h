/*
 * The system-call table (internal). Every system call the library makes
 * that can fail for reasons a test cannot easily provoke goes through
 * mmi_sys, so a test linked against the static library can make any of
 * them fail (the SQLite aSyscall[] idea). Production code never changes
 * the table. Not part of the public API; names use the internal mmi_
 * prefix.
 */
#ifndef MMAPIO_SYS_H
#define MMAPIO_SYS_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mmi_sys_table {
  int (*ftruncate)(int fd, off_t len);
  /* posix_fallocate semantics: returns an errno value, 0 on success */
  int (*fallocate)(int fd, off_t off, off_t len);
  void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd, off_t off);
  int (*msync)(void *addr, size_t len, int flags);
  int (*fsync)(int fd);
  int (*sigaction)(int sig, const struct sigaction *sa, struct sigaction *old);
} mmi_sys_table;

/* The live table. Tests may replace entries and must restore them with
 * mmi_sys_reset(). */
extern mmi_sys_table mmi_sys;

/* Restores every entry to the real system call. */
void mmi_sys_reset(void);

#ifdef __cplusplus
}
#endif

#endif
