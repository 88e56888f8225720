#include "vmexit/vmm.h"

#include <cpuid.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace oscost {
namespace vmexit {

namespace {

// x86 control-register and paging bits (Intel SDM vol. 3, 2.5 and 4.5).
constexpr uint64_t kCr0Pe = 1ull << 0, kCr0Mp = 1ull << 1, kCr0Et = 1ull << 4, kCr0Ne = 1ull << 5,
                   kCr0Wp = 1ull << 16, kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pae = 1ull << 5, kCr4Osfxsr = 1ull << 9, kCr4Osxmmexcpt = 1ull << 10;
constexpr uint64_t kEferLme = 1ull << 8, kEferLma = 1ull << 10;
constexpr uint64_t kPtePresent = 1, kPteWrite = 2, kPteLarge = 1ull << 7;
constexpr uint64_t kLargePage = 2ull << 20;
// GDT entries: flat 64-bit code (L=1) and flat data, ring 0.
constexpr uint64_t kGdtCode64 = 0x00af9b000000ffffull, kGdtData = 0x00cf93000000ffffull;
constexpr uint16_t kCodeSelector = 0x08, kDataSelector = 0x10;

kvm_segment Segment(uint16_t selector, uint8_t type, bool code) {
  kvm_segment s{};
  s.base = 0;
  s.limit = 0xffffffff;
  s.selector = selector;
  s.type = type;
  s.present = 1;
  s.dpl = 0;
  s.s = 1;
  s.g = 1;
  s.l = code ? 1 : 0;
  s.db = code ? 0 : 1;
  return s;
}

bool HostIsAmd() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  __get_cpuid(0, &a, &b, &c, &d);
  char vendor[13];
  memcpy(vendor, &b, 4);
  memcpy(vendor + 4, &d, 4);
  memcpy(vendor + 8, &c, 4);
  vendor[12] = 0;
  return strcmp(vendor, "AuthenticAMD") == 0 || strcmp(vendor, "HygonGenuine") == 0;
}

}  // namespace

// ---- Files. -------------------------------------------------------------

absl::Status CheckGuestPath(absl::string_view path) {
  if (path.empty()) return absl::NotFoundError("empty path");
  if (path.size() > VMX_MAX_PATH) return absl::InvalidArgumentError("path too long");
  if (path.find('\0') != absl::string_view::npos) return absl::InvalidArgumentError("NUL in path");
  if (path[0] == '/') return absl::PermissionDeniedError("absolute path");
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part == "..") return absl::PermissionDeniedError("'..' component");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<FileServer>> FileServer::Open(const std::string& dir) {
  int fd = open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open --dir ", dir));
  return std::unique_ptr<FileServer>(new FileServer(fd));
}

FileServer::~FileServer() {
  for (int fd : fds_)
    if (fd >= 0) close(fd);
  close(dirfd_);
}

int64_t FileServer::OpenFile(absl::string_view path, uint64_t flags) {
  absl::Status check = CheckGuestPath(path);
  if (absl::IsPermissionDenied(check)) return -VMX_EXDEV;
  if (absl::IsNotFound(check)) return -VMX_ENOENT;
  if (!check.ok()) return -VMX_EINVAL;
  constexpr uint64_t kKnown = VMX_O_WRONLY | VMX_O_RDWR | VMX_O_CREAT | VMX_O_TRUNC;
  if ((flags & ~kKnown) != 0 || (flags & 3) == 3) return -VMX_EINVAL;
  open_how how{};
  how.flags = O_CLOEXEC | ((flags & VMX_O_WRONLY) ? O_WRONLY : 0) | ((flags & VMX_O_RDWR) ? O_RDWR : 0) |
              ((flags & VMX_O_CREAT) ? O_CREAT : 0) | ((flags & VMX_O_TRUNC) ? O_TRUNC : 0);
  how.mode = (flags & VMX_O_CREAT) ? 0644 : 0;
  // RESOLVE_BENEATH: every step of the lookup, symlinks included, must stay
  // below dirfd (EXDEV otherwise); no /proc magic links either.
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  std::string p(path);
  std::lock_guard<std::mutex> lock(mu_);
  int slot = -1;
  for (int i = 0; i < VMX_MAX_FILES; ++i) {
    if (fds_[i] < 0) {
      slot = i;
      break;
    }
  }
  if (slot < 0) return -VMX_EMFILE;
  int fd = static_cast<int>(syscall(SYS_openat2, dirfd_, p.c_str(), &how, sizeof(how)));
  if (fd < 0) return -errno;
  fds_[slot] = fd;
  return slot;
}

