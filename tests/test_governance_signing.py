"""
Ed25519 identities: key files, registered public keys, signed events, and verify() checking
every signature against the key the log held at its position.
"""

from __future__ import annotations

import sqlite3
import stat

import pytest

import eventreg
from eventreg import AlreadyExists, ConfigurationError, NotFound, PolicyViolation
from eventreg.signing import create_key, keys_dir, load_signer, verify_signatures


@pytest.fixture(autouse=True)
def keys(tmp_path, monkeypatch):
    monkeypatch.setenv("EVENTREG_KEYS_DIR", str(tmp_path / "keys"))
    return tmp_path / "keys"


def _open(url, actor, **options):
    return eventreg.open(url, artifacts="memory://unused", actor=actor, snapshot_every=0, **options)


def test_keys_are_made_private_and_load_with_their_passphrase(keys):
    signer = create_key("alice", passphrase="correct horse")
    assert keys_dir() == keys
    private = keys / "alice.key"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert b"ENCRYPTED" in private.read_bytes()
    assert load_signer("alice", passphrase="correct horse").key_id == signer.key_id
    with pytest.raises(ConfigurationError):
        load_signer("alice", passphrase="wrong")
    with pytest.raises(ConfigurationError):
        load_signer("alice")
    with pytest.raises(AlreadyExists):
        create_key("alice")
    with pytest.raises(NotFound, match="keys create"):
        load_signer("bob")


def _registered(url):
    """
    Admin root registers alice's key; returns the key id.
    """
    create_key("alice")
    with _open(url, "root") as reg:
        reg.register_version("iris", metrics={"accuracy": 0.95}, code=None)
        return reg.register_key("alice", "alice", printed_name="Alice Smith", reason="onboarding")


def test_an_event_signed_by_alice_verifies(url):
    key_id = _registered(url)
    with _open(url, "alice", signing_key="alice") as reg:
        version = reg.register_version("iris", metrics={"accuracy": 0.97}, code=None)
        event = list(reg.log.read_all())[-1]
        assert event.metadata["signed_by"] == key_id and event.metadata["signature"]
        report = reg.verify()
        assert report.ok and report.signatures_checked == 1
        assert version.version == 2


def test_a_changed_byte_of_a_signed_payload_fails_verify_naming_its_position(sqlite_url):
    _registered(sqlite_url)
    with _open(sqlite_url, "alice", signing_key="alice") as reg:
        reg.set_version_tag("iris", 1, "stage", "candidate")
        position = reg.head().position
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as conn:
        payload = conn.execute("SELECT payload FROM eventreg_events WHERE position = ?", (position,)).fetchone()[0]
        conn.execute("UPDATE eventreg_events SET payload = ? WHERE position = ?",
                     (payload.replace("candidate", "candidatf"), position))
    with _open(sqlite_url, "check") as reg:
        report = reg.verify()
        assert not report.ok and report.first_bad_position == position


def test_signatures_catch_a_change_even_where_the_chain_was_rebuilt(url):
    _registered(url)
    with _open(url, "alice", signing_key="alice") as reg:
        reg.set_version_tag("iris", 1, "stage", "candidate")
        events = list(reg.log.read_all())
    assert verify_signatures(events).ok
    forged = events[-1]._replace(payload={**events[-1].payload, "value": "production"})
    result = verify_signatures([*events[:-1], forged])
    assert not result.ok and result.first_bad_position == forged.position
    assert "does not match" in result.problem
    other = events[-1]._replace(actor="mallory")
    assert "of 'alice'" in verify_signatures([*events[:-1], other]).problem


def test_a_signature_by_a_key_after_its_revocation_fails(url):
    key_id = _registered(url)
    with _open(url, "alice", signing_key="alice") as reg:
        reg.set_version_tag("iris", 1, "a", "1")  # before: fine
        with _open(url, "root") as admin:  # revoked while alice's registry is open
            admin.revoke_key(key_id, reason="laptop stolen")
        reg.set_version_tag("iris", 1, "b", "2")
        position = reg.head().position
        report = reg.verify()
        assert not report.ok and report.first_bad_position == position
        assert "after its revocation" in report.problem
    with pytest.raises(PolicyViolation, match="revoked"):
        _open(url, "alice", signing_key="alice")


