#include "vmexit/kvm.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace oscost {
namespace kvm {

namespace {

constexpr int kKvmApiVersion = 12;
// KVM_SET_TSS_ADDR: three pages just below 4 GiB, outside any slot we map
// (the address QEMU and the KVM selftests use).
constexpr uint64_t kTssAddr = 0xfffbd000;
// How often the watchdog looks at armed vCPUs (and re-kicks a vCPU that has
// timed out but not yet left KVM_RUN).
constexpr auto kWatchdogPeriod = std::chrono::milliseconds(10);

// Linux 6.1's uapi headers declare flexible arrays with __DECLARE_FLEX_ARRAY,
// an empty struct plus the array; an empty struct is one byte in C++ (zero
// in C), so in C++ sizeof(kvm_cpuid2) is 12, not 8, the entries sit at the
// wrong offset and KVM_GET_SUPPORTED_CPUID/KVM_SET_CPUID2 encode the wrong
// size (KVM answers EINVAL). We spell out the C layouts of the structs with
// flexible arrays that we use.
struct CpuidHeader {  // struct kvm_cpuid2 without its entries
  uint32_t nent;
  uint32_t padding;
};
static_assert(sizeof(CpuidHeader) == 8, "kvm_cpuid2's C layout");
constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, CpuidHeader);
constexpr unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, CpuidHeader);
struct StatsDesc {  // struct kvm_stats_desc without its name
  uint32_t flags;
  int16_t exponent;
  uint16_t size;
  uint32_t offset;
  uint32_t bucket_size;
};
static_assert(sizeof(StatsDesc) == 16, "kvm_stats_desc's C layout");

absl::Status IoctlError(absl::string_view ioctl) {
  return absl::ErrnoToStatus(errno, absl::StrCat("ioctl ", ioctl));
}

}  // namespace

