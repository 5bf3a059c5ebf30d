"""
Governance commands: protected aliases moved only by approved requests, roles, signing keys.

:class:`Governance` is composed into :class:`~eventreg.registry.Registry` (``reg.protect``,
``reg.request_promotion``, ``reg.approve`` ... are its methods). Every command decides
against the caught-up projection and appends through the registry's writer, with the
stream's expected version: the approval that meets a quorum, the ``require`` conditions'
result and the promotion are one append to the model's stream, so approvers racing in
several processes reach exactly one outcome.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import attrs

from eventreg import commands
from eventreg.domain import events as ev
from eventreg.domain import governance_events as gev
from eventreg.domain import validation as check
from eventreg.domain.entities import RegistryState
from eventreg.domain.filters import VERSION_FIELDS, compile_filter
from eventreg.domain.governance_state import OPEN, Decision, FiledRequest, GovernanceState, Policy, RequestState
from eventreg.domain.queries import VersionRef, _model, _version
from eventreg.errors import AlreadyExists, InvalidTransition, NotFound, PolicyViolation, ValidationError
from eventreg.writer import Plan

__all__ = ["GOVERNANCE_COMMANDS", "GOVERNANCE_READS", "Governance", "Request", "Signature"]

#: Governance methods composed into Registry that change the registry (refused on views).
GOVERNANCE_COMMANDS = ("approve", "emergency_rollback", "enable_governance", "grant_role", "protect",
                       "register_key", "reject", "request_promotion", "request_rollback", "revoke_key",
                       "revoke_role", "rotate_key", "sign_with", "unprotect", "withdraw")
#: Governance reads composed into Registry; a view (``as_of``) answers them too.
GOVERNANCE_READS = ("get_policy", "get_request", "list_keys", "list_requests", "signatures")


@attrs.frozen(kw_only=True)
class Request(FiledRequest):
    """
    A request to move (or unprotect) a protected alias, and what became of it.

    The fields of :class:`~eventreg.domain.governance_state.FiledRequest` (``request_id``,
    ``model``, ``alias``, ``action``, ``version``, ``reason``, ``requester``, ``filed_at``,
    ``position``) and: ``status``, ``open``, ``executed``, ``conditions_failed``,
    ``rejected`` or ``withdrawn``; ``decisions``, the signed-or-not records of who filed,
    approved, rejected or withdrew it, and when; ``checks``, the ``require`` conditions
    evaluated at the quorum; ``executed_position``, the log position of the alias move it caused.
    """

    status: str
    approvers: tuple[str, ...]
    decisions: tuple[Decision, ...]
    checks: tuple[dict[str, Any], ...]
    executed_position: int | None

    @classmethod
    def of(cls, state: RequestState) -> Request:
        return cls(**state.filed(), status=state.status, approvers=tuple(state.approvers),
                   decisions=tuple(state.decisions), checks=tuple(dict(c) for c in state.checks),
                   executed_position=state.executed_position)


@attrs.frozen(kw_only=True)
class Signature:
    """
    A signed decision as a signed record shows it: the signer's printed name, the date and
    time, and the meaning of the signature (``authored``, ``approved``, ``rejected``,
    ``withdrawn``), linked to the request and its log position.
    """

    printed_name: str
    actor: str | None
    signed_at: datetime
    meaning: str
    key_id: str
    position: int
    request_id: str
    model: str
    alias: str
    version: int | None

    def __str__(self) -> str:
        when = self.signed_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"{self.meaning} by {self.printed_name} ({self.actor}) on {when}, key {self.key_id}"


def _check_members(items: Iterable[str] | str, what: str) -> tuple[str, ...]:
    if isinstance(items, str):
        items = [items]
    out = []
    for item in items:
        if not isinstance(item, str) or not item.strip() or item == "role:":
            raise ValidationError(f"{what}: {item!r} is neither an actor name nor 'role:NAME'")
        out.append(item.strip())
    return tuple(out)


def _request_result(request_id: str) -> Callable[[RegistryState, list[Any]], Request]:
    return lambda state, _: Request.of(state.governance.requests[request_id])


class Governance:
    """
    The governance commands of one registry (see the module's docstring).
    """

    def __init__(self, registry: Any) -> None:
        self._registry = registry

    @property
    def _actor(self) -> str:
        return self._registry.actor

    def _execute(self, decide: Callable[[RegistryState], Plan]) -> Any:
        return self._registry._execute(decide)

    def _admin(self, gov: GovernanceState) -> None:
        if not gov.is_admin(self._actor):
            raise PolicyViolation(f"{self._actor!r} is not a governance admin (admins: "
                                  f"{', '.join(gov.roles.get(gev.ADMIN_ROLE, [])) or 'none'})")

    # -- admins, roles, keys -----------------------------------------------------------------

    def enable_governance(self) -> str:
        """
        Turn governance on, making the caller its first admin (recorded); a no-op when on.

        Returns:
            The actor who turned governance on.
        """
        def decide(state: RegistryState) -> Plan:
            on = state.governance.enabled_by is not None
            return Plan(gev.GOVERNANCE_STREAM, [] if on else [gev.GovernanceEnabled(admin=self._actor)],
                        lambda s, _: s.governance.enabled_by)

        return self._execute(decide)

    def _admin_command(self, events: Callable[[GovernanceState], list[Any]], result: Any = None) -> Any:
        self.enable_governance()

        def decide(state: RegistryState) -> Plan:
            self._admin(state.governance)
            return Plan(gev.GOVERNANCE_STREAM, events(state.governance), result)

        return self._execute(decide)

    def grant_role(self, role: str, member: str, *, reason: str | None = None) -> None:
        """
        Give ``member`` the role ``role`` (``admin`` makes another admin). Admins only.

        Raises:
            PolicyViolation: the caller is not an admin.
        """
        role = check.check_name(role, "role")
        member = check.check_text(member, "member", 200, allow_none=False)
        reason = check.check_text(reason, "reason", check.MAX_REASON_LENGTH)
        self._admin_command(lambda gov: [] if member in gov.roles.get(role, ()) else
                            [gev.RoleGranted(role=role, member=member, reason=reason)])

    def revoke_role(self, role: str, member: str, *, reason: str | None = None) -> None:
        """
        Take the role ``role`` from ``member``. Admins only; the last admin stays.

        Raises:
            PolicyViolation: the caller is not an admin, or this would leave no admin.
        """
        reason = check.check_text(reason, "reason", check.MAX_REASON_LENGTH)

        def events(gov: GovernanceState) -> list[Any]:
            members = gov.roles.get(role, [])
            if member not in members:
                return []
            if role == gev.ADMIN_ROLE and len(members) == 1:
                raise PolicyViolation(f"{member!r} is the last admin; grant the role to another first")
            return [gev.RoleRevoked(role=role, member=member, reason=reason)]

        self._admin_command(events)

    def register_key(self, owner: str, public_key: str, *, printed_name: str | None = None,
                     reason: str | None = None) -> str:
        """
        Record ``public_key`` (base64 Ed25519, a key name or a ``.pub`` path) as signing for
        ``owner`` from now on. Admins only.

        Args:
            owner: the actor the key signs for.
            public_key: the public key, or where to read it.
            printed_name: the signer's full name, shown on signed records.
            reason: why, recorded.

        Returns:
            The key's id.

        Raises:
            PolicyViolation: the caller is not an admin.
            AlreadyExists: the key is registered already.
        """
        import base64

        from eventreg.signing import key_id_of, public_key_text

        owner = check.check_text(owner, "owner", 200, allow_none=False)
        printed_name = check.check_text(printed_name, "printed name", 200)
        reason = check.check_text(reason, "reason", check.MAX_REASON_LENGTH)
        text = public_key_text(public_key)
        key_id = key_id_of(base64.b64decode(text))

        def events(gov: GovernanceState) -> list[Any]:
            if key_id in gov.keys:
                raise AlreadyExists(f"key {key_id} is registered already (for {gov.keys[key_id].owner!r})")
            return [gev.KeyRegistered(key_id=key_id, owner=owner, public_key=text, printed_name=printed_name,
                                      reason=reason)]

        self._admin_command(events)
        return key_id

    def revoke_key(self, key_id: str, *, reason: str | None = None) -> None:
        """
        Stop a key from signing: a signature by it after this point fails verification.
        Admins only.

        Raises:
            PolicyViolation: the caller is not an admin.
            NotFound: no such key.
        """
        reason = check.check_text(reason, "reason", check.MAX_REASON_LENGTH)

        def events(gov: GovernanceState) -> list[Any]:
            key = gov.keys.get(key_id)
            if key is None:
                raise NotFound(f"no registered key {key_id!r}")
            return [] if key.revoked_position is not None else [gev.KeyRevoked(key_id=key_id, reason=reason)]

        self._admin_command(events)

    def rotate_key(self, old_key_id: str, public_key: str, *, reason: str | None = None) -> str:
        """
        Replace a key by a new one of the same owner, in one append. Admins only.

        Returns:
            The new key's id.
        """
        import base64

        from eventreg.signing import key_id_of, public_key_text

        text = public_key_text(public_key)
        key_id = key_id_of(base64.b64decode(text))

        def events(gov: GovernanceState) -> list[Any]:
            old = gov.keys.get(old_key_id)
            if old is None:
                raise NotFound(f"no registered key {old_key_id!r}")
            if key_id in gov.keys:
                raise AlreadyExists(f"key {key_id} is registered already")
            return [gev.KeyRevoked(key_id=old_key_id, reason=reason or "rotated"),
                    gev.KeyRegistered(key_id=key_id, owner=old.owner, public_key=text,
                                      printed_name=old.printed_name, reason=reason or "rotated")]

        self._admin_command(events)
        return key_id

    # -- policies ----------------------------------------------------------------------------

    def protect(self, model: str, alias: str, *, approvals: int = 1, approvers: Iterable[str] | str,
                require: Iterable[str] | str = (), allow_emergency_rollback: Iterable[str] | str = (),
                require_signatures: bool = False, reason: str | None = None) -> Policy:
        """
        Protect ``alias`` of ``model``: from now on it moves only through approved requests.

        Turns governance on if it is off (the caller becomes its first admin). Admins only.

        Args:
            model: the model's name.
            alias: the alias to protect.
            approvals: how many distinct approvers a request needs.
            approvers: actor names and ``"role:NAME"`` items who may approve.
            require: search filters the version must match when the quorum is met, e.g.
                ``"metrics.accuracy >= 0.9"``.
            allow_emergency_rollback: who may roll the alias back without approval.
            require_signatures: approvals (and rejections) must be signed by a registered key.
            reason: why, recorded.

        Raises:
            PolicyViolation: the caller is not an admin.
            InvalidTransition: the alias is protected already (unprotect it first, which
                needs approval).
            FilterSyntaxError: a ``require`` condition does not parse.
        """
        alias = check.check_version_name(alias, "alias")
        if isinstance(approvals, bool) or not isinstance(approvals, int) or not 1 <= approvals <= 100:
            raise ValidationError(f"approvals must be an int from 1 to 100, not {approvals!r}")
        approvers = _check_members(approvers, "approvers")
        if not approvers:
            raise ValidationError("a protected alias needs approvers (actor names or 'role:NAME')")
        emergency = _check_members(allow_emergency_rollback, "allow_emergency_rollback")
        require = (require,) if isinstance(require, str) else tuple(require)
        for condition in require:
            compile_filter(condition, fields=VERSION_FIELDS)
        reason = check.check_text(reason, "reason", check.MAX_REASON_LENGTH)
        self.enable_governance()

        def decide(state: RegistryState) -> Plan:
            name = _model(state, model).name
            self._admin(state.governance)
            if state.governance.policy(name, alias) is not None:
                raise InvalidTransition(f"alias {alias!r} of {name!r} is protected already; "
                                        "unprotect it first (a request that needs approval)")
            return Plan(ev.model_stream(name), [gev.AliasProtected(
                model=name, alias=alias, approvals=approvals, approvers=approvers, require=require,
                emergency=emergency, signed=bool(require_signatures), reason=reason)],
                lambda s, _: s.governance.policies[name][alias])

        return self._execute(decide)

    def get_policy(self, model: str, alias: str) -> Policy | None:
        """
        The policy protecting ``alias`` of ``model``, or None.
        """
        with self._registry._reading() as state:
            return state.governance.policy(model, alias)

    def unprotect(self, model: str, alias: str, *, reason: str | None = None) -> Request:
        """
        File a request to lift the protection; it takes effect when approved as a promotion would.
        """
        return self._file(model, alias, "unprotect", None, reason)

    def guarded(self, command: Callable[..., Plan], *, model: str, alias: str,
                **arguments: Any) -> Callable[[RegistryState], Plan]:
        """
        The decision of ``command`` (:func:`eventreg.commands.promote` or ``rollback``),
        refused with :class:`PolicyViolation` when ``alias`` is protected.
        """
        action = "rollback" if command is commands.rollback else "promotion"
        decide = functools.partial(command, model=model, alias=alias, **arguments)

        def guarded_decide(state: RegistryState) -> Plan:
            found = state.models.get(model)
            policy = state.governance.policy(found.name, alias) if found is not None else None
            if policy is not None:
                hint = (" (or reg.emergency_rollback by " + ", ".join(policy.emergency) + ")"
                        if action == "rollback" and policy.emergency else "")
                raise PolicyViolation(
                    f"alias {alias!r} of {found.name!r} is protected: a {action} goes through a request "
                    f"(reg.request_{action}) approved by {policy.approvals} of {', '.join(policy.approvers)}{hint}")
            return decide(state)

        return guarded_decide

    def gate_outcome(self, result: Any, alias: str, reason: str | None) -> Any:
        """
        What a passed gate does with ``promote_to``: promote, or, when the alias is
        protected, file a promotion request (its id in the result's ``request_id``).
        """
        reason = reason or "passed gate: " + "; ".join(c.condition for c in result.checks)
        if self.get_policy(result.model, alias) is not None:
            request = self.request_promotion(result.model, result.version, alias=alias, reason=reason)
            return attrs.evolve(result, request_id=request.request_id)
        self._registry.promote(result.model, result.version, alias=alias, reason=reason)
        return attrs.evolve(result, promoted_to=alias)

    def sign_on_open(self, key: Any, passphrase: str | None) -> None:
        """
        :meth:`sign_with` for ``eventreg.open``: a refused key closes the registry first.
        """
        try:
            self.sign_with(key, passphrase=passphrase)
        except BaseException:
            self._registry.close()
            raise

    def sign_with(self, key: Any, *, passphrase: str | None = None) -> str:
        """
        Sign every event this registry appends from now on with an Ed25519 key.

        Args:
            key: a key name (``eventreg keys create``), a ``.key`` path, or an
                :class:`eventreg.signing.Signer`.
            passphrase: the passphrase of an encrypted key.

        Returns:
            The key's id.

        Raises:
            PolicyViolation: the log holds no unrevoked registration of this key for the
                registry's actor (an admin registers it with ``register_key``): what it
                signed would not verify.
        """
        from eventreg.signing import Signer, load_signer

        signer = key if isinstance(key, Signer) else load_signer(key, passphrase=passphrase)
        with self._registry._reading() as state:
            gov = state.governance
            if gov.active_key(signer.key_id, self._actor) is None:
                known = gov.keys.get(signer.key_id)
                why = ("it is not registered" if known is None else "it was revoked" if known.revoked_position
                       else f"it is registered for {known.owner!r}")
                raise PolicyViolation(f"cannot sign as {self._actor!r} with key {signer.key_id}: {why} "
                                      "(an admin registers keys: eventreg keys register)")
            self._registry._writer.signer = signer
        return signer.key_id

    # -- requests ----------------------------------------------------------------------------

    def _file(self, model: str, alias: str, action: str, target: Callable[[RegistryState, Any], int | None] | None,
              reason: str | None) -> Request:
        reason = check.check_text(reason, "reason", check.MAX_REASON_LENGTH)
        request_id = uuid.uuid4().hex[:12]

        def decide(state: RegistryState) -> Plan:
            found = _model(state, model)
            if state.governance.policy(found.name, alias) is None:
                raise InvalidTransition(f"alias {alias!r} of {found.name!r} is not protected; "
                                        f"{'promote' if action != 'rollback' else 'roll back'} it directly")
            version = target(state, found) if target is not None else None
            return Plan(ev.model_stream(found.name), [gev.RequestFiled(
                model=found.name, request_id=request_id, action=action, alias=alias, version=version,
                reason=reason)], _request_result(request_id))

        return self._execute(decide)

    def request_promotion(self, model: str, version: VersionRef, *, alias: str, reason: str | None = None) -> Request:
        """
        Ask for ``alias`` of ``model`` to move to ``version``; approvers then approve or reject.

        Raises:
            NotFound: no such model or version.
            InvalidTransition: the alias is not protected (promote directly), or the
                version is deprecated or archived.
        """
        alias = check.check_version_name(alias, "alias")

        def target(state: RegistryState, found: Any) -> int:
            plan = commands.promote(state, model=found.name, version=version, alias=alias, reason=None, force=False)
            return _version(found, version).version if not plan.events else plan.events[0].version

        return self._file(model, alias, "promote", target, reason)

    def request_rollback(self, model: str, *, alias: str, to: VersionRef | None = None,
                         reason: str | None = None) -> Request:
        """
        Ask for ``alias`` to move back to its previous holder (or ``to``, an earlier one).

        Raises:
            NotFound: no such model or alias.
            InvalidTransition: the alias is not protected, or has no earlier holder.
        """
        def target(state: RegistryState, found: Any) -> int:
            plan = commands.rollback(state, model=found.name, alias=alias, reason=None, to=to, force=False)
            return plan.events[0].version

        return self._file(model, alias, "rollback", target, reason)

    def _open_request(self, state: RegistryState, request_id: str) -> tuple[RequestState, Policy]:
        request = state.governance.requests.get(request_id)
        if request is None:
            raise NotFound(f"no request {request_id!r}")
        if request.status != OPEN:
            raise InvalidTransition(f"request {request_id} is {request.status.replace('_', ' ')}, no longer open")
        policy = state.governance.policy(request.model, request.alias)
        if policy is None:
            raise InvalidTransition(f"alias {request.alias!r} of {request.model!r} is no longer protected; "
                                    f"request {request_id} is moot")
        return request, policy

    def _reviewer(self, gov: GovernanceState, request: RequestState, policy: Policy, what: str) -> None:
        actor = self._actor
        if actor == request.requester:
            raise PolicyViolation(f"{actor!r} filed request {request.request_id} and cannot {what} it; "
                                  "another approver must")
        if not gov.qualifies(actor, policy.approvers):
            raise PolicyViolation(f"{actor!r} may not {what} requests for alias {request.alias!r} of "
                                  f"{request.model!r} (approvers: {', '.join(policy.approvers)})")
        if policy.signed:
            signer = self._registry._writer.signer
            if signer is None or gov.active_key(signer.key_id, actor) is None:
                raise PolicyViolation(
                    f"alias {request.alias!r} of {request.model!r} requires signed decisions: open the "
                    f"registry with signing_key= a key registered for {actor!r} (eventreg keys register)")

    def approve(self, request_id: str, *, reason: str | None = None) -> Request:
        """
        Approve a request. When this meets the policy's quorum of distinct approvers, the
        ``require`` conditions are evaluated (the result recorded) and, if they hold, the
        alias moves, in the same append. A second approval by the same actor counts once
        (nothing is appended).

        Raises:
            NotFound: no such request.
            PolicyViolation: the caller filed the request, is not an approver, or must sign.
            InvalidTransition: the request is no longer open.
        """
        reason = check.check_text(reason, "reason", check.MAX_REASON_LENGTH)

        def decide(state: RegistryState) -> Plan:
            request, policy = self._open_request(state, request_id)
            self._reviewer(state.governance, request, policy, "approve")
            stream, result = ev.model_stream(request.model), _request_result(request_id)
            approvers = request.approvers
            if self._actor in approvers:
                return Plan(stream, [], result)
            events: list[Any] = [gev.RequestApproved(model=request.model, request_id=request_id, reason=reason)]
            approvers = [*approvers, self._actor]
            if len(approvers) >= policy.approvals:
                events += self._carry_out(state, request, policy, tuple(approvers))
            return Plan(stream, events, result)

        return self._execute(decide)

    def _carry_out(self, state: RegistryState, request: RequestState, policy: Policy,
                   approvers: tuple[str, ...]) -> list[Any]:
        from eventreg.gates import evaluate

        decided = functools.partial(gev.RequestDecided, model=request.model, request_id=request.request_id,
                                    approvers=approvers)
        if request.action == "unprotect":
            return [decided(executed=True), gev.AliasUnprotected(model=request.model, alias=request.alias,
                                                                 request_id=request.request_id)]
        checks: tuple[dict[str, Any], ...] = ()
        if policy.require and request.action == "promote":
            outcome = evaluate(state, request.model, request.version, require=policy.require)
            checks = tuple({"condition": c.condition, "ok": c.ok} for c in outcome.checks)
            if not outcome.ok:
                return [decided(checks=checks, executed=False)]
        reason = f"request {request.request_id} approved by {', '.join(approvers)}" + (
            f": {request.reason}" if request.reason else "")
        if request.action == "promote":
            plan = commands.promote(state, model=request.model, version=request.version, alias=request.alias,
                                    reason=reason, force=False)
        else:
            plan = commands.rollback(state, model=request.model, alias=request.alias, reason=reason,
                                     to=request.version, force=False)
        return [decided(checks=checks, executed=True, moved=bool(plan.events)), *plan.events]

    def reject(self, request_id: str, *, reason: str | None = None) -> Request:
        """
        Reject a request (one rejection by an approver closes it).

        Raises:
            NotFound, PolicyViolation, InvalidTransition: as :meth:`approve`.
        """
        reason = check.check_text(reason, "reason", check.MAX_REASON_LENGTH)

        def decide(state: RegistryState) -> Plan:
            request, policy = self._open_request(state, request_id)
            self._reviewer(state.governance, request, policy, "reject")
            return Plan(ev.model_stream(request.model),
                        [gev.RequestRejected(model=request.model, request_id=request_id, reason=reason)],
                        _request_result(request_id))

        return self._execute(decide)

    def withdraw(self, request_id: str, *, reason: str | None = None) -> Request:
        """
        Withdraw one's own open request.

        Raises:
            NotFound: no such request.
            PolicyViolation: the caller did not file it.
            InvalidTransition: it is no longer open.
        """
        reason = check.check_text(reason, "reason", check.MAX_REASON_LENGTH)

        def decide(state: RegistryState) -> Plan:
            request = state.governance.requests.get(request_id)
            if request is None:
                raise NotFound(f"no request {request_id!r}")
            if request.status != OPEN:
                raise InvalidTransition(f"request {request_id} is {request.status.replace('_', ' ')}, no longer open")
            if request.requester != self._actor:
                raise PolicyViolation(f"only {request.requester!r}, who filed request {request_id}, can withdraw it")
            return Plan(ev.model_stream(request.model),
                        [gev.RequestWithdrawn(model=request.model, request_id=request_id, reason=reason)],
                        _request_result(request_id))

        return self._execute(decide)

    def emergency_rollback(self, model: str, *, alias: str, reason: str, to: VersionRef | None = None) -> Any:
        """
        Roll a protected alias back without approval, as one of the policy's emergency roles;
        recorded as an emergency.

        Raises:
            PolicyViolation: the caller is not named in ``allow_emergency_rollback``.
            ValidationError: no reason given.
        """
        reason = check.check_text(reason, "reason", check.MAX_REASON_LENGTH, allow_none=False)
        if not reason.strip():
            raise ValidationError("an emergency rollback needs a reason")

        def decide(state: RegistryState) -> Plan:
            found = _model(state, model)
            policy = state.governance.policy(found.name, alias)
            if policy is None:
                raise InvalidTransition(f"alias {alias!r} of {found.name!r} is not protected; roll it back directly")
            if not state.governance.qualifies(self._actor, policy.emergency):
                raise PolicyViolation(f"{self._actor!r} may not roll back {alias!r} of {found.name!r} as an "
                                      f"emergency (allowed: {', '.join(policy.emergency) or 'nobody'})")
            plan = commands.rollback(state, model=found.name, alias=alias, reason=f"emergency: {reason}", to=to,
                                     force=False)
            return Plan(plan.stream, [gev.EmergencyRollback(model=found.name, alias=alias, reason=reason),
                                      *plan.events], plan.result)

        return self._execute(decide)

    # -- reads -------------------------------------------------------------------------------

    def get_request(self, request_id: str) -> Request:
        """
        Raises:
            NotFound: no such request.
        """
        with self._registry._reading() as state:
            request = state.governance.requests.get(request_id)
            if request is None:
                raise NotFound(f"no request {request_id!r}")
            return Request.of(request)

    def list_requests(self, model: str | None = None, *, status: str | None = None) -> list[Request]:
        """
        Requests in the order filed, optionally of one model and/or one status (``open`` ...).
        """
        with self._registry._reading() as state:
            return [Request.of(r) for r in state.governance.requests.values()
                    if (model is None or r.model == model) and (status is None or r.status == status)]

    def signatures(self, model: str | None = None, version: int | None = None) -> list[Signature]:
        """
        The signed decisions on requests (of ``model``, about ``version``), oldest first,
        each with the signer's printed name, date and time, and meaning.
        """
        with self._registry._reading() as state:
            gov = state.governance
            out = []
            for request in gov.requests.values():
                if (model is not None and request.model != model) or (version is not None and
                                                                      request.version != version):
                    continue
                for decision in request.decisions:
                    if decision.key_id is None:
                        continue
                    key = gov.keys.get(decision.key_id)
                    name = (key.printed_name if key is not None and key.printed_name else decision.actor) or "?"
                    out.append(Signature(printed_name=name, actor=decision.actor, signed_at=decision.at,
                                         meaning=decision.meaning, key_id=decision.key_id,
                                         position=decision.position, request_id=request.request_id,
                                         model=request.model, alias=request.alias, version=request.version))
            return sorted(out, key=lambda signature: signature.position)

    def list_keys(self) -> list[Any]:
        """
        The signing keys the log holds (``key_id``, ``owner``, ``printed_name``,
        ``registered_at``, ``revoked_at`` ...), in the order registered.
        """
        with self._registry._reading() as state:
            return [attrs.evolve(key) for key in state.governance.keys.values()]

    def governance_info(self) -> GovernanceState:
        """
        The governance projection now (admins, roles, keys, policies, requests); do not change it.
        """
        with self._registry._reading() as state:
            return state.governance
