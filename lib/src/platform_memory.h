/*
 * The platform layer of memory control (platform_memory.c): advice,
 * population, residency, locks, huge pages, memory files, seals and
 * descriptor passing. Every #if those need is in platform_memory.c.
 * Internal.
 */
#ifndef MMAPIO_PLATFORM_MEMORY_H
#define MMAPIO_PLATFORM_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Linux's errno for a page with a hardware memory error, which
 * MADV_POPULATE_READ may report (not every C library names it). */
#define MMI_EHWPOISON 133

/* What mmi_memsys.probe says about one page. */
#define MMI_PROBE_UNKNOWN (-1) /* cannot tell */
#define MMI_PROBE_SMALL 0      /* resident, mapped with a small page */
#define MMI_PROBE_HUGE 1       /* resident, mapped by a huge page (PMD) */
#define MMI_PROBE_ABSENT 2     /* not mapped (resident or not) */

/* touch.c re-probes a range cached with a "small pages" segment on every
 * this many calls: four probes of a 32 MiB range cost 8-14 us after the
 * loop has evicted the kernel's caches, against a 55 us loop, so every
 * 16th call makes them under 2 % (here for the seam tests). */
#define MMI_TOUCH_SMALL_RECHECK 16u

/*
 * The memory system-call table: the calls of memory control that tests
 * cannot easily make fail, replaceable by tests linked to the static
 * library like mmi_sys (sys.h). Production code never changes it. Each
 * returns 0, or -1 and errno, unless noted.
 */
typedef struct mmi_memsys_table {
  /* madvise (posix_madvise on POSIX-only builds); advice is an
   * mmapio_advice value. */
  int (*advise)(void *addr, size_t len, int advice);
  /* posix_fadvise(fd, off, len, POSIX_FADV_WILLNEED): 0 or an errno
   * value (posix_fadvise's convention). */
  int (*fadvise_willneed)(int fd, uint64_t off, uint64_t len);
  /* madvise(MADV_POPULATE_READ); EINVAL (or ENOSYS) where the kernel or
   * build has none. */
  int (*populate)(void *addr, size_t len);
  int (*mlock)(const void *addr, size_t len);
  int (*munlock)(const void *addr, size_t len);
  /* mincore: vec[i] & 1 when page i is resident. */
  int (*mincore)(void *addr, size_t len, unsigned char *vec);
  /* MMI_PROBE_* for the page at addr. */
  int (*probe)(const void *addr);
  /* 1 when bytes [off, off+len) of fd are all a hole (no data: reading
   * them allocates zeroed pages, no I/O), 0 when some are data, -1 when
   * it cannot tell. */
  int (*hole)(int fd, uint64_t off, uint64_t len);
} mmi_memsys_table;

extern mmi_memsys_table mmi_memsys;

/* Restores every entry of mmi_memsys to the real call, and forgets what
 * touch.c learned from the replaced ones (mmi_touch_cache_clear). */
void mmi_memsys_reset(void);
/* Forgets touch.c's cached answers of mmi_memsys.probe (touch.c). */
void mmi_touch_cache_clear(void);

/* A cheap tick counter for timing system calls of microseconds (the
 * time-stamp counter where there is one, else the monotonic clock), and
 * roughly how many ticks make a microsecond: only good for telling 0.1
 * from 30 microseconds, not for measuring. */
uint64_t mmi_ticks(void);
uint64_t mmi_ticks_per_us(void);

/* ---- huge pages ---- */

/* Whether this build has transparent huge pages and MADV_* for them. */
bool mmi_thp_built(void);
/* madvise(MADV_HUGEPAGE) / madvise(MADV_COLLAPSE): 0, or -1 and errno
 * (EINVAL or ENOSYS where the kernel or build has none). */
int mmi_thp_advise(void *addr, size_t len);
int mmi_thp_collapse(void *addr, size_t len);
/* Whether fd is a file of hugetlbfs (a hugetlb memory file). */
bool mmi_fd_is_hugetlb(int fd);
/* The file system of fd: its magic number in *magic and a short name
 * ("ext4", "tmpfs", ... or "unknown"). 0, or -1 and errno. */
int mmi_fd_fs(int fd, unsigned long *magic, const char **name);
/* The path of the smaps file of this process, or NULL where there is
 * none on this platform or build. */
const char *mmi_smaps_path(void);

/* ---- memory files ---- */

/* A new, empty, close-on-exec memory file: memfd_create(MFD_CLOEXEC |
 * MFD_ALLOW_SEALING [| MFD_HUGETLB]) on Linux; shm_open + shm_unlink on
 * POSIX-only builds (hugetlb: EOPNOTSUPP). fd, or -1 and errno. */
int mmi_memfd(bool hugetlb);
/* The name of the call behind mmi_memfd, for error details. */
const char *mmi_memfd_call(void);
/* Whether memory files here can be sealed. */
bool mmi_seals_built(void);
/* Adds MMAPIO_SEAL_* seals / reads them (F_ADD_SEALS / F_GET_SEALS). 0,
 * or -1 and errno (EOPNOTSUPP without seals). */
int mmi_seals_add(int fd, unsigned seals);
int mmi_seals_get(int fd, unsigned *seals);

/* ---- descriptor passing ---- */

/* Sends one byte carrying fd (SCM_RIGHTS) on sock, without SIGPIPE.
 * 0, or -1 and errno. */
int mmi_send_fd(int sock, int fd);
/* Receives one message from sock, blocking. 0 and the descriptor it
 * carried in *fd (close-on-exec; -1 when it carried none, extra ones are
 * closed), or -1 and errno (ECONNRESET when the peer closed first). */
int mmi_recv_fd(int sock, int *fd);

#ifdef __cplusplus
}
#endif

#endif
