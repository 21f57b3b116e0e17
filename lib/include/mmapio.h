/*
 * mmapio — memory-mapped file I/O for C11.
 *
 * Conventions used by every function below:
 *
 *  - A fallible function returns `int`: 0 on success or a negative
 *    MMAPIO_E_* code. The code is the signal; mmapio_last_error() only
 *    gives detail (OS errno, failing system call, a message with the
 *    numbers) and is never cleared by a success.
 *  - Output parameters come first and are named `out`. On failure an
 *    output parameter is left untouched.
 *  - Sizes and file offsets are uint64_t; lengths of memory are size_t.
 *    Every offset+length check is overflow-safe.
 *  - Any function may be called from any thread on a shared handle,
 *    except mmapio_close() and mmapio_unmap(), which must not race other
 *    calls on the same handle.
 *  - Passing a handle that was already closed is undefined behaviour (it
 *    cannot be checked in O(1)); every other bad argument is reported.
 *  - Every file descriptor the library opens is close-on-exec.
 *
 * What frees what. Everything the library hands out is released by the
 * call beside it. The library's release calls accept NULL (a no-op) and
 * never fail, except mmapio_unmap (below).
 *
 *   object              made by                     released by
 *   mmapio_map *        mmapio_open_ex and its      mmapio_close; or
 *                       shorthands (mmapio_open,    mmapio_unmap, which
 *                       mmapio_create, ...),        hands its fd back
 *                       mmapio_from_fd,             (close() that)
 *                       mmapio_anon(_ex),
 *                       mmapio_anon_recv, the map
 *                       of a CREATE completion
 *   mmapio_pin          mmapio_pin_range            mmapio_unpin
 *   mmapio_chunks       mmapio_chunks_begin,        the end of the walk,
 *                       mmapio_pages_begin          or mmapio_chunks_end
 *   mmapio_segment *    mmapio_segment_create,      mmapio_segment_release,
 *                       mmapio_segment_retain       once per reference
 *   mmapio_cursor *     mmapio_cursor_open          mmapio_cursor_close
 *   FILE *              mmapio_fopen                fclose()
 *   mmapio_watch *      mmapio_watch_start          mmapio_watch_stop
 *   mmapio_async_pool * mmapio_async_pool_create    mmapio_async_pool_destroy
 *   an async operation  an mmapio_async_* call      the delivery of its
 *                       that returned 0             completion
 *   a malloc'd copy     mmapio_read_bytes,          free()
 *                       mmapio_chunks_next_owned
 *
 * Each pin, walk, segment, cursor, FILE stream, watch and async operation
 * holds a reference on its mapping. mmapio_close drops the caller's; the
 * mapping is freed (unmapped, its fd closed, its flusher thread joined) by
 * whichever release drops the last one. mmapio_unmap fails with
 * MMAPIO_E_BUSY, and changes nothing, while any other reference is alive.
 * mmapio_async_pool_destroy closes the handle of a CREATE completion that
 * was never reaped. Not yours to free: views, base pointers and chunks
 * (they point into the mapping: see "Pointer validity"), the descriptors
 * of mmapio_fd and mmapio_async_pool_fd, the string of mmapio_path (the
 * handle's) and the record of mmapio_last_error (the thread's).
 */
#ifndef MMAPIO_H
#define MMAPIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>  /* FILE, for mmapio_fopen */
#include <string.h> /* memcpy, for the inline mmapio_read */
#ifdef __cplusplus
#include <atomic> /* the atomic views: std::atomic in C++ */
#else
#include <stdatomic.h> /* the atomic views: C11 _Atomic in C */
#endif

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define MMAPIO_API __attribute__((visibility("default")))
#else
#define MMAPIO_API
#endif

/* ------------------------------------------------------------------ */
/* Version                                                             */
/* ------------------------------------------------------------------ */

/** The major version: breaking changes; the SONAME's number. */
#define MMAPIO_VERSION_MAJOR 1
/** The minor version: additions only. */
#define MMAPIO_VERSION_MINOR 1
/** The patch version: fixes only. */
#define MMAPIO_VERSION_PATCH 0
/** The version as one number: major * 10000 + minor * 100 + patch. */
#define MMAPIO_VERSION_NUMBER                                                  \
  (MMAPIO_VERSION_MAJOR * 10000 + MMAPIO_VERSION_MINOR * 100 +                 \
   MMAPIO_VERSION_PATCH)

/**
 * The version of the library that is running (which may differ from
 * MMAPIO_VERSION_NUMBER, the version compiled against).
 *
 * Returns: major * 10000 + minor * 100 + patch. Never fails.
 */
MMAPIO_API int mmapio_version(void);

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/*
 * The one list of error codes. Values are pinned: a code never changes
 * its number or meaning. X(NAME, value, description).
 */
#define MMAPIO_ERROR_MAP(X)                                                    \
  X(IO, -1, "operating system error")                                          \
  X(INVALID_MODE, -2, "operation not permitted in this mapping mode")          \
  X(OUT_OF_BOUNDS, -3, "range lies outside the mapping")                       \
  X(FLUSH_FAILED, -4, "flush to storage failed")                               \
  X(RESIZE_FAILED, -5, "resize failed or size not allowed")                    \
  X(ADVICE_FAILED, -6, "memory advice failed")                                 \
  X(LOCK_FAILED, -7, "locking pages in memory failed")                         \
  X(UNLOCK_FAILED, -8, "unlocking pages failed")                               \
  X(MISALIGNED, -9, "offset is not suitably aligned")                          \
  X(WATCH_FAILED, -10, "file watch could not be set up")                       \
  X(INVALID_ARGUMENT, -11, "invalid argument")                                 \
  X(BUSY, -12, "mapping is still referenced")                                  \
  X(FAULT, -13, "memory fault while accessing the mapping")                    \
  X(UNSUPPORTED, -14, "not supported on this platform or build")               \
  X(NO_MEMORY, -15, "out of memory")

/** The error codes (MMAPIO_ERROR_MAP), with 0 for success. */
typedef enum mmapio_errcode {
  MMAPIO_OK = 0,
#define MMAPIO_ERROR_ENUM_(name, value, text) MMAPIO_E_##name = (value),
  MMAPIO_ERROR_MAP(MMAPIO_ERROR_ENUM_)
#undef MMAPIO_ERROR_ENUM_
} mmapio_errcode;

/** The detail of the last error on the calling thread. */
typedef struct mmapio_error {
  int code;            /* MMAPIO_E_* of the last failure, 0 if none yet */
  int os_errno;        /* errno of the failing system call, 0 if none */
  const char *syscall; /* name of that system call, or NULL */
  char message[256];   /* human-readable, with offsets/lengths/sizes */
} mmapio_error;

/**
 * A static description of an error code.
 *
 * Returns: a string for every MMAPIO_E_* code and 0 ("success"); "unknown
 * error" for any other value. Never NULL, never fails.
 */
MMAPIO_API const char *mmapio_strerror(int code);

/**
 * The name of an error code, e.g. "MMAPIO_E_OUT_OF_BOUNDS".
 *
 * Returns: the name, "MMAPIO_OK" for 0, or "MMAPIO_E_UNKNOWN" for any
 * other value. Never NULL, never fails.
 */
MMAPIO_API const char *mmapio_error_name(int code);

/**
 * The detail of the most recent failure on the calling thread.
 *
 * Returns: a pointer to thread-local storage, valid until the thread
 * exits; its contents change with the thread's next failing call. A
 * successful call does not clear it. Never NULL, never fails.
 */
MMAPIO_API const mmapio_error *mmapio_last_error(void);

/** Resets the calling thread's last error to code 0. Never fails. */
MMAPIO_API void mmapio_clear_error(void);

/* ------------------------------------------------------------------ */
/* Handles, modes, options                                             */
/* ------------------------------------------------------------------ */

/** An opaque mapping handle (file-backed or anonymous). */
typedef struct mmapio_map mmapio_map;

/** How a mapping may be accessed. */
typedef enum mmapio_mode {
  MMAPIO_MODE_RO = 1,  /* read-only, shared */
  MMAPIO_MODE_RW = 2,  /* read-write, shared: writes reach the file */
  MMAPIO_MODE_COW = 3, /* copy-on-write: writable, private to the handle;
                          a page takes memory only once written */
} mmapio_mode;

/*
 * Flush policies (RW handles; implicit flushes are durable, like
 * mmapio_flush). ALWAYS flushes the page-widened range of each update;
 * EVERY_BYTES and EVERY_WRITES do a full mmapio_flush, which also
 * restarts their count (as does any explicit mmapio_flush). An implicit
 * flush's failure is returned by the mmapio_update that triggered it and
 * is sticky like any flush failure.
 */
typedef enum mmapio_flush_policy {
  MMAPIO_FLUSH_MANUAL = 0,       /* only explicit flushes (default) */
  MMAPIO_FLUSH_ALWAYS = 1,       /* flush each update's range after it */
  MMAPIO_FLUSH_EVERY_BYTES = 2,  /* flush once pending bytes reach arg */
  MMAPIO_FLUSH_EVERY_WRITES = 3, /* flush after every arg updates */
  MMAPIO_FLUSH_EVERY_MILLIS = 4  /* a background thread flushes every arg
                                    milliseconds while anything is dirty */
} mmapio_flush_policy;
/** NEVER is the same policy as MANUAL: nothing is flushed implicitly. */
#define MMAPIO_FLUSH_NEVER MMAPIO_FLUSH_MANUAL

/* Option flags (mmapio_options.flags). */
#define MMAPIO_OPT_NOFOLLOW 0x1u     /* refuse a symlink as the final path */
#define MMAPIO_OPT_PREALLOCATE 0x2u  /* allocate disk blocks on create/grow */
#define MMAPIO_OPT_SYNC_DIR 0x4u     /* fsync the parent dir after creating */
#define MMAPIO_OPT_HUGEPAGES 0x8u    /* ask for huge pages, best effort */
#define MMAPIO_OPT_TOUCH_EAGER 0x10u /* fault every page in at open */

/* How mmapio_open_ex() treats the path. */
typedef enum mmapio_disposition {
  MMAPIO_OPEN = 1,          /* the file must exist */
  MMAPIO_CREATE = 2,        /* create, or replace, at options.size */
  MMAPIO_OPEN_OR_CREATE = 3 /* open if it exists, else create */
} mmapio_disposition;

/** The layout version of mmapio_options this header describes. */
#define MMAPIO_OPTIONS_VERSION 1

/**
 * Options for mmapio_open_ex() (the builder). Initialise with
 * MMAPIO_OPTIONS_INIT or mmapio_options_init(), then set fields.
 */
typedef struct mmapio_options {
  unsigned version;                 /* MMAPIO_OPTIONS_VERSION */
  mmapio_mode mode;                 /* default MMAPIO_MODE_RW */
  uint64_t size;                    /* size for CREATE / OPEN_OR_CREATE */
  unsigned flags;                   /* MMAPIO_OPT_* */
  unsigned perm;                    /* creation permission bits, default 0644 */
  mmapio_flush_policy flush_policy; /* RW only; default MANUAL */
  uint64_t flush_arg;               /* bytes, writes or ms of EVERY_* */
  uint64_t reserve;                 /* address space to reserve; 0: default */
} mmapio_options;

/** An initialiser of mmapio_options with every default. */
#define MMAPIO_OPTIONS_INIT                                                    \
  {                                                                            \
    MMAPIO_OPTIONS_VERSION, MMAPIO_MODE_RW, 0, 0, 0644, MMAPIO_FLUSH_MANUAL,   \
        0, 0                                                                   \
  }

/**
 * Fills *out with the defaults (same as MMAPIO_OPTIONS_INIT).
 *
 * Returns: 0.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: out is NULL.
 */
MMAPIO_API int mmapio_options_init(mmapio_options *out);

/** The largest size a mapping may have: 128 TiB on 64-bit, 2 GiB on
 *  32-bit platforms. */
MMAPIO_API uint64_t mmapio_max_size(void);

/* ------------------------------------------------------------------ */
/* Opening and closing                                                 */
/* ------------------------------------------------------------------ */

/*
 * Sparse files: every function that creates a file (mmapio_create,
 * mmapio_open_or_create, mmapio_open_ex with CREATE / OPEN_OR_CREATE,
 * mmapio_resize when growing) sets the size with ftruncate, which gives
 * a sparse file: a 1 TiB create allocates no data blocks until pages are
 * written. MMAPIO_OPT_PREALLOCATE asks for the blocks up front instead
 * (posix_fallocate), so that a full disk fails at create/resize time with
 * MMAPIO_E_RESIZE_FAILED rather than as a SIGBUS at write time.
 *
 * Address stability: a read-write handle reserves address space beyond
 * the file's size (options.reserve; by default twice the size and at
 * least 1 GiB on 64-bit, exactly the size on 32-bit), so growing stays
 * in place and earlier pointers stay valid. Only growth past the
 * reservation may move the base; mmapio_resize() reports it, and the
 * old pointers still stay valid (they see the same file) until close.
 *
 * Non-regular files (FIFO, directory, device, socket) are rejected with
 * MMAPIO_E_INVALID_ARGUMENT without blocking.
 *
 * Creating over what is there (mmapio_create, mmapio_open_ex CREATE):
 *  - nothing: a new file is made under the name and sized there (other
 *    processes may see it under its name, empty, before the call returns);
 *  - an empty regular file: it is sized in place, and stays the same file
 *    (inode, owner, permission bits, links, ACLs, extended attributes);
 *  - a regular file with bytes: it is replaced. A new file is made beside
 *    it (in the same directory), sized and mapped, and then renamed over
 *    it, so the name goes from the old content to the new at once, never
 *    through a truncated file. The new file is a new inode: other hard
 *    links of the old file, and processes that have it open or mapped,
 *    keep the old content (they never see it truncated or shrink under
 *    their mappings). It gets the old file's permission bits (0777; the
 *    set-user-ID, set-group-ID and sticky bits are not carried over),
 *    the old file's owner and group where the caller may give them
 *    (root may), or else the old group where the caller belongs to it;
 *    otherwise it is the caller's. ACLs, extended attributes, file
 *    capabilities, security labels and locks are not carried over.
 *    Replacing needs write permission on the file and on its directory,
 *    and room for the old and the new file at once (with
 *    MMAPIO_OPT_PREALLOCATE the new file's blocks are allocated while the
 *    old file still holds its own). A crash in the middle leaves the old
 *    file or the new one under the name, and may leave a temporary
 *    '<name>.mmapio-*' file beside it;
 *  - a symbolic link (without MMAPIO_OPT_NOFOLLOW): the file it names is
 *    created, sized or replaced as above, in its own directory; the link
 *    itself stays a link;
 *  - anything else: MMAPIO_E_INVALID_ARGUMENT, and nothing is touched (a
 *    device node is never replaced by a regular file).
 * A create that returns an error leaves what was at the path exactly as
 * it was (bytes, size, inode) and no new or temporary file behind: a new
 * name is removed again, an empty file stays empty, a replacement is
 * discarded before it has the name. The one exception is
 * MMAPIO_E_FLUSH_FAILED from MMAPIO_OPT_SYNC_DIR, which is reported after
 * the file got its name (see mmapio_open_ex).
 */

