// TensorFlow Lite Micro's board hooks on the Arduino mbed core, replacing TFLM's generic Cortex-M port (left out of
// the generated library): its timer needs CMSIS 6's DCB, absent from the core's CMSIS 5, and its log hook formats
// with vsnprintf, which links most of newlib's printf. TFLM's messages (%d %u %x %s %c %p %f, with width, zero
// padding, left justification and h/l/ll/z sizes; %f rounds ties to even like printf) are formatted here instead
// and sent to Serial as protocol comment lines ("# ...").
#include <Arduino.h>
// The pinned TFLM library's marker header (firmware/tools/tflm_arduino_lib.py): Arduino CLI's library discovery links
// a library only when a sketch file includes a header at its root. This file is in the TFLM builds only
// (firmware/sources.mk), so the native engine's sketch links no TFLM.
#include <tflite_micro.h>

#include <cstdarg>
#include <cstddef>
#include <cstdint>

#include "tensorflow/lite/micro/debug_log.h"
#include "tensorflow/lite/micro/micro_time.h"

namespace {

// One formatted message at most (TFLM's own ports use the same bound).
constexpr size_t kMaxLogLen = 256;
// Digits printed after the point by %f when no precision is given (printf's default).
constexpr int kDefaultFloatDigits = 6;
constexpr uint32_t kMicrosPerSecond = 1000000;

// Bounded writer with vsnprintf's contract: counts every character, stores what fits, always terminates.
class Out {
 public:
  Out(char* buffer, size_t size) : buffer_(buffer), size_(size) {}
  void Put(char c) {
    if (length_ + 1 < size_) buffer_[length_] = c;
    ++length_;
  }
  void Pad(int count, char fill) {
    for (; count > 0; --count) Put(fill);
  }
  int Finish() {
    if (size_ > 0) buffer_[length_ < size_ ? length_ : size_ - 1] = '\0';
    return static_cast<int>(length_);
  }

