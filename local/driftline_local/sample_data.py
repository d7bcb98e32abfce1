"""Seeded synthetic data for demos and tests.

`generate_bank_marketing` has the schema of the UCI bank-marketing data ("bank-additional", used in
"Learn Amazon SageMaker"): the same columns, category values and ranges, a ~11% "yes" rate, and a
target that depends on the features in a learnable way. `duration` (the call length, known only after
the call) leaks the target as it does in the real data, so the sample config drops it. `shift` moves
the population (older clients, more landline calls, another season and economy, another job mix) so
the drift monitor has something to find.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

BANK_COLUMNS = [
    "age",
    "job",
    "marital",
    "education",
    "default",
    "housing",
    "loan",
    "contact",
    "month",
    "day_of_week",
    "duration",
    "campaign",
    "pdays",
    "previous",
    "poutcome",
    "emp.var.rate",
    "cons.price.idx",
    "cons.conf.idx",
    "euribor3m",
    "nr.employed",
    "y",
]

SAMPLE_MODEL_YAML = """\
# Sample config for the bank-marketing model (synthetic data with the UCI bank-marketing schema).
name: bank-marketing
problem_type: binary_classification
target: y
drop_columns:
  # duration is the length of the sales call, known only once the call is over: it leaks the target
  # (a long call almost always means "yes"), so a model trained with it is useless before the call.
  - duration
