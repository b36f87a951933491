# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown] tags=["only:baseline"]
# # CIFAR-10 클래스 대회: 베이스라인 / the baseline
#
# 이 노트북을 복사(Copy & Edit)해서 **GPU T4 x2**, **Internet on**(Settings)으로
# 실행하고, 성능을 높여 보세요. 대회 데이터로 강의의 베이스라인 모델을 학습하고,
# 바로 제출할 수 있는 `submission.csv`를 만듭니다. 점수를 결정하는 코드는 모두
# 아래 셀에 있습니다. 셀을 고치고 실행한 다음, *실행 / Run* 셀을 다시 실행하세요.
#
# Fork this notebook, run it on **GPU T4 x2** with **Internet on** (Settings),
# and make it better. It trains the course baseline on the competition data and
# writes `submission.csv`, ready to submit. Every line that decides your score is
# in the cells below: change a cell, run it again, then run *Run* again.

# %% [markdown] tags=["only:improved"]
# # CIFAR-10 클래스 대회: 개선된 레시피 / an improved recipe
#
# 베이스라인 노트북에 강의에서 배운 기법을 켠 버전입니다. **GPU T4 x2**,
# **Internet on**(Settings)으로 실행하세요. 바뀐 것은 모두 *설정 / Settings* 셀의
# 값이고, 그 값을 쓰는 코드는 아래 셀에 있습니다. 다음에 무엇을 해 볼지는 학습
# 곡선이 알려 줍니다.
#
# The baseline notebook with the lecture's techniques switched on. Run it on
# **GPU T4 x2** with **Internet on** (Settings). Every change is a value in the
# *Settings* cell; the code that uses it is in the cells below, and the
# learning curves tell you what to try next.

# %% [markdown]
# ## 대회 설명 / Description
#
# 32x32 컬러 이미지를 10개 클래스(airplane, automobile, bird, cat, deer, dog,
# frog, horse, ship, truck)로 분류합니다. 대회 데이터(`/kaggle/input/<competition>/`)에는
# 레이블이 있는 학습 이미지 50,000장과 분류할 테스트 이미지(`test.csv`에 id 목록)가
# 있습니다. 학습 이미지의 10%는 **검증 데이터**로 떼어 두고 학습에 쓰지 않습니다.
#
# Classify 32x32 colour images into 10 classes. The competition's data holds
# 50,000 labelled training images and the test images to classify (`test.csv`
# lists their ids); 10% of the training
# images are held out for validation.

# %% [markdown] tags=["only:baseline"]
# 베이스라인은 **전이 학습**입니다. ImageNet으로 사전 학습한 torchvision ResNet50
# (IMAGENET1K_V1)의 마지막 층만 10개 클래스용으로 새로 바꾸고, SGD(학습률 1e-3,
# 모멘텀 없음, 가중치 감쇠 없음), 배치 크기 128, 3 에폭으로 학습합니다. 데이터
# 증강은 224 px로 무작위 크롭과 좌우 뒤집기, 그리고 ImageNet 정규화입니다.
#
# The baseline: torchvision ResNet50 with ImageNet weights (IMAGENET1K_V1) and
# a new 10-way last layer, SGD with lr 1e-3 (no momentum, no weight decay), a
# batch of 128 images, 3 epochs, random resized crops to 224 px with horizontal
# flips, ImageNet normalisation. Its accuracy on T4 x2: not measured yet.

# %% [markdown] tags=["only:improved"]
# 모델과 데이터는 베이스라인과 같고(ResNet50, ImageNet 가중치, 224 px), 아래
# 하이퍼파라미터만 다릅니다. Same model and data as the baseline, with these
# settings changed (`python -m baseline.train --recipe improved` runs the same):
#
# {{recipe_table}}
#
# Its accuracy on T4 x2: **not measured on T4 x2 yet** (target: 97% within an
# hour). Measure it and write it here.

