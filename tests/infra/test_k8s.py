"""Kubernetes manifests, validated offline: Kubernetes schemas, the DaskCluster CRD, and what they promise."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="the k8s extra is not installed"
)
pytest.importorskip("dask_kubernetes", reason="the k8s extra is not installed")

from fcast.config import parse_config  # noqa: E402
from fcast.errors import ConfigError  # noqa: E402
from fcast.infra.cluster import (  # noqa: E402
    KubernetesConfig,
    _drop_none,
    cluster_spec,
    read_spec,
    spec_problems,
)

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "clusters" / "kubernetes"
DEPLOY = K8S / "deploy"
SPEC = K8S / "dask-cluster.yaml"
VERSIONS = [
    "1.30",
    kubernetes_validate.utils.latest_version(),
]  # oldest we support, newest the package ships


def load_docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def deployed() -> list[dict[str, Any]]:
    """Every resource `kubectl apply -k clusters/kubernetes/deploy` creates."""
    return [
        d
        for f in sorted(DEPLOY.glob("*.yaml"))
        if f.name != "kustomization.yaml"
        for d in load_docs(f)
    ]


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in deployed() if d["kind"] == kind}


def as_pod(pod_spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "check"}, "spec": pod_spec}


def pod_specs() -> dict[str, dict[str, Any]]:
    """Every pod the manifests create: the CronJobs' job pods and the Dask scheduler and workers."""
    dask = read_spec(str(SPEC))["spec"]
    pods = {"dask-scheduler": dask["scheduler"]["spec"], "dask-worker": dask["worker"]["spec"]}
    for name, cj in by_kind("CronJob").items():
        pods[name] = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return pods


def in_repo(image_path: str) -> Path:
    """Where a path inside the image (/app/...) comes from in the repo (Dockerfile: COPY configs, clusters)."""
    assert image_path.startswith("/app/"), image_path
    return REPO / image_path.removeprefix("/app/")


# --- schemas ------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_validates_against_the_kubernetes_schemas(version):
    docs = deployed()
    assert {d["kind"] for d in docs} >= {
        "Namespace",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "CronJob",
        "NetworkPolicy",
    }
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)
    for spec in pod_specs().values():  # the pod specs inside the DaskCluster too
        kubernetes_validate.validate(as_pod(spec), version, strict=True)


def test_the_schema_check_is_strict():
    cronjob = copy.deepcopy(by_kind("CronJob")["fcast-weekly"])
    cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["comand"] = ["typo"]
    with pytest.raises(kubernetes_validate.ValidationError, match="comand"):
        kubernetes_validate.validate(cronjob, VERSIONS[-1], strict=True)


def test_dask_cluster_spec_validates_against_the_crd_in_dask_kubernetes():
    assert spec_problems(read_spec(str(SPEC))) == []


def test_the_crd_check_catches_what_make_cluster_spec_leaves_unset():
    from dask_kubernetes.operator import make_cluster_spec

    raw = make_cluster_spec("fcast-check", n_workers=None)
    problems = spec_problems(raw)
    assert any("env: None is not of type 'array'" in p for p in problems)
    assert any(p.startswith("spec.worker.replicas: None") for p in problems)
    assert spec_problems(_drop_none(raw)) == []  # the API server prunes nulls; so do we
    bad = read_spec(str(SPEC))
    bad["spec"]["worker"]["spec"]["containers"][0]["resource"] = {}
    bad["spec"]["worker"]["replicas"] = "2"
    assert spec_problems(bad) == [
        "spec.worker.replicas: '2' is not of type 'integer'",
        "spec.worker.spec.containers.0: Additional properties are not allowed ('resource' was unexpected)",
    ]


