// residency.cc: the residency sources of residency.h.

#include "maps/residency.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "maps/pagemap_abi.h"

namespace oscost {
namespace {

// Pages per pagemap pread: 512 KiB of entries. Larger batches gain little (the
// kernel copies out every PMD's worth anyway) and cost memory.
constexpr uint64_t kPagemapBatchPages = uint64_t{1} << 16;
// mincore() vector bytes per call.
constexpr uint64_t kMincoreBatchPages = uint64_t{1} << 16;
// PAGEMAP_SCAN output regions per ioctl; the walk resumes at walk_end.
constexpr uint64_t kScanRegions = 4096;
// kpagecount lookups: PFNs closer than this are read in one pread (reading a
// few unwanted words is cheaper than another syscall), up to a span of
// kKpagecountMaxSpan words (512 KiB) per pread.
constexpr uint64_t kKpagecountMaxGap = 64;
constexpr uint64_t kKpagecountMaxSpan = uint64_t{1} << 16;

constexpr uint64_t kScanReturnMask67 = pagemap::kPageIsPresent | pagemap::kPageIsSwapped |
                                       pagemap::kPageIsFile | pagemap::kPageIsPfnZero |
                                       pagemap::kPageIsHuge;

const std::vector<ResidencySourceInfo>* MakeSources() {
  return new std::vector<ResidencySourceInfo>{
      {ResidencySource::kPagemap, "pagemap", true, false, false, true,
       "/proc/PID/pagemap in batched preads (512 KiB a read): present, swapped, exclusive, "
       "file/shared, soft-dirty"},
      {ResidencySource::kPagemapKpagecount, "pagemap_kpagecount", true, true, false, true,
       "pagemap plus each present page's map count from /proc/kpagecount (root)"},
      {ResidencySource::kMincore, "mincore", false, false, true, false,
       "mincore(2) on the caller's own mappings: present or not"},
      {ResidencySource::kPagemapScan, "pagemap_scan", false, false, false, true,
       "the PAGEMAP_SCAN ioctl (Linux 6.7+): ranges of present/swapped pages"},
      {ResidencySource::kPagemapPerPage, "pagemap_per_page", true, false, false, true,
       "/proc/PID/pagemap, one 8-byte pread per page (naive baseline)"},
  };
}

// Appends pages to a run list, merging equal neighbours.
class RunBuilder {
 public:
  explicit RunBuilder(std::vector<PageRun>& runs) : runs_(runs) {}
  void Add(uint32_t flags, uint32_t count, uint64_t pages = 1) {
    if (pages == 0) return;
    if (!runs_.empty() && runs_.back().flags == flags && runs_.back().map_count == count) {
      runs_.back().pages += pages;
    } else {
      runs_.push_back(PageRun{next_, pages, flags, count});
    }
    next_ += pages;
  }
  uint64_t next() const { return next_; }

