// How the CLI reads to a person (issue 26): --help lists each choice by name, once; output
// names carry the method, layer and target, so commands into one --out keep each other's
// files; --out is a directory everywhere (--out-file where one file is meant); --target
// takes a label; a usage error names what is wrong and exits 2.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>

#include "tests/client/cli_fixture.h"
#include "tests/core/test_paths.h"

namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using xai::testing::CliTest;
using xai::testing::RunCommand;

// The files directly in `dir`, by name.
std::set<std::string> FilesIn(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    out.insert(entry.path().filename().string());
  }
  return out;
}

TEST(CliHelpTest, ChoicesAreListedByNameOnceNeverAsParserInternals) {
  const std::string cli = XAI_CLI_BINARY;
  std::string out;
  for (const char* command : {"gradcam", "attribute", "compare", "path", "profile-paths",
                              "classify", "describe", "health", "stats", "models"}) {
    EXPECT_EQ(RunCommand(cli + " " + command + " --help", &out), 0) << command;
    EXPECT_THAT(out, Not(HasSubstr("->"))) << command;
    EXPECT_THAT(out, Not(HasSubstr(" OR {"))) << command;
    EXPECT_THAT(out, Not(HasSubstr("value in {"))) << command;
  }
  EXPECT_EQ(RunCommand(cli + " attribute --help", &out), 0);
  EXPECT_THAT(out, HasSubstr("one of: saliency, input_x_gradient, integrated_gradients (or ig), "
                             "smooth_grad, gradient_shap, xrai"));
  EXPECT_THAT(out, HasSubstr("one of: gauss_legendre, riemann_left, riemann_right, "
                             "riemann_middle, riemann_trapezoid (default gauss_legendre)"));
  EXPECT_THAT(out, HasSubstr("one of: positive, negative, both (default positive)"));
  EXPECT_EQ(RunCommand(cli + " gradcam --help", &out), 0);
  EXPECT_THAT(out, HasSubstr("grad_cam, grad_cam_plus_plus (or gradcam++), xgrad_cam, hires_cam, "
                             "layer_cam, eigen_cam, eigen_grad_cam, score_cam, ablation_cam "
                             "(default grad_cam)"));
  EXPECT_THAT(out, HasSubstr("--target CLASS"));
  EXPECT_THAT(out, HasSubstr("its index or its label"));
  EXPECT_EQ(RunCommand(cli + " compare --help", &out), 0);
  EXPECT_THAT(out, HasSubstr("--out-file FILE"));
  EXPECT_THAT(out, HasSubstr("--out DIR"));
}

TEST(CliHelpTest, UsageErrorsNameTheArgumentAndExitTwo) {
  const std::string cli = XAI_CLI_BINARY;
  const std::string image = std::string(XAI_SOURCE_DIR) + "/samples/star_3.png";
  std::string out;
  EXPECT_EQ(RunCommand(cli + " --help", &out), 0);
  EXPECT_THAT(out, HasSubstr("2 bad usage"));
  // The image taken for the model's name: what is missing, and why.
  EXPECT_EQ(RunCommand(cli + " classify " + image, &out), 2) << out;
  EXPECT_THAT(out, HasSubstr("xai classify: IMAGE is required"));
  EXPECT_THAT(out, HasSubstr("\"" + image + "\" was read as MODEL: the model's name comes first"));
  EXPECT_THAT(out, HasSubstr("Run `xai classify --help`"));
  EXPECT_EQ(RunCommand(cli + " nonsense", &out), 2) << out;
  EXPECT_EQ(RunCommand(cli + " gradcam shapes " + image + " --method 3", &out), 2) << out;
  EXPECT_THAT(out, HasSubstr("xai gradcam: --method: \"3\" is not one of: grad_cam,"));
  EXPECT_EQ(RunCommand(cli + " attribute shapes " + image + " --baseline grey", &out), 2) << out;
  EXPECT_THAT(out, HasSubstr("\"grey\" is not one of: zero, black, white, blur, uniform_noise"));
  EXPECT_EQ(RunCommand(cli + " gradcam shapes " + image + " --target ''", &out), 2) << out;
  EXPECT_EQ(RunCommand(cli + " admin load", &out), 2) << out;
  EXPECT_THAT(out, HasSubstr("xai admin load: "));
  // --out is a directory: a value that names the one file, or an existing file, is refused
  // with the option that takes it.
  EXPECT_EQ(RunCommand(cli + " compare shapes " + image + " --out grid.png", &out), 2) << out;
  EXPECT_THAT(out, HasSubstr("for one file named grid.png use --out-file grid.png"));
  EXPECT_EQ(RunCommand(cli + " gradcam shapes " + image + " --out " + image, &out), 2) << out;
  EXPECT_THAT(out, HasSubstr("is a file: --out takes a directory"));
  EXPECT_EQ(RunCommand(cli + " profile-paths shapes . --out paths.pb", &out), 2) << out;
  EXPECT_THAT(out, HasSubstr("use --out-file paths.pb"));
  // A fixed scale needs its value; a shared one takes none.
  EXPECT_EQ(RunCommand(cli + " gradcam shapes " + image + " --overlay-scale fixed", &out), 2)
      << out;
  EXPECT_THAT(out, HasSubstr("needs --overlay-scale-max"));
  EXPECT_EQ(
      RunCommand(cli + " gradcam shapes " + image + " --overlay-scale shared --overlay-scale-max 2",
                 &out),
      2)
      << out;
  EXPECT_THAT(out, HasSubstr("does not go with --overlay-scale shared"));
}

