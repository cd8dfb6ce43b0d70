"""The validator reports every problem in the model files, with file, member and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from schema.issues import Issue, ModelValidationError
from schema.validator import load_registry, registry_from_texts

MODELS = Path(__file__).resolve().parents[2] / "schema" / "models"

COURSES = """
model: courses
table: courses
primary_key: id
joins:
  enrollments: {model: enrollments, relationship: one_to_many, sql: "{courses}.id = {enrollments}.course_id"}
dimensions:
  subject: {type: string}
measures:
  count: {type: count}
"""

ENROLLMENTS = """
model: enrollments
table: enrollments
primary_key: id
joins:
  course: {model: courses, relationship: many_to_one, sql: "{enrollments}.course_id = {courses}.id"}
dimensions:
  status: {type: string}
  enrolled_at: {type: time, granularities: [day, month]}
measures:
  count: {type: count}
  completed: {type: count, filter: "{TABLE}.status = 'completed'"}
  completion_rate: {type: ratio, numerator: completed, denominator: count}
segments:
  active: {sql: "{TABLE}.status = 'active'"}
"""


def issues_of(files: dict[str, str]) -> list[Issue]:
    with pytest.raises(ModelValidationError) as caught:
        registry_from_texts(files)
    return list(caught.value.issues)


def only_issue(files: dict[str, str]) -> Issue:
    issues = issues_of(files)
    assert len(issues) == 1, issues
    return issues[0]


def with_enrollments(text: str) -> dict[str, str]:
    return {"courses.yml": COURSES, "enrollments.yml": text}


def test_the_base_models_are_valid() -> None:
    registry = registry_from_texts(with_enrollments(ENROLLMENTS))
    assert sorted(registry.models) == ["courses", "enrollments"]
    assert registry.files["enrollments"] == "enrollments.yml"


def test_the_demo_models_are_valid() -> None:
    registry = load_registry(MODELS)
    assert {"enrollments", "progress_events", "feedback", "skill_scores", "module_funnel"} <= set(
        registry.models
    )


def test_invalid_yaml() -> None:
    issue = only_issue(with_enrollments("model: [unclosed"))
    assert issue.file == "enrollments.yml"
    assert "not valid YAML" in issue.reason


def test_duplicate_yaml_keys_are_not_silently_overwritten() -> None:
    text = ENROLLMENTS.replace(
        "  status: {type: string}", "  status: {type: string}\n  status: {type: number}"
    )
    issue = only_issue(with_enrollments(text))
    assert "duplicate key 'status'" in issue.reason


def test_duplicate_model_names_across_files() -> None:
    issues = issues_of({**with_enrollments(ENROLLMENTS), "copy.yml": COURSES})
    assert {issue.file for issue in issues} == {"courses.yml", "copy.yml"}
    assert all("defined in" in issue.reason for issue in issues)


def test_unknown_join_target() -> None:
    text = ENROLLMENTS.replace("model: courses,", "model: classes,").replace("{courses}.id", "{classes}.id")
    issue = only_issue(with_enrollments(text))
    assert (issue.member, issue.reason) == ("enrollments.joins.course", "unknown model 'classes'")


def test_ratio_of_measures_that_do_not_exist() -> None:
    text = ENROLLMENTS.replace("numerator: completed", "numerator: finished")
    issue = only_issue(with_enrollments(text))
    assert issue.member == "enrollments.measures.completion_rate"
    assert "'finished'" in issue.reason


def test_number_measure_with_unknown_reference_and_cycles() -> None:
    text = ENROLLMENTS + "  a: {type: number, sql: '{b} + {ghost}'}\n  b: {type: number, sql: '{a} * 2'}\n"
    text = text.replace("segments:\n  active: {sql: \"{TABLE}.status = 'active'\"}\n", "")
    text += "segments:\n  active: {sql: \"{TABLE}.status = 'active'\"}\n"
    reasons = [issue.reason for issue in issues_of(with_enrollments(text))]
    assert any("'ghost'" in reason for reason in reasons)
    assert any("cycle: a -> b -> a" in reason for reason in reasons)


def test_wrong_types_and_unknown_keys() -> None:
    text = (
        ENROLLMENTS.replace("completed: {type: count,", "completed: {type: median,")
        .replace("status: {type: string}", "status: {type: string, granularities: [day]}")
        .replace("  count: {type: count}", "  count: {type: count, colour: blue}")
    )
    issues = issues_of(with_enrollments(text))
    members = {issue.member for issue in issues}
    assert "enrollments.measures.completed.type" in members  # not a measure type
    assert "enrollments.measures.count.colour" in members  # unknown key
    # Shape errors stop a file before the cross-member rules, so each is reported by pydantic.
    assert all(issue.file == "enrollments.yml" for issue in issues)


def test_member_rules_report_all_problems_of_a_file_at_once() -> None:
    text = (
        ENROLLMENTS.replace("status: {type: string}", "status: {type: string, granularities: [day]}")
        .replace("completed: {type: count, filter", "total: {type: sum}\n  completed: {type: count, filter")
        .replace("{TABLE}.status = 'active'", "{courses}.subject = 'x'")
    )
    issues = issues_of(with_enrollments(text))
    assert {(i.member, i.reason.split(" ")[0]) for i in issues} == {
        ("enrollments.dimensions.status", "granularities"),
        ("enrollments.measures.total", "a"),
        ("enrollments.segments.active", "SQL"),
    }


def test_fields_that_would_collide_in_graphql() -> None:
    text = ENROLLMENTS.replace("  count: {type: count}", "  count: {type: count}\n  status: {type: count}")
    issue = only_issue(with_enrollments(text))
    assert issue.member == "enrollments.measures.status"
    assert "clashes with dimensions.status" in issue.reason


def test_names_must_be_snake_case_without_double_underscores() -> None:
    text = ENROLLMENTS.replace("  status: {type: string}", "  status__raw: {type: string}")
    issue = only_issue(with_enrollments(text))
    assert issue.member == "enrollments.dimensions.status__raw"


def test_exactly_one_of_table_or_sql() -> None:
    text = ENROLLMENTS.replace("table: enrollments", "table: enrollments\nsql: select 1")
    assert "exactly one of" in only_issue(with_enrollments(text)).reason


def test_join_sql_must_name_both_models() -> None:
    text = ENROLLMENTS.replace('"{enrollments}.course_id = {courses}.id"', '"{enrollments}.course_id = 1"')
    issue = only_issue(with_enrollments(text))
    assert issue.member == "enrollments.joins.course"
    assert "must refer to ['courses']" in issue.reason


def test_inconsistent_relationships_on_both_sides() -> None:
    text = ENROLLMENTS.replace("relationship: many_to_one", "relationship: one_to_one")
    issues = issues_of(with_enrollments(text))
    assert {issue.member for issue in issues} == {"enrollments.joins.course", "courses.joins.enrollments"}


def test_join_cycle() -> None:
    def model(name: str, target: str) -> str:
        return (
            f"model: {name}\ntable: {name}\nprimary_key: id\n"
            f"joins:\n  next: {{model: {target}, relationship: many_to_one,"
            f' sql: "{{{name}}}.next_id = {{{target}}}.id"}}\n'
        )

    issue = only_issue({"a.yml": model("a", "b"), "b.yml": model("b", "c"), "c.yml": model("c", "a")})
    assert issue.reason == "join cycle: a -> b -> c -> a"


def test_every_issue_at_once_across_files() -> None:
    bad_courses = COURSES.replace("model: enrollments,", "model: nowhere,").replace(
        "{enrollments}.course_id", "{nowhere}.course_id"
    )
    bad_enrollments = ENROLLMENTS.replace("denominator: count", "denominator: total")
    issues = issues_of({"courses.yml": bad_courses, "enrollments.yml": bad_enrollments})
    assert [(i.file, i.member) for i in issues] == [
        ("courses.yml", "courses.joins.enrollments"),
        ("enrollments.yml", "enrollments.measures.completion_rate"),
    ]
    message = str(ModelValidationError(issues))
    assert message.startswith("2 problem(s)") and "courses.yml: courses.joins.enrollments" in message


def test_refresh_rules_and_learner_count() -> None:
    both = ENROLLMENTS.replace("primary_key: id", 'primary_key: id\nrefresh: {every: 60, sql: "select 1"}')
    assert "not both" in only_issue(with_enrollments(both)).reason
    wrong = ENROLLMENTS.replace("primary_key: id", "primary_key: id\nlearner_count: completion_rate")
    issue = only_issue(with_enrollments(wrong))
    assert issue.member == "enrollments.learner_count" and "count_distinct" in issue.reason


def test_shape_and_meaning_problems_are_reported_in_one_run() -> None:
    """A measure of the wrong shape does not hide what else is wrong with the model."""
    broken = (
        ENROLLMENTS.replace("  count: {type: count}", "  count: {type: count}\n  typo: {type: summ, sql: x}")
        .replace("numerator: completed", "numerator: complete")
        .replace("model: courses, relationship", "model: coursez, relationship")
    )
    issues = issues_of(with_enrollments(broken))
    reasons = {(issue.member, issue.reason.split(":")[0][:30]) for issue in issues}
    assert ("enrollments.measures.typo.type", "Input should be 'count', 'coun") in reasons, issues
    assert any(
        i.member == "enrollments.measures.completion_rate" and "'complete'" in i.reason for i in issues
    )
    assert any(
        i.member == "enrollments.joins.course" and "unknown model 'coursez'" in i.reason for i in issues
    )


def test_a_reference_to_a_member_of_the_wrong_shape_is_not_reported_twice() -> None:
    broken = ENROLLMENTS.replace(
        "  completed: {type: count, filter:", "  completed: {type: count, numerator: x, filter:"
    )
    issues = issues_of(with_enrollments(broken))
    assert [i.member for i in issues] == ["enrollments.measures.completed"], issues
