// vmm.h: our small hypervisor: a Machine is a KVM VM with guest RAM, the
// embedded guest image (guest/guest.c, built freestanding by Bazel), and N
// vCPUs in 64-bit long mode, each with its own identity-mapped 4-level page
// tables and stack. Its run loop serves the hypercall interface of
// hypercall.h (console, print, exits, files from one directory) and ends
// every failure with an error: a fatal exit (shutdown, failed entry,
// internal error), an exit or port it does not serve, or the time limit.
//
// Caveats: one Machine per guest run; a vCPU's state (VcpuState) is touched
// only by the thread running it, so read it after the run. Output and the
// hypercall log are capped (kMaxOutput, kMaxLog) so that benchmarks running
// millions of hypercalls stay in bounded memory.
//
// Example:
//   absl::StatusOr<kvm::Kvm> kvm = kvm::Kvm::Open();
//   absl::StatusOr<std::unique_ptr<Machine>> machine = Machine::Create(*kvm, {});
//   (*machine)->Start(0, VMX_PROG_HELLO, 0);
//   absl::StatusOr<uint64_t> status = (*machine)->RunToExit(0, absl::Seconds(10));
//   std::cout << (*machine)->state(0).output;

#ifndef OSCOST_VMEXIT_VMM_H_
#define OSCOST_VMEXIT_VMM_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bench/perf.h"
#include "vmexit/hypercall.h"
#include "vmexit/kvm.h"

namespace oscost {
namespace vmexit {

// The guest image, linked at VMX_CODE (generated from guest/ by Bazel).
const uint8_t* GuestImage();
size_t GuestImageSize();

// What one Step() came to.
enum class Event {
  kContinue,  // a served exit: run on
  kDone,      // the guest wrote VMX_PORT_DONE (a batch finished)
  kExit,      // the guest called VMX_PORT_HC_EXIT (see VcpuState::exit_status)
};

// The host's counters at one VMX_PORT_HC_MARK exit, that exit included.
struct PhaseSnapshot {
  uint64_t phase;
  uint64_t loop_exits;                    // our run loop
  absl::StatusOr<kvm::ExitStats> kvm;     // KVM's binary statistics
  absl::StatusOr<uint64_t> perf;          // kvm:kvm_userspace_exit on this thread
};

// One served hypercall (not console characters).
struct HypercallRecord {
  uint16_t port;
  uint64_t a0, a1, a2;
  int64_t ret;
  // For VMX_PORT_HC_EXITS: KVM's `exits` statistic (every exit, in-kernel
  // ones included) and the kvm:kvm_userspace_exit count at that exit.
  std::optional<uint64_t> kvm_exits;
  std::optional<uint64_t> perf_exits;
};

struct VcpuState {
  uint64_t loop_exits = 0;  // KVM_RUN returns with an exit, counted by Step()
  std::string output;       // console characters and printed strings, in order
  uint64_t output_dropped = 0;
  std::string last_print;
  std::vector<HypercallRecord> log;
  std::vector<PhaseSnapshot> phases;
  std::optional<uint64_t> exit_status;
  // Open with Machine::Options::perf, on the vCPU's own thread.
  std::optional<PerfEvent> perf;
  absl::Status perf_status = absl::UnavailableError("perf not requested");
};

// Serves files from one directory; the guest cannot leave it.
class FileServer {
 public:
  static absl::StatusOr<std::unique_ptr<FileServer>> Open(const std::string& dir);
  ~FileServer();
  // Each returns what the guest sees: >= 0, or -VMX_E*.
  int64_t OpenFile(absl::string_view path, uint64_t flags);
  int64_t Read(int64_t fd, uint8_t* buf, uint64_t len);
  int64_t Write(int64_t fd, const uint8_t* buf, uint64_t len);
  int64_t Close(int64_t fd);

 private:
  explicit FileServer(int dirfd) : dirfd_(dirfd) {}
  int dirfd_;
  std::mutex mu_;
  int fds_[VMX_MAX_FILES] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
};

// Why a guest path is refused before the kernel sees it: absolute, a `..`
// component, empty, a NUL byte, too long. OkStatus when it may be tried
// (openat2 with RESOLVE_BENEATH then refuses symlinks that leave).
absl::Status CheckGuestPath(absl::string_view path);

class Machine {
 public:
  static constexpr size_t kMaxOutput = 1 << 20;
  static constexpr size_t kMaxLog = 4096;

  struct Options {
    int vcpus = 1;
    std::string dir;    // served to the file hypercalls; empty: they say -ENOSYS
    bool perf = false;  // count kvm:kvm_userspace_exit per vCPU thread
  };
  static absl::StatusOr<std::unique_ptr<Machine>> Create(const kvm::Kvm& kvm, const Options& options);
  ~Machine();

  int vcpus() const { return static_cast<int>(vcpus_.size()); }
  kvm::Vcpu& vcpu(int i) { return *vcpus_[i]; }
  VcpuState& state(int i) { return states_[i]; }
  kvm::Vm& vm() { return *vm_; }
  // The eventfd KVM signals for each guest write to VMX_PORT_IOEVENTFD.
  int ioeventfd() const { return eventfd_; }

  // Puts vCPU i at the guest's entry in long mode with program/argument.
  absl::Status Start(int i, vmx_program program, uint64_t arg);

  // Algorithm (the run loop): one KVM_RUN, then the exit reason is looked
  // up in kvm::ExitReasons(); served kinds go to one small handler each
  // (IO by port through the hypercall.h table, MMIO to VMX_MMIO_ADDR, HLT),
  // fatal and unexpected kinds end the run with an error naming the exit and
  // showing the registers. Counts every exit in loop_exits first, so that a
  // VMX_PORT_HC_EXITS hypercall answers with itself included.
  absl::StatusOr<Event> Step(int i);

  // Runs vCPU i on the calling thread until the guest exits, an error, or
  // `limit`. Returns the guest's exit status (0 = success).
  absl::StatusOr<uint64_t> RunToExit(int i, absl::Duration limit);

  // Runs every vCPU on its own thread (all joined before returning) until
  // each exits; the first error, else every guest's exit status.
  absl::StatusOr<std::vector<uint64_t>> RunAll(absl::Duration limit);

 private:
  Machine() = default;
  absl::StatusOr<Event> OnIo(int i);
  absl::StatusOr<Event> OnMmio(int i);
  absl::StatusOr<Event> OnHypercall(int i, uint16_t port, uint32_t gpa);
  void Output(VcpuState& st, const char* data, size_t len);

  const kvm::Kvm* kvm_ = nullptr;
  Options options_;
  std::unique_ptr<kvm::Vm> vm_;
  std::vector<std::unique_ptr<kvm::Vcpu>> vcpus_;
  std::vector<VcpuState> states_;
  std::unique_ptr<FileServer> files_;
  std::vector<uint8_t> cpuid_;
  int eventfd_ = -1;
  uint64_t flags_ = 0;  // VMX_FLAG_*
};

}  // namespace vmexit
}  // namespace oscost

#endif  // OSCOST_VMEXIT_VMM_H_
