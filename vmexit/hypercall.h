/* hypercall.h: the one interface between our guests and our hypervisor: the
 * guest memory layout, the I/O ports, and what each port does. Included by
 * the freestanding guest (C, compiled with -ffreestanding) and by the host
 * (C++), so it is plain C with fixed-width types and no libc.
 *
 * Calling convention. A guest calls the host with one `out` to a port of the
 * table below, so every hypercall is exactly one VM exit to user space:
 *   - VMX_PORT_CONSOLE takes the byte in AL (`outb`): one character.
 *   - Every other VMX_PORT_HC_* port takes, in EAX (`outl`), the
 *     guest-physical address of a `struct vmx_hc_args`. The host reads the
 *     arguments from guest memory, writes the result to `ret`, and resumes
 *     the guest after the `out`. A negative `ret` is -errno (Linux numbers,
 *     listed below).
 * The host never trusts a guest address or length: an argument block, string
 * or buffer that is not wholly inside guest RAM is refused with -VMX_EFAULT.
 * File paths are relative to the one directory the host serves (--dir);
 * absolute paths, `..` components and symlinks that lead outside it are
 * refused with -VMX_EXDEV (what openat2(RESOLVE_BENEATH) says).
 *
 * Caveats: ports not in the table (and ports in the table used with the
 * wrong direction or width) end the run with an error; the guest cannot
 * probe. The benchmark ports exist only so that their exits are known.
 *
 * Example (guest):
 *   static const char msg[] = "Hello, world!\n";
 *   vmx_print(msg, sizeof(msg) - 1);        // one exit
 *   uint64_t n = vmx_exits();               // the host's exit count so far
 */
#ifndef OSCOST_VMEXIT_HYPERCALL_H_
#define OSCOST_VMEXIT_HYPERCALL_H_

#include <stdint.h>

/* ---- Guest-physical memory layout (identity-mapped, 4-level paging). ---- */
#define VMX_RAM_SIZE 0x800000ull        /* 8 MiB of guest RAM at GPA 0. */
#define VMX_PAGE_TABLES 0x10000ull      /* vCPU i: PML4, PDPT, PD at +i*0x3000. */
#define VMX_PAGE_TABLE_STRIDE 0x3000ull
#define VMX_MAX_VCPUS 8
#define VMX_GDT 0x8000ull               /* A flat 64-bit GDT (null, code, data). */
#define VMX_CODE 0x100000ull            /* The guest image is linked here. */
#define VMX_SCRATCH 0x400000ull         /* Buffers for the host to test with. */
#define VMX_STACK_TOP VMX_RAM_SIZE      /* vCPU i's stack ends at TOP - i*SIZE. */
#define VMX_STACK_SIZE 0x10000ull
#define VMX_MAPPED_SIZE 0x40000000ull   /* 1 GiB mapped: 512 2-MiB pages. */
/* Mapped by the page tables, backed by no memory slot: KVM_EXIT_MMIO. */
#define VMX_MMIO_ADDR 0x3FE00000ull

/* ---- Entry: registers the host sets before the first KVM_RUN. ----------
 * rdi = program (enum vmx_program), rsi = vCPU index, rdx = argument
 * (iterations or bytes), rcx = flags (VMX_FLAG_*), rsp = this vCPU's stack. */
#define VMX_FLAG_AMD 1u /* Use VMMCALL (AMD) rather than VMCALL (Intel). */

enum vmx_program {
  VMX_PROG_HELLO = 1,       /* the hello tour: console, print, exits, files */
  VMX_PROG_PIO_OUT = 2,     /* forever: outb VMX_PORT_BENCH */
  VMX_PROG_PIO_IN = 3,      /* forever: inb VMX_PORT_BENCH */
  VMX_PROG_MMIO_WRITE = 4,  /* forever: movb to VMX_MMIO_ADDR */
  VMX_PROG_HLT = 5,         /* forever: hlt */
  VMX_PROG_CPUID = 6,       /* forever: arg x cpuid, then outb VMX_PORT_DONE */
  VMX_PROG_VMCALL = 7,      /* forever: arg x vmcall/vmmcall, then DONE */
  VMX_PROG_IOEVENTFD = 8,   /* forever: arg x outb VMX_PORT_IOEVENTFD, then DONE */
  VMX_PROG_REP_OUTSB = 9,   /* forever: rep outsb of arg bytes to BENCH, DONE */
  VMX_PROG_PRINT_CHARS = 10,/* forever: "Hello, world!\n" char by char on CONSOLE */
  VMX_PROG_PRINT_STRING = 11,/* forever: "Hello, world!\n" through vmx_print */
  VMX_PROG_GUEST_LOOP = 12, /* forever: arg x the loop with no exit, then DONE */
  VMX_PROG_TRIPLE_FAULT = 13,/* ud2 with no IDT: #UD, #GP, #DF, shutdown */
  VMX_PROG_ENDLESS = 14,    /* a loop with no exit at all */
  VMX_PROG_EXIT_KINDS = 15, /* each user-space exit kind once, then exit(0) */
  VMX_PROG_BAD_PORT = 16,   /* outb to a port nobody serves */
  VMX_PROG_FILES = 17,      /* a file round trip, then escapes and bad addresses */
};

