#include <latflow/optimizer.h>

#include <torch/torch.h>

#include <string>

namespace latflow {

namespace {

bool half_width(const torch::Tensor& t) {
  return t.scalar_type() == torch::kBFloat16 ||
         t.scalar_type() == torch::kFloat16;
}

std::vector<torch::Tensor> master_copies(
    const std::vector<torch::Tensor>& weights) {
  std::vector<torch::Tensor> masters;
  bool any_half = false;
  for (const auto& w : weights) any_half = any_half || half_width(w);
  if (!any_half) return masters;
  for (const auto& w : weights) {
    masters.push_back(
        w.detach().to(torch::kFloat32).clone().requires_grad_(true));
  }
  return masters;
}

}  // namespace

FlowOptimizer::FlowOptimizer(std::vector<torch::Tensor> weights, double lr)
    : weights_(std::move(weights)),
      masters_(master_copies(weights_)),
      adam_(updated(), torch::optim::AdamOptions(lr)) {}

void FlowOptimizer::zero_grad() {
  adam_.zero_grad();
  if (masters_.empty()) return;
  for (auto& w : weights_) {
    if (w.grad().defined()) w.mutable_grad().reset();
  }
}

void FlowOptimizer::set_lr(double lr) {
  for (auto& group : adam_.param_groups()) {
    static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
  }
}

torch::Tensor FlowOptimizer::step(const torch::Tensor& loss, double clip,
                                  torch::Tensor& skipped) {
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < masters_.size(); ++i) {
    const auto& grad = weights_[i].grad();
    masters_[i].mutable_grad() =
        grad.defined() ? grad.to(torch::kFloat32) : torch::Tensor();
  }
  auto& parameters = updated();
  std::vector<torch::Tensor> norms;
  for (const auto& p : parameters) {
    if (p.grad().defined()) {
      norms.push_back(p.grad().norm().to(torch::kFloat64));
    }
  }
  const auto norm = norms.empty() ? torch::zeros_like(loss)
                                  : torch::stack(norms).norm();
  const auto finite =
      torch::isfinite(loss).logical_and(torch::isfinite(norm));
  std::vector<torch::Tensor> before;
  before.reserve(parameters.size());
  for (const auto& p : parameters) {
    before.push_back(p.detach().clone());
    if (!p.grad().defined()) continue;
    auto grad = p.grad();
    if (clip > 0) {
      grad.mul_((clip / (norm + 1e-6)).clamp_max(1.0).to(grad.dtype()));
    }
    grad.copy_(torch::where(finite, grad, torch::zeros_like(grad)));
  }
  adam_.step();
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    auto p = parameters[i].detach();
    p.copy_(torch::where(finite, p, before[i]));
  }
  for (std::size_t i = 0; i < masters_.size(); ++i) {
    weights_[i].detach().copy_(masters_[i]);
  }
  skipped.add_(finite.logical_not().to(torch::kLong));
  return norm;
}

bool FlowOptimizer::finite() const {
  for (const auto& m : masters_) {
    if (!torch::isfinite(m).all().item<bool>()) return false;
  }
  return true;
}

void FlowOptimizer::save(torch::serialize::OutputArchive& checkpoint) {
  torch::serialize::OutputArchive adam_archive;
  adam_.save(adam_archive);
  checkpoint.write("optimizer", adam_archive);
  if (masters_.empty()) return;
  torch::serialize::OutputArchive masters_archive;
  for (std::size_t i = 0; i < masters_.size(); ++i) {
    masters_archive.write(std::to_string(i), masters_[i].detach());
  }
  checkpoint.write("masters", masters_archive);
}

void FlowOptimizer::load(torch::serialize::InputArchive& checkpoint) {
  torch::serialize::InputArchive adam_archive;
  checkpoint.read("optimizer", adam_archive);
  adam_.load(adam_archive);
  if (masters_.empty()) return;
  torch::NoGradGuard no_grad;
  torch::serialize::InputArchive masters_archive;
  const bool saved = checkpoint.try_read("masters", masters_archive);
  for (std::size_t i = 0; i < masters_.size(); ++i) {
    torch::Tensor master;
    if (saved) {
      masters_archive.read(std::to_string(i), master);
      TORCH_CHECK(master.sizes() == masters_[i].sizes(),
                  "master weight ", i, " has another shape");
    } else {
      master = weights_[i].detach();
    }
    masters_[i].detach().copy_(master);
  }
}

}  // namespace latflow
