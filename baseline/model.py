"""Build the model: a torchvision classifier, its pretrained weights, and a new head.

Weights come through torchvision's weight enums (`ResNet50_Weights.IMAGENET1K_V1`),
so torchvision's download cache (`$TORCH_HOME/hub/checkpoints`) is used. On a
machine without internet, `--weights-file` loads a local copy of the same file,
checked against the hash torchvision publishes in its file name (the first
hex digits of the file's sha256, as torch.hub checks them).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision
from torch import nn

from baseline.errors import TrainingError

_HASH_IN_NAME = re.compile(r"-([a-f0-9]{6,})\.")


def resolve_weights(model: str, weights: str):
    """The torchvision weights enum member named `weights` for `model`, or None for 'none'.

    For a timm model (`timm/NAME`) it is the string "timm-pretrained" unless 'none'.
    """
    if model.startswith("timm/"):
        import timm

        if model[5:] not in timm.list_models():
            raise TrainingError(
                f"--model {model}: timm has no model {model[5:]!r} (timm.list_models() "
                "lists them, e.g. timm/resnet18, timm/convnext_nano)."
            )
        return None if weights.lower() == "none" else "timm-pretrained"
    if model not in torchvision.models.list_models():
        raise TrainingError(
            f"--model {model}: not a torchvision model. Examples: resnet18, resnet50, "
            "efficientnet_b0, convnext_tiny (torchvision.models.list_models() lists all)."
        )
    if weights.lower() == "none":
        return None
    enum = torchvision.models.get_model_weights(model)
    if weights not in enum.__members__:
        raise TrainingError(
            f"--weights {weights}: {model} has no such weights; choose one of "
            f"{', '.join(enum.__members__)} or none."
        )
    return enum[weights]


def check_weights_file(path: Path, url: str) -> None:
    """Refuse a weights file whose sha256 does not start with the hash in torchvision's URL."""
    if not path.is_file():
        raise TrainingError(f"--weights-file {path}: no such file.")
    match = _HASH_IN_NAME.search(url.rsplit("/", 1)[-1])
    expected = match.group(1) if match else ""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if not digest.startswith(expected):
        raise TrainingError(
            f"--weights-file {path}: sha256 {digest[:12]}... does not match the published "
            f"file {url} (sha256 starts with {expected}). Download that file again, or pass "
            "--weights none to train from scratch."
        )


def load_pretrained(weights, weights_file: Path | None, progress: bool) -> dict:
    """The pretrained state dict: from a checked local file, or torchvision's cache/download."""
    if weights_file is not None:
        check_weights_file(weights_file, weights.url)
        return torch.load(weights_file, map_location="cpu", weights_only=True)
    try:
        return weights.get_state_dict(progress=progress, check_hash=True)
    except (OSError, RuntimeError) as exc:  # URLError is an OSError; hash errors are RuntimeError
        raise TrainingError(
            f"could not get the {weights} weights ({exc}). Without internet, download "
            f"{weights.url} elsewhere and pass --weights-file PATH, or use --weights none."
        ) from None


def timm_model(name: str, pretrained: bool, num_classes: int, drop_rate: float) -> nn.Module:
    """timm's model `name` with its own `num_classes`-way head (and timm's pretrained
    weights, through the Hugging Face cache, when `pretrained`)."""
    import timm

    try:
        return timm.create_model(
            name, pretrained=pretrained, num_classes=num_classes, drop_rate=drop_rate
        )
    except (OSError, RuntimeError) as exc:
        raise TrainingError(
            f"could not get timm's pretrained weights for {name} ({exc}). Without "
            "internet use --weights none, or put them in the Hugging Face cache first."
        ) from None


def replace_last_linear(net: nn.Module, make_head: Callable[[int], nn.Module]) -> None:
    """Put `make_head(in_features)` in place of the network's last nn.Linear (resnet's
    fc, efficientnet's classifier[-1], ...)."""
    name, last = next(
        ((n, m) for n, m in reversed(list(net.named_modules())) if isinstance(m, nn.Linear)),
        (None, None),
    )
    if last is None:
        raise TrainingError("the model has no nn.Linear classifier layer to replace.")
    parent = net.get_submodule(name.rpartition(".")[0]) if "." in name else net
    setattr(parent, name.rpartition(".")[2], make_head(last.in_features))


def check_model(net: nn.Module, model: str) -> None:
    """Refuse a network the training loop cannot train, in one line."""
    if getattr(net, "aux_logits", False):
        raise TrainingError(
            f"--model {model}: returns auxiliary outputs while training, which the kit's "
            "loop does not combine into its loss; choose a model without them (resnet50, "
            "efficientnet_b0, convnext_tiny, ...)."
        )


def block_outputs(net: nn.Module, image_size: int) -> dict[str, tuple[int, ...]]:
    """The output shape of each top-level block for one image of `image_size` px (forward
    hooks, one forward pass in eval mode without gradients, so nothing in the model
    changes); a block the forward pass never calls is left out."""
    shapes: dict[str, tuple[int, ...]] = {}

    def keep(name: str):
        def hook(_module, _inputs, output) -> None:
            if isinstance(output, torch.Tensor):
                shapes[name] = tuple(output.shape[1:])

        return hook

    handles = [child.register_forward_hook(keep(name)) for name, child in net.named_children()]
    was_training = net.training
    parameter = next(net.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    try:
        net.eval()
        with torch.no_grad():
            net(torch.zeros(1, 3, image_size, image_size, device=device))
    finally:
        net.train(was_training)
        for handle in handles:
            handle.remove()
    return shapes


def _kind(block: nn.Module) -> str:
    """A block's type, with what it repeats: Sequential(3 x Bottleneck)."""
    children = list(block.children())
    kinds = {type(child).__name__ for child in children}
    if isinstance(block, nn.Sequential) and len(kinds) == 1:
        return f"Sequential({len(children)} x {kinds.pop()})"
    return type(block).__name__


def summary(net: nn.Module, model: str, weights, image_size: int | None = None) -> str:
    """A compact model summary: the parameter counts, then one row per top-level block
    (resnet50: 10 rows, not its 191-line repr) with its type, its output shape for one
    image of `image_size` px (when given) and its parameters."""
    total = sum(p.numel() for p in net.parameters())
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    shapes = block_outputs(net, image_size) if image_size else {}
    rows = [
        (
            name,
            _kind(child),
            " x ".join(map(str, shapes[name])) if name in shapes else "",
            f"{sum(p.numel() for p in child.parameters()):,}",
        )
        for name, child in net.named_children()
    ]
    shown = f"output ({image_size} px input)" if image_size else ""
    header = ("block", "type", shown, "parameters")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    lines = [
        f"model: {'' if model.startswith('timm/') else 'torchvision '}{model}, weights "
        f"{weights or 'none (random init)'}",
        f"parameters: {total:,} ({trainable:,} trainable)",
        "",
    ]
    for row in [header, *rows]:
        cells = [row[i].ljust(widths[i]) for i in range(3)] + [row[3].rjust(widths[3])]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"
