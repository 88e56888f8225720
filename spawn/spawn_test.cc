// Tests for spawn.h, every method from the one Methods() table, checked
// against independent sources: the shell (/bin/sh prints what it received),
// the kernel's accounting (/proc/self/fd, /proc/<pid>/task/*/children,
// waitid(ECHILD)), and the ns links of /proc.

#include "spawn/spawn.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace oscost {
namespace spawn {
namespace {

std::string TmpDir() {
  const char* t = std::getenv("TEST_TMPDIR");
  return t != nullptr ? t : "/tmp";
}

int CountOpenFds() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n - 1;  // The DIR's own descriptor.
}

// Our children as the kernel lists them, over all our threads.
std::vector<pid_t> KernelChildren() {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream f(absl::StrCat("/proc/self/task/", e->d_name, "/children"));
    pid_t pid;
    while (f >> pid) out.push_back(pid);
  }
  closedir(d);
  return out;
}

bool HasAnyChild() {
  siginfo_t info;
  return waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0;  // else ECHILD
}

// Runs `cmd` with its stdout captured; returns {exit code, output}.
std::pair<absl::StatusOr<int>, std::string> Capture(Method method, Command cmd) {
  int fds[2];
  EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
  cmd.stdout_fd = fds[1];
  absl::StatusOr<Child> child = Start(method, cmd);
  close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) out.append(buf, n);
  close(fds[0]);
  if (!child.ok()) return {child.status(), out};
  return {Wait(*child), out};
}

}  // namespace

// Prints the method's name in test failure messages.
void PrintTo(const MethodInfo& m, std::ostream* os) { *os << m.name; }

namespace {

class SpawnMethodTest : public ::testing::TestWithParam<MethodInfo> {
 protected:
  Method method() const { return GetParam().method; }
};

TEST_P(SpawnMethodTest, TrueGivesZero) {
  Command cmd;
  cmd.path = "/bin/true";
  absl::StatusOr<int> code = spawn::Run(method(), cmd);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
}

TEST_P(SpawnMethodTest, FalseGivesOne) {
  Command cmd;
  cmd.path = "/bin/false";
  absl::StatusOr<int> code = spawn::Run(method(), cmd);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 1);
}

TEST_P(SpawnMethodTest, SignalDeathIs128PlusSignal) {
  Command cmd;
  cmd.path = "/bin/sh";
  cmd.args = {"sh", "-c", "kill -TERM $$"};
  absl::StatusOr<int> code = spawn::Run(method(), cmd);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 128 + SIGTERM);
}

TEST_P(SpawnMethodTest, ArgumentsAndEnvironmentArriveIntact) {
  Command cmd;
  cmd.path = "/bin/sh";
  // The shell prints every argument it received between bars, then the
  // whole environment it was given (env -0 would be GNU-only; one per line).
  cmd.args = {"oscost-argv0", "-c", "printf '%s|' \"$0\" \"$@\"; echo; env",
              "zero", "a b", "", "*", "tab\there", "\xc3\xbc"};
  cmd.env = std::vector<std::string>{"OSCOST_X=x y=z", "OSCOST_EMPTY=", "PATH=/usr/bin:/bin"};
  auto [code, out] = Capture(method(), cmd);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0], "zero|a b||*|tab\there|\xc3\xbc|");
  std::vector<std::string> env(lines.begin() + 1, lines.end());
  // dash adds PWD (and maybe OLDPWD) of its own; ours must be there intact.
  EXPECT_NE(std::find(env.begin(), env.end(), "OSCOST_X=x y=z"), env.end()) << out;
  EXPECT_NE(std::find(env.begin(), env.end(), "OSCOST_EMPTY="), env.end()) << out;
  EXPECT_NE(std::find(env.begin(), env.end(), "PATH=/usr/bin:/bin"), env.end()) << out;
  for (const std::string& e : env) EXPECT_NE(e.rfind("TEST_TMPDIR=", 0), 0u) << "leaked: " << e;
}

TEST_P(SpawnMethodTest, InheritsEnvironmentByDefault) {
  ASSERT_EQ(setenv("OSCOST_INHERITED", "yes it is", 1), 0);
  Command cmd;
  cmd.path = "/usr/bin/printenv";
  cmd.args = {"printenv", "OSCOST_INHERITED"};
  auto [code, out] = Capture(method(), cmd);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(out, "yes it is\n");
}

TEST_P(SpawnMethodTest, MissingProgramIsNotFound) {
  Command cmd;
  cmd.path = TmpDir() + "/no_such_program";
  absl::StatusOr<int> code = spawn::Run(method(), cmd);
  ASSERT_FALSE(code.ok());
  EXPECT_EQ(code.status().code(), absl::StatusCode::kNotFound) << code.status();
  EXPECT_NE(code.status().message().find("no_such_program"), absl::string_view::npos);
  EXPECT_FALSE(HasAnyChild());
}

