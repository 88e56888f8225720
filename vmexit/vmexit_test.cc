// vmexit_test: the run loop decodes exits, the hypercalls do what
// hypercall.h says, failures end in errors. Counts are checked against
// KVM's own statistics and the kvm:kvm_userspace_exit tracepoint, not only
// against our run loop. Tests that need /dev/kvm skip with the reason.

#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "vmexit/hypercall.h"
#include "vmexit/kvm.h"
#include "vmexit/vmm.h"

namespace oscost {
namespace vmexit {
namespace {

constexpr absl::Duration kLimit = absl::Seconds(20);
const std::string kLine = VMX_HELLO_LINE;

#define REQUIRE_KVM(kvm)                                                               \
  absl::StatusOr<kvm::Kvm> kvm = kvm::Kvm::Open();                                     \
  if (!kvm.ok()) GTEST_SKIP() << "KVM unavailable: " << kvm.status().message();

std::unique_ptr<Machine> Make(const kvm::Kvm& kvm, Machine::Options options = {}) {
  absl::StatusOr<std::unique_ptr<Machine>> m = Machine::Create(kvm, options);
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? std::move(*m) : nullptr;
}

TEST(ExitReasons, TableIsIndexedByReasonAndNamed) {
  std::set<std::string> names;
  for (size_t i = 0; i < kvm::ExitReasons().size(); ++i) {
    const kvm::ExitReasonInfo& row = kvm::ExitReasons()[i];
    EXPECT_EQ(row.reason, i) << row.name;
    EXPECT_TRUE(names.insert(std::string(row.name)).second) << row.name;
  }
  EXPECT_EQ(kvm::ExitReasonName(KVM_EXIT_IO), "KVM_EXIT_IO");
  EXPECT_EQ(kvm::ExitReasonName(KVM_EXIT_SHUTDOWN), "KVM_EXIT_SHUTDOWN");
  EXPECT_EQ(kvm::ExitReasonName(KVM_EXIT_NOTIFY), "KVM_EXIT_NOTIFY");
  EXPECT_EQ(kvm::ExitReasonName(999), "KVM_EXIT_<unknown 999>");
  EXPECT_EQ(kvm::FindExitReason(999), nullptr);
}

TEST(GuestPath, RefusesEscapesBeforeTheKernelSeesThem) {
  EXPECT_TRUE(CheckGuestPath("hello.txt").ok());
  EXPECT_TRUE(CheckGuestPath("a/b..c/d.txt").ok());
  EXPECT_TRUE(absl::IsPermissionDenied(CheckGuestPath("/etc/passwd")));
  EXPECT_TRUE(absl::IsPermissionDenied(CheckGuestPath("..")));
  EXPECT_TRUE(absl::IsPermissionDenied(CheckGuestPath("a/../../b")));
  EXPECT_TRUE(absl::IsNotFound(CheckGuestPath("")));
  EXPECT_FALSE(CheckGuestPath(std::string("a\0b", 3)).ok());
  EXPECT_FALSE(CheckGuestPath(std::string(300, 'a')).ok());
}

TEST(Memory, TranslateRefusesRangesOutsideRam) {
  REQUIRE_KVM(kvm);
  std::unique_ptr<Machine> m = Make(*kvm);
  ASSERT_NE(m, nullptr);
  EXPECT_TRUE(m->vm().Translate(0, VMX_RAM_SIZE).ok());
  EXPECT_TRUE(m->vm().Translate(VMX_RAM_SIZE, 0).ok());
  EXPECT_FALSE(m->vm().Translate(VMX_RAM_SIZE - 4, 5).ok());
  EXPECT_FALSE(m->vm().Translate(VMX_RAM_SIZE, 1).ok());
  EXPECT_FALSE(m->vm().Translate(8, ~0ull).ok());           // length wraps
  EXPECT_FALSE(m->vm().Translate(~0ull - 2, 16).ok());      // address wraps
}

TEST(Stats, VcpuStatsListTheExitCounters) {
  REQUIRE_KVM(kvm);
  std::unique_ptr<Machine> m = Make(*kvm);
  ASSERT_NE(m, nullptr);
  const absl::StatusOr<kvm::KvmStats>& stats = m->vcpu(0).stats();
  if (!stats.ok()) GTEST_SKIP() << stats.status().message();
  std::vector<std::string> names = stats->Names();
  for (const char* want : {"exits", "io_exits", "mmio_exits", "halt_exits"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  }
}

// A guest that executes each user-space exit kind once: the decoded
// sequence, and KVM's and perf's counts of the same exits.
TEST(RunLoop, DecodesEachExitKind) {
  REQUIRE_KVM(kvm);
  std::unique_ptr<Machine> m = Make(*kvm);
  ASSERT_NE(m, nullptr);
  ASSERT_TRUE(m->Start(0, VMX_PROG_EXIT_KINDS, 0).ok());
  absl::StatusOr<PerfEvent> perf = PerfEvent::Open("kvm:kvm_userspace_exit");
  if (perf.ok()) {
    ASSERT_TRUE(perf->Enable().ok());
  }
  absl::StatusOr<kvm::ExitStats> before = m->vcpu(0).stats()->ReadExits();
  ASSERT_TRUE(before.ok()) << before.status();
  m->vcpu(0).Arm(kLimit);
  struct Seen {
    uint32_t reason;
    uint64_t where;  // port or MMIO address
    bool out;        // out / write
  };
  std::vector<Seen> seen;
  for (;;) {
    absl::StatusOr<Event> e = m->Step(0);
    ASSERT_TRUE(e.ok()) << e.status();
    const kvm_run* run = m->vcpu(0).run();
    if (run->exit_reason == KVM_EXIT_IO) {
      seen.push_back({KVM_EXIT_IO, run->io.port, run->io.direction == KVM_EXIT_IO_OUT});
    } else if (run->exit_reason == KVM_EXIT_MMIO) {
      seen.push_back({KVM_EXIT_MMIO, run->mmio.phys_addr, run->mmio.is_write != 0});
    } else {
      seen.push_back({run->exit_reason, 0, false});
    }
    if (*e == Event::kExit) break;
  }
  m->vcpu(0).Disarm();
  ASSERT_EQ(seen.size(), 6u);
  EXPECT_EQ(seen[0].reason, KVM_EXIT_IO);
  EXPECT_EQ(seen[0].where, VMX_PORT_CONSOLE);
  EXPECT_TRUE(seen[0].out);
  EXPECT_EQ(seen[1].reason, KVM_EXIT_IO);
  EXPECT_EQ(seen[1].where, VMX_PORT_BENCH);
  EXPECT_FALSE(seen[1].out);
  EXPECT_EQ(seen[2].reason, KVM_EXIT_MMIO);
  EXPECT_EQ(seen[2].where, VMX_MMIO_ADDR);
  EXPECT_TRUE(seen[2].out);
  EXPECT_EQ(seen[3].reason, KVM_EXIT_MMIO);
  EXPECT_FALSE(seen[3].out);
  EXPECT_EQ(seen[4].reason, KVM_EXIT_HLT);
  EXPECT_EQ(seen[5].reason, KVM_EXIT_IO);
  EXPECT_EQ(seen[5].where, VMX_PORT_HC_EXIT);
  EXPECT_EQ(m->state(0).exit_status, 0u);
  EXPECT_EQ(m->state(0).output, "K");
  EXPECT_EQ(m->state(0).loop_exits, 6u);
  absl::StatusOr<kvm::ExitStats> after = m->vcpu(0).stats()->ReadExits();
  ASSERT_TRUE(after.ok());
  kvm::ExitStats d = *after - *before;
  // KVM's `exits` also counts exits it handled itself (host preemption), so
  // at least, not exactly; halt_exits counts the HLT wherever it is handled.
  EXPECT_GE(d.exits, 6u);
  EXPECT_EQ(d.halt_exits, 1u);
  if (perf.ok()) {
    absl::StatusOr<uint64_t> n = perf->Read();
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 6u) << "kvm:kvm_userspace_exit on this thread";
  }
}

TEST(Hypercalls, PrintReturnsTheString) {
  REQUIRE_KVM(kvm);
  std::unique_ptr<Machine> m = Make(*kvm);
  ASSERT_NE(m, nullptr);
  ASSERT_TRUE(m->Start(0, VMX_PROG_PRINT_STRING, 0).ok());
  m->vcpu(0).Arm(kLimit);
  ASSERT_TRUE(m->Step(0).ok());
  m->vcpu(0).Disarm();
  EXPECT_EQ(m->state(0).last_print, kLine);
  EXPECT_EQ(m->state(0).output, kLine);
  ASSERT_EQ(m->state(0).log.size(), 1u);
  EXPECT_EQ(m->state(0).log[0].port, VMX_PORT_HC_PRINT);
  EXPECT_EQ(m->state(0).log[0].ret, static_cast<int64_t>(kLine.size()));
  EXPECT_EQ(m->state(0).loop_exits, 1u);
}

TEST(Hypercalls, ConsoleTakesOneExitPerCharacter) {
  REQUIRE_KVM(kvm);
  std::unique_ptr<Machine> m = Make(*kvm);
  ASSERT_NE(m, nullptr);
  ASSERT_TRUE(m->Start(0, VMX_PROG_PRINT_CHARS, 0).ok());
  m->vcpu(0).Arm(kLimit);
  for (size_t i = 0; i < kLine.size(); ++i) ASSERT_TRUE(m->Step(0).ok());
  m->vcpu(0).Disarm();
  EXPECT_EQ(m->state(0).output, kLine);
}

TEST(Hypercalls, ExitCountTheGuestReceivesIsTheHosts) {
  REQUIRE_KVM(kvm);
  Machine::Options options;
  options.perf = true;
  std::unique_ptr<Machine> m = Make(*kvm, options);
  ASSERT_NE(m, nullptr);
  ASSERT_TRUE(m->Start(0, VMX_PROG_HELLO, 0).ok());
  absl::StatusOr<uint64_t> status = m->RunToExit(0, kLimit);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, 0u);
  const VcpuState& st = m->state(0);
  const HypercallRecord* exits = nullptr;
  for (const HypercallRecord& r : st.log)
    if (r.port == VMX_PORT_HC_EXITS) exits = &r;
  ASSERT_NE(exits, nullptr);
  // mark, 14 chars, mark, print, mark, exits: the 19th exit.
  EXPECT_EQ(exits->ret, 19);
  ASSERT_TRUE(exits->kvm_exits.has_value());
  EXPECT_GE(*exits->kvm_exits, static_cast<uint64_t>(exits->ret));
  if (exits->perf_exits.has_value()) {
    EXPECT_EQ(*exits->perf_exits, static_cast<uint64_t>(exits->ret));
  } else {
    std::cerr << "perf column unchecked: " << st.perf_status << "\n";
  }
  EXPECT_EQ(st.output, kLine + kLine);
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = absl::StrCat(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp", "/vmexitXXXXXX");
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back(0);
    path_ = mkdtemp(buf.data());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(Hypercalls, FilesRoundTripAndRefuseEscapes) {
  REQUIRE_KVM(kvm);
  TempDir tmp;
  std::string served = tmp.path() + "/served", outside = tmp.path() + "/outside";
  ASSERT_EQ(mkdir(served.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(outside.c_str(), 0755), 0);
  std::ofstream(outside + "/secret.txt") << "secret";
  std::ofstream(tmp.path() + "/escape.txt") << "escape";
  ASSERT_EQ(symlink("../outside", (served + "/out").c_str()), 0);
  ASSERT_EQ(symlink(VMX_HELLO_FILE, (served + "/inside_link.txt").c_str()), 0);
  Machine::Options options;
  options.dir = served;
  std::unique_ptr<Machine> m = Make(*kvm, options);
  ASSERT_NE(m, nullptr);
  ASSERT_TRUE(m->Start(0, VMX_PROG_FILES, 0).ok());
  absl::StatusOr<uint64_t> status = m->RunToExit(0, kLimit);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, 0u) << "the guest's file round trip failed at step " << *status;
  // The host sees the bytes the guest wrote; the guest printed what it read.
  std::stringstream written;
  written << std::ifstream(served + "/" VMX_HELLO_FILE).rdbuf();
  EXPECT_EQ(written.str(), kLine);
  EXPECT_EQ(m->state(0).output, kLine);
  std::vector<std::pair<uint16_t, int64_t>> calls;
  for (const HypercallRecord& r : m->state(0).log) calls.push_back({r.port, r.ret});
  std::vector<std::pair<uint16_t, int64_t>> want = {
      {VMX_PORT_HC_OPEN, 0},      {VMX_PORT_HC_WRITE, 14},   {VMX_PORT_HC_CLOSE, 0},
      {VMX_PORT_HC_OPEN, 0},      {VMX_PORT_HC_READ, 14},    {VMX_PORT_HC_CLOSE, 0},
      {VMX_PORT_HC_PRINT, 14},
      {VMX_PORT_HC_OPEN, -VMX_EXDEV},  // ../escape.txt
      {VMX_PORT_HC_OPEN, -VMX_EXDEV},  // /etc/passwd
      {VMX_PORT_HC_OPEN, -VMX_EXDEV},  // out/secret.txt through a symlink
      {VMX_PORT_HC_OPEN, 0},           // inside_link.txt stays inside
      {VMX_PORT_HC_PRINT, -VMX_EFAULT},  // straddles the end of RAM
      {VMX_PORT_HC_PRINT, -VMX_EFAULT},  // wraps around
      {VMX_PORT_HC_READ, -VMX_EBADF},
      {VMX_PORT_HC_EXIT, 0},
  };
  EXPECT_EQ(calls, want);
}

TEST(Hypercalls, FilesWithoutADirectorySayEnosys) {
  REQUIRE_KVM(kvm);
  std::unique_ptr<Machine> m = Make(*kvm);
  ASSERT_NE(m, nullptr);
  ASSERT_TRUE(m->Start(0, VMX_PROG_FILES, 0).ok());
  absl::StatusOr<uint64_t> status = m->RunToExit(0, kLimit);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_NE(*status, 0u);
  ASSERT_FALSE(m->state(0).log.empty());
  EXPECT_EQ(m->state(0).log[0].ret, -VMX_ENOSYS);
}

TEST(Failures, TripleFaultIsAnErrorNamingShutdown) {
  REQUIRE_KVM(kvm);
  std::unique_ptr<Machine> m = Make(*kvm);
  ASSERT_NE(m, nullptr);
  ASSERT_TRUE(m->Start(0, VMX_PROG_TRIPLE_FAULT, 0).ok());
  absl::StatusOr<uint64_t> status = m->RunToExit(0, kLimit);
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(absl::StrContains(status.status().message(), "KVM_EXIT_SHUTDOWN")) << status.status();
  EXPECT_TRUE(absl::StrContains(status.status().message(), "rip=0x")) << status.status();
}

TEST(Failures, EndlessGuestHitsTheTimeLimit) {
  REQUIRE_KVM(kvm);
  std::unique_ptr<Machine> m = Make(*kvm);
  ASSERT_NE(m, nullptr);
  ASSERT_TRUE(m->Start(0, VMX_PROG_ENDLESS, 0).ok());
  absl::StatusOr<uint64_t> status = m->RunToExit(0, absl::Milliseconds(300));
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(absl::IsDeadlineExceeded(status.status())) << status.status();
  EXPECT_TRUE(absl::StrContains(status.status().message(), "time limit")) << status.status();
  EXPECT_TRUE(absl::StrContains(status.status().message(), "rip=0x")) << status.status();
}

TEST(Failures, UnexpectedPortIsAnError) {
  REQUIRE_KVM(kvm);
  std::unique_ptr<Machine> m = Make(*kvm);
  ASSERT_NE(m, nullptr);
  ASSERT_TRUE(m->Start(0, VMX_PROG_BAD_PORT, 0).ok());
  absl::StatusOr<uint64_t> status = m->RunToExit(0, kLimit);
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(absl::StrContains(status.status().message(), "unexpected port 0x3f8")) << status.status();
  EXPECT_TRUE(absl::StrContains(status.status().message(), "KVM_EXIT_IO")) << status.status();
}

TEST(Ioeventfd, PortWritesSignalTheEventfdInTheKernel) {
  REQUIRE_KVM(kvm);
  std::unique_ptr<Machine> m = Make(*kvm);
  ASSERT_NE(m, nullptr);
  ASSERT_TRUE(m->Start(0, VMX_PROG_IOEVENTFD, 10).ok());
  m->vcpu(0).Arm(kLimit);
  absl::StatusOr<Event> e = m->Step(0);
  m->vcpu(0).Disarm();
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(*e, Event::kDone);  // the ten writes never reached us
  eventfd_t count = 0;
  ASSERT_EQ(eventfd_read(m->ioeventfd(), &count), 0);
  EXPECT_EQ(count, 10u);
}

TEST(Vcpus, TwoVcpusBothFinishOnTheirOwnThreads) {
  REQUIRE_KVM(kvm);
  Machine::Options options;
  options.vcpus = 2;
  std::unique_ptr<Machine> m = Make(*kvm, options);
  ASSERT_NE(m, nullptr);
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(m->Start(i, VMX_PROG_HELLO, 0).ok());
  absl::StatusOr<std::vector<uint64_t>> statuses = m->RunAll(kLimit);
  ASSERT_TRUE(statuses.ok()) << statuses.status();
  EXPECT_EQ(*statuses, (std::vector<uint64_t>{0, 0}));
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(m->state(i).output, kLine + kLine) << "vCPU " << i;
    // 19 up to exits() (see above), then the end mark and the exit call.
    EXPECT_EQ(m->state(i).loop_exits, 21u) << "vCPU " << i;
  }
}

}  // namespace
}  // namespace vmexit
}  // namespace oscost
