"""AES-256-GCM encryption of every payload tracepost sends to Temporal.

An encrypted payload has the metadata ``encoding: binary/encrypted`` and ``encryption-key-id:
<id>``; its data is a 12-byte random nonce followed by the AES-GCM ciphertext (with its tag) of
the whole original payload, serialized. The key id is the associated data, so a payload cannot be
relabelled to another key. The first key of the ring encrypts; every key decrypts, so after a
rotation the old key stays listed until no open workflow holds payloads it encrypted. Payloads
that are not ``binary/encrypted`` (histories written before encryption was on) pass through
decoding unchanged.

Keys are ``id:base64key`` entries, separated by commas or new lines (``#`` starts a comment line):
``TRACEPOST_CODEC_KEYS``, else the key file (``TRACEPOST_CODEC_KEYS_FILE``, default
``var/codec-keys``). No message of this module contains a key.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import re
import secrets
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from workers.settings import Settings

log = logging.getLogger(__name__)

ENCRYPTED_ENCODING = b"binary/encrypted"
"""The ``encoding`` metadata of an encrypted payload."""
KEY_ID_METADATA = "encryption-key-id"
"""The metadata naming the key that encrypted a payload."""
NONCE_BYTES = 12
KEY_BYTES = 32
TAG_BYTES = 16
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
"""Key ids: 1-32 letters, digits, ``.``, ``_``, ``-`` (shorter than any base64 AES-256 key, so a
key put where an id belongs is refused without being echoed)."""
KEY_FILE_HEADER = (
    "# tracepost payload encryption keys (id:base64-key one a line): the first encrypts and all"
    " decrypt.\n# Keep every key that open workflows' payloads were encrypted with.\n"
)
"""Written at the top of a new key file (no commas: some readers split entries on them)."""
HOW_TO_CONFIGURE = (
    "set TRACEPOST_CODEC_KEYS=id:base64-key, or create the key file with"
    " `tracepost codec new-key` (TRACEPOST_CODEC=off turns encryption off)"
)


class CodecKeyError(ValueError):
    """The encryption keys are missing or malformed; the message never contains a key."""


class PayloadDecryptError(ValueError):
    """An encrypted payload cannot be decrypted: its key is not configured, or it was altered."""


@dataclass(frozen=True)
class KeyRing:
    """Encryption keys by id, in order: the first encrypts, all decrypt.

    Args:
        keys: ``(id, 32-byte key)`` pairs; never shown by ``repr``.
    """

    keys: tuple[tuple[str, bytes], ...] = field(repr=False)

    def __post_init__(self) -> None:
        if not self.keys:
            raise CodecKeyError("the key ring is empty")

    @property
    def active_id(self) -> str:
        """The id of the key that encrypts."""
        return self.keys[0][0]

    @property
    def ids(self) -> tuple[str, ...]:
        """Every key id, the encrypting one first."""
        return tuple(key_id for key_id, _ in self.keys)

    def __repr__(self) -> str:
        return f"KeyRing(ids={self.ids!r})"


def parse_key_ring(text: str, source: str = "TRACEPOST_CODEC_KEYS") -> KeyRing:
    """Parse ``id:base64key,id2:base64key`` (commas or new lines; ``#`` starts a comment line).

    Args:
        text: the keys.
        source: where they came from, named in the error messages.

    Returns:
        The key ring, in the order given.

    Raises:
        CodecKeyError: no key, an entry that is not ``id:key``, a bad or duplicate id, or a key
            that is not base64 of exactly 32 bytes. The message names the entry by position
            (and its id once the id is valid), never the key.
    """
    entries: list[tuple[str, bytes]] = []
    position = 0
    raw_entries = (
        part
        for line in text.splitlines()
        if not line.lstrip().startswith("#")
        for part in line.split(",")
    )
    for raw in raw_entries:
        entry = raw.strip()
        if not entry:
            continue
        position += 1
        where = f"{source}: entry {position}"
        key_id, sep, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not sep:
            raise CodecKeyError(f"{where} is not id:base64-key")
        if not KEY_ID_PATTERN.fullmatch(key_id):
            raise CodecKeyError(
                f"{where}: the key id must be 1-32 letters, digits, '.', '_' or '-',"
                " starting with a letter or digit"
            )
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise CodecKeyError(f"{where} (key id {key_id!r}): the key is not base64") from None
        if len(key) != KEY_BYTES:
            raise CodecKeyError(
                f"{where} (key id {key_id!r}): the key is {len(key)} bytes, AES-256 needs"
                f" {KEY_BYTES}"
            )
        if any(known == key_id for known, _ in entries):
            raise CodecKeyError(f"{where}: key id {key_id!r} appears twice")
        entries.append((key_id, key))
    if not entries:
        raise CodecKeyError(f"{source}: no key; {HOW_TO_CONFIGURE}")
    return KeyRing(tuple(entries))


def new_key_entry(now: datetime | None = None) -> tuple[str, str]:
    """A fresh random key.

    Args:
        now: when it is made (its id starts with the UTC date).

    Returns:
        ``(key id, "id:base64key")``.
    """
    day = (now or datetime.now(UTC)).astimezone(UTC)
    key_id = f"k{day:%Y%m%d}-{secrets.token_hex(3)}"
    return key_id, f"{key_id}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


def key_file_path(settings: Settings) -> Path:
    """The key file of a deployment (``TRACEPOST_CODEC_KEYS_FILE``, default ``var/codec-keys``).

    Args:
        settings: tracepost settings.

    Returns:
        The path.
    """
    return settings.codec_keys_file or settings.var_dir / "codec-keys"


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically, mode 0600 (a crash leaves the old file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise


def prepend_new_key(path: Path) -> str:
    """Put a new key first in a key file (created 0600 when missing); the old keys stay.

    Args:
        path: the key file.

    Returns:
        The new key's id.

    Raises:
        CodecKeyError: the file exists but is not a valid key list (it is left as it is).
    """
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    known: tuple[str, ...] = ()
    if old.strip():
        known = parse_key_ring(old, str(path)).ids
    key_id, entry = new_key_entry()
    while key_id in known:  # pragma: no cover - 24 random bits on the same day
        key_id, entry = new_key_entry()
    if not old.strip():
        _write_private(path, f"{KEY_FILE_HEADER}{entry}\n")
        return key_id
    lines = old.splitlines(keepends=True)
    lead = 0  # the new key goes after the file's leading comments, before the other keys
    while lead < len(lines) and (not lines[lead].strip() or lines[lead].lstrip().startswith("#")):
        lead += 1
    head = "".join(lines[:lead])
    if head and not head.endswith("\n"):
        head += "\n"
    _write_private(path, f"{head}{entry}\n{''.join(lines[lead:])}")
    return key_id


def ensure_key_file(settings: Settings) -> str | None:
    """Create the key file with one fresh key, for the dev stack, when it is needed and missing.

    Nothing happens when the codec is off, when ``TRACEPOST_CODEC_KEYS`` is set, or when the
    file exists.

    Args:
        settings: tracepost settings.

    Returns:
        The id of the key created, or None.
    """
    if settings.codec != "on" or settings.codec_keys.get_secret_value().strip():
        return None
    path = key_file_path(settings)
    if path.exists():
        return None
    key_id = prepend_new_key(path)
    log.info("payload encryption: created key file %s with key %s", path, key_id)
    return key_id


def load_key_ring(settings: Settings) -> KeyRing | None:
    """The configured keys, or None when the codec is off.

    Args:
        settings: tracepost settings.

    Returns:
        The ring from ``TRACEPOST_CODEC_KEYS``, else from the key file; None with
        ``TRACEPOST_CODEC=off``.

    Raises:
        CodecKeyError: the codec is on and neither the setting nor the file holds usable keys.
    """
    if settings.codec != "on":
        return None
    configured = settings.codec_keys.get_secret_value()
    if configured.strip():
        return parse_key_ring(configured)
    path = key_file_path(settings)
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise CodecKeyError(
            f"payload encryption is on (TRACEPOST_CODEC=on) but TRACEPOST_CODEC_KEYS is empty"
            f" and there is no key file {path}: {HOW_TO_CONFIGURE}"
        ) from None
    except OSError as exc:
        raise CodecKeyError(f"cannot read the key file {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("key file %s can be read by other users; chmod 600 it", path)
    return parse_key_ring(text, str(path))


class AesGcmCodec(PayloadCodec):
    """Encrypts payloads with the ring's first key; decrypts with the key each one names.

    Args:
        ring: the keys.
    """

    def __init__(self, ring: KeyRing) -> None:
        self._active = ring.active_id
        self._ciphers = {key_id: AESGCM(key) for key_id, key in ring.keys}

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The ids this codec decrypts, the encrypting one first."""
        return tuple(self._ciphers)

    def __repr__(self) -> str:
        return f"AesGcmCodec(key_ids={self.key_ids!r})"

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypt each payload with the active key.

        Args:
            payloads: the payloads as the payload converter made them.

        Returns:
            One ``binary/encrypted`` payload for each.
        """
        key_id = self._active
        aad = key_id.encode()
        cipher = self._ciphers[key_id]
        encoded = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), aad)
            encoded.append(
                Payload(
                    metadata={"encoding": ENCRYPTED_ENCODING, KEY_ID_METADATA: aad},
                    data=nonce + sealed,
                )
            )
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt each encrypted payload; any other passes through unchanged.

        Args:
            payloads: payloads as stored in Temporal.

        Returns:
            The original payloads.

        Raises:
            PayloadDecryptError: a payload names a key that is not configured, or does not
                authenticate (altered, or a different key under the same id).
        """
        decoded = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCRYPTED_ENCODING:
                decoded.append(payload)
                continue
            raw_id = payload.metadata.get(KEY_ID_METADATA, b"")
            key_id = raw_id.decode("utf-8", "replace")[:64]
            cipher = self._ciphers.get(key_id)
            if cipher is None:
                raise PayloadDecryptError(
                    f"payload encrypted with key {key_id!r}, which is not configured (known:"
                    f" {', '.join(self._ciphers)}); put that key back in TRACEPOST_CODEC_KEYS"
                    " or the key file"
                )
            data = payload.data
            try:
                if len(data) < NONCE_BYTES + TAG_BYTES:
                    raise InvalidTag
                plain = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], raw_id)
                original = Payload()
                original.ParseFromString(plain)
            except (InvalidTag, DecodeError):
                raise PayloadDecryptError(
                    f"payload encrypted with key {key_id!r} does not authenticate: it was altered,"
                    " or that id names a different key here"
                ) from None
            decoded.append(original)
        return decoded


def codec_from_settings(settings: Settings) -> AesGcmCodec | None:
    """The payload codec a process uses, or None when the codec is off.

    Args:
        settings: tracepost settings.

    Returns:
        The codec over the configured key ring, or None with ``TRACEPOST_CODEC=off``.

    Raises:
        CodecKeyError: the codec is on and no usable key is configured.
    """
    ring = load_key_ring(settings)
    return AesGcmCodec(ring) if ring is not None else None