/**
 * Opens (or creates) path as described by opts and how. This is the
 * builder: every other opening function is a shorthand for it.
 *
 * Creating sets the permission bits opts->perm (subject to the umask) on
 * a new file (a replaced file's bits carry over: see "Creating over what
 * is there" above), the size opts->size (sparse unless
 * MMAPIO_OPT_PREALLOCATE), and with MMAPIO_OPT_SYNC_DIR fsyncs the
 * directory that holds the new name, last, so that the name is durable.
 * OPEN_OR_CREATE is race-free between processes: the file appears under
 * its name only once fully sized and mapped, exactly one caller creates
 * it, and nobody truncates a file that exists. An error leaves an
 * existing file as it was and no new file behind, except FLUSH_FAILED.
 *
 * Returns: 0 and a new handle in *out (release with mmapio_close()).
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: out, path or opts is NULL; opts->version
 *    is not MMAPIO_OPTIONS_VERSION; an unknown flag, mode, policy or
 *    disposition; a flush policy other than MANUAL on a non-RW mode; an
 *    EVERY_* policy with flush_arg 0; CREATE/OPEN_OR_CREATE with a mode
 *    other than RW; path names a non-regular file.
 *  - MMAPIO_E_RESIZE_FAILED: creating with size 0 or above
 *    mmapio_max_size(); opening a zero-length file RW or COW; preallocation
 *    failed (e.g. ENOSPC, errno in the detail).
 *  - MMAPIO_E_IO: the file is missing (OPEN), unreadable, a symlink with
 *    MMAPIO_OPT_NOFOLLOW (ELOOP), a dangling symlink with OPEN_OR_CREATE
 *    (ENOENT: nothing is created through it), too large for the address
 *    space (EOVERFLOW), or any other OS failure (errno in the detail).
 *  - MMAPIO_E_NO_MEMORY: allocating the handle failed.
 *  - MMAPIO_E_IO: with EVERY_MILLIS, the flusher thread could not be
 *    started (errno in the detail).
 *  - MMAPIO_E_FLUSH_FAILED: with MMAPIO_OPT_SYNC_DIR, the new file got its
 *    name (an old file at the path is replaced) and then opening or
 *    fsyncing its directory failed (errno and the call, "open" or
 *    "fsync", in the detail): the file is in place, sized and zero-filled,
 *    but its name may not survive a crash. No handle is returned; open
 *    the file, or create it again, to go on.
 */
MMAPIO_API int mmapio_open_ex(mmapio_map **out, const char *path,
                              const mmapio_options *opts,
                              mmapio_disposition how);

/**
 * Creates path at size bytes (sparse), zero-filled, and maps it RW: a new
 * file, an empty file sized in place, or a new file that replaces one
 * with bytes (see "Creating over what is there" above: hard links, owner,
 * permission bits). Same as mmapio_open_ex with CREATE and default
 * options. An error leaves an existing file exactly as it was and no new
 * file behind.
 *
 * Returns: 0 and the handle in *out.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: out or path is NULL; path names a
 *    non-regular file.
 *  - MMAPIO_E_RESIZE_FAILED: size is 0 or above mmapio_max_size().
 *  - MMAPIO_E_IO: the file cannot be created or sized (errno in detail).
 *  - MMAPIO_E_NO_MEMORY: allocating the handle failed.
 */
MMAPIO_API int mmapio_create(mmapio_map **out, const char *path, uint64_t size);

/**
 * Opens an existing file and maps all of it in mode. Read-only allows a
 * zero-length file (an empty mapping); RW and COW do not. COW mappings
 * are writable but private: writes never reach the file or other handles.
 *
 * Returns: 0 and the handle in *out.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: out or path is NULL; mode is unknown;
 *    path names a non-regular file.
 *  - MMAPIO_E_RESIZE_FAILED: the file is empty and mode is RW or COW.
 *  - MMAPIO_E_IO: missing, unreadable, or another OS failure.
 *  - MMAPIO_E_NO_MEMORY: allocating the handle failed.
 */
MMAPIO_API int mmapio_open(mmapio_map **out, const char *path,
                           mmapio_mode mode);

/**
 * Opens path RW if it exists, else creates it at default_size (sparse),
 * race-free between processes (see mmapio_open_ex). A failed create
 * leaves no file behind.
 *
 * Returns: 0 and the handle in *out.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: out or path is NULL; non-regular file.
 *  - MMAPIO_E_RESIZE_FAILED: the file must be created and default_size is
 *    0 or above mmapio_max_size(); the file exists but is empty.
 *  - MMAPIO_E_IO: OS failure (errno in the detail); path is a dangling
 *    symbolic link (ENOENT: nothing is created through it).
 *  - MMAPIO_E_NO_MEMORY: allocating the handle failed.
 */
MMAPIO_API int mmapio_open_or_create(mmapio_map **out, const char *path,
                                     uint64_t default_size);

/**
 * Maps an open file descriptor, e.g. one opened with custom flags or
 * inherited. On success the library owns fd (it is closed by
 * mmapio_close or returned by mmapio_unmap); on failure fd stays the
 * caller's, untouched. path is informational only (may be NULL; it is
 * copied) and is what mmapio_path() returns.
 *
 * Returns: 0 and the handle in *out.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: out is NULL; fd is negative; mode is
 *    unknown; fd is not a regular file.
 *  - MMAPIO_E_INVALID_MODE: fd's access mode does not permit mode (RW
 *    needs O_RDWR; RO and COW need read access).
 *  - MMAPIO_E_RESIZE_FAILED: the file is empty and mode is RW or COW.
 *  - MMAPIO_E_IO: fd is not open (EBADF) or another OS failure.
 *  - MMAPIO_E_NO_MEMORY: allocating the handle failed.
 */
MMAPIO_API int mmapio_from_fd(mmapio_map **out, int fd, mmapio_mode mode,
                              const char *path);

/**
 * Releases the caller's reference: when it was the last one (no pins or
 * other references remain), unmaps, closes the fd and frees the handle.
 * NULL is a no-op. Must not race other calls on the same handle.
 *
 * The address space a read-write handle reserved for growth (the default
 * size, see mmapio_open_ex) may be kept, PROT_NONE, for the next
 * read-write handle: one such reservation per process, which costs
 * address space but no memory;
 * mmapio_trim() gives it back. The handle's pages are unmapped either
 * way: a pointer into them faults.
 *
 * Never fails. A pending asynchronous write-back error is not reported
 * here: call mmapio_flush() first to learn it.
 */
MMAPIO_API void mmapio_close(mmapio_map *m);

/**
 * Gives the address space that closed handles left for reuse (see
 * mmapio_close) back to the system, e.g. before a leak check that counts
 * mappings or in a process that has finished with mmapio. Safe from any
 * thread at any time; handles opened later may keep some again.
 *
 * Never fails.
 */
MMAPIO_API void mmapio_trim(void);

/**
 * Consumes the handle: unmaps it and hands its file descriptor back to
 * the caller (who must close it). Must not race other calls.
 *
 * Returns: 0 and the fd in *out_fd; the handle is freed.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m or out_fd is NULL.
 *  - MMAPIO_E_BUSY: other references (pins) or walks (mmapio_chunks_begin)
 *    are alive; the handle is unchanged and still usable.
 */
MMAPIO_API int mmapio_unmap(mmapio_map *m, int *out_fd);

/* ------------------------------------------------------------------ */
/* Reading and writing                                                 */
/* ------------------------------------------------------------------ */

/*
 * Pointer validity: a pointer from mmapio_view, mmapio_view_mut,
 * mmapio_base or mmapio_base_mut stays valid (addressable) until the
 * handle is closed, across growth and even when growth moves the base.
 * After a shrink, bytes beyond the new length read as zeros through an
 * old pointer and writes there are discarded (the range is replaced by
 * private anonymous memory): a stale pointer never faults and never
 * aliases other memory. To stop a shrink from removing bytes you are
 * still using, pin them (mmapio_pin_range), and the shrink fails with BUSY.
 */

/**
 * Zero-copy read view of [off, off+len). Inline: a bounds check and
 * pointer arithmetic; no lock, no allocation, no system call, not even a
 * function call on success. Valid on every mode; len 0 is allowed (even
 * at off == length).
 *
 * Returns: 0 and the address in *out.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m or out is NULL.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + len exceeds the mapping's length.
 * Undefined: m was closed.
 */
static inline int mmapio_view(const mmapio_map *m, uint64_t off, size_t len,
                              const void **out);

/**
 * Zero-copy writable view of [off, off+len), inline like mmapio_view.
 * Writes through it are not counted in mmapio_pending() but are flushed
 * by mmapio_flush().
 *
 * Returns: 0 and the address in *out.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m or out is NULL.
 *  - MMAPIO_E_INVALID_MODE: the mapping is read-only.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + len exceeds the mapping's length.
 * Undefined: m was closed.
 */
static inline int mmapio_view_mut(mmapio_map *m, uint64_t off, size_t len,
                                  void **out);

/**
 * Copies [off, off+len) out of the mapping into buf. A call of
 * mmapio_read is inline (a macro): the checks of mmapio_view, then
 * memcpy, and the exported function only when a check fails, buf is NULL
 * (whatever len is) or the guard is on. (mmapio_read)(...), &mmapio_read
 * and bindings that look the symbol up reach the exported function, which
 * behaves the same.
 *
 * Returns: 0.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m is NULL, or buf is NULL with len > 0.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + len exceeds the length; buf untouched.
 *  - MMAPIO_E_FAULT: the guard is on (mmapio_set_guard) and the file was
 *    truncated under the range (SIGBUS); buf may be partly written.
 */
MMAPIO_API int mmapio_read(const mmapio_map *m, uint64_t off, void *buf,
                           size_t len);

/**
 * Copies len bytes from src into the mapping at off; on RW mappings also
 * adds len to the pending count and then applies the flush policy (COW
 * mappings have nothing to flush).
 *
 * Returns: 0.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m is NULL, or src is NULL with len > 0.
 *  - MMAPIO_E_INVALID_MODE: the mapping is read-only.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + len exceeds the length; nothing copied.
 *  - MMAPIO_E_FAULT: the guard is on (mmapio_set_guard) and the file was
 *    truncated under the range (SIGBUS); the bytes before the fault may
 *    have been copied, the pending count is unchanged.
 *  - MMAPIO_E_FLUSH_FAILED: the bytes were copied but the flush the
 *    policy required failed (see mmapio_flush).
 */
MMAPIO_API int mmapio_update(mmapio_map *m, uint64_t off, const void *src,
                             size_t len);

/* Accessors. None fails for a valid handle; with m == NULL each returns
 * the value noted (0, NULL, -1 or false) and sets no error. */

/** Current length in bytes (0 for NULL). */
MMAPIO_API uint64_t mmapio_len(const mmapio_map *m);
/** True when the length is 0 (true for NULL). */
MMAPIO_API bool mmapio_is_empty(const mmapio_map *m);
/** The path given at open, or NULL (anonymous, from_fd without path). */
MMAPIO_API const char *mmapio_path(const mmapio_map *m);
/** The mode (0 for NULL). */
MMAPIO_API mmapio_mode mmapio_mode_of(const mmapio_map *m);
/** The flush policy (MANUAL for NULL). */
MMAPIO_API mmapio_flush_policy mmapio_flush_policy_of(const mmapio_map *m);
/** Bytes written by mmapio_update and not yet flushed (0 for NULL). */
MMAPIO_API uint64_t mmapio_pending(const mmapio_map *m);
/** The file descriptor, still owned by the handle (-1 for NULL). Never
 *  fails. */
MMAPIO_API int mmapio_fd(const mmapio_map *m);
/** The base address, for reading (NULL for NULL). See "Pointer
 *  validity" above; it changes only when growth moves the mapping. */
MMAPIO_API const void *mmapio_base(const mmapio_map *m);

/**
 * The base address for writing.
 *
 * Returns: 0 and the address in *out.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m or out is NULL.
 *  - MMAPIO_E_INVALID_MODE: the mapping is read-only.
 */
MMAPIO_API int mmapio_base_mut(mmapio_map *m, void **out);

/** The system page size, cached after the first call. Never fails. */
MMAPIO_API size_t mmapio_page_size(void);

/**
 * Rounds value up to a multiple of align.
 *
 * Returns: 0 and the result in *out.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: out is NULL, or align is 0 or not a power
 *    of two.
 *  - MMAPIO_E_OUT_OF_BOUNDS: the result does not fit in uint64_t.
 */
MMAPIO_API int mmapio_align_up(uint64_t value, uint64_t align, uint64_t *out);

/* ------------------------------------------------------------------ */
/* Pins: references that keep a range alive                            */
/* ------------------------------------------------------------------ */

/**
 * A pin holds a reference on its mapping and forbids shrinking below
 * off+len while it lives. The caller owns the storage (no allocation);
 * the fields are private to the library.
 */
typedef struct mmapio_pin {
  mmapio_map *map_;
  uint64_t end_;
  struct mmapio_pin *prev_, *next_;
} mmapio_pin;

/**
 * Pins [off, off+len) of m into *out: m stays alive (mmapio_close only
 * drops the caller's reference) and mmapio_resize refuses to cut the
 * range, until mmapio_unpin(out).
 *
 * Returns: 0.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m or out is NULL.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + len exceeds the length.
 * Undefined: pinning the same mmapio_pin twice without unpinning.
 */
MMAPIO_API int mmapio_pin_range(mmapio_pin *out, mmapio_map *m, uint64_t off,
                                uint64_t len);

/**
 * Releases a pin taken with mmapio_pin_range. NULL, or a pin already
 * released, is a no-op. When it held the last reference the mapping is
 * closed. Never fails.
 */
MMAPIO_API void mmapio_unpin(mmapio_pin *pin);

/* ------------------------------------------------------------------ */
/* Resize                                                              */
/* ------------------------------------------------------------------ */

/**
 * Changes the file's size and the mapping's length (RW only). Growing
 * with ftruncate leaves a sparse file (no blocks for the new bytes) unless
 * the handle was opened with MMAPIO_OPT_PREALLOCATE. Growth stays at the
 * same base inside the reservation; growth past it tries to extend the
 * reservation in place and otherwise moves the base, which is reported in
 * *moved (may be NULL). A shrink that would cut a pinned range fails. On
 * any failure the size, the base and every view are as before.
 *
 * Returns: 0; *moved (if not NULL) is set to whether the base changed.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m is NULL.
 *  - MMAPIO_E_INVALID_MODE: the mapping is RO or COW.
 *  - MMAPIO_E_RESIZE_FAILED: new_size is 0 or above mmapio_max_size(), or
 *    the OS refused (EFBIG, ENOSPC with preallocation, a failed remap, a
 *    failed membarrier before a shrink of a handle that was walked;
 *    errno and the call in the detail).
 *  - MMAPIO_E_BUSY: shrinking would cut a range held by a pin or a live
 *    walk (mmapio_chunks_begin, mmapio_chunks_mut).
 */
MMAPIO_API int mmapio_resize(mmapio_map *m, uint64_t new_size, bool *moved);

/* ------------------------------------------------------------------ */
/* Flushing and durability                                             */
/* ------------------------------------------------------------------ */

/*
 * Durable means: on return the bytes are on stable storage as far as
 * the OS can tell (msync(MS_SYNC), which on Linux is fdatasync of the
 * range). It covers every write, whatever path made it: mmapio_update,
 * views, raw pointers. A failed flush is sticky: once a flush has
 * failed, every later flush and flush_range on that handle fails with
 * MMAPIO_E_FLUSH_FAILED and the first failure's errno (the OS may
 * already have dropped the dirty pages); reopen the file to start afresh.
 *
 * Concurrency: flushes need no lock against readers or writers. A read
 * or write that races a shrink of the bytes it touches may see zeros for
 * the cut bytes (never a fault); pin a range to rule that out.
 */

/**
 * Makes every dirty page of the mapping durable and resets the pending
 * count by what it covered. No-op (returns 0) on RO and COW mappings.
 *
 * Returns: 0.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m is NULL.
 *  - MMAPIO_E_FLUSH_FAILED: msync failed now or an earlier flush failed
 *    (errno in the detail).
 */
MMAPIO_API int mmapio_flush(mmapio_map *m);

