# %% [markdown]
# The code that decides a run's numbers, at the level of the lecture: the data
# split, the transforms, the model and its new head, the loss, the optimizer
# and lr schedule, the training loop, evaluation and the submission file.
#
# The notebooks in kernels/ show this file as cells (kernels/build.py copies
# each `# %%` cell). The engine (baseline/engine.py: Accelerate, checkpoints,
# early stopping, records) calls ten of these functions by name, its entry
# points (engine.Pieces): split_data, cpu_augmentation, train_transform,
# eval_transform, build_model, build_optimizer, train_one_epoch, predict,
# evaluate and write_submission. The engine calls train_transform and
# eval_transform once, on 16 training images before training (the check and the
# banner); while training, train_one_epoch and predict call them. The other
# functions are helpers: rename, drop or add helpers as you like. `python -m baseline.train` calls
# this module's functions, a notebook the ones its cells define, so an edited
# cell is what trains, and the command line and the notebook train the same
# way (tested byte for byte on the CPU). Every setting they read is a field
# of `cfg` (baseline/config.py TrainConfig).
#
# What the engine gives train_one_epoch, predict and evaluate (`t`):
#   t.cfg, t.accelerator          the settings; Accelerate
#   t.model, t.optimizer          the model and optimizer, prepared by Accelerate
#   t.batches(epoch)              each batch: uint8 images and labels on the
#                                 device, and a seeded random generator
#   t.note(loss, logits, labels)  after each batch: running loss and accuracy,
#                                 a stop on a NaN loss, the EMA update
#   t.epoch_summary()             what train_one_epoch returns
#   t.steps_done, t.steps_per_epoch, t.lr_factor   what the lr schedule needs
#   t.eval_model                  the weights to evaluate (the EMA with cfg.ema)
#   t.progress(loader)            `loader` with a progress bar

# %% tags=["imports"]
import math

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from baseline.model import replace_last_linear, timm_model
from baseline.transforms import (
    normalize,
    random_erasing,
    random_flip,
    random_resized_crop,
    resize,
    to_float,
)
from grader.bundle.split import stratified_mask
from grader.stats.metrics import score

NUM_CLASSES = 10  # CIFAR-10


# %% tags=["data"]
def split_data(labels, cfg):
    """Row numbers of the training and validation images: a stratified share
    (cfg.val_fraction) of the training images is held out, never trained on."""
    rng = np.random.default_rng(cfg.seed)  # the same seed, the same split
    rows = np.arange(len(labels))
    if cfg.train_limit is not None and cfg.train_limit < len(rows):  # smaller runs
        rows = rows[stratified_mask(labels, cfg.train_limit / len(rows), rng)]
    held_out = stratified_mask(labels[rows], cfg.val_fraction, rng)
    return rows[~held_out], rows[held_out]


def cpu_augmentation(cfg):
    """A per-image policy run on the CPU before batching (uint8 (3, 32, 32) in and
    out), or None: cfg.augment "randaugment" or "trivialaugment", on top of the crop."""
    import torchvision.transforms.v2 as T

    return {"randaugment": T.RandAugment(), "trivialaugment": T.TrivialAugmentWide()}.get(
        cfg.augment
    )


# %% tags=["transforms"]
# A transform takes a uint8 batch (B, 32, 32, 3) already on the GPU and returns
# the float batch (B, 3, S, S) the model eats; `generator` gives its random draws.
# Each step draws per image. (A torchvision v2 transform given the batch draws once
# for all of it: v2.RandomErasing(p=1) would erase the same box in every image.)
def train_transform(images, generator, cfg):
    """The lecture's training transform, for a whole batch at once."""
    if cfg.augment == "none":
        return eval_transform(images, cfg)
    x = to_float(images)  # ToImage + ToDtype(float32, scale=True)
    x = random_resized_crop(x, cfg.image_size, generator)  # RandomResizedCrop(S)
    x = random_flip(x, generator)  # RandomHorizontalFlip(0.5)
    x = normalize(x)  # Normalize(ImageNet mean, std)
    # x = random_erasing(x, generator)  # RandomErasing(0.5): remove the first # to try it
    return x


def eval_transform(images, cfg):
    """Validation and test images: the whole image resized, no randomness."""
    return normalize(resize(to_float(images), cfg.image_size))


# %% tags=["model"]
def new_head(in_features, cfg):
    """The new last layer: 10 classes, optionally after batch norm and dropout."""
    layers = []
    if cfg.bn_head:
        layers.append(nn.BatchNorm1d(in_features))  # normalise the features
    if cfg.dropout > 0:
        layers.append(nn.Dropout(cfg.dropout))  # drop features at random
    layers.append(nn.Linear(in_features, NUM_CLASSES))
    return nn.Sequential(*layers) if len(layers) > 1 else layers[0]


def build_model(cfg, pretrained):
    """The network: torchvision's cfg.model with the `pretrained` weights (a state
    dict, or None for random ones) and a new head in place of its last layer."""
    if cfg.model.startswith("timm/"):  # timm builds its own head; dropout = drop_rate
        return timm_model(cfg.model[5:], pretrained is not None, NUM_CLASSES, cfg.dropout)
    net = torchvision.models.get_model(cfg.model, weights=None)
    if pretrained is not None:
        net.load_state_dict(pretrained)
    replace_last_linear(net, lambda features: new_head(features, cfg))  # resnet50: net.fc
    return net


