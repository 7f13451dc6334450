"""A small client of the Prometheus HTTP API (also Thanos, Mimir, Cortex, VictoriaMetrics).

- Queries go out as form-encoded POSTs (long batch selectors do not hit URL length limits).
- Every request has a timeout (no byte for `timeout_s` seconds: the attempt fails) and is
  retried `retries` times with exponential backoff when the server is down, slow, overloaded
  (429) or failing (5xx); a 4xx answer (bad query, authentication) is not retried.
- Range responses are parsed while they arrive, one series at a time
  (memdoctor.traces.importers.prometheus_json.iter_matrix): memory is bounded by one series.
- Credentials come from the environment or from files, never from the command line: a bearer
  token (MEMDOCTOR_PROMETHEUS_TOKEN, or a file named by MEMDOCTOR_PROMETHEUS_TOKEN_FILE or
  --token-file) or basic auth (MEMDOCTOR_PROMETHEUS_USER with MEMDOCTOR_PROMETHEUS_PASSWORD or
  MEMDOCTOR_PROMETHEUS_PASSWORD_FILE, or a "user:password" file given with --basic-auth-file).
  MEMDOCTOR_PROMETHEUS_ORG_ID sets the X-Scope-OrgID tenant header (Mimir, Cortex). No message
  ever contains a credential: URLs are printed without user info or query string, and server
  error texts are cut short.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np

from memdoctor.errors import MemdoctorError
from memdoctor.traces.errors import TraceReadError
from memdoctor.traces.importers.prometheus_json import Matrix, iter_matrix

ENV_TOKEN = "MEMDOCTOR_PROMETHEUS_TOKEN"
ENV_TOKEN_FILE = "MEMDOCTOR_PROMETHEUS_TOKEN_FILE"
ENV_USER = "MEMDOCTOR_PROMETHEUS_USER"
ENV_PASSWORD = "MEMDOCTOR_PROMETHEUS_PASSWORD"
ENV_PASSWORD_FILE = "MEMDOCTOR_PROMETHEUS_PASSWORD_FILE"
ENV_ORG_ID = "MEMDOCTOR_PROMETHEUS_ORG_ID"
RETRY_STATUS = {429, 502, 503, 504, 500}
USER_AGENT = "memdoctor-fleet"


class PrometheusError(MemdoctorError):
    """A failure talking to Prometheus, in one line with no secret in it."""


@dataclass(frozen=True)
class Auth:
    bearer: str | None = None
    basic: tuple[str, str] | None = None
    org_id: str | None = None

    def headers(self) -> dict[str, str]:
        out = {}
        if self.bearer:
            out["Authorization"] = f"Bearer {self.bearer}"
        elif self.basic:
            pair = f"{self.basic[0]}:{self.basic[1]}".encode()
            out["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        if self.org_id:
            out["X-Scope-OrgID"] = self.org_id
        return out

    @property
    def kind(self) -> str:
        return "bearer token" if self.bearer else "basic auth" if self.basic else "none"


def _read_secret(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            value = fh.read().strip()
    except OSError as exc:
        raise PrometheusError(f"cannot read the {what} file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise PrometheusError(f"the {what} file {path} is not UTF-8 text") from None
    if not value:
        raise PrometheusError(f"the {what} file {path} is empty")
    return value


def auth_from(env: dict[str, str] | None = None, token_file: str | None = None,
              basic_auth_file: str | None = None) -> Auth:
    """Credentials from files given as options, else from the environment."""
    env = dict(os.environ) if env is None else env
    org = env.get(ENV_ORG_ID) or None
    if token_file:
        return Auth(bearer=_read_secret(token_file, "token"), org_id=org)
    if basic_auth_file:
        user, sep, password = _read_secret(basic_auth_file, "basic auth").partition(":")
        if not sep or not user:
            raise PrometheusError(f"the basic auth file {basic_auth_file} must hold one line user:password")
        return Auth(basic=(user, password), org_id=org)
    if env.get(ENV_TOKEN):
        return Auth(bearer=env[ENV_TOKEN].strip(), org_id=org)
    if env.get(ENV_TOKEN_FILE):
        return Auth(bearer=_read_secret(env[ENV_TOKEN_FILE], "token"), org_id=org)
    if env.get(ENV_USER):
        password = env.get(ENV_PASSWORD)
        if password is None and env.get(ENV_PASSWORD_FILE):
            password = _read_secret(env[ENV_PASSWORD_FILE], "password")
        if password is None:
            raise PrometheusError(f"{ENV_USER} is set but neither {ENV_PASSWORD} nor {ENV_PASSWORD_FILE}")
        return Auth(basic=(env[ENV_USER], password), org_id=org)
    return Auth(org_id=org)


def public_url(url: str) -> str:
    """The URL as it may be printed: scheme, host, port and path only."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return urllib.parse.urlunsplit((parts.scheme, host + port, parts.path, "", ""))