/**
 * Makes [off, off+len) durable, widened to page boundaries. Debits the
 * pending count by the widened length (never below 0). The bounds check
 * comes first; after it, len 0, RO and COW are a no-op.
 *
 * Returns: 0.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m is NULL.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + len exceeds the length.
 *  - MMAPIO_E_FLUSH_FAILED: msync failed now or earlier (sticky).
 */
MMAPIO_API int mmapio_flush_range(mmapio_map *m, uint64_t off, uint64_t len);

/* ------------------------------------------------------------------ */
/* Faults                                                              */
/* ------------------------------------------------------------------ */

/*
 * If another process truncates a mapped file, touching a page past the
 * new end raises SIGBUS, which by default kills the process. The guard
 * turns that into an error for every function of the library that copies
 * bytes out of or into the handle's mapping, and nothing outside the
 * copy is affected: mmapio_read, mmapio_update, mmapio_segment_write,
 * mmapio_cursor_read, mmapio_chunks_next_owned and mmapio_read_bytes
 * return MMAPIO_E_FAULT, mmapio_touch_pages(_range) too, a stream from
 * mmapio_fopen fails its read or write with errno EFAULT, and the async
 * update reports FAULT in its completion.
 *
 * How: the first mmapio_set_guard(m, true) installs a process-wide
 * SIGBUS handler (SA_SIGINFO | SA_NODEFER | SA_ONSTACK), remembering the
 * handler it replaces. A SIGBUS whose address lies in the bytes a guarded
 * copy is touching, on that thread, jumps out of the copy (thread-local
 * sigsetjmp, no system call per copy; the signal mask is left exactly as
 * it was). Every other SIGBUS goes to the previous handler, or gets the
 * default action. Pointers you dereference yourself (views, raw base
 * pointers, the chunks of mmapio_chunks_next and mmapio_chunks_mut) are
 * not guarded.
 *
 * Your own SIGBUS handler: install it before the first
 * mmapio_set_guard(m, true), and the guard chains to it. A handler
 * installed afterwards takes the signal from the guard, which then cannot
 * work: mmapio_set_guard(m, true) checks for this and fails with
 * MMAPIO_E_BUSY (even if that handler chains to the guard's, which the
 * library cannot tell), and handles whose guard was already on are no
 * longer protected. If such a handler returns from a SIGBUS raised by an
 * access (rather than sent with kill), the kernel runs the access again,
 * which faults again: the thread loops for ever. A handler must not
 * return from such a signal: it may end the process, siglongjmp out, or
 * call the handler that sigaction gave back when it was installed (the
 * guard's, which takes the faults of guarded copies and passes on the
 * others).
 */

/**
 * Turns the fault guard on or off for m's copy paths. Cost when on: a
 * sigsetjmp per guarded copy; when off: one predictable branch. Turning
 * it on also checks that the guard's SIGBUS handler is still the
 * process's (one sigaction query).
 *
 * Returns: 0.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m is NULL.
 *  - MMAPIO_E_IO: the SIGBUS handler could not be installed (sigaction
 *    failed; errno in the detail).
 *  - MMAPIO_E_BUSY: on is true and another SIGBUS handler was installed
 *    after the guard's, so the guard cannot work (see above); the
 *    handle's guard setting is unchanged. Turning it off always works.
 */
MMAPIO_API int mmapio_set_guard(mmapio_map *m, bool on);

/* ------------------------------------------------------------------ */
/* One-call file functions                                             */
/* ------------------------------------------------------------------ */

/*
 * Each function below opens a file, does one thing and closes it again,
 * with no handle to manage. To work on a file in several steps, open a
 * handle (mmapio_create, mmapio_open) and use mmapio_update and
 * mmapio_flush.
 */

/**
 * Opens path RW, writes len bytes at off, flushes durably and closes.
 *
 * Returns: 0.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: path is NULL, data is NULL with len > 0,
 *    or path is not a regular file.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + len exceeds the file's size (the file
 *    is never grown); nothing is written.
 *  - MMAPIO_E_RESIZE_FAILED: the file is empty.
 *  - MMAPIO_E_IO: the file cannot be opened.
 *  - MMAPIO_E_FLUSH_FAILED: the bytes were written but not made durable.
 *  - MMAPIO_E_NO_MEMORY: allocating the handle failed.
 */
MMAPIO_API int mmapio_write_file(const char *path, uint64_t off,
                                 const void *data, size_t len);

/**
 * Copies the regular file src to dst, preserving holes where the OS can,
 * then makes dst durable. dst gets exactly src's permission bits (the
 * umask does not apply); an existing dst is replaced. dst is never left
 * half-written under its name: the copy is written to a temporary file in
 * dst's directory, fsynced, renamed over dst, and then dst's directory is
 * fsynced so that the new name is durable.
 *
 * Returns: 0.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: src or dst is NULL; src is not a regular
 *    file.
 *  - MMAPIO_E_IO: src cannot be read, dst cannot be written (errno in
 *    the detail); dst is unchanged and no temporary file is left.
 *  - MMAPIO_E_FLUSH_FAILED: the copy was renamed over dst (it is durable
 *    itself) and then opening or fsyncing dst's directory failed (errno
 *    and the call, "open" or "fsync", in the detail): dst has the new
 *    content, but its name may not survive a crash.
 */
MMAPIO_API int mmapio_copy_file(const char *src, const char *dst);

/**
 * Removes the file at path. It must be a regular file: a symbolic link
 * (even to a regular file) is refused, not removed. Open handles on the
 * file stay valid until closed.
 *
 * Returns: 0.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: path is NULL, or names something other
 *    than a regular file, a symbolic link included (nothing is removed).
 *  - MMAPIO_E_IO: the file does not exist or cannot be removed.
 */
MMAPIO_API int mmapio_delete_file(const char *path);

/* ------------------------------------------------------------------ */
/* Background work: flush policies, the writeback hint, asynchronous   */
/* operations, file watching                                           */
/* ------------------------------------------------------------------ */

/*
 * Threads. The library starts threads only for the work below: one per
 * EVERY_MILLIS handle, the workers of each async pool, one dispatcher per
 * watch. Each is joined by the call that ends its owner (close/unmap,
 * mmapio_async_pool_destroy, mmapio_watch_stop; a watch stopped from its
 * own callback ends right after that callback returns), and each runs with
 * asynchronous signals blocked so that the application's signals are
 * never delivered to it (SIGBUS, SIGSEGV, SIGFPE, SIGILL and SIGTRAP stay
 * unblocked).
 */

/*
 * Flush policies in detail (options.flush_policy, RW handles only):
 *
 *  - MANUAL (= NEVER): nothing is flushed implicitly.
 *  - ALWAYS: every mmapio_update makes its own range durable
 *    (mmapio_flush_range) before returning.
 *  - EVERY_BYTES(n): an mmapio_update that brings the pending count to n
 *    or more flushes the whole mapping (mmapio_flush).
 *  - EVERY_WRITES(w): every w-th mmapio_update since the last flush
 *    flushes the whole mapping.
 *  - EVERY_MILLIS(ms): the handle owns one background thread that wakes
 *    every ms milliseconds and, when anything is dirty, flushes the whole
 *    mapping durably. "Dirty" is a pending count above 0 or, where the
 *    kernel can tell (Linux 6.5+ cachestat), dirty pages of the file in
 *    the page cache; so writes through views, raw pointers and atomics
 *    are flushed too. Where the kernel cannot tell, the thread flushes
 *    every period. The thread is started by the opening call (IO when it
 *    cannot be) and stopped and joined by mmapio_close (when the last
 *    reference goes) or mmapio_unmap; no thread outlives its handle.
 *    Bytes written less than one period before the close are not
 *    flushed by it: call mmapio_flush before closing to be sure.
 *
 * The policies' flushes are the durable level. When one fails, the
 * failure is sticky (see "Flushing and durability"): mmapio_update
 * returns FLUSH_FAILED under ALWAYS, EVERY_BYTES and EVERY_WRITES; under
 * EVERY_MILLIS the thread's failure is reported by the next explicit
 * mmapio_flush, mmapio_flush_range or hint on the handle.
 */

/*
 * Two levels of flushing, named so they cannot be confused:
 *
 *  - mmapio_flush / mmapio_flush_range: DURABLE. On return the bytes are
 *    on stable storage (msync(MS_SYNC)).
 *  - mmapio_flush_hint / mmapio_flush_range_hint: a HINT. Writeback of
 *    the dirty pages is started and the call returns without waiting; on
 *    return nothing is promised about durability, and the pending count
 *    is unchanged. Linux: sync_file_range(SYNC_FILE_RANGE_WRITE) (Linux
 *    ignores msync(MS_ASYNC)); other systems: msync(MS_ASYNC). On a
 *    POSIX-only build running on Linux the hint is therefore a request
 *    the kernel ignores.
 *
 * Neither level skips the system call when the pending count is 0:
 * whatever path dirtied the pages, they are covered. Both share the
 * sticky error: after any failed flush or hint, every later flush and
 * hint on the handle fails with FLUSH_FAILED until the file is reopened.
 */

/**
 * Starts writeback of every dirty page of the mapping and returns
 * without waiting (the hint level: NOT durable; use mmapio_flush for
 * that). Does not change the pending count. No-op (returns 0) on RO, COW
 * and anonymous mappings.
 *
 * Returns: 0 when writeback was started.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m is NULL.
 *  - MMAPIO_E_FLUSH_FAILED: the OS refused to start writeback (errno and
 *    the system call in the detail), or an earlier flush or hint on this
 *    handle failed (sticky). A failure here is sticky too.
 */
MMAPIO_API int mmapio_flush_hint(mmapio_map *m);

/**
 * Starts writeback of the dirty pages of [off, off+len), widened to page
 * boundaries, and returns without waiting (NOT durable; see
 * mmapio_flush_range). Does not change the pending count. len 0 is a
 * no-op; RO, COW and anonymous mappings are a no-op after the bounds
 * check.
 *
 * Returns: 0 when writeback was started.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m is NULL.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + len exceeds the mapping's length.
 *  - MMAPIO_E_FLUSH_FAILED: the OS refused to start writeback, or an
 *    earlier flush or hint on this handle failed (sticky). A failure here
 *    is sticky too.
 */
MMAPIO_API int mmapio_flush_range_hint(mmapio_map *m, uint64_t off,
                                       uint64_t len);

/* ---- Asynchronous operations ---- */

/*
 * A pool of worker threads, created and owned by the caller, runs
 * operations off the caller's thread. Nothing here depends on an event
 * loop: each operation completes in one of two ways, chosen when it is
 * submitted:
 *
 *  - callback != NULL: the callback runs on a worker thread of the pool
 *    with the completion record, which is valid only during the call.
 *  - callback == NULL: the record is queued in the pool, and the pool's
 *    file descriptor (mmapio_async_pool_fd) polls readable while any
 *    record is queued; take them with mmapio_async_reap. Any event loop
 *    can wait on that descriptor: poll, epoll, libuv's uv_poll_t,
 *    libevent. Linux: an eventfd; POSIX-only builds: a pipe's read end.
 *
 * An operation on a handle holds a reference to it (like a pin over
 * [0, 0)) from submission until just before its completion is delivered.
 * So mmapio_close on a handle with operations in flight is allowed: the
 * operations finish, and the handle is released after the last one.
 * mmapio_unmap fails with BUSY while any is in flight. When the
 * completion is delivered the pool holds no reference any more.
 *
 * Operations run in submission order when the pool has one thread; with
 * more threads they may run, and complete, in any order.
 */

/** An opaque pool of worker threads. */
typedef struct mmapio_async_pool mmapio_async_pool;

/** The most worker threads a pool may have. */
#define MMAPIO_ASYNC_MAX_THREADS 64

/** Which operation a completion record belongs to. */
typedef enum mmapio_async_op {
  MMAPIO_ASYNC_FLUSH = 1,       /* mmapio_flush */
  MMAPIO_ASYNC_FLUSH_RANGE = 2, /* mmapio_flush_range */
  MMAPIO_ASYNC_UPDATE = 3,      /* mmapio_update, then its flush_range */
  MMAPIO_ASYNC_CREATE = 4,      /* mmapio_create */
  MMAPIO_ASYNC_COPY = 5,        /* mmapio_copy_file */
  MMAPIO_ASYNC_DELETE = 6       /* mmapio_delete_file */
} mmapio_async_op;

/** The result of one asynchronous operation. */
typedef struct mmapio_completion {
  mmapio_async_op op; /* the operation */
  int status;         /* 0, or the MMAPIO_E_* code the operation failed
                         with: exactly what the synchronous call returns */
  mmapio_error error; /* when status != 0, the worker's error detail
                         (error.code == status); zeroed otherwise */
  mmapio_map *map;    /* CREATE that succeeded: the new handle, now owned
                         by whoever receives the record; else NULL */
  void *user;         /* the user pointer given at submission */
} mmapio_completion;

/**
 * A completion callback. It runs on a worker thread; c is valid only
 * during the call (copy what you keep). It may submit further operations
 * to the same pool, and may close the handle it operated on. It must not
 * destroy its own pool.
 */
typedef void (*mmapio_async_cb)(const mmapio_completion *c);

/**
 * Creates a pool with nthreads worker threads and its completion
 * descriptor (close-on-exec).
 *
 * Returns: 0 and the pool in *out (release with
 * mmapio_async_pool_destroy).
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: out is NULL; nthreads is 0 or above
 *    MMAPIO_ASYNC_MAX_THREADS.
 *  - MMAPIO_E_IO: the descriptor or a thread could not be created (errno
 *    and the system call in the detail); nothing is left behind.
 *  - MMAPIO_E_NO_MEMORY: allocating the pool failed.
 */
MMAPIO_API int mmapio_async_pool_create(mmapio_async_pool **out,
                                        unsigned nthreads);

/**
 * Finishes every operation submitted so far (including ones submitted by
 * callbacks while it waits), delivers their completions, joins the
 * threads, closes the descriptor and frees the pool. Completion records
 * still queued and not reaped are discarded; a handle in a discarded
 * CREATE record is closed. NULL is a no-op. Never fails.
 * Undefined: racing a submission, reap or destroy on the same pool from
 * another thread; using the pool afterwards.
 * Aborts: when called from a completion callback of the same pool (it
 * would wait for itself).
 */
MMAPIO_API void mmapio_async_pool_destroy(mmapio_async_pool *pool);

/**
 * The pool's completion descriptor: it polls readable while completion
 * records are queued. Only wait on it: do not read, write or close it;
 * mmapio_async_reap resets it.
 *
 * Returns: the descriptor, owned by the pool; -1 for NULL. Never fails.
 */
MMAPIO_API int mmapio_async_pool_fd(const mmapio_async_pool *pool);

/**
 * Takes up to cap queued completion records, oldest first, into
 * out[0..*out_count). Never blocks; 0 records is not an error. When the
 * queue becomes empty the descriptor stops polling readable.
 *
 * Returns: 0, and the number taken in *out_count.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: pool or out_count is NULL, or out is NULL
 *    with cap > 0.
 */
MMAPIO_API int mmapio_async_reap(mmapio_async_pool *pool,
                                 mmapio_completion *out, size_t cap,
                                 size_t *out_count);

/*
 * Submitting. Each mmapio_async_* call below checks its arguments, takes
 * what it needs (a reference on the handle, copies of paths and bytes)
 * and queues the operation; it does not wait. Exactly one completion is
 * delivered for each submission that returned 0, and none for one that
 * failed. Every error of the operation itself (OUT_OF_BOUNDS,
 * FLUSH_FAILED, IO, ...) arrives in the completion's status, with the
 * same codes and causes as the synchronous function.
 *
 * Errors of every submission function:
 *  - MMAPIO_E_INVALID_ARGUMENT: pool is NULL, or an argument listed with
 *    the function is NULL.
 *  - MMAPIO_E_NO_MEMORY: allocating the operation failed.
 */

