"""The Lambda layer ships no development-only module and needs neither pyyaml nor moto.

layers/vpbx/Makefile leaves DEV_ONLY out of the layer. Two proofs that nothing the functions run imports them:
- statically: no module the layer ships imports yaml, moto or a DEV_ONLY module, at any level (lazy imports inside
  functions included);
- dynamically: every function's app.py is imported, and the docs are served through a handler, in a fresh interpreter
  where yaml, moto and the DEV_ONLY modules cannot be imported.
"""

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "vpbx"
FORBIDDEN_PACKAGES = ("yaml", "moto")


def dev_only_paths() -> list[str]:
    match = re.search(r"^DEV_ONLY := (.+)$", (LAYER / "Makefile").read_text(), re.MULTILINE)
    assert match, "layers/vpbx/Makefile defines DEV_ONLY"
    return match.group(1).split()


def module_name(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def shipped_modules() -> list[Path]:
    excluded = [LAYER / path for path in dev_only_paths()]
    return [
        path
        for path in sorted((LAYER / "vpbx").rglob("*.py"))
        if not any(path == out or out in path.parents for out in excluded)
    ]


def imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def is_forbidden(name: str, dev_only: list[str]) -> bool:
    return any(name == top or name.startswith(top + ".") for top in (*FORBIDDEN_PACKAGES, *dev_only))


def test_the_makefile_leaves_the_dev_only_modules_out() -> None:
    assert set(dev_only_paths()) >= {"vpbx/local", "vpbx/store/schema.py"}
    assert "rm -rf $(DEV_ONLY)" in (LAYER / "Makefile").read_text()
    requirements = (LAYER / "requirements.txt").read_text().lower()
    assert "yaml" not in requirements
    assert "moto" not in requirements


def test_no_shipped_module_imports_yaml_moto_or_a_dev_only_module() -> None:
    dev_only = [module_name(path) for path in dev_only_paths()]
    offenders = {
        str(path.relative_to(LAYER)): sorted(name for name in imported_names(path) if is_forbidden(name, dev_only))
        for path in shipped_modules()
    }
    assert {path: names for path, names in offenders.items() if names} == {}
    assert len(offenders) > 30  # the scan saw the package


BLOCKED_IMPORT_PROBE = """
import importlib.util, json, os, sys, types
for name in {blocked!r}:
    sys.modules[name] = None  # `import name` now raises ImportError
os.environ.update(TABLE_NAME="vpbx-test", AWS_REGION="us-east-1", DYNAMODB_ENDPOINT="http://127.0.0.1:9")
handlers = {{}}
for path in {apps!r}:
    spec = importlib.util.spec_from_file_location("fn_" + path.split("/")[-2], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handlers[path] = module
event = {{"httpMethod": "GET", "path": "/v1/openapi.json", "resource": "/v1/openapi.json", "headers": {{}},
          "queryStringParameters": None, "pathParameters": None, "body": None, "isBase64Encoded": False,
          "requestContext": {{"requestId": "r1", "stage": "v1"}}}}
served = [p for p, m in handlers.items() if hasattr(m, "handler") and "admin" in p]
context = types.SimpleNamespace(
    function_name="f", function_version="1", memory_limit_in_mb=128, aws_request_id="r1",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:f", get_remaining_time_in_millis=lambda: 1000,
)
status = served and handlers[served[0]].handler(event, context)["statusCode"]
loaded = sorted(n for n, m in sys.modules.items() if n.startswith("vpbx") and m is not None)
print(json.dumps({{"status": status, "loaded": loaded}}))
"""


def test_every_function_imports_and_serves_without_yaml_moto_or_dev_only_modules() -> None:
    dev_only = [module_name(path) for path in dev_only_paths()]
    apps = [str(path) for path in sorted((ROOT / "functions").glob("*/app.py"))]
    assert len(apps) >= 5
    probe = BLOCKED_IMPORT_PROBE.format(blocked=[*FORBIDDEN_PACKAGES, *dev_only], apps=apps)
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["status"] == 200
    assert "vpbx.api.app" in report["loaded"]
    assert not [name for name in report["loaded"] if is_forbidden(name, dev_only)]
