/*
 * The platform layer: everything the library asks of the operating
 * system, in the library's own terms. The logic files call these and make
 * no system call themselves; nothing here calls back into them.
 *
 * The build chooses the implementation (lib/sources.cmake): the files of
 * unix/ every unix shares (files.c, ipc.c, memory.c, signals.c), with
 * unix/linux.c and unix/linux_procfs.c on Linux, or unix/posix.c on any other
 * POSIX system and in MMAPIO_POSIX_ONLY builds. Each of those files reaches the
 * system through the one system-call table (unix/syscalls.h), so a test can
 * make any call fail by its name.
 *
 * Conventions: 0 on success, -1 with errno on failure, unless a function
 * says otherwise. mmi_os_has_* say whether this build can do something at
 * all; where the answer is no, the functions behind it fail with the
 * errno they name, so callers can report UNSUPPORTED honestly.
 * Internal; C and C++ (the seam tests use the constants).
 */
#ifndef MMAPIO_OS_H
#define MMAPIO_OS_H

#include "mmapio.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- files -------------------------------------------------------- */

/* How mmi_os_open opens: read-only unless RDWR. Every descriptor the
 * library opens is close-on-exec. */
enum {
  MMI_OPEN_RDWR = 1,       /* read and write */
  MMI_OPEN_CREATE = 2,     /* create the file (mode perm) if it is missing */
  MMI_OPEN_EXCL = 4,       /* with CREATE: EEXIST if the name exists at all
                              (a symbolic link included, never followed) */
  MMI_OPEN_NOFOLLOW = 8,   /* ELOOP if the last component is a link */
  MMI_OPEN_DIRECTORY = 16, /* ENOTDIR unless it is a directory */
  MMI_OPEN_NONBLOCK = 32   /* do not wait for a FIFO's peer */
};
/* The descriptor, or -1 and errno. */
int mmi_os_open(const char *path, unsigned how, unsigned perm);
int mmi_os_close(int fd);

typedef enum mmi_file_kind {
  MMI_KIND_REGULAR,
  MMI_KIND_DIRECTORY,
  MMI_KIND_FIFO,
  MMI_KIND_CHAR_DEVICE,
  MMI_KIND_BLOCK_DEVICE,
  MMI_KIND_SOCKET,
  MMI_KIND_SYMLINK,
  MMI_KIND_OTHER
} mmi_file_kind;

/* What the library needs to know of a file. */
typedef struct mmi_file_info {
  uint64_t size;
  mmi_file_kind kind;
  unsigned perm;         /* permission, set-ID and sticky bits (07777) */
  uint64_t dev, ino;     /* together they name the file */
  uint32_t uid, gid;     /* owner and group */
  uint64_t nlink;        /* names the file has */
  struct timespec mtime; /* last change of the bytes */
  struct timespec ctime; /* last change of the bytes or the metadata */
} mmi_file_info;

int mmi_os_stat_fd(int fd, mmi_file_info *out);
/* Of the file path names; of a symbolic link itself unless follow. */
int mmi_os_stat_path(const char *path, bool follow, mmi_file_info *out);
/* Whether fd was opened for reading and for writing. */
int mmi_os_fd_access(int fd, bool *readable, bool *writable);
/* Clears MMI_OPEN_NONBLOCK on fd (best effort: a failure leaves it). */
void mmi_os_clear_nonblock(int fd);

/* Sets the file's size; past the old end it reads as zeros (sparse). */
int mmi_os_truncate(int fd, uint64_t size);
/* Allocates [off, off+len) of the file, extending it: 0 or an errno
 * value (posix_fallocate's convention). */
