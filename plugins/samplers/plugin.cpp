#include <latflow/plugin.h>

#include "samplers.h"

LATFLOW_PLUGIN("samplers", "1.0.0") {
  using namespace latflow;
  registry.add<Sampler>("flow",
                        "independent flow samples with log importance weights",
                        samplers::flow_schema(), samplers::make_flow);
  registry.add<Sampler>(
      "nmcmc", "neural MCMC: independence Metropolis with flow proposals",
      samplers::nmcmc_schema(), samplers::make_nmcmc);
  registry.add<Sampler>(
      "hmc", "hybrid Monte Carlo: leapfrog with autograd forces of the action",
      samplers::hmc_schema(), samplers::make_hmc);
}
