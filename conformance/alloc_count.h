/* Heap allocation counters of the footprint suite (alloc_count.c). */
#ifndef MMAPIO_ALLOC_COUNT_H
#define MMAPIO_ALLOC_COUNT_H
#ifdef __cplusplus
extern "C" {
#endif
/* Allocations made so far by the process (malloc, calloc, realloc, ...). */
long alloc_calls(void);
/* Bytes of heap currently in use, by malloc_usable_size. */
long alloc_live_bytes(void);
#ifdef __cplusplus
}
#endif
#endif
