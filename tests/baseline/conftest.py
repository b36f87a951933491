"""The slow tests of tests/baseline/ (over ~1.5 s on 2 CPU cores: they train, launch
processes or draw thousands of boxes), marked here so that the test files stay as they
are; `pytest -m "not slow"` leaves them out. Measured with `pytest --durations=0`
(December 2026)."""

from pathlib import Path

import pytest

from tests.helpers import mark_slow

SLOW = {
    "test_baseline.py": {
        "test_a_crash_at_any_stage_resumes_to_the_same_predictions",
        "test_a_diverging_loss_stops_with_the_step_and_lr",
        "test_a_log_gets_one_line_per_epoch_and_no_redrawn_bars",
        "test_a_run_writes_every_output",  # the first to train single_run: 18 s
        "test_a_short_run_on_real_cifar10_learns_well_above_chance",
        "test_batch_not_divisible_by_processes_and_accumulation",
        "test_bundle_with_other_classes",
        "test_gradient_accumulation_keeps_the_global_batch",
        "test_missing_bundle",
        "test_resume_after_a_kill_ends_with_the_uninterrupted_predictions",
        "test_resume_refuses_other_settings",
        "test_resume_takes_the_checkpoints_settings",
        "test_same_seed_gives_identical_predictions",
        "test_the_banner_settles_the_ambiguities",
        "test_the_submission_passes_grader_validate",  # single_run, as above
        "test_two_processes_over_gloo_predict_every_test_id_once",
        "test_unknown_model_and_weights",
    },
    "test_built.py": {
        "test_an_optimizer_edited_to_adam_is_what_the_banner_run_json_and_diagnosis_say",
        "test_the_model_summary_is_a_row_per_block_with_its_output_shape",
    },
    "test_demo.py": {"test_the_demo_runs_the_whole_loop"},
    "test_pictures.py": {"test_pictures_are_pngs_and_leave_the_backend_alone"},
    "test_launch.py": {
        "test_a_code_mistake_in_one_process_is_a_few_lines",
        "test_a_process_that_dies_without_a_python_error_is_named",
        "test_in_one_kernel_a_typo_then_the_fix_then_two_runs",
        "test_no_training_process_outlives_ctrl_c_or_its_kernel",
    },
    "test_recipe.py": {
        "test_a_timm_model_trains_end_to_end",
        "test_early_stopping_restores_the_best_epoch",
        "test_every_option_at_once_runs_and_is_announced",
        "test_the_ema_learns_along_with_the_model_on_a_short_run",
        "test_the_lr_trace_is_the_same_on_one_and_two_processes",
    },
    "test_transforms.py": {
        "test_crop_boxes_follow_torchvision_random_resized_crop_statistics",
        "test_erased_boxes_follow_torchvision_random_erasing_statistics",
    },
    "test_tune.py": {"test_two_workers_share_one_sqlite_study"},
}


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(items):
    mark_slow(items, Path(__file__).parent, SLOW)
