"""The store a request reads and writes: the app's store, opened once and shared by every
request, and its public copy for readers who may not see restricted records."""

from __future__ import annotations

import threading

from flask import current_app

from triedbefore.graph.engines import open_store
from triedbefore.graph.store import Store
from triedbefore.ingest.pipeline import PublicCopy, run
from triedbefore.web.auth import current_user

_STORE_LOCK = threading.Lock()


def may_see_restricted() -> bool:
    """Whether this request's user may see restricted records: signed in with the
    ``RESTRICTED_ROLE`` role or a higher one."""
    user = current_user()
    return user is not None and user.has_role(current_app.config["RESTRICTED_ROLE"])


def get_store() -> Store:
    """The store this request reads: the whole graph for users who may see restricted
    records, the public copy (the graph without them) for everyone else. Every page, table,
    search, count and console statement reads through this, so restricted records reach
    only those users."""
    store = full_store()
    if may_see_restricted():
        return store
    public = store.public_copy()
    checked = current_app.extensions.setdefault("triedbefore_public_checked", set())
    if id(store) not in checked:  # a graph loaded before the copy existed: make it now
        with _STORE_LOCK:
            if id(store) not in checked:
                if not store.has_public_copy():
                    run(store, PublicCopy())
                checked.add(id(store))
    return public


def full_store() -> Store:
    """The app's store, opened once and shared by every request (both clients pool their
    connections and are safe across threads): the whole graph, for writes and for users
    who may see restricted records."""
    store: Store | None = current_app.config["STORE"] or \
        current_app.extensions.get("triedbefore_store")
    if store is None:
        with _STORE_LOCK:
            store = current_app.extensions.get("triedbefore_store")
            if store is None:
                store = open_store(current_app.config["STORE_URI"])
                current_app.extensions["triedbefore_store"] = store
    return store
