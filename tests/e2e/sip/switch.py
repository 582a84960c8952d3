"""Processes for the SIP end-to-end tests: the vpbx local API (`vpbx serve`), Kamailio with our config, and a tiny
JSON client for the API. Everything binds to 127.0.0.1 and every process is stopped by its owner's `stop()`.
"""

import hashlib
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
SIP_DOMAIN = "pbx.test"
CANNOT_INSTALL = 2  # install-kamailio.sh: no apt-get, or neither root nor password-less sudo


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def free_sip_port() -> int:
    """A loopback port free for both UDP and TCP (Kamailio listens on both)."""
    for _ in range(50):
        port = free_port(socket.SOCK_DGRAM)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((LOOPBACK, port))
            except OSError:
                continue
        return port
    raise RuntimeError("no loopback port free for UDP and TCP")


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
    """Kamailio in the foreground (`-DD -E`) with integrations/kamailio/kamailio.cfg and loopback defines.

    Its secrets live in a data directory of its own (mode 0750, files 0640), as in production: the telephony key
    (`api_keys`), the phones' credentials (`subscriber`) and the trusted peers (`peers.list`).
    """

    def __init__(
        self,
        api_url: str,
        api_key: str,
        work_dir: Path,
        phones: dict[str, str] | None = None,
        peers: tuple[str, ...] = (LOOPBACK,),
        tls: bool = False,
        cfg: Path = KAMAILIO_CFG,
        **defines: str | int,
    ) -> None:
        self.cfg = cfg
        self.port = free_sip_port()
        self.tls_port = free_sip_port() if tls else 0
        self.work_dir = work_dir
        self.log_path = work_dir / f"kamailio-{self.port}.log"
        self.data_dir = work_dir / f"data-{self.port}"
        write_data_dir(self.data_dir, api_key, phones or {}, peers, tls)
        self.defines: dict[str, str | int] = {
            "SIP_IP": LOOPBACK,
            "SIP_PORT": self.port,
            "API_URL": f'"{api_url}"',
            "DATA_DIR": f'"{self.data_dir}"',
            "DATA_URL": f'"text://{self.data_dir}"',
            "PEERS_FILE": f'"{self.data_dir / "peers.list"}"',
            "TLS_CFG": f'"{self.data_dir / "tls.cfg"}"',
            "SIP_DOMAIN": f'"{SIP_DOMAIN}"',
            "WORKERS": 2,
            "LOG_LEVEL": 2,
            **defines,
        }
        if tls:
            self.defines.update({"WITH_TLS": 1, "TLS_PORT": self.tls_port})
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> tuple[str, int]:
        return LOOPBACK, self.port

    def command(self) -> list[str]:
        binary = shutil.which("kamailio") or "/usr/sbin/kamailio"
        command = [binary, "-f", str(self.cfg), "-DD", "-E", "-Y", str(self.work_dir), "-m", "32", "-M", "8"]
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


def write_data_dir(data_dir: Path, api_key: str, phones: dict[str, str], peers: tuple[str, ...], tls: bool) -> None:
    """The files kamailio.cfg reads from DATA_DIR (db_text tables and the permissions address file)."""
    data_dir.mkdir(mode=0o750, exist_ok=True)
    files = {
        "version": "id(int,auto) table_name(string) table_version(int) \n0:api_keys:2\n0:subscriber:7\n",
        "api_keys": "id(int,auto) key_name(string) key_type(int) value_type(int) key_value(string) expires(int) \n"
        f"1:*:0:0:{_dbtext(api_key)}:0\n",
        "subscriber": "id(int,auto) username(string) domain(string) password(string) ha1(string) ha1b(string) \n"
        + "".join(
            f"{n}:{_dbtext(user)}:{SIP_DOMAIN}:{_dbtext(password)}:{_ha1(user, password)}:"
            f"{_ha1(f'{user}@{SIP_DOMAIN}', password)}\n"
            for n, (user, password) in enumerate(phones.items(), 1)
        ),
        "peers.list": "".join(f"1 {address} 32\n" for address in peers),
    }
    if tls:
        make_certificate(data_dir)
        files["tls.cfg"] = (
            f"[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n"
            f"private_key = {data_dir / 'key.pem'}\ncertificate = {data_dir / 'cert.pem'}\n"
            f"[client:default]\nverify_certificate = no\nrequire_certificate = no\n"
        )
    for name, text in files.items():
        path = data_dir / name
        path.write_text(text)
        path.chmod(0o640)


def make_certificate(data_dir: Path) -> None:
    """A self-signed certificate for the TLS listener (what scripts/install-kamailio.sh makes in production)."""
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={SIP_DOMAIN}",
            "-keyout",
            str(data_dir / "key.pem"),
            "-out",
            str(data_dir / "cert.pem"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    (data_dir / "key.pem").chmod(0o600)


def _ha1(user: str, password: str) -> str:
    return hashlib.md5(f"{user}:{SIP_DOMAIN}:{password}".encode()).hexdigest()  # noqa: S324 (SIP digest is MD5)


def _dbtext(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


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
