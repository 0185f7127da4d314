// Platform hooks for QEMU `-M mps2-an386` (Arm MPS2 with a Cortex-M4F): CMSDK APB UART0 as the serial link,
// SysTick as the clock. Linked instead of platform_arduino.cc by `make firmware-emu` (firmware/emu/emu.mk).
//
// Clock: SysTick counts the 25 MHz processor clock QEMU gives the MPS2 boards; its 24-bit counter is extended to
// 64 bits by the wrap interrupt. QEMU runs with `-icount shift=0`, where every guest instruction advances virtual
// time by exactly 1 ns: a SysTick tick (40 ns) is then 40 instructions, so CyclesNow() counts instructions (to the
// nearest 40) and MicrosNow() is the time of a 1 GHz core that retires one instruction per cycle. Without
// `-icount shift=0` both follow the host's real time and mean nothing.
#include <cstdint>

#include "core/platform.h"

namespace {

// CMSDK APB UART (ARM DDI 0479): data, state (bit 0 TX full, bit 1 RX full), control (bit 0 TX, bit 1 RX enable).
constexpr uintptr_t kUart0Base = 0x40004000u;
volatile uint32_t& UartReg(uintptr_t offset) { return *reinterpret_cast<volatile uint32_t*>(kUart0Base + offset); }
constexpr uintptr_t kUartData = 0x00, kUartState = 0x04, kUartCtrl = 0x08, kUartBaudDiv = 0x10;
constexpr uint32_t kUartTxFull = 1u << 0, kUartRxFull = 1u << 1;
constexpr uint32_t kUartTxEnable = 1u << 0, kUartRxEnable = 1u << 1;

// SysTick (ARMv7-M): control/status, reload, current value.
volatile uint32_t& SysTickReg(uintptr_t address) { return *reinterpret_cast<volatile uint32_t*>(address); }
constexpr uintptr_t kSysTickCtrl = 0xE000E010u, kSysTickLoad = 0xE000E014u, kSysTickVal = 0xE000E018u;
constexpr uint32_t kSysTickEnable = 1u << 0, kSysTickInterrupt = 1u << 1, kSysTickProcessorClock = 1u << 2;
constexpr uint32_t kSysTickPeriod = 1u << 24;  // the full 24-bit range: one interrupt per 0.67 s of virtual time

constexpr uint32_t kSysClockHz = 25000000;  // QEMU's MPS2 AN385/AN386 system clock
constexpr uint32_t kBaudRate = 115200;      // QEMU ignores it, but refuses to send with a divider below 16
constexpr uint64_t kNanosPerTick = 1000000000u / kSysClockHz;  // = instructions per tick under -icount shift=0
constexpr uint64_t kTicksPerMicro = kSysClockHz / 1000000u;

volatile uint32_t g_systick_wraps = 0;

uint64_t Ticks() {
  uint32_t wraps;
  uint32_t value;
  do {  // a wrap between the two reads changes g_systick_wraps: read again
    wraps = g_systick_wraps;
    value = SysTickReg(kSysTickVal);
  } while (wraps != g_systick_wraps);
  return static_cast<uint64_t>(wraps) * kSysTickPeriod + (kSysTickPeriod - 1 - value);
}

}  // namespace

extern "C" void SysTick_Handler() { g_systick_wraps = g_systick_wraps + 1; }

namespace platform {

void Init() {
  UartReg(kUartBaudDiv) = kSysClockHz / kBaudRate;
  UartReg(kUartCtrl) = kUartTxEnable | kUartRxEnable;
  SysTickReg(kSysTickLoad) = kSysTickPeriod - 1;
  SysTickReg(kSysTickVal) = 0;
  SysTickReg(kSysTickCtrl) = kSysTickEnable | kSysTickInterrupt | kSysTickProcessorClock;
}

int ReadByte() { return (UartReg(kUartState) & kUartRxFull) != 0 ? static_cast<int>(UartReg(kUartData) & 0xFF) : -1; }

void Write(const char* data, size_t len) {
  for (size_t i = 0; i < len; ++i) {
    while ((UartReg(kUartState) & kUartTxFull) != 0) {
    }
    UartReg(kUartData) = static_cast<uint8_t>(data[i]);
  }
}

uint32_t MicrosNow() { return static_cast<uint32_t>(Ticks() / kTicksPerMicro); }

uint32_t CyclesNow() { return static_cast<uint32_t>(Ticks() * kNanosPerTick); }

void SetLed(bool) {}  // the MPS2's FPGA LEDs are not modelled by QEMU in a visible way

}  // namespace platform
