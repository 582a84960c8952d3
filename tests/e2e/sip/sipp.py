"""SIPp (Debian `sip-tester`) as an independent caller and phones for the switch tests.

Each `Sipp` runs one scenario of tests/e2e/sip/sipp/ on its own loopback port with `-trace_msg`, and `messages()`
reads that trace back: every message with its wall-clock time, direction and first line, so tests time the switch
from SIPp's own clock.
"""

import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tests.e2e.sip.switch import LOOPBACK, free_port

SCENARIOS = Path(__file__).resolve().parent / "sipp"
_STAMP = re.compile(r"^-{20,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)", re.M)


@dataclass(frozen=True)
class SippMessage:
    at: float  # seconds since the epoch, SIPp's clock
    received: bool
    first_line: str
    text: str

    @property
    def call_id(self) -> str:
        found = re.search(r"^(?:Call-ID|i):\s*(\S+)", self.text, re.M | re.I)
        return found.group(1) if found else ""

    @property
    def label(self) -> str:
        """`INVITE`, `CANCEL`… for requests; `200 INVITE`, `487 INVITE`… for responses."""
        if not self.first_line.startswith("SIP/2.0"):
            return self.first_line.split(" ", 1)[0]
        cseq = re.search(r"^CSeq:\s*\d+\s+(\w+)", self.text, re.M | re.I)
        return f"{self.first_line.split()[1]} {cseq.group(1) if cseq else '?'}"


def sipp_binary() -> str | None:
    return shutil.which("sipp")


class Sipp:
    def __init__(
        self,
        name: str,
        scenario: str,
        work_dir: Path,
        remote: tuple[str, int] | None = None,
        service: str | None = None,
        calls: int = 1,
        rate: float | None = None,
        pause_ms: int | None = None,
    ) -> None:
        self.name = name
        self.port = free_port(socket.SOCK_DGRAM)
        self.trace = work_dir / f"sipp-{name}-{self.port}.msg"
        self.log = work_dir / f"sipp-{name}-{self.port}.log"
        command = [sipp_binary() or "sipp", "-sf", str(SCENARIOS / f"{scenario}.xml"), "-i", LOOPBACK]
        command += ["-p", str(self.port), "-m", str(calls), "-nostdin", "-trace_msg", "-message_file", str(self.trace)]
        command += ["-timeout", "60s", "-timeout_error", "-max_recv_loops", "1000", "-aa"]
        if rate is not None:
            command += ["-r", str(rate), "-rp", "1000"]
        if pause_ms is not None:
            command += ["-d", str(pause_ms)]
        if service is not None:
            command += ["-s", service]
        if remote is not None:
            command.append(f"{remote[0]}:{remote[1]}")
        self.command = command
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"sip:{self.name}@{LOOPBACK}:{self.port}"

    def start(self) -> "Sipp":
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=log)
        return self

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            return -1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    def messages(self) -> list[SippMessage]:
        text = self.trace.read_text(errors="replace") if self.trace.exists() else ""
        stamps = list(_STAMP.finditer(text))
        found = []
        for n, stamp in enumerate(stamps):
            block = text[stamp.end() : stamps[n + 1].start() if n + 1 < len(stamps) else len(text)]
            header, _, message = block.lstrip("\n").partition("\n")
            message = message.lstrip("\r\n")
            at = datetime.strptime(stamp.group(1)[:26], "%Y-%m-%d %H:%M:%S.%f").timestamp()
            found.append(SippMessage(at, "received" in header, message.split("\n", 1)[0].strip(), message))
        return found

    def by_call(self, label: str, received: bool = True) -> dict[str, float]:
        """Call-ID -> time of the first `label` message of that call."""
        times: dict[str, float] = {}
        for message in self.messages():
            if message.label == label and message.received == received:
                times.setdefault(message.call_id, message.at)
        return times

    def first(self, label: str, received: bool = True) -> SippMessage:
        for message in self.messages():
            if message.label == label and message.received == received:
                return message
        raise AssertionError(f"{self.name} has no {label} ({'in' if received else 'out'}): {self.labels()}")

    def count(self, label: str, received: bool = True) -> int:
        return sum(1 for m in self.messages() if m.label == label and m.received == received)

    def answers(self) -> set[str]:
        """The distinct dialogs (To tags) of the 2xx answers to INVITE this party received: retransmissions of one
        200 count once."""
        return {
            re.search(r"^To:.*;tag=([^;\s]+)", m.text, re.M | re.I).group(1)  # type: ignore[union-attr]
            for m in self.messages()
            if m.received and m.label == "200 INVITE"
        }

    def labels(self) -> list[str]:
        return [("<" if m.received else ">") + m.label for m in self.messages()]

    def failure_details(self) -> str:
        return f"{self.name}: {self.labels()}\n{self.log.read_text(errors='replace')[-2000:]}"


def run(*parties: Sipp, timeout: float = 40) -> None:
    """Start the phones first, then the caller (last); every party must finish its scenario."""
    for party in parties:
        party.start()
        time.sleep(0.05)
    try:
        for party in reversed(parties):
            code = party.wait(timeout)
            assert code == 0, f"SIPp {party.name} exited {code}\n{party.failure_details()}"
    finally:
        for party in parties:
            party.stop()
