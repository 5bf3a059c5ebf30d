"""
Governance on every persistent backend: protected aliases move only through approved
requests, by distinct qualifying approvers, with the policy's conditions checked at the
quorum; and approvers racing in four processes reach exactly one promotion.
"""

from __future__ import annotations

import multiprocessing

import pytest

import eventreg
from eventreg import InvalidTransition, NotFound, PolicyViolation, ValidationError
from eventreg.domain.state import fold

BACKENDS = ["sqlite_url", "postgres_url", "mysql_url", "file_url"]


@pytest.fixture(params=BACKENDS, ids=["sqlite", "postgresql", "mariadb", "file"])
def shared_url(request):
    return request.getfixturevalue(request.param)


def _open(url, actor, **options):
    return eventreg.open(url, artifacts="memory://unused", actor=actor, snapshot_every=0, **options)


def _setup(url, *, approvals=1, require=(), approvers=("role:validators",), emergency=("role:oncall",)):
    """
    iris with versions 1 (accuracy 0.95) and 2 (accuracy 0.8); production protected by
    admin "root"; bob and carol validators, dave on call; production at version 1.
    """
    with _open(url, "root") as reg:
        reg.register_version("iris", metrics={"accuracy": 0.95}, code=None)
        reg.register_version("iris", metrics={"accuracy": 0.80}, code=None)
        reg.register_version("iris", metrics={"accuracy": 0.97}, code=None)
        reg.promote("iris", 1, alias="production")
        for member in ("bob", "carol", "erin", "frank"):
            reg.grant_role("validators", member)
        reg.grant_role("oncall", "dave")
        reg.protect("iris", "production", approvals=approvals, approvers=list(approvers), require=list(require),
                    allow_emergency_rollback=list(emergency), reason="SR 11-7 validation")


def test_governance_records_its_first_admin_and_refuses_others(url):
    with _open(url, "root") as reg:
        reg.register_version("iris", code=None)
        assert reg.enable_governance() == "root"
        info = reg._governance.governance_info()
        assert info.enabled_by == "root" and info.roles["admin"] == ["root"]
    with _open(url, "mallory") as reg:
        assert reg.enable_governance() == "root"  # already on: nothing changes
        with pytest.raises(PolicyViolation, match="not a governance admin"):
            reg.grant_role("validators", "mallory")
        with pytest.raises(PolicyViolation):
            reg.protect("iris", "production", approvers=["mallory"])
        assert reg.get_policy("iris", "production") is None


def test_direct_promote_and_rollback_of_a_protected_alias_append_nothing(shared_url):
    _setup(shared_url)
    with _open(shared_url, "alice") as reg:
        head = reg.head()
        with pytest.raises(PolicyViolation, match="protected"):
            reg.promote("iris", 3, alias="production")
        with pytest.raises(PolicyViolation, match="emergency_rollback"):
            reg.rollback("iris", alias="production")
        assert reg.head() == head
        assert reg.get_alias("iris", "production").version == 1
        reg.promote("iris", 3, alias="staging")  # other aliases stay free
        assert PolicyViolation.exit_code == 6


def test_request_approval_rules_and_promotion_linked_to_the_approvals(shared_url):
    _setup(shared_url, approvals=2)
    with _open(shared_url, "alice") as reg:
        request = reg.request_promotion("iris", 3, alias="production", reason="better on holdout")
        with pytest.raises(PolicyViolation, match="filed request"):
            reg.approve(request.request_id)  # alice filed it
    with _open(shared_url, "mallory") as reg:
        with pytest.raises(PolicyViolation, match="may not approve"):
            reg.approve(request.request_id)
    with _open(shared_url, "bob") as reg:
        reg.approve(request.request_id, reason="validated")
        again = reg.approve(request.request_id, reason="really")  # counts once
        assert again.status == "open" and again.approvers == ("bob",)
        assert reg.get_alias("iris", "production").version == 1
    with _open(shared_url, "carol") as reg:
        done = reg.approve(request.request_id, reason="agree")
        assert done.status == "executed" and done.approvers == ("bob", "carol")
        alias = reg.get_alias("iris", "production")
        assert alias.version == 3 and alias.position == done.executed_position
        assert request.request_id in alias.reason and "bob, carol" in alias.reason
        assert [d.meaning for d in done.decisions] == ["authored", "approved", "approved"]
        with pytest.raises(InvalidTransition, match="no longer open"):
            reg.approve(request.request_id)
        assert reg.verify().ok
        assert fold(reg.log.read_all()) == reg._state


def test_require_false_at_quorum_is_recorded_and_does_not_promote(shared_url):
    _setup(shared_url, require=["metrics.accuracy >= 0.9"])
    with _open(shared_url, "alice") as reg:
        request = reg.request_promotion("iris", 2, alias="production")
    with _open(shared_url, "bob") as reg:
        decided = reg.approve(request.request_id)
        assert decided.status == "conditions_failed"
        assert decided.checks == ({"condition": "metrics.accuracy >= 0.9", "ok": False},)
        assert reg.get_alias("iris", "production").version == 1
        assert [e.type for e in reg.events()][-2:] == ["request.approved", "request.decided"]


