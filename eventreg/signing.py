"""
Ed25519 signing of events, and the check of every signature in a log.

A key pair lives in the user's config directory (``EVENTREG_KEYS_DIR``, else
``$XDG_CONFIG_HOME/eventreg/keys`` or ``~/.config/eventreg/keys``): ``NAME.key`` (the
private key, PKCS#8 PEM, mode 0600, encrypted when a passphrase is given) and
``NAME.pub`` (the public key, raw 32 bytes in base64). Its id is the first 16 hex digits
of the sha256 of the raw public key.

What is signed: the chain hash of an event needs ``prev_hash``, known only inside the
backend's append. So the signature covers the sha256 of the canonical JSON of
``[stream_id, stream_version, type, schema_version, actor, payload, metadata]``, with the
metadata minus its ``signature`` field (it keeps ``signed_by``, the key id). The
signature and key id are stored in the event's metadata, so every backend stores them
unchanged, and the hash chain covers the signature too: changing one byte of a signed
event breaks both the chain and the signature.
"""

from __future__ import annotations

import base64
import collections
import concurrent.futures
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

from eventreg.errors import ConfigurationError, NotFound, ValidationError
from eventreg.log import NewEvent, RecordedEvent, canonical_bytes

__all__ = ["SignatureCheck", "SignatureChecker", "Signer", "create_key", "key_id_of", "keys_dir", "load_signer", "public_key_text",
           "signing_digest", "verify_signatures"]

#: metadata fields of a signed event
SIGNATURE, SIGNED_BY = "signature", "signed_by"


def keys_dir() -> Path:
    """
    Where key pairs are kept: ``EVENTREG_KEYS_DIR``, else the user's config directory.
    """
    configured = os.environ.get("EVENTREG_KEYS_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CONFIG_HOME") or os.environ.get("APPDATA") or str(Path.home() / ".config")
    return Path(base) / "eventreg" / "keys"


def key_id_of(public_raw: bytes) -> str:
    """
    The id of a public key: 16 hex digits of the sha256 of its raw 32 bytes.
    """
    return hashlib.sha256(public_raw).hexdigest()[:16]


def _need_cryptography() -> None:
    """
    Raises:
        MissingDriver: the ``cryptography`` package is not installed.
    """
    try:
        import cryptography  # noqa: F401
    except ModuleNotFoundError:
        from eventreg.errors import MissingDriver

        raise MissingDriver("signing needs the cryptography package: pip install 'eventreg[signing]'") from None


def _check_key_name(name: str) -> str:
    if not name or not all(c.isalnum() or c in "-_." for c in name) or name.startswith("."):
        raise ValidationError(f"key name {name!r}: use letters, digits, '-', '_' and '.'")
    return name


def create_key(name: str, *, passphrase: str | None = None, directory: Path | None = None,
               overwrite: bool = False) -> Signer:
    """
    Make an Ed25519 key pair named ``name`` and store it (private key mode 0600).

    Raises:
        AlreadyExists: a key of that name exists and ``overwrite`` is false.
    """
    _need_cryptography()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from eventreg.errors import AlreadyExists

    directory = directory or keys_dir()
    _check_key_name(name)
    private_path = directory / f"{name}.key"
    if private_path.exists() and not overwrite:
        raise AlreadyExists(f"a key named {name!r} exists at {private_path}")
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    encryption = (serialization.BestAvailableEncryption(passphrase.encode("utf-8")) if passphrase
                  else serialization.NoEncryption())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(pem)
    os.chmod(private_path, 0o600)
    signer = Signer(key)
    (directory / f"{name}.pub").write_text(signer.public_key + "\n", encoding="ascii")
    return signer


