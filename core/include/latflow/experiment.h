#pragma once

#include <latflow/context.h>
#include <latflow/params.h>
#include <latflow/registry.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace latflow {

/// A validated experiment: the file with its overrides applied, every core
/// section and every component table checked against its schema.
struct Experiment {
  std::filesystem::path file;
  Params experiment;  ///< [experiment]: name, seed, device, threads
  Params plugins;     ///< [plugins]: paths (resolved against the file)
  Params precision;   ///< [precision]: flow, action
  Params train;       ///< [train]
  Params evaluate;    ///< [evaluate]
  Params action;      ///< [action], validated by the action's schema
  Params flow;        ///< [flow]
  Params estimator;   ///< [estimator]
  Params sampler;     ///< [sampler]
  /// The parsed document, overrides applied (sweep table removed), as TOML.
  std::string document;

  /// Reads and validates `file` with `KEY=VALUE` overrides. Loads the
  /// default plugins and those of `[plugins] paths` into `registry` first,
  /// so that component tables are checked against the plugins' schemas.
  /// Throws InputError naming file, line, column and key on bad input.
  static Experiment load(const std::filesystem::path& file,
                         const std::vector<std::string>& overrides,
                         Registry& registry);

  /// Same, from TOML text (`file` only names it in messages).
  static Experiment parse(const std::string& text,
                          const std::filesystem::path& file,
                          const std::vector<std::string>& overrides,
                          Registry& registry);

  /// The resolved experiment as TOML: every key with its value (defaults
  /// filled in), with the latflow version. Reloads to the same experiment.
  std::string resolved_toml() const;
  /// The resolved values as an aligned `[section] key = value` table.
  std::string resolved_table() const;

  torch::Dtype flow_dtype() const;
  torch::Dtype action_dtype() const;
  torch::Device device() const;
};

/// The components of an experiment, built in order: action, flow,
/// estimator, sampler.
struct Components {
  BuildContext context;
  std::shared_ptr<Action> action;
  std::shared_ptr<Flow> flow;
  std::shared_ptr<Estimator> estimator;
  std::shared_ptr<Sampler> sampler;
};

/// Builds the action only (for `latflow action`).
Components build_action(const Experiment& experiment,
                        const Registry& registry);
/// Builds every component of the experiment.
Components build_components(const Experiment& experiment,
                            const Registry& registry);

/// Seeds every random generator (torch CPU and CUDA, std) from `seed`.
void seed_everything(uint64_t seed);

/// Sets LibTorch's intra-op threads: `threads` > 0, else the cores
/// available. Returns the count in use.
int configure_threads(int64_t threads);

}  // namespace latflow
