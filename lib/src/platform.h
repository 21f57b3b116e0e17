/* The platform layer's functions (sys.c). Internal. */
#ifndef MMAPIO_PLATFORM_H
#define MMAPIO_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Linux extensions are used unless the build asks for plain POSIX. Only
 * the platform files (sys.c, platform_*.c) test this. */
#if defined(__linux__) && !defined(MMAPIO_POSIX_ONLY)
#define MMI_LINUX 1
#else
#define MMI_LINUX 0
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Flags every open() of the library adds: close-on-exec, non-blocking. */
int mmi_open_flags(void);
/* Clears O_NONBLOCK on fd, opened with open_flags. On Linux one F_SETFL
 * of the open's own flags (it ignores the access mode and creation flags,
 * and changes no other flag the open set); elsewhere F_GETFL first, since
 * some systems let F_SETFL change flags such as O_LARGEFILE. */
void mmi_clear_nonblock(int fd, int open_flags);
/* Flags a create adds to its open(): O_TRUNC where open() truncates
 * regular files only and ignores it on FIFOs and devices (Linux), else 0
 * (the caller then empties the file once it has seen it is regular). */
int mmi_create_flags(void);
/* MAP_NORESERVE where the platform has it, else 0. */
int mmi_map_noreserve(void);
/* Reserves len bytes of PROT_NONE address space, exactly at addr when
 * addr is not NULL (never replacing an existing mapping). NULL and errno
 * on failure. */
void *mmi_reserve_at(void *addr, size_t len);
/* Reservations of 2 MiB or more start on a 2 MiB boundary, so that the
 * kernel can back them with huge pages (a PMD maps only aligned 2 MiB). */
#define MMI_HUGE_ALIGN ((size_t)2 << 20)
/* True when p is on such a boundary. */
bool mmi_huge_aligned(const void *p);
/* True when the kernel itself places a mapping of len bytes (chosen
 * address) on such a boundary: Linux does for lengths that are multiples
 * of 2 MiB, in 64-bit processes only. A guess either way is safe: the
 * callers check the address they get. */
bool mmi_kernel_aligns(size_t len);
/* len rounded up to a multiple of MMI_HUGE_ALIGN when it is at least
 * that large (so that mmi_kernel_aligns can hold), else len. */
size_t mmi_round_huge(size_t len);
/* An unnamed file in dir (O_TMPFILE); -1 and errno (EOPNOTSUPP where the
 * platform has none). */
int mmi_open_tmpfile(const char *dir, unsigned perm);
/* Gives an O_TMPFILE file the name path; fails with EEXIST if taken. */
int mmi_link_tmpfile(int fd, const char *path);

/* The first data byte at or after off (size when only a hole remains;
 * off itself where the platform cannot tell). */
uint64_t mmi_seek_data(int fd, uint64_t off, uint64_t size);
/* The first hole at or after off, at most size. */
uint64_t mmi_seek_hole(int fd, uint64_t off, uint64_t size);
/* Copies len bytes at off from in to the same offset of out, in the
 * kernel where it can. Returns 0 or an errno value. */
int mmi_copy_range(int in, int out, uint64_t off, uint64_t len);

/* Whether the file has dirty or writeback pages in the page cache: 1
 * yes, 0 no, -1 cannot tell on this platform/kernel. */
int mmi_file_dirty(int fd);

/* Bracket a MAP_FIXED remap of pages that lock-free readers may be
 * copying. Readers racing a shrink are allowed to see zeros (never a
 * fault); under ThreadSanitizer these tell it that the remap is not a
 * write to order against them. No-ops in other builds. */
void mmi_remap_begin(void);
void mmi_remap_end(void);

#ifdef __cplusplus
}
#endif

#endif
