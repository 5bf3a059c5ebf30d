"""
The projection of governance: admins, roles, keys, alias policies and requests.

:class:`GovernanceState` is one field of the registry's projection; :data:`HANDLERS`
fold the events of :mod:`eventreg.domain.governance_events` into it (plain functions of
their arguments, like the rest of :mod:`eventreg.domain.state`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from eventreg.domain import governance_events as gev

#: A request's statuses.
OPEN, EXECUTED, CONDITIONS_FAILED = "open", "executed", "conditions_failed"
REJECTED, WITHDRAWN = "rejected", "withdrawn"


@attrs.define(kw_only=True)
class KeyState:
    key_id: str
    owner: str
    public_key: str
    printed_name: str | None
    registered_at: datetime
    registered_position: int
    revoked_position: int | None = None
    revoked_at: datetime | None = None


@attrs.define(kw_only=True)
class Policy:
    model: str
    alias: str
    approvals: int
    approvers: list[str]
    require: list[str]
    emergency: list[str]
    signed: bool
    reason: str | None
    actor: str | None
    at: datetime
    position: int


@attrs.frozen(kw_only=True)
class Decision:
    """
    One recorded decision on a request: who, when, what it means, and its signature.

    ``meaning`` is ``authored`` (filed), ``approved``, ``rejected`` or ``withdrawn``;
    ``key_id`` is the key whose signature the event carries (None: unsigned).
    """

    actor: str | None
    meaning: str
    reason: str | None
    at: datetime
    position: int
    key_id: str | None = None


@attrs.define(kw_only=True)
class FiledRequest:
    """
    What a request to move (or unprotect) a protected alias says as it is filed: the
    fields :class:`RequestState` (the projection's) and the public, frozen
    :class:`eventreg.governance.Request` share.
    """

    request_id: str
    model: str
    alias: str
    action: str
    version: int | None
    reason: str | None
    requester: str | None
    filed_at: datetime
    position: int

    def filed(self) -> dict[str, Any]:
        """
        These fields by name.
        """
        return {field.name: getattr(self, field.name) for field in attrs.fields(FiledRequest)}


@attrs.define(kw_only=True)
class RequestState(FiledRequest):
    status: str = OPEN
    decisions: list[Decision] = attrs.field(factory=list)
    checks: list[dict[str, Any]] = attrs.field(factory=list)
    #: the position of the alias move (or unprotection) the request caused
    executed_position: int | None = None

    @property
    def approvers(self) -> list[str]:
        """
        The distinct actors who approved, in order.
        """
        seen: list[str] = []
        for decision in self.decisions:
            if decision.meaning == "approved" and decision.actor not in seen:
                seen.append(decision.actor)  # type: ignore[arg-type]
        return seen


@attrs.define(kw_only=True)
class GovernanceState:
    enabled_by: str | None = None
    enabled_at: datetime | None = None
    enabled_position: int | None = None
    #: role -> members, in the order granted
    roles: dict[str, list[str]] = attrs.field(factory=dict)
    keys: dict[str, KeyState] = attrs.field(factory=dict)
    #: model -> alias -> policy
    policies: dict[str, dict[str, Policy]] = attrs.field(factory=dict)
    requests: dict[str, RequestState] = attrs.field(factory=dict)
    #: position of an alias move -> the request that caused it, or "emergency"
    moves: dict[int, str] = attrs.field(factory=dict)

    def policy(self, model: str, alias: str) -> Policy | None:
        """
        The policy protecting ``alias`` of ``model``, or None.
        """
        return self.policies.get(model, {}).get(alias)

    def qualifies(self, actor: str, allowed: list[str]) -> bool:
        """
        Whether ``actor`` is named in ``allowed`` or holds one of its ``role:NAME`` roles.
        """
        for item in allowed:
            if item.startswith("role:"):
                if actor in self.roles.get(item[5:], ()):
                    return True
            elif item == actor:
                return True
        return False

    def is_admin(self, actor: str) -> bool:
        return actor in self.roles.get(gev.ADMIN_ROLE, ())

    def active_key(self, key_id: str | None, actor: str) -> KeyState | None:
        """
        The registered, unrevoked key ``key_id`` of ``actor``, or None.
        """
        key = self.keys.get(key_id) if key_id else None
        if key is None or key.revoked_position is not None or key.owner != actor:
            return None
        return key


def _gov(state: Any) -> GovernanceState:
    return state.governance


def _key_of(r: Any) -> str | None:
    metadata = r.metadata
    return metadata.get("signed_by") if metadata and "signature" in metadata else None


def _enabled(state: Any, e: gev.GovernanceEnabled, r: Any) -> None:
    gov = _gov(state)
    if gov.enabled_by is None:
        gov.enabled_by, gov.enabled_at, gov.enabled_position = e.admin, r.recorded_at, r.position
    members = gov.roles.setdefault(gev.ADMIN_ROLE, [])
    if e.admin not in members:
        members.append(e.admin)


def _role_granted(state: Any, e: gev.RoleGranted, r: Any) -> None:
    members = _gov(state).roles.setdefault(e.role, [])
    if e.member not in members:
        members.append(e.member)


def _role_revoked(state: Any, e: gev.RoleRevoked, r: Any) -> None:
    members = _gov(state).roles.get(e.role, [])
    if e.member in members:
        members.remove(e.member)


def _key_registered(state: Any, e: gev.KeyRegistered, r: Any) -> None:
    _gov(state).keys[e.key_id] = KeyState(key_id=e.key_id, owner=e.owner, public_key=e.public_key,
                                          printed_name=e.printed_name, registered_at=r.recorded_at,
                                          registered_position=r.position)


def _key_revoked(state: Any, e: gev.KeyRevoked, r: Any) -> None:
    key = _gov(state).keys[e.key_id]
    if key.revoked_position is None:
        key.revoked_position, key.revoked_at = r.position, r.recorded_at


def _protected(state: Any, e: gev.AliasProtected, r: Any) -> None:
    _gov(state).policies.setdefault(e.model, {})[e.alias] = Policy(
        model=e.model, alias=e.alias, approvals=e.approvals, approvers=list(e.approvers), require=list(e.require),
        emergency=list(e.emergency), signed=e.signed, reason=e.reason, actor=r.actor, at=r.recorded_at,
        position=r.position)


def _unprotected(state: Any, e: gev.AliasUnprotected, r: Any) -> None:
    gov = _gov(state)
    gov.policies.get(e.model, {}).pop(e.alias, None)
    request = gov.requests.get(e.request_id)
    if request is not None:
        request.executed_position = r.position


def _filed(state: Any, e: gev.RequestFiled, r: Any) -> None:
    request = RequestState(request_id=e.request_id, model=e.model, alias=e.alias, action=e.action,
                           version=e.version, reason=e.reason, requester=r.actor, filed_at=r.recorded_at,
                           position=r.position)
    request.decisions.append(Decision(actor=r.actor, meaning="authored", reason=e.reason, at=r.recorded_at,
                                      position=r.position, key_id=_key_of(r)))
    _gov(state).requests[e.request_id] = request


def _decision(meaning: str, status: str | None) -> Any:
    def fold(state: Any, e: Any, r: Any) -> None:
        request = _gov(state).requests[e.request_id]
        request.decisions.append(Decision(actor=r.actor, meaning=meaning, reason=e.reason, at=r.recorded_at,
                                          position=r.position, key_id=_key_of(r)))
        if status is not None:
            request.status = status

    return fold


def _decided(state: Any, e: gev.RequestDecided, r: Any) -> None:
    gov = _gov(state)
    request = gov.requests[e.request_id]
    request.checks = [dict(check) for check in e.checks]
    request.status = EXECUTED if e.executed else CONDITIONS_FAILED
    if e.moved:
        request.executed_position = r.position + 1  # the alias move appended with it
        gov.moves[r.position + 1] = e.request_id


def _emergency(state: Any, e: gev.EmergencyRollback, r: Any) -> None:
    _gov(state).moves[r.position + 1] = "emergency"


#: Fold function per governance event class.
HANDLERS: dict[type, Any] = {
    gev.GovernanceEnabled: _enabled,
    gev.RoleGranted: _role_granted,
    gev.RoleRevoked: _role_revoked,
    gev.KeyRegistered: _key_registered,
    gev.KeyRevoked: _key_revoked,
    gev.AliasProtected: _protected,
    gev.AliasUnprotected: _unprotected,
    gev.RequestFiled: _filed,
    gev.RequestApproved: _decision("approved", None),
    gev.RequestRejected: _decision("rejected", REJECTED),
    gev.RequestWithdrawn: _decision("withdrawn", WITHDRAWN),
    gev.RequestDecided: _decided,
    gev.EmergencyRollback: _emergency,
}
