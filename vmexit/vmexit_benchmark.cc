// vmexit_benchmark.cc: what each kind of VM exit costs on this host, from one
// table (kBenches) of guest programs. Names are a public interface (see
// README.md).
//
// Two shapes. A round trip (the exit reaches user space): each benchmark
// iteration is one guest operation, i.e. one or more KVM_RUN calls through
// Machine::Step(). A batch (the exit stays in the kernel): the guest runs
// kBatch operations per KVM_RUN and then writes VMX_PORT_DONE; iterations
// are counted kBatch at a time (KeepRunningBatch), so the time per
// iteration is still per operation, with one user-space exit amortized over
// the batch (vmexit/guest_loop measures exactly that baseline).
//
// Counters (per iteration = per guest operation):
//   exits_per_op            KVM's own `exits` statistic (KVM_GET_STATS_FD)
//   ns_per_exit             wall time of the timed loop / KVM's exits
//   userspace_exits_per_op  KVM_RUN returns our run loop saw
// Where /dev/kvm is missing or not permitted every benchmark is skipped with
// the reason; where KVM's statistics are unreadable the KVM counters are left
// out (never assumed).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "vmexit/hypercall.h"
#include "vmexit/kvm.h"
#include "vmexit/vmm.h"

namespace oscost {
namespace vmexit {
namespace {

// Operations per KVM_RUN for the in-kernel exits: large enough that the one
// user-space exit ending a batch is noise, small enough for a 1 ms smoke run.
constexpr uint64_t kBatch = 1000;
// A round-trip benchmark call (one Google Benchmark run of the function,
// about --benchmark_min_time long) still running after this is broken.
constexpr absl::Duration kBenchLimit = absl::Seconds(60);
// One batch takes milliseconds; one that takes this long never ends (on
// this host's kvm_pvm an emulated VMCALL/VMMCALL is retried forever).
constexpr absl::Duration kBatchLimit = absl::Seconds(2);

enum class Shape { kRoundTrip, kBatch };

struct ExitBench {
  const char* name;
  vmx_program program;
  Shape shape;
  int steps_per_op;  // round trips: user-space exits that make one operation
  uint64_t arg;
};

const ExitBench kBenches[] = {
    {"vmexit/pio_out", VMX_PROG_PIO_OUT, Shape::kRoundTrip, 1, 0},
    {"vmexit/pio_in", VMX_PROG_PIO_IN, Shape::kRoundTrip, 1, 0},
    {"vmexit/mmio_write", VMX_PROG_MMIO_WRITE, Shape::kRoundTrip, 1, 0},
    {"vmexit/hlt", VMX_PROG_HLT, Shape::kRoundTrip, 1, 0},
    {"vmexit/cpuid", VMX_PROG_CPUID, Shape::kBatch, 0, kBatch},
    {"vmexit/vmcall", VMX_PROG_VMCALL, Shape::kBatch, 0, kBatch},
    {"vmexit/ioeventfd", VMX_PROG_IOEVENTFD, Shape::kBatch, 0, kBatch},
    {"vmexit/print/per_char", VMX_PROG_PRINT_CHARS, Shape::kRoundTrip, 14, 0},
    {"vmexit/print/string", VMX_PROG_PRINT_STRING, Shape::kRoundTrip, 1, 0},
    {"vmexit/guest_loop", VMX_PROG_GUEST_LOOP, Shape::kBatch, 0, kBatch},
};
const int kRepOutsbBytes[] = {1, 16, 256, 4096};

// A machine with `vcpus` vCPUs all started on `program`, or why not.
absl::StatusOr<std::unique_ptr<Machine>> NewMachine(const kvm::Kvm& kvm, int vcpus, vmx_program program,
                                                    uint64_t arg) {
  Machine::Options options;
  options.vcpus = vcpus;
  absl::StatusOr<std::unique_ptr<Machine>> m = Machine::Create(kvm, options);
  if (!m.ok()) return m.status();
  for (int i = 0; i < vcpus; ++i) {
    absl::Status s = (*m)->Start(i, program, arg);
    if (!s.ok()) return s;
  }
  return m;
}

// Runs vCPU i until `event` (kDone) or for one Step (kContinue).
absl::Status RunUntil(Machine& m, int i, Event event) {
  for (;;) {
    absl::StatusOr<Event> e = m.Step(i);
    if (!e.ok()) return e.status();
    if (*e == Event::kExit) return absl::InternalError("the guest exited in a benchmark loop");
    if (*e == event || event == Event::kContinue) return absl::OkStatus();
  }
}

// KVM's counters before the timed loop, and the report after it.
class ExitCounters {
 public:
  ExitCounters(Machine& m, int i) : m_(m), i_(i) {}
  void Start() {
    loop_ = m_.state(i_).loop_exits;
    stats_ = Read();
    start_ = std::chrono::steady_clock::now();
  }
  void Report(benchmark::State& state) {
    double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start_).count();
    double ops = static_cast<double>(state.iterations());
    if (ops == 0) return;
    state.counters["userspace_exits_per_op"] = (m_.state(i_).loop_exits - loop_) / ops;
    absl::StatusOr<kvm::ExitStats> end = Read();
    if (stats_.ok() && end.ok()) {
      double exits = static_cast<double>(end->exits - stats_->exits);
      state.counters["exits_per_op"] = exits / ops;
      if (exits > 0) state.counters["ns_per_exit"] = ns / exits;
    }
  }
  absl::StatusOr<kvm::ExitStats> Read() const {
    const absl::StatusOr<kvm::KvmStats>& stats = m_.vcpu(i_).stats();
    if (!stats.ok()) return stats.status();
    return stats->ReadExits();
  }

