// A minimal self-registering unit-test harness for the host build (no third-party test framework needed).
#pragma once

#include <cstdio>
#include <cstring>
#include <string>

namespace micro_test {

using TestFn = void (*)();

struct TestCase {
  const char* name;
  TestFn fn;
  TestCase* next;
};

// Registers a test at static-initialization time; test_main.cc runs them in order of registration.
TestCase*& Registry();
int& Failures();
// Path of firmware/protocol/golden_vectors.txt (argv[1] of the test binary).
extern const char* g_golden_path;

struct Registrar {
  Registrar(TestCase* test) {
    TestCase** tail = &Registry();
    while (*tail != nullptr) tail = &(*tail)->next;
    *tail = test;
  }
};

inline void Fail(const char* file, int line, const std::string& what) {
  std::fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what.c_str());
  ++Failures();
}

}  // namespace micro_test

#define TEST(name)                                                           \
  static void name();                                                        \
  static micro_test::TestCase name##_case{#name, &name, nullptr};            \
  static micro_test::Registrar name##_registrar{&name##_case};               \
  static void name()

#define EXPECT_TRUE(cond) \
  do { if (!(cond)) micro_test::Fail(__FILE__, __LINE__, #cond); } while (0)

#define EXPECT_EQ(a, b)                                                                   \
  do {                                                                                    \
    const auto& expect_a_ = (a);                                                          \
    const auto& expect_b_ = (b);                                                          \
    if (!(expect_a_ == expect_b_)) micro_test::Fail(__FILE__, __LINE__, #a " == " #b);    \
  } while (0)

#define EXPECT_STREQ(a, b)                                                                          \
  do {                                                                                              \
    const std::string expect_a_(a);                                                                 \
    const std::string expect_b_(b);                                                                 \
    if (expect_a_ != expect_b_)                                                                     \
      micro_test::Fail(__FILE__, __LINE__, std::string(#a " == " #b ": \"") + expect_a_ + "\" != \"" + \
                                               expect_b_ + "\"");                                   \
  } while (0)