# %% [markdown]
# ### 무엇을 어디서 바꾸나 / Where to change what
#
# 하이퍼파라미터는 *설정 / Settings* 셀에서 한 줄씩 바꾸고, 그 값을 쓰는 코드는
# 오른쪽 열의 셀과 함수에 있습니다. A setting is one line of the *Settings* cell;
# the code that uses it is in the cell and function on the right.
#
# | lecture technique | setting (cell *설정 / Settings*) | code (cell, function) |
# | --- | --- | --- |
# | learning rate (학습률) | `lr`, {{line:lr}} | *Optimizer and learning-rate schedule*: `lr_at`, {{def:lr_at}} |
# | lr decay (학습률 감쇠): step, exponential, cosine, plateau | `sched`, {{line:sched}}; `warmup_epochs`, `gamma`, `step_size` | the same `lr_at` |
# | momentum (모멘텀), Nesterov; Adam, AdamW | `momentum`, {{line:momentum}}; `optimizer`, {{line:optimizer}} | *Optimizer and learning-rate schedule*: `build_optimizer`, {{def:build_optimizer}} |
# | weight decay (가중치 감쇠, L2 규제) | `weight_decay`, {{line:weight_decay}} | `build_optimizer` |
# | batch size (배치 크기), epochs (에폭) | `batch_size`, {{line:batch_size}}; `epochs`, {{line:epochs}} | |
# | early stopping (조기 종료) | `patience`, {{line:patience}} | the kit's engine (`baseline/schedules.py`: `EarlyStopping`) |
# | lr drop on a plateau | `sched="plateau"`, `plateau_patience`, {{line:plateau_patience}} | the engine (`baseline/schedules.py`: `Plateau`), times `lr_at` |
# | dropout (드롭아웃), batch normalisation (배치 정규화) | `dropout`, {{line:dropout}}; `bn_head`, {{line:bn_head}} | *Model summary*: `new_head`, {{def:new_head}} |
# | the model, pretrained weights (전이 학습) | `model`, {{line:model}}; `weights`, {{line:weights}} | *Model summary*: `build_model`, {{def:build_model}} |
# | augmentation (데이터 증강) | `augment`, {{line:augment}}; `mixup`, `cutmix` | *Transforms*: `train_transform`, {{def:train_transform}} |
# | loss, label smoothing | `label_smoothing`, {{line:label_smoothing}} | *Loss*: `loss_fn`, {{def:loss_fn}} |
# | mixup, cutmix | `mixup`, {{line:mixup}}; `cutmix`, {{line:cutmix}} | *Loss*: `mix_batch`, {{def:mix_batch}} |
# | weight averaging (EMA) | `ema`, {{line:ema}} | the engine (`baseline/ema.py`: `make_ema`) |
# | test-time augmentation | `tta`, {{line:tta}} | *Validation*: `predict`, {{def:predict}} |
# | image size (resize) | `image_size`, {{line:image_size}} | *Transforms*: `eval_transform`, {{def:eval_transform}} |
# | the training loop | | *The training loop*: `train_one_epoch`, {{def:train_one_epoch}} |
# | validation split (검증 데이터) | `val_fraction`, {{line:val_fraction}} | *Data*: `split_data`, {{def:split_data}} |
#
# 코드 셀을 고쳤다면 그 셀을 실행하고 *실행 / Run* 셀을 다시 실행하세요(또는 Run
# All). After changing a code cell, run it, then run the cell under *Run* again
# (or Run All): the engine trains with the functions as the notebook defines them.

# %% [markdown]
# ## 평가 / Evaluation
#
# 제출 파일은 숨겨진 테스트 레이블에 대한 **정확도**로 채점합니다(macro-F1도 함께
# 보여 줍니다). 공개 리더보드는 테스트 이미지의 약 30%로, 최종 순위는 나머지 70%로
# 정합니다. 공개 점수에만 맞춘 모델은 최종 점수가 떨어질 수 있으니, 판단은 검증
# 데이터로 하세요.
#
# Submissions are scored by **accuracy** on the hidden test labels (macro-F1
# is reported too). The public leaderboard uses about 30% of the test images;
# the final ranking uses the other 70%, so a score tuned to the public board
# may drop. Check a file before submitting with `grader validate
# submission.csv` (done at the end of this notebook).

# %% [markdown]
# ## 준비 / Set-up
#
# 첫 셀은 패키지 버전을 확인하고, GPU와 *Run*이 GPU를 쓰는 방식을 출력합니다(설치된
# torch가 쓸 수 없는 GPU, 예를 들어 Kaggle의 P100이면 멈추고 무엇을 고를지 알려
# 줍니다). 그다음 고칠 필요가 없는 키트 코드(학습 엔진, 채점기, 그림)를 불러옵니다.
#
# The first cell prints the versions this notebook runs on and checks them,
# and the GPUs and how *Run* will use them (it stops on a GPU the installed
# torch cannot use, such as Kaggle's P100, and says what to pick instead);
# then it loads the kit's plumbing, code you have no reason to change: the
# launch on both GPUs (`baseline/launch.py`), the engine around your
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
from baseline.data import load_competition
from baseline.diagnose import diagnose, read_history, read_optimizer, report
from baseline.model import summary
from baseline.notebook import find_data, launch, output_dir, smoke_if_asked
from baseline.outputs import per_class_accuracy, sample_grid, transformed_grid
from grader.bundle.answers import load_public_key
from grader.bundle.submission import SubmissionChecker

