# scripts/port.sh target aarch64-16k: 64-bit Arm, 16 KiB pages
set(MMAPIO_CROSS_TRIPLE aarch64-linux-gnu)
set(MMAPIO_CROSS_PROCESSOR aarch64)
set(MMAPIO_CROSS_QEMU qemu-aarch64)
set(MMAPIO_CROSS_PAGE_SIZE 16384)
include("${CMAKE_CURRENT_LIST_DIR}/cross-clang.cmake")
