# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown] tags=["only:baseline"]
# # CIFAR-10 class competition: the baseline
#
# Fork this notebook, run it on **GPU T4 x2** with **Internet on** (Settings),
# and make it better. It trains the course baseline on the competition data and
# writes `submission.csv`, ready to submit. Every line that decides your score is
# in the cells below: change a cell, run it again, then run *Run* again.

# %% [markdown] tags=["only:improved"]
# # CIFAR-10 class competition: an improved recipe
#
# The baseline notebook with the lecture's techniques switched on. Run it on
# **GPU T4 x2** with **Internet on** (Settings). Every change is a value in the
# *Random seed* cell; the code that uses it is in the cells below, and the
# learning curves tell you what to try next.

# %% [markdown]
# ## Description
#
# Classify 32x32 colour images into 10 classes: airplane, automobile, bird,
# cat, deer, dog, frog, horse, ship, truck. The competition's data (in
# `/kaggle/input/<competition>/`) holds 50,000 labelled training images and
# the test images to classify (`test.csv` lists their ids); 10% of the training
# images are held out for validation.

# %% [markdown] tags=["only:baseline"]
# The baseline: torchvision ResNet50 with ImageNet weights (IMAGENET1K_V1) and
# a new 10-way last layer, SGD with lr 1e-3 (no momentum, no weight decay), a
# batch of 128 images, 3 epochs, random resized crops to 224 px with horizontal
# flips, ImageNet normalisation. Its accuracy on T4 x2: not measured yet.

# %% [markdown] tags=["only:improved"]
# Same model and data as the baseline (ResNet50, ImageNet weights, 224 px), with
# these settings changed (`python -m baseline.train --recipe improved` runs the same):
#
# {{recipe_table}}
#
# Its accuracy on T4 x2: **not measured on T4 x2 yet** (target: 97% within an
# hour). Measure it and write it here.

# %% [markdown]
# ### Where to change what
#
# | lecture technique | setting (cell *Random seed*) | code (cell, function) |
# | --- | --- | --- |
# | learning rate | `lr`, {{line:lr}} | *Optimizer and learning-rate schedule*: `lr_at`, {{def:lr_at}} |
# | lr decay: step, exponential, cosine, plateau | `sched`, {{line:sched}}; `warmup_epochs`, `gamma`, `step_size` | the same `lr_at` |
# | momentum, Nesterov; Adam, AdamW | `momentum`, {{line:momentum}}; `optimizer`, {{line:optimizer}} | *Optimizer and learning-rate schedule*: `build_optimizer`, {{def:build_optimizer}} |
# | weight decay (L2) | `weight_decay`, {{line:weight_decay}} | `build_optimizer` |
# | batch size, epochs | `batch_size`, {{line:batch_size}}; `epochs`, {{line:epochs}} | |
# | early stopping | `patience`, {{line:patience}} | the kit's engine (`baseline/recipe.py`: `EarlyStopping`) |
# | lr drop on a plateau | `sched="plateau"`, `plateau_patience`, {{line:plateau_patience}} | the engine (`baseline/recipe.py`: `Plateau`), times `lr_at` |
# | dropout, batch normalisation | `dropout`, {{line:dropout}}; `bn_head`, {{line:bn_head}} | *Model summary*: `new_head`, {{def:new_head}} |
# | the model, pretrained weights | `model`, {{line:model}}; `weights`, {{line:weights}} | *Model summary*: `build_model`, {{def:build_model}} |
# | augmentation | `augment`, {{line:augment}}; `mixup`, `cutmix` | *Transforms*: `train_transform`, {{def:train_transform}} |
# | loss, label smoothing | `label_smoothing`, {{line:label_smoothing}} | *Loss*: `loss_fn`, {{def:loss_fn}} |
# | mixup, cutmix | `mixup`, {{line:mixup}}; `cutmix`, {{line:cutmix}} | *Loss*: `mix_batch`, {{def:mix_batch}} |
# | weight averaging (EMA) | `ema`, {{line:ema}} | the engine (`baseline/checkpoint.py`: `make_ema`) |
# | test-time augmentation | `tta`, {{line:tta}} | *Evaluation*: `predict`, {{def:predict}} |
# | image size (resize) | `image_size`, {{line:image_size}} | *Transforms*: `eval_transform`, {{def:eval_transform}} |
# | the training loop | | *The training loop*: `train_one_epoch`, {{def:train_one_epoch}} |
# | validation split | `val_fraction`, {{line:val_fraction}} | *Data*: `split_data`, {{def:split_data}} |
#
# After changing a code cell, run it, then run the cell under *Run* again (or
# Run All): the engine trains with the functions as the notebook defines them.

# %% [markdown]
# ## Evaluation
#
# Submissions are scored by **accuracy** on the hidden test labels (macro-F1
# is reported too). The public leaderboard uses about 30% of the test images;
# the final ranking uses the other 70%, so a score tuned to the public board
# may drop. Check a file before submitting with `grader validate
# submission.csv` (done at the end of this notebook).

# %% [markdown]
# ## Set-up
#
# The first cell prints the versions this notebook runs on and checks them;
# then it loads the kit's plumbing, code you have no reason to change: the
# launch on both GPUs (`baseline/notebook.py`), the engine around your
# functions (`baseline/engine.py`: seeded batches on the GPU, evaluation
# after each epoch, early stopping, checkpoints, the records), `grader/`
# (the course's validator and metrics) and the plots. Its source: the
# `baseline/` and `grader/` folders of the course kit.

