#include "client/choices.h"

#include <algorithm>
#include <cctype>

#include "client/common.h"

namespace xai::client {
namespace {

void AddAlias(std::vector<Choice>* choices, int value, const std::string& alias) {
  for (Choice& c : *choices) {
    if (c.value == value) c.aliases.push_back(alias);
  }
}

}  // namespace

std::vector<Choice> EnumChoices(const google::protobuf::EnumDescriptor* descriptor) {
  std::vector<Choice> out;
  for (int i = 0; i < descriptor->value_count(); ++i) {
    const std::string name = LowerCase(descriptor->value(i)->name());
    if (name.size() >= 12 && name.compare(name.size() - 12, 12, "_unspecified") == 0) continue;
    out.push_back({name, descriptor->value(i)->number()});
  }
  return out;
}

std::vector<Choice> CamMethodChoices() {
  std::vector<Choice> out = EnumChoices(xai::v1::CamMethod_descriptor());
  AddAlias(&out, xai::v1::GRAD_CAM_PLUS_PLUS, "gradcam++");  // the paper's name
  return out;
}

std::vector<Choice> AttributionMethodChoices() {
  std::vector<Choice> out = EnumChoices(xai::v1::AttributionMethod_descriptor());
  AddAlias(&out, xai::v1::INTEGRATED_GRADIENTS, "ig");
  return out;
}

std::string ChoiceList(const std::vector<Choice>& choices) {
  std::string out;
  for (const Choice& c : choices) {
    if (!out.empty()) out += ", ";
    out += c.name;
    for (size_t i = 0; i < c.aliases.size(); ++i) {
      out += (i == 0 ? " (or " : ", ") + c.aliases[i] + (i + 1 == c.aliases.size() ? ")" : "");
    }
  }
  return out;
}

const Choice* FindChoice(const std::vector<Choice>& choices, const std::string& text) {
  const std::string key = LowerCase(text);
  for (const Choice& c : choices) {
    if (c.name == key || std::find(c.aliases.begin(), c.aliases.end(), key) != c.aliases.end()) {
      return &c;
    }
  }
  return nullptr;
}

std::string ChoiceName(const std::vector<Choice>& choices, int value) {
  for (const Choice& c : choices) {
    if (c.value == value) return c.name;
  }
  return "";
}

CLI::Validator ChoiceTransform(std::vector<Choice> choices, bool to_number) {
  CLI::Validator validator(
      [choices = std::move(choices), to_number](std::string& text) -> std::string {
        const Choice* choice = FindChoice(choices, text);
        if (choice == nullptr) {
          return "\"" + text + "\" is not one of: " + ChoiceList(choices);
        }
        text = to_number ? std::to_string(choice->value) : choice->name;
        return "";
      },
      "");
  return validator;
}

}  // namespace xai::client
