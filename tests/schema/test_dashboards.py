"""Dashboard files: checked against the models, every problem at once; the demo's four load."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.reload import ModelWatcher
from schema.dashboard_documents import dashboard_view, tile_where
from schema.dashboards import load_directory
from schema.issues import Issue, ModelValidationError
from schema.registry import Registry
from schema.validator import load_registry, with_dashboards

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "schema" / "models"
DASHBOARDS = ROOT / "schema" / "dashboards"

GOOD = """
dashboard: overview
title: Overview
filters:
  period: {title: Period, type: date_range}
tiles:
  - name: by_month
    title: By month
    chart: line
    query: {model: enrollments, measures: [count], dimensions: [enrolled_at.month]}
    listen: {period: enrolled_at}
"""


def issues_in(tmp_path: Path, registry: Registry, files: dict[str, str]) -> list[Issue]:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ModelValidationError) as caught:
        with_dashboards(registry, *load_directory(tmp_path))
    return list(caught.value.issues)


def test_the_demo_ships_four_dashboards() -> None:
    registry = load_registry(MODELS, DASHBOARDS)
    assert set(registry.dashboards) == {
        "university_overview",
        "course_progress",
        "learner_feedback",
        "skills_gained",
    }
    assert registry.dashboard_files["course_progress"] == "course_progress.yml"
    charts = {tile.chart for dashboard in registry.dashboards.values() for tile in dashboard.tiles}
    assert charts == {"line", "bar", "funnel", "number", "table"}


def test_a_missing_folder_is_no_dashboards(tmp_path: Path) -> None:
    assert load_registry(MODELS, tmp_path / "none").dashboards == {}


def test_a_valid_file_loads(tmp_path: Path, registry: Registry) -> None:
    (tmp_path / "overview.yml").write_text(GOOD)
    loaded = with_dashboards(registry, *load_directory(tmp_path))
    assert list(loaded.dashboards) == ["overview"]
    assert loaded.version == registry.version  # dashboards do not invalidate cached results


def test_every_problem_is_reported_at_once(tmp_path: Path, registry: Registry) -> None:
    bad = """
dashboard: broken
title: Broken
filters:
  period: {title: Period, type: date_range}
  subject: {title: Subject, type: select}
  unused: {title: Unused, type: select}
tiles:
  - name: total
    title: Total
    chart: number
    query: {model: enrollments, measures: [count, nope], dimensions: [status]}
    listen: {period: status, subject: course.subject, missing: status}
  - name: steps
    title: Steps
    chart: funnel
    query: {model: module_funnel, measures: [learners_reached], dimensions: [module.position]}
  - name: rows
    title: Rows
    chart: table
    query:
      model: enrollments
      measures: [count]
      dimensions: [course.nothing, enrolled_at.minute]
      filters: [{member: status, op: gt, values: [a]}, {member: status, op: equals, values: [a, b]}]
      segments: [missing]
      order: [{member: completion_rate}]
  - name: rows
    title: Same name
    chart: bar
    query: {model: nowhere, measures: [count]}
