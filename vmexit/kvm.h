// kvm.h: a thin, owning C++ wrapper over /dev/kvm: the system handle (Kvm),
// a VM with its guest memory slots (Vm), and vCPUs each with their mapped
// kvm_run (Vcpu), KVM's binary statistics (KvmStats) and a watchdog that ends
// a KVM_RUN that runs past its time limit. Every exit reason decodes through
// one table (kExitReasons).
//
// Caveats: x86-64 only. No in-kernel irqchip is created, so HLT comes back to
// user space as KVM_EXIT_HLT (with an irqchip it would sleep in the kernel)
// and every port nobody claimed with an ioeventfd reaches user space. A Vcpu
// must be run from one thread at a time (KVM's rule); the watchdog kicks
// whichever thread is in TryRun() with a real-time signal whose handler does
// nothing, and kvm_run.immediate_exit closes the race of a kick that lands
// just before KVM_RUN. Errors are absl::Status naming the ioctl, and for a
// failed run the exit reason as text and the guest's registers.
//
// Example:
//   absl::StatusOr<Kvm> kvm = Kvm::Open();
//   absl::StatusOr<std::unique_ptr<Vm>> vm = Vm::Create(*kvm);
//   (*vm)->AddMemory(0, 8 << 20);
//   absl::StatusOr<std::unique_ptr<Vcpu>> vcpu = (*vm)->CreateVcpu(0);
//   ... (*vcpu)->SetSregs(...), SetRegs(...) ...
//   absl::Status s = (*vcpu)->TryRun();  // one KVM_RUN
//   if (s.ok() && (*vcpu)->run()->exit_reason == KVM_EXIT_IO) ...

#ifndef OSCOST_VMEXIT_KVM_H_
#define OSCOST_VMEXIT_KVM_H_

#include <linux/kvm.h>
#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace oscost {
namespace kvm {

// ---- The exit-reason table. ---------------------------------------------

// What the run loop does with an exit reason.
enum class ExitKind {
  kServed,   // a device or hypercall exit the host serves (IO, MMIO, HLT)
  kFatal,    // the guest cannot go on: shutdown, failed entry, internal error
  kUnexpected,  // valid KVM exits our VM never asks for
};

struct ExitReasonInfo {
  uint32_t reason;         // KVM_EXIT_*
  absl::string_view name;  // "KVM_EXIT_IO"
  ExitKind kind;
  absl::string_view meaning;
};

// Every KVM_EXIT_* of linux/kvm.h up to KVM_EXIT_NOTIFY, in number order.
const std::vector<ExitReasonInfo>& ExitReasons();
// The row for `reason`, or nullptr.
const ExitReasonInfo* FindExitReason(uint32_t reason);
// "KVM_EXIT_IO", or "KVM_EXIT_<unknown 99>".
std::string ExitReasonName(uint32_t reason);

// ---- System, VM, memory. ------------------------------------------------

class Kvm {
 public:
  // Opens /dev/kvm and checks KVM_GET_API_VERSION == 12. The error says why
  // (missing device, permission, wrong API) and is what benchmarks skip with.
  static absl::StatusOr<Kvm> Open();

