/*
 * The system-call table: every call the platform layer makes to the
 * system goes through mmi_sys, so that a test linked to the static
 * library can make any of them fail, by name (the SQLite aSyscall[]
 * idea). Production code never changes the table.
 *
 * One list says everything about an entry: its name, its real function
 * (the default), its type, and how it reports failure. The list is the
 * calls every unix has (MMI_SYSCALLS_UNIX) and the calls of this build's
 * system file (MMI_SYSCALLS_LINUX or MMI_SYSCALLS_PORTABLE, chosen in
 * config.h). An entry is named by its call; a few are named by what they
 * do, where each system does it with a different call (populate,
 * page_mapping, ticks, writeback): their real function is mmi_real_<name>,
 * which each system file defines.
 *
 * Tests: mmi_sys_set("ftruncate", (mmi_sys_fn)fake) replaces an entry,
 * mmi_sys_get returns the current one, mmi_sys_real holds the real ones
 * (typed, for a fake that calls through), and mmi_sys_reset() restores
 * every entry. mmi_sys_name(i) for i < MMI_SYS_COUNT enumerates them.
 * Internal; C and C++.
 */
#ifndef MMAPIO_UNIX_SYSCALLS_H
#define MMAPIO_UNIX_SYSCALLS_H

#include "config.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How an entry reports failure (the last column of the list). */
#define MMI_FAILS_NEG1 0  /* returns -1 and sets errno */
#define MMI_FAILS_ERRNO 1 /* returns the errno value, 0 on success */
#define MMI_FAILS_MAP 2   /* returns MAP_FAILED and sets errno */
#define MMI_FAILS_NULL 3  /* returns NULL and sets errno */
#define MMI_FAILS_NEVER 4 /* cannot fail */

/* cachestat(2)'s arguments (Linux 6.5; spelled out, the C library's
 * kernel headers may predate it). */
typedef struct mmi_cachestat_range {
  uint64_t off, len;
} mmi_cachestat_range;
typedef struct mmi_cachestat {
  uint64_t cache, dirty, writeback, evicted, recently_evicted;
} mmi_cachestat;

