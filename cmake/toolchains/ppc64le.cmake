# scripts/port.sh target ppc64le: 64-bit POWER, little-endian, 64 KiB pages
set(MMAPIO_CROSS_TRIPLE powerpc64le-linux-gnu)
set(MMAPIO_CROSS_PROCESSOR ppc64le)
set(MMAPIO_CROSS_QEMU qemu-ppc64le)
set(MMAPIO_CROSS_PAGE_SIZE 65536)
include("${CMAKE_CURRENT_LIST_DIR}/cross-clang.cmake")
