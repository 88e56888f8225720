/* bare_fork_loop: lmbench's `lat_proc fork` loop with no harness: fork, the
 * child exits at once (exit(1), as lat_proc's child does), the parent waits
 * for it (`while (wait(0) != pid)`, as lat_proc does), timed as a whole.
 * The side-by-side reference for spawn/fork_exit/rss_mib:0 (spawn/README.md).
 * Optional MIB maps and touches that much private anonymous memory first
 * (4 KiB pages, MADV_NOHUGEPAGE), like spawn/fork_exit/rss_mib:MIB.
 * Usage: bare_fork_loop [FORKS] [ROUNDS] [MIB]; prints the best round's
 * microseconds per fork+exit+wait. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char** argv) {
  long forks = argc > 1 ? atol(argv[1]) : 2000;
  int rounds = argc > 2 ? atoi(argv[2]) : 5;
  long mib = argc > 3 ? atol(argv[3]) : 0;
  if (forks <= 0 || rounds <= 0 || mib < 0) {
    fprintf(stderr, "usage: %s [FORKS>0] [ROUNDS>0] [MIB>=0]\n", argv[0]);
    return 2;
  }
  if (mib > 0) {
    size_t bytes = (size_t)mib << 20;
    char* p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      perror("mmap");
      return 1;
    }
    madvise(p, bytes, MADV_NOHUGEPAGE);
    for (size_t i = 0; i < bytes; i += 4096) p[i] = 1;
  }
  double best = 0;
  for (int r = 0; r < rounds; ++r) {
    double start = now_ns();
    for (long i = 0; i < forks; ++i) {
      pid_t pid = fork();
      if (pid < 0) {
        perror("fork");
        return 1;
      }
      if (pid == 0) exit(1);
      while (wait(0) != pid) {
      }
    }
    double per_fork = (now_ns() - start) / forks / 1000.0;
    if (r == 0 || per_fork < best) best = per_fork;
  }
  printf("bare fork+exit+wait (lat_proc fork), %ld MiB touched: %.2f us/fork (best of %d rounds of %ld)\n",
         mib, best, rounds, forks);
  return 0;
}
