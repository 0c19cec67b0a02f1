#include <latflow/checkpoint.h>
#include <latflow/error.h>
#include <torch/torch.h>

#include <set>
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

/// Why the archive of `module` does not hold exactly the module's tensors
/// (names, shapes, dtypes) at every depth; empty when it does. Module::load
/// would skip what the module lacks, and copies a tensor of another dtype
/// byte for byte.
std::string mismatch(torch::serialize::InputArchive& archive,
                     const torch::nn::Module& module,
                     const std::string& prefix) {
  std::set<std::string> expected;
  std::string why;
  const auto check = [&](const std::string& key, const torch::Tensor& tensor,
                         bool buffer) {
    expected.insert(key);
    torch::Tensor stored;
    if (!why.empty()) return;
    if (!archive.try_read(key, stored, buffer)) {
      why = fmt::format("it has no tensor {}{}", prefix, key);
    } else if (stored.sizes() != tensor.sizes() ||
               stored.scalar_type() != tensor.scalar_type()) {
      why = fmt::format("{}{} is {} {}, the flow's is {} {}", prefix, key,
                        c10::toString(stored.scalar_type()),
                        c10::str(stored.sizes()),
                        c10::toString(tensor.scalar_type()),
                        c10::str(tensor.sizes()));
    }
  };
  for (const auto& item : module.named_parameters(/*recurse=*/false)) {
    check(item.key(), item.value(), false);
  }
  for (const auto& item : module.named_buffers(/*recurse=*/false)) {
    check(item.key(), item.value(), true);
  }
  for (const auto& item : module.named_children()) {
    if (!why.empty()) return why;
    if (!item.value()->is_serializable()) continue;
    expected.insert(item.key());
    torch::serialize::InputArchive child;
    if (!archive.try_read(item.key(), child)) {
      return fmt::format("it has no module {}{}", prefix, item.key());
    }
    why = mismatch(child, *item.value(), prefix + item.key() + ".");
  }
  if (!why.empty()) return why;
  for (const auto& key : archive.keys()) {
    if (expected.count(key) > 0) continue;
    torch::Tensor tensor;
    torch::serialize::InputArchive child;
    if (archive.try_read(key, tensor) || archive.try_read(key, child)) {
      return fmt::format("it has {}{}, which the flow has not", prefix, key);
    }
  }
  return {};
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
  } catch (const std::exception&) {
    throw InputError(fmt::format(
        "{}: not a readable latflow checkpoint (truncated or of another "
        "program)",
        file.string()));
  }
  // Module::load replaces tensors whatever their shape: compare them.
  const auto layout = tensor_layout(flow);
  std::string why;
  try {
    why = mismatch(flow_archive, flow, "");
    if (why.empty()) flow.load(flow_archive);
  } catch (const std::exception&) {
    why = "it cannot be read into the flow";
  }
  if (why.empty() && tensor_layout(flow) != layout) {
    why = "its tensors change the flow's layout";
  }
  if (!why.empty()) {
    throw InputError(fmt::format(
        "{}: checkpoint does not fit flow/{} of the experiment (another "
        "architecture or precision): {}",
        file.string(), flow.type(), why));
  }
}

}  // namespace latflow
