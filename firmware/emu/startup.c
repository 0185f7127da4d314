// Startup for QEMU mps2-an386 (Cortex-M4F): vector table, RAM initialisation, FPU on, stack painting, main().
#include <stdint.h>

extern uint32_t __data_load, __data_start, __data_end, __bss_start, __bss_end, __stack_limit, __stack_top;
extern void __libc_init_array(void);
extern int main(void);
extern void SysTick_Handler(void);

// Every stack word still holding this at report time was never used (main_emu.cc scans for it).
const uint32_t kStackPaint = 0xDEADBEEFu;
// Words below the reset handler's own frame left unpainted (it is running on them while it paints).
#define RESET_FRAME_WORDS 16u

// Coprocessor Access Control Register: CP10 and CP11 full access enables the FPU.
#define SCB_CPACR (*(volatile uint32_t*)0xE000ED88u)
#define CPACR_CP10_CP11_FULL (0xFu << 20)

static void Fault_Handler(void) {
  // A fault in the emulator is a firmware bug: stop here (the harness sees a timeout and names it).
  for (;;) {
  }
}

void Reset_Handler(void) {
  SCB_CPACR |= CPACR_CP10_CP11_FULL;
  __asm volatile("dsb\n isb");

  uint32_t* src = &__data_load;
  for (uint32_t* dst = &__data_start; dst < &__data_end;) *dst++ = *src++;
  for (uint32_t* dst = &__bss_start; dst < &__bss_end;) *dst++ = 0;

  uint32_t* sp;
  __asm volatile("mov %0, sp" : "=r"(sp));
  for (volatile uint32_t* word = &__stack_limit; word < sp - RESET_FRAME_WORDS;) *word++ = kStackPaint;

  __libc_init_array();
  main();
  for (;;) {
  }
}

// Cortex-M4 exception vectors (the MPS2 peripherals' interrupts are not used: everything is polled).
__attribute__((section(".vectors"), used)) static void (*const g_vectors[16])(void) = {
    (void (*)(void))(&__stack_top),  // initial main stack pointer
    Reset_Handler,
    Fault_Handler,  // NMI
    Fault_Handler,  // HardFault
    Fault_Handler,  // MemManage
    Fault_Handler,  // BusFault
    Fault_Handler,  // UsageFault
    0, 0, 0, 0,
    Fault_Handler,  // SVCall
    Fault_Handler,  // DebugMonitor
    0,
    Fault_Handler,  // PendSV
    SysTick_Handler,
};

// __libc_init_array calls these (crti.o normally supplies them; the image links with -nostartfiles).
void _init(void) {}
void _fini(void) {}
// Handle of this image for __cxa_atexit (static objects with destructors); crtbegin.o normally defines it.
void* __dso_handle = 0;
