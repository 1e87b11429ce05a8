"""The Dask cluster a run uses, built from the `cluster:` section of the config.

Three ways to run: a `LocalCluster` started for the run (the default), an existing
scheduler by address, or a dask-kubernetes `KubeCluster` created from a `DaskCluster` spec
file and scaled adaptively between the configured minimum and maximum of workers. A
cluster fcast starts is shut down when the run ends, also when it fails or the process
gets SIGTERM (what Kubernetes sends a job's pod it stops).
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, field_validator, model_validator

from fcast.errors import ConfigError, FcastError
from fcast.options import Options
from fcast.yamlio import read_yaml

# numerical libraries must not start one thread per core inside every single-threaded worker
_SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

#: environment of the job's pod: the image the workers run (baked into the image at build
#: time) and the pod that owns the DaskCluster (downward API), so Kubernetes deletes the
#: cluster with the pod even if the job is killed before it can clean up
IMAGE_ENV, POD_NAME_ENV, POD_UID_ENV = "FCAST_IMAGE", "FCAST_POD_NAME", "FCAST_POD_UID"
CRD_PATH = "operator/deployment/helm/dask-kubernetes-operator/crds/daskcluster.yaml"
DASK_API = "kubernetes.dask.org/v1"
NAME_LIMIT = 63 - len("-scheduler")  # the scheduler Service is named <cluster>-scheduler


class LocalClusterConfig(Options):
    """A distributed.LocalCluster started for the run."""

    workers: int = Field(2, ge=1)
    threads: int = Field(1, ge=1)
    memory_limit: str = "auto"


class KubernetesConfig(Options):
    """A dask-kubernetes KubeCluster built from a DaskCluster spec file, scaled adaptively."""

    spec: str = "clusters/kubernetes/dask-cluster.yaml"
    minimum: int = Field(1, ge=0)
    maximum: int = Field(8, ge=1)
    namespace: str | None = None

    @model_validator(mode="after")
    def _min_le_max(self) -> KubernetesConfig:
        if self.minimum > self.maximum:
            raise ValueError(f"minimum ({self.minimum}) must not exceed maximum ({self.maximum})")
        return self


class ClusterConfig(Options):
    """Which Dask cluster runs the heavy work: exactly one of local, address, kubernetes."""

    local: LocalClusterConfig | None = None
    address: str | None = None
    kubernetes: KubernetesConfig | None = None

    @field_validator("kubernetes", mode="before")
    @classmethod
    def _spec_shorthand(cls, v: Any) -> Any:
        return {"spec": v} if isinstance(v, str) else v

    @model_validator(mode="after")
    def _exactly_one(self) -> ClusterConfig:
        chosen = [k for k in ("local", "address", "kubernetes") if getattr(self, k) is not None]
        if len(chosen) > 1:
            raise ValueError(f"choose one of local, address, kubernetes; got {chosen}")
        if not chosen:
            self.local = LocalClusterConfig()
        return self


log = logging.getLogger(__name__)


class ClusterError(FcastError):
    """A cluster that cannot be started or reached."""


def describe(client: Any) -> dict[str, Any]:
    """What the run used: scheduler address, workers, threads, dashboard link."""
    info = client.scheduler_info()
    workers = info.get("workers", {})
    return {
        "scheduler": client.scheduler.address,
        "workers": len(workers),
        "threads": sum(w.get("nthreads", 0) for w in workers.values()),
        "dashboard": client.dashboard_link if find_spec("bokeh") else None,
    }


@contextmanager
def connect(cfg: ClusterConfig, quiet: bool = False) -> Iterator[Any]:
    """Yield a distributed.Client for the configured cluster; shut down what we started."""
    from distributed import Client

    with _sigterm_exits(), _cluster(cfg) as target:
        try:
            client = Client(target)
        except OSError as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {target}: {exc}") from None
        with client:
            _announce(client, quiet)
            yield client


@contextmanager
def _cluster(cfg: ClusterConfig) -> Iterator[Any]:
    """What a Client connects to: a scheduler address, or a cluster we start and later shut down."""
    if cfg.address:
        yield cfg.address
    elif cfg.kubernetes:
        with _kubernetes(cfg.kubernetes) as cluster:
            yield cluster
    else:
        assert cfg.local is not None  # the validator fills in the default
        with _local(cfg.local) as cluster:
            yield cluster


@contextmanager
def _sigterm_exits() -> Iterator[None]:
    """While a cluster is up, SIGTERM unwinds like an error so the cluster is shut down."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous not in (signal.SIG_DFL, None):  # the application handles SIGTERM itself
        yield
        return
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit_on_signal(signum: int, frame: Any) -> None:
    """Turn a signal into SystemExit, the exit status a shell would report for it."""
    raise SystemExit(128 + signum)


