from batchmon.core.models import base_model


def test_a_dated_snapshot_names_the_model_that_was_asked_for() -> None:
    assert base_model("gpt-4o-mini-2024-07-18") == "gpt-4o-mini"
    assert base_model("gpt-4.1-mini-2025-04-14") == "gpt-4.1-mini"


def test_a_name_without_a_date_is_itself() -> None:
    assert base_model("gpt-4o-mini") == "gpt-4o-mini"
    assert base_model("o3-mini") == "o3-mini"
