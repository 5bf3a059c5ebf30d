"""
Webhooks: URLs to call when something happens in the registry, recorded as events.

Each webhook is a stream ``webhook:<id>`` of ``webhook.created``, ``webhook.updated`` and
``webhook.deleted`` events, so who added, changed or removed a webhook, and when, is in
the hash-chained log like everything else. Webhooks are few; the projection keeps only
their stream ids, and :class:`Webhooks` folds a webhook's stream when asked (also on a
view as of a past moment, up to that moment's position).

:class:`Webhooks` is composed into :class:`~eventreg.registry.Registry`
(``reg.create_webhook``, ``reg.list_webhooks`` ...) and answers the reads on views too.
What a webhook's ``events`` name is the caller's vocabulary (eventreg event types such as
``alias.promoted``, or MLflow's ``model_version.created``); delivering the calls is the
caller's job (MLflow's server does it for the MLflow store; ``reg.subscribe`` is the
durable way to react to eventreg's own events).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import attrs

from eventreg.domain import events as ev
from eventreg.domain import validation as check
from eventreg.domain.codec import decode_recorded
from eventreg.domain.entities import RegistryState
from eventreg.errors import NotFound, ValidationError
from eventreg.writer import Plan

__all__ = ["STATUSES", "WEBHOOK_COMMANDS", "WEBHOOK_READS", "Webhook", "Webhooks"]

#: The methods composed into Registry that change it (a view refuses them).
WEBHOOK_COMMANDS = ("create_webhook", "delete_webhook", "update_webhook")
#: The reads composed into Registry; a view (``as_of``) answers them too.
WEBHOOK_READS = ("get_webhook", "list_webhooks")
#: A webhook's statuses: called, or kept but not called.
STATUSES = ("ACTIVE", "DISABLED")
_PREFIX = ev.webhook_stream("")
_MAX_URL = 2_000
_MAX_EVENTS = 100


@attrs.frozen(kw_only=True)
class Webhook:
    """
    A webhook as recorded: ``secret`` is what the caller stored (a ciphertext).
    """

    id: str
    name: str
    url: str
    events: tuple[str, ...]
    description: str | None
    status: str
    secret: str | None
    created_at: datetime
    updated_at: datetime
    actor: str | None


class Webhooks:
    """
    The webhook commands and reads of one registry or view (see the module's docstring).
    """

    def __init__(self, registry: Any) -> None:
        self._registry = registry

    # -- commands ----------------------------------------------------------------------------

    def create_webhook(self, name: str, url: str, events: Iterable[str], *, description: str | None = None,
                       secret: str | None = None, status: str = "ACTIVE") -> Webhook:
        """
        Record a webhook that asks for ``url`` to be called on ``events``.

        Args:
            name: a name for people (need not be unique).
            url: an ``http://`` or ``https://`` URL.
            events: what triggers it, e.g. ``["alias.promoted"]`` (at least one).
            description: free text.
            secret: stored as given, forever: store a ciphertext, not the secret itself.
            status: ``ACTIVE`` or ``DISABLED``.

        Returns:
            The new :class:`Webhook` (its ``id`` is new).

        Raises:
            ValidationError: an argument is invalid.
        """
        event = ev.WebhookCreated(
            webhook_id=uuid.uuid4().hex, name=check.check_name(name, "webhook name"), url=_url(url),
            events=_events(events), description=check.check_text(description, "description",
                                                                   check.MAX_DESCRIPTION_LENGTH),
            status=_status(status), secret=check.check_text(secret, "secret", check.MAX_REASON_LENGTH))
        self._registry._execute(lambda state: Plan(ev.webhook_stream(event.webhook_id), [event]))
        return self.get_webhook(event.webhook_id)

    def update_webhook(self, webhook_id: str, *, name: str | None = None, url: str | None = None,
                       events: Iterable[str] | None = None, description: str | None = None,
                       secret: str | None = None, status: str | None = None) -> Webhook:
        """
        Change fields of a webhook (None: unchanged).

        Raises:
            NotFound: there is no such webhook (or it was deleted).
            ValidationError: an argument is invalid.
        """
        event = ev.WebhookUpdated(
            webhook_id=webhook_id, name=None if name is None else check.check_name(name, "webhook name"),
            url=None if url is None else _url(url), events=None if events is None else _events(events),
            description=check.check_text(description, "description", check.MAX_DESCRIPTION_LENGTH),
            secret=check.check_text(secret, "secret", check.MAX_REASON_LENGTH),
            status=None if status is None else _status(status))
        self._command(webhook_id, event)
        return self.get_webhook(webhook_id)

    def delete_webhook(self, webhook_id: str) -> None:
        """
        Delete a webhook: it is no longer listed or called; its events stay in the log.

        Raises:
            NotFound: there is no such webhook (or it was deleted already).
        """
        self._command(webhook_id, ev.WebhookDeleted(webhook_id=webhook_id))

    def _command(self, webhook_id: str, event: Any) -> None:
        def decide(state: RegistryState) -> Plan:
            stream = ev.webhook_stream(webhook_id)
            if self._fold(stream, state.position) is None:
                raise NotFound(f"no webhook {webhook_id!r}")
            return Plan(stream, [event])

        self._registry._execute(decide)

    # -- reads -------------------------------------------------------------------------------

    def get_webhook(self, webhook_id: str) -> Webhook:
        """
        The webhook with this id.

        Raises:
            NotFound: there is no such webhook (or it was deleted).
        """
        with self._registry._reading() as state:
            position = state.position
            exists = ev.webhook_stream(str(webhook_id)) in state.streams
        found = self._fold(ev.webhook_stream(str(webhook_id)), position) if exists else None
        if found is None:
            raise NotFound(f"no webhook {webhook_id!r}")
        return found

    def list_webhooks(self, event: str | None = None) -> list[Webhook]:
        """
        Every webhook not deleted (only those triggered by ``event``, if given), newest first.
        """
        with self._registry._reading() as state:
            position = state.position
            streams = [s for s in state.streams if s.startswith(_PREFIX)]
        found = [w for w in (self._fold(s, position) for s in streams) if w is not None]
        if event is not None:
            found = [w for w in found if event in w.events]
        return sorted(found, key=lambda w: w.created_at, reverse=True)

    def _fold(self, stream: str, position: int) -> Webhook | None:
        """
        The webhook in ``stream`` as of ``position`` (None: none, or deleted).
        """
        found: Webhook | None = None
        for recorded in self._registry.log.read_stream(stream):
            if recorded.position > position:
                break
            e = decode_recorded(recorded)
            if isinstance(e, ev.WebhookCreated):
                found = Webhook(id=e.webhook_id, name=e.name, url=e.url, events=e.events, description=e.description,
                                status=e.status, secret=e.secret, created_at=recorded.recorded_at,
                                updated_at=recorded.recorded_at, actor=recorded.actor)
            elif isinstance(e, ev.WebhookDeleted):
                found = None
            elif found is not None:
                changes = {k: v for k, v in attrs.asdict(e, recurse=False).items() if v is not None}
                changes.pop("webhook_id")
                found = attrs.evolve(found, updated_at=recorded.recorded_at, **changes)
        return found


def _url(url: Any) -> str:
    text = check.check_text(url, "webhook url", _MAX_URL, allow_none=False)
    assert text is not None
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError(f"webhook url {text!r} is not an http:// or https:// URL")
    return text.strip()


def _events(events: Any) -> tuple[str, ...]:
    if isinstance(events, str) or not isinstance(events, Iterable):
        raise ValidationError("webhook events must be a list of event names")
    names = tuple(dict.fromkeys(check.check_name(e, "webhook event") for e in events))
    if not names:
        raise ValidationError("a webhook needs at least one event")
    if len(names) > _MAX_EVENTS:
        raise ValidationError(f"{len(names)} webhook events; the limit is {_MAX_EVENTS}")
    return names


def _status(status: Any) -> str:
    if status not in STATUSES:
        raise ValidationError(f"webhook status must be one of {', '.join(STATUSES)}, not {status!r}")
    return status
