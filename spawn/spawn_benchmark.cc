// spawn_benchmark.cc: what process creation costs, method by method, as the
// parent grows; and what new namespaces add. Names are a public interface
// (README.md, "Process creation"):
//   spawn/fork_exit/rss_mib:N      fork, child _exit(0), parent waitpid
//   spawn/<method>/rss_mib:N       start //spawn:spawn_helper by <method>, wait
//   spawn/clone_ns/<set>           clone into new namespaces, child exits, wait
//
// The rss_mib:N rows are registered size-major (every method at 0 MiB, then
// every method at 64 MiB, ...) so the parent's ballast only grows during a
// run and is touched once per size, not once per method. Google Benchmark's
// ->Complexity() is not used: it needs one family per method with the sizes
// as its args (method-major order: 1 GiB touched six times), aborts when a
// complexity N is 0, fits through the origin (a flat 300 us method would get
// a spurious slope), and adds rows named spawn/<method>/rss_mib_BigO and
// _RMS. Instead each row's ns_per_mib counter is our own least-squares fit.

#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <fcntl.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "benchmark/benchmark.h"
#include "bench/harness.h"
#include "bench/timers.h"
#include "spawn/spawn.h"

namespace oscost {
namespace spawn {
namespace {

// The parent sizes: the issue's {0, 64, 256, 1024} MiB.
constexpr int kRssMib[] = {0, 64, 256, 1024};
constexpr size_t kPageBytes = 4096;
constexpr size_t kMib = 1 << 20;

// CLOCK_MONOTONIC in ns, as signed so that differences stay signed. The
// helper program reads the same clock for child_start_us.
int64_t MonotonicNs() { return static_cast<int64_t>(timer_read::ClockGettime<CLOCK_MONOTONIC>()); }

// The parent's page faults, counted for this thread only (inherit off: the
// children's own faults are not in it).
std::vector<std::pair<std::string, std::string>> ParentFaults() {
  return {{"page_faults", "parent_page_faults"}};
}

// Private anonymous memory the parent maps and touches so fork has real page
// tables to copy. MADV_NOHUGEPAGE keeps it in 4 KiB pages (256 PTEs per MiB)
// whatever the machine's THP setting, so the size means the same everywhere.
class Ballast {
 public:
  // Grows (maps and touches only the difference) or shrinks (starts over)
  // to exactly `mib` MiB.
  bool Resize(size_t mib) {
    if (mib < total_mib_) Release();
    if (mib == total_mib_) return true;
    size_t bytes = (mib - total_mib_) * kMib;
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return false;
    madvise(p, bytes, MADV_NOHUGEPAGE);
    // A nonzero write per page: a private page of its own, not the zero page.
    char* c = static_cast<char*>(p);
    for (size_t i = 0; i < bytes; i += kPageBytes) c[i] = 1;
    regions_.emplace_back(p, bytes);
    total_mib_ = mib;
    return true;
  }
  void Release() {
    for (auto& [p, bytes] : regions_) munmap(p, bytes);
    regions_.clear();
    total_mib_ = 0;
  }

 private:
  std::vector<std::pair<void*, size_t>> regions_;
  size_t total_mib_ = 0;
};

Ballast& TheBallast() {
  static Ballast* ballast = new Ballast;
  return *ballast;
}

// VmRSS of /proc/self/status in MiB: the whole process, binary and heap
// included, so rss_mib:0 shows the benchmark process's own size.
double ReadRssMib() {
  FILE* f = std::fopen("/proc/self/status", "re");
  if (f == nullptr) return -1;
  char line[256];
  double mib = -1;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::strncmp(line, "VmRSS:", 6) == 0) {
      mib = std::strtod(line + 6, nullptr) / 1024.0;  // kB
      break;
    }
  }
  std::fclose(f);
  return mib;
}

// ns_per_mib: least-squares slope of ns per spawn against the measured RSS
// over this method's rows run so far in this process (this one included).
// Rows run size-ascending, so the rss_mib:1024 row's value fits all four.
double RecordAndFit(const std::string& method, int size, double rss_mib, double ns) {
  static auto* points = new std::map<std::string, std::map<int, std::pair<double, double>>>;
  auto& mine = (*points)[method];
  mine[size] = {rss_mib, ns};  // A later trial of the same row replaces it.
  if (mine.size() < 2) return NAN;
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const auto& [unused, xy] : mine) {
    n += 1;
    sx += xy.first;
    sy += xy.second;
    sxx += xy.first * xy.first;
    sxy += xy.first * xy.second;
  }
  double denom = n * sxx - sx * sx;
  if (denom <= 0) return NAN;
  return (n * sxy - sx * sy) / denom;
}

// Sets up the parent's size; false (after SkipWithError) when impossible.
bool PrepareParent(benchmark::State& state, int size, double* rss_mib) {
  if (!TheBallast().Resize(size)) {
    state.SkipWithError(absl::StrCat("cannot map ", size, " MiB: ", std::strerror(errno)).c_str());
    return false;
  }
  *rss_mib = ReadRssMib();
  return true;
}

