"""Access decisions on semantic queries with the default policy (no SQL involved)."""

from __future__ import annotations

import logging

import pytest

from authz.audit import Audit
from authz.authorizer import Authorizer
from authz.enforcer import PolicyEnforcer
from authz.errors import AccessDenied
from authz.names import InvalidNameError
from authz.policy_store import DEFAULT_POLICY, read_policy_file
from authz.principal import Principal
from schema.query import And, Condition, DimensionRef, EffectiveQuery, Or, SemanticQuery
from schema.registry import Registry

UNI = "northbridge-university"
ACME = "acme-corp"


@pytest.fixture(scope="module")
def enforcer() -> PolicyEnforcer:
    return PolicyEnforcer(read_policy_file(DEFAULT_POLICY), version=1)


@pytest.fixture
def authorize(registry: Registry, enforcer: PolicyEnforcer):  # type: ignore[no-untyped-def]
    authorizer = Authorizer(lambda: enforcer, Audit())

    def run(principal: Principal, query: SemanticQuery) -> EffectiveQuery:
        return authorizer.authorize(registry, principal, query)

    return run


def who(*roles: str, tenant: str = UNI, **attrs: str | int) -> Principal:
    return Principal(subject="user:test", tenant=tenant, roles=roles, attributes=attrs)


def query(
    model: str, *dimensions: str, measures: tuple[str, ...] = ("count",), **kwargs: object
) -> SemanticQuery:
    return SemanticQuery(
        model, measures=measures, dimensions=tuple(DimensionRef(d) for d in dimensions), **kwargs
    )  # type: ignore[arg-type]


def test_platform_admin_reads_everything_unfiltered(authorize) -> None:  # type: ignore[no-untyped-def]
    effective = authorize(who("platform_admin"), query("learners", "email"))
    assert effective.mandatory_filters == () and effective.masked == frozenset()


def test_university_admin_is_scoped_on_every_model_of_the_join_tree(authorize) -> None:  # type: ignore[no-untyped-def]
    effective = authorize(who("university_admin"), query("enrollments", "course.subject", "learner.country"))
    assert set(effective.mandatory_filters) == {
        And((Condition("partner_id", "equals", (UNI,)),)),
        And((Condition("course.partner_id", "equals", (UNI,)),)),
        Condition("learners", "gte", (5,)),  # small groups suppressed
        Condition("learner.count", "gte", (5,)),
    }


def test_enterprise_admin_sees_the_catalog_but_only_their_learners(authorize) -> None:  # type: ignore[no-untyped-def]
    effective = authorize(
        who("enterprise_admin", tenant=ACME),
        query("courses", "subject", measures=("count", "enrollments.count")),
    )
    assert And((Condition("enrollments.enterprise_id", "equals", (ACME,)),)) in effective.mandatory_filters
    assert not any("partner_id" in repr(f) for f in effective.mandatory_filters)


def test_learners_only_through_a_filtered_model(authorize) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AccessDenied, match="no rows of learners"):
        authorize(who("university_admin"), query("learners", "country"))
    authorize(who("university_admin"), query("enrollments", "learner.country"))


def test_instructor_rows_and_masked_identity(authorize) -> None:  # type: ignore[no-untyped-def]
    effective = authorize(who("instructor", instructor_id=7), query("enrollments", "learner.email", "status"))
    assert effective.masked == frozenset({"learner.email"})
    assert (
        And(
            (
                Condition("course.instructor_id", "equals", (7,)),
                Condition("partner_id", "equals", (UNI,)),
            )
        )
        in effective.mandatory_filters
    )
    with pytest.raises(AccessDenied, match="masked"):
        authorize(
            who("instructor", instructor_id=7),
            query("enrollments", filters=(Condition("learner.email", "contains", ("@",)),)),
        )


def test_instructor_without_the_attribute_gets_nothing(authorize) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AccessDenied, match="no rows of courses"):
        authorize(who("instructor"), query("courses", "title"))


def test_partner_integration_cannot_select_learner_identity(authorize) -> None:  # type: ignore[no-untyped-def]
    authorize(who("partner_integration"), query("enrollments", "learner.country"))
    for member in ("learner.email", "learner.full_name", "learner.id"):
        with pytest.raises(AccessDenied, match=r"may not read learners\."):
            authorize(who("partner_integration"), query("enrollments", member))
    with pytest.raises(AccessDenied, match=r"feedback\.comment"):
        authorize(who("partner_integration"), query("feedback", "comment", measures=("responses",)))


def test_a_model_without_a_rule_is_denied(authorize) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AccessDenied, match="may not read instructors"):
        authorize(who("enterprise_admin", tenant=ACME), query("instructors", "full_name"))
    with pytest.raises(AccessDenied, match="may not read"):
        authorize(who("nobody"), query("courses", "title"))


