/*
 * What this build of the unix platform layer has: the one place that
 * tests the system. Every other file of the layer uses what is defined
 * here as plain values and has no #if of its own.
 *
 * The build says which system it builds for (lib/sources.cmake):
 * MMAPIO_OS_LINUX when it compiles unix/linux.c, nothing when it compiles
 * unix/posix.c. The rest probes what the C library defines. Internal; C
 * and C++ (the seam tests include the system-call table).
 */
#ifndef MMAPIO_UNIX_CONFIG_H
#define MMAPIO_UNIX_CONFIG_H

#include "mmapio.h" /* MMAPIO_TSAN_ */

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* Files past 2 GiB must work in 32-bit builds too (the build defines
 * _FILE_OFFSET_BITS=64). */
#ifdef __cplusplus
static_assert(sizeof(off_t) == 8, "mmapio needs a 64-bit off_t");
#else
_Static_assert(sizeof(off_t) == 8, "mmapio needs a 64-bit off_t");
#endif

/* ---- the system ---------------------------------------------------- */

#ifdef MMAPIO_OS_LINUX
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/sendfile.h>
#include <sys/statfs.h>
/* The system-call table holds the calls every unix has and the ones
 * this system's file makes (unix/syscalls.h). */
#define MMI_SYSCALLS_OS(X) MMI_SYSCALLS_LINUX(X)
#else
#define MMI_SYSCALLS_OS(X) MMI_SYSCALLS_PORTABLE(X)
#endif

/* Linux constants newer than the oldest C library built against. */
#ifdef MMAPIO_OS_LINUX
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MADV_HUGEPAGE
#define MADV_HUGEPAGE 14
#endif
#ifdef O_TMPFILE
#define MMI_O_TMPFILE O_TMPFILE
#else
#define MMI_O_TMPFILE 0 /* no unnamed files in this C library */
#endif
#ifdef MAP_FIXED_NOREPLACE
#define MMI_MAP_FIXED_NOREPLACE MAP_FIXED_NOREPLACE
#endif
/* glibc's cookie seek takes an off64_t, musl's an off_t (64-bit there). */
#ifdef __GLIBC__
typedef off64_t mmi_cookie_off;
#else
typedef off_t mmi_cookie_off;
#endif
#endif

/* Linux's flags that the portable file does without: 0 there, and where
 * the C library lacks them (then the address of a fixed reservation is
 * checked afterwards, and a received descriptor is made close-on-exec
 * after it arrived). */
#ifndef MMI_MAP_FIXED_NOREPLACE
#define MMI_MAP_FIXED_NOREPLACE 0
#endif
#if defined(MMAPIO_OS_LINUX) && defined(MSG_CMSG_CLOEXEC)
#define MMI_MSG_CMSG_CLOEXEC MSG_CMSG_CLOEXEC
#else
#define MMI_MSG_CMSG_CLOEXEC 0
#endif

/* ---- flags a C library may lack (0 where it does) ----------------- */

#ifdef MAP_NORESERVE
#define MMI_MAP_NORESERVE MAP_NORESERVE
#else
#define MMI_MAP_NORESERVE 0
#endif
#ifdef MSG_NOSIGNAL
#define MMI_MSG_NOSIGNAL MSG_NOSIGNAL
#else
#define MMI_MSG_NOSIGNAL 0 /* the caller's SIGPIPE disposition applies */
#endif
/* lseek's hole-finding whences; -1 where there are none. */
#ifdef SEEK_DATA
#define MMI_SEEK_DATA SEEK_DATA
#define MMI_SEEK_HOLE SEEK_HOLE
#else
#define MMI_SEEK_DATA (-1)
#define MMI_SEEK_HOLE (-1)
#endif

/* ---- the processor's tick counter --------------------------------- */

#if (defined(__GNUC__) || defined(__clang__)) &&                               \
    (defined(__x86_64__) || defined(__i386__))
static inline uint64_t mmi_arch_ticks(void) { return __builtin_ia32_rdtsc(); }
/* The TSC's rate differs from one processor to the next and nothing
 * cheap reports it: 0 says "measure it" (mmi_os_ticks_per_us). */
static inline uint64_t mmi_arch_ticks_per_us(void) { return 0; }
#elif (defined(__GNUC__) || defined(__clang__)) && defined(__aarch64__)
static inline uint64_t mmi_arch_ticks(void) {
  uint64_t v;
  __asm__ __volatile__("mrs %0, cntvct_el0" : "=r"(v));
  return v;
}
static inline uint64_t mmi_arch_ticks_per_us(void) {
  uint64_t f;
  __asm__ __volatile__("mrs %0, cntfrq_el0" : "=r"(f));
  return f >= 1000000 ? f / 1000000 : 1;
}
#else
static inline uint64_t mmi_arch_ticks(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
static inline uint64_t mmi_arch_ticks_per_us(void) { return 1000; }
#endif

/* ---- ThreadSanitizer ---------------------------------------------- */

/* MMAPIO_TSAN_ is the public header's ThreadSanitizer test. Readers
 * racing a shrink may see zeros, never a fault; a MAP_FIXED remap of
 * pages they may be copying is not a write to order against them, and
 * these brackets say so. */
#ifdef MMAPIO_TSAN_
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);
#define MMI_REMAP_BEGIN() __tsan_ignore_thread_begin()
#define MMI_REMAP_END() __tsan_ignore_thread_end()
#else
#define MMI_REMAP_BEGIN() ((void)0)
#define MMI_REMAP_END() ((void)0)
#endif

#endif
