# Cross-compiling mmapio and its conformance suite with clang for a Debian
# cross target, and running the tests under qemu-user (scripts/port.sh).
#
# A per-target file (aarch64.cmake, s390x.cmake, ...) sets these, then
# includes this one:
#   MMAPIO_CROSS_TRIPLE     GNU triple of the Debian cross packages
#                           (/usr/<triple>, binutils-<triple>)
#   MMAPIO_CROSS_PROCESSOR  CMAKE_SYSTEM_PROCESSOR
#   MMAPIO_CROSS_QEMU       the qemu-user program for the target
#   MMAPIO_CROSS_PAGE_SIZE  optional: the page size qemu emulates (-p)
#
# Why clang and not gcc-<triple>: on Debian 12, installing the gcc cross
# compilers removes gcc-multilib, which the 32-bit build needs. clang
# targets every architecture and finds Debian's cross libc, libstdc++ and
# libgcc (libc6-dev-<arch>-cross, ...) by itself; GNU ld from
# binutils-<triple> links.
if(NOT MMAPIO_CROSS_TRIPLE OR NOT MMAPIO_CROSS_QEMU)
  message(FATAL_ERROR "cross-clang.cmake: include it from a per-target "
                      "file that sets MMAPIO_CROSS_TRIPLE and MMAPIO_CROSS_QEMU")
endif()
set(_triple "${MMAPIO_CROSS_TRIPLE}")
# Kept in the cache for the conformance report (scripts/conformance_report.py).
set(MMAPIO_CROSS_TRIPLE "${_triple}" CACHE STRING "cross target triple")
set(_cross_root "/usr/${_triple}")

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR "${MMAPIO_CROSS_PROCESSOR}")
set(CMAKE_C_COMPILER clang)
set(CMAKE_C_COMPILER_TARGET "${_triple}")
set(CMAKE_CXX_COMPILER clang++)
set(CMAKE_CXX_COMPILER_TARGET "${_triple}")
set(CMAKE_AR "/usr/bin/${_triple}-ar" CACHE FILEPATH "")
set(CMAKE_RANLIB "/usr/bin/${_triple}-ranlib" CACHE FILEPATH "")
set(CMAKE_NM "/usr/bin/${_triple}-nm" CACHE FILEPATH "")
set(CMAKE_OBJDUMP "/usr/bin/${_triple}-objdump" CACHE FILEPATH "")
set(CMAKE_READELF "/usr/bin/${_triple}-readelf" CACHE FILEPATH "")
# The conformance suite's ABI checks read the target's ELF files.
set(MMAPIO_NM "/usr/bin/${_triple}-nm" CACHE FILEPATH "")
set(MMAPIO_READELF "/usr/bin/${_triple}-readelf" CACHE FILEPATH "")
foreach(_kind EXE SHARED MODULE)
  set(CMAKE_${_kind}_LINKER_FLAGS_INIT "--ld-path=/usr/bin/${_triple}-ld")
endforeach()

# Headers and libraries of the target: the cross packages under
# /usr/<triple>, and Debian multiarch packages (libuv1-dev:<arch>, a
# test-only dependency) under /usr/lib/<triple>. Host programs (python3,
# nm) are still searched on the host.
set(CMAKE_FIND_ROOT_PATH "${_cross_root}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_LIBRARY_ARCHITECTURE "${_triple}")
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${_triple}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# qemu-user runs the tests (ctest, and Catch2's test discovery). -L gives
# the target's dynamic loader; LD_LIBRARY_PATH keeps the cross libc under
# /usr/<triple>/lib ahead of a multiarch libc6:<arch> in
# /lib/<triple>: the two are different Debian revisions of glibc, and a
# loader of one with the libc of the other hangs in pthread_create.
set(CMAKE_CROSSCOMPILING_EMULATOR
    "${MMAPIO_CROSS_QEMU};-L;${_cross_root};-E;LD_LIBRARY_PATH=${_cross_root}/lib")
if(MMAPIO_CROSS_PAGE_SIZE)
  list(APPEND CMAKE_CROSSCOMPILING_EMULATOR "-p;${MMAPIO_CROSS_PAGE_SIZE}")
endif()
list(JOIN CMAKE_CROSSCOMPILING_EMULATOR " " _emulator)
set(MMAPIO_CROSS_EMULATOR "${_emulator}" CACHE STRING
    "the emulator command line, for the conformance report" FORCE)

# qemu-user cannot emulate pages larger than the host's for a file mapped
# past its end: a page's tail beyond the end of the file stays unmapped
# on the host. The loader's and libc's .bss lie there, so dynamically
# linked programs fault in libc; statically linked ones are loaded by
# qemu itself. The suite then tests the static library (same objects).
if(MMAPIO_CROSS_PAGE_SIZE)
  set(MMAPIO_TEST_STATIC ON CACHE BOOL "")
endif()
