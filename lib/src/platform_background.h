/*
 * The platform layer of the background work (platform_background.c):
 * writeback hints, completion notifiers, file watching and the library's
 * own threads. Every #if those need is in platform_background.c. Internal.
 */
#ifndef MMAPIO_PLATFORM_BACKGROUND_H
#define MMAPIO_PLATFORM_BACKGROUND_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The background system-call table: the calls of the background work
 * that tests cannot easily make fail, replaceable by tests linked to the
 * static library like mmi_sys (sys.h). Production code never changes it.
 */
typedef struct mmi_bgsys_table {
  /* Starts writeback of file bytes [off, off+len), mapped at addr, and
   * returns without waiting: sync_file_range(SYNC_FILE_RANGE_WRITE) on
   * Linux, msync(MS_ASYNC) elsewhere. 0, or -1 and errno. */
  int (*writeback)(int fd, void *addr, uint64_t off, uint64_t len);
  /* inotify_init1(IN_NONBLOCK | IN_CLOEXEC): fd, or -1 and errno. */
  int (*watch_init)(void);
  /* inotify_add_watch(ifd, path, mask): wd, or -1 and errno. */
  int (*watch_add)(int ifd, const char *path, uint32_t mask);
} mmi_bgsys_table;

extern mmi_bgsys_table mmi_bgsys;

/* Restores every entry of mmi_bgsys to the real call. */
void mmi_bgsys_reset(void);

/* The name of the call behind mmi_bgsys.writeback, for error details. */
const char *mmi_writeback_call(void);

/* ---- completion notifiers: a pollable "something is ready" flag ---- */

/* An fd that polls readable while set: an eventfd (rd == wr) on Linux, a
 * pipe elsewhere; close-on-exec, non-blocking. 0, or -1 and errno. */
int mmi_notifier_open(int *rd, int *wr);
/* The name of the call behind mmi_notifier_open, for error details. */
const char *mmi_notifier_call(void);
/* Makes rd readable (idempotent while it is). */
void mmi_notifier_set(int wr);
/* Makes rd not readable again. */
void mmi_notifier_clear(int rd);
void mmi_notifier_close(int rd, int wr);

/* ---- file watching ---- */

/* Whether this build can watch files (inotify). */
bool mmi_watch_supported(void);

/* The kinds of watch events the platform reports (a platform-neutral
 * translation of inotify's masks). */
enum {
  MMI_WEV_MODIFY = 1,   /* content or size changed */
  MMI_WEV_ATTRIB = 2,   /* metadata (incl. link count) changed */
  MMI_WEV_MOVED = 4,    /* the file was renamed */
  MMI_WEV_DELETED = 8,  /* the inode is gone */
  MMI_WEV_IGNORED = 16, /* the watch was removed by the kernel */
  MMI_WEV_OVERFLOW = 32 /* the event queue overflowed: events were lost */
};

/* Starts watching the file open as fd (path is a fallback when fd cannot
 * be named through /proc). The watch fd in *ifd. 0, or an errno value;
 * *call names the failing call. */
int mmi_watch_open(int fd, const char *path, int *ifd, const char **call);
/* Reads what is queued on ifd (non-blocking) and ORs each event's
 * MMI_WEV_* bits, in order, into kinds[0..*n) (at most cap). 0; EAGAIN
 * when nothing is queued; another errno value on failure. */
int mmi_watch_read(int ifd, unsigned *kinds, size_t cap, size_t *n);

/* Waits until fd_a or fd_b is readable (either may be -1). 0, or an
 * errno value other than EINTR. */
int mmi_wait_readable(int fd_a, int fd_b);

/* ---- threads ---- */

/* pthread_create with every signal blocked in the new thread, so signals
 * meant for the application never land on a library thread. 0 or an
 * errno value. */
int mmi_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

#ifdef __cplusplus
}
#endif

#endif