def load_signer(name_or_path: str | os.PathLike[str], *, passphrase: str | None = None) -> Signer:
    """
    The signer of a stored private key: a name in :func:`keys_dir` or a path to a ``.key`` file.

    Raises:
        NotFound: no such key.
        ConfigurationError: the passphrase is wrong or missing, or the file is not an Ed25519 key.
    """
    _need_cryptography()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(name_or_path)
    if not path.exists():
        path = keys_dir() / f"{_check_key_name(str(name_or_path))}.key"
    if not path.exists():
        raise NotFound(f"no signing key {str(name_or_path)!r} (looked in {keys_dir()}); "
                       "make one with 'eventreg keys create NAME'")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(),
                                                 passphrase.encode("utf-8") if passphrase else None)
    except (TypeError, ValueError) as e:
        raise ConfigurationError(f"cannot load signing key {str(path)!r}: {e}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"{str(path)!r} is not an Ed25519 private key")
    return Signer(key)


def public_key_text(name_or_path: str | os.PathLike[str]) -> str:
    """
    The base64 public key of a stored key pair (a name, a ``.pub`` path, or the text itself).

    Raises:
        NotFound: no such key.
    """
    text = str(name_or_path)
    path = Path(text)
    if not path.exists():
        candidate = keys_dir() / f"{text}.pub"
        if candidate.exists():
            path = candidate
        else:
            _decode_public(text)  # the key itself, or a clear error
            return text
    return path.read_text(encoding="ascii").strip()


def _decode_public(text: str) -> Any:
    _need_cryptography()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        raw = base64.b64decode(text, validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise NotFound(f"{text!r} is neither a key name in {keys_dir()} nor a base64 Ed25519 public key") from None


def signing_digest(stream_id: str, stream_version: int, type_: str, schema_version: int, actor: str | None,
                   payload: dict[str, Any], metadata: dict[str, Any] | None) -> bytes:
    """
    The sha256 a signature covers (see the module's docstring).
    """
    if metadata and SIGNATURE in metadata:
        metadata = {k: v for k, v in metadata.items() if k != SIGNATURE}
    return hashlib.sha256(canonical_bytes(
        [stream_id, stream_version, type_, schema_version, actor, payload, metadata or {}])).digest()


class Signer:
    """
    An Ed25519 private key that signs events before they are appended.
    """

    def __init__(self, private_key: Any) -> None:
        from cryptography.hazmat.primitives import serialization

        self._key = private_key
        raw = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.public_key = base64.b64encode(raw).decode("ascii")
        self.key_id = key_id_of(raw)

    def __repr__(self) -> str:
        return f"<Signer key_id={self.key_id}>"

    def sign(self, event: NewEvent, stream_id: str, stream_version: int) -> NewEvent:
        """
        ``event`` with its signature (and key id) in its metadata.
        """
        metadata = {**(event.metadata or {}), SIGNED_BY: self.key_id}
        metadata.pop(SIGNATURE, None)
        digest = signing_digest(stream_id, stream_version, event.type, event.schema_version, event.actor,
                                event.payload, metadata)
        metadata[SIGNATURE] = base64.b64encode(self._key.sign(digest)).decode("ascii")
        return attrs.evolve(event, metadata=metadata)


@attrs.frozen
class SignatureCheck:
    """
    The signatures of a log checked: how many, and the first bad one.
    """

    ok: bool
    checked: int
    first_bad_position: int | None = None
    problem: str | None = None


#: Signed events per batch handed to a worker thread (PyNaCl releases the GIL while
#: libsodium verifies, so one thread per CPU checks batches while the log is read).
BATCH = 256
#: Check signatures with libsodium (PyNaCl) when it is installed; False: OpenSSL alone
#: (``cryptography``), one signature at a time in the reading thread.
PYNACL = True

_Item = tuple[int, bytes, bytes, bytes]  # (position, raw public key, signature, digest)


def _nacl_signing() -> Any:
    """
    ``nacl.signing`` when PyNaCl is installed and :data:`PYNACL` is on, else None.
    """
    if not PYNACL:
        return None
    try:
        import nacl.signing
    except ModuleNotFoundError:
        return None
    return nacl.signing


def _openssl_verifies(public_raw: bytes, signature: bytes, digest: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, digest)
    except (InvalidSignature, ValueError):  # ValueError: a registered key of the wrong size
        return False
    return True


def _first_bad_openssl(items: list[_Item]) -> int | None:
    """
    The index of the first item whose signature OpenSSL does not verify, or None.
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    keys: dict[bytes, Any] = {}
    for index, (_, public_raw, signature, digest) in enumerate(items):
        key = keys.get(public_raw)
        try:
            if key is None:
                key = keys[public_raw] = Ed25519PublicKey.from_public_bytes(public_raw)
            key.verify(signature, digest)
        except (InvalidSignature, ValueError):
            return index
    return None


def _first_bad_nacl(items: list[_Item]) -> int | None:
    """
    :func:`_first_bad_openssl` with libsodium. libsodium is the stricter of the two (it
    refuses small-order points and non-canonical encodings that OpenSSL accepts), so what
    it accepts OpenSSL accepts too; what it refuses goes to OpenSSL, whose answer is the
    verdict: the outcome is OpenSSL's either way.
    """
    import nacl.signing

    keys: dict[bytes, Any] = {}
    for index, (_, public_raw, signature, digest) in enumerate(items):
        try:
            key = keys.get(public_raw)
            if key is None:
                key = keys[public_raw] = nacl.signing.VerifyKey(public_raw)
            key.verify(digest, signature)
        except Exception:  # noqa: BLE001 - any refusal (bad signature, odd key): OpenSSL decides
            if not _openssl_verifies(public_raw, signature, digest):
                return index
    return None


class SignatureChecker:
    """
    Checks the signatures of a log event by event, as a reader hands them over (so that
    ``verify()`` reads the log once for the chain and the signatures).

    :meth:`feed` every event in log order, then :meth:`result`. Keys come from the log's
    own ``governance.key_registered`` / ``key_revoked`` events: a signature by an unknown
    key, by a key revoked at an earlier position, by a key of another actor, or that does
    not match the event's content fails, naming the first bad position.

    With PyNaCl installed, batches of :data:`BATCH` signatures are verified by libsodium
    on ``workers`` threads (None: one per CPU; 1: in the calling thread) while the caller
    goes on reading; without it, OpenSSL checks them in the calling thread.
    """

    def __init__(self, *, workers: int | None = None) -> None:
        self._workers = (os.cpu_count() or 1) if workers is None else max(1, workers)
        self._nacl = _nacl_signing() is not None
        self._verify = _first_bad_nacl if self._nacl else _first_bad_openssl
        self._keys: dict[str, list[Any]] = {}  # key id -> [raw public key, owner, revoked]
        self._items: list[_Item] = []
        self._queued = 0  # signatures handed to a batch
        self._pending: collections.deque[tuple[int, list[_Item], Any]] = collections.deque()
        self._pool: Any = None
        self._bad: tuple[int, int, str] | None = None  # (position, checked before it, problem)
        self._stopped = False

    def feed(self, event: RecordedEvent) -> None:
        """
        Check one event (the next in log order) and take note of the keys it registers or revokes.
        """
        if self._stopped:
            return
        metadata = event.metadata
        if metadata and SIGNATURE in metadata:
            try:
                problem = self._queue(event, metadata)
            except (TypeError, ValueError, AttributeError, UnicodeError, RecursionError, OverflowError) as e:
                problem = f"the signed content cannot be read ({type(e).__name__}: {e})"
            if problem:
                if self._items:  # the signatures before it first: one of them may be bad
                    self._submit()
                self._stop(event.position, self._queued, f"position {event.position}: {problem}")
                return
            if len(self._items) >= BATCH:
                self._submit()
        type_ = event.type
        if type_ == "governance.key_registered":
            payload = event.payload
            try:
                raw = base64.b64decode(payload["public_key"], validate=True)
                self._keys[payload["key_id"]] = [raw, payload["owner"], False]
            except (KeyError, ValueError, TypeError):
                pass  # a key that cannot be read signs nothing that verifies
        elif type_ == "governance.key_revoked":
            entry = self._keys.get(event.payload.get("key_id"))
            if entry is not None:
                entry[2] = True

    def _queue(self, event: RecordedEvent, metadata: dict[str, Any]) -> str | None:
        key_id = metadata.get(SIGNED_BY)
        entry = self._keys.get(key_id) if type(key_id) is str else None
        if entry is None:
            return f"signed by key {key_id!r}, which the log does not hold at this position"
        if entry[2]:
            return f"signed by key {key_id} after its revocation"
        if entry[1] != event.actor:
            return f"signed by key {key_id} of {entry[1]!r}, but the event's actor is {event.actor!r}"
        try:
            signature = base64.b64decode(metadata[SIGNATURE], validate=True)
        except (ValueError, TypeError):
            return "its signature is not base64"
        self._items.append((event.position, entry[0], signature, signing_digest(
            event.stream_id, event.stream_version, event.type, event.schema_version, event.actor,
            event.payload, metadata)))
        return None

    def _stop(self, position: int, checked: int, problem: str) -> None:
        if self._bad is None or position < self._bad[0]:
            self._bad = (position, checked, problem)
        self._stopped = True
        self._items = []

    def _submit(self) -> None:
        items, self._items = self._items, []
        first = self._queued
        self._queued += len(items)
        if self._nacl and self._workers > 1:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(self._workers,
                                                                   thread_name_prefix="eventreg-verify")
            self._pending.append((first, items, self._pool.submit(self._verify, items)))
            while len(self._pending) > 4 * self._workers and not self._stopped:  # bounded memory
                self._settle(self._pending.popleft())
        else:
            self._settle((first, items, None))

    def _settle(self, batch: tuple[int, list[_Item], Any]) -> None:
        first, items, future = batch
        index = self._verify(items) if future is None else future.result()
        if index is not None:
            self._stop(items[index][0], first + index,
                       f"position {items[index][0]}: the signature does not match the event's content")

    def result(self) -> SignatureCheck:
        """
        The outcome, once every event was fed (waits for the batches still being checked).
        """
        try:
            if self._items:
                self._submit()
            while self._pending:
                batch = self._pending.popleft()
                if self._bad is not None and self._bad[1] <= batch[0]:
                    batch[2].cancel()  # after the first bad signature: its outcome changes nothing
                    continue
                self._settle(batch)
        finally:
            self.close()
        if self._bad is not None:
            position, checked, problem = self._bad
            return SignatureCheck(False, checked, position, problem)
        return SignatureCheck(True, self._queued)

    def close(self) -> None:
        """
        Stop the worker threads (batches not started are dropped).
        """
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def verify_signatures(events: Iterable[RecordedEvent], *, workers: int | None = None) -> SignatureCheck:
    """
    Check every signed event against the key the log held at its position (see
    :class:`SignatureChecker`).

    Args:
        events: the whole log, in order.
        workers: threads verifying batches with libsodium (None: one per CPU; 1: this thread only).
    """
    checker = SignatureChecker(workers=workers)
    try:
        for event in events:
            checker.feed(event)
    except BaseException:
        checker.close()
        raise
    return checker.result()