# %% [markdown]
# ## Random seed 고정
#
# 시드 하나가 검증 데이터 분할, 새 층의 초기 가중치, 섞는 순서, 데이터 증강을 모두
# 정합니다. 같은 시드, 같은 하드웨어면 같은 예측이 나오므로, 설정 하나를 바꾼 효과를
# 공정하게 비교할 수 있습니다.
#
# One seed fixes the validation split, the new layer's initial weights, the
# shuffling and the augmentation: the same seed on the same hardware gives the
# same predictions, so the effect of one change can be compared fairly.

# %%
SEED = 42

# %% [markdown]
# ## 설정 / Settings
#
# 실행의 모든 하이퍼파라미터가 한 줄에 하나씩 있습니다(`python -m baseline.train`의
# 플래그와 같은 이름). 값을 바꾸고 Run All 하세요. 조교는 이 셀(태그 `parameters`)의
# 값을 바꿔 노트북을 그대로 실행할 수 있습니다: `papermill baseline.ipynb out.ipynb
# -p lr 0.01`.
#
# Every hyperparameter of the run, one per line (the names of `python -m
# baseline.train`'s flags). Change a value, then Run All. The cell is tagged
# `parameters`, papermill's convention: `papermill baseline.ipynb out.ipynb -p lr
# 0.01` runs the notebook with another value. The next cell gathers them into
# `cfg`, which every function below reads.

# %% tags=["settings", "parameters"]
# Replaced by kernels/build.py: every setting of the recipe, one per line.

# %% tags=["config"]
# Replaced by kernels/build.py: the settings gathered into the run's TrainConfig.

# %% [markdown]
# ## 데이터 / Data
#
# `split_data`는 학습 이미지 50,000장의 레이블을 받아, 학습에 쓸 행 번호와 검증에
# 쓸 행 번호를 돌려줍니다. 검증 데이터는 절대 학습에 쓰지 않고, 테스트 이미지는 맨
# 마지막에 예측만 합니다.
#
# `split_data` gets the labels of the 50,000 training images and returns the
# row numbers to train on and to validate with. The validation images are
# never trained on; the test images are only predicted, at the end.

# %% tags=["lesson:data"]
# Replaced by kernels/build.py: baseline/lesson.py's data cell.

# %%
# 학습 이미지 예시 / Sample training images: the first 4 of each class, with their label.
bundle = load_competition(cfg.data)
display(Image(sample_grid(bundle.train_images, bundle.train_labels, bundle.classes)))

# %% [markdown]
# ## 모델 요약 / Model summary
#
# `build_model`이 신경망을 만듭니다. ImageNet 가중치를 가진 torchvision 모델의 마지막
# 층(ResNet50의 `fc`)을 `new_head`로 바꿉니다. 과대적합이 보이면 `new_head`에
# 드롭아웃이나 배치 정규화를 넣어 볼 수 있습니다. 아래 요약은 블록마다 출력 크기와
# 파라미터 수를 보여 줍니다.
#
# `build_model` makes the network: torchvision's model with its ImageNet
# weights, and `new_head` in place of its last layer (ResNet50's `fc`). The
# summary below shows each block's output shape and parameters.

# %% tags=["lesson:model"]
# Replaced by kernels/build.py: baseline/lesson.py's model cell.

# %%
print(summary(build_model(cfg, None), cfg.model, cfg.weights, cfg.image_size))