"""
    found = {(issue.member, issue.reason) for issue in issues_in(tmp_path, registry, {"broken.yml": bad})}
    assert found == {
        ("broken.tiles.total.query.measures", "unknown measure 'nope' on enrollments"),
        ("broken.tiles.total.chart", "a number tile shows one measure and no dimensions"),
        (
            "broken.tiles.total.listen.period",
            "a date_range filter needs a time dimension; 'status' is a string",
        ),
        ("broken.tiles.total.listen.missing", "the dashboard has no filter 'missing'"),
        (
            "broken.tiles.steps.chart",
            "a funnel tile orders its steps first: order: [{member: module.position}]",
        ),
        ("broken.tiles.rows.query.dimensions", "unknown dimension 'course.nothing' on enrollments"),
        (
            "broken.tiles.rows.query.dimensions",
            "'enrolled_at.minute': a time grain is one of hour, day, week, month, quarter, year",
        ),
        ("broken.tiles.rows.query.filters", "gt is not an operator for 'status' (a string)"),
        ("broken.tiles.rows.query.filters", "equals on 'status' takes 1 value(s), got 2"),
        ("broken.tiles.rows.query.segments", "unknown segment 'missing' of enrollments"),
        ("broken.tiles.rows.query.order", "'completion_rate' is not selected"),
        ("broken.tiles.rows", "two tiles have this name"),
        ("broken.tiles.rows.query.model", "unknown model 'nowhere'"),
        ("broken.filters.unused", "no tile listens to this filter"),
    }


def test_a_wrong_chart_kind_is_a_shape_error(tmp_path: Path, registry: Registry) -> None:
    pie = GOOD.replace("chart: line", "chart: pie")
    [issue] = issues_in(tmp_path, registry, {"overview.yml": pie})
    assert issue.file == "overview.yml"
    assert issue.member == "overview.tiles.by_month.chart"
    assert "'line', 'bar', 'funnel', 'number' or 'table'" in issue.reason


def test_a_line_needs_a_time_grain_first(tmp_path: Path, registry: Registry) -> None:
    text = GOOD.replace("dimensions: [enrolled_at.month]", "dimensions: [status]").replace(
        "listen: {period: enrolled_at}", "listen: {period: enrolled_at}\n    width: 13"
    )
    found = {(issue.member, issue.reason) for issue in issues_in(tmp_path, registry, {"o.yml": text})}
    assert ("overview.tiles.by_month.width", "Input should be less than or equal to 12") in found
    text = GOOD.replace("dimensions: [enrolled_at.month]", "dimensions: [status]")
    [issue] = issues_in(tmp_path, registry, {"o.yml": text})
    assert issue.reason == "a line tile needs a measure and, first among its dimensions, a time grain"


def test_two_files_for_one_dashboard(tmp_path: Path, registry: Registry) -> None:
    [issue] = issues_in(tmp_path, registry, {"a.yml": GOOD, "b.yml": GOOD})
    assert (issue.file, issue.reason) == ("b.yml", "another file (a.yml) defines this dashboard")


def test_tile_documents_and_where(registry: Registry) -> None:
    full = load_registry(MODELS, DASHBOARDS)
    view = dashboard_view(full, full.dashboards["course_progress"])
    funnel = view["tiles"][0]
    assert funnel["document"] == (
        'query CourseProgressFunnel($where: ModuleFunnelWhere, $timezone: String! = "UTC") {\n'
        "  moduleFunnel(where: $where, orderBy: [{module: {position: ASC}}], timezone: $timezone) {\n"
        "    module {\n      position\n    }\n    learnersReached\n    learnersCompleted\n  }\n}\n"
    )
    assert funnel["listen"] == {"course": ["course", "id"], "period": ["reachedAt"]}
    assert [column["title"] for column in funnel["columns"]] == [
        "Module: Position",
        "Learners reaching the module",
        "Learners completing the module",
    ]
    [course, _] = view["filters"]
    assert course["options"]["document"] == (
        "query CourseProgressCourseOptions {\n  courses(orderBy: [{title: ASC}], limit: 1000) {\n"
        "    id\n    title\n  }\n}\n"
    )
    json.dumps(view)  # plain JSON for the page


def test_tile_where_nests_through_joins(tmp_path: Path, registry: Registry) -> None:
    text = GOOD.replace(
        "dimensions: [enrolled_at.month]}",
        "dimensions: [enrolled_at.month], filters: [{member: course.subject, op: in, values: [Art]},"
        " {member: status, op: notSet}, {member: count, op: gte, values: [5]}]}",
    )
    (tmp_path / "overview.yml").write_text(text)
    loaded = with_dashboards(registry, *load_directory(tmp_path))
    tile = loaded.dashboards["overview"].tiles[0]
    assert tile_where(loaded, tile) == {
        "course": {"subject": {"in": ["Art"]}},
        "status": {"set": False},
        "count": {"gte": 5},
    }


def test_cohort_validate_plans_every_tile(tmp_path: Path) -> None:
    models, dashboards = tmp_path / "models", tmp_path / "dashboards"
    models.mkdir()
    dashboards.mkdir()
    for path in MODELS.glob("*.yml"):
        (models / path.name).write_text(path.read_text())
    bad_value = GOOD.replace(
        "dimensions: [enrolled_at.month]}",
        "dimensions: [enrolled_at.month], filters: [{member: enrolled_at, op: afterDate, values: [soon]}]}",
    )
    (dashboards / "overview.yml").write_text(bad_value)
    result = CliRunner().invoke(app, ["validate", "--models", str(models), "--format", "json"])
    assert result.exit_code == 1, result.output
    [problem] = json.loads(result.output)
    assert problem["file"] == "overview.yml"
    assert problem["member"] == "overview.tiles.by_month"
    assert "soon" in problem["problem"]
    (dashboards / "overview.yml").write_text(GOOD)
    result = CliRunner().invoke(app, ["validate", "--models", str(models), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["dashboards"] == 1


def test_a_dashboard_change_reloads_the_schema(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    models, dashboards = tmp_path / "models", tmp_path / "dashboards"
    models.mkdir()
    for path in MODELS.glob("*.yml"):
        (models / path.name).write_text(path.read_text())
    applied: list[Registry] = []
    current = load_registry(models, dashboards)
    watcher = ModelWatcher(models, applied.append, interval_s=60, current=current, dashboards=dashboards)
    assert not watcher.check()
    dashboards.mkdir()
    (dashboards / "overview.yml").write_text(GOOD)
    with caplog.at_level(logging.INFO, "cohort.reload"):
        assert watcher.check()
    assert list(applied[-1].dashboards) == ["overview"]
    assert "(added dashboards overview)" in caplog.text
    (dashboards / "overview.yml").write_text(GOOD.replace("chart: line", "chart: pie"))
    assert not watcher.check()  # invalid: the previous schema keeps serving
    assert list(applied[-1].dashboards) == ["overview"]