# %% tags=["setup"]
# Replaced by kernels/build.py: the package check and the kit.

# %% tags=["lesson:imports"]
# Replaced by kernels/build.py: baseline/lesson.py's imports.

# %%
# The plumbing this notebook calls (the lesson's own code is in the cells below).
from IPython.display import Image, display

from baseline.config import TrainConfig
from baseline.diagnose import diagnose, read_history, report
from baseline.model import summary
from baseline.notebook import find_data, launch, output_dir, smoke_if_asked
from grader.bundle.answers import load_public_key
from grader.bundle.submission import SubmissionChecker

# %% [markdown]
# ## Random seed
#
# One seed fixes the validation split, the new layer's initial weights, the
# shuffling and the augmentation: the same seed on the same hardware gives
# the same predictions. Every other setting of the run is here too.

# %% tags=["settings"]
# Replaced by kernels/build.py: SEED and every setting of the recipe.

# %% [markdown]
# ## Data
#
# `split_data` gets the labels of the 50,000 training images and returns the
# row numbers to train on and to validate with. The validation images are
# never trained on; the test images are only predicted, at the end.

# %% tags=["lesson:data"]
# Replaced by kernels/build.py: baseline/lesson.py's data cell.

# %% [markdown]
# ## Model summary
#
# `build_model` makes the network: torchvision's model with its ImageNet
# weights, and `new_head` in place of its last layer (ResNet50's `fc`).

# %% tags=["lesson:model"]
# Replaced by kernels/build.py: baseline/lesson.py's model cell.

# %%
print(summary(build_model(cfg, None), cfg.model, cfg.weights))

# %% [markdown]
# ## Training
#
# ### Transforms
#
# Batches reach the GPU as 32x32 images of uint8; the transforms run there, a
# whole batch at once, and turn them into the normalised 224 px images the model
# eats (Kaggle's 4 CPUs could not resize 50,000 images to 224 px fast enough).
# Each step is the batched twin of a `torchvision.transforms.v2` transform.

# %% tags=["lesson:transforms"]
# Replaced by kernels/build.py: baseline/lesson.py's transforms cell.

# %% [markdown]
# ### Loss

# %% tags=["lesson:loss"]
# Replaced by kernels/build.py: baseline/lesson.py's loss cell.

# %% [markdown]
# ### Optimizer and learning-rate schedule

# %% tags=["lesson:optimizer"]
# Replaced by kernels/build.py: baseline/lesson.py's optimizer cell.

# %% [markdown]
# ### The training loop
#
# Accelerate runs one copy of this loop per GPU; the batch of 128 is global
# (64 images per T4), so one and two GPUs follow the same optimisation.

# %% tags=["lesson:loop"]
# Replaced by kernels/build.py: baseline/lesson.py's loop cell.

# %% [markdown]
# ### Evaluation
#
# After every epoch, on the validation images: loss, accuracy and macro-F1,
# computed by the grader's own formulas.

# %% tags=["lesson:evaluation"]
# Replaced by kernels/build.py: baseline/lesson.py's evaluation cell.

# %% [markdown]
# ### Test predictions

# %% tags=["lesson:submission"]
# Replaced by kernels/build.py: baseline/lesson.py's submission cell.

# %% [markdown]
# ### Run
#
# `launch` starts one process per GPU (Accelerate's `notebook_launcher`) and
# trains with the functions defined above (`globals()`): each epoch it prints
# one line, writes the learning curves and a checkpoint; at the end it predicts
# the test images and writes `submission.csv`. The first lines settle every
# choice (batch per GPU, mixed precision, crop) and name the functions you
# edited. Running it again starts the run over (the earlier run's files are
# replaced once the new one has passed its checks); with `resume=True` it
# continues the earlier run from its last finished epoch. Errors name the
# settings as the command line's flags: `--lr` is `lr=` in *Random seed*.

# %%
out = launch(cfg, globals())

# %% [markdown]
# ## Learning curves
#
# Training vs validation loss and accuracy per epoch, and what they say by the
# lecture's rules (`baseline/diagnose.py`): both errors high means
# under-fitting (train longer, raise the lr); validation far worse than
# training means over-fitting (augment, regularise, stop earlier).

# %%
display(Image(str(out / "learning_curves.png")))
history = read_history(out)
print(report(diagnose(history), len(history)))
pd.read_csv(out / "metrics.csv")

# %% [markdown]
# ## Submission
#
# `submission.csv` has one row per test id. The grader's validator checks it
# here exactly as the course's grading does; on Kaggle the file is also copied
# to `/kaggle/working/submission.csv`, the notebook's output to submit.

# %%
checked = SubmissionChecker(load_public_key(cfg.data)).check_file(out / "submission.csv")
print("valid" if checked.valid else "\n".join(checked.problems))
if Path("/kaggle/working").is_dir():
    Path("/kaggle/working/submission.csv").write_bytes((out / "submission.csv").read_bytes())
pd.read_csv(out / "submission.csv").head()

# %% [markdown]
# ## TA account (조교 계정)
#
# Share this notebook with the TA so the TA can read and re-run it:
#
# 1. Keep it **Private** (Settings > Sharing: private). Never make a notebook
#    that holds your solution public before the competition ends.
# 2. Click **Share** (top right) > **Add collaborators**, type the TA's Kaggle
#    user name (on the course page) and give **Can view** (or **Can edit** if
#    the TA asks for it).
# 3. Submit the notebook's `submission.csv` to the competition (Output >
#    Submit), and hand in the same file on the LMS: the TA checks that the
#    two are the same file.
