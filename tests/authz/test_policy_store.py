"""The policy in PostgreSQL: a failed first load fails closed, and the server recovers by
itself once the policy can be read."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from authz.audit import Audit
from authz.authorizer import Authorizer
from authz.enforcer import PolicyEnforcer
from authz.errors import PolicyUnavailable
from authz.policy_store import DEFAULT_POLICY, PolicyHolder, PolicyStore, read_policy_file
from authz.principal import Principal
from schema.query import SemanticQuery
from schema.registry import Registry

pytestmark = pytest.mark.integration


async def test_an_unloaded_policy_refuses_everything_until_it_loads(
    engine: AsyncEngine, registry: Registry
) -> None:
    store = PolicyStore(engine)
    holder = PolicyHolder(store, PolicyEnforcer([], version=-1))  # as after a failed start-up
    authorizer = Authorizer(holder, Audit())
    admin = Principal(subject="user:x", tenant="cohort-platform", roles=("platform_admin",))
    query = SemanticQuery("courses", measures=("count",))
    with pytest.raises(PolicyUnavailable):
        authorizer.authorize(registry, admin, query)
    assert await holder.refresh()
    assert holder.current.version == await store.version() >= 1
    assert authorizer.authorize(registry, admin, query).mandatory_filters == ()
    assert not await holder.refresh()  # unchanged version: nothing reloaded


async def test_the_database_holds_the_policy_file(engine: AsyncEngine) -> None:
    rules = await PolicyStore(engine).rules()
    assert rules == read_policy_file(DEFAULT_POLICY)
