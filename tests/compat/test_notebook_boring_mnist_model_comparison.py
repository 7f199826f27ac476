"""The code cells of the original ``examples/image_classification/boring_mnist_model_comparison.ipynb``.

The notebook trains two models built on ``pytorch_hyperlight.tasks.classification`` (a LeNet with
Adam + StepLR, a smaller LeNet with AdamW + warm-up), compares them, searches the second one's
hyper-parameters, retrains it on all training data and compares all runs. Here its cells run in
order as its user runs them, with the notebook's ``FAST_DEV_RUN`` switch on (2 epochs, 2 samples):
the module fixture runs cells 1 and 4-18, then one test per section of the notebook, in order,
each marked with the cells it runs. A cell whose last line is an expression shows that value in
the notebook; here ``display()`` prints it. Lines marked "port's check" turn the notebook's
narrative into assertions (the notebook has none but cell 7's).

Changes, each forced by today's libraries or this machine:

- Cells 4, 5 and 12 (data, loaders, LeNet) are the same as in ``boring_mnist.ipynb`` and come from
  ``tests/compat/notebook_models.py``; cells 13, 22 and 23 (the two task modules and the smaller
  LeNet) live in ``tests/compat/comparison_models.py``: a search sends them to Ray workers, which
  import them by module name. Digits instead of MNIST (``1 x 8 x 8`` images; the LeNets pad their
  convolutions); see those modules.
- Cell 1: the torchvision imports are gone with MNIST.
- Cell 15: ``"cpu_per_trial": 3`` -> 1: the test session's Ray has 2 CPUs, so a 3-CPU trial never starts.
- Cell 3 (papermill's injected ``FAST_DEV_RUN = False``) is replaced by ``FAST_DEV_RUN = True``.
- The search uses the session's Ray (the ``ray_cluster`` fixture) instead of starting its own.
"""

import warnings

import pytest
import torch
from IPython.display import display
from ray import tune

import pytorch_hyperlight as pth
from tests.compat.notebook_models import configure_dataloaders, create_datasets

# [cell 2]
USAGE_MODE_LIST = [
    "single-run",
    "hyper-opt",
]  # choose from 'single-run' and 'hyper-opt'
# [cell 3] (the notebook's parameters cell)
FAST_DEV_RUN = True