# %% [markdown]
# ## 학습 / Training
#
# ### 변환과 데이터 증강 / Transforms
#
# 배치는 32x32 uint8 이미지로 GPU에 도착하고, 변환은 GPU에서 배치 전체에 한 번에
# 적용되어 모델이 받는 정규화된 224 px 이미지를 만듭니다(Kaggle의 CPU 4개로는
# 50,000장을 224 px로 늘리기에 너무 느립니다). 각 단계는 `torchvision.transforms.v2`
# 변환과 같은 일을 하는 배치용 함수입니다.
#
# **주의:** v2 변환을 배치 `(B, 3, H, W)`에 그대로 적용하면 배치 전체가 한 장의
# 이미지처럼 취급되어 **무작위 파라미터를 한 번만 뽑습니다.** 예를 들어
# `v2.RandomErasing(p=1)`은 모든 이미지의 같은 위치를 지웁니다. 그래서 여기의
# 함수들은 이미지마다 따로 뽑습니다. `random_erasing`(RandomErasing, 이미지마다
# 다른 상자)은 `train_transform` 안에 주석으로 한 줄 준비되어 있으니, `#`를 지우고
# 데이터 증강의 효과를 비교해 보세요. 변환이 잘못된 모양이나 값을 돌려주면, 학습
# 전에 한 줄짜리 오류로 알려 줍니다.
#
# Batches reach the GPU as 32x32 images of uint8; the transforms run there, a
# whole batch at once, and make the normalised 224 px images the model eats.
# Each step is the batched twin of a `torchvision.transforms.v2` transform.
# **A v2 transform applied to a batch draws one set of random parameters for
# the whole batch**: `v2.RandomErasing(p=1)` erases the same pixels in every
# image. The functions here draw per image; `random_erasing` is one commented
# line in `train_transform`, ready to try. Before training, the engine calls
# `train_transform` and `eval_transform` on a few images and stops, in one line,
# if they return anything but a finite, normalised float batch (B, 3, S, S).

# %% tags=["lesson:transforms"]
# Replaced by kernels/build.py: baseline/lesson.py's transforms cell.

# %%
# 모델이 보는 이미지 / What the model sees: 8 training images (top) and what
# train_transform makes of them (bottom, each stretched to [0, 1] to be shown).
images = torch.from_numpy(bundle.train_images[:8].copy())
seen = train_transform(images, torch.Generator().manual_seed(SEED), cfg)
names = [bundle.classes[label] for label in bundle.train_labels[:8]]
display(Image(transformed_grid(images.numpy(), seen, names)))

# %% [markdown]
# ### 손실 함수 / Loss
#
# 교차 엔트로피. 레이블 스무딩, mixup, cutmix도 여기서 켭니다. Cross-entropy, with
# label smoothing, mixup and cutmix.

# %% tags=["lesson:loss"]
# Replaced by kernels/build.py: baseline/lesson.py's loss cell.

# %% [markdown]
# ### 옵티마이저와 학습률 스케줄 / Optimizer and learning-rate schedule
#
# `build_optimizer`가 옵티마이저(SGD, 모멘텀, Adam)와 가중치 감쇠를 정하고,
# `lr_at`이 매 스텝의 학습률(웜업과 감쇠)을 정합니다. 실행 첫머리에 실제로 만들어진
# 옵티마이저(클래스, 학습률, 모멘텀, betas, 가중치 감쇠)가 출력되니, 코드를 고친 뒤
# 확인하세요. The run's first lines show the optimizer as built, so an edit here
# is what you see there.

# %% tags=["lesson:optimizer"]
# Replaced by kernels/build.py: baseline/lesson.py's optimizer cell.

# %% [markdown]
# ### 학습 루프 / The training loop
#
# GPU마다 이 루프가 하나씩 돕니다. 배치 크기 128은 전체 배치(T4 한 장에 64장)라서
# GPU가 하나든 둘이든 같은 최적화를 합니다. Accelerate runs one copy of this loop
# per GPU; the batch of 128 is global (64 images per T4), so one and two GPUs
# follow the same optimisation.

# %% tags=["lesson:loop"]
# Replaced by kernels/build.py: baseline/lesson.py's loop cell.

# %% [markdown]
# ### 검증 / Validation
#
# 매 에폭이 끝나면 검증 데이터로 손실, 정확도, macro-F1을 계산합니다(채점기와 같은
# 공식). After every epoch, on the validation images: loss, accuracy and
# macro-F1, computed by the grader's own formulas.

# %% tags=["lesson:evaluation"]
# Replaced by kernels/build.py: baseline/lesson.py's evaluation cell.

# %% [markdown]
# ### 테스트 예측 / Test predictions

# %% tags=["lesson:submission"]
# Replaced by kernels/build.py: baseline/lesson.py's submission cell.

