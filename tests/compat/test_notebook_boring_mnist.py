"""The code cells of the original ``examples/image_classification/boring_mnist.ipynb``, in order.

The notebook trains a LeNet once, searches its hyper-parameters with Ray Tune, retrains the best
configuration on all training data and compares the three runs. Here its cells run as its user runs
them, with the notebook's ``FAST_DEV_RUN`` switch on (2 epochs, 2 samples): the module fixture runs
cells 4-19 (data, configs, callbacks, the Runner), then one test per section of the notebook, in the
notebook's order, each marked with the cells it runs. A cell whose last line is an expression shows
that value in the notebook; here ``display()`` prints it. Lines marked "port's check" are the
notebook's narrative made into assertions; the notebook itself asserts only in cell 8.

Changes, each forced by today's libraries or this machine:

- Cells 3, 4, 6, 13, 14, 15 and 18 (the seed, the data and loader functions, the module, its metrics
  helper, the network and the callback) live in ``tests/compat/notebook_models.py``: a search sends them
  to Ray workers, which import them by module name. See that module for their changes: digits
  instead of MNIST (``1 x 8 x 8`` images; LeNet pads its convolutions), torchmetrics, torch's AdamW +
  ``LambdaLR`` warm-up, ``save_hyperparameters``, ``on_train_epoch_start``.
- Cell 1: the torchvision, transformers and ``pytorch_lightning.metrics`` imports are gone with them.
- Cell 4: ``DATASETS_PATH`` (MNIST's download folder) is gone: digits ships with scikit-learn.
- Cell 17: ``"cpu_per_trial": 3`` -> 1: the test session's Ray has 2 CPUs, so a 3-CPU trial never starts.
- Cell 37: ``MNIST.classes`` -> ``DIGITS_CLASSES`` (same names); the random image index was drawn in
  ``[0, 1000)`` of MNIST's 12,000 validation images; digits has 287, so ``[0, len(val_dataset))``.
- The search uses the session's Ray (the ``ray_cluster`` fixture) instead of starting its own.
"""

import warnings

import matplotlib.patches as patches
import numpy as np
import pytest
import torch
from IPython.display import display
from matplotlib import pyplot as plt
from matplotlib.font_manager import FontProperties
from ray import tune
from torch import nn

import pytorch_hyperlight as pth

# [cells 3, 4, 6, 13-15, 18] live in notebook_models.py (Ray workers import them from there)
from tests.compat.notebook_models import (
    SEED,
    LitBoringMNIST,
    UnfreezeModelTailCallback,
    configure_dataloaders,
    create_datasets,
)
from tests.compat.replacements import DIGITS_CLASSES

# [cell 2]
USAGE_MODE_LIST = ["single-run", "hyper-opt"]  # choose from 'single-run' and 'hyper-opt'
FAST_DEV_RUN = True  # the notebook's switch, on: simplified configurations running for 2 epochs


