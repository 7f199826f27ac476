"""The original's ``tests/test_happy_path_usage.py`` (pytorch-hyperlight 0.3.0), ported.

Every API call and every assertion of the original is kept. Changes, each forced by today's
libraries or this machine:

- The module class, its metrics helper, the model, the callback and the loader functions moved from
  the ``boring_mnist`` fixture into ``tests/compat/boring_models.py``: Ray workers import them by
  module name and cannot import classes defined inside a fixture. The fixture imports them instead.
- MNIST (torchvision download) -> scikit-learn's bundled digits as ``1 x 8 x 8`` images; the model's
  first layer takes ``8 * 8`` inputs; ``MNIST.classes`` -> ``DIGITS_CLASSES`` (the same names);
  ``DATASETS_PATH`` (the download folder) is gone.
- The prediction plot drew a random index in ``[0, 1000)`` of MNIST's 12,000 validation images;
  digits' validation set has 287, so the index is drawn in ``[0, len(val_dataset))``.
- ``pytorch_lightning.metrics`` -> torchmetrics; transformers' ``AdamW`` and
  ``get_linear_schedule_with_warmup`` -> ``torch.optim.AdamW`` and the same formula on ``LambdaLR``;
  ``self.hparams = hparams`` -> ``self.save_hyperparameters(hparams)``; the callback's
  ``on_epoch_start`` -> ``on_train_epoch_start`` (Lightning 2 no longer calls ``on_epoch_start``).
- ``"cpu_per_trial": 3`` -> 1: the test session's Ray has 2 CPUs, so a 3-CPU trial could never start.
- ``@pytest.mark.forked`` dropped: pytest-forked is not used. Each test used a fresh process for its
  own Ray; here the searches share the session's Ray cluster (the ``ray_cluster`` fixture of
  ``tests/conftest.py``), which the two search tests request.
- ``FAST_DEV_RUN = True`` as in the original: 2 epochs, 2 samples.
"""

import pytest


