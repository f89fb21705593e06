"""The README's results are generated, never typed.

Each section between ``<!-- generated:NAME:start -->`` and ``<!-- generated:NAME:end -->`` must
be exactly what :func:`distill_lib.experiment.story.section` writes from ``runs/NAME``'s JSONs
today, and each committed table (``summary.md``, ``summary.csv``, ``pairwise.csv``,
``runs.csv``) exactly what :meth:`Results.tables` gives. When one fails, regenerate with
``distill-lib report --output-dir runs/NAME --readme README.md --no-figures``.
"""

from __future__ import annotations

import difflib
import functools
import re
import shutil
from pathlib import Path

import pytest
from test_results import _results

from distill_lib.cli import main
from distill_lib.experiment import Results, load_results, story

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
NAMES = re.findall(r"<!-- generated:([\w.-]+):start -->", README.read_text(encoding="utf-8"))
TABLES = ["summary.md", "summary.csv", "pairwise.csv", "runs.csv"]


@functools.cache
def _committed(name: str) -> Results:
    return load_results(ROOT / "runs" / name, log=lambda line: None)


@functools.cache
def _section(name: str) -> str:
    return story.section(_committed(name), name)


def _same(committed: str, generated: str, what: str, name: str) -> None:
    if committed != generated:
        diff = "\n".join(difflib.unified_diff(
            committed.splitlines(), generated.splitlines(), "committed", "generated", lineterm=""))
        pytest.fail(f"{what} is not what runs/{name} gives today; run `distill-lib report "
                    f"--output-dir runs/{name} --readme README.md --no-figures`.\n{diff}")


def test_the_result_sections_are_marked():
    assert {"standard", "classic"} <= set(NAMES)
    assert len(NAMES) == len(set(NAMES))


@pytest.mark.parametrize("name", NAMES)
def test_readme_section_is_generated_from_the_jsons(name):
    committed = story.read_section(README.read_text(encoding="utf-8"), name)
    _same(committed, _section(name), f"README's {name} section", name)


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("name", NAMES)
def test_committed_tables_are_generated_from_the_jsons(name, table):
    committed = (ROOT / "runs" / name / table).read_text(encoding="utf-8")
    _same(committed, _committed(name).tables()[table], f"runs/{name}/{table}", name)


def test_a_collapsed_baseline_gets_no_verdict_in_the_committed_classic_run():
    r = _committed("classic")
    assert "random-init" in r.collapsed_names()
    row = next(line for line in r.table().splitlines() if line.startswith("| random-init"))
    assert "no verdict" in row and "p=" not in row
    text = _section("classic")
    assert "Copying vs random init: no verdict" in _flat(text)
    assert not any("random-init" in line and "Holm p" in line for line in text.splitlines())


# -- the words follow the numbers ---------------------------------------------------------------


def test_trend_and_compare_words_follow_the_numbers():
    assert story.trend([17.4, 17.9]) == "grows"
    assert story.trend([17.9, 17.4]) == "shrinks"
    assert story.trend([-3.0, -5.0]) == "grows"
    assert story.trend([2.0, -1.0]) == "changes sign"
    assert story.trend([2.04, 1.96]) == "stays the same"  # as printed: 2.0 and 2.0
    assert story.compare_word(0.6, 0.9) == "smaller"
    assert story.compare_word(1.2, 0.9) == "larger"
    assert story.compare_word(0.91, 0.94) == "the same"


def _flat(text: str) -> str:
    """The text with line breaks (from wrapping) as single spaces."""
    return " ".join(text.split())


def _set_curves(r: Results, first: list[float], last: list[float]) -> None:
    for name, values in (("first", first), ("last", last)):
        for epoch, value in enumerate(values, 1):
            rows = (r.histories["name"] == name) & (r.histories["epoch"] == epoch)
            r.histories.loc[rows, "val_accuracy"] = value


