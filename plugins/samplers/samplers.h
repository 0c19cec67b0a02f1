#pragma once

#include <latflow/context.h>
#include <latflow/params.h>
#include <latflow/sampler.h>

#include <memory>

namespace latflow::samplers {

/// Parameters of sampler/flow.
Schema flow_schema();
/// Independent flow samples with their log importance weights.
std::shared_ptr<Sampler> make_flow(const Params& params,
                                   const BuildContext& context);

/// Parameters of sampler/nmcmc.
Schema nmcmc_schema();
/// Independence Metropolis chain with flow proposals.
std::shared_ptr<Sampler> make_nmcmc(const Params& params,
                                    const BuildContext& context);

/// Parameters of sampler/hmc.
Schema hmc_schema();
/// Hybrid Monte Carlo on the action alone.
std::shared_ptr<Sampler> make_hmc(const Params& params,
                                  const BuildContext& context);

}  // namespace latflow::samplers