const std::vector<ExitReasonInfo>& ExitReasons() {
  static const auto* table = new std::vector<ExitReasonInfo>{
      {KVM_EXIT_UNKNOWN, "KVM_EXIT_UNKNOWN", ExitKind::kFatal, "the hardware exit reason is unknown to KVM"},
      {KVM_EXIT_EXCEPTION, "KVM_EXIT_EXCEPTION", ExitKind::kFatal, "a guest exception KVM cannot handle"},
      {KVM_EXIT_IO, "KVM_EXIT_IO", ExitKind::kServed, "port I/O nobody in the kernel claimed"},
      {KVM_EXIT_HYPERCALL, "KVM_EXIT_HYPERCALL", ExitKind::kUnexpected, "a hypercall forwarded to user space"},
      {KVM_EXIT_DEBUG, "KVM_EXIT_DEBUG", ExitKind::kUnexpected, "a debug event (we set no guest debugging)"},
      {KVM_EXIT_HLT, "KVM_EXIT_HLT", ExitKind::kServed, "HLT with no in-kernel irqchip"},
      {KVM_EXIT_MMIO, "KVM_EXIT_MMIO", ExitKind::kServed, "an access to guest-physical memory no slot backs"},
      {KVM_EXIT_IRQ_WINDOW_OPEN, "KVM_EXIT_IRQ_WINDOW_OPEN", ExitKind::kUnexpected, "the guest can take an interrupt"},
      {KVM_EXIT_SHUTDOWN, "KVM_EXIT_SHUTDOWN", ExitKind::kFatal, "shutdown: a triple fault"},
      {KVM_EXIT_FAIL_ENTRY, "KVM_EXIT_FAIL_ENTRY", ExitKind::kFatal, "VM entry failed: invalid guest state"},
      {KVM_EXIT_INTR, "KVM_EXIT_INTR", ExitKind::kUnexpected, "interrupted by a signal"},
      {KVM_EXIT_SET_TPR, "KVM_EXIT_SET_TPR", ExitKind::kUnexpected, "TPR write"},
      {KVM_EXIT_TPR_ACCESS, "KVM_EXIT_TPR_ACCESS", ExitKind::kUnexpected, "TPR access reporting"},
      {KVM_EXIT_S390_SIEIC, "KVM_EXIT_S390_SIEIC", ExitKind::kUnexpected, "s390 only"},
      {KVM_EXIT_S390_RESET, "KVM_EXIT_S390_RESET", ExitKind::kUnexpected, "s390 only"},
      {KVM_EXIT_DCR, "KVM_EXIT_DCR", ExitKind::kUnexpected, "deprecated"},
      {KVM_EXIT_NMI, "KVM_EXIT_NMI", ExitKind::kUnexpected, "NMI"},
      {KVM_EXIT_INTERNAL_ERROR, "KVM_EXIT_INTERNAL_ERROR", ExitKind::kFatal, "KVM failed, e.g. to emulate an instruction"},
      {KVM_EXIT_OSI, "KVM_EXIT_OSI", ExitKind::kUnexpected, "powerpc only"},
      {KVM_EXIT_PAPR_HCALL, "KVM_EXIT_PAPR_HCALL", ExitKind::kUnexpected, "powerpc only"},
      {KVM_EXIT_S390_UCONTROL, "KVM_EXIT_S390_UCONTROL", ExitKind::kUnexpected, "s390 only"},
      {KVM_EXIT_WATCHDOG, "KVM_EXIT_WATCHDOG", ExitKind::kUnexpected, "powerpc only"},
      {KVM_EXIT_S390_TSCH, "KVM_EXIT_S390_TSCH", ExitKind::kUnexpected, "s390 only"},
      {KVM_EXIT_EPR, "KVM_EXIT_EPR", ExitKind::kUnexpected, "powerpc only"},
      {KVM_EXIT_SYSTEM_EVENT, "KVM_EXIT_SYSTEM_EVENT", ExitKind::kFatal, "the guest asked for reset, shutdown or crash"},
      {KVM_EXIT_S390_STSI, "KVM_EXIT_S390_STSI", ExitKind::kUnexpected, "s390 only"},
      {KVM_EXIT_IOAPIC_EOI, "KVM_EXIT_IOAPIC_EOI", ExitKind::kUnexpected, "split irqchip EOI"},
      {KVM_EXIT_HYPERV, "KVM_EXIT_HYPERV", ExitKind::kUnexpected, "Hyper-V emulation"},
      {KVM_EXIT_ARM_NISV, "KVM_EXIT_ARM_NISV", ExitKind::kUnexpected, "arm only"},
      {KVM_EXIT_X86_RDMSR, "KVM_EXIT_X86_RDMSR", ExitKind::kUnexpected, "MSR read forwarded to user space"},
      {KVM_EXIT_X86_WRMSR, "KVM_EXIT_X86_WRMSR", ExitKind::kUnexpected, "MSR write forwarded to user space"},
      {KVM_EXIT_DIRTY_RING_FULL, "KVM_EXIT_DIRTY_RING_FULL", ExitKind::kUnexpected, "dirty ring full"},
      {KVM_EXIT_AP_RESET_HOLD, "KVM_EXIT_AP_RESET_HOLD", ExitKind::kUnexpected, "SEV-ES AP reset hold"},
      {KVM_EXIT_X86_BUS_LOCK, "KVM_EXIT_X86_BUS_LOCK", ExitKind::kUnexpected, "bus lock detected"},
      {KVM_EXIT_XEN, "KVM_EXIT_XEN", ExitKind::kUnexpected, "Xen emulation"},
      {KVM_EXIT_RISCV_SBI, "KVM_EXIT_RISCV_SBI", ExitKind::kUnexpected, "riscv only"},
      {KVM_EXIT_RISCV_CSR, "KVM_EXIT_RISCV_CSR", ExitKind::kUnexpected, "riscv only"},
      {KVM_EXIT_NOTIFY, "KVM_EXIT_NOTIFY", ExitKind::kFatal, "the guest stalled inside one instruction"},
  };
  return *table;
}

const ExitReasonInfo* FindExitReason(uint32_t reason) {
  const std::vector<ExitReasonInfo>& table = ExitReasons();
  // The table is indexed by reason; check rather than trust it.
  if (reason < table.size() && table[reason].reason == reason) return &table[reason];
  return nullptr;
}

std::string ExitReasonName(uint32_t reason) {
  const ExitReasonInfo* info = FindExitReason(reason);
  if (info != nullptr) return std::string(info->name);
  return absl::StrCat("KVM_EXIT_<unknown ", reason, ">");
}

// ---- Kvm. ---------------------------------------------------------------