int mmi_os_allocate(int fd, uint64_t off, uint64_t len);
/* The file's data and metadata are durable on return. */
int mmi_os_fsync(int fd);
/* Keeps the owner or group where the id is MMI_ID_KEEP. */
#define MMI_ID_KEEP UINT32_MAX
int mmi_os_chown(int fd, uint32_t uid, uint32_t gid);
int mmi_os_chmod(int fd, unsigned perm);
/* The canonical absolute path (malloc'd), or NULL and errno. */
char *mmi_os_realpath(const char *path);
/* A new name `to` for the file `from` names; EEXIST if `to` exists. */
int mmi_os_link(const char *from, const char *to);
/* Atomically replaces whatever `to` names with the file `from` names. */
int mmi_os_rename(const char *from, const char *to);
int mmi_os_unlink(const char *path);

/* A new file in directory dir that has no name yet: -1 and EOPNOTSUPP
 * where the system or the file system has no such files. */
int mmi_os_open_unnamed(const char *dir, unsigned perm);
/* Gives such a file the name path; EEXIST if path exists. */
int mmi_os_link_unnamed(int fd, const char *path);

/* The first data byte at or after off (size when only a hole remains;
 * off itself where the system cannot tell). */
uint64_t mmi_os_seek_data(int fd, uint64_t off, uint64_t size);
/* The first hole at or after off, at most size. */
uint64_t mmi_os_seek_hole(int fd, uint64_t off, uint64_t size);
/* Copies len bytes at off from in to the same offset of out, in the
 * kernel where it can: 0 or an errno value. */
int mmi_os_copy_range(int in, int out, uint64_t off, uint64_t len);
/* Whether the file has dirty or writeback pages in the page cache: 1
 * yes, 0 no, -1 cannot tell on this system. */
int mmi_os_file_dirty(int fd);
/* A short name of the file system of fd ("ext4", "tmpfs", "hugetlbfs",
 * ...), or "unknown". */
const char *mmi_os_file_system(int fd);

/* The process's id, and a monotonic clock in nanoseconds: the clock of
 * pthread_condattr_setclock(CLOCK_MONOTONIC). */
long mmi_os_pid(void);
uint64_t mmi_os_now_ns(void);

/* ---- address space ------------------------------------------------ */

/* The page size; 4096 where the system does not say. */
size_t mmi_os_page_size(void);

/* Reservations of 2 MiB or more start on a 2 MiB boundary, so that the
 * kernel can back them with huge pages (a PMD maps only aligned 2 MiB). */
#define MMI_HUGE_ALIGN ((size_t)2 << 20)
static inline bool mmi_huge_aligned(const void *p) {
  return ((uintptr_t)p & (MMI_HUGE_ALIGN - 1)) == 0;
}
/* len rounded up to a multiple of MMI_HUGE_ALIGN when it is at least
 * that large, else len. */
static inline size_t mmi_round_huge(size_t len) {
  if (len < MMI_HUGE_ALIGN || len > SIZE_MAX - MMI_HUGE_ALIGN)
    return len;
  return (len + MMI_HUGE_ALIGN - 1) & ~(MMI_HUGE_ALIGN - 1);
}
/* True when the kernel itself places a mapping of len bytes (address of
 * its choice) on a MMI_HUGE_ALIGN boundary. A guess either way is safe:
 * the callers check the address they get. */
bool mmi_os_kernel_aligns(size_t len);

/* Reserves len bytes of address space that nothing can touch, exactly
 * at addr when addr is not NULL (never replacing a mapping there: EEXIST),
 * aligned as MMI_HUGE_ALIGN says when addr is NULL. NULL and errno. */
void *mmi_os_reserve(void *addr, size_t len);
/* Maps len bytes of fd from off with mode's access and sharing (COW: a
 * private copy, charged to memory only where written), exactly at `at`
 * (replacing what is there) or, when at is NULL, where the system
 * chooses. The address, or NULL and errno. Readers may be copying from
 * pages that a MAP_FIXED remap replaces: they see the old bytes or the
 * new ones, never a fault. */
void *mmi_os_map_file(void *at, size_t len, mmapio_mode mode, int fd,
                      uint64_t off);