/* X(name, real function, return type, parameter types, how it fails) */
#define MMI_SYSCALLS_UNIX(X)                                                   \
  X(open, mmi_real_open, int, (const char *, int, mode_t), MMI_FAILS_NEG1)     \
  X(close, close, int, (int), MMI_FAILS_NEG1)                                  \
  X(fstat, fstat, int, (int, struct stat *), MMI_FAILS_NEG1)                   \
  X(stat, stat, int, (const char *, struct stat *), MMI_FAILS_NEG1)            \
  X(lstat, lstat, int, (const char *, struct stat *), MMI_FAILS_NEG1)          \
  X(fcntl, mmi_real_fcntl, int, (int, int, int), MMI_FAILS_NEG1)               \
  X(ftruncate, ftruncate, int, (int, off_t), MMI_FAILS_NEG1)                   \
  X(posix_fallocate, posix_fallocate, int, (int, off_t, off_t),                \
    MMI_FAILS_ERRNO)                                                           \
  X(fsync, fsync, int, (int), MMI_FAILS_NEG1)                                  \
  X(fchown, fchown, int, (int, uid_t, gid_t), MMI_FAILS_NEG1)                  \
  X(fchmod, fchmod, int, (int, mode_t), MMI_FAILS_NEG1)                        \
  X(realpath, realpath, char *, (const char *, char *), MMI_FAILS_NULL)        \
  X(link, link, int, (const char *, const char *), MMI_FAILS_NEG1)             \
  X(linkat, linkat, int, (int, const char *, int, const char *, int),          \
    MMI_FAILS_NEG1)                                                            \
  X(rename, rename, int, (const char *, const char *), MMI_FAILS_NEG1)         \
  X(unlink, unlink, int, (const char *), MMI_FAILS_NEG1)                       \
  X(lseek, lseek, off_t, (int, off_t, int), MMI_FAILS_NEG1)                    \
  X(pread, pread, ssize_t, (int, void *, size_t, off_t), MMI_FAILS_NEG1)       \
  X(pwrite, pwrite, ssize_t, (int, const void *, size_t, off_t),               \
    MMI_FAILS_NEG1)                                                            \
  X(read, read, ssize_t, (int, void *, size_t), MMI_FAILS_NEG1)                \
  X(write, write, ssize_t, (int, const void *, size_t), MMI_FAILS_NEG1)        \
  X(poll, poll, int, (struct pollfd *, nfds_t, int), MMI_FAILS_NEG1)           \
  X(getpid, getpid, pid_t, (void), MMI_FAILS_NEVER)                            \
  X(clock_gettime, clock_gettime, int, (clockid_t, struct timespec *),         \
    MMI_FAILS_NEG1)                                                            \
  X(sysconf, sysconf, long, (int), MMI_FAILS_NEG1)                             \
  X(getrlimit, mmi_real_getrlimit, int, (int, struct rlimit *),                \
    MMI_FAILS_NEG1)                                                            \
  X(mmap, mmap, void *, (void *, size_t, int, int, int, off_t), MMI_FAILS_MAP) \
  X(munmap, munmap, int, (void *, size_t), MMI_FAILS_NEG1)                     \
  X(mprotect, mprotect, int, (void *, size_t, int), MMI_FAILS_NEG1)            \
  X(msync, msync, int, (void *, size_t, int), MMI_FAILS_NEG1)                  \
  X(mlock, mmi_real_mlock, int, (const void *, size_t), MMI_FAILS_NEG1)        \
  X(munlock, mmi_real_munlock, int, (const void *, size_t), MMI_FAILS_NEG1)    \
  X(mincore, mmi_real_mincore, int, (void *, size_t, unsigned char *),         \
    MMI_FAILS_NEG1)                                                            \
  X(posix_fadvise, posix_fadvise, int, (int, off_t, off_t, int),               \
    MMI_FAILS_ERRNO)                                                           \
  X(populate, mmi_real_populate, int, (void *, size_t), MMI_FAILS_NEG1)        \
  X(page_mapping, mmi_real_page_mapping, int, (const void *), MMI_FAILS_NEG1)  \
  X(ticks, mmi_arch_ticks, uint64_t, (void), MMI_FAILS_NEVER)                  \
  X(writeback, mmi_real_writeback, int, (int, void *, uint64_t, uint64_t),     \
    MMI_FAILS_NEG1)                                                            \
  X(sendmsg, sendmsg, ssize_t, (int, const struct msghdr *, int),              \
    MMI_FAILS_NEG1)                                                            \
  X(recvmsg, recvmsg, ssize_t, (int, struct msghdr *, int), MMI_FAILS_NEG1)    \
  X(sigaction, sigaction, int,                                                 \
    (int, const struct sigaction *, struct sigaction *), MMI_FAILS_NEG1)       \
  X(sigprocmask, sigprocmask, int, (int, const sigset_t *, sigset_t *),        \
    MMI_FAILS_NEG1)                                                            \
  X(raise, raise, int, (int), MMI_FAILS_NEG1)                                  \
  X(pthread_sigmask, pthread_sigmask, int,                                     \
    (int, const sigset_t *, sigset_t *), MMI_FAILS_ERRNO)                      \
  X(pthread_create, pthread_create, int,                                       \
    (pthread_t *, const pthread_attr_t *, void *(*)(void *), void *),          \
    MMI_FAILS_ERRNO)

/* The calls only Linux has (unix/linux.c, unix/linux_procfs.c). */
#define MMI_SYSCALLS_LINUX(X)                                                  \
  X(madvise, madvise, int, (void *, size_t, int), MMI_FAILS_NEG1)              \
  X(memfd_create, memfd_create, int, (const char *, unsigned), MMI_FAILS_NEG1) \
  X(copy_file_range, copy_file_range, ssize_t,                                 \
    (int, loff_t *, int, loff_t *, size_t, unsigned), MMI_FAILS_NEG1)          \
  X(cachestat, mmi_real_cachestat, int,                                        \
    (int, mmi_cachestat_range *, mmi_cachestat *, unsigned), MMI_FAILS_NEG1)   \
  X(fstatfs, fstatfs, int, (int, struct statfs *), MMI_FAILS_NEG1)             \
  X(fopen, fopen, FILE *, (const char *, const char *), MMI_FAILS_NULL)        \
  X(eventfd, eventfd, int, (unsigned, int), MMI_FAILS_NEG1)                    \
  X(inotify_init1, inotify_init1, int, (int), MMI_FAILS_NEG1)                  \
  X(inotify_add_watch, inotify_add_watch, int, (int, const char *, uint32_t),  \
    MMI_FAILS_NEG1)                                                            \
  X(sendfile, sendfile, ssize_t, (int, int, off_t *, size_t), MMI_FAILS_NEG1)  \
  X(fopencookie, fopencookie, FILE *,                                          \
    (void *, const char *, cookie_io_functions_t), MMI_FAILS_NULL)             \
  X(membarrier, mmi_real_membarrier, int, (int, unsigned), MMI_FAILS_NEG1)

