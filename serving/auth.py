"""API tokens: who may read listeners' recommendations and heard-track checks.

Off unless configured (tunesday.settings): TUNESDAY_API_TOKENS, comma-separated, and/or
TUNESDAY_API_TOKENS_FILE, one token a line (blank lines and lines starting with # skipped). With
either set, every /v1 request needs `Authorization: Bearer <token>` with one of them.

The file is looked at (one stat) at most every CHECK_SECONDS and re-read when it changed, so a
token is added or revoked without a restart: write the new file beside the old one and rename it
over (the change shows within CHECK_SECONDS in every worker). A file that cannot be read, or holds
no valid token, lets nobody in (it fails closed) until it is fixed; the tokens from the environment
still work meanwhile.

A request's token is compared with every configured one, each through SHA-256 and
hmac.compare_digest, so the time taken tells neither which token was close nor their lengths.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import threading
import time
from pathlib import Path

#: How often the tokens file is looked at (a stat of it).
CHECK_SECONDS = 1.0
#: RFC 6750's token68 alphabet; 16 characters at least, so a token cannot be guessed by trying.
TOKEN = re.compile(r"[A-Za-z0-9._~+/-]{16,}=*")

log = logging.getLogger(__name__)


class TokenError(ValueError):
    """A configured token is malformed (a one-line message that does not quote it)."""


def _digests(tokens: list[str], where: str) -> list[bytes]:
    for number, token in enumerate(tokens, start=1):
        if not TOKEN.fullmatch(token):
            raise TokenError(f"{where}: token {number} is not 16 or more characters of A-Z a-z 0-9 - . _ ~ + /")
    return [hashlib.sha256(token.encode()).digest() for token in tokens]


def _file_tokens(text: str) -> list[str]:
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


class Tokens:
    def __init__(self, env_tokens: str | None, tokens_file: str | None) -> None:
        """TokenError when TUNESDAY_API_TOKENS holds a malformed token: the server does not start."""
        self._env = _digests([t.strip() for t in (env_tokens or "").split(",") if t.strip()], "TUNESDAY_API_TOKENS")
        if env_tokens is not None and not self._env:
            raise TokenError("TUNESDAY_API_TOKENS is set but holds no token")
        self._file = Path(tokens_file) if tokens_file else None
        self._from_file: list[bytes] = []
        self._seen: tuple[object, ...] | None = None
        self._next_check = 0.0
        self._lock = threading.Lock()

    @property
    def required(self) -> bool:
        return bool(self._env) or self._file is not None

    def allows(self, authorization: str | None) -> bool:
        """Whether an Authorization header carries a configured bearer token."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        given = hashlib.sha256(token.strip().encode()).digest()
        matched = False
        for digest in self._env + self._current_file_tokens():
            matched |= hmac.compare_digest(given, digest)
        return matched

    def _current_file_tokens(self) -> list[bytes]:
        if self._file is None:
            return []
        now = time.monotonic()
        if now >= self._next_check:
            with self._lock:
                self._next_check = now + CHECK_SECONDS
                self._reload()
        return self._from_file

    def _reload(self) -> None:
        assert self._file is not None  # called only with a tokens file configured
        seen: tuple[object, ...]
        try:
            stat = os.stat(self._file)
            seen = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        except OSError as error:
            seen = ("missing", error.errno)
        if seen == self._seen:
            return
        self._seen = seen
        try:
            self._from_file = _digests(_file_tokens(self._file.read_text()), str(self._file))
            if not self._from_file:
                log.error("%s holds no token: no request is let in with a token from it", self._file)
        except (OSError, UnicodeDecodeError, TokenError) as error:
            self._from_file = []
            reason = error if isinstance(error, TokenError) else f"{self._file} cannot be read ({type(error).__name__})"
            log.error("%s; no request is let in with a token from this file", reason)
