"""
Governance commands: protect, request-promotion, approve, reject, requests, roles, keys.

A command that records a decision signs it when a key is given (``--sign-with KEY`` or
``EVENTREG_SIGNING_KEY``; an encrypted key's passphrase from ``EVENTREG_KEY_PASSPHRASE``).
"""

from __future__ import annotations

import os
from typing import Any

import click

from eventreg.cli._app import CONTEXT, _reason_option, _registry, cli
from eventreg.cli._output import _done, _emit, _print_record, _table

_sign_option = click.option(
    "--sign-with", "sign_with", metavar="KEY",
    help="Sign with this key (a name from 'eventreg keys create' or a .key path) "
         "[default: $EVENTREG_SIGNING_KEY].")

_request_columns = [
    ("request", "request_id"), ("model", "model"), ("alias", "alias"), ("action", "action"),
    ("version", "version"), ("status", "status"), ("requested by", "requester"), ("approved by", "approvers"),
    ("why", "reason"),
]


def _signed_registry(sign_with: str | None) -> Any:
    reg = _registry()
    key = sign_with or os.environ.get("EVENTREG_SIGNING_KEY")
    if key:
        reg.sign_with(key, passphrase=os.environ.get("EVENTREG_KEY_PASSPHRASE"))
    return reg


def _print_request(console: Any, request: Any) -> None:
    _print_record(f"request {request.request_id}")(console, request)


@cli.command(context_settings=CONTEXT)
@click.argument("model")
@click.argument("alias")
@click.option("--approvals", type=click.IntRange(1, 100), default=1, show_default=True,
              help="Distinct approvers a request needs.")
@click.option("--approver", "approvers", multiple=True, required=True, metavar="WHO",
              help="An actor or role:NAME who may approve (repeatable).")
@click.option("--require", "requires", multiple=True, metavar="CONDITION",
              help='A search filter the version must match at approval, e.g. "metrics.accuracy >= 0.9".')
@click.option("--emergency", "emergency", multiple=True, metavar="WHO",
              help="An actor or role:NAME who may roll back without approval (repeatable).")
@click.option("--require-signatures", is_flag=True, help="Approvals and rejections must be signed.")
@_reason_option()
def protect(model: str, alias: str, approvals: int, approvers: tuple[str, ...], requires: tuple[str, ...],
            emergency: tuple[str, ...], require_signatures: bool, reason: str | None) -> None:
    """
    Protect ALIAS of MODEL: it then moves only through approved requests.

    Turns governance on if it is off (you become its first admin); admins only.
    """
    policy = _registry().protect(model, alias, approvals=approvals, approvers=list(approvers),
                                 require=list(requires), allow_emergency_rollback=list(emergency),
                                 require_signatures=require_signatures, reason=reason)
    _emit(policy, _done(f"protected {alias} of {model}: {approvals} approval(s) by {', '.join(approvers)}"))


@cli.command(context_settings=CONTEXT)
@click.argument("model")
@click.argument("alias")
@_reason_option()
@_sign_option
def unprotect(model: str, alias: str, reason: str | None, sign_with: str | None) -> None:
    """
    File a request to lift the protection of ALIAS (approved like a promotion).
    """
    _emit(_signed_registry(sign_with).unprotect(model, alias, reason=reason), _print_request)


@cli.command("request-promotion", context_settings=CONTEXT)
@click.argument("model")
@click.argument("ref")
@click.option("--alias", required=True, help="The protected alias to move.")
@_reason_option()
@_sign_option
def request_promotion(model: str, ref: str, alias: str, reason: str | None, sign_with: str | None) -> None:
    """
    Ask for protected ALIAS of MODEL to move to version REF.
    """
    request = _signed_registry(sign_with).request_promotion(model, ref, alias=alias, reason=reason)
    _emit(request, _done(f"filed request {request.request_id}: {alias} of {model} to version "
                         f"{request.version}; it needs approval"))