int64_t FileServer::Read(int64_t fd, uint8_t* buf, uint64_t len) {
  std::lock_guard<std::mutex> lock(mu_);
  if (fd < 0 || fd >= VMX_MAX_FILES || fds_[fd] < 0) return -VMX_EBADF;
  ssize_t n = read(fds_[fd], buf, len);
  return n < 0 ? -errno : n;
}

int64_t FileServer::Write(int64_t fd, const uint8_t* buf, uint64_t len) {
  std::lock_guard<std::mutex> lock(mu_);
  if (fd < 0 || fd >= VMX_MAX_FILES || fds_[fd] < 0) return -VMX_EBADF;
  ssize_t n = write(fds_[fd], buf, len);
  return n < 0 ? -errno : n;
}

int64_t FileServer::Close(int64_t fd) {
  std::lock_guard<std::mutex> lock(mu_);
  if (fd < 0 || fd >= VMX_MAX_FILES || fds_[fd] < 0) return -VMX_EBADF;
  close(fds_[fd]);
  fds_[fd] = -1;
  return 0;
}

// ---- Machine. -----------------------------------------------------------

absl::StatusOr<std::unique_ptr<Machine>> Machine::Create(const kvm::Kvm& kvm, const Options& options) {
  if (options.vcpus < 1 || options.vcpus > VMX_MAX_VCPUS) {
    return absl::InvalidArgumentError(absl::StrCat("vcpus must be 1..", VMX_MAX_VCPUS));
  }
  if (GuestImageSize() > VMX_SCRATCH - VMX_CODE) return absl::InternalError("guest image too large");
  std::unique_ptr<Machine> m(new Machine);
  m->kvm_ = &kvm;
  m->options_ = options;
  m->flags_ = HostIsAmd() ? VMX_FLAG_AMD : 0;
  if (!options.dir.empty()) {
    absl::StatusOr<std::unique_ptr<FileServer>> files = FileServer::Open(options.dir);
    if (!files.ok()) return files.status();
    m->files_ = std::move(*files);
  }
  absl::StatusOr<std::unique_ptr<kvm::Vm>> vm = kvm::Vm::Create(kvm);
  if (!vm.ok()) return vm.status();
  m->vm_ = std::move(*vm);
  absl::StatusOr<kvm::MemorySlot> ram = m->vm_->AddMemory(0, VMX_RAM_SIZE);
  if (!ram.ok()) return ram.status();
  memcpy(ram->host + VMX_CODE, GuestImage(), GuestImageSize());
  auto* gdt = reinterpret_cast<uint64_t*>(ram->host + VMX_GDT);
  gdt[0] = 0;
  gdt[1] = kGdtCode64;
  gdt[2] = kGdtData;
  absl::StatusOr<std::vector<uint8_t>> cpuid = kvm.SupportedCpuid();
  if (!cpuid.ok()) return cpuid.status();
  m->cpuid_ = std::move(*cpuid);
  m->eventfd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (m->eventfd_ < 0) return absl::ErrnoToStatus(errno, "eventfd");
  absl::Status status = m->vm_->AddPortIoEventFd(VMX_PORT_IOEVENTFD, m->eventfd_);
  if (!status.ok()) return status;
  m->states_.resize(options.vcpus);
  for (int i = 0; i < options.vcpus; ++i) {
    // vCPU i's own page tables: PML4 -> PDPT -> PD of 512 2-MiB pages, the
    // first GiB identity-mapped (RAM plus the unbacked VMX_MMIO_ADDR).
    uint64_t base = VMX_PAGE_TABLES + i * VMX_PAGE_TABLE_STRIDE;
    auto* pml4 = reinterpret_cast<uint64_t*>(ram->host + base);
    auto* pdpt = reinterpret_cast<uint64_t*>(ram->host + base + 0x1000);
    auto* pd = reinterpret_cast<uint64_t*>(ram->host + base + 0x2000);
    pml4[0] = (base + 0x1000) | kPtePresent | kPteWrite;
    pdpt[0] = (base + 0x2000) | kPtePresent | kPteWrite;
    for (uint64_t e = 0; e < VMX_MAPPED_SIZE / kLargePage; ++e) {
      pd[e] = e * kLargePage | kPtePresent | kPteWrite | kPteLarge;
    }
    absl::StatusOr<std::unique_ptr<kvm::Vcpu>> vcpu = m->vm_->CreateVcpu(i);
    if (!vcpu.ok()) return vcpu.status();
    status = (*vcpu)->SetCpuid(m->cpuid_);
    if (!status.ok()) return status;
    m->vcpus_.push_back(std::move(*vcpu));
  }
  return m;
}

