"""Secrets at rest: AES-256-GCM under keys from configuration. Nothing else sees a key.

`TOOLSETS_SECRET_KEY` holds one or more keys (comma-separated, each 32 random bytes in
URL-safe base64, as `toolsets generate-secret-key` prints). The first key encrypts;
every key decrypts, so a key is rotated by putting the new one first and keeping the
old one until every secret has been written again. With the embedded database and no
key configured, `toolsets serve` makes one and keeps it next to the data folder.

A sealed value is `version (1) | key id (4) | nonce (12) | ciphertext+tag`. The key id
(the first bytes of the key's SHA-256) picks the key; the *context* (what the secret
belongs to, e.g. `upstream:<project id>:<source>`) is authenticated with it, so a value
copied onto another row does not decrypt.
"""

import base64
import binascii
import hashlib
import os
import secrets
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.kit.errors import AppError
from app.settings import get_settings

VERSION = b"\x01"
KEY_BYTES = 32
NONCE_BYTES = 12
KEY_FILE_NAME = "toolsets-secret.key"


class SecretsUnavailable(AppError):
    status = 503
    code = "secrets_unavailable"
    title = "Secrets unavailable"


class SecretUnreadable(Exception):
    """A sealed value that no configured key opens (a removed key, or a value moved between rows)."""


def generate_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()[:4]


class SecretBox:
    def __init__(self, keys: list[bytes]) -> None:
        if not keys or any(len(k) != KEY_BYTES for k in keys):
            raise ValueError(f"every secret key must be {KEY_BYTES} bytes")
        self._sealing = (_key_id(keys[0]), AESGCM(keys[0]))
        self._opening = {_key_id(k): AESGCM(k) for k in keys}

    @classmethod
    def from_config(cls, value: str) -> "SecretBox":
        keys = []
        for part in value.split(","):
            try:
                keys.append(base64.urlsafe_b64decode(part.strip().encode()))
            except (binascii.Error, ValueError) as exc:
                raise ValueError("TOOLSETS_SECRET_KEY is not URL-safe base64") from exc
        return cls(keys)

    def seal(self, plaintext: bytes, context: str) -> bytes:
        key_id, aead = self._sealing
        nonce = os.urandom(NONCE_BYTES)
        return VERSION + key_id + nonce + aead.encrypt(nonce, plaintext, context.encode())

    def open(self, sealed: bytes, context: str) -> bytes:
        if len(sealed) < 1 + 4 + NONCE_BYTES + 16 or sealed[:1] != VERSION:
            raise SecretUnreadable("not a sealed value")
        aead = self._opening.get(sealed[1:5])
        if aead is None:
            raise SecretUnreadable("sealed with a key that is not configured")
        nonce, body = sealed[5 : 5 + NONCE_BYTES], sealed[5 + NONCE_BYTES :]
        try:
            return aead.decrypt(nonce, body, context.encode())
        except InvalidTag as exc:
            raise SecretUnreadable("the value does not belong here, or was altered") from exc


@lru_cache
def _box(configured: str) -> SecretBox:
    return SecretBox.from_config(configured)


def secret_box() -> SecretBox:
    """The configured keys; 503 `secrets_unavailable` when none is configured."""
    configured = get_settings().toolsets_secret_key
    if configured is None or not configured.get_secret_value().strip():
        raise SecretsUnavailable(
            "No secret key is configured: set TOOLSETS_SECRET_KEY (see `toolsets generate-secret-key`)."
        )
    return _box(configured.get_secret_value())


def check_configured_keys() -> None:
    """Refuse to start with a TOOLSETS_SECRET_KEY that is set but unusable (a typo would
    otherwise surface later, as failed writes and calls)."""
    configured = get_settings().toolsets_secret_key
    if configured is not None and configured.get_secret_value().strip():
        try:
            _box(configured.get_secret_value())
        except ValueError as exc:
            raise RuntimeError(
                f"TOOLSETS_SECRET_KEY is not usable: {exc} (each key: {KEY_BYTES} bytes, URL-safe "
                "base64, as `toolsets generate-secret-key` prints)."
            ) from None


def load_or_create_key_file(folder: Path) -> str:
    """The embedded setup's key: read from `folder`, or made there (mode 0600) on first start."""
    path = folder / KEY_FILE_NAME
    if path.exists():
        return path.read_text().strip()
    folder.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key
