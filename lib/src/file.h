/* File-system helpers (file.c). Internal. */
#ifndef MMAPIO_FILE_H
#define MMAPIO_FILE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

/* INVALID_ARGUMENT naming what kind of file path is. */
int mmi_fail_not_regular(const char *fn, const char *path, mode_t mode);
/* open() + fstat(), refusing anything but a regular file without
 * blocking. Returns the fd (close-on-exec) or a negative MMAPIO_E_*. */
int mmi_open_file(const char *fn, const char *path, int flags, unsigned perm,
                  unsigned opt_flags, struct stat *st);
/* Sets the file's size from `from` to `to` bytes: ftruncate (sparse) or
 * posix_fallocate. Returns 0 or an errno value; *syscall names the call.
 * A failed preallocation restores the size `from`. */
int mmi_set_size(int fd, uint64_t from, uint64_t to, bool preallocate,
                 const char **syscall);
/* A malloc'd copy of path's directory part, or NULL when out of memory. */
char *mmi_dirname(const char *path);
/* fsyncs the directory that holds path. 0 or MMAPIO_E_*. */
int mmi_fsync_dir(const char *fn, const char *path);
/* Creates a new file named path + a unique suffix (O_EXCL); returns its
 * fd and the malloc'd name in *out_name, or -1 and errno. */
int mmi_open_unique(const char *path, unsigned perm, char **out_name);

#endif