def test_spec_built_from_config_validates(monkeypatch):
    monkeypatch.setenv("FCAST_IMAGE", "registry.example.com/fcast:2026.11")
    monkeypatch.setenv("FCAST_POD_NAME", "fcast-weekly-29371-abcde")
    monkeypatch.setenv("FCAST_POD_UID", "3f2a6c1e-0000-4000-8000-000000000001")
    cfg = KubernetesConfig(spec=str(SPEC), minimum=3, maximum=12)
    a, b = cluster_spec(cfg), cluster_spec(cfg)
    for spec in (a, b):
        assert spec_problems(spec) == []
        for part in ("scheduler", "worker"):
            kubernetes_validate.validate(
                as_pod(spec["spec"][part]["spec"]), VERSIONS[-1], strict=True
            )
    name = a["metadata"]["name"]
    assert name != b["metadata"]["name"] and re.fullmatch(
        r"fcast-[0-9a-f]{8}", name
    )  # one cluster per run
    assert a["spec"]["worker"]["replicas"] == 3
    assert a["spec"]["scheduler"]["service"]["selector"]["dask.org/cluster-name"] == name
    assert a["spec"]["scheduler"]["service"]["type"] == "ClusterIP"
    images = {
        c["image"]
        for part in ("scheduler", "worker")
        for c in a["spec"][part]["spec"]["containers"]
    }
    assert images == {"registry.example.com/fcast:2026.11"}
    assert a["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": "fcast-weekly-29371-abcde",
            "uid": "3f2a6c1e-0000-4000-8000-000000000001",
        }
    ]
    assert read_spec(str(SPEC))["metadata"]["name"] == "fcast"  # the file itself is untouched


def test_an_invalid_spec_fails_before_any_compute(tmp_path):
    doc = read_spec(str(SPEC))
    doc["spec"]["worker"]["spec"]["containers"][0]["args"] = "dask-worker --nthreads 1"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(doc))
    with pytest.raises(
        ConfigError,
        match=r"(?s)bad\.yaml.*spec\.worker\.spec\.containers\.0\.args: .* is not of type 'array'",
    ):
        cluster_spec(KubernetesConfig(spec=str(bad)))
    with pytest.raises(ConfigError, match="file not found"):
        cluster_spec(KubernetesConfig(spec=str(tmp_path / "missing.yaml")))
    (tmp_path / "cm.yaml").write_text(yaml.safe_dump(by_kind("ConfigMap")["fcast-config"]))
    with pytest.raises(ConfigError, match="expected a DaskCluster"):
        cluster_spec(KubernetesConfig(spec=str(tmp_path / "cm.yaml")))


# --- what the manifests promise -------------------------------------------------------------