def test_only_a_key_registered_for_the_actor_signs(url):
    _registered(url)
    create_key("carol")
    with pytest.raises(PolicyViolation, match="not registered"):
        _open(url, "carol", signing_key="carol")
    with pytest.raises(PolicyViolation, match="registered for 'alice'"):
        _open(url, "mallory", signing_key="alice")


def test_rotation_replaces_a_key_in_one_step(url):
    old = _registered(url)
    new_signer = create_key("alice2")
    with _open(url, "root") as reg:
        new = reg.rotate_key(old, "alice2")
        keys = reg._governance.governance_info().keys
        assert keys[old].revoked_position is not None and keys[new].owner == "alice"
        assert keys[new].printed_name == "Alice Smith" and new == new_signer.key_id
    with _open(url, "alice", signing_key="alice2") as reg:
        reg.set_version_tag("iris", 1, "c", "3")
        assert reg.verify().ok


def test_a_policy_requiring_signatures_refuses_an_unsigned_approval(url):
    _registered(url)
    create_key("bob")
    with _open(url, "root") as reg:
        reg.promote("iris", 1, alias="production")
        reg.register_version("iris", metrics={"accuracy": 0.97}, code=None)
        reg.register_key("bob", "bob", printed_name="Bob Jones")
        reg.protect("iris", "production", approvers=["bob"], require_signatures=True)
    with _open(url, "alice", signing_key="alice") as reg:
        request = reg.request_promotion("iris", 2, alias="production")
    with _open(url, "bob") as reg:
        with pytest.raises(PolicyViolation, match="signed"):
            reg.approve(request.request_id)
    with _open(url, "bob", signing_key="bob") as reg:
        done = reg.approve(request.request_id, reason="validated")
        assert done.status == "executed"
        approval = done.decisions[-1]
        assert approval.meaning == "approved" and approval.key_id is not None
        assert reg.verify().ok


def test_signed_decisions_show_printed_name_time_and_meaning_in_the_report(url, tmp_path):
    _registered(url)
    with _open(url, "root") as reg:
        reg.register_version("iris", metrics={"accuracy": 0.97}, code=None)
        reg.protect("iris", "production", approvers=["alice"])
    with _open(url, "bob") as reg:
        request = reg.request_promotion("iris", 2, alias="production")
    with _open(url, "alice", signing_key="alice") as reg:
        reg.approve(request.request_id, reason="validated")
        [signature] = reg.signatures("iris")
        assert (signature.printed_name, signature.meaning, signature.version) == ("Alice Smith", "approved", 2)
        assert "approved by Alice Smith (alice) on " in str(signature)
        assert reg.as_of(signature.position - 1).signatures("iris") == []  # reads work on views
        html = reg.audit_report("iris", format="html")
        assert "Signed decisions" in html and "Alice Smith (alice)" in html
        history = [e.summary for e in reg.history("iris")]
        assert f"approved request {request.request_id} [signed, key {signature.key_id}]" in history


def test_parallel_verification_finds_the_same_first_bad_signature(url, monkeypatch):
    from eventreg import signing

    _registered(url)
    with _open(url, "alice", signing_key="alice") as reg:
        for i in range(30):
            reg.set_version_tag("iris", 1, "k", str(i))
        events = list(reg.log.read_all())
    monkeypatch.setattr(signing, "BATCH", 8)  # batches of 8 signed events, two worker threads
    assert verify_signatures(events, workers=2) == verify_signatures(events, workers=1) == signing.SignatureCheck(
        True, 30)
    forged = [e._replace(payload={**e.payload, "value": "x"}) if e.position in (20, 27) else e for e in events]
    serial, parallel = verify_signatures(forged, workers=1), verify_signatures(forged, workers=2)
    assert serial == parallel and serial.first_bad_position == 20 and not serial.ok
    assert serial.checked == sum(1 for e in events if e.metadata.get("signature") and e.position < 20)


def _signed_log(url, count=30):
    _registered(url)
    with _open(url, "alice", signing_key="alice") as reg:
        for i in range(count):
            reg.set_version_tag("iris", 1, "k", str(i))
        return list(reg.log.read_all())


