#include "bench/context.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace oscost {
namespace {

std::map<std::string, std::string> Context() {
  std::map<std::string, std::string> m;
  for (const auto& [k, v] : CollectContext()) m[k] = v;
  return m;
}

TEST(ContextTest, EveryDocumentedKeyIsPresentAndNonEmpty) {
  std::map<std::string, std::string> ctx = Context();
  for (absl::string_view key : ContextKeys()) {
    auto it = ctx.find(std::string(key));
    ASSERT_NE(it, ctx.end()) << key;
    EXPECT_FALSE(it->second.empty()) << key;
  }
  EXPECT_EQ(ctx.size(), ContextKeys().size());
}

TEST(ContextTest, ValuesAgreeWithTheKernel) {
  std::map<std::string, std::string> ctx = Context();
  double hz = 0;
  ASSERT_TRUE(absl::SimpleAtod(ctx["tsc_hz"], &hz)) << ctx["tsc_hz"];
  EXPECT_GT(hz, 1e8);
  std::ifstream cs("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  std::string current;
  if (cs >> current) {
    EXPECT_EQ(ctx["clocksource"], current);
  }
  EXPECT_NE(ctx["clocksource_available"].find(ctx["clocksource"]), std::string::npos);
  std::ifstream release("/proc/sys/kernel/osrelease");
  std::string rel;
  if (release >> rel) {
    EXPECT_EQ(ctx["kernel_release"], rel);
  }
  EXPECT_TRUE(ctx["hypervisor"] == "true" || ctx["hypervisor"] == "false");
  if (ctx["hypervisor"] == "false") {
    EXPECT_EQ(ctx["hypervisor_vendor"], "none");
  }
  EXPECT_NE(ctx["perf_events"].find("page_faults="), std::string::npos);
  // /dev/kvm, opened independently: the key says api N exactly when it opens.
  int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd >= 0) {
    close(fd);
    EXPECT_EQ(ctx["kvm"].rfind("api 12; modules ", 0), 0u) << ctx["kvm"];
  } else {
    EXPECT_EQ(ctx["kvm"].rfind("unknown (open /dev/kvm", 0), 0u) << ctx["kvm"];
  }
}

// Every key is documented in the README, which is the key list users read.
TEST(ContextTest, ReadmeDocumentsEveryKey) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  ASSERT_NE(srcdir, nullptr);
  std::ifstream in(absl::StrCat(srcdir, "/", workspace ? workspace : "oscost", "/README.md"));
  ASSERT_TRUE(in) << "README.md not in runfiles";
  std::stringstream text;
  text << in.rdbuf();
  for (absl::string_view key : ContextKeys()) {
    EXPECT_NE(text.str().find(absl::StrCat("`", key, "`")), std::string::npos)
        << "README.md does not document context key " << key;
  }
}

}  // namespace
}  // namespace oscost