/**
 * Runs mmapio_flush(m) (durable) on the pool.
 *
 * Returns: 0 when queued.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: pool or m is NULL.
 *  - MMAPIO_E_NO_MEMORY: allocating the operation failed.
 */
MMAPIO_API int mmapio_async_flush(mmapio_async_pool *pool, mmapio_map *m,
                                  mmapio_async_cb cb, void *user);

/**
 * Runs mmapio_flush_range(m, off, len) (durable) on the pool. The bounds
 * are checked when it runs (OUT_OF_BOUNDS in the completion).
 *
 * Returns: 0 when queued.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: pool or m is NULL.
 *  - MMAPIO_E_NO_MEMORY: allocating the operation failed.
 */
MMAPIO_API int mmapio_async_flush_range(mmapio_async_pool *pool, mmapio_map *m,
                                        uint64_t off, uint64_t len,
                                        mmapio_async_cb cb, void *user);

/**
 * Copies len bytes of src now (src may be reused as soon as this
 * returns), then on the pool runs mmapio_update(m, off, copy, len)
 * followed by mmapio_flush_range(m, off, len): on success the bytes are
 * durable. The bounds are checked when it runs.
 *
 * Returns: 0 when queued.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: pool or m is NULL; src is NULL with
 *    len > 0.
 *  - MMAPIO_E_NO_MEMORY: allocating the operation or the copy failed.
 */
MMAPIO_API int mmapio_async_update(mmapio_async_pool *pool, mmapio_map *m,
                                   uint64_t off, const void *src, size_t len,
                                   mmapio_async_cb cb, void *user);

/**
 * Runs mmapio_create(path, size) on the pool; on success the completion
 * carries the new handle in map, owned by the receiver of the record.
 *
 * Returns: 0 when queued (path is copied).
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: pool or path is NULL.
 *  - MMAPIO_E_NO_MEMORY: allocating the operation failed.
 */
MMAPIO_API int mmapio_async_create(mmapio_async_pool *pool, const char *path,
                                   uint64_t size, mmapio_async_cb cb,
                                   void *user);

/**
 * Runs mmapio_copy_file(src, dst) on the pool.
 *
 * Returns: 0 when queued (both paths are copied).
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: pool, src or dst is NULL.
 *  - MMAPIO_E_NO_MEMORY: allocating the operation failed.
 */
MMAPIO_API int mmapio_async_copy_file(mmapio_async_pool *pool, const char *src,
                                      const char *dst, mmapio_async_cb cb,
                                      void *user);

/**
 * Runs mmapio_delete_file(path) on the pool.
 *
 * Returns: 0 when queued (path is copied).
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: pool or path is NULL.
 *  - MMAPIO_E_NO_MEMORY: allocating the operation failed.
 */
MMAPIO_API int mmapio_async_delete_file(mmapio_async_pool *pool,
                                        const char *path, mmapio_async_cb cb,
                                        void *user);

/* ---- Watching the backing file ---- */

/*
 * A watch reports changes made to the mapped file through system calls,
 * by any process: write(), truncate/ftruncate (mmapio_resize included),
 * chmod, unlink, rename. Linux only (inotify); on other platforms and
 * POSIX-only builds mmapio_watch_start returns UNSUPPORTED.
 *
 * Limit: writes through a memory mapping (this handle's or anyone
 * else's) are not reported; the kernel does not notify them.
 *
 * Events are delivered on the watch's own dispatcher thread, one at a
 * time, in the order they happened. Rapid changes may be merged into
 * fewer events, but a change is never silently lost: when the kernel's
 * event queue overflows, the watch re-checks the file (size,
 * modification and change times, link count) and reports what it finds,
 * with overflowed set; if it finds nothing it still reports MODIFIED
 * with an unknown range.
 */

/** What happened to the watched file. */
typedef enum mmapio_watch_kind {
  MMAPIO_WATCH_MODIFIED = 1, /* content or size changed */
  MMAPIO_WATCH_METADATA = 2, /* permissions, owner, times, a link or a
                                rename; the file still has a name */
  MMAPIO_WATCH_REMOVED = 3   /* the file's last name is gone (unlinked, or
                                replaced by a rename over it); the mapping
                                itself stays valid */
} mmapio_watch_kind;

/** One change. */
typedef struct mmapio_watch_event {
  mmapio_watch_kind kind; /* what happened */
  bool range_known;       /* offset and length hold the changed byte range */
  uint64_t offset;        /* when the size changed: min(old size, new size) */
  uint64_t length;        /* when the size changed: |new size - old size| */
  uint64_t size;          /* the file's size when the event was handled */
  bool overflowed;        /* events were lost; this one comes from a re-check */
} mmapio_watch_event;

/**
 * A watch callback. It runs on the watch's dispatcher thread; ev is valid
 * only during the call. It may call mmapio_watch_stop on its own watch
 * (no further callback follows, and the thread ends after it returns).
 */
typedef void (*mmapio_watch_cb)(const mmapio_watch_event *ev, void *user);

/** An opaque watch. */
typedef struct mmapio_watch mmapio_watch;

/**
 * Starts watching the file behind m (the open file itself, so a rename
 * does not lose it). Holds a reference on m until mmapio_watch_stop:
 * closing m meanwhile is allowed; mmapio_unmap fails with BUSY.
 *
 * Returns: 0 and the watch in *out (release with mmapio_watch_stop). The
 * subscription is active on return: every later change is reported.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: out, m or cb is NULL; m is anonymous (it
 *    has no file to watch).
 *  - MMAPIO_E_UNSUPPORTED: file watching is not available on this
 *    platform or build.
 *  - MMAPIO_E_WATCH_FAILED: the subscription could not be made, e.g. too
 *    many open files (EMFILE), the per-user inotify instance or watch
 *    limit reached (EMFILE, ENOSPC), or the dispatcher thread could not
 *    be started; errno and the system call in the detail. Nothing is
 *    left behind.
 *  - MMAPIO_E_NO_MEMORY: allocating the watch failed.
 */
MMAPIO_API int mmapio_watch_start(mmapio_watch **out, mmapio_map *m,
                                  mmapio_watch_cb cb, void *user);

/**
 * Stops the watch: no callback starts after it returns (one already
 * running is waited for), the dispatcher thread is joined, the OS
 * subscription and descriptors are released, the reference on the
 * handle is dropped and the watch is freed. Called from the watch's own
 * callback, it returns at once and the dispatcher finishes all of that
 * after the callback returns. NULL is a no-op. Never fails.
 * Undefined: stopping the same watch twice.
 */
MMAPIO_API void mmapio_watch_stop(mmapio_watch *w);

/* ------------------------------------------------------------------ */
/* Memory control: advice, residency, locking, huge pages              */
/* ------------------------------------------------------------------ */

/*
 * Ranges: every function below that takes [off, off+len) checks it
 * against the mapping's current length (overflow-safe) and then widens
 * it to page boundaries itself, so any offset and length work. len 0 is
 * a no-op after the bounds check. None of them takes a lock, and none
 * changes the mapping's bytes (except MMAPIO_ADVICE_DONTNEED on a COW
 * handle, see there). Addresses are those of the live mapping when the
 * call starts; after growth that moved the base (mmapio_resize reports
 * it), locks and advice given earlier stay with the old addresses.
 */

/** Access-pattern advice for mmapio_advise (madvise). */
typedef enum mmapio_advice {
  MMAPIO_ADVICE_NORMAL = 0,     /* no special treatment (the default) */
  MMAPIO_ADVICE_RANDOM = 1,     /* expect random access: less read-ahead */
  MMAPIO_ADVICE_SEQUENTIAL = 2, /* expect sequential access: more
                                   read-ahead, pages may go sooner */
  MMAPIO_ADVICE_WILLNEED = 3,   /* expect access soon: start reading */
  MMAPIO_ADVICE_DONTNEED = 4    /* not needed soon: drop the pages from
                                   this mapping (see mmapio_advise) */
} mmapio_advice;

/**
 * Gives the kernel advice about [off, off+len) of the mapping (madvise;
 * posix_madvise on POSIX-only builds), widened to page boundaries.
 *
 * DONTNEED drops the range's pages from this mapping. The bytes are
 * kept: RW file and anonymous mappings read the same bytes again on the
 * next access (from the page cache, the file or the shared memory). On a
 * COW handle it discards this handle's private changes in the range: the
 * pages show the file's bytes again. On POSIX-only builds DONTNEED may
 * do nothing.
 *
 * Returns: 0.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m is NULL; advice is not an
 *    MMAPIO_ADVICE_* value.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + len exceeds the mapping's length.
 *  - MMAPIO_E_ADVICE_FAILED: the kernel refused the advice (errno in the
 *    detail), e.g. DONTNEED over pages locked with mmapio_lock (EINVAL).
 */
MMAPIO_API int mmapio_advise(mmapio_map *m, uint64_t off, uint64_t len,
                             mmapio_advice advice);

/**
 * File-side read-ahead: asks the kernel to start reading file bytes
 * [off, off+len) into the page cache and returns without waiting
 * (posix_fadvise(POSIX_FADV_WILLNEED)). Unlike mmapio_advise(WILLNEED)
 * it does not involve the mapping's page tables. On an anonymous mapping
 * there is nothing to read and it succeeds without effect.
 *
 * Returns: 0.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m is NULL.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + len exceeds the mapping's length.
 *  - MMAPIO_E_ADVICE_FAILED: posix_fadvise failed (errno in the detail).
 */
MMAPIO_API int mmapio_prefetch_range(mmapio_map *m, uint64_t off, uint64_t len);

/**
 * Faults every page of [off, off+len) in now, so that on return each one
 * is resident and mapped for reading; later reads of the range take no
 * page fault (until the kernel reclaims pages). The library picks the
 * fastest way per call, never one lock or system call per page: a tight
 * loop reading one byte per page (small ranges, and ranges mapped with
 * small pages), or one MADV_POPULATE_READ call (ranges mapped with huge
 * pages). On Linux 6.7+ the library tells the two apart with
 * PAGEMAP_SCAN on /proc/self/pagemap, which it opens once per process
 * (close-on-exec) and keeps open. It never writes: on an RW file mapping
 * the pages stay clean, and the first write to each page may still take
 * a (write-notify) fault; on an anonymous mapping the pages are writable
 * without one. On a COW handle no private copy is made.
 *
 * A call of mmapio_touch_pages_range or mmapio_touch_pages is inline (a
 * macro, like mmapio_read's) when the guard is off, the range is at most
 * 16 pages long and the handle's last touch found its pages mapped: the
 * checks of mmapio_view, then one load per page. Every other call, and
 * (mmapio_touch_pages_range)(...), the function's address and bindings
 * that look the symbol up, reach the exported function, which behaves
 * the same.
 *
 * With the fault guard on (mmapio_set_guard) the range is always faulted
 * in with MADV_POPULATE_READ (one guarded byte per page on kernels
 * without it), which reports a page past the end of a truncated file as
 * an error instead of raising SIGBUS; over small pages that is slower
 * than the loop.
 *
 * Returns: 0.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m is NULL.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + len exceeds the mapping's length.
 *  - MMAPIO_E_FAULT: a page could not be faulted in: with the guard on,
 *    a page of the range lies past the end of the file (another process
 *    truncated it); on the MADV_POPULATE_READ path, the kernel reported
 *    EFAULT or EHWPOISON.
 *  - MMAPIO_E_NO_MEMORY: the kernel ran out of memory faulting pages in.
 *  - MMAPIO_E_IO: MADV_POPULATE_READ failed for another reason (errno in
 *    the detail).
 * Undefined: with the guard off, when another process has truncated the
 * file below the range, the loop touches a page past the end of the
 * file, which raises SIGBUS (like any access to such a page).
 */
MMAPIO_API int mmapio_touch_pages_range(mmapio_map *m, uint64_t off,
                                        uint64_t len);

/**
 * mmapio_touch_pages_range over the whole mapping, [0, mmapio_len(m)).
 * MMAPIO_OPT_TOUCH_EAGER does the same once at open (ignoring failure).
 *
 * Returns: 0.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m is NULL.
 *  - MMAPIO_E_FAULT: as for mmapio_touch_pages_range (with the guard on:
 *    the file was truncated below the mapping's length).
 *  - MMAPIO_E_NO_MEMORY: as for mmapio_touch_pages_range.
 *  - MMAPIO_E_IO: as for mmapio_touch_pages_range.
 * Undefined: as for mmapio_touch_pages_range.
 */
MMAPIO_API int mmapio_touch_pages(mmapio_map *m);

/** How much of a range is resident (mmapio_resident). */
typedef struct mmapio_residency {
  uint64_t pages;          /* pages in the page-widened range */
  uint64_t resident_pages; /* of those, resident in memory now */
} mmapio_residency;

/**
 * Counts how many pages of [off, off+len), widened to page boundaries,
 * are resident in memory now (mincore). The answer may be stale as soon
 * as it is returned. len 0 gives 0 pages.
 *
 * Returns: 0 and the counts in *out.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m or out is NULL.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + len exceeds the mapping's length.
 *  - MMAPIO_E_IO: mincore failed (errno in the detail).
 */
MMAPIO_API int mmapio_resident(const mmapio_map *m, uint64_t off, uint64_t len,
                               mmapio_residency *out);

/* ---- Locking pages in memory ---- */

/*
 * Locks are the kernel's (mlock): per page, not counted, released by an
 * unlock of any range covering the page, by mmapio_close, or when a
 * shrink cuts the page. They fault the pages in. Pages added by a later
 * grow are not locked. An unprivileged process may lock at most
 * RLIMIT_MEMLOCK bytes in total (CAP_IPC_LOCK lifts the limit).
 */

/**
 * Locks the pages of [off, off+len), widened to page boundaries, in
 * memory (mlock): on return they are resident and stay so until
 * unlocked.
 *
 * Returns: 0.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m is NULL.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + len exceeds the mapping's length.
 *  - MMAPIO_E_LOCK_FAILED: the kernel refused (errno in the detail):
 *    ENOMEM or EAGAIN when RLIMIT_MEMLOCK would be exceeded or memory is
 *    short, EPERM when the process is unprivileged and RLIMIT_MEMLOCK is
 *    0. Pages of the range may be locked already when it fails.
 */
MMAPIO_API int mmapio_lock(mmapio_map *m, uint64_t off, uint64_t len);

/**
 * Unlocks the pages of [off, off+len), widened to page boundaries
 * (munlock). Unlocking pages that are not locked is not an error.
 *
 * Returns: 0.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m is NULL.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + len exceeds the mapping's length.
 *  - MMAPIO_E_UNLOCK_FAILED: the kernel refused (errno in the detail).
 */
MMAPIO_API int mmapio_unlock(mmapio_map *m, uint64_t off, uint64_t len);

/**
 * mmapio_lock over the whole mapping, [0, mmapio_len(m)). Locking an
 * empty mapping succeeds and locks nothing.
 *
 * Returns: 0.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m is NULL.
 *  - MMAPIO_E_LOCK_FAILED: as for mmapio_lock.
 */
MMAPIO_API int mmapio_lock_all(mmapio_map *m);

/**
 * mmapio_unlock over the whole mapping, [0, mmapio_len(m)).
 *
 * Returns: 0.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m is NULL.
 *  - MMAPIO_E_UNLOCK_FAILED: as for mmapio_unlock.
 */
MMAPIO_API int mmapio_unlock_all(mmapio_map *m);

/* ---- Huge pages ---- */