# %% tags=["loss"]
def mix_batch(x, labels, cfg):
    """Mixup / CutMix (cfg.mixup, cfg.cutmix; off by default): blend pairs of images
    and their labels (timm's Mixup). Returns the batch and its targets."""
    if not (cfg.mixup or cfg.cutmix):
        return x, labels
    from timm.data import Mixup

    mixer = Mixup(
        mixup_alpha=cfg.mixup,
        cutmix_alpha=cfg.cutmix,
        label_smoothing=cfg.label_smoothing,
        num_classes=NUM_CLASSES,
    )
    return mixer(x, labels)  # targets become soft: one probability per class


def loss_fn(logits, targets, cfg):
    """Cross-entropy, with cfg.label_smoothing; soft targets come from mix_batch."""
    if targets.ndim == 2:
        return torch.sum(-targets * F.log_softmax(logits, dim=-1), dim=-1).mean()
    return F.cross_entropy(logits, targets, label_smoothing=cfg.label_smoothing)


# %% tags=["optimizer"]
def build_optimizer(model, cfg):
    """SGD (with momentum / Nesterov if set), Adam or AdamW; weight decay is L2."""
    params = model.parameters()
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            params,
            lr=cfg.lr,
            momentum=cfg.momentum,
            nesterov=cfg.nesterov,
            weight_decay=cfg.weight_decay,
        )
    kind = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
    return kind(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def lr_at(step, cfg, steps_per_epoch):
    """The learning rate of optimizer step `step` (0, 1, ... over the whole run):
    linear warm-up times the decay of cfg.sched. ("plateau" drops are applied by
    the engine: t.lr_factor in the loop.)"""
    warmup = round(cfg.warmup_epochs * steps_per_epoch)
    warm = (step + 1) / warmup if step < warmup else 1.0
    epochs = step / steps_per_epoch  # fractional: the decay is smooth within an epoch
    if cfg.sched == "step":
        decay = cfg.gamma ** math.floor(epochs / cfg.step_size)
    elif cfg.sched == "exponential":
        decay = cfg.gamma**epochs
    elif cfg.sched == "cosine":  # from 1 after the warm-up to 0 at the last step
        progress = max(step - warmup, 0) / max(cfg.epochs * steps_per_epoch - warmup, 1)
        decay = 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    else:
        decay = 1.0
    return cfg.lr * warm * decay


def set_lr(optimizer, lr):
    for group in optimizer.param_groups:
        group["lr"] = lr


# %% tags=["loop"]
def train_one_epoch(t, epoch):
    """One pass over the training images: forward, loss, backward, step.

    `t` (baseline.engine.Training) holds the model and optimizer prepared by
    Accelerate. t.batches shuffles (seeded per epoch), sends each uint8 batch to
    the GPU and gives a seeded generator for the augmentation; t.note keeps the
    running loss and accuracy, stops on a NaN loss and updates the EMA.
    """
    cfg, accelerator, model, optimizer = t.cfg, t.accelerator, t.model, t.optimizer
    model.train()
    for images, labels, generator in t.batches(epoch):
        x = train_transform(images, generator, cfg)
        x, targets = mix_batch(x, labels, cfg)
        with accelerator.accumulate(model):  # cfg.grad_accum micro-batches per step
            logits = model(x)
            loss = loss_fn(logits, targets, cfg)
            accelerator.backward(loss)  # scales the loss under fp16
            set_lr(optimizer, lr_at(t.steps_done, cfg, t.steps_per_epoch) * t.lr_factor)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        t.note(loss, logits, labels)
    return t.epoch_summary()


# %% tags=["evaluation"]
@torch.inference_mode()
def predict(t, loader):
    """(rows, predicted class, true label, loss) of every image in `loader`, as
    NumPy arrays, gathered from every process (test labels are -1)."""
    model = t.eval_model  # the moving average of the weights with cfg.ema
    model.eval()
    parts = []
    for images, labels, rows in t.progress(loader):
        x = eval_transform(images, t.cfg)
        with t.accelerator.autocast():
            probs = model(x).float().softmax(dim=1)
            if t.cfg.tta:  # test-time augmentation: average with the mirror image
                probs = (probs + model(x.flip(-1)).float().softmax(dim=1)) / 2
        losses = F.nll_loss(probs.clamp_min(1e-12).log(), labels.clamp(min=0), reduction="none")
        parts.append(t.accelerator.gather_for_metrics((rows, probs.argmax(1), labels, losses)))
    return tuple(torch.cat([part[i] for part in parts]).cpu().numpy() for i in range(4))


def evaluate(t, loader):
    """Loss, accuracy and macro-F1 (the grader's own formulas) on `loader`'s images,
    and their confusion matrix."""
    _, predicted, labels, losses = predict(t, loader)
    metrics = score(labels, predicted, NUM_CLASSES)
    found = {"loss": float(losses.mean()), "acc": metrics.accuracy, "f1": metrics.macro_f1}
    return found, metrics.confusion


# %% tags=["submission"]
def write_submission(path, ids, predicted, classes):
    """submission.csv: a header `id,label`, one row per test image, sorted by id."""
    table = pd.DataFrame({"id": ids, "label": np.asarray(classes)[predicted]})
    table.sort_values("id").to_csv(path, index=False, lineterminator="\n")
