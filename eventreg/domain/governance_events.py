"""
The events of governance: admins, roles, signing keys, protected aliases, requests.

Registry-wide facts (who administers governance, roles, public keys) live on the
``governance`` stream. Everything about one model's aliases (its policies, the requests to
move a protected alias, their approvals and outcome) lives on the model's stream, so the
approval that meets a quorum and the promotion it causes are one append with the model
stream's expected version: concurrent approvers reach one outcome.

Who approved is the event's actor; whether an approval was signed, and with which key, is
in the event's metadata (see :mod:`eventreg.signing`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

#: The stream of registry-wide governance facts.
GOVERNANCE_STREAM = "governance"
#: The role whose members administer governance (roles, keys, policies).
ADMIN_ROLE = "admin"


@attrs.frozen(kw_only=True)
class GovernanceEnabled:
    """
    Governance turned on; ``admin`` (who turned it on) is its first administrator.
    """

    type: ClassVar[str] = "governance.enabled"
    schema_version: ClassVar[int] = 1
    admin: str


@attrs.frozen(kw_only=True)
class RoleGranted:
    type: ClassVar[str] = "governance.role_granted"
    schema_version: ClassVar[int] = 1
    role: str
    member: str
    reason: str | None = None


@attrs.frozen(kw_only=True)
class RoleRevoked:
    type: ClassVar[str] = "governance.role_revoked"
    schema_version: ClassVar[int] = 1
    role: str
    member: str
    reason: str | None = None


@attrs.frozen(kw_only=True)
class KeyRegistered:
    """
    An Ed25519 public key (raw 32 bytes, base64) that signs for ``owner`` from here on;
    ``printed_name`` is the name a signed record shows.
    """

    type: ClassVar[str] = "governance.key_registered"
    schema_version: ClassVar[int] = 1
    key_id: str
    owner: str
    public_key: str
    printed_name: str | None = None
    reason: str | None = None


@attrs.frozen(kw_only=True)
class KeyRevoked:
    """
    A key no longer signs: a signature by it at a later position fails verification.
    """

    type: ClassVar[str] = "governance.key_revoked"
    schema_version: ClassVar[int] = 1
    key_id: str
    reason: str | None = None


# -- on the model's stream ------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class AliasProtected:
    """
    ``alias`` of ``model`` moves only through approved requests.

    ``approvers`` holds actor names and ``role:NAME`` items; ``require`` holds search
    filters the version must match when the quorum is met; ``emergency`` names who may roll
    the alias back without approval (recorded as an emergency rollback).
    """

    type: ClassVar[str] = "alias.protected"
    schema_version: ClassVar[int] = 1
    model: str
    alias: str
    approvals: int
    approvers: tuple[str, ...]
    require: tuple[str, ...] = ()
    emergency: tuple[str, ...] = ()
    signed: bool = False
    reason: str | None = None


@attrs.frozen(kw_only=True)
class AliasUnprotected:
    type: ClassVar[str] = "alias.unprotected"
    schema_version: ClassVar[int] = 1
    model: str
    alias: str
    request_id: str


@attrs.frozen(kw_only=True)
class RequestFiled:
    """
    A request to ``action`` (``promote``, ``rollback`` or ``unprotect``) a protected alias.
    """

    type: ClassVar[str] = "request.filed"
    schema_version: ClassVar[int] = 1
    model: str
    request_id: str
    action: str
    alias: str
    version: int | None = None
    reason: str | None = None


@attrs.frozen(kw_only=True)
class RequestApproved:
    type: ClassVar[str] = "request.approved"
    schema_version: ClassVar[int] = 1
    model: str
    request_id: str
    reason: str | None = None


@attrs.frozen(kw_only=True)
class RequestRejected:
    type: ClassVar[str] = "request.rejected"
    schema_version: ClassVar[int] = 1
    model: str
    request_id: str
    reason: str | None = None


@attrs.frozen(kw_only=True)
class RequestWithdrawn:
    type: ClassVar[str] = "request.withdrawn"
    schema_version: ClassVar[int] = 1
    model: str
    request_id: str
    reason: str | None = None


@attrs.frozen(kw_only=True)
class RequestDecided:
    """
    The quorum of a request was met: ``approvers`` (distinct), the ``require`` conditions
    evaluated then (``checks``: ``{"condition", "ok"}``), and whether it was carried out
    (``executed``; when ``moved``, the alias move is the next event of the same append).
    """

    type: ClassVar[str] = "request.decided"
    schema_version: ClassVar[int] = 1
    model: str
    request_id: str
    approvers: tuple[str, ...]
    checks: tuple[dict[str, Any], ...] = ()
    executed: bool
    moved: bool = False


@attrs.frozen(kw_only=True)
class EmergencyRollback:
    """
    The next event (an ``alias.rolled_back``) was done without approval, as an emergency.
    """

    type: ClassVar[str] = "alias.emergency_rollback"
    schema_version: ClassVar[int] = 1
    model: str
    alias: str
    reason: str


GOVERNANCE_EVENT_CLASSES: tuple[type, ...] = (
    GovernanceEnabled, RoleGranted, RoleRevoked, KeyRegistered, KeyRevoked,
    AliasProtected, AliasUnprotected, RequestFiled, RequestApproved, RequestRejected,
    RequestWithdrawn, RequestDecided, EmergencyRollback,
)


def summarize(kind: str, p: dict[str, Any]) -> str | None:
    """
    One line saying what a governance event did (None for another type).
    """
    model, alias, request = p.get("model"), p.get("alias"), p.get("request_id")
    texts = {
        "governance.enabled": lambda: f"turned governance on; {p.get('admin')} is its first admin",
        "governance.role_granted": lambda: f"granted role {p.get('role')} to {p.get('member')}",
        "governance.role_revoked": lambda: f"revoked role {p.get('role')} from {p.get('member')}",
        "governance.key_registered": lambda: f"registered signing key {p.get('key_id')} for {p.get('owner')}"
        + (f" ({p['printed_name']})" if p.get("printed_name") else ""),
        "governance.key_revoked": lambda: f"revoked signing key {p.get('key_id')}",
        "alias.protected": lambda: f"protected {alias} of {model}: {p.get('approvals')} approval(s) by "
        + ", ".join(map(str, p.get("approvers") or ())),
        "alias.unprotected": lambda: f"lifted the protection of {alias} of {model} (request {request})",
        "request.filed": lambda: f"requested {p.get('action')} of {alias} of {model}"
        + (f" to version {p['version']}" if p.get("version") is not None else "") + f" (request {request})",
        "request.approved": lambda: f"approved request {request}",
        "request.rejected": lambda: f"rejected request {request}",
        "request.withdrawn": lambda: f"withdrew request {request}",
        "request.decided": lambda: f"request {request} met its quorum ("
        + ", ".join(map(str, p.get("approvers") or ())) + "): "
        + ("carried out" if p.get("executed") else "conditions failed, not carried out"),
        "alias.emergency_rollback": lambda: f"emergency rollback of {alias} of {model}, without approval",
    }
    text = texts.get(kind)
    return text() if text is not None else None