/*
 * MMAPIO_OPT_HUGEPAGES (options.flags, or mmapio_anon_ex) asks for huge
 * pages, best effort, in tiers; lacking them is never an error:
 *
 *  1. hugetlb: an anonymous region whose size is a multiple of the
 *     default huge page size is made of hugetlb pages (memfd
 *     MFD_HUGETLB) when the pool has enough free pages. The pages are
 *     reserved at creation; a resize must then keep the size a multiple
 *     of the huge page size (else RESIZE_FAILED).
 *  2. MADV_HUGEPAGE over the mapping, so that faults allocate
 *     transparent huge pages (THP) where the kernel's THP mode for that
 *     kind of memory (anonymous: transparent_hugepage/enabled; shared
 *     memory: shmem_enabled; files: the file system's large folios)
 *     allows it.
 *  3. MADV_COLLAPSE where the kernel has it: for an anonymous region
 *     whose shared-memory THP mode does not give huge pages at fault time
 *     ("never"), one page per 2 MiB is faulted in and the region is
 *     collapsed to huge pages at creation, which commits its memory at
 *     once (as hugetlb does). For a file mapping opened with
 *     MMAPIO_OPT_TOUCH_EAGER too, the touched range is collapsed where
 *     the kernel allows (read-only files).
 *  4. Otherwise normal pages.
 *
 * Huge pages need the mapping's addresses to be 2 MiB-aligned: only the
 * 2 MiB-aligned 2 MiB blocks inside the mapping can be huge. The tiers
 * are applied at open, to the mapping's length then; pages added by a
 * later grow get what the kernel's THP mode gives without advice.
 */

/** Whether a mapping is backed by huge pages. */
typedef enum mmapio_hugepage_state {
  MMAPIO_HUGEPAGE_NO = 0,     /* no huge page backs any of it now */
  MMAPIO_HUGEPAGE_YES = 1,    /* hugetlb, or some THP backs part of it */
  MMAPIO_HUGEPAGE_UNKNOWN = 2 /* the OS cannot tell (no /proc/self/smaps) */
} mmapio_hugepage_state;

/* Reasons a mapping is not (entirely) huge-page backed
 * (mmapio_hugepage_report.reasons). */
/** No THP in this kernel or build. */
#define MMAPIO_HUGEPAGE_WHY_UNSUPPORTED 0x1u
/** THP mode "never"/"deny" for this kind of memory. */
#define MMAPIO_HUGEPAGE_WHY_THP_DISABLED 0x2u
/** Mode "madvise"/"advise" and the mapping not advised. */
#define MMAPIO_HUGEPAGE_WHY_NOT_ADVISED 0x4u
/** No 2 MiB-aligned 2 MiB block lies inside the mapping. */
#define MMAPIO_HUGEPAGE_WHY_MISALIGNED 0x8u
/** Nothing resident yet: THP comes with faults. */
#define MMAPIO_HUGEPAGE_WHY_NOT_RESIDENT 0x10u
/** The file (system) gave no PMD-size page-cache folios. */
#define MMAPIO_HUGEPAGE_WHY_FILE_TYPE 0x20u
/** COW: private copies are small pages. */
#define MMAPIO_HUGEPAGE_WHY_PRIVATE_COPY 0x40u
/** Hugetlb pool too small for this anonymous region. */
#define MMAPIO_HUGEPAGE_WHY_POOL_EMPTY 0x80u

/** The answer of mmapio_hugepage_diagnose. */
typedef struct mmapio_hugepage_report {
  mmapio_hugepage_state state; /* as mmapio_is_hugepage_backed */
  uint64_t huge_bytes;         /* bytes of the range in huge pages */
  uint64_t resident_bytes;     /* bytes of the range resident (Rss) */
  unsigned reasons;            /* MMAPIO_HUGEPAGE_WHY_* that apply */
  char detail[384];            /* the diagnosis in words, with the THP
                                  modes, the base and the file system */
} mmapio_hugepage_report;

/**
 * Whether huge pages back the mapping now: YES when it is hugetlb-backed
 * or when /proc/self/smaps counts huge pages (AnonHugePages,
 * ShmemPmdMapped, FilePmdMapped, Private_Hugetlb, Shared_Hugetlb) in the
 * memory areas of exactly [base, base + length rounded up to a page);
 * NO when it counts none; UNKNOWN when smaps cannot be read (not Linux,
 * no /proc, POSIX-only build). Costs a read of /proc/self/smaps, which
 * grows with the process's mapped memory: not for hot paths.
 *
 * Returns: 0 and the state in *out.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m or out is NULL.
 */
MMAPIO_API int mmapio_is_hugepage_backed(const mmapio_map *m,
                                         mmapio_hugepage_state *out);

/**
 * Says why the mapping is or is not backed by huge pages: the state and
 * byte counts of mmapio_is_hugepage_backed, and each reason that applies
 * (THP mode from /sys/kernel/mm/transparent_hugepage/enabled and
 * shmem_enabled, the 2 MiB alignment of the base, the file system or
 * file type, the hugetlb pool) as bits and in words. A reason may be
 * reported with state YES when it keeps part of the mapping small.
 *
 * Returns: 0 and the report in *out.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m or out is NULL.
 */
MMAPIO_API int mmapio_hugepage_diagnose(const mmapio_map *m,
                                        mmapio_hugepage_report *out);

/* ------------------------------------------------------------------ */
/* Anonymous (memfd-backed) mappings                                    */
/* ------------------------------------------------------------------ */

/*
 * An anonymous mapping is a read-write region with no file name,
 * zero-filled, released when its last handle closes. It is a handle like
 * any other: views, read/update, resize (growth in place, see
 * "Address stability"), pins, atomics, advice, touch, locks and huge
 * pages work on it; mmapio_flush and mmapio_flush_range are no-ops
 * (there is no storage) and return 0; mmapio_path() is NULL; the mode is
 * MMAPIO_MODE_RW.
 *
 * It is backed by a memory file (Linux: memfd_create with MFD_CLOEXEC
 * and MFD_ALLOW_SEALING; POSIX-only builds: shm_open + shm_unlink), so it
 * can be shared:
 *  - a child made with fork() inherits the mapping and its handle:
 *    parent and child see each other's writes;
 *  - mmapio_anon_send passes it over a Unix-domain socket and
 *    mmapio_anon_recv maps it in the receiving process, where the bytes
 *    are the same memory.
 * Seals (Linux only) fix the region's size against every process that
 * holds it, the library's resize included: with MMAPIO_SEAL_SHRINK no
 * one can make it smaller (ftruncate fails with EPERM), with
 * MMAPIO_SEAL_GROW no one can make it larger. A sealed region's
 * mmapio_resize fails with RESIZE_FAILED and changes nothing.
 */

#define MMAPIO_SEAL_SHRINK 0x1u /* the size may not decrease */
#define MMAPIO_SEAL_GROW 0x2u   /* the size may not increase */

/**
 * Creates an anonymous read-write mapping of size bytes, zero-filled.
 * Same as mmapio_anon_ex(out, size, 0).
 *
 * Returns: 0 and a new handle in *out (release with mmapio_close()).
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: out is NULL.
 *  - MMAPIO_E_RESIZE_FAILED: size is 0 or above mmapio_max_size().
 *  - MMAPIO_E_IO: the memory file could not be created or sized, e.g. no
 *    file descriptor left (EMFILE) (errno in the detail).
 *  - MMAPIO_E_NO_MEMORY: allocating the handle failed.
 */
MMAPIO_API int mmapio_anon(mmapio_map **out, uint64_t size);

/**
 * Creates an anonymous mapping of size bytes with open-time hints:
 * flags is 0 or a combination of MMAPIO_OPT_HUGEPAGES (best-effort huge
 * pages, see "Huge pages") and MMAPIO_OPT_TOUCH_EAGER (fault every page
 * in now, which commits the memory).
 *
 * Returns: 0 and a new handle in *out (release with mmapio_close()).
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: out is NULL; flags has a bit other than
 *    MMAPIO_OPT_HUGEPAGES and MMAPIO_OPT_TOUCH_EAGER.
 *  - MMAPIO_E_RESIZE_FAILED: size is 0 or above mmapio_max_size().
 *  - MMAPIO_E_IO: the memory file could not be created or sized (errno
 *    in the detail).
 *  - MMAPIO_E_NO_MEMORY: allocating the handle failed.
 */
MMAPIO_API int mmapio_anon_ex(mmapio_map **out, uint64_t size, unsigned flags);

/**
 * Adds seals (MMAPIO_SEAL_SHRINK, MMAPIO_SEAL_GROW) to an anonymous
 * region. Seals are permanent and hold for every process that maps the
 * region; adding a seal it already has is not an error.
 *
 * Returns: 0.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m is NULL or not anonymous; seals is 0
 *    or has an unknown bit.
 *  - MMAPIO_E_UNSUPPORTED: the platform or build has no seals
 *    (POSIX-only builds).
 *  - MMAPIO_E_IO: the kernel refused (errno in the detail), e.g. EPERM
 *    when the region was sealed against further seals by another
 *    process.
 */
MMAPIO_API int mmapio_anon_seal(mmapio_map *m, unsigned seals);

/**
 * The seals an anonymous region has now, as MMAPIO_SEAL_* bits.
 *
 * Returns: 0 and the bits in *out (0 when there is none).
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m or out is NULL; m is not anonymous.
 *  - MMAPIO_E_UNSUPPORTED: the platform or build has no seals.
 *  - MMAPIO_E_IO: the kernel refused the query (errno in the detail).
 */
MMAPIO_API int mmapio_anon_seals(const mmapio_map *m, unsigned *out);

/**
 * Sends an anonymous region over a connected Unix-domain socket (one
 * byte of data carrying its descriptor with SCM_RIGHTS), for
 * mmapio_anon_recv at the other end. The handle is unchanged and stays
 * the caller's; the receiver gets its own descriptor. No SIGPIPE is
 * raised when the peer is gone.
 *
 * Returns: 0 when the message was sent.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m is NULL or not anonymous; sock is
 *    negative.
 *  - MMAPIO_E_IO: sendmsg failed, e.g. sock is not a Unix-domain socket
 *    or the peer closed it (errno in the detail).
 */
MMAPIO_API int mmapio_anon_send(const mmapio_map *m, int sock);

/**
 * Receives an anonymous region sent with mmapio_anon_send (or any
 * descriptor of a memory file passed with SCM_RIGHTS) from sock, blocking
 * until a message arrives, and maps all of it read-write as a new
 * anonymous handle sharing the sender's bytes. required_seals
 * (MMAPIO_SEAL_* bits, or 0) must all be present on the region, else it
 * is refused. The received descriptor is close-on-exec and owned by the
 * new handle; on failure it is closed.
 *
 * Returns: 0 and a new handle in *out (release with mmapio_close()).
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: out is NULL; sock is negative;
 *    required_seals has an unknown bit; the message carried no
 *    descriptor; the descriptor is not a regular (memory) file; the
 *    region lacks a seal in required_seals.
 *  - MMAPIO_E_UNSUPPORTED: required_seals is not 0 and the platform or
 *    build has no seals.
 *  - MMAPIO_E_RESIZE_FAILED: the region is empty (size 0).
 *  - MMAPIO_E_IO: recvmsg failed, or the peer closed the socket before
 *    sending (errno in the detail; ECONNRESET for the latter), or the
 *    region cannot be mapped.
 *  - MMAPIO_E_NO_MEMORY: allocating the handle failed.
 */
MMAPIO_API int mmapio_anon_recv(mmapio_map **out, int sock,
                                unsigned required_seals);

/* ------------------------------------------------------------------ */
/* Views: atomics, iterators, segments, streams and hand-off          */
/* ------------------------------------------------------------------ */

/*
 * Every object in this section that outlives the call which made it (an
 * iterator, a segment, a cursor, a FILE stream) holds a reference on its
 * mapping: mmapio_close() then only drops the caller's reference, the
 * mapping lives until the last holder lets go, and mmapio_unmap() fails
 * with MMAPIO_E_BUSY meanwhile. Each says below whether it also pins its
 * range (a shrink that would cut it fails with MMAPIO_E_BUSY) or follows
 * the mapping's current length.
 */

/* ------------------------------------------------------------------ */
/* Atomic views                                                        */
/* ------------------------------------------------------------------ */

/*
 * 32- and 64-bit atomics inside the mapping. In C they are C11 _Atomic
 * objects, in C++ std::atomic (the same size, alignment and
 * representation); both must be lock-free or this header does not
 * compile. Lock-free atomics are address-free, so they work between
 * processes that map the same file or share an anonymous (memfd) region:
 * two processes doing fetch_add on one counter never lose an update.
 *
 * An atomic view's pointer follows "Pointer validity" above: it stays
 * addressable until close, and if a shrink cuts its bytes it is left on
 * private zeros that no other process sees. Pin the range
 * (mmapio_pin_range) to make such a shrink fail with MMAPIO_E_BUSY.
 */
#ifdef __cplusplus
typedef std::atomic<uint32_t> mmapio_atomic_u32;
typedef std::atomic<uint64_t> mmapio_atomic_u64;
static_assert(std::atomic<uint32_t>::is_always_lock_free &&
                  std::atomic<uint64_t>::is_always_lock_free,
              "mmapio needs lock-free 32- and 64-bit atomics");
static_assert(sizeof(mmapio_atomic_u32) == 4 &&
                  alignof(mmapio_atomic_u32) == 4 &&
                  sizeof(mmapio_atomic_u64) == 8 &&
                  alignof(mmapio_atomic_u64) == 8,
              "atomics must have their C11 layout");
#else
typedef _Atomic uint32_t mmapio_atomic_u32; /* a 32-bit atomic in a mapping */
typedef _Atomic uint64_t mmapio_atomic_u64; /* a 64-bit atomic in a mapping */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2 && ATOMIC_LONG_LOCK_FREE == 2 &&
                   ATOMIC_LLONG_LOCK_FREE == 2,
               "mmapio needs lock-free 32- and 64-bit atomics");
_Static_assert(sizeof(mmapio_atomic_u32) == 4 &&
                   _Alignof(mmapio_atomic_u32) == 4 &&
                   sizeof(mmapio_atomic_u64) == 8 &&
                   _Alignof(mmapio_atomic_u64) == 8,
               "atomics must have a natural layout");
#endif

/**
 * A read-only atomic view of the 32-bit value at off, on any mode (use it
 * with mmapio_atomic_u32_load). Inline, like all the atomic views: a
 * bounds and alignment check; no lock, no allocation, no system call, no
 * function call on success.
 *
 * Returns: 0 and the address in *out.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m or out is NULL.
 *  - MMAPIO_E_MISALIGNED: off is not a multiple of 4.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + 4 exceeds the mapping's length.
 */
static inline int mmapio_view_atomic_u32(const mmapio_map *m, uint64_t off,
                                         const mmapio_atomic_u32 **out);

/**
 * A writable atomic view of the 32-bit value at off. On a COW mapping the
 * value is private to the handle. No lock, no allocation, no system call.
 *
 * Returns: 0 and the address in *out.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m or out is NULL.
 *  - MMAPIO_E_INVALID_MODE: the mapping is read-only.
 *  - MMAPIO_E_MISALIGNED: off is not a multiple of 4.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + 4 exceeds the mapping's length.
 */
static inline int mmapio_view_atomic_u32_mut(mmapio_map *m, uint64_t off,
                                             mmapio_atomic_u32 **out);

/**
 * A read-only atomic view of the 64-bit value at off, on any mode.
 *
 * Returns: 0 and the address in *out.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m or out is NULL.
 *  - MMAPIO_E_MISALIGNED: off is not a multiple of 8.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + 8 exceeds the mapping's length.
 */
static inline int mmapio_view_atomic_u64(const mmapio_map *m, uint64_t off,
                                         const mmapio_atomic_u64 **out);

/**
 * A writable atomic view of the 64-bit value at off.
 *
 * Returns: 0 and the address in *out.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m or out is NULL.
 *  - MMAPIO_E_INVALID_MODE: the mapping is read-only.
 *  - MMAPIO_E_MISALIGNED: off is not a multiple of 8.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + 8 exceeds the mapping's length.
 */