@pytest.fixture(scope="module")
def nb():
    """Cells 1 and 4-19: the task classes, data, configs, the Runner; the globals later cells read."""
    # [cell 1] the notebook imports these first; they live in comparison_models.py (cells 13, 22, 23)
    from tests.compat.comparison_models import LitPrettyBoringMNIST, LitSuperBoringMNIST

    # [cell 4]
    EXPERIMENT_ID = "boring-mnist"
    warnings.filterwarnings("ignore")

    # [cell 7]
    BATCH_SIZE = 32

    loaders_dict = configure_dataloaders(BATCH_SIZE)

    # (the cell's bare `loaders_dict` line here shows nothing: it is not the cell's last line)

    batch = next(iter(loaders_dict["train_loader"]))
    assert len(batch[0]) > 0

    # [cell 8]
    result_dict = create_datasets(0.2)
    display(len(result_dict["full_train_dataset"]))

    # [cell 9]
    display(loaders_dict["n_classes"])

    # [cell 14]
    N_CLASSES = loaders_dict["n_classes"]
    IS_CUDA = torch.cuda.is_available()
    GPU_PER_TRIAL = 0.3 * IS_CUDA

    # [cell 15]
    CONFIG = {
        "lr": 1e-3,  # Initial learning rate
        "gradient_clip_val": 0,
        "max_epochs": 6,  # the actual number can be less due to early stopping
        "batch_size": 64,
        "n_classes": N_CLASSES,
        "metric_list": ["f1", "acc", "prec"],
        "lr_step_epochs": 3,
        "lr_step_factor": 0.5,
    }

    TUNE_CONFIG = {
        "seed": 16,  # just remove this if you do not want determenistic behavior
        "metric_to_optimize": "val_f1_epoch",  # Ray + PTL Trainer
        "ray_metrics_to_show": [
            "val_loss_epoch",
            "val_f1_epoch",
            "val_acc_epoch",
        ],  # for Ray Tune
        "metric_opt_mode": "max",  # Ray + PTL Trainer
        "cpu_per_trial": 1,  # was 3 (Ray + DataLoaders): the test session's Ray has 2 CPUs
        "gpu_per_trial": GPU_PER_TRIAL,  # for Ray Tune
        "n_checkpoints_to_keep": 1,  # for Ray Tune
        "grace_period": 6,  # for both PTL Trainer and Ray Tune scheduler
        "epoch_upper_limit": 45,  # for Ray Tune
        "n_samples": 3,  # for Ray Tune
        "ptl_early_stopping_patience": 7,  # for PTL Trainer
        "ptl_precision": 32,  # or 16, for PTL Trainer
        "train_loader_name": "train_loader",
        "val_loader_name": "val_loader",
        "test_loader_name": "test_loader",
        "batch_size_main": CONFIG["batch_size"],  # batch size for revalidation and test phases
        #    that run in the main process after all Ray Tune child processes are finished
        "gpus": -1 * IS_CUDA,  # -1 - use GPU if available, 0 - use CPU, 1 - use single GPU,
        # >=2 - use multiple GPUs
    }

    if FAST_DEV_RUN:
        CONFIG["max_epochs"] = 2
        TUNE_CONFIG["n_samples"] = 2

    # [cell 16]
    runner = pth.Runner(
        configure_dataloaders,
        is_debug=FAST_DEV_RUN,
        experiment_id=EXPERIMENT_ID,
    )

    # [cell 17]
    runner.show_metric_report()

    # [cell 18]
    display(runner.get_metrics())

    return {
        "runs_made": 0,  # not the notebook's: counts the runs the sections below completed
        "LitPrettyBoringMNIST": LitPrettyBoringMNIST,
        "LitSuperBoringMNIST": LitSuperBoringMNIST,
        "N_CLASSES": N_CLASSES,
        "CONFIG": CONFIG,
        "TUNE_CONFIG": TUNE_CONFIG,
        "runner": runner,
    }


def test_cells_19_20_train_pretty_boring_mnist(nb):
    runner, CONFIG, TUNE_CONFIG = nb["runner"], nb["CONFIG"], nb["TUNE_CONFIG"]
    LitPrettyBoringMNIST = nb["LitPrettyBoringMNIST"]

    # [cell 19]
    best_results_dict = {}  # noqa: F841  (the notebook's line; it never uses the dict)

    # [cell 20]
    if "single-run" in USAGE_MODE_LIST:
        best_result = runner.run_single_trial(LitPrettyBoringMNIST, CONFIG, TUNE_CONFIG)
    nb["runs_made"] += 1

    # port's check: the config's metric_list (f1, acc, prec) is what the task logs
    assert {"val_f1", "val_acc", "val_prec", "test_prec"} <= set(
        best_result["metrics"].series_last.index
    )


def test_cells_22_to_31_train_super_boring_mnist_and_compare(nb):
    runner, TUNE_CONFIG, N_CLASSES = nb["runner"], nb["TUNE_CONFIG"], nb["N_CLASSES"]
    LitSuperBoringMNIST = nb["LitSuperBoringMNIST"]

    # [cell 24]
    CONFIG = {
        "lr": 1e-3,  # Initial learning rate
        "gradient_clip_val": 0,
        "max_epochs": 6,  # the actual number can be less due to early stopping
        "batch_size": 64,
        "n_classes": N_CLASSES,
        "metric_list": ["f1", "acc", "prec"],
        "warmup": 300,
    }
    nb["CONFIG"] = CONFIG

    # [cell 25]
    if "single-run" in USAGE_MODE_LIST:
        best_result = runner.run_single_trial(LitSuperBoringMNIST, CONFIG, TUNE_CONFIG)  # noqa: F841
    nb["runs_made"] += 1

    # [cell 27]
    runner.show_metric_report(sort_by_metric_list=["test_f1", "test_acc"])

    # [cell 29]
    runner.show_metric_report(
        sort_by_metric_list=[
            "test_acc",
            "test_f1",
        ],
        keep_train_val_only=True,
    )

    # [cell 31]
    display(runner.get_metrics()["epoch_x_stage_run_metric"].df)

    # port's check: "compare metrics for both models": one row per model (2 when both trained)
    assert len(runner.get_metrics()["run_x_last_metric_df"]) == nb["runs_made"]


