"""Talking to a Node.js inspector: sockets in the target's network namespace, who listens on a
port, the `/json/list` HTTP endpoint and a DevTools-protocol session over a websocket.

The inspector that SIGUSR1 opens binds 127.0.0.1 of the *target's* network namespace. For a
target in a container that is not our loopback, so sockets are created by a short-lived thread
that has joined the target's namespace with setns(2) (a socket stays in the namespace it was
created in). Listening sockets are read from /proc/PID/net/tcp{,6}, which shows the target's
namespace, and matched to processes through the socket inodes of /proc/*/fd.

The websocket client is `websocket-client` (PyPI), with UTF-8 validation of incoming frames
off: a 300 MB snapshot arrives as ~300 MB of JSON text and validating it in Python would take
longer than the capture itself (V8 produces valid UTF-8).

A session checks that the server end of its connection is a socket of the target (in the
target's /proc/PID/net/tcp and /proc/PID/fd): if the namespace could not be entered or was
misjudged, another inspector on the same port would otherwise be snapshotted silently.
"""

from __future__ import annotations

import ctypes
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from memdoctor.heap.runtimes import HeapError
from memdoctor.redact import redact_command

CLONE_NEWNET = 0x40000000
TCP_LISTEN = "0A"


class InspectorError(HeapError):
    pass


class ConnectionLost(InspectorError):
    pass


class InspectorTimeout(InspectorError):
    """A protocol call got no answer in time: V8 answers on the target's main thread, so a target busy
    in a long synchronous call (or blocked) answers nothing until it returns."""


def same_netns(pid: int) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/ns/net") == os.readlink("/proc/self/ns/net")
    except OSError:
        return True  # cannot tell (no permission): assume ours


def _in_netns(pid: int, fn: Callable[[], Any]) -> Any:
    """Run fn in a thread that has joined the network namespace of `pid`."""
    if same_netns(pid):
        return fn()
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise InspectorError(f"cannot enter the network namespace of process {pid}: "
                                         f"{os.strerror(err)} (run as root to reach a container's inspector)")
            finally:
                os.close(fd)
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=run, name="memdoctor-netns", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def connect(pid: int, port: int, timeout: float) -> socket.socket:
    """A TCP connection to 127.0.0.1:port in the target's network namespace."""
    def make() -> socket.socket:
        return socket.create_connection(("127.0.0.1", port), timeout=timeout)

    try:
        return _in_netns(pid, make)
    except OSError as exc:
        raise InspectorError(f"cannot connect to the inspector on 127.0.0.1:{port}: {exc.strerror or exc}") from None


@dataclass(frozen=True)
class Listener:
    port: int
    inode: int
    local: str


def _tcp_rows(pid: int) -> Iterator[list[str]]:
    """The rows of /proc/PID/net/tcp and tcp6 (the target's network namespace), split in fields."""
    for name in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{name}", encoding="ascii") as fh:
                lines = fh.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) >= 10:
                yield parts


def listeners(pid: int) -> list[Listener]:
    """Listening TCP sockets on the loopback/any address of the target's network namespace."""
    out = []
    for parts in _tcp_rows(pid):
        if parts[3] == TCP_LISTEN:
            addr, port_hex = parts[1].rsplit(":", 1)
            out.append(Listener(int(port_hex, 16), int(parts[9]), addr))
    return out


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(int(link[8:-1]))
    except OSError:
        pass
    return inodes


def port_listening(pid: int, port: int) -> Listener | None:
    return next((item for item in listeners(pid) if item.port == port), None)


def accepted_by(pid: int, port: int, client: socket.socket) -> bool | None:
    """Whether the server end of our connection `client` to `port` is a socket of process `pid`
    (None when its file descriptors cannot be read). This is what proves that the inspector we
    talk to is the target's, not another process's on the same port of our own namespace."""
    try:
        os.listdir(f"/proc/{pid}/fd")
        client_port = client.getsockname()[1]
    except OSError:
        return None
    mine = socket_inodes(pid)
    for parts in _tcp_rows(pid):
        if parts[3] == TCP_LISTEN:
            continue
        local_port = int(parts[1].rsplit(":", 1)[1], 16)
        remote_port = int(parts[2].rsplit(":", 1)[1], 16)
        if local_port == port and remote_port == client_port and int(parts[9]) in mine:
            return True
    return False


