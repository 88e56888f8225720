// Tests for proctree.h and the ptree CLI: a child and grandchild we start
// must appear under our pid at levels 1 and 2; our own line must match what
// the kernel tells us through system calls (getppid, geteuid).

#include "spawn/proctree.h"

#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "spawn/spawn.h"

namespace oscost {
namespace spawn {
namespace {

// A pid above the kernel's PID_MAX_LIMIT (4194304): never a process.
constexpr pid_t kNeverAPid = 4194304 + 1;

const ProcInfo* Find(const std::vector<ProcInfo>& tree, pid_t pid) {
  for (const ProcInfo& p : tree) {
    if (p.pid == pid) return &p;
  }
  return nullptr;
}

// sh (our child) running sleep (our grandchild): "; :" keeps sh from
// exec'ing sleep in its own place.
struct Family {
  Child sh;
  pid_t sleeper = -1;
};

Family StartFamily(std::vector<ProcInfo>* tree_out) {
  Family f;
  Command cmd;
  cmd.path = "/bin/sh";
  cmd.args = {"sh", "-c", "sleep 30; :"};
  absl::StatusOr<Child> child = Start(Method::kPosixSpawn, cmd);
  EXPECT_TRUE(child.ok()) << child.status();
  if (!child.ok()) return f;
  f.sh = *child;
  // Wait (bounded) until sh has forked sleep.
  for (int attempt = 0; attempt < 500 && f.sleeper < 0; ++attempt) {
    absl::StatusOr<std::vector<ProcInfo>> tree = ProcessTree(getpid());
    if (tree.ok()) {
      for (const ProcInfo& p : *tree) {
        if (p.ppid == f.sh.pid && p.comm == "sleep") f.sleeper = p.pid;
      }
      if (f.sleeper > 0) *tree_out = *tree;
    }
    timespec ten_ms = {0, 10 * 1000 * 1000};
    nanosleep(&ten_ms, nullptr);
  }
  return f;
}

void StopFamily(Family& f) {
  if (f.sleeper > 0) kill(f.sleeper, SIGKILL);
  if (f.sh.pid > 0) {
    kill(f.sh.pid, SIGKILL);
    (void)Wait(f.sh);
  }
}

TEST(ProcTreeTest, OurOwnLineMatchesTheKernel) {
  absl::StatusOr<ProcInfo> me = ReadProc(getpid());
  ASSERT_TRUE(me.ok()) << me.status();
  EXPECT_EQ(me->pid, getpid());
  EXPECT_EQ(me->ppid, getppid());
  EXPECT_EQ(me->uid, geteuid());
  EXPECT_EQ(me->state, 'R');  // We are running while we read it.
  EXPECT_EQ(me->comm, std::string(program_invocation_short_name).substr(0, 15));
}

TEST(ProcTreeTest, ChildAndGrandchildAtTheirLevels) {
  std::vector<ProcInfo> tree;
  Family f = StartFamily(&tree);
  ASSERT_GT(f.sleeper, 0) << "sh never started sleep";
  ASSERT_FALSE(tree.empty());
  EXPECT_EQ(tree[0].pid, getpid());
  EXPECT_EQ(tree[0].level, 0);
  const ProcInfo* sh = Find(tree, f.sh.pid);
  ASSERT_NE(sh, nullptr);
  EXPECT_EQ(sh->level, 1);
  EXPECT_EQ(sh->ppid, getpid());
  EXPECT_EQ(sh->comm, "sh");
  const ProcInfo* sleeper = Find(tree, f.sleeper);
  ASSERT_NE(sleeper, nullptr);
  EXPECT_EQ(sleeper->level, 2);
  EXPECT_EQ(sleeper->ppid, f.sh.pid);
  // Breadth-first: every level-1 line comes before every level-2 line.
  for (size_t i = 1; i < tree.size(); ++i) EXPECT_LE(tree[i - 1].level, tree[i].level);
  StopFamily(f);
}

TEST(ProcTreeTest, MissingPidIsNotFound) {
  EXPECT_EQ(ProcessTree(kNeverAPid).status().code(), absl::StatusCode::kNotFound);
}

TEST(ProcTreeTest, FormatQuotesOnlyWhenNeeded) {
  ProcInfo p;
  p.level = 2;
  p.comm = "kworker/0:1";
  p.pid = 10;
  p.ppid = 2;
  p.state = 'I';
  p.uid = 0;
  EXPECT_EQ(FormatProcLine(p), "2,kworker/0:1,10,2,I,0");
  p.comm = "a,\"b\"";
  EXPECT_EQ(FormatProcLine(p), "2,\"a,\"\"b\"\"\",10,2,I,0");
}

std::string PtreePath() {
  return absl::StrCat(std::getenv("TEST_SRCDIR"), "/oscost/spawn/ptree");
}

// Runs ptree with `args`; returns {exit code, stdout, stderr}.
struct Output {
  int code = -1;
  std::string out, err;
};

std::string Drain(int fd) {
  std::string s;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) s.append(buf, n);
  close(fd);
  return s;
}

Output RunPtree(std::vector<std::string> args) {
  Output o;
  std::string err_path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/ptree_stderr");
  int err_fd = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int out[2];
  if (err_fd < 0 || pipe2(out, O_CLOEXEC) != 0) return o;
  Command cmd;
  cmd.path = PtreePath();
  cmd.args = {"ptree"};
  cmd.args.insert(cmd.args.end(), args.begin(), args.end());
  cmd.stdout_fd = out[1];
  cmd.stderr_fd = err_fd;
  absl::StatusOr<Child> child = Start(Method::kPosixSpawn, cmd);
  close(out[1]);
  close(err_fd);
  o.out = Drain(out[0]);
  if (child.ok()) o.code = Wait(*child).value_or(-1);
  o.err = Drain(open(err_path.c_str(), O_RDONLY | O_CLOEXEC));
  return o;
}

TEST(PtreeCliTest, ListsOurChildUnderUs) {
  std::vector<ProcInfo> unused;
  Family f = StartFamily(&unused);
  ASSERT_GT(f.sleeper, 0);
  Output o = RunPtree({absl::StrCat(getpid())});
  const pid_t sh_pid = f.sh.pid, sleeper_pid = f.sleeper;
  StopFamily(f);
  ASSERT_EQ(o.code, 0) << o.err;
  std::vector<std::string> lines = absl::StrSplit(o.out, '\n', absl::SkipEmpty());
  ASSERT_FALSE(lines.empty());
  std::string uid = absl::StrCat(geteuid());
  EXPECT_EQ(lines[0].substr(0, 2), "0,");
  EXPECT_NE(lines[0].find(absl::StrCat(",", getpid(), ",", getppid(), ",")), std::string::npos)
      << lines[0];
  auto has = [&](const std::string& want) {
    for (const std::string& l : lines) {
      if (l == want) return true;
    }
    return false;
  };
  EXPECT_TRUE(has(absl::StrCat("1,sh,", sh_pid, ",", getpid(), ",S,", uid))) << o.out;
  EXPECT_TRUE(has(absl::StrCat("2,sleep,", sleeper_pid, ",", sh_pid, ",S,", uid))) << o.out;
  // ptree itself is our child too, running while it reads /proc.
  bool saw_ptree = false;
  for (const std::string& l : lines) {
    if (l.rfind("1,ptree,", 0) == 0) saw_ptree = true;
  }
  EXPECT_TRUE(saw_ptree) << o.out;
}

TEST(PtreeCliTest, MissingPidExitsTwo) {
  Output o = RunPtree({absl::StrCat(kNeverAPid)});
  EXPECT_EQ(o.code, 2);
  EXPECT_EQ(o.out, "");
  EXPECT_NE(o.err.find(absl::StrCat("no process with pid ", kNeverAPid)), std::string::npos)
      << o.err;
}

TEST(PtreeCliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(RunPtree({"abc"}).code, 2);
  EXPECT_EQ(RunPtree({"1", "2"}).code, 2);
  Output help = RunPtree({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("level,comm,pid,ppid,state,uid"), std::string::npos);
}

TEST(PtreeCliTest, DefaultRootIsPidOne) {
  Output o = RunPtree({});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.out.substr(0, 2), "0,");
  std::vector<std::string> first = absl::StrSplit(o.out.substr(0, o.out.find('\n')), ',');
  ASSERT_GE(first.size(), 6u);
  EXPECT_EQ(first[first.size() - 4], "1");  // pid (comm may hold commas)
}

}  // namespace
}  // namespace spawn
}  // namespace oscost
