"""`python -m bench --only X` replaces the sections it ran and keeps the others."""

from __future__ import annotations

from pathlib import Path

from bench.report import write_report


def test_a_partial_run_replaces_only_its_own_sections(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"
    write_report(report, ["## Machine\n\nold box", "## Backbone\n\n100/s", "## Federation\n\n300 q/s"])
    write_report(
        report, ["## Machine\n\nnew box", "## Federation\n\n1,100 q/s", "## City\n\n20 min"], merge=True
    )
    text = report.read_text()
    assert text.startswith("# Benchmarks")
    assert "new box" in text and "old box" not in text
    assert "100/s" in text  # kept as it was
    assert "1,100 q/s" in text and "300 q/s" not in text
    assert text.index("## Backbone") < text.index("## Federation") < text.index("## City")
    assert text.count("_Measured ") == 3  # every section but the machine says when it was measured


def test_a_full_run_writes_only_what_it_ran(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"
    write_report(report, ["## Machine\n\nold", "## Gone\n\nx"])
    write_report(report, ["## Machine\n\nnew", "## Backbone\n\ny"])
    assert "## Gone" not in report.read_text()