@pytest.mark.ray
@pytest.mark.slow
def test_cells_33_to_38_search_super_boring_mnist(nb, ray_cluster):
    runner, TUNE_CONFIG, N_CLASSES = nb["runner"], nb["TUNE_CONFIG"], nb["N_CLASSES"]
    LitSuperBoringMNIST = nb["LitSuperBoringMNIST"]

    # [cell 33]
    SEARCH_SPACE_CONFIG = {
        "unfreeze_epochs": [0, 1],
        "lr": tune.uniform(1e-4, 1e-3),
        "warmup": tune.choice([200, 500, 600]),
        "gradient_clip_val": 0,
        "max_epochs": 6,
        "batch_size": tune.choice([16, 32, 64]),
        "n_classes": N_CLASSES,
    }

    # [cell 34]
    if FAST_DEV_RUN:
        SEARCH_SPACE_CONFIG["max_epochs"] = 2
        SEARCH_SPACE_CONFIG["batch_size"] = 32

    # [cell 35]
    if "hyper-opt" in USAGE_MODE_LIST:
        #
        best_result = runner.run_hyper_opt(
            LitSuperBoringMNIST,
            SEARCH_SPACE_CONFIG,
            TUNE_CONFIG,
        )
    nb["best_result"] = best_result
    nb["runs_made"] += 1

    # [cell 37]
    display(runner.get_metrics()["epoch_x_stage_run_metric"].df)

    # [cell 38]
    display(runner.get_metrics()["epoch_x_stage_run_metric"].plot(figsize=(30, 20)))


def test_cells_40_to_50_retrain_on_all_training_data_and_compare(nb):
    runner, CONFIG, TUNE_CONFIG = nb["runner"], nb["CONFIG"], nb["TUNE_CONFIG"]
    LitSuperBoringMNIST = nb["LitSuperBoringMNIST"]
    if "best_result" not in nb:
        pytest.fail("needs the hyper-parameter search of cell 35, which did not run or failed")
    best_result = nb["best_result"]

    # [cell 40]
    FT_TUNE_CONFIG = TUNE_CONFIG.copy()
    FT_TUNE_CONFIG["val_loader_name"] = None
    FT_TUNE_CONFIG["train_loader_name"] = "full_train_loader"
    FT_TUNE_CONFIG["metric_to_optimize"] = "train_f1_epoch"

    # [cell 41]
    FT_CONFIG = CONFIG.copy()
    # FT_CONFIG['max_epochs'] = 19
    # (the original's best_epoch was Lightning 1.2's checkpoint "epoch": the epochs trained up to
    # the best one, counting from 1; an epoch index counting from 0 makes this 1 too few, or 0)
    # modernised: Lightning 1.2 stored a checkpoint's epoch counted from 1, so the original's
    # best_epoch was the number of epochs trained; Lightning 2 (and this library, like every epoch
    # column) counts from 0, so the epochs to train are best_epoch + 1 (docs/migration.md).
    FT_CONFIG["max_epochs"] = best_result["best_epoch"] + 1

    # [cell 42]
    full_train_result = runner.run_single_trial(
        LitSuperBoringMNIST,
        FT_CONFIG,
        FT_TUNE_CONFIG,
        extra_run_name_prefix="full-train-",  # use prefix here to distinguish this run from the previous runs
    )
    nb["runs_made"] += 1

    # [cell 44]
    full_train_result["metrics"].show_report()

    # [cell 46]
    runner.show_metric_report(sort_by_metric_list=["test_f1", "test_acc"], figsize=(30, 25))

    # [cell 48]
    display(runner.get_metrics()["run_x_last_metric_df"])

    # [cell 50]
    display(runner.get_metrics()["epoch_x_stage_run_metric"].df)

    # port's check: the prefix names the retrained run apart from the earlier runs of its class
    run_names = runner.get_metrics()["run_x_last_metric_df"]["run"].tolist()
    assert len(run_names) == nb["runs_made"]  # 4 when every section passed
    assert sum(name.startswith("full-train-") for name in run_names) == 1
