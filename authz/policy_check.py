"""`cohort policies check`: a policy checked against the models, every problem at once.

What it catches before a principal does: rules for models or members that do not exist,
row filters on columns that are not dimensions or on attributes principals cannot carry,
wrong arities and values, and roles that may read a model but have no row rule for it
(every query of theirs on that model would be refused).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from authz.names import ROLE_PREFIX, InvalidNameError, check_name
from schema.paths import PathError, walk
from schema.registry import Registry

_ARITY = {"p": 5, "p2": 5, "p3": 3, "p4": 3, "g": 2}
_ACTIONS = frozenset({"read", "mask", "embed", "ingest"})
_EMBED_OBJECTS = ("role", "tenant")
# What an `ingest` rule may name: events sent with an API token, with a JWT, or either.
INGEST_OBJECTS = frozenset({"events/api_token", "events/jwt", "events/*", "*"})
_EFFECTS = frozenset({"allow", "deny"})
_ANY = "*"


@dataclass(frozen=True, slots=True, order=True)
class PolicyIssue:
    line: int  # 1-based, among the rules given
    rule: str
    reason: str

    def __str__(self) -> str:
        return f"rule {self.line} ({self.rule}): {self.reason}"


class _Checker:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.issues: list[PolicyIssue] = []
        self.readers: dict[str, set[str]] = {}  # role -> models it may read (allow rules in any domain)
        self.row_rules: dict[str, set[str]] = {}  # role -> models with a p2 rule
        self.parents: dict[str, set[str]] = {}  # role -> roles it inherits (g)

    def report(self, n: int, rule: Sequence[str], reason: str) -> None:
        self.issues.append(PolicyIssue(n, ", ".join(rule), reason))

    def role(self, n: int, rule: Sequence[str], subject: str) -> str | None:
        if not subject.startswith(ROLE_PREFIX):
            self.report(n, rule, f"the subject {subject!r} must be a role: role:<name>")
            return None
        try:
            return check_name(subject.removeprefix(ROLE_PREFIX), "role")
        except InvalidNameError as error:
            self.report(n, rule, str(error))
            return None

    def domain(self, n: int, rule: Sequence[str], domain: str) -> None:
        if domain == _ANY:
            return
        try:
            check_name(domain, "tenant")
        except InvalidNameError as error:
            self.report(n, rule, str(error))

    def model(self, n: int, rule: Sequence[str], name: str) -> bool:
        if name not in self.registry:
            self.report(n, rule, f"unknown model {name!r}")
            return False
        return True

    def check(self, n: int, rule: Sequence[str]) -> None:
        ptype, *values = rule
        if ptype not in _ARITY:
            self.report(n, rule, f"unknown rule type {ptype!r}; use p, p2, p3, p4 or g")
            return
        if len(values) != _ARITY[ptype]:
            self.report(n, rule, f"{ptype} rules have {_ARITY[ptype]} fields, this one has {len(values)}")
            return
        if ptype == "g":
            child, parent = (self.role(n, rule, subject) for subject in values)
            if child and parent:
                self.parents.setdefault(child, set()).add(parent)
            return
        role = self.role(n, rule, values[0])
        self.domain(n, rule, values[1])
        match ptype:
            case "p":
                self._access(n, rule, role, *values[2:])
            case "p2":
                self._rows(n, rule, role, *values[2:])
            case "p3":
                if not values[2].isdigit() or int(values[2]) < 1:
                    self.report(n, rule, "the minimum group size must be a whole number of 1 or more")
            case "p4":
                try:
                    if float(values[2]) < 0:
                        raise ValueError
                except ValueError:
                    self.report(n, rule, "the cost budget must be a number of 0 or more")

    def _access(self, n: int, rule: Sequence[str], role: str | None, obj: str, act: str, eft: str) -> None:
        if act not in _ACTIONS:
            self.report(n, rule, f"unknown action {act!r}; use read, mask, embed or ingest")
        if eft not in _EFFECTS:
            self.report(n, rule, f"unknown effect {eft!r}; use allow or deny")
        if act == "embed":
            self._embed(n, rule, obj)
            return
        if act == "ingest" or obj.startswith("events/"):
            if act != "ingest" or obj not in INGEST_OBJECTS:
                objects = ", ".join(sorted(INGEST_OBJECTS - {_ANY}))
                self.report(n, rule, f"an ingest rule names {objects} (or *), with the action ingest")
            return
        if obj == _ANY:
            if role and act == "read" and eft == "allow":
                self.readers.setdefault(role, set()).update(self.registry.models)
            return
        model, _, member = obj.partition(".")
        if not self.model(n, rule, model):
            return
        spec = self.registry.model(model)
        if member and member != _ANY and member not in {*spec.dimensions, *spec.measures}:
            self.report(n, rule, f"{model} has no dimension or measure {member!r}")
        if not member and role and act == "read" and eft == "allow":
            self.readers.setdefault(role, set()).add(model)
        if act == "mask" and member and member in spec.measures:
            self.report(n, rule, "only dimensions can be masked; deny the measure instead")

    def _embed(self, n: int, rule: Sequence[str], obj: str) -> None:
        """`role:<name>` (a role the minter may grant) or `tenant:<name>` (a tenant, other than
        its own, it may mint for), either with `*` for any."""
        kind, sep, name = obj.partition(":")
        if not sep or kind not in _EMBED_OBJECTS:
            self.report(n, rule, "an embed rule's object is role:<name> or tenant:<name> (* for any)")
            return
        if name == _ANY:
            return
        try:
            check_name(name, kind)
        except InvalidNameError as error:
            self.report(n, rule, str(error))

    def _rows(self, n: int, rule: Sequence[str], role: str | None, obj: str, col: str, attr: str) -> None:
        if obj == _ANY:
            if role:
                self.row_rules.setdefault(role, set()).update(self.registry.models)
            if (col, attr) != (_ANY, _ANY):
                self.report(n, rule, "a row rule for every model (*) must be `*, *` (all rows)")
            return
        if not self.model(n, rule, obj):
            return
        if role:
            self.row_rules.setdefault(role, set()).add(obj)
        if col == _ANY or (col == "-" and attr in ("joined", "masked")):
            if col == _ANY and attr != _ANY:
                self.report(n, rule, "column * (all rows) takes the attribute *")
            return
        if col == "-":
            self.report(n, rule, "column - (through a join) takes the attribute joined or masked")
            return
        try:
            steps, name = walk(self.registry, self.registry.model(obj), col)
        except PathError as error:
            self.report(n, rule, str(error))
            return
        if name not in steps[-1].model.dimensions:
            self.report(n, rule, f"{col!r}: {steps[-1].model.model} has no dimension {name!r}")
        if attr != "tenant" and not (attr.startswith("attrs.") and len(attr) > len("attrs.")):
            self.report(n, rule, f"unknown attribute {attr!r}; use tenant or attrs.<name>")

    def coverage(self) -> None:
        """Roles that may read a model without a row rule for it: refused at query time."""
        for role, models in sorted(self.readers.items()):
            covered = set(self.row_rules.get(role, ()))
            for parent in self.parents.get(role, ()):
                covered |= self.row_rules.get(parent, set())
            for model in sorted(models - covered):
                hint = f"p2, role:{role}, *, {model}, <column>, tenant"
                reason = (
                    f"may read {model} but has no row rule (p2) for it, so every query is refused: add {hint}"
                )
                self.issues.append(PolicyIssue(0, f"role:{role}", reason))


def check_policy(rules: Iterable[Sequence[str]], registry: Registry) -> list[PolicyIssue]:
    checker = _Checker(registry)
    for n, rule in enumerate(rules, start=1):
        checker.check(n, tuple(part.strip() for part in rule))
    checker.coverage()
    return sorted(checker.issues)