def _with_signature(event, signature=None, signed_by=None):
    import base64

    metadata = dict(event.metadata)
    if signature is not None:
        raw = bytearray(base64.b64decode(metadata["signature"]))
        raw[signature] ^= 1
        metadata["signature"] = base64.b64encode(bytes(raw)).decode("ascii")
    if signed_by is not None:
        metadata["signed_by"] = signed_by
    return event._replace(metadata=metadata)


def _both_ways(monkeypatch, events):
    """
    verify_signatures with libsodium on two threads, and with OpenSSL alone; the two must agree.
    """
    from eventreg import signing

    monkeypatch.setattr(signing, "BATCH", 4)
    assert signing._nacl_signing() is not None, "PyNaCl is part of the signing extra"
    fast = verify_signatures(events, workers=2)
    monkeypatch.setattr(signing, "PYNACL", False)
    assert signing._nacl_signing() is None
    slow = verify_signatures(events, workers=2)
    monkeypatch.setattr(signing, "PYNACL", True)
    assert fast == slow
    return fast


def test_a_tampered_signature_is_found_at_its_position_by_libsodium_and_by_openssl(url, monkeypatch):
    events = _signed_log(url)
    assert _both_ways(monkeypatch, events).ok
    tampered = [_with_signature(e, signature=5) if e.position in (21, 28) else e for e in events]
    result = _both_ways(monkeypatch, tampered)
    assert not result.ok and result.first_bad_position == 21 and "does not match" in result.problem
    assert result.checked == sum(1 for e in events if e.metadata.get("signature") and e.position < 21)
    # a bad signature in a batch still being checked comes before a later unknown key, and after an earlier one
    later = [_with_signature(e, signed_by="0123456789abcdef") if e.position == 23 else e for e in tampered]
    assert _both_ways(monkeypatch, later).first_bad_position == 21
    earlier = [_with_signature(e, signed_by="0123456789abcdef") if e.position == 9 else e for e in tampered]
    result = _both_ways(monkeypatch, earlier)
    assert result.first_bad_position == 9 and "does not hold" in result.problem


def test_a_signature_libsodium_refuses_but_openssl_accepts_keeps_openssls_verdict(url, monkeypatch):
    import base64

    from eventreg.signing import key_id_of

    events = _signed_log(url, count=6)
    # the neutral point as a public key, and a signature (R = neutral point, S = 0) that holds
    # for every message under OpenSSL's equation; libsodium refuses small-order points
    raw = b"\x01" + bytes(31)
    key_id = key_id_of(raw)
    signature = base64.b64encode(b"\x01" + bytes(63)).decode("ascii")
    registered = next(e for e in events if e.type == "governance.key_registered")
    odd = [e._replace(payload={**e.payload, "key_id": key_id, "public_key": base64.b64encode(raw).decode("ascii")})
           if e is registered else
           e._replace(metadata={**e.metadata, "signed_by": key_id, "signature": signature})
           if e.metadata.get("signature") else e for e in events]
    result = _both_ways(monkeypatch, odd)
    assert result.ok and result.checked == 6


def test_verify_reads_the_log_once_for_chain_and_signatures(url):
    events = _signed_log(url, count=5)
    with _open(url, "check") as reg:
        seen = []
        assert reg.log.verify(each=seen.append).ok
        assert [e.position for e in seen] == [e.position for e in events]
        report = reg.verify()
        assert report.ok and report.checked == len(events) and report.signatures_checked == 5


def test_a_backend_with_its_own_verify_gets_the_same_signature_check():
    import uuid

    from eventreg import audit
    from eventreg.backends.memory import MemoryLog

    class OwnVerify(MemoryLog):  # a third party's backend with a verify of its own
        def verify(self, expected_head=None):
            return super().verify(expected_head)

    url = f"memory://own-verify-{uuid.uuid4().hex}"
    key_id = _registered(url)
    with _open(url, "alice", signing_key="alice") as reg:
        reg.set_version_tag("iris", 1, "a", "1")
        with _open(url, "root") as admin:
            admin.revoke_key(key_id, reason="laptop stolen")
        reg.set_version_tag("iris", 1, "b", "2")
        events = list(reg.log.read_all())
        expected = reg.verify()
    own = OwnVerify()
    own.import_events(events)
    assert not expected.ok and expected.first_bad_position == events[-1].position
    assert audit.verify(own, signatures=True) == expected