absl::StatusOr<Kvm> Kvm::Open() {
  int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    std::string hint = err == ENOENT   ? " (no KVM here: module not loaded, or no virtualization)"
                       : err == EACCES ? " (not permitted: join the kvm group or run as root)"
                                       : "";
    return absl::ErrnoToStatus(err, absl::StrCat("open /dev/kvm", hint));
  }
  Kvm kvm(fd);
  int version = ioctl(fd, KVM_GET_API_VERSION, 0);
  if (version != kKvmApiVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("KVM_GET_API_VERSION is ", version, ", want ", kKvmApiVersion));
  }
  return kvm;
}

Kvm& Kvm::operator=(Kvm&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

Kvm::~Kvm() {
  if (fd_ >= 0) close(fd_);
}

int Kvm::CheckExtension(int capability) const {
  int r = ioctl(fd_, KVM_CHECK_EXTENSION, capability);
  return r < 0 ? 0 : r;
}

absl::StatusOr<size_t> Kvm::VcpuMmapSize() const {
  int size = ioctl(fd_, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (size < 0) return IoctlError("KVM_GET_VCPU_MMAP_SIZE");
  return static_cast<size_t>(size);
}

absl::StatusOr<std::vector<uint8_t>> Kvm::SupportedCpuid() const {
  // Grow until KVM stops saying E2BIG.
  for (uint32_t n = 64; n <= 4096; n *= 2) {
    std::vector<uint8_t> buf(sizeof(CpuidHeader) + n * sizeof(kvm_cpuid_entry2));
    auto* cpuid = reinterpret_cast<CpuidHeader*>(buf.data());
    cpuid->nent = n;
    if (ioctl(fd_, kGetSupportedCpuid, cpuid) == 0) {
      buf.resize(sizeof(CpuidHeader) + cpuid->nent * sizeof(kvm_cpuid_entry2));
      return buf;
    }
    if (errno != E2BIG) return IoctlError("KVM_GET_SUPPORTED_CPUID");
  }
  return absl::ResourceExhaustedError("KVM_GET_SUPPORTED_CPUID: more than 4096 entries");
}

// ---- Vm. ----------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Vm>> Vm::Create(const Kvm& kvm) {
  int fd = ioctl(kvm.fd(), KVM_CREATE_VM, 0);
  if (fd < 0) return IoctlError("KVM_CREATE_VM");
  std::unique_ptr<Vm> vm(new Vm(&kvm, fd));
  if (ioctl(fd, KVM_SET_TSS_ADDR, kTssAddr) < 0) return IoctlError("KVM_SET_TSS_ADDR");
  return vm;
}

Vm::~Vm() {
  for (const MemorySlot& slot : slots_) munmap(slot.host, slot.size);
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<MemorySlot> Vm::AddMemory(uint64_t gpa, uint64_t size) {
  void* host = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                    -1, 0);
  if (host == MAP_FAILED) return absl::ErrnoToStatus(errno, "mmap guest memory");
  MemorySlot slot{static_cast<uint32_t>(slots_.size()), gpa, size, static_cast<uint8_t*>(host)};
  kvm_userspace_memory_region region{};
  region.slot = slot.slot;
  region.guest_phys_addr = gpa;
  region.memory_size = size;
  region.userspace_addr = reinterpret_cast<uint64_t>(host);
  if (ioctl(fd_, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
    absl::Status status = IoctlError("KVM_SET_USER_MEMORY_REGION");
    munmap(host, size);
    return status;
  }
  slots_.push_back(slot);
  return slot;
}

absl::StatusOr<uint8_t*> Vm::Translate(uint64_t gpa, uint64_t len) const {
  for (const MemorySlot& slot : slots_) {
    // gpa - slot.gpa cannot wrap once gpa >= slot.gpa; compare lengths, not
    // end addresses, so that gpa + len never overflows.
    if (gpa >= slot.gpa && gpa - slot.gpa <= slot.size && len <= slot.size - (gpa - slot.gpa)) {
      return slot.host + (gpa - slot.gpa);
    }
  }
  return absl::OutOfRangeError(
      absl::StrFormat("guest range [0x%x, +0x%x) is not inside guest RAM", gpa, len));
}

absl::StatusOr<std::unique_ptr<Vcpu>> Vm::CreateVcpu(int index) {
  absl::StatusOr<size_t> size = kvm_->VcpuMmapSize();
  if (!size.ok()) return size.status();
  int fd = ioctl(fd_, KVM_CREATE_VCPU, index);
  if (fd < 0) return IoctlError(absl::StrCat("KVM_CREATE_VCPU ", index));
  void* run = mmap(nullptr, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (run == MAP_FAILED) {
    absl::Status status = absl::ErrnoToStatus(errno, "mmap kvm_run");
    close(fd);
    return status;
  }
  return std::unique_ptr<Vcpu>(new Vcpu(this, index, fd, static_cast<kvm_run*>(run), *size));
}

absl::Status Vm::AddPortIoEventFd(uint16_t port, int eventfd) {
  kvm_ioeventfd io{};
  io.addr = port;
  io.len = 0;  // any width
  io.fd = eventfd;
  io.flags = KVM_IOEVENTFD_FLAG_PIO;
  if (ioctl(fd_, KVM_IOEVENTFD, &io) < 0) return IoctlError("KVM_IOEVENTFD");
  return absl::OkStatus();
}

// ---- KvmStats. ----------------------------------------------------------

absl::StatusOr<KvmStats> KvmStats::Open(int vcpu_fd) {
  int fd = ioctl(vcpu_fd, KVM_GET_STATS_FD, nullptr);
  if (fd < 0) {
    return absl::ErrnoToStatus(errno, "ioctl KVM_GET_STATS_FD (KVM_CAP_BINARY_STATS_FD needs Linux 5.14+)");
  }
  KvmStats stats;
  stats.fd_ = fd;
  kvm_stats_header header;
  if (pread(fd, &header, sizeof(header), 0) != static_cast<ssize_t>(sizeof(header))) {
    return absl::ErrnoToStatus(errno, "read kvm_stats_header");
  }
  size_t desc_size = sizeof(StatsDesc) + header.name_size;
  std::vector<uint8_t> descs(desc_size * header.num_desc);
  if (pread(fd, descs.data(), descs.size(), header.desc_offset) != static_cast<ssize_t>(descs.size())) {
    return absl::ErrnoToStatus(errno, "read kvm_stats_desc array");
  }
  uint32_t end = 0;
  for (uint32_t i = 0; i < header.num_desc; ++i) {
    StatsDesc d;
    memcpy(&d, descs.data() + i * desc_size, sizeof(d));
    const char* name = reinterpret_cast<const char*>(descs.data() + i * desc_size + sizeof(d));
    Desc desc{std::string(name, strnlen(name, header.name_size)), d.offset, d.size};
    end = std::max<uint32_t>(end, desc.offset + 8u * desc.size);
    stats.descs_.push_back(desc);
  }
  stats.data_offset_ = header.data_offset;
  stats.data_size_ = end;
  for (int i = 0; i < static_cast<int>(stats.descs_.size()); ++i) {
    const std::string& n = stats.descs_[i].name;
    if (n == "exits") stats.exits_ = i;
    if (n == "io_exits") stats.io_exits_ = i;
    if (n == "mmio_exits") stats.mmio_exits_ = i;
    if (n == "halt_exits") stats.halt_exits_ = i;
    if (n == "signal_exits") stats.signal_exits_ = i;
  }
  if (stats.exits_ < 0 || stats.io_exits_ < 0 || stats.mmio_exits_ < 0 || stats.halt_exits_ < 0) {
    return absl::NotFoundError("KVM's vCPU statistics lack exits/io_exits/mmio_exits/halt_exits");
  }
  return stats;
}

KvmStats::KvmStats(KvmStats&& other) noexcept { *this = std::move(other); }

KvmStats& KvmStats::operator=(KvmStats&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
    data_offset_ = other.data_offset_;
    data_size_ = other.data_size_;
    descs_ = std::move(other.descs_);
    exits_ = other.exits_;
    io_exits_ = other.io_exits_;
    mmio_exits_ = other.mmio_exits_;
    halt_exits_ = other.halt_exits_;
    signal_exits_ = other.signal_exits_;
  }
  return *this;
}

KvmStats::~KvmStats() {
  if (fd_ >= 0) close(fd_);
}

std::vector<std::string> KvmStats::Names() const {
  std::vector<std::string> names;
  for (const Desc& d : descs_) names.push_back(d.name);
  return names;
}

absl::Status KvmStats::ReadData(std::vector<uint64_t>* data) const {
  data->resize(data_size_ / 8);
  ssize_t n = pread(fd_, data->data(), data_size_, data_offset_);
  if (n != static_cast<ssize_t>(data_size_)) return absl::ErrnoToStatus(errno, "read KVM stats data");
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> KvmStats::Read(absl::string_view name) const {
  for (const Desc& d : descs_) {
    if (d.name != name) continue;
    uint64_t value;
    if (pread(fd_, &value, sizeof(value), data_offset_ + d.offset) != sizeof(value)) {
      return absl::ErrnoToStatus(errno, absl::StrCat("read KVM stat ", name));
    }
    return value;
  }
  return absl::NotFoundError(absl::StrCat("no KVM stat named ", name));
}

absl::StatusOr<ExitStats> KvmStats::ReadExits() const {
  std::vector<uint64_t> data;
  absl::Status status = ReadData(&data);
  if (!status.ok()) return status;
  auto at = [&](int i) { return i < 0 ? 0 : data[descs_[i].offset / 8]; };
  return ExitStats{at(exits_), at(io_exits_), at(mmio_exits_), at(halt_exits_), at(signal_exits_)};
}

// ---- The watchdog. ------------------------------------------------------

namespace {

// The kick signal: a real-time signal nobody else in the suite uses, with a
// handler that does nothing and no SA_RESTART, so KVM_RUN returns EINTR.
int KickSignal() { return SIGRTMIN + 4; }

void InstallKickHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof(sa));
    sa.sa_handler = [](int) {};
    sigemptyset(&sa.sa_mask);
    sigaction(KickSignal(), &sa, nullptr);
  });
}

}  // namespace