static inline int mmapio_view_atomic_u64_mut(mmapio_map *m, uint64_t off,
                                             mmapio_atomic_u64 **out);

/**
 * A read-only view of count consecutive 32-bit atomics starting at off
 * ((*out)[0] .. (*out)[count-1]), on any mode. count 0 is allowed.
 *
 * Returns: 0 and the address of the first element in *out.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m or out is NULL.
 *  - MMAPIO_E_MISALIGNED: off is not a multiple of 4.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + 4 * count exceeds the mapping's length
 *    (or overflows).
 */
static inline int mmapio_view_atomic_u32_array(const mmapio_map *m,
                                               uint64_t off, size_t count,
                                               const mmapio_atomic_u32 **out);

/**
 * A writable view of count consecutive 32-bit atomics starting at off.
 * count 0 is allowed.
 *
 * Returns: 0 and the address of the first element in *out.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m or out is NULL.
 *  - MMAPIO_E_INVALID_MODE: the mapping is read-only.
 *  - MMAPIO_E_MISALIGNED: off is not a multiple of 4.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + 4 * count exceeds the mapping's length
 *    (or overflows).
 */
static inline int mmapio_view_atomic_u32_array_mut(mmapio_map *m, uint64_t off,
                                                   size_t count,
                                                   mmapio_atomic_u32 **out);

/**
 * A read-only view of count consecutive 64-bit atomics starting at off,
 * on any mode. count 0 is allowed.
 *
 * Returns: 0 and the address of the first element in *out.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m or out is NULL.
 *  - MMAPIO_E_MISALIGNED: off is not a multiple of 8.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + 8 * count exceeds the mapping's length
 *    (or overflows).
 */
static inline int mmapio_view_atomic_u64_array(const mmapio_map *m,
                                               uint64_t off, size_t count,
                                               const mmapio_atomic_u64 **out);

/**
 * A writable view of count consecutive 64-bit atomics starting at off.
 * count 0 is allowed.
 *
 * Returns: 0 and the address of the first element in *out.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m or out is NULL.
 *  - MMAPIO_E_INVALID_MODE: the mapping is read-only.
 *  - MMAPIO_E_MISALIGNED: off is not a multiple of 8.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + 8 * count exceeds the mapping's length
 *    (or overflows).
 */
static inline int mmapio_view_atomic_u64_array_mut(mmapio_map *m, uint64_t off,
                                                   size_t count,
                                                   mmapio_atomic_u64 **out);

/*
 * Operations on an atomic view: static inline, sequentially consistent,
 * exactly the bare C11 / std::atomic operation. None fails; a NULL or
 * dangling pointer is undefined behaviour, as for the standard ones. For
 * other memory orders use the standard operations on the same pointer
 * (atomic_*_explicit in C, the member functions in C++).
 *
 * load returns the value; store sets it; exchange sets it and returns the
 * previous value; compare_exchange sets it to desired if it equals
 * *expected and returns true, else stores the current value in *expected
 * and returns false; fetch_add / fetch_sub (wrapping) / fetch_and /
 * fetch_or apply the operation and return the previous value.
 */
/** Returns the value of *a. Never fails. */
static inline uint32_t mmapio_atomic_u32_load(const mmapio_atomic_u32 *a);
/** Sets *a to v. Never fails. */
static inline void mmapio_atomic_u32_store(mmapio_atomic_u32 *a, uint32_t v);
/** Sets *a to v and returns the previous value. Never fails. */
static inline uint32_t mmapio_atomic_u32_exchange(mmapio_atomic_u32 *a,
                                                  uint32_t v);
/** Sets *a to desired and returns true if *a equals *expected; else
 *  stores the current value in *expected and returns false. Never fails. */
static inline bool mmapio_atomic_u32_compare_exchange(mmapio_atomic_u32 *a,
                                                      uint32_t *expected,
                                                      uint32_t desired);
/** Adds v to *a (wrapping) and returns the previous value. Never fails. */
static inline uint32_t mmapio_atomic_u32_fetch_add(mmapio_atomic_u32 *a,
                                                   uint32_t v);
/** Subtracts v from *a (wrapping) and returns the previous value. Never
 *  fails. */
static inline uint32_t mmapio_atomic_u32_fetch_sub(mmapio_atomic_u32 *a,
                                                   uint32_t v);
/** Sets *a to *a & v and returns the previous value. Never fails. */
static inline uint32_t mmapio_atomic_u32_fetch_and(mmapio_atomic_u32 *a,
                                                   uint32_t v);
/** Sets *a to *a | v and returns the previous value. Never fails. */
static inline uint32_t mmapio_atomic_u32_fetch_or(mmapio_atomic_u32 *a,
                                                  uint32_t v);

/** Returns the value of *a. Never fails. */
static inline uint64_t mmapio_atomic_u64_load(const mmapio_atomic_u64 *a);
/** Sets *a to v. Never fails. */
static inline void mmapio_atomic_u64_store(mmapio_atomic_u64 *a, uint64_t v);
/** Sets *a to v and returns the previous value. Never fails. */
static inline uint64_t mmapio_atomic_u64_exchange(mmapio_atomic_u64 *a,
                                                  uint64_t v);
/** Sets *a to desired and returns true if *a equals *expected; else
 *  stores the current value in *expected and returns false. Never fails. */
static inline bool mmapio_atomic_u64_compare_exchange(mmapio_atomic_u64 *a,
                                                      uint64_t *expected,
                                                      uint64_t desired);
/** Adds v to *a (wrapping) and returns the previous value. Never fails. */
static inline uint64_t mmapio_atomic_u64_fetch_add(mmapio_atomic_u64 *a,
                                                   uint64_t v);
/** Subtracts v from *a (wrapping) and returns the previous value. Never
 *  fails. */
static inline uint64_t mmapio_atomic_u64_fetch_sub(mmapio_atomic_u64 *a,
                                                   uint64_t v);
/** Sets *a to *a & v and returns the previous value. Never fails. */
static inline uint64_t mmapio_atomic_u64_fetch_and(mmapio_atomic_u64 *a,
                                                   uint64_t v);
/** Sets *a to *a | v and returns the previous value. Never fails. */
static inline uint64_t mmapio_atomic_u64_fetch_or(mmapio_atomic_u64 *a,
                                                  uint64_t v);

/* ------------------------------------------------------------------ */
/* Iterators                                                           */
/* ------------------------------------------------------------------ */

/*
 * chunks and pages: a walk over the whole mapping in pieces of a fixed
 * size, the last one shorter when the length is not a multiple of it.
 *
 *   mmapio_chunks it;
 *   mmapio_chunk c;
 *   if (mmapio_chunks_begin(&it, m, 65536) == 0)
 *     while (mmapio_chunks_next(&it, &c))
 *       use(c.data, c.len, c.off);
 *
 * mmapio_chunks_next is static inline and compiles to pointer arithmetic:
 * no lock, no allocation, no copy. mmapio_chunks_next_owned is the slow
 * path: each chunk is a malloc'd copy.
 *
 * Resizing during a walk is defined:
 *  - the walk covers the length the mapping had at mmapio_chunks_begin;
 *    growth meanwhile is not seen (and a base that moves does not matter:
 *    the old addresses stay valid);
 *  - the iterator pins [0, that length): a shrink that would cut it fails
 *    with MMAPIO_E_BUSY while the iterator lives.
 * The pin (and the reference on the mapping) is released the first time
 * mmapio_chunks_next or mmapio_chunks_next_owned reports the end, or by
 * mmapio_chunks_end, whichever comes first. A walk abandoned before the
 * end must call mmapio_chunks_end, or the mapping stays pinned and is
 * never freed. Chunk pointers stay valid after the release under the
 * rules of "Pointer validity" above.
 *
 * Beginning and ending a walk take no lock and make no system call (a
 * walk that begins while a shrink is deciding waits for it). Where the
 * system has an asymmetric barrier (Linux: membarrier), they take no
 * locked instruction either: the walk is a plain store into a slot of
 * its thread, and the barrier is paid by the rare side instead: the
 * process's first walk registers for it (one system call), and a shrink
 * or the release of the last reference of a handle that was walked calls
 * it once. A walk may end on another thread than the one that began it.
 * The iterator is caller-owned storage (no allocation); do not copy or
 * move it while it lives. Use it from one thread at a time.
 */

/** One chunk of a walk: a zero-copy view into the mapping. */
typedef struct mmapio_chunk {
  const void *data; /* first byte of the chunk, inside the mapping */
  size_t len;       /* between 1 and the chunk size */
  uint64_t off;     /* offset of data in the mapping */
} mmapio_chunk;

/** One chunk of a walk as a copy the caller owns. */
typedef struct mmapio_owned_chunk {
  void *data;   /* malloc'd copy; the caller frees it with free() */
  size_t len;   /* between 1 and the chunk size; 0 at the end */
  uint64_t off; /* offset of the copied bytes in the mapping */
} mmapio_owned_chunk;

/** A walk over a mapping. The fields are private to the library. */
typedef struct mmapio_chunks {
  const unsigned char *base_; /* base of the mapping when the walk began */
  uint64_t pos_;              /* offset of the next chunk */
  uint64_t end_;              /* length at the start: where the walk ends */
  size_t size_;               /* chunk size */
  mmapio_pin pin_;            /* holds [0, end_) until the end */
} mmapio_chunks;

/**
 * Starts a walk over all of m in chunks of chunk_size bytes (any mode).
 * Pins [0, current length) and takes a reference (see above).
 *
 * Returns: 0; *it is ready for mmapio_chunks_next.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: it or m is NULL, or chunk_size is 0; *it
 *    is untouched.
 */
MMAPIO_API int mmapio_chunks_begin(mmapio_chunks *it, mmapio_map *m,
                                   size_t chunk_size);

/**
 * Starts a walk over all of m one page (mmapio_page_size()) at a time.
 * Same as mmapio_chunks_begin(it, m, mmapio_page_size()).
 *
 * Returns: 0; *it is ready for mmapio_chunks_next.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: it or m is NULL; *it is untouched.
 */
MMAPIO_API int mmapio_pages_begin(mmapio_chunks *it, mmapio_map *m);

/**
 * Ends a walk early: releases its pin and reference; later calls of
 * mmapio_chunks_next report the end. NULL, or a walk that already ended,
 * is a no-op. When the iterator held the last reference the mapping is
 * closed. Never fails.
 */
MMAPIO_API void mmapio_chunks_end(mmapio_chunks *it);

/**
 * The next chunk of a walk, zero-copy (static inline).
 *
 * Returns: true and the chunk in *out; false at the end (then the walk's
 * pin and reference are released, *out is untouched, and every later
 * call returns false again). Never fails.
 * Undefined: it or out is NULL; it was never begun (a failed begin leaves
 * it untouched).
 */
static inline bool mmapio_chunks_next(mmapio_chunks *it, mmapio_chunk *out);

/**
 * The next chunk of a walk as a malloc'd copy (a walk begun with
 * mmapio_chunks_begin or mmapio_pages_begin). It may be mixed with
 * mmapio_chunks_next on the same walk.
 *
 * Returns: 0 and the chunk in *out; the caller frees out->data with
 * free(). At the end: 0 with out->data NULL and out->len 0, and the
 * walk's pin and reference are released.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: it or out is NULL.
 *  - MMAPIO_E_NO_MEMORY: the copy could not be allocated; *out is
 *    untouched and the walk has not advanced (the call may be retried).
 *  - MMAPIO_E_FAULT: the guard is on (mmapio_set_guard) and the file was
 *    truncated under the chunk (SIGBUS); *out is untouched and the walk
 *    has not advanced (mmapio_chunks_end ends it).
 * Undefined: it was never begun.
 */
MMAPIO_API int mmapio_chunks_next_owned(mmapio_chunks *it,
                                        mmapio_owned_chunk *out);

/**
 * Called by mmapio_chunks_mut for each chunk: off is the chunk's offset
 * in the mapping, data its writable bytes, len its length; ctx is passed
 * through. Return 0 to continue; any other value stops the walk and is
 * returned by mmapio_chunks_mut.
 */
typedef int (*mmapio_chunk_fn)(uint64_t off, void *data, size_t len, void *ctx);

/**
 * Walks all of m in writable chunks of chunk_size bytes (the last may be
 * shorter), calling fn(off, data, len, ctx) for each, in order. During
 * the walk [0, length at the start) is pinned (a shrink that would cut it
 * fails with MMAPIO_E_BUSY; fn itself may grow the mapping, which the
 * walk does not see). Writes through data are like writes through
 * mmapio_view_mut: not counted in mmapio_pending(), flushed by
 * mmapio_flush().
 *
 * Returns: 0 when fn returned 0 for every chunk; otherwise the first
 * non-zero value fn returned, as is (positive values cannot be confused
 * with this function's own errors), with no further calls.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m or fn is NULL, or chunk_size is 0.
 *  - MMAPIO_E_INVALID_MODE: the mapping is read-only.
 */
MMAPIO_API int mmapio_chunks_mut(mmapio_map *m, size_t chunk_size,
                                 mmapio_chunk_fn fn, void *ctx);

/* ------------------------------------------------------------------ */
/* Segments                                                            */
/* ------------------------------------------------------------------ */

/*
 * A segment is a sub-range [offset, offset+len) of a mapping, as a
 * reference-counted object: it holds a reference on its mapping, so the
 * mapping lives until the last segment (and every other holder) lets go.
 * Offsets given to the segment functions are relative to the segment.
 *
 * Shrinking below a segment: by default a segment pins its range, so
 * mmapio_resize() fails with MMAPIO_E_BUSY rather than cut it; every view
 * it hands out then stays backed by the file until it is released. With
 * MMAPIO_SEGMENT_NOPIN it holds only the reference: the mapping may
 * shrink below it, and its accessors check its range against the
 * mapping's current length on every call, failing with
 * MMAPIO_E_OUT_OF_BOUNDS (never handing out a stale pointer) and
 * reporting false from mmapio_segment_is_valid() until the mapping grows
 * to cover it again. A view taken from it before such a shrink follows
 * "Pointer validity" above (reads zeros, never faults).
 *
 * Segment functions may be called from any thread; retain and release
 * are atomic.
 */
typedef struct mmapio_segment mmapio_segment;

/* mmapio_segment_create() flags. */
#define MMAPIO_SEGMENT_NOPIN 0x1u /* hold a reference only, not a pin */

/**
 * Creates a segment over [off, off+len) of m with one reference (the
 * caller's). len 0 is allowed.
 *
 * Returns: 0 and the segment in *out (release with
 * mmapio_segment_release()).
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: out or m is NULL, or flags has a bit
 *    other than MMAPIO_SEGMENT_NOPIN.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + len exceeds the mapping's length.
 *  - MMAPIO_E_NO_MEMORY: allocating the segment failed.
 */
MMAPIO_API int mmapio_segment_create(mmapio_segment **out, mmapio_map *m,
                                     uint64_t off, uint64_t len,
                                     unsigned flags);

/**
 * Adds a reference to s.
 *
 * Returns: s (NULL for NULL). Never fails.
 */
MMAPIO_API mmapio_segment *mmapio_segment_retain(mmapio_segment *s);

/**
 * Drops a reference to s; the last one frees it and releases its pin and
 * its reference on the mapping (which closes the mapping if that was the
 * last one). NULL is a no-op. Never fails.
 * Undefined: releasing more references than were taken.
 */
MMAPIO_API void mmapio_segment_release(mmapio_segment *s);

/**
 * Zero-copy read view of [off, off+len) of the segment (any mode). No
 * lock, no allocation, no system call.
 *
 * Returns: 0 and the address in *out.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: s or out is NULL.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + len exceeds the segment's length, or
 *    (MMAPIO_SEGMENT_NOPIN only) the mapping has shrunk below the
 *    segment's end.
 */