def local_cluster(
    workers: int = 2, threads: int = 1, memory_limit: str = "auto", **options: Any
) -> Any:
    """A LocalCluster of worker processes, numerical libraries single-threaded, a dashboard on a free port."""
    from distributed import LocalCluster

    for key, value in _SINGLE_THREAD_ENV.items():
        os.environ.setdefault(key, value)
    kwargs: dict[str, Any] = {
        "processes": True,
        "memory_limit": memory_limit,
        "dashboard_address": ":0" if find_spec("bokeh") else None,
        "silence_logs": 50,  # a worker heartbeat racing the shutdown logs an ERROR traceback
        **options,
    }
    return LocalCluster(n_workers=workers, threads_per_worker=threads, **kwargs)


@contextmanager
def _local(cfg: LocalClusterConfig) -> Iterator[Any]:
    """The configured LocalCluster, shut down on exit."""
    with local_cluster(cfg.workers, cfg.threads, cfg.memory_limit) as cluster:
        yield cluster


# --- Kubernetes -------------------------------------------------------------------------


@contextmanager
def _kubernetes(cfg: KubernetesConfig) -> Iterator[Any]:
    """A KubeCluster from the spec file, adaptive between minimum and maximum; deleted on exit."""
    spec = cluster_spec(cfg)
    cluster = _start_kube_cluster(spec, cfg.namespace)
    try:
        cluster.adapt(minimum=cfg.minimum, maximum=cfg.maximum)
        yield cluster
    finally:
        cluster.close(timeout=120)


def _start_kube_cluster(spec: dict[str, Any], namespace: str | None) -> Any:
    """Create the DaskCluster and wait for its scheduler; on failure delete what was created."""
    from dask_kubernetes.operator import KubeCluster

    name = spec["metadata"]["name"]
    where = f"namespace {namespace}" if namespace else "the current namespace"
    try:
        return KubeCluster(
            custom_cluster_spec=spec, namespace=namespace, shutdown_on_close=True, quiet=True
        )
    except BaseException as exc:
        for half_started in [c for c in KubeCluster._instances if c.name == name]:
            KubeCluster._instances.discard(
                half_started
            )  # we clean up below, not at interpreter exit
        _delete_dask_cluster(name, namespace)
        if not isinstance(exc, Exception):
            raise
        raise ClusterError(
            f"could not start the Dask cluster {name} on Kubernetes in {where}: "
            f"{type(exc).__name__}: {exc}. Check the kubeconfig or the pod's service account and that the "
            "dask-kubernetes operator is installed (see clusters/README.md)."
        ) from exc


def _delete_dask_cluster(name: str, namespace: str | None) -> None:
    """Best effort: delete a DaskCluster resource a failed start may have left behind."""
    import kr8s

    with suppress(Exception):
        for resource in kr8s.get("daskclusters.kubernetes.dask.org", name, namespace=namespace):
            resource.delete()


def cluster_spec(cfg: KubernetesConfig, name: str | None = None) -> dict[str, Any]:
    """The DaskCluster for a run: the spec file with a unique name, `minimum` workers, image and owner."""
    spec = _drop_none(read_spec(cfg.spec))
    name = name or _unique_name(spec["metadata"]["name"])
    spec["metadata"]["name"] = name
    spec["spec"]["worker"]["replicas"] = cfg.minimum
    service = spec["spec"]["scheduler"].setdefault("service", {})
    service.setdefault("selector", {})["dask.org/cluster-name"] = name
    image = os.environ.get(IMAGE_ENV)
    if image:
        for container in _containers(spec):
            container["image"] = image
    owner = _owner_pod()
    if owner:
        spec["metadata"]["ownerReferences"] = [owner]
    problems = spec_problems(spec)
    if problems:
        raise ConfigError(f"invalid DaskCluster spec {cfg.spec}:\n  " + "\n  ".join(problems))
    return spec