def test_roles_combine_rows_with_or_and_denials_win(authorize, registry: Registry) -> None:  # type: ignore[no-untyped-def]
    two = who("university_admin", "instructor", instructor_id=3)
    effective = authorize(two, query("courses", "title"))
    assert isinstance(effective.mandatory_filters[0], Or)
    # partner_integration denies learner e-mail even when another role would allow it
    with pytest.raises(AccessDenied):
        authorize(who("university_admin", "partner_integration"), query("enrollments", "learner.email"))


def test_tenant_specific_deny_overrides(registry: Registry) -> None:
    rules = [
        *read_policy_file(DEFAULT_POLICY),
        ("p", "role:enterprise_admin", ACME, "feedback", "read", "deny"),
    ]
    authorizer = Authorizer(lambda: PolicyEnforcer(rules, 2), Audit())
    with pytest.raises(AccessDenied):
        authorizer.authorize(
            registry, who("enterprise_admin", tenant=ACME), query("feedback", measures=("nps",))
        )
    authorizer.authorize(
        registry, who("enterprise_admin", tenant="globex"), query("feedback", measures=("nps",))
    )


def test_denials_are_audited(authorize, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    with caplog.at_level(logging.WARNING, logger="cohort.audit"), pytest.raises(AccessDenied):
        authorize(who("enterprise_admin", tenant=ACME), query("instructors", "email"))
    record = caplog.records[-1].getMessage()
    assert '"principal":"user:test"' in record and f'"tenant":"{ACME}"' in record
    assert '"models":["instructors"]' in record and "may not read instructors" in record


@pytest.mark.parametrize(
    "bad", ["", "*", "acme,corp", "a:b", "role:x", "a b", "x" * 129, "acme\x00", "a/b", "-lead", "ü"]
)
def test_unsafe_tenant_and_role_names_are_refused(bad: str) -> None:
    with pytest.raises(InvalidNameError, match="no separators, wildcards"):
        Principal(subject="user:x", tenant=bad, roles=("instructor",))
    with pytest.raises(InvalidNameError):
        Principal(subject="user:x", tenant="acme", roles=(bad,))


@pytest.mark.parametrize(
    "tenant", ["BBB", "3", "0f8fad5b-d9cb-469f-a165-70867728950e", "acme.example", "Acme_Corp", "x" * 128]
)
def test_a_warehouses_own_tenant_values_are_names(tenant: str) -> None:
    assert Principal(subject="user:x", tenant=tenant, roles=("University_Admin",)).tenant == tenant


def test_organizations_are_the_own_one_at_the_root_and_masked_or_shown_when_joined(authorize) -> None:  # type: ignore[no-untyped-def]
    root = authorize(who("university_admin"), query("organizations", "name"))
    assert And((Condition("id", "equals", (UNI,)),)) in root.mandatory_filters
    assert root.row_masks == ()
    # A university admin: the learners' enterprises keep their rows, their names are shown
    # only where the organization is the admin's own (`-, masked`).
    joined = authorize(who("university_admin"), query("enrollments", "learner.enterprise.name"))
    assert not any("enterprise.id" in repr(item) for item in joined.mandatory_filters)
    assert joined.row_masks == (
        ("learner.enterprise", And((Condition("learner.enterprise.id", "equals", (UNI,)),))),
    )
    # An enterprise admin: the universities are the course catalog (`-, joined`), shown.
    partner = authorize(who("enterprise_admin", tenant=ACME), query("enrollments", "course.partner.name"))
    assert not any("partner.id" in repr(item) for item in partner.mandatory_filters)
    assert partner.row_masks == ()


@pytest.mark.parametrize(
    "roles", [("enterprise_admin", "university_admin"), ("university_admin", "enterprise_admin")]
)
def test_masking_wins_whatever_the_order_of_the_roles(authorize, roles: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    effective = authorize(who(*roles), query("enrollments", "learner.enterprise.name"))
    assert [path for path, _ in effective.row_masks] == ["learner.enterprise"]


def test_counts_of_a_masked_model_are_allowed(authorize) -> None:  # type: ignore[no-untyped-def]
    effective = authorize(
        who("university_admin"), query("enrollments", measures=("learner.enterprise.count",))
    )
    assert effective.row_masks


@pytest.mark.parametrize(
    ("tenant", "fits"), [("3", True), ("03", False), ("-0", False), ("9223372036854775807", True)]
)
def test_only_canonical_integers_are_integer_tenants(tenant: str, fits: bool) -> None:
    from authz.authorizer import _typed

    assert (_typed(tenant, "number") is not None) is fits