/* Replaces [at, at+len) with private zero-filled memory. */
int mmi_os_map_zeros(void *at, size_t len);
/* Replaces [at, at+len) with reserved address space nothing can touch;
 * apart: as an area of its own, which the system does not merge with
 * reserved address space beside it, so that mapping over all of it later
 * splits nothing (where the system cannot tell them apart, it merges). */
int mmi_os_map_none(void *at, size_t len, bool apart);
/* Makes the mapping over [at, at+len) accessible as mode says (open), or
 * not at all; what it maps stays. 0, or -1 and errno. */
int mmi_os_protect(void *at, size_t len, mmapio_mode mode, bool open);
void mmi_os_unmap(void *addr, size_t len);

/* ---- memory control ----------------------------------------------- */

/* Linux's errno for a page with a hardware memory error, which
 * MADV_POPULATE_READ may report (not every C library names it). */
#define MMI_EHWPOISON 133

int mmi_os_advise(void *addr, size_t len, mmapio_advice advice);
/* The name of the call behind mmi_os_advise, for error details. */
const char *mmi_os_advise_call(void);
/* Starts reading file bytes [off, off+len) into the page cache: 0 or an
 * errno value. len 0 means "to the end of the file". */
int mmi_os_prefetch(int fd, uint64_t off, uint64_t len);
/* Faults every page of [addr, addr+len) in with one call: -1 and EINVAL
 * or ENOSYS where the kernel or system has no such call. */
int mmi_os_populate(void *addr, size_t len);
int mmi_os_lock(const void *addr, size_t len);
int mmi_os_unlock(const void *addr, size_t len);
/* The soft limit on locked memory in *bytes (UINT64_MAX: unlimited): 0,
 * or -1 and errno. */
int mmi_os_memlock_limit(uint64_t *bytes);
/* vec[i] & 1 when page i of [addr, addr+len) is resident. */
int mmi_os_residency(void *addr, size_t len, unsigned char *vec);

/* How the page at addr is mapped (mmi_os_page_mapping). */
#define MMI_PAGE_UNKNOWN (-1) /* cannot tell */
#define MMI_PAGE_SMALL 0      /* resident, mapped with a small page */
#define MMI_PAGE_HUGE 1       /* resident, mapped by a huge page (PMD) */
#define MMI_PAGE_ABSENT 2     /* not mapped (resident or not) */
int mmi_os_page_mapping(const void *addr);

/* A cheap tick counter for timing system calls of microseconds (the
 * processor's where there is one, else a monotonic clock), and roughly
 * how many ticks make a microsecond: good for telling 0.1 from 30
 * microseconds, not for measuring. */
uint64_t mmi_os_ticks(void);
uint64_t mmi_os_ticks_per_us(void);

/* ---- huge pages --------------------------------------------------- */

/* Whether this build has transparent huge pages and the advice for them. */
bool mmi_os_has_thp(void);
/* MADV_HUGEPAGE / MADV_COLLAPSE of [addr, addr+len): -1 and EINVAL or
 * ENOSYS where the kernel or build has none. */
int mmi_os_thp_advise(void *addr, size_t len);
int mmi_os_thp_collapse(void *addr, size_t len);
/* The size of a PMD-level huge page, or 0 where the system does not say. */
size_t mmi_os_pmd_size(void);

/* Which memory a transparent-huge-page mode applies to. */
typedef enum mmi_thp_memory {
  MMI_THP_ANON, /* anonymous memory and private copies */
  MMI_THP_SHMEM /* memory files (shmem, tmpfs) */
} mmi_thp_memory;
/* The kernel's THP mode for PMD-size pages of that memory ("always",
 * "madvise", "never", "advise", "deny", ...) in out; "" where the system
 * does not say. */
void mmi_os_thp_mode(mmi_thp_memory memory, char *out, size_t n);

/* The hugetlb pool of the default huge-page size. */
typedef struct mmi_hugetlb_pool {
  uint64_t page_size; /* bytes; 0 where there is no pool */
  uint64_t total, free, reserved;
} mmi_hugetlb_pool;
void mmi_os_hugetlb_pool(mmi_hugetlb_pool *out);

