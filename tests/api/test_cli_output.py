"""What the CLI prints when piped or asked for JSON: every problem, nothing cut short."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from api.cli import app

LONG = "completion_filter_with_a_rather_long_descriptive_name_for_the_cut_off_case"
BROKEN = f"""
model: enrollments
table: enrollments
primary_key: id
dimensions:
  status: {{type: string}}
measures:
  count: {{type: count}}
  {LONG}: {{type: ratio, numerator: count, denominator: nothing_here}}
  typo: {{type: summ, sql: x}}
"""


def _models(tmp_path: Path) -> Path:
    (tmp_path / "enrollments.yml").write_text(BROKEN)
    return tmp_path


def test_validate_piped_prints_every_problem_in_full(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["validate", "--models", str(_models(tmp_path))], env={"COLUMNS": "60"})
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "# 2 problem(s)" and lines[1] == "file\tmember\tproblem"
    assert (
        f"enrollments.yml\tenrollments.measures.{LONG}\trefers to 'nothing_here', which is not"
        in result.stdout
    )
    assert "enrollments.yml\tenrollments.measures.typo.type\tInput should be" in result.stdout


def test_validate_as_json_for_ci(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["validate", "--models", str(_models(tmp_path)), "--format", "json"])
    assert result.exit_code == 1
    issues = orjson.loads(result.stdout)
    assert {issue["member"] for issue in issues} == {
        f"enrollments.measures.{LONG}",
        "enrollments.measures.typo.type",
    }
    assert all(issue["file"] == "enrollments.yml" and issue["problem"] for issue in issues)


def test_valid_models_as_json(tmp_path: Path) -> None:
    (tmp_path / "enrollments.yml").write_text(BROKEN.split("  " + LONG)[0])
    result = CliRunner().invoke(app, ["validate", "--models", str(tmp_path), "--format", "json"])
    assert result.exit_code == 0, result.stdout
    assert orjson.loads(result.stdout) == {"models": 1, "dashboards": 0, "rows": []}
