"""sample_data: synthetic data with the bank-marketing schema, learnable, and drifting on demand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from driftline.config import parse_model_config
from driftline_local.sample_data import (
    BANK_COLUMNS,
    SAMPLE_MODEL_YAML,
    generate_bank_marketing,
    generate_multiclass,
    generate_regression,
    write_csv,
)
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

NUMERIC = [
    "age",
    "duration",
    "campaign",
    "pdays",
    "previous",
    "emp.var.rate",
    "cons.price.idx",
    "cons.conf.idx",
    "euribor3m",
    "nr.employed",
]


@pytest.fixture(scope="module")
def bank() -> pd.DataFrame:
    return generate_bank_marketing(20000, seed=0)


def psi(expected: pd.Series, actual: pd.Series) -> float:
    """Population stability index: decile bins for numbers, categories otherwise."""
    if expected.name in NUMERIC:
        edges = np.unique(np.quantile(expected, np.linspace(0, 1, 11)[1:-1]))
        e = np.bincount(np.searchsorted(edges, expected, side="right"), minlength=len(edges) + 1)
        a = np.bincount(np.searchsorted(edges, actual, side="right"), minlength=len(edges) + 1)
    else:
        categories = sorted(set(expected) | set(actual))
        e = expected.value_counts().reindex(categories, fill_value=0).to_numpy()
        a = actual.value_counts().reindex(categories, fill_value=0).to_numpy()
    e = np.maximum(e / e.sum(), 1e-4)
    a = np.maximum(a / a.sum(), 1e-4)
    return float(np.sum((a - e) * np.log(a / e)))


def test_bank_data_has_the_uci_schema_and_value_ranges(bank):
    assert list(bank.columns) == BANK_COLUMNS
    assert set(bank["y"]) == {"yes", "no"}
    assert set(bank["contact"]) == {"cellular", "telephone"}
    assert set(bank["poutcome"]) == {"nonexistent", "failure", "success"}
    assert set(bank["day_of_week"]) == {"mon", "tue", "wed", "thu", "fri"}
    assert {"admin.", "blue-collar", "technician", "retired", "student", "unknown"} <= set(bank["job"])
    assert {"university.degree", "high.school", "basic.9y"} <= set(bank["education"])
    assert bank["age"].between(17, 98).all() and 35 <= bank["age"].mean() <= 45
    assert bank["euribor3m"].between(0.634, 5.045).all()
    assert bank["nr.employed"].between(4963.6, 5228.1).all()
    assert set(bank.loc[bank["poutcome"] == "nonexistent", "previous"]) == {0}
    assert (bank["pdays"] == 999).mean() > 0.9


def test_about_eleven_percent_say_yes(bank):
    assert (bank["y"] == "yes").mean() == pytest.approx(0.11, abs=0.015)


def test_the_same_seed_gives_the_same_rows():
    assert generate_bank_marketing(500, seed=3).equals(generate_bank_marketing(500, seed=3))
    assert not generate_bank_marketing(500, seed=3).equals(generate_bank_marketing(500, seed=4))


def test_the_target_is_learnable_without_the_leaking_duration(bank):
    train, test = bank.iloc[:14000], bank.iloc[14000:]

    def auc(columns):
        encoded = pd.get_dummies(bank[columns]).astype(float)
        encoded = (encoded - encoded.mean()) / (encoded.std() + 1e-9)
        model = LogisticRegression(max_iter=500).fit(encoded.iloc[:14000], train["y"] == "yes")
        return roc_auc_score(test["y"] == "yes", model.predict_proba(encoded.iloc[14000:])[:, 1])

    without_duration = auc([c for c in BANK_COLUMNS if c not in ("y", "duration")])
    assert 0.74 <= without_duration <= 0.88
    assert auc(["duration"]) > 0.85  # duration alone leaks the answer


def test_shift_drifts_several_features_and_no_shift_none(bank):
    same = generate_bank_marketing(5000, seed=1, shift=0.0)
    shifted = generate_bank_marketing(5000, seed=1, shift=1.0)
    features = [c for c in BANK_COLUMNS if c != "y"]

    assert max(psi(bank[c], same[c]) for c in features) < 0.1
    drifted = {c for c in features if psi(bank[c], shifted[c]) > 0.25}
    assert {"age", "contact", "euribor3m", "nr.employed", "month"} <= drifted


def test_shift_outside_zero_to_one_is_rejected():
    with pytest.raises(ValueError, match="shift"):
        generate_bank_marketing(10, shift=1.5)


def test_multiclass_data_has_several_learnable_segments():
    data = generate_multiclass(3000, seed=0)
    assert data["segment"].nunique() >= 3
    assert data["segment"].value_counts(normalize=True).min() > 0.05
    assert {"region", "channel"} <= set(data.columns)
    by_income = data.groupby("segment")["income"].mean()
    assert by_income["platinum"] > by_income["bronze"]


def test_regression_prices_follow_size():
    data = generate_regression(3000, seed=0)
    assert np.corrcoef(data["sqft"], data["price"])[0, 1] > 0.6
    assert data["age_years"].isna().any() and (data["price"] > 0).all()


def test_sample_config_is_a_valid_bank_model_that_drops_duration():
    config = parse_model_config(SAMPLE_MODEL_YAML, expected_name="bank-marketing")
    assert config.problem_type == "binary_classification" and config.target == "y"
    assert config.drop_columns == ["duration"]
    assert "leak" in SAMPLE_MODEL_YAML and yaml.safe_load(SAMPLE_MODEL_YAML)["name"] == "bank-marketing"


def test_write_csv_writes_a_header_and_no_index(tmp_path):
    frame = generate_regression(20, seed=1)
    path = write_csv(frame, tmp_path / "nested" / "prices.csv")
    assert pd.read_csv(path).shape == frame.shape