Machine::~Machine() {
  vcpus_.clear();
  vm_.reset();
  if (eventfd_ >= 0) close(eventfd_);
}

absl::Status Machine::Start(int i, vmx_program program, uint64_t arg) {
  kvm::Vcpu& v = *vcpus_[i];
  absl::StatusOr<kvm_sregs> sregs = v.GetSregs();
  if (!sregs.ok()) return sregs.status();
  sregs->cr3 = VMX_PAGE_TABLES + i * VMX_PAGE_TABLE_STRIDE;
  sregs->cr4 = kCr4Pae | kCr4Osfxsr | kCr4Osxmmexcpt;
  sregs->cr0 = kCr0Pe | kCr0Mp | kCr0Et | kCr0Ne | kCr0Wp | kCr0Pg;
  sregs->efer = kEferLme | kEferLma;
  sregs->cs = Segment(kCodeSelector, 11, true);  // execute/read, accessed
  sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = Segment(kDataSelector, 3, false);
  sregs->gdt.base = VMX_GDT;
  sregs->gdt.limit = 3 * 8 - 1;
  // No IDT: any exception becomes #DF and then a triple fault
  // (KVM_EXIT_SHUTDOWN), which is how a broken guest shows.
  sregs->idt.base = 0;
  sregs->idt.limit = 0;
  absl::Status status = v.SetSregs(*sregs);
  if (!status.ok()) return status;
  kvm_regs regs{};
  regs.rflags = 2;  // bit 1 is reserved and must be set
  regs.rip = VMX_CODE;
  regs.rsp = VMX_STACK_TOP - i * VMX_STACK_SIZE;
  regs.rdi = program;
  regs.rsi = i;
  regs.rdx = arg;
  regs.rcx = flags_;
  states_[i].exit_status.reset();
  return v.SetRegs(regs);
}

void Machine::Output(VcpuState& st, const char* data, size_t len) {
  size_t room = kMaxOutput - std::min(kMaxOutput, st.output.size());
  size_t take = std::min(room, len);
  st.output.append(data, take);
  st.output_dropped += len - take;
}

absl::StatusOr<Event> Machine::Step(int i) {
  kvm::Vcpu& v = *vcpus_[i];
  absl::Status status = v.TryRun();
  if (!status.ok()) return status;
  ++states_[i].loop_exits;
  uint32_t reason = v.run()->exit_reason;
  const kvm::ExitReasonInfo* info = kvm::FindExitReason(reason);
  if (info == nullptr) return v.RunError(absl::StatusCode::kInternal, "exit reason unknown to our table");
  switch (info->kind) {
    case kvm::ExitKind::kServed:
      if (reason == KVM_EXIT_IO) return OnIo(i);
      if (reason == KVM_EXIT_MMIO) return OnMmio(i);
      return Event::kContinue;  // KVM_EXIT_HLT: the guest resumes after HLT
    case kvm::ExitKind::kFatal:
      return v.RunError(absl::StatusCode::kAborted, absl::StrCat("guest failed: ", info->meaning));
    case kvm::ExitKind::kUnexpected:
      break;
  }
  return v.RunError(absl::StatusCode::kUnimplemented, absl::StrCat("exit we do not serve: ", info->meaning));
}