MMAPIO_API int mmapio_segment_view(const mmapio_segment *s, uint64_t off,
                                   size_t len, const void **out);

/**
 * Zero-copy writable view of [off, off+len) of the segment.
 *
 * Returns: 0 and the address in *out.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: s or out is NULL.
 *  - MMAPIO_E_INVALID_MODE: the mapping is read-only.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + len exceeds the segment's length, or
 *    (MMAPIO_SEGMENT_NOPIN only) the mapping has shrunk below the
 *    segment's end.
 */
MMAPIO_API int mmapio_segment_view_mut(mmapio_segment *s, uint64_t off,
                                       size_t len, void **out);

/**
 * Copies len bytes from src into the segment at off, exactly like
 * mmapio_update() on the mapping at the segment's offset + off (pending
 * count and flush policy included).
 *
 * Returns: 0.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: s is NULL, or src is NULL with len > 0.
 *  - MMAPIO_E_INVALID_MODE: the mapping is read-only.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + len exceeds the segment's length, or
 *    (MMAPIO_SEGMENT_NOPIN only) the mapping has shrunk below the
 *    segment's end; nothing is copied.
 *  - MMAPIO_E_FAULT: the guard is on (mmapio_set_guard) and the file was
 *    truncated under the range (SIGBUS); as for mmapio_update.
 *  - MMAPIO_E_FLUSH_FAILED: the bytes were copied but the flush the
 *    policy required failed (see mmapio_flush).
 */
MMAPIO_API int mmapio_segment_write(mmapio_segment *s, uint64_t off,
                                    const void *src, size_t len);

/** The segment's length in bytes (0 for NULL). */
MMAPIO_API uint64_t mmapio_segment_len(const mmapio_segment *s);
/** The segment's offset in its mapping (0 for NULL). */
MMAPIO_API uint64_t mmapio_segment_offset(const mmapio_segment *s);
/** The segment's mapping, borrowed: valid while the segment lives; no
 *  reference is added (NULL for NULL). */
MMAPIO_API mmapio_map *mmapio_segment_parent(const mmapio_segment *s);
/** True when the segment's whole range lies inside the mapping's current
 *  length: always for a pinned segment; for MMAPIO_SEGMENT_NOPIN false
 *  after a shrink below its end (until growth covers it again). False
 *  for NULL. */
MMAPIO_API bool mmapio_segment_is_valid(const mmapio_segment *s);

/* ------------------------------------------------------------------ */
/* Streams                                                             */
/* ------------------------------------------------------------------ */

/*
 * A cursor reads a mapping like a file: a position that read advances
 * and seek moves. It holds a reference on the mapping but no pin: it
 * follows the current length on every call, so growth becomes readable,
 * a shrink is never blocked, and reading at or past the end returns 0
 * bytes. A read racing a shrink of the same bytes may see zeros (see
 * "Pointer validity"). A cursor is used from one thread at a time.
 */
typedef struct mmapio_cursor mmapio_cursor;

/* whence values of mmapio_cursor_seek() (0, 1, 2 as in lseek). */
#define MMAPIO_SEEK_SET 0 /* from the start */
#define MMAPIO_SEEK_CUR 1 /* from the current position */
#define MMAPIO_SEEK_END 2 /* from the mapping's current length */

/**
 * Creates a cursor at position 0 over m (any mode).
 *
 * Returns: 0 and the cursor in *out (free with mmapio_cursor_close()).
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: out or m is NULL.
 *  - MMAPIO_E_NO_MEMORY: allocating the cursor failed.
 */
MMAPIO_API int mmapio_cursor_open(mmapio_cursor **out, mmapio_map *m);

/**
 * Frees a cursor and drops its reference on the mapping (closing the
 * mapping if that was the last one). NULL is a no-op. Never fails.
 */
MMAPIO_API void mmapio_cursor_close(mmapio_cursor *c);

/**
 * Copies up to len bytes from the position into buf and advances the
 * position by the number copied: min(len, length - position), 0 at or
 * past the end.
 *
 * Returns: 0 and the number of bytes copied in *out_n.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: c or out_n is NULL, or buf is NULL with
 *    len > 0.
 *  - MMAPIO_E_FAULT: the guard is on (mmapio_set_guard) and the file was
 *    truncated under the bytes to copy (SIGBUS); buf may be partly
 *    written, *out_n is untouched and the position does not move.
 */
MMAPIO_API int mmapio_cursor_read(mmapio_cursor *c, void *buf, size_t len,
                                  size_t *out_n);

/**
 * Moves the position to off from whence (MMAPIO_SEEK_SET, _CUR or _END).
 * A position past the end is allowed (reads there return 0 bytes).
 *
 * Returns: 0; the new position in *out_pos unless out_pos is NULL.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: c is NULL; whence is not one of the
 *    three; the new position would be negative or above INT64_MAX. The
 *    position is unchanged.
 */
MMAPIO_API int mmapio_cursor_seek(mmapio_cursor *c, int64_t off, int whence,
                                  uint64_t *out_pos);

/** The cursor's position (0 for NULL). */
MMAPIO_API uint64_t mmapio_cursor_position(const mmapio_cursor *c);

/**
 * Sets the position (any value; past the end reads return 0 bytes).
 *
 * Returns: 0.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: c is NULL.
 */
MMAPIO_API int mmapio_cursor_set_position(mmapio_cursor *c, uint64_t pos);

/**
 * Opens a stdio stream over the mapping (fopencookie), so any code that
 * reads a FILE * can read it: fread, fgets, fseek, ftell, ... work, and
 * fwrite on a writable stream. The stream starts at position 0, holds a
 * reference on the mapping (no pin) and follows its current length:
 * reads stop at it, and writes never go past it (the mapping is never
 * resized): a write beyond the length fails with errno ENOSPC, reported
 * by fwrite or, because stdio buffers, by the next fflush or fclose.
 * Bytes written are applied like mmapio_update() (pending count and flush
 * policy; a failed policy flush is an EIO write error). fclose() does not
 * flush the mapping: call mmapio_flush() for durability. With the guard
 * on (mmapio_set_guard), a read or write that meets a file truncated
 * under the mapping fails with errno EFAULT (fread returns short and
 * ferror() is set; a write error shows at fwrite, fflush or fclose) and
 * the stream's position does not move.
 *
 * mode is "r" or "rb" (read only), or "r+", "rb+" or "r+b" (read and
 * write; RW and COW mappings only).
 *
 * Returns: 0 and the stream in *out; close it with fclose().
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: out, m or mode is NULL, or mode is not one
 *    of the five above.
 *  - MMAPIO_E_INVALID_MODE: a writable mode on a read-only mapping.
 *  - MMAPIO_E_UNSUPPORTED: the build has no fopencookie (POSIX-only
 *    builds, MMAPIO_POSIX_ONLY).
 *  - MMAPIO_E_NO_MEMORY: allocating the stream failed.
 */
MMAPIO_API int mmapio_fopen(FILE **out, mmapio_map *m, const char *mode);

/* ------------------------------------------------------------------ */
/* Hand-off                                                            */
/* ------------------------------------------------------------------ */

/**
 * Copies [off, off+len) into a new buffer the caller owns.
 *
 * Returns: 0 and the buffer in *out (never NULL, even for len 0); the
 * caller frees it with free().
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m or out is NULL.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + len exceeds the mapping's length.
 *  - MMAPIO_E_NO_MEMORY: the buffer could not be allocated.
 *  - MMAPIO_E_FAULT: the guard is on (mmapio_set_guard) and the file was
 *    truncated under the range (SIGBUS); *out is untouched.
 */
MMAPIO_API int mmapio_read_bytes(const mmapio_map *m, uint64_t off, size_t len,
                                 void **out);

/**
 * Sends [off, off+len) to out_fd (a socket, pipe or file) without a copy
 * through user space: sendfile(2) from the mapping's file where the
 * platform has it, else write(2) straight from the mapping. On a COW
 * mapping the bytes come from the mapping, so private changes are sent.
 *
 * Partial sends work like send(2): the call sends all len bytes unless
 * out_fd is non-blocking and would block (EAGAIN / EWOULDBLOCK), or an
 * error occurs after some bytes went out; then it returns 0 with *out_sent
 * < len, and the caller continues from off + *out_sent (after poll() for
 * POLLOUT when it would block). If out_fd would block before any byte is
 * sent, it returns 0 with *out_sent == 0. Interrupted calls (EINTR) are
 * restarted. As with write(2), a pipe or socket whose reader has gone
 * raises SIGPIPE unless the caller ignores or blocks it.
 *
 * Returns: 0 and the number of bytes sent in *out_sent.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m or out_sent is NULL, or out_fd is
 *    negative.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + len exceeds the mapping's length;
 *    nothing is sent.
 *  - MMAPIO_E_IO: the first send failed (e.g. EBADF, EPIPE; errno in the
 *    detail); nothing was sent and *out_sent is untouched.
 */
MMAPIO_API int mmapio_send_range(const mmapio_map *m, uint64_t off, size_t len,
                                 int out_fd, size_t *out_sent);

/* ------------------------------------------------------------------ */
/* Capabilities: what this build supports on this system              */
/* ------------------------------------------------------------------ */

/*
 * What the library can do depends on the build (a POSIX-only build has no
 * inotify, seals or streams), on the kernel (MADV_POPULATE_READ is Linux
 * 5.14, PAGEMAP_SCAN Linux 6.7), on its settings (transparent huge pages,
 * the hugetlb pool) and on limits (RLIMIT_MEMLOCK). mmapio_capability_query
 * answers for now: where a try is cheap it tries the call the capability
 * stands for, on a scratch page or descriptor of its own, so a kernel, a
 * container or an emulator that refuses the call is reported as it is;
 * otherwise it answers from the build. Where a capability is missing, the
 * functions that need it fail with MMAPIO_E_UNSUPPORTED or take the
 * fallback their documentation gives.
 */

/** The capabilities mmapio_capability_query answers for. */
typedef enum mmapio_capability {
  MMAPIO_CAP_PAGE_SIZE = 0,        /* always supported; value: the page
                                      size in bytes */
  MMAPIO_CAP_STABLE_GROWTH = 1,    /* mmapio_resize grows an RW mapping in
                                      place by default; value: the address
                                      space an RW handle reserves at least */
  MMAPIO_CAP_PREALLOCATE = 2,      /* MMAPIO_OPT_PREALLOCATE (whether a file
                                      system accepts it is its own answer) */
  MMAPIO_CAP_SIGBUS_GUARD = 3,     /* mmapio_set_guard */
  MMAPIO_CAP_WRITEBACK_HINT = 4,   /* mmapio_flush_hint starts writeback
                                      (sync_file_range); without it the hint
                                      only schedules (msync MS_ASYNC) */
  MMAPIO_CAP_POPULATE_READ = 5,    /* pages fault in with one call
                                      (MADV_POPULATE_READ); without it
                                      touch_pages and prefetch loop */
  MMAPIO_CAP_PAGEMAP_SCAN = 6,     /* the library can ask whether a page is
                                      mapped (PAGEMAP_SCAN) */
  MMAPIO_CAP_MLOCK = 7,            /* mmapio_lock; value: RLIMIT_MEMLOCK in
                                      bytes, UINT64_MAX for unlimited */
  MMAPIO_CAP_HUGEPAGE_VERDICT = 8, /* mmapio_hugepage_diagnose can tell huge
                                      pages from small (smaps) */
  MMAPIO_CAP_THP_COLLAPSE = 9,     /* tier 3 of MMAPIO_OPT_HUGEPAGES
                                      (MADV_COLLAPSE) */
  MMAPIO_CAP_HUGETLB = 10,         /* anonymous regions of hugetlb pages;
                                      value: free pages in the default pool */
  MMAPIO_CAP_MEMFD_SEALS = 11,     /* mmapio_anon_seal */
  MMAPIO_CAP_FD_PASSING = 12,      /* mmapio_anon_send / mmapio_anon_recv */
  MMAPIO_CAP_WATCH = 13,           /* mmapio_watch_start */
  MMAPIO_CAP_STREAMS = 14,         /* mmapio_fopen */
  MMAPIO_CAP_COUNT = 15            /* the number of capabilities; not one */
} mmapio_capability;

/** One answer of mmapio_capability_query. */
typedef struct mmapio_capability_info {
  mmapio_capability capability; /* what was asked */
  const char *name;             /* static, e.g. "populate_read" */
  bool supported;               /* usable now, in this process */
  uint64_t value;               /* the figure the capability gives (see
                                   above), else 0 */
  char reason[200];             /* why: what was tried and what it said,
                                   or what the build lacks */
} mmapio_capability_info;

/**
 * Asks whether cap is supported by this build on this system, now (see
 * above). It keeps nothing and changes nothing the caller can see: its
 * scratch page and descriptors are released before it returns. Thread-safe.
 *
 * Returns: 0 and the answer in *out, supported or not.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: out is NULL, or cap is not one of the
 *    capabilities (below 0, or MMAPIO_CAP_COUNT or above); *out is
 *    untouched.
 *  - MMAPIO_E_NO_MEMORY: the scratch page could not be mapped; *out is
 *    untouched.
 */
MMAPIO_API int mmapio_capability_query(mmapio_capability cap,
                                       mmapio_capability_info *out);

/* ------------------------------------------------------------------ */
/* Private: the machinery of the inline functions                     */
/* ------------------------------------------------------------------ */

/*
 * Nothing below is part of the API. It is what the static inline
 * functions declared above need, and their definitions: the atomics of C
 * and C++ under one spelling, the first members of every handle (which
 * compiled code reads, so their layout is part of the ABI), a lock-free
 * snapshot of base and length, the checks of the inline views, the
 * exported function that reports why a view failed, and the macros that
 * make calls of mmapio_read, mmapio_touch_pages and
 * mmapio_touch_pages_range inline. Names ending in "_" are private: do not
 * use them; they may change in any release.
 */

/* Atomics for the inline paths and the atomic views: C11 _Atomic in C,
 * std::atomic (same size, alignment and representation) in C++; and one
 * spelling of a static assertion. */
#ifdef __cplusplus
#define MMAPIO_ATOMIC_(T) std::atomic<T>
#define MMAPIO_LOAD_(p, order) ((p)->load(std::memory_order_##order))
#define MMAPIO_ALIGN8_ alignas(8)
#define MMAPIO_ATOMIC_STD_ std::
#define MMAPIO_STATIC_ASSERT_ static_assert
#else
#define MMAPIO_ATOMIC_(T) _Atomic(T)
#define MMAPIO_LOAD_(p, order) atomic_load_explicit((p), memory_order_##order)
#define MMAPIO_ALIGN8_ _Alignas(8)
#define MMAPIO_ATOMIC_STD_
#define MMAPIO_STATIC_ASSERT_ _Static_assert
#endif

/* Every MMAPIO_OPT_* flag: what the library accepts in options.flags. */
#define MMAPIO_OPT_ALL_                                                        \
  (MMAPIO_OPT_NOFOLLOW | MMAPIO_OPT_PREALLOCATE | MMAPIO_OPT_SYNC_DIR |        \
   MMAPIO_OPT_HUGEPAGES | MMAPIO_OPT_TOUCH_EAGER)

/*
 * The first members of every handle, which the inline views below read.
 * Private to the library: never read or write them yourself. Their
 * layout is part of the ABI.
 */
