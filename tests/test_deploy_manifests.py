"""The deployment files, cross-checked against the code: no container engine runs here.

docker-compose.yml, deploy/k8s/ (kustomize base), deploy/Dockerfile and the lock files are parsed
and checked against what tracepost really has: Settings fields, CLI commands, FastAPI routes,
search attributes, pyproject.toml's dependencies. Each checker returns a list of problems; the
tests run it on the real files (expecting none) and on a broken copy (expecting the break).
"""

from __future__ import annotations

import base64
import copy
import importlib.metadata
import importlib.util
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from pydantic import SecretStr

from connectors.paytrace.simulator import SimulatorConfig, create_app
from connectors.store import Store
from domain.search_attributes import ALL_KEYS
from workers.api import TemporalGateway, create_api
from workers.cli import build_parser
from workers.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
DOCKERFILE = DEPLOY / "Dockerfile"
LOCK = DEPLOY / "requirements.lock"
BUILD_LOCK = DEPLOY / "build-requirements.lock"
PYPROJECT = ROOT / "pyproject.toml"

PREFIX = str(Settings.model_config.get("env_prefix", ""))
SETTING_NAMES = {f"{PREFIX}{name}".upper() for name in Settings.model_fields}
SECRET_NAMES = {
    f"{PREFIX}{name}".upper()
    for name, info in Settings.model_fields.items()
    if info.annotation is SecretStr
}
# not SecretStr, but they carry the database passwords
CREDENTIAL_URLS = {f"{PREFIX}ERP_URL", f"{PREFIX}STORE_URL"}
TRACEPOST_TOKEN = re.compile(rf"\b{PREFIX}[A-Z0-9_]+\b")
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")
TRACEPOST_SERVICES = ("erp-init", "simulator", "schedules", "worker", "api")


# --- helpers -------------------------------------------------------------------------------


def interpolate(text: str) -> str:
    """Compose interpolation with every variable unset: defaults taken, required ones faked."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2) or "", match.group(3) or ""
        if op.endswith("-"):
            return arg
        if op.endswith("?"):
            return f"placeholder{name.lower().replace('_', '')}"
        return ""

    return INTERPOLATION.sub(one, text)


def interpolated(node: Any) -> Any:
    """Compose interpolates string values after parsing the YAML (comments never count)."""
    if isinstance(node, dict):
        return {key: interpolated(value) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolated(value) for value in node]
    return interpolate(node) if isinstance(node, str) else node


def strings(node: Any) -> list[str]:
    """Every string value in a parsed YAML document."""
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in strings(value)]
    return [node] if isinstance(node, str) else []


def raw_compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


def load_compose() -> dict[str, Any]:
    document: dict[str, Any] = interpolated(raw_compose())
    return document


def k8s_documents() -> dict[str, list[dict[str, Any]]]:
    return {
        path.name: [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        for path in sorted(K8S.glob("*.y*ml"))
    }


def k8s_objects(kind: str) -> list[dict[str, Any]]:
    return [doc for docs in k8s_documents().values() for doc in docs if doc.get("kind") == kind]


def one_object(kind: str, name: str) -> dict[str, Any]:
    found = [doc for doc in k8s_objects(kind) if doc["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings exactly as a process with this environment would build them."""
    for name in list(__import__("os").environ):
        if name.startswith(PREFIX):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings()


def api_paths(tmp_path: Path) -> set[str]:
    key = base64.b64encode(b"k" * 32).decode()
    settings = Settings(var_dir=tmp_path, codec="on", codec_keys=f"t1:{key}")
    store = Store(sa.create_engine(f"sqlite:///{tmp_path}/store.db"))
    store.create_schema()
    app = create_api(settings, store, TemporalGateway(settings))
    paths = set(app.openapi()["paths"])
    return paths | {path for route in app.routes if (path := getattr(route, "path", ""))}


def simulator_paths(tmp_path: Path) -> set[str]:
    app = create_app(SimulatorConfig(db_path=str(tmp_path / "sim.db"), merchants={"demo": "x"}))
    return set(app.openapi()["paths"])


def route_exists(path: str, paths: set[str]) -> bool:
    """Whether a concrete request path matches a route template (``{token}`` matches a segment)."""
    for template in paths:
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            return True
    return False


