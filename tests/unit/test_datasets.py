import pytest
from driftline.config import Feature, parse_model_config
from driftline.datasets import check_against_config, infer_features, read_sample
from driftline.errors import InvalidDataset

CONFIG = parse_model_config("name: bank\nproblem_type: binary_classification\ntarget: y\ndrop_columns: [duration]\n")
GOOD = b"age,job,duration,y\n41,admin.,120,no\n35,technician,300,yes\n"


def _checked(data: bytes, config=CONFIG):
    sample = read_sample(data, complete=True)
    check_against_config(sample, config)
    return sample


def test_a_well_formed_csv_passes_and_its_features_are_inferred():
    sample = _checked(GOOD)

    assert infer_features(sample, CONFIG) == [Feature(name="age", type="numeric"),
                                              Feature(name="job", type="categorical")]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary"),
        (b"age;job;y\n1;a;no\n", "not commas"),
        (b"age,job,y\n", "no examples"),
        (b"age,job,label\n41,admin.,no\n", "no target column 'y'"),
        (b"41,admin.,0\n35,tech,1\n", "no target column"),
        (b"age,job,y\n41,admin.,no,extra\n", "line 2 has 4 fields"),
        (b"age,age,y\n1,2,no\n", "repeats"),
        (b"\xff\xfeage,y\n", "UTF-8"),
    ],
)
def test_unusable_files_are_rejected_with_a_reason(data, words):
    with pytest.raises(InvalidDataset, match=words):
        _checked(data)


def test_columns_that_contradict_the_enforced_schema_are_named():
    config = CONFIG.model_copy(update={"features": [Feature(name="age", type="numeric"),
                                                    Feature(name="job", type="categorical")]})

    with pytest.raises(InvalidDataset) as raised:
        _checked(b"age,balance,y\n41,100,no\n", config)

    assert "missing feature column(s) job" in str(raised.value)
    assert "unexpected column(s) balance" in str(raised.value)


def test_text_in_a_numeric_feature_is_rejected():
    config = CONFIG.model_copy(update={"features": [Feature(name="age", type="numeric")]})

    with pytest.raises(InvalidDataset, match="numeric feature 'age'"):
        _checked(b"age,y\nforty,no\nthirty,yes\n", config)


def test_missing_values_are_not_schema_violations():
    config = CONFIG.model_copy(update={"features": [Feature(name="age", type="numeric")]})

    _checked(b"age,y\n,no\n33,yes\nNA,no\n", config)


def test_a_partial_read_ignores_the_cut_last_line():
    sample = read_sample(b"age,y\n41,no\n35,ye", complete=False)

    assert sample.rows == [["41", "no"]]
