/*
 * mmapio_capability_query: what this build supports on this system. Each
 * answer comes from the platform layer: where a try is cheap, the call the
 * capability stands for is tried on a scratch page of this file's own (one
 * anonymous page, written once) or a scratch memory file; otherwise the
 * build answers (mmi_os_has_*). Nothing tried here outlives the call.
 */
#include "memory.h"
#include "os.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Each capability's name, and whether its try needs the scratch page. */
static const struct {
  const char *name;
  bool needs_page;
} caps[MMAPIO_CAP_COUNT] = {
    [MMAPIO_CAP_PAGE_SIZE] = {"page_size", false},
    [MMAPIO_CAP_STABLE_GROWTH] = {"stable_growth", false},
    [MMAPIO_CAP_PREALLOCATE] = {"preallocate", false},
    [MMAPIO_CAP_SIGBUS_GUARD] = {"sigbus_guard", false},
    [MMAPIO_CAP_WRITEBACK_HINT] = {"writeback_hint", false},
    [MMAPIO_CAP_POPULATE_READ] = {"populate_read", true},
    [MMAPIO_CAP_PAGEMAP_SCAN] = {"pagemap_scan", true},
    [MMAPIO_CAP_MLOCK] = {"mlock", true},
    [MMAPIO_CAP_HUGEPAGE_VERDICT] = {"hugepage_verdict", true},
    [MMAPIO_CAP_THP_COLLAPSE] = {"thp_collapse", true},
    [MMAPIO_CAP_HUGETLB] = {"hugetlb", false},
    [MMAPIO_CAP_MEMFD_SEALS] = {"memfd_seals", false},
    [MMAPIO_CAP_FD_PASSING] = {"fd_passing", false},
    [MMAPIO_CAP_WATCH] = {"watch", false},
    [MMAPIO_CAP_STREAMS] = {"streams", false},
};

/* The answer being built. */
typedef struct answer {
  mmapio_capability_info *info;
  unsigned char *page; /* the scratch page, or NULL before it is needed */
  size_t page_size;
} answer;

static void say(answer *a, bool supported, const char *fmt, ...)
    MMI_PRINTF(3, 4);

static void say(answer *a, bool supported, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(a->info->reason, sizeof a->info->reason, fmt, ap);
  va_end(ap);
  a->info->supported = supported;
}

/* Says what a failed try returned: "<call> failed: <strerror>". */
static void say_failed(answer *a, const char *call, int err) {
  say(a, false, "%s failed: %s (errno %d)", call, strerror(err), err);
}

/* One page of anonymous memory, mapped read-write and written once, for
 * the tries that need memory. 0, or the errno of the failed mapping. */
static int scratch_page(answer *a) {
  a->page_size = mmi_os_page_size();
  unsigned char *p = mmi_os_reserve(NULL, a->page_size);
  if (p == NULL)
    return errno;
  if (mmi_os_map_zeros(p, a->page_size) != 0) {
    int e = errno;
    mmi_os_unmap(p, a->page_size);
    return e;
  }
  *(volatile unsigned char *)p = 1;
  a->page = p;
  return 0;
}

/* Unmaps the scratch page and returns its address, where nothing is
 * mapped now: a call that must refuse such a range tells a kernel that
 * knows it from one that accepts and ignores it. */
static void *scratch_page_gone(answer *a) {
  void *gone = a->page;
  mmi_os_unmap(a->page, a->page_size);
  a->page = NULL;
  return gone;
}

/* A success is checked against a range with no mapping, which a kernel
 * refuses to fault in: qemu-user accepts the advice and ignores it, and
 * a capability that only looks present would send touch_pages and the
 * caller down a path that does nothing. */
static void populate_read(answer *a) {
  if (mmi_os_populate(a->page, a->page_size) != 0) {
    if (errno == ENOSYS)
      say(a, false, "this build has no call that faults a range in at once");
    else
      say_failed(a, "madvise(MADV_POPULATE_READ)", errno);
    return;
  }
  if (mmi_os_populate(scratch_page_gone(a), a->page_size) == 0)
    say(a, false,
        "MADV_POPULATE_READ over no mapping succeeded: the advice is "
        "ignored here (an emulator does so)");
  else
    say(a, true, "madvise(MADV_POPULATE_READ) faulted a page in");
}

