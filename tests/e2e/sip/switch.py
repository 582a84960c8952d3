"""Processes for the SIP end-to-end tests: the vpbx local API (`vpbx serve`), Kamailio with our config, and a tiny
JSON client for the API. Everything binds to 127.0.0.1 and every process is stopped by its owner's `stop()`.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
KAMAILIO_CFG = REPO / "integrations" / "kamailio" / "kamailio.cfg"
INSTALL_SCRIPT = REPO / "scripts" / "install-kamailio.sh"
LOOPBACK = "127.0.0.1"
CANNOT_INSTALL = 2  # install-kamailio.sh: no apt-get, or neither root nor password-less sudo


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def closed_tcp_port() -> int:
    """A loopback TCP port nobody listens on (connections are refused at once)."""
    return free_port(socket.SOCK_STREAM)


# ------------------------------------------------------------------------------------------------ API client


class ApiError(AssertionError):
    pass


class Api:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def request(
        self, method: str, path: str, key: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("X-Api-Key", key)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                raw, status, response_headers = response.read(), response.status, dict(response.headers)
        except urllib.error.HTTPError as error:
            raw, status, response_headers = error.read(), error.code, dict(error.headers)
        return status, json.loads(raw) if raw else None, response_headers

    def ok(self, method: str, path: str, key: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        status, payload, response_headers = self.request(method, path, key, body, headers)
        if status >= 300:
            raise ApiError(f"{method} {path} -> {status}: {payload}")
        if "ETag" in response_headers and isinstance(payload, dict):
            payload["_etag"] = response_headers["ETag"]
        return payload


# ------------------------------------------------------------------------------------------------ processes


class VpbxServer:
    """`vpbx serve` on a free loopback port with a fixed operator key."""

    def __init__(self, operator_key: str, log_path: Path) -> None:
        self.operator_key = operator_key
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        vpbx = Path(sys.executable).with_name("vpbx")
        command = [str(vpbx), "serve", "--port", str(self.port), "--host", LOOPBACK]
        env = {**os.environ, "VPBX_OPERATOR_KEY": self.operator_key}
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"vpbx serve exited early:\n{self.log_path.read_text()}")
            if "listening on" in self.log_path.read_text(errors="replace"):
                return
            time.sleep(0.1)
        raise RuntimeError(f"vpbx serve did not start in {timeout:.0f} s:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        _stop(self.process)


class Kamailio:
    """Kamailio in the foreground (`-DD -E`) with integrations/kamailio/kamailio.cfg and loopback defines."""

    def __init__(self, api_url: str, api_key: str, work_dir: Path, **defines: str | int) -> None:
        self.port = free_port(socket.SOCK_DGRAM)
        self.work_dir = work_dir
        self.log_path = work_dir / f"kamailio-{self.port}.log"
        self.defines: dict[str, str | int] = {
            "SIP_IP": LOOPBACK,
            "SIP_PORT": self.port,
            "API_URL": f'"{api_url}"',
            "API_KEY": f'"{api_key}"',
            "WORKERS": 2,
            "LOG_LEVEL": 2,
            **defines,
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> tuple[str, int]:
        return LOOPBACK, self.port

    def command(self) -> list[str]:
        binary = shutil.which("kamailio") or "/usr/sbin/kamailio"
        command = [binary, "-f", str(KAMAILIO_CFG), "-DD", "-E", "-Y", str(self.work_dir), "-m", "32", "-M", "8"]
        for name, value in self.defines.items():
            command += ["-A", f"{name}={value}"]
        return command

    def start(self, timeout: float = 15.0) -> None:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"kamailio exited early:\n{self.log()}")
            if self._answers_options():
                return
        raise RuntimeError(f"kamailio did not answer OPTIONS in {timeout:.0f} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        _stop(self.process)

    def _answers_options(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((LOOPBACK, 0))
            sock.settimeout(0.2)
            port = sock.getsockname()[1]
            probe = (
                f"OPTIONS sip:{LOOPBACK}:{self.port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {LOOPBACK}:{port};branch=z9hG4bKprobe{time.monotonic_ns()}\r\n"
                f"From: <sip:probe@{LOOPBACK}>;tag=probe\r\nTo: <sip:{LOOPBACK}:{self.port}>\r\n"
                f"Call-ID: probe-{time.monotonic_ns()}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
                "Content-Length: 0\r\n\r\n"
            )
            sock.sendto(probe.encode(), (LOOPBACK, self.port))
            try:
                data = sock.recv(65535)
            except OSError:
                return False
            return data.startswith(b"SIP/2.0 200")


def _stop(process: "subprocess.Popen[bytes] | None", grace: float = 5.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(grace)


# ------------------------------------------------------------------------------------------------ install


def ensure_kamailio() -> str | None:
    """Install Kamailio when missing. None when it is ready; the reason when it cannot be installed here."""
    if shutil.which("kamailio") and _has_modules():
        return None
    result = subprocess.run(["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=600)
    if result.returncode == CANNOT_INSTALL:
        return f"kamailio is not installed and cannot be installed here: {result.stderr.strip()}"
    if result.returncode != 0:
        raise RuntimeError(f"scripts/install-kamailio.sh failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return None


def _has_modules() -> bool:
    result = subprocess.run(
        ["bash", str(INSTALL_SCRIPT), "--check"], capture_output=True, text=True, timeout=30, check=False
    )
    return result.returncode == 0