@cli.command("request-rollback", context_settings=CONTEXT)
@click.argument("model")
@click.option("--alias", required=True, help="The protected alias to move back.")
@click.option("--to", "to", metavar="REF", help="An earlier holder to return to [default: the previous one].")
@_reason_option()
@_sign_option
def request_rollback(model: str, alias: str, to: str | None, reason: str | None, sign_with: str | None) -> None:
    """
    Ask for protected ALIAS of MODEL to roll back.
    """
    request = _signed_registry(sign_with).request_rollback(model, alias=alias, to=to, reason=reason)
    _emit(request, _done(f"filed request {request.request_id}: roll {alias} of {model} back to version "
                         f"{request.version}; it needs approval"))


def _outcome(request: Any) -> str:
    if request.status == "executed":
        return f"request {request.request_id} approved by {', '.join(request.approvers)}: carried out"
    if request.status == "conditions_failed":
        failed = "; ".join(c["condition"] for c in request.checks if not c["ok"])
        return (f"request {request.request_id} reached its approvals but its conditions failed ({failed}): "
                "not carried out")
    return f"request {request.request_id} is {request.status}; approved by {', '.join(request.approvers) or 'nobody'}"


@cli.command(context_settings=CONTEXT)
@click.argument("request_id")
@_reason_option()
@_sign_option
def approve(request_id: str, reason: str | None, sign_with: str | None) -> None:
    """
    Approve a request; at its quorum the conditions are checked and the alias moves.
    """
    request = _signed_registry(sign_with).approve(request_id, reason=reason)
    _emit(request, _done(_outcome(request)))


@cli.command(context_settings=CONTEXT)
@click.argument("request_id")
@_reason_option()
@_sign_option
def reject(request_id: str, reason: str | None, sign_with: str | None) -> None:
    """
    Reject a request.
    """
    request = _signed_registry(sign_with).reject(request_id, reason=reason)
    _emit(request, _done(f"rejected request {request.request_id}"))


@cli.command(context_settings=CONTEXT)
@click.argument("request_id")
@_reason_option()
def withdraw(request_id: str, reason: str | None) -> None:
    """
    Withdraw your own open request.
    """
    request = _registry().withdraw(request_id, reason=reason)
    _emit(request, _done(f"withdrew request {request.request_id}"))


@cli.command("emergency-rollback", context_settings=CONTEXT)
@click.argument("model")
@click.option("--alias", required=True, help="The protected alias to move back.")
@click.option("--to", "to", metavar="REF", help="An earlier holder to return to [default: the previous one].")
@_reason_option(required=True)
@_sign_option
def emergency_rollback(model: str, alias: str, to: str | None, reason: str, sign_with: str | None) -> None:
    """
    Roll a protected alias back without approval (the policy's emergency roles only).
    """
    move = _signed_registry(sign_with).emergency_rollback(model, alias=alias, to=to, reason=reason)
    _emit(move, _done(f"emergency rollback: {alias} of {model} is version {move.version} again"))


@cli.group(context_settings=CONTEXT)
def requests() -> None:
    """
    List and show requests to move protected aliases.
    """


@requests.command("list")
@click.argument("model", required=False)
@click.option("--status", type=click.Choice(["open", "executed", "conditions_failed", "rejected", "withdrawn"]),
              help="Only requests with this status.")
def requests_list(model: str | None, status: str | None) -> None:
    """
    List requests, oldest first.
    """
    _emit(_registry().list_requests(model, status=status),
          lambda console, rows: console.print(_table("requests", rows, _request_columns)))


@requests.command("show")
@click.argument("request_id")
def requests_show(request_id: str) -> None:
    """
    Show a request with every decision on it and its signatures.
    """
    reg = _registry()
    request = reg.get_request(request_id)
    signatures = [s for s in reg.signatures(request.model) if s.request_id == request_id]

    def human(console: Any, data: Any) -> None:
        _print_request(console, request)
        for signature in signatures:
            console.print(f"signed: {signature}", markup=False)

    _emit({"request": request, "signatures": signatures}, human)


@cli.group(context_settings=CONTEXT)
def roles() -> None:
    """
    Grant and revoke governance roles (admins only).
    """


@roles.command("grant")
@click.argument("role")
@click.argument("member")
@_reason_option()
def roles_grant(role: str, member: str, reason: str | None) -> None:
    """
    Give MEMBER the role ROLE ("admin" makes another admin).
    """
    _registry().grant_role(role, member, reason=reason)
    _emit({"role": role, "member": member, "granted": True}, _done(f"granted {role} to {member}"))