// The timed loop of every rss_mib row: `spawn_once()` starts one child,
// reaps it and returns the child's first CLOCK_MONOTONIC reading; an error
// skips the benchmark with its message. Reports parent_page_faults,
// rss_mib, child_start_us and ns_per_mib.
template <typename SpawnOnce>
void TimeSpawns(benchmark::State& state, const std::string& method, int size, double rss_mib,
                SpawnOnce spawn_once) {
  BenchmarkPerf perf(ParentFaults());
  double start_sum = 0;
  perf.Start();
  const int64_t begin = MonotonicNs();
  for (auto _ : state) {
    const int64_t t0 = MonotonicNs();
    absl::StatusOr<int64_t> child_ns = spawn_once();
    if (!child_ns.ok()) {
      state.SkipWithError(std::string(child_ns.status().message()).c_str());
      break;
    }
    start_sum += static_cast<double>(*child_ns - t0);
  }
  const int64_t loop_ns = MonotonicNs() - begin;
  perf.Stop();
  perf.Report(state);
  double iters = static_cast<double>(state.iterations());
  if (iters <= 0) return;
  state.counters["rss_mib"] = rss_mib;
  state.counters["child_start_us"] = start_sum / iters / 1000.0;
  double slope = RecordAndFit(method, size, rss_mib, loop_ns / iters);
  if (slope == slope) state.counters["ns_per_mib"] = slope;  // Left out when NaN.
}

// spawn/fork_exit/rss_mib:N: lmbench's lat_proc fork. The child stores its
// first clock reading in a shared page (the only thing it does besides
// _exit) for child_start_us; the parent waits.
void BM_ForkExit(benchmark::State& state, int size) {
  double rss_mib = 0;
  if (!PrepareParent(state, size, &rss_mib)) return;
  static auto* child_ns = static_cast<volatile int64_t*>(mmap(
      nullptr, kPageBytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  if (child_ns == reinterpret_cast<volatile int64_t*>(MAP_FAILED)) {
    state.SkipWithError("mmap of the shared timestamp page failed");
    return;
  }
  TimeSpawns(state, "fork_exit", size, rss_mib, [&]() -> absl::StatusOr<int64_t> {
    pid_t pid = fork();
    if (pid == 0) {
      *child_ns = MonotonicNs();
      _exit(0);
    }
    if (pid < 0) return absl::ErrnoToStatus(errno, "fork");
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return *child_ns;
  });
}

// Reads the helper's "<ns>\n" from the timestamp pipe.
bool ReadChildTimestamp(int fd, int64_t* ns) {
  char buf[64];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf) - 1)) < 0 && errno == EINTR) {
  }
  if (n <= 1 || buf[n - 1] != '\n') return false;
  return absl::SimpleAtoi(absl::string_view(buf, n - 1), ns);
}

// spawn/<method>/rss_mib:N: start the static helper by `method`, wait.
void BM_SpawnHelper(benchmark::State& state, MethodInfo method, int size) {
  absl::StatusOr<std::string> helper = FindSpawnHelper();
  if (!helper.ok()) {
    state.SkipWithError(std::string(helper.status().message()).c_str());
    return;
  }
  double rss_mib = 0;
  if (!PrepareParent(state, size, &rss_mib)) return;
  int stamps[2];
  if (pipe2(stamps, O_CLOEXEC) != 0) {
    state.SkipWithError("pipe2 failed");
    return;
  }
  Command cmd;
  cmd.path = *helper;
  cmd.stdout_fd = stamps[1];
  TimeSpawns(state, std::string(method.name), size, rss_mib, [&]() -> absl::StatusOr<int64_t> {
    absl::StatusOr<int> code = Run(method.method, cmd);
    if (!code.ok()) return code.status();
    int64_t child_ns = 0;
    if (*code != 0 || !ReadChildTimestamp(stamps[0], &child_ns)) {
      return absl::InternalError(
          absl::StrCat("spawn_helper exited ", *code, " or wrote no timestamp"));
    }
    return child_ns;
  });
  close(stamps[0]);
  close(stamps[1]);
}

// spawn/clone_ns/<set>: a fork-like child in new namespaces, exiting at once.
// The parent is at its own size (the ballast is released first).
void BM_CloneNs(benchmark::State& state, NamespaceSet set) {
  TheBallast().Release();
  absl::StatusOr<int> probe = CloneInNamespaces(set.clone_flags);
  if (!probe.ok()) {
    state.SkipWithError(absl::StrCat("not permitted here: ", probe.status().message(), " (",
                                     set.name, " needs ", set.privilege, ")")
                            .c_str());
    return;
  }
  BenchmarkPerf perf(ParentFaults());
  perf.Start();
  for (auto _ : state) {
    absl::StatusOr<int> code = CloneInNamespaces(set.clone_flags);
    if (!code.ok() || *code != 0) {
      state.SkipWithError(code.ok() ? "child exited nonzero"
                                    : std::string(code.status().message()).c_str());
      break;
    }
  }
  perf.Stop();
  perf.Report(state);
}

int RegisterSpawnBenchmarks() {
  for (int size : kRssMib) {
    std::string suffix = absl::StrCat("/rss_mib:", size);
    benchmark::RegisterBenchmark(absl::StrCat("spawn/fork_exit", suffix).c_str(), BM_ForkExit,
                                 size)
        ->Unit(benchmark::kMicrosecond);
    for (const MethodInfo& m : Methods()) {
      benchmark::RegisterBenchmark(absl::StrCat("spawn/", m.name, suffix).c_str(), BM_SpawnHelper,
                                   m, size)
          ->Unit(benchmark::kMicrosecond);
    }
  }
  for (const NamespaceSet& set : NamespaceSets()) {
    benchmark::RegisterBenchmark(absl::StrCat("spawn/clone_ns/", set.name).c_str(), BM_CloneNs,
                                 set)
        ->Unit(benchmark::kMicrosecond);
  }
  return 0;
}

const int registered = RegisterSpawnBenchmarks();

}  // namespace
}  // namespace spawn
}  // namespace oscost
