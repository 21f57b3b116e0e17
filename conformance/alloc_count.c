/*
 * Counts heap allocations for the footprint suite by interposing malloc
 * and friends in the test executable (glibc resolves the library's calls
 * to these definitions). Only built without sanitizers, which bring
 * their own allocator.
 */
#define _GNU_SOURCE
#include "alloc_count.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stddef.h>

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t align, size_t n);
void __libc_free(void *p);

static _Atomic long calls;
static _Atomic long live;

static void *counted(void *p) {
  if (p != NULL) {
    atomic_fetch_add(&calls, 1);
    atomic_fetch_add(&live, (long)malloc_usable_size(p));
  }
  return p;
}

void *malloc(size_t n) { return counted(__libc_malloc(n)); }
void *calloc(size_t n, size_t size) { return counted(__libc_calloc(n, size)); }
void *memalign(size_t align, size_t n) {
  return counted(__libc_memalign(align, n));
}
void *aligned_alloc(size_t align, size_t n) { return memalign(align, n); }
int posix_memalign(void **out, size_t align, size_t n) {
  void *p = memalign(align, n);
  if (p == NULL)
    return 12; /* ENOMEM */
  *out = p;
  return 0;
}
void free(void *p) {
  if (p != NULL)
    atomic_fetch_sub(&live, (long)malloc_usable_size(p));
  __libc_free(p);
}
void *realloc(void *p, size_t n) {
  if (p != NULL)
    atomic_fetch_sub(&live, (long)malloc_usable_size(p));
  return counted(__libc_realloc(p, n));
}

long alloc_calls(void) { return atomic_load(&calls); }
long alloc_live_bytes(void) { return atomic_load(&live); }