  Kvm(Kvm&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Kvm& operator=(Kvm&& other) noexcept;
  Kvm(const Kvm&) = delete;
  Kvm& operator=(const Kvm&) = delete;
  ~Kvm();

  int fd() const { return fd_; }
  // KVM_CHECK_EXTENSION: 0 when absent.
  int CheckExtension(int capability) const;
  // KVM_GET_VCPU_MMAP_SIZE.
  absl::StatusOr<size_t> VcpuMmapSize() const;
  // KVM_GET_SUPPORTED_CPUID, as the raw kvm_cpuid2 buffer.
  absl::StatusOr<std::vector<uint8_t>> SupportedCpuid() const;

 private:
  explicit Kvm(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// One guest memory slot: host memory (anonymous, zeroed) at a guest-physical
// address.
struct MemorySlot {
  uint32_t slot;
  uint64_t gpa;
  uint64_t size;
  uint8_t* host;
};

class Vcpu;

class Vm {
 public:
  // KVM_CREATE_VM, and KVM_SET_TSS_ADDR (Intel needs it before the first
  // run; AMD ignores it).
  static absl::StatusOr<std::unique_ptr<Vm>> Create(const Kvm& kvm);
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;
  ~Vm();

  int fd() const { return fd_; }
  const Kvm& kvm() const { return *kvm_; }

  // Maps `size` bytes of fresh zeroed memory at `gpa` (KVM_SET_USER_MEMORY_REGION).
  absl::StatusOr<MemorySlot> AddMemory(uint64_t gpa, uint64_t size);

  // The host address of [gpa, gpa+len) when the range lies wholly inside one
  // slot; OutOfRange otherwise (overflow-safe). Every guest-supplied address
  // goes through here.
  absl::StatusOr<uint8_t*> Translate(uint64_t gpa, uint64_t len) const;

  // KVM_CREATE_VCPU with the given id, its kvm_run mapped.
  absl::StatusOr<std::unique_ptr<Vcpu>> CreateVcpu(int index);

  // KVM_IOEVENTFD on a port (any width, no data match): a guest write there
  // signals `eventfd` inside the kernel and never reaches user space.
  absl::Status AddPortIoEventFd(uint16_t port, int eventfd);

 private:
  Vm(const Kvm* kvm, int fd) : kvm_(kvm), fd_(fd) {}
  const Kvm* kvm_;
  int fd_ = -1;
  std::vector<MemorySlot> slots_;
};

// ---- KVM's binary statistics of one vCPU (KVM_GET_STATS_FD). ------------

// The per-vCPU counters we read. `exits` counts every exit from the guest,
// those KVM handles itself included. The others count kinds, and which exits
// feed them depends on the backend: on kvm_pvm (this suite's machine) port
// I/O goes through the instruction emulator and io_exits stays 0.
struct ExitStats {
  uint64_t exits = 0;
  uint64_t io_exits = 0;
  uint64_t mmio_exits = 0;
  uint64_t halt_exits = 0;
  uint64_t signal_exits = 0;
  ExitStats operator-(const ExitStats& o) const {
    return {exits - o.exits, io_exits - o.io_exits, mmio_exits - o.mmio_exits,
            halt_exits - o.halt_exits, signal_exits - o.signal_exits};
  }
};

class KvmStats {
 public:
  // Algorithm: the fd starts with struct kvm_stats_header; at desc_offset
  // come num_desc descriptors, each a struct kvm_stats_desc followed by a
  // name of header.name_size bytes; a counter's value is desc.size u64s at
  // data_offset + desc.offset. We parse the descriptors once and then read
  // the whole data block with one pread per snapshot.
  static absl::StatusOr<KvmStats> Open(int vcpu_fd);
  KvmStats(KvmStats&& other) noexcept;
  KvmStats& operator=(KvmStats&& other) noexcept;
  KvmStats(const KvmStats&) = delete;
  KvmStats& operator=(const KvmStats&) = delete;
  ~KvmStats();

  // Every counter's name (for documentation and tests).
  std::vector<std::string> Names() const;
  // One counter by name (its first u64).
  absl::StatusOr<uint64_t> Read(absl::string_view name) const;
  absl::StatusOr<ExitStats> ReadExits() const;

 private:
  struct Desc {
    std::string name;
    uint32_t offset;  // bytes from data_offset
    uint16_t size;    // u64 elements
  };
  KvmStats() = default;
  absl::Status ReadData(std::vector<uint64_t>* data) const;
  int fd_ = -1;
  uint32_t data_offset_ = 0;
  uint32_t data_size_ = 0;  // bytes
  std::vector<Desc> descs_;
  int exits_ = -1, io_exits_ = -1, mmio_exits_ = -1, halt_exits_ = -1, signal_exits_ = -1;
};

// ---- vCPU. --------------------------------------------------------------

class Vcpu {
 public:
  Vcpu(const Vcpu&) = delete;
  Vcpu& operator=(const Vcpu&) = delete;
  ~Vcpu();

  int index() const { return index_; }
  int fd() const { return fd_; }
  kvm_run* run() const { return run_; }
  Vm& vm() const { return *vm_; }

  absl::Status SetCpuid(const std::vector<uint8_t>& cpuid2);
  absl::StatusOr<kvm_regs> GetRegs() const;
  absl::Status SetRegs(const kvm_regs& regs);
  absl::StatusOr<kvm_sregs> GetSregs() const;
  absl::Status SetSregs(const kvm_sregs& sregs);

  // One KVM_RUN. Retries EINTR unless the watchdog fired, in which case the
  // result is DeadlineExceeded. An ioctl failure names KVM_RUN and errno.
  // On success run()->exit_reason says why the guest stopped.
  absl::Status TryRun();

  // Arms the watchdog: a TryRun() still inside KVM_RUN after `limit` from
  // now is kicked out and fails with DeadlineExceeded. The calling thread
  // must be the one that will call TryRun(). Disarm() before another
  // thread takes over.
  void Arm(absl::Duration limit);
  void Disarm();
  bool timed_out() const { return timed_out_.load(std::memory_order_relaxed); }

  // KVM's statistics fd for this vCPU (opened at creation); an error status
  // says why it is unavailable.
  const absl::StatusOr<KvmStats>& stats() const { return stats_; }

  // The registers as "rip=... rsp=... rax=... cr0=..." for error messages.
  std::string DescribeRegisters() const;
  // An error for a run that ended badly: "<what>: exit KVM_EXIT_X (n); regs".
  absl::Status RunError(absl::StatusCode code, absl::string_view what) const;

 private:
  friend class Vm;
  friend class Watchdog;
  Vcpu(Vm* vm, int index, int fd, kvm_run* run, size_t run_size);
  Vm* vm_;
  int index_;
  int fd_;
  kvm_run* run_;
  size_t run_size_;
  absl::StatusOr<KvmStats> stats_;
  std::atomic<bool> timed_out_{false};
  absl::Duration limit_ = absl::InfiniteDuration();
};

}  // namespace kvm
}  // namespace oscost

#endif  // OSCOST_VMEXIT_KVM_H_
