#pragma once

#include <latflow/registry.h>

#include <boost/program_options.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace latflow::cli {

namespace po = boost::program_options;

/// Options every command takes.
struct Common {
  int64_t threads = -1;
  std::string log_level = "info";
  std::string log_channels;
};

/// --help, --threads, --log-level, --log-channels.
po::options_description common_options(Common& common);
/// Applies logging options and checks --threads.
void apply_common(const Common& common);
/// Parses a command's arguments; positional ones land in `positional`.
/// Unknown options are an InputError.
po::variables_map parse(const std::vector<std::string>& args,
                        const po::options_description& options,
                        std::vector<std::string>& positional);
/// The process-wide registry; plugins stay loaded until the process ends.
Registry& registry();

/// A command: its arguments after the command name; returns the exit
/// status.
using Command = int (*)(const std::vector<std::string>& args);

int command_run(const std::vector<std::string>& args);
int command_plugins(const std::vector<std::string>& args);
int command_action(const std::vector<std::string>& args);
int command_sample(const std::vector<std::string>& args);
int command_new_plugin(const std::vector<std::string>& args);
int command_bench(const std::vector<std::string>& args);
int command_plot(const std::vector<std::string>& args);

}  // namespace latflow::cli