static void pagemap_scan(answer *a) {
  int got = mmi_os_page_mapping(a->page);
  if (got == MMI_PAGE_UNKNOWN)
    say(a, false,
        "this build or kernel cannot tell whether a page is mapped "
        "(PAGEMAP_SCAN on /proc/self/pagemap: Linux 6.7)");
  else
    say(a, true, "PAGEMAP_SCAN answered for a written page");
}

static void mlock_page(answer *a) {
  uint64_t limit = 0;
  bool known = mmi_os_memlock_limit(&limit) == 0;
  a->info->value = known ? limit : 0;
  char lim[48];
  if (!known)
    snprintf(lim, sizeof lim, "unknown");
  else if (limit == UINT64_MAX)
    snprintf(lim, sizeof lim, "unlimited");
  else
    snprintf(lim, sizeof lim, "%llu bytes", (unsigned long long)limit);
  if (mmi_os_lock(a->page, a->page_size) != 0) {
    int e = errno;
    say(a, false, "mlock of one page failed: %s (errno %d); RLIMIT_MEMLOCK %s",
        strerror(e), e, lim);
    return;
  }
  (void)mmi_os_unlock(a->page, a->page_size);
  say(a, true, "mlock of one page worked; RLIMIT_MEMLOCK %s", lim);
}

static void hugepage_verdict(answer *a) {
  mmi_huge_usage u;
  uintptr_t lo = (uintptr_t)a->page;
  mmi_os_huge_usage(lo, lo + a->page_size, &u);
  if (u.known)
    say(a, true, "the memory areas say which pages are huge (smaps)");
  else
    say(a, false,
        "this build or system does not say which pages are huge "
        "(Linux: /proc/self/smaps)");
}

/* MADV_COLLAPSE needs the kernel to know the advice and a THP mode that is
 * not "never". The advice is tried on the scratch page's address after it
 * is unmapped: a kernel that knows the advice says ENOMEM (nothing mapped
 * there), one that does not says EINVAL, and nothing is collapsed. */
static void thp_collapse(answer *a) {
  if (!mmi_os_has_thp()) {
    say(a, false, "this build has no transparent huge pages");
    return;
  }
  char mode[32];
  mmi_os_thp_mode(MMI_THP_ANON, mode, sizeof mode);
  if (mmi_os_thp_collapse(scratch_page_gone(a), a->page_size) == 0) {
    say(a, false,
        "MADV_COLLAPSE over no mapping succeeded: the advice is "
        "ignored here (an emulator does so)");
  } else if (errno != ENOMEM) {
    int e = errno;
    say(a, false, "the kernel does not know MADV_COLLAPSE (%s, errno %d)",
        strerror(e), e);
  } else if (strcmp(mode, "never") == 0) {
    say(a, false, "transparent huge pages are off (enabled: never)");
  } else {
    say(a, true, "the kernel knows MADV_COLLAPSE; THP mode %s",
        mode[0] != '\0' ? mode : "not said");
  }
}

static void hugetlb(answer *a) {
  mmi_hugetlb_pool pool;
  mmi_os_hugetlb_pool(&pool);
  uint64_t usable = pool.free > pool.reserved ? pool.free - pool.reserved : 0;
  a->info->value = usable;
  if (pool.page_size == 0)
    say(a, false, "the system has no hugetlb pool");
  else
    say(a, usable > 0,
        "default huge page %llu KiB: %llu of %llu pages free and unreserved",
        (unsigned long long)(pool.page_size >> 10), (unsigned long long)usable,
        (unsigned long long)pool.total);
}

/* A memory file, sealed against growing: the seals work. */
static void memfd_seals(answer *a) {
  if (!mmi_os_has_seals()) {
    say(a, false, "this build has no memory-file seals");
    return;
  }
  int fd = mmi_os_memfd(false);
  if (fd < 0) {
    say_failed(a, mmi_os_memfd_call(), errno);
    return;
  }
  if (mmi_os_seals_add(fd, MMAPIO_SEAL_GROW) != 0)
    say_failed(a, "fcntl(F_ADD_SEALS)", errno);
  else
    say(a, true, "a memory file was sealed against growing");
  mmi_os_close(fd);
}