 private:
  std::vector<PageRun>& runs_;
  uint64_t next_ = 0;
};

absl::Status ExitedError(pid_t pid) {
  return absl::NotFoundError(absl::StrCat("process ", pid, " exited during the scan"));
}

// Reads exactly `bytes` at `offset`; returns the bytes read (short only at the
// end of what the kernel will give).
absl::StatusOr<size_t> PreadFull(int fd, void* buf, size_t bytes, uint64_t offset,
                                 absl::string_view what) {
  size_t done = 0;
  while (done < bytes) {
    ssize_t n = pread(fd, static_cast<char*>(buf) + done, bytes - done,
                      static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, absl::StrCat("pread ", what));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

int RoundedPageSize() { return static_cast<int>(sysconf(_SC_PAGESIZE)); }

// Own pagemap entry of a page: used to learn whether PFNs are visible to us
// and which PFN is the shared zero page.
uint64_t OwnPagemapEntry(const void* addr) {
  int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  uint64_t entry = 0;
  uint64_t vpn = reinterpret_cast<uintptr_t>(addr) / RoundedPageSize();
  if (pread(fd, &entry, sizeof(entry), static_cast<off_t>(vpn * pagemap::kEntryBytes)) !=
      sizeof(entry)) {
    entry = 0;
  }
  close(fd);
  return entry;
}

// The PFN of the zero page (a read fault on fresh private anonymous memory
// maps it), or 0 when PFNs are hidden from us.
uint64_t ProbeZeroPfn() {
  size_t ps = RoundedPageSize();
  void* p = mmap(nullptr, ps, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return 0;
  madvise(p, ps, MADV_NOHUGEPAGE);
  volatile const char* c = static_cast<const char*>(p);
  (void)*c;
  uint64_t entry = OwnPagemapEntry(p);
  munmap(p, ps);
  if (!(entry & pagemap::kPresent)) return 0;
  return entry & pagemap::kPfnMask;
}

bool ProbePfnsVisible() {
  // A page we certainly have: this stack frame.
  volatile char here = 1;
  uint64_t entry = OwnPagemapEntry(const_cast<char*>(&here));
  return (entry & pagemap::kPresent) && (entry & pagemap::kPfnMask) != 0;
}

// The PAGEMAP_SCAN return mask this kernel accepts (soft-dirty came after
// 6.7), or an Unimplemented status. Probed once on our own stack.
absl::StatusOr<uint64_t> ProbeScanReturnMask() {
  int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, "open /proc/self/pagemap");
  volatile char here = 1;
  uint64_t page = reinterpret_cast<uintptr_t>(const_cast<char*>(&here)) &
                  ~static_cast<uint64_t>(RoundedPageSize() - 1);
  absl::StatusOr<uint64_t> result = absl::UnimplementedError("PAGEMAP_SCAN: not probed");
  for (uint64_t mask : {kScanReturnMask67 | pagemap::kPageIsSoftDirty, kScanReturnMask67}) {
    pagemap::PageRegion region;
    pagemap::PmScanArg arg{};
    arg.size = sizeof(arg);
    arg.start = page;
    arg.end = page + RoundedPageSize();
    arg.vec = reinterpret_cast<uintptr_t>(&region);
    arg.vec_len = 1;
    arg.category_anyof_mask = pagemap::kPageIsPresent | pagemap::kPageIsSwapped;
    arg.return_mask = mask;
    if (ioctl(fd, pagemap::kPagemapScanIoctl, &arg) >= 0) {
      result = mask;
      break;
    }
    if (errno == ENOTTY) {
      result = absl::UnimplementedError(
          "PAGEMAP_SCAN: ioctl not supported by this kernel (ENOTTY; needs Linux 6.7+)");
      break;
    }
    result = absl::UnimplementedError(
        absl::StrCat("PAGEMAP_SCAN: ioctl rejected (", strerror(errno), ")"));
  }
  close(fd);
  return result;
}

const absl::StatusOr<uint64_t>& ScanReturnMask() {
  static const absl::StatusOr<uint64_t>* mask = new absl::StatusOr<uint64_t>(ProbeScanReturnMask());
  return *mask;
}

// A pagemap entry's bits as Page* flags; zero_pfn (0 when unknown) marks the
// shared zero page.
uint32_t PageFlags(uint64_t e, uint64_t zero_pfn) {
  uint32_t flags = 0;
  if (e & pagemap::kPresent) flags |= kPagePresent;
  if (e & pagemap::kSwap) flags |= kPageSwapped;
  if (e & pagemap::kMmapExclusive) flags |= kPageExclusive;
  if (e & pagemap::kFile) flags |= kPageFileOrShared;
  if (e & pagemap::kSoftDirty) flags |= kPageSoftDirty;
  if ((flags & kPagePresent) && zero_pfn != 0 && (e & pagemap::kPfnMask) == zero_pfn) {
    flags |= kPageZeroPfn;
  }
  return flags;
}

}  // namespace

const std::vector<ResidencySourceInfo>& ResidencySources() {
  static const std::vector<ResidencySourceInfo>* sources = MakeSources();
  return *sources;
}

const ResidencySourceInfo& SourceInfo(ResidencySource source) {
  for (const ResidencySourceInfo& info : ResidencySources()) {
    if (info.source == source) return info;
  }
  return ResidencySources().front();
}

absl::string_view SourceName(ResidencySource source) { return SourceInfo(source).name; }

absl::StatusOr<ResidencySource> FindResidencySource(absl::string_view name) {
  for (const ResidencySourceInfo& info : ResidencySources()) {
    if (name == info.name) return info.source;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown residency source '", name, "'"));
}

absl::Status PagemapScanSupported() { return ScanReturnMask().status(); }

uint64_t Residency::present_pages() const {
  uint64_t n = 0;
  for (const PageRun& run : runs) {
    if (run.flags & kPagePresent) n += run.pages;
  }
  return n;
}

char PageChar(const PageRun& run, const ResidencySourceInfo& info) {
  if (run.flags & kPageSwapped) return 's';
  if (!(run.flags & kPagePresent)) return '.';
  if (run.map_count != kCountUnknown) {
    if (run.map_count >= 10) return 'x';
    return static_cast<char>('0' + run.map_count);
  }
  if (run.flags & kPageZeroPfn) return '0';
  if (info.reports_exclusive && (run.flags & kPageExclusive)) return '1';
  return '?';
}

std::string RenderPages(const Residency& residency) {
  const ResidencySourceInfo& info = SourceInfo(residency.source);
  std::string out;
  out.reserve(residency.pages());
  for (const PageRun& run : residency.runs) out.append(run.pages, PageChar(run, info));
  return out;
}

MemoryUse ComputeMemoryUse(const Residency& r) {
  const ResidencySourceInfo& info = SourceInfo(r.source);
  MemoryUse use;
  use.pss_known = r.counts_available;
  use.uss_known = r.counts_available || info.reports_exclusive;
  const uint64_t ps = r.page_size;
  for (const PageRun& run : r.runs) {
    if (!(run.flags & kPagePresent) || (run.flags & kPageSwapped)) continue;
    if (run.map_count != kCountUnknown) {
      if (run.map_count == 0) continue;  // zero page, PFN map: no struct page to count
      use.rss_bytes += run.pages * ps;
      // smaps: a page mapped once counts whole, else (size << PSS_SHIFT) / mapcount.
      use.pss_fixed += run.pages * ((ps << 12) / std::max<uint32_t>(run.map_count, 1));
      if (run.map_count == 1) use.uss_bytes += run.pages * ps;
      continue;
    }
    if (run.flags & kPageZeroPfn) continue;
    use.rss_bytes += run.pages * ps;
    if (run.flags & kPageExclusive) use.uss_bytes += run.pages * ps;
  }
  use.pss_bytes = use.pss_fixed >> 12;
  return use;
}

PageScanner::PageScanner(PageScanner&& other) noexcept { *this = std::move(other); }

PageScanner& PageScanner::operator=(PageScanner&& other) noexcept {
  if (this != &other) {
    if (pagemap_fd_ >= 0) close(pagemap_fd_);
    if (kpagecount_fd_ >= 0) close(kpagecount_fd_);
    pid_ = other.pid_;
    real_pid_ = other.real_pid_;
    pagemap_fd_ = std::exchange(other.pagemap_fd_, -1);
    kpagecount_fd_ = std::exchange(other.kpagecount_fd_, -1);
    pfns_visible_ = other.pfns_visible_;
    zero_pfn_ = other.zero_pfn_;
    counts_reason_ = std::move(other.counts_reason_);
  }
  return *this;
}

PageScanner::~PageScanner() {
  if (pagemap_fd_ >= 0) close(pagemap_fd_);
  if (kpagecount_fd_ >= 0) close(kpagecount_fd_);
}

absl::StatusOr<PageScanner> PageScanner::Open(pid_t pid) {
  PageScanner s;
  s.pid_ = pid;
  s.real_pid_ = pid == 0 ? getpid() : pid;
  std::string path = pid == 0 ? "/proc/self/pagemap" : absl::StrCat("/proc/", pid, "/pagemap");
  s.pagemap_fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (s.pagemap_fd_ < 0) {
    int err = errno;
    if (err == ENOENT || err == ESRCH) {
      return absl::NotFoundError(absl::StrCat("no process ", pid, " (", path, ")"));
    }
    if (err == EACCES || err == EPERM) {
      return absl::PermissionDeniedError(
          absl::StrCat("may not read ", path, ": ", strerror(err),
                       " (needs the same user and ptrace read access, or root)"));
    }
    return absl::ErrnoToStatus(err, absl::StrCat("open ", path));
  }
  s.pfns_visible_ = ProbePfnsVisible();
  if (s.pfns_visible_) s.zero_pfn_ = ProbeZeroPfn();
  s.kpagecount_fd_ = open("/proc/kpagecount", O_RDONLY | O_CLOEXEC);
  if (s.kpagecount_fd_ < 0) {
    s.counts_reason_ = absl::StrCat("cannot open /proc/kpagecount: ", strerror(errno),
                                    " (map counts need root)");
  } else if (!s.pfns_visible_) {
    s.counts_reason_ = "pagemap PFNs read as 0 (map counts need CAP_SYS_ADMIN)";
    close(s.kpagecount_fd_);
    s.kpagecount_fd_ = -1;
  }
  return s;
}

absl::Status PageScanner::CheckAlive() const {
  // A pagemap read returns 0 bytes once the target's mm is gone; the first
  // page's entry always exists while it lives.
  uint64_t entry;
  ssize_t n = pread(pagemap_fd_, &entry, sizeof(entry), 0);
  if (n == sizeof(entry)) return absl::OkStatus();
  if (n < 0 && errno != ESRCH) return absl::ErrnoToStatus(errno, "pread pagemap");
  return ExitedError(real_pid_);
}

absl::StatusOr<Residency> PageScanner::Scan(uint64_t start, uint64_t end) const {
  return Scan(start, end,
              counts_available() ? ResidencySource::kPagemapKpagecount : ResidencySource::kPagemap);
}

absl::StatusOr<Residency> PageScanner::Scan(uint64_t start, uint64_t end,
                                            ResidencySource source) const {
  Residency r;
  r.source = source;
  r.page_size = RoundedPageSize();
  if (start % r.page_size || end % r.page_size || end < start) {
    return absl::InvalidArgumentError(
        absl::StrFormat("range %#x-%#x is not page aligned", start, end));
  }
  r.start = start;
  r.end = end;
  r.counts_available = source == ResidencySource::kPagemapKpagecount && counts_available();
  if (!r.counts_available) {
    // The privilege problem first: it is what the user can fix.
    r.counts_unavailable_reason =
        !counts_available()
            ? counts_reason_
            : absl::StrCat("the ", SourceName(source), " source reports no map counts");
  }
  if (start >> 63) {
    // The kernel half ([vsyscall]): no page tables of the task to read; every
    // source would fail (EFAULT, ENOMEM) or read nothing. Report it absent.
    RunBuilder(r.runs).Add(0, 0, r.pages());
    return r;
  }
  absl::Status status;
  switch (source) {
    case ResidencySource::kPagemap:
      status = ScanPagemap(r, false);
      break;
    case ResidencySource::kPagemapKpagecount:
      if (!counts_available()) {
        return absl::FailedPreconditionError(
            absl::StrCat("pagemap_kpagecount: counts unavailable: ", counts_reason_));
      }
      status = ScanPagemap(r, true);
      break;
    case ResidencySource::kMincore:
      status = ScanMincore(r);
      break;
    case ResidencySource::kPagemapScan:
      status = ScanPagemapScan(r);
      break;
    case ResidencySource::kPagemapPerPage:
      status = ScanPagemapPerPage(r);
      break;
  }
  if (!status.ok()) return status;
  return r;
}

// Algorithm: batched pagemap with kpagecount lookups.
//   1. pread kPagemapBatchPages entries (512 KiB) of /proc/PID/pagemap at
//      offset (vaddr / page_size) * 8; a short read means the range runs past
//      the task's address space (then the rest is absent) or the process died
//      (CheckAlive tells which).
//   2. With counts: gather the batch's present PFNs, sort them, and cover them
//      with as few /proc/kpagecount preads as possible: neighbours closer than
//      kKpagecountMaxGap words share a read, each read spans at most
//      kKpagecountMaxSpan words. Freshly faulted memory comes from the buddy
//      allocator in runs of nearby PFNs, so a 1 GiB mapping costs a few
//      hundred reads instead of 262144.
//   3. Decode each entry into flags and a count, and merge equal neighbours
//      into runs (a fully populated mapping of exclusive pages is one run).
// The zero page is recognised by its PFN (probed at Open) and given count 0,
// since the kernel does not count its mappings and smaps leaves it out of Rss.
absl::Status PageScanner::ScanPagemap(Residency& r, bool with_counts) const {
  RunBuilder runs(r.runs);
  const uint64_t total = r.pages();
  const uint64_t first_vpn = r.start / r.page_size;
  std::vector<uint64_t> entries(std::min(total, kPagemapBatchPages));
  std::vector<uint32_t> counts;
  std::vector<std::pair<uint64_t, uint32_t>> wanted;  // (pfn, index in batch)
  std::vector<uint64_t> kpc;
  for (uint64_t done = 0; done < total;) {
    uint64_t n = std::min(total - done, kPagemapBatchPages);
    absl::StatusOr<size_t> got =
        PreadFull(pagemap_fd_, entries.data(), n * pagemap::kEntryBytes,
                  (first_vpn + done) * pagemap::kEntryBytes, "pagemap");
    if (!got.ok()) {
      if (absl::IsNotFound(got.status())) return ExitedError(real_pid_);  // ESRCH
      return got.status();
    }
    uint64_t valid = *got / pagemap::kEntryBytes;
    if (valid < n) {
      absl::Status alive = CheckAlive();
      if (!alive.ok()) return alive;
    }
    if (with_counts) {
      counts.assign(valid, kCountUnknown);
      wanted.clear();
      for (uint64_t i = 0; i < valid; ++i) {
        uint64_t e = entries[i];
        uint64_t pfn = e & pagemap::kPfnMask;
        if ((e & pagemap::kPresent) && !(e & pagemap::kSwap) && pfn != 0) {
          wanted.emplace_back(pfn, static_cast<uint32_t>(i));
        }
      }
      std::sort(wanted.begin(), wanted.end());
      for (size_t i = 0; i < wanted.size();) {
        uint64_t lo = wanted[i].first, hi = lo;
        size_t j = i;
        while (j + 1 < wanted.size() && wanted[j + 1].first - hi <= kKpagecountMaxGap &&
               wanted[j + 1].first - lo < kKpagecountMaxSpan) {
          hi = wanted[++j].first;
        }
        kpc.resize(hi - lo + 1);
        absl::StatusOr<size_t> read =
            PreadFull(kpagecount_fd_, kpc.data(), kpc.size() * pagemap::kKpagecountEntryBytes,
                      lo * pagemap::kKpagecountEntryBytes, "/proc/kpagecount");
        if (!read.ok()) return read.status();
        uint64_t have = *read / pagemap::kKpagecountEntryBytes;
        for (; i <= j; ++i) {
          uint64_t k = wanted[i].first - lo;
          if (k < have) {
            counts[wanted[i].second] =
                static_cast<uint32_t>(std::min<uint64_t>(kpc[k], kCountUnknown - 1));
          }
        }
      }
    }
    for (uint64_t i = 0; i < valid; ++i) {
      uint64_t e = entries[i];
      uint32_t flags = PageFlags(e, zero_pfn_);
      uint32_t count = 0;
      if (flags & (kPagePresent | kPageSwapped)) {
        count = with_counts && !(flags & kPageSwapped) ? counts[i] : kCountUnknown;
        if (flags & kPageZeroPfn) count = with_counts ? 0 : kCountUnknown;
      }
      runs.Add(flags, count);
    }
    if (valid < n) {
      runs.Add(0, 0, total - done - valid);  // beyond the task's address space
      break;
    }
    done += n;
  }
  return absl::OkStatus();
}

absl::Status PageScanner::ScanPagemapPerPage(Residency& r) const {
  RunBuilder runs(r.runs);
  const uint64_t total = r.pages();
  const uint64_t first_vpn = r.start / r.page_size;
  for (uint64_t i = 0; i < total; ++i) {
    uint64_t e = 0;
    ssize_t n = pread(pagemap_fd_, &e, sizeof(e),
                      static_cast<off_t>((first_vpn + i) * pagemap::kEntryBytes));
    if (n != sizeof(e)) {
      if (n < 0 && errno == EINTR) { --i; continue; }
      if (n < 0 && errno != ESRCH) return absl::ErrnoToStatus(errno, "pread pagemap");
      absl::Status alive = CheckAlive();
      if (!alive.ok()) return alive;
      runs.Add(0, 0, total - i);
      break;
    }
    uint32_t flags = PageFlags(e, zero_pfn_);
    runs.Add(flags, (flags & (kPagePresent | kPageSwapped)) ? kCountUnknown : 0);
  }
  return absl::OkStatus();
}

absl::Status PageScanner::ScanMincore(Residency& r) const {
  if (real_pid_ != getpid()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "mincore answers only for the caller's own mappings (pid ", getpid(), "), not pid ",
        real_pid_));
  }
  RunBuilder runs(r.runs);
  const uint64_t total = r.pages();
  std::vector<unsigned char> vec(std::min(total, kMincoreBatchPages));
  for (uint64_t done = 0; done < total;) {
    uint64_t n = std::min(total - done, kMincoreBatchPages);
    void* addr = reinterpret_cast<void*>(r.start + done * r.page_size);
    if (mincore(addr, n * r.page_size, vec.data()) != 0) {
      if (errno == ENOMEM) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "mincore: %#x-%#x is not fully mapped", r.start, r.end));
      }
      return absl::ErrnoToStatus(errno, "mincore");
    }
    for (uint64_t i = 0; i < n; ++i) {
      bool present = vec[i] & 1;
      runs.Add(present ? uint32_t{kPagePresent} : 0u, present ? kCountUnknown : 0);
    }
    done += n;
  }
  return absl::OkStatus();
}

