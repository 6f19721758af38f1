// Options whose value is one of a set of names (methods, rules, baselines, ...): accepted
// case-insensitively, aliases included, and described in --help by their names, each once,
// as the method tables and the proto's enums list them (never CLI11's "{name->number} OR
// {numbers}").
#ifndef XAI_CLIENT_CHOICES_H_
#define XAI_CLIENT_CHOICES_H_

#include <CLI/CLI.hpp>
#include <string>
#include <utility>
#include <vector>

#include "xai/v1/explainer.pb.h"

namespace xai::client {

struct Choice {
  std::string name;  // lower case, as the option takes and shows it
  int value = 0;     // the enum's number
  std::vector<std::string> aliases = {};
};

// An enum's values as choices (lower-case names, without *_UNSPECIFIED), read from the
// proto so that a value added there is accepted here.
std::vector<Choice> EnumChoices(const google::protobuf::EnumDescriptor* descriptor);

// The CAM methods (CamMethod, with "gradcam++" for grad_cam_plus_plus) and the attribution
// methods (AttributionMethod, with "ig" for integrated_gradients).
std::vector<Choice> CamMethodChoices();
std::vector<Choice> AttributionMethodChoices();

// "a, b (or bb), c": each choice once, its aliases in parentheses.
std::string ChoiceList(const std::vector<Choice>& choices);

// The choice whose name or alias is `text` (case-insensitive); nullptr if none.
const Choice* FindChoice(const std::vector<Choice>& choices, const std::string& text);

// The name of the choice with `value`; "" if none.
std::string ChoiceName(const std::vector<Choice>& choices, int value);

// A CLI11 transform that turns a name or alias into the choice's number (to_number) or its
// canonical name, and refuses anything else with the list; it adds nothing to --help, so
// the option's own help shows ChoiceList.
CLI::Validator ChoiceTransform(std::vector<Choice> choices, bool to_number);

// Adds `flag` (an int or a vector of ints holding enum numbers) taking one of `choices`:
// help is `help` followed by "one of: <ChoiceList>" and, when given, the default's name.
template <typename T>
CLI::Option* AddChoiceOption(CLI::App* command, const std::string& flag, T* value,
                             const std::vector<Choice>& choices, const std::string& help,
                             const std::string& default_name = "") {
  std::string text = help + (help.empty() ? "" : "; ") + "one of: " + ChoiceList(choices);
  if (!default_name.empty()) text += " (default " + default_name + ")";
  return command->add_option(flag, *value, text)
      ->type_name("NAME")
      ->transform(ChoiceTransform(choices, /*to_number=*/true));
}

}  // namespace xai::client

#endif  // XAI_CLIENT_CHOICES_H_
