/* spawn_helper: the program the spawn/<method>/rss_mib:N benchmarks start.
 * Its first act in main() reads CLOCK_MONOTONIC and writes it to stdout as
 * decimal nanoseconds and a newline (one write, no stdio), then it exits 0.
 * The parent subtracts the time it called the spawn method: child_start_us.
 * Linked statically (-static) so no dynamic loader runs before main() and
 * the cost measured is process creation, not library loading. */
#include <time.h>
#include <unistd.h>

int main(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  unsigned long long ns = (unsigned long long)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
  char buf[24];
  int pos = sizeof(buf);
  buf[--pos] = '\n';
  do {
    buf[--pos] = (char)('0' + ns % 10);
    ns /= 10;
  } while (ns != 0);
  /* Nothing useful to do when stdout is closed: the parent notices the
   * missing timestamp. */
  if (write(1, buf + pos, sizeof(buf) - pos) < 0) return 0;
  return 0;
}