TEST_P(SpawnMethodTest, NonExecutableIsPermissionDenied) {
  std::string path = absl::StrCat(TmpDir(), "/not_executable_", GetParam().name);
  { std::ofstream(path) << "#!/bin/sh\nexit 0\n"; }
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  Command cmd;
  cmd.path = path;
  absl::StatusOr<int> code = spawn::Run(method(), cmd);
  ASSERT_FALSE(code.ok());
  EXPECT_EQ(code.status().code(), absl::StatusCode::kPermissionDenied) << code.status();
  EXPECT_FALSE(HasAnyChild());
}

TEST_P(SpawnMethodTest, BadRedirectionIsReported) {
  // A descriptor number nothing uses (a freshly closed one would be reused
  // by the fork-like methods' report pipe): dup2 fails with EBADF.
  constexpr int kUnusedFd = 900;
  ASSERT_EQ(fcntl(kUnusedFd, F_GETFD), -1);
  Command cmd;
  cmd.path = "/bin/true";
  cmd.stdin_fd = kUnusedFd;
  absl::StatusOr<int> code = spawn::Run(method(), cmd);
  ASSERT_FALSE(code.ok());
  EXPECT_EQ(code.status().code(), absl::StatusCode::kFailedPrecondition) << code.status();
  EXPECT_FALSE(HasAnyChild());
}

TEST_P(SpawnMethodTest, NoZombieNoFdLeakAfter1000Spawns) {
  absl::StatusOr<std::string> helper = FindSpawnHelper();
  ASSERT_TRUE(helper.ok()) << helper.status();
  ASSERT_TRUE(KernelChildren().empty());
  const int fds_before = CountOpenFds();
  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  ASSERT_GE(devnull, 0);
  Command good;
  good.path = *helper;
  good.stdout_fd = devnull;
  Command missing;
  missing.path = TmpDir() + "/no_such_program";
  int ok = 0, not_found = 0;
  // Every tenth spawn takes the exec-failure path.
  for (int i = 0; i < 1000; ++i) {
    absl::StatusOr<int> code = spawn::Run(method(), i % 10 == 9 ? missing : good);
    if (code.ok() && *code == 0) ++ok;
    if (!code.ok() && absl::IsNotFound(code.status())) ++not_found;
  }
  EXPECT_EQ(ok, 900);
  EXPECT_EQ(not_found, 100);
  close(devnull);
  EXPECT_EQ(CountOpenFds(), fds_before);
  EXPECT_TRUE(KernelChildren().empty());
  EXPECT_FALSE(HasAnyChild());
}

TEST_P(SpawnMethodTest, PipelineEqualsShellAndLeavesNothing) {
  const int fds_before = CountOpenFds();
  int out[2];
  ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
  std::vector<Command> stages(3);
  stages[0].path = "/usr/bin/seq";
  stages[0].args = {"seq", "1000"};
  stages[1].path = "/bin/grep";
  stages[1].args = {"grep", "7"};
  stages[2].path = "/usr/bin/wc";
  stages[2].args = {"wc", "-l"};
  stages[2].stdout_fd = out[1];
  absl::StatusOr<std::vector<StageResult>> results = RunPipeline(method(), stages);
  close(out[1]);
  std::string got;
  char buf[256];
  ssize_t n;
  while ((n = read(out[0], buf, sizeof(buf))) > 0) got.append(buf, n);
  close(out[0]);
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 3u);
  for (const StageResult& r : *results) EXPECT_TRUE(r.start.ok()) << r.start;
  EXPECT_EQ(results->back().exit_code, 0);
  // The shell's answer for the same pipeline.
  FILE* sh = popen("seq 1000 | grep 7 | wc -l", "r");
  ASSERT_NE(sh, nullptr);
  std::string want;
  while (fgets(buf, sizeof(buf), sh) != nullptr) want += buf;
  ASSERT_EQ(pclose(sh), 0);
  EXPECT_EQ(got, want);
  EXPECT_EQ(CountOpenFds(), fds_before);
  EXPECT_FALSE(HasAnyChild());
}