absl::StatusOr<Event> Machine::OnIo(int i) {
  kvm::Vcpu& v = *vcpus_[i];
  kvm_run* run = v.run();
  const auto& io = run->io;
  uint8_t* data = reinterpret_cast<uint8_t*>(run) + io.data_offset;
  bool out = io.direction == KVM_EXIT_IO_OUT;
  switch (io.port) {
    case VMX_PORT_CONSOLE:
      if (!out || io.size != 1) break;
      Output(states_[i], reinterpret_cast<const char*>(data), io.count);
      return Event::kContinue;
    case VMX_PORT_BENCH:
      if (!out) memset(data, 0, static_cast<size_t>(io.size) * io.count);
      return Event::kContinue;
    case VMX_PORT_DONE:
      if (!out) break;
      return Event::kDone;
    case VMX_PORT_HC_PRINT:
    case VMX_PORT_HC_EXITS:
    case VMX_PORT_HC_OPEN:
    case VMX_PORT_HC_READ:
    case VMX_PORT_HC_WRITE:
    case VMX_PORT_HC_CLOSE:
    case VMX_PORT_HC_MARK:
    case VMX_PORT_HC_EXIT:
      if (!out || io.size != 4 || io.count != 1) break;
      uint32_t gpa;
      memcpy(&gpa, data, sizeof(gpa));
      return OnHypercall(i, io.port, gpa);
  }
  return v.RunError(absl::StatusCode::kUnimplemented,
                    absl::StrFormat("unexpected port 0x%x (%s, %d bytes x %d)", io.port, out ? "out" : "in",
                                    io.size, io.count));
}

absl::StatusOr<Event> Machine::OnMmio(int i) {
  kvm::Vcpu& v = *vcpus_[i];
  auto& mmio = v.run()->mmio;
  if (mmio.phys_addr < VMX_MMIO_ADDR || mmio.phys_addr >= VMX_MMIO_ADDR + 0x1000) {
    return v.RunError(absl::StatusCode::kUnimplemented,
                      absl::StrFormat("MMIO %s at 0x%x, outside our device page", mmio.is_write ? "write" : "read",
                                      mmio.phys_addr));
  }
  if (!mmio.is_write) memset(mmio.data, 0, sizeof(mmio.data));
  return Event::kContinue;
}

