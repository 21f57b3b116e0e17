# Settings every mmapio build shares, whether the project is configured
# from the top (CMakeLists.txt) or the conformance suite alone against an
# installed library (conformance/CMakeLists.txt): the language standards,
# the warning set, and 64-bit file offsets.

set(CMAKE_C_STANDARD 11)
set(CMAKE_C_STANDARD_REQUIRED ON)
set(CMAKE_C_EXTENSIONS OFF)
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)

# Warning set shared by every target (C and C++); both gcc 12 and clang 14
# accept it. MMAPIO_WERROR (default ON) makes warnings errors.
option(MMAPIO_WERROR "Treat compiler warnings as errors" ON)
set(MMAPIO_WARNING_FLAGS -Wall -Wextra -Wpedantic)
if(MMAPIO_WERROR)
  list(APPEND MMAPIO_WARNING_FLAGS -Werror)
endif()

# 64-bit file offsets everywhere, 32-bit builds included (SPEC: 64-bit
# offsets with a 32-bit size_t). The public header uses no off_t, so this
# does not reach the library's users.
add_compile_definitions(_FILE_OFFSET_BITS=64)
