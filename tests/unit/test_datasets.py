import itertools
import time

import pytest
from driftline.config import Feature, parse_model_config
from driftline.datasets import validate_csv
from driftline.errors import InvalidDataset

CONFIG = parse_model_config("name: bank\nproblem_type: binary_classification\ntarget: y\ndrop_columns: [duration]\n")
MULTICLASS = parse_model_config("name: bank\nproblem_type: multiclass_classification\ntarget: y\n")
REGRESSION = parse_model_config("name: bank\nproblem_type: regression\ntarget: y\n")
GOOD = b"age,job,duration,y\n41,admin.,120,no\n35,technician,300,yes\n"


def _checked(data: bytes, config=CONFIG, *, known=frozenset(), chunk=7, **kwargs):
    """Feed the file in small chunks, as an S3 body would (chunk edges fall anywhere)."""
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    return validate_csv(chunks, config, known_labels=frozenset(known), **kwargs)


def test_a_well_formed_csv_passes_and_its_features_are_inferred():
    report = _checked(GOOD)

    assert report.inferred_features(CONFIG) == [
        Feature(name="age", type="numeric"),
        Feature(name="job", type="categorical"),
    ]
    assert report.rows == 2 and set(report.labels) == {"no", "yes"}


@pytest.mark.parametrize(
    ("data", "words", "rule"),
    [
        (b"", "empty", "empty"),
        (b"   \n", "empty", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary", "binary"),
        (b"age;job;y\n1;a;no\n", "not commas", "delimiter"),
        (b"age,job,y\n", "no examples", "no-rows"),
        (b"age,job,label\n41,admin.,no\n", "no target column 'y'", "target-column"),
        (b"41,admin.,0\n35,tech,1\n", "no target column", "target-column"),
        (b"age,job,y\n41,admin.,no,extra\n", "line 2 has 4 fields", "field-count"),
        (b"age,age,y\n1,2,no\n", "repeats", "header"),
        (b"\xff\xfeage,y\n", "UTF-8", "encoding"),
        (b"age,,y\n1,2,no\n", "column 2 of the header has no name", "header"),
        (b"age,y\n1,\n2,NA\n", "empty in every row", "no-labels"),
    ],
)
def test_unusable_files_are_rejected_with_a_reason_and_a_rule(data, words, rule):
    with pytest.raises(InvalidDataset, match=words) as raised:
        _checked(data, chunk=1024 * 1024)

    assert raised.value.rule == rule


def test_columns_that_contradict_the_enforced_schema_are_named_by_position_not_by_the_files_header():
    config = CONFIG.model_copy(
        update={"features": [Feature(name="age", type="numeric"), Feature(name="job", type="categorical")]}
    )

    with pytest.raises(InvalidDataset) as raised:
        _checked(b"age,balance,y\n41,100,no\n", config)

    assert "missing feature column(s) job" in str(raised.value)
    assert "unexpected column(s) at position(s) 2" in str(raised.value)
    assert "balance" not in str(raised.value)


def test_text_in_a_numeric_feature_is_rejected_with_line_and_column_but_no_value():
    config = CONFIG.model_copy(update={"features": [Feature(name="age", type="numeric")]})

    with pytest.raises(InvalidDataset, match="numeric feature 'age'") as raised:
        _checked(b"age,y\n41,no\nforty,no\nthirty,yes\n", config)

    assert (raised.value.line, raised.value.column) == (3, 1)
    assert "forty" not in str(raised.value)


def test_missing_values_are_not_schema_violations():
    config = CONFIG.model_copy(update={"features": [Feature(name="age", type="numeric")]})

    _checked(b"age,y\n,no\n33,yes\nNA,no\n", config)


def test_a_ragged_row_far_beyond_the_first_256_kib_is_found():
    body = b"age,job,y\n" + b"41,admin.,no\n35,tech,yes\n" * 20_000 + b"1,2,no,extra\n" + b"41,admin.,no\n"

    with pytest.raises(InvalidDataset, match="line 40002 has 4 fields"):
        _checked(body, chunk=64 * 1024)


def test_unbalanced_quotes_fail_fast_and_name_the_line_where_the_field_opened():
    body = b"a,b,y\n1,2,no\n" + b',"x\n' * 80_000  # ~320 KB that made csv.Sniffer take minutes
    started = time.perf_counter()

    with pytest.raises(InvalidDataset) as raised:
        _checked(body, chunk=64 * 1024)

    assert time.perf_counter() - started < 5
    assert raised.value.rule in {"field-size", "field-count"} and raised.value.line == 3


def test_a_file_without_line_breaks_stops_at_the_line_limit():
    with pytest.raises(InvalidDataset, match="line 2 is longer than") as raised:
        _checked(b"a,y\n" + b"1" * (2 * 1024 * 1024), chunk=1024 * 1024)

    assert raised.value.rule == "line-length"


def test_a_character_split_across_chunks_is_decoded():
    report = _checked("città,y\nRoma,no\nMilano,yes\n".encode(), chunk=4)

    assert report.header == ["città", "y"]


def test_the_check_stops_at_its_time_budget_with_a_reason():
    ticks = itertools.count(step=1.0)  # every look at the clock is a second later
    body = b"age,y\n" + b"41,no\n35,yes\n" * 2_000

    with pytest.raises(InvalidDataset, match="could not be checked within 30 s") as raised:
        _checked(body, budget_seconds=30, clock=lambda: next(ticks))

    assert raised.value.rule == "time-budget"


def test_a_third_class_in_a_binary_model_is_rejected():
    with pytest.raises(InvalidDataset, match="third distinct label") as raised:
        _checked(b"age,y\n1,no\n2,yes\n3,maybe\n")

    assert (raised.value.line, raised.value.column) == (4, 2) and "maybe" not in str(raised.value)


def test_a_new_class_beside_the_models_two_known_classes_is_rejected():
    with pytest.raises(InvalidDataset, match="third distinct label"):
        _checked(b"age,y\n1,no\n2,unknown\n", known={"no", "yes"})


@pytest.mark.parametrize(
    ("known", "body"),
    [
        ({"0", "1"}, b"age,y\n1,0.0\n2,1.0\n"),
        ({"no", "yes"}, b"age,y\n1,No\n"),
        (set(), b"age,y\n1,0\n2,1\n3,1.0\n"),
    ],
)
def test_labels_spelled_differently_from_earlier_ones_are_rejected(known, body):
    with pytest.raises(InvalidDataset, match="differs from an earlier one only in case") as raised:
        _checked(body, known=known)

    assert raised.value.rule == "label-variant"


def test_the_first_data_of_a_binary_model_with_one_class_is_rejected():
    with pytest.raises(InvalidDataset, match="single class") as raised:
        _checked(b"age,y\n1,no\n2,no\n")

    assert raised.value.rule == "single-class"


def test_later_data_with_one_known_class_is_accepted():
    report = _checked(b"age,y\n1,no\n2,no\n", known={"no", "yes"})

    assert set(report.labels) == {"no"}


def test_binary_with_positive_class_accepts_more_labels_as_negatives():
    config = CONFIG.model_copy(update={"positive_class": "yes"})

    report = _checked(b"age,y\n1,no\n2,yes\n3,maybe\n", config)

    assert set(report.labels) == {"no", "yes", "maybe"}


def test_a_multiclass_model_accepts_a_new_class():
    report = _checked(b"age,y\n1,cat\n2,bird\n", MULTICLASS, known={"cat", "dog"})

    assert set(report.labels) == {"cat", "bird"}


def test_a_regression_target_must_be_a_number():
    with pytest.raises(InvalidDataset, match="line 3, column 2 \\('y'\\): the target is not a number"):
        _checked(b"age,y\n1,2.5\n2,high\n", REGRESSION)


def test_a_hostile_header_name_is_rejected_by_position():
    with pytest.raises(InvalidDataset, match="name of column 2 is longer than 128") as raised:
        _checked(b"age," + b"A" * 500 + b",y\n1,2,no\n")

    assert "AAAA" not in str(raised.value)


@pytest.mark.parametrize("spelling", ["inf", "-Infinity", "INF"])
def test_an_infinite_value_in_a_numeric_feature_is_rejected_like_text(spelling):
    config = CONFIG.model_copy(update={"features": [Feature(name="age", type="numeric")]})

    with pytest.raises(InvalidDataset, match="numeric feature 'age'") as raised:
        _checked(f"age,y\n41,no\n{spelling},no\n".encode(), config)

    assert raised.value.line == 3


def test_numbers_in_any_float_spelling_are_numeric():
    config = CONFIG.model_copy(update={"features": [Feature(name="age", type="numeric")]})

    _checked(b"age,y\n1e3,no\n-3,yes\n+.5,no\n 7 ,yes\n", config)


def test_the_first_text_in_a_numeric_feature_is_named_by_its_line_past_the_first_blocks_of_rows():
    config = CONFIG.model_copy(update={"features": [Feature(name="age", type="numeric")]})
    rows = [f"{20 + n % 50},{'yes' if n % 3 else 'no'}" for n in range(3000)]
    rows[2500:] = ["forty,no"] * 500  # from line 2502 (the header is line 1): a sixth of the values are text

    with pytest.raises(InvalidDataset, match="numeric feature 'age'") as raised:
        _checked(("age,y\n" + "\n".join(rows) + "\n").encode(), config, chunk=4096)

    assert (raised.value.line, raised.value.column) == (2502, 1)


def test_each_columns_counts_are_those_of_its_cells_one_by_one():
    cells = ["41", " 7 ", "NA", "", "admin.", "1e3", "inf", "?", "x1", "-2.5"]
    rows = [[cells[(n * 7 + k) % len(cells)] for k in range(3)] + ["yes" if n % 3 else "no"] for n in range(2500)]
    data = ("a,b,c,y\n" + "".join(",".join(row) + "\n" for row in rows)).encode()

    report = _checked(data, chunk=65536)

    for i in range(3):
        present = [
            row[i].strip() for row in rows if row[i].strip().lower() not in {"", "na", "nan", "null", "none", "?"}
        ]
        text = [n for n, row in enumerate(rows) if row[i] in {"admin.", "inf", "x1"}]
        stats = report.columns[i]
        assert (stats.present, stats.non_numeric) == (len(present), len(text))
        assert stats.first_non_numeric_line == text[0] + 2


def test_rows_waiting_for_their_numeric_count_hold_about_one_longest_line_not_the_file():
    import tracemalloc

    columns = 200
    header = ",".join(f"c{i}" for i in range(columns)) + ",y\n"
    row = ",".join(["1" + "0" * 499] * columns)  # a 100 kB row

    def chunks():  # 60 rows, 6 MB, made as they are read
        yield header.encode()
        for n in range(60):
            yield f"{row},{'yes' if n % 2 else 'no'}\n".encode()

    tracemalloc.start()
    try:
        validate_csv(chunks(), CONFIG, known_labels=frozenset())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 4 * 1024 * 1024  # held all 60 rows (over 6 MB) before the block was bounded by characters