absl::StatusOr<Event> Machine::OnHypercall(int i, uint16_t port, uint32_t gpa) {
  kvm::Vcpu& v = *vcpus_[i];
  VcpuState& st = states_[i];
  absl::StatusOr<uint8_t*> block = vm_->Translate(gpa, sizeof(vmx_hc_args));
  if (!block.ok()) {
    // With no valid block there is nowhere to put an error code: end the run.
    return v.RunError(absl::StatusCode::kOutOfRange,
                      absl::StrFormat("hypercall on port 0x%x: argument block: %s", port, block.status().message()));
  }
  vmx_hc_args args;
  memcpy(&args, *block, sizeof(args));
  HypercallRecord record{port, args.a0, args.a1, args.a2, 0, std::nullopt, std::nullopt};
  Event event = Event::kContinue;
  int64_t ret = 0;
  auto buffer = [&](uint64_t addr, uint64_t len) -> uint8_t* {
    if (len > VMX_MAX_IO) return nullptr;
    absl::StatusOr<uint8_t*> p = vm_->Translate(addr, len);
    return p.ok() ? *p : nullptr;
  };
  switch (port) {
    case VMX_PORT_HC_PRINT: {
      uint8_t* p = buffer(args.a0, args.a1);
      if (p == nullptr) {
        ret = -VMX_EFAULT;
        break;
      }
      st.last_print.assign(reinterpret_cast<const char*>(p), args.a1);
      Output(st, st.last_print.data(), args.a1);
      ret = static_cast<int64_t>(args.a1);
      break;
    }
    case VMX_PORT_HC_EXITS:
      ret = static_cast<int64_t>(st.loop_exits);
      if (v.stats().ok()) {
        absl::StatusOr<kvm::ExitStats> s = v.stats()->ReadExits();
        if (s.ok()) record.kvm_exits = s->exits;
      }
      if (st.perf.has_value()) {
        absl::StatusOr<uint64_t> n = st.perf->Read();
        if (n.ok()) record.perf_exits = *n;
      }
      break;
    case VMX_PORT_HC_OPEN: {
      if (!files_) {
        ret = -VMX_ENOSYS;
        break;
      }
      uint8_t* p = args.a1 <= VMX_MAX_PATH ? buffer(args.a0, args.a1) : nullptr;
      ret = p == nullptr ? (args.a1 > VMX_MAX_PATH ? -VMX_EINVAL : -VMX_EFAULT)
                         : files_->OpenFile(absl::string_view(reinterpret_cast<const char*>(p), args.a1), args.a2);
      break;
    }
    case VMX_PORT_HC_READ:
    case VMX_PORT_HC_WRITE: {
      if (!files_) {
        ret = -VMX_ENOSYS;
        break;
      }
      uint8_t* p = buffer(args.a1, args.a2);
      if (p == nullptr) {
        ret = -VMX_EFAULT;
      } else if (port == VMX_PORT_HC_READ) {
        ret = files_->Read(static_cast<int64_t>(args.a0), p, args.a2);
      } else {
        ret = files_->Write(static_cast<int64_t>(args.a0), p, args.a2);
      }
      break;
    }
    case VMX_PORT_HC_CLOSE:
      ret = files_ ? files_->Close(static_cast<int64_t>(args.a0)) : -VMX_ENOSYS;
      break;
    case VMX_PORT_HC_MARK: {
      PhaseSnapshot snap{args.a0, st.loop_exits, absl::UnavailableError(""), absl::UnavailableError("")};
      if (v.stats().ok()) {
        snap.kvm = v.stats()->ReadExits();
      } else {
        snap.kvm = v.stats().status();
      }
      if (st.perf.has_value()) {
        snap.perf = st.perf->Read();
      } else {
        snap.perf = st.perf_status;
      }
      st.phases.push_back(std::move(snap));
      break;
    }
    case VMX_PORT_HC_EXIT:
      st.exit_status = args.a0;
      event = Event::kExit;
      break;
  }
  record.ret = ret;
  args.ret = ret;
  memcpy(*block, &args, sizeof(args));
  if (st.log.size() < kMaxLog) st.log.push_back(record);
  return event;
}

absl::StatusOr<uint64_t> Machine::RunToExit(int i, absl::Duration limit) {
  kvm::Vcpu& v = *vcpus_[i];
  VcpuState& st = states_[i];
  if (options_.perf && !st.perf.has_value()) {
    // The tracepoint counts on the thread that calls KVM_RUN: this one.
    absl::StatusOr<PerfEvent> ev = PerfEvent::Open("kvm:kvm_userspace_exit");
    if (ev.ok()) {
      st.perf_status = ev->Enable();
      if (st.perf_status.ok()) st.perf.emplace(std::move(*ev));
    } else {
      st.perf_status = ev.status();
    }
  }
  v.Arm(limit);
  absl::StatusOr<uint64_t> result = absl::InternalError("unreachable");
  for (;;) {
    absl::StatusOr<Event> event = Step(i);
    if (!event.ok()) {
      result = event.status();
      break;
    }
    if (*event == Event::kExit) {
      result = *st.exit_status;
      break;
    }
    if (*event == Event::kDone) continue;
  }
  v.Disarm();
  return result;
}

absl::StatusOr<std::vector<uint64_t>> Machine::RunAll(absl::Duration limit) {
  std::vector<absl::StatusOr<uint64_t>> results(vcpus_.size(), absl::InternalError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < vcpus(); ++i) {
    threads.emplace_back([this, i, limit, &results] { results[i] = RunToExit(i, limit); });
  }
  for (std::thread& t : threads) t.join();
  std::vector<uint64_t> statuses;
  for (const absl::StatusOr<uint64_t>& r : results) {
    if (!r.ok()) return r.status();
    statuses.push_back(*r);
  }
  return statuses;
}

}  // namespace vmexit
}  // namespace oscost
