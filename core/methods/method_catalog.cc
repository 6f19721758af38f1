#include "core/methods/method_catalog.h"

namespace xai::core {

std::vector<MethodInfo> ServedMethods() {
  std::vector<MethodInfo> out;
  AppendServedCamMethods(&out);
  AppendServedAttributionMethods(&out);
  return out;
}

}  // namespace xai::core