TEST_P(SpawnMethodTest, PipelineWithMissingMiddleStage) {
  const int fds_before = CountOpenFds();
  std::vector<Command> stages(3);
  stages[0].path = "/usr/bin/seq";
  stages[0].args = {"seq", "100000"};
  stages[1].path = TmpDir() + "/no_such_program";
  stages[2].path = "/bin/true";
  absl::StatusOr<std::vector<StageResult>> results = RunPipeline(method(), stages);
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ((*results)[1].start.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*results)[1].exit_code, 127);
  // seq writes into a pipe nobody reads: SIGPIPE, as in a shell.
  EXPECT_EQ((*results)[0].exit_code, 128 + SIGPIPE);
  EXPECT_EQ((*results)[2].exit_code, 0);
  EXPECT_EQ(CountOpenFds(), fds_before);
  EXPECT_FALSE(HasAnyChild());
}

INSTANTIATE_TEST_SUITE_P(AllMethods, SpawnMethodTest, ::testing::ValuesIn(Methods()),
                         [](const ::testing::TestParamInfo<MethodInfo>& info) {
                           return std::string(info.param.name);
                         });

TEST(SpawnTest, MethodTableRoundTrips) {
  ASSERT_EQ(Methods().size(), 5u);
  for (const MethodInfo& m : Methods()) {
    absl::StatusOr<Method> parsed = ParseMethod(m.name);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, m.method);
    EXPECT_EQ(MethodName(m.method), m.name);
  }
  EXPECT_EQ(ParseMethod("spoon").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SpawnTest, FindProgramSearchesPath) {
  absl::StatusOr<std::string> sh = FindProgram("sh");
  ASSERT_TRUE(sh.ok()) << sh.status();
  EXPECT_EQ(access(sh->c_str(), X_OK), 0);
  EXPECT_EQ(*FindProgram("./relative/x"), "./relative/x");
  EXPECT_EQ(FindProgram("oscost-no-such-program-anywhere").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(SpawnTest, Clone3ChildIsReapedThroughItsPidfd) {
  Command cmd;
  cmd.path = "/bin/sh";
  cmd.args = {"sh", "-c", "exit 7"};
  absl::StatusOr<Child> child = Start(Method::kClone3, cmd);
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_GE(child->pidfd, 0);
  // The descriptor really is a pidfd for that child.
  std::ifstream fdinfo(absl::StrCat("/proc/self/fdinfo/", child->pidfd));
  std::string line, pid_line;
  while (std::getline(fdinfo, line)) {
    if (line.rfind("Pid:", 0) == 0) pid_line = line;
  }
  EXPECT_EQ(pid_line, absl::StrCat("Pid:\t", child->pid));
  int pidfd = child->pidfd;
  absl::StatusOr<int> code = Wait(*child);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 7);
  EXPECT_EQ(fcntl(pidfd, F_GETFD), -1);  // Closed by Wait().
}

bool IsRoot() { return geteuid() == 0; }

TEST(CloneNsTest, EverySetGivesNewNamespaces) {
  if (!IsRoot()) GTEST_SKIP() << "needs root (CAP_SYS_ADMIN) for the non-user namespaces";
  for (const NamespaceSet& set : NamespaceSets()) {
    absl::StatusOr<int> code = CloneInNamespaces(set.clone_flags, /*verify=*/true);
    ASSERT_TRUE(code.ok()) << set.name << ": " << code.status();
    EXPECT_EQ(*code, 0) << set.name << ": the child saw one of its parent's namespaces";
  }
}

int MaxUserNamespaces() {
  std::ifstream f("/proc/sys/user/max_user_namespaces");
  int n = 0;
  f >> n;
  return n;
}

// The README's claim: unprivileged, CLONE_NEWNET alone is refused, and with
// CLONE_NEWUSER in the same call it is allowed.
TEST(CloneNsTest, UserNamespaceRemovesThePrivilegeNeed) {
  if (!IsRoot()) GTEST_SKIP() << "needs root to drop to an unprivileged uid";
  if (MaxUserNamespaces() <= 0) GTEST_SKIP() << "user namespaces disabled here";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // nobody:nogroup, no supplementary groups, no capabilities.
    if (setgroups(0, nullptr) != 0 || setresgid(65534, 65534, 65534) != 0 ||
        setresuid(65534, 65534, 65534) != 0) {
      _exit(10);
    }
    absl::StatusOr<int> net = CloneInNamespaces(CLONE_NEWNET);
    if (net.ok()) _exit(11);
    if (!absl::IsPermissionDenied(net.status())) _exit(12);
    absl::StatusOr<int> user_net = CloneInNamespaces(CLONE_NEWUSER | CLONE_NEWNET, true);
    if (!user_net.ok()) _exit(13);
    if (*user_net != 0) _exit(14);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "10: could not drop privileges; 11: unprivileged CLONE_NEWNET succeeded; 12: it "
         "failed with another error than EPERM; 13/14: CLONE_NEWUSER|CLONE_NEWNET failed";
}

}  // namespace
}  // namespace spawn
}  // namespace oscost
