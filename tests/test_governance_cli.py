"""
The governance commands of the CLI: a protected alias refuses a direct promotion with exit
code 6, `gate --promote-to` files a request and says so, approvals carry it out, and keys
are made, registered and used to sign.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

from click.testing import CliRunner

from eventreg.cli import cli


class Cli:
    def __init__(self, tmp_path: Path) -> None:
        self.base = ["--url", f"sqlite:///{tmp_path / 'r.db'}", "--artifacts", f"file://{tmp_path / 'a'}"]
        self.env = {"EVENTREG_KEYS_DIR": str(tmp_path / "keys")}

    def __call__(self, actor: str, *args: str, code: int = 0) -> str:
        result = CliRunner().invoke(cli, [*self.base, "--actor", actor, *args], prog_name="eventreg", env=self.env)
        assert result.exit_code == code, f"{args}: {result.exit_code}\n{result.stdout}\n{result.stderr}"
        if code:
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
            return lines[0]
        return result.stdout


def test_protect_request_approve_and_sign_from_the_command_line(tmp_path):
    run = Cli(tmp_path)
    run("root", "versions", "register", "iris", "--metric", "accuracy=0.95", "--git", "none")
    run("root", "versions", "register", "iris", "--metric", "accuracy=0.97", "--git", "none")
    run("root", "promote", "iris", "1", "--to", "production")
    run("root", "roles", "grant", "validators", "bob")
    run("root", "protect", "iris", "production", "--approver", "role:validators", "--require",
        "metrics.accuracy >= 0.9", "--require-signatures")
    assert "protected" in run("alice", "promote", "iris", "2", "--to", "production", code=6)
    assert "not a governance admin" in run("alice", "roles", "grant", "validators", "alice", code=6)

    out = run("ci", "gate", "iris", "2", "--require", "metrics.accuracy >= 0.9", "--promote-to", "production")
    assert "filed promotion request" in out
    [request] = json.loads(run("ci", "--json", "requests", "list", "iris", "--status", "open"))
    assert request["requester"] == "ci" and request["version"] == 2

    assert "created key bob" in run("bob", "keys", "create", "bob")
    assert stat.S_IMODE((tmp_path / "keys" / "bob.key").stat().st_mode) == 0o600
    assert "requires signed" in run("bob", "approve", request["request_id"], code=6)
    assert "not registered" in run("bob", "approve", request["request_id"], "--sign-with", "bob", code=6)
    run("root", "keys", "register", "bob", "bob", "--name", "Bob Jones")
    assert "carried out" in run("bob", "approve", request["request_id"], "--sign-with", "bob")
    assert "approved by Bob Jones (bob)" in run("bob", "requests", "show", request["request_id"])
    assert "approved by Bob Jones (bob)" in run("bob", "versions", "show", "iris", "2")
    assert json.loads(run("bob", "--json", "verify"))["signatures_checked"] == 3
    keys = json.loads(run("bob", "--json", "keys", "list"))
    assert [k["owner"] for k in keys] == ["bob"]
    run("root", "keys", "revoke", keys[0]["key_id"])
    assert json.loads(run("bob", "--json", "keys", "list"))[0]["revoked_at"]


def test_keys_rotate_replaces_a_key_and_the_old_one_signs_nothing_new(tmp_path):
    run = Cli(tmp_path)
    assert "no registry" in run("root", "keys", "rotate", "0123456789abcdef", "bob", code=3)
    run("root", "versions", "register", "iris", "--metric", "accuracy=0.95", "--git", "none")
    run("root", "protect", "iris", "production", "--approver", "carol")  # root: the first admin
    run("bob", "keys", "create", "bob")
    run("bob", "keys", "create", "bob-2027")
    old = json.loads(run("root", "--json", "keys", "register", "bob", "bob", "--name", "Bob Jones"))["key_id"]
    run("bob", "request-promotion", "iris", "1", "--alias", "production", "--sign-with", "bob")

    assert "not a governance admin" in run("bob", "keys", "rotate", old, "bob-2027", code=6)
    assert "no registered key" in run("root", "keys", "rotate", "0123456789abcdef", "bob-2027", code=3)
    assert "registered already" in run("root", "keys", "rotate", old, "bob", code=4)
    assert f"rotated key {old} to " in run("root", "keys", "rotate", old, "bob-2027", "--reason", "yearly")
    keys = json.loads(run("bob", "--json", "keys", "list"))
    assert [(k["owner"], k["printed_name"], bool(k["revoked_at"])) for k in keys] == [
        ("bob", "Bob Jones", True), ("bob", "Bob Jones", False)]
    assert keys[0]["key_id"] == old

    assert "it was revoked" in run("bob", "request-promotion", "iris", "1", "--alias", "production",
                                   "--sign-with", "bob", code=6)
    run("bob", "request-promotion", "iris", "1", "--alias", "production", "--sign-with", "bob-2027")
    report = json.loads(run("bob", "--json", "verify"))
    assert report["ok"] and report["signatures_checked"] == 2  # what the old key signed still verifies


def test_keys_rotate_json_names_both_keys(tmp_path):
    run = Cli(tmp_path)
    run("root", "roles", "grant", "validators", "bob")  # root: the first admin
    run("bob", "keys", "create", "bob")
    run("bob", "keys", "create", "bob-2")
    old = json.loads(run("root", "--json", "keys", "register", "bob", "bob"))["key_id"]
    done = json.loads(run("root", "--json", "keys", "rotate", old, "bob-2"))
    assert done["old_key_id"] == old and done["owner"] == "bob"
    assert done["key_id"] == json.loads(run("bob", "--json", "keys", "list"))[1]["key_id"] != old
