/* bare_clock_loop: N back-to-back clock_gettime(CLOCK_MONOTONIC) calls timed
 * as a whole, no harness. The side-by-side reference for
 * timers/clock_gettime/monotonic (README: "Harness overhead").
 * Usage: bare_clock_loop [CALLS] [ROUNDS]; prints the best round's ns/call. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char** argv) {
  long calls = argc > 1 ? atol(argv[1]) : 10000000;
  int rounds = argc > 2 ? atoi(argv[2]) : 5;
  if (calls <= 0 || rounds <= 0) {
    fprintf(stderr, "usage: %s [CALLS>0] [ROUNDS>0]\n", argv[0]);
    return 2;
  }
  double best = 0;
  for (int r = 0; r < rounds; ++r) {
    struct timespec ts;
    double start = now_ns();
    for (long i = 0; i < calls; ++i) clock_gettime(CLOCK_MONOTONIC, &ts);
    double per_call = (now_ns() - start) / calls;
    if (r == 0 || per_call < best) best = per_call;
  }
  printf("bare clock_gettime(CLOCK_MONOTONIC): %.2f ns/call (best of %d rounds of %ld)\n", best,
         rounds, calls);
  return 0;
}
