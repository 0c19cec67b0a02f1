#include <latflow/checkpoint.h>
#include <latflow/error.h>
#include <torch/torch.h>

#include <string>
#include <system_error>
#include <vector>

namespace latflow {

namespace {

/// Name, shape and dtype of every parameter and buffer.
std::vector<std::string> tensor_layout(Flow& flow) {
  std::vector<std::string> layout;
  const auto describe = [&](const std::string& name, const torch::Tensor& t) {
    layout.push_back(fmt::format("{} {} {}", name, c10::str(t.sizes()),
                                 c10::str(t.scalar_type())));
  };
  for (const auto& item : flow.named_parameters()) {
    describe(item.key(), item.value());
  }
  for (const auto& item : flow.named_buffers()) {
    describe(item.key(), item.value());
  }
  return layout;
}

}  // namespace

void load_checkpoint_flow(const std::filesystem::path& file, Flow& flow) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(file, error)) {
    throw InputError(fmt::format("{}: no such checkpoint", file.string()));
  }
  // Tensors land on the flow's device whatever device wrote them.
  const auto parameters = flow.parameters();
  const torch::Device device = parameters.empty() ? torch::Device(torch::kCPU)
                                                  : parameters.front().device();

  torch::serialize::InputArchive archive;
  torch::serialize::InputArchive flow_archive;
  try {
    archive.load_from(file.string(), device);
    archive.read("flow", flow_archive);
  } catch (const c10::Error&) {
    throw InputError(fmt::format(
        "{}: not a readable latflow checkpoint (truncated or of another "
        "program)",
        file.string()));
  }
  // Module::load replaces tensors whatever their shape: compare them.
  const auto layout = tensor_layout(flow);
  bool fits = true;
  try {
    flow.load(flow_archive);
  } catch (const c10::Error&) {
    fits = false;
  }
  if (!fits || tensor_layout(flow) != layout) {
    throw InputError(fmt::format(
        "{}: checkpoint does not fit flow/{} of the experiment (another "
        "architecture or precision)",
        file.string(), flow.type()));
  }
}

}  // namespace latflow
