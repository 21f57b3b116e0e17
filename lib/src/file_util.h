/* File-system helpers (file_util.c). Internal. */
#ifndef MMAPIO_FILE_UTIL_H
#define MMAPIO_FILE_UTIL_H

#include "os.h"

#include <stdbool.h>
#include <stdint.h>

/* INVALID_ARGUMENT naming what kind of file path is. */
int mmi_fail_not_regular(const char *fn, const char *path, mmi_file_kind kind);
/* Opens path (`how`: MMI_OPEN_* bits) and finds out what it is, refusing
 * anything but a regular file without blocking (the fd keeps
 * O_NONBLOCK: MMI_HANDLE_NONBLOCK). Returns the fd (close-on-exec) or a
 * negative MMAPIO_E_*. */
int mmi_open_file(const char *fn, const char *path, unsigned how, unsigned perm,
                  unsigned opt_flags, mmi_file_info *st);
/* Sets the file's size from `from` to `to` bytes: sparse, or allocated
 * (preallocate). Returns 0 or an errno value; *syscall names the call.
 * A failed preallocation restores the size `from`. */
int mmi_set_size(int fd, uint64_t from, uint64_t to, bool preallocate,
                 const char **syscall);
/* A malloc'd copy of path's directory part, or NULL when out of memory. */
char *mmi_dirname(const char *path);
/* fsyncs the directory that holds path, which has just been given its
 * name. 0, or FLUSH_FAILED: the name is in place, its durability unknown
 * (errno and the failing call, open or fsync, in the detail). */
int mmi_fsync_dir(const char *fn, const char *path);
/* Creates a new file named path + a unique suffix (exclusively); returns
 * its fd and the malloc'd name in *out_name, or -1 and errno. */
int mmi_open_unique(const char *path, unsigned perm, char **out_name);
/* Links the unnamed file fd (mmi_os_open_unnamed) to path + a unique
 * suffix; 0 and the malloc'd name in *out_name, or -1 and errno. */
int mmi_link_unique(int fd, const char *path, char **out_name);

#endif
