// hello: runs the hello guest and prints, for each guest operation, the
// exits counted three ways: our run loop, KVM's per-vCPU binary statistics,
// and the kvm:kvm_userspace_exit tracepoint through perf.
//
// Usage: bazel run //vmexit:hello -- [--vcpus=N] [--dir=PATH]
// Exit status 0 only when every guest finished with status 0 and the
// columns that could be read agree.

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "vmexit/hypercall.h"
#include "vmexit/kvm.h"
#include "vmexit/vmm.h"

namespace oscost {
namespace vmexit {
namespace {

constexpr absl::Duration kTimeLimit = absl::Seconds(30);

struct Row {
  vmx_phase phase;
  const char* what;
};
const Row kRows[] = {
    {VMX_PHASE_CONSOLE, "console: \"Hello, world!\\n\", one outb 0xE9 per char"},
    {VMX_PHASE_PRINT, "print: the same line, one hypercall"},
    {VMX_PHASE_EXITS, "exits(): ask the host for its exit count"},
    {VMX_PHASE_FILES, "files: open,write,close,open,read,close,print"},
};

// The snapshot of `phase` on vCPU `st`, or nullptr.
const PhaseSnapshot* Find(const VcpuState& st, uint64_t phase) {
  for (const PhaseSnapshot& s : st.phases)
    if (s.phase == phase) return &s;
  return nullptr;
}

int Main(int argc, char** argv) {
  Machine::Options options;
  options.perf = true;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::StartsWith(arg, "--vcpus=") && absl::SimpleAtoi(arg.substr(8), &options.vcpus)) continue;
    if (absl::StartsWith(arg, "--dir=")) {
      options.dir = std::string(arg.substr(6));
      continue;
    }
    fprintf(stderr, "usage: hello [--vcpus=N] [--dir=PATH]   (unknown argument '%s')\n", argv[i]);
    return 2;
  }
  if (!options.dir.empty() && options.dir[0] != '/') {
    // bazel run starts us in the runfiles tree; a relative --dir means the
    // user's directory.
    const char* cwd = getenv("BUILD_WORKING_DIRECTORY");
    if (cwd != nullptr) options.dir = absl::StrCat(cwd, "/", options.dir);
  }
  absl::StatusOr<kvm::Kvm> kvm = kvm::Kvm::Open();
  if (!kvm.ok()) {
    fprintf(stderr, "hello: %s\n", std::string(kvm.status().message()).c_str());
    return 1;
  }
  absl::StatusOr<std::unique_ptr<Machine>> machine = Machine::Create(*kvm, options);
  if (!machine.ok()) {
    fprintf(stderr, "hello: %s\n", machine.status().ToString().c_str());
    return 1;
  }
  Machine& m = **machine;
  for (int i = 0; i < m.vcpus(); ++i) {
    absl::Status s = m.Start(i, VMX_PROG_HELLO, options.dir.empty() ? 0 : 1);
    if (!s.ok()) {
      fprintf(stderr, "hello: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  absl::StatusOr<std::vector<uint64_t>> statuses = m.RunAll(kTimeLimit);
  int rc = 0;
  for (int i = 0; i < m.vcpus(); ++i) {
    const VcpuState& st = m.state(i);
    printf("--- vCPU %d output ---\n%s", i, st.output.c_str());
    for (const HypercallRecord& r : st.log) {
      if (r.port != VMX_PORT_HC_EXITS) continue;
      printf("vCPU %d: exits() returned %lld to the guest; KVM's `exits` stat said %s, perf's "
             "kvm:kvm_userspace_exit %s\n",
             i, static_cast<long long>(r.ret), r.kvm_exits ? absl::StrCat(*r.kvm_exits).c_str() : "unreadable",
             r.perf_exits ? absl::StrCat(*r.perf_exits).c_str() : "unreadable");
    }
  }
  if (!statuses.ok()) {
    fprintf(stderr, "hello: %s\n", statuses.status().ToString().c_str());
    return 1;
  }
  for (int i = 0; i < m.vcpus(); ++i) {
    if ((*statuses)[i] != 0) {
      fprintf(stderr, "hello: vCPU %d's guest exited with status %llu\n", i,
              static_cast<unsigned long long>((*statuses)[i]));
      rc = 1;
    }
  }

  // Exits per operation: the difference between the snapshots at the mark
  // before it and the mark after it, minus that second mark's own exit.
  printf("\nexits per guest operation (summed over %d vCPU%s; each column minus the marker exit)\n",
         m.vcpus(), m.vcpus() == 1 ? "" : "s");
  printf("%-50s %10s %12s %14s\n", "operation", "run loop", "KVM stats", "perf tracepoint");
  std::string kvm_why, perf_why;
  for (const Row& row : kRows) {
    if (row.phase == VMX_PHASE_FILES && options.dir.empty()) continue;
    uint64_t loop = 0, kvm_all = 0, perf = 0;
    bool kvm_ok = true, perf_ok = true, any = false;
    for (int i = 0; i < m.vcpus(); ++i) {
      const PhaseSnapshot* a = Find(m.state(i), row.phase);
      const PhaseSnapshot* b = nullptr;
      for (int next = row.phase + 1; next <= VMX_PHASE_END && b == nullptr; ++next) {
        b = Find(m.state(i), next);
      }
      if (a == nullptr || b == nullptr) continue;
      any = true;
      loop += b->loop_exits - a->loop_exits - 1;
      if (a->kvm.ok() && b->kvm.ok()) {
        kvm_all += b->kvm->exits - a->kvm->exits - 1;
      } else {
        kvm_ok = false;
        kvm_why = std::string((a->kvm.ok() ? b->kvm : a->kvm).status().message());
      }
      if (a->perf.ok() && b->perf.ok()) {
        perf += *b->perf - *a->perf - 1;
      } else {
        perf_ok = false;
        perf_why = std::string((a->perf.ok() ? b->perf : a->perf).status().message());
      }
    }
    if (!any) continue;
    std::string kvm_text = kvm_ok ? absl::StrCat(kvm_all) : "n/a (1)";
    std::string perf_text = perf_ok ? absl::StrCat(perf) : "n/a (2)";
    printf("%-50s %10llu %12s %14s\n", row.what, static_cast<unsigned long long>(loop), kvm_text.c_str(),
           perf_text.c_str());
    // KVM's `exits` also counts exits it handled itself (a host interrupt
    // during the phase), so it may exceed the others, never fall short.
    if ((kvm_ok && kvm_all < loop) || (perf_ok && perf != loop)) {
      fprintf(stderr, "hello: the counts for '%s' disagree\n", row.what);
      rc = 1;
    }
  }
  if (!kvm_why.empty()) printf("(1) KVM statistics unreadable: %s\n", kvm_why.c_str());
  if (!perf_why.empty()) printf("(2) perf tracepoint kvm:kvm_userspace_exit unreadable: %s\n", perf_why.c_str());
  printf("run loop: KVM_RUN returns seen by our loop. KVM stats: the vCPU's `exits` counter from\n"
         "KVM_GET_STATS_FD (every exit, so it would also show exits KVM handled in the kernel).\n"
         "perf tracepoint: kvm:kvm_userspace_exit events on the vCPU's thread.\n");
  return rc;
}

}  // namespace
}  // namespace vmexit
}  // namespace oscost

int main(int argc, char** argv) { return oscost::vmexit::Main(argc, argv); }