/* The calls only the portable file makes, where Linux has better ones
 * (unix/posix.c). */
#define MMI_SYSCALLS_PORTABLE(X)                                               \
  X(posix_madvise, posix_madvise, int, (void *, size_t, int), MMI_FAILS_ERRNO) \
  X(shm_open, shm_open, int, (const char *, int, mode_t), MMI_FAILS_NEG1)      \
  X(shm_unlink, shm_unlink, int, (const char *), MMI_FAILS_NEG1)               \
  X(pipe, pipe, int, (int *), MMI_FAILS_NEG1)

/* Every entry of this build. */
#define MMI_SYSCALLS(X) MMI_SYSCALLS_UNIX(X) MMI_SYSCALLS_OS(X)

/* The real functions that are not the C library's own: wrappers of
 * variadic calls (unix/files.c), of the BSDs' mincore and glibc's
 * getrlimit (unix/memory.c), and the entries each system file defines. */
int mmi_real_open(const char *path, int flags, mode_t mode);
int mmi_real_fcntl(int fd, int cmd, int arg);
int mmi_real_getrlimit(int resource, struct rlimit *rl);
int mmi_real_mincore(void *addr, size_t len, unsigned char *vec);
int mmi_real_mlock(const void *addr, size_t len);
int mmi_real_munlock(const void *addr, size_t len);
/* One call that faults every page of [addr, addr+len) in. */
int mmi_real_populate(void *addr, size_t len);
/* MMI_PAGE_* (os.h) for the page at addr. */
int mmi_real_page_mapping(const void *addr);
/* Starts writeback of file bytes [off, off+len), mapped at addr. */
int mmi_real_writeback(int fd, void *addr, uint64_t off, uint64_t len);
int mmi_real_cachestat(int fd, mmi_cachestat_range *range, mmi_cachestat *cs,
                       unsigned flags);
/* membarrier(2) (Linux 4.14 for the private expedited commands). */
int mmi_real_membarrier(int cmd, unsigned flags);

#define MMI_SYS_FIELD_(name, real, ret, params, fails) ret(*name) params;
typedef struct mmi_sys_table {
  MMI_SYSCALLS(MMI_SYS_FIELD_)
} mmi_sys_table;
#undef MMI_SYS_FIELD_

#define MMI_SYS_INDEX_(name, real, ret, params, fails) MMI_SYS_##name,
enum { MMI_SYSCALLS(MMI_SYS_INDEX_) MMI_SYS_COUNT };
#undef MMI_SYS_INDEX_

/* The live table, and the real functions. */
extern mmi_sys_table mmi_sys;
extern const mmi_sys_table mmi_sys_real;

/* Any entry's type, for mmi_sys_set and mmi_sys_get. */
typedef void (*mmi_sys_fn)(void);
/* Replaces the entry called name with fn (NULL: its real function); fn
 * must have the entry's type. 0, or -1 when this build has no such
 * entry. */
int mmi_sys_set(const char *name, mmi_sys_fn fn);
/* The entry called name as it is now, or NULL when there is none. */
mmi_sys_fn mmi_sys_get(const char *name);
/* The index of the entry called name, or -1; and the name at an index
 * (NULL past the last). */
int mmi_sys_index(const char *name);
const char *mmi_sys_name(int index);
/* Restores every entry to its real function. */
void mmi_sys_reset(void);

#ifdef __cplusplus
}
#endif

#endif
