#include <latflow/optimizer.h>

#include <doctest/doctest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>

using namespace latflow;

namespace {

/// One weight tensor of `dtype`, all entries 1, inside a vector.
std::vector<torch::Tensor> ones_weight(torch::Dtype dtype) {
  return {torch::ones({4}, dtype).requires_grad_(true)};
}

/// Sets the gradient of every weight to `value` and takes one step.
torch::Tensor step_with_gradient(FlowOptimizer& optimizer,
                                 std::vector<torch::Tensor>& weights,
                                 double value, double loss_value,
                                 torch::Tensor& skipped) {
  optimizer.zero_grad();
  for (auto& w : weights) w.mutable_grad() = torch::full_like(w, value);
  return optimizer.step(torch::tensor(loss_value, torch::kFloat64), 0.0,
                        skipped);
}

}  // namespace

TEST_CASE("bfloat16 weights train through float32 masters") {
  // Adam's update with a constant gradient is lr per step. 50 steps of
  // 1e-4 from 1.0 lead to 0.995, which rounds to 0.99609375 in bfloat16;
  // each single update is below half a bfloat16 step at 1 (2^-9) and is
  // lost when Adam updates the bfloat16 weight itself.
  const double lr = 1e-4;
  const int steps = 50;
  auto weights = ones_weight(torch::kBFloat16);
  FlowOptimizer optimizer(weights, lr);
  CHECK(optimizer.has_masters());
  auto skipped = torch::zeros({}, torch::kLong);
  for (int i = 0; i < steps; ++i) {
    step_with_gradient(optimizer, weights, 1.0, 0.0, skipped);
  }
  CHECK((weights[0].scalar_type() == torch::kBFloat16));
  CHECK(weights[0].to(torch::kFloat64)
            .allclose(torch::full({4}, 0.99609375, torch::kFloat64), 0, 0));

  torch::serialize::OutputArchive out;
  optimizer.save(out);
  std::stringstream stream;
  out.save_to(stream);
  torch::serialize::InputArchive in;
  in.load_from(stream);
  torch::serialize::InputArchive masters;
  REQUIRE(in.try_read("masters", masters));
  torch::Tensor master;
  masters.read("0", master);
  CHECK((master.scalar_type() == torch::kFloat32));
  CHECK(master.to(torch::kFloat64)
            .allclose(torch::full({4}, 1.0 - steps * lr, torch::kFloat64),
                      0, 1e-5));

  // The same steps on the bfloat16 weight itself change nothing.
  auto plain = ones_weight(torch::kBFloat16);
  torch::optim::Adam adam(plain, torch::optim::AdamOptions(lr));
  for (int i = 0; i < steps; ++i) {
    adam.zero_grad();
    plain[0].mutable_grad() = torch::ones_like(plain[0]);
    adam.step();
  }
  CHECK(plain[0].to(torch::kFloat64)
            .allclose(torch::ones({4}, torch::kFloat64), 0, 0));
}

TEST_CASE("masters come back from a checkpoint and continue exactly") {
  auto run = [](int first, int second) {
    auto weights = ones_weight(torch::kBFloat16);
    auto skipped = torch::zeros({}, torch::kLong);
    FlowOptimizer optimizer(weights, 1e-3);
    for (int i = 0; i < first; ++i) {
      step_with_gradient(optimizer, weights, 0.5 + 0.1 * i, 0.0, skipped);
    }
    if (second == 0) return weights[0].detach().clone();
    torch::serialize::OutputArchive out;
    optimizer.save(out);
    std::stringstream stream;
    out.save_to(stream);
    // A fresh optimizer on the saved weights, as a resumed run builds it.
    auto resumed = std::vector<torch::Tensor>{
        weights[0].detach().clone().requires_grad_(true)};
    FlowOptimizer again(resumed, 1e-3);
    torch::serialize::InputArchive in;
    in.load_from(stream);
    again.load(in);
    for (int i = first; i < first + second; ++i) {
      step_with_gradient(again, resumed, 0.5 + 0.1 * i, 0.0, skipped);
    }
    return resumed[0].detach().clone();
  };
  const auto straight = run(20, 0);
  const auto resumed = run(10, 10);
  CHECK(torch::equal(straight, resumed));
}

TEST_CASE("a non-finite step leaves weights and masters alone") {
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    INFO(std::string(c10::toString(dtype)));
    auto weights = ones_weight(dtype);
    FlowOptimizer optimizer(weights, 1e-2);
    CHECK(optimizer.has_masters() == (dtype == torch::kBFloat16));
    auto skipped = torch::zeros({}, torch::kLong);
    step_with_gradient(optimizer, weights, 1.0, 0.0, skipped);
    const auto after_one = weights[0].detach().clone();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    step_with_gradient(optimizer, weights, nan, 0.0, skipped);
    step_with_gradient(optimizer, weights, 1.0, nan, skipped);
    CHECK(skipped.item<int64_t>() == 2);
    CHECK(torch::equal(weights[0], after_one));
    // The next good step moves the weight on from where it was.
    const auto norm = step_with_gradient(optimizer, weights, 1.0, 0.0,
                                         skipped);
    CHECK(norm.item<double>() == doctest::Approx(2.0));
    CHECK(weights[0].lt(after_one).all().item<bool>());
    CHECK(skipped.item<int64_t>() == 2);
  }
}

TEST_CASE("clipping scales the gradient to the given norm") {
  auto weights = std::vector<torch::Tensor>{
      torch::zeros({4}, torch::kFloat64).requires_grad_(true)};
  // Adam's first step does not show the scale: the clipped gradient is
  // read back from the weight.
  FlowOptimizer optimizer(weights, 1e-3);
  auto skipped = torch::zeros({}, torch::kLong);
  optimizer.zero_grad();
  weights[0].mutable_grad() = torch::full({4}, 3.0, torch::kFloat64);
  const auto norm = optimizer.step(torch::zeros({}, torch::kFloat64), 1.5,
                                   skipped);
  CHECK(norm.item<double>() == doctest::Approx(6.0));
  CHECK(weights[0].grad().norm().item<double>() ==
        doctest::Approx(1.5).epsilon(1e-6));
}
