// x86.h: the x86-64 instructions the suite reads time and identity with.
//
// Caveats, read before trusting a number built on these:
//  - RDTSC is not serializing: earlier instructions may still be in flight and
//    later ones may already have started when it samples the counter. LFENCE
//    before it waits for earlier instructions to complete locally (AMD needs
//    LFENCE to be dispatch-serializing, which every Linux kernel with Spectre
//    mitigations enables). CPUID fully serializes but is itself slow and, under
//    a hypervisor, always causes a VM exit.
//  - RDTSCP waits for earlier instructions, not for later ones, and also
//    returns IA32_TSC_AUX (Linux puts the CPU number there).
//  - The TSC ticks at a constant rate only when CPUID says it is invariant
//    (leaf 0x80000007 EDX bit 8) or the kernel flags constant_tsc; otherwise it
//    follows the core clock. TSCs of different CPUs are synchronized by
//    firmware and checked by the kernel, not guaranteed.
//  - Under a hypervisor the TSC is usually offset and scaled by the host; a
//    migrated VM can see a jump. The kernel's clocksource choice (tsc vs
//    kvm-clock) says whether Linux trusts it.
//
// Example:
//   uint64_t t0 = oscost::x86::LfenceRdtsc();
//   Work();
//   uint64_t cycles = oscost::x86::Rdtscp() - t0;

#ifndef OSCOST_BENCH_X86_H_
#define OSCOST_BENCH_X86_H_

#include <cstdint>
#include <string>

#if !defined(__x86_64__)
#error "oscost's timer benchmarks need x86-64 (RDTSC, CPUID)"
#endif

namespace oscost::x86 {

struct CpuidRegs {
  uint32_t eax, ebx, ecx, edx;
};

inline CpuidRegs Cpuid(uint32_t leaf, uint32_t subleaf = 0) {
  CpuidRegs r;
  asm volatile("cpuid"
               : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
               : "a"(leaf), "c"(subleaf));
  return r;
}

// Plain RDTSC: cheapest, unordered with respect to surrounding instructions.
inline uint64_t Rdtsc() {
  uint32_t lo, hi;
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (uint64_t{hi} << 32) | lo;
}

// RDTSCP: waits for all earlier instructions; *aux receives IA32_TSC_AUX.
inline uint64_t Rdtscp(uint32_t* aux = nullptr) {
  uint32_t lo, hi, c;
  asm volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(c));
  if (aux != nullptr) *aux = c;
  return (uint64_t{hi} << 32) | lo;
}

// LFENCE; RDTSC: ordered after earlier instructions.
inline uint64_t LfenceRdtsc() {
  uint32_t lo, hi;
  asm volatile("lfence\n\trdtsc" : "=a"(lo), "=d"(hi)::"memory");
  return (uint64_t{hi} << 32) | lo;
}

// CPUID; RDTSC: the start-of-interval read of Intel's "How to Benchmark Code
// Execution Times" whitepaper (Paoloni, 2010): CPUID drains the pipeline so
// nothing earlier leaks into the interval.
inline uint64_t CpuidRdtsc() {
  uint32_t lo, hi;
  asm volatile(
      "xor %%eax, %%eax\n\t"
      "cpuid\n\t"
      "rdtsc"
      : "=a"(lo), "=d"(hi)
      :
      : "rbx", "rcx", "memory");
  return (uint64_t{hi} << 32) | lo;
}

// CPUID.1:ECX bit 31: set by every mainstream hypervisor.
inline bool HypervisorPresent() { return (Cpuid(1).ecx >> 31) & 1; }

// CPUID 0x40000000 EBX:ECX:EDX, e.g. "KVMKVMKVM", "Microsoft Hv",
// "VMwareVMware", "TCGTCGTCGTCG". Empty when no hypervisor bit is set.
std::string HypervisorVendor();

// CPUID 0 EBX:EDX:ECX, e.g. "AuthenticAMD".
std::string CpuVendor();

// CPUID 0x80000002..4: the brand string, trimmed.
std::string CpuBrand();

// CPUID 0x80000007 EDX bit 8: the TSC runs at a constant rate in all ACPI
// P-, C- and T-states.
bool TscInvariant();

// CPUID 0x80000001 EDX bit 27.
bool RdtscpSupported();

}  // namespace oscost::x86

#endif  // OSCOST_BENCH_X86_H_