// Algorithm: one process-wide thread keeps the armed vCPUs with their
// deadlines and wakes every kWatchdogPeriod. For each vCPU past its deadline
// it sets timed_out, sets kvm_run.immediate_exit (so a KVM_RUN entered after
// the kick returns EINTR at once) and sends the kick signal to the vCPU's
// thread (so a KVM_RUN in progress returns EINTR). It repeats the kick every
// period until the vCPU is disarmed, so no kick is lost to the window
// between the run loop's check and its ioctl. Nothing is done per exit: the
// hot path pays only for EINTR handling it never sees.
class Watchdog {
 public:
  static Watchdog& Get() {
    static Watchdog* w = new Watchdog;  // never destroyed: its thread runs forever
    return *w;
  }
  void Arm(Vcpu* vcpu, pthread_t thread, absl::Time deadline) {
    std::lock_guard<std::mutex> lock(mu_);
    for (Entry& e : entries_) {
      if (e.vcpu == vcpu) {
        e.thread = thread;
        e.deadline = deadline;
        return;
      }
    }
    entries_.push_back({vcpu, thread, deadline});
  }
  void Disarm(Vcpu* vcpu) {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < entries_.size(); ++i) {
      if (entries_[i].vcpu == vcpu) {
        entries_.erase(entries_.begin() + i);
        return;
      }
    }
  }

 private:
  struct Entry {
    Vcpu* vcpu;
    pthread_t thread;
    absl::Time deadline;
  };
  Watchdog() {
    InstallKickHandler();
    std::thread([this] { Loop(); }).detach();
  }
  void Loop() {
    for (;;) {
      std::this_thread::sleep_for(kWatchdogPeriod);
      std::lock_guard<std::mutex> lock(mu_);
      absl::Time now = absl::Now();
      for (Entry& e : entries_) {
        if (now < e.deadline) continue;
        e.vcpu->timed_out_.store(true, std::memory_order_relaxed);
        e.vcpu->run_->immediate_exit = 1;
        pthread_kill(e.thread, KickSignal());
      }
    }
  }
  std::mutex mu_;
  std::vector<Entry> entries_;
};