def test_cronjobs_weekly_on_monday_tuning_on_saturday_never_overlapping():
    jobs = by_kind("CronJob")
    assert set(jobs) == {"fcast-weekly", "fcast-tuning"}
    for cj in jobs.values():
        assert cj["spec"]["concurrencyPolicy"] == "Forbid"
        assert cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    w_minute, w_hour, dom, month, dow = jobs["fcast-weekly"]["spec"]["schedule"].split()
    assert (dom, month, dow) == ("*", "*", "1")  # Monday
    t_minute, t_hour, dom, month, dow = jobs["fcast-tuning"]["spec"]["schedule"].split()
    assert (dom, month, dow) == ("*", "*", "6")  # Saturday
    # hours from Saturday 00:00: tuning starts on Saturday, the weekly run on Monday (48 h later)
    tuning_start = int(t_hour) + int(t_minute) / 60
    weekly_start = 48 + int(w_hour) + int(w_minute) / 60
    deadline_h = jobs["fcast-tuning"]["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] / 3600
    assert tuning_start + deadline_h <= weekly_start  # tuning ends before Monday's weekly run


def steps(cj: dict[str, Any]) -> list[dict[str, Any]]:
    """The containers of a CronJob's pod in the order they run: init containers, then the main one."""
    pod = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert len(pod["containers"]) == 1, "one main container; earlier steps are init containers"
    return [*pod.get("initContainers", []), *pod["containers"]]


def run_step(cj: dict[str, Any]) -> dict[str, Any]:
    """The step that runs `fcast run ...` (and starts the Dask cluster)."""
    (step,) = [c for c in steps(cj) if c["command"][:2] == ["fcast", "run"]]
    return step


def test_cronjob_commands_are_valid_fcast_commands_with_valid_configs(tmp_path):
    from typer.testing import CliRunner

    from fcast.cli import app
    from fcast.core.space import load_space

    configs = by_kind("ConfigMap")["fcast-config"]["data"]
    for name, cj in by_kind("CronJob").items():
        assert run_step(cj)["command"][:3] == ["fcast", "run", name.removeprefix("fcast-")]
        for step in steps(cj):
            argv = step["command"]
            res = CliRunner().invoke(
                app, [*argv[1:], "--help"]
            )  # the options parse (an unknown one exits 2)
            assert res.exit_code == 0, (step["name"], res.output)
            config_path = argv[argv.index("-c") + 1]
            assert config_path.startswith("/etc/fcast/")
            mounts = {m["mountPath"]: m["name"] for m in step["volumeMounts"]}
            assert mounts["/etc/fcast"] == "config"
        argv = run_step(cj)["command"]
        config_path = argv[argv.index("-c") + 1]
        raw = yaml.safe_load(configs[Path(config_path).name])
        cfg = parse_config(raw, source=config_path)
        assert cfg.cluster.kubernetes is not None and cfg.store.startswith("gs://")
        assert in_repo(cfg.cluster.kubernetes.spec) == SPEC
        load_space(cfg.space, cfg.data.freq)  # the package's built-in space is valid for this data
        if name == "fcast-tuning":
            assert cfg.tune.task_timeout and cfg.tune.in_process_below == 0


def test_least_privilege_rbac():
    kinds = {d["kind"] for d in deployed()}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding"}  # nothing cluster-wide
    role = by_kind("Role")["fcast-runner"]
    granted = {
        (g, r, v)
        for rule in role["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
        for v in rule["verbs"]
    }
    assert not any("*" in item for item in granted)
    assert not any(
        r in {"secrets", "configmaps", "pods/exec", "pods/portforward"} for _, r, _ in granted
    )
    assert not any(
        v in {"update", "escalate", "bind", "impersonate", "deletecollection"} for *_, v in granted
    )
    assert ("", "pods", "create") not in granted  # the operator creates the pods, not the job
    assert {
        ("kubernetes.dask.org", "daskclusters", v) for v in ("create", "delete", "get")
    } <= granted
    assert (
        "kubernetes.dask.org",
        "daskautoscalers",
        "create",
    ) in granted  # adapt(minimum, maximum)
    binding = by_kind("RoleBinding")["fcast-runner"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "fcast-runner",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "fcast-runner", "namespace": "fcast"}
    ]
    accounts = by_kind("ServiceAccount")
    assert accounts["fcast-worker"]["automountServiceAccountToken"] is False
    pods = pod_specs()
    assert {pods[n]["serviceAccountName"] for n in ("fcast-weekly", "fcast-tuning")} == {
        "fcast-runner"
    }
    for n in ("dask-scheduler", "dask-worker"):  # the Dask pods cannot talk to the Kubernetes API
        assert (
            pods[n]["serviceAccountName"] == "fcast-worker"
            and pods[n]["automountServiceAccountToken"] is False
        )
    assert {d["metadata"].get("namespace") for d in deployed() if d["kind"] != "Namespace"} == {
        "fcast"
    }


def test_scheduler_is_reachable_only_inside_the_cluster():
    service = read_spec(str(SPEC))["spec"]["scheduler"]["service"]
    assert service["type"] == "ClusterIP" and not {
        "externalIPs",
        "loadBalancerIP",
        "nodePort",
    } & set(service)
    assert not any(d["kind"] in {"Service", "Ingress"} for d in deployed())
    policy = by_kind("NetworkPolicy")["fcast-dask"]["spec"]
    assert policy["podSelector"] == {
        "matchExpressions": [{"key": "dask.org/cluster-name", "operator": "Exists"}]
    }
    assert policy["policyTypes"] == ["Ingress"]
    same_namespace, operator = policy["ingress"]
    assert same_namespace == {"from": [{"podSelector": {}}]}
    assert operator["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "dask-operator"}}}
    ]
    assert {p["port"] for p in operator["ports"]} == {8786, 8787}


def test_every_pod_meets_the_restricted_pod_security_profile():
    uid = int(re.search(r"^USER (\d+)", (K8S / "Dockerfile").read_text(), re.M).group(1))
    assert (
        by_kind("Namespace")["fcast"]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        == "restricted"
    )
    for name, pod in pod_specs().items():
        ctx = pod["securityContext"]
        assert (
            ctx["runAsNonRoot"]
            and ctx["runAsUser"] == uid
            and ctx["seccompProfile"] == {"type": "RuntimeDefault"}
        ), name
        for c in [*pod.get("initContainers", []), *pod["containers"]]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == [
                "ALL"
            ], name
            assert sc["readOnlyRootFilesystem"] and "/tmp" in {
                m["mountPath"] for m in c["volumeMounts"]
            }, name
            assert "memory" in c["resources"]["limits"] and "cpu" in c["resources"]["requests"], (
                name
            )


def test_workers_are_sized_for_tuning():
    worker = read_spec(str(SPEC))["spec"]["worker"]["spec"]["containers"][0]
    args = worker["args"]
    assert args[0] == "dask-worker" and args[args.index("--nthreads") + 1] == "1"
    assert worker["resources"]["requests"]["cpu"] == "1"
    env = {e["name"]: e["value"] for e in worker["env"]}
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "1"


def test_dockerfile_builds_the_image_the_manifests_expect():
    text = (K8S / "Dockerfile").read_text()
    pyproject = (REPO / "pyproject.toml").read_text()
    assert re.search(r'requires-python = ">=3\.11"', pyproject)
    bases = re.findall(r"^FROM (\S+)", text, re.M)
    assert bases and all(re.fullmatch(r"python:3\.1[1-9]-slim", b) for b in bases)
    copied = set(re.findall(r"^COPY (?!--from)(\S+) ", text, re.M))
    assert {"fcast", "configs", "clusters"} <= copied and "WORKDIR /app" in text
    # every extra a job uses: charts and the report (viz), the warehouse (sql), KubeCluster
    # (k8s), the bucket store the workers write to (cloud); both installs pinned by constraints
    extras = re.findall(r'"(?:\.|fcast)\[([a-z0-9,]+)\]"', text)
    assert len(extras) == 2 and all(
        set(e.split(",")) == {"viz", "sql", "k8s", "cloud", "totals"} for e in extras
    )
    assert re.search(r"^RUN pip wheel .*-c constraints\.txt", text, re.M)
    assert re.search(r"^RUN pip install .*--no-index .*-c /tmp/constraints\.txt", text, re.M)
    assert "COPY clusters/constraints.txt" in text
    assert "ENV FCAST_IMAGE=${FCAST_IMAGE}" in text  # the workers run the job's own image
    ignore = (K8S / "Dockerfile.dockerignore").read_text().split()
    assert {
        "!fcast/",
        "!configs/",
        "!clusters/",
        "!pyproject.toml",
        "!README.md",
        "!LICENSE",
    } <= set(ignore)
    for cj in by_kind("CronJob").values():
        for step in steps(cj):
            assert step["command"][0] == "fcast"  # the console script the image installs
        env = {e["name"]: e for e in run_step(cj)["env"]}
        assert env["FCAST_POD_UID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.uid"
    assert 'fcast = "fcast.cli:main"' in pyproject


def test_kustomization_applies_every_manifest():
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {f.name for f in DEPLOY.glob("*.yaml")} - {"kustomization.yaml"}
    assert (
        "dask-cluster.yaml" not in listed
    )  # fcast creates DaskClusters per run; never applied by hand


def test_readme_walks_through_the_files_that_exist():
    text = (REPO / "clusters" / "README.md").read_text()
    assert "kubectl apply -k clusters/kubernetes/deploy" in text
    assert (
        "docker build -f clusters/kubernetes/Dockerfile --build-arg FCAST_IMAGE=$IMAGE -t $IMAGE ."
        in text
    )
    assert (
        "docker build -f clusters/kubernetes/Dockerfile --build-arg FCAST_IMAGE=$IMAGE -t $IMAGE ."
        in (K8S / "Dockerfile").read_text()
    )
    for name in by_kind("CronJob"):
        assert f"--from=cronjob/{name}" in text
    for path in [*DEPLOY.glob("*.yaml"), *K8S.glob("Dockerfile*"), SPEC]:
        assert path.name in text, path.name
    # the week on the cluster: the image pinned, the QC gate, and what to do when it blocks
    for step in (
        "make image",
        "fcast publish latest",
        "--override-reason",
        "qc.parquet",
        "constraints.txt",
    ):
        assert step in text, step


# --- publishing and the pinned image ---------------------------------------------------------


def test_the_weekly_job_publishes_only_a_run_that_passed_qc():
    cj = by_kind("CronJob")["fcast-weekly"]
    run, publish = steps(cj)
    # the run is an init container: the publish step starts only after it exited 0
    assert [
        c["name"] for c in cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["initContainers"]
    ] == [run["name"]]
    assert run["command"][:3] == ["fcast", "run", "weekly"]
    assert publish["command"][:3] == ["fcast", "publish", "latest"]  # the run the step above made
    config = run["command"][run["command"].index("-c") + 1]
    assert publish["command"][publish["command"].index("-c") + 1] == config  # the same store
    # the QC gate: publish refuses a run with QC errors unless given a reason, and the schedule
    # never gives one (a person does, after looking: clusters/README.md)
    for job in by_kind("CronJob").values():
        for step in steps(job):
            assert "--override-reason" not in step["command"], step["name"]
    # a failed publish fails the Job at once: a retry would rerun the weekly job and, if the
    # first publish got as far as the vintage, publish a second one under the next free name
    rules = cj["spec"]["jobTemplate"]["spec"]["podFailurePolicy"]["rules"]
    assert {
        "action": "FailJob",
        "onExitCodes": {"containerName": publish["name"], "operator": "NotIn", "values": [0]},
    } in rules
    assert cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    # the tuning job never publishes: the weekly run after it does
    assert all(s["command"][1] != "publish" for s in steps(by_kind("CronJob")["fcast-tuning"]))


PINNED = re.compile(r"[a-z0-9][a-z0-9._\-/:]*@sha256:[0-9a-f]{64}")


def field(doc: Any, path: str) -> Any:
    """A kustomize fieldPath (`a.b.[name=x].c`) looked up in a manifest; KeyError if absent."""
    for part in path.split("."):
        m = re.fullmatch(r"\[(\w+)=([^\]]+)\]", part)
        if m:
            (doc,) = [item for item in doc if item.get(m[1]) == m[2]] or [None]
            if doc is None:
                raise KeyError(path)
        else:
            doc = doc[part]
    return doc


def test_every_pod_runs_one_image_pinned_by_digest():
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    (entry,) = kustomization["images"]
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", entry["digest"]) and "newTag" not in entry
    images = set()
    for cj in by_kind("CronJob").values():
        for step in steps(cj):
            images.add(step["image"])
            env = {e["name"]: e.get("value") for e in step.get("env", [])}
            if step is run_step(cj):  # the image fcast gives the Dask pods: the same one
                assert env["FCAST_IMAGE"] == step["image"]
    dask = read_spec(str(SPEC))["spec"]
    images |= {
        c["image"] for part in ("scheduler", "worker") for c in dask[part]["spec"]["containers"]
    }
    assert len(images) == 1 and all(PINNED.fullmatch(i) for i in images), images
    (image,) = images
    assert image.split("@")[0] == entry["name"]  # `images:` rewrites every one of them
    # FCAST_IMAGE is copied from the rewritten image into every step that starts a Dask cluster
    (replacement,) = kustomization["replacements"]
    source = replacement["source"]
    assert field(by_kind(source["kind"])[source["name"]], source["fieldPath"]) == image
    targets = {
        (t["select"]["name"], path) for t in replacement["targets"] for path in t["fieldPaths"]
    }
    for name, cj in by_kind("CronJob").items():
        paths = [p for n, p in targets if n == name]
        assert len(paths) == 1, name
        assert field(cj, paths[0]) == image
        assert run_step(cj)["name"] in paths[0] and "FCAST_IMAGE" in paths[0]


def test_pin_image_writes_an_immutable_reference(tmp_path):
    import subprocess
    import sys

    target = tmp_path / "kustomization.yaml"
    target.write_text((DEPLOY / "kustomization.yaml").read_text())
    digest = "sha256:" + "ab" * 32
    script = str(REPO / "clusters" / "pin_image.py")
    res = subprocess.run(
        [sys.executable, script, f"eu.gcr.io/team/fcast@{digest}", str(target)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    pinned = yaml.safe_load(target.read_text())
    assert pinned["images"] == [
        {"name": "registry.example.com/fcast", "newName": "eu.gcr.io/team/fcast", "digest": digest}
    ]
    assert (
        pinned["resources"]
        == yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["resources"]
    )
    assert target.read_text().startswith("# kubectl apply -k")  # the comments stay
    for bad in (
        "eu.gcr.io/team/fcast:0.1.0",
        f"eu.gcr.io/team/fcast:0.1.0@{digest}",
        "fcast@sha256:12",
    ):
        res = subprocess.run(
            [sys.executable, script, bad, str(target)], capture_output=True, text=True
        )
        assert res.returncode != 0 and "immutable" in res.stderr, bad
    assert yaml.safe_load(target.read_text())["images"] == pinned["images"]  # left as it was
