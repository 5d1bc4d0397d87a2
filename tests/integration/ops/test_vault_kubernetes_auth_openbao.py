"""Vault's Kubernetes auth method on a real, non-dev OpenBao server bootstrapped by ``vault/`` (raft storage):
the stack logs in with a service account token file and reads what the worker policy allows; a rotated
token file is read again at the next login; a service account the role does not bind is refused with a
clear error. OpenBao checks each token with the Kubernetes TokenReview API: here a loopback stand-in for
the API server answers it for the service account tokens this test issues."""

from __future__ import annotations

import datetime
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import hvac
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from controlplane.config import get_settings
from controlplane.drivers.embedded_vault import EmbeddedOpenBao
from controlplane.drivers.vault import VaultStore
from controlplane.drivers.vault_kubernetes import KubernetesCredentials
from controlplane.errors import PermanentError
from tests.integration.ops.test_vault_policies_approle_openbao import openbao  # noqa: F401  (the fixture)

NAMESPACE, ACCOUNT = "controlplane", "cp-controlplane"
CLUSTER = "controlplane/clusters/k8s-auth"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _cluster_ca() -> str:
    """A CA certificate for the auth method's configuration (required; unused: the stand-in speaks HTTP)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes-ca")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(KEY.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(KEY, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


class TokenReviews:
    """The Kubernetes API server's TokenReview endpoint for tokens issued by :meth:`issue`."""

    def __init__(self) -> None:
        self.accounts: dict[str, tuple[str, str, str]] = {}
        self.reviewed: list[str] = []
        reviews = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                token = body["spec"]["token"]
                reviews.reviewed.append(token)
                status: dict[str, object] = {"authenticated": False}
                if token in reviews.accounts:
                    namespace, name, uid = reviews.accounts[token]
                    status = {"authenticated": True, "user": {
                        "username": f"system:serviceaccount:{namespace}:{name}", "uid": uid,
                        "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"]}}
                answer = json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                                     "status": status}).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def issue(self, namespace: str = NAMESPACE, name: str = ACCOUNT) -> str:
        """A service account token (a signed JWT with the claims the kubelet's tokens carry)."""
        uid = str(uuid.uuid4())
        token = jwt.encode({
            "iss": "kubernetes/serviceaccount", "sub": f"system:serviceaccount:{namespace}:{name}",
            "kubernetes.io/serviceaccount/namespace": namespace,
            "kubernetes.io/serviceaccount/service-account.name": name,
            "kubernetes.io/serviceaccount/service-account.uid": uid,
        }, KEY, algorithm="RS256")
        self.accounts[token] = (namespace, name, uid)
        return token


@pytest.fixture(scope="module")
def reviews(openbao: EmbeddedOpenBao) -> Iterator[TokenReviews]:  # noqa: F811
    """The stand-in API server, and OpenBao's Kubernetes auth pointed at it with a role for the workers."""
    stand_in = TokenReviews()
    root = hvac.Client(url=openbao.addr, token=openbao.token)
    if "kubernetes/" not in root.sys.list_auth_methods()["data"]:
        root.sys.enable_auth_method("kubernetes")
    root.write("auth/kubernetes/config", kubernetes_host=stand_in.url, disable_local_ca_jwt=True,
               kubernetes_ca_cert=_cluster_ca())
    root.write("auth/kubernetes/role/controlplane-worker", bound_service_account_names=[ACCOUNT],
               bound_service_account_namespaces=[NAMESPACE], token_policies=["controlplane-worker"], token_ttl="6s")
    VaultStore(openbao.addr, openbao.token).write(CLUSTER, {"token_id": "root@pam!k8s", "token_secret": "s"})
    yield stand_in
    stand_in.server.shutdown()


def test_the_stack_logs_in_with_a_service_account_token(openbao: EmbeddedOpenBao,  # noqa: F811
                                                        reviews: TokenReviews, tmp_path: Path,
                                                        empty_database) -> None:
    from controlplane.stack import Stack

    token_file = tmp_path / "token"
    token_file.write_text(reviews.issue())
    settings = get_settings(data_dir=tmp_path / "data", database_url=empty_database.owner,
                            vault_addr=openbao.addr, vault_kubernetes_role="controlplane-worker",
                            vault_kubernetes_token_file=token_file)
    with Stack(settings, report=lambda _m: None) as stack:
        assert stack.vault is not None and stack.vault.keeper is not None
        assert stack.vault.read(CLUSTER)["token_id"] == "root@pam!k8s"
        rotated = reviews.issue()
        token_file.write_text(rotated)
        stack.vault.keeper.login()
        assert reviews.reviewed[-1] == rotated, "the rotated token file was not read again"
        assert stack.vault.read(CLUSTER)["token_id"] == "root@pam!k8s"


def test_an_unbound_service_account_is_refused(openbao: EmbeddedOpenBao, reviews: TokenReviews,  # noqa: F811
                                               tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(reviews.issue(namespace="elsewhere"))
    with pytest.raises(PermanentError, match="Vault refused the Kubernetes login"):
        VaultStore.with_login(openbao.addr, KubernetesCredentials("controlplane-worker", token_file))