def holder_of(inode: int) -> tuple[int, str] | None:
    """(pid, command line) of a process that has the socket `inode` open."""
    target = f"socket:[{inode}]"
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{entry}/fd"):
                try:
                    if os.readlink(f"/proc/{entry}/fd/{fd}") == target:
                        with open(f"/proc/{entry}/cmdline", "rb") as fh:
                            cmd = fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
                        return int(entry), redact_command(cmd)[:120]  # it goes into a message
                except OSError:
                    continue
        except OSError:
            continue
    return None


def http_json(pid: int, port: int, path: str, timeout: float) -> Any:
    """GET a small JSON document from the inspector's HTTP endpoint."""
    sock = connect(pid, port, timeout)
    try:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk or time.monotonic() > deadline:
                raise InspectorError(f"127.0.0.1:{port} is not a Node.js inspector (no HTTP answer)")
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        length = None
        for line in head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == b"content-length":
                length = int(value.strip())
        while length is not None and len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        if not head.startswith(b"HTTP/1.") or b" 200 " not in head.split(b"\r\n", 1)[0] + b" ":
            raise InspectorError(f"127.0.0.1:{port} is not a Node.js inspector")
        return json.loads(body[:length] if length is not None else body)
    except (OSError, ValueError) as exc:
        raise InspectorError(f"127.0.0.1:{port} is not a Node.js inspector ({exc})") from None
    finally:
        sock.close()


class Session:
    """A DevTools protocol session over the inspector's websocket."""

    def __init__(self, pid: int, port: int, target_id: str, timeout: float) -> None:
        import websocket  # websocket-client

        self._errors = (websocket.WebSocketException, OSError)
        sock = connect(pid, port, timeout)
        self.ws = websocket.WebSocket(skip_utf8_validation=True)
        try:
            self.ws.connect(f"ws://127.0.0.1:{port}/{target_id}", socket=sock, suppress_origin=True, timeout=timeout)
        except self._errors as exc:
            sock.close()
            raise InspectorError(f"the inspector on 127.0.0.1:{port} refused the session: {exc}") from None
        # The handshake is done, so the target has accepted the connection: it must be its socket.
        if accepted_by(pid, port, sock) is False:
            self.close()
            raise InspectorError(f"the inspector reached on 127.0.0.1:{port} is not the one of process {pid} "
                                 "(another process listens there in memdoctor's network namespace); nothing was "
                                 "captured")
        self.next_id = 0
        self.handlers: dict[str, Callable[[dict], None]] = {}

    def settimeout(self, seconds: float) -> None:
        self.ws.settimeout(seconds)

    def call(self, method: str, params: dict | None = None, timeout: float | None = None) -> dict:
        self.next_id += 1
        mid = self.next_id
        try:
            self.ws.send(json.dumps({"id": mid, "method": method, "params": params or {}}))
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                if deadline is not None:
                    self.ws.settimeout(max(0.05, deadline - time.monotonic()))
                raw = self.ws.recv()
                if not raw:
                    raise ConnectionLost("the inspector closed the connection")
                message = json.loads(raw)
                if message.get("id") == mid:
                    if "error" in message:
                        raise InspectorError(f"{method} failed: {message['error'].get('message', 'error')}")
                    return message.get("result", {})
                handler = self.handlers.get(message.get("method", ""))
                if handler is not None:
                    handler(message.get("params", {}))
        except self._errors as exc:
            if "timed out" in str(exc).lower() or isinstance(exc, TimeoutError):
                raise InspectorTimeout(f"{method} timed out") from None
            raise ConnectionLost(f"the inspector connection was lost during {method}") from None

    def evaluate(self, expression: str, timeout: float | None = 10.0) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "includeCommandLineAPI": True,
                                                "returnByValue": True, "silent": True}, timeout=timeout)
        if "exceptionDetails" in result:
            text = result["exceptionDetails"].get("text", "exception")
            raise InspectorError(f"evaluation in the target failed: {text}")
        return result.get("result", {}).get("value")

    def close(self) -> None:
        try:
            self.ws.close(timeout=1)
        except Exception:
            pass