@roles.command("revoke")
@click.argument("role")
@click.argument("member")
@_reason_option()
def roles_revoke(role: str, member: str, reason: str | None) -> None:
    """
    Take the role ROLE from MEMBER.
    """
    _registry().revoke_role(role, member, reason=reason)
    _emit({"role": role, "member": member, "granted": False}, _done(f"revoked {role} from {member}"))


@cli.group(context_settings=CONTEXT)
def keys() -> None:
    """
    Ed25519 signing keys: create a pair, register or revoke its public key, list them.
    """


@keys.command("create")
@click.argument("name")
@click.option("--passphrase", is_flag=True, help="Encrypt the private key with a passphrase (prompted).")
def keys_create(name: str, passphrase: bool) -> None:
    """
    Make a key pair NAME in the keys folder ($EVENTREG_KEYS_DIR, else ~/.config/eventreg/keys).

    The private key is written with mode 0600; register the public key with
    'eventreg keys register'.
    """
    from eventreg.signing import create_key, keys_dir

    secret = click.prompt("passphrase", hide_input=True, confirmation_prompt=True) if passphrase else None
    signer = create_key(name, passphrase=secret)
    _emit({"name": name, "key_id": signer.key_id, "public_key": signer.public_key,
           "path": str(keys_dir() / f"{name}.key")},
          _done(f"created key {name} (id {signer.key_id}) in {keys_dir()}"))


@keys.command("register")
@click.argument("owner")
@click.argument("public_key", metavar="KEY")
@click.option("--name", "printed_name", metavar="TEXT", help="The owner's printed name, shown on signed records.")
@_reason_option()
def keys_register(owner: str, public_key: str, printed_name: str | None, reason: str | None) -> None:
    """
    Record KEY (a key name, a .pub file or the base64 key) as signing for OWNER (admins only).
    """
    key_id = _registry().register_key(owner, public_key, printed_name=printed_name, reason=reason)
    _emit({"key_id": key_id, "owner": owner}, _done(f"registered key {key_id} for {owner}"))


@keys.command("revoke")
@click.argument("key_id")
@_reason_option()
def keys_revoke(key_id: str, reason: str | None) -> None:
    """
    Revoke a key: signatures by it after this point fail verification (admins only).
    """
    _registry().revoke_key(key_id, reason=reason)
    _emit({"key_id": key_id, "revoked": True}, _done(f"revoked key {key_id}"))


@keys.command("rotate")
@click.argument("old_key_id", metavar="OLD_KEY_ID")
@click.argument("public_key", metavar="NEW_KEY")
@_reason_option()
def keys_rotate(old_key_id: str, public_key: str, reason: str | None) -> None:
    """
    Replace key OLD_KEY_ID by NEW_KEY (a key name, a .pub file or the base64 key) for the
    same owner and printed name, in one append (admins only).

    The old key is revoked at this position: what it signed before still verifies, what
    it signs after fails. Exit codes: 3 no such registered key, 4 NEW_KEY is registered
    already, 6 not an admin.
    """
    reg = _registry(create=False)
    owner = next((k.owner for k in reg.list_keys() if k.key_id == old_key_id), None)
    key_id = reg.rotate_key(old_key_id, public_key, reason=reason)
    _emit({"old_key_id": old_key_id, "key_id": key_id, "owner": owner},
          _done(f"rotated key {old_key_id} to {key_id} for {owner}"))


@keys.command("list")
def keys_list() -> None:
    """
    List the keys the log holds, with their owners and whether they are revoked.
    """
    rows = [{"key_id": k.key_id, "owner": k.owner, "printed_name": k.printed_name, "registered_at": k.registered_at,
             "revoked_at": k.revoked_at} for k in _registry().list_keys()]
    _emit(rows, lambda console, data: console.print(_table("keys", data, [
        ("key", "key_id"), ("owner", "owner"), ("name", "printed_name"), ("registered (UTC)", "registered_at"),
        ("revoked (UTC)", "revoked_at")])))
