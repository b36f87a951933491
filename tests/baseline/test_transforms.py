"""The batch transforms (the lesson's train and eval transforms) against torchvision's own,
and the crop statistics."""

from __future__ import annotations

import math

import pytest
import torch
import torchvision.transforms.v2 as T
from torchvision.transforms.v2 import functional as F

from baseline.config import TrainConfig
from baseline.lesson import eval_transform, train_transform
from baseline.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    random_erasing,
    sample_crops,
    sample_erasures,
)

NORMALIZE = T.Normalize(IMAGENET_MEAN, IMAGENET_STD)


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.randint(
        0, 256, (12, 32, 32, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )


def as_float(images: torch.Tensor) -> torch.Tensor:
    return images.permute(0, 3, 1, 2).float() / 255


@pytest.mark.parametrize("size", [224, 32, 16])  # up-, same- and down-sampling
def test_eval_equals_torchvision_resize_and_normalize(images, size):
    ours = eval_transform(images, TrainConfig(image_size=size))
    reference = NORMALIZE(F.resize(as_float(images), [size, size], antialias=True))
    assert ours.shape == (12, 3, size, size)
    assert ours.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(ours, reference, atol=5e-5, rtol=0)


@pytest.mark.parametrize("size", [224, 20])
def test_train_equals_torchvision_resized_crop_flip_and_normalize(images, size):
    ours = train_transform(images, torch.Generator().manual_seed(3), TrainConfig(image_size=size))
    assert ours.is_contiguous(memory_format=torch.channels_last)
    # Replay the same random numbers: the boxes first, then one flip draw per image.
    replay = torch.Generator().manual_seed(3)
    top, left, h, w = sample_crops(12, 32, 32, replay)
    flips = torch.rand(12, generator=replay) < 0.5
    assert 0 < flips.sum() < 12  # both branches are exercised
    for b in range(12):
        crop = F.resized_crop(
            as_float(images[b : b + 1]),
            int(top[b]),
            int(left[b]),
            int(h[b]),
            int(w[b]),
            [size, size],
            antialias=True,
        )
        reference = NORMALIZE(crop.flip(-1) if flips[b] else crop)
        torch.testing.assert_close(ours[b : b + 1], reference, atol=5e-5, rtol=0)


@pytest.mark.slow
def test_crop_boxes_follow_torchvision_random_resized_crop_statistics():
    n = 20_000
    top, left, h, w = sample_crops(n, 32, 32, torch.Generator().manual_seed(0))
    assert ((h >= 1) & (w >= 1) & (top >= 0) & (left >= 0)).all()
    assert ((top + h <= 32) & (left + w <= 32)).all()
    area = (h * w).float() / 1024
    log_ratio = torch.log(w.float() / h.float())
    # The same statistics from torchvision's own sampler.
    torch.manual_seed(0)
    boxes = [
        T.RandomResizedCrop.get_params(torch.empty(3, 32, 32), [0.08, 1.0], [3 / 4, 4 / 3])
        for _ in range(n)
    ]
    ref = torch.tensor(boxes, dtype=torch.float)
    ref_area = ref[:, 2] * ref[:, 3] / 1024
    ref_log_ratio = torch.log(ref[:, 3] / ref[:, 2])
    # Means agree within a few standard errors (sd of area ~0.27, of log-ratio ~0.2).
    assert abs(area.mean() - ref_area.mean()) < 0.01
    assert abs(log_ratio.mean() - ref_log_ratio.mean()) < 0.01
    assert abs(area.std() - ref_area.std()) < 0.01
    # Rounding to whole pixels widens the ratio range a little beyond [3/4, 4/3].
    assert log_ratio.abs().max() <= math.log(4 / 3) + 0.35
    assert (h * w).min() >= 0.08 * 1024 * 0.8 and (h * w).max() <= 1024


def test_flips_are_half_of_the_images():
    images = torch.zeros(4000, 4, 4, 3, dtype=torch.uint8)
    images[:, :, 0] = 255  # a white left column: flipped images have it on the right
    out = train_transform(images, torch.Generator().manual_seed(1), TrainConfig(image_size=4))
    left_brighter = out[:, 0, :, 0].mean(dim=1) > out[:, 0, :, -1].mean(dim=1)
    right_brighter = out[:, 0, :, -1].mean(dim=1) > out[:, 0, :, 0].mean(dim=1)
    holds_column = left_brighter | right_brighter  # crops that include the white column
    assert holds_column.sum() > 1000
    assert abs(right_brighter[holds_column].float().mean() - 0.5) < 0.04


def test_the_constants_are_built_once_per_device(images):
    # On a GPU, building them from Python numbers would be a blocking copy every step.
    from baseline.transforms import _channel_stats, _whole_image_weights

    cfg = TrainConfig(image_size=24)
    eval_transform(images, cfg)
    before = (_channel_stats.cache_info().misses, _whole_image_weights.cache_info().misses)
    for seed in range(3):
        eval_transform(images, cfg)
        train_transform(images, torch.Generator().manual_seed(seed), cfg)
    after = (_channel_stats.cache_info().misses, _whole_image_weights.cache_info().misses)
    assert after == before


# ----------------------------------------------------------------------------
# RandomErasing: per image, where a v2 transform on the batch erases one box in all
# ----------------------------------------------------------------------------


def test_a_v2_transform_on_a_batch_draws_one_box_for_every_image():
    """What the notebook tells students: v2.RandomErasing(p=1) applied to a batch erases
    the same pixels in every image (one set of parameters for the whole tensor)."""
    torch.manual_seed(0)
    batch = torch.rand(8, 3, 32, 32) + 1  # no pixel is 0 before erasing
    erased = T.RandomErasing(p=1)(batch) == 0
    assert erased.any()
    assert (erased == erased[:1]).all()  # the same box in each of the 8 images
    ours = random_erasing(batch, torch.Generator().manual_seed(0), p=1) == 0
    assert len({tuple(image.nonzero()[0].tolist()) for image in ours}) == 8  # 8 boxes


@pytest.mark.parametrize("size", [32, 224])
def test_random_erasing_equals_torchvisions_erase_with_the_same_boxes(size):
    x = torch.randn(16, 3, size, size, generator=torch.Generator().manual_seed(1))
    ours = random_erasing(x, torch.Generator().manual_seed(2), p=0.5, value=0.5)
    assert ours.is_contiguous(memory_format=torch.channels_last)
    erase, top, left, h, w = sample_erasures(16, size, size, torch.Generator().manual_seed(2))
    assert 0 < erase.sum() < 16  # both branches are exercised
    for b in range(16):
        reference = x[b]
        if erase[b]:
            fill = torch.tensor([0.5])[:, None, None]
            reference = F.erase(x[b], int(top[b]), int(left[b]), int(h[b]), int(w[b]), fill)
        assert torch.equal(ours[b], reference), b


@pytest.mark.parametrize("size", [32, 224])
@pytest.mark.slow
def test_erased_boxes_follow_torchvision_random_erasing_statistics(size):
    n = 20_000
    erase, top, left, h, w = sample_erasures(n, size, size, torch.Generator().manual_seed(0))
    assert ((top >= 0) & (left >= 0) & (top + h <= size) & (left + w <= size))[erase == 1].all()
    # The same statistics from torchvision's own sampler (make_params, p=1: no coin flip).
    torch.manual_seed(0)
    sampler, image = T.RandomErasing(p=1), torch.empty(3, size, size)
    boxes = [sampler.make_params([image]) for _ in range(n)]
    ref_found = torch.tensor([box["v"] is not None for box in boxes])
    ref = torch.tensor([[box["h"], box["w"]] for box in boxes], dtype=torch.float)[ref_found]
    ours = torch.stack([h, w], dim=1).float()[erase == 1]
    # p=0.5: half the images (less the rare ones where none of the 10 tries fits).
    assert abs(erase.float().mean() - 0.5 * ref_found.float().mean()) < 0.015
    area, ref_area = ours.prod(dim=1) / size**2, ref.prod(dim=1) / size**2
    log_ratio, ref_log_ratio = (ours[:, 0] / ours[:, 1]).log(), (ref[:, 0] / ref[:, 1]).log()
    # Means within a few standard errors (sd of area ~0.09, of log-ratio ~0.7; n ~10,000).
    assert abs(area.mean() - ref_area.mean()) < 0.005
    assert abs(area.std() - ref_area.std()) < 0.005
    assert abs(log_ratio.mean() - ref_log_ratio.mean()) < 0.03
    assert abs(log_ratio.std() - ref_log_ratio.std()) < 0.03
    assert area.min() >= 0.02 * 0.6 and area.max() <= 0.33 * 1.25  # rounding to pixels
