/* guest.c: every guest program, freestanding (no libc), one entry. The
 * host picks the program through rdi (enum vmx_program in hypercall.h).
 * Benchmark bodies are inline assembly so that the exiting instruction and
 * the loop around it are exactly what the benchmark names. */
#define VMX_GUEST
#include "vmexit/hypercall.h"

static const char kLine[] = VMX_HELLO_LINE;
#define LINE_LEN (sizeof(kLine) - 1)

static uint64_t str_len(const char* s) {
  uint64_t n = 0;
  while (s[n]) ++n;
  return n;
}

static int mem_eq(const char* a, const char* b, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return 0;
  return 1;
}

/* Where file reads land (in .bss: zeroed guest RAM, not part of the image). */
static char buffer[4096];

static int64_t open_str(const char* path, uint64_t flags) {
  return vmx_open(path, str_len(path), flags);
}

/* Writes the line to VMX_HELLO_FILE and reads it back; 0 when it matched. */
static int file_round_trip(void) {
  int64_t fd = open_str(VMX_HELLO_FILE, VMX_O_RDWR | VMX_O_CREAT | VMX_O_TRUNC);
  if (fd < 0) return 1;
  if (vmx_write(fd, kLine, LINE_LEN) != (int64_t)LINE_LEN) return 2;
  if (vmx_close(fd) != 0) return 3;
  fd = open_str(VMX_HELLO_FILE, VMX_O_RDONLY);
  if (fd < 0) return 4;
  int64_t n = vmx_read(fd, buffer, sizeof(buffer));
  if (vmx_close(fd) != 0) return 5;
  if (n != (int64_t)LINE_LEN || !mem_eq(buffer, kLine, LINE_LEN)) return 6;
  vmx_print(buffer, (uint64_t)n);
  return 0;
}

static void hello(uint64_t vcpu, uint64_t with_files) {
  vmx_mark(VMX_PHASE_CONSOLE);
  for (uint64_t i = 0; i < LINE_LEN; ++i) vmx_putc(kLine[i]);
  vmx_mark(VMX_PHASE_PRINT);
  vmx_print(kLine, LINE_LEN);
  vmx_mark(VMX_PHASE_EXITS);
  int64_t exits = vmx_exits();
  int status = exits > 0 ? 0 : 100;
  if (with_files && vcpu == 0) {
    vmx_mark(VMX_PHASE_FILES);
    status = status ? status : file_round_trip();
  }
  vmx_mark(VMX_PHASE_END);
  vmx_exit((uint64_t)status);
}

/* The file test: a round trip, then every kind of escape and bad address.
 * The host logs each hypercall's result; the test reads that log. */
static void files(void) {
  int status = file_round_trip();
  open_str("../escape.txt", VMX_O_RDONLY);
  open_str("/etc/passwd", VMX_O_RDONLY);
  open_str("out/secret.txt", VMX_O_RDONLY);     /* out -> a directory outside */
  open_str("inside_link.txt", VMX_O_RDONLY);    /* -> hello.txt, stays inside */
  vmx_print((const char*)(uintptr_t)(VMX_RAM_SIZE - 4), 100);
  vmx_print((const char*)(uintptr_t)0xFFFFFFFFFFFFFFF0ull, 0x20);
  vmx_read(1000, buffer, 1);
  vmx_exit((uint64_t)status);
}

static void exit_kinds(uint64_t flags) {
  (void)flags;
  vmx_putc('K');                                      /* KVM_EXIT_IO out */
  (void)vmx_inb(VMX_PORT_BENCH);                      /* KVM_EXIT_IO in */
  *(volatile uint8_t*)(uintptr_t)VMX_MMIO_ADDR = 0x5A; /* KVM_EXIT_MMIO write */
  (void)*(volatile uint8_t*)(uintptr_t)VMX_MMIO_ADDR;  /* KVM_EXIT_MMIO read */
  __asm__ volatile("hlt");                            /* KVM_EXIT_HLT */
  vmx_exit(0);
}

void guest_main(uint64_t program, uint64_t vcpu, uint64_t arg, uint64_t flags) {
  switch (program) {
    case VMX_PROG_HELLO:
      hello(vcpu, arg);
      break;
    case VMX_PROG_PIO_OUT:
      for (;;) __asm__ volatile("outb %%al, %%dx" : : "a"(0), "d"(VMX_PORT_BENCH));
    case VMX_PROG_PIO_IN:
      for (;;) __asm__ volatile("inb %%dx, %%al" : : "d"(VMX_PORT_BENCH) : "rax");
    case VMX_PROG_MMIO_WRITE:
      for (;;) __asm__ volatile("movb $0, (%0)" : : "r"(VMX_MMIO_ADDR) : "memory");
    case VMX_PROG_HLT:
      for (;;) __asm__ volatile("hlt");
    case VMX_PROG_CPUID:
      for (;;) {
        for (uint64_t i = 0; i < arg; ++i)
          __asm__ volatile("cpuid" : : "a"(0), "c"(0) : "rbx", "rdx");
        vmx_outb(VMX_PORT_DONE, 0);
      }
    case VMX_PROG_VMCALL:
      /* An unknown hypercall number: KVM answers -KVM_ENOSYS in rax. */
      for (;;) {
        if (flags & VMX_FLAG_AMD) {
          for (uint64_t i = 0; i < arg; ++i)
            __asm__ volatile("vmmcall" : : "a"(~0ull) : "rbx", "rcx", "rdx", "rsi", "memory");
        } else {
          for (uint64_t i = 0; i < arg; ++i)
            __asm__ volatile("vmcall" : : "a"(~0ull) : "rbx", "rcx", "rdx", "rsi", "memory");
        }
        vmx_outb(VMX_PORT_DONE, 0);
      }
    case VMX_PROG_IOEVENTFD:
      for (;;) {
        for (uint64_t i = 0; i < arg; ++i)
          __asm__ volatile("outb %%al, %%dx" : : "a"(0), "d"(VMX_PORT_IOEVENTFD));
        vmx_outb(VMX_PORT_DONE, 0);
      }
    case VMX_PROG_REP_OUTSB:
      for (;;) {
        uint64_t count = arg, src = VMX_SCRATCH;
        __asm__ volatile("rep outsb" : "+c"(count), "+S"(src) : "d"(VMX_PORT_BENCH) : "memory");
        vmx_outb(VMX_PORT_DONE, 0);
      }
    case VMX_PROG_PRINT_CHARS:
      for (;;)
        for (uint64_t i = 0; i < LINE_LEN; ++i) vmx_putc(kLine[i]);
    case VMX_PROG_PRINT_STRING: {
      struct vmx_hc_args args = {(uint64_t)(uintptr_t)kLine, LINE_LEN, 0, 0, 0};
      for (;;) vmx_hypercall(VMX_PORT_HC_PRINT, &args);
    }
    case VMX_PROG_GUEST_LOOP:
      for (;;) {
        /* The loop of the in-kernel benchmarks, with nothing that exits. */
        for (uint64_t i = 0; i < arg; ++i) __asm__ volatile("" : : : "memory");
        vmx_outb(VMX_PORT_DONE, 0);
      }
    case VMX_PROG_TRIPLE_FAULT:
      __asm__ volatile("ud2");
      break;
    case VMX_PROG_ENDLESS:
      for (;;) __asm__ volatile("pause");
    case VMX_PROG_EXIT_KINDS:
      exit_kinds(flags);
      break;
    case VMX_PROG_BAD_PORT:
      vmx_outb(VMX_PORT_UNSERVED, 'x');
      break;
    case VMX_PROG_FILES:
      files();
      break;
  }
  vmx_exit(200 + program);
}