// Under the table: what red means in the overlays, and what the method's picture shows
// (its legend, from the server's method table).
TEST_F(CliTest, ExplanationsSayTheirScaleAndTheMethodsLegend) {
  const std::string cli = Cli();
  const std::string image = xai::testing::ReferenceDir() + "/image.png";
  const std::string dir = Scratch();
  std::string out;
  EXPECT_EQ(RunCommand(cli + " gradcam shapes " + image + " --out " + dir, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("scale:  each overlay scaled to its own map's maximum"));
  EXPECT_THAT(out, HasSubstr("legend: Each channel of the layer weighted by the mean gradient"));
  EXPECT_EQ(RunCommand(cli + " gradcam shapes " + image +
                           " --target star --target circle --overlay-scale shared --out " + dir,
                       &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("scale:  one scale for every target of an image: red is the "
                             "largest RAW PEAK"));
  EXPECT_EQ(RunCommand(cli + " gradcam shapes " + image +
                           " --method eigen_cam --overlay-scale-max 0.5 --out " + dir,
                       &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("scale:  fixed: red is a raw value of 0.5 in every overlay"));
  EXPECT_THAT(out, HasSubstr("legend: The layer's dominant activation pattern"));
  EXPECT_EQ(RunCommand(cli + " attribute shapes " + image + " --steps 4 --method xrai --out " + dir,
                       &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("scale:  each overlay draws what raised the score, from its 0th to "
                             "its 99.9th percentile"));
  EXPECT_THAT(out, HasSubstr("outlines: the regions holding the top 10% (white)"));
  // Machines get JSON only, the legend in `describe`.
  EXPECT_EQ(RunCommand(cli + " --json gradcam shapes " + image + " --out " + dir, &out), 0);
  EXPECT_THAT(out, Not(HasSubstr("legend:")));
  EXPECT_EQ(RunCommand(cli + " --json describe shapes", &out), 0);
  EXPECT_THAT(out, HasSubstr("\"legend\": \"Regions of the image ranked"));
  std::filesystem::remove_all(dir);
}

TEST_F(CliTest, CommandsIntoOneOutKeepEachOthersFiles) {
  const std::string cli = Cli();
  const std::string image = xai::testing::ReferenceDir() + "/image.png";
  const std::string dir = Scratch();
  std::string out;
  // Two CAM methods, two layers and an attribution of the same image and target into one
  // --out: each its own files, none overwritten.
  const std::string common = " shapes " + image + " --target 3 --out " + dir;
  EXPECT_EQ(RunCommand(cli + " gradcam" + common, &out), 0) << out;
  EXPECT_EQ(RunCommand(cli + " gradcam" + common + " --method score_cam", &out), 0) << out;
  EXPECT_EQ(RunCommand(cli + " gradcam" + common + " --layer stage3", &out), 0) << out;
  EXPECT_EQ(RunCommand(cli + " attribute" + common + " --steps 8", &out), 0) << out;
  const std::set<std::string> files = FilesIn(dir);
  std::string default_layer;
  for (const std::string& f : files) {
    if (f.rfind("image_grad_cam_", 0) == 0 && f.find("_class3_overlay.png") != std::string::npos &&
        f.find("stage3") == std::string::npos) {
      default_layer = f;
    }
  }
  // The default layer is named by the server (GradCAMResponse.layers), not left out.
  EXPECT_EQ(default_layer, "image_grad_cam_stage4_class3_overlay.png")
      << ::testing::PrintToString(files);
  for (const char* name :
       {"image_score_cam_stage4_class3_overlay.png", "image_grad_cam_stage3_class3_overlay.png",
        "image_grad_cam_stage3_class3_cam.npy", "image_grad_cam_stage3_class3_raw.npy",
        "image_integrated_gradients_class3_overlay.png",
        "image_integrated_gradients_class3_attribution.npy",
        "image_integrated_gradients_class3_map.npy"}) {
    EXPECT_TRUE(files.count(name)) << name << " in " << ::testing::PrintToString(files);
  }
  EXPECT_EQ(files.size(), 12u) << ::testing::PrintToString(files);  // 3 x 3 + 3
  // The two overlays of the same layer differ: neither replaced the other.
  EXPECT_NE(xai::testing::ReadBytes(dir + "/image_grad_cam_stage4_class3_overlay.png"),
            xai::testing::ReadBytes(dir + "/image_score_cam_stage4_class3_overlay.png"));
  std::filesystem::remove_all(dir);
}

TEST_F(CliTest, OutIsADirectoryEverywhereAndOutFileNamesTheOneFile) {
  const std::string cli = Cli();
  const std::string image = xai::testing::ReferenceDir() + "/image.png";
  const std::string dir = Scratch();
  std::string out;
  EXPECT_EQ(RunCommand(cli + " compare shapes " + image +
                           " --methods grad_cam --repeat 1 --metrics-steps 2 --target star --out " +
                           dir + "/grids",
                       &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("grid written to " + dir + "/grids/image_compare_class3.png"));
  EXPECT_TRUE(std::filesystem::is_regular_file(dir + "/grids/image_compare_class3.png"));
  EXPECT_EQ(RunCommand(cli + " compare shapes " + image +
                           " --methods grad_cam --repeat 1 --metrics-steps 2 --out-file " + dir +
                           "/mine.png",
                       &out),
            0)
      << out;
  EXPECT_TRUE(std::filesystem::is_regular_file(dir + "/mine.png"));
  // profile-paths: paths.pb in --out, the name the server loads beside a model version.
  const std::string images = dir + "/images";
  std::filesystem::create_directories(images);
  std::filesystem::copy_file(image, images + "/a.png");
  std::filesystem::copy_file(std::string(XAI_SOURCE_DIR) + "/samples/star_3.png",
                             images + "/b.png");
  EXPECT_EQ(
      RunCommand(cli + " profile-paths shapes " + images + " --out " + dir + "/library", &out), 0)
      << out;
  EXPECT_TRUE(std::filesystem::is_regular_file(dir + "/library/paths.pb")) << out;
  std::filesystem::remove_all(dir);
}

TEST_F(CliTest, TargetTakesALabelAsWellAsAnIndex) {
  const std::string cli = Cli();
  const std::string image = xai::testing::ReferenceDir() + "/image.png";
  const std::string dir = Scratch();
  std::string out;
  // shapes' labels: circle, square, triangle, star, cross.
  EXPECT_EQ(RunCommand(cli + " --json gradcam shapes " + image +
                           " --no-overlay --target star --target Circle --target 2 --out " + dir,
                       &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("\"target_class\": 3"));
  EXPECT_THAT(out, HasSubstr("\"target_class\": 0"));
  EXPECT_THAT(out, HasSubstr("\"target_class\": 2"));
  EXPECT_EQ(RunCommand(cli + " --json attribute shapes " + image +
                           " --no-overlay --steps 4 --target cross --out " + dir,
                       &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("\"target_class\": 4"));
  EXPECT_EQ(RunCommand(cli + " path shapes " + image + " --target triangle --out " + dir, &out), 0)
      << out;
  EXPECT_THAT(out, HasSubstr("target class 2 triangle"));
  // An unknown label: a usage error that lists the model's labels.
  EXPECT_EQ(RunCommand(cli + " gradcam shapes " + image + " --target hexagon --out " + dir, &out),
            2)
      << out;
  EXPECT_THAT(out, HasSubstr("xai gradcam: --target hexagon: no class of model shapes is "
                             "labelled so; its labels: circle, square, triangle, star, cross"));
  EXPECT_EQ(RunCommand(cli + " gradcam analytic " + image + " --target star --out " + dir, &out), 2)
      << out;
  EXPECT_THAT(out, HasSubstr("model analytic has no labels file: give a class index"));
  std::filesystem::remove_all(dir);
}

}  // namespace
