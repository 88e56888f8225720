/* bare_fork_loop: lmbench's `lat_proc fork` loop with no harness: fork, the
 * child exits at once (exit(1), as lat_proc's child does), the parent waits
 * for it (`while (wait(0) != pid)`, as lat_proc does), timed as a whole.
 * The side-by-side reference for spawn/fork_exit/rss_mib:0 (README.md, "Process creation").
 * Optional MIB maps and touches that much private anonymous memory first
 * (4 KiB pages, MADV_NOHUGEPAGE), like spawn/fork_exit/rss_mib:MIB.
 * EXIT "_exit" makes the child _exit(0) instead, as spawn/fork_exit does:
 * the same thing for this small program, but not once LD_PRELOAD has loaded
 * C++ libraries whose destructors exit() would run.
 * Usage: bare_fork_loop [FORKS] [ROUNDS] [MIB] [exit|_exit]; prints the best
 * round's microseconds per fork+exit+wait and the number of mappings. */
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
  int raw_exit = argc > 4 && strcmp(argv[4], "_exit") == 0;
  if (forks <= 0 || rounds <= 0 || mib < 0 ||
      (argc > 4 && !raw_exit && strcmp(argv[4], "exit") != 0)) {
    fprintf(stderr, "usage: %s [FORKS>0] [ROUNDS>0] [MIB>=0] [exit|_exit]\n", argv[0]);
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
      if (pid == 0) {
        if (raw_exit) _exit(0);
        exit(1);
      }
      while (wait(0) != pid) {
      }
    }
    double per_fork = (now_ns() - start) / forks / 1000.0;
    if (r == 0 || per_fork < best) best = per_fork;
  }
  /* Mappings (VMAs) are what fork walks besides the page tables. */
  int mappings = 0;
  FILE* maps = fopen("/proc/self/maps", "r");
  if (maps != NULL) {
    int c;
    while ((c = fgetc(maps)) != EOF) mappings += c == '\n';
    fclose(maps);
  }
  printf("bare fork+%s+wait (lat_proc fork), %ld MiB touched, %d mappings: %.2f us/fork "
         "(best of %d rounds of %ld)\n",
         raw_exit ? "_exit" : "exit", mib, mappings, best, rounds, forks);
  return 0;
}
