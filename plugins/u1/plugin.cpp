#include <latflow/plugin.h>

#include "actions.h"

LATFLOW_PLUGIN("u1", "1.0.0") {
  registry.add<latflow::Action>(
      "u1_gauge", "U(1) gauge field, S = -beta sum cos P, with exact results",
      latflow::u1::u1_gauge_schema(), latflow::u1::make_u1_gauge);
  registry.add<latflow::Action>(
      "schwinger_wilson",
      "Schwinger model: U(1) gauge field and Wilson fermions, -N_f log|det D|",
      latflow::u1::schwinger_wilson_schema(),
      latflow::u1::make_schwinger_wilson);
}
