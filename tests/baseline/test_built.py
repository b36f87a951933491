"""What a run built: the transforms checked on one batch before training, and the banner and
run.json describing the optimizer, model and transforms that ran (not only the settings)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torchvision.transforms.v2 as T

from baseline import lesson
from baseline.built import calls_of, check_transform_output, describe_optimizer
from baseline.config import TrainConfig
from baseline.diagnose import diagnose, read_history, read_optimizer, report
from baseline.engine import Pieces
from baseline.errors import TrainingError
from baseline.model import summary
from baseline.train import run


@pytest.fixture(scope="module")
def bundle(training_bundle) -> Path:
    """300 training images (30 per class) and 50 test images."""
    return training_bundle


def tiny(bundle: Path, out: Path) -> TrainConfig:
    return TrainConfig(
        data=str(bundle),
        out=str(out),
        model="resnet18",
        weights="none",
        image_size=32,
        epochs=1,
        batch_size=32,
    )


def edited(**functions) -> dict:
    """The lesson's namespace with some functions replaced, as a notebook's edited cells."""
    return {**vars(lesson), **functions}


# ----------------------------------------------------------------------------
# The transforms, on one batch, before training
# ----------------------------------------------------------------------------


def forgot_to_float(images, generator, cfg):
    return images  # the uint8 batch as it came


def forgot_normalize(images, generator, cfg):
    return lesson.to_float(images).permute(0, 2, 3, 1) * 255  # channels last, 0-255


def pixels_0_to_255(images, generator, cfg):
    return lesson.resize(images.permute(0, 3, 1, 2).float(), cfg.image_size)


def returns_none(images, generator, cfg):
    lesson.normalize(lesson.resize(lesson.to_float(images), cfg.image_size))


def divides_by_zero(images, generator, cfg):
    return lesson.eval_transform(images, cfg) / 0


@pytest.mark.parametrize(
    ("transform", "message"),
    [
        (
            forgot_to_float,
            "train_transform returned shape (16, 32, 32, 3) uint8; it must return "
            "(B, 3, 32, 32) float, here B = 16 images (cell Transforms; checked on 16 training "
            "images before training).",
        ),
        (
            forgot_normalize,
            "train_transform returned shape (16, 32, 32, 3) float32; it must return "
            "(B, 3, 32, 32) float, here B = 16 images (cell Transforms; checked on 16 training "
            "images before training).",
        ),
        (
            pixels_0_to_255,
            "train_transform returned values of mean {mean} and standard deviation {std}; "
            "normalised images have a mean near 0 and a deviation near 1 (allowed: mean "
            "within +-3, deviation 0.05 to 10): scale the pixels to [0, 1] (to_float) and "
            "normalize them (cell Transforms; checked on 16 training images before training).",
        ),
        (
            returns_none,
            "train_transform returned NoneType; it must return (B, 3, 32, 32) float, here "
            "B = 16 images (cell Transforms; checked on 16 training images before training).",
        ),
        (
            divides_by_zero,
            "train_transform returned 49,152 NaN or infinite values out of 49,152; the model "
            "needs finite numbers (cell Transforms; checked on 16 training images before "
            "training).",
        ),
    ],
    ids=["uint8 HWC", "HWC float", "0-255", "None", "infinite"],
)
def test_a_wrong_transform_stops_the_run_before_training_in_one_line(
    transform, message, bundle, tmp_path
):
    out = tmp_path / "run"
    with pytest.raises(TrainingError) as info:
        run(tiny(bundle, out), edited(train_transform=transform))
    text = str(info.value)
    if "{mean}" in message:  # the numbers of this batch, quoted as they are
        numbers = text.split("values of mean ")[1].split(" and standard deviation ")
        mean, std = numbers[0], numbers[1].split(";")[0]
        assert float(mean) > 50 and float(std) > 20  # pixel values, not normalised
        message = message.format(mean=mean, std=std)
    assert text == message
    assert not out.exists()  # stopped before the run wrote anything


def test_an_eval_transform_is_checked_too(bundle, tmp_path):
    def eval_transform(images, cfg):
        return lesson.normalize(lesson.to_float(images))  # forgot the resize to image_size

    config = TrainConfig(**{**vars(tiny(bundle, tmp_path)), "image_size": 64})
    with pytest.raises(TrainingError) as info:
        run(config, edited(eval_transform=eval_transform))
    assert str(info.value).startswith(
        "eval_transform returned shape (16, 3, 32, 32) float32; it must return (B, 3, 64, 64) "
    )


def test_the_lessons_transforms_and_unnormalised_ones_pass_and_a_blank_batch_fails():
    images = torch.randint(0, 256, (16, 32, 32, 3), dtype=torch.uint8)
    cfg = TrainConfig(image_size=32)
    out = lesson.train_transform(images, torch.Generator().manual_seed(0), cfg)
    check_transform_output("train_transform", out, 16, 32)
    # A student who drops Normalize on purpose (pixels in [0, 1]) is not stopped.
    check_transform_output("train_transform", lesson.to_float(images), 16, 32)
    with pytest.raises(TrainingError, match=r"^train_transform returned values of mean 0 and "):
        check_transform_output("train_transform", torch.zeros(16, 3, 32, 32), 16, 32)


def test_the_transforms_called_are_named_as_the_code_calls_them():
    images = torch.randint(0, 256, (4, 32, 32, 3), dtype=torch.uint8)
    generator, cfg = torch.Generator().manual_seed(0), TrainConfig(image_size=32)
    _, called = calls_of(lesson.train_transform, images, generator, cfg)
    assert called == ["to_float", "random_resized_crop", "random_flip", "normalize"]
    _, called = calls_of(lesson.train_transform, images, generator, TrainConfig(augment="none"))
    assert called == ["eval_transform"]  # the lesson's own function, which calls the rest
    _, called = calls_of(lesson.eval_transform, images, cfg)
    assert called == ["to_float", "resize", "normalize"]

    def with_torchvision(images, generator, cfg):  # what a student pastes from the lecture
        x = lesson.to_float(images)
        x = T.Compose([T.RandomHorizontalFlip(), T.Normalize([0.5] * 3, [0.5] * 3)])(x)
        return T.RandomErasing(p=1)(x)

    _, called = calls_of(with_torchvision, images, generator, cfg)
    assert called == ["to_float", "Compose(RandomHorizontalFlip, Normalize)", "RandomErasing"]


# ----------------------------------------------------------------------------
# The banner and run.json: the optimizer, model and transforms that ran
# ----------------------------------------------------------------------------


def test_describe_optimizer_reads_the_param_groups():
    weights, bias = torch.zeros(3, 2, requires_grad=True), torch.zeros(3, requires_grad=True)
    sgd = torch.optim.SGD(
        [{"params": [weights], "weight_decay": 5e-4}, {"params": [bias]}], lr=0.1, momentum=0.9
    )
    assert describe_optimizer(sgd) == {
        "class": "SGD",
        "module": "torch.optim.sgd",
        "param_groups": [
            {"parameters": 6, "lr": 0.1, "momentum": 0.9, "nesterov": False, "weight_decay": 5e-4},
            {"parameters": 3, "lr": 0.1, "momentum": 0.9, "nesterov": False, "weight_decay": 0},
        ],
    }


@pytest.mark.slow
def test_an_optimizer_edited_to_adam_is_what_the_banner_run_json_and_diagnosis_say(
    bundle, tmp_path, capsys
):
    """A student edits build_optimizer to Adam and leaves optimizer="sgd" in the settings."""

    def build_optimizer(model, cfg):
        return torch.optim.Adam(model.parameters(), lr=3e-4, betas=(0.8, 0.99))

    def train_transform(images, generator, cfg):
        x = lesson.random_resized_crop(lesson.to_float(images), cfg.image_size, generator)
        return lesson.random_erasing(lesson.normalize(x), generator)

    out = tmp_path / "adam"
    namespace = edited(build_optimizer=build_optimizer, train_transform=train_transform)
    assert sorted(Pieces.of(namespace).edited) == ["build_optimizer", "train_transform"]
    run(tiny(bundle, out), namespace)
    banner = capsys.readouterr().out.split("epoch 1/1")[0]
    assert "  code       edited: build_optimizer, train_transform (in edited_code.py)\n" in banner
    assert (
        "  optimizer  Adam lr 0.0003, betas (0.8, 0.99), weight decay 0 (as built; the "
        "schedule sets the lr each step)\n"
    ) in banner
    assert (
        "  model      ResNet (torchvision.models.resnet): 11,181,642 parameters, 11,181,642 "
        "trainable; head fc: Linear(512 -> 10)\n"
    ) in banner
    assert (
        "  train      train_transform: to_float, random_resized_crop, normalize, random_erasing\n"
    ) in banner
    assert "  eval       eval_transform: to_float, resize, normalize\n" in banner
    assert "SGD" not in banner and "momentum" not in banner
    built = json.loads((out / "run.json").read_text())["built"]
    assert built["optimizer"] == {
        "class": "Adam",
        "module": "torch.optim.adam",
        "param_groups": [
            {"parameters": 11_181_642, "lr": 3e-4, "betas": [0.8, 0.99], "weight_decay": 0}
        ],
    }
    assert built["model"]["class"] == "ResNet" and built["model"]["trainable"] == 11_181_642
    assert built["transforms"]["train_transform"][-1] == "random_erasing"
    assert built["cpu_augmentation"] is None
    settled = json.loads((out / "run.json").read_text())["settled"]
    assert settled["crop"] == (
        "RandomResizedCrop(32, scale=(0.08, 1.0), ratio=(0.75, 1.3333)) of the 32x32 image"
    )
    # One epoch of 8 steps under-fits; the advice never suggests momentum to Adam.
    history = read_history(out)
    text = report(diagnose(history, read_optimizer(out), names="notebook"), len(history))
    assert "After 1 epoch(s): underfitting." in text
    assert "  - train longer (epochs=) or with a larger lr (lr=)\n" in text
    assert "momentum" not in text and "--" not in text


# ----------------------------------------------------------------------------
# The model summary: one row per block, not the network's repr
# ----------------------------------------------------------------------------


@pytest.mark.slow
def test_the_model_summary_is_a_row_per_block_with_its_output_shape():
    net = lesson.build_model(TrainConfig(model="resnet18"), None)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    text = summary(net, "resnet18", None, 32)
    assert text.splitlines() == [
        "model: torchvision resnet18, weights none (random init)",
        "parameters: 11,181,642 (11,181,642 trainable)",
        "",
        "block    type                        output (32 px input)  parameters",
        "conv1    Conv2d                      64 x 16 x 16               9,408",  # 64*3*7*7
        "bn1      BatchNorm2d                 64 x 16 x 16                 128",
        "relu     ReLU                        64 x 16 x 16                   0",
        "maxpool  MaxPool2d                   64 x 8 x 8                     0",
        "layer1   Sequential(2 x BasicBlock)  64 x 8 x 8               147,968",
        "layer2   Sequential(2 x BasicBlock)  128 x 4 x 4              525,568",
        "layer3   Sequential(2 x BasicBlock)  256 x 2 x 2            2,099,712",
        "layer4   Sequential(2 x BasicBlock)  512 x 1 x 1            8,393,728",
        "avgpool  AdaptiveAvgPool2d           512 x 1 x 1                    0",
        "fc       Linear                      10                         5,130",  # 512*10+10
    ]
    # The forward pass changed nothing: training mode, weights, batch-norm statistics.
    assert net.training
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())
    # resnet50's summary is 14 lines where its repr is 176 (the 224 px shapes of the lecture).
    net = lesson.build_model(TrainConfig(), None)
    text = summary(net, "resnet50", "IMAGENET1K_V1", 224)
    assert len(text.splitlines()) == 14 and len(str(net).splitlines()) == 176
    assert "layer4   Sequential(3 x Bottleneck)  2048 x 7 x 7           14,964,736" in text
