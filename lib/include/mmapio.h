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
 */
#ifndef MMAPIO_H
#define MMAPIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

#define MMAPIO_VERSION_MAJOR 1
#define MMAPIO_VERSION_MINOR 0
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
  X(UNSUPPORTED, -14, "not supported on this platform or build")              \
  X(NO_MEMORY, -15, "out of memory")

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

typedef enum mmapio_mode {
  MMAPIO_MODE_RO = 1,  /* read-only, shared */
  MMAPIO_MODE_RW = 2,  /* read-write, shared: writes reach the file */
  MMAPIO_MODE_COW = 3, /* copy-on-write: writable, private to the handle */
} mmapio_mode;

typedef enum mmapio_flush_policy {
  MMAPIO_FLUSH_MANUAL = 0,      /* only explicit flushes (default) */
  MMAPIO_FLUSH_ALWAYS = 1,      /* flush each update's range after it */
  MMAPIO_FLUSH_EVERY_BYTES = 2, /* flush once pending bytes reach arg */
  MMAPIO_FLUSH_EVERY_WRITES = 3, /* flush after every arg updates */
  MMAPIO_FLUSH_EVERY_MILLIS = 4  /* a background thread flushes every arg
                                    milliseconds while anything is dirty */
} mmapio_flush_policy;
/** NEVER is the same policy as MANUAL: nothing is flushed implicitly. */
#define MMAPIO_FLUSH_NEVER MMAPIO_FLUSH_MANUAL

/* Option flags (mmapio_options.flags). */
#define MMAPIO_OPT_NOFOLLOW 0x1u    /* refuse a symlink as the final path */
#define MMAPIO_OPT_PREALLOCATE 0x2u /* allocate disk blocks on create/grow */
#define MMAPIO_OPT_SYNC_DIR 0x4u    /* fsync the parent dir after creating */
#define MMAPIO_OPT_HUGEPAGES 0x8u   /* ask for huge pages, best effort */
#define MMAPIO_OPT_TOUCH_EAGER 0x10u /* fault every page in at open */
#define MMAPIO_OPT_ALL_                                                        \
  (MMAPIO_OPT_NOFOLLOW | MMAPIO_OPT_PREALLOCATE | MMAPIO_OPT_SYNC_DIR |        \
   MMAPIO_OPT_HUGEPAGES | MMAPIO_OPT_TOUCH_EAGER)

/* How mmapio_open_ex() treats the path. */
typedef enum mmapio_disposition {
  MMAPIO_OPEN = 1,          /* the file must exist */
  MMAPIO_CREATE = 2,        /* create or truncate to options.size */
  MMAPIO_OPEN_OR_CREATE = 3 /* open if it exists, else create */
} mmapio_disposition;

#define MMAPIO_OPTIONS_VERSION 1

/**
 * Options for mmapio_open_ex() (the builder). Initialise with
 * MMAPIO_OPTIONS_INIT or mmapio_options_init(), then set fields.
 */
typedef struct mmapio_options {
  unsigned version;         /* MMAPIO_OPTIONS_VERSION */
  mmapio_mode mode;         /* default MMAPIO_MODE_RW */
  uint64_t size;            /* size for CREATE / OPEN_OR_CREATE */
  unsigned flags;           /* MMAPIO_OPT_* */
  unsigned perm;            /* creation permission bits, default 0644 */
  mmapio_flush_policy flush_policy; /* RW only; default MANUAL */
  uint64_t flush_arg;       /* bytes, writes or ms for EVERY_* policies */
  uint64_t reserve;         /* address space to reserve; 0 = default */
} mmapio_options;

#define MMAPIO_OPTIONS_INIT                                                    \
  { MMAPIO_OPTIONS_VERSION, MMAPIO_MODE_RW, 0, 0, 0644, MMAPIO_FLUSH_MANUAL, 0, 0 }

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
 */

/**
 * Opens (or creates) path as described by opts and how. This is the
 * builder: every other opening function is a shorthand for it.
 *
 * Creating sets the permission bits opts->perm (subject to the umask),
 * the size opts->size (sparse unless MMAPIO_OPT_PREALLOCATE), and with
 * MMAPIO_OPT_SYNC_DIR fsyncs the parent directory so the name is durable.
 * OPEN_OR_CREATE is race-free between processes: the file appears under
 * its name only once fully sized, exactly one caller creates it, and
 * nobody truncates a file that exists.
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
 *    MMAPIO_OPT_NOFOLLOW (ELOOP), too large for the address space
 *    (EOVERFLOW), or any other OS failure (errno in the detail).
 *  - MMAPIO_E_NO_MEMORY: allocating the handle failed.
 *  - MMAPIO_E_IO: with EVERY_MILLIS, the flusher thread could not be
 *    started (errno in the detail).
 */
MMAPIO_API int mmapio_open_ex(mmapio_map **out, const char *path,
                              const mmapio_options *opts,
                              mmapio_disposition how);

/**
 * Creates or truncates path to size bytes (sparse) and maps it RW.
 * Same as mmapio_open_ex with CREATE and default options.
 *
 * Returns: 0 and the handle in *out.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: out or path is NULL; path names a
 *    non-regular file.
 *  - MMAPIO_E_RESIZE_FAILED: size is 0 or above mmapio_max_size().
 *  - MMAPIO_E_IO: the file cannot be created or sized (errno in detail).
 *  - MMAPIO_E_NO_MEMORY: allocating the handle failed.
 */
