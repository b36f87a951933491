"""The lecture's transforms as batch functions that run where the model runs.

Kaggle gives 4 vCPUs for two T4s, and resizing a 32 px image to 224 px on the
CPU costs about 1 ms per image and core: a CPU pipeline would starve the GPUs.
So batches travel as uint8 32x32 and are transformed on the device, a whole
batch at a time, with the semantics of the lecture's torchvision v2 pipeline.

The interface (what `baseline.lesson.train_transform` and `eval_transform`
are, and what a student's own transform must be): a uint8 batch
(B, 32, 32, 3) already on the device in, a normalised float batch
(B, 3, S, S) out; random draws come from a CPU `torch.Generator` the engine
seeds per (seed, epoch, step, process), so runs are reproducible and
resumable. The building blocks, each the batched twin of a v2 transform:

    to_float             ToImage + ToDtype(float32, scale=True)
    random_resized_crop  RandomResizedCrop((S, S), antialias=True)
    random_flip          RandomHorizontalFlip(0.5)
    resize               Resize((S, S), antialias=True)
    normalize            Normalize(mean, std)
    random_erasing       RandomErasing(p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0)

Why batched twins and not the v2 transforms themselves: a v2 transform given a
batch (B, 3, H, W) treats it as one image and draws one set of random
parameters for all of it, so `v2.RandomErasing(p=1)` erases the same box in
every image of the batch, and `v2.RandomHorizontalFlip()` flips all of them or
none (tests/baseline/test_transforms.py shows it). The twins draw per image.

How the crop works: bilinear resizing is separable and linear, so cropping a
box and resizing it is `out = Wy @ image @ Wx.T`, with per-image
interpolation matrices Wy (S x 32) and Wx (S x 32) built from the box on the
device in float32. The matrices use PyTorch's antialiased bilinear weights,
so the result equals `torchvision.transforms.v2.functional.resized_crop(...,
antialias=True)` up to float rounding (tested to 5e-5). Two small batched
matmuls replace 128 separate crops. Crop boxes follow torchvision's
`RandomResizedCrop.get_params` (scale (0.08, 1), ratio (3/4, 4/3), 10 tries,
then a centre crop).
"""

from __future__ import annotations

import functools
import math

import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CROP_SCALE = (0.08, 1.0)  # torchvision's RandomResizedCrop defaults
CROP_RATIO = (3 / 4, 4 / 3)
CROP_TRIES = 10
ERASE_SCALE = (0.02, 0.33)  # torchvision's RandomErasing defaults
ERASE_RATIO = (0.3, 3.3)


def interpolation_weights(
    starts: torch.Tensor, sizes: torch.Tensor, in_size: int, out_size: int
) -> torch.Tensor:
    """Matrices (B, out_size, in_size) that resize the window [start, start + size) to out_size,
    built in float32 on the device of `sizes` (a few small kernels, no host work).

    The weights are PyTorch's antialiased bilinear ones (upsample_bilinear2d_aa):
    a triangle filter widened by the scale when shrinking, centred on
    scale x (o + 0.5), clipped to the window and normalised to sum to 1.
    """
    real = torch.float32
    scale = sizes.to(real)[:, None] / out_size  # (B, 1)
    support = torch.clamp(scale, min=1.0)  # filter half-width, in input pixels
    centre = scale * (torch.arange(out_size, dtype=real, device=sizes.device) + 0.5)
    k = torch.arange(in_size, dtype=real, device=sizes.device)  # window-relative
    offset = k[None, None, :] - centre[:, :, None] + 0.5  # (B, out, in)
    weights = torch.clamp(1 - (offset / support[:, :, None]).abs(), min=0)
    # PyTorch only considers the pixels [int(centre - support + 0.5), int(centre + support + 0.5)).
    lo = torch.clamp((centre - support + 0.5).floor(), min=0)
    hi = torch.minimum((centre + support + 0.5).floor(), sizes.to(real)[:, None])
    weights = weights * ((k >= lo[:, :, None]) & (k < hi[:, :, None]))
    weights = weights / weights.sum(dim=2, keepdim=True)
    # Shift from window-relative to image coordinates: column start + k.
    shifted = torch.zeros_like(weights)
    index = (k[None, :].long() + starts[:, None].long()).clamp(max=in_size - 1)
    shifted.scatter_add_(2, index[:, None, :].expand_as(weights), weights)
    return shifted


