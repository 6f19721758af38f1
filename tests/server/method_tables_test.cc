// The core's method tables and the wire's enums agree, both ways: every proto value is a
// method, rule or baseline of the core's with the same name, and every number the core
// accepts is a proto value. A method added to one and not the other fails here.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/methods/attribution/attribution_method.h"
#include "core/methods/cam/cam_method.h"
#include "core/methods/method_catalog.h"
#include "xai/v1/explainer.pb.h"

namespace xai::core {
namespace {

// `name_of(number)`: the core's name for a number, or nullopt where the core has none.
void ExpectSameTable(const google::protobuf::EnumDescriptor* wire,
                     const std::function<std::optional<std::string>(int)>& name_of) {
  SCOPED_TRACE(wire->full_name());
  for (int i = 0; i < wire->value_count(); ++i) {
    const google::protobuf::EnumValueDescriptor* value = wire->value(i);
    const std::string& name = value->name();
    const bool unspecified = name.size() > 12 && name.substr(name.size() - 12) == "_UNSPECIFIED";
    const std::optional<std::string> core = name_of(value->number());
    if (unspecified) continue;  // the request's default; the core names the method it means
    ASSERT_TRUE(core.has_value()) << name << " (" << value->number() << ") has no row in the core";
    EXPECT_EQ(*core, name);
  }
  for (int number = -2; number < 64; ++number) {
    if (name_of(number).has_value()) {
      EXPECT_NE(wire->FindValueByNumber(number), nullptr)
          << "the core knows " << *name_of(number) << " (" << number << "), the wire does not";
    }
  }
}

TEST(MethodTablesTest, CamMethodsAreTheWiresCamMethods) {
  ExpectSameTable(xai::v1::CamMethod_descriptor(), [](int number) -> std::optional<std::string> {
    const std::optional<CamMethod> method = CamMethodFromNumber(number);
    if (!method) return std::nullopt;
    EXPECT_TRUE(IsServed(*method)) << CamMethodName(*method);
    EXPECT_NE(ServedCamMethodNames().find(std::string(CamMethodName(*method))), std::string::npos);
    return std::string(CamMethodName(*method));
  });
}

TEST(MethodTablesTest, AttributionMethodsRulesAndBaselinesAreTheWires) {
  ExpectSameTable(
      xai::v1::AttributionMethod_descriptor(), [](int number) -> std::optional<std::string> {
        const std::optional<AttributionMethod> method = AttributionMethodFromNumber(number);
        if (!method || *method == AttributionMethod::kUnspecified) return std::nullopt;
        return std::string(AttributionMethodName(*method));
      });
  ExpectSameTable(xai::v1::IntegrationRule_descriptor(),
                  [](int number) -> std::optional<std::string> {
                    const std::optional<IntegrationRule> rule = IntegrationRuleFromNumber(number);
                    if (!rule) return std::nullopt;
                    return std::string(IntegrationRuleName(*rule));
                  });
  ExpectSameTable(xai::v1::Baseline_descriptor(), [](int number) -> std::optional<std::string> {
    const std::optional<BaselineKind> kind = BaselineKindFromNumber(number);
    if (!kind || *kind == BaselineKind::kUnspecified) return std::nullopt;
    return std::string(BaselineKindName(*kind));
  });
}

// DescribeModel's method list is the wire's enums, each under the RPC whose enum holds it,
// CAM methods first, with a title, a family and a legend of its own each.
TEST(MethodTablesTest, TheServedMethodListIsEveryValueOfBothEnums) {
  std::vector<std::string> wire;
  for (const auto* e : {xai::v1::CamMethod_descriptor(), xai::v1::AttributionMethod_descriptor()}) {
    for (int i = 0; i < e->value_count(); ++i) {
      const std::string& name = e->value(i)->name();
      if (name.find("_UNSPECIFIED") == std::string::npos) wire.push_back(name);
    }
  }
  const std::vector<MethodInfo> served = ServedMethods();
  ASSERT_EQ(served.size(), wire.size());
  for (size_t i = 0; i < served.size(); ++i) {
    SCOPED_TRACE(served[i].name);
    const bool cam = xai::v1::CamMethod_descriptor()->FindValueByName(served[i].name) != nullptr;
    EXPECT_EQ(served[i].rpc, cam ? "GradCAM" : "Attribute");
    EXPECT_FALSE(served[i].title.empty());
    EXPECT_FALSE(served[i].family.empty());
    // A sentence or two for a person, each method's own.
    EXPECT_GT(served[i].legend.size(), 60u);
    EXPECT_LT(served[i].legend.size(), 400u);
    EXPECT_EQ(served[i].legend.back(), '.');
    for (size_t j = 0; j < i; ++j) EXPECT_NE(served[j].legend, served[i].legend);
    EXPECT_NE(std::find(wire.begin(), wire.end(), served[i].name), wire.end());
    if (i > 0 && served[i - 1].rpc == "Attribute") {
      EXPECT_EQ(served[i].rpc, "Attribute");
    }
  }
  EXPECT_EQ(served.front().title, "Grad-CAM");
  // The pictures that need words: XRAI's outlines, the attributions' sign.
  const auto legend = [&](const std::string& name) {
    for (const MethodInfo& m : served) {
      if (m.name == name) return m.legend;
    }
    return std::string();
  };
  EXPECT_NE(legend("XRAI").find("outlines"), std::string::npos);
  EXPECT_NE(legend("INTEGRATED_GRADIENTS").find("approximation error"), std::string::npos);
  EXPECT_NE(legend("INPUT_X_GRADIENT").find("negative"), std::string::npos);
}

}  // namespace
}  // namespace xai::core
