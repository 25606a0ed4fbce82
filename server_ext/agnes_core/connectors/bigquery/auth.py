"""Credentials of a BigQuery source, in order: a service-account key (a file path or the key's JSON)
named by an environment variable (service-account keys only: other credential configurations are not
loaded from the environment unvalidated), the GCE/GKE metadata server's token, Application Default
Credentials, and — only with an emulator ``endpoint`` — none at all.

The metadata server's token is fetched with ``Metadata-Flavor: Google`` and a 5 s timeout, kept
(for every connector of the process) until shortly before it expires, then fetched again; a token
the service rejected (401) is fetched again once. No token or key text is ever put in a message.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agnes_core.errors import SourceError

SCOPES = ("https://www.googleapis.com/auth/bigquery", "https://www.googleapis.com/auth/cloud-platform")
DEFAULT_METADATA_HOST = "metadata.google.internal"
TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"
METADATA_TIMEOUT_S = 5.0
#: A cached token is fetched again this long before it expires.
REFRESH_MARGIN_S = 300.0
AUTH_MODES = ("auto", "key", "metadata_server", "adc", "anonymous")


@dataclass
class _Token:
    value: str
    expiry: dt.datetime  # naive UTC, as google-auth keeps it
    #: When it is fetched again: :data:`REFRESH_MARGIN_S` before expiry (half its life if shorter).
    refresh_at: dt.datetime

    def fresh(self) -> bool:
        return _utcnow() < self.refresh_at


_TOKENS: dict[str, _Token] = {}
_TOKENS_LOCK = threading.Lock()
#: Every token this process was handed, to redact them wherever they might show up.
_SEEN: set[str] = set()


def known_tokens() -> set[str]:
    with _TOKENS_LOCK:
        return set(_SEEN)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def metadata_token(host: str, *, rejected: str | None = None) -> _Token:
    """The metadata server's access token for ``host``: the cached one while it has more than
    :data:`REFRESH_MARGIN_S` left (and is not ``rejected``), else a new one."""
    import requests

    with _TOKENS_LOCK:
        cached = _TOKENS.get(host)
        if cached is not None and cached.value != rejected and cached.fresh():
            return cached
        base = host if host.startswith(("http://", "https://")) else f"http://{host}"
        url = base.rstrip("/") + TOKEN_PATH
        try:
            response = requests.get(url, headers={"Metadata-Flavor": "Google"}, timeout=METADATA_TIMEOUT_S)
        except requests.RequestException as exc:
            raise SourceError(
                f"the GCE metadata server at {host} did not answer ({type(exc).__name__})",
                hint="Run the server on GCE/GKE with a service account attached, or name a key in "
                "secrets.credentials.", details={"credentials": "metadata_server", "host": host}) from None
        if response.status_code != 200:
            raise SourceError(
                f"the GCE metadata server at {host} refused a token (HTTP {response.status_code})",
                hint="Check the instance's service account and its scopes (BigQuery needs cloud-platform or "
                "bigquery).", details={"credentials": "metadata_server", "host": host})
        try:
            body = response.json()
            lifetime = int(body.get("expires_in", 3600))
            now = _utcnow()
            token = _Token(str(body["access_token"]), now + dt.timedelta(seconds=lifetime),
                           now + dt.timedelta(seconds=max(lifetime - REFRESH_MARGIN_S, lifetime / 2)))
        except (ValueError, KeyError, TypeError):
            raise SourceError(f"the GCE metadata server at {host} answered without a token",
                              hint="Check the host is a GCE metadata server.",
                              details={"credentials": "metadata_server", "host": host}) from None
        _TOKENS[host] = token
        _SEEN.add(token.value)
        return token


def _metadata_credentials(host: str) -> Any:
    import google.auth.credentials

    class MetadataServerCredentials(google.auth.credentials.Credentials):
        """Tokens from :func:`metadata_token` (cached per process, refreshed before expiry)."""

        def refresh(self, request: Any) -> None:
            # A refresh while holding a token still fresh means the service rejected it (401).
            rejected = self.token if self.token is not None and not self.expired else None
            token = metadata_token(host, rejected=rejected)
            self.token, self.expiry = token.value, token.expiry

    credentials = MetadataServerCredentials()
    token = metadata_token(host)  # fails here, naming the host, rather than at the first call
    credentials.token, credentials.expiry = token.value, token.expiry
    return credentials


def resolve(name: str, options: Mapping[str, Any], secrets: Mapping[str, str],
            environ: Mapping[str, str]) -> tuple[Any, str]:
    """``(credentials, how)`` in the documented order; a SourceError saying what was tried."""
    mode = options.get("auth", "auto")
    tried: list[str] = []
    var = secrets.get("credentials")
    if mode in ("auto", "key") and var:
        return _key_credentials(name, var, environ), f"key from ${var}"
    if mode == "key":
        raise SourceError(f"bigquery source {name!r}: auth is 'key' but secrets.credentials is not set",
                          hint="Set secrets.credentials to the name of an environment variable holding a "
                          "service-account key file's path or its JSON.", details={"source": name})
    if var:
        tried.append(f"key from ${var} (skipped: auth={mode})")
    host = options.get("metadata_host") or environ.get("GCE_METADATA_HOST")
    if mode == "metadata_server" or (mode == "auto" and host):
        host = host or DEFAULT_METADATA_HOST
        return _metadata_credentials(host), f"GCE metadata server at {host}"
    tried.append("GCE metadata server (GCE_METADATA_HOST / options.metadata_host not set)")
    if mode in ("auto", "adc"):
        import google.auth
        from google.auth.exceptions import DefaultCredentialsError

        try:
            credentials, _project = google.auth.default(scopes=list(SCOPES))
            return credentials, "application default credentials"
        except DefaultCredentialsError:
            tried.append("application default credentials (none found)")
    if options.get("endpoint") and mode in ("auto", "anonymous"):
        from google.auth.credentials import AnonymousCredentials

        return AnonymousCredentials(), "anonymous (emulator endpoint)"
    if mode == "anonymous":
        raise SourceError(f"bigquery source {name!r}: anonymous access is only for an emulator endpoint",
                          hint="Set options.endpoint to the emulator's URL, or choose another auth.",
                          details={"source": name})
    raise SourceError(
        f"bigquery source {name!r} found no credentials; tried: {'; '.join(tried)}",
        hint="Set secrets.credentials to the name of an environment variable holding a service-account key "
        "(a file path or its JSON), run on GCE/GKE with a service account, or configure Application Default "
        "Credentials (GOOGLE_APPLICATION_CREDENTIALS).", details={"source": name, "tried": tried})


def _key_credentials(name: str, var: str, environ: Mapping[str, str]) -> Any:
    from google.auth.exceptions import GoogleAuthError
    from google.oauth2 import service_account

    value = environ.get(var, "")
    if not value:
        raise SourceError(
            f"bigquery source {name!r}: environment variable {var} is not set in the server's environment",
            hint=f"export {var}=<path to a service-account key file, or its JSON> before starting Jupyter",
            details={"source": name, "env_var": var, "credentials": "key"})
    try:
        if value.lstrip().startswith("{"):
            info = json.loads(value)
            if not isinstance(info, dict) or info.get("type") != "service_account":
                raise ValueError("not a service-account key")
            credentials = service_account.Credentials.from_service_account_info(info, scopes=list(SCOPES))
        else:
            if not os.path.isfile(value):
                raise SourceError(
                    f"bigquery source {name!r}: ${var} names no readable key file",
                    hint=f"Set {var} to the path of a service-account key file (or the key's JSON).",
                    details={"source": name, "env_var": var, "credentials": "key"})
            credentials = service_account.Credentials.from_service_account_file(value, scopes=list(SCOPES))
    except SourceError:
        raise
    except (ValueError, GoogleAuthError, OSError, TypeError, KeyError):
        raise SourceError(
            f"bigquery source {name!r}: the key in ${var} is not a usable service-account key",
            hint=f"{var} must hold a key file's path or the key's JSON (type service_account).",
            details={"source": name, "env_var": var, "credentials": "key"}) from None
    return credentials


def key_secrets(value: str) -> list[str]:
    """The parts of a key's JSON that must never be shown (the key itself, its id), longest first."""
    out = {value} if value else set()
    try:
        info = json.loads(value) if value.lstrip().startswith("{") else None
    except ValueError:
        info = None
    if isinstance(info, dict):
        for key in ("private_key", "private_key_id", "refresh_token", "client_secret"):
            if isinstance(info.get(key), str) and info[key]:
                out.add(info[key])
                out |= {line for line in info[key].splitlines() if len(line) > 16}
    return sorted(out, key=len, reverse=True)
