/*
 * mmapio_capabilities [FILE]: this build's capability table on this
 * system, one line per capability: name, "yes" or "no", value, reason,
 * separated by tabs, after a header line. Written to FILE, or to standard
 * output. The conformance report (scripts/conformance_report.py) reads it;
 * a porter can run it alone. Exit status 0, or 1 when a query or the
 * output fails.
 */
#include "mmapio.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  FILE *out = argc > 1 ? fopen(argv[1], "w") : stdout;
  if (out == NULL) {
    perror(argv[1]);
    return 1;
  }
  int status = 0;
  fprintf(out, "capability\tsupported\tvalue\treason\n");
  for (int c = 0; c < MMAPIO_CAP_COUNT; c++) {
    mmapio_capability_info info;
    if (mmapio_capability_query((mmapio_capability)c, &info) != 0) {
      fprintf(stderr, "capability %d: %s\n", c, mmapio_last_error()->message);
      status = 1;
      continue;
    }
    /* One line each: a tab or newline in a reason would split it. */
    for (char *r = info.reason; *r != '\0'; r++)
      if (*r == '\t' || *r == '\n')
        *r = ' ';
    fprintf(out, "%s\t%s\t%" PRIu64 "\t%s\n", info.name,
            info.supported ? "yes" : "no", info.value, info.reason);
  }
  if (out != stdout && fclose(out) != 0) {
    perror(argv[1]);
    status = 1;
  }
  return status;
}
