"""model.yaml parsing is bounded: size, nesting depth, alias expansion and duplicate keys are refused with a reason."""

import pytest
from driftline.config import MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH, parse_model_config
from driftline.errors import InvalidModelConfig

MINIMAL = "name: churn\nproblem_type: binary_classification\ntarget: churned\n"


def test_deeply_nested_yaml_is_refused_without_recursion_error():
    deep = MINIMAL + "drop_columns: " + "[" * 5000 + "]" * 5000 + "\n"

    with pytest.raises(InvalidModelConfig, match=f"nesting deeper than {MAX_CONFIG_DEPTH} levels"):
        parse_model_config(deep)


def test_deeply_nested_block_mappings_are_refused():
    deep = MINIMAL + "".join(f"{'  ' * i}k{i}:\n" for i in range(100)) + "  " * 100 + "v: 1\n"

    with pytest.raises(InvalidModelConfig, match="nesting deeper"):
        parse_model_config(deep)


def test_config_over_the_size_cap_is_refused_before_parsing():
    big = MINIMAL + "# padding\n" * (MAX_CONFIG_BYTES // 10)

    with pytest.raises(InvalidModelConfig, match="the limit is 65536 \\(64 KiB\\)"):
        parse_model_config(big)


def test_billion_laughs_is_refused_before_it_expands():
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    bomb = MINIMAL + "\n".join(lines) + "\n"

    with pytest.raises(InvalidModelConfig, match="expands to more than 10000 values"):
        parse_model_config(bomb)


def test_self_referencing_alias_is_refused():
    with pytest.raises(InvalidModelConfig, match="alias refers to a node that contains it"):
        parse_model_config(MINIMAL + "drop_columns: &loop [*loop]\n")


def test_a_few_anchors_and_aliases_are_fine():
    text = MINIMAL + "training: &t\n  instance_type: ml.m5.xlarge\nprocessing:\n  instance_type: ml.m5.xlarge\n"

    assert parse_model_config(text).processing.instance_type == "ml.m5.xlarge"


def test_duplicate_keys_are_refused_not_silently_overwritten():
    text = MINIMAL + "gate:\n  metric: f1\ngate:\n  metric: accuracy\n"

    with pytest.raises(InvalidModelConfig, match="the key 'gate' appears twice"):
        parse_model_config(text)


def test_python_tags_are_not_constructed():
    with pytest.raises(InvalidModelConfig, match="not valid YAML"):
        parse_model_config(MINIMAL + "seed: !!python/object/apply:os.system ['true']\n")