def sample_crops(
    batch: int, height: int, width: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Crop boxes (top, left, height, width) as torchvision's RandomResizedCrop draws them."""
    area = height * width
    target = area * torch.empty(batch, CROP_TRIES).uniform_(*CROP_SCALE, generator=generator)
    log_ratio = torch.empty(batch, CROP_TRIES).uniform_(
        math.log(CROP_RATIO[0]), math.log(CROP_RATIO[1]), generator=generator
    )
    aspect = torch.exp(log_ratio)
    w = torch.round(torch.sqrt(target * aspect)).long()
    h = torch.round(torch.sqrt(target / aspect)).long()
    ok = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = torch.argmax(ok.int(), dim=1)  # the first try that fits
    found = ok.any(dim=1)
    rows = torch.arange(batch)
    h, w = h[rows, first], w[rows, first]
    # No try fitted: the centre crop torchvision falls back to (whole image for square input).
    ratio = width / height
    if ratio < CROP_RATIO[0]:
        fallback = (round(width / CROP_RATIO[0]), width)
    elif ratio > CROP_RATIO[1]:
        fallback = (height, round(height * CROP_RATIO[1]))
    else:
        fallback = (height, width)
    h = torch.where(found, h, fallback[0])
    w = torch.where(found, w, fallback[1])
    u = torch.rand(batch, 2, generator=generator)
    top = torch.where(found, (u[:, 0] * (height - h + 1)).long(), (height - h) // 2)
    left = torch.where(found, (u[:, 1] * (width - w + 1)).long(), (width - w) // 2)
    return top, left, h, w


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, H, W, 3) -> float32 (B, 3, H, W) in [0, 1]: v2's ToImage + ToDtype(scale=True)."""
    return images.permute(0, 3, 1, 2).float() / 255


def _resize_with(x: torch.Tensor, wy: torch.Tensor, wx: torch.Tensor) -> torch.Tensor:
    """Apply per-image row and column interpolation matrices: Wy @ x @ Wx.T, channels_last."""
    out = wy[:, None] @ x @ wx[:, None].transpose(-1, -2)  # (B, 3, size, size)
    return out.contiguous(memory_format=torch.channels_last)


@functools.lru_cache(maxsize=16)
def _whole_image_weights(
    height: int, width: int, size: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """The (1, size, height) and (1, size, width) matrices of resizing the whole image:
    the same for every image, so built once per shape and device."""
    zero = torch.zeros(1, dtype=torch.long, device=device)
    sizes = torch.tensor([height, width], device=device)
    return (
        interpolation_weights(zero, sizes[:1], height, size),
        interpolation_weights(zero, sizes[1:], width, size),
    )


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """v2's Resize((size, size), antialias=True) of a float batch (B, C, H, W)."""
    wy, wx = _whole_image_weights(x.shape[-2], x.shape[-1], size, x.device)
    return _resize_with(x, wy, wx)


def random_resized_crop(x: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """v2's RandomResizedCrop((size, size), antialias=True) of each image of a float batch.

    `generator` is a CPU generator: the boxes (4 integers an image) are drawn there, as
    torchvision draws them, so the same seed gives the same crops on any device; they
    travel in one small copy and the interpolation matrices are built on the device.
    """
    b, _, h, w = x.shape
    boxes = torch.stack(sample_crops(b, h, w, generator)).to(x.device, non_blocking=True)
    top, left, ch, cw = boxes
    wy = interpolation_weights(top, ch, h, size)
    wx = interpolation_weights(left, cw, w, size)
    return _resize_with(x, wy, wx)


def random_flip(x: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """v2's RandomHorizontalFlip(p) of each image; the draws come from the CPU `generator`."""
    flip = (torch.rand(x.shape[0], generator=generator) < p).to(x.device, non_blocking=True)
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


@functools.lru_cache(maxsize=16)
def _channel_stats(
    mean: tuple[float, ...], std: tuple[float, ...], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std as (1, C, 1, 1) tensors on the device, made once: a tensor built from
    Python numbers on a GPU is a blocking copy, which the training step must not make."""
    return (
        torch.tensor(mean, device=device).view(1, -1, 1, 1),
        torch.tensor(std, device=device).view(1, -1, 1, 1),
    )


def normalize(
    x: torch.Tensor, mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD
) -> torch.Tensor:
    """v2's Normalize(mean, std), per channel; the result is channels_last, as the model."""
    m, s = _channel_stats(tuple(mean), tuple(std), x.device)
    return ((x - m) / s).contiguous(memory_format=torch.channels_last)


def sample_erasures(
    batch: int,
    height: int,
    width: int,
    generator: torch.Generator,
    p: float = 0.5,
    scale: tuple[float, float] = ERASE_SCALE,
    ratio: tuple[float, float] = ERASE_RATIO,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per image: whether to erase (1 or 0), and the box (top, left, height, width), drawn as
    torchvision's RandomErasing draws them: erase with probability p; the box's area a
    uniform share of the image in `scale`, its height/width ratio log-uniform in `ratio`;
    10 tries to fit strictly inside the image, else no erasing."""
    erase = torch.rand(batch, generator=generator) < p
    target = height * width * torch.empty(batch, CROP_TRIES).uniform_(*scale, generator=generator)
    log_ratio = torch.empty(batch, CROP_TRIES).uniform_(
        math.log(ratio[0]), math.log(ratio[1]), generator=generator
    )
    aspect = torch.exp(log_ratio)  # height / width, as in torchvision (the crop's is w / h)
    h = torch.round(torch.sqrt(target * aspect)).long()
    w = torch.round(torch.sqrt(target / aspect)).long()
    ok = (h < height) & (w < width)
    first = torch.argmax(ok.int(), dim=1)  # the first try that fits
    rows = torch.arange(batch)
    h, w = h[rows, first], w[rows, first]
    u = torch.rand(batch, 2, generator=generator)
    top = (u[:, 0] * (height - h + 1)).long().clamp(min=0)
    left = (u[:, 1] * (width - w + 1)).long().clamp(min=0)
    return (erase & ok.any(dim=1)).long(), top, left, h, w


def random_erasing(
    x: torch.Tensor,
    generator: torch.Generator,
    p: float = 0.5,
    scale: tuple[float, float] = ERASE_SCALE,
    ratio: tuple[float, float] = ERASE_RATIO,
    value: float = 0.0,
) -> torch.Tensor:
    """v2's RandomErasing(p, scale, ratio, value) of each image of a float batch: each image
    draws its own box (a v2 transform on the batch would erase one box in all of them).

    After `normalize`, value 0 paints the box in the mean colour, as the lecture's pipeline
    (RandomErasing after Normalize) does. The draws come from the CPU `generator`; the
    result is channels_last, as the model.
    """
    b, _, h, w = x.shape
    drawn = torch.stack(sample_erasures(b, h, w, generator, p, scale, ratio))
    erase, top, left, eh, ew = drawn.to(x.device, non_blocking=True)[:, :, None]
    ys = torch.arange(h, device=x.device)[None, :]
    xs = torch.arange(w, device=x.device)[None, :]
    inside_y = (ys >= top) & (ys < top + eh) & erase.bool()  # (B, H)
    inside_x = (xs >= left) & (xs < left + ew)  # (B, W)
    erased = x.masked_fill(inside_y[:, None, :, None] & inside_x[:, None, None, :], value)
    return erased.contiguous(memory_format=torch.channels_last)  # as the model
