// xai, the CLI, as a person runs it against a real xai-server (tests/server/server_process.h):
// tables and JSON, the files each command writes and what NumPy and OpenCV read in them,
// the server's messages and the exit statuses. A new command or option adds its test here
// or, for how the CLI reads (help, names, usage errors), in cli_usage_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>

#include "tests/client/cli_fixture.h"
#include "tests/core/test_paths.h"

namespace {

using ::testing::HasSubstr;
using xai::testing::RunCommand;

using xai::testing::CliTest;

TEST_F(CliTest, ModelsDescribeClassifyAndStatsPrintTablesJsonAndTheServersMessage) {
  const std::string cli = Cli();
  const std::string image = xai::testing::ReferenceDir() + "/image.png";
  std::string out;
  // The CLI: tables, JSON, and the server's message with exit status 1 on error.
  EXPECT_EQ(RunCommand(cli + " models", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("resnet18 "));
  EXPECT_THAT(out, HasSubstr("has 2 labels but the model outputs 3 classes"));
  EXPECT_EQ(RunCommand(cli + " describe resnet18", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("layer4.1.conv2"));
  EXPECT_THAT(out, HasSubstr("[1, 512, 7, 7]"));
  EXPECT_THAT(out, HasSubstr("inference graph:     frozen for inference\n"));
  EXPECT_EQ(RunCommand(cli + " --json classify resnet18 " + image + " -k 2", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("\"probability\""));
  EXPECT_THAT(out, HasSubstr("\"label\": \"class_"));
  EXPECT_EQ(RunCommand(cli + " stats resnet18", &out), 0) << out;  // after the classify above
  EXPECT_THAT(out, ::testing::ContainsRegex("resnet18 +1 +Classify +1 +0 "));
  EXPECT_EQ(RunCommand(cli + " --json stats", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("\"success_count\": 1"));
  EXPECT_EQ(RunCommand(cli + " classify nope " + image, &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("NOT_FOUND: model \"nope\" not found"));
  // The served methods, as --method takes them.
  EXPECT_EQ(RunCommand(cli + " describe shapes", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("gradcam methods:     grad_cam, grad_cam_plus_plus,"));
  EXPECT_THAT(out, HasSubstr("attribute methods:   saliency, input_x_gradient,"));
  EXPECT_EQ(RunCommand(cli + " --json describe shapes", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("\"title\": \"Integrated Gradients\""));
  // A file name that is not UTF-8 is written with U+FFFD in JSON, not an abort.
  const std::string latin1 = ::testing::TempDir() + "/image_\xff.png";
  std::filesystem::copy_file(image, latin1, std::filesystem::copy_options::overwrite_existing);
  EXPECT_EQ(RunCommand(cli + " --json classify shapes '" + latin1 + "' -k 1", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("image_\xef\xbf\xbd.png"));
  EXPECT_EQ(RunCommand(cli + " classify tiny " + log_, &out), 1) << out;  // a text file
  EXPECT_THAT(out, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_NE(
      RunCommand(std::string(XAI_CLI_BINARY) + " --server 127.0.0.1:1 --timeout 2 models", &out),
      0);
  EXPECT_THAT(out, HasSubstr("UNAVAILABLE"));
}

TEST_F(CliTest, GradcamWritesNpyMapsThatNumpyReadsAndTheirPeaks) {
  const std::string cli = Cli();
  const std::string image = xai::testing::ReferenceDir() + "/image.png";
  const std::string cam_dir = Scratch();
  std::string out;
  // gradcam: per image and target, .npy files exactly as numpy.load reads them, in an --out
  // directory that it makes; the JSON's cam_peak is numpy's argmax as (x, y).
  const std::string gradcam =
      cli + " gradcam resnet18 " + image + " --no-overlay --out " + cam_dir + "/out";
  EXPECT_EQ(RunCommand(gradcam + " --target 3 --target 5 --layer layer3", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("CAM PEAK"));
  const std::string check_maps =
      "/usr/bin/python3 -c \"import sys, numpy as np\n"
      "a, r = np.load(sys.argv[1]), np.load(sys.argv[2])\n"
      "assert a.shape == (224, 224) and a.dtype == np.float32, (a.shape, a.dtype)\n"
      "assert 0 <= a.min() and a.max() <= 1, (a.min(), a.max())\n"
      "assert r.shape == (14, 14) and r.dtype == np.float32, (r.shape, r.dtype)\"";
  EXPECT_THAT(out, HasSubstr("RAW PEAK"));
  for (const std::string target : {"3", "5"}) {
    // The method and the layer in the names (cli_usage_test.cc: no two outputs collide).
    const std::string base = cam_dir + "/out/image_grad_cam_layer3_class" + target;
    const std::string cam = base + "_cam.npy";
    const std::string raw = base + "_raw.npy";
    EXPECT_THAT(out, HasSubstr(cam));
    EXPECT_FALSE(std::filesystem::exists(base + "_overlay.png"));
    std::string python_out;
    EXPECT_EQ(RunCommand(check_maps + " " + cam + " " + raw, &python_out), 0) << python_out;
  }
  const std::string json_file = cam_dir + "/gradcam.json";
  EXPECT_EQ(RunCommand(cli + " --json gradcam resnet18 " + image +
                           " --no-overlay --method GradCAM++ --out " + cam_dir + " > " + json_file,
                       &out),
            0)
      << xai::testing::ReadBytes(json_file);
  const std::string check_peak =
      "/usr/bin/python3 -c \"import json, sys, numpy as np\n"
      "e = json.load(open(sys.argv[1]))['results'][0]['explanations'][0]\n"
      "a = np.load(e['cam']); y, x = np.unravel_index(a.argmax(), a.shape)\n"
      "assert e['cam_peak'] == [x, y] and e['overlay'] is None, e\n"
      "assert e['raw_peak'] == float(np.load(e['raw']).max()), e\n"
      "assert 'grad_cam_plus_plus_layer4_class' in e['cam'], e\"";
  EXPECT_EQ(RunCommand(check_peak + " " + json_file, &out), 0) << out;
  EXPECT_EQ(RunCommand(gradcam + " --method nonsense", &out), 2);
  EXPECT_THAT(out, HasSubstr("\"nonsense\" is not one of: grad_cam, grad_cam_plus_plus (or "
                             "gradcam++), xgrad_cam"));
  std::filesystem::remove_all(cam_dir);
}

TEST_F(CliTest, PathWritesTheDiagramAndTheChains) {
  const std::string cli = Cli();
  const std::string image = xai::testing::ReferenceDir() + "/image.png";
  const std::string cam_dir = Scratch();
  std::string out;
  // path: the diagram PNG and the JSON of the DecisionPath, in an --out it makes.
  const std::string path_dir = cam_dir + "_path";
  EXPECT_EQ(RunCommand(cli + " path shapes " + image + " --top-chains 2 --out " + path_dir, &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("stage1 -> stage2 -> stage3 -> stage4"));
  // Named by the image, the command and the target the server chose (the top-1 class).
  std::string base;
  for (const auto& entry : std::filesystem::directory_iterator(path_dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("image_decision_path_class", 0) == 0 && entry.path().extension() == ".png") {
      base = entry.path().string().substr(0, entry.path().string().size() - 4);
    }
  }
  ASSERT_FALSE(base.empty()) << out;
  EXPECT_THAT(out, HasSubstr("target class " + base.substr(base.rfind("class") + 5)));
  EXPECT_EQ(xai::testing::ReadBytes(base + ".png").substr(0, 8), "\x89PNG\r\n\x1a\n");
  const std::string check_path =
      "/usr/bin/python3 -c \"import json, sys\n"
      "p = json.load(open(sys.argv[1]))\n"
      "assert p['layers'] == ['stage1', 'stage2', 'stage3', 'stage4'], p['layers']\n"
      "assert len(p['chains']) == 2 and all(len(c['channels']) == 4 for c in p['chains']), "
      "p['chains']\n"
      "assert p['chains'][0]['log_score'] >= p['chains'][1]['log_score']\n"
      "assert p['nodes'] and p['edges'], p\"";
  EXPECT_EQ(RunCommand(check_path + " " + base + ".json", &out), 0) << out;
  EXPECT_EQ(RunCommand(cli + " path shapes " + image + " --target 9 --out " + path_dir, &out), 1)
      << out;
  EXPECT_THAT(out, HasSubstr("INVALID_ARGUMENT: target_class = 9"));
  std::filesystem::remove_all(path_dir);
}

TEST_F(CliTest, CompareScoresEachMethodAndDrawsAGrid) {
  const std::string cli = Cli();
  const std::string image = xai::testing::ReferenceDir() + "/image.png";
  const std::string cam_dir = Scratch();
  std::string out;
  // compare: a row per method (CAM and attribution methods) with its scores and time, the
  // random map once, the grid PNG (a header, then the methods side by side); a method the
  // server refuses (here for the layer) shows its error and makes the exit status 1.
  const std::string compare_dir = cam_dir + "_compare";
  std::filesystem::create_directories(compare_dir);
  const std::string compare_json = compare_dir + "/compare.json";
  EXPECT_EQ(RunCommand(cli + " --json compare shapes " + image +
                           " --methods grad_cam,SCORE_CAM,xrai --repeat 1 --metrics-steps 4 "
                           "--out-file " +
                           compare_dir + "/grid.png > " + compare_json,
                       &out),
            0)
      << xai::testing::ReadBytes(compare_json);
  const std::string check_compare =
      "/usr/bin/python3 -c \"import json, sys, cv2\n"
      "c = json.load(open(sys.argv[1]))\n"
      "assert [m['method'] for m in c['methods']] == ['GRAD_CAM', 'SCORE_CAM', 'XRAI'], c\n"
      "for m in c['methods']:\n"
      "    assert m['milliseconds'] > 0 and len(m['metrics']['deletion_curve']) == 5, m\n"
      "    assert 0 <= m['metrics']['deletion_auc'] <= 1, m\n"
      "assert len(c['random']['insertion_curve']) == 5, c\n"
      "assert c['grid'].endswith('/grid.png'), c['grid']\n"
      "g = cv2.imread(c['grid'])\n"
      "assert g is not None and g.shape[1] >= 3 * 224, g.shape\"";
  EXPECT_EQ(RunCommand(check_compare + " " + compare_json, &out), 0) << out;
  EXPECT_EQ(RunCommand(cli + " compare resnet18 " + image +
                           " --methods grad_cam --layer fc --repeat 1 --out " + compare_dir,
                       &out),
            1)
      << out;
  EXPECT_THAT(out, HasSubstr("is not a CAM layer"));
  // --layout: a layer's layout for one call, checked by the server; its form by the CLI.
  EXPECT_EQ(RunCommand(cli + " gradcam resnet18 " + image + " --layer layer4 --layout " +
                           "layer4=tokens:1 --out " + compare_dir,
                       &out),
            1)
      << out;
  EXPECT_THAT(out, HasSubstr("layer_layouts[0] for layer \"layer4\": TOKENS needs a 3-D output"));
  EXPECT_EQ(RunCommand(cli + " gradcam resnet18 " + image + " --layer layer4 --layout " +
                           "layer4=nchw --out " + compare_dir,
                       &out),
            0)
      << out;
  EXPECT_NE(RunCommand(cli + " gradcam resnet18 " + image + " --layout layer4", &out), 0);
  EXPECT_THAT(out, HasSubstr("expected LAYER=NCHW, LAYER=NHWC or LAYER=TOKENS:PREFIX"));
  std::filesystem::remove_all(compare_dir);
}

TEST_F(CliTest, AttributeWritesAttributionsMapsAndOverlays) {
  const std::string cli = Cli();
  const std::string image = xai::testing::ReferenceDir() + "/image.png";
  const std::string cam_dir = Scratch();
  std::string out;
  // attribute: per image and target, the attribution and its map as .npy and the overlay;
  // IG's error in the JSON; a field that does not apply: its status and exit 1; SmoothGrad
  // and XRAI with their options.
  const std::string attribute_dir = cam_dir + "_attribute";
  const std::string attribute_json = cam_dir + "_attribute.json";
  EXPECT_EQ(RunCommand(cli + " --json attribute shapes " + image +
                           " --method ig --steps 16 --baseline black --target 2 --out " +
                           attribute_dir + " > " + attribute_json,
                       &out),
            0)
      << xai::testing::ReadBytes(attribute_json);
  const std::string check_attribute =
      "/usr/bin/python3 -c \"import json, sys, numpy as np\n"
      "a = json.load(open(sys.argv[1]))['results'][0]['attributions'][0]\n"
      "x, m = np.load(a['attribution']), np.load(a['map'])\n"
      "assert a['target_class'] == 2 and a['steps'] == 16, a\n"
      "assert x.shape == (3, 64, 64) and m.shape == (64, 64), (x.shape, m.shape)\n"
      "assert np.allclose(x.sum(0), m, atol=1e-5), 'map is the channel sum'\n"
      "gap = a['logit'] - a['baseline_logit']\n"
      "assert abs(x.sum() - gap - a['convergence_delta']) < 1e-3 * max(1, abs(gap)), a\n"
      "assert open(a['overlay'], 'rb').read(8) == b'\\x89PNG\\r\\n\\x1a\\n', a\"";
  EXPECT_EQ(RunCommand(check_attribute + " " + attribute_json, &out), 0) << out;
  EXPECT_EQ(RunCommand(cli + " attribute shapes " + image +
                           " --method gradient_shap --max-error 0.05 --out " + attribute_dir,
                       &out),
            1)
      << out;
  EXPECT_THAT(out, HasSubstr("INVALID_ARGUMENT: max_approximation_error applies to "
                             "INTEGRATED_GRADIENTS and XRAI only, not GRADIENT_SHAP"));
  EXPECT_EQ(RunCommand(cli + " attribute shapes " + image +
                           " --method smooth_grad --smooth ig --samples 2 --steps 4 --noise 0.1 "
                           "--seed 5 --out " +
                           attribute_dir,
                       &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("SMOOTH_GRAD"));
  EXPECT_EQ(
      RunCommand(cli + " attribute shapes " + image +
                     " --method xrai --steps 8 --polarity both --overlay-kind masked_image "
                     "--outline 10 --outline 25 --clip 99 --metrics --metrics-steps 4 --out " +
                     attribute_dir,
                 &out),
      0)
      << out;
  EXPECT_THAT(out, HasSubstr("_overlay.png"));
  EXPECT_THAT(out, HasSubstr("INSERTION AUC"));
  std::filesystem::remove_all(attribute_dir);
  std::filesystem::remove(attribute_json);
}

TEST_F(CliTest, HealthExitsZeroOnlyForAServingServerOrModel) {
  const std::string cli = Cli();
  std::string out;
  // xai health: exit 0 and SERVING for the server and a ready model; 1 and the reason for
  // a model the server does not know.
  const std::string health = cli + " ";
  EXPECT_EQ(RunCommand(health + "health", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("xai.v1.Explainer: SERVING"));
  EXPECT_EQ(RunCommand(health + "health tiny", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("xai.v1.Explainer/tiny: SERVING"));
  EXPECT_EQ(RunCommand(health + "health nope", &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("SERVICE_UNKNOWN (the server knows no model \"nope\""));
  EXPECT_EQ(RunCommand(health + "--json health bad_labels", &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("\"serving\": false"));
  EXPECT_THAT(out, HasSubstr("NOT_SERVING"));
}

TEST(CliHelpTest, HealthOfNoServerFailsWithinItsTimeoutWithAReason) {
  // A closed port on this machine: refused at once; the timeout bounds it anyway.
  std::string out;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(
      RunCommand(std::string(XAI_CLI_BINARY) + " --server 127.0.0.1:1 --timeout 3 health", &out), 1)
      << out;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_THAT(out, HasSubstr("xai health: xai.v1.Explainer: UNREACHABLE (UNAVAILABLE"));
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
}

TEST(CliHelpTest, HelpListsTheCommandsAndTheConnectionOptions) {
  std::string out;
  EXPECT_EQ(RunCommand(std::string(XAI_CLI_BINARY) + " --help", &out), 0);
  for (const char* word :
       {"models", "stats", "describe", "classify", "gradcam", "path", "health", "--server",
        "--timeout", "--json", "--tls", "--tls-ca", "--tls-cert", "--tls-key", "--tls-server-name",
        "--token-file", "XAI_TOKEN", "admin"}) {
    EXPECT_THAT(out, HasSubstr(word));
  }
}

}  // namespace
