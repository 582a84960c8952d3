"""The Kamailio switch under SIPp load: switch-over precision and call set-up latency, before and after.

    .venv/bin/python bench/switch_sipp.py                 # both configs (main's and this one), ~2 minutes
    .venv/bin/python bench/switch_sipp.py --config after  # only integrations/kamailio/kamailio.cfg

`vpbx serve` on loopback holds one tenant whose scenario is the seed (101 rings SEED_WAIT s, then 102 answers).
SIPp places --calls calls at --rate calls/s; switch-over error = (102's INVITE − 101's INVITE) − SEED_WAIT per call,
from the phones' SIPp traces. Set-up latency = the caller's INVITE → the phone's INVITE (one API decision plus two
hops), at 1, 10 and 25 calls/s. "before" is main's kamailio.cfg (`git show main:…`, blocking HTTP in SIP workers and
the timer). Goal (printed, not asserted): switch-over error p90 <= 100 ms at 25 calls/s.

Needs kamailio and sipp (scripts/install-kamailio.sh). Not part of `make bench`: it takes minutes and real SIP.
"""

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.sip.sipp import Sipp  # noqa: E402
from tests.e2e.sip.switch import KAMAILIO_CFG, Api, Kamailio, VpbxServer, ensure_kamailio  # noqa: E402

SEED_WAIT = 5
GOAL_P90_MS = 100.0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


