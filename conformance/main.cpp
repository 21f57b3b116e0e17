// The Catch2 runner of both conformance binaries, plus child dispatch:
// `<binary> --mmapio-child NAME ARGS...` runs the child function registered
// as NAME (see MMAPIO_CHILD in support_proc.hpp) and exits with its result.
// IPC tests start children that way by re-executing /proc/self/exe.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstring>

#include "support_proc.hpp"

int main(int argc, char **argv) {
  if (argc >= 3 && std::strcmp(argv[1], "--mmapio-child") == 0)
    return mmapio_test::run_registered_child(argv[2], argc - 3, argv + 3);
  return Catch::Session().run(argc, argv);
}
