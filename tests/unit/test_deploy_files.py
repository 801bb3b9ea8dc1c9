"""Deployment files cannot run here (no container engine): check they parse and agree with the code."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from api.app import create_app
from ground.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = sorted((ROOT / "deploy" / "k8s").glob("*.yaml"))


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _settings_env_names() -> set[str]:
    return {f"LANA_{name.upper()}" for name in Settings.model_fields}


def _lana_vars(text: str) -> set[str]:
    return set(re.findall(r"\b(LANA_[A-Z_]+)\b", text))


def test_every_lana_variable_in_deploy_files_is_a_setting():
    known = _settings_env_names()
    texts = [p.read_text() for p in [ROOT / "docker-compose.yml", ROOT / "Dockerfile", *K8S]]
    used = set().union(*(_lana_vars(t) for t in texts))
    assert used and used <= known, f"unknown settings: {sorted(used - known)}"


def test_compose_runs_every_process_with_health_checks():
    compose = _docs(ROOT / "docker-compose.yml")[0]["services"]
    assert {"postgresql", "temporal", "temporal-ui", "migrate", "api", "worker"} <= set(compose)
    assert compose["migrate"]["command"] == ["migrate"]
    assert compose["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "/readyz" in " ".join(compose["api"]["healthcheck"]["test"])
    assert compose["temporal"]["environment"]["DB"] == "postgres12"
    for name in ("migrate", "api", "worker"):
        env = compose[name]["environment"]
        assert env["LANA_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert env["LANA_TEMPORAL_ADDRESS"] == "temporal:7233"


def test_dockerfile_runs_lana_as_non_root():
    text = (ROOT / "Dockerfile").read_text()
    assert text.startswith("#") and "FROM python:3.11-slim" in text
    assert re.search(r"^USER (?!root|0\b)", text, re.M)
    assert 'ENTRYPOINT ["lana"]' in text


def test_kubernetes_manifests_are_consistent():
    docs = [d for p in K8S for d in _docs(p)]
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs if "metadata" in d}
    assert {("Deployment", "lana-api"), ("Service", "lana-api"), ("Deployment", "lana-worker"),
            ("Job", "lana-migrate"), ("ConfigMap", "lana-config"), ("Secret", "lana-secrets")} <= kinds
    kustomization = next(d for d in docs if d["kind"] == "Kustomization")
    assert sorted(kustomization["resources"]) == sorted(p.name for p in K8S if p.name != "kustomization.yaml")

    routes = set(create_app(Settings(environment="test")).openapi()["paths"])
    api = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "lana-api")
    container = api["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz" in routes
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz" in routes
    port = next(d for d in docs if d["kind"] == "ConfigMap")["data"]["LANA_API_PORT"]
    assert container["ports"][0]["containerPort"] == int(port)
    for d in docs:
        if d["kind"] in ("Deployment", "Job"):
            spec = d["spec"]["template"]["spec"]
            assert spec["securityContext"]["runAsNonRoot"] is True
            for c in spec["containers"]:
                refs = {next(iter(e.values()))["name"] for e in c["envFrom"]}
                assert refs == {"lana-config", "lana-secrets"}
                assert c["args"][0] in {"api", "worker", "migrate"}


PRODUCTION_SECRETS = ("LANA_DOCUMENTS_LINK_SECRET", "LANA_AUDIT_HMAC_KEY")


def test_production_secrets_are_required_by_compose_and_come_from_the_kubernetes_secret():
    compose = _docs(ROOT / "docker-compose.yml")[0]["services"]
    docs = [d for p in K8S for d in _docs(p)]
    secret = next(d for d in docs if d["kind"] == "Secret")["stringData"]
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    for name in PRODUCTION_SECRETS:
        for service in ("api", "worker", "migrate"):
            assert compose[service]["environment"][name] == f"${{{name}:?set {name} to a random secret of 32+ characters}}"
        assert name in secret and name not in config


def test_the_custody_encryption_key_is_required_by_compose_and_comes_from_the_kubernetes_secret():
    compose = _docs(ROOT / "docker-compose.yml")[0]["services"]
    docs = [d for p in K8S for d in _docs(p)]
    secret = next(d for d in docs if d["kind"] == "Secret")["stringData"]
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    for service in ("api", "worker"):
        assert compose[service]["environment"]["LANA_CUSTODY_ENCRYPTION_KEY"].startswith("${LANA_CUSTODY_ENCRYPTION_KEY:?")
    assert "LANA_CUSTODY_ENCRYPTION_KEY" in secret and "LANA_CUSTODY_ENCRYPTION_KEY" not in config


def test_the_sumsub_webhook_secret_is_set_by_compose_and_kubernetes():
    compose = _docs(ROOT / "docker-compose.yml")[0]["services"]
    secret = next(d for p in K8S for d in _docs(p) if d["kind"] == "Secret")["stringData"]
    assert "LANA_SUMSUB_WEBHOOK_SECRET" in secret
    for service in ("api", "worker", "migrate"):
        assert compose[service]["environment"]["LANA_SUMSUB_WEBHOOK_SECRET"].startswith("${LANA_SUMSUB_WEBHOOK_SECRET:?")


def test_development_warns_at_start_up_when_the_sumsub_webhook_secret_is_unset():
    from api.customers.webhooks import check_webhook_secret

    assert "LANA_SUMSUB_WEBHOOK_SECRET is unset" in check_webhook_secret(Settings(sumsub_webhook_secret=""))
    assert check_webhook_secret(Settings(sumsub_webhook_secret="s")) is None


def test_production_refuses_to_start_without_the_document_link_secret():
    import pytest

    from activities.storage import document_link_secret

    prod = {"environment": "production", "oidc_jwks_url": "http://idp/certs", "oidc_issuer": "http://idp"}
    for value in (None, "", "CHANGE-ME", "dev-local-storage-signing-secret"):
        with pytest.raises(ValueError, match="LANA_DOCUMENTS_LINK_SECRET"):
            document_link_secret(Settings(**prod, documents_link_secret=value))
    assert document_link_secret(Settings(**prod, documents_link_secret="x" * 32)) == "x" * 32


async def test_the_api_refuses_to_start_in_production_without_its_secrets():
    import pytest

    prod = {"environment": "production", "oidc_jwks_url": "http://idp/certs", "oidc_issuer": "http://idp",
            "database_url": "postgresql+asyncpg://nobody@127.0.0.1:1/none", "sumsub_webhook_secret": "from-sumsub",
            "custody_encryption_key": "c" * 64}
    for missing, values in (("LANA_DOCUMENTS_LINK_SECRET", {}),
                            ("LANA_SUMSUB_WEBHOOK_SECRET", {"documents_link_secret": "d" * 32,
                                                            "sumsub_webhook_secret": ""}),
                            ("LANA_AUDIT_HMAC_KEY", {"documents_link_secret": "d" * 32}),
                            ("LANA_AUDIT_HMAC_KEY", {"documents_link_secret": "d" * 32, "audit_hmac_key": "short"}),
                            ("LANA_CUSTODY_ENCRYPTION_KEY", {"documents_link_secret": "d" * 32,
                                                             "custody_encryption_key": None}),
                            ("LANA_CUSTODY_ENCRYPTION_KEY", {"documents_link_secret": "d" * 32,
                                                             "custody_encryption_key": "CHANGE-ME"})):
        app = create_app(Settings(**{**prod, **values}))
        with pytest.raises(ValueError, match=missing):
            async with app.router.lifespan_context(app):
                pass


def test_audit_anchors_live_outside_the_database_on_the_api_volume():
    compose = _docs(ROOT / "docker-compose.yml")[0]["services"]
    path = compose["api"]["environment"]["LANA_AUDIT_ANCHOR_PATH"]
    assert any(v.split(":")[1] == str(Path(path).parent) for v in compose["api"]["volumes"])
    docs = [d for p in K8S for d in _docs(p)]
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    api = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "lana-api")
    mounts = api["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert str(Path(config["LANA_AUDIT_ANCHOR_PATH"]).parent) in {m["mountPath"] for m in mounts}
    assert ("PersistentVolumeClaim", "lana-audit-anchors") in {(d["kind"], d["metadata"]["name"]) for d in docs
                                                             if "metadata" in d}
