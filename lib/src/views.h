/*
 * Internal declarations shared by the view sources: atomic.c, iter.c,
 * segment.c, stream.c and their platform layer, platform_stream.c.
 */
#ifndef MMAPIO_VIEWS_H
#define MMAPIO_VIEWS_H

#include "internal.h"

#include <stdio.h>
#include <sys/types.h>

/* ---- iter.c: references and pins for objects that outlive a call ---- */

/* Pins [0, current length) of m into *pin (m must not be NULL) and
 * returns a base that covers that length, in *len, until the pin is
 * released: both are read under m->mu, so no shrink can come between. */
unsigned char *mmi_pin_whole(mmapio_pin *pin, mmapio_map *m, uint64_t *len);

/* Takes a reference on m (not NULL) that pins no byte: a pin of [0, 0),
 * which no shrink can cut. Released with mmapio_unpin(). */
void mmi_hold(mmapio_pin *ref, mmapio_map *m);

/* ---- stream.c: the operations behind a FILE * (the cookie) ---- */

/* fopencookie semantics: bytes read, 0 at the end, -1 and errno. */
ssize_t mmi_stream_read(void *cookie, char *buf, size_t len);
/* Bytes written; fewer than len (0 included) is an error, with errno. */
ssize_t mmi_stream_write(void *cookie, const char *buf, size_t len);
/* Moves to *pos from whence (SEEK_*), stores the new position in *pos;
 * 0, or -1 and errno. */
int mmi_stream_seek(void *cookie, int64_t *pos, int whence);
/* Frees the cookie; 0. */
int mmi_stream_close(void *cookie);

/* ---- platform_stream.c ---- */

/* A FILE * whose operations are the mmi_stream_* functions on cookie;
 * mode is "r" or "r+". NULL and errno on failure: ENOTSUP where the
 * platform or build has no custom streams. */
FILE *mmi_stream_fopen(void *cookie, const char *mode);

/* One sendfile(2) of len bytes at off of in_fd to out_fd: the bytes sent,
 * or -1 and errno (ENOSYS where the platform or build has none). */
ssize_t mmi_sendfile(int out_fd, int in_fd, uint64_t off, size_t len);

#endif
