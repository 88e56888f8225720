/* bare_kvm_loop: the smallest KVM user of all, the side-by-side reference for
 * vmexit/pio_out. One VM, one vCPU in 64-bit long mode (one 2 MiB identity
 * page, as our wrapper does), a guest that does `out %al, %dx` to port 0x7F0
 * in a loop, and a host loop of bare ioctl(KVM_RUN) calls timed as a whole.
 * No wrapper, no C++, no error strings in the loop: if vmexit/pio_out costs
 * the same per exit, the wrapper adds nothing measurable.
 *
 * Usage: bare_kvm_loop [EXITS] [ROUNDS]; prints the best round's ns/exit.
 * Exit status 2 on bad usage, 1 when KVM is missing or the guest misbehaves,
 * 77 (the "skip" code) when /dev/kvm cannot be opened. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define RAM_SIZE 0x200000 /* one 2 MiB page */
#define PML4 0x1000
#define PDPT 0x2000
#define PD 0x3000
#define CODE 0x10000
#define PORT 0x7F0

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int fail(const char* what) {
  fprintf(stderr, "bare_kvm_loop: %s: %s\n", what, strerror(errno));
  return 1;
}

int main(int argc, char** argv) {
  long exits = argc > 1 ? atol(argv[1]) : 100000;
  int rounds = argc > 2 ? atoi(argv[2]) : 5;
  if (exits <= 0 || rounds <= 0) {
    fprintf(stderr, "usage: %s [EXITS>0] [ROUNDS>0]\n", argv[0]);
    return 2;
  }
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) {
    fprintf(stderr, "bare_kvm_loop: open /dev/kvm: %s\n", strerror(errno));
    return 77;
  }
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) return fail("KVM_CREATE_VM");
  uint8_t* ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ram == MAP_FAILED) return fail("mmap");
  struct kvm_userspace_memory_region region = {0, 0, 0, RAM_SIZE, (uint64_t)(uintptr_t)ram};
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) return fail("KVM_SET_USER_MEMORY_REGION");
  /* Page tables: PML4 -> PDPT -> PD with one present, writable 2 MiB page. */
  *(uint64_t*)(ram + PML4) = PDPT | 3;
  *(uint64_t*)(ram + PDPT) = PD | 3;
  *(uint64_t*)(ram + PD) = 0 | 0x83;
  /* 1: out %al, %dx ; jmp 1b  (dx = PORT, set below) */
  static const uint8_t code[] = {0xee, 0xeb, 0xfd};
  memcpy(ram + CODE, code, sizeof(code));

  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) return fail("KVM_CREATE_VCPU");
  int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  struct kvm_run* run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED) return fail("mmap kvm_run");
  struct kvm_sregs sregs;
  if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) return fail("KVM_GET_SREGS");
  struct kvm_segment cs = {.base = 0, .limit = 0xffffffff, .selector = 8, .type = 11, .present = 1,
                           .dpl = 0, .db = 0, .s = 1, .l = 1, .g = 1};
  struct kvm_segment ds = cs;
  ds.selector = 16;
  ds.type = 3;
  ds.l = 0;
  ds.db = 1;
  sregs.cs = cs;
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = ds;
  sregs.cr3 = PML4;
  sregs.cr4 = 1 << 5;                       /* PAE */
  sregs.cr0 = 0x80000001 | 0x10 | 0x20;     /* PG, PE, ET, NE */
  sregs.efer = 0x500;                       /* LME, LMA */
  if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) return fail("KVM_SET_SREGS");
  struct kvm_regs regs;
  memset(&regs, 0, sizeof(regs));
  regs.rip = CODE;
  regs.rflags = 2;
  regs.rdx = PORT;
  regs.rsp = RAM_SIZE;
  if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) return fail("KVM_SET_REGS");

  /* Warm up, and check the guest really exits with KVM_EXIT_IO on PORT. */
  for (int i = 0; i < 100; ++i) {
    if (ioctl(vcpu, KVM_RUN, 0) < 0) return fail("KVM_RUN");
    if (run->exit_reason != KVM_EXIT_IO || run->io.port != PORT) {
      fprintf(stderr, "bare_kvm_loop: unexpected exit %u (port 0x%x)\n", run->exit_reason, run->io.port);
      return 1;
    }
  }
  double best = 0;
  for (int r = 0; r < rounds; ++r) {
    double start = now_ns();
    for (long i = 0; i < exits; ++i) {
      if (ioctl(vcpu, KVM_RUN, 0) < 0 && errno != EINTR) return fail("KVM_RUN");
    }
    double per_exit = (now_ns() - start) / exits;
    if (run->exit_reason != KVM_EXIT_IO) {
      fprintf(stderr, "bare_kvm_loop: unexpected exit %u\n", run->exit_reason);
      return 1;
    }
    if (r == 0 || per_exit < best) best = per_exit;
  }
  printf("bare KVM_RUN loop, out to port 0x%x: %.1f ns/exit (best of %d rounds of %ld)\n", PORT, best, rounds,
         exits);
  return 0;
}