def test_reject_withdraw_and_unprotect(url):
    _setup(url)
    with _open(url, "alice") as reg:
        first = reg.request_promotion("iris", 3, alias="production")
        second = reg.request_promotion("iris", 3, alias="production")
    with _open(url, "bob") as reg:
        assert reg.reject(first.request_id, reason="needs bias review").status == "rejected"
        with pytest.raises(PolicyViolation, match="only 'alice'"):
            reg.withdraw(second.request_id)
    with _open(url, "alice") as reg:
        assert reg.withdraw(second.request_id).status == "withdrawn"
        assert [r.status for r in reg.list_requests("iris")] == ["rejected", "withdrawn"]
        with pytest.raises(InvalidTransition, match="not protected"):
            reg.request_promotion("iris", 3, alias="staging")
    with _open(url, "root") as reg:
        lift = reg.unprotect("iris", "production", reason="decommissioned")
        assert reg.get_policy("iris", "production") is not None  # not before approval
    with _open(url, "carol") as reg:
        assert reg.approve(lift.request_id).status == "executed"
        assert reg.get_policy("iris", "production") is None
        reg.promote("iris", 3, alias="production")


def _promote_approved(url, version):
    with _open(url, "alice") as reg:
        request = reg.request_promotion("iris", version, alias="production")
    with _open(url, "bob") as reg:
        assert reg.approve(request.request_id).status == "executed"


def test_rollback_requests_and_emergency_rollback(url):
    _setup(url)
    _promote_approved(url, 3)
    with _open(url, "alice") as reg:
        with pytest.raises(PolicyViolation, match="emergency"):
            reg.emergency_rollback("iris", alias="production", reason="outage")
    with _open(url, "dave") as reg:
        with pytest.raises(ValidationError):
            reg.emergency_rollback("iris", alias="production", reason=" ")
        moved = reg.emergency_rollback("iris", alias="production", reason="outage")
        assert moved.version == 1 and moved.reason == "emergency: outage"
        assert reg._state.governance.moves[moved.position] == "emergency"
        assert [e.type for e in reg.events()][-2:] == ["alias.emergency_rollback", "alias.rolled_back"]
    _promote_approved(url, 3)
    with _open(url, "bob") as reg:
        back = reg.request_rollback("iris", alias="production", reason="drift")
        assert back.version == 1 and back.action == "rollback"
    with _open(url, "carol") as reg:
        assert reg.approve(back.request_id).status == "executed"
        assert reg.get_alias("iris", "production").version == 1


def test_protect_input_errors(url):
    _setup(url)
    with _open(url, "root") as reg:
        with pytest.raises(InvalidTransition, match="protected already"):
            reg.protect("iris", "production", approvers=["bob"])
        with pytest.raises(ValidationError):
            reg.protect("iris", "staging", approvers=[])
        with pytest.raises(ValidationError):
            reg.protect("iris", "staging", approvals=0, approvers=["bob"])
        with pytest.raises(eventreg.FilterSyntaxError):
            reg.protect("iris", "staging", approvers=["bob"], require=["metrics.accuracy >="])
        with pytest.raises(NotFound):
            reg.approve("nope")


def test_gate_on_a_protected_alias_files_a_request(url):
    _setup(url)
    with _open(url, "ci") as reg:
        result = reg.check("iris", 3, require=["metrics.accuracy >= 0.9"], promote_to="production")
        assert result.ok and result.promoted_to is None and result.request_id
        assert reg.get_request(result.request_id).status == "open"
        assert reg.get_alias("iris", "production").version == 1


def _approve(url, start, actor, request_id):
    with _open(url, actor) as reg:
        start.wait(60)
        try:
            return reg.approve(request_id).status
        except InvalidTransition as e:
            return f"refused: {e}"


@pytest.mark.parametrize("approvals", [1, 2])
def test_four_processes_approving_at_once_promote_exactly_once(shared_url, approvals):
    _setup(shared_url, approvals=approvals)
    with _open(shared_url, "alice") as reg:
        request = reg.request_promotion("iris", 3, alias="production")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        start = manager.Event()
        with ctx.Pool(4) as pool:
            pending = [pool.apply_async(_approve, (shared_url, start, actor, request.request_id))
                       for actor in ("bob", "carol", "erin", "frank")]
            start.set()
            outcomes = [p.get(timeout=300) for p in pending]
    assert outcomes.count("executed") == 1, outcomes
    with _open(shared_url, "check") as reg:
        types = [e.type for e in reg.events()]
        assert types.count("request.decided") == 1
        assert types.count("alias.promoted") == 2  # the setup's and the approved one
        assert types.count("request.approved") == approvals
        assert reg.get_alias("iris", "production").version == 3
        assert reg.verify().ok


def test_a_snapshot_keeps_the_governance_state(shared_url):
    """
    Opening from a snapshot gives the same policies, roles and requests as a replay: a
    protected alias stays protected (a snapshot once dropped them, leaving it open).
    """
    _setup(shared_url)
    with _open(shared_url, "bob") as reg:
        request = reg.request_promotion("iris", 3, alias="production", reason="better")
        reg.save_snapshot()
        replayed = fold(reg.events())
    with _open(shared_url, "alice") as reg:
        assert reg._writer.state.governance == replayed.governance
        assert reg.get_policy("iris", "production") is not None
        assert reg.get_request(request.request_id).status == "open"
        with pytest.raises(PolicyViolation, match="protected"):
            reg.promote("iris", 3, alias="production")