 private:
  Machine& m_;
  int i_;
  uint64_t loop_ = 0;
  absl::StatusOr<kvm::ExitStats> stats_ = absl::UnknownError("not started");
  std::chrono::steady_clock::time_point start_;
};

void Fail(benchmark::State& state, const absl::Status& status) {
  state.SkipWithError(std::string(status.message()).c_str());
}

void BM_Exit(benchmark::State& state, ExitBench bench) {
  absl::StatusOr<kvm::Kvm> kvm = kvm::Kvm::Open();
  if (!kvm.ok()) return Fail(state, kvm.status());
  absl::StatusOr<std::unique_ptr<Machine>> machine = NewMachine(*kvm, 1, bench.program, bench.arg);
  if (!machine.ok()) return Fail(state, machine.status());
  Machine& m = **machine;
  m.vcpu(0).Arm(bench.shape == Shape::kBatch ? kBatchLimit : kBenchLimit);
  // Warm up: the first exits fault in guest pages and KVM's caches.
  absl::Status status = absl::OkStatus();
  for (int w = 0; w < 3 && status.ok(); ++w) {
    status = RunUntil(m, 0, bench.shape == Shape::kBatch ? Event::kDone : Event::kContinue);
  }
  ExitCounters counters(m, 0);
  counters.Start();
  if (bench.shape == Shape::kRoundTrip) {
    for (auto _ : state) {
      for (int s = 0; s < bench.steps_per_op && status.ok(); ++s) status = RunUntil(m, 0, Event::kContinue);
      if (!status.ok()) break;
    }
  } else {
    while (status.ok() && state.KeepRunningBatch(kBatch)) {
      m.vcpu(0).Arm(kBatchLimit);
      status = RunUntil(m, 0, Event::kDone);
    }
  }
  m.vcpu(0).Disarm();
  if (!status.ok()) return Fail(state, status);
  counters.Report(state);
}

// vmexit/rep_outsb/bytes:N: one `rep outsb` of N bytes to the unclaimed
// port, then one DONE exit that ends the operation.
void BM_RepOutsb(benchmark::State& state) {
  uint64_t bytes = static_cast<uint64_t>(state.range(0));
  absl::StatusOr<kvm::Kvm> kvm = kvm::Kvm::Open();
  if (!kvm.ok()) return Fail(state, kvm.status());
  absl::StatusOr<std::unique_ptr<Machine>> machine = NewMachine(*kvm, 1, VMX_PROG_REP_OUTSB, bytes);
  if (!machine.ok()) return Fail(state, machine.status());
  Machine& m = **machine;
  m.vcpu(0).Arm(kBenchLimit);
  absl::Status status = RunUntil(m, 0, Event::kDone);
  ExitCounters counters(m, 0);
  counters.Start();
  for (auto _ : state) {
    status = RunUntil(m, 0, Event::kDone);
    if (!status.ok()) break;
  }
  m.vcpu(0).Disarm();
  if (!status.ok()) return Fail(state, status);
  counters.Report(state);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}

// vmexit/pio_out/vcpus:2: vCPU 0 is timed on this thread while vCPU 1 runs
// the same loop on a second thread; both exit to user space at once.
void BM_PioOutTwoVcpus(benchmark::State& state) {
  absl::StatusOr<kvm::Kvm> kvm = kvm::Kvm::Open();
  if (!kvm.ok()) return Fail(state, kvm.status());
  absl::StatusOr<std::unique_ptr<Machine>> machine = NewMachine(*kvm, 2, VMX_PROG_PIO_OUT, 0);
  if (!machine.ok()) return Fail(state, machine.status());
  Machine& m = **machine;
  std::atomic<bool> stop{false}, started{false};
  absl::Status other = absl::OkStatus();  // read only after join()
  std::thread partner([&] {
    m.vcpu(1).Arm(kBenchLimit);
    while (!stop.load(std::memory_order_relaxed) && other.ok()) {
      other = RunUntil(m, 1, Event::kContinue);
      started.store(true, std::memory_order_release);
    }
    m.vcpu(1).Disarm();
  });
  while (!started.load(std::memory_order_acquire)) std::this_thread::yield();
  m.vcpu(0).Arm(kBenchLimit);
  absl::Status status = RunUntil(m, 0, Event::kContinue);
  ExitCounters counters(m, 0);
  // vCPU 1's exits from KVM's statistics: a read of the stats fd is safe
  // while its thread runs (our run loop's own count is not).
  ExitCounters partner_counters(m, 1);
  absl::StatusOr<kvm::ExitStats> partner_start = partner_counters.Read();
  counters.Start();
  for (auto _ : state) {
    status = RunUntil(m, 0, Event::kContinue);
    if (!status.ok()) break;
  }
  absl::StatusOr<kvm::ExitStats> partner_end = partner_counters.Read();
  stop.store(true);
  partner.join();
  m.vcpu(0).Disarm();
  if (!status.ok()) return Fail(state, status);
  if (!other.ok()) return Fail(state, other);
  counters.Report(state);
  if (state.iterations() > 0 && partner_start.ok() && partner_end.ok()) {
    state.counters["partner_exits_per_op"] =
        static_cast<double>(partner_end->exits - partner_start->exits) / static_cast<double>(state.iterations());
  }
}

int RegisterVmexitBenchmarks() {
  for (const ExitBench& bench : kBenches) {
    benchmark::RegisterBenchmark(bench.name, BM_Exit, bench);
    if (std::string(bench.name) == "vmexit/pio_out") {
      benchmark::RegisterBenchmark("vmexit/pio_out/vcpus:2", BM_PioOutTwoVcpus);
    }
  }
  auto* rep = benchmark::RegisterBenchmark("vmexit/rep_outsb", BM_RepOutsb)->ArgName("bytes");
  for (int bytes : kRepOutsbBytes) rep->Arg(bytes);
  return 0;
}

const int registered = RegisterVmexitBenchmarks();

}  // namespace
}  // namespace vmexit
}  // namespace oscost
