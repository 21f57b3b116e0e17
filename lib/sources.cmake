# The library's one definition: which source files make it on this system
# and how they are compiled. lib/CMakeLists.txt builds the library from it;
# the fuzz targets (fuzz/) compile the same sources with their
# instrumentation, and the perf harness's standalone build
# (perf/CMakeLists.txt, used by scripts/gate2.sh) includes this file from
# the tree it benchmarks. lib/README.md says what each file does.
#
# The platform is chosen here, once: the logic files and the unix files
# every unix shares, then unix/linux.c and unix/linux_procfs.c on Linux,
# or unix/posix.c on any other system and when MMAPIO_POSIX_ONLY is set.

include(CheckCCompilerFlag)

# The system's own files, and the definitions that say which system the
# platform layer (and anything that includes its headers) is built for,
# in <files_var> and <defs_var>.
function(mmapio_platform files_var defs_var)
  if(CMAKE_SYSTEM_NAME STREQUAL "Linux" AND NOT MMAPIO_POSIX_ONLY)
    set(${files_var} unix/linux.c unix/linux_procfs.c PARENT_SCOPE)
    set(${defs_var} MMAPIO_OS_LINUX=1 PARENT_SCOPE)
  else()
    set(${files_var} unix/posix.c PARENT_SCOPE)
    set(${defs_var} "" PARENT_SCOPE)
  endif()
endfunction()

# Adds the library's sources to <target> with the include directories and
# compile definitions they need. _FILE_OFFSET_BITS=64: files past 2 GiB in
# 32-bit builds too (the public header uses no off_t, so this does not
# reach the library's users).
function(mmapio_library_sources target)
  set(dir "${CMAKE_CURRENT_FUNCTION_LIST_DIR}")
  # The logic files, then the unix files every unix shares.
  set(files
      access.c advise.c anon.c async.c capability.c create.c errors.c file_ops.c
      file_util.c flush.c flush_thread.c guard.c hints.c hugepage.c iter.c
      lock.c open.c pin.c region.c resize.c segment.c stream.c touch.c
      walk_slots.c watch.c
      unix/files.c unix/ipc.c unix/memory.c unix/signals.c unix/syscalls.c)
  mmapio_platform(os_files os_defs)
  list(APPEND files ${os_files})
  list(TRANSFORM files PREPEND "${dir}/src/")
  target_sources(${target} PRIVATE ${files})
  target_include_directories(${target} PRIVATE "${dir}/include" "${dir}/src")
  target_compile_definitions(${target} PRIVATE _GNU_SOURCE
                             _FILE_OFFSET_BITS=64 ${os_defs})
  # touch_pages' loops over mapped pages start on 64-byte boundaries, as
  # the perf harness's do (perf/why.md): a change elsewhere in touch.c
  # must not move them across a fetch block, in any build that is
  # measured (the project's, and the harness's standalone one of gate 2).
  check_c_compiler_flag(-falign-loops=64 MMAPIO_HAVE_ALIGN_LOOPS)
  if(MMAPIO_HAVE_ALIGN_LOOPS)
    set_source_files_properties("${dir}/src/touch.c" TARGET_DIRECTORY
                                ${target} PROPERTIES COMPILE_OPTIONS
                                -falign-loops=64)
  endif()
endfunction()

# For code that looks inside the library (the seam tests replace entries
# of its system-call table): its internal headers, compiled for the same
# system as the library.
function(mmapio_library_internals target)
  set(dir "${CMAKE_CURRENT_FUNCTION_LIST_DIR}")
  mmapio_platform(os_files os_defs)
  target_include_directories(${target} PRIVATE "${dir}/src")
  target_compile_definitions(${target} PRIVATE ${os_defs})
endfunction()