def read_spec(path: str) -> dict[str, Any]:
    """Read a DaskCluster spec file, with a clear error when it is missing or not a DaskCluster."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"cluster.kubernetes.spec: file not found: {p}")
    doc = read_yaml(p, what="cluster.kubernetes.spec file")
    if (
        not isinstance(doc, dict)
        or doc.get("kind") != "DaskCluster"
        or doc.get("apiVersion") != DASK_API
    ):
        raise ConfigError(
            f"{p}: expected a DaskCluster resource (apiVersion {DASK_API}, kind DaskCluster)"
        )
    if not (doc.get("metadata") or {}).get("name"):
        raise ConfigError(f"{p}: metadata.name: missing (the prefix of each run's cluster name)")
    return doc


def spec_problems(spec: dict[str, Any]) -> list[str]:
    """Where a DaskCluster breaks the CRD schema shipped with dask-kubernetes; empty when valid."""
    import jsonschema

    validator = jsonschema.Draft7Validator(crd_schema())
    errors = sorted(validator.iter_errors(spec), key=lambda e: [str(p) for p in e.absolute_path])
    return [
        f"{'.'.join(str(p) for p in e.absolute_path) or '<top level>'}: {e.message}" for e in errors
    ]


@cache
def crd_schema() -> dict[str, Any]:
    """The DaskCluster CRD's openAPIV3Schema as a strict JSON schema (unknown fields are errors)."""
    import dask_kubernetes

    crd_file = Path(dask_kubernetes.__file__).parent / CRD_PATH
    crd = yaml.load(crd_file.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    version = next(v for v in crd["spec"]["versions"] if v["name"] == DASK_API.rsplit("/", 1)[1])
    schema = _strict(version["schema"]["openAPIV3Schema"])
    schema["properties"] |= {
        "apiVersion": {"const": DASK_API},
        "kind": {"const": "DaskCluster"},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {
                    "type": "string",
                    "pattern": rf"^(?=.{{1,{NAME_LIMIT}}}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
                }
            },
        },
    }
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata"})
    return schema


def _strict(node: Any) -> Any:
    """Copy of an OpenAPI schema where objects with listed properties reject unlisted ones."""
    if isinstance(node, list):
        return [_strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strict(v) for k, v in node.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def _drop_none(node: Any) -> Any:
    """Remove null fields, as the API server prunes them (make_cluster_spec leaves some)."""
    if isinstance(node, dict):
        return {k: _drop_none(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_drop_none(v) for v in node if v is not None]
    return node


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The scheduler's and the workers' containers."""
    parts = (spec["spec"]["scheduler"]["spec"], spec["spec"]["worker"]["spec"])
    return [c for part in parts for c in part.get("containers", [])]


def _unique_name(prefix: str) -> str:
    """`<prefix>-<8 hex>`, short enough for the scheduler Service name."""
    return f"{prefix[: NAME_LIMIT - 9].rstrip('-')}-{secrets.token_hex(4)}"


def _owner_pod() -> dict[str, str] | None:
    """An ownerReference to the job's pod, when the pod told us its name and uid."""
    name, uid = os.environ.get(POD_NAME_ENV), os.environ.get(POD_UID_ENV)
    return {"apiVersion": "v1", "kind": "Pod", "name": name, "uid": uid} if name and uid else None


def _announce(client: Any, quiet: bool) -> None:
    """Print the cluster in one line, with the dashboard link when there is one."""
    if quiet:
        return
    d = describe(client)
    dash = f", dashboard {d['dashboard']}" if d["dashboard"] else ""
    log.info(f"cluster: {d['workers']} workers, {d['threads']} threads at {d['scheduler']}{dash}")
