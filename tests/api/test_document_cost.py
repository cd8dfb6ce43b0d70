"""Documents whose cost could grow faster than their text: fragments spread again and
again, fields repeated at every level, many fields sharing a response name. Each is
answered with a clear error or with data, in work linear in the document, and a
document being validated does not hold up other requests."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import SimpleNamespace
from typing import Any

import httpx
from graphql import FragmentDefinitionNode, OperationDefinitionNode, Visitor, parse, visit
from sqlalchemy.ext.asyncio import AsyncEngine

from api.limits import ALIAS_CAP, measure
from resolvers.selection import SelectionReader, _Walk
from schema.registry import Registry
from tests.resolvers.oracle import oracle

GRAPHQL_RESPONSE = "application/graphql-response+json"


def doubling(levels: int, leaf: str) -> str:
    """F0 spreads F1 twice, F1 spreads F2 twice, ...: the last fragment 2^(levels-1) times."""
    fragments = [f"fragment F{i} on Enrollments {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels - 1)]
    fragments.append(f"fragment F{levels - 1} on Enrollments {{ {leaf} }}")
    return "{ enrollments { ...F0 } } " + " ".join(fragments)


def selections(document: str) -> int:
    """How many selections (fields, spreads, inline fragments) the text has."""

    class Count(Visitor):
        found = 0

        def enter_field(self, *_args: Any) -> None:
            self.found += 1

        enter_fragment_spread = enter_inline_fragment = enter_field

    counter = Count()
    visit(parse(document), counter)
    return counter.found


def errors_of(response: httpx.Response) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = response.json().get("errors", [])
    return errors


def test_limits_walk_each_selection_once_and_still_multiply_aliases() -> None:
    text = doubling(22, "a: count")
    assert len(text) < 1_100
    ((operation, found),) = measure(parse(text)).items()
    assert isinstance(operation, OperationDefinitionNode)
    assert found.visits == selections(text) == 2 + 2 * 21 + 1  # enrollments, ...F0, the spreads, a
    assert found.aliases == 2**21  # every spread counts: the response would have that many keys
    assert found.depth == 2
    # far more spreads: the count saturates instead of growing a big integer
    huge = doubling(120, "a: count")
    ((_, found),) = measure(parse(huge)).items()
    assert found.visits == selections(huge) and found.aliases == ALIAS_CAP


def test_limits_through_fragments_at_depth_and_under_introspection() -> None:
    text = """
    query Q { learners { ...E } x: __type(name: "Query") { ...T } }
    fragment E on Learners { enrollments { ...L ...L } a: count }
    fragment L on Enrollments { learner { b: count enrollments { c: count } } }
    fragment T on __Type { n: name ofType { ofType { ofType { ofType { ofType { name } } } } } }
    """
    ((_, found),) = measure(parse(text)).items()
    # learners > enrollments > learner > enrollments > count; introspection adds no depth
    assert found.depth == 5
    assert found.aliases == 1 + 1 + 2 * 2 + 1  # x, a, (b, c) twice, n


def test_cyclic_and_unknown_spreads_are_left_to_the_other_rules() -> None:
    text = """
    { enrollments { ...A ...Missing } }
    fragment A on Enrollments { a: count ...B }
    fragment B on Enrollments { b: count ...A }
    """
    ((_, found),) = measure(parse(text)).items()
    assert found.aliases == 2 and found.visits == selections(text)


async def test_the_22_fragment_document_is_refused_with_a_clear_code(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": doubling(22, "a: count")})
    assert response.status_code == 400, response.text
    (error,) = errors_of(response)
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "2,097,152 aliases" in error["message"] and "30" in error["message"]


async def test_repeated_spreads_without_aliases_are_answered(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    ((total,),) = await oracle(engine, "select count(*) from enrollments")
    for levels in (22, 60):
        response = await client.post("/graphql", json={"query": doubling(levels, "count")})
        assert response.status_code == 200, response.text
        assert response.json() == {"data": {"enrollments": [{"count": total}]}}


def _field(document: str) -> tuple[Any, dict[str, FragmentDefinitionNode]]:
    parsed = parse(document)
    fragments = {d.name.value: d for d in parsed.definitions if isinstance(d, FragmentDefinitionNode)}
    (operation,) = (d for d in parsed.definitions if isinstance(d, OperationDefinitionNode))
    return operation.selection_set.selections[0], fragments


def repeated_at_every_level(copies: int, levels: int) -> str:
    """`learner { ...L1 }` `copies` times, inside it `enrollments { ...L2 }` as often, ...:
    `levels` joins deep, one measure at the bottom."""
    types, joins = ("Enrollments", "Learners"), ("learner", "enrollments")
    fragments = [
        f"fragment L{i} on {types[i % 2]} {{ "
        + " ".join(f"{joins[i % 2]} {{ ...L{i + 1} }}" for _ in range(copies))
        + " }"
        for i in range(levels)
    ]
    fragments.append(f"fragment L{levels} on {types[levels % 2]} {{ count }}")
    return "{ enrollments { ...L0 } } " + " ".join(fragments)


def test_the_selection_walk_collects_each_field_node_once(registry: Registry) -> None:
    """Fields repeated at every level merge into one response key; the walk must not
    collect the repeated subtree once per copy (copies^levels)."""
    root, fragments = _field(repeated_at_every_level(3, 6))
    walk = _Walk(fragments, {})
    nodes = [root]
    for level in range(6):
        ((key, nodes),) = walk.fields(nodes).items()
        assert key == ("learner", "enrollments")[level % 2]
        assert len(nodes) == 3  # the three distinct field nodes, not 3^level copies of them
    info = SimpleNamespace(field_nodes=[root], fragments=fragments, variable_values={})
    selection = SelectionReader(registry).read("enrollments", info)
    assert selection.measures == ("learner.enrollments.learner.enrollments.learner.enrollments.count",)


async def test_fields_repeated_at_every_level_are_answered(client: httpx.AsyncClient) -> None:
    """30 copies at each of 4 levels (810,000 copies of the measure when expanded): the same
    answer as the document written once."""
    once = "{ enrollments { learner { enrollments { learner { enrollments { count } } } } } }"
    expected = await client.post("/graphql", json={"query": once})
    assert expected.status_code == 200 and "errors" not in expected.json(), expected.text
    response = await client.post("/graphql", json={"query": repeated_at_every_level(30, 4)})
    assert response.status_code == 200, response.text
    assert response.json() == expected.json()


async def test_a_costly_document_does_not_hold_up_other_requests(client: httpx.AsyncClient) -> None:
    """280 copies of one field with a subselection: graphql-core compares every pair. The
    comparison budget refuses it, and while it is validated /healthz is answered."""
    costly = "{ " + " ".join("enrollments { course { title } }" for _ in range(280)) + " }"
    slow = asyncio.create_task(client.post("/graphql", json={"query": costly}))
    await asyncio.sleep(0.01)  # the costly request reaches validation
    health = await client.get("/healthz")
    assert health.status_code == 200
    assert not slow.done(), "the event loop waited for the validation of another request"
    response = await slow
    assert response.status_code == 400, response.text
    (error,) = errors_of(response)
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "too complex" in error["message"]


async def test_depth_and_alias_limits_are_validation_failures(client: httpx.AsyncClient) -> None:
    """The README promises GRAPHQL_VALIDATION_FAILED for depth and aliases."""
    deep = "{ learners { enrollments { learner { enrollments { learner { enrollments { learner {"
    deep += " enrollments { learner { count } } } } } } } } } }"
    aliases = "{ " + " ".join(f"a{i}: enrollments {{ count }}" for i in range(31)) + " }"
    for document, word in ((deep, "deep"), (aliases, "aliases")):
        response = await client.post("/graphql", json={"query": document})
        assert response.status_code == 400, response.text
        (error,) = errors_of(response)
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED" and word in error["message"]


async def test_many_overlapping_fragments_are_still_valid(client: httpx.AsyncClient) -> None:
    """The lowered comparison budget leaves room for fragment-heavy clients: 40 fragments
    spread side by side, overlapping in every field."""
    fields = "count learners course { subject title partner { name } } enrolledAt { month }"
    fragments = " ".join(f"fragment F{i} on Enrollments {{ {fields} }}" for i in range(40))
    document = "{ enrollments { " + " ".join(f"...F{i}" for i in range(40)) + " } } " + fragments
    once = await client.post("/graphql", json={"query": "{ enrollments { " + fields + " } }"})
    response = await client.post("/graphql", json={"query": document})
    assert response.status_code == 200, response.text
    assert response.json() == once.json() and "errors" not in once.json()


async def test_documents_are_prepared_two_at_a_time_and_cancelled_ones_dropped(registry: Registry) -> None:
    """The worker threads are bounded; a document whose request went away while it waited
    is never validated."""
    from api.documents import WORKERS, DocumentCache, Prepared
    from api.limits import Limits
    from schema.graphql_types import build_schema

    release, started = threading.Event(), threading.Semaphore(0)
    running, prepared, peak = [0], [], [0]
    lock = threading.Lock()

    class Blocking(DocumentCache):
        def _prepare(self, text: str) -> Prepared:
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
                prepared.append(text)
            started.release()
            release.wait(10)
            with lock:
                running[0] -= 1
            return super()._prepare(text)

    schema = build_schema(registry, lambda *_args, **_kwargs: None)._schema
    cache = Blocking(schema, Limits())
    busy = [
        asyncio.create_task(cache.prepare(f"{{ enrollments {{ count }} }} # {i}")) for i in range(WORKERS)
    ]
    for _ in range(WORKERS):
        await asyncio.to_thread(started.acquire, True, 10)
    # a request that goes away while its document is validated does not free the thread early
    busy[0].cancel()
    later = asyncio.create_task(cache.prepare("{ enrollments { avgProgress } }"))
    # one that goes away while its document waits takes it out of the queue
    waiting = asyncio.create_task(cache.prepare("{ enrollments { learners } }"))
    await asyncio.sleep(0.1)
    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting  # the cancellation reaches the queued work before a thread is freed
    assert prepared == [f"{{ enrollments {{ count }} }} # {i}" for i in range(WORKERS)]
    release.set()
    assert (await busy[1]).validation_errors == ()
    assert (await later).validation_errors == ()
    assert peak[0] == WORKERS == 2
    assert "{ enrollments { learners } }" not in prepared
    # and the next document is prepared as usual
    assert (await cache.prepare("{ enrollments { courses } }")).document is not None
