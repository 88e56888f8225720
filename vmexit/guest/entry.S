/* entry.S: the guest image's first bytes (linked at VMX_CODE). The host
 * enters in 64-bit long mode with rdi/rsi/rdx/rcx = program, vCPU, argument,
 * flags and rsp at this vCPU's stack top; we keep the System V argument
 * registers as they are and call guest_main. It never returns; if it did,
 * the hlt loop makes that visible as KVM_EXIT_HLT forever. */
  .section .text.entry, "ax"
  .globl _start
  .code64
_start:
  call guest_main
1:
  hlt
  jmp 1b
  .section .note.GNU-stack, "", @progbits
