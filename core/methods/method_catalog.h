// The served explanation methods as clients name them: derived from the method tables
// (core/methods/cam/cam_methods.cc, core/methods/attribution/attribution_methods.cc), and
// served by DescribeModel, so that the web page and the clients keep no list of their own.
// LibTorch-free.
#ifndef XAI_CORE_METHODS_METHOD_CATALOG_H_
#define XAI_CORE_METHODS_METHOD_CATALOG_H_

#include <string>
#include <vector>

namespace xai::core {

struct MethodInfo {
  std::string name;    // the wire's enum name: "GRAD_CAM", "INTEGRATED_GRADIENTS"
  std::string rpc;     // the RPC that runs it: "GradCAM" or "Attribute"
  std::string title;   // as the literature writes it: "Grad-CAM", "Integrated Gradients"
  std::string family;  // how it computes (docs/METHODS.md): "gradient-weighted", ...
  std::string legend;  // what its overlay shows, for a person: colours, sign, outlines
};

// Every served method, CAM methods first, each table in its order.
std::vector<MethodInfo> ServedMethods();

// The table halves, defined beside each table.
void AppendServedCamMethods(std::vector<MethodInfo>* out);
void AppendServedAttributionMethods(std::vector<MethodInfo>* out);

}  // namespace xai::core

#endif  // XAI_CORE_METHODS_METHOD_CATALOG_H_