typedef struct mmapio_map_head_ {
  MMAPIO_ATOMIC_(unsigned char *) base_; /* the live mapping */
  /* Explicitly 8-aligned: gcc before 11 aligned an _Atomic uint64_t
   * member to 4 on i386, and the layout must not depend on the compiler
   * (asserted below). */
  MMAPIO_ALIGN8_ MMAPIO_ATOMIC_(uint64_t) len_; /* its length */
  int mode_;                                    /* mmapio_mode, fixed at open */
  MMAPIO_ATOMIC_(bool) guarded_;                /* mmapio_set_guard is on */
  unsigned char page_shift_; /* log2 of the page size; 0 before 1.1 */
  /* 0, or page_shift_ (never 0: pages are larger than a byte) when the
   * last touch_pages that looked found the pages mapped and the guard is
   * off: small touches are then looped inline (mmapio_touch_pages_range),
   * with this one load deciding. */
  MMAPIO_ATOMIC_(unsigned char) touch_mapped_;
  /* 1 when base_ and len_ never change after open (only read-write
   * handles resize), and fixed_base_ and fixed_len_ then hold them as
   * plain fields: nothing writes them after open, so the views read them
   * without atomics and a compiler may keep them in registers across a
   * loop of views. 0 in handles of 1.0 (the handle is zeroed), whose
   * views then read the atomic pair. */
  unsigned char fixed_;
  unsigned char *fixed_base_;
  MMAPIO_ALIGN8_ uint64_t fixed_len_;
} mmapio_map_head_;

MMAPIO_STATIC_ASSERT_(
    offsetof(mmapio_map_head_, len_) == 8 &&
        offsetof(mmapio_map_head_, mode_) == 16 &&
        offsetof(mmapio_map_head_, guarded_) == 20 &&
        offsetof(mmapio_map_head_, page_shift_) == 21 &&
        offsetof(mmapio_map_head_, touch_mapped_) == 22 &&
        offsetof(mmapio_map_head_, fixed_) == 23 &&
        offsetof(mmapio_map_head_, fixed_base_) == 24 &&
        offsetof(mmapio_map_head_, fixed_len_) == 32 &&
        sizeof(mmapio_map_head_) == 40,
    "the handle head has one layout in C and C++, 32- and 64-bit");

/* How the snapshot below orders its two loads. On x86 the processor
 * keeps every load after the loads before it (TSO), and the compiler
 * keeps volatile accesses in program order, so two volatile relaxed
 * loads are already length-then-base. An acquire load would add a
 * compiler barrier that makes a caller's loop reload whatever it keeps
 * in memory (a vector's data pointer, say) after every view. Elsewhere,
 * and under ThreadSanitizer (which does not model the processor's
 * order), the length is an acquire load. */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MMAPIO_TSAN_ 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define MMAPIO_TSAN_ 1
#endif
#if (defined(__x86_64__) || defined(__i386__)) && !defined(MMAPIO_TSAN_)
#define MMAPIO_SNAPSHOT_TSO_ 1
#else
#define MMAPIO_SNAPSHOT_TSO_ 0
#endif

/* An addressable (base, length) pair without a lock: the length first
 * (in the order described above), then the base. Every reservation keeps
 * each page it ever mapped addressable until close (file pages, or
 * private zeros after a shrink); growth maps before it publishes a
 * length, and growth that moves publishes the new base (whose first
 * mapping is longer than any earlier length) before the new length. So a
 * base read after a length covers that length, whichever later base it
 * is. A handle that never resizes gives its plain copies instead. */
static inline unsigned char *mmapio_snapshot_(const mmapio_map *m,
                                              uint64_t *len) {
  const mmapio_map_head_ *h = (const mmapio_map_head_ *)(const void *)m;
  if (h->fixed_) {
    *len = h->fixed_len_;
    return h->fixed_base_;
  }
#if MMAPIO_SNAPSHOT_TSO_
  *len = MMAPIO_LOAD_((const volatile MMAPIO_ATOMIC_(uint64_t) *)&h->len_,
                      relaxed);
  return MMAPIO_LOAD_(
      (const volatile MMAPIO_ATOMIC_(unsigned char *) *)&h->base_, relaxed);
#else
  *len = MMAPIO_LOAD_(&h->len_, acquire);
  return MMAPIO_LOAD_(&h->base_, relaxed);
#endif
}

/* Private: a branch the compiler should lay out as not taken. The checks
 * of the inline views say so: without it gcc guesses each "return false"
 * of mmapio_addr_ an early return taken a third of the time, and keeps
 * the failure's call inside the caller's loop, so every view of a loop
 * took two taken branches instead of one (PERFORMANCE.md, "Why the
 * library does what it does"). */
#if defined(__GNUC__) || defined(__clang__)
#define MMAPIO_UNLIKELY_(c) __builtin_expect(!!(c), 0)
#else
#define MMAPIO_UNLIKELY_(c) (c)
#endif

/* Private: true, and the address of count elements of width bytes (a
 * power of two) at off in *at, when every check of the inline views
 * passes. */
static inline bool mmapio_addr_(const mmapio_map *m, bool writable,
                                uint64_t off, uint64_t count, unsigned width,
                                unsigned char **at) {
  uint64_t size;
  if (MMAPIO_UNLIKELY_(
          m == NULL ||
          (writable && ((const mmapio_map_head_ *)(const void *)m)->mode_ ==
                           MMAPIO_MODE_RO) ||
          (off & (width - 1)) != 0 || count > UINT64_MAX / width))
    return false;
  unsigned char *b = mmapio_snapshot_(m, &size);
  if (MMAPIO_UNLIKELY_(off > size || count * width > size - off))
    return false;
  *at = b + off;
  return true;
}

/* Private flags of mmapio_view_fail_. */
#define MMAPIO_VIEW_WRITABLE_ 1u
#define MMAPIO_VIEW_OUT_NULL_ 2u

/*
 * Private: reports why an inline view (mmapio_view, mmapio_view_mut, the
 * atomic views) failed; do not call it yourself. fn names the view, flags
 * holds MMAPIO_VIEW_*_. Returns the error code, never 0.
 */
MMAPIO_API int mmapio_view_fail_(const char *fn, const mmapio_map *m,
                                 uint64_t off, uint64_t count, unsigned width,
                                 unsigned flags);

/* Private: mmapio_view_fail_, telling the compiler that it never returns
 * 0, so a caller's "if (rc != 0) abort/return" leaves no path on which
 * the view's pointer is unset, and its loop need not keep registers
 * alive across the call. */
static inline int mmapio_view_failed_(const char *fn, const mmapio_map *m,
                                      uint64_t off, uint64_t count,
                                      unsigned width, unsigned flags,
                                      const void *out) {
  int rc =
      mmapio_view_fail_(fn, m, off, count, width,
                        flags | (out == NULL ? MMAPIO_VIEW_OUT_NULL_ : 0u));
#if defined(__GNUC__) || defined(__clang__)
  if (rc == 0)
    __builtin_unreachable();
#endif
  return rc;
}

/* The views declared in "Reading and writing" and "Atomic views". */
static inline int mmapio_view(const mmapio_map *m, uint64_t off, size_t len,
                              const void **out) {
  unsigned char *p;
  if (out == NULL || !mmapio_addr_(m, false, off, len, 1, &p))
    return mmapio_view_failed_("mmapio_view", m, off, len, 1, 0u, out);
  *out = p;
  return 0;
}

static inline int mmapio_view_mut(mmapio_map *m, uint64_t off, size_t len,
                                  void **out) {
  unsigned char *p;
  if (out == NULL || !mmapio_addr_(m, true, off, len, 1, &p))
    return mmapio_view_failed_("mmapio_view_mut", m, off, len, 1,
                               MMAPIO_VIEW_WRITABLE_, out);
  *out = p;
  return 0;
}

/* The atomic views of one width: S the suffix (u32, u64), W the width
 * in bytes. */
#define MMAPIO_ATOMIC_VIEWS_(S, W)                                             \
  static inline int mmapio_view_atomic_##S(const mmapio_map *m, uint64_t off,  \
                                           const mmapio_atomic_##S **out) {    \
    unsigned char *p;                                                          \
    if (out == NULL || !mmapio_addr_(m, false, off, 1, W, &p))                 \
      return mmapio_view_failed_("mmapio_view_atomic_" #S, m, off, 1, W, 0u,   \
                                 out);                                         \
    *out = (const mmapio_atomic_##S *)(void *)p;                               \
    return 0;                                                                  \
  }                                                                            \
  static inline int mmapio_view_atomic_##S##_mut(mmapio_map *m, uint64_t off,  \
                                                 mmapio_atomic_##S **out) {    \
    unsigned char *p;                                                          \
    if (out == NULL || !mmapio_addr_(m, true, off, 1, W, &p))                  \
      return mmapio_view_failed_("mmapio_view_atomic_" #S "_mut", m, off, 1,   \
                                 W, MMAPIO_VIEW_WRITABLE_, out);               \
    *out = (mmapio_atomic_##S *)(void *)p;                                     \
    return 0;                                                                  \
  }                                                                            \
  static inline int mmapio_view_atomic_##S##_array(                            \
      const mmapio_map *m, uint64_t off, size_t count,                         \
      const mmapio_atomic_##S **out) {                                         \
    unsigned char *p;                                                          \
    if (out == NULL || !mmapio_addr_(m, false, off, count, W, &p))             \
      return mmapio_view_failed_("mmapio_view_atomic_" #S "_array", m, off,    \
                                 count, W, 0u, out);                           \
    *out = (const mmapio_atomic_##S *)(void *)p;                               \
    return 0;                                                                  \
  }                                                                            \
  static inline int mmapio_view_atomic_##S##_array_mut(                        \
      mmapio_map *m, uint64_t off, size_t count, mmapio_atomic_##S **out) {    \
    unsigned char *p;                                                          \
    if (out == NULL || !mmapio_addr_(m, true, off, count, W, &p))              \
      return mmapio_view_failed_("mmapio_view_atomic_" #S "_array_mut", m,     \
                                 off, count, W, MMAPIO_VIEW_WRITABLE_, out);   \
    *out = (mmapio_atomic_##S *)(void *)p;                                     \
    return 0;                                                                  \
  }
MMAPIO_ATOMIC_VIEWS_(u32, 4)
MMAPIO_ATOMIC_VIEWS_(u64, 8)

/* The operations on an atomic view, declared in "Atomic views": one
 * definition for both widths (T the value type, A the view type, whose
 * name is also the functions' prefix). */
#define MMAPIO_ATOMIC_FETCH_(T, A, fetch_op)                                   \
  static inline T A##_##fetch_op(A *a, T v) {                                  \
    return MMAPIO_ATOMIC_STD_ atomic_##fetch_op(a, v);                         \
  }
#define MMAPIO_ATOMIC_OPS_(T, A)                                               \
  static inline T A##_load(const A *a) {                                       \
    return MMAPIO_ATOMIC_STD_ atomic_load(a);                                  \
  }                                                                            \
  static inline void A##_store(A *a, T v) {                                    \
    MMAPIO_ATOMIC_STD_ atomic_store(a, v);                                     \
  }                                                                            \
  static inline T A##_exchange(A *a, T v) {                                    \
    return MMAPIO_ATOMIC_STD_ atomic_exchange(a, v);                           \
  }                                                                            \
  static inline bool A##_compare_exchange(A *a, T *expected, T desired) {      \
    return MMAPIO_ATOMIC_STD_ atomic_compare_exchange_strong(a, expected,      \
                                                             desired);         \
  }                                                                            \
  MMAPIO_ATOMIC_FETCH_(T, A, fetch_add)                                        \
  MMAPIO_ATOMIC_FETCH_(T, A, fetch_sub)                                        \
  MMAPIO_ATOMIC_FETCH_(T, A, fetch_and)                                        \
  MMAPIO_ATOMIC_FETCH_(T, A, fetch_or)
MMAPIO_ATOMIC_OPS_(uint32_t, mmapio_atomic_u32)
MMAPIO_ATOMIC_OPS_(uint64_t, mmapio_atomic_u64)

/* The next chunk of a walk, declared in "Iterators". Every chunk but the
 * last is a whole chunk_size, and the last chunk is a branch, not a
 * conditional move: the position then advances by a constant, so a walk
 * is no longer a chain of dependent subtract, compare, select and add
 * per chunk (on some processors that chain, not the memory, set the
 * pace of a walk over large chunks). */
static inline bool mmapio_chunks_next(mmapio_chunks *it, mmapio_chunk *out) {
  uint64_t pos = it->pos_;
  size_t n = it->size_;
  if (MMAPIO_UNLIKELY_(it->end_ - pos <= n)) {
    n = (size_t)(it->end_ - pos);
    if (n == 0) {
      mmapio_chunks_end(it);
      return false;
    }
  }
  out->data = it->base_ + (size_t)pos;
  out->len = n;
  out->off = pos;
  it->pos_ = pos + n;
  return true;
}

/* Private: the inline mmapio_read; do not call it yourself. A NULL buf
 * goes to the exported function whatever len is (it accepts one with len
 * 0), so the copy here needs no test of len: memcpy's pointers are then
 * valid for every len, 0 included. */
static inline int mmapio_read_inline_(const mmapio_map *m, uint64_t off,
                                      void *buf, size_t len) {
  unsigned char *p;
  if (MMAPIO_UNLIKELY_(
          buf == NULL || !mmapio_addr_(m, false, off, len, 1, &p) ||
          MMAPIO_LOAD_(&((const mmapio_map_head_ *)(const void *)m)->guarded_,
                       relaxed)))
    return (mmapio_read)(m, off, buf, len);
  memcpy(buf, p, len);
  return 0;
}
#define mmapio_read(m, off, buf, len) mmapio_read_inline_(m, off, buf, len)

/* Private: ranges of up to this many pages, on a handle whose last look
 * found its pages mapped with the guard off (touch_mapped_), are touched
 * inline: the checks of mmapio_view, then one load per page, with no
 * call. The exported functions do everything else, and behave the same.
 * touch_mapped_ is the page shift when set, so one load decides and sizes
 * the loop. */
#define MMAPIO_TOUCH_INLINE_PAGES_ 16u
static inline bool mmapio_touch_loop_(const unsigned char *b, uint64_t size,
                                      uint64_t off, uint64_t len, bool whole,
                                      unsigned shift) {
  if (whole)
    len = size;
  if (off > size || len > size - off ||
      len > ((uint64_t)MMAPIO_TOUCH_INLINE_PAGES_ << shift))
    return false;
  if (len == 0)
    return true;
  const volatile unsigned char *p = b + (off & ~(((uint64_t)1 << shift) - 1));
  const unsigned char *end = b + off + len;
  do
    (void)*p;
  while ((p += (size_t)1 << shift) < end);
  return true;
}
static inline bool mmapio_touch_inlined_(const mmapio_map *m, uint64_t off,
                                         uint64_t len, bool whole) {
  const mmapio_map_head_ *h = (const mmapio_map_head_ *)(const void *)m;
  uint64_t size;
  unsigned shift;
  if (m == NULL || (shift = MMAPIO_LOAD_(&h->touch_mapped_, relaxed)) == 0)
    return false;
  const unsigned char *b = mmapio_snapshot_(m, &size);
  /* The common page size gets its own copy of the loop, with constant
   * shifts: a shift by a variable count takes several micro-operations
   * on x86 without BMI2, as many as the rest of a one-page touch. */
  return shift == 12 ? mmapio_touch_loop_(b, size, off, len, whole, 12)
                     : mmapio_touch_loop_(b, size, off, len, whole, shift);
}
static inline int mmapio_touch_pages_range_inline_(mmapio_map *m, uint64_t off,
                                                   uint64_t len) {
  return mmapio_touch_inlined_(m, off, len, false)
             ? 0
             : (mmapio_touch_pages_range)(m, off, len);
}
static inline int mmapio_touch_pages_inline_(mmapio_map *m) {
  return mmapio_touch_inlined_(m, 0, 0, true) ? 0 : (mmapio_touch_pages)(m);
}
#define mmapio_touch_pages_range(m, off, len)                                  \
  mmapio_touch_pages_range_inline_(m, off, len)
#define mmapio_touch_pages(m) mmapio_touch_pages_inline_(m)

#ifdef __cplusplus
}
#endif

#endif /* MMAPIO_H */
