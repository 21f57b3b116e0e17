# scripts/port.sh target s390x: IBM Z, big-endian
set(MMAPIO_CROSS_TRIPLE s390x-linux-gnu)
set(MMAPIO_CROSS_PROCESSOR s390x)
set(MMAPIO_CROSS_QEMU qemu-s390x)
include("${CMAKE_CURRENT_LIST_DIR}/cross-clang.cmake")