/* What the memory areas overlapping [lo, hi) of this process say about
 * huge pages. */
typedef struct mmi_huge_usage {
  bool known;       /* the system told (false: every field below is 0) */
  uint64_t rss_kb;  /* resident, hugetlb pages included */
  uint64_t huge_kb; /* of it, mapped by huge pages */
  bool hugetlb;     /* an area is hugetlb memory */
  bool advised;     /* an area has MADV_HUGEPAGE */
  bool not_advised; /* an area lacks it */
  bool nohuge;      /* an area has MADV_NOHUGEPAGE */
} mmi_huge_usage;
void mmi_os_huge_usage(uintptr_t lo, uintptr_t hi, mmi_huge_usage *out);

/* ---- memory files and descriptor passing -------------------------- */

/* A new, empty, close-on-exec memory file that lives as long as its
 * descriptors and mappings: -1 and EOPNOTSUPP for hugetlb where the
 * system has none. */
int mmi_os_memfd(bool hugetlb);
/* The name of the call behind mmi_os_memfd, for error details. */
const char *mmi_os_memfd_call(void);
/* Whether memory files can be sealed (else the seal calls fail with
 * EOPNOTSUPP). Seals are MMAPIO_SEAL_* bits. */
bool mmi_os_has_seals(void);
int mmi_os_seals_add(int fd, unsigned seals);
int mmi_os_seals_get(int fd, unsigned *seals);

/* Sends one byte carrying fd on the Unix-domain socket sock, without
 * SIGPIPE. */
int mmi_os_send_fd(int sock, int fd);
/* Receives one message from sock, blocking: 0 and the descriptor it
 * carried in *fd (close-on-exec; -1 when it carried none, extra ones are
 * closed), or -1 and errno (ECONNRESET when the peer closed first). */
int mmi_os_recv_fd(int sock, int *fd);

/* ---- flushing ------------------------------------------------------ */

/* Dirty pages of [addr, addr+len) are durable on return. */
int mmi_os_sync(void *addr, size_t len);
/* Starts writeback of file bytes [off, off+len), mapped at addr, and
 * returns without waiting. */
int mmi_os_writeback(int fd, void *addr, uint64_t off, uint64_t len);
/* The name of the call behind mmi_os_writeback, for error details. */
const char *mmi_os_writeback_call(void);
/* Whether mmi_os_writeback starts writeback (else it only schedules it,
 * as msync(MS_ASYNC) does). */
bool mmi_os_has_writeback(void);

/* ---- background work ---------------------------------------------- */

/* A pollable "something is ready" flag: rd polls readable while set;
 * close-on-exec, non-blocking (rd and wr may be one descriptor). */
int mmi_os_notifier_open(int *rd, int *wr);
/* The name of the call behind mmi_os_notifier_open, for error details. */
const char *mmi_os_notifier_call(void);
/* Makes rd readable (idempotent while it is). */
void mmi_os_notifier_set(int wr);
/* Makes rd not readable again. */
void mmi_os_notifier_clear(int rd);
void mmi_os_notifier_close(int rd, int wr);

/* Waits until fd_a or fd_b is readable (either may be -1): 0, or an
 * errno value other than EINTR. */
int mmi_os_wait_readable(int fd_a, int fd_b);

/* Starts a thread with every asynchronous signal blocked, so signals
 * meant for the application never land on a library thread: 0 or an
 * errno value. */
int mmi_os_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

/* ---- an asymmetric barrier ----------------------------------------- */

/* Makes mmi_os_barrier_all usable for this process (once; idempotent): 0,
 * or -1 and errno (ENOSYS where the system has no such barrier). */
int mmi_os_barrier_setup(void);
/* A full memory barrier in every thread of the process that is running
 * code, before it returns: the side of a Dekker handshake that runs
 * rarely calls it, and the side that runs often needs only a compiler
 * barrier. 0, or -1 and errno. */
int mmi_os_barrier_all(void);
/* The name of the call behind the two, for error details. */
const char *mmi_os_barrier_call(void);

