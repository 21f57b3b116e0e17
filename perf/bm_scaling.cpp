// Group 8: scaling. The bulk families of groups 1-3 again, at the sizes
// those groups do not measure, so that together they cover 4 KiB to
// 1 GiB in steps of 16 (4 KiB, 64 KiB, 1 MiB, 16 MiB, 256 MiB, 1 GiB);
// and the read paths over 2 threads sharing one handle (1 thread is in
// group 2). Cost must grow linearly with the work: scripts/report.py
// fits the slope of time against size for every family.
#include "harness.hpp"

namespace mperf {

void register_scaling() {
  // Group 2 measures 1, 16, 256 MiB (quick: 1, 16 MiB).
  reads_register_seq(pick({4 * KiB, 64 * KiB, 1 * GiB}, {4 * KiB, 64 * KiB}),
                     1);
  // Group 1 measures 16 MiB.
  chunks_register_over(
      pick({64 * KiB, 1 * MiB, 256 * MiB, 1 * GiB}, {64 * KiB, 1 * MiB}),
      4 * KiB);
  // Group 3 measures 1, 8, 32 MiB and 1 GiB (quick: not 1 GiB).
  const Sizes touch = pick({4 * KiB, 64 * KiB, 256 * MiB}, {4 * KiB, 64 * KiB});
  touch_register("warm", touch);
  touch_register("cold", touch);
  // Two threads on one shared handle.
  reads_register_seq({16 * MiB}, 2);
  reads_register_random({64, 4 * KiB}, 2);
}

} // namespace mperf