def check_url(url: str) -> str:
    """The base URL, validated: http(s), a host, no credentials in it."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        _ = parts.port
    except ValueError:
        raise PrometheusError("--prometheus is not a valid URL (expected http://HOST:PORT)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PrometheusError("--prometheus must be an http:// or https:// URL with a host, e.g. "
                              "http://127.0.0.1:9090")
    if parts.username or parts.password:
        raise PrometheusError("--prometheus must not contain credentials: set MEMDOCTOR_PROMETHEUS_USER and "
                              "MEMDOCTOR_PROMETHEUS_PASSWORD (or a token) in the environment instead")
    if parts.query or parts.fragment:
        raise PrometheusError("--prometheus takes the server's base URL, without a query string")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def _server_message(body: bytes) -> str:
    try:
        doc = json.loads(body[:65536].decode("utf-8", "replace"))
    except ValueError:
        text = body[:200].decode("utf-8", "replace")
        return " ".join(text.split())[:160]
    if isinstance(doc, dict):
        kind = doc.get("errorType")
        message = " ".join(str(doc.get("error") or "").split())[:240]
        return f"{kind}: {message}" if kind else message
    return ""


# The largest answer read whole (a series listing, an instant query): a listing of 100,000
# containers with a dozen labels each is ~30 MB of JSON. An endless answer grew `fleet` to 22 GB.
MAX_DOCUMENT_BYTES = 128 << 20
# The largest range-query answer (parsed while it streams, one series at a time): a batch of
# 200 series (--batch-size default) x 10,000 points (query.MAX_POINTS) x ~40 bytes a point is
# ~80 MB; ~6x that leaves room for long label sets and --batch-size 1000.
MAX_RANGE_BYTES = 512 << 20


class _Deadline:
    """A response stream that fails once the whole answer takes longer than `total_s`, or grows
    past `max_bytes` (an endless answer must end in an error, not in memory exhaustion)."""

    def __init__(self, response: BinaryIO, total_s: float, what: str, max_bytes: int = MAX_RANGE_BYTES,
                 cap_name: str = "MAX_RANGE_BYTES") -> None:
        self._response = response
        self._deadline = time.monotonic() + total_s
        self._what = what
        self._max_bytes = max_bytes
        self._cap_name = cap_name
        self.bytes = 0

    def read(self, size: int = -1) -> bytes:
        if time.monotonic() > self._deadline:
            raise PrometheusError(f"{self._what}: the answer took too long (--timeout)")
        if self.bytes > self._max_bytes:
            raise PrometheusError(f"{self._what}: the answer passed {self._max_bytes >> 20} MiB, the cap on one "
                                  f"answer ({self._cap_name}): a runaway response (a smaller --batch-size asks "
                                  "for less)")
        if size is None or size < 0:
            size = 1 << 20  # never one unbounded read
        try:
            data = self._response.read(size)
        except TimeoutError:
            raise PrometheusError(f"{self._what}: no answer within the timeout (--timeout)") from None
        except (OSError, ValueError) as exc:
            raise PrometheusError(f"{self._what}: the connection broke while reading ({type(exc).__name__})") from None
        self.bytes += len(data)
        return data


class PrometheusClient:
    def __init__(self, url: str, *, auth: Auth | None = None, timeout_s: float = 30.0, retries: int = 2,
                 backoff_s: float = 0.5, max_answer_s: float | None = None) -> None:
        self.base = check_url(url)
        self.shown = public_url(self.base)
        self.auth = auth or Auth()
        self.timeout_s = timeout_s
        self.retries = max(0, retries)
        self.backoff_s = backoff_s
        # A whole answer (headers and body) may take this long; each read waits timeout_s at most.
        self.max_answer_s = max_answer_s if max_answer_s is not None else max(60.0, 10 * timeout_s)
        self.requests = 0
        self.bytes_read = 0

    # -- transport ------------------------------------------------------------------------
    def _open(self, path: str, params: list[tuple[str, str]]) -> Any:
        """The response of POST base+path, after retries; raises PrometheusError."""
        body = urllib.parse.urlencode(params).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
                   "User-Agent": USER_AGENT, **self.auth.headers()}
        where = f"Prometheus at {self.shown}"
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * (2 ** (attempt - 1)))
            request = urllib.request.Request(self.base + path, data=body, headers=headers, method="POST")
            self.requests += 1
            try:
                return urllib.request.urlopen(request, timeout=self.timeout_s)
            except urllib.error.HTTPError as exc:
                status = exc.code
                message = _server_message(exc.read(65536) if exc.fp else b"")  # the start is enough
                exc.close()
                if status in (401, 403):
                    given = "were refused" if self.auth.kind != "none" else "are needed"
                    raise PrometheusError(
                        f"{where}: credentials {given} (HTTP {status}); set {ENV_TOKEN} or {ENV_USER}/"
                        f"{ENV_PASSWORD} in the environment, or use --token-file / --basic-auth-file") from None
                if status == 404:
                    raise PrometheusError(f"{where}: no Prometheus API at this URL (HTTP 404 for {path})") from None
                if status in RETRY_STATUS:
                    last = f"HTTP {status}" + (f" ({message})" if message else "")
                    continue
                raise PrometheusError(f"{where} refused the query (HTTP {status}): {message or 'no reason given'}") \
                    from None
            except TimeoutError:
                last = f"no answer within {self.timeout_s:g}s (--timeout)"
            except urllib.error.URLError as exc:
                reason = exc.reason
                if isinstance(reason, TimeoutError):
                    last = f"no answer within {self.timeout_s:g}s (--timeout)"
                elif isinstance(reason, ConnectionRefusedError):
                    last = "connection refused (is it running?)"
                elif isinstance(reason, socket.gaierror):
                    raise PrometheusError(f"{where}: unknown host") from None
                else:
                    last = f"cannot connect ({getattr(reason, 'strerror', None) or type(reason).__name__})"
            except (ConnectionError, OSError) as exc:
                last = f"connection failed ({type(exc).__name__})"
        tries = self.retries + 1
        raise PrometheusError(f"{where}: {last}, after {tries} attempt{'s' if tries > 1 else ''}")

    def _json(self, path: str, params: list[tuple[str, str]]) -> Any:
        with self._open(path, params) as response:
            stream = _Deadline(response, self.max_answer_s, f"Prometheus at {self.shown}", MAX_DOCUMENT_BYTES,
                               "MAX_DOCUMENT_BYTES")
            raw = b"".join(iter(lambda: stream.read(1 << 20), b""))
            self.bytes_read += stream.bytes
        try:
            doc = json.loads(raw)
        except ValueError:
            raise PrometheusError(f"Prometheus at {self.shown}: the answer to {path} is not JSON") from None
        if not isinstance(doc, dict) or doc.get("status") != "success":
            message = _server_message(raw) if isinstance(doc, dict) else ""
            raise PrometheusError(f"Prometheus at {self.shown}: {path} failed: {message or 'unexpected answer'}")
        return doc.get("data")

    # -- API ------------------------------------------------------------------------------
    def ready(self) -> None:
        """Fail early with a clear message when the server cannot be reached."""
        self._json("/api/v1/query", [("query", "1")])

    def series(self, match: str, start: float, end: float) -> list[dict[str, str]]:
        data = self._json("/api/v1/series", [("match[]", match), ("start", _ts(start)), ("end", _ts(end))])
        return [d for d in data or [] if isinstance(d, dict)]

    def instant(self, query: str, at: float) -> list[tuple[dict[str, str], float]]:
        data = self._json("/api/v1/query", [("query", query), ("time", _ts(at))])
        out = []
        if isinstance(data, dict) and data.get("resultType") == "vector":
            for item in data.get("result") or []:
                try:
                    out.append(({str(k): str(v) for k, v in item.get("metric", {}).items()},
                                float(item["value"][1])))
                except (KeyError, IndexError, TypeError, ValueError):
                    continue
        return out

    def query_range(self, query: str, start: float, end: float, step: float,
                    info: Matrix | None = None) -> Iterator[tuple[dict[str, str], np.ndarray, np.ndarray]]:
        """Series of a range query, yielded one at a time while the answer streams in."""
        params = [("query", query), ("start", _ts(start)), ("end", _ts(end)), ("step", f"{step:g}")]
        info = info if info is not None else Matrix()
        where = f"Prometheus at {self.shown}"
        with self._open("/api/v1/query_range", params) as response:
            stream = _Deadline(response, self.max_answer_s, where)
            try:
                yield from iter_matrix(stream, where, info)  # type: ignore[arg-type]
            except TraceReadError as exc:
                raise PrometheusError(str(exc)) from None
            finally:
                self.bytes_read += stream.bytes
        if info.truncated:
            raise PrometheusError(f"{where}: the answer to a range query was cut off")


def _ts(value: float) -> str:
    return f"{value:.3f}"
