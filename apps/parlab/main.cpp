// The `parlab` command: one subcommand per job — lab, bench, serve, brewery — each in its own file.
#include "bench.hpp"
#include "brewery.hpp"
#include "cli_error.hpp"
#include "lab.hpp"
#include "serve.hpp"

#include <parlab/version.hpp>

#include <CLI/CLI.hpp>

#include <string>

int main(int argc, char** argv) {
  namespace cli = parlab::cli;
  CLI::App app{
      "parlab: Python's multiprocessing.Pool and asyncio, natively in C++ — and the lab that teaches them"};
  app.set_version_flag("--version", std::string{"parlab "} + parlab::version,
                       "Print parlab's version and exit");
  app.require_subcommand(1);

  cli::LabOptions lab_options;
  cli::add_lab_command(app, lab_options);
  cli::BenchOptions bench_options;
  cli::add_bench_command(app, bench_options);
  cli::ServeOptions serve_options;
  cli::add_serve_command(app, serve_options);
  cli::BreweryOptions brewery_options;
  cli::add_brewery_command(app, brewery_options);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return cli::report_error(2, std::string{e.what()} + " (see parlab --help)");
  }
  if (cli::bench_selected(bench_options)) return cli::run_bench_command(bench_options);
  if (cli::serve_selected(serve_options)) return cli::run_serve_command(serve_options);
  if (cli::brewery_selected(brewery_options)) return cli::run_brewery_command(brewery_options);
  return cli::run_lab_command(lab_options);  // the one left: exactly one subcommand is required
}