// ---- Vcpu. --------------------------------------------------------------

Vcpu::Vcpu(Vm* vm, int index, int fd, kvm_run* run, size_t run_size)
    : vm_(vm), index_(index), fd_(fd), run_(run), run_size_(run_size), stats_(KvmStats::Open(fd)) {}

Vcpu::~Vcpu() {
  Watchdog::Get().Disarm(this);
  munmap(run_, run_size_);
  close(fd_);
}

absl::Status Vcpu::SetCpuid(const std::vector<uint8_t>& cpuid2) {
  std::vector<uint8_t> copy = cpuid2;
  if (ioctl(fd_, kSetCpuid2, copy.data()) < 0) return IoctlError("KVM_SET_CPUID2");
  return absl::OkStatus();
}

absl::StatusOr<kvm_regs> Vcpu::GetRegs() const {
  kvm_regs regs;
  if (ioctl(fd_, KVM_GET_REGS, &regs) < 0) return IoctlError("KVM_GET_REGS");
  return regs;
}

absl::Status Vcpu::SetRegs(const kvm_regs& regs) {
  if (ioctl(fd_, KVM_SET_REGS, &regs) < 0) return IoctlError("KVM_SET_REGS");
  return absl::OkStatus();
}

absl::StatusOr<kvm_sregs> Vcpu::GetSregs() const {
  kvm_sregs sregs;
  if (ioctl(fd_, KVM_GET_SREGS, &sregs) < 0) return IoctlError("KVM_GET_SREGS");
  return sregs;
}

