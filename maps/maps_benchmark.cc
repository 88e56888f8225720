// maps_benchmark.cc: parsing /proc/self/maps, and scanning residency with
// every source of the table (residency.h) over 4 MiB, 1 GiB and 64 GiB.
// Names are a public interface (see README.md):
//   maps/parse/mappings:N                 N in {100, 10000}
//   maps/residency/<source>/pages:N       N in {1024, 262144, 16777216}
// Counters: pages_per_second (residency), mappings_per_second (parse).

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "benchmark/benchmark.h"
#include "maps/maps.h"
#include "maps/residency.h"

namespace oscost {
namespace {

const uint64_t kPage = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));

// Mappings of size N (pages) are fully populated up to this size; larger ones
// are MAP_NORESERVE and sparse, one page touched in every kSparseStride.
constexpr uint64_t kFullyPopulatedMaxPages = 262144;  // 1 GiB
constexpr uint64_t kSparseStride = 512;               // one page per 2 MiB

int CountMappings() {
  absl::StatusOr<std::string> text = ReadMapsText(0);
  if (!text.ok()) return -1;
  int lines = 0;
  for (char c : *text) lines += c == '\n';
  return lines;
}

// Brings this process to exactly `want` mappings by splitting a PROT_NONE
// reservation with single-page mprotects (each inner split adds two VMAs,
// the tail page one). Released by the benchmark's Teardown.
class MappingCountFixture {
 public:
  absl::Status Ensure(int want) {
    if (want_ == want && CountMappings() == want) return absl::OkStatus();
    Release();
    want_ = want;
    pages_ = 2 * static_cast<uint64_t>(want) + 2;
    void* p = mmap(nullptr, pages_ * kPage, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return absl::ErrnoToStatus(errno, "mmap reservation");
    base_ = static_cast<char*>(p);
    uint64_t next_odd = 1;
    bool tail_used = false;
    for (int attempt = 0; attempt < 8; ++attempt) {
      int have = CountMappings();
      if (have == want) return absl::OkStatus();
      if (have > want) break;
      int missing = want - have;
      for (; missing >= 2 && next_odd < pages_ - 2; missing -= 2, next_odd += 2) {
        mprotect(base_ + next_odd * kPage, kPage, PROT_READ);
      }
      if (missing == 1 && !tail_used) {
        mprotect(base_ + (pages_ - 1) * kPage, kPage, PROT_READ);
        tail_used = true;
      }
    }
    int have = CountMappings();
    if (have == want) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat("could not bring the process to ", want, " mappings (has ", have, ")"));
  }
  void Release() {
    if (base_) munmap(base_, pages_ * kPage);
    base_ = nullptr;
    want_ = -1;
  }

 private:
  char* base_ = nullptr;
  uint64_t pages_ = 0;
  int want_ = -1;
};

MappingCountFixture& Mappings() {
  static MappingCountFixture* f = new MappingCountFixture;
  return *f;
}