def test_the_learning_curve_word_flips_with_the_numbers(tmp_path):
    r = _results(tmp_path, {"first": 0.8, "last": 0.7, "uniform": 0.85}, collapsed=set())
    _set_curves(r, [0.70, 0.80], [0.65, 0.70])  # gap +5, then +10
    text = _flat(story.section(r, "toy"))
    assert "epoch 1: +5.0, epoch 2: +10.0" in text and "the gap grows" in text
    _set_curves(r, [0.70, 0.80], [0.60, 0.78])  # gap +10, then +2
    text = _flat(story.section(r, "toy"))
    assert "epoch 1: +10.0, epoch 2: +2.0" in text and "the gap shrinks" in text
    one = _results(tmp_path, {"first": 0.8, "last": 0.7}, collapsed=set(), seeds=(0,))
    one.histories = one.histories[one.histories["epoch"] == 1]
    assert "one point per student" in _flat(story.section(one, "toy"))


def test_the_out_of_domain_word_flips_with_the_numbers(tmp_path):
    r = _results(tmp_path, {"first": 0.8, "last": 0.7, "uniform": 0.85}, collapsed=set())
    r.teacher["cross_domain"] = {"tweets": {"accuracy": 0.7, "predicted_counts": [60, 40]}}
    best = r.best
    gap_in = 100 * (0.9 - r.summary.set_index("name").loc[best, "mean_accuracy"])
    for student, word in ((0.7 - gap_in / 100 - 0.05, "larger"),
                          (0.7 - gap_in / 100 + 0.05, "smaller")):
        r.summary["accuracy[tweets]"] = [student if n == best else 0.6 if n != "teacher" else 0.7
                                         for n in r.summary["name"]]
        bullets = _flat(story.section(r, "toy")).split(" - ")
        line = next(x for x in bullets if x.startswith("`tweets`:"))
        assert f"{word} than in domain" in line, line


def test_copying_vs_random_init_has_no_p_value_when_random_init_collapsed(tmp_path):
    r = _results(tmp_path, {"first": 0.8, "uniform": 0.85, "random-init": 0.5},
                 collapsed={"random-init"})
    text = _flat(story.section(r, "toy"))
    assert "Copying vs random init: no verdict" in text
    assert "beats `random-init`" not in text
    r = _results(tmp_path, {"first": 0.8, "uniform": 0.85, "random-init": 0.65}, collapsed=set())
    assert "`uniform` beats `random-init`" in _flat(story.section(r, "toy"))


# -- the markers and the command ----------------------------------------------------------------


def test_replace_section_keeps_everything_outside_the_markers():
    start, end = story.markers("toy")
    text = f"# head\n\n{start}\nold\n{end}\n\ntail\n"
    new = story.replace_section(text, "toy", "new\nlines")
    assert new == f"# head\n\n{start}\nnew\nlines\n{end}\n\ntail\n"
    assert story.read_section(new, "toy") == "new\nlines"
    for broken in ("no markers", f"{end}\n{start}", f"{start}\n{start}\n{end}"):
        with pytest.raises(ValueError, match="generated:toy:start"):
            story.replace_section(broken, "toy", "x")


def test_report_without_markers_is_one_usage_line(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# nothing to replace\n")
    code = main(["report", "--output-dir", str(tmp_path / "standard"), "--readme", str(readme),
                 "--no-figures"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "<!-- generated:standard:start -->" in err and "<!-- generated:standard:end -->" in err
    assert readme.read_text() == "# nothing to replace\n"


def test_report_rewrites_only_the_marked_section(tmp_path, capsys):
    folder = tmp_path / "classic"
    shutil.copytree(ROOT / "runs" / "classic", folder)
    start, end = story.markers("classic")
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{start}\nstale table\n{end}\noutro\n")
    code = main(["report", "--output-dir", str(folder), "--readme", str(readme), "--no-figures"])
    assert code == 0, capsys.readouterr().err
    text = readme.read_text()
    assert text.startswith(f"intro\n{start}\n") and text.endswith(f"\n{end}\noutro\n")
    assert "stale table" not in text
    assert story.read_section(text, "classic") == _section("classic")  # the same JSONs


def test_every_figure_the_readme_shows_is_committed():
    shown = re.findall(r"!\[[^\]]*\]\((figures/[^)]+)\)", README.read_text(encoding="utf-8"))
    assert shown  # the check has figures to check
    assert [p for p in shown if not (ROOT / p).is_file()] == []