/* ---- Ports (the table). ------------------------------------------------ */
#define VMX_PORT_CONSOLE 0xE9   /* outb: one character (Bochs/QEMU debugcon). */
#define VMX_PORT_HC_PRINT 0xF0  /* a0 = gpa, a1 = len: print the string. ret = len */
#define VMX_PORT_HC_EXITS 0xF1  /* ret = this vCPU's user-space exits so far, this one included */
#define VMX_PORT_HC_OPEN 0xF2   /* a0 = path gpa, a1 = path len, a2 = VMX_O_* flags; ret = fd */
#define VMX_PORT_HC_READ 0xF3   /* a0 = fd, a1 = buffer gpa, a2 = len; ret = bytes read */
#define VMX_PORT_HC_WRITE 0xF4  /* a0 = fd, a1 = buffer gpa, a2 = len; ret = bytes written */
#define VMX_PORT_HC_CLOSE 0xF5  /* a0 = fd; ret = 0 */
#define VMX_PORT_HC_MARK 0xF6   /* a0 = phase number: the host snapshots its counters. ret = 0 */
#define VMX_PORT_HC_EXIT 0xF7   /* a0 = status: the guest is done (0 = success). */
#define VMX_PORT_DONE 0xF8      /* outb: a batch of in-kernel operations is done. */
#define VMX_PORT_BENCH 0x7F0    /* outb/inb/rep outsb: an unclaimed port (in reads 0). */
#define VMX_PORT_IOEVENTFD 0x7F4/* outb: claimed in the kernel by an ioeventfd. */
#define VMX_PORT_UNSERVED 0x3F8 /* what VMX_PROG_BAD_PORT writes to (a COM1 we lack). */

#define VMX_O_RDONLY 0x0
#define VMX_O_WRONLY 0x1
#define VMX_O_RDWR 0x2
#define VMX_O_CREAT 0x40
#define VMX_O_TRUNC 0x200

/* Errors the guest sees, as -errno (Linux's numbers). */
#define VMX_ENOENT 2
#define VMX_EBADF 9
#define VMX_EACCES 13
#define VMX_EFAULT 14
#define VMX_EXDEV 18   /* the path leaves the served directory */
#define VMX_EINVAL 22
#define VMX_EMFILE 24
#define VMX_ENOSYS 38  /* no directory is served (no --dir) */

#define VMX_MAX_IO 0x100000ull  /* longest print/read/write: 1 MiB */
#define VMX_MAX_PATH 255
#define VMX_MAX_FILES 16

/* The argument block of every VMX_PORT_HC_* port. */
struct vmx_hc_args {
  uint64_t a0, a1, a2, a3;
  int64_t ret;
};

/* Phases of VMX_PROG_HELLO, marked with VMX_PORT_HC_MARK before each. */
enum vmx_phase {
  VMX_PHASE_CONSOLE = 1, /* the line, one outb per character */
  VMX_PHASE_PRINT = 2,   /* the line, one vmx_print */
  VMX_PHASE_EXITS = 3,   /* one vmx_exits */
  VMX_PHASE_FILES = 4,   /* open, write, close, open, read, close (with a dir) */
  VMX_PHASE_END = 5,
};
#define VMX_HELLO_LINE "Hello, world!\n"
#define VMX_HELLO_FILE "hello.txt"

#ifdef VMX_GUEST
/* ---- Guest side. ------------------------------------------------------- */
static inline void vmx_outb(uint16_t port, uint8_t value) {
  __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port) : "memory");
}
static inline uint8_t vmx_inb(uint16_t port) {
  uint8_t value;
  __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port) : "memory");
  return value;
}
/* One exit: the host reads *args, writes args->ret. */
static inline int64_t vmx_hypercall(uint16_t port, struct vmx_hc_args* args) {
  __asm__ volatile("outl %0, %1" : : "a"((uint32_t)(uintptr_t)args), "Nd"(port) : "memory");
  return args->ret;
}
static inline int64_t vmx_call(uint16_t port, uint64_t a0, uint64_t a1, uint64_t a2) {
  struct vmx_hc_args args = {a0, a1, a2, 0, 0};
  return vmx_hypercall(port, &args);
}
static inline void vmx_putc(char c) { vmx_outb(VMX_PORT_CONSOLE, (uint8_t)c); }
static inline int64_t vmx_print(const char* s, uint64_t len) {
  return vmx_call(VMX_PORT_HC_PRINT, (uint64_t)(uintptr_t)s, len, 0);
}
static inline int64_t vmx_exits(void) { return vmx_call(VMX_PORT_HC_EXITS, 0, 0, 0); }
static inline int64_t vmx_open(const char* path, uint64_t len, uint64_t flags) {
  return vmx_call(VMX_PORT_HC_OPEN, (uint64_t)(uintptr_t)path, len, flags);
}
static inline int64_t vmx_read(int64_t fd, void* buf, uint64_t len) {
  return vmx_call(VMX_PORT_HC_READ, (uint64_t)fd, (uint64_t)(uintptr_t)buf, len);
}
static inline int64_t vmx_write(int64_t fd, const void* buf, uint64_t len) {
  return vmx_call(VMX_PORT_HC_WRITE, (uint64_t)fd, (uint64_t)(uintptr_t)buf, len);
}
static inline int64_t vmx_close(int64_t fd) { return vmx_call(VMX_PORT_HC_CLOSE, (uint64_t)fd, 0, 0); }
static inline void vmx_mark(uint64_t phase) { vmx_call(VMX_PORT_HC_MARK, phase, 0, 0); }
static inline void vmx_exit(uint64_t status) {
  for (;;) vmx_call(VMX_PORT_HC_EXIT, status, 0, 0);
}
#endif /* VMX_GUEST */

#endif /* OSCOST_VMEXIT_HYPERCALL_H_ */