 private:
  char* buffer_;
  size_t size_;
  size_t length_ = 0;
};

// Field layout of one conversion: minimum width, '0' or ' ' padding, '-' (left-justified).
struct Field {
  int width = 0;
  char fill = ' ';
  bool left = false;
};

void PutUnsigned(Out& out, unsigned long long value, unsigned base, bool upper, bool negative, Field field) {
  char digits[24];
  int n = 0;
  do {
    const unsigned d = static_cast<unsigned>(value % base);
    digits[n++] = static_cast<char>(d < 10 ? '0' + d : (upper ? 'A' : 'a') + d - 10);
    value /= base;
  } while (value != 0);
  const int pad = field.width - n - (negative ? 1 : 0);
  const bool zeros = field.fill == '0' && !field.left;
  if (!field.left && !zeros) out.Pad(pad, ' ');
  if (negative) out.Put('-');
  if (zeros) out.Pad(pad, '0');
  while (n > 0) out.Put(digits[--n]);
  if (field.left) out.Pad(pad, ' ');
}

// Single precision on purpose: the FPU does it, where double arithmetic would link software emulation.
void PutFloat(Out& out, float value, int precision) {
  if (value != value) {
    for (const char* s = "nan"; *s != '\0'; ++s) out.Put(*s);
    return;
  }
  if (value < 0) {
    out.Put('-');
    value = -value;
  }
  unsigned long long scale = 1;
  for (int i = 0; i < precision; ++i) scale *= 10;
  const float scaled = value * static_cast<float>(scale);
  if (scaled >= 1.8e19f) {  // beyond 64-bit fixed point: TFLM never logs such values
    for (const char* s = "inf"; *s != '\0'; ++s) out.Put(*s);
    return;
  }
  unsigned long long fixed = static_cast<unsigned long long>(scaled);
  const float rest = scaled - static_cast<float>(fixed);
  if (rest > 0.5f || (rest == 0.5f && (fixed & 1u) != 0)) ++fixed;  // ties to even, as printf
  Field digits;
  PutUnsigned(out, fixed / scale, 10, false, false, digits);
  if (precision > 0) {
    out.Put('.');
    digits.width = precision;
    digits.fill = '0';
    PutUnsigned(out, fixed % scale, 10, false, false, digits);
  }
}

int Format(char* buffer, size_t size, const char* format, va_list args) {
  Out out(buffer, size);
  for (const char* p = format; *p != '\0'; ++p) {
    if (*p != '%') {
      out.Put(*p);
      continue;
    }
    ++p;
    Field field;
    for (; *p == '-' || *p == '+' || *p == ' ' || *p == '#' || *p == '0'; ++p) {
      if (*p == '0') field.fill = '0';
      if (*p == '-') field.left = true;
    }
    for (; *p >= '0' && *p <= '9'; ++p) field.width = field.width * 10 + (*p - '0');
    int precision = -1;
    if (*p == '.') {
      precision = 0;
      for (++p; *p >= '0' && *p <= '9'; ++p) precision = precision * 10 + (*p - '0');
    }
    int longs = 0;
    bool size_t_arg = false;
    for (;; ++p) {
      if (*p == 'l') ++longs;
      else if (*p == 'z') size_t_arg = true;
      else if (*p != 'h') break;
    }
    const auto take_unsigned = [&]() -> unsigned long long {
      if (size_t_arg) return va_arg(args, size_t);
      if (longs >= 2) return va_arg(args, unsigned long long);
      if (longs == 1) return va_arg(args, unsigned long);
      return va_arg(args, unsigned int);
    };
    switch (*p) {
      case 'd':
      case 'i': {
        long long v = longs >= 2 ? va_arg(args, long long) : longs == 1 ? va_arg(args, long) : va_arg(args, int);
        const unsigned long long magnitude = v < 0 ? 0ull - static_cast<unsigned long long>(v) : v;
        PutUnsigned(out, magnitude, 10, false, v < 0, field);
        break;
      }
      case 'u':
        PutUnsigned(out, take_unsigned(), 10, false, false, field);
        break;
      case 'x':
      case 'X':
        PutUnsigned(out, take_unsigned(), 16, *p == 'X', false, field);
        break;
      case 'p':
        out.Put('0');
        out.Put('x');
        PutUnsigned(out, reinterpret_cast<uintptr_t>(va_arg(args, void*)), 16, false, false, Field());
        break;
      case 'c':
        out.Put(static_cast<char>(va_arg(args, int)));
        break;
      case 's': {
        const char* s = va_arg(args, const char*);
        for (s = s != nullptr ? s : "(null)"; *s != '\0'; ++s) out.Put(*s);
        break;
      }
      case 'f':
      case 'g':
      case 'e':
        PutFloat(out, static_cast<float>(va_arg(args, double)), precision >= 0 ? precision : kDefaultFloatDigits);
        break;
      case '\0':
        return out.Finish();
      default:  // %% and anything unknown: printed as is
        out.Put(*p);
    }
  }
  return out.Finish();
}

// Whether the next character sent starts a line (then it gets the protocol's comment prefix).
bool g_line_start = true;

}  // namespace

extern "C" void DebugLog(const char* format, va_list args) {
  char text[kMaxLogLen];
  const int length = Format(text, sizeof(text), format, args);
  const size_t stored = length < static_cast<int>(sizeof(text)) ? static_cast<size_t>(length) : sizeof(text) - 1;
  for (size_t i = 0; i < stored; ++i) {
    if (text[i] == '\r') continue;  // the protocol's lines end with \n alone
    if (g_line_start) Serial.write(reinterpret_cast<const uint8_t*>("# "), 2);
    Serial.write(static_cast<uint8_t>(text[i]));
    g_line_start = text[i] == '\n';
  }
}

extern "C" int DebugVsnprintf(char* buffer, size_t buf_size, const char* format, va_list vlist) {
  return Format(buffer, buf_size, format, vlist);
}

namespace tflite {

uint32_t ticks_per_second() { return kMicrosPerSecond; }

uint32_t GetCurrentTimeTicks() { return micros(); }

}  // namespace tflite
