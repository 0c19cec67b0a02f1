#pragma once

#include <latflow/action.h>
#include <latflow/context.h>
#include <latflow/params.h>

#include <memory>

namespace latflow::u1 {

/// Parameters of action/u1_gauge.
Schema u1_gauge_schema();
/// Pure U(1) gauge action with exact finite-volume results.
std::shared_ptr<Action> make_u1_gauge(const Params& params,
                                      const BuildContext& context);

/// Parameters of action/schwinger_wilson.
Schema schwinger_wilson_schema();
/// U(1) gauge field with Wilson fermions integrated out.
std::shared_ptr<Action> make_schwinger_wilson(const Params& params,
                                              const BuildContext& context);

}  // namespace latflow::u1