absl::Status PageScanner::ScanPagemapScan(Residency& r) const {
  const absl::StatusOr<uint64_t>& mask = ScanReturnMask();
  if (!mask.ok()) return mask.status();
  RunBuilder runs(r.runs);
  std::vector<pagemap::PageRegion> regions(kScanRegions);
  pagemap::PmScanArg arg{};
  arg.size = sizeof(arg);
  arg.start = r.start;
  arg.end = r.end;
  arg.vec = reinterpret_cast<uintptr_t>(regions.data());
  arg.vec_len = regions.size();
  arg.category_anyof_mask = pagemap::kPageIsPresent | pagemap::kPageIsSwapped;
  arg.return_mask = *mask;
  while (arg.start < r.end) {
    int n = ioctl(pagemap_fd_, pagemap::kPagemapScanIoctl, &arg);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ESRCH) return ExitedError(real_pid_);
      int err = errno;
      absl::Status alive = CheckAlive();
      if (!alive.ok()) return alive;
      if (err == ENOTTY) return absl::UnimplementedError("PAGEMAP_SCAN: ENOTTY (needs Linux 6.7+)");
      return absl::ErrnoToStatus(err, absl::StrFormat("PAGEMAP_SCAN %#x-%#x", arg.start, r.end));
    }
    for (int i = 0; i < n; ++i) {
      const pagemap::PageRegion& reg = regions[i];
      uint64_t first = (reg.start - r.start) / r.page_size;
      uint64_t last = (reg.end - r.start) / r.page_size;
      // walk_end can lag behind regions already returned: on 6.18, when the
      // vector fills exactly at the end of the range, walk_end points up to a
      // PMD back and the next call returns those regions again. Clip them.
      if (last <= runs.next()) continue;
      first = std::max(first, runs.next());
      runs.Add(0, 0, first - runs.next());
      uint32_t flags = 0;
      if (reg.categories & pagemap::kPageIsPresent) flags |= kPagePresent;
      if (reg.categories & pagemap::kPageIsSwapped) flags |= kPageSwapped;
      if (reg.categories & pagemap::kPageIsFile) flags |= kPageFileOrShared;
      if (reg.categories & pagemap::kPageIsSoftDirty) flags |= kPageSoftDirty;
      if (reg.categories & pagemap::kPageIsPfnZero) flags |= kPageZeroPfn;
      if (reg.categories & pagemap::kPageIsHuge) flags |= kPageHuge;
      runs.Add(flags, kCountUnknown, last - first);
    }
    if (arg.walk_end <= arg.start) {
      // No progress: an exited process's mm walks nothing.
      absl::Status alive = CheckAlive();
      if (!alive.ok()) return alive;
      break;
    }
    arg.start = arg.walk_end;
  }
  runs.Add(0, 0, r.pages() - runs.next());
  // The ioctl walks an exited process's torn-down mm as if it were empty.
  return CheckAlive();
}

}  // namespace oscost