@pytest.fixture(scope="module")
def nb():
    """Cells 4-19: data, configs, callbacks and the Runner; returns the globals later cells read."""
    # [cell 4]
    EXPERIMENT_ID = "boring-mnist"
    warnings.filterwarnings("ignore")

    # [cell 8]
    BATCH_SIZE = 32

    loaders_dict = configure_dataloaders(BATCH_SIZE)

    # (the cell's bare `loaders_dict` line here shows nothing: it is not the cell's last line)

    batch = next(iter(loaders_dict["train_loader"]))
    assert len(batch[0]) > 0

    # [cell 9]
    result_dict = create_datasets(0.2)
    display(len(result_dict["full_train_dataset"]))

    # [cell 10]
    display(loaders_dict["n_classes"])

    # [cell 16]
    N_CLASSES = loaders_dict["n_classes"]
    LMODULE_CLASS = LitBoringMNIST
    IS_CUDA = torch.cuda.is_available()
    GPU_PER_TRIAL = 0.3 * IS_CUDA

    # [cell 17]
    CONFIG = {
        "lr": 1e-3,  # Initial learning rate
        "warmup": 200,  # For LinearSchedulerWihtWarmup
        "gradient_clip_val": 0,
        "max_epochs": 6,  # the actual number can be less due to early stopping
        "batch_size": 64,
        "n_classes": N_CLASSES,
        "unfreeze_epochs": [0, 1],  # 2-phase unfreeze,
        #    unfreeze the tip of the tail at the start of epoch 0,
        #    then unfreeze one more layer at epoch 1,
    }

    TUNE_CONFIG = {
        "seed": SEED,  # just remove this if you do not want determenistic behavior
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

    # [cell 18]
    pl_callbacks = [UnfreezeModelTailCallback(CONFIG["unfreeze_epochs"])]

    # [cell 19]
    runner = pth.Runner(
        configure_dataloaders,
        pl_callbacks=pl_callbacks,
        is_debug=FAST_DEV_RUN,
        experiment_id=EXPERIMENT_ID,
        log2wandb=False,
    )
    return {
        "runs_made": 0,  # not the notebook's: counts the runs the sections below completed
        "loaders_dict": loaders_dict,
        "N_CLASSES": N_CLASSES,
        "LMODULE_CLASS": LMODULE_CLASS,
        "CONFIG": CONFIG,
        "TUNE_CONFIG": TUNE_CONFIG,
        "runner": runner,
    }


# [cell 5]
def imshow(inp, title=None, plt_ax=plt, default=False):
    """Imshow for tensors"""
    inp = inp.numpy().transpose((1, 2, 0))
    mean = np.array([0.485, 0.456, 0.406])
    std = np.array([0.229, 0.224, 0.225])
    inp = std * inp + mean
    inp = np.clip(inp, 0, 1)
    plt_ax.imshow(inp)
    if title is not None:
        plt_ax.set_title(title)
    plt_ax.grid(False)


def test_cells_21_to_29_run_a_single_trial_and_look_at_its_metrics(nb):
    runner, LMODULE_CLASS = nb["runner"], nb["LMODULE_CLASS"]
    CONFIG, TUNE_CONFIG = nb["CONFIG"], nb["TUNE_CONFIG"]

    # [cell 21]
    if "single-run" in USAGE_MODE_LIST:
        best_result = runner.run_single_trial(LMODULE_CLASS, CONFIG, TUNE_CONFIG)
    nb["runs_made"] += 1

    # [cell 23]
    display(best_result["metrics"].df.to_json())

    # [cell 24]
    if "single-run" in USAGE_MODE_LIST:
        display(best_result["metrics"].df)

    # [cell 26]
    if "single-run" in USAGE_MODE_LIST:
        display(best_result["metrics"].series_last)

    # [cell 28]
    display(best_result["metrics"].__dict__)

    # [cell 29]
    if "single-run" in USAGE_MODE_LIST:
        best_result["metrics"].show_report()

    # port's check: a train-validation-test cycle, so the last values include the test stage
    assert {"train_f1", "val_f1", "test_f1"} <= set(best_result["metrics"].series_last.index)


# [cell 35]
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


# [cell 36]
def predict_one_sample(model, inputs, device=DEVICE):
    with torch.no_grad():
        inputs = inputs.to(device)
        model.eval()
        logit = model(inputs).cpu()
        probs = torch.nn.functional.softmax(logit, dim=-1).numpy()
    return probs


# [cell 37]
def show_some_predictions(loaders_dict, lmodule):
    fig, ax = plt.subplots(nrows=3, ncols=3, figsize=(12, 12), sharey=True, sharex=True)  # noqa: RUF059
    for fig_x in ax.flatten():
        # was np.random.uniform(0, 1000): digits has 287 validation images
        random_characters = int(np.random.uniform(0, len(loaders_dict["val_dataset"])))
        im_val, label = loaders_dict["val_dataset"][random_characters]
        img_label = " ".join(
            map(
                lambda x: x.capitalize(),
                DIGITS_CLASSES[label].split("_"),
            )
        )

        imshow(im_val.data.cpu(), title=img_label, plt_ax=fig_x)

        fig_x.add_patch(patches.Rectangle((0, 0), 10, 5, color="white"))
        font0 = FontProperties()
        font = font0.copy()
        font.set_family("fantasy")
        prob_pred = predict_one_sample(lmodule, im_val.unsqueeze(0))
        predicted_proba = np.max(prob_pred) * 100
        y_pred = np.argmax(prob_pred)

        predicted_label = DIGITS_CLASSES[y_pred]
        predicted_label = (
            predicted_label[: len(predicted_label) // 2]
            + "\n"
            + predicted_label[len(predicted_label) // 2 :]
        )
        predicted_text = "{} : {:.0f}%".format(predicted_label, predicted_proba)  # noqa: UP032

        fig_x.text(
            1,
            2,
            predicted_text,
            horizontalalignment="left",
            fontproperties=font,
            verticalalignment="top",
            fontsize=8,
            color="black",
            fontweight="bold",
        )


# [cell 38]
def predict(model, test_loader):
    with torch.no_grad():
        logits = []

        for inputs, _ in test_loader:
            inputs = inputs.to(DEVICE)
            model.eval()
            outputs = model(inputs).cpu()
            logits.append(outputs)

    probs = nn.functional.softmax(torch.cat(logits), dim=-1).numpy()
    return probs


@pytest.mark.ray
@pytest.mark.slow
def test_cells_31_to_39_search_hyper_parameters_and_show_predictions(nb, ray_cluster):
    runner, LMODULE_CLASS, N_CLASSES = nb["runner"], nb["LMODULE_CLASS"], nb["N_CLASSES"]
    TUNE_CONFIG, loaders_dict = nb["TUNE_CONFIG"], nb["loaders_dict"]

    # [cell 31]
    SEARCH_SPACE_CONFIG = {
        "unfreeze_epochs": [0, 1],
        "lr": tune.uniform(1e-4, 1e-3),
        "warmup": tune.choice([200, 500, 600, 1000]),
        "gradient_clip_val": 0,
        "max_epochs": tune.choice([6]),
        "batch_size": tune.choice([16, 32, 64]),
        "n_classes": N_CLASSES,
    }

    # [cell 32]
    if FAST_DEV_RUN:
        SEARCH_SPACE_CONFIG["max_epochs"] = 2
        SEARCH_SPACE_CONFIG["batch_size"] = 32

    # [cell 33]
    if "hyper-opt" in USAGE_MODE_LIST:
        best_result = runner.run_hyper_opt(
            LMODULE_CLASS,
            SEARCH_SPACE_CONFIG,
            TUNE_CONFIG,
        )
        best_result["metrics"].df  # noqa: B018  (the notebook's line: it must evaluate)
    nb["best_result"] = best_result
    nb["runs_made"] += 1

    # [cell 39]
    show_some_predictions(loaders_dict, best_result["lmodule_best"])

    # port's check: cell 38's helper predicts every test image with the best model
    probs = predict(best_result["lmodule_best"], loaders_dict["test_loader"])
    assert probs.shape == (len(loaders_dict["test_dataset"]), N_CLASSES)


def test_cells_41_to_45_retrain_on_all_training_data(nb):
    runner, LMODULE_CLASS = nb["runner"], nb["LMODULE_CLASS"]
    CONFIG, TUNE_CONFIG, loaders_dict = nb["CONFIG"], nb["TUNE_CONFIG"], nb["loaders_dict"]
    if "best_result" not in nb:
        pytest.fail("needs the hyper-parameter search of cell 33, which did not run or failed")
    best_result = nb["best_result"]

    # [cell 41]
    FT_TUNE_CONFIG = TUNE_CONFIG.copy()
    FT_TUNE_CONFIG["val_loader_name"] = None
    FT_TUNE_CONFIG["train_loader_name"] = "full_train_loader"
    FT_TUNE_CONFIG["metric_to_optimize"] = "train_f1_epoch"

    # [cell 42]
    FT_CONFIG = CONFIG.copy()
    # Train for a number of epochs found to be optimal during the hyper-parameter search
    # (the original's best_epoch was Lightning 1.2's checkpoint "epoch": the epochs trained up to
    # the best one, counting from 1; an epoch index counting from 0 makes this 1 too few, or 0)
    # modernised: Lightning 1.2 stored a checkpoint's epoch counted from 1, so the original's
    # best_epoch was the number of epochs trained; Lightning 2 (and this library, like every epoch
    # column) counts from 0, so the epochs to train are best_epoch + 1 (docs/migration.md).
    FT_CONFIG["max_epochs"] = best_result["best_epoch"] + 1

    # [cell 43]
    full_train_result = runner.run_single_trial(
        LMODULE_CLASS,
        FT_CONFIG,
        FT_TUNE_CONFIG,
    )
    nb["runs_made"] += 1

    # [cell 45]
    show_some_predictions(loaders_dict, full_train_result["lmodule_best"])

    # port's check: no validation data, so no validation or re-validation, but a test stage
    last = full_train_result["metrics"].series_last
    assert "test_f1" in last.index
    assert not any(name.startswith(("val_", "reval_")) for name in last.index)


def test_cells_47_to_51_compare_the_runs(nb):
    runner = nb["runner"]

    # [cell 47]
    runner.show_metric_report(sort_by_metric_list=["test_f1", "test_acc", "test_loss"])

    # [cell 49]
    display(runner.get_metrics()["run_x_last_metric_df"])

    # [cell 51]
    display(runner.get_metrics()["epoch_x_stage_run_metric"].df)

    # port's check: one row per run compared ("the single run and the result of hyper-parameter
    # optimization", and the retrained model: 3 when every section above passed)
    assert len(runner.get_metrics()["run_x_last_metric_df"]) == nb["runs_made"]
