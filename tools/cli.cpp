#include "cli.h"

#include <latflow/error.h>
#include <latflow/log.h>

#include <sstream>

namespace latflow::cli {

po::options_description common_options(Common& common) {
  po::options_description options("common options");
  options.add_options()
      ("help,h", "help")
      ("threads", po::value<int64_t>(&common.threads), "threads")
      ("log-level", po::value<std::string>(&common.log_level), "level")
      ("log-channels", po::value<std::string>(&common.log_channels),
       "channels");
  return options;
}

void apply_common(const Common& common) {
  log::set_level(log::parse_level(common.log_level));
  if (!common.log_channels.empty()) {
    std::vector<std::string> channels;
    std::stringstream list(common.log_channels);
    std::string item;
    while (std::getline(list, item, ',')) channels.push_back(item);
    log::set_channels(channels);
  }
  if (common.threads == 0 || common.threads < -1) {
    throw InputError(fmt::format(
        "--threads: expected an integer >= 1, got {}", common.threads));
  }
}

po::variables_map parse(const std::vector<std::string>& args,
                        const po::options_description& options,
                        std::vector<std::string>& positional) {
  po::options_description all;
  all.add(options);
  all.add_options()("positional", po::value(&positional), "");
  po::positional_options_description p;
  p.add("positional", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).positional(p).run(),
              vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw InputError(e.what());
  }
  return vm;
}

Registry& registry() {
  // Never destroyed: plugins stay loaded until the process ends.
  static auto* instance = new Registry();
  return *instance;
}

}  // namespace latflow::cli