static void writeback_hint(answer *a) {
  if (!mmi_os_has_writeback()) {
    say(a, false,
        "this build has no call that starts writeback; flush_hint schedules "
        "it with msync(MS_ASYNC)");
    return;
  }
  int fd = mmi_os_memfd(false);
  if (fd < 0) {
    say_failed(a, mmi_os_memfd_call(), errno);
    return;
  }
  if (mmi_os_writeback(fd, NULL, 0, 0) != 0)
    say_failed(a, mmi_os_writeback_call(), errno);
  else
    say(a, true, "%s on a memory file worked", mmi_os_writeback_call());
  mmi_os_close(fd);
}

static void answer_for(answer *a, mmapio_capability cap) {
  switch (cap) {
  case MMAPIO_CAP_PAGE_SIZE:
    a->info->value = mmi_page();
    say(a, true, "%zu bytes", mmi_page());
    return;
  case MMAPIO_CAP_STABLE_GROWTH:
    a->info->value = MMI_GROWTH_RESERVE;
    if (MMI_GROWTH_RESERVE == 0)
      say(a, false,
          "a 32-bit address space: a handle reserves only its length (or "
          "options.reserve), so growing past it may move the base");
    else
      say(a, true,
          "an RW handle reserves at least %llu bytes of address space, "
          "twice its length above that, and grows in place within it",
          (unsigned long long)MMI_GROWTH_RESERVE);
    return;
  case MMAPIO_CAP_PREALLOCATE:
    say(a, true,
        "posix_fallocate; a file system without room for the blocks makes "
        "the create or resize fail with MMAPIO_E_RESIZE_FAILED");
    return;
  case MMAPIO_CAP_SIGBUS_GUARD:
    say(a, true, "a SIGBUS handler with sigsetjmp; %s",
        mmi_os_guard_active() ? "installed now"
                              : "not installed now (mmapio_set_guard does)");
    return;
  case MMAPIO_CAP_WRITEBACK_HINT:
    writeback_hint(a);
    return;
  case MMAPIO_CAP_POPULATE_READ:
    populate_read(a);
    return;
  case MMAPIO_CAP_PAGEMAP_SCAN:
    pagemap_scan(a);
    return;
  case MMAPIO_CAP_MLOCK:
    mlock_page(a);
    return;
  case MMAPIO_CAP_HUGEPAGE_VERDICT:
    hugepage_verdict(a);
    return;
  case MMAPIO_CAP_THP_COLLAPSE:
    thp_collapse(a);
    return;
  case MMAPIO_CAP_HUGETLB:
    hugetlb(a);
    return;
  case MMAPIO_CAP_MEMFD_SEALS:
    memfd_seals(a);
    return;
  case MMAPIO_CAP_FD_PASSING:
    say(a, true, "SCM_RIGHTS over a Unix-domain socket");
    return;
  case MMAPIO_CAP_WATCH:
    say(a, mmi_os_has_watch(),
        mmi_os_has_watch() ? "inotify" : "this build has no file watching");
    return;
  case MMAPIO_CAP_STREAMS:
    say(a, mmi_os_has_streams(),
        mmi_os_has_streams() ? "fopencookie" : "this build has no fopencookie");
    return;
  case MMAPIO_CAP_COUNT:
    break;
  }
}

int mmapio_capability_query(mmapio_capability cap,
                            mmapio_capability_info *out) {
  static const char fn[] = "mmapio_capability_query";
  if (out == NULL || (int)cap < 0 || (int)cap >= MMAPIO_CAP_COUNT)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "%s: out is NULL or capability %d is not in [0, %d)", fn,
                    (int)cap, (int)MMAPIO_CAP_COUNT);
  mmapio_capability_info info;
  memset(&info, 0, sizeof info);
  info.capability = cap;
  info.name = caps[cap].name;
  answer a = {&info, NULL, 0};
  if (caps[cap].needs_page) {
    int e = scratch_page(&a);
    if (e != 0)
      return mmi_fail(MMAPIO_E_NO_MEMORY, e, "mmap",
                      "%s: mapping a scratch page failed", fn);
  }
  answer_for(&a, cap);
  if (a.page != NULL)
    mmi_os_unmap(a.page, a.page_size);
  *out = info;
  return 0;
}