class World:
    """vpbx serve + a tenant with a telephony key, subscribers pointing at SIPp phones, numbers per scenario."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.server = VpbxServer(operator_key=f"op-{uuid.uuid4().hex}", log_path=work_dir / "vpbx-serve.log")
        self.server.start()
        self.api = Api(self.server.url)
        tenant_id = f"t{uuid.uuid4().hex[:8]}"
        body = {"name": "bench", "id": tenant_id, "sip_domain": "pbx.test"}
        created = self.api.ok("POST", "/v1/tenants", self.server.operator_key, body)
        self.admin = created["admin_key"]["secret"]
        key_body = {"role": "telephony", "name": "bench"}
        self.telephony = self.api.ok("POST", f"/v1/tenants/{tenant_id}/keys", self.server.operator_key, key_body)[
            "secret"
        ]
        self.numbers = 0
        self.extensions = 100

    def subscriber(self, uri: str) -> str:
        """A new subscriber for `uri`; its extension."""
        self.extensions += 1
        extension = str(self.extensions)
        body = {"extension": extension, "name": f"Phone {extension}", "sip_uri": uri}
        self.api.ok("POST", "/v1/subscribers", self.admin, body)
        return extension

    def number(self, elements: list[dict[str, Any]], connections: list[dict[str, str]]) -> str:
        scenario_id = f"s{uuid.uuid4().hex[:8]}"
        body = {"id": scenario_id, "name": scenario_id, "elements": elements, "connections": connections}
        draft = self.api.ok("POST", "/v1/scenarios", self.admin, body)
        self.api.ok("POST", f"/v1/scenarios/{scenario_id}/publish", self.admin, headers={"If-Match": draft["_etag"]})
        self.numbers += 1
        number = f"+7495777{self.numbers:04d}"
        self.api.ok("POST", "/v1/numbers", self.admin, {"number": number, "scenario_id": scenario_id})
        return number

    def warm_up(self, number: str) -> None:
        """A few decisions for the number straight at the API, so its first SIP calls don't pay the local server's
        cold paths (these calls stay in progress; they never reach a phone)."""
        for _ in range(3):
            body = {"call_id": f"warm-{uuid.uuid4().hex}", "to": number}
            self.api.ok("POST", "/v1/calls", self.telephony, body)

    def stop(self) -> None:
        self.server.stop()


START = {"id": "start", "type": "incoming_call"}


def run_all(*parties: Sipp, timeout: float) -> None:
    for party in parties:
        party.start()
        time.sleep(0.05)
    for party in reversed(parties):
        code = party.wait(timeout)
        if code not in (0, 1):
            print(f"  SIPp {party.name} exited {code}: {party.log.read_text()[-500:]}", file=sys.stderr)
    for party in parties:
        party.stop()


def switch_over(world: World, switch: Kamailio, calls: int, rate: float) -> dict[str, float]:
    manager = Sipp("101", "phone_ring", world.work_dir, calls=calls)
    deputy = Sipp("102", "phone_answer", world.work_dir, calls=calls)
    first, second = world.subscriber(manager.uri), world.subscriber(deputy.uri)
    mgr = {
        "id": "mgr",
        "type": "internal_subscriber",
        "extension": first,
        "limit_wait": True,
        "wait_seconds": SEED_WAIT,
    }
    dep = {"id": "dep", "type": "internal_subscriber", "extension": second, "limit_wait": False}
    arrows = [{"from": "start", "to": "mgr"}, {"from": "mgr", "to": "dep", "exit": "no_answer"}]
    number = world.number([START, mgr, dep], arrows)
    world.warm_up(number)
    caller = Sipp("caller", "caller", world.work_dir, remote=switch.address, service=number, calls=calls, rate=rate)
    run_all(manager, deputy, caller, timeout=calls / rate + SEED_WAIT + 30)
    rang, switched = manager.by_call("INVITE"), deputy.by_call("INVITE")
    return {c: switched[c] - rang[c] - SEED_WAIT for c in rang if c in switched}


def event_api_seconds(log: str) -> dict[str, float]:
    """Call-ID -> how long the API took to answer that call's first no_answer event (the switch's log)."""
    found: dict[str, float] = {}
    # The first event of a call is its no_answer (answered comes later); main's config logs no body.
    pattern = r'/v1/calls/(\S+)/events(?: \{"seq":1,"outcome":"no_answer"\})? -> 200 in (\d+) ms'
    for call_id, took in re.findall(pattern, log):
        found.setdefault(call_id, int(took) / 1000)
    return found


def setup_latency(world: World, switch: Kamailio, calls: int, rate: float) -> tuple[list[float], int]:
    phone = Sipp("103", "phone_answer", world.work_dir, calls=calls)
    extension = world.subscriber(phone.uri)
    element = {"id": "p", "type": "internal_subscriber", "extension": extension, "limit_wait": False}
    number = world.number([START, element], [{"from": "start", "to": "p"}])
    world.warm_up(number)
    caller = Sipp("caller", "caller", world.work_dir, remote=switch.address, service=number, calls=calls, rate=rate)
    run_all(phone, caller, timeout=calls / rate + 30)
    sent, arrived = caller.by_call("INVITE", received=False), phone.by_call("INVITE")
    return [arrived[c] - sent[c] for c in sent if c in arrived], len(caller.answers())


def measure(label: str, cfg: Path, world: World, calls: int, rate: float) -> dict[str, Any]:
    switch = Kamailio(
        world.server.url,
        world.telephony,
        world.work_dir,
        cfg=cfg,
        API_KEY=f'"{world.telephony}"',  # main's config reads the key from the command line
        WORKERS=4,
        LOG_LEVEL=2,
    )
    switch.start()
    try:
        by_call = switch_over(world, switch, calls, rate)
        api = event_api_seconds(switch.log())
        errors = list(by_call.values())
        own = [error - api[c] for c, error in by_call.items() if c in api]
        api_ms = [api[c] * 1000 for c in by_call if c in api]
        latency = {}
        for setup_rate, setup_calls in ((1, 5), (10, 20), (25, 50)):
            values, answered = setup_latency(world, switch, setup_calls, setup_rate)
            latency[setup_rate] = (values, answered, setup_calls)
    finally:
        switch.stop()
    return {"label": label, "errors": errors, "calls": calls, "latency": latency, "api_ms": api_ms, "own": own}


def report(result: dict[str, Any]) -> None:
    errors = [e * 1000 for e in result["errors"]]
    print(f"\n[{result['label']}] switch-over error, {result['calls']} calls at the given rate:")
    if errors:
        p90 = percentile([abs(e) for e in errors], 0.9)
        verdict = "meets" if p90 <= GOAL_P90_MS else "misses"
        print(
            f"  measured {len(errors)}/{result['calls']}: median {statistics.median(errors):+.0f} ms, "
            f"min {min(errors):+.0f}, max {max(errors):+.0f}, |error| p90 {p90:.0f} ms "
            f"({verdict} the {GOAL_P90_MS:.0f} ms goal)"
        )
    else:
        print("  no call switched over")
    if result["api_ms"]:
        api, own = result["api_ms"], [e * 1000 for e in result["own"]]
        print(
            f"  of which the API's answer to that call's no_answer (the switch's log): median "
            f"{statistics.median(api):.0f} ms, p90 {percentile(api, 0.9):.0f} ms, max {max(api):.0f} ms (n={len(api)})"
        )
        print(
            f"  the switch's own share (error minus that API time): median {statistics.median(own):+.0f} ms, "
            f"|p90| {percentile([abs(o) for o in own], 0.9):.0f} ms, max {max(own):+.0f} ms"
        )
    for rate, (values, answered, calls) in result["latency"].items():
        ms = [v * 1000 for v in values]
        figures = f"median {statistics.median(ms):.1f} ms, p90 {percentile(ms, 0.9):.1f} ms" if ms else "no call set up"
        print(f"  set-up latency at {rate:>2} calls/s: {figures} ({answered}/{calls} answered)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", choices=("before", "after", "both"), default="both")
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--rate", type=float, default=25.0)
    parser.add_argument("--keep", action="store_true", help="keep the logs and SIPp traces (the path is printed)")
    args = parser.parse_args()
    reason = ensure_kamailio()
    if reason is not None:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="switch-bench-") as tmp:
        work_dir = Path(tempfile.mkdtemp(prefix="switch-bench-")) if args.keep else Path(tmp)
        if args.keep:
            print(f"logs and traces: {work_dir}")
        configs = []
        if args.config in ("before", "both"):
            before = work_dir / "kamailio-main.cfg"
            shown = subprocess.run(
                ["git", "-C", str(ROOT), "show", "main:integrations/kamailio/kamailio.cfg"],
                capture_output=True,
                text=True,
                check=True,
            )
            before.write_text(shown.stdout)
            configs.append(("before: main's kamailio.cfg", before))
        if args.config in ("after", "both"):
            configs.append(("after: integrations/kamailio/kamailio.cfg", KAMAILIO_CFG))
        world = World(work_dir)
        try:
            for label, cfg in configs:
                report(measure(label, cfg, world, args.calls, args.rate))
        finally:
            world.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