# %% [markdown]
# ### 실행 / Run
#
# 아래 셀이 학습을 시작합니다(GPU마다 새 Python 프로세스 하나, 위에서 정의한 함수
# 그대로). 에폭마다 한 줄을 출력하고, 학습 곡선과 체크포인트를 저장하며, 마지막에
# 테스트 이미지를 예측해 `submission.csv`를 씁니다.
#
# `launch` starts one fresh Python process per GPU and trains with the functions
# defined above (`globals()`, sent to the processes with cloudpickle): each epoch
# it prints one line, writes the learning curves and a checkpoint; at the end it
# predicts the test images and writes `submission.csv`. The first lines settle
# every choice (batch per GPU, mixed precision, crop) and name the functions you
# edited. Running it again starts the run over (the earlier run's files are
# replaced once the new one has passed its checks); with `resume=True` it
# continues the earlier run from its last finished epoch. Errors name the
# settings as the command line's flags: `--lr` is `lr =` in *Settings*.
#
# 코드에 오류가 있으면 이 셀이 몇 줄로 알려 줍니다: 오류, 함수와 셀과 줄, 그리고
# 프로세스마다 전체 traceback을 적은 로그 파일(실행 폴더의 `launch/process-N.log`).
# 그때 학습 프로세스는 이미 멈춰 있으니, 셀을 고쳐 실행한 뒤 이 셀을 다시 실행하면
# 됩니다(Ctrl-C로도 멈춥니다). If your code fails, this cell says where in a few
# lines: the error, your function, its cell and line, and the log of each process
# (the run's `launch/process-N.log`) with the full traceback. The processes are
# stopped by then: fix the cell, run it, and run this cell again (Ctrl-C stops
# them too).

# %% tags=["run"]
out = launch(cfg, globals())

# %% [markdown]
# ## 학습 곡선 / Learning curves
#
# 에폭마다 학습 데이터와 검증 데이터의 손실과 정확도입니다. 강의의 규칙
# (`baseline/diagnose.py`)으로 읽으면: 두 오차가 모두 높으면 **과소적합**(더 오래
# 학습하거나 학습률을 높이기), 검증 오차가 학습 오차보다 훨씬 크면 **과대적합**(데이터
# 증강, 규제, 드롭아웃, 조기 종료). 아래 진단은 *설정* 셀의 이름(`epochs=`, `lr=`)으로
# 다음에 바꿀 것을 제안합니다.
#
# Training vs validation loss and accuracy per epoch, and what they say by the
# lecture's rules: both errors high means under-fitting (train longer, raise
# the lr); validation far worse than training means over-fitting (augment,
# regularise, stop earlier). The advice names the *Settings* cell's lines.

# %%
display(Image(str(out / "learning_curves.png")))
history = read_history(out)
print(report(diagnose(history, read_optimizer(out), names="notebook"), len(history)))
pd.read_csv(out / "metrics.csv")

# %% [markdown]
# ### 혼동행렬과 클래스별 정확도 / Confusion matrix and per-class accuracy
#
# 혼동행렬의 행은 실제 클래스, 열은 예측한 클래스입니다(검증 데이터, 마지막 가중치).
# 대각선 밖의 큰 칸이 모델이 헷갈리는 쌍입니다(예: cat과 dog). 정확도가 낮은
# 클래스를 보고 데이터 증강이나 모델을 바꿔 보세요.
#
# Rows are the true class, columns the predicted one (validation images, the
# final weights); large cells off the diagonal are the pairs the model confuses.

# %%
display(Image(str(out / "confusion_matrix.png")))
per_class_accuracy(out)

# %% [markdown]
# ## 제출 / Submission
#
# `submission.csv`에는 테스트 이미지마다 한 행이 있습니다. 채점기의 검사기로 여기서
# 바로 확인합니다. `submission.csv` has one row per test id. The grader's validator checks it
# here exactly as the course's grading does; on Kaggle the file is also copied
# to `/kaggle/working/submission.csv`, the notebook's output to submit.

# %%
checked = SubmissionChecker(load_public_key(cfg.data)).check_file(out / "submission.csv")
print("valid" if checked.valid else "\n".join(checked.problems))
if Path("/kaggle/working").is_dir():
    Path("/kaggle/working/submission.csv").write_bytes((out / "submission.csv").read_bytes())
pd.read_csv(out / "submission.csv").head()

# %% [markdown]
# ## 조교 계정 / TA account
#
# 조교가 노트북을 읽고 다시 실행할 수 있도록 공유하세요. Share this notebook with the
# TA so the TA can read and re-run it:
#
# 1. Keep it **Private** (Settings > Sharing: private). Never make a notebook
#    that holds your solution public before the competition ends.
# 2. Click **Share** (top right) > **Add collaborators**, type the TA's Kaggle
#    user name (on the course page) and give **Can view** (or **Can edit** if
#    the TA asks for it).
# 3. **Save Version > Save & Run All** 로 저장하세요. Save with *Save Version >
#    Save & Run All* (not *Quick Save*, which keeps no output): the saved version
#    then holds this run's `submission.csv`, which the TA compares with the file
#    you hand in.
# 4. Submit that version's `submission.csv` to the competition (Output >
#    Submit), and hand in the same file on the LMS: the TA checks that the
#    two are the same file.