"""

# (category, weight at shift=0, weight at shift=1)
_JOBS = [
    ("admin.", 25.3, 18.0),
    ("blue-collar", 22.5, 12.0),
    ("technician", 16.4, 12.0),
    ("services", 9.6, 8.0),
    ("management", 7.1, 14.0),
    ("retired", 4.2, 16.0),
    ("entrepreneur", 3.5, 5.0),
    ("self-employed", 3.5, 7.0),
    ("housemaid", 2.6, 3.0),
    ("unemployed", 2.5, 2.0),
    ("student", 2.1, 2.0),
    ("unknown", 0.8, 1.0),
]
_MARITAL = [("married", 60.5), ("single", 28.1), ("divorced", 11.2), ("unknown", 0.2)]
_EDUCATION = [
    ("university.degree", 29.5),
    ("high.school", 23.1),
    ("basic.9y", 14.7),
    ("professional.course", 12.7),
    ("basic.4y", 10.1),
    ("basic.6y", 5.6),
    ("unknown", 4.2),
    ("illiterate", 0.1),
]
_DEFAULT = [("no", 79.1), ("unknown", 20.9), ("yes", 0.02)]
_HOUSING = [("yes", 52.4), ("no", 45.2), ("unknown", 2.4)]
_LOAN = [("no", 82.4), ("yes", 15.2), ("unknown", 2.4)]
_MONTHS = [
    ("may", 33.4, 12.0),
    ("jul", 17.4, 10.0),
    ("aug", 15.0, 10.0),
    ("jun", 12.9, 10.0),
    ("nov", 10.0, 12.0),
    ("apr", 6.4, 14.0),
    ("oct", 1.7, 10.0),
    ("sep", 1.4, 8.0),
    ("mar", 1.3, 8.0),
    ("dec", 0.4, 6.0),
]
_DAYS = ["mon", "tue", "wed", "thu", "fri"]
# Economic periods of the real data: emp.var.rate, cons.price.idx, cons.conf.idx, euribor3m, nr.employed,
# then the period's weight at shift=0 and at shift=1 (the shifted population sits in the 2009-10 slump).
_ECONOMY = [
    (1.4, 93.918, -42.7, 4.962, 5228.1, 16.0, 3.0),
    (1.4, 93.444, -36.1, 4.963, 5228.1, 12.0, 2.0),
    (1.1, 93.994, -36.4, 4.857, 5191.0, 19.0, 3.0),
    (-0.1, 93.200, -42.0, 4.076, 5195.8, 9.0, 3.0),
    (-1.8, 92.893, -46.2, 1.299, 5099.1, 14.0, 10.0),
    (-2.9, 92.963, -40.8, 1.262, 5076.2, 4.0, 12.0),
    (-1.8, 93.075, -47.1, 1.405, 5099.1, 6.0, 8.0),
    (-0.2, 92.756, -45.9, 3.053, 5176.3, 0.5, 4.0),
    (-3.4, 92.431, -26.9, 0.754, 5017.5, 2.5, 14.0),
    (-1.1, 94.199, -37.5, 0.880, 4963.6, 2.0, 14.0),
    (-3.0, 92.713, -33.0, 0.720, 5023.5, 0.5, 10.0),
    (-1.7, 94.055, -39.8, 0.720, 4991.6, 1.5, 12.0),
]
_MONTH_EFFECT = {"mar": 1.2, "dec": 0.9, "sep": 0.9, "oct": 0.9, "apr": 0.2, "may": -0.5, "jul": -0.1}
_JOB_EFFECT = {"student": 0.5, "retired": 0.4, "blue-collar": -0.3, "services": -0.2, "admin.": 0.1}
_INTERCEPT = -2.68  # gives ~11% "yes" at shift=0


def _weights(table: list[tuple], shift: float) -> np.ndarray:
    base = np.array([row[-2] for row in table], dtype=float)
    moved = np.array([row[-1] for row in table], dtype=float)
    mixed = (1 - shift) * base / base.sum() + shift * moved / moved.sum()
    return mixed / mixed.sum()


def _choice(rng: np.random.Generator, table: list[tuple], rows: int, shift: float | None = None) -> np.ndarray:
    names = np.array([row[0] for row in table], dtype=object)
    if shift is None:
        weights = np.array([row[1] for row in table], dtype=float)
        weights = weights / weights.sum()
    else:
        weights = _weights(table, shift)
    return names[rng.choice(len(table), size=rows, p=weights)]


def generate_bank_marketing(rows: int, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    """`rows` synthetic bank-marketing calls; `shift` in [0, 1] moves the population away from shift=0."""
    if not 0.0 <= shift <= 1.0:
        raise ValueError(f"shift must be between 0 and 1, got {shift}")
    rng = np.random.default_rng(seed)

    age = np.clip(np.round(rng.gamma(9.0, 4.4, rows) + 0.5 + 9.0 * shift), 17, 98).astype(int)
    job = _choice(rng, _JOBS, rows, shift)
    job[(age >= 65) & (rng.random(rows) < 0.6)] = "retired"
    job[(age <= 23) & (rng.random(rows) < 0.4)] = "student"
    marital = _choice(rng, _MARITAL, rows)
    marital[(age <= 25) & (rng.random(rows) < 0.6)] = "single"
    education = _choice(rng, _EDUCATION, rows)
    default = _choice(rng, _DEFAULT, rows)
    housing = _choice(rng, _HOUSING, rows)
    loan = np.where(housing == "unknown", "unknown", _choice(rng, _LOAN, rows))
    contact = np.where(rng.random(rows) < 0.635 - 0.35 * shift, "cellular", "telephone").astype(object)
    month = _choice(rng, _MONTHS, rows, shift)
    day_of_week = np.array(_DAYS, dtype=object)[rng.integers(0, len(_DAYS), rows)]
    campaign = np.minimum(rng.geometric(0.42, rows), 43)

    previous = np.minimum(rng.geometric(0.86, rows) - 1, 7)
    poutcome = np.where(
        previous == 0, "nonexistent", np.where(rng.random(rows) < 0.28 + 0.1 * previous, "success", "failure")
    ).astype(object)
    pdays = np.where(poutcome == "success", rng.integers(1, 28, rows), 999)
    pdays = np.where((poutcome == "failure") & (rng.random(rows) < 0.05), rng.integers(1, 28, rows), pdays)

    period = rng.choice(len(_ECONOMY), size=rows, p=_weights(_ECONOMY, shift))
    economy = np.array([row[:5] for row in _ECONOMY], dtype=float)[period]
    emp_var_rate = economy[:, 0]
    cons_price_idx = economy[:, 1]
    cons_conf_idx = np.round(economy[:, 2] + 5.0 * shift, 1)
    euribor3m = np.round(np.clip(economy[:, 3] + rng.normal(0.0, 0.04, rows), 0.634, 5.045), 3)
    nr_employed = economy[:, 4]

    logit = (
        _INTERCEPT
        - 0.011 * (nr_employed - 5167.0)
        - 0.25 * (euribor3m - 3.6)
        + np.where(poutcome == "success", 2.0, np.where(poutcome == "failure", 0.2, 0.0))
        + np.array([_MONTH_EFFECT.get(m, 0.0) for m in month])
        - 0.55 * (contact == "telephone")
        + 0.9 * (age >= 60)
        + 0.45 * (age <= 24)
        + np.array([_JOB_EFFECT.get(j, 0.0) for j in job])
        - 0.07 * (campaign - 1)
        - 0.3 * (default == "unknown")
        + 0.15 * (education == "university.degree")
    )
    yes = rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))
    duration = np.where(yes, rng.lognormal(np.log(480.0), 0.55, rows), rng.lognormal(np.log(165.0), 0.75, rows))
    duration = np.clip(np.round(duration), 0, 4918).astype(int)

    frame = pd.DataFrame(
        {
            "age": age,
            "job": job,
            "marital": marital,
            "education": education,
            "default": default,
            "housing": housing,
            "loan": loan,
            "contact": contact,
            "month": month,
            "day_of_week": day_of_week,
            "duration": duration,
            "campaign": campaign,
            "pdays": pdays,
            "previous": previous,
            "poutcome": poutcome,
            "emp.var.rate": emp_var_rate,
            "cons.price.idx": cons_price_idx,
            "cons.conf.idx": cons_conf_idx,
            "euribor3m": euribor3m,
            "nr.employed": nr_employed,
            "y": np.where(yes, "yes", "no"),
        }
    )
    return frame[BANK_COLUMNS]


def generate_multiclass(rows: int, seed: int = 0) -> pd.DataFrame:
    """Customer segments (bronze/silver/gold/platinum) from spend, visits, tenure, region and channel."""
    rng = np.random.default_rng(seed)
    income = np.round(rng.lognormal(np.log(52000.0), 0.45, rows), -2)
    visits = rng.poisson(6.0, rows)
    tenure_months = rng.integers(1, 121, rows)
    region = np.array(["north", "south", "east", "west"], dtype=object)[rng.integers(0, 4, rows)]
    channel = np.array(["web", "store", "phone"], dtype=object)[rng.choice(3, rows, p=[0.5, 0.35, 0.15])]
    value = (
        1.6 * np.log(income / 52000.0)
        + 0.25 * (visits - 6)
        + 0.015 * (tenure_months - 60)
        + np.where(region == "west", 0.7, np.where(region == "south", -0.5, 0.0))
        + np.where(channel == "store", 0.5, np.where(channel == "phone", -0.4, 0.0))
        + rng.normal(0.0, 0.3, rows)
    )
    segment = np.array(["bronze", "silver", "gold", "platinum"], dtype=object)[np.digitize(value, [-0.6, 0.4, 1.3])]
    return pd.DataFrame(
        {
            "income": income,
            "visits": visits,
            "tenure_months": tenure_months,
            "region": region,
            "channel": channel,
            "segment": segment,
        }
    )


def generate_regression(rows: int, seed: int = 0) -> pd.DataFrame:
    """House prices from size, rooms, age (2% missing), neighbourhood and condition."""
    rng = np.random.default_rng(seed)
    sqft = np.round(rng.normal(1800.0, 550.0, rows).clip(400, 6000))
    bedrooms = np.clip(np.round(sqft / 600 + rng.normal(0.0, 0.7, rows)), 1, 7).astype(int)
    age_years = rng.integers(0, 100, rows).astype(float)
    neighborhood = np.array(["downtown", "suburb", "riverside", "hills", "industrial"], dtype=object)[
        rng.integers(0, 5, rows)
    ]
    condition = np.array(["poor", "fair", "good", "excellent"], dtype=object)[
        rng.choice(4, rows, p=[0.1, 0.3, 0.45, 0.15])
    ]
    premium = {"downtown": 1.35, "suburb": 1.0, "riverside": 1.2, "hills": 1.5, "industrial": 0.75}
    quality = {"poor": 0.8, "fair": 0.93, "good": 1.0, "excellent": 1.15}
    price = (
        (60000.0 + 140.0 * sqft + 9000.0 * bedrooms - 650.0 * age_years + 3.0 * np.maximum(age_years - 70, 0) ** 2)
        * np.array([premium[n] for n in neighborhood])
        * np.array([quality[c] for c in condition])
        * rng.lognormal(0.0, 0.08, rows)
    )
    age_years[rng.random(rows) < 0.02] = np.nan
    return pd.DataFrame(
        {
            "sqft": sqft,
            "bedrooms": bedrooms,
            "age_years": age_years,
            "neighborhood": neighborhood,
            "condition": condition,
            "price": np.round(price, -2),
        }
    )


def write_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write with a header row and no index (missing values as empty fields); returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(target, index=False)
    return target
