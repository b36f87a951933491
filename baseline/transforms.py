"""The lecture's transforms, done on the device for a whole batch at once.

Kaggle gives 4 vCPUs for two T4s, and resizing a 32 px image to 224 px on the
CPU costs about 1 ms per image and core: a CPU pipeline would starve the GPUs.
So batches travel as uint8 32x32 and are transformed where the model runs,
with the semantics of the lecture's torchvision v2 pipeline:

    train: scale to [0, 1] -> RandomResizedCrop((224, 224), antialias=True)
           -> RandomHorizontalFlip(0.5) -> Normalize(ImageNet mean, std)
    eval:  scale to [0, 1] -> Resize((224, 224), antialias=True) -> Normalize

How: bilinear resizing is separable and linear, so cropping a box and
resizing it is `out = Wy @ image @ Wx.T`, with per-image interpolation
matrices Wy (224 x 32) and Wx (224 x 32) built from the box. The matrices use
PyTorch's antialiased bilinear weights, so the result equals
`torchvision.transforms.v2.functional.resized_crop(..., antialias=True)` up to
float rounding (tested); a flip is the same Wx with its rows reversed, and
Normalize, being per-channel affine, commutes with the resize and is applied
to the small image first. Two small batched matmuls replace 128 separate crops.

Crop boxes follow torchvision's `RandomResizedCrop.get_params` (scale
(0.08, 1), ratio (3/4, 4/3), 10 tries, then a centre crop), drawn from an
explicit generator so that runs are reproducible and resumable.
"""

from __future__ import annotations

import math

import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CROP_SCALE = (0.08, 1.0)  # torchvision's RandomResizedCrop defaults
CROP_RATIO = (3 / 4, 4 / 3)
CROP_TRIES = 10


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


class DeviceTransforms:
    """Batched train / eval transforms for uint8 (B, 32, 32, 3) image batches on any device."""

    def __init__(self, image_size: int, device: torch.device) -> None:
        self.size = image_size
        self.device = device
        self.mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
        self._eval_weights: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}

    def _normalised(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, H, W, 3) -> float (B, 3, H, W), scaled to [0, 1] and normalised."""
        x = images.to(self.device, non_blocking=True).permute(0, 3, 1, 2).float() / 255
        return (x - self.mean) / self.std

    def _resize(self, x: torch.Tensor, wy: torch.Tensor, wx: torch.Tensor) -> torch.Tensor:
        out = wy[:, None] @ x @ wx[:, None].transpose(-1, -2)  # (B, 3, size, size)
        return out.contiguous(memory_format=torch.channels_last)

    def eval(self, images: torch.Tensor) -> torch.Tensor:
        """Resize((size, size), antialias=True) + Normalize."""
        x = self._normalised(images)
        h, w = x.shape[-2:]
        if (h, w) not in self._eval_weights:  # the same for every image: build once
            zero, sizes = torch.zeros(1, dtype=torch.long), torch.tensor([h, w])
            zero, sizes = zero.to(self.device), sizes.to(self.device)
            self._eval_weights[(h, w)] = (
                interpolation_weights(zero, sizes[:1], h, self.size),
                interpolation_weights(zero, sizes[1:], w, self.size),
            )
        return self._resize(x, *self._eval_weights[(h, w)])

    def train(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """RandomResizedCrop((size, size), antialias=True) + RandomHorizontalFlip + Normalize.

        `generator` is a CPU generator: the few random numbers per image (a box
        and a flip: 5 integers) are drawn there, so the same seed gives the same
        crops on any device; they travel to the device in one small copy, and the
        interpolation matrices are built there.
        """
        x = self._normalised(images)
        b, _, h, w = x.shape
        top, left, ch, cw = sample_crops(b, h, w, generator)
        flip = torch.rand(b, generator=generator) < 0.5
        boxes = torch.stack([top, left, ch, cw, flip.long()]).to(self.device, non_blocking=True)
        top, left, ch, cw, flip = boxes
        wy = interpolation_weights(top, ch, h, self.size)
        wx = interpolation_weights(left, cw, w, self.size)
        wx = torch.where(flip.bool()[:, None, None], wx.flip(1), wx)
        return self._resize(x, wy, wx)