MMAPIO_API int mmapio_create(mmapio_map **out, const char *path,
                             uint64_t size);

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
 * race-free between processes (see mmapio_open_ex).
 *
 * Returns: 0 and the handle in *out.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: out or path is NULL; non-regular file.
 *  - MMAPIO_E_RESIZE_FAILED: the file must be created and default_size is
 *    0 or above mmapio_max_size(); the file exists but is empty.
 *  - MMAPIO_E_IO: OS failure (errno in the detail).
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
 * Returns: nothing; it cannot fail. A pending asynchronous write-back
 * error is not reported here: call mmapio_flush() first to learn it.
 */
MMAPIO_API void mmapio_close(mmapio_map *m);

/**
 * Consumes the handle: unmaps it and hands its file descriptor back to
 * the caller (who must close it). Must not race other calls.
 *
 * Returns: 0 and the fd in *out_fd; the handle is freed.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m or out_fd is NULL.
 *  - MMAPIO_E_BUSY: other references (pins) are alive; the handle is
 *    unchanged and still usable.
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
 * still using, pin them (mmapio_pin), and the shrink fails with BUSY.
 */

/**
 * Zero-copy read view of [off, off+len). No lock, no allocation, no
 * system call. Valid on every mode; len 0 is allowed (even at off ==
 * length).
 *
 * Returns: 0 and the address in *out.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m or out is NULL.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + len exceeds the mapping's length.
 */
MMAPIO_API int mmapio_view(const mmapio_map *m, uint64_t off, size_t len,
                           const void **out);

/**
 * Zero-copy writable view of [off, off+len). Writes through it are not
 * counted in mmapio_pending() but are flushed by mmapio_flush().
 *
 * Returns: 0 and the address in *out.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m or out is NULL.
 *  - MMAPIO_E_INVALID_MODE: the mapping is read-only.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + len exceeds the mapping's length.
 */
MMAPIO_API int mmapio_view_mut(mmapio_map *m, uint64_t off, size_t len,
                               void **out);

/**
 * Copies [off, off+len) out of the mapping into buf (read_into).
 *
 * Returns: 0.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m is NULL, or buf is NULL with len > 0.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + len exceeds the length; buf untouched.
 */
MMAPIO_API int mmapio_read(const mmapio_map *m, uint64_t off, void *buf,
                           size_t len);

/**
 * Copies len bytes from src into the mapping at off (update_region),
 * adds len to the pending count, then applies the flush policy.
 *
 * Returns: 0.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m is NULL, or src is NULL with len > 0.
 *  - MMAPIO_E_INVALID_MODE: the mapping is read-only.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + len exceeds the length; nothing copied.
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
/** The file descriptor, still owned by the handle (-1 for NULL). */
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
 * Changes the file's size and the mapping's length (RW only). Growth
 * stays at the same base inside the reservation; growth past it tries to
 * extend the reservation in place and otherwise moves the base, which
 * is reported in *moved (may be NULL). A shrink that would cut a pinned
 * range fails. On any failure the size, the base and every view are as
 * before.
 *
 * Returns: 0; *moved (if not NULL) is set to whether the base changed.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m is NULL.
 *  - MMAPIO_E_INVALID_MODE: the mapping is RO or COW.
 *  - MMAPIO_E_RESIZE_FAILED: new_size is 0 or above mmapio_max_size(), or
 *    the OS refused (EFBIG, ENOSPC with preallocation, a failed remap;
 *    errno in the detail).
 *  - MMAPIO_E_BUSY: shrinking would cut a range held by a pin.
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
 * MMAPIO_E_FLUSH_FAILED (the OS may already have dropped the dirty
 * pages); reopen the file to start afresh.
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
 * pending count by the widened length (never below 0). len 0 is a no-op;
 * RO and COW are a no-op after the bounds check.
 *
 * Returns: 0.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: m is NULL.
 *  - MMAPIO_E_OUT_OF_BOUNDS: off + len exceeds the length.
 *  - MMAPIO_E_FLUSH_FAILED: msync failed now or earlier (sticky).
 */
MMAPIO_API int mmapio_flush_range(mmapio_map *m, uint64_t off, uint64_t len);

/* ------------------------------------------------------------------ */
/* One-call file functions (the Rust crate's "manager")                */
/* ------------------------------------------------------------------ */

/*
 * create = mmapio_create, load = mmapio_open, update region =
 * mmapio_update, flush = mmapio_flush. The three below complete the set.
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
 * Copies the regular file src to dst (created with src's permission
 * bits, or truncated), preserving holes where the OS can, then makes dst
 * durable. dst is never left half-written under its name: the copy is
 * written to a temporary file in dst's directory and renamed over it.
 *
 * Returns: 0.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: src or dst is NULL; src is not a regular
 *    file.
 *  - MMAPIO_E_IO: src cannot be read, dst cannot be written (errno in
 *    the detail); dst is unchanged.
 */
MMAPIO_API int mmapio_copy_file(const char *src, const char *dst);

/**
 * Removes the file at path (it must be a regular file; open handles on
 * it stay valid until closed).
 *
 * Returns: 0.
 * Errors:
 *  - MMAPIO_E_INVALID_ARGUMENT: path is NULL or not a regular file
 *    (nothing is removed).
 *  - MMAPIO_E_IO: the file does not exist or cannot be removed.
 */
MMAPIO_API int mmapio_delete_file(const char *path);

/* ==== BEGIN background ==== */
/* ==== END background ==== */

/* ==== BEGIN memory ==== */
/* ==== END memory ==== */

/* ==== BEGIN views ==== */
/* ==== END views ==== */

#ifdef __cplusplus
}
#endif

#endif /* MMAPIO_H */
