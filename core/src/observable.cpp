#include <latflow/observable.h>

namespace latflow {

namespace {

class FunctionObservable final : public Observable {
 public:
  FunctionObservable(std::string name,
                     std::function<torch::Tensor(const torch::Tensor&)> fn)
      : name_(std::move(name)), fn_(std::move(fn)) {}

  std::string name() const override { return name_; }
  torch::Tensor measure(const torch::Tensor& configs) const override {
    return fn_(configs).to(torch::kFloat64);
  }

 private:
  std::string name_;
  std::function<torch::Tensor(const torch::Tensor&)> fn_;
};

}  // namespace

std::shared_ptr<Observable> make_observable(
    std::string name, std::function<torch::Tensor(const torch::Tensor&)> fn) {
  return std::make_shared<FunctionObservable>(std::move(name), std::move(fn));
}

}  // namespace latflow