class TestHappyPathUsage:
    @pytest.fixture(scope="module")
    def boring_mnist(self):
        import warnings

        import torch
        from ray import tune

        from pytorch_hyperlight import Runner
        from tests.compat.boring_models import (
            LitBoringMNIST,
            UnfreezeModelTailCallback,
            configure_dataloaders,
        )

        FAST_DEV_RUN = True
        EXPERIMENT_ID = "boring-mnist"
        warnings.filterwarnings("ignore")

        BATCH_SIZE = 32

        loaders_dict = configure_dataloaders(BATCH_SIZE)

        # %%
        IS_CUDA = torch.cuda.is_available()
        N_CLASSES = loaders_dict["n_classes"]
        LMODULE_CLASS = LitBoringMNIST
        GPU_PER_TRIAL = 0.3 * IS_CUDA
        # %%

        CONFIG = {
            "lr": 6.2e-5,  # Initial learning rate
            "warmup": 200,  # For LinearSchedulerWihtWarmup
            "gradient_clip_val": 0,
            "max_epochs": 30,
            "batch_size": 64,
            "n_classes": N_CLASSES,
            "unfreeze_epochs": [0, 1],  #
        }

        TUNE_CONFIG = {
            "seed": 16,  # just remove this if you do not want determenistic behavior
            "metric_to_optimize": "val_f1_epoch",  # Ray + PTL Trainer
            "ray_metrics_to_show": [
                "val_loss_epoch",
                "val_f1_epoch",
                "val_acc_epoch",
            ],  # Ray
            "metric_opt_mode": "max",  # Ray + PTL Trainer
            "cpu_per_trial": 1,  # was 3: the test session's Ray has 2 CPUs
            "gpu_per_trial": GPU_PER_TRIAL,  # for Ray Tune
            "n_checkpoints_to_keep": 1,  # for Ray Tune
            "grace_period": 7,  # for both PTL Trainer and Ray Tune scheduler
            "epoch_upper_limit": 45,  # for Ray Tune
            "n_samples": 40,  # for Ray Tune
            "ptl_early_stopping_patience": 7,  # for PTL Trainer
            "ptl_precision": 32,  # or 16, for PTL Trainer
            "train_loader_name": "train_ldr",
            "val_loader_name": "val_ldr",
            "test_loader_name": "test_ldr",
            "batch_size_main": CONFIG["batch_size"],
            "gpus": -1 * IS_CUDA,  # -1 - use GPU if available, 0 - use CPU, 1 - use single GPU,
            # >=2 - use multiple GPUs
        }

        if FAST_DEV_RUN:
            CONFIG["max_epochs"] = 2
            TUNE_CONFIG["n_samples"] = 2

        SEARCH_SPACE_CONFIG = {
            "lr": tune.uniform(1e-5, 1e-4),
            "warmup": tune.choice([200, 500, 600, 1000]),
            "gradient_clip_val": 0,
            "max_epochs": tune.choice([10, 20, 30]),
            "batch_size": tune.choice([16, 32, 64]),
            "n_classes": N_CLASSES,
            "unfreeze_epochs": [0, 1],
        }
        if FAST_DEV_RUN:
            SEARCH_SPACE_CONFIG["max_epochs"] = 2
            SEARCH_SPACE_CONFIG["batch_size"] = 32

        pl_callbacks = [UnfreezeModelTailCallback(CONFIG["unfreeze_epochs"])]

        phl_runner = Runner(
            configure_dataloaders,
            pl_callbacks=pl_callbacks,
            is_debug=FAST_DEV_RUN,
            experiment_id=EXPERIMENT_ID,
            log2wandb=True,
        )

        return {
            "lmodule_class": LMODULE_CLASS,
            "configure_dataloaders": configure_dataloaders,
            "pl_callbacks": pl_callbacks,
            "is_debug": FAST_DEV_RUN,
            "experiment_id": EXPERIMENT_ID,
            "phl_runner": phl_runner,
            "config": CONFIG,
            "tune_config": TUNE_CONFIG,
            "search_space_config": SEARCH_SPACE_CONFIG,
            "loaders_dict": loaders_dict,
        }

    @staticmethod
    def disable_loaders_in_tune_config(tune_config, is_val, is_test):
        tune_config = tune_config.copy()
        if not is_val and is_test:
            del tune_config["val_loader_name"]
            tune_config["metric_to_optimize"] = "train_f1_epoch"
            tune_config["ray_metrics_to_show"] = [
                "train_loss_epoch",
                "train_f1_epoch",
                "train_acc_epoch",
            ]  # Ray

        if not is_test:
            del tune_config["test_loader_name"]
            del tune_config["grace_period"]
        return tune_config

    @pytest.mark.parametrize(
        "is_val, is_test", [(True, True), (True, False), (False, True), (False, False)]
    )
    def test_touch_run_single_trial(self, boring_mnist, is_val, is_test):
        phl_runner = boring_mnist["phl_runner"]
        config = boring_mnist["config"]
        tune_config = boring_mnist["tune_config"]
        tune_config = self.disable_loaders_in_tune_config(tune_config, is_val, is_test)
        lmodule_class = boring_mnist["lmodule_class"]

        best_result = phl_runner.run_single_trial(lmodule_class, config, tune_config)
        #
        self.__check_runner(phl_runner)
        self.__check_single_trial_result(best_result)
        self.__touch_check_results(boring_mnist["loaders_dict"], best_result)

    @pytest.mark.ray
    @pytest.mark.slow
    @pytest.mark.parametrize("is_test", [True, False])
    def test_touch_run_hyper_opt(self, boring_mnist, is_test, ray_cluster):
        phl_runner = boring_mnist["phl_runner"]
        search_space_config = boring_mnist["search_space_config"]
        tune_config = boring_mnist["tune_config"]
        tune_config = self.disable_loaders_in_tune_config(tune_config, True, is_test)
        lmodule_class = boring_mnist["lmodule_class"]
        best_result = phl_runner.run_hyper_opt(
            lmodule_class,
            search_space_config,
            tune_config,
        )
        self.__check_runner(phl_runner)
        self.__check_hyper_opt_result(best_result)
        self.__touch_check_results(boring_mnist["loaders_dict"], best_result)

    @staticmethod
    def __check_runner(runner):
        import pandas as pd

        from pytorch_hyperlight.metrics.trial_metrics import TrialMetrics

        runner.show_metric_report()
        runner.show_metric_report(figsize=(15, 10))
        _ = runner.get_metrics(keep_train_val_only=True)
        metric_dict = runner.get_metrics()
        assert isinstance(metric_dict["run_x_last_metric_df"], pd.DataFrame)
        assert isinstance(metric_dict["epoch_x_stage_run_metric"], TrialMetrics)
        assert isinstance(metric_dict["epoch_x_stage_run_metric"].df, pd.DataFrame)
        metric_dict["epoch_x_stage_run_metric"].show_report()

    @staticmethod
    def __touch_check_results(loaders_dict, best_result):
        import matplotlib.patches as patches
        import numpy as np
        import torch

        # noinspection PyPep8Naming
        import torch.nn.functional as F

        # noinspection PyPep8Naming
        from matplotlib import pyplot as plt
        from matplotlib.font_manager import FontProperties

        from tests.compat.replacements import DIGITS_CLASSES

        DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")

        # noinspection PyUnresolvedReferences
        def imshow(inp, title=None, plt_ax=plt):
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

        def predict_one_sample(model, inputs, device=DEVICE):
            with torch.no_grad():
                inputs = inputs.to(device)
                model.eval()
                logit = model(inputs).cpu()
                probs = F.softmax(logit, dim=-1).numpy()
            return probs

        # noinspection PyShadowingNames,PyTypeChecker
        def show_some_predictions(loaders_dict, lmodule):
            # noinspection PyTypeChecker
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

        show_some_predictions(loaders_dict, best_result["lmodule_best"])

    def __check_single_trial_result(self, result):
        import pytorch_lightning as pl

        self.__check_result_common(result)
        trainer = result["trainer"]
        assert isinstance(trainer, pl.Trainer)

    def __check_hyper_opt_result(self, result):
        from ray import tune

        self.__check_result_common(result)
        analysis = result["analysis"]
        assert isinstance(analysis, tune.ExperimentAnalysis)

    @staticmethod
    def __check_result_common(result):
        import pandas as pd
        import pytorch_lightning as pl

        from pytorch_hyperlight.metrics.trial_metrics import TrialMetrics

        lmodule_best = result["lmodule_best"]
        assert isinstance(lmodule_best, pl.LightningModule)
        best_epoch = result["best_epoch"]
        assert isinstance(best_epoch, int)
        trial_metrics = result["metrics"]
        assert isinstance(trial_metrics, TrialMetrics)
        assert isinstance(trial_metrics.df, pd.DataFrame)
        assert isinstance(trial_metrics.series_last, pd.Series)
        trial_metrics.plot()
        trial_metrics.show_report(figsize=(15, 10))