/* ---- watching a file ---------------------------------------------- */

/* Whether this build can watch files (else mmi_os_watch_open fails with
 * ENOSYS). */
bool mmi_os_has_watch(void);

/* The kinds of events a watch reports. */
enum {
  MMI_WEV_MODIFY = 1,   /* content or size changed */
  MMI_WEV_ATTRIB = 2,   /* metadata (the link count included) changed */
  MMI_WEV_MOVED = 4,    /* the file was renamed */
  MMI_WEV_DELETED = 8,  /* the file is gone */
  MMI_WEV_IGNORED = 16, /* the system dropped the watch */
  MMI_WEV_OVERFLOW = 32 /* the event queue overflowed: events were lost */
};

/* Starts watching the file open as fd (path is a fallback where fd
 * cannot be named): the watch descriptor in *wd, polled readable while
 * events are queued. 0, or an errno value with the failing call in
 * *call. */
int mmi_os_watch_open(int fd, const char *path, int *wd, const char **call);
/* Reads what is queued on wd (non-blocking) and stores each event's
 * MMI_WEV_* bits, in order, in kinds[0..*n) (at most cap). 0; EAGAIN
 * when nothing is queued; another errno value on failure. */
int mmi_os_watch_read(int wd, unsigned *kinds, size_t cap, size_t *n);

/* ---- streams and hand-off ----------------------------------------- */

/* The operations of a custom stdio stream, on its cookie: the
 * fopencookie conventions (read: bytes, 0 at the end, -1 and errno;
 * write: bytes, fewer than asked is an error with errno; seek: moves to
 * *pos from whence (SEEK_*) and stores the new position, 0 or -1 and
 * errno; close: frees the cookie, 0). */
typedef struct mmi_stream_ops {
  ssize_t (*read)(void *cookie, char *buf, size_t len);
  ssize_t (*write)(void *cookie, const char *buf, size_t len);
  int (*seek)(void *cookie, int64_t *pos, int whence);
  int (*close)(void *cookie);
} mmi_stream_ops;

/* A stream's operations and their cookie, in storage the caller owns
 * (typically inside the cookie's own object). */
typedef struct mmi_stream {
  const mmi_stream_ops *ops;
  void *cookie;
} mmi_stream;

/* Whether this build has custom stdio streams (else mmi_os_fopen fails
 * with ENOTSUP). */
bool mmi_os_has_streams(void);
/* A FILE * whose operations are s->ops on s->cookie; mode "r" or "r+".
 * s must stay valid until the close operation has run. NULL and errno. */
FILE *mmi_os_fopen(mmi_stream *s, const char *mode);
/* Sends len bytes at off of in_fd to out_fd in the kernel: the bytes sent,
 * or -1 and errno (ENOSYS where the system has no such call, EINVAL
 * where it cannot between these descriptors). */
ssize_t mmi_os_sendfile(int out_fd, int in_fd, uint64_t off, size_t len);
/* write(2): the bytes written, or -1 and errno. */
ssize_t mmi_os_write(int fd, const void *buf, size_t len);

/* ---- the fault guard ---------------------------------------------- */

/* Installs the process's SIGBUS handler once: 0 or an errno value. A
 * SIGBUS outside a guarded copy goes to the handler installed before it,
 * or gets the default action. */
int mmi_os_guard_install(void);
/* Whether that handler is still the process's (an application's later
 * handler would get every SIGBUS first). */
bool mmi_os_guard_active(void);
/* memcpy(dst, src, len), where [mapped, mapped+len) is the mapped side:
 * true, or false with the faulting address in *at when a SIGBUS hit the
 * mapped side (needs mmi_os_guard_install). Makes no system call unless
 * it faults; the thread's signal mask is as it was either way. */
bool mmi_os_guarded_copy(void *dst, const void *src, size_t len,
                         const void *mapped, uintptr_t *at);

#ifdef __cplusplus
}
#endif

#endif
