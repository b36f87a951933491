"""The baseline trainer, run as users run it, on the CPU at tiny scale.

Real torchvision models (resnet18 at 32 px, random init), real Accelerate,
real processes: one process, and two over gloo with torchrun.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from baseline.config import TrainConfig, get_parser
from baseline.errors import TrainingError
from baseline.model import check_weights_file
from baseline.outputs import METRIC_COLUMNS
from grader.bundle.prepare import prepare
from tests.helpers import ROOT

TINY = [
    "--model",
    "resnet18",
    "--weights",
    "none",
    "--image-size",
    "32",
    "--epochs",
    "2",
    "--batch-size",
    "32",
]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def bundle(training_bundle) -> Path:
    """300 training images (30 per class) and 50 test images."""
    return training_bundle


def torchrun_launcher() -> tuple[str, ...]:
    """`torchrun --nproc_per_node 2` on a free loopback port (two CPU processes over gloo)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return (
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(port),
    )


def train(
    out: Path, *args: str, data: Path | None = None, launcher: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    command = [*(launcher or (sys.executable,)), "-m", "baseline.train", "--out", str(out), *args]
    if data is not None:
        command += ["--data", str(data)]
    return subprocess.run(command, capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=300)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def single_run(bundle, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "single"
    result = train(out, *TINY, data=bundle)
    assert result.returncode == 0, result.stderr[-3000:]
    (out.parent / "single.log").write_text(result.stdout + result.stderr)
    return out


@pytest.mark.slow
def test_a_log_gets_one_line_per_epoch_and_no_redrawn_bars(single_run):
    # Output to a pipe is a log, not a terminal: no progress bar frames.
    log = (single_run.parent / "single.log").read_text()
    assert "\r" not in log
    epochs = [line for line in log.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in epochs] == ["epoch 1/2", "epoch 2/2"]
    assert all(" | val loss " in line for line in epochs)


@pytest.mark.slow
def test_a_run_writes_every_output(single_run, bundle):
    assert sorted(p.name for p in single_run.iterdir()) == [
        "checkpoint.0002",  # the last epoch's; checkpoint.current names it
        "checkpoint.current",
        "confusion_matrix.csv",
        "confusion_matrix.png",
        "learning_curves.png",
        "lr.csv",
        "metrics.csv",
        "model_summary.txt",
        "run.json",
        "submission.csv",
    ]
    rows = read_csv(single_run / "metrics.csv")
    assert list(rows[0]) == list(METRIC_COLUMNS)
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert all(float(row["lr"]) == 1e-3 for row in rows)
    for name in ("learning_curves.png", "confusion_matrix.png"):
        assert (single_run / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    confusion = read_csv(single_run / "confusion_matrix.csv")
    assert (
        len(confusion) == 10
        and sum(int(v) for r in confusion for k, v in r.items() if k != "true \\ predicted") == 30
    )  # 10% of 300
    record = json.loads((single_run / "run.json").read_text())
    assert record["config"]["model"] == "resnet18" and record["seed"] == 42
    assert record["data"] == {"train": 270, "val": 30, "test": 50}
    assert record["steps_per_epoch"] == 8  # 270 // 32
    assert record["settled"]["batch"] == "32 global per optimizer step, 32 per process"
    assert record["settled"]["mixed_precision"] == "no"
    assert record["settled"]["mixed_precision_why"] == "fp32 on the CPU"
    assert set(record["versions"]) >= {"torch", "torchvision", "accelerate", "python"}
    assert record["validation"]["val_acc"] == float(rows[-1]["val_acc"])
    summary = (single_run / "model_summary.txt").read_text()
    assert summary.startswith("model: torchvision resnet18, weights none (random init)\n")


@pytest.mark.slow
def test_the_submission_passes_grader_validate(single_run, bundle):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            "validate",
            str(single_run / "submission.csv"),
            "--competition",
            str(bundle),
        ],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert result.returncode == 0, result.stdout
    ids = [row["id"] for row in read_csv(single_run / "submission.csv")]
    assert ids == [str(i) for i in range(50)]


@pytest.mark.slow
def test_the_banner_settles_the_ambiguities(bundle, tmp_path):
    result = train(tmp_path / "run", *TINY, "--epochs", "1", data=bundle)
    banner = result.stdout.split("epoch 1/1")[0]
    assert "  batch      32 global per optimizer step = 32 per process x 1 process(es)" in banner
    assert "  steps      8 per epoch x 1 epochs = 8 optimizer steps" in banner
    assert "  devices    1 x cpu, NO, mixed precision no (fp32 on the CPU)" in banner
    assert "RandomResizedCrop(32, scale=(0.08, 1.0), ratio=(3/4, 4/3))" in banner
    assert "  seed       42, deterministic kernels off" in banner


@pytest.mark.slow
def test_same_seed_gives_identical_predictions(single_run, bundle, tmp_path):
    again = tmp_path / "again"
    assert train(again, *TINY, data=bundle).returncode == 0
    assert (again / "submission.csv").read_bytes() == (single_run / "submission.csv").read_bytes()
    timing = {"seconds", "images_per_s"}
    strip = [
        {k: v for k, v in row.items() if k not in timing}
        for row in read_csv(single_run / "metrics.csv")
    ]
    assert [
        {k: v for k, v in row.items() if k not in timing} for row in read_csv(again / "metrics.csv")
    ] == strip


KILL_AFTER_FIRST_CHECKPOINT = """
import os, signal, sys
import baseline.engine as e, baseline.train as t
real = e.save_checkpoint
def save_then_die(*args):
    real(*args)
    os.kill(os.getpid(), signal.SIGKILL)
e.save_checkpoint = save_then_die
sys.exit(t.main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_resume_after_a_kill_ends_with_the_uninterrupted_predictions(single_run, bundle, tmp_path):
    out = tmp_path / "killed"
    args = ["--out", str(out), "--data", str(bundle), *TINY]
    killed = subprocess.run(
        [sys.executable, "-c", KILL_AFTER_FIRST_CHECKPOINT, *args],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=ROOT,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL
    assert not (out / "submission.csv").exists()
    assert (out / "checkpoint.current").read_text() == "checkpoint.0001\n"
    progress = json.loads((out / "checkpoint.0001" / "progress.json").read_text())
    assert progress["epochs_done"] == 1
    refused = train(out, *TINY, data=bundle)
    assert refused.returncode == 1
    assert refused.stderr == (
        f"Error: --out {out}: holds an earlier run. Pass --resume to continue it, or choose "
        "another --out.\n"
    )
    resumed = train(out, *TINY, "--resume", data=bundle)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Resuming after epoch 1 from {out / 'checkpoint.0001'}" in resumed.stdout
    assert (out / "submission.csv").read_bytes() == (single_run / "submission.csv").read_bytes()


@pytest.mark.parametrize(
    ("stage", "resumes_after"),
    [
        ("save:state:2", 1),  # epoch 2's state written, not yet complete
        ("save:renamed:2", 1),  # complete, but the pointer still names epoch 1
        ("save:pointer:2", 2),  # the pointer names epoch 2; epoch 1 not yet removed
        ("epoch:middle:2", 1),  # in the middle of epoch 2
        ("predict", 2),  # while writing the predictions
    ],
)
@pytest.mark.slow
def test_a_crash_at_any_stage_resumes_to_the_same_predictions(
    stage, resumes_after, single_run, bundle, tmp_path
):
    out = tmp_path / "crashed"
    crashed = subprocess.run(
        [sys.executable, "-m", "baseline.train", "--out", str(out), "--data", str(bundle), *TINY],
        capture_output=True,
        text=True,
        env={**ENV, "CIFAR10_KIT_FAIL_AT": stage},
        cwd=ROOT,
        timeout=300,
    )
    assert crashed.returncode == 3, crashed.stderr[-2000:]
    assert not (out / "submission.csv").exists()
    resumed = train(out, *TINY, "--resume", data=bundle)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Resuming after epoch {resumes_after} from " in resumed.stdout
    assert (out / "submission.csv").read_bytes() == (single_run / "submission.csv").read_bytes()
    # Leftovers of the crash are gone: one checkpoint folder, the one the pointer names.
    folders = sorted(p.name for p in out.iterdir() if p.name.startswith("checkpoint"))
    assert folders == ["checkpoint.0002", "checkpoint.current"]


@pytest.mark.slow
def test_resume_refuses_other_settings(single_run, bundle):
    result = train(single_run, *TINY, "--lr", "0.1", "--resume", data=bundle)
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: --resume: the checkpoint in {single_run} was made with other settings (--lr "
        "0.001). Resume with the same settings (leave the flags out: --resume takes the "
        "checkpoint's), or start a new --out.\n"
    )


@pytest.mark.slow
def test_resume_takes_the_checkpoints_settings(single_run, bundle, tmp_path):
    import shutil

    copy = Path(shutil.copytree(single_run, tmp_path / "copy"))
    (copy / "submission.csv").unlink()
    # No flag but --out and --resume: model, image size, batch, data... come from the
    # checkpoint, and the finished run predicts again, as it did.
    result = train(copy, "--resume")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Resuming after epoch 2 from " in result.stdout
    assert (copy / "submission.csv").read_bytes() == (single_run / "submission.csv").read_bytes()
    # A bool setting that differs is named as its flag.
    refused = train(copy, "--resume", "--tta")
    assert refused.returncode == 1
    assert "was made with other settings (--no-tta). " in refused.stderr


@pytest.mark.slow
def test_two_processes_over_gloo_predict_every_test_id_once(bundle, tmp_path):
    out = tmp_path / "ddp"
    torchrun = torchrun_launcher()
    # --patience and --ema take the paths that differ with processes: the best weights are
    # restored on every rank, and rank 0's moving average is shared.
    result = train(
        out, *TINY, "--cpu", "--patience", "2", "--ema", "0.5", data=bundle, launcher=torchrun
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "  devices    2 x cpu, MULTI_CPU, mixed precision no (fp32 on the CPU)" in result.stdout
    assert "= 16 per process x 2 process(es)" in result.stdout
    assert result.stdout.count("Training run ->") == 1  # the banner only on the main process
    ids = [int(row["id"]) for row in read_csv(out / "submission.csv")]
    assert sorted(ids) == list(range(50))
    record = json.loads((out / "run.json").read_text())
    assert record["hardware"]["processes"] == 2
    assert record["steps_per_epoch"] == 8  # the same optimisation as one process


@pytest.mark.slow
def test_gradient_accumulation_keeps_the_global_batch(bundle, tmp_path):
    # 270 images, batch 32 in 4 micro-batches of 8: 8 whole optimizer steps, never a
    # ninth step from left-over micro-batches.
    result = train(tmp_path / "accum", *TINY, "--epochs", "1", "--grad-accum", "4", data=bundle)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (
        "32 global per optimizer step = 32 per process x 1 process(es), in 4 "
        "micro-batches" in result.stdout
    )
    assert "8 per epoch" in result.stdout
    assert len(read_csv(tmp_path / "accum" / "lr.csv")) == 8


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"batch_size": 4, "grad_accum": 4},
            "--batch-size 4: 1 image per process and "
            "micro-batch (1 process(es) x --grad-accum 4); batch normalisation needs at least 2. "
            "Raise --batch-size or lower --grad-accum.",
        ),
        ({"grad_accum": 0}, "--grad-accum 0: must be at least 1."),
        ({"epochs": 0}, "--epochs 0: must be at least 1."),
        (
            {"train_limit": 0},
            "--train-limit 0: must be at least 2 (one image to train on, one to validate with).",
        ),
    ],
)
def test_batch_settings_that_cannot_train(settings, message):
    from baseline.config import check_settings
    from baseline.train import check_batch_split

    cfg = TrainConfig(**settings)
    with pytest.raises(TrainingError) as info:
        check_settings(cfg)
        check_batch_split(cfg, processes=1)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--lr", "-1"], "Error: --lr -1.0: must be above 0.\n"),
        (["--lr", "0"], "Error: --lr 0.0: must be above 0.\n"),
        (["--weight-decay", "-0.1"], "Error: --weight-decay -0.1: must be at least 0.\n"),
        (["--momentum", "1"], "Error: --momentum 1.0: must be in [0, 1).\n"),
        (["--dropout", "1.5"], "Error: --dropout 1.5: must be in [0, 1).\n"),
        (["--label-smoothing", "-0.1"], "Error: --label-smoothing -0.1: must be in [0, 1).\n"),
        (["--ema", "1"], "Error: --ema 1.0: must be in [0, 1).\n"),
        (["--val-fraction", "1"], "Error: --val-fraction 1.0: must be in (0, 1).\n"),
        (["--lr", "nan"], "Error: --lr nan: must be above 0.\n"),
    ],
)
def test_a_flag_value_out_of_range_is_one_line_and_exit_2(flags, message, capsys):
    from baseline.config import parse_config

    with pytest.raises(SystemExit) as info:
        parse_config(flags)  # what `python -m baseline.train` does first
    assert info.value.code == 2
    assert capsys.readouterr().err == message


# ----------------------------------------------------------------------------
# Bad input: one clear line, exit 1
# ----------------------------------------------------------------------------


@pytest.mark.slow
def test_missing_bundle(tmp_path):
    result = train(tmp_path / "run", *TINY, data=tmp_path / "nowhere")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"Error: --data: {tmp_path / 'nowhere'}: no such folder. Build the competition first "
        "with `grader prepare`, or pass the folder that holds classes.txt and the .npy files.\n"
    )


@pytest.mark.slow
def test_bundle_with_other_classes(bundle, tmp_path):
    import shutil

    copy = Path(shutil.copytree(bundle, tmp_path / "public"))
    names = (copy / "classes.txt").read_text().splitlines()
    names[0], names[1] = names[1], names[0]
    (copy / "classes.txt").write_text("\n".join(names) + "\n")
    result = train(tmp_path / "run", *TINY, data=copy)
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"Error: --data: {copy / 'classes.txt'} lists ['automobile', 'airplane', "
    )
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_batch_not_divisible_by_processes_and_accumulation(bundle, tmp_path):
    result = train(tmp_path / "run", *TINY, "--grad-accum", "3", data=bundle)
    assert result.stderr == (
        "Error: --batch-size 32: must be divisible by processes x --grad-accum (1 x 3 = 3), "
        "since the batch is global.\n"
    )


@pytest.mark.slow
def test_a_diverging_loss_stops_with_the_step_and_lr(bundle, tmp_path):
    result = train(tmp_path / "run", *TINY, "--lr", "1e30", data=bundle)
    assert result.returncode == 1
    last_line = result.stderr.splitlines()[-1]
    assert last_line.startswith("Error: the loss became NaN or infinite at epoch 1, step ")
    assert last_line.endswith(" (lr 1e+30). Lower --lr (e.g. by 10x), or try --mixed-precision no.")
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_unknown_model_and_weights(bundle, tmp_path):
    result = train(tmp_path / "a", "--model", "resnet51", data=bundle)
    assert result.stderr == (
        "Error: --model resnet51: not a torchvision model. Examples: resnet18, resnet50, "
        "efficientnet_b0, convnext_tiny (torchvision.models.list_models() lists all).\n"
    )
    result = train(tmp_path / "b", "--weights", "IMAGENET1K_V9", data=bundle)
    assert result.stderr == (
        "Error: --weights IMAGENET1K_V9: resnet50 has no such weights; choose one of "
        "IMAGENET1K_V1, IMAGENET1K_V2, DEFAULT or none.\n"
    )


def test_a_weights_file_must_match_torchvisions_published_hash(tmp_path):
    path = tmp_path / "resnet50-0676ba61.pth"
    path.write_bytes(b"not the real weights")
    url = "https://download.pytorch.org/models/resnet50-0676ba61.pth"
    with pytest.raises(TrainingError) as info:
        check_weights_file(path, url)
    digest = __import__("hashlib").sha256(b"not the real weights").hexdigest()
    assert str(info.value) == (
        f"--weights-file {path}: sha256 {digest[:12]}... does not match the published file "
        f"{url} (sha256 starts with 0676ba61). Download that file again, or pass --weights "
        "none to train from scratch."
    )
    # A file whose hash does match is accepted.
    check_weights_file(path, f"https://example.test/models/resnet50-{digest[:8]}.pth")


def test_running_out_of_memory_says_what_to_lower():
    from baseline.engine import guard_memory

    class Acc:
        num_processes = 2
        device = type("D", (), {"type": "cuda"})()

    def step():
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    with pytest.raises(TrainingError) as info:
        guard_memory(step, TrainConfig(batch_size=256), Acc())
    assert str(info.value) == (
        "out of memory while training, with 128 images per process at 224 px on cuda. Lower "
        "--batch-size or --image-size, or keep the batch and add --grad-accum 2 (the same "
        "optimisation in smaller pieces)."
    )
    # Evaluation and prediction get the same advice, naming what ran out.
    with pytest.raises(TrainingError) as info:
        guard_memory(step, TrainConfig(batch_size=256), Acc(), "predicting the test set")
    assert str(info.value).startswith("out of memory while predicting the test set, with 128 ")
    # torch's own error type (a RuntimeError subclass) is caught too.
    import torch

    def cuda_step():
        raise torch.cuda.OutOfMemoryError("CUDA out of memory.")

    with pytest.raises(TrainingError):
        guard_memory(cuda_step, TrainConfig(), Acc())


def test_help_lists_every_config_field_with_its_default():
    helps = {a.option_strings[0]: a.help for a in get_parser()._actions if a.dest != "help"}
    for flag in (
        "--data",
        "--out",
        "--model",
        "--weights",
        "--epochs",
        "--batch-size",
        "--lr",
        "--image-size",
        "--train-limit",
        "--val-fraction",
        "--seed",
        "--mixed-precision",
        "--deterministic",
        "--resume",
        "--weights-file",
    ):
        assert "(default: " in helps[flag], flag
    assert helps["--batch-size"].endswith("(default: 128)")
    assert helps["--lr"].endswith("(default: 0.001)")
    assert helps["--weights"].endswith("(default: IMAGENET1K_V1)")
    assert helps["--model"].endswith("(default: resnet50)")
    defaults = TrainConfig()
    assert (
        defaults.model,
        defaults.weights,
        defaults.lr,
        defaults.batch_size,
        defaults.epochs,
        defaults.momentum,
        defaults.weight_decay,
    ) == ("resnet50", "IMAGENET1K_V1", 1e-3, 128, 3, 0.0, 0.0)


# ----------------------------------------------------------------------------
# Real images: a short run learns well above chance
# ----------------------------------------------------------------------------

REAL_ZIP = ROOT.parent / "shared" / "data" / "cifar10-images.zip"


@pytest.mark.skipif(not REAL_ZIP.exists(), reason="needs ../shared/data/cifar10-images.zip")
@pytest.mark.slow
def test_a_short_run_on_real_cifar10_learns_well_above_chance(tmp_path):
    prepare(str(REAL_ZIP), tmp_path / "competition", seed=1, progress=False)
    out = tmp_path / "real"
    result = train(
        out,
        "--model",
        "resnet18",
        "--weights",
        "none",
        "--image-size",
        "32",
        "--train-limit",
        "4000",
        "--epochs",
        "3",
        "--batch-size",
        "64",
        "--lr",
        "0.05",
        "--momentum",
        "0.9",
        data=tmp_path / "competition" / "public",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    last = read_csv(out / "metrics.csv")[-1]
    # Chance is 0.1; this run reached 0.30 (resnet18 from scratch, 3 short epochs of the
    # lecture's heavy crop at 32 px), so twice chance leaves room for numeric noise.
    assert float(last["val_acc"]) > 0.2, last
    predicted = [row["label"] for row in read_csv(out / "submission.csv")]
    assert len(set(predicted)) >= 5
    assert np.isfinite(float(last["train_loss"]))


@pytest.mark.parametrize(
    ("capability", "precision"),
    [(None, "no"), ((7, 5), "fp16"), ((7, 0), "fp16"), ((8, 0), "bf16"), ((9, 0), "bf16")],
)
def test_precision_follows_the_compute_capability(capability, precision):
    from baseline.devices import precision_for

    chosen, why = precision_for(capability)
    assert chosen == precision
    if capability == (7, 5):  # a T4: bf16 would be emulated
        assert why == (
            "fp16 with a gradient scaler: compute capability 7.5 is below 8.0, where bf16 "
            "convolutions would run without tensor cores"
        )


def test_the_ema_follows_the_model_early():
    import torch

    from baseline.ema import make_ema

    ema = make_ema(torch.nn.Linear(2, 2), 0.999)
    # At optimizer step t the average keeps min(0.999, 1 - t^(-2/3)) of itself.
    assert ema.get_decay(1) == 0.0  # the first update copies the model
    assert ema.get_decay(2) == pytest.approx(1 - 2 ** (-2 / 3))  # 0.370
    assert ema.get_decay(10) == pytest.approx(0.784557, abs=1e-6)
    assert ema.get_decay(351) == pytest.approx(0.98, abs=1e-4)  # one baseline epoch
    assert ema.get_decay(40_000) == 0.999  # capped at --ema
    # One update at step 2 moves the average 63% of the way to the model.
    model = torch.nn.Linear(2, 2)
    average = make_ema(model, 0.999)
    with torch.no_grad():
        start = model.weight.clone()
        model.weight.add_(1.0)
    average.update(model, step=2)
    moved = (average.module.weight - start).mean().item()
    assert moved == pytest.approx(2 ** (-2 / 3), abs=1e-5)


def test_an_interrupt_says_whether_there_is_anything_to_resume(tmp_path):
    from baseline.train import interrupted_text

    assert interrupted_text(tmp_path) == (
        "Interrupted before the first epoch ended: there is no checkpoint to resume from; "
        "run the command again without --resume."
    )
    (tmp_path / "checkpoint.0002").mkdir()
    (tmp_path / "checkpoint.0002" / "progress.json").write_text('{"epochs_done": 2}')
    (tmp_path / "checkpoint.current").write_text("checkpoint.0002\n")
    assert interrupted_text(tmp_path) == (
        f"Interrupted. Continue later with --resume: {tmp_path / 'checkpoint.0002'} holds 2 "
        "finished epoch(s)."
    )


def test_tune_refuses_resume_and_says_how_a_study_continues(capsys):
    from baseline.tune import main

    assert main(["--resume", "--out", "nowhere"]) == 2
    assert capsys.readouterr().err == (
        "Error: --resume: a study continues by itself: run the same command again with the "
        "same --out (its study.db keeps the finished trials).\n"
    )


def test_a_damaged_pointer_falls_back_and_leftovers_spare_the_users_folders(tmp_path):
    from baseline.checkpoint import checkpoint_dir, remove_leftovers

    for name in ("checkpoint.0002", "checkpoint.0003", "checkpoint.0003.backup", "mine"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "progress.json").write_text("{}")
    (tmp_path / "checkpoint.partial").mkdir()
    assert checkpoint_dir(tmp_path) == tmp_path / "checkpoint.0003"  # no pointer: latest
    for damaged in (b"", b"checkpoint.000", b"\xff\xfe", b"../mine"):
        (tmp_path / "checkpoint.current").write_bytes(damaged)
        assert checkpoint_dir(tmp_path) == tmp_path / "checkpoint.0003", damaged
    (tmp_path / "checkpoint.current").write_text("checkpoint.0002\n")
    assert checkpoint_dir(tmp_path) == tmp_path / "checkpoint.0002"
    remove_leftovers(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint.0002",
        "checkpoint.0003.backup",  # not a name the kit makes: kept
        "checkpoint.current",
        "mine",
    ]


# ----------------------------------------------------------------------------
# Older packages (Kaggle's image): the code paths that do without newer attributes
# ----------------------------------------------------------------------------


def test_out_of_memory_is_caught_on_a_torch_without_out_of_memory_error(monkeypatch):
    import torch

    from baseline.engine import guard_memory

    monkeypatch.delattr(torch, "OutOfMemoryError", raising=False)  # torch < 2.5

    class Acc:
        num_processes = 1
        device = type("D", (), {"type": "cuda"})()

    def step():
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    with pytest.raises(TrainingError) as info:
        guard_memory(step, TrainConfig(), Acc())
    assert str(info.value).startswith("out of memory while training, with 128 images per ")


def test_the_nan_check_finds_the_first_bad_step_of_any_process_without_reduce_max():
    import torch

    from baseline.engine import Training

    class TwoProcesses:  # what gather returns on 2 processes; no reduce(..., "max") needed
        def __init__(self, steps):
            self.steps = steps

        def gather(self, tensor):
            return torch.tensor(self.steps)

        def reduce(self, *args, **kwargs):
            raise AssertionError("accelerate < 1.0 only sums")

    t = Training.__new__(Training)
    t.optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5)
    t._epoch, t._first_bad = 1, torch.tensor(-1)
    t.accelerator = TwoProcesses([-1, -1])
    t._stop_if_diverged()  # finite everywhere: nothing happens
    for steps, first in (([-1, 6], 7), ([4, 2], 3)):
        t.accelerator = TwoProcesses(steps)
        with pytest.raises(TrainingError) as info:
            t._stop_if_diverged()
        assert str(info.value) == (
            f"the loss became NaN or infinite at epoch 2, step {first} (lr 0.5). Lower --lr "
            "(e.g. by 10x), or try --mixed-precision no."
        )