def seconds(duration: str | int | float) -> float:
    if isinstance(duration, int | float):
        return float(duration)
    total = 0.0
    for amount, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration):
        total += float(amount) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    return total


def load_lock_module() -> Any:
    spec = importlib.util.spec_from_file_location("deploy_lock", DEPLOY / "lock.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["deploy_lock"] = module
    spec.loader.exec_module(module)
    return module


# --- checkers ------------------------------------------------------------------------------


def unknown_setting_names(text: str) -> list[str]:
    """TRACEPOST_* names in a file that are not Settings fields."""
    return sorted(set(TRACEPOST_TOKEN.findall(text)) - SETTING_NAMES)


def parse_lock(text: str) -> dict[str, tuple[str, list[str]]]:
    """``name -> (version, hashes)`` of a requirements file written by deploy/lock.py."""
    joined = re.sub(r"\\\n\s*", " ", text)
    pins: dict[str, tuple[str, list[str]]] = {}
    for line in joined.splitlines():
        line = line.split("#", 1)[0].strip() if line.lstrip().startswith("#") else line.strip()
        if not line:
            continue
        requirement, *options = line.split()
        name, sep, version = requirement.partition("==")
        assert sep, f"not pinned with ==: {line}"
        assert canonicalize_name(name) not in pins, f"pinned twice: {name}"
        hashes = [o.removeprefix("--hash=sha256:") for o in options if o.startswith("--hash=")]
        pins[canonicalize_name(name)] = (version, hashes)
    return pins


def lock_problems(requirements: list[str], lock_text: str) -> list[str]:
    """What a lock lacks for these requirements: names, versions, hashes, extras' packages."""
    pins = parse_lock(lock_text)
    problems = [f"{name}: no sha256 hash" for name, (_, hashes) in pins.items() if not hashes]
    problems += [
        f"{name}: {digest} is not a sha256"
        for name, (_, hashes) in pins.items()
        for digest in hashes
        if not re.fullmatch(r"[0-9a-f]{64}", digest)
    ]
    environment = {k: str(v) for k, v in default_environment().items()}
    for text in requirements:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        name = canonicalize_name(requirement.name)
        if name not in pins:
            problems.append(f"{text}: {name} is not in the lock (run `make lock`)")
            continue
        version = pins[name][0]
        if not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{text}: the lock pins {version} (run `make lock`)")
        for extra in requirement.extras:
            try:
                needs = importlib.metadata.requires(requirement.name) or []
            except importlib.metadata.PackageNotFoundError:
                continue
            for needed in map(Requirement, needs):
                marker = needed.marker
                if marker is not None and marker.evaluate({**environment, "extra": extra}):
                    if not marker.evaluate({**environment, "extra": ""}):
                        if canonicalize_name(needed.name) not in pins:
                            problems.append(f"{text}: {needed.name} (extra {extra}) not locked")
    return problems


def grace_problem(termination_grace: float, shutdown_grace: float) -> str | None:
    """The runtime must wait for the worker's grace period plus time to cancel and close."""
    if termination_grace < shutdown_grace + 10:
        return (
            f"the runtime kills after {termination_grace:g} s but activities get"
            f" {shutdown_grace:g} s (+10 s to cancel and close)"
        )
    return None


# --- docker-compose.yml ----------------------------------------------------------------------


def test_compose_parses_into_the_whole_stack():
    services = load_compose()["services"]
    expected = {
        "temporal-db",
        "temporal-schema",
        "temporal",
        "temporal-setup",
        "temporal-ui",
        "store-db",
        "erp-db",
        "erp-init",
        "simulator",
        "schedules",
        "worker",
        "api",
    }
    assert expected <= set(services)
    assert services["temporal"]["image"].startswith("temporalio/server:")
    assert services["temporal"]["environment"]["DB"] == "postgres12"
    assert services["temporal-schema"]["image"].startswith("temporalio/admin-tools:")
    assert services["temporal-ui"]["image"].startswith("temporalio/ui:")
    for name in ("temporal-db", "store-db", "erp-db"):
        assert services[name]["image"].startswith("postgres:")
        assert "pg_isready" in " ".join(services[name]["healthcheck"]["test"])
    for name in TRACEPOST_SERVICES:
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert (ROOT / services[name]["build"]["context"] / "deploy/Dockerfile").is_file()


def test_compose_names_only_real_settings():
    assert unknown_setting_names(COMPOSE.read_text()) == []
    assert unknown_setting_names("TRACEPOST_ERP_URL: x\nTRACEPOST_NO_SUCH_THING: y") == [
        "TRACEPOST_NO_SUCH_THING"
    ]


def test_compose_commands_are_tracepost_commands():
    services = load_compose()["services"]
    parser = build_parser()
    for name in TRACEPOST_SERVICES:
        args = parser.parse_args([str(part) for part in services[name]["command"]])
        assert callable(args.func), name
    assert services["erp-init"]["command"][:2] == ["erp", "init"]
    assert services["worker"]["command"] == ["worker"] and services["api"]["command"] == ["api"]


def test_compose_environments_are_valid_settings(monkeypatch, tmp_path):
    services = load_compose()["services"]
    for name in TRACEPOST_SERVICES:
        env = {k: str(v) for k, v in services[name]["environment"].items()}
        settings = settings_from(env, monkeypatch)
        assert settings.temporal_address == "temporal:7233" or name == "simulator"
    worker = settings_from(
        {k: str(v) for k, v in services["worker"]["environment"].items()}, monkeypatch
    )
    assert sa.engine.make_url(worker.erp_url).host == "erp-db"
    assert sa.engine.make_url(worker.store_url).host == "store-db"


def test_compose_references_point_at_services_and_volumes():
    compose = load_compose()
    services = compose["services"]
    volumes = set(compose.get("volumes") or {})
    problems = []
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        for target in depends if isinstance(depends, list) else depends.keys():
            if target not in services:
                problems.append(f"{name} depends on unknown {target}")
        for value in (service.get("environment") or {}).values():
            for host in re.findall(r"(?://|@)([a-z][a-z0-9-]*):\d+", str(value)):
                if host not in services and host != "localhost":  # the browser's, not a service
                    problems.append(f"{name}: {value} names unknown host {host}")
            match = re.fullmatch(r"([a-z][a-z0-9-]*):\d+", str(value))
            if match and match.group(1) not in services:
                problems.append(f"{name}: {value} names unknown host")
        for mount in service.get("volumes") or []:
            source = str(mount).split(":", 1)[0]
            if source.startswith("."):
                if not (ROOT / source).is_file():
                    problems.append(f"{name}: bind mount {source} does not exist")
            elif source not in volumes:
                problems.append(f"{name}: volume {source} is not declared")
    assert problems == []
    for db in ("temporal-db", "store-db", "erp-db"):
        assert any(str(m).endswith(":/var/lib/postgresql/data") for m in services[db]["volumes"])


def test_compose_commits_no_secret():
    raw = raw_compose()  # before interpolation
    problems = []
    for name, service in raw["services"].items():
        for key, value in (service.get("environment") or {}).items():
            text = str(value)
            secretish = key in SECRET_NAMES or re.search(r"PASSWORD|PWD|SECRET|TOKEN|KEYS?$", key)
            if secretish and not INTERPOLATION.fullmatch(text):
                problems.append(f"{name}.{key} is a literal")
            if key in CREDENTIAL_URLS and not re.search(r":\$\{[A-Z_]+:\?[^}]*\}@", text):
                problems.append(f"{name}.{key}: the password is not a required ${{VAR:?}}")
    assert problems == []
    documented = dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    for match in (m for text in strings(raw) for m in INTERPOLATION.finditer(text)):
        variable, op = match.group(1), match.group(2) or ""
        if op.endswith("?"):
            assert variable in documented, f"{variable} is required but not in .env.example"
    assert all(value.strip() == "" for value in documented.values()), ".env.example holds values"
    assert not (ROOT / ".env").exists() or ".env" in (ROOT / ".gitignore").read_text().split()


def test_compose_ports_and_health_checks_match_the_code(monkeypatch, tmp_path):
    services = load_compose()["services"]
    api_env = {k: str(v) for k, v in services["api"]["environment"].items()}
    api_port = settings_from(api_env, monkeypatch).api_port
    assert [str(p).rsplit(":", 1)[1] for p in services["api"]["ports"]] == [str(api_port)]
    check = " ".join(services["api"]["healthcheck"]["test"])
    url = re.search(r"http://127\.0\.0\.1:(\d+)(/\S*?)'", check)
    assert url and int(url.group(1)) == api_port
    paths = api_paths(tmp_path)
    assert route_exists(url.group(2), paths), url.group(2)

    command = [str(part) for part in services["simulator"]["command"]]
    sim_port = int(command[command.index("--port") + 1])
    assert [str(p).rsplit(":", 1)[1] for p in services["simulator"]["ports"]] == [str(sim_port)]
    sim_check = re.search(
        r"http://127\.0\.0\.1:(\d+)(/\S*?)'", " ".join(services["simulator"]["healthcheck"]["test"])
    )
    assert sim_check and int(sim_check.group(1)) == sim_port
    assert route_exists(sim_check.group(2), simulator_paths(tmp_path))
    for name in TRACEPOST_SERVICES:
        base = services[name]["environment"].get(f"{PREFIX}PAYTRACE_BASE_URL")
        assert base is None or base == f"http://simulator:{sim_port}"

    silent = re.fullmatch(r"http://api:(\d+)(/.+)", command[command.index("--silent-post-url") + 1])
    assert silent and int(silent.group(1)) == api_port
    assert route_exists(silent.group(2), paths)
    assert services["worker"].get("healthcheck") is None  # no HTTP port: see the comment there

    codec = services["temporal-ui"]["environment"]["TEMPORAL_CODEC_ENDPOINT"]
    assert codec.endswith("/codec") and route_exists("/codec/decode", paths)


def test_compose_worker_stops_after_its_activities(monkeypatch):
    services = load_compose()["services"]
    worker = services["worker"]
    env = {k: str(v) for k, v in worker["environment"].items()}
    shutdown = settings_from(env, monkeypatch).worker_shutdown_grace_seconds
    assert grace_problem(seconds(worker["stop_grace_period"]), shutdown) is None
    assert grace_problem(seconds("30s"), 60) is not None


def test_compose_temporal_setup_registers_tracepost_search_attributes():
    services = load_compose()["services"]
    setup = services["temporal-setup"]["environment"]
    assert set(setup["SEARCH_ATTRIBUTES"].split()) == {key.name for key in ALL_KEYS}
    assert {key.indexed_value_type.name for key in ALL_KEYS} == {"KEYWORD"}  # the script's type
    namespaces = {
        services[n]["environment"][f"{PREFIX}TEMPORAL_NAMESPACE"] for n in ("worker", "api")
    }
    assert namespaces == {setup["NAMESPACE"]}
    for name in ("worker", "api", "schedules"):
        condition = services[name]["depends_on"]["temporal-setup"]["condition"]
        assert condition == "service_completed_successfully"
    assert services["worker"]["depends_on"]["erp-init"]["condition"] == (
        "service_completed_successfully"
    )


@pytest.mark.parametrize("script", sorted((DEPLOY / "compose").glob("*.sh")), ids=lambda p: p.name)
def test_compose_setup_scripts_are_valid_shell(script):
    done = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    mounted = [m for s in load_compose()["services"].values() for m in s.get("volumes") or []]
    assert any(str(m).startswith(f"./deploy/compose/{script.name}:") for m in mounted)


# --- deploy/k8s ------------------------------------------------------------------------------


def test_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    manifests = {p.name for p in K8S.glob("*.y*ml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == manifests
    assert all(docs for docs in k8s_documents().values())
    kinds = {doc["kind"] for docs in k8s_documents().values() for doc in docs}
    assert {
        "Deployment",
        "HorizontalPodAutoscaler",
        "Service",
        "Ingress",
        "ConfigMap",
        "PodDisruptionBudget",
    } <= kinds
    assert [image["name"] for image in kustomization["images"]] == ["tracepost"]
    for deployment in k8s_objects("Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert container["image"] == "tracepost"


def test_k8s_names_only_real_settings():
    for path in K8S.glob("*.y*ml"):
        assert unknown_setting_names(path.read_text()) == [], path.name
    config = one_object("ConfigMap", "tracepost-config")["data"]
    assert set(config) <= SETTING_NAMES
    for deployment in k8s_objects("Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            for env in container.get("env", []):
                assert env["name"] in SETTING_NAMES
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == "tracepost-secrets" and ref["key"] in SETTING_NAMES


def test_k8s_secrets_are_references_never_values():
    assert k8s_objects("Secret") == []
    config = one_object("ConfigMap", "tracepost-config")["data"]
    assert set(config) & (SECRET_NAMES | CREDENTIAL_URLS) == set()
    assert not any(re.search(r"://[^/\s]+:[^/\s]+@", str(v)) for v in config.values())
    for deployment in k8s_objects("Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        for container in pod["containers"]:
            for env in container.get("env", []):
                if env["name"] in SECRET_NAMES | CREDENTIAL_URLS:
                    assert "value" not in env and "secretKeyRef" in env["valueFrom"], env["name"]
            sources = container["envFrom"]
            assert {"configMapRef": {"name": "tracepost-config"}} in sources
            assert {"secretRef": {"name": "tracepost-secrets"}} in sources


def test_k8s_settings_validate(monkeypatch, tmp_path):
    """ConfigMap + a Secret with every referenced key + the customer's mapping: a valid Settings."""
    config = dict(one_object("ConfigMap", "tracepost-config")["data"])
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(f'erp = "{config[f"{PREFIX}ERP"]}"\ncompany = "ACME"\n')
    secret_keys = {
        env["valueFrom"]["secretKeyRef"]["key"]
        for deployment in k8s_objects("Deployment")
        for container in deployment["spec"]["template"]["spec"]["containers"]
        for env in container.get("env", [])
        if "valueFrom" in env
    }
    fake = {key: "placeholder-secret-value" for key in secret_keys}
    fake[f"{PREFIX}ERP_URL"] = "mssql+pyodbc://tracepost:pw@erp-sql:1433/ACME"
    fake[f"{PREFIX}STORE_URL"] = "postgresql+psycopg://tracepost:pw@store:5432/tracepost"
    fake[f"{PREFIX}CODEC_KEYS"] = "k1:" + base64.b64encode(b"k" * 32).decode()
    settings = settings_from({**config, **fake, f"{PREFIX}MAPPING_FILE": str(mapping)}, monkeypatch)
    assert settings.paytrace_is_production and settings.ops_cookie_secure
    assert str(settings.var_dir) == config[f"{PREFIX}VAR_DIR"]


def test_k8s_api_ports_probes_and_service_agree(tmp_path):
    config = one_object("ConfigMap", "tracepost-config")["data"]
    api_port = int(config.get(f"{PREFIX}API_PORT", Settings.model_fields["api_port"].default))
    api = one_object("Deployment", "tracepost-api")
    (container,) = api["spec"]["template"]["spec"]["containers"]
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert list(named.values()) == [api_port]

    def port_number(port: int | str) -> int:
        return named[port] if isinstance(port, str) else port

    paths = api_paths(tmp_path)
    probes = {kind: container[kind]["httpGet"] for kind in ("livenessProbe", "readinessProbe")}
    assert probes["livenessProbe"]["path"] == "/healthz"
    assert probes["readinessProbe"]["path"] == "/readyz"
    for probe in [*probes.values(), container["startupProbe"]["httpGet"]]:
        assert port_number(probe["port"]) == api_port
        assert route_exists(probe["path"], paths)

    service = one_object("Service", "tracepost-api")
    labels = api["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    service_ports = {p["name"]: p for p in service["spec"]["ports"]}
    assert all(port_number(p["targetPort"]) == api_port for p in service_ports.values())
    ingress = one_object("Ingress", "tracepost-api")
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] == service["metadata"]["name"]
            assert backend["port"]["name"] in service_ports


def test_k8s_pods_run_locked_down():
    config = one_object("ConfigMap", "tracepost-config")["data"]
    var_dir = config[f"{PREFIX}VAR_DIR"]
    uid = re.search(r"^USER\s+(\d+)", DOCKERFILE.read_text(), re.M)
    assert uid is not None
    for deployment in k8s_objects("Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == int(uid.group(1)) != 0
        assert pod["automountServiceAccountToken"] is False
        one_object("ServiceAccount", pod["serviceAccountName"])
        empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert mounts.get(var_dir) in empty_dirs, f"{var_dir} is not an emptyDir"
            assert mounts.get("/tmp") in empty_dirs
            mapping_dir = str(Path(config[f"{PREFIX}MAPPING_FILE"]).parent)
            assert mapping_dir in mounts, f"{deployment['metadata']['name']}: no mapping mounted"
    api = one_object("Deployment", "tracepost-api")["spec"]["template"]["spec"]
    (container,) = api["containers"]
    users_dir = str(Path(config[f"{PREFIX}OPS_USERS_FILE"]).parent)
    assert users_dir in {m["mountPath"] for m in container["volumeMounts"]}


def test_k8s_worker_outlives_its_activities(monkeypatch):
    config = one_object("ConfigMap", "tracepost-config")["data"]
    shutdown = float(
        config.get(
            f"{PREFIX}WORKER_SHUTDOWN_GRACE_SECONDS",
            Settings.model_fields["worker_shutdown_grace_seconds"].default,
        )
    )
    worker = one_object("Deployment", "tracepost-worker")
    pod = worker["spec"]["template"]["spec"]
    assert grace_problem(pod["terminationGracePeriodSeconds"], shutdown) is None
    (container,) = pod["containers"]
    assert container["args"] == ["worker"] and "ports" not in container
    broken = copy.deepcopy(pod)
    broken["terminationGracePeriodSeconds"] = 30  # the Kubernetes default
    assert grace_problem(broken["terminationGracePeriodSeconds"], shutdown) is not None


def test_k8s_selectors_hpa_and_disruption_budgets_match_pods():
    deployments = {d["metadata"]["name"]: d for d in k8s_objects("Deployment")}
    assert set(deployments) == {"tracepost-worker", "tracepost-api"}
    for deployment in deployments.values():
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    hpa = one_object("HorizontalPodAutoscaler", "tracepost-worker")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "tracepost-worker")
    assert "replicas" not in deployments["tracepost-worker"]["spec"]  # the HPA's to set
    budgets = k8s_objects("PodDisruptionBudget")
    covered = set()
    for budget in budgets:
        labels = budget["spec"]["selector"]["matchLabels"]
        matched = [
            name
            for name, d in deployments.items()
            if labels.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(matched) == 1, budget["metadata"]["name"]
        covered.add(matched[0])
        minimum = budget["spec"]["minAvailable"]
        replicas = deployments[matched[0]]["spec"].get("replicas", hpa["spec"]["minReplicas"])
        assert minimum < replicas, f"{budget['metadata']['name']} would block every drain"
    assert covered == set(deployments)


# --- deploy/Dockerfile and the lock files --------------------------------------------------


def dockerfile_stages(text: str) -> list[list[str]]:
    joined = re.sub(r"\\\n", " ", text)
    instructions = [line.strip() for line in joined.splitlines() if line.strip()]
    instructions = [line for line in instructions if not line.startswith("#")]
    stages: list[list[str]] = []
    for line in instructions:
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_dockerfile_is_slim_non_root_and_locked():
    text = DOCKERFILE.read_text()
    stages = dockerfile_stages(text)
    args = dict(re.findall(r"^ARG\s+([A-Z_]+)=(\S+)", text, re.M))
    bases = [stage[0].split()[1] for stage in stages]
    assert bases and all(re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], b) for b in bases)
    resolved = [re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], b) for b in bases]
    assert all(re.fullmatch(r"python:3\.\d+-slim-[a-z]+", b) for b in resolved), resolved
    final = stages[-1]
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users, "the final stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "run as a numeric non-root uid (runAsNonRoot)"
    assert 'ENTRYPOINT ["tracepost"]' in final
    installs = [line for stage in stages for line in stage if "pip install" in line]
    locked = [line for line in installs if "-r deploy/requirements.lock" in line]
    assert locked and all("--require-hashes" in line and "--no-deps" in line for line in locked)
    others = [line for line in installs if "-r " not in line]
    assert all("--no-deps" in line for line in others), others
    assert any("pip check" in line for line in stages[0])
    assert re.search(r"apt-get install[^&]*\bunixodbc\b", text)
    assert "msodbcsql18" not in " ".join(final)  # a derived image (deploy/msodbcsql18.Dockerfile)
    exposed = {int(p) for line in final if line.startswith("EXPOSE") for p in line.split()[1:]}
    assert Settings.model_fields["api_port"].default in exposed


def test_dockerfile_copies_every_package_and_the_ignore_file_lets_it():
    text = DOCKERFILE.read_text()
    packages = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["packages"]["find"]
    top_levels = {pattern.rstrip("*") for pattern in packages["include"]}
    copied = set()
    for line in dockerfile_stages(text)[0]:
        if line.startswith("COPY ") and "--from" not in line:
            copied.update(line.split()[1:-1])
    assert top_levels <= copied
    assert {"pyproject.toml", "README.md"} <= copied
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    allowed = {line[1:] for line in ignore if line.startswith("!")}
    assert "*" in ignore and copied <= allowed, copied - allowed
    assert all((ROOT / path).exists() for path in copied)


def test_lock_covers_every_runtime_dependency():
    project = tomllib.loads(PYPROJECT.read_text())
    assert lock_problems(project["project"]["dependencies"], LOCK.read_text()) == []
    assert lock_problems(project["build-system"]["requires"], BUILD_LOCK.read_text()) == []
    header = re.search(r"resolved for CPython (\d+\.\d+)", LOCK.read_text())
    args = dict(re.findall(r"^ARG\s+([A-Z_]+)=(\S+)", DOCKERFILE.read_text(), re.M))
    assert header and header.group(1) == args["PYTHON_VERSION"]


def test_lock_check_fails_for_a_missing_or_stale_pin():
    lock = LOCK.read_text()
    pins = parse_lock(lock)
    assert lock_problems(["left-pad-for-python>=1"], lock) == [
        "left-pad-for-python>=1: left-pad-for-python is not in the lock (run `make lock`)"
    ]
    version = pins["temporalio"][0]
    assert lock_problems([f"temporalio>{version}"], lock) == [
        f"temporalio>{version}: the lock pins {version} (run `make lock`)"
    ]
    without_binary = re.sub(r"^psycopg-binary==.*?(?=^\S)", "", lock, flags=re.M | re.S)
    missing = lock_problems(["psycopg[binary]>=3.2"], without_binary)
    if importlib.metadata.requires("psycopg"):
        assert missing == ["psycopg[binary]>=3.2: psycopg-binary (extra binary) not locked"]


def test_lock_generator_reads_pyproject_and_merges_architectures(tmp_path):
    lock = load_lock_module()
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\ndependencies = ["a>=1", "B_c==2"]\n'
        '[build-system]\nrequires = ["setuptools>=77"]\n'
    )
    assert lock.read_requirements(pyproject) == (["a>=1", "B_c==2"], ["setuptools>=77"])
    assert (
        lock.read_requirements(PYPROJECT)[0]
        == tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    )
    x86 = {"b-c": lock.Pin("b-c", "2", {"1" * 64}), "a": lock.Pin("a", "1.5", {"2" * 64})}
    arm = {"b-c": lock.Pin("b-c", "2", {"3" * 64}), "a": lock.Pin("a", "1.5", {"2" * 64})}
    merged = lock.merge({"x86_64": x86, "aarch64": arm})
    assert [(p.name, p.version, sorted(p.hashes)) for p in merged] == [
        ("a", "1.5", ["2" * 64]),
        ("b-c", "2", ["1" * 64, "3" * 64]),
    ]
    text = lock.render(merged, ["a>=1", "B_c==2"], "[project].dependencies", "3.11")
    assert lock_problems(["a>=1", "B_c==2"], text) == []
    with pytest.raises(RuntimeError, match="on one architecture"):
        lock.merge({"x86_64": x86, "aarch64": {**arm, "a": lock.Pin("a", "1.6", {"4" * 64})}})
    with pytest.raises(RuntimeError, match="different distributions"):
        lock.merge({"x86_64": x86, "aarch64": {"a": arm["a"]}})
    flags = lock.platform_flags("aarch64")
    assert "manylinux2014_aarch64" in flags and "manylinux_2_36_aarch64" in flags
    env = lock.pip_environment()
    assert "PIP_FIND_LINKS" not in env and env["PIP_CONFIG_FILE"]


def test_makefile_lock_target_runs_the_generator():
    makefile = (ROOT / "Makefile").read_text()
    target = re.search(r"^lock:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert target and "deploy/lock.py" in target.group(1)
    recipe = shlex.split(target.group(1).strip())
    assert recipe[-1] == "deploy/lock.py"
