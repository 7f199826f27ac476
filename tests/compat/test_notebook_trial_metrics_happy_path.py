"""The code cells of the original ``examples/utils_usage/trial_metrics_happy_path.ipynb``, in order.

The notebook builds a ``TrialMetrics`` from a table in the original's own layout (a ``stage`` of
"Train/Val", "Reval" or "Test", an ``epoch``, a ``stage-list`` and one column per stage and metric)
and shows its report twice. The notebook asserts nothing; the "port's check" lines state what the
original's ``series_last`` gave for that table (the last value of each metric: the last epoch's
train and val values, the re-validation and the test), so a conversion that loses or mixes values fails.

Changes, each forced by today's libraries:

- Cell 1: ``pd.read_json(<a JSON string>)`` -> ``pd.read_json(io.StringIO(<the same string>))``:
  pandas 3 reads a string argument as a file path.
"""

import io

import matplotlib.pyplot as plt  # noqa: F401  (cell 0 imports it)
import pandas as pd
import pytest
from IPython.display import display  # noqa: F401  (cell 0 imports it)

from pytorch_hyperlight.metrics.trial_metrics import TrialMetrics

# Cell 1's JSON, verbatim.
METRICS_JSON = '{"stage":{"0":"Train\\/Val","1":"Train\\/Val","2":"Train\\/Val","3":"Train\\/Val","4":"Train\\/Val","5":"Train\\/Val","6":"Reval","7":"Test"},"epoch":{"0":0,"1":1,"2":2,"3":3,"4":4,"5":5,"6":5,"7":5},"stage-list":{"0":["train","val"],"1":["train","val"],"2":["train","val"],"3":["train","val"],"4":["train","val"],"5":["train","val"],"6":["reval"],"7":["test"]},"val_f1":{"0":0.1747,"1":0.7387,"2":0.9646,"3":0.9759,"4":0.9795,"5":0.9815,"6":null,"7":null},"train_f1":{"0":0.0951,"1":0.5947,"2":0.9305,"3":0.974,"4":0.983,"5":0.9872,"6":null,"7":null},"val_acc":{"0":0.2534,"1":0.7512,"2":0.9649,"3":0.9762,"4":0.9797,"5":0.9817,"6":null,"7":null},"train_acc":{"0":0.1639,"1":0.6287,"2":0.9311,"3":0.9742,"4":0.9831,"5":0.9873,"6":null,"7":null},"val_loss":{"0":2.2725,"1":1.0247,"2":0.1152,"3":0.0759,"4":0.0668,"5":0.061,"6":null,"7":null},"train_loss":{"0":2.2897,"1":1.5376,"2":0.2273,"3":0.0841,"4":0.0566,"5":0.042,"6":null,"7":null},"reval_f1":{"0":null,"1":null,"2":null,"3":null,"4":null,"5":null,"6":0.9815,"7":null},"reval_acc":{"0":null,"1":null,"2":null,"3":null,"4":null,"5":null,"6":0.9817,"7":null},"reval_loss":{"0":null,"1":null,"2":null,"3":null,"4":null,"5":null,"6":0.061,"7":null},"test_f1":{"0":null,"1":null,"2":null,"3":null,"4":null,"5":null,"6":null,"7":0.9854},"test_acc":{"0":null,"1":null,"2":null,"3":null,"4":null,"5":null,"6":null,"7":0.9855},"test_loss":{"0":null,"1":null,"2":null,"3":null,"4":null,"5":null,"6":null,"7":0.0457}}'

#: What the original's ``series_last`` gave for that table.
ORIGINAL_SERIES_LAST = {
    "val_f1": 0.9815,
    "train_f1": 0.9872,
    "val_acc": 0.9817,
    "train_acc": 0.9873,
    "val_loss": 0.061,
    "train_loss": 0.042,
    "reval_f1": 0.9815,
    "reval_acc": 0.9817,
    "reval_loss": 0.061,
    "test_f1": 0.9854,
    "test_acc": 0.9855,
    "test_loss": 0.0457,
}


def test_cells_1_to_4_trial_metrics_from_the_original_layout_show_their_report():
    # [cell 1]
    df = pd.read_json(io.StringIO(METRICS_JSON))

    # [cell 2]
    tm = TrialMetrics(df)

    # [cell 3]
    tm.show_report()

    # [cell 4]
    tm.show_report(figsize=(10, 10))

    # port's check: every value of the table survives, as the original's series_last read it
    last = tm.series_last
    for metric, value in ORIGINAL_SERIES_LAST.items():
        assert last[metric] == pytest.approx(value), metric
    assert sorted(set(tm.df["epoch"])) == [0, 1, 2, 3, 4, 5]
