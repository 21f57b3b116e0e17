# scripts/port.sh target riscv64: 64-bit RISC-V
set(MMAPIO_CROSS_TRIPLE riscv64-linux-gnu)
set(MMAPIO_CROSS_PROCESSOR riscv64)
set(MMAPIO_CROSS_QEMU qemu-riscv64)
include("${CMAKE_CURRENT_LIST_DIR}/cross-clang.cmake")
