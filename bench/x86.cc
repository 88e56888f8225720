#include "bench/x86.h"

#include <cstring>

namespace oscost::x86 {
namespace {

std::string Regs(std::initializer_list<uint32_t> words) {
  std::string out;
  for (uint32_t w : words) {
    char bytes[4];
    std::memcpy(bytes, &w, 4);
    out.append(bytes, 4);
  }
  while (!out.empty() && (out.back() == '\0' || out.back() == ' ')) out.pop_back();
  size_t start = out.find_first_not_of(' ');
  return start == std::string::npos ? "" : out.substr(start);
}

uint32_t MaxExtendedLeaf() { return Cpuid(0x80000000).eax; }

}  // namespace

std::string HypervisorVendor() {
  if (!HypervisorPresent()) return "";
  CpuidRegs r = Cpuid(0x40000000);
  return Regs({r.ebx, r.ecx, r.edx});
}

std::string CpuVendor() {
  CpuidRegs r = Cpuid(0);
  return Regs({r.ebx, r.edx, r.ecx});
}

std::string CpuBrand() {
  if (MaxExtendedLeaf() < 0x80000004) return "";
  std::string out;
  for (uint32_t leaf = 0x80000002; leaf <= 0x80000004; ++leaf) {
    CpuidRegs r = Cpuid(leaf);
    char bytes[16];
    std::memcpy(bytes, &r, 16);
    out.append(bytes, 16);
  }
  out = out.c_str();  // Drop the NUL padding.
  size_t start = out.find_first_not_of(' ');
  size_t end = out.find_last_not_of(' ');
  return start == std::string::npos ? "" : out.substr(start, end - start + 1);
}

bool TscInvariant() {
  if (MaxExtendedLeaf() < 0x80000007) return false;
  return (Cpuid(0x80000007).edx >> 8) & 1;
}

bool RdtscpSupported() {
  if (MaxExtendedLeaf() < 0x80000001) return false;
  return (Cpuid(0x80000001).edx >> 27) & 1;
}

}  // namespace oscost::x86