absl::Status Vcpu::SetSregs(const kvm_sregs& sregs) {
  if (ioctl(fd_, KVM_SET_SREGS, &sregs) < 0) return IoctlError("KVM_SET_SREGS");
  return absl::OkStatus();
}

absl::Status Vcpu::TryRun() {
  for (;;) {
    if (ioctl(fd_, KVM_RUN, 0) == 0) return absl::OkStatus();
    if (errno == EINTR || errno == EAGAIN) {
      if (timed_out()) {
        return RunError(absl::StatusCode::kDeadlineExceeded,
                        absl::StrCat("guest ran past its time limit of ", absl::FormatDuration(limit_),
                                     " (KVM_RUN interrupted by the watchdog)"));
      }
      continue;  // a stray signal: run on
    }
    return IoctlError(absl::StrCat("KVM_RUN on vCPU ", index_));
  }
}

void Vcpu::Arm(absl::Duration limit) {
  limit_ = limit;
  timed_out_.store(false, std::memory_order_relaxed);
  run_->immediate_exit = 0;
  if (limit == absl::InfiniteDuration()) {
    Watchdog::Get().Disarm(this);
    return;
  }
  Watchdog::Get().Arm(this, pthread_self(), absl::Now() + limit);
}

void Vcpu::Disarm() {
  Watchdog::Get().Disarm(this);
  run_->immediate_exit = 0;
}

std::string Vcpu::DescribeRegisters() const {
  absl::StatusOr<kvm_regs> r = GetRegs();
  absl::StatusOr<kvm_sregs> s = GetSregs();
  if (!r.ok()) return std::string(r.status().message());
  std::string out = absl::StrFormat(
      "rip=0x%x rsp=0x%x rflags=0x%x rax=0x%x rbx=0x%x rcx=0x%x rdx=0x%x rsi=0x%x rdi=0x%x rbp=0x%x",
      r->rip, r->rsp, r->rflags, r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rdi, r->rbp);
  if (s.ok()) {
    absl::StrAppendFormat(&out, " cr0=0x%x cr3=0x%x cr4=0x%x efer=0x%x cs=0x%x", s->cr0, s->cr3, s->cr4,
                          s->efer, s->cs.selector);
  }
  return out;
}

absl::Status Vcpu::RunError(absl::StatusCode code, absl::string_view what) const {
  std::string detail;
  uint32_t reason = run_->exit_reason;
  if (reason == KVM_EXIT_FAIL_ENTRY) {
    detail = absl::StrFormat(" hardware_entry_failure_reason=0x%x",
                             run_->fail_entry.hardware_entry_failure_reason);
  } else if (reason == KVM_EXIT_INTERNAL_ERROR) {
    detail = absl::StrFormat(" suberror=%d", run_->internal.suberror);
  }
  return absl::Status(code, absl::StrCat("vCPU ", index_, ": ", what, "; last exit ",
                                         ExitReasonName(reason), " (", reason, ")", detail,
                                         "; registers: ", DescribeRegisters()));
}

}  // namespace kvm
}  // namespace oscost
