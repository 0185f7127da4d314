// Runs every registered test. argv[1], when given, is the golden vector file (see golden_vectors_test.cc).
#include <cstdio>

#include "tests/micro_test.h"

namespace micro_test {
TestCase*& Registry() {
  static TestCase* head = nullptr;
  return head;
}
int& Failures() {
  static int failures = 0;
  return failures;
}
const char* g_golden_path = "firmware/protocol/golden_vectors.txt";
}  // namespace micro_test

int main(int argc, char** argv) {
  if (argc > 1) micro_test::g_golden_path = argv[1];
  int count = 0;
  for (micro_test::TestCase* test = micro_test::Registry(); test != nullptr; test = test->next) {
    const int before = micro_test::Failures();
    test->fn();
    std::printf("%s %s\n", micro_test::Failures() == before ? "ok  " : "FAIL", test->name);
    ++count;
  }
  std::printf("%d tests, %d failures\n", count, micro_test::Failures());
  return micro_test::Failures() == 0 ? 0 : 1;
}
