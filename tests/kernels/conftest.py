"""The slow tests of tests/kernels/ (over ~1.5 s on 2 CPU cores: they run a notebook or
train), marked here so that the test file stays as it is; `pytest -m "not slow"` leaves
them out. Measured with `pytest --durations=0` (December 2026)."""

from pathlib import Path

import pytest

from tests.helpers import mark_slow

SLOW = {
    "test_kernels.py": {
        "test_a_fixed_write_submission_resumes_without_training_again",
        "test_a_students_broken_contract_with_the_engine_is_one_line",
        "test_an_edited_cell_is_what_trains_and_the_run_cell_runs_again",
        "test_papermills_injected_parameters_reach_the_runs_settings",
        "test_the_kaggle_client_uploads_the_published_kit_and_gpu_check",
        "test_the_smoke_notebook_equals_the_command_line_byte_for_byte",
        "test_the_two_process_launch_trains_and_brings_a_childs_error_back_as_one_line",
    },
}


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(items):
    mark_slow(items, Path(__file__).parent, SLOW)
