"""The interpreter parses each JSONPath once and copies a state's data as JSON; executions stay apart."""

from __future__ import annotations

import json
import threading

from jsonpath_ng.parser import JsonPathParser

from .roles import create_service_role
from .waiting import eventually

_MACHINE = {
    "StartAt": "Pick",
    "States": {
        "Pick": {
            "Type": "Pass",
            "Parameters": {"who.$": "$.jsonpath_cache_check.who", "count.$": "$.jsonpath_cache_check.count"},
            "ResultPath": "$.jsonpath_cache_picked",
            "Next": "Which",
        },
        "Which": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.jsonpath_cache_picked.count", "NumericGreaterThan": 1, "Next": "Many"},
            ],
            "Default": "One",
        },
        "Many": {"Type": "Pass", "Result": "many", "ResultPath": "$.jsonpath_cache_verdict", "End": True},
        "One": {"Type": "Pass", "Result": "one", "ResultPath": "$.jsonpath_cache_verdict", "End": True},
    },
}


def _run(aws, machine: str, who: str, count: int) -> dict:
    sfn = aws("stepfunctions")
    payload = {"jsonpath_cache_check": {"who": who, "count": count}}
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps(payload))["executionArn"]

    def finished() -> dict | None:
        described = sfn.describe_execution(executionArn=execution)
        return described if described["status"] != "RUNNING" else None

    done = eventually(finished, timeout=120)
    assert done["status"] == "SUCCEEDED", done
    return json.loads(done["output"])


def test_each_path_is_parsed_once_and_executions_sharing_it_get_their_own_values(stack, aws, cloud, monkeypatch):
    role = f"arn:aws:iam::{cloud.ctx.account_id}:role/jsonpath-cache"
    create_service_role(aws, role, "states.amazonaws.com", "*")
    machine = aws("stepfunctions").create_state_machine(
        name="jsonpath-cache", definition=json.dumps(_MACHINE), roleArn=role
    )["stateMachineArn"]
    parsed: list[str] = []
    lock = threading.Lock()
    real_parse = JsonPathParser.parse

    def counting_parse(self, string, lexer=None):
        if "jsonpath_cache" in string:
            with lock:
                parsed.append(string)
        return real_parse(self, string, lexer)

    monkeypatch.setattr(JsonPathParser, "parse", counting_parse)

    # Given a first execution parsed the machine's paths
    first = _run(aws, machine, "first", 1)
    parsed_by_first = sorted(parsed)

    # When three more executions with other inputs run at the same time
    results: dict[str, dict] = {}

    def run(who: str, count: int) -> None:
        results[who] = _run(aws, machine, who, count)

    threads = [threading.Thread(target=run, args=(f"later-{n}", n)) for n in (1, 2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then each got its own values and verdict, and no path was parsed again
    assert first["jsonpath_cache_picked"] == {"who": "first", "count": 1}
    assert first["jsonpath_cache_verdict"] == "one"
    for n in (1, 2, 3):
        assert results[f"later-{n}"]["jsonpath_cache_picked"] == {"who": f"later-{n}", "count": n}
        assert results[f"later-{n}"]["jsonpath_cache_verdict"] == ("one" if n == 1 else "many")
    assert parsed_by_first, "the first execution parsed its paths"
    assert sorted(parsed) == parsed_by_first


def test_a_states_data_is_copied_whole_and_apart_from_the_original():
    import datetime as dt

    from driftline_local.states import copy_json

    when = dt.datetime(2026, 12, 2, tzinfo=dt.UTC)
    original = {"a": [1, 2.5, {"b": None, "c": True}], "s": "x", "when": when, "pair": ([1], [2])}

    copied = copy_json(original)
    copied["a"][2]["b"] = "changed"
    copied["pair"][0].append(9)

    assert original == {"a": [1, 2.5, {"b": None, "c": True}], "s": "x", "when": when, "pair": ([1], [2])}
    assert copied["a"] == [1, 2.5, {"b": "changed", "c": True}]
    assert copied["pair"] == ([1, 9], [2])  # a value JSON does not have is copied by copy.deepcopy
