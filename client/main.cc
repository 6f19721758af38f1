// xai: command-line client of xai-server. The global options live here; each subcommand
// lives in client/commands/, one file per command.
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdlib>

#include "client/commands/admin.h"
#include "client/commands/attribute.h"
#include "client/commands/batch.h"
#include "client/commands/classify.h"
#include "client/commands/compare.h"
#include "client/commands/describe.h"
#include "client/commands/gradcam.h"
#include "client/commands/health.h"
#include "client/commands/models.h"
#include "client/commands/path.h"
#include "client/commands/profile_paths.h"
#include "client/commands/stats.h"
#include "client/common.h"
#include "core/base/command_line.h"

int main(int argc, char** argv) {
  xai::client::GlobalOptions g;
  const char* env_server = std::getenv("XAI_SERVER");
  g.server = env_server != nullptr ? env_server : "localhost:50051";

  CLI::App app{
      "xai: explain image classifiers served by xai-server.\n"
      "Exit status: 0 success, 1 a call or file failed (the server's message is printed),\n"
      "2 bad usage (the message names the option or argument)."};
  app.require_subcommand(1);
  app.add_option("--server", g.server, "xai-server address host:port (env XAI_SERVER)")
      ->capture_default_str();
  app.add_option("--timeout", g.timeout_seconds,
                 "Deadline of each call, in seconds (more than 0, at most 1e6)")
      ->capture_default_str()
      ->check([](const std::string& text) -> std::string {
        // Finite and bounded, so that now + timeout stays a representable deadline.
        char* end = nullptr;
        const double seconds = std::strtod(text.c_str(), &end);
        if (end == text.c_str() || *end != '\0' || !std::isfinite(seconds) || seconds <= 0 ||
            seconds > 1e6) {
          return "must be a number of seconds, more than 0 and at most 1e6, not " + text;
        }
        return "";
      });
  app.add_flag("--json", g.json, "Print JSON for machines instead of tables");
  xai::client::AddConnectionOptions(app, &g);

  // Each subcommand runs from its callback, at the end of parsing; a failure's exit code
  // comes back as a CLI::RuntimeError (see ExitWith).
  xai::client::SetupModels(app, g);
  xai::client::SetupStats(app, g);
  xai::client::SetupDescribe(app, g);
  xai::client::SetupClassify(app, g);
  xai::client::SetupGradCam(app, g);
  xai::client::SetupCompare(app, g);
  xai::client::SetupAttribute(app, g);
  xai::client::SetupPath(app, g);
  xai::client::SetupBatch(app, g);
  xai::client::SetupProfilePaths(app, g);
  xai::client::SetupHealth(app, g);
  xai::client::SetupAdmin(app, g);

  // `--flag=` is the empty value, not `--flag` and the next argument (CommandLine).
  xai::CommandLine command_line(argc, argv);
  try {
    app.parse(command_line.argc(), command_line.argv());
  } catch (const CLI::Success& e) {  // --help
    return app.exit(e);
  } catch (const CLI::RuntimeError& e) {  // a command's own exit status (ExitWith)
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    return xai::client::ReportUsageError(app, e);
  }
  return 0;
}