// maps/parse/mappings:N: parse the text of /proc/self/maps with N mappings
// (ParseMaps; reading the text is outside the timed region, its cost is the
// untimed counter read_us). The process is brought to N mappings when it has
// fewer; when it already has more (this binary maps ~270 with Debian's shared
// abseil), the first N lines of its maps are parsed.
void BM_ParseMaps(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  if (CountMappings() < n) {
    absl::Status ready = Mappings().Ensure(n);
    if (!ready.ok()) {
      state.SkipWithError(std::string(ready.message()).c_str());
      return;
    }
  }
  timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  absl::StatusOr<std::string> text = ReadMapsText(0);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (!text.ok()) {
    state.SkipWithError(std::string(text.status().message()).c_str());
    return;
  }
  size_t cut = 0;
  for (int line = 0; line < n && cut != std::string::npos; ++line) {
    cut = text->find('\n', cut);
    if (cut != std::string::npos) ++cut;
  }
  if (cut == std::string::npos) {
    state.SkipWithError("fewer mappings than wanted");
    return;
  }
  text->resize(cut);
  for (auto _ : state) {
    absl::StatusOr<std::vector<Mapping>> maps = ParseMaps(*text);
    if (!maps.ok() || maps->size() != static_cast<size_t>(n)) {
      state.SkipWithError(maps.ok() ? "wrong mapping count"
                                    : std::string(maps.status().message()).c_str());
      break;
    }
    benchmark::DoNotOptimize(maps->data());
  }
  state.counters["mappings_per_second"] =
      benchmark::Counter(n, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["read_us"] = (t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) / 1e3;
}

// The scanned mapping: created before a benchmark's timed loop and released
// by its Teardown, so that no later benchmark of //bench:all runs in a process
// carrying these page tables: spawn's forks copy every one of them (64 GiB
// sparse leaves 32768 page-table pages; forking with them costs ~80 ms, not
// ~0.4 ms). Touching 1 GiB again per benchmark costs a fraction of a second,
// outside the timed region.
class ResidencyFixture {
 public:
  absl::StatusOr<char*> Get(uint64_t pages) {
    if (pages == pages_ && base_) return base_;
    if (base_) munmap(base_, pages_ * kPage);
    base_ = nullptr;
    pages_ = pages;
    void* p = mmap(nullptr, pages * kPage, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return absl::ErrnoToStatus(errno, "mmap");
    base_ = static_cast<char*>(p);
    // Small pages only: THP would make the sparse mapping dense.
    madvise(base_, pages * kPage, MADV_NOHUGEPAGE);
    for (uint64_t i = 0; i < pages; i += Stride(pages)) base_[i * kPage] = 1;
    return base_;
  }
  void Release() {
    if (base_) munmap(base_, pages_ * kPage);
    base_ = nullptr;
    pages_ = 0;
  }
  static uint64_t Stride(uint64_t pages) {
    return pages > kFullyPopulatedMaxPages ? kSparseStride : 1;
  }

 private:
  char* base_ = nullptr;
  uint64_t pages_ = 0;
};

ResidencyFixture& Residencies() {
  static ResidencyFixture* f = new ResidencyFixture;
  return *f;
}

void ReleaseMappingCount(const benchmark::State&) { Mappings().Release(); }
void ReleaseResidency(const benchmark::State&) { Residencies().Release(); }

void BM_Residency(benchmark::State& state, ResidencySource source) {
  const uint64_t pages = static_cast<uint64_t>(state.range(0));
  if (source == ResidencySource::kPagemapScan) {
    absl::Status s = PagemapScanSupported();
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      return;
    }
  }
  absl::StatusOr<PageScanner> scanner = PageScanner::Open(0);
  if (!scanner.ok()) {
    state.SkipWithError(std::string(scanner.status().message()).c_str());
    return;
  }
  if (SourceInfo(source).reports_counts && !scanner->counts_available()) {
    state.SkipWithError(scanner->counts_unavailable_reason().c_str());
    return;
  }
  absl::StatusOr<char*> base = Residencies().Get(pages);
  if (!base.ok()) {
    state.SkipWithError(std::string(base.status().message()).c_str());
    return;
  }
  const uint64_t start = reinterpret_cast<uintptr_t>(*base);
  const uint64_t end = start + pages * kPage;
  // One untimed scan checks the source sees what we touched.
  absl::StatusOr<Residency> check = scanner->Scan(start, end, source);
  const uint64_t want = (pages + ResidencyFixture::Stride(pages) - 1) / ResidencyFixture::Stride(pages);
  if (!check.ok() || check->present_pages() != want) {
    state.SkipWithError(
        check.ok() ? absl::StrFormat("%d pages present, expected %d", check->present_pages(), want)
                         .c_str()
                   : std::string(check.status().message()).c_str());
    return;
  }
  for (auto _ : state) {
    absl::StatusOr<Residency> r = scanner->Scan(start, end, source);
    if (!r.ok()) {
      state.SkipWithError(std::string(r.status().message()).c_str());
      break;
    }
    benchmark::DoNotOptimize(r->runs.data());
  }
  state.counters["pages_per_second"] =
      benchmark::Counter(static_cast<double>(pages), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["present_pages"] = static_cast<double>(want);
}

int RegisterMapsBenchmarks() {
  for (int n : {100, 10000}) {
    benchmark::RegisterBenchmark("maps/parse", BM_ParseMaps)
        ->ArgName("mappings")
        ->Arg(n)
        ->Teardown(ReleaseMappingCount);
  }
  for (int64_t pages : {int64_t{1024}, int64_t{262144}, int64_t{16777216}}) {
    for (const ResidencySourceInfo& info : ResidencySources()) {
      benchmark::RegisterBenchmark(absl::StrCat("maps/residency/", info.name).c_str(),
                                   BM_Residency, info.source)
          ->ArgName("pages")
          ->Arg(pages)
          ->Unit(benchmark::kMicrosecond)
          ->Teardown(ReleaseResidency);
    }
  }
  return 0;
}

const int registered = RegisterMapsBenchmarks();

}  // namespace
}  // namespace oscost
