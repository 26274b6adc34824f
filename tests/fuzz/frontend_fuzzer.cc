// libFuzzer entry point: any input goes through parse, check and fmt; a broken invariant aborts.
#include <cstdio>
#include <cstdlib>

#include "support/roundtrip.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string broken = setpoint::test::frontend_roundtrip(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (!broken.empty()) {
    std::fprintf(stderr, "invariant broken: %s\n", broken.c_str());
    std::abort();
  }
  return 0;
}
