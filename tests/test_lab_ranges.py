"""The shipped ranges the notebooks print beside a student's run (written by bench/lab_robustness.py)."""

import json
from importlib import resources

from gan_atelier.lab import EXPERIMENTS
from gan_atelier.lab.report import expected_ranges


def test_the_shipped_ranges_cover_every_experiment_and_are_consistent():
    table = json.loads(resources.files("gan_atelier.lab").joinpath("ranges.json").read_text(encoding="utf-8"))
    assert set(table) == set(EXPERIMENTS)
    for entry in table.values():
        assert entry["runs"]
        for conclusion in entry["conclusions"].values():
            assert 0 <= conclusion["held"] <= conclusion["runs"] <= len(entry["runs"])
        for numbers in entry["ranges"].values():
            assert numbers["min"] <= numbers["max"] and 1 <= numbers["runs"] <= len(entry["runs"])


def test_expected_ranges_quotes_each_conclusion_with_its_frequency():
    text = expected_ranges("mode-collapse")
    table = json.loads(resources.files("gan_atelier.lab").joinpath("ranges.json").read_text(encoding="utf-8"))
    for conclusion in table["mode-collapse"]["conclusions"].values():
        assert f"{conclusion['text']}: held in {conclusion['held']} of {conclusion['runs']} runs" in text
    assert expected_ranges("no-such-experiment") == ""


def test_numbers_past_three_digits_are_written_whole():
    from gan_atelier.lab.report import fmt

    assert (fmt(1063.4), fmt(-20481.0), fmt(999.4), fmt(0.01234), fmt(float("nan"))) == (
        "1,063", "-20,481", "999", "0.0123", "n/a")
